"""The JSON API under /api/ (problem+json errors; see loyalty/errors.py).

Programs authenticate with `Authorization: Bearer <token>` (tokens are made on the account
page or with `flask --app app token create`); the browser's session works too, with its CSRF
token for changes. Field names are the spec's (`externalCustomerId`, `churnRiskScore`, ...).

This module holds the blueprint, who may call it, the helpers every area reads its input
with, the OpenAPI document and the analytics; the areas' routes are in `customers`
(customers and their events), `segments` and `surveys` (answers and personal links too).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Blueprint, Response, abort, jsonify, request, url_for
from flask_login import current_user

from loyalty import openapi
from loyalty.domain.api_input import InputError
from loyalty.domain.importing import unstorable_text
from loyalty.errors import problem
from loyalty.extensions import db, limiter, login_manager
from loyalty.services import customers as customer_service
from loyalty.services import paging
from loyalty.services.analytics import churn_analytics

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


def _own_customers(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """All the ids must be the account's customers: any other id is a 404, nothing written."""
    owned = customer_service.owned_customer_ids(db.session, ids)
    if len(set(owned)) != len(set(ids)):
        abort(404)
    return owned


# --- The document -------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(
        openapi.build(LIST_LIMIT_MAX, customers.LIST_PARAMS, surveys.INVITATION_STATUS.values())
    )


@bp.get("/docs")
def docs() -> Response:
    """The same document, readable by people."""
    from flask import render_template

    return Response(
        render_template(
            "api/docs.html",
            spec=openapi.build(
                LIST_LIMIT_MAX, customers.LIST_PARAMS, surveys.INVITATION_STATUS.values()
            ),
        )
    )


# --- Analytics ----------------------------------------------------------------------------


@bp.get("/analytics/churn-risk")
def churn_risk() -> Response:
    """Aggregated churn-risk data: counts, averages, bands, deciles, segments, top risks."""
    return jsonify(churn_analytics(db.session, current_user).to_json())


# Each area's routes join `bp` as its module is imported (they import the helpers above).
from loyalty.views.api import customers, segments, surveys  # noqa: E402, F401
