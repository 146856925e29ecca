"""JSON input of the API, checked with the same rules as forms and imports.

A customer sent as JSON goes through `importing.validate_row` (the import's rules for names,
e-mails, dates and tags), so the API, the import and the CLI cannot drift apart. Field names
are the spec's own (`externalCustomerId`, `signupDate`, ...).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from loyalty.domain import importing
from loyalty.domain.criteria import CriteriaError, parse_criteria
from loyalty.domain.dates import check_event_date
from loyalty.domain.scoring import normalize_event_type
from loyalty.domain.surveys import AnswerError, parse_answer

# JSON name -> internal name, for what a client may write.
CUSTOMER_FIELDS = {
    "externalCustomerId": "external_customer_id",
    "name": "name",
    "email": "email",
    "signupDate": "signup_date",
    "tags": "tags",
}
CUSTOMER_READ_ONLY = frozenset(
    {
        "id",
        "userId",
        "churnRiskScore",
        "churnRiskFactors",
        "churnRiskStartingScore",
        "churnScoredAt",
        "lastEngagementDate",
        "createdAt",
        "updatedAt",
        "version",
        "riskBand",
    }
)
EVENT_FIELDS = {"eventType", "eventDate", "details"}
EVENT_READ_ONLY = frozenset({"id", "customerId", "userId", "createdAt"})
# An event's details, here and in the event form: how many names, how long a name and a text.
DETAILS_MAX_KEYS = 50
DETAILS_KEY_MAX = 50
DETAILS_VALUE_MAX = 2000


class InputError(ValueError):
    """Input that cannot be used; `errors` maps a JSON field name to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _object(data: object) -> dict:
    if not isinstance(data, dict):
        raise InputError({"": "Expected a JSON object."})
    return data


def _unknown_fields(data: dict, allowed: set[str] | dict, read_only: frozenset[str]) -> dict:
    """An error for each name a client may not send (the first 20), reported together with
    every other field's error."""
    unknown = [k for k in data if k not in allowed and k not in read_only]
    return {k: "Unknown field." for k in unknown[:20]}


def customer_input(data: object) -> importing.CustomerRecord:
    """A whole customer from JSON; read-only fields (id, churnRiskScore, timestamps) are
    ignored, unknown ones refused. (PATCH merges the stored values in first.)

    Every field's error is reported at once: a field of the wrong type is left out of the
    import's checks, which then judge the others."""
    data = _object(data)
    errors = _unknown_fields(data, CUSTOMER_FIELDS, CUSTOMER_READ_ONLY)
    for key in ("externalCustomerId", "name", "email", "signupDate"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            errors[key] = "Expected a string."
    tags = data.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors["tags"] = "Expected a list of strings."
    mapping = {internal: key for key, internal in CUSTOMER_FIELDS.items()}
    if "tags" not in data or "tags" in errors:
        mapping["tags"] = None
    checkable = {k: v for k, v in data.items() if k not in errors}
    result = importing.validate_row(1, checkable, mapping)
    if isinstance(result, list):
        names = {internal: key for key, internal in CUSTOMER_FIELDS.items()}
        for e in result:
            errors.setdefault(names.get(e.field, e.field), e.message)
    if errors:
        raise InputError(errors)
    return result


def event_input(data: object, now: datetime) -> tuple[str, datetime, dict]:
    """An engagement event from JSON: (type, date, details); the date defaults to now and
    may not be later than now (give or take a client's clock, `dates.check_event_date`)."""
    data = _object(data)
    errors = _unknown_fields(data, EVENT_FIELDS, EVENT_READ_ONLY)
    event_type = data.get("eventType")
    if not isinstance(event_type, str):
        errors["eventType"] = "Missing." if event_type is None else "Expected a string."
    else:
        try:
            event_type = normalize_event_type(event_type)
        except ValueError as error:
            errors["eventType"] = str(error)
    when = now
    raw_date = data.get("eventDate")
    if raw_date is not None:
        if not isinstance(raw_date, str):
            errors["eventDate"] = "Expected an ISO 8601 date-time string."
        else:
            try:
                when = importing.parse_datetime(raw_date)
                check_event_date(when, now)
            except ValueError as error:
                errors["eventDate"] = str(error)
    details = data.get("details", {})
    if details is None:
        details = {}
    if not isinstance(details, dict):
        errors["details"] = "Expected an object of names and values."
    elif len(details) > DETAILS_MAX_KEYS:
        errors["details"] = f"At most {DETAILS_MAX_KEYS} entries."
    else:
        for key, value in details.items():
            if len(key) > DETAILS_KEY_MAX:
                errors["details"] = f"Names have at most {DETAILS_KEY_MAX} characters."
            elif not (value is None or isinstance(value, str | int | float | bool)):
                errors["details"] = "Values must be text, numbers, true/false or null."
            elif isinstance(value, float) and not math.isfinite(value):
                errors["details"] = "Numbers must be finite."
            elif isinstance(value, str) and len(value) > DETAILS_VALUE_MAX:
                errors["details"] = f"Values have at most {DETAILS_VALUE_MAX} characters."
    if errors:
        raise InputError(errors)
    return event_type, when, details


# --- Segments and surveys ------------------------------------------------------------------

SEGMENT_NAME_MAX = 100
SEGMENT_DESCRIPTION_MAX = 1000
SEGMENT_FIELDS = {"name", "description", "criteria", "isAutomatic"}
SEGMENT_READ_ONLY = frozenset({"id", "userId", "memberCount", "createdAt", "updatedAt"})
SURVEY_TITLE_MAX = 200
SURVEY_DESCRIPTION_MAX = 2000
SURVEY_QUESTION_MAX = 500
SURVEY_FIELDS = {"title", "description", "kind", "question"}
SURVEY_READ_ONLY = frozenset({"id", "userId", "createdAt", "updatedAt"})
MAX_IDS = 10_000


def _text_field(
    data: dict, key: str, maximum: int, errors: dict, required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = "Missing."
        return None
    if not isinstance(value, str):
        errors[key] = "Expected a string."
        return None
    value = value.strip()
    if required and not value:
        errors[key] = "Missing."
    elif len(value) > maximum:
        errors[key] = f"At most {maximum} characters."
    return value


def segment_input(data: object) -> dict:
    """A segment from JSON: name, description, criteria (validated by the criteria rules),
    isAutomatic. Returns the clean values under the same names."""
    data = _object(data)
    errors = _unknown_fields(data, SEGMENT_FIELDS, SEGMENT_READ_ONLY)
    clean: dict = {
        "name": _text_field(data, "name", SEGMENT_NAME_MAX, errors, required=True),
        "description": _text_field(data, "description", SEGMENT_DESCRIPTION_MAX, errors) or "",
        "criteria": None,
        "isAutomatic": data.get("isAutomatic", False),
    }
    if not isinstance(clean["isAutomatic"], bool):
        errors["isAutomatic"] = "Expected true or false."
    if data.get("criteria") is not None:
        try:
            clean["criteria"] = parse_criteria(data["criteria"])
        except CriteriaError as error:
            errors["criteria"] = "; ".join(
                (f"rule {i + 1}: {m}" if i is not None else m) for i, m in error.problems
            )
    elif clean["isAutomatic"] is True:
        errors["criteria"] = "An automatic segment needs criteria."
    if errors:
        raise InputError(errors)
    return clean


def survey_input(data: object, kinds: dict[str, str], default_questions: dict[str, str]) -> dict:
    """A survey from JSON: title, description, kind (nps, satisfaction, text), question."""
    data = _object(data)
    errors = _unknown_fields(data, SURVEY_FIELDS, SURVEY_READ_ONLY)
    clean = {
        "title": _text_field(data, "title", SURVEY_TITLE_MAX, errors, required=True),
        "description": _text_field(data, "description", SURVEY_DESCRIPTION_MAX, errors) or "",
        "kind": data.get("kind", "nps"),
        "question": _text_field(data, "question", SURVEY_QUESTION_MAX, errors) or "",
    }
    if not isinstance(clean["kind"], str) or clean["kind"] not in kinds:
        errors["kind"] = f"One of {', '.join(kinds)}."
    elif not clean["question"]:
        clean["question"] = default_questions[clean["kind"]]
    if errors:
        raise InputError(errors)
    return clean


def _uuid_list(values: object) -> tuple[list[uuid.UUID], str | None]:
    """A non-empty list of UUID strings, or what is wrong with it."""
    if not isinstance(values, list) or not values:
        return [], "Expected a non-empty list of ids."
    if len(values) > MAX_IDS:
        return [], f"At most {MAX_IDS:,} ids."
    if all(isinstance(v, str) for v in values):
        try:
            return [uuid.UUID(v) for v in values], None
        except ValueError:
            pass
    return [], "Every id must be a UUID string."


def id_list(data: object, key: str = "customerIds") -> list[uuid.UUID]:
    """A non-empty list of UUID strings under `key`."""
    data = _object(data)
    errors = _unknown_fields(data, {key}, frozenset())
    ids, error = _uuid_list(data.get(key))
    if error:
        errors[key] = error
    if errors:
        raise InputError(errors)
    return ids


SEND_FIELDS = ("customerIds", "segmentId")
SEND_ONE_OF = "Give either customerIds or segmentId (exactly one of them)."


def send_input(data: object) -> tuple[list[uuid.UUID] | None, uuid.UUID | None]:
    """Whom a survey goes to: (customer ids, None) or (None, segment id), from
    `{"customerIds": [...]}` or `{"segmentId": "..."}` (exactly one of them)."""
    data = _object(data)
    errors = _unknown_fields(data, set(SEND_FIELDS), frozenset())
    given = [key for key in SEND_FIELDS if data.get(key) is not None]
    if len(given) != 1:
        errors[""] = SEND_ONE_OF
    customer_ids, segment_id = None, None
    if "customerIds" in given:
        customer_ids, error = _uuid_list(data["customerIds"])
        if error:
            errors["customerIds"] = error
    if "segmentId" in given:
        try:
            segment_id = uuid.UUID(str(data["segmentId"]))
        except ValueError:
            errors["segmentId"] = "Expected a segment id (a UUID)."
    if errors:
        raise InputError(errors)
    return customer_ids, segment_id


RESPONSE_FIELDS = {"customerId", "score", "comment"}


def response_input(data: object, kind: str) -> tuple[uuid.UUID, dict]:
    """An answer recorded through the API: the customer's id and the answer, checked by the
    same rules as the public form."""
    data = _object(data)
    errors = _unknown_fields(data, RESPONSE_FIELDS, frozenset())
    customer_id = None
    try:
        customer_id = uuid.UUID(str(data.get("customerId")))
    except ValueError:
        errors["customerId"] = "Expected the customer's id (a UUID)."
    try:
        answer = parse_answer(kind, data.get("score"), data.get("comment"))
    except AnswerError as error:
        errors.update(error.errors)
    if errors or customer_id is None:
        raise InputError(errors)
    return customer_id, answer
