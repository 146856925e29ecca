"""Reading customer files (CSV or JSON), suggesting a column mapping, and validating rows.

Everything here works on streams and yields row by row, so a 100,000-row file is checked
without holding it twice in memory. Row numbers are the ones a person sees: in a CSV the
header is line 1 and the first customer line 2; in JSON the first object is 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import BinaryIO

CUSTOMER_FIELDS = ("external_customer_id", "name", "email", "signup_date", "tags")
# When no single name column exists, these two make one.
NAME_PARTS = ("first_name", "last_name")
REQUIRED_FIELDS = ("external_customer_id", "name", "email")
FIELD_LABELS = {
    "external_customer_id": "External ID",
    "name": "Name",
    "email": "E-mail",
    "signup_date": "Signup date",
    "tags": "Tags",
    "first_name": "First name",
    "last_name": "Last name",
}
# Header names seen in billing and CRM exports (Stripe, Chargebee, HubSpot, Salesforce,
# Intercom, Paddle...), compared after lower-casing and dropping everything but letters/digits.
FIELD_SYNONYMS = {
    "external_customer_id": (
        "externalcustomerid",
        "customerid",
        "customer",
        "id",
        "externalid",
        "clientid",
        "accountid",
        "contactid",
        "recordid",
        "userid",
        "subscriberid",
        "customernumber",
        "customerno",
        "chargebeecustomerid",
        "stripecustomerid",
    ),
    "name": (
        "name",
        "fullname",
        "customername",
        "contactname",
        "displayname",
        "accountname",
        "companyname",
        "company",
        "clientname",
    ),
    "first_name": ("firstname", "givenname", "first"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "email": (
        "email",
        "emailaddress",
        "mail",
        "customeremail",
        "contactemail",
        "primaryemail",
        "billingemail",
        "eMail".lower(),
    ),
    "signup_date": (
        "signupdate",
        "signupat",
        "createdat",
        "created",
        "createdutc",
        "createdate",
        "createddate",
        "customersince",
        "startdate",
        "joined",
        "joindate",
        "registeredat",
        "registrationdate",
        "subscriptionstart",
        "datecreated",
    ),
    "tags": ("tags", "tag", "labels", "label", "segments", "lists"),
}

MAX_FIELD_LENGTHS = {"external_customer_id": 255, "name": 200, "email": 254}
TAG_MAX_LENGTH = 40
TAGS_PER_CUSTOMER = 20
# A report lists this many problems; beyond that it only counts them.
REPORT_ERROR_CAP = 1000
DELIMITERS = (",", ";", "\t")
_TAG_PATTERN = re.compile(r"^[\w \-]+$")
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


EMPTY_FILE_MESSAGE = "The file is empty: it needs a header row and at least one row."
# A CSV with only its header, or a JSON list with nothing in it: nothing to import.
NO_ROWS_MESSAGE = (
    "The file has no rows to import: it needs a header row and at least one row "
    "(in JSON, a list with at least one object)."
)


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong format, not text, broken JSON...)."""


@dataclass(frozen=True)
class RowError:
    """One problem: which row, which field, and what is wrong, in words."""

    row: int
    field: str
    message: str


@dataclass(frozen=True)
class CustomerRecord:
    """A validated customer row; `tags` is None when the file has no tag column."""

    external_customer_id: str
    name: str
    email: str
    signup_date: datetime | None
    tags: tuple[str, ...] | None


@dataclass
class ImportReport:
    """How many rows were read, how many are valid, and the first problems found."""

    total: int = 0
    valid: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows_with_errors: int = 0

    def add(self, row_errors: list[RowError]) -> None:
        """Count a row's problems, keeping the first REPORT_ERROR_CAP of them."""
        self.rows_with_errors += 1
        self.error_count += len(row_errors)
        room = REPORT_ERROR_CAP - len(self.errors)
        if room > 0:
            self.errors.extend(row_errors[:room])

    @property
    def ok(self) -> bool:
        """True when every row is valid."""
        return self.error_count == 0


@dataclass
class ImportTable:
    """A file's column names and its rows, read lazily."""

    columns: list[str]
    rows: Iterator[tuple[int, dict[str, object]]]


def detect_format(filename: str, head: bytes) -> str:
    """'csv' or 'json', from the content first and the file name second."""
    if b"\x00" in head:
        raise ImportFileError("This looks like a binary file, not a CSV or JSON export.")
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped[:1] in (b"[", b"{"):
        return "json"
    if filename.lower().endswith(".json") and stripped:
        return "json"
    return "csv"


def _text_stream(stream: BinaryIO) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def read_table(stream: BinaryIO, fmt: str) -> ImportTable:
    """Open a CSV or JSON file for reading row by row."""
    if fmt == "json":
        return _read_json(stream)
    return _read_csv(stream)


def _read_csv(stream: BinaryIO) -> ImportTable:
    text = _text_stream(stream)
    try:
        first_line = text.readline()
    except UnicodeDecodeError as error:
        raise ImportFileError(_not_utf8(error)) from error
    if not first_line.strip():
        raise ImportFileError(EMPTY_FILE_MESSAGE)
    delimiter = max(DELIMITERS, key=first_line.count)
    header = next(csv.reader([first_line], delimiter=delimiter))
    columns = [c.strip() for c in header]
    if len(set(columns)) != len(columns) or any(not c for c in columns):
        raise ImportFileError("Every column needs a name, and names must differ.")

    def rows() -> Iterator[tuple[int, dict[str, object]]]:
        reader = csv.reader(text, delimiter=delimiter)
        line = 2
        try:
            for values in reader:
                # The header was line 1; a quoted cell may span lines: report where a row starts.
                start, line = line, reader.line_num + 2
                if not any(v.strip() for v in values):
                    continue
                yield start, dict(zip(columns, values, strict=False))
        except UnicodeDecodeError as error:
            raise ImportFileError(_not_utf8(error, near_line=line)) from error
        except csv.Error as error:
            raise ImportFileError(f"Line {line} cannot be read as CSV: {error}.") from error

    return ImportTable(columns, rows())


def require_rows(table: ImportTable) -> ImportTable:
    """The same table, or ImportFileError(NO_ROWS_MESSAGE) when it holds no row at all.

    Only the first row is read ahead, so the table stays lazy.
    """
    first = next(table.rows, None)
    if first is None:
        raise ImportFileError(NO_ROWS_MESSAGE)
    return ImportTable(table.columns, itertools.chain([first], table.rows))


def _not_utf8(error: UnicodeDecodeError, near_line: int | None = None) -> str:
    where = f" near line {near_line}" if near_line else ""
    return f"The file is not UTF-8 text{where}. Save it as 'CSV UTF-8' (or JSON) and try again."


def _read_json(stream: BinaryIO) -> ImportTable:
    try:
        data = json.load(_text_stream(stream))
    except UnicodeDecodeError as error:
        raise ImportFileError(_not_utf8(error)) from error
    except RecursionError as error:
        raise ImportFileError("The JSON is nested too deeply to be a customer list.") from error
    except json.JSONDecodeError as error:
        raise ImportFileError(
            f"The JSON is not valid (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from error
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise ImportFileError(
                "Expected a list of customers, or an object holding exactly one such list."
            )
        data = lists[0]
    if not isinstance(data, list):
        raise ImportFileError("Expected a list of customers (objects with fields).")
    if unstorable_text(data, _lone_surrogate):  # no page could even show the file's rows
        raise ImportFileError(
            "The JSON holds half of a character (a lone \\ud800-\\udfff escape), which is "
            "not text. Fix the export and try again."
        )
    columns: dict[str, None] = {}
    for item in data:
        if isinstance(item, dict):
            columns.update(dict.fromkeys(str(k) for k in item))

    def rows() -> Iterator[tuple[int, dict[str, object]]]:
        for number, item in enumerate(data, start=1):
            yield number, item if isinstance(item, dict) else {"__not_an_object__": item}

    return ImportTable(list(columns), rows())


def _simplify(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def suggest_mapping(columns: Iterable[str]) -> dict[str, str | None]:
    """Guess which column holds which field, from the names exports commonly use."""
    simplified = {_simplify(c): c for c in columns}
    mapping: dict[str, str | None] = {}
    taken: set[str] = set()
    for field_name in (*CUSTOMER_FIELDS, *NAME_PARTS):
        mapping[field_name] = None
        for synonym in FIELD_SYNONYMS[field_name]:
            column = simplified.get(synonym)
            if column is not None and column not in taken:
                mapping[field_name] = column
                taken.add(column)
                break
    if (
        mapping["name"]
        and mapping["first_name"]
        and mapping["name"]
        in (
            simplified.get("company"),
            simplified.get("companyname"),
        )
    ):
        # "Company" is a fallback for a name; a person's first/last name wins over it.
        mapping["name"] = None
    return mapping


def validate_mapping(mapping: dict[str, str | None], columns: Iterable[str]) -> list[str]:
    """Problems with a mapping a person chose (required fields, unknown columns)."""
    known = set(columns)
    problems = []
    for field_name, column in mapping.items():
        if column and column not in known:
            problems.append(f"{FIELD_LABELS.get(field_name, field_name)}: no column {column!r}.")
    for field_name in REQUIRED_FIELDS:
        if mapping.get(field_name):
            continue
        if field_name == "name" and (mapping.get("first_name") or mapping.get("last_name")):
            continue
        problems.append(f"Choose the column that holds the {FIELD_LABELS[field_name].lower()}.")
    return problems


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_SLASHED_DATE = re.compile(r"\d{4}/\d{2}/\d{2}")
_TAG_SEPARATORS = re.compile(r"[,;|]")


def parse_datetime(value: object) -> datetime:
    """A moment from ISO 8601 (date, or date-time with or without offset), 'YYYY-MM-DD
    HH:MM:SS', 'YYYY/MM/DD', or Unix seconds (milliseconds when very large); UTC if naive."""
    if isinstance(value, bool):
        raise ValueError("Expected a date, not true/false.")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    return _parse_date_text(str(value).strip())


@lru_cache(maxsize=4096)  # exports repeat dates: 100,000 rows often hold a few hundred
def _parse_date_text(text: str) -> datetime:
    if not text:
        raise ValueError("Empty date.")
    if _NUMBER.fullmatch(text):
        return _from_epoch(float(text))
    candidate = text.replace("/", "-") if _SLASHED_DATE.fullmatch(text) else text
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(candidate), datetime.min.time())
        except ValueError as error:
            raise ValueError(
                f"{text!r} is not a date we understand: use 2026-03-31, "
                "2026-03-31 14:05:00, 2026-03-31T14:05:00+02:00 or Unix seconds."
            ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not (1970 <= moment.year <= 2100):
        raise ValueError(f"{text!r} is outside 1970-2100.")
    return moment.astimezone(UTC)


def _from_epoch(seconds: float) -> datetime:
    if seconds > 1e11:  # milliseconds, as JavaScript and many APIs write them
        seconds /= 1000
    if not (0 <= seconds <= 4_102_444_800):  # 1970-01-01 .. 2100-01-01
        raise ValueError("A Unix timestamp must fall between 1970 and 2100.")
    return datetime.fromtimestamp(seconds, tz=UTC)


def normalize_email(value: str) -> str:
    """A trimmed, lower-cased e-mail address, or ValueError with the reason."""
    text = value.strip().lower()
    if not text:
        raise ValueError("Missing.")
    if len(text) > MAX_FIELD_LENGTHS["email"] or not _EMAIL_PATTERN.match(text):
        raise ValueError(f"{value.strip()!r} is not an e-mail address.")
    return text


def parse_tags(value: object) -> tuple[str, ...]:
    """Tags from 'vip, trial', 'vip;trial', 'vip|trial' or a JSON list; lower-case, unique."""
    if value is None:
        return ()
    if isinstance(value, list):
        return _checked_tags(tuple(str(v) for v in value))
    return _parse_tag_text(str(value))


@lru_cache(maxsize=4096)  # the same few tag lists come back row after row
def _parse_tag_text(text: str) -> tuple[str, ...]:
    return _checked_tags(tuple(_TAG_SEPARATORS.split(text)))


def _checked_tags(parts: tuple[str, ...]) -> tuple[str, ...]:
    tags = tuple(sorted({p.strip().lower() for p in parts if p and p.strip()}))
    for tag in tags:
        if len(tag) > TAG_MAX_LENGTH or not _TAG_PATTERN.match(tag):
            raise ValueError(
                f"{tag!r} is not a tag: use up to {TAG_MAX_LENGTH} letters, digits, "
                "spaces, '-' or '_'."
            )
    if len(tags) > TAGS_PER_CUSTOMER:
        raise ValueError(f"At most {TAGS_PER_CUSTOMER} tags per customer.")
    return tags


def tags_to_add(current: Iterable[str], typed: str) -> tuple[str, ...]:
    """Tags typed to add to a customer who has `current` ("vip, trial"); ValueError says why
    not (the same rules as every other way tags arrive)."""
    wanted = tuple(sorted({t.strip().lower() for t in re.split(r"[,;]", typed) if t.strip()}))
    if not wanted:
        raise ValueError("Type a tag to add.")
    if any(len(tag) > TAG_MAX_LENGTH for tag in wanted):
        raise ValueError(f"Tags have at most {TAG_MAX_LENGTH} characters.")
    if len(set(current) | set(wanted)) > TAGS_PER_CUSTOMER:
        raise ValueError(f"At most {TAGS_PER_CUSTOMER} tags.")
    return parse_tags(list(wanted))


# PostgreSQL text cannot hold U+0000 (SQLite can): refused at every door, on both databases.
NUL_MESSAGE = "Contains a NUL character (\\u0000), which text cannot hold."
# JSON can escape half of a UTF-16 pair ("\ud800") on its own: Python reads it as a
# character that no UTF-8 text, database or page can hold.
SURROGATE_MESSAGE = (
    "Contains half of a character (a lone \\ud800-\\udfff escape), which is not text."
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(text: str) -> str | None:
    return SURROGATE_MESSAGE if not text.isascii() and _SURROGATE.search(text) else None


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL, a lone surrogate), or None when it can."""
    return NUL_MESSAGE if "\x00" in text else _lone_surrogate(text)


def unstorable_text(
    value: object, problem_of: Callable[[str], str | None] = text_problem
) -> str | None:
    """Why some text in a JSON-like value, keys included, cannot be stored (`problem_of` each
    text); None if all can."""
    if isinstance(value, str):
        return problem_of(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if problem := unstorable_text(key, problem_of) or unstorable_text(item, problem_of):
                return problem
    elif isinstance(value, list):
        for item in value:
            if problem := unstorable_text(item, problem_of):
                return problem
    return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ValueError("Expected text, not a nested object or list.")
    text = str(value)
    if problem := text_problem(text):
        raise ValueError(problem)
    return text.strip()


def validate_row(
    row: int, values: dict[str, object], mapping: dict[str, str | None]
) -> CustomerRecord | list[RowError]:
    """One row checked against the mapping: a clean record, or everything wrong with it."""
    if "__not_an_object__" in values:
        return [RowError(row, "", "Expected an object with fields.")]
    errors: list[RowError] = []
    clean: dict[str, object] = {}

    def take(field_name: str) -> object:
        column = mapping.get(field_name)
        return values.get(column) if column else None

    for field_name in ("external_customer_id", "name"):
        try:
            text = _text(take(field_name))
        except ValueError as error:
            errors.append(RowError(row, field_name, str(error)))
            continue
        if field_name == "name" and not mapping.get("name"):
            try:
                text = " ".join(
                    p for p in (_text(take("first_name")), _text(take("last_name"))) if p
                )
            except ValueError as error:
                errors.append(RowError(row, field_name, str(error)))
                continue
        if not text:
            errors.append(RowError(row, field_name, "Missing."))
        elif len(text) > MAX_FIELD_LENGTHS[field_name]:
            errors.append(
                RowError(
                    row, field_name, f"Longer than {MAX_FIELD_LENGTHS[field_name]} characters."
                )
            )
        clean[field_name] = text

    try:
        clean["email"] = normalize_email(_text(take("email")))
    except ValueError as error:
        errors.append(RowError(row, "email", str(error)))

    raw_date = take("signup_date")
    clean["signup_date"] = None
    if raw_date not in (None, ""):
        try:
            clean["signup_date"] = parse_datetime(raw_date)
        except ValueError as error:
            errors.append(RowError(row, "signup_date", str(error)))

    clean["tags"] = None
    if mapping.get("tags"):
        try:
            clean["tags"] = parse_tags(take("tags"))
        except ValueError as error:
            errors.append(RowError(row, "tags", str(error)))

    if errors:
        return errors
    return CustomerRecord(**clean)  # type: ignore[arg-type]


def validate_rows(
    rows: Iterable[tuple[int, dict[str, object]]], mapping: dict[str, str | None]
) -> Iterator[tuple[int, CustomerRecord | list[RowError]]]:
    """Check every row; a repeated external ID is an error on the later row."""
    first_seen: dict[str, int] = {}
    for row, values in rows:
        result = validate_row(row, values, mapping)
        if isinstance(result, CustomerRecord):
            earlier = first_seen.setdefault(result.external_customer_id, row)
            if earlier != row:
                result = [
                    RowError(
                        row,
                        "external_customer_id",
                        f"{result.external_customer_id!r} already appears in row {earlier}.",
                    )
                ]
        yield row, result


def checked_records(
    table: ImportTable, mapping: dict[str, str | None], report: ImportReport
) -> Iterator[CustomerRecord]:
    """The valid rows, while `report` counts every row and keeps the first problems.

    One pass can then both stage the rows and decide, at the end, whether to write them.
    """
    for _row, result in validate_rows(table.rows, mapping):
        report.total += 1
        if isinstance(result, CustomerRecord):
            report.valid += 1
            yield result
        else:
            report.add(result)


def check_file(table: ImportTable, mapping: dict[str, str | None]) -> ImportReport:
    """Validate a whole file, keeping only the counts and the first problems."""
    report = ImportReport()
    for _record in checked_records(table, mapping, report):
        pass
    return report


def valid_records(table: ImportTable, mapping: dict[str, str | None]) -> Iterator[CustomerRecord]:
    """Only the rows that pass validation (for "import the valid rows, skip the rest")."""
    for _row, result in validate_rows(table.rows, mapping):
        if isinstance(result, CustomerRecord):
            yield result


# Columns of an events file, named as the API names them; any other column is a detail.
EVENT_COLUMNS = ("externalCustomerId", "eventType", "eventDate")


def event_items(table: ImportTable) -> Iterator[tuple[int, dict]]:
    """(row number, event as the API's bulk endpoint takes it) for each row of an events file.

    CSV cells and JSON values are taken as they are; empty cells are left out, and columns
    other than EVENT_COLUMNS (or a JSON "details" object) become the event's details. A file
    with no rows is an ImportFileError, as it is for customers.
    """
    for number, row in require_rows(table).rows:
        item: dict = {}
        details: dict = {}
        for key, value in row.items():
            if value is None or value == "":
                continue
            if key in EVENT_COLUMNS:
                item[key] = value
            elif key == "details" and isinstance(value, dict):
                details.update(value)
            else:
                details[key] = value
        if details:
            item["details"] = details
        yield number, item
