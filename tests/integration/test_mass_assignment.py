"""Fields a client must not set (ids, owner, timestamps, scores) are ignored or refused.

Through every way data comes in: the JSON API, the HTML forms and customer imports.
Another account's id smuggled into a body lands nothing in that account.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    EngagementEvent,
    FeedbackSurvey,
    SurveyInvitation,
    SurveyResponse,
    User,
)
from loyalty.services import accounts, tokens
from tests import factories

LONG_AGO = "2001-01-01T00:00:00+00:00"


@pytest.fixture
def rival(app):
    with app.app_context():
        other = accounts.create_account(db.session, "rival@example.com", "correct horse 1")
        db.session.commit()
        return other.id


@pytest.fixture
def api(app, client, user):
    with app.app_context():
        _row, secret = tokens.create_token(db.session, user.id, "tests")
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}

    class Api:
        def post(self, path, body):
            return client.post(path, json=body, headers=headers)

        def patch(self, path, body, version):
            return client.patch(path, json=body, headers={**headers, "If-Match": f'"{version}"'})

    return Api()


def owned_by(app, model, **where):
    with app.app_context():
        rows = db.session.scalars(select(model).filter_by(**where)).all()
        return [(row.user_id, row) for row in rows]


def test_api_customer_ignores_id_owner_timestamps_and_score(app, api, user, rival):
    smuggled = str(uuid.uuid4())
    body = {
        "externalCustomerId": "ma-1",
        "name": "Mallory",
        "email": "m@example.com",
        "id": smuggled,
        "userId": str(rival),
        "churnRiskScore": 0,
        "churnRiskFactors": [{"reason": "trust me"}],
        "createdAt": LONG_AGO,
        "updatedAt": LONG_AGO,
        "version": 99,
    }
    created = api.post("/api/customers", body)
    assert created.status_code == 201, created.json
    data = created.json
    assert data["id"] != smuggled
    assert data["churnRiskScore"] == 50  # computed: no history yet
    assert data["version"] == 1
    assert not data["createdAt"].startswith("2001")

    patched = api.patch(
        f"/api/customers/{data['id']}", {"userId": str(rival), "createdAt": LONG_AGO}, 1
    )
    assert patched.status_code == 200
    assert patched.json["createdAt"] == data["createdAt"]
    [(owner, customer)] = owned_by(app, Customer, external_customer_id="ma-1")
    assert owner == user.id and str(customer.id) == data["id"]


def test_api_unknown_fields_are_refused_with_their_names(api):
    response = api.post(
        "/api/customers",
        {"externalCustomerId": "ma-2", "name": "N", "email": "n@example.com", "isAdmin": True},
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == {"isAdmin": "Unknown field."}


def test_api_events_segments_and_surveys_belong_to_the_caller(app, api, user, rival):
    customer = api.post(
        "/api/customers", {"externalCustomerId": "ma-3", "name": "E", "email": "e@example.com"}
    ).json
    event = api.post(
        f"/api/customers/{customer['id']}/events",
        {
            "eventType": "login",
            "userId": str(rival),
            "id": str(uuid.uuid4()),
            "createdAt": LONG_AGO,
        },
    )
    assert event.status_code == 201, event.json
    segment = api.post("/api/segments", {"name": "Mine", "userId": str(rival), "memberCount": 7})
    assert segment.status_code == 201, segment.json
    assert segment.json["memberCount"] == 0
    survey = api.post(
        "/api/surveys",
        {"title": "Mine", "kind": "nps", "userId": str(rival), "createdAt": LONG_AGO},
    )
    assert survey.status_code == 201, survey.json
    for model in (EngagementEvent, CustomerSegment, FeedbackSurvey):
        assert {owner for owner, _row in owned_by(app, model)} == {user.id}, model.__name__
    [(_owner, stored)] = owned_by(app, EngagementEvent)
    assert stored.created_at > datetime(2020, 1, 1, tzinfo=UTC)


def test_forms_ignore_fields_they_do_not_show(app, signed_in, user, rival):
    smuggled = str(uuid.uuid4())
    extra = {"id": smuggled, "user_id": str(rival), "created_at": LONG_AGO, "version": "1"}
    response = signed_in.post(
        "/customers/new",
        data={
            "external_customer_id": "ma-4",
            "name": "Form Mallory",
            "email": "fm@example.com",
            "signup_date": "2026-01-01",
            "churn_risk_score": "0",
            **extra,
        },
    )
    assert response.status_code == 303
    signed_in.post("/segments", data={"name": "Form segment", **extra})
    signed_in.post("/surveys", data={"title": "Form survey", "kind": "nps", **extra})
    [(owner, customer)] = owned_by(app, Customer, external_customer_id="ma-4")
    assert owner == user.id and str(customer.id) != smuggled
    assert customer.churn_risk_score == 50
    assert customer.created_at.year >= 2026
    for model in (CustomerSegment, FeedbackSurvey):
        assert {owner for owner, _row in owned_by(app, model)} == {user.id}, model.__name__


def test_import_columns_for_owner_ids_and_timestamps_go_nowhere(app, signed_in, user, rival):
    csv_text = (
        "id,user_id,customer_id,name,email,created_at,churn_risk_score\n"
        f"{uuid.uuid4()},{rival},imp-1,Imported,imp@example.com,{LONG_AGO},0\n"
    )
    response = signed_in.post(
        "/customers/import",
        data={"file": (io.BytesIO(csv_text.encode()), "customers.csv")},
        content_type="multipart/form-data",
    )
    review = response.headers["Location"]
    html = signed_in.get(review).text
    mapping = dict(re.findall(r'<input type="hidden" name="(map-[a-z_]+)" value="([^"]*)"', html))
    # Only the customer fields can be mapped; the id, owner and timestamps columns cannot.
    assert set(mapping) == {
        "map-external_customer_id",
        "map-name",
        "map-first_name",
        "map-last_name",
        "map-email",
        "map-signup_date",
        "map-tags",
    }
    assert mapping["map-external_customer_id"] == "customer_id"
    done = signed_in.post(review, data={**mapping, "mode": "all"})
    assert done.status_code == 303
    with app.app_context():
        customer = db.session.scalar(
            select(Customer).where(Customer.external_customer_id == "imp-1")
        )
        assert customer.user_id == user.id
        assert customer.churn_risk_score == 50
        assert customer.created_at.year >= 2026
        rival_customers = db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.user_id == rival)
        )
        assert rival_customers == 0
        assert db.session.get(User, rival) is not None


def test_another_accounts_ids_inside_bodies_change_nothing(app, signed_in, api, user):
    """A segment of mine with their customer, their survey sent to my customer, and so on."""
    with app.app_context():
        session = db.session
        other = factories.make_user(session)
        mine = factories.make_customer(session, user, external_customer_id="mine-1")
        theirs = factories.make_customer(session, other, external_customer_id="theirs-1")
        my_segment = CustomerSegment(user_id=user.id, name="Mine")
        their_segment = CustomerSegment(user_id=other.id, name="Theirs")
        my_survey = FeedbackSurvey(user_id=user.id, title="Mine", kind="nps", question="?")
        their_survey = FeedbackSurvey(user_id=other.id, title="Theirs", kind="nps", question="?")
        session.add_all([my_segment, their_segment, my_survey, their_survey])
        session.commit()
        ids = {
            name: str(row.id)
            for name, row in {
                "mine": mine,
                "theirs": theirs,
                "my_segment": my_segment,
                "their_segment": their_segment,
                "my_survey": my_survey,
                "their_survey": their_survey,
            }.items()
        }

    signed_in.post(f"/segments/{ids['my_segment']}/members", data={"ids": [ids["theirs"]]})
    bulk = signed_in.post(
        "/customers/bulk",
        data={"action": "add_to_segment", "segment": ids["their_segment"], "ids": [ids["mine"]]},
    )
    assert bulk.status_code == 404
    sent = signed_in.post(
        "/surveys/send", data={"survey": ids["their_survey"], "customer": ids["mine"]}
    )
    assert sent.status_code == 404
    sent = signed_in.post(f"/surveys/{ids['my_survey']}/send", data={"customer": ids["theirs"]})
    assert sent.status_code == 404
    api.post(f"/api/segments/{ids['my_segment']}/members", {"customerIds": [ids["theirs"]]})
    answer = api.post(
        f"/api/surveys/{ids['my_survey']}/responses", {"customerId": ids["theirs"], "score": 9}
    )
    assert answer.status_code == 404

    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(CustomerSegmentMembership)) == 0
        assert session.scalar(select(func.count()).select_from(SurveyInvitation)) == 0
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
