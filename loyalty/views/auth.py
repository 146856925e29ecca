"""Sign-up, log-in, log-out and the account page."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from loyalty.db import get_or_404
from loyalty.extensions import db, limiter
from loyalty.forms.auth import (
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    NewPasswordForm,
    SignupForm,
    TimeZoneForm,
)
from loyalty.models import ApiToken
from loyalty.partials import form_errors, notify, redirect_to, render
from loyalty.security import safe_next_url
from loyalty.services import accounts, mail, tokens
from loyalty.services.customer_query import account_customer_count
from loyalty.views.public import public_url

bp = Blueprint("auth", __name__)

# Repeated failures from one address, or against one e-mail, are slowed to a stop.
LOGIN_LIMIT = "10 per 5 minutes"
SIGNUP_LIMIT = "20 per hour"
RESET_LIMIT = "5 per hour"  # reset e-mails asked for from one IP address


def _failed(response: Response) -> bool:
    return response.status_code == 422


def _submitted_email() -> str:
    return "login-email:" + accounts.normalize_email(request.form.get("email", ""))[:254]


def _sign_in(user) -> None:
    """Start a fresh session for `user` (nothing from before log-in survives)."""
    session.clear()
    token = accounts.start_browser_session(db.session, user, request.headers.get("User-Agent", ""))
    user.browser_token = token
    login_user(user)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(SIGNUP_LIMIT, methods=["POST"])
def signup() -> Response:
    """Create an account and sign in to it."""
    if current_user.is_authenticated:
        return redirect_to(url_for("dashboard.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_account(
                db.session,
                form.email.data,
                form.password.data,
                form.company_name.data or "",
                form.chosen_time_zone(),
            )
        except accounts.EmailTaken:
            form.email.errors.append("An account with this e-mail exists: log in instead.")
        else:
            _sign_in(user)
            db.session.commit()
            notify("Welcome to Loyalty Guardian! Start by adding or importing customers.")
            return redirect_to(url_for("dashboard.index"))
    if form.errors:
        return form_errors("auth/signup.html", "auth_form", form=form)
    return render("auth/signup.html", "auth_form", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed)
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed, key_func=_submitted_email)
def login() -> Response:
    """Sign in with e-mail and password."""
    next_url = safe_next_url(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect_to(next_url or url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            _sign_in(user)
            db.session.commit()
            return redirect_to(next_url or url_for("dashboard.index"))
        # One message for unknown e-mail and wrong password: no account enumeration.
        error = "That e-mail and password do not match an account."
    if error or form.errors:
        return form_errors("auth/login.html", "auth_form", form=form, error=error, next=next_url)
    return render("auth/login.html", "auth_form", form=form, error=None, next=next_url)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
def forgot_password() -> Response:
    """Ask for a link to choose a new password, e-mailed to the account's own address."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = accounts.normalize_email(form.email.data)
        user = accounts.find_account(db.session, email)
        # The same answer either way, as fast: the e-mail goes out once the answer has, so
        # neither the page nor its timing tells which addresses have accounts.
        response = render("auth/forgot_password.html", "auth_form", form=form, sent_to=email)
        if user is not None:
            token = accounts.password_reset_token(user, current_app.config["SECRET_KEY"])
            link = public_url("auth.reset_password", token=token)
            config = current_app.config
            response.call_on_close(lambda: mail.send_password_reset(config, email, link))
        return response
    if form.errors:
        return form_errors("auth/forgot_password.html", "auth_form", form=form, sent_to=None)
    return render("auth/forgot_password.html", "auth_form", form=form, sent_to=None)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed)
def reset_password(token: str) -> Response:
    """Choose a new password through an e-mailed link; it signs in and every other browser
    out."""
    user = accounts.account_for_reset_token(db.session, token, current_app.config["SECRET_KEY"])
    if user is None:
        if request.method == "POST":  # htmx swaps no 404: the link's page says what happened
            return redirect_to(url_for("auth.reset_password", token=token))
        return render("auth/reset_password.html", status=404, form=None, token=token)
    form = NewPasswordForm()
    if form.validate_on_submit():
        accounts.change_password(db.session, user, form.new_password.data, keep_session="")
        _sign_in(user)
        db.session.commit()
        notify("Your password was changed and you are signed in. Other browsers were signed out.")
        return redirect_to(url_for("dashboard.index"))
    if form.errors:
        return form_errors("auth/reset_password.html", "auth_form", form=form, token=token)
    return render("auth/reset_password.html", "auth_form", form=form, token=token)


@bp.get("/logout")
def logout_page() -> Response:
    """The log-out page, for a typed or bookmarked /logout: it asks before signing out (a
    GET that signed out could be triggered by any page linking here)."""
    if not current_user.is_authenticated:
        return redirect_to(url_for("auth.login"))
    return render("auth/logout.html")


@bp.post("/logout")
def logout() -> Response:
    """Sign out: the browser session ends on the server too."""
    if current_user.is_authenticated and current_user.browser_token:
        accounts.end_browser_session(db.session, current_user.browser_token)
        db.session.commit()
    logout_user()
    session.clear()
    notify("You are signed out.", "info")
    return redirect_to(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Response:
    """The account page: password change (signs out other browsers)."""
    form = ChangePasswordForm()
    if form.validate_on_submit() and (
        user := _password_given(form.current_password, "That is not your current password.")
    ):
        accounts.change_password(
            db.session,
            user,
            form.new_password.data,
            keep_session=accounts.session_key(user.browser_token),
        )
        db.session.commit()
        notify("Password changed. Other browsers were signed out.")
        return redirect_to(url_for("auth.account"))
    if form.errors:
        return form_errors(
            "auth/account.html", "password_form", page_context=_account_page, form=form
        )
    return render("auth/account.html", "password_form", page_context=_account_page, form=form)


def _password_given(field, wrong: str):
    """The signed-in user when `field` holds their password; else the field says `wrong`."""
    user = current_user._get_current_object()
    if accounts.authenticate(db.session, user.email, field.data) is None:
        field.errors.append(wrong)
        return None
    return user


def _account_page() -> dict:
    """Everything the account page shows, for answers that render all of it."""
    return {
        "form": ChangePasswordForm(formdata=None),
        "zone_form": TimeZoneForm(formdata=None, time_zone=current_user.time_zone),
        "api_tokens": tokens.account_tokens(db.session),
        "delete_form": DeleteAccountForm(formdata=None),
        "customer_count": account_customer_count(db.session),
    }


@bp.post("/account/delete")
@login_required
@limiter.limit(LOGIN_LIMIT, deduct_when=_failed)
def delete_account() -> Response:
    """Delete the account and all its data, once its password is given again."""
    form = DeleteAccountForm()
    if form.validate_on_submit() and (
        user := _password_given(form.password, "That is not your password.")
    ):
        accounts.delete_account(db.session, user)
        db.session.commit()
        logout_user()
        session.clear()
        notify("Your account and all its data were deleted.", "info")
        return redirect_to(url_for("auth.signup"))
    return form_errors(
        "auth/account.html", "delete_account_form", page_context=_account_page, delete_form=form
    )


@bp.post("/account/time-zone")
@login_required
def time_zone() -> Response:
    """Change the zone pages show times in (and read typed times in)."""
    form = TimeZoneForm()
    if form.validate_on_submit():
        current_user.time_zone = form.time_zone.data
        db.session.commit()
        notify(f"Times now show in {form.time_zone.data.replace('_', ' ')} time.")
        return redirect_to(url_for("auth.account"))
    return form_errors(
        "auth/account.html", "time_zone_form", page_context=_account_page, zone_form=form
    )


def _tokens_panel(status: int = 200, **context) -> Response:
    return render(
        "auth/account.html",
        "api_tokens",
        status=status,
        page_context=_account_page,
        api_tokens=tokens.account_tokens(db.session),
        **context,
    )


@bp.post("/account/tokens")
@login_required
def create_token() -> Response:
    """Make an API token; its secret is shown this once."""
    name = request.form.get("name", "").strip()
    if not name or len(name) > 100:
        error = "Name the token after what uses it." if not name else "At most 100 characters."
        return _tokens_panel(422, token_error=error, token_name=name[:100])
    _token, secret = tokens.create_token(db.session, current_user.id, name)
    db.session.commit()
    return _tokens_panel(new_secret=secret)


@bp.post("/account/tokens/<uuid:token_id>/revoke")
@login_required
def revoke_token(token_id: uuid.UUID) -> Response:
    """Refuse a token from now on."""
    token = get_or_404(ApiToken, token_id)
    tokens.revoke_token(db.session, token)
    db.session.commit()
    notify(f"Token {token.name} was revoked.")
    return _tokens_panel()
