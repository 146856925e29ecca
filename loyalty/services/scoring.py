"""Keeping churn scores current: one SQL statement scores and stores a whole account.

`rescore(session, account_id, now)` recomputes a whole account; `rescore(..., customer_ids)`
just the customers whose events or answers changed. Either way it is one UPDATE ... FROM:
1. one GROUP BY over the events gives every customer's counts for the scoring windows,
2. one window-function query gives each customer's latest NPS and satisfaction answer,
3. `_score` turns those facts into points with the weights of `loyalty.domain.scoring`,
4. the row keeps score, facts, freshness and lastEngagementDate.
A whole-account rescore writes only the rows whose score or facts moved, and records its
time on the account. The domain's `score_churn_risk` stays the reference: the reasons a page
shows are worded by it from the stored facts, and tests check that it gives the same score.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from loyalty.domain import scoring
from loyalty.domain.scoring import ChurnRisk, CustomerFacts
from loyalty.models import (
    Customer,
    EngagementDay,
    EngagementEvent,
    ScoreSnapshot,
    SurveyResponse,
    User,
)
from loyalty.services.segment_criteria import refresh_automatic_segments
from loyalty.types import IdList, among_ids, greatest, iso_timestamp, json_object, least, utcnow


def _count_where(*conditions):
    return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)


def _event_aggregates(account_id: uuid.UUID, now: datetime, customer_ids):
    e = EngagementEvent
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    engaged = e.event_type.not_in(scoring.NON_CUSTOMER_EVENT_TYPES)
    active = e.event_type.not_in(scoring.NOT_ACTIVITY_EVENT_TYPES)
    recent_start = days(scoring.RECENT_DAYS)
    previous_start = days(scoring.RECENT_DAYS + scoring.PREVIOUS_DAYS)
    statement = (
        select(
            e.customer_id,
            func.count().label("event_count"),
            func.max(case((engaged, e.event_date))).label("last_engagement"),
            func.max(case((e.event_type == "login", e.event_date))).label("last_login"),
            _count_where(active, e.event_date >= recent_start).label("recent_activity"),
            _count_where(active, e.event_date >= previous_start, e.event_date < recent_start).label(
                "previous_activity"
            ),
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
        statement = statement.where(among_ids(e.customer_id, customer_ids))
    return statement


def _latest_answers(account_id: uuid.UUID, now: datetime, customer_ids):
    r = SurveyResponse
    kind = r.response["kind"].as_string()
    ranked = select(
        r.customer_id,
        kind.label("kind"),
        r.response["score"].as_integer().label("score"),
        func.row_number()
        # Answers given at one instant: the later id, as segment criteria choose.
        .over(partition_by=(r.customer_id, kind), order_by=(r.submitted_at.desc(), r.id.desc()))
        .label("rank"),
    ).where(
        r.user_id == account_id,
        r.submitted_at >= now - timedelta(days=scoring.ANSWER_WINDOW_DAYS),
        r.submitted_at <= now,
        kind.in_(("nps", "satisfaction")),
        r.response["score"].as_string().is_not(None),
    )
    if customer_ids is not None:
        ranked = ranked.where(among_ids(r.customer_id, customer_ids))
    ranked = ranked.subquery()
    return select(ranked.c.customer_id, ranked.c.kind, ranked.c.score).where(ranked.c.rank == 1)


def _logins_tracked(account_id: uuid.UUID, now: datetime):
    """1 when the account has logins recorded on or before today (UTC), else 0.

    Read from the per-day counts, so an account that sends no logins costs a few hundred
    index entries, not a scan of its events."""
    d = EngagementDay
    recorded = exists().where(
        d.user_id == account_id, d.event_type == "login", d.day <= now.date(), d.events > 0
    )
    return case((recorded, 1), else_=0)


def logins_tracked(session: Session, account_id: uuid.UUID, now: datetime) -> bool:
    """Whether the account records logins (scoring's `CustomerFacts.logins_tracked`)."""
    return bool(session.scalar(select(_logins_tracked(account_id, now))))


def _facts(account_id: uuid.UUID, now: datetime, customer_ids: list[uuid.UUID] | None):
    """Each customer's scoring facts at `now`, one row per customer (a subquery)."""
    if customer_ids is not None:  # one parameter, used by each part
        customer_ids = bindparam("customer_ids", customer_ids, type_=IdList())
    c = Customer.__table__.alias("scored_customer")
    events = _event_aggregates(account_id, now, customer_ids).subquery("event_facts")
    latest = _latest_answers(account_id, now, customer_ids).subquery("latest_answer")
    answers = (
        select(
            latest.c.customer_id,
            func.max(case((latest.c.kind == "nps", latest.c.score))).label("latest_nps"),
            func.max(case((latest.c.kind == "satisfaction", latest.c.score))).label(
                "latest_satisfaction"
            ),
        )
        .group_by(latest.c.customer_id)
        .subquery("answer_facts")
    )
    statement = (
        select(
            c.c.id,
            c.c.signup_date,
            events.c.last_engagement,
            events.c.last_login,
            *(func.coalesce(events.c[name], 0).label(name) for name in scoring.STORED_COUNTS),
            answers.c.latest_nps,
            answers.c.latest_satisfaction,
            _logins_tracked(account_id, now).label("logins_tracked"),
        )
        .select_from(
            c.outerjoin(events, events.c.customer_id == c.c.id).outerjoin(
                answers, answers.c.customer_id == c.c.id
            )
        )
        .where(c.c.user_id == account_id)
    )
    if customer_ids is not None:
        statement = statement.where(among_ids(c.c.id, customer_ids))
    return statement.subquery("facts")


def _stored(column):
    """A fact as the domain's `stored_facts` writes it (timestamps as fixed ISO text)."""
    return iso_timestamp(column) if column.name == "last_login" else column


def _points(condition, points: int):
    return case((condition, points), else_=0)


def _score(f, now: datetime):
    """`score_churn_risk` as a SQL expression over the columns of `_facts`.

    Day counts become date bounds: "more than N days since t" is t <= now - (N + 1) days,
    because the domain counts whole days. A test compares this with the domain on random data.
    """
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    is_new = f.signup_date > days(scoring.NEW_CUSTOMER_DAYS)
    recency = case(
        (
            is_new,
            _points(
                func.coalesce(f.last_engagement, f.signup_date)
                <= days(scoring.NEW_CUSTOMER_QUIET_DAYS),
                scoring.NEW_CUSTOMER_QUIET_POINTS,
            ),
        ),
        (f.last_engagement.is_(None), scoring.INACTIVE_DAYS_STEPS[0][1]),
        *(
            (f.last_engagement <= days(threshold + 1), points)
            for threshold, points in scoring.INACTIVE_DAYS_STEPS
        ),
        else_=0,
    )
    no_login = _points(
        and_(
            ~is_new,
            f.event_count > 0,
            f.logins_tracked == 1,
            or_(f.last_login.is_(None), f.last_login <= days(scoring.NO_LOGIN_DAYS + 1)),
        ),
        scoring.NO_LOGIN_POINTS,
    )
    trend = case(
        (
            and_(
                f.previous_activity >= scoring.TREND_MIN_EVENTS,
                f.recent_activity < f.previous_activity * scoring.TREND_DROP_RATIO,
            ),
            scoring.TREND_DROP_POINTS,
        ),
        (
            and_(
                f.previous_activity > 0,
                f.recent_activity >= scoring.TREND_MIN_EVENTS,
                f.recent_activity >= f.previous_activity * scoring.TREND_GROWTH_RATIO,
            ),
            scoring.TREND_GROWTH_POINTS,
        ),
        (f.recent_activity >= scoring.HEALTHY_ACTIVITY, scoring.HEALTHY_ACTIVITY_POINTS),
        else_=0,
    )
    support = case(
        (f.support_tickets >= scoring.SUPPORT_TICKETS_MANY, scoring.SUPPORT_MANY_POINTS),
        (f.support_tickets >= scoring.SUPPORT_TICKETS_SOME, scoring.SUPPORT_SOME_POINTS),
        else_=0,
    )
    payment = case(
        (
            f.payment_failures * scoring.PAYMENT_FAILURE_POINTS
            > scoring.PAYMENT_FAILURE_MAX_POINTS,
            scoring.PAYMENT_FAILURE_MAX_POINTS,
        ),
        else_=f.payment_failures * scoring.PAYMENT_FAILURE_POINTS,
    )
    answers = case(
        (f.latest_nps <= 6, scoring.NPS_DETRACTOR_POINTS),
        (f.latest_nps >= 9, scoring.NPS_PROMOTER_POINTS),
        else_=0,
    ) + case(
        (f.latest_satisfaction <= 2, scoring.SATISFACTION_LOW_POINTS),
        (f.latest_satisfaction >= 5, scoring.SATISFACTION_HIGH_POINTS),
        else_=0,
    )
    raw = (
        scoring.BASE_SCORE
        + recency
        + no_login
        + trend
        + support
        + payment
        + _points(f.cancellation_requests > 0, scoring.CANCELLATION_REQUEST_POINTS)
        + _points(f.downgrades > 0, scoring.DOWNGRADE_POINTS)
        + _points(f.upgrades > 0, scoring.UPGRADE_POINTS)
        + answers
    )
    insufficient = and_(f.event_count == 0, f.latest_nps.is_(None), f.latest_satisfaction.is_(None))
    return case(
        (insufficient, scoring.INSUFFICIENT_DATA_SCORE),
        else_=greatest(0, least(100, raw)),
    )


_FACT_FIELDS = (
    "signup_date",
    "last_engagement",
    *(name for name in scoring.STORED_FACTS if name != "logins_tracked"),
)


def compute_facts(
    session: Session,
    account_id: uuid.UUID,
    now: datetime,
    customer_ids: Iterable[uuid.UUID] | None = None,
) -> dict[uuid.UUID, CustomerFacts]:
    """Each customer's facts at `now`, as the domain sees them (nothing is written)."""
    ids = list(customer_ids) if customer_ids is not None else None
    f = _facts(account_id, now, ids)
    return {
        row.id: CustomerFacts(
            **{name: getattr(row, name) for name in _FACT_FIELDS},
            logins_tracked=row.logins_tracked == 1,
        )
        for row in session.execute(select(f))
    }


def rescore(
    session: Session,
    account_id: uuid.UUID,
    now: datetime | None = None,
    customer_ids: Iterable[uuid.UUID] | None = None,
) -> int:
    """Recompute and store the scores of an account (or of some of its customers).

    Returns how many customers' scores were written: for a whole account, those whose
    score or facts changed; for named customers, all of them (their freshness moves).
    """
    now = now or utcnow()
    ids = list(customer_ids) if customer_ids is not None else None
    if ids is not None and _login_tracking_changed(session, account_id, now, ids):
        ids = None  # the account's first login (or its last one gone) changes every score
    f = _facts(account_id, now, ids)
    scored = select(
        f.c.id,
        _score(f.c, now).label("score"),
        f.c.last_engagement,
        json_object(
            *(
                part
                for name in scoring.STORED_FACTS
                for part in (literal_column(f"'{name}'"), _stored(f.c[name]))
            )
        ).label("facts"),
    ).subquery("scored")
    table = Customer.__table__
    statement = (
        update(table)
        .where(table.c.id == scored.c.id, table.c.user_id == account_id)
        .values(
            churn_risk_score=scored.c.score,
            churn_risk_facts=scored.c.facts,
            churn_scored_at=now,
            last_engagement_date=scored.c.last_engagement,
            updated_at=table.c.updated_at,  # a new score is not an edit of the customer
        )
    )
    if ids is None:
        statement = statement.where(
            or_(
                table.c.churn_risk_score.is_distinct_from(scored.c.score),
                table.c.churn_risk_facts.is_distinct_from(scored.c.facts),
                table.c.last_engagement_date.is_distinct_from(scored.c.last_engagement),
            )
        )
    if ids is None and session.get_bind().dialect.name == "postgresql":
        # The aggregates hash 100,000 customers: give them memory instead of temp files.
        # (Not for some customers: theirs fit, and with that much memory PostgreSQL would
        # hash a whole table where a few thousand lookups by key are quicker.)
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    written = session.execute(statement).rowcount
    if ids is None:
        session.execute(update(User).where(User.id == account_id).values(scores_refreshed_at=now))
        record_snapshot(session, account_id, now)
    # Scores and recency feed segment criteria: automatic segments follow at once.
    refresh_automatic_segments(session, account_id, ids)
    session.expire_all()
    return written


LOGIN_FLAG_SAMPLE = 20


def _login_tracking_changed(
    session: Session, account_id: uuid.UUID, now: datetime, customer_ids: list[uuid.UUID]
) -> bool:
    """Whether these customers were scored while the account did (or did not) record logins
    and that has since changed: the login rule then changes for every customer.

    Every score of an account is stored with the same flag (a change rescores them all), so
    a few of the customers tell: the first ones, out of a batch that can hold a thousand.
    Facts stored before the flag existed read as "tracked"."""
    stored = func.coalesce(Customer.churn_risk_facts["logins_tracked"].as_integer(), 1)
    changed = exists().where(
        Customer.user_id == account_id,
        Customer.id.in_(customer_ids[:LOGIN_FLAG_SAMPLE]),
        Customer.churn_risk_facts.is_not(None),
        stored != _logins_tracked(account_id, now),
    )
    return bool(session.scalar(select(changed)))


def first_score(now: datetime, logins_tracked: bool) -> dict:
    """The score columns of a customer with no history yet: what a rescore would store."""
    return {
        "churn_risk_score": float(scoring.INSUFFICIENT_DATA_SCORE),
        "churn_risk_facts": scoring.no_history_facts(logins_tracked),
        "churn_scored_at": now,
    }


def risk_of(customer: Customer, account: User | None) -> ChurnRisk | None:
    """The customer's stored score explained: reasons and next steps, as of when it was scored.

    A whole-account rescore leaves unchanged rows alone, so a score is as fresh as the later
    of its own time and the account's last full rescore.
    """
    return scoring.explain_stored(
        customer.churn_risk_facts,
        customer.signup_date,
        customer.last_engagement_date,
        scored_as_of(customer, account),
    )


def scored_as_of(customer: Customer, account: User | None) -> datetime | None:
    """When the customer's current score was (or was confirmed) computed."""
    if customer.churn_scored_at is None:
        return None
    refreshed = account.scores_refreshed_at if account is not None else None
    return max(customer.churn_scored_at, refreshed or customer.churn_scored_at)


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
