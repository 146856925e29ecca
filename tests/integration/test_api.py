"""The JSON API: tokens, customers, events, bulk ingestion with idempotency, problem+json."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from loyalty.extensions import db
from loyalty.models import ApiToken, Customer, CustomerSegment, EngagementEvent
from loyalty.services import tokens
from loyalty.types import utcnow
from tests import factories

PROBLEM = "application/problem+json"


@pytest.fixture
def token(app, user):
    with app.app_context():
        _row, secret = tokens.create_token(db.session, user.id, "tests")
        db.session.commit()
    return secret


@pytest.fixture
def api(client, token):
    """A client that sends the bearer token."""

    class Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                return getattr(client, method)(path, headers=headers, **kwargs)

            return call

    return Api()


CUSTOMER = {
    "externalCustomerId": "cus_1",
    "name": "Ada Lovelace",
    "email": "Ada@Example.org",
    "signupDate": "2026-01-15T09:30:00+02:00",
    "tags": ["VIP", "trial"],
}


def events_of(app, customer_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).where(EngagementEvent.customer_id == uuid.UUID(customer_id))
        )


def test_calls_without_a_valid_token_are_401_problems(app, client, token):
    for headers in ({}, {"Authorization": "Bearer lg_nope"}, {"Authorization": "Basic x"}):
        response = client.get("/api/customers", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == PROBLEM
        assert response.json["title"] == "Authentication required"
    with app.app_context():
        db.session.execute(ApiToken.__table__.update().values(revoked_at=func.now()))
        db.session.commit()
    revoked = client.get("/api/customers", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401


def test_token_records_last_use(app, api, token):
    assert api.get("/api/customers").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ApiToken.last_used_at)) is not None
        assert db.session.scalar(select(ApiToken.token_hash)) != token


def test_cli_creates_a_token_that_works(app, runner, user, client):
    result = runner.invoke(args=["token", "create", "--email", user.email, "--name", "CRM"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("lg_") and len(secret) > 40
    response = client.get("/api/customers", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    unknown = runner.invoke(args=["token", "create", "--email", "no@example.com", "--name", "x"])
    assert unknown.exit_code != 0 and "No account" in unknown.output


def test_tokens_on_the_account_page_are_shown_once_and_revocable(app, signed_in, client):
    empty = signed_in.post("/account/tokens", data={"name": " "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422
    assert "Name the token after what uses it." in empty.text
    made = signed_in.post(
        "/account/tokens", data={"name": "Billing sync"}, headers={"HX-Request": "true"}
    )
    secret = made.text.split('id="new-token" class="mt-2 block break-all rounded bg-white p-2">')[
        1
    ].split("<")[0]
    assert secret.startswith("lg_")
    page = signed_in.get("/account").text
    assert "Billing sync" in page and secret not in page
    assert "Created just now · never used" in page
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    fresh = app.test_client()
    assert (
        fresh.get("/api/customers", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    signed_in.post(f"/account/tokens/{token_id}/revoke", headers={"HX-Request": "true"})
    assert (
        fresh.get("/api/customers", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def test_create_read_update_delete_a_customer(app, api):
    created = api.post("/api/customers", json={**CUSTOMER, "id": "ignored", "userId": "ignored"})
    assert created.status_code == 201, created.json
    body = created.json
    assert created.headers["Location"] == f"/api/customers/{body['id']}"
    assert body["externalCustomerId"] == "cus_1"
    assert body["email"] == "ada@example.org"
    assert body["signupDate"] == "2026-01-15T07:30:00+00:00"
    assert body["tags"] == ["trial", "vip"]
    assert body["churnRiskScore"] is not None and body["riskBand"] in ("low", "medium", "high")
    assert body["lastEngagementDate"] is None

    read = api.get(body["id"].join(["/api/customers/", ""]))
    assert read.json == body
    assert read.headers["ETag"] == '"1"'

    put = api.put(
        f"/api/customers/{body['id']}",
        json={**CUSTOMER, "name": "Ada King"},
        headers={"If-Match": '"1"'},
    )
    assert put.status_code == 200
    assert put.json["name"] == "Ada King" and put.json["version"] == 2
    stale = api.put(f"/api/customers/{body['id']}", json=CUSTOMER, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and stale.mimetype == PROBLEM
    assert stale.json["title"] == "Stale update"

    patched = api.patch(f"/api/customers/{body['id']}", json={"tags": []})
    assert patched.status_code == 200
    assert patched.json["tags"] == [] and patched.json["name"] == "Ada King"

    assert api.delete(f"/api/customers/{body['id']}").status_code == 204
    gone = api.get(f"/api/customers/{body['id']}")
    assert gone.status_code == 404 and gone.mimetype == PROBLEM


def test_validation_errors_name_each_field(api):
    response = api.post(
        "/api/customers",
        json={"externalCustomerId": "", "name": 42, "email": "not-mail", "signupDate": "someday"},
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    errors = response.json["errors"]
    assert errors["name"] == "Expected a string."
    bad = api.post("/api/customers", json={"externalCustomerId": "", "name": "X", "email": "nope"})
    assert set(bad.json["errors"]) == {"externalCustomerId", "email"}
    unknown = api.post("/api/customers", json={**CUSTOMER, "colour": "red"})
    assert unknown.json["errors"] == {"colour": "Unknown field."}
    tags = api.post("/api/customers", json={**CUSTOMER, "tags": "vip"})
    assert tags.json["errors"] == {"tags": "Expected a list of strings."}
    date = api.post("/api/customers", json={**CUSTOMER, "signupDate": "31/02/2026"})
    assert "signupDate" in date.json["errors"]


def test_malformed_and_oversized_bodies(app, api, make_app, token):
    broken = api.post(
        "/api/customers", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.mimetype == PROBLEM
    assert broken.json["title"] == "Malformed JSON"
    nested = api.post(
        "/api/customers",
        data="[" * 100_000 + "]" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert nested.status_code in (400, 422) and nested.mimetype == PROBLEM
    not_object = api.post("/api/customers", json=[1, 2])
    assert not_object.status_code == 422
    small = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    big = small.post(
        "/api/customers",
        data=json.dumps({**CUSTOMER, "name": "x" * 5000}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert big.status_code == 413 and big.mimetype == PROBLEM


def test_duplicate_external_id_is_a_409(api):
    assert api.post("/api/customers", json=CUSTOMER).status_code == 201
    again = api.post("/api/customers", json={**CUSTOMER, "email": "other@example.org"})
    assert again.status_code == 409
    assert again.json["errors"] == {"externalCustomerId": "Already used by another customer."}


def test_list_filters_sorts_and_pages(app, api, user):
    with app.app_context():
        for n in range(7):
            factories.make_customer(
                db.session, user, name=f"Zed {n}", churn_risk_score=float(10 * n)
            )
        factories.make_customer(db.session, user, name="Other", churn_risk_score=99.0)
        db.session.commit()
    first = api.get("/api/customers?q=zed&sort=name&dir=asc&limit=3").json
    assert [c["name"] for c in first["data"]] == ["Zed 0", "Zed 1", "Zed 2"]
    assert first["total"] == 7
    second = api.get(first["next"]).json
    assert [c["name"] for c in second["data"]] == ["Zed 3", "Zed 4", "Zed 5"]
    third = api.get(second["next"]).json
    assert [c["name"] for c in third["data"]] == ["Zed 6"] and third["next"] is None
    high = api.get("/api/customers?band=high").json
    assert {c["name"] for c in high["data"]} == {"Other"}
    assert api.get("/api/customers?limit=1000").status_code == 422


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("band=hihg", "band"),
        ("segment=not-a-segment", "segment"),
        ("signupFrom=last+week", "signupFrom"),
        ("signupTo=2026-02-30", "signupTo"),
        ("engagedFrom=yesterday", "engagedFrom"),
        ("engagedTo=soon", "engagedTo"),
        ("sort=mood", "sort"),
        ("dir=sideways", "dir"),
        ("cursor=not-ours", "cursor"),
    ],
)
def test_a_filter_the_list_cannot_apply_is_a_422_not_the_whole_list(app, api, user, query, field):
    with app.app_context():
        factories.make_customer(db.session, user, name="Someone", churn_risk_score=10.0)
        db.session.commit()
    response = api.get(f"/api/customers?{query}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert list(response.json["errors"]) == [field]
    segment = api.post("/api/segments", json={"name": "Everyone"}).json
    assert api.get(f"/api/segments/{segment['id']}/members?{query}").status_code == 422


def test_valid_and_empty_list_parameters_are_taken(app, api, user):
    with app.app_context():
        factories.make_customer(
            db.session,
            user,
            name="Someone",
            churn_risk_score=80.0,
            signup_date=datetime(2026, 1, 10, tzinfo=UTC),
        )
        db.session.commit()
    query = (
        "band=high&sort=signup&dir=asc&signupFrom=2026-01-01&signupTo=2026-01-31"
        "&engagedFrom=&segment=&cursor="
    )
    response = api.get(f"/api/customers?{query}")
    assert response.status_code == 200
    assert [c["name"] for c in response.json["data"]] == ["Someone"]


def test_a_cursor_this_api_did_not_make_is_a_422_on_every_keyset_list(app, api):
    customer = api.post("/api/customers", json=CUSTOMER).json
    survey = api.post("/api/surveys", json={"title": "Pulse"}).json
    for path in (
        "/api/events",
        f"/api/customers/{customer['id']}/events",
        f"/api/surveys/{survey['id']}/responses",
    ):
        response = api.get(f"{path}?cursor=not-ours")
        assert response.status_code == 422, path
        assert response.json["errors"] == {"cursor": "Use the next URL of the previous page."}
        assert api.get(path).status_code == 200


def test_events_of_a_customer(app, api):
    customer = api.post("/api/customers", json=CUSTOMER).json
    url = f"/api/customers/{customer['id']}/events"
    logged = api.post(
        url,
        json={
            "eventType": "Feature Used",
            "eventDate": "2026-11-20T10:00:00Z",
            "details": {"feature": "export"},
        },
    )
    assert logged.status_code == 201
    assert logged.json["eventType"] == "feature_used"
    assert logged.json["eventDate"] == "2026-11-20T10:00:00+00:00"
    assert api.get(f"/api/customers/{customer['id']}").json["lastEngagementDate"] == (
        "2026-11-20T10:00:00+00:00"
    )
    for day in range(3):
        api.post(url, json={"eventType": "login", "eventDate": f"2026-10-0{day + 1}T08:00:00Z"})
    page = api.get(url + "?limit=2").json
    assert [e["eventType"] for e in page["data"]] == ["feature_used", "login"]
    rest = api.get(page["next"]).json
    assert len(rest["data"]) == 2 and rest["next"] is None
    bad = api.post(url, json={"eventType": "bad type!", "details": {"nested": {"x": 1}}})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"eventType", "details"}
    event_id = logged.json["id"]
    assert api.get(f"/api/events/{event_id}").json["details"] == {"feature": "export"}
    assert api.delete(f"/api/events/{event_id}").status_code == 204
    assert api.get(f"/api/events/{event_id}").status_code == 404


def test_events_dated_in_the_future_are_refused_one_by_one(app, api):
    """A future event was stored, shown on the timeline and ignored by the score."""
    customer = api.post("/api/customers", json=CUSTOMER).json
    url = f"/api/customers/{customer['id']}/events"
    refused = api.post(url, json={"eventType": "login", "eventDate": "2099-01-01T00:00:00Z"})
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert "cannot be in the future" in refused.json["errors"]["eventDate"]
    assert events_of(app, customer["id"]) == 0
    # A client whose clock runs a couple of minutes fast is not sending the future.
    ahead = (utcnow() + timedelta(minutes=2)).isoformat()
    assert api.post(url, json={"eventType": "login", "eventDate": ahead}).status_code == 201

    batch = {
        "events": [
            {"externalCustomerId": "cus_1", "eventType": "login", "eventDate": ahead},
            {"externalCustomerId": "cus_1", "eventType": "login", "eventDate": "2099-01-01"},
        ]
    }
    body = api.post("/api/events", json=batch).json
    assert [r["status"] for r in body["results"]] == ["created", "failed"]
    assert "cannot be in the future" in body["results"][1]["errors"]["eventDate"]
    assert events_of(app, customer["id"]) == 2


def test_a_client_can_add_the_score_up_from_where_it_starts(app, api):
    """The factors' points added to `churnRiskStartingScore` give the score; a customer with
    nothing known yet has no starting score, only the no-history one."""
    customer = api.post("/api/customers", json=CUSTOMER).json
    assert customer["churnRiskStartingScore"] is None
    assert customer["churnRiskScore"] == 50
    assert [factor["code"] for factor in customer["churnRiskFactors"]] == ["insufficient_data"]
    url = f"/api/customers/{customer['id']}/events"
    for event_type in ("support_ticket", "support_ticket", "payment_failed"):
        assert api.post(url, json={"eventType": event_type}).status_code == 201
    scored = api.get(f"/api/customers/{customer['id']}").json
    assert scored["churnRiskStartingScore"] == 20
    points = sum(factor["points"] for factor in scored["churnRiskFactors"])
    assert points != 0 and scored["churnRiskStartingScore"] + points == scored["churnRiskScore"]
    smuggled = api.patch(f"/api/customers/{customer['id']}", json={"churnRiskStartingScore": 0})
    assert smuggled.status_code == 200
    assert smuggled.json["churnRiskStartingScore"] == 20


def test_bulk_ingestion_reports_each_item(app, api):
    api.post("/api/customers", json=CUSTOMER)
    batch = {
        "events": [
            {
                "externalCustomerId": "cus_1",
                "eventType": "login",
                "eventDate": "2026-11-01T00:00:00Z",
            },
            {"externalCustomerId": "cus_404", "eventType": "login"},
            {"externalCustomerId": "cus_1", "eventType": "no good!"},
            "not an object",
        ]
    }
    response = api.post("/api/events", json=batch)
    assert response.status_code == 200
    body = response.json
    assert body["created"] == 1 and body["failed"] == 3
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "failed", "failed", "failed"]
    assert body["results"][1]["errors"] == {
        "externalCustomerId": "No customer has this externalCustomerId."
    }
    assert "eventType" in body["results"][2]["errors"]


def test_bulk_ingestion_can_create_missing_customers(app, api):
    batch = {
        "createMissingCustomers": True,
        "events": [
            {
                "externalCustomerId": "new_1",
                "eventType": "purchase",
                "customer": {"name": "New One", "email": "new1@example.org"},
            },
            {"externalCustomerId": "new_1", "eventType": "login"},
            {"externalCustomerId": "new_2", "eventType": "login"},
        ],
    }
    body = api.post("/api/events", json=batch).json
    assert body["customersCreated"] == 1
    assert [r["status"] for r in body["results"]] == ["created", "created", "failed"]
    listed = api.get("/api/customers?q=new").json["data"]
    assert [c["name"] for c in listed] == ["New One"]
    assert listed[0]["lastEngagementDate"] is not None


def test_retried_batches_never_double_events(app, api):
    customer = api.post("/api/customers", json=CUSTOMER).json
    batch = {"events": [{"externalCustomerId": "cus_1", "eventType": "login"}] * 3}
    headers = {"Idempotency-Key": "batch-42"}
    first = api.post("/api/events", json=batch, headers=headers)
    again = api.post("/api/events", json=batch, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events_of(app, customer["id"]) == 3
    other_body = api.post("/api/events", json={"events": batch["events"][:1]}, headers=headers)
    assert other_body.status_code == 422 and other_body.json["title"] == "Idempotency-Key reused"
    assert events_of(app, customer["id"]) == 3
    assert api.post("/api/events", json={"events": []}).status_code == 422


def test_bulk_ingestion_never_reaches_another_accounts_customers(app, api):
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other, external_customer_id="theirs_1")
        db.session.commit()
        their_id = theirs.id
    batch = {
        "createMissingCustomers": False,
        "events": [{"externalCustomerId": "theirs_1", "eventType": "login"}],
    }
    body = api.post("/api/events", json=batch).json
    assert body["created"] == 0
    assert body["results"][0]["errors"] == {
        "externalCustomerId": "No customer has this externalCustomerId."
    }
    # Asked to create it, the account gets a customer of its own with that id.
    batch["events"][0]["customer"] = {"name": "Ours", "email": "ours@example.org"}
    body = api.post("/api/events", json={**batch, "createMissingCustomers": True}).json
    assert body["created"] == 1 and body["customersCreated"] == 1
    assert events_of(app, str(their_id)) == 0


def test_another_accounts_objects_are_404(app, api):
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other, external_customer_id="cus_1")
        event = EngagementEvent(
            user_id=other.id,
            customer_id=theirs.id,
            event_type="login",
            event_date=theirs.signup_date,
        )
        db.session.add(event)
        db.session.commit()
        customer_id, event_id = theirs.id, event.id
    for method, path, kwargs in [
        ("get", f"/api/customers/{customer_id}", {}),
        ("put", f"/api/customers/{customer_id}", {"json": CUSTOMER}),
        ("patch", f"/api/customers/{customer_id}", {"json": {"name": "Mine now"}}),
        ("delete", f"/api/customers/{customer_id}", {}),
        ("get", f"/api/customers/{customer_id}/events", {}),
        ("post", f"/api/customers/{customer_id}/events", {"json": {"eventType": "login"}}),
        ("get", f"/api/events/{event_id}", {}),
        ("delete", f"/api/events/{event_id}", {}),
    ]:
        response = getattr(api, method)(path, **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.mimetype == PROBLEM
    # Their externalCustomerId is not ours: the batch cannot reach their customer.
    result = api.post(
        "/api/events", json={"events": [{"externalCustomerId": "cus_1", "eventType": "x"}]}
    )
    assert result.json["failed"] == 1
    assert api.get("/api/customers").json["data"] == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EngagementEvent)) == 1
        assert db.session.get(Customer, customer_id).name != "Mine now"


def test_cookie_calls_need_csrf_but_bearer_calls_do_not(make_app, user, token):
    app = make_app(WTF_CSRF_ENABLED=True)
    browser = app.test_client()
    login = browser.get("/login").text
    csrf = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    browser.post(
        "/login",
        data={"email": user.email, "password": factories.DEFAULT_PASSWORD, "csrf_token": csrf},
    )
    assert browser.get("/api/customers").status_code == 200
    page = browser.get("/account").text
    csrf = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    refused = browser.post("/api/customers", json=CUSTOMER)
    assert refused.status_code == 403 and refused.mimetype == PROBLEM
    allowed = browser.post("/api/customers", json=CUSTOMER, headers={"X-CSRFToken": csrf})
    assert allowed.status_code == 201
    # A bearer token needs no CSRF token, and a cookie sent along with a bad token is ignored.
    program = app.test_client()
    assert (
        program.post(
            "/api/customers",
            json={**CUSTOMER, "externalCustomerId": "cus_2"},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 201
    )
    assert (
        browser.get("/api/customers", headers={"Authorization": "Bearer lg_wrong"}).status_code
        == 401
    )


def test_segments_by_api_with_criteria_and_members(app, api, user):
    with app.app_context():
        risky = factories.make_customer(db.session, user, name="Risky", churn_risk_score=90.0)
        safe = factories.make_customer(db.session, user, name="Safe", churn_risk_score=5.0)
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other, churn_risk_score=99.0)
        db.session.commit()
        risky_id, safe_id, their_id = str(risky.id), str(safe.id), str(theirs.id)
    criteria = {"match": "all", "rules": [{"field": "churn_risk", "op": "above", "value": 70}]}
    created = api.post(
        "/api/segments", json={"name": "At risk", "criteria": criteria, "isAutomatic": True}
    )
    assert created.status_code == 201, created.json
    segment = created.json
    assert segment["memberCount"] == 1 and segment["isAutomatic"] is True
    members = api.get(f"/api/segments/{segment['id']}/members").json["data"]
    assert [m["id"] for m in members] == [risky_id]

    bad = api.post("/api/segments", json={"name": "X", "criteria": {"rules": [{"field": "?"}]}})
    assert bad.status_code == 422 and "criteria" in bad.json["errors"]
    assert api.post("/api/segments", json={"name": "at risk"}).status_code == 409

    manual = api.post("/api/segments", json={"name": "Call list"}).json
    url = f"/api/segments/{manual['id']}/members"
    assert api.post(url, json={"customerIds": [risky_id, safe_id]}).json == {"added": 2}
    assert api.post(url, json={"customerIds": [risky_id]}).json == {"added": 0}
    forged = api.post(url, json={"customerIds": [safe_id, their_id]})
    assert forged.status_code == 404
    assert api.post(url, json={"customerIds": ["nope"]}).status_code == 422
    assert api.post(url + "/remove", json={"customerIds": [safe_id]}).json == {"removed": 1}
    assert api.delete(f"{url}/{risky_id}").status_code == 204
    assert api.get(f"/api/segments/{manual['id']}").json["memberCount"] == 0

    renamed = api.patch(f"/api/segments/{manual['id']}", json={"description": "Mondays"})
    assert renamed.json["name"] == "Call list" and renamed.json["description"] == "Mondays"
    listed = api.get("/api/segments").json["data"]
    assert [s["name"] for s in listed] == ["At risk", "Call list"]
    assert api.delete(f"/api/segments/{manual['id']}").status_code == 204
    assert api.get(f"/api/segments/{manual['id']}").status_code == 404


def test_an_automatic_segment_refuses_members_chosen_by_hand(app, api, user):
    """Its next refresh would silently undo them: a 409 says so, and nothing changes."""
    with app.app_context():
        risky = factories.make_customer(db.session, user, name="Risky", churn_risk_score=90.0)
        calm = factories.make_customer(db.session, user, name="Calm", churn_risk_score=20.0)
        db.session.commit()
        risky_id, calm_id = str(risky.id), str(calm.id)
    criteria = {"rules": [{"field": "churn_risk", "op": "above", "value": 70}]}
    segment = api.post(
        "/api/segments", json={"name": "At risk", "criteria": criteria, "isAutomatic": True}
    ).json
    url = f"/api/segments/{segment['id']}/members"
    for refused in (
        api.post(url, json={"customerIds": [calm_id]}),
        api.post(url + "/remove", json={"customerIds": [risky_id]}),
        api.delete(f"{url}/{risky_id}"),
    ):
        assert refused.status_code == 409 and refused.mimetype == PROBLEM
        assert refused.json["title"] == "Automatic segment"
        assert "set isAutomatic to false" in refused.json["detail"]
    assert [m["id"] for m in api.get(url).json["data"]] == [risky_id]

    api.patch(f"/api/segments/{segment['id']}", json={"isAutomatic": False})
    assert api.post(url, json={"customerIds": [calm_id]}).json == {"added": 1}


def test_a_segment_filter_naming_no_segment_of_the_account_is_a_422(app, api, user):
    """An empty list would read as "this segment has no members"."""
    with app.app_context():
        factories.make_customer(db.session, user, name="Someone")
        theirs = CustomerSegment(user_id=factories.make_user(db.session).id, name="Theirs")
        db.session.add(theirs)
        db.session.commit()
        their_id = theirs.id
    for segment_id in (their_id, uuid.uuid4()):
        response = api.get(f"/api/customers?segment={segment_id}")
        assert response.status_code == 422 and response.mimetype == PROBLEM
        assert response.json["errors"] == {"segment": "You have no segment with this id."}
    mine = api.post("/api/segments", json={"name": "Mine"}).json
    assert api.get(f"/api/customers?segment={mine['id']}").json["data"] == []


def test_a_put_without_a_signup_date_keeps_the_stored_one(api):
    """Signup dates feed the score and segments: leaving one out must not move it to today."""
    created = api.post("/api/customers", json=CUSTOMER).json
    replaced = api.put(
        f"/api/customers/{created['id']}",
        json={k: v for k, v in CUSTOMER.items() if k != "signupDate"},
    )
    assert replaced.status_code == 200
    assert replaced.json["signupDate"] == "2026-01-15T07:30:00+00:00"
    new = api.post(
        "/api/customers",
        json={"externalCustomerId": "cus_2", "name": "Bea", "email": "bea@example.org"},
    ).json
    assert new["signupDate"][:10] == utcnow().date().isoformat()  # a new one starts today


def test_surveys_and_responses_by_api(app, api, user):
    customer = api.post("/api/customers", json=CUSTOMER).json
    survey = api.post("/api/surveys", json={"title": "NPS", "kind": "nps"}).json
    assert survey["question"] == "How likely are you to recommend us to a friend or colleague?"
    assert api.post("/api/surveys", json={"title": " ", "kind": "poll"}).json["errors"] == {
        "title": "Missing.",
        "kind": "One of nps, satisfaction, text.",
    }
    for kind in (["nps"], {"nps": 1}):  # not a string: a 422, not a 500 (unhashable)
        wrong_kind = api.post("/api/surveys", json={"title": "T", "kind": kind})
        assert wrong_kind.status_code == 422
        assert wrong_kind.json["errors"] == {"kind": "One of nps, satisfaction, text."}
    rule = {"field": ["churn_risk"], "op": "above", "value": 70}
    wrong_rule = api.post("/api/segments", json={"name": "S", "criteria": {"rules": [rule]}})
    assert wrong_rule.status_code == 422
    url = f"/api/surveys/{survey['id']}/responses"
    wrong = api.post(url, json={"customerId": customer["id"], "score": 11})
    assert wrong.status_code == 422 and wrong.json["errors"] == {
        "score": "Choose a score from 0 to 10."
    }
    answered = api.post(url, json={"customerId": customer["id"], "score": 2, "comment": "Slow"})
    assert answered.status_code == 201
    assert answered.json["response"] == {"kind": "nps", "score": 2, "comment": "Slow"}
    assert api.get(url).json["data"][0]["id"] == answered.json["id"]
    scored = api.get(f"/api/customers/{customer['id']}").json
    assert any("detractor" in f["reason"].lower() for f in scored["churnRiskFactors"])
    assert api.patch(f"/api/surveys/{survey['id']}", json={"title": "NPS Q4"}).json["title"] == (
        "NPS Q4"
    )
    assert api.delete(f"/api/responses/{answered.json['id']}").status_code == 204
    assert api.get(f"/api/responses/{answered.json['id']}").status_code == 404
    assert api.delete(f"/api/surveys/{survey['id']}").status_code == 204
    assert api.get("/api/surveys").json["data"] == []


def test_surveys_of_another_account_are_404(app, api, user):
    mine = api.post("/api/customers", json=CUSTOMER).json
    with app.app_context():
        other = factories.make_user(db.session)
        their_customer = factories.make_customer(db.session, other)
        db.session.commit()
        their_customer_id = str(their_customer.id)
    survey = api.post("/api/surveys", json={"title": "Mine"}).json
    # My survey cannot collect an answer for their customer...
    forged = api.post(
        f"/api/surveys/{survey['id']}/responses", json={"customerId": their_customer_id, "score": 9}
    )
    assert forged.status_code == 404
    # ...and their survey is invisible to me.
    with app.app_context():
        from loyalty.models import FeedbackSurvey

        theirs = FeedbackSurvey(user_id=other.id, title="Theirs", kind="nps", question="?")
        db.session.add(theirs)
        db.session.commit()
        their_survey = str(theirs.id)
    for method, path, kwargs in [
        ("get", f"/api/surveys/{their_survey}", {}),
        ("patch", f"/api/surveys/{their_survey}", {"json": {"title": "x"}}),
        ("delete", f"/api/surveys/{their_survey}", {}),
        ("get", f"/api/surveys/{their_survey}/responses", {}),
        (
            "post",
            f"/api/surveys/{their_survey}/responses",
            {"json": {"customerId": mine["id"], "score": 1}},
        ),
    ]:
        assert getattr(api, method)(path, **kwargs).status_code == 404, path


def test_events_across_the_account(app, api):
    api.post("/api/customers", json=CUSTOMER)
    api.post("/api/customers", json={**CUSTOMER, "externalCustomerId": "cus_2"})
    batch = {
        "events": [
            {
                "externalCustomerId": "cus_1",
                "eventType": "login",
                "eventDate": "2026-11-01T00:00:00Z",
            },
            {
                "externalCustomerId": "cus_2",
                "eventType": "purchase",
                "eventDate": "2026-11-02T00:00:00Z",
            },
            {
                "externalCustomerId": "cus_2",
                "eventType": "login",
                "eventDate": "2026-11-03T00:00:00Z",
            },
        ]
    }
    api.post("/api/events", json=batch)
    first = api.get("/api/events?limit=2").json
    assert [e["eventDate"][:10] for e in first["data"]] == ["2026-11-03", "2026-11-02"]
    assert [e["eventType"] for e in api.get(first["next"]).json["data"]] == ["login"]
    logins = api.get("/api/events?eventType=login").json["data"]
    assert len(logins) == 2 and {e["eventType"] for e in logins} == {"login"}


def test_api_calls_are_rate_limited_per_account(api):
    statuses = [api.get("/api/surveys").status_code for _ in range(601)]
    assert statuses[:600] == [200] * 600
    assert statuses[600] == 429
    limited = api.get("/api/surveys")
    assert limited.mimetype == PROBLEM and "Retry-After" in limited.headers


def test_segment_and_survey_lists_page(api):
    for n in range(3):
        api.post("/api/segments", json={"name": f"Segment {n}"})
        api.post("/api/surveys", json={"title": f"Survey {n}"})
    first = api.get("/api/segments?limit=2").json
    assert [s["name"] for s in first["data"]] == ["Segment 0", "Segment 1"]
    assert [s["name"] for s in api.get(first["next"]).json["data"]] == ["Segment 2"]
    surveys = api.get("/api/surveys?limit=2").json
    assert len(surveys["data"]) == 2 and api.get(surveys["next"]).json["next"] is None
    assert api.get("/api/surveys?cursor=-1").status_code == 422


def _days_ago(days: int) -> str:
    return (utcnow() - timedelta(days=days)).replace(microsecond=0).isoformat()


def test_an_event_can_be_corrected_and_its_customer_is_rescored(app, api):
    customer = api.post("/api/customers", json=CUSTOMER).json
    logged = api.post(
        f"/api/customers/{customer['id']}/events",
        json={"eventType": "login", "eventDate": _days_ago(3), "details": {"via": "app"}},
    ).json
    url = f"/api/events/{logged['id']}"
    before = api.get(f"/api/customers/{customer['id']}").json
    assert "cancellation_request" not in [f["code"] for f in before["churnRiskFactors"]]

    put = api.put(url, json={"eventType": "Cancellation Request", "details": {"why": "price"}})
    assert put.status_code == 200, put.json
    assert put.json["eventType"] == "cancellation_request"
    assert put.json["details"] == {"why": "price"}
    assert put.json["eventDate"] == logged["eventDate"]  # a PUT without a date keeps it
    after = api.get(f"/api/customers/{customer['id']}").json
    assert "cancellation_request" in [f["code"] for f in after["churnRiskFactors"]]
    assert after["churnRiskScore"] > before["churnRiskScore"]

    patched = api.patch(url, json={"eventDate": _days_ago(1)})
    assert patched.status_code == 200
    assert patched.json["eventType"] == "cancellation_request"
    assert patched.json["details"] == {"why": "price"}
    assert api.get(url).json == patched.json
    moved = api.get(f"/api/customers/{customer['id']}").json
    assert moved["lastEngagementDate"] == patched.json["eventDate"]


def test_an_event_correction_is_checked_like_a_new_event(app, api):
    customer = api.post("/api/customers", json=CUSTOMER).json
    logged = api.post(f"/api/customers/{customer['id']}/events", json={"eventType": "login"}).json
    url = f"/api/events/{logged['id']}"
    future = api.patch(url, json={"eventDate": "2099-01-01T00:00:00Z"})
    assert future.status_code == 422 and future.mimetype == PROBLEM
    assert "cannot be in the future" in future.json["errors"]["eventDate"]
    bad = api.put(url, json={"eventType": "bad type!", "details": [1], "colour": "red"})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"eventType", "details", "colour"}
    assert api.put(url, json={"details": {}}).json["errors"] == {"eventType": "Missing."}
    assert api.patch(url, json=[1]).status_code == 422
    assert api.get(url).json == logged


def test_another_accounts_event_cannot_be_corrected(app, api):
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other)
        event = EngagementEvent(
            user_id=other.id, customer_id=theirs.id, event_type="login", event_date=utcnow()
        )
        db.session.add(event)
        db.session.commit()
        event_id = event.id
    for method in ("put", "patch"):
        response = getattr(api, method)(f"/api/events/{event_id}", json={"eventType": "note"})
        assert response.status_code == 404 and response.mimetype == PROBLEM
    with app.app_context():
        assert db.session.get(EngagementEvent, event_id).event_type == "login"


def _two_customers(api):
    ada = api.post("/api/customers", json=CUSTOMER).json
    bea = api.post(
        "/api/customers",
        json={"externalCustomerId": "cus_2", "name": "Bea", "email": "bea@example.org"},
    ).json
    return ada, bea


def test_sending_a_survey_by_api_gives_each_customer_a_link_once(app, api, client):
    ada, bea = _two_customers(api)
    survey = api.post("/api/surveys", json={"title": "Pulse"}).json
    send = f"/api/surveys/{survey['id']}/send"
    sent = api.post(send, json={"customerIds": [ada["id"], bea["id"]]})
    assert sent.status_code == 200, sent.json
    body = sent.json
    assert (body["created"], body["skipped"], body["delivered"]) == (2, 0, 0)
    assert {i["customerId"] for i in body["invitations"]} == {ada["id"], bea["id"]}
    link = body["invitations"][0]["link"]
    assert link.startswith("http://localhost/s/")
    assert client.get(link.removeprefix("http://localhost")).status_code == 200

    again = api.post(send, json={"customerIds": [ada["id"], bea["id"]]}).json
    assert (again["created"], again["skipped"], again["invitations"]) == (0, 2, [])

    listed = api.get(f"/api/surveys/{survey['id']}/invitations").json
    assert len(listed["data"]) == 2 and listed["next"] is None
    first = listed["data"][0]
    assert first["status"] == "open" and first["deliveredAt"] is None
    assert first["emailTo"] in ("ada@example.org", "bea@example.org")
    assert first["link"] in first["emailBody"]
    assert first["answeredAt"] is None and first["revokedAt"] is None

    revoked = api.post(f"/api/invitations/{first['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json["status"] == "revoked" and revoked.json["revokedAt"] is not None
    assert api.get(f"/api/invitations/{first['id']}").json == revoked.json
    assert client.get(first["link"].removeprefix("http://localhost")).status_code == 404
    # A switched-off link is not open: the customer can be invited again.
    resent = api.post(send, json={"customerIds": [first["customerId"]]}).json
    assert (resent["created"], resent["skipped"]) == (1, 0)


def test_a_survey_can_be_sent_to_a_segment_by_api(app, api):
    ada, bea = _two_customers(api)
    segment = api.post("/api/segments", json={"name": "Call list"}).json
    api.post(f"/api/segments/{segment['id']}/members", json={"customerIds": [bea["id"]]})
    survey = api.post("/api/surveys", json={"title": "Pulse"}).json
    sent = api.post(f"/api/surveys/{survey['id']}/send", json={"segmentId": segment["id"]}).json
    assert sent["created"] == 1
    assert [i["customerId"] for i in sent["invitations"]] == [bea["id"]]
    listed = api.get(f"/api/surveys/{survey['id']}/invitations").json["data"]
    assert [i["customerId"] for i in listed] == [bea["id"]]


def test_sending_by_api_e_mails_where_smtp_is_configured(make_app, user, token, smtp_sent):
    client = make_app(SMTP_HOST="smtp.example.org").test_client()
    headers = {"Authorization": f"Bearer {token}"}
    ada = client.post("/api/customers", json=CUSTOMER, headers=headers).json
    survey = client.post("/api/surveys", json={"title": "Pulse"}, headers=headers).json
    sent = client.post(
        f"/api/surveys/{survey['id']}/send", json={"customerIds": [ada["id"]]}, headers=headers
    ).json
    assert sent["delivered"] == 1
    [(_, to, _subject, body)] = [m for m in smtp_sent if m[0] == "message"]
    assert to == "ada@example.org" and sent["invitations"][0]["link"] in body
    listed = client.get(f"/api/surveys/{survey['id']}/invitations", headers=headers).json
    assert listed["data"][0]["deliveredAt"] is not None


def test_sending_refuses_what_is_not_the_accounts_and_sends_nothing(app, api):
    ada, _bea = _two_customers(api)
    with app.app_context():
        from loyalty.models import FeedbackSurvey, SurveyInvitation

        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other)
        their_segment = CustomerSegment(user_id=other.id, name="Theirs")
        their_survey = FeedbackSurvey(user_id=other.id, title="Theirs", kind="nps", question="?")
        db.session.add_all([their_segment, their_survey])
        db.session.flush()
        their_invitation = SurveyInvitation(
            user_id=other.id,
            feedback_survey_id=their_survey.id,
            customer_id=theirs.id,
            token="t" * 43,
            email_to=theirs.email,
            email_subject="s",
            email_body="b",
        )
        db.session.add(their_invitation)
        db.session.commit()
        ids = (str(theirs.id), str(their_segment.id), str(their_survey.id), their_invitation.id)
    their_customer, their_segment_id, their_survey_id, their_invitation_id = ids
    survey = api.post("/api/surveys", json={"title": "Pulse"}).json
    send = f"/api/surveys/{survey['id']}/send"
    for body in (
        {"customerIds": [ada["id"], their_customer]},
        {"customerIds": [str(uuid.uuid4())]},
        {"segmentId": their_segment_id},
    ):
        refused = api.post(send, json=body)
        assert refused.status_code == 404 and refused.mimetype == PROBLEM, body
    mine = {"customerIds": [ada["id"]]}
    for response in (
        api.post(f"/api/surveys/{their_survey_id}/send", json=mine),
        api.get(f"/api/surveys/{their_survey_id}/invitations"),
        api.get(f"/api/invitations/{their_invitation_id}"),
        api.post(f"/api/invitations/{their_invitation_id}/revoke"),
    ):
        assert response.status_code == 404 and response.mimetype == PROBLEM
    assert api.get(f"/api/surveys/{survey['id']}/invitations").json["data"] == []
    with app.app_context():
        assert db.session.get(SurveyInvitation, their_invitation_id).revoked_at is None


def test_sending_needs_exactly_one_of_customer_ids_and_segment_id(api):
    customer = api.post("/api/customers", json=CUSTOMER).json
    segment = api.post("/api/segments", json={"name": "Everyone"}).json
    survey = api.post("/api/surveys", json={"title": "Pulse"}).json
    send = f"/api/surveys/{survey['id']}/send"
    one_of = "Give either customerIds or segmentId (exactly one of them)."
    both = api.post(send, json={"customerIds": [customer["id"]], "segmentId": segment["id"]})
    assert both.status_code == 422 and both.json["errors"] == {"": one_of}
    assert api.post(send, json={}).json["errors"] == {"": one_of}
    wrong = api.post(send, json={"segmentId": "nope", "colour": "red"})
    assert wrong.json["errors"] == {
        "colour": "Unknown field.",
        "segmentId": "Expected a segment id (a UUID).",
    }
    assert api.post(send, json={"customerIds": []}).json["errors"] == {
        "customerIds": "Expected a non-empty list of ids."
    }
    assert api.get(f"/api/surveys/{survey['id']}/invitations").json["data"] == []


def test_a_surveys_invitations_page(api):
    customers = [
        api.post(
            "/api/customers",
            json={"externalCustomerId": f"c{n}", "name": f"C {n}", "email": f"c{n}@example.org"},
        ).json
        for n in range(3)
    ]
    survey = api.post("/api/surveys", json={"title": "Pulse"}).json
    api.post(
        f"/api/surveys/{survey['id']}/send", json={"customerIds": [c["id"] for c in customers]}
    )
    url = f"/api/surveys/{survey['id']}/invitations"
    first = api.get(f"{url}?limit=2").json
    rest = api.get(first["next"]).json
    assert len(first["data"]) == 2 and len(rest["data"]) == 1 and rest["next"] is None
    seen = {i["customerId"] for i in first["data"] + rest["data"]}
    assert seen == {c["id"] for c in customers}
    bad = api.get(f"{url}?cursor=not-ours&limit=0")
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"cursor", "limit"}


def test_every_customer_field_error_is_reported_at_once(api):
    response = api.post(
        "/api/customers",
        json={
            "externalCustomerId": "x1",
            "name": "",
            "email": "notanemail",
            "signupDate": "yesterday",
            "tags": "a",
            "colour": "red",
        },
    )
    assert response.status_code == 422 and response.mimetype == PROBLEM
    errors = response.json["errors"]
    assert set(errors) == {"name", "email", "signupDate", "tags", "colour"}
    assert errors["tags"] == "Expected a list of strings."
    assert errors["name"] == "Missing."
    typed = api.post(
        "/api/customers", json={"externalCustomerId": 7, "name": "", "email": "a@example.org"}
    )
    assert typed.json["errors"] == {"externalCustomerId": "Expected a string.", "name": "Missing."}


def test_every_list_parameter_error_is_reported_at_once(app, api):
    response = api.get("/api/customers?limit=500&band=HIGH&sort=nam")
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"limit", "band", "sort"}
    assert response.json["errors"]["limit"] == "Between 1 and 200."
    segment = api.post("/api/segments", json={"name": "Everyone"}).json
    members = api.get(f"/api/segments/{segment['id']}/members?limit=x&dir=up")
    assert set(members.json["errors"]) == {"limit", "dir"}
    for path in ("/api/events", "/api/segments", "/api/surveys"):
        both = api.get(f"{path}?cursor=not-ours&limit=0")
        assert both.status_code == 422, path
        assert set(both.json["errors"]) == {"cursor", "limit"}, path
