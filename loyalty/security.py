"""Who is signed in, CSRF policy, and the security headers on every response."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request, url_for
from flask_login import current_user

from loyalty.db import scope_session_to_account
from loyalty.domain.importing import NUL_MESSAGE
from loyalty.extensions import csrf, db, login_manager
from loyalty.partials import is_htmx, redirect_to
from loyalty.services import accounts, tokens

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors {ancestors}"
)


def allow_framing(view: Callable) -> Callable:
    """Mark a view that other sites may put in an iframe (the public survey form only)."""
    view.allow_framing = True
    return view


def csrf_exempt_by_token(view: Callable) -> Callable:
    """Mark a view protected by a capability token in its URL instead of the session."""
    view.csrf_token_in_url = True
    return view


def safe_next_url(target: str | None) -> str | None:
    """Accept a `next` only if it is a relative path on this site (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


@login_manager.user_loader
def _load_signed_in_user(token: str):
    """Find the account of a live browser session; an ended session signs nobody in."""
    user_session = accounts.find_browser_session(db.session, token)
    if user_session is None:
        return None
    if accounts.touch(user_session):
        # Saved now, in a transaction of its own: a read-only page ends by rolling back, and
        # until then the row's lock would hold up every other request of this browser.
        db.session.commit()
    user = user_session.user
    user.browser_token = token
    return user


@login_manager.unauthorized_handler
def _send_to_login() -> Response:
    """Anonymous visitors go to the log-in page, as a whole page even from htmx."""
    if request.path.startswith("/api/"):
        from loyalty.errors import problem

        response = problem(401, "Authentication required", "Sign in, or send an API token.")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if is_htmx():
        current = request.headers.get("HX-Current-URL", "")
        target = safe_next_url(urlsplit(current).path) if current else None
        response = redirect_to(url_for("auth.login", next=target))
        response.status_code = 401
        return response
    return redirect_to(url_for("auth.login", next=safe_next_url(request.full_path.rstrip("?"))))


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if request.path.startswith("/api/") and scheme.lower() == "bearer":
        return secret.strip()
    return None


def _authenticate_api_token() -> None:
    """A bearer token decides who calls the API; a cookie sent along is then ignored."""
    secret = _bearer_token()
    if secret is None:
        return
    from flask_login import AnonymousUserMixin

    user = tokens.authenticate(db.session, secret)
    g._login_user = user if user is not None else AnonymousUserMixin()
    g.api_token = user is not None


def _refuse_nul_characters() -> None:
    """A query string or form field holding a NUL character is refused before anything
    reads it: no text column can store one on PostgreSQL."""
    for fields in (request.args, request.form):
        for name, value in fields.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, description=NUL_MESSAGE)


def _scope_to_signed_in_account() -> None:
    if current_user.is_authenticated:
        scope_session_to_account(db.session, current_user.id)
        g.account_id = current_user.id


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "csrf_token_in_url", False):
        return
    if _bearer_token() is not None:
        return  # a header a cross-site form cannot send; the cookie is not used (above)
    csrf.protect()


def _security_headers(response: Response) -> Response:
    view = current_app.view_functions.get(request.endpoint or "")
    framable = view is not None and getattr(view, "allow_framing", False)
    ancestors = "*" if framable else "'none'"
    response.headers.setdefault(
        "Content-Security-Policy", CONTENT_SECURITY_POLICY.format(ancestors=ancestors)
    )
    if not framable:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if current_app.config["APP_ENV"] == "production":
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if g.get("account_id") is not None:
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def init_security(app: Flask) -> None:
    """Wire sign-in, CSRF and headers into the app."""
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session record does this job
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_refuse_nul_characters)
    app.before_request(_authenticate_api_token)
    app.before_request(_check_csrf)
    app.before_request(_scope_to_signed_in_account)
    app.after_request(_security_headers)
