"""Error pages for people, problem+json (RFC 9457) for programs under /api/."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from loyalty.extensions import db
from loyalty.partials import is_htmx, notify, render, toasts_only

# What a person reads on each error page.
PAGE_MESSAGES = {
    400: ("Something in that request was off", "Go back and try again."),
    403: ("Not allowed", "You do not have access to this."),
    404: ("Not found", "There is nothing here, or it belongs to another account."),
    405: ("Not allowed", "This page does not accept that kind of request."),
    413: ("That file is too large", "Upload a smaller file, or split it in parts."),
    422: ("Some of that could not be used", "Check the highlighted fields and try again."),
    429: ("Too many attempts", "Please wait a few minutes before trying again."),
    500: ("Something went wrong on our side", "We are on it. Please try again shortly."),
    503: (
        "We can't reach our database right now",
        "Your data is safe. Please try again in a moment.",
    ),
}

RETRY_AFTER_SECONDS = {429: "300", 503: "5"}


def wants_problem_json() -> bool:
    """API clients get problem+json; people get a page."""
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str = "", **extra) -> Response:
    """An RFC 9457 problem details response."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    if status in RETRY_AFTER_SECONDS:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS[status]
    return response


def _error_response(status: int, detail: str | None = None) -> Response:
    title, hint = PAGE_MESSAGES.get(status, PAGE_MESSAGES[500])
    if wants_problem_json():
        return problem(status, title, detail or hint)
    if is_htmx():
        # A swap would put an error page inside a table: say it in a toast instead.
        notify(f"{title}. {detail or hint}", "error")
        response = toasts_only(status)
    else:
        response = render(
            "errors/error.html", status=status, title=title, hint=detail or hint, bare=status >= 500
        )
    if status in RETRY_AFTER_SECONDS:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS[status]
    return response


def _handle_http_error(error: HTTPException) -> Response:
    if error.code is None or error.code < 400:
        return error
    detail = error.description if error.code in (400, 422) and wants_problem_json() else None
    response = _error_response(error.code, detail)
    for header in ("Allow", "WWW-Authenticate"):
        if error.get_response().headers.get(header):
            response.headers[header] = error.get_response().headers[header]
    return response


def _handle_csrf_error(error: CSRFError) -> Response:
    detail = "The form expired or was sent from elsewhere: reload the page and try again."
    if wants_problem_json():
        return problem(403, "CSRF token missing or invalid", detail)
    if is_htmx():
        notify(detail, "error")
        return toasts_only(403)
    title = "This form has expired"
    return render("errors/error.html", status=403, title=title, hint=detail)


def _handle_database_down(error: DBAPIError) -> Response:
    try:
        db.session.rollback()
    except DBAPIError:
        pass  # the connection is gone; the pool replaces it (pre-ping) on the next request
    if isinstance(error, OperationalError) or error.connection_invalidated:
        return _error_response(503)
    raise error


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _handle_http_error(error)
    original = getattr(error, "original_exception", None)
    if isinstance(original, DBAPIError) and (
        isinstance(original, OperationalError) or original.connection_invalidated
    ):
        return _error_response(503)
    return _error_response(500)


def register_error_handlers(app: Flask) -> None:
    """Every error answers in the caller's language: a page, a toast, or problem+json."""
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(OperationalError, _handle_database_down)
    app.register_error_handler(ServiceUnavailable, _handle_http_error)
    app.register_error_handler(InternalServerError, _handle_unexpected)
