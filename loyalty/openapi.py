"""The OpenAPI 3.1 document of /api/, built from the same definitions the API validates with.

Field names, lengths, patterns and limits come from `loyalty/domain/importing.py` and
`loyalty/domain/api_input.py` (the rules the API, the import and the forms share) and from
the API views' own constants, so the document cannot describe rules the code does not apply.
"""

from __future__ import annotations

from collections.abc import Iterable

from loyalty.domain import api_input, importing
from loyalty.domain.bands import RISK_BANDS
from loyalty.domain.scoring import EVENT_TYPE_MAX_LENGTH
from loyalty.services.customer_query import SORTABLE
from loyalty.services.event_ingestion import MAX_BATCH

NOT_BLANK = r"\S"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


COMMON = {
    "400": _problem("Malformed JSON"),
    "401": _problem("No valid token or session"),
    "403": _problem("CSRF token missing (cookie sessions)"),
    "413": _problem("Body too large"),
    "422": _problem("Invalid fields (see errors)"),
    "429": _problem("Too many requests"),
}


def _responses(ok: dict, *codes: str) -> dict:
    return {**ok, **{code: COMMON.get(code) or _problem(code) for code in codes}}


WRITE_ERRORS = ("400", "401", "403", "413", "422", "429")
NOT_FOUND = {"404": _problem("Not found (or another account's)")}
CONFLICT = {"409": _problem("Duplicate externalCustomerId or stale update")}
AUTOMATIC = {"409": _problem("An automatic segment: its criteria choose its members")}


def _customer_input() -> dict:
    lengths = importing.MAX_FIELD_LENGTHS
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["externalCustomerId", "name", "email"],
        "properties": {
            "externalCustomerId": {
                "type": "string",
                "maxLength": lengths["external_customer_id"],
                "pattern": NOT_BLANK,
            },
            "name": {"type": "string", "maxLength": lengths["name"], "pattern": NOT_BLANK},
            "email": {
                "type": "string",
                "maxLength": lengths["email"],
                "pattern": importing._EMAIL_PATTERN.pattern,
            },
            "signupDate": {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601; defaults to now. Years 1970-2100.",
            },
            "tags": {
                "type": "array",
                "maxItems": importing.TAGS_PER_CUSTOMER,
                "items": {
                    "type": "string",
                    "maxLength": importing.TAG_MAX_LENGTH,
                    "pattern": importing._TAG_PATTERN.pattern,
                },
            },
        },
    }


def _customer() -> dict:
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    return {
        "type": "object",
        "required": ["id", "externalCustomerId", "name", "email", "signupDate", "tags"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "externalCustomerId": {"type": "string"},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "signupDate": {"type": "string", "format": "date-time"},
            "lastEngagementDate": nullable_time,
            "churnRiskScore": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
            "riskBand": {"enum": [band for band, _low, _high in RISK_BANDS] + [None]},
            "churnRiskFactors": {"type": "array", "items": {"type": "object"}},
            "churnRiskStartingScore": {
                "type": ["integer", "null"],
                "description": "What the factors' points add to (the sum stops at 0 and 100); "
                "null before anything is known.",
            },
            "churnScoredAt": nullable_time,
            "tags": {"type": "array", "items": {"type": "string"}},
            "version": {"type": "integer"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
        },
    }


def _event_input() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["eventType"],
        "properties": {
            "eventType": {
                "type": "string",
                "maxLength": EVENT_TYPE_MAX_LENGTH,
                "pattern": r"^[A-Za-z0-9_ \-]*[A-Za-z0-9_][A-Za-z0-9_ \-]*$",
                "description": "login, feature_used, purchase, support_ticket, payment_failed, "
                "downgrade, upgrade, cancellation_request, note, or your own type.",
            },
            "eventDate": {
                "type": "string",
                "format": "date-time",
                "description": "When it happened: now when left out; at most 5 minutes ahead.",
            },
            "details": {
                "type": "object",
                "maxProperties": api_input.DETAILS_MAX_KEYS,
                "propertyNames": {"maxLength": api_input.DETAILS_KEY_MAX},
                "additionalProperties": {
                    "type": ["string", "number", "boolean", "null"],
                    "maxLength": api_input.DETAILS_VALUE_MAX,
                },
            },
        },
    }


def _event() -> dict:
    return {
        "type": "object",
        "required": ["id", "customerId", "eventType", "eventDate", "details"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "customerId": {"type": "string", "format": "uuid"},
            "eventType": {"type": "string"},
            "eventDate": {"type": "string", "format": "date-time"},
            "details": {"type": "object"},
            "createdAt": {"type": "string", "format": "date-time"},
        },
    }


def _page_of(item: str) -> dict:
    return {
        "type": "object",
        "required": ["data", "next"],
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "next": {"type": ["string", "null"], "description": "URL of the next page"},
            "total": {"type": "integer"},
            "totalIsLowerBound": {"type": "boolean"},
        },
    }


def _batch() -> dict:
    item = {
        **_event_input(),
        "required": ["externalCustomerId", "eventType"],
        "properties": {
            **_event_input()["properties"],
            "externalCustomerId": {"type": "string", "maxLength": 255, "pattern": NOT_BLANK},
            "customer": {
                "type": "object",
                "description": "name and email, used when createMissingCustomers is true",
                "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
            },
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": item},
            "createMissingCustomers": {"type": "boolean", "default": False},
        },
    }


def _batch_result() -> dict:
    return {
        "type": "object",
        "required": ["created", "failed", "customersCreated", "scores", "results"],
        "properties": {
            "created": {"type": "integer"},
            "failed": {"type": "integer"},
            "customersCreated": {"type": "integer"},
            "scores": {
                "enum": ["updated", "queued"],
                "description": "Whether the customers' churn scores were updated in this "
                "request or queued for the rescore worker (QUEUE_RESCORES=1).",
            },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "status"],
                    "properties": {
                        "index": {"type": "integer"},
                        "status": {"enum": ["created", "failed"]},
                        "id": {"type": "string", "format": "uuid"},
                        "errors": {"type": "object"},
                    },
                },
            },
        },
    }


def _segment_input() -> dict:
    from loyalty.domain.criteria import FIELDS, MAX_RULES, OPERATORS

    rule = {
        "type": "object",
        "required": ["field", "op"],
        "properties": {
            "field": {"enum": list(FIELDS)},
            "op": {"enum": sorted({op for ops in OPERATORS.values() for op in ops})},
            "value": {},
            "count": {"type": "integer", "minimum": 0},
            "event_type": {"type": "string"},
            "days": {"type": "integer", "minimum": 1},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "maxLength": api_input.SEGMENT_NAME_MAX,
                "pattern": NOT_BLANK,
            },
            "description": {"type": "string", "maxLength": api_input.SEGMENT_DESCRIPTION_MAX},
            "criteria": {
                "type": ["object", "null"],
                "description": "Rules combined by match (all/any); see the README.",
                "properties": {
                    "match": {"enum": ["all", "any"]},
                    "rules": {"type": "array", "maxItems": MAX_RULES, "items": rule},
                },
            },
            "isAutomatic": {"type": "boolean", "description": "Needs criteria."},
        },
    }


def _segment() -> dict:
    return {
        "type": "object",
        "required": ["id", "name", "description", "isAutomatic"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "criteria": {"type": ["object", "null"]},
            "isAutomatic": {"type": "boolean"},
            "memberCount": {"type": "integer"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
        },
    }


def _survey_input() -> dict:
    from loyalty.domain.surveys import KINDS

    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["title"],
        "properties": {
            "title": {
                "type": "string",
                "maxLength": api_input.SURVEY_TITLE_MAX,
                "pattern": NOT_BLANK,
            },
            "description": {"type": "string", "maxLength": api_input.SURVEY_DESCRIPTION_MAX},
            "kind": {"enum": list(KINDS)},
            "question": {"type": "string", "maxLength": api_input.SURVEY_QUESTION_MAX},
        },
    }


def _survey() -> dict:
    return {
        "type": "object",
        "required": ["id", "title", "kind", "question"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "kind": {"type": "string"},
            "question": {"type": "string"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
        },
    }


def _survey_send() -> dict:
    return {
        "type": "object",
        "description": api_input.SEND_ONE_OF,
        "additionalProperties": False,
        "properties": {
            "customerIds": _customer_ids()["properties"]["customerIds"],
            "segmentId": {"type": "string", "format": "uuid"},
        },
        "oneOf": [{"required": ["customerIds"]}, {"required": ["segmentId"]}],
    }


def _send_result() -> dict:
    uuid = {"type": "string", "format": "uuid"}
    return {
        "type": "object",
        "required": ["created", "skipped", "delivered", "invitations"],
        "properties": {
            "created": {"type": "integer", "description": "Invitations made now"},
            "skipped": {
                "type": "integer",
                "description": "Customers left out: they already hold an open link",
            },
            "delivered": {
                "type": "integer",
                "description": "Sent by e-mail (SMTP configured); otherwise 0: see the outbox",
            },
            "invitations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "customerId", "link"],
                    "properties": {
                        "id": uuid,
                        "customerId": uuid,
                        "link": {"type": "string", "format": "uri"},
                    },
                },
            },
        },
    }


def _invitation(statuses: list[str]) -> dict:
    uuid = {"type": "string", "format": "uuid"}
    time = {"type": "string", "format": "date-time"}
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    return {
        "type": "object",
        "required": ["id", "surveyId", "customerId", "link", "status", "sentAt"],
        "properties": {
            "id": uuid,
            "surveyId": uuid,
            "customerId": uuid,
            "link": {"type": "string", "format": "uri", "description": "The personal link"},
            "status": {"enum": statuses},
            "emailTo": {"type": "string"},
            "emailSubject": {"type": "string"},
            "emailBody": {"type": "string"},
            "sentAt": time,
            "deliveredAt": {**nullable_time, "description": "null: only in the outbox"},
            "expiresAt": nullable_time,
            "answeredAt": nullable_time,
            "revokedAt": {**nullable_time, "description": "When the link was switched off"},
        },
    }


def _customer_ids() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["customerIds"],
        "properties": {
            "customerIds": {
                "type": "array",
                "minItems": 1,
                "maxItems": api_input.MAX_IDS,
                "items": {"type": "string", "format": "uuid"},
            }
        },
    }


def _collection(schema: str, listed: str, added: str, limit: dict, conflicts: bool = False) -> dict:
    """GET (newest first, by cursor) and POST of a collection (segments and surveys)."""
    return {
        "get": {
            "summary": listed,
            "parameters": [_query("cursor", {"type": "string"}), limit],
            "responses": _responses({"200": _json(_page_of(schema))}, "401", "422", "429"),
        },
        "post": {
            "summary": added,
            "requestBody": _body(_ref(f"{schema}Input")),
            "responses": _responses({"201": _json(_ref(schema), "Created")}, *WRITE_ERRORS)
            | (CONFLICT if conflicts else {}),
        },
    }


def _item(
    id_name: str, noun: str, schema: str, patch_body: dict, delete: str, conflicts: bool = False
) -> dict:
    """GET, PUT, PATCH and DELETE of one object (segments and surveys share the shape)."""
    extra = CONFLICT if conflicts else {}
    one = _json(_ref(schema))
    return {
        "parameters": [_path_id(id_name)],
        "get": {
            "summary": f"One {noun}",
            "responses": _responses({"200": one}, "401", "429") | NOT_FOUND,
        },
        "put": {
            "summary": f"Replace a {noun}",
            "requestBody": _body(_ref(f"{schema}Input")),
            "responses": _responses({"200": one}, *WRITE_ERRORS) | NOT_FOUND | extra,
        },
        "patch": {
            "summary": f"Change some fields of a {noun}",
            "requestBody": _body(patch_body),
            "responses": _responses({"200": one}, *WRITE_ERRORS) | NOT_FOUND | extra,
        },
        "delete": {
            "summary": delete,
            "responses": _responses({"204": {"description": "Deleted"}}, "401", "403", "429")
            | NOT_FOUND,
        },
    }


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path_id(name: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }


def build(
    list_limit_max: int, list_params: dict[str, str], invitation_statuses: Iterable[str]
) -> dict:
    """The whole document."""
    date = {"type": "string", "format": "date"}
    list_parameters = {
        "q": _query(
            "q", {"type": "string", "maxLength": 200}, "Text in name, e-mail or external id"
        ),
        "band": _query("band", {"enum": [b for b, _l, _h in RISK_BANDS]}),
        "segment": _query("segment", {"type": "string", "format": "uuid"}),
        "tag": _query("tag", {"type": "string", "maxLength": 40}),
        "signupFrom": _query("signupFrom", date),
        "signupTo": _query("signupTo", date),
        "engagedFrom": _query("engagedFrom", date),
        "engagedTo": _query("engagedTo", date),
        "sort": _query("sort", {"enum": sorted(SORTABLE)}),
        "dir": _query("dir", {"enum": ["asc", "desc"]}),
        "cursor": _query("cursor", {"type": "string"}, "From the previous page's next URL"),
    }
    if set(list_parameters) != set(list_params):
        raise RuntimeError("The document's list parameters and the view's disagree.")
    limit = _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": list_limit_max, "default": 50}
    )
    if_match = {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": 'The ETag (version) you read, e.g. "3": refuses the write if it changed.',
    }
    customer = _ref("Customer")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty Guardian API",
            "version": "1",
            "description": "Customers, engagement events and churn-risk analytics of one "
            "account. Errors are RFC 9457 problem details.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/customers": {
                "get": {
                    "summary": "List customers (filters, sorts, cursor pages)",
                    "parameters": [*list_parameters.values(), limit],
                    "responses": _responses(
                        {"200": _json(_ref("CustomerPage"))}, "401", "422", "429"
                    ),
                },
                "post": {
                    "summary": "Add a customer",
                    "requestBody": _body(_ref("CustomerInput")),
                    "responses": _responses(
                        {"201": _json(customer, "Created")},
                        "400",
                        "401",
                        "403",
                        "413",
                        "422",
                        "429",
                    )
                    | CONFLICT,
                },
            },
            "/api/customers/{customerId}": {
                "parameters": [_path_id("customerId")],
                "get": {
                    "summary": "One customer with churn risk and reasons",
                    "responses": _responses({"200": _json(customer)}, "401", "429") | NOT_FOUND,
                },
                "put": {
                    "summary": "Replace a customer",
                    "parameters": [if_match],
                    "requestBody": _body(_ref("CustomerInput")),
                    "responses": _responses(
                        {"200": _json(customer)}, "400", "401", "403", "413", "422", "429"
                    )
                    | NOT_FOUND
                    | CONFLICT,
                },
                "patch": {
                    "summary": "Change some fields of a customer",
                    "parameters": [if_match],
                    "requestBody": _body({**_customer_input(), "required": []}),
                    "responses": _responses(
                        {"200": _json(customer)}, "400", "401", "403", "413", "422", "429"
                    )
                    | NOT_FOUND
                    | CONFLICT,
                },
                "delete": {
                    "summary": "Delete a customer (and its events, answers, memberships)",
                    "responses": _responses(
                        {"204": {"description": "Deleted"}}, "401", "403", "429"
                    )
                    | NOT_FOUND,
                },
            },
            "/api/customers/{customerId}/events": {
                "parameters": [_path_id("customerId")],
                "get": {
                    "summary": "A customer's events, newest first",
                    "parameters": [_query("cursor", {"type": "string"}), limit],
                    "responses": _responses({"200": _json(_page_of("Event"))}, "401", "422", "429")
                    | NOT_FOUND,
                },
                "post": {
                    "summary": "Log an event for a customer",
                    "requestBody": _body(_ref("EventInput")),
                    "responses": _responses(
                        {"201": _json(_ref("Event"), "Created")},
                        "400",
                        "401",
                        "403",
                        "413",
                        "422",
                        "429",
                    )
                    | NOT_FOUND,
                },
            },
            "/api/events": {
                "get": {
                    "summary": "Every event of the account, newest first",
                    "parameters": [
                        _query("eventType", {"type": "string", "maxLength": 50}),
                        _query("cursor", {"type": "string"}),
                        limit,
                    ],
                    "responses": _responses({"200": _json(_page_of("Event"))}, "401", "422", "429"),
                },
                "post": {
                    "summary": "Ingest a batch of events by externalCustomerId",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                    "requestBody": _body(_ref("EventBatch")),
                    "responses": _responses(
                        {
                            "201": _json(_ref("EventBatchResult"), "All items created"),
                            "200": _json(_ref("EventBatchResult"), "Some items failed"),
                        },
                        "400",
                        "401",
                        "403",
                        "413",
                        "422",
                        "429",
                    ),
                },
            },
            "/api/events/{eventId}": {
                "parameters": [_path_id("eventId")],
                "get": {
                    "summary": "One event",
                    "responses": _responses({"200": _json(_ref("Event"))}, "401", "429")
                    | NOT_FOUND,
                },
                "put": {
                    "summary": "Replace an event (a date left out keeps the stored one); "
                    "its customer is rescored",
                    "requestBody": _body(_ref("EventInput")),
                    "responses": _responses({"200": _json(_ref("Event"))}, *WRITE_ERRORS)
                    | NOT_FOUND,
                },
                "patch": {
                    "summary": "Change some fields of an event; its customer is rescored",
                    "requestBody": _body({**_event_input(), "required": []}),
                    "responses": _responses({"200": _json(_ref("Event"))}, *WRITE_ERRORS)
                    | NOT_FOUND,
                },
                "delete": {
                    "summary": "Delete an event (its customer is rescored)",
                    "responses": _responses(
                        {"204": {"description": "Deleted"}}, "401", "403", "429"
                    )
                    | NOT_FOUND,
                },
            },
            "/api/segments": _collection(
                "Segment",
                "Every segment with its member count",
                "Add a segment (criteria fill it; automatic keeps it in sync)",
                limit,
                conflicts=True,
            ),
            "/api/segments/{segmentId}": _item(
                "segmentId",
                "segment",
                "Segment",
                {**_segment_input(), "required": []},
                delete="Delete a segment (its customers stay)",
                conflicts=True,
            ),
            "/api/segments/{segmentId}/members": {
                "parameters": [_path_id("segmentId")],
                "get": {
                    "summary": "The segment's customers (same filters and pages as /api/customers)",
                    "parameters": [*list_parameters.values(), limit],
                    "responses": _responses(
                        {"200": _json(_ref("CustomerPage"))}, "401", "422", "429"
                    )
                    | NOT_FOUND,
                },
                "post": {
                    "summary": "Add customers (all must be yours, else 404)",
                    "requestBody": _body(_ref("CustomerIds")),
                    "responses": _responses(
                        {
                            "200": _json(
                                {"type": "object", "properties": {"added": {"type": "integer"}}}
                            )
                        },
                        *WRITE_ERRORS,
                    )
                    | NOT_FOUND
                    | AUTOMATIC,
                },
            },
            "/api/segments/{segmentId}/members/remove": {
                "parameters": [_path_id("segmentId")],
                "post": {
                    "summary": "Remove customers",
                    "requestBody": _body(_ref("CustomerIds")),
                    "responses": _responses(
                        {
                            "200": _json(
                                {"type": "object", "properties": {"removed": {"type": "integer"}}}
                            )
                        },
                        *WRITE_ERRORS,
                    )
                    | NOT_FOUND
                    | AUTOMATIC,
                },
            },
            "/api/segments/{segmentId}/members/{customerId}": {
                "parameters": [_path_id("segmentId"), _path_id("customerId")],
                "delete": {
                    "summary": "Remove one customer",
                    "responses": _responses(
                        {"204": {"description": "Removed"}}, "401", "403", "429"
                    )
                    | NOT_FOUND
                    | AUTOMATIC,
                },
            },
            "/api/surveys": _collection("Survey", "Every survey", "Add a survey", limit),
            "/api/surveys/{surveyId}": _item(
                "surveyId",
                "survey",
                "Survey",
                {**_survey_input(), "required": []},
                delete="Delete a survey with its links and answers",
            ),
            "/api/surveys/{surveyId}/responses": {
                "parameters": [_path_id("surveyId")],
                "get": {
                    "summary": "A survey's answers, newest first",
                    "parameters": [_query("cursor", {"type": "string"}), limit],
                    "responses": _responses(
                        {"200": _json(_page_of("SurveyResponse"))}, "401", "422", "429"
                    )
                    | NOT_FOUND,
                },
                "post": {
                    "summary": "Record an answer given elsewhere (rescores the customer)",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["customerId"],
                            "properties": {
                                "customerId": {"type": "string", "format": "uuid"},
                                "score": {"type": "integer"},
                                "comment": {"type": "string", "maxLength": 2000},
                            },
                        }
                    ),
                    "responses": _responses(
                        {"201": _json(_ref("SurveyResponse"), "Created")}, *WRITE_ERRORS
                    )
                    | NOT_FOUND,
                },
            },
            "/api/surveys/{surveyId}/send": {
                "parameters": [_path_id("surveyId")],
                "post": {
                    "summary": "Send personal links to customers or a segment's members "
                    "(all must be yours, else 404 and nothing is sent; an open link is not "
                    "sent twice)",
                    "requestBody": _body(_ref("SurveySend")),
                    "responses": _responses({"200": _json(_ref("SurveySendResult"))}, *WRITE_ERRORS)
                    | NOT_FOUND,
                },
            },
            "/api/surveys/{surveyId}/invitations": {
                "parameters": [_path_id("surveyId")],
                "get": {
                    "summary": "A survey's personal links with their e-mails, newest first",
                    "parameters": [_query("cursor", {"type": "string"}), limit],
                    "responses": _responses(
                        {"200": _json(_page_of("Invitation"))}, "401", "422", "429"
                    )
                    | NOT_FOUND,
                },
            },
            "/api/invitations/{invitationId}": {
                "parameters": [_path_id("invitationId")],
                "get": {
                    "summary": "One personal link",
                    "responses": _responses({"200": _json(_ref("Invitation"))}, "401", "429")
                    | NOT_FOUND,
                },
            },
            "/api/invitations/{invitationId}/revoke": {
                "parameters": [_path_id("invitationId")],
                "post": {
                    "summary": "Switch a personal link off (an answer already given stays)",
                    "responses": _responses({"200": _json(_ref("Invitation"))}, "401", "403", "429")
                    | NOT_FOUND,
                },
            },
            "/api/responses/{responseId}": {
                "parameters": [_path_id("responseId")],
                "get": {
                    "summary": "One survey response",
                    "responses": _responses({"200": _json(_ref("SurveyResponse"))}, "401", "429")
                    | NOT_FOUND,
                },
                "delete": {
                    "summary": "Delete a survey response (rescores the customer)",
                    "responses": _responses(
                        {"204": {"description": "Deleted"}}, "401", "403", "429"
                    )
                    | NOT_FOUND,
                },
            },
            "/api/analytics/churn-risk": {
                "get": {
                    "summary": "Churn-risk counts, averages, bands, deciles, segments, top risks",
                    "responses": _responses({"200": _json({"type": "object"})}, "401", "429"),
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "CustomerInput": _customer_input(),
                "Customer": _customer(),
                "CustomerPage": _page_of("Customer"),
                "EventInput": _event_input(),
                "Event": _event(),
                "EventBatch": _batch(),
                "EventBatchResult": _batch_result(),
                "SegmentInput": _segment_input(),
                "Segment": _segment(),
                "CustomerIds": _customer_ids(),
                "SurveyInput": _survey_input(),
                "Survey": _survey(),
                "SurveySend": _survey_send(),
                "SurveySendResult": _send_result(),
                "Invitation": _invitation(list(invitation_statuses)),
                "SurveyResponse": {
                    "type": "object",
                    "required": ["id", "surveyId", "customerId", "response", "submittedAt"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "surveyId": {"type": "string", "format": "uuid"},
                        "customerId": {"type": "string", "format": "uuid"},
                        "response": {"type": "object"},
                        "submittedAt": {"type": "string", "format": "date-time"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["title", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "errors": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "Field name -> what is wrong",
                        },
                    },
                },
            },
        },
    }
