"""Keeping churn scores current, set-based: a few aggregate statements, then one bulk write.

`rescore(session, account_id, now)` recomputes a whole account; `rescore(..., customer_ids)`
just the customers whose events or answers changed. Either way the steps are the same:
1. one GROUP BY over the events gives every customer's counts for the scoring windows,
2. one window-function query gives each customer's latest NPS and satisfaction answer,
3. the domain scores each customer (plain Python, no I/O),
4. one bulk write stores score, reasons, freshness and lastEngagementDate.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, delete, func, select, text, update
from sqlalchemy.orm import Session

from loyalty.domain import scoring
from loyalty.domain.scoring import CustomerFacts, factors_to_json, score_churn_risk
from loyalty.models import (
    Customer,
    EngagementEvent,
    ScoreSnapshot,
    SurveyResponse,
)
from loyalty.services.segment_criteria import refresh_automatic_segments
from loyalty.types import utcnow

WRITE_BATCH = 5000


def _count_where(*conditions):
    return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)


def _event_aggregates(account_id: uuid.UUID, now: datetime, customer_ids):
    e = EngagementEvent
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    engaged = e.event_type.not_in(scoring.NON_CUSTOMER_EVENT_TYPES)
    recent_start = days(scoring.RECENT_DAYS)
    previous_start = days(scoring.RECENT_DAYS + scoring.PREVIOUS_DAYS)
    statement = (
        select(
            e.customer_id,
            func.count().label("event_count"),
            func.max(case((engaged, e.event_date))).label("last_engagement"),
            func.max(case((e.event_type == "login", e.event_date))).label("last_login"),
            _count_where(engaged, e.event_date >= recent_start).label("recent_activity"),
            _count_where(
                engaged, e.event_date >= previous_start, e.event_date < recent_start
            ).label("previous_activity"),
            _count_where(e.event_type == "login", e.event_date >= recent_start).label(
                "recent_logins"
            ),
            _count_where(
                e.event_type == "support_ticket", e.event_date >= days(scoring.SUPPORT_WINDOW_DAYS)
            ).label("support_tickets"),
            _count_where(
                e.event_type == "payment_failed", e.event_date >= days(scoring.PAYMENT_WINDOW_DAYS)
            ).label("payment_failures"),
            _count_where(
                e.event_type == "downgrade", e.event_date >= days(scoring.PLAN_CHANGE_WINDOW_DAYS)
            ).label("downgrades"),
            _count_where(
                e.event_type == "upgrade", e.event_date >= days(scoring.PLAN_CHANGE_WINDOW_DAYS)
            ).label("upgrades"),
            _count_where(
                e.event_type == "cancellation_request",
                e.event_date >= days(scoring.PLAN_CHANGE_WINDOW_DAYS),
            ).label("cancellation_requests"),
        )
        # Events dated after `now` are not history yet.
        .where(e.user_id == account_id, e.event_date <= now)
        .group_by(e.customer_id)
    )
    if customer_ids is not None:
        statement = statement.where(e.customer_id.in_(customer_ids))
    return statement


def _latest_answers(account_id: uuid.UUID, now: datetime, customer_ids):
    r = SurveyResponse
    kind = r.response["kind"].as_string()
    ranked = select(
        r.customer_id,
        kind.label("kind"),
        r.response["score"].as_integer().label("score"),
        func.row_number()
        .over(partition_by=(r.customer_id, kind), order_by=r.submitted_at.desc())
        .label("rank"),
    ).where(
        r.user_id == account_id,
        r.submitted_at <= now,
        kind.in_(("nps", "satisfaction")),
        r.response["score"].as_string().is_not(None),
    )
    if customer_ids is not None:
        ranked = ranked.where(r.customer_id.in_(customer_ids))
    ranked = ranked.subquery()
    return select(ranked.c.customer_id, ranked.c.kind, ranked.c.score).where(ranked.c.rank == 1)


def compute_scores(
    session: Session,
    account_id: uuid.UUID,
    now: datetime,
    customer_ids: Iterable[uuid.UUID] | None = None,
) -> dict[uuid.UUID, tuple[scoring.ChurnRisk, datetime | None]]:
    """Each customer's risk at `now`, from set-based aggregates (nothing is written)."""
    ids = list(customer_ids) if customer_ids is not None else None
    customers = select(Customer.id, Customer.signup_date).where(Customer.user_id == account_id)
    if ids is not None:
        customers = customers.where(Customer.id.in_(ids))
    signups = dict(session.execute(customers).all())

    aggregates = {
        row.customer_id: row for row in session.execute(_event_aggregates(account_id, now, ids))
    }
    answers: dict[uuid.UUID, dict[str, int]] = {}
    for customer_id, kind, score in session.execute(_latest_answers(account_id, now, ids)):
        answers.setdefault(customer_id, {})[kind] = score

    results = {}
    for customer_id, signup in signups.items():
        row = aggregates.get(customer_id)
        answer = answers.get(customer_id, {})
        facts = CustomerFacts(
            signup_date=signup,
            last_engagement=row.last_engagement if row else None,
            last_login=row.last_login if row else None,
            event_count=row.event_count if row else 0,
            recent_activity=int(row.recent_activity) if row else 0,
            previous_activity=int(row.previous_activity) if row else 0,
            recent_logins=int(row.recent_logins) if row else 0,
            support_tickets=int(row.support_tickets) if row else 0,
            payment_failures=int(row.payment_failures) if row else 0,
            downgrades=int(row.downgrades) if row else 0,
            upgrades=int(row.upgrades) if row else 0,
            cancellation_requests=int(row.cancellation_requests) if row else 0,
            latest_nps=answer.get("nps"),
            latest_satisfaction=answer.get("satisfaction"),
        )
        results[customer_id] = (score_churn_risk(facts, now), facts.last_engagement)
    return results


def rescore(
    session: Session,
    account_id: uuid.UUID,
    now: datetime | None = None,
    customer_ids: Iterable[uuid.UUID] | None = None,
) -> int:
    """Recompute and store the scores of an account (or of some of its customers)."""
    now = now or utcnow()
    scores = compute_scores(session, account_id, now, customer_ids)
    rows = [
        {
            "cid": customer_id,
            "score": float(risk.score),
            "factors": factors_to_json(risk),
            "scored_at": now,
            "last_engagement": last_engagement,
        }
        for customer_id, (risk, last_engagement) in scores.items()
    ]
    _write_scores(session, rows)
    if customer_ids is None:
        record_snapshot(session, account_id, now)
    # Scores and recency feed segment criteria: automatic segments follow at once.
    refresh_automatic_segments(session, account_id, customer_ids)
    session.expire_all()
    return len(rows)


_PG_SCORE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS score_stage (
    cid uuid PRIMARY KEY, score double precision, factors jsonb,
    scored_at timestamptz, last_engagement timestamptz
) ON COMMIT DROP
"""

_PG_APPLY_SCORES = """
UPDATE customers c
   SET churn_risk_score = s.score, churn_risk_factors = s.factors,
       churn_scored_at = s.scored_at, last_engagement_date = s.last_engagement
  FROM score_stage s
 WHERE c.id = s.cid
"""


def _write_scores(session: Session, rows: list[dict]) -> None:
    """Store scores in bulk: COPY + one UPDATE on PostgreSQL, batched updates elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text(_PG_SCORE_STAGE))
        connection.execute(text("TRUNCATE score_stage"))
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(
            "COPY score_stage (cid, score, factors, scored_at, last_engagement) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(
                    (
                        row["cid"],
                        row["score"],
                        json.dumps(row["factors"]),
                        row["scored_at"],
                        row["last_engagement"],
                    )
                )
        connection.execute(text(_PG_APPLY_SCORES))
        connection.execute(text("TRUNCATE score_stage"))
        return
    table = Customer.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("cid"))
        .values(
            churn_risk_score=bindparam("score"),
            churn_risk_factors=bindparam("factors", type_=table.c.churn_risk_factors.type),
            churn_scored_at=bindparam("scored_at", type_=table.c.churn_scored_at.type),
            last_engagement_date=bindparam(
                "last_engagement", type_=table.c.last_engagement_date.type
            ),
        )
    )
    for start in range(0, len(rows), WRITE_BATCH):
        connection.execute(statement, rows[start : start + WRITE_BATCH])


def record_snapshot(session: Session, account_id: uuid.UUID, now: datetime) -> None:
    """Remember today's customer count and average risk (dashboard trends read these)."""
    high_low, _ = scoring.band_bounds("high")
    count, average, high = session.execute(
        select(
            func.count(Customer.id),
            func.avg(Customer.churn_risk_score),
            func.coalesce(func.sum(case((Customer.churn_risk_score >= high_low, 1), else_=0)), 0),
        ).where(Customer.user_id == account_id)
    ).one()
    day = now.date()
    session.execute(
        delete(ScoreSnapshot).where(ScoreSnapshot.user_id == account_id, ScoreSnapshot.day == day)
    )
    session.add(
        ScoreSnapshot(
            user_id=account_id,
            day=day,
            customer_count=count,
            average_score=float(average) if average is not None else None,
            high_risk_count=int(high),
        )
    )
    session.flush()
