"""The JSON API under /api/ (problem+json errors; see loyalty/errors.py).

Programs authenticate with `Authorization: Bearer <token>` (tokens are made on the account
page or with `flask --app app token create`); the browser's session works too, with its CSRF
token for changes. Field names are the spec's (`externalCustomerId`, `churnRiskScore`, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from loyalty import openapi
from loyalty.db import get_or_404
from loyalty.domain.api_input import (
    InputError,
    customer_input,
    event_input,
    id_list,
    response_input,
    segment_input,
    send_input,
    survey_input,
)
from loyalty.domain.bands import RISK_BANDS, risk_band
from loyalty.domain.importing import unstorable_text
from loyalty.domain.scoring import factors_to_json
from loyalty.domain.surveys import DEFAULT_QUESTIONS, KINDS
from loyalty.errors import problem
from loyalty.extensions import db, limiter, login_manager
from loyalty.models import (
    Customer,
    CustomerSegment,
    EngagementEvent,
    FeedbackSurvey,
    SurveyInvitation,
    SurveyResponse,
)
from loyalty.services import customers as customer_service
from loyalty.services import event_ingestion, paging
from loyalty.services import events as event_service
from loyalty.services import segment_criteria as criteria_service
from loyalty.services import segments as segment_service
from loyalty.services import surveys as survey_service
from loyalty.services.analytics import churn_analytics
from loyalty.services.customer_query import SORTABLE, customer_page, is_cursor
from loyalty.services.scoring import rescore, risk_of, scored_as_of
from loyalty.types import utcnow
from loyalty.views.customers import parse_list_query
from loyalty.views.public import personal_link
from loyalty.views.surveys import invite

bp = Blueprint("api", __name__, url_prefix="/api")

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200
API_LIMIT = "600 per minute"


def _caller() -> str:
    return str(current_user.id) if current_user.is_authenticated else request.remote_addr or ""


PUBLIC_ENDPOINTS = frozenset({"api.openapi_document", "api.docs"})


@bp.before_request
def _signed_in() -> Response | None:
    """Every API call needs a token or a signed-in browser (anonymous calls get a 401)."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


limiter.limit(API_LIMIT, key_func=_caller)(bp)


def iso(moment) -> str | None:
    """ISO 8601 with offset (UTC)."""
    return moment.isoformat() if moment is not None else None


def customer_json(customer: Customer, tags: list[str] | None = None) -> dict:
    """A customer as the API shows it (`tags`: their names, when already loaded)."""
    risk = risk_of(customer, current_user)
    return {
        "id": str(customer.id),
        "externalCustomerId": customer.external_customer_id,
        "name": customer.name,
        "email": customer.email,
        "signupDate": iso(customer.signup_date),
        "lastEngagementDate": iso(customer.last_engagement_date),
        "churnRiskScore": customer.churn_risk_score,
        "riskBand": risk_band(customer.churn_risk_score),
        "churnRiskFactors": factors_to_json(risk) if risk else [],
        # What the factors' points add to (null while nothing is known: the score is then the
        # no-history one); the sum stops at 0 and 100.
        "churnRiskStartingScore": risk.starting_score if risk else None,
        "churnScoredAt": iso(scored_as_of(customer, current_user)),
        "tags": tags if tags is not None else sorted(t.tag for t in customer.tags),
        "version": customer.version,
        "createdAt": iso(customer.created_at),
        "updatedAt": iso(customer.updated_at),
    }


def event_json(event: EngagementEvent) -> dict:
    """An engagement event as the API shows it."""
    return {
        "id": str(event.id),
        "customerId": str(event.customer_id),
        "eventType": event.event_type,
        "eventDate": iso(event.event_date),
        "details": event.details or {},
        "createdAt": iso(event.created_at),
    }


def _body() -> object:
    """The request's JSON; a 400 problem when it is not JSON at all."""
    try:
        data = request.get_json(silent=True)
        problem = unstorable_text(data)
    except RecursionError:  # nested deeper than any real document
        data = None
    if data is None:
        raise _Malformed()
    if problem:
        raise InputError({"": problem})
    return data


class _Malformed(Exception):
    pass


@bp.errorhandler(_Malformed)
def _malformed(_error) -> Response:
    return problem(
        400, "Malformed JSON", "The body must be JSON sent as Content-Type: application/json."
    )


@bp.errorhandler(InputError)
def _invalid(error: InputError) -> Response:
    return problem(
        422, "Validation failed", "Some fields are missing or invalid.", errors=error.errors
    )


def _limit() -> int:
    try:
        limit = int(request.args.get("limit", LIST_LIMIT_DEFAULT))
    except ValueError:
        raise InputError({"limit": "Expected a whole number."}) from None
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InputError({"limit": f"Between 1 and {LIST_LIMIT_MAX}."})
    return limit


CURSOR_ERROR = "Use the next URL of the previous page."


def _keyset_cursor() -> str:
    """The `cursor` of a newest-first list (events, answers); one this API did not make is
    a 422, not an empty page a program would take for the end."""
    cursor = request.args.get("cursor", "")
    if cursor and paging.decode(cursor) is None:
        raise InputError({"cursor": CURSOR_ERROR})
    return cursor


def _checked(*checks: Callable[[], object]) -> list:
    """Each check's value; when some fail, one 422 with all their errors, not the first's."""
    values = []
    errors: dict[str, str] = {}
    for check in checks:
        try:
            values.append(check())
        except InputError as error:
            errors.update(error.errors)
            values.append(None)
    if errors:
        raise InputError(errors)
    return values


def _listing(rows: list[dict], cursor: str, **extra) -> Response:
    """A page of results, and the URL of the next one: the same query with the new cursor."""
    next_url = None
    if cursor:
        params = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for(request.endpoint, **request.view_args, **params, cursor=cursor)
    return jsonify({"data": rows, "next": next_url, **extra})


# --- Customers ----------------------------------------------------------------------------

# API query names -> the table's URL parameters (one parser for both).
LIST_PARAMS = {
    "q": "q",
    "band": "band",
    "segment": "segment",
    "tag": "tag",
    "signupFrom": "signup_from",
    "signupTo": "signup_to",
    "engagedFrom": "engaged_from",
    "engagedTo": "engaged_to",
    "sort": "sort",
    "dir": "dir",
    "cursor": "after",
}
_DATE = "A date such as 2026-03-31."
LIST_PARAM_ERRORS = {
    "band": "One of " + ", ".join(band for band, _low, _high in RISK_BANDS) + ".",
    "segment": "A segment id (a UUID).",
    "signupFrom": _DATE,
    "signupTo": _DATE,
    "engagedFrom": _DATE,
    "engagedTo": _DATE,
    "sort": "One of " + ", ".join(sorted(SORTABLE)) + ".",
    "dir": "asc or desc.",
}


def _customer_query():
    """The table's query from the API's parameter names (one parser for both).

    The table ignores a value it cannot use; a program gets a 422 for it instead, so that a
    typo in a filter never silently widens what it reads. An empty parameter is no filter.
    """
    given = {api: value for api in LIST_PARAMS if (value := request.args.get(api, ""))}
    errors: dict[str, str] = {}
    try:
        limit = _limit()
    except InputError as error:  # reported with the filters' errors below
        errors, limit = error.errors, LIST_LIMIT_DEFAULT
    query = replace(
        parse_list_query(MultiDict({LIST_PARAMS[api]: v for api, v in given.items()})),
        page_size=limit,
    )
    f = query.filters
    taken = {
        "band": f.band,
        "segment": f.segment_id,
        "signupFrom": f.signup_from,
        "signupTo": f.signup_to,
        "engagedFrom": f.engaged_from,
        "engagedTo": f.engaged_to,
        "sort": query.sort == given.get("sort"),
        "dir": query.direction == given.get("dir"),
    }
    errors |= {name: LIST_PARAM_ERRORS[name] for name in given.keys() & taken if not taken[name]}
    if f.segment_id and not db.session.scalar(
        select(CustomerSegment.id).where(CustomerSegment.id == f.segment_id)
    ):
        # Another account's segment, or none: an empty list would pass for "no members".
        errors["segment"] = "You have no segment with this id."
    if "cursor" in given and not is_cursor(given["cursor"], query.sort):
        errors["cursor"] = CURSOR_ERROR
    if errors:
        raise InputError(errors)
    return query


@bp.get("/customers")
def list_customers() -> Response:
    """Customers with the table's filters and sorts; `next` is the following page's URL."""
    return _customer_listing(_customer_query())


def _customer_listing(query) -> Response:
    """A page of customers as the API lists them (the customer list and segment members)."""
    page = customer_page(db.session, query, whole=True)
    return _listing(
        [customer_json(c, page.tags[c.id]) for c in page.customers],
        page.next_cursor,
        total=page.total,
        totalIsLowerBound=page.total_capped,
    )


def _fields(record, stored: Customer | None = None) -> customer_service.CustomerFields:
    """The service's fields from a validated record. A signup date left out means today for
    a new customer and the one already stored for an existing one (a PUT that omits it
    must not move a customer's signup, which scores and segments read)."""
    return customer_service.CustomerFields(
        external_customer_id=record.external_customer_id,
        name=record.name,
        email=record.email,
        signup_date=record.signup_date or (stored.signup_date if stored else utcnow()),
        tags=record.tags or (),
    )


def _duplicate(error: customer_service.DuplicateExternalId) -> Response:
    return problem(
        409,
        "Duplicate externalCustomerId",
        str(error),
        errors={"externalCustomerId": "Already used by another customer."},
    )


@bp.post("/customers")
def create_customer() -> Response:
    """Add a customer."""
    record = customer_input(_body())
    try:
        customer = customer_service.create_customer(db.session, current_user.id, _fields(record))
    except customer_service.DuplicateExternalId as error:
        return _duplicate(error)
    rescore(db.session, current_user.id, customer_ids=[customer.id])
    db.session.commit()
    response = jsonify(customer_json(customer))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_customer", customer_id=customer.id)
    response.headers["ETag"] = f'"{customer.version}"'
    return response


@bp.get("/customers/<uuid:customer_id>")
def get_customer(customer_id: uuid.UUID) -> Response:
    """One customer, with its churn risk and the reasons behind it."""
    customer = get_or_404(Customer, customer_id)
    response = jsonify(customer_json(customer))
    response.headers["ETag"] = f'"{customer.version}"'
    return response


def _expected_version() -> int | None:
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if not header:
        return None
    try:
        return int(header)
    except ValueError:
        raise InputError({"If-Match": 'Expected the version from the ETag, like "3".'}) from None


@bp.route("/customers/<uuid:customer_id>", methods=["PUT", "PATCH"])
def update_customer(customer_id: uuid.UUID) -> Response:
    """Replace (PUT) or change some fields (PATCH); If-Match with the ETag guards lost updates."""
    customer = get_or_404(Customer, customer_id)
    data = _body()
    if request.method == "PATCH" and isinstance(data, dict):
        current = customer_json(customer)
        data = {
            **{
                k: current[k] for k in ("externalCustomerId", "name", "email", "signupDate", "tags")
            },
            **data,
        }
    record = customer_input(data)
    try:
        customer_service.update_customer(
            db.session, customer, _fields(record, customer), _expected_version()
        )
    except customer_service.StaleCustomer:
        return problem(
            409,
            "Stale update",
            "The customer changed since you read it: GET it again and reapply your change.",
            currentVersion=customer.version,
        )
    except customer_service.DuplicateExternalId as error:
        return _duplicate(error)
    rescore(db.session, current_user.id, customer_ids=[customer.id])
    db.session.commit()
    response = jsonify(customer_json(customer))
    response.headers["ETag"] = f'"{customer.version}"'
    return response


@bp.delete("/customers/<uuid:customer_id>")
def delete_customer(customer_id: uuid.UUID) -> Response:
    """Delete a customer with its events, answers and memberships."""
    customer = get_or_404(Customer, customer_id)
    customer_service.delete_customers(db.session, [customer.id])
    db.session.commit()
    return Response(status=204)


# --- Events -------------------------------------------------------------------------------


@bp.get("/customers/<uuid:customer_id>/events")
def customer_events(customer_id: uuid.UUID) -> Response:
    """A customer's events, newest first; `next` pages back in time."""
    customer = get_or_404(Customer, customer_id)
    cursor, limit = _checked(_keyset_cursor, _limit)
    page = event_service.timeline(db.session, customer, older_than=cursor, limit=limit)
    return _listing([event_json(e) for e in page.events], page.older_cursor)


@bp.post("/customers/<uuid:customer_id>/events")
def log_customer_event(customer_id: uuid.UUID) -> Response:
    """Record one event for a customer (its score is recomputed at once)."""
    customer = get_or_404(Customer, customer_id)
    event_type, when, details = event_input(_body(), utcnow())
    event = event_service.log_event(db.session, customer, event_type, when, details)
    db.session.commit()
    response = jsonify(event_json(event))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_event", event_id=event.id)
    return response


@bp.get("/events")
def account_events() -> Response:
    """Every event of the account, newest first (optionally one `eventType`)."""
    event_type = request.args.get("eventType", "").strip()[:50]
    cursor, limit = _checked(_keyset_cursor, _limit)
    page = event_service.timeline(db.session, None, cursor, limit, event_type)
    return _listing([event_json(e) for e in page.events], page.older_cursor)


@bp.get("/events/<uuid:event_id>")
def get_event(event_id: uuid.UUID) -> Response:
    """One event."""
    return jsonify(event_json(get_or_404(EngagementEvent, event_id)))


# What PUT and PATCH of an event may change; a PUT that leaves the date out keeps the stored
# one (a correction of the type or details must not move the event to now).
EVENT_EDITABLE = ("eventType", "eventDate", "details")


@bp.route("/events/<uuid:event_id>", methods=["PUT", "PATCH"])
def update_event(event_id: uuid.UUID) -> Response:
    """Correct an event (PATCH: only the fields sent), checked as a new one; the customer is
    rescored, as after an edit on the timeline."""
    event = get_or_404(EngagementEvent, event_id)
    data = _body()
    if isinstance(data, dict):
        current = event_json(event)
        kept = EVENT_EDITABLE if request.method == "PATCH" else ("eventDate",)
        data = {**{k: current[k] for k in kept}, **data}
    event_type, when, details = event_input(data, utcnow())
    event_service.update_event(db.session, event, event_type, when, details)
    db.session.commit()
    return jsonify(event_json(event))


@bp.delete("/events/<uuid:event_id>")
def delete_event(event_id: uuid.UUID) -> Response:
    """Delete an event (its customer is rescored)."""
    event_service.delete_event(db.session, get_or_404(EngagementEvent, event_id))
    db.session.commit()
    return Response(status=204)


@bp.post("/events")
def ingest_events() -> Response:
    """A batch of events naming customers by externalCustomerId, with per-item results.

    An `Idempotency-Key` header makes retries safe: the same key and body answer the first
    result again without writing anything; the same key with another body is a 422.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 255:
        raise InputError({"Idempotency-Key": "At most 255 characters."})
    body = request.get_data(cache=True)
    if key:
        replay = event_ingestion.replay(db.session, current_user.id, key, body)
        if replay is not None:
            return _stored(replay)
    data = _body()
    result = event_ingestion.ingest(
        db.session, current_user.id, data, queue_rescores=current_app.config["QUEUE_RESCORES"]
    )
    status = 200 if result["failed"] else 201
    if key:
        stored = event_ingestion.remember(db.session, current_user.id, key, body, status, result)
        if stored is not None:  # another request with this key won the race
            db.session.rollback()
            return _stored(stored)
    db.session.commit()
    response = jsonify(result)
    response.status_code = status
    return response


def _stored(replay: event_ingestion.Replay) -> Response:
    if replay.conflict:
        return problem(
            422,
            "Idempotency-Key reused",
            "This key was used with a different request body; use a new key for a new batch.",
        )
    response = jsonify(replay.response)
    response.status_code = replay.status
    response.headers["Idempotent-Replayed"] = "true"
    return response


# --- Segments -----------------------------------------------------------------------------


def segment_json(segment: CustomerSegment, members: int | None = None) -> dict:
    """A segment as the API shows it."""
    body = {
        "id": str(segment.id),
        "name": segment.name,
        "description": segment.description,
        "criteria": segment.criteria,
        "isAutomatic": segment.is_automatic,
        "createdAt": iso(segment.created_at),
        "updatedAt": iso(segment.updated_at),
    }
    if members is not None:
        body["memberCount"] = members
    return body


def _name_taken() -> Response:
    return problem(
        409,
        "Duplicate segment name",
        "You already have a segment with this name.",
        errors={"name": "Already used by another segment."},
    )


@bp.get("/segments")
def list_segments() -> Response:
    """Every segment with its member count."""
    stats = segment_service.segment_stats(db.session)
    rows, cursor = _offset_page(stats)
    return _listing([segment_json(s.segment, s.members) for s in rows], cursor)


def _offset_page(items: list) -> tuple[list, str]:
    """A page of a short list (segments, surveys: dozens per account) by position."""
    start, limit = _checked(_offset_start, _limit)
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, str(start + limit) if more else ""


def _offset_start() -> int:
    """Where a page of a short list starts (its `cursor`: a position)."""
    try:
        start = int(request.args.get("cursor", "0"))
    except ValueError:
        raise InputError({"cursor": CURSOR_ERROR}) from None
    if start < 0:
        raise InputError({"cursor": CURSOR_ERROR})
    return start


def _save_segment(segment: CustomerSegment | None, values: dict) -> CustomerSegment | Response:
    try:
        if segment is None:
            segment = segment_service.create_segment(
                db.session, current_user.id, values["name"], values["description"]
            )
        else:
            segment_service.rename_segment(
                db.session, segment, values["name"], values["description"]
            )
    except segment_service.SegmentNameTaken:
        return _name_taken()
    if values["criteria"] is not None:
        criteria_service.apply_criteria(
            db.session, segment, values["criteria"], values["isAutomatic"]
        )
    else:
        segment.criteria, segment.is_automatic = None, False
    return segment


@bp.post("/segments")
def create_segment() -> Response:
    """A new segment; with criteria it is filled at once (and kept in sync if automatic)."""
    saved = _save_segment(None, segment_input(_body()))
    if isinstance(saved, Response):
        return saved
    db.session.commit()
    response = jsonify(segment_json(saved, segment_service.stats_of(db.session, saved).members))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_segment", segment_id=saved.id)
    return response


@bp.get("/segments/<uuid:segment_id>")
def get_segment(segment_id: uuid.UUID) -> Response:
    """One segment with its member count."""
    segment = get_or_404(CustomerSegment, segment_id)
    return jsonify(segment_json(segment, segment_service.stats_of(db.session, segment).members))


@bp.route("/segments/<uuid:segment_id>", methods=["PUT", "PATCH"])
def update_segment(segment_id: uuid.UUID) -> Response:
    """Replace or change a segment (criteria included)."""
    segment = get_or_404(CustomerSegment, segment_id)
    data = _body()
    if request.method == "PATCH" and isinstance(data, dict):
        current = segment_json(segment)
        data = {
            **{k: current[k] for k in ("name", "description", "criteria", "isAutomatic")},
            **data,
        }
    saved = _save_segment(segment, segment_input(data))
    if isinstance(saved, Response):
        return saved
    db.session.commit()
    return jsonify(segment_json(saved, segment_service.stats_of(db.session, saved).members))


@bp.delete("/segments/<uuid:segment_id>")
def delete_segment(segment_id: uuid.UUID) -> Response:
    """Delete a segment (its customers stay)."""
    segment_service.delete_segment(db.session, get_or_404(CustomerSegment, segment_id))
    db.session.commit()
    return Response(status=204)


@bp.get("/segments/<uuid:segment_id>/members")
def segment_members(segment_id: uuid.UUID) -> Response:
    """The segment's customers, with the same filters and pages as /api/customers."""
    segment = get_or_404(CustomerSegment, segment_id)
    query = _customer_query()
    return _customer_listing(replace(query, filters=replace(query.filters, segment_id=segment.id)))


def _own_customers(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """All the ids must be the account's customers: any other id is a 404, nothing written."""
    owned = customer_service.owned_customer_ids(db.session, ids)
    if len(set(owned)) != len(set(ids)):
        abort(404)
    return owned


def _automatic(error: customer_service.AutomaticSegment) -> Response:
    return problem(
        409,
        "Automatic segment",
        f"{error} To choose members by hand, set isAutomatic to false first.",
    )


@bp.post("/segments/<uuid:segment_id>/members")
def add_segment_members(segment_id: uuid.UUID) -> Response:
    """Add customers to a manual segment (one statement; members already in are skipped)."""
    segment = get_or_404(CustomerSegment, segment_id)
    ids = _own_customers(id_list(_body()))
    try:
        added = customer_service.add_to_segment(db.session, segment, ids)
    except customer_service.AutomaticSegment as error:
        return _automatic(error)
    db.session.commit()
    return jsonify({"added": added})


@bp.post("/segments/<uuid:segment_id>/members/remove")
def remove_segment_members(segment_id: uuid.UUID) -> Response:
    """Take customers out of a manual segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    ids = _own_customers(id_list(_body()))
    try:
        removed = customer_service.remove_from_segment(db.session, segment, ids)
    except customer_service.AutomaticSegment as error:
        return _automatic(error)
    db.session.commit()
    return jsonify({"removed": removed})


@bp.delete("/segments/<uuid:segment_id>/members/<uuid:customer_id>")
def remove_segment_member(segment_id: uuid.UUID, customer_id: uuid.UUID) -> Response:
    """Take one customer out of a manual segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    customer = get_or_404(Customer, customer_id)
    try:
        customer_service.remove_from_segment(db.session, segment, [customer.id])
    except customer_service.AutomaticSegment as error:
        return _automatic(error)
    db.session.commit()
    return Response(status=204)


# --- Surveys and responses ----------------------------------------------------------------


def survey_json(survey: FeedbackSurvey) -> dict:
    """A survey as the API shows it."""
    return {
        "id": str(survey.id),
        "title": survey.title,
        "description": survey.description,
        "kind": survey.kind,
        "question": survey.question,
        "createdAt": iso(survey.created_at),
        "updatedAt": iso(survey.updated_at),
    }


def response_json(response: SurveyResponse) -> dict:
    """A survey response as the API shows it."""
    return {
        "id": str(response.id),
        "surveyId": str(response.feedback_survey_id),
        "customerId": str(response.customer_id),
        "response": response.response,
        "submittedAt": iso(response.submitted_at),
    }


def _survey_fields(data: object) -> survey_service.SurveyFields:
    return survey_service.SurveyFields(**survey_input(data, KINDS, DEFAULT_QUESTIONS))


@bp.get("/surveys")
def list_surveys() -> Response:
    """Every survey."""
    surveys = survey_service.account_surveys(db.session)
    rows, cursor = _offset_page(surveys)
    return _listing([survey_json(s) for s in rows], cursor)


@bp.post("/surveys")
def create_survey() -> Response:
    """A new survey (NPS, satisfaction or text)."""
    survey = survey_service.create_survey(db.session, current_user.id, _survey_fields(_body()))
    db.session.commit()
    response = jsonify(survey_json(survey))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_survey", survey_id=survey.id)
    return response


@bp.get("/surveys/<uuid:survey_id>")
def get_survey(survey_id: uuid.UUID) -> Response:
    """One survey."""
    return jsonify(survey_json(get_or_404(FeedbackSurvey, survey_id)))


@bp.route("/surveys/<uuid:survey_id>", methods=["PUT", "PATCH"])
def update_survey(survey_id: uuid.UUID) -> Response:
    """Replace or change a survey's wording."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    data = _body()
    if request.method == "PATCH" and isinstance(data, dict):
        current = survey_json(survey)
        data = {**{k: current[k] for k in ("title", "description", "kind", "question")}, **data}
    survey_service.update_survey(db.session, survey, _survey_fields(data))
    db.session.commit()
    return jsonify(survey_json(survey))


@bp.delete("/surveys/<uuid:survey_id>")
def delete_survey(survey_id: uuid.UUID) -> Response:
    """Delete a survey with its links and answers."""
    survey_service.delete_survey(db.session, get_or_404(FeedbackSurvey, survey_id))
    db.session.commit()
    return Response(status=204)


@bp.get("/surveys/<uuid:survey_id>/responses")
def survey_responses(survey_id: uuid.UUID) -> Response:
    """A survey's answers, newest first; `next` pages back."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    cursor, limit = _checked(_keyset_cursor, _limit)
    page = survey_service.responses_page(db.session, survey, cursor, limit)
    return _listing([response_json(r) for r in page.rows], page.older)


@bp.post("/surveys/<uuid:survey_id>/responses")
def record_response(survey_id: uuid.UUID) -> Response:
    """Record an answer given elsewhere (customerId, score, comment); rescores the customer."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    customer_id, answer = response_input(_body(), survey.kind)
    customer = get_or_404(Customer, customer_id)
    stored = survey_service.answer_embedded(db.session, survey, customer, answer)
    db.session.commit()
    response = jsonify(response_json(stored))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_response", response_id=stored.id)
    return response


@bp.get("/responses/<uuid:response_id>")
def get_response(response_id: uuid.UUID) -> Response:
    """One survey response."""
    return jsonify(response_json(get_or_404(SurveyResponse, response_id)))


@bp.delete("/responses/<uuid:response_id>")
def delete_response(response_id: uuid.UUID) -> Response:
    """Delete a survey response (its customer is rescored)."""
    answer = get_or_404(SurveyResponse, response_id)
    account_id, customer_id = answer.user_id, answer.customer_id
    db.session.delete(answer)
    db.session.flush()
    rescore(db.session, account_id, customer_ids=[customer_id])
    db.session.commit()
    return Response(status=204)


# --- Sending surveys: personal links ------------------------------------------------------

# The outbox's words for a link's state, as the API names them.
INVITATION_STATUS = {
    "open": "open",
    "answered": "answered",
    "expired": "expired",
    "switched off": "revoked",
}


def invitation_json(invitation: SurveyInvitation, now) -> dict:
    """A personal survey link with the e-mail that carries it, as the outbox shows it."""
    return {
        "id": str(invitation.id),
        "surveyId": str(invitation.feedback_survey_id),
        "customerId": str(invitation.customer_id),
        "link": personal_link(invitation.token),
        "status": INVITATION_STATUS[survey_service.link_status(invitation, now)],
        "emailTo": invitation.email_to,
        "emailSubject": invitation.email_subject,
        "emailBody": invitation.email_body,
        "sentAt": iso(invitation.sent_at),
        "deliveredAt": iso(invitation.delivered_at),
        "expiresAt": iso(invitation.expires_at),
        "answeredAt": iso(invitation.answered_at),
        "revokedAt": iso(invitation.revoked_at),
    }


@bp.post("/surveys/<uuid:survey_id>/send")
def send_survey(survey_id: uuid.UUID) -> Response:
    """Give each chosen customer (`customerIds`) or a segment's members (`segmentId`) a
    personal link, as the survey page's "send" does: anyone who already holds an open link
    to this survey is skipped. E-mailed where SMTP is configured, else in the outbox."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    customer_ids, segment_id = send_input(_body())
    if customer_ids is not None:
        customer_ids = _own_customers(customer_ids)
    else:
        segment_id = get_or_404(CustomerSegment, segment_id).id
    result, delivered, invitations = invite(survey, customer_ids, segment_id, load=True)
    order = {ident: n for n, ident in enumerate(result.ids)}
    invitations.sort(key=lambda i: order[i.id])
    return jsonify(
        {
            "created": result.count,
            "skipped": result.skipped,
            "delivered": delivered or 0,
            "invitations": [
                {
                    "id": str(i.id),
                    "customerId": str(i.customer_id),
                    "link": personal_link(i.token),
                }
                for i in invitations
            ],
        }
    )


@bp.get("/surveys/<uuid:survey_id>/invitations")
def survey_invitations(survey_id: uuid.UUID) -> Response:
    """A survey's personal links, newest first, each with its e-mail and state."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    cursor, limit = _checked(_keyset_cursor, _limit)
    page = survey_service.outbox(db.session, survey.id, cursor, limit)
    now = utcnow()
    return _listing([invitation_json(row[0], now) for row in page.rows], page.older)


@bp.get("/invitations/<uuid:invitation_id>")
def get_invitation(invitation_id: uuid.UUID) -> Response:
    """One personal link."""
    return jsonify(invitation_json(get_or_404(SurveyInvitation, invitation_id), utcnow()))


@bp.post("/invitations/<uuid:invitation_id>/revoke")
def revoke_invitation(invitation_id: uuid.UUID) -> Response:
    """Switch a personal link off, as the outbox does (an answer already given stays)."""
    invitation = get_or_404(SurveyInvitation, invitation_id)
    survey_service.revoke(db.session, invitation)
    db.session.commit()
    return jsonify(invitation_json(invitation, utcnow()))


# --- The document -------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi.build(LIST_LIMIT_MAX, LIST_PARAMS, INVITATION_STATUS.values()))


@bp.get("/docs")
def docs() -> Response:
    """The same document, readable by people."""
    from flask import render_template

    return Response(
        render_template(
            "api/docs.html",
            spec=openapi.build(LIST_LIMIT_MAX, LIST_PARAMS, INVITATION_STATUS.values()),
        )
    )


# --- Analytics ----------------------------------------------------------------------------


@bp.get("/analytics/churn-risk")
def churn_risk() -> Response:
    """Aggregated churn-risk data: counts, averages, bands, deciles, segments, top risks."""
    return jsonify(churn_analytics(db.session, current_user).to_json())
