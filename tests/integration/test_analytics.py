"""GET /api/analytics/churn-risk: the account's churn picture, and nobody else's."""

from __future__ import annotations

from datetime import timedelta

from loyalty.extensions import db
from loyalty.models import (
    CustomerSegment,
    CustomerSegmentMembership,
    EngagementEvent,
    ScoreSnapshot,
)
from loyalty.types import utcnow
from tests import factories


def seed(app, user):
    with app.app_context():
        session = db.session
        scores = [5.0, 15.0, 45.0, 65.0, 75.0, 95.0, None]
        made = []
        for n, score in enumerate(scores):
            scored_at = utcnow() - timedelta(hours=1)
            # n support tickets, and otherwise an active customer: that is the top reason.
            facts = {
                "event_count": n + 1,
                "support_tickets": n,
                "last_login": (scored_at - timedelta(days=1)).isoformat(),
            }
            made.append(
                factories.make_customer(
                    session,
                    user,
                    name=f"C{n}",
                    churn_risk_score=score,
                    churn_risk_facts=facts,
                    churn_scored_at=scored_at,
                    last_engagement_date=scored_at - timedelta(days=1),
                )
            )
        segment = CustomerSegment(user_id=user.id, name="Watch")
        session.add(segment)
        session.flush()
        for customer in made[4:6]:
            session.add(
                CustomerSegmentMembership(customer_id=customer.id, customer_segment_id=segment.id)
            )
        session.add(
            ScoreSnapshot(
                user_id=user.id,
                day=(utcnow() - timedelta(days=35)).date(),
                customer_count=4,
                average_score=40.0,
                high_risk_count=1,
            )
        )
        session.add(
            EngagementEvent(
                user_id=user.id,
                customer_id=made[0].id,
                event_type="login",
                event_date=utcnow() - timedelta(days=1),
                details={},
            )
        )
        other = factories.make_user(session)
        factories.make_customer(session, other, name="Not mine", churn_risk_score=99.0)
        session.commit()


def test_requires_a_signed_in_account(client):
    response = client.get("/api/analytics/churn-risk")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_churn_risk_analytics(app, signed_in, user):
    seed(app, user)
    data = signed_in.get("/api/analytics/churn-risk").json
    assert data["customerCount"] == 7
    assert data["scoredCount"] == 6
    assert data["averageScore"] == 50.0
    assert [(b["band"], b["count"]) for b in data["bands"]] == [
        ("low", 2),
        ("medium", 2),
        ("high", 2),
    ]
    assert data["bands"][1]["min"] == 40 and data["bands"][1]["max"] == 70
    assert [d["count"] for d in data["deciles"]] == [1, 1, 0, 0, 1, 0, 1, 1, 0, 1]
    assert data["segments"] == [
        {"id": data["segments"][0]["id"], "name": "Watch", "members": 2, "averageScore": 85.0}
    ]
    top = data["mostAtRisk"]
    assert [c["name"] for c in top] == ["C5", "C4", "C3", "C2", "C1", "C0"]
    assert top[0]["topReason"] == "5 support tickets in 30 days"
    assert top[0]["suggestedAction"].startswith("Escalate their open issues")
    assert data["change30Days"]["customerCount"] == 3
    assert data["change30Days"]["averageScore"] == 10.0
    assert data["weeklyAverage"][0]["averageScore"] == 40.0


def test_empty_account(signed_in):
    data = signed_in.get("/api/analytics/churn-risk").json
    assert data["customerCount"] == 0
    assert data["averageScore"] is None
    assert data["mostAtRisk"] == []
    assert data["change30Days"]["since"] is None
