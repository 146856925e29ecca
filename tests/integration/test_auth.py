"""Sign-up, log-in, log-out, sessions and passwords, as a browser sees them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from loyalty.extensions import db
from loyalty.models import (
    ApiToken,
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
    FeedbackSurvey,
    RescoreQueueItem,
    SurveyResponse,
    User,
    UserSession,
)
from loyalty.services import rescore_queue, tokens
from loyalty.types import utcnow
from tests import factories


def test_signup_creates_account_and_lands_on_dashboard(client, auth):
    response = auth.signup("new@example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Let's find out who needs you" in page.text
    assert "new@example.com" in page.text


def test_signup_with_taken_email_says_so(client, auth, user):
    response = auth.signup("OWNER@example.com ")
    assert response.status_code == 422
    assert "An account with this e-mail exists" in response.text


def test_signup_validates_fields(client):
    response = client.post(
        "/signup", data={"email": "not-an-email", "password": "short", "confirm": "other"}
    )
    assert response.status_code == 422
    assert "Enter a valid e-mail." in response.text
    assert "Use at least 8 characters." in response.text
    assert "The two passwords differ." in response.text
    assert 'aria-invalid="true"' in response.text


def test_wrong_password_and_unknown_email_get_the_same_answer(client, auth, user):
    wrong_password = auth.login(password="wrong password!")
    unknown_email = auth.login(email="nobody@example.com")
    assert wrong_password.status_code == unknown_email.status_code == 422
    message = "That e-mail and password do not match an account."
    assert message in wrong_password.text
    assert message in unknown_email.text


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=/")


def test_htmx_request_with_expired_session_redirects_whole_page(client):
    response = client.get(
        "/", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/customers?q=a"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=/customers")
    assert response.text == ""


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "https:evil.example",
    ],
)
def test_login_ignores_next_urls_that_leave_the_site(client, auth, user, target):
    response = client.post(
        f"/login?next={target}",
        data={"email": "owner@example.com", "password": "correct horse battery"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_login_follows_a_relative_next(client, user):
    response = client.post(
        "/login?next=/account",
        data={"email": "owner@example.com", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/account"


def test_session_is_cleared_at_login(client, auth, user):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    auth.login()
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_logout_makes_a_replayed_cookie_useless(app, signed_in, auth):
    cookie = signed_in.get_cookie("session").value
    auth.logout()
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    response = replay.get("/")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")


def test_changing_password_signs_out_other_browsers(app, signed_in, user):
    other = app.test_client()
    other.post("/login", data={"email": "owner@example.com", "password": "correct horse battery"})
    assert other.get("/").status_code == 200

    response = signed_in.post(
        "/account",
        data={
            "current_password": "correct horse battery",
            "new_password": "a brand new secret",
            "confirm": "a brand new secret",
        },
    )
    assert response.status_code == 303
    assert signed_in.get("/").status_code == 200
    assert other.get("/").status_code == 303


def test_change_password_checks_current_password(signed_in):
    response = signed_in.post(
        "/account",
        data={"current_password": "nope", "new_password": "abcdefghij", "confirm": "abcdefghij"},
    )
    assert response.status_code == 422
    assert "That is not your current password." in response.text


def test_passwords_are_stored_as_argon2id(app, auth):
    auth.signup("hash@example.com", "a secret phrase")
    with app.app_context():
        stored = db.session.scalar(select(User.password).where(User.email == "hash@example.com"))
    assert stored.startswith("$argon2id$")
    assert "a secret phrase" not in stored


def test_login_rehashes_when_parameters_change(make_app):
    weak = make_app()
    with weak.app_context():
        from tests.factories import make_user

        make_user(db.session, "rehash@example.com", "a secret phrase")
        db.session.commit()
    stronger = make_app(ARGON2_TIME_COST=2)
    client = stronger.test_client()
    response = client.post(
        "/login", data={"email": "rehash@example.com", "password": "a secret phrase"}
    )
    assert response.status_code == 303
    with stronger.app_context():
        stored = db.session.scalar(select(User.password).where(User.email == "rehash@example.com"))
    assert (
        PasswordHasher(time_cost=2, memory_cost=8, parallelism=1).check_needs_rehash(stored)
        is False
    )
    assert "t=2" in stored


def test_login_is_rate_limited_after_repeated_failures(client, auth, user):
    for _ in range(10):
        assert auth.login(password="wrong password!").status_code == 422
    blocked = auth.login()
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text
    assert blocked.headers["Retry-After"]


def test_successful_logins_do_not_use_up_the_limit(client, auth, user):
    for _ in range(12):
        assert auth.login().status_code == 303
        auth.logout()


def test_the_logout_page_asks_before_signing_out(client, signed_in):
    """A typed or followed /logout gets a page with the button; only its POST signs out
    (a GET that did could be set off by any page linking here)."""
    page = signed_in.get("/logout")
    assert page.status_code == 200
    assert "Log out?" in page.text and "You are signed in as" in page.text
    assert re.search(r'<form method="post" action="/logout"', page.text)
    assert 'name="csrf_token"' in page.text
    assert signed_in.get("/").status_code == 200  # still signed in
    signed_in.post("/logout")
    assert signed_in.get("/logout").headers["Location"] == "/login"


def test_each_login_records_one_browser_session(app, client, auth, user):
    auth.login()
    with app.app_context():
        sessions = db.session.scalars(select(UserSession)).all()
    assert len(sessions) == 1
    assert sessions[0].user_id == user.id


def test_a_page_view_notes_when_the_browser_was_last_seen(app, signed_in, user):
    """At most once a minute, and kept: it is saved at once rather than with the request,
    whose end a read-only page reaches by rolling back (a row lock held until then made
    the browser's other requests wait for this one)."""
    long_ago = utcnow() - timedelta(minutes=5)
    with app.app_context():
        db.session.execute(update(UserSession).values(last_seen_at=long_ago))
        db.session.commit()
    assert signed_in.get("/customers").status_code == 200
    with app.app_context():
        seen = db.session.scalar(select(UserSession.last_seen_at))
    assert utcnow() - seen < timedelta(seconds=30)


def _account_rows(app, account_id) -> dict[str, int]:
    """How many rows of each kind the account owns (through its customers where they have
    no account column of their own)."""
    with app.app_context():
        session = db.session
        customers = select(Customer.id).where(Customer.user_id == account_id)
        return {
            "users": session.scalar(select(func.count()).where(User.id == account_id)),
            "customers": session.scalar(select(func.count()).select_from(customers.subquery())),
            "events": session.scalar(
                select(func.count()).where(EngagementEvent.customer_id.in_(customers))
            ),
            "tags": session.scalar(
                select(func.count()).where(CustomerTag.customer_id.in_(customers))
            ),
            "segments": session.scalar(
                select(func.count()).where(CustomerSegment.user_id == account_id)
            ),
            "surveys": session.scalar(
                select(func.count()).where(FeedbackSurvey.user_id == account_id)
            ),
            "memberships": session.scalar(
                select(func.count()).where(CustomerSegmentMembership.customer_id.in_(customers))
            ),
            "answers": session.scalar(
                select(func.count()).where(SurveyResponse.customer_id.in_(customers))
            ),
            "queued": session.scalar(
                select(func.count()).where(RescoreQueueItem.user_id == account_id)
            ),
            "tokens": session.scalar(select(func.count()).where(ApiToken.user_id == account_id)),
            "sessions": session.scalar(
                select(func.count()).where(UserSession.user_id == account_id)
            ),
        }


def _fill_account(app, owner) -> str:
    """Customers with tags and events, a segment, a survey and an API token; the token."""
    with app.app_context():
        session = db.session
        customer = factories.make_customer(session, owner)
        session.add(CustomerTag(customer_id=customer.id, user_id=owner.id, tag="vip"))
        session.add(
            EngagementEvent(
                user_id=owner.id, customer_id=customer.id, event_type="login", event_date=utcnow()
            )
        )
        segment = CustomerSegment(user_id=owner.id, name="Key accounts")
        survey = FeedbackSurvey(user_id=owner.id, title="Pulse", kind="nps", question="?")
        session.add_all([segment, survey])
        session.flush()
        session.add(
            CustomerSegmentMembership(customer_id=customer.id, customer_segment_id=segment.id)
        )
        session.add(
            SurveyResponse(
                user_id=owner.id,
                customer_id=customer.id,
                feedback_survey_id=survey.id,
                response={"kind": "nps", "score": 9},
                submitted_at=utcnow(),
            )
        )
        rescore_queue.enqueue(session, owner.id, [customer.id])
        _row, secret = tokens.create_token(session, owner.id, "crm")
        session.commit()
        return secret


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}])
def test_deleting_the_account_removes_all_its_data_and_signs_out(app, signed_in, user, headers):
    secret = _fill_account(app, user)
    with app.app_context():
        neighbour = factories.make_user(db.session, "neighbour@example.com")
        db.session.commit()
    _fill_account(app, neighbour)
    before = _account_rows(app, neighbour.id)
    assert before["events"] == before["memberships"] == before["answers"] == before["queued"] == 1

    page = signed_in.get("/account").text
    assert "Delete account" in page and "1 customer" in page

    response = signed_in.post(
        "/account/delete", data={"delete-password": "correct horse battery"}, headers=headers
    )
    if headers:
        assert response.headers["HX-Redirect"] == "/signup"
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/signup"
    assert "Your account and all its data were deleted." in signed_in.get("/signup").text
    assert signed_in.get("/").status_code == 303  # signed out
    assert set(_account_rows(app, user.id).values()) == {0}
    assert _account_rows(app, neighbour.id) == before
    api = app.test_client().get("/api/customers", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    again = app.test_client().post(
        "/login", data={"email": "owner@example.com", "password": "correct horse battery"}
    )
    assert again.status_code == 422


@pytest.mark.parametrize("password", ["", "not my password"])
def test_deleting_the_account_needs_its_password(app, signed_in, user, password):
    _fill_account(app, user)
    response = signed_in.post(
        "/account/delete", data={"delete-password": password}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert "<html" not in response.text
    expected = "Enter your password to confirm." if not password else "That is not your password."
    assert expected in response.text
    assert _account_rows(app, user.id)["customers"] == 1
    assert signed_in.get("/").status_code == 200


def _ask_for_reset(client, email: str = "owner@example.com", **kwargs):
    """Post the forgot-password form and close the answer, as a server does once it is sent
    (the e-mail goes out then)."""
    response = client.post("/forgot-password", data={"email": email}, **kwargs)
    response.close()
    return response


def _reset_link(sent) -> str:
    [(_, to, subject, body)] = [m for m in sent if m[0] == "message"]
    assert to == "owner@example.com" and subject == "Reset your Loyalty Guardian password"
    [link] = re.findall(r"http://localhost(/reset-password/\S+)", body)
    return link


SAME_ANSWER = "If an account uses owner@example.com, we have e-mailed it a link"


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}])
def test_a_forgotten_password_is_reset_through_an_emailed_link(make_app, user, smtp_sent, headers):
    app = make_app(SMTP_HOST="smtp.example.org")
    other_browser = app.test_client()
    other_browser.post(
        "/login", data={"email": "owner@example.com", "password": factories.DEFAULT_PASSWORD}
    )
    client = app.test_client()
    assert "Forgot your password?" in client.get("/login").text
    asked = _ask_for_reset(client, "Owner@Example.com ", headers=headers)
    assert asked.status_code == 200 and SAME_ANSWER in asked.text
    link = _reset_link(smtp_sent)

    form = client.get(link)
    assert form.status_code == 200 and "Choose a new password" in form.text
    done = client.post(
        link, data={"new_password": "a brand new secret", "confirm": "a brand new secret"}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert "Your password was changed" in client.get("/").text  # and you are signed in
    assert other_browser.get("/").status_code == 303  # every other browser is signed out

    fresh = app.test_client()
    old = {"email": "owner@example.com", "password": factories.DEFAULT_PASSWORD}
    assert fresh.post("/login", data=old).status_code == 422
    new = {"email": "owner@example.com", "password": "a brand new secret"}
    assert fresh.post("/login", data=new).status_code == 303

    used = fresh.get(link)  # a link works once: the password it was made for is gone
    assert used.status_code == 404 and "expired or was already used" in used.text


def test_the_reset_answer_does_not_tell_which_addresses_have_accounts(make_app, smtp_sent):
    app = make_app(SMTP_HOST="smtp.example.org")
    asked = _ask_for_reset(app.test_client())
    assert asked.status_code == 200 and SAME_ANSWER in asked.text
    assert not [m for m in smtp_sent if m[0] == "message"]


def test_a_reset_link_expires_and_a_forged_one_never_works(make_app, user, smtp_sent, monkeypatch):
    app = make_app(SMTP_HOST="smtp.example.org")
    client = app.test_client()
    _ask_for_reset(client)
    link = _reset_link(smtp_sent)
    monkeypatch.setattr("loyalty.services.accounts.RESET_LINK_SECONDS", -1)
    posted = client.post(link, data={"new_password": "abcdefghij", "confirm": "abcdefghij"})
    assert posted.status_code == 303 and posted.headers["Location"] == link
    expired = client.get(link)
    assert expired.status_code == 404 and "expired or was already used" in expired.text
    assert "/forgot-password" in expired.text
    forged = client.get(link[:-4] + "abcd")
    assert forged.status_code == 404
    old = {"email": "owner@example.com", "password": factories.DEFAULT_PASSWORD}
    assert client.post("/login", data=old).status_code == 303


def test_the_new_password_is_checked_like_at_sign_up(make_app, user, smtp_sent):
    app = make_app(SMTP_HOST="smtp.example.org")
    client = app.test_client()
    _ask_for_reset(client)
    link = _reset_link(smtp_sent)
    response = client.post(
        link, data={"new_password": "short", "confirm": "other"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422 and "<html" not in response.text
    assert "Use at least 8 characters." in response.text
    assert "The two passwords differ." in response.text


def test_without_smtp_the_reset_link_goes_to_the_log_outside_production(make_app, user, caplog):
    app = make_app()
    with caplog.at_level("WARNING", logger="loyalty.services.mail"):
        _ask_for_reset(app.test_client())
    assert re.search(r"http://localhost/reset-password/\S+", caplog.text)
