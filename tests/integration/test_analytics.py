"""GET /api/analytics/churn-risk: the account's churn picture, and nobody else's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update

from loyalty.db import scope_session_to_account
from loyalty.domain.criteria import parse_criteria
from loyalty.domain.surveys import nps_from_counts
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    EngagementEvent,
    FeedbackSurvey,
    ScoreSnapshot,
    SurveyResponse,
    User,
)
from loyalty.services import customers as customer_service
from loyalty.services import segment_criteria as criteria_service
from loyalty.services import segments as segment_service
from loyalty.services.analytics import churn_analytics, engagement_trend, feedback_summary
from loyalty.services.scoring import rescore
from loyalty.types import utcnow
from tests import factories

RISKY_RULE = {"field": "churn_risk", "op": "above", "value": 70}


def seed(app, user):
    with app.app_context():
        session = db.session
        # Fractions near the edges: 39.9 is still low risk, 100 is in the top decile.
        scores = [5.0, 39.9, 45.0, 65.0, 75.0, 100.0, None]
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
        session.add_all([segment, CustomerSegment(user_id=user.id, name="Empty")])
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
    assert data["averageScore"] == 55.0
    assert [(b["band"], b["count"]) for b in data["bands"]] == [
        ("low", 2),
        ("medium", 2),
        ("high", 2),
    ]
    assert data["bands"][1]["min"] == 40 and data["bands"][1]["max"] == 70
    assert [d["count"] for d in data["deciles"]] == [1, 0, 0, 1, 1, 0, 1, 1, 0, 1]
    assert [(s["name"], s["members"], s["averageScore"]) for s in data["segments"]] == [
        ("Empty", 0, None),
        ("Watch", 2, 87.5),
    ]
    top = data["mostAtRisk"]
    assert [c["name"] for c in top] == ["C5", "C4", "C3", "C2", "C1", "C0"]
    assert top[0]["topReason"] == "5 support tickets in 30 days"
    assert top[0]["suggestedAction"].startswith("Escalate their open issues")
    assert data["change30Days"]["customerCount"] == 3
    assert data["change30Days"]["averageScore"] == 15.0
    assert data["weeklyAverage"][0]["averageScore"] == 40.0


def test_empty_account(signed_in):
    data = signed_in.get("/api/analytics/churn-risk").json
    assert data["customerCount"] == 0
    assert data["averageScore"] is None
    assert data["mostAtRisk"] == []
    assert data["change30Days"]["since"] is None


def test_engagement_trend_follows_every_way_events_come_and_go(app, user):
    """The trend reads per-day counts the database keeps: they follow ORM and bulk inserts,
    edits, deletes and customers deleted with their events, and count no other account."""
    with app.app_context():
        session = db.session
        mine, gone = factories.make_customer(session, user), factories.make_customer(session, user)
        rival = factories.make_customer(session, factories.make_user(session))
        now = utcnow()

        def event(customer, kind, days_ago):
            return EngagementEvent(
                user_id=customer.user_id,
                customer_id=customer.id,
                event_type=kind,
                event_date=now - timedelta(days=days_ago),
                details={},
            )

        moved = event(mine, "feature_used", 8)
        session.add_all(
            [
                event(mine, "login", 1),
                moved,
                event(mine, "payment_failed", 2),  # not the customer's own doing
                event(mine, "support_ticket", 3),  # trouble, not activity
                event(mine, "login", 100),  # before the twelve weeks
                event(rival, "login", 1),
            ]
        )
        session.flush()
        session.execute(
            insert(EngagementEvent),
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user.id,
                    "customer_id": gone.id,
                    "event_type": "login",
                    "event_date": now - timedelta(days=15),
                    "details": {},
                }
                for _ in range(3)
            ],
        )

        scope_session_to_account(session, user.id)  # as for a signed-in request

        def weeks():
            trend = engagement_trend(session)
            assert len(trend) == 12
            assert trend[-1]["weekStart"] == (now.date() - timedelta(days=6)).isoformat()
            return [week["events"] for week in trend[-4:]]

        assert weeks() == [0, 3, 1, 1]
        moved.event_date = now - timedelta(days=2)
        session.flush()
        assert weeks() == [0, 3, 0, 2]
        session.delete(moved)
        session.flush()
        assert weeks() == [0, 3, 0, 1]
        customer_service.delete_customers(session, [gone.id])
        assert weeks() == [0, 0, 0, 1]


def test_score_counts_follow_every_way_scores_change(app, user):
    """Bands, histogram and average read per-score counts the database keeps: they follow
    ORM and bulk writes, rescoring, deletes and deleted accounts, and count no other account."""
    with app.app_context():
        session = db.session
        account = session.get(User, user.id)
        rival = factories.make_user(session)
        factories.make_customer(session, rival, churn_risk_score=99.0)
        edited = factories.make_customer(session, user, churn_risk_score=39.9)
        factories.make_customer(session, user, churn_risk_score=5.0)
        factories.make_customer(session, user, churn_risk_score=None)
        session.execute(
            insert(Customer),
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user.id,
                    "external_customer_id": f"bulk-{n}",
                    "name": f"Bulk {n}",
                    "email": f"bulk{n}@example.org",
                    "signup_date": utcnow() - timedelta(days=400),
                    "churn_risk_score": 70.5 + n,
                }
                for n in range(3)
            ],
        )
        scope_session_to_account(session, user.id)  # as for a signed-in request

        def check():
            session.flush()
            scores = list(session.scalars(select(Customer.churn_risk_score)))
            known = [score for score in scores if score is not None]
            data = churn_analytics(session, account, with_segments=False).to_json()
            assert data["customerCount"] == len(scores)
            assert data["scoredCount"] == len(known)
            expected = round(sum(known) / len(known), 1) if known else None
            assert data["averageScore"] == expected
            for decile in data["deciles"]:
                low, high = decile["min"], decile["max"]
                inside = [x for x in known if low <= x < high or (high == 100 and x == 100)]
                assert decile["count"] == len(inside), decile
            return data

        first = check()
        assert [band["count"] for band in first["bands"]] == [2, 0, 3]
        edited.churn_risk_score = 40.0  # low to medium
        check()
        session.execute(update(Customer).where(Customer.name.like("Bulk%")).values(name="Renamed"))
        session.execute(
            update(Customer)
            .where(Customer.external_customer_id == "bulk-0")
            .values(churn_risk_score=100.0)
        )
        check()
        rescore(session, user.id)  # the whole account, as the nightly job does
        assert all(c.churn_risk_score is not None for c in session.scalars(select(Customer)))
        check()
        customer_service.delete_customers(session, [edited.id])
        session.execute(delete(Customer).where(Customer.external_customer_id == "bulk-1"))
        check()
        session.delete(session.get(User, rival.id))  # an account leaves, and its counts too
        session.flush()
        assert check()["customerCount"] == 4


def test_dashboard_nps_follows_answers_as_they_come_and_go(app, user):
    """NPS reads per-day answer counts the database keeps: the last 90 days against the 90
    before, only NPS answers with a score, nobody else's, and answers deleted with their
    customer or survey are gone."""
    with app.app_context():
        session = db.session
        rival = factories.make_user(session)
        now = utcnow()
        nps = FeedbackSurvey(user_id=user.id, title="NPS", kind="nps")
        other = FeedbackSurvey(user_id=user.id, title="Second NPS", kind="nps")
        csat = FeedbackSurvey(user_id=user.id, title="CSAT", kind="satisfaction")
        rival_survey = FeedbackSurvey(user_id=rival.id, title="Theirs", kind="nps")
        session.add_all([nps, other, csat, rival_survey])
        stays, leaves = (
            factories.make_customer(session, user),
            factories.make_customer(session, user),
        )
        rivals_customer = factories.make_customer(session, rival)

        def answer(customer, survey, response, days_ago):
            return SurveyResponse(
                user_id=customer.user_id,
                customer_id=customer.id,
                feedback_survey_id=survey.id,
                response=response,
                submitted_at=now - timedelta(days=days_ago),
            )

        moved = answer(stays, nps, {"kind": "nps", "score": 10}, 120)
        session.add_all(
            [
                answer(stays, nps, {"kind": "nps", "score": 9, "comment": "Great"}, 1),
                answer(stays, nps, {"kind": "nps", "score": 3}, 0),
                answer(leaves, nps, {"kind": "nps", "score": 10}, 5),
                answer(stays, other, {"kind": "nps", "score": 0}, 30),
                moved,
                answer(stays, nps, {"kind": "nps", "score": 6}, 200),  # too old to count
                answer(stays, csat, {"kind": "satisfaction", "score": 1}, 2),
                answer(rivals_customer, rival_survey, {"kind": "nps", "score": 0}, 1),
            ]
        )
        session.flush()
        session.execute(
            insert(SurveyResponse),
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user.id,
                    "customer_id": stays.id,
                    "feedback_survey_id": nps.id,
                    "response": {"kind": "nps", "score": 8},
                    "submitted_at": now - timedelta(days=100),
                }
                for _ in range(2)
            ],
        )
        scope_session_to_account(session, user.id)

        def scores():
            session.flush()
            summary = feedback_summary(session)
            return summary.nps, summary.previous_nps

        assert scores() == (
            nps_from_counts({9: 1, 3: 1, 10: 1, 0: 1}),
            nps_from_counts({10: 1, 8: 2}),
        )
        moved.submitted_at = now - timedelta(days=10)
        assert scores() == (
            nps_from_counts({9: 1, 3: 1, 10: 2, 0: 1}),
            nps_from_counts({8: 2}),
        )
        customer_service.delete_customers(session, [leaves.id])
        session.delete(other)
        assert scores() == (nps_from_counts({9: 1, 3: 1, 10: 1}), nps_from_counts({8: 2}))
        session.execute(
            delete(SurveyResponse).where(SurveyResponse.submitted_at < now - timedelta(days=99))
        )
        assert scores() == (nps_from_counts({9: 1, 3: 1, 10: 1}), nps_from_counts({}))


def test_segment_counts_follow_every_way_members_and_scores_change(app, user):
    """Segment member counts and average risk come from counts the database keeps: they
    follow members added and removed one by one or in bulk, automatic refreshes, score
    changes, customers deleted every way, and segments and accounts deleted."""
    with app.app_context():
        session = db.session
        rival = factories.make_user(session)
        made = [
            factories.make_customer(session, user, churn_risk_score=score)
            for score in (10.0, 35.5, 72.25, None, 90.0, 55.0)
        ]
        theirs = factories.make_customer(session, rival, churn_risk_score=99.0)
        by_hand = CustomerSegment(user_id=user.id, name="By hand")
        risky = CustomerSegment(user_id=user.id, name="Risky")
        gone = CustomerSegment(user_id=user.id, name="Goes away")
        their_segment = CustomerSegment(user_id=rival.id, name="Theirs")
        session.add_all([by_hand, risky, gone, their_segment])
        session.flush()
        session.add(
            CustomerSegmentMembership(customer_id=made[0].id, customer_segment_id=by_hand.id)
        )
        session.add(
            CustomerSegmentMembership(customer_id=theirs.id, customer_segment_id=their_segment.id)
        )
        session.flush()
        scope_session_to_account(session, user.id)

        def check():
            session.flush()
            expected = {}
            for segment_id, score in session.execute(
                select(CustomerSegmentMembership.customer_segment_id, Customer.churn_risk_score)
                .join(Customer, Customer.id == CustomerSegmentMembership.customer_id)
                .where(Customer.user_id == user.id)
            ):
                expected.setdefault(segment_id, []).append(score)
            shown = {}
            for stats in segment_service.segment_stats(session):
                scores = expected.get(stats.segment.id, [])
                known = [s for s in scores if s is not None]
                assert stats.members == len(scores), stats.segment.name
                average = sum(known) / len(known) if known else None
                assert stats.average_risk == pytest.approx(average), stats.segment.name
                assert segment_service.stats_of(session, stats.segment) == stats
                shown[stats.segment.name] = (stats.members, stats.average_risk)
            return shown

        assert check()["By hand"] == (1, 10.0)
        assert check()["Goes away"] == (0, None)
        customer_service.add_to_segment(session, by_hand, [c.id for c in made[1:4]])
        customer_service.add_to_segment(session, gone, [c.id for c in made])
        criteria_service.apply_criteria(
            session, risky, parse_criteria({"rules": [RISKY_RULE]}), automatic=True
        )
        assert check()["Risky"] == (2, 81.125)
        made[4].churn_risk_score = 20.0  # leaves "Risky" at the next refresh
        session.execute(
            update(Customer).where(Customer.id == made[3].id).values(churn_risk_score=80.0)
        )
        check()
        criteria_service.refresh_segment(session, risky)
        assert check()["Risky"] == (2, 76.125)
        rescore(session, user.id)  # every score rewritten by the database
        criteria_service.refresh_segment(session, risky)
        check()
        customer_service.remove_from_segment(session, by_hand, [made[1].id])
        session.delete(session.get(CustomerSegmentMembership, (made[2].id, by_hand.id)))
        check()
        customer_service.delete_customers(session, [made[0].id])  # the table's delete
        session.delete(made[5])  # an ORM delete
        session.execute(delete(Customer).where(Customer.id == made[3].id))  # a bulk one
        check()
        session.delete(gone)
        session.delete(session.get(User, rival.id))
        shown = check()
        assert set(shown) == {"By hand", "Risky"}
