"""Reading, mapping and validating customer files; exporting them safely."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain import importing
from loyalty.domain.exporting import EXPORT_COLUMNS, customers_to_csv, neutralise_cell
from loyalty.domain.importing import (
    CustomerRecord,
    ImportFileError,
    check_file,
    detect_format,
    parse_datetime,
    parse_tags,
    read_table,
    suggest_mapping,
    valid_records,
    validate_mapping,
    validate_rows,
)

SPEC_MAPPING = {
    "external_customer_id": "externalCustomerId",
    "name": "name",
    "email": "email",
    "signup_date": "signupDate",
    "tags": "tags",
}


def table(text: str | bytes, fmt="csv"):
    data = text.encode() if isinstance(text, str) else text
    return read_table(io.BytesIO(data), fmt)


def records(text, mapping=SPEC_MAPPING, fmt="csv"):
    return list(validate_rows(table(text, fmt).rows, mapping))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiters_are_detected(delimiter):
    text = delimiter.join(["externalCustomerId", "name", "email"]) + "\n"
    text += delimiter.join(["c1", "Ada", "ada@x.org"]) + "\n"
    [(row, record)] = records(text)
    assert row == 2
    assert record.name == "Ada"


def test_bom_and_quoted_newlines():
    text = '\ufeffexternalCustomerId,name,email\nc1,"Ada\nLovelace",ada@x.org\nc2,Bob,b@x.org\n'
    rows = records(text)
    assert rows[0][1].name == "Ada\nLovelace"
    assert [r for r, _ in rows] == [2, 4]


def test_header_only_and_empty_files():
    assert records("externalCustomerId,name,email\n") == []
    with pytest.raises(ImportFileError, match="empty"):
        table("")


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        ("externalCustomerId,name,email\n", "csv"),
        ("externalCustomerId,name,email\n\n , , \n", "csv"),
        ("[]", "json"),
        ('{"customers": []}', "json"),
    ],
)
def test_a_file_with_no_rows_is_refused_in_the_same_words(content, fmt):
    with pytest.raises(ImportFileError) as refused:
        importing.require_rows(table(content, fmt))
    assert str(refused.value) == importing.NO_ROWS_MESSAGE
    with pytest.raises(ImportFileError) as events_refused:
        list(importing.event_items(table(content, fmt)))
    assert str(events_refused.value) == importing.NO_ROWS_MESSAGE


def test_a_file_with_rows_keeps_every_row_after_the_check():
    checked = importing.require_rows(table("externalCustomerId,name,email\nc1,A,a@x.org\n"))
    assert [(row, values["name"]) for row, values in checked.rows] == [(2, "A")]


def test_binary_and_non_utf8_files_are_refused():
    with pytest.raises(ImportFileError, match="binary"):
        detect_format("x.csv", b"PK\x03\x04\x00\x00")
    with pytest.raises(ImportFileError, match="UTF-8"):
        list(table("id,name\n1,Jos\xe9\n".encode("latin-1")).rows)


def test_json_shapes():
    array = json.dumps([{"externalCustomerId": "j1", "name": "J", "email": "j@x.org"}])
    assert records(array, fmt="json")[0][1].external_customer_id == "j1"
    wrapped = json.dumps({"data": [{"externalCustomerId": "j2", "name": "J", "email": "j@x.org"}]})
    assert records(wrapped, fmt="json")[0][1].external_customer_id == "j2"
    with pytest.raises(ImportFileError, match="exactly one"):
        table(json.dumps({"a": [], "b": []}), "json")
    with pytest.raises(ImportFileError, match="nested too deeply"):
        table("[" * 50000 + "]" * 50000, "json")
    [(row, errors)] = records(json.dumps([5]), fmt="json")
    assert errors[0].message == "Expected an object with fields."


def test_nested_values_are_errors_not_crashes():
    data = json.dumps([{"externalCustomerId": {"a": 1}, "name": "N", "email": "n@x.org"}])
    [(_row, errors)] = records(data, fmt="json")
    assert errors[0].field == "external_customer_id"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-03-31", "2026-03-31T00:00:00+00:00"),
        ("2026-03-31T14:05:00", "2026-03-31T14:05:00+00:00"),
        ("2026-03-31T14:05:00+02:00", "2026-03-31T12:05:00+00:00"),
        ("2026-03-31T14:05:00Z", "2026-03-31T14:05:00+00:00"),
        ("2026-03-31 14:05:00", "2026-03-31T14:05:00+00:00"),
        ("2026/03/31", "2026-03-31T00:00:00+00:00"),
        ("1767225600", "2026-01-01T00:00:00+00:00"),
        (1767225600, "2026-01-01T00:00:00+00:00"),
        ("1767225600000", "2026-01-01T00:00:00+00:00"),
    ],
)
def test_dates_in_common_forms(given, expected):
    assert parse_datetime(given).isoformat() == expected


@pytest.mark.parametrize("bad", ["31/02/2026", "yesterday", "", "1800-01-01", True, "-5"])
def test_bad_dates_say_what_is_expected(bad):
    with pytest.raises(ValueError):
        parse_datetime(bad)


def test_field_errors_are_reported_per_row_and_field():
    text = "externalCustomerId,name,email,signupDate\n,,nope,someday\nc2,Ok,ok@x.org,\n"
    rows = records(text)
    errors = rows[0][1]
    assert {(e.row, e.field) for e in errors} == {
        (2, "external_customer_id"),
        (2, "name"),
        (2, "email"),
        (2, "signup_date"),
    }
    assert isinstance(rows[1][1], CustomerRecord)
    assert rows[1][1].signup_date is None


def test_duplicate_ids_in_one_file():
    text = "externalCustomerId,name,email\nc1,A,a@x.org\nc1,B,b@x.org\n"
    rows = records(text)
    assert rows[1][1][0].message == "'c1' already appears in row 2."


def test_tags_parsing():
    assert parse_tags("VIP, trial;beta|vip") == ("beta", "trial", "vip")
    assert parse_tags(["A", "b"]) == ("a", "b")
    with pytest.raises(ValueError):
        parse_tags("<script>")


def test_mapping_suggestions_for_real_exports():
    stripe = ["id", "Email", "Name", "Created (UTC)", "Description", "Card Brand"]
    assert suggest_mapping(stripe) == {
        "external_customer_id": "id",
        "name": "Name",
        "email": "Email",
        "signup_date": "Created (UTC)",
        "tags": None,
        "first_name": None,
        "last_name": None,
    }
    hubspot = ["Record ID", "First Name", "Last Name", "Email", "Create Date", "Company Name"]
    mapping = suggest_mapping(hubspot)
    assert mapping["external_customer_id"] == "Record ID"
    assert mapping["first_name"] == "First Name" and mapping["last_name"] == "Last Name"
    assert mapping["name"] is None
    assert mapping["signup_date"] == "Create Date"
    assert validate_mapping(mapping, hubspot) == []
    spec = list(SPEC_MAPPING.values())
    assert {k: v for k, v in suggest_mapping(spec).items() if v} == SPEC_MAPPING


def test_first_and_last_name_combine():
    mapping = {"external_customer_id": "id", "first_name": "f", "last_name": "l", "email": "e"}
    [(_row, record)] = records("id,f,l,e\n1,Grace,Hopper,g@x.org\n", mapping)
    assert record.name == "Grace Hopper"


def test_mapping_problems():
    problems = validate_mapping({"external_customer_id": "nope"}, ["a"])
    assert "External ID: no column 'nope'." in problems
    assert "Choose the column that holds the name." in problems
    assert "Choose the column that holds the e-mail." in problems


def test_check_file_caps_the_listed_errors(monkeypatch):
    monkeypatch.setattr(importing, "REPORT_ERROR_CAP", 3)
    text = "externalCustomerId,name,email\n" + "".join(f"c{n},,x\n" for n in range(5))
    report = check_file(table(text), SPEC_MAPPING)
    assert report.total == 5 and report.valid == 0
    assert report.rows_with_errors == 5 and report.error_count == 10
    assert len(report.errors) == 3


@pytest.mark.parametrize("dangerous", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_export_neutralises_formulas(dangerous):
    assert neutralise_cell(dangerous) == "'" + dangerous
    assert neutralise_cell("plain") == "plain"


safe_text = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(lambda s: s and not s.startswith(("=", "+", "-", "@", "'")))
)
customer_rows = st.lists(
    st.fixed_dictionaries(
        {
            "externalCustomerId": safe_text,
            "name": safe_text,
            "email": st.from_regex(
                r"[a-z0-9][a-z0-9._]{0,15}@[a-z0-9]{1,10}\.[a-z]{2,5}", fullmatch=True
            ),
            "signupDate": st.datetimes(
                min_value=datetime(1971, 1, 1),
                max_value=datetime(2099, 1, 1),
                timezones=st.just(UTC),
            ).map(lambda d: d.replace(microsecond=0).isoformat()),
            "tags": st.lists(
                st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True), max_size=3
            ),
            "churnRiskScore": st.one_of(st.none(), st.integers(0, 100).map(float)),
            "lastEngagementDate": st.none(),
        }
    ),
    max_size=15,
    unique_by=lambda r: r["externalCustomerId"],
)


@settings(max_examples=60, deadline=None)
@given(customer_rows)
def test_export_then_import_gives_back_the_same_customers(rows):
    text = "".join(customers_to_csv(rows))
    parsed = list(validate_rows(table(text).rows, SPEC_MAPPING))
    assert len(parsed) == len(rows)
    for original, (_row, record) in zip(rows, parsed, strict=True):
        assert isinstance(record, CustomerRecord), record
        assert record.external_customer_id == original["externalCustomerId"]
        assert record.name == original["name"]
        assert record.email == original["email"]
        assert record.signup_date.isoformat() == original["signupDate"]
        assert record.tags == tuple(sorted(set(original["tags"])))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_every_exported_cell_is_safe_in_a_spreadsheet(names):
    rows = [{"name": n, "externalCustomerId": n, "email": n} for n in names]
    text = "".join(customers_to_csv(rows))
    for line in list(__import__("csv").reader(io.StringIO(text)))[1:]:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)


def test_a_neutralised_name_comes_back_with_its_quote():
    rows = [{"externalCustomerId": "c1", "name": "=cmd", "email": "a@x.org", "tags": []}]
    [(_row, record)] = list(
        validate_rows(table("".join(customers_to_csv(rows))).rows, SPEC_MAPPING)
    )
    assert record.name == "'=cmd"


def test_tags_to_add_follow_the_same_rules_as_imports():
    from loyalty.domain.importing import tags_to_add

    assert tags_to_add(["vip"], " Trial; beta ") == ("beta", "trial")
    for typed, message in [
        (" , ", "Type a tag to add."),
        ("x" * 41, "Tags have at most 40 characters."),
    ]:
        with pytest.raises(ValueError, match=message):
            tags_to_add([], typed)
    with pytest.raises(ValueError, match="At most 20 tags."):
        tags_to_add([f"t{n}" for n in range(20)], "one more")
    with pytest.raises(ValueError, match="is not a tag"):
        tags_to_add([], "<b>bold</b>")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=600),
        st.text(max_size=300).map(str.encode),
        st.lists(st.text(alphabet=',;\t"\n\r =+-@abc\x00é', max_size=40), max_size=8).map(
            lambda lines: "\n".join(["externalCustomerId,name,email", *lines]).encode()
        ),
    ),
    st.sampled_from(["customers.csv", "customers.json"]),
)
def test_any_file_gives_rows_or_a_clear_error_never_a_crash(content, filename):
    """Whatever bytes arrive, the parser answers with checked rows or an ImportFileError."""
    try:
        fmt = detect_format(filename, content[:4096])
        parsed = read_table(io.BytesIO(content), fmt)
        mapping = suggest_mapping(parsed.columns)
        report = check_file(read_table(io.BytesIO(content), fmt), mapping)
        imported = list(valid_records(read_table(io.BytesIO(content), fmt), mapping))
    except ImportFileError as error:
        assert str(error)  # says what is wrong
        return
    # The check and the import agree: every row is either reported or imported.
    assert report.valid == len(imported)
    assert report.valid + report.rows_with_errors == report.total
    for record in imported:
        assert record.external_customer_id and record.name and "@" in record.email


@pytest.mark.parametrize(
    ("bad", "message"),
    [("x\x00", importing.NUL_MESSAGE), ("x\ud800", importing.SURROGATE_MESSAGE)],
)
def test_unstorable_text_is_found_anywhere_and_refused_in_cells(bad, message):
    assert importing.unstorable_text({"a": [1, {"b": bad}]}) == message
    assert importing.unstorable_text({bad: 1}) == message
    assert importing.unstorable_text({"a": [1, 2.5, None, True, "text", "héllo 😀"]}) is None
    mapping = {"external_customer_id": "id", "name": "name", "email": "email"}
    errors = importing.validate_row(2, {"id": "c1", "name": bad, "email": "a@x.org"}, mapping)
    assert [(e.field, e.message) for e in errors] == [("name", message)]
