"""JSON input of the API, checked with the same rules as forms and imports.

A customer sent as JSON goes through `importing.validate_row` (the import's rules for names,
e-mails, dates and tags), so the API, the import and the CLI cannot drift apart. Field names
are the spec's own (`externalCustomerId`, `signupDate`, ...).
"""

from __future__ import annotations

import math
from datetime import datetime

from loyalty.domain import importing
from loyalty.domain.scoring import normalize_event_type

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
DETAILS_MAX_KEYS = 50
DETAILS_KEY_MAX = 50
DETAILS_VALUE_MAX = 2000


class InputError(ValueError):
    """Input that cannot be used; `errors` maps a JSON field name to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _check_keys(data: object, allowed: set[str] | dict, read_only: frozenset[str]) -> dict:
    if not isinstance(data, dict):
        raise InputError({"": "Expected a JSON object."})
    unknown = [k for k in data if k not in allowed and k not in read_only]
    if unknown:
        raise InputError({k: "Unknown field." for k in unknown[:20]})
    return data


def customer_input(data: object) -> importing.CustomerRecord:
    """A whole customer from JSON; read-only fields (id, churnRiskScore, timestamps) are
    ignored, unknown ones refused. (PATCH merges the stored values in first.)"""
    data = _check_keys(data, CUSTOMER_FIELDS, CUSTOMER_READ_ONLY)
    errors: dict[str, str] = {}
    for key in ("externalCustomerId", "name", "email", "signupDate"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            errors[key] = "Expected a string."
    tags = data.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors["tags"] = "Expected a list of strings."
    if errors:
        raise InputError(errors)
    mapping = {internal: key for key, internal in CUSTOMER_FIELDS.items()}
    if "tags" not in data:
        mapping["tags"] = None
    result = importing.validate_row(1, data, mapping)
    if isinstance(result, list):
        names = {internal: key for key, internal in CUSTOMER_FIELDS.items()}
        raise InputError({names.get(e.field, e.field): e.message for e in result})
    return result


def event_input(data: object, now: datetime) -> tuple[str, datetime, dict]:
    """An engagement event from JSON: (type, date, details); the date defaults to now."""
    data = _check_keys(data, EVENT_FIELDS, EVENT_READ_ONLY)
    errors: dict[str, str] = {}
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
