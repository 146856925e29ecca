"""Every route the app registers, as its owner's rival, as nobody, and with tokens.

Each route is classified below; a route nobody classified fails the first test, so a new page
or endpoint cannot slip in without saying who may use it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from loyalty.extensions import db
from loyalty.models import (
    ApiToken,
    CustomerSegment,
    EngagementEvent,
    FeedbackSurvey,
    ImportUpload,
    SurveyInvitation,
    SurveyResponse,
)
from loyalty.services import tokens
from loyalty.types import utcnow
from tests import factories

# Anyone may call these (the public survey routes check their own token or signature).
PUBLIC = {
    "static",
    "health.healthz",
    "health.readyz",
    "auth.login",
    "auth.signup",
    "auth.forgot_password",
    "auth.reset_password",
    "public.answer",
    "public.embedded",
    "api.openapi_document",
    "api.docs",
}
# Signed-in only; they act on the caller's own account and take no object id.
ACCOUNT = {
    "api.account_events",
    "api.churn_risk",
    "api.create_customer",
    "api.create_segment",
    "api.create_survey",
    "api.ingest_events",
    "api.list_customers",
    "api.list_segments",
    "api.list_surveys",
    "auth.account",
    "auth.create_token",
    "auth.delete_account",
    "auth.logout",
    "auth.logout_page",
    "auth.time_zone",
    "customers.bulk",
    "customers.index",
    "customers.new",
    "dashboard.index",
    "dashboard.load_demo",
    "dashboard.quick_add",
    "imports.export",
    "imports.upload",
    "segments.index",
    "surveys.index",
    "surveys.outbox",
    "surveys.send_chosen",
}
# Signed-in only, and every id in the URL must belong to the caller: others get a 404.
OWNED = {
    "auth.revoke_token",
    "api.get_customer",
    "api.update_customer",
    "api.delete_customer",
    "api.customer_events",
    "api.log_customer_event",
    "api.get_event",
    "api.update_event",
    "api.delete_event",
    "api.get_response",
    "api.delete_response",
    "api.get_segment",
    "api.update_segment",
    "api.delete_segment",
    "api.segment_members",
    "api.add_segment_members",
    "api.remove_segment_member",
    "api.remove_segment_members",
    "api.get_survey",
    "api.update_survey",
    "api.delete_survey",
    "api.survey_responses",
    "api.record_response",
    "api.send_survey",
    "api.survey_invitations",
    "api.get_invitation",
    "api.revoke_invitation",
    "customers.detail",
    "customers.delete",
    "customers.edit",
    "customers.row",
    "customers.row_save",
    "customers.row_edit",
    "customers.join_segment",
    "customers.add_tags",
    "customers.remove_tag",
    "events.create",
    "events.older",
    "events.show",
    "events.delete",
    "events.edit",
    "events.update",
    "imports.review",
    "imports.run",
    "segments.detail",
    "segments.criteria_save",
    "segments.criteria_preview",
    "segments.delete",
    "segments.edit",
    "segments.add_members",
    "segments.remove_members",
    "surveys.detail",
    "surveys.delete",
    "surveys.edit",
    "surveys.send",
    "surveys.revoke",
}


def test_every_route_is_classified(app):
    registered = {rule.endpoint for rule in app.url_map.iter_rules()}
    unclassified = registered - PUBLIC - ACCOUNT - OWNED
    assert not unclassified, f"Classify these routes in this test: {sorted(unclassified)}"
    assert not (PUBLIC & ACCOUNT or PUBLIC & OWNED or ACCOUNT & OWNED)
    assert not (PUBLIC | ACCOUNT | OWNED) - registered, "classified routes that no longer exist"


@pytest.fixture
def owned(app, user):
    """One object of every kind, all belonging to `user`; returns the URL arguments."""
    with app.app_context():
        session = db.session
        customer = factories.make_customer(session, user)
        event = EngagementEvent(
            user_id=user.id, customer_id=customer.id, event_type="login", event_date=utcnow()
        )
        segment = CustomerSegment(user_id=user.id, name="Owned")
        survey = FeedbackSurvey(user_id=user.id, title="Owned", kind="nps", question="?")
        session.add_all([event, segment, survey])
        session.flush()
        invitation = SurveyInvitation(
            user_id=user.id,
            feedback_survey_id=survey.id,
            customer_id=customer.id,
            token="o" * 43,
            email_to=customer.email,
            email_subject="s",
            email_body="b",
        )
        answer = SurveyResponse(
            user_id=user.id,
            customer_id=customer.id,
            feedback_survey_id=survey.id,
            response={"kind": "nps", "score": 9, "comment": ""},
        )
        upload = ImportUpload(
            user_id=user.id,
            filename="c.csv",
            file_format="csv",
            size=10,
            content=b"id,name\n1,A\n",
        )
        token, _secret = tokens.create_token(session, user.id, "owned")
        session.add_all([invitation, answer, upload])
        session.commit()
        return {
            "customer_id": customer.id,
            "event_id": event.id,
            "segment_id": segment.id,
            "survey_id": survey.id,
            "invitation_id": invitation.id,
            "response_id": answer.id,
            "upload_id": upload.id,
            "token_id": token.id,
        }


def _calls(app, names, values):
    """(endpoint, method, url) for every method of every rule of the given endpoints."""
    from flask import url_for

    calls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint not in names:
                continue
            arguments = {name: values[name] for name in rule.arguments if name in values}
            if "file_format" in rule.arguments:
                arguments["file_format"] = "csv"
            url = url_for(rule.endpoint, **arguments)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                calls.append((rule.endpoint, method, url))
    return calls


def _send(client, method, url, headers=None):
    kwargs = {"headers": headers or {}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json" if url.startswith("/api/") else "data"] = {}
    return client.open(url, method=method, **kwargs)


def test_another_account_gets_404_on_every_owned_route(app, owned, client):
    with app.app_context():
        rival = factories.make_user(db.session, "rival@example.com")
        db.session.commit()
    client.post(
        "/login", data={"email": "rival@example.com", "password": factories.DEFAULT_PASSWORD}
    )
    failures = []
    calls = _calls(app, OWNED, owned)
    assert len(calls) >= len(OWNED)
    for endpoint, method, url in calls:
        status = _send(client, method, url).status_code
        if status != 404:
            failures.append(f"{method} {url} ({endpoint}): {status}")
    assert not failures, "\n".join(failures)
    assert rival.id != owned["customer_id"]


def test_another_accounts_token_gets_404_on_every_owned_api_route(app, owned, client):
    with app.app_context():
        rival = factories.make_user(db.session, "rival@example.com")
        _row, secret = tokens.create_token(db.session, rival.id, "rival")
        db.session.commit()
    failures = []
    api_routes = {name for name in OWNED if name.startswith("api.")}
    calls = _calls(app, api_routes, owned)
    assert len(calls) >= len(api_routes)
    for endpoint, method, url in calls:
        response = _send(client, method, url, {"Authorization": f"Bearer {secret}"})
        if response.status_code != 404 or response.mimetype != "application/problem+json":
            failures.append(f"{method} {url} ({endpoint}): {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("credential", ["nobody", "revoked token", "unknown token"])
def test_without_a_valid_sign_in_nothing_but_public_routes_answer(
    app, owned, client, user, credential
):
    headers = {}
    if credential != "nobody":
        with app.app_context():
            _row, secret = tokens.create_token(db.session, user.id, "soon revoked")
            if credential == "revoked token":
                db.session.execute(update(ApiToken).values(revoked_at=utcnow()))
            db.session.commit()
        headers = {"Authorization": f"Bearer {secret if credential == 'revoked token' else 'lg_x'}"}
    failures = []
    calls = _calls(app, ACCOUNT | OWNED, owned)
    assert len(calls) >= len(ACCOUNT | OWNED)
    for endpoint, method, url in calls:
        response = _send(client, method, url, headers)
        if url.startswith("/api/"):
            ok = response.status_code == 401 and response.mimetype == "application/problem+json"
        else:
            location = response.headers.get("Location", "") or response.headers.get(
                "HX-Redirect", ""
            )
            ok = response.status_code in (302, 303, 401) and location.startswith("/login")
        if not ok:
            failures.append(f"{method} {url} ({endpoint}): {response.status_code}")
    assert not failures, "\n".join(failures)


def test_public_routes_answer_without_sign_in(app, owned, client):
    for endpoint, method, url in _calls(app, PUBLIC - {"static"}, {**owned, "token": "o" * 43}):
        if method != "GET":
            continue
        response = client.get(url)
        assert response.status_code in (200, 404), (endpoint, response.status_code)
        assert not response.headers.get("Location", "").startswith("/login"), endpoint
