"""Bulk ingestion with QUEUE_RESCORES=1: events are written at once, scores by the worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    EngagementEvent,
    RescoreQueueItem,
)
from loyalty.services import rescore_queue, scoring, tokens
from loyalty.types import utcnow
from tests import factories


@pytest.fixture
def queued_app(make_app):
    return make_app(QUEUE_RESCORES=True)


@pytest.fixture
def account(queued_app):
    """An account with one quiet customer (scored) and an API token: (customer id, headers)."""
    with queued_app.app_context():
        user = factories.make_user(db.session)
        customer = factories.make_customer(
            db.session, user, external_customer_id="cus_1", signup_date=factories.days_ago(200)
        )
        scoring.rescore(db.session, user.id)
        _row, secret = tokens.create_token(db.session, user.id, "tests")
        db.session.commit()
        return customer.id, {"Authorization": f"Bearer {secret}"}


def score_of(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).churn_risk_score


def queued(app):
    with app.app_context():
        return list(db.session.scalars(select(RescoreQueueItem.customer_id)))


TROUBLE = [
    {"externalCustomerId": "cus_1", "eventType": kind, "eventDate": when}
    for kind, when in [
        ("cancellation_request", "2026-11-20T10:00:00Z"),
        ("payment_failed", "2026-11-21T10:00:00Z"),
        ("support_ticket", "2026-11-22T10:00:00Z"),
    ]
]


def test_events_are_written_at_once_and_scores_follow_from_the_worker(queued_app, account):
    customer_id, headers = account
    before = score_of(queued_app, customer_id)
    response = queued_app.test_client().post(
        "/api/events", json={"events": TROUBLE}, headers=headers
    )
    assert response.status_code == 201
    assert response.json["created"] == 3 and response.json["scores"] == "queued"
    assert score_of(queued_app, customer_id) == before  # not yet: the worker has not run
    assert queued(queued_app) == [customer_id]

    result = queued_app.test_cli_runner().invoke(args=["rescore-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Rescored 1 customers" in result.output
    assert queued(queued_app) == []
    after = score_of(queued_app, customer_id)
    with queued_app.app_context():  # the same score an inline rescore gives
        scoring.rescore(db.session, db.session.get(Customer, customer_id).user_id)
        assert db.session.get(Customer, customer_id).churn_risk_score == after
    assert after > before


def test_without_the_setting_ingestion_scores_in_the_request(make_app, account):
    customer_id, headers = account
    inline = make_app()
    before = score_of(inline, customer_id)
    response = inline.test_client().post("/api/events", json={"events": TROUBLE}, headers=headers)
    assert response.json["scores"] == "updated"
    assert score_of(inline, customer_id) > before
    assert queued(inline) == []


def test_a_customer_is_queued_once_and_keeps_their_place(queued_app, account):
    customer_id, headers = account
    client = queued_app.test_client()
    client.post("/api/events", json={"events": TROUBLE[:1]}, headers=headers)
    with queued_app.app_context():
        first = db.session.scalar(select(RescoreQueueItem.queued_at))
    client.post("/api/events", json={"events": TROUBLE[1:]}, headers=headers)
    with queued_app.app_context():
        rows = db.session.execute(select(RescoreQueueItem.customer_id, RescoreQueueItem.queued_at))
        assert rows.all() == [(customer_id, first)]
        assert rescore_queue.waiting(db.session) == (1, first)


def test_readyz_tells_monitoring_how_far_the_worker_is_behind(queued_app, account, make_app):
    customer_id, headers = account
    client = queued_app.test_client()
    assert client.get("/readyz").json["rescore_queue"] == {"waiting": 0, "oldest_seconds": 0}
    client.post("/api/events", json={"events": TROUBLE}, headers=headers)
    with queued_app.app_context():  # queued ten minutes ago, and not yet scored
        db.session.execute(
            update(RescoreQueueItem).values(queued_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 200  # a backlog is for alerts: serving goes on
    assert response.json["rescore_queue"]["waiting"] == 1
    assert 590 <= response.json["rescore_queue"]["oldest_seconds"] <= 700
    # Without the setting there is no queue to report.
    assert "rescore_queue" not in make_app().test_client().get("/readyz").json


def test_the_worker_takes_batches_oldest_first_and_skips_deleted_customers(queued_app):
    with queued_app.app_context():
        session = db.session
        user = factories.make_user(session)
        customers = [factories.make_customer(session, user) for _ in range(5)]
        for n, customer in enumerate(customers):
            rescore_queue.enqueue(session, user.id, [customer.id])
            session.execute(
                RescoreQueueItem.__table__.update()
                .where(RescoreQueueItem.customer_id == customer.id)
                .values(queued_at=factories.days_ago(10 - n))
            )
        session.delete(customers[0])
        session.commit()
        assert rescore_queue.rescore_queued(session, limit=2) == 2
        session.commit()
        left = set(session.scalars(select(RescoreQueueItem.customer_id)))
        assert left == {c.id for c in customers[2:]}
        assert session.get(Customer, customers[1].id).churn_scored_at is not None
    result = queued_app.test_cli_runner().invoke(args=["rescore-worker", "--once", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("Rescored 2 customers") == 1
    assert result.output.count("Rescored 1 customers") == 1
    assert queued(queued_app) == []


def test_import_events_scores_each_customer_once_at_the_end(make_app, tmp_path):
    app = make_app()
    with app.app_context():
        user = factories.make_user(db.session)
        customers = [
            factories.make_customer(db.session, user, signup_date=factories.days_ago(200))
            for _ in range(3)
        ]
        scoring.rescore(db.session, user.id)
        db.session.commit()
        before = {c.id: c.churn_risk_score for c in customers}
        email = user.email
        lines = ["externalCustomerId,eventType,eventDate"]
        for customer in customers:
            lines += [
                f"{customer.external_customer_id},cancellation_request,2026-11-20T10:00:00Z",
                f"{customer.external_customer_id},payment_failed,2026-11-21T10:00:00Z",
            ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines) + "\n")
    result = app.test_cli_runner().invoke(args=["import-events", str(path), "--email", email])
    assert result.exit_code == 0, result.output
    assert "Imported 6 events" in result.output
    with app.app_context():
        for customer in customers:
            assert db.session.get(Customer, customer.id).churn_risk_score > before[customer.id]
    assert queued(app) == []


def test_queued_events_keep_their_details_exactly(queued_app, account):
    """COPY's text format escapes tabs, newlines and backslashes: none may leak through."""
    customer_id, headers = account
    details = {"note": "tab\there\nnew line \\ back\\nslash \\N ünïcödé 🎉", "n": 1.5, "ok": None}
    response = queued_app.test_client().post(
        "/api/events",
        json={
            "events": [
                {
                    "externalCustomerId": "cus_1",
                    "eventType": "feature_used",
                    "eventDate": "2026-11-20T10:00:00+02:00",
                    "details": details,
                }
            ]
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json
    with queued_app.app_context():
        event = db.session.scalars(
            select(EngagementEvent).where(EngagementEvent.customer_id == customer_id)
        ).one()
        assert event.details == details
        assert event.event_date.isoformat() == "2026-11-20T08:00:00+00:00"


def test_the_worker_keeps_each_accounts_automatic_segments_to_its_own_customers(queued_app):
    at_risk = {"match": "all", "rules": [{"field": "churn_risk", "op": "above", "value": 70.0}]}
    with queued_app.app_context():
        session = db.session
        owners, segments, customers = [], [], []
        for _ in range(2):
            user = factories.make_user(session)
            customer = factories.make_customer(
                session, user, external_customer_id="cus_1", signup_date=factories.days_ago(200)
            )
            segment = CustomerSegment(
                user_id=user.id, name="At risk", criteria=at_risk, is_automatic=True
            )
            session.add(segment)
            owners.append(user.id)
            customers.append(customer.id)
            segments.append(segment)
        session.flush()
        segment_ids = [s.id for s in segments]
        for owner, customer_id in zip(owners, customers, strict=True):
            session.add_all(
                EngagementEvent(
                    user_id=owner,
                    customer_id=customer_id,
                    event_type=kind,
                    event_date=factories.days_ago(days),
                )
                for kind, days in [
                    ("login", 40),
                    ("cancellation_request", 3),
                    ("payment_failed", 2),
                ]
            )
            rescore_queue.enqueue(session, owner, [customer_id])
        session.commit()
        assert rescore_queue.rescore_queued(session) == 2
        session.commit()
        for segment_id, customer_id in zip(segment_ids, customers, strict=True):
            members = session.scalars(
                select(CustomerSegmentMembership.customer_id).where(
                    CustomerSegmentMembership.customer_segment_id == segment_id
                )
            ).all()
            assert members == [customer_id]
            assert session.get(Customer, customer_id).churn_risk_score >= 70


def test_the_customer_page_says_when_new_events_wait_to_be_scored(queued_app):
    with queued_app.app_context():
        user = factories.make_user(db.session)
        customer = factories.make_customer(db.session, user, external_customer_id="cus_1")
        _row, secret = tokens.create_token(db.session, user.id, "tests")
        db.session.commit()
        email, customer_id = user.email, customer.id
    browser = queued_app.test_client()
    browser.post("/login", data={"email": email, "password": factories.DEFAULT_PASSWORD})
    waiting_note = "new events are being scored"
    assert waiting_note not in browser.get(f"/customers/{customer_id}").text
    queued_app.test_client().post(
        "/api/events", json={"events": TROUBLE}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert waiting_note in browser.get(f"/customers/{customer_id}").text
    queued_app.test_cli_runner().invoke(args=["rescore-worker", "--once"])
    assert waiting_note not in browser.get(f"/customers/{customer_id}").text


def test_many_queued_customers_of_one_account_take_one_pass_over_it(queued_app, monkeypatch):
    monkeypatch.setattr(rescore_queue, "WHOLE_ACCOUNT", 3)
    with queued_app.app_context():
        session = db.session
        user = factories.make_user(session)
        customers = [factories.make_customer(session, user) for _ in range(4)]
        rescore_queue.enqueue(session, user.id, [c.id for c in customers[:3]])
        session.commit()
        assert rescore_queue.rescore_queued(session, limit=None, account_id=user.id) == 3
        session.commit()
        # The whole account was rescored (the fourth customer too) and the pass recorded.
        assert all(session.get(Customer, c.id).churn_scored_at for c in customers)
        assert session.get(type(user), user.id).scores_refreshed_at is not None
