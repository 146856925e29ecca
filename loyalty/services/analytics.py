"""Churn-risk analytics for the dashboard and the API: a handful of aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.domain.bands import RISK_BANDS, band_counts, decile_counts
from loyalty.domain.scoring import NOT_ACTIVITY_EVENT_TYPES
from loyalty.domain.surveys import nps_from_counts
from loyalty.models import (
    Customer,
    EngagementDay,
    NpsDay,
    ScoreCount,
    ScoreSnapshot,
    SurveyResponse,
    User,
)
from loyalty.services.scoring import risk_of
from loyalty.services.segments import segment_stats
from loyalty.types import utcnow

AT_RISK_LIMIT = 10
UNSCORED = -1  # the whole score under which score_counts keeps customers not scored yet
TREND_WEEKS = 12
DECILES = 10


@dataclass
class AtRisk:
    """A customer near the top of the risk list, with why and what to do."""

    id: str
    name: str
    external_customer_id: str
    score: float
    reason: str
    action: str
    knows_nothing: bool = False  # the score is a placeholder: no event, no answer yet


@dataclass
class ChurnAnalytics:
    """The account's churn picture."""

    customer_count: int
    scored_count: int
    average_score: float | None
    bands: list[dict]
    deciles: list[dict]
    segments: list[dict]
    most_at_risk: list[AtRisk]
    weekly_average: list[dict] = field(default_factory=list)
    change_30_days: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The API's shape (camelCase, as the spec names fields)."""
        return {
            "customerCount": self.customer_count,
            "scoredCount": self.scored_count,
            "averageScore": _round(self.average_score),
            "bands": self.bands,
            "deciles": self.deciles,
            "segments": self.segments,
            "mostAtRisk": [
                {
                    "id": c.id,
                    "name": c.name,
                    "externalCustomerId": c.external_customer_id,
                    "churnRiskScore": c.score,
                    "topReason": c.reason,
                    "suggestedAction": c.action,
                }
                for c in self.most_at_risk
            ],
            "weeklyAverage": self.weekly_average,
            "change30Days": self.change_30_days,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def segment_breakdown(session: Session) -> list[dict]:
    """Each segment of the account with its member count and their average risk."""
    return [
        {
            "id": str(stats.segment.id),
            "name": stats.segment.name,
            "members": stats.members,
            "averageScore": _round(stats.average_risk),
        }
        for stats in segment_stats(session)
    ]


def churn_analytics(
    session: Session, account: User, *, with_segments: bool = True
) -> ChurnAnalytics:
    """Counts, averages, band and decile distributions, segments, top risks, trends.

    The dashboard shows no segments and leaves them out.
    """
    score = Customer.churn_risk_score
    # Customers per whole score (at most 102 rows with the unscored, kept by the database):
    # the count, average, bands and deciles all come from it.
    histogram: dict[int, int] = {}
    total = scored = 0
    score_sum = 0.0
    for whole, customers, bucket_sum in session.execute(
        select(ScoreCount.whole, ScoreCount.customers, ScoreCount.score_sum).where(
            ScoreCount.customers != 0
        )
    ):
        total += customers
        if whole != UNSCORED:
            histogram[whole] = customers
            scored += customers
            score_sum += bucket_sum
    average = score_sum / scored if scored else None

    bands = [
        {"band": name, "min": low, "max": high, "count": count}
        for (name, low, high), count in zip(
            RISK_BANDS, band_counts(histogram).values(), strict=True
        )
    ]
    deciles = [
        {"min": n * 10, "max": (n + 1) * 10, "count": count}
        for n, count in enumerate(decile_counts(histogram, DECILES))
    ]

    top = session.scalars(
        select(Customer)
        .where(score.is_not(None))
        .order_by(score.desc(), Customer.id.desc())
        .limit(AT_RISK_LIMIT)
    )
    most_at_risk = []
    for customer in top:
        risk = risk_of(customer, account)
        factors = risk.factors if risk else ()
        first = risk.top_factor if risk and risk.top_factor else (factors[0] if factors else None)
        most_at_risk.append(
            AtRisk(
                id=str(customer.id),
                name=customer.name,
                external_customer_id=customer.external_customer_id,
                score=customer.churn_risk_score,
                reason=first.reason if first else "",
                action=first.action if first else "",
                knows_nothing=customer.knows_nothing,
            )
        )

    today = utcnow().date()
    snapshots = list(
        session.execute(
            select(ScoreSnapshot.day, ScoreSnapshot.average_score, ScoreSnapshot.customer_count)
            .where(ScoreSnapshot.day >= today - timedelta(weeks=TREND_WEEKS))
            .order_by(ScoreSnapshot.day)
        )
    )
    return ChurnAnalytics(
        customer_count=total,
        scored_count=scored,
        average_score=float(average) if average is not None else None,
        bands=bands,
        deciles=deciles,
        segments=segment_breakdown(session) if with_segments else [],
        most_at_risk=most_at_risk,
        weekly_average=_weekly(snapshots),
        change_30_days=_change(snapshots, today, total, average),
    )


def _weekly(snapshots) -> list[dict]:
    """The last snapshot of each ISO week: how the average moved week by week."""
    weeks: dict[date, tuple] = {}
    for day, average, count in snapshots:
        monday = day - timedelta(days=day.weekday())
        weeks[monday] = (average, count)
    return [
        {"week": monday.isoformat(), "averageScore": _round(avg), "customerCount": count}
        for monday, (avg, count) in sorted(weeks.items())
    ]


def _change(snapshots, today: date, total: int, average) -> dict:
    """How the customer count and average risk moved since about 30 days ago."""
    past = [s for s in snapshots if s[0] <= today - timedelta(days=30)]
    if not past:
        return {"since": None, "customerCount": None, "averageScore": None}
    day, past_average, past_count = past[-1]
    return {
        "since": day.isoformat(),
        "customerCount": total - past_count,
        "averageScore": _round(float(average) - past_average)
        if average is not None and past_average is not None
        else None,
    }


def engagement_trend(session: Session, weeks: int = TREND_WEEKS) -> list[dict]:
    """The customers' activity (events that show them using the product) per 7-day window,
    the last one ending today (UTC).

    Read from the per-day counts the database keeps beside the events (`EngagementDay`):
    a few hundred small rows, whatever the number of events.
    """
    today = utcnow().date()
    first = today - timedelta(days=7 * weeks - 1)
    counts = [0] * weeks
    for day, events in session.execute(
        select(EngagementDay.day, func.sum(EngagementDay.events))
        .where(
            EngagementDay.day >= first,
            EngagementDay.day <= today,
            EngagementDay.event_type.not_in(NOT_ACTIVITY_EVENT_TYPES),
        )
        .group_by(EngagementDay.day)
    ):
        counts[(day - first).days // 7] += int(events)
    return [
        {"weekStart": (first + timedelta(weeks=n)).isoformat(), "events": count}
        for n, count in enumerate(counts)
    ]


@dataclass
class FeedbackSummary:
    """Recent NPS, its trend, and the latest comments."""

    nps: object
    previous_nps: object
    comments: list[dict]


FEEDBACK_DAYS = 90
LATEST_COMMENTS = 5


def feedback_summary(session: Session) -> FeedbackSummary:
    """NPS over the last 90 days against the 90 before, and the latest comments."""
    # NPS answers per day and score, kept by the database: the last FEEDBACK_DAYS UTC days
    # (today included) against the same number of days before them.
    recent_start = utcnow().date() - timedelta(days=FEEDBACK_DAYS - 1)
    recent = (NpsDay.day >= recent_start).label("recent")
    answers: dict[bool, dict[int, int]] = {True: {}, False: {}}
    for value, is_recent, count in session.execute(
        select(NpsDay.score, recent, func.sum(NpsDay.answers))
        .where(NpsDay.day >= recent_start - timedelta(days=FEEDBACK_DAYS))
        .group_by(NpsDay.score, recent)
    ):
        answers[bool(is_recent)][value] = count
    current = nps_from_counts(answers[True])
    previous = nps_from_counts(answers[False])
    kind = SurveyResponse.response["kind"].as_string()
    score = SurveyResponse.response["score"].as_integer()
    comment = SurveyResponse.response["comment"].as_string()
    latest = session.execute(
        select(Customer.id, Customer.name, kind, score, comment, SurveyResponse.submitted_at)
        .join(Customer, Customer.id == SurveyResponse.customer_id)
        .where(comment.is_not(None), comment != "")
        .order_by(SurveyResponse.submitted_at.desc())
        .limit(LATEST_COMMENTS)
    ).all()
    return FeedbackSummary(
        nps=current,
        previous_nps=previous,
        comments=[
            {"customer_id": cid, "name": name, "kind": k, "score": s, "comment": c, "at": at}
            for cid, name, k, s, c, at in latest
        ],
    )
