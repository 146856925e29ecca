"""The API's customers and their engagement events."""

from __future__ import annotations

import uuid
from dataclasses import replace

from flask import Response, current_app, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from loyalty.db import get_or_404
from loyalty.domain.api_input import (
    InputError,
    customer_input,
    event_input,
)
from loyalty.domain.bands import RISK_BANDS, risk_band
from loyalty.domain.scoring import factors_to_json
from loyalty.errors import problem
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    EngagementEvent,
)
from loyalty.services import customers as customer_service
from loyalty.services import event_ingestion
from loyalty.services import events as event_service
from loyalty.services.customer_query import SORTABLE, customer_page, is_cursor
from loyalty.services.scoring import rescore, risk_of, scored_as_of
from loyalty.types import utcnow
from loyalty.views.api import (
    CURSOR_ERROR,
    LIST_LIMIT_DEFAULT,
    _body,
    _checked,
    _keyset_cursor,
    _limit,
    _listing,
    bp,
    iso,
)
from loyalty.views.customers import parse_list_query


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
