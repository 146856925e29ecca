"""Explainable churn-risk scoring: facts about a customer in, a 0-100 score and its reasons out.

The database side (loyalty/services/scoring.py) aggregates each customer's events into
`CustomerFacts` with a few set-based statements, over exactly the windows defined here,
and calls `score_churn_risk` for each. Every factor carries the points it adds, a sentence
a person understands, and a suggested next step that is personal engagement, never a
discount.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from loyalty.domain.bands import BAND_LABELS, RISK_BANDS, band_bounds, risk_band

# Bands live in bands.py; re-exported so callers find every scoring rule here.
__all__ = ["BAND_LABELS", "RISK_BANDS", "band_bounds", "risk_band"]

# ---------------------------------------------------------------------------------------
# Event types
# ---------------------------------------------------------------------------------------
STANDARD_EVENT_TYPES = (
    "login",
    "feature_used",
    "purchase",
    "support_ticket",
    "payment_failed",
    "downgrade",
    "upgrade",
    "cancellation_request",
    "note",
)
EVENT_TYPE_LABELS = {
    "login": "Login",
    "feature_used": "Feature used",
    "purchase": "Purchase",
    "support_ticket": "Support ticket",
    "payment_failed": "Payment failed",
    "downgrade": "Downgrade",
    "upgrade": "Upgrade",
    "cancellation_request": "Cancellation request",
    "note": "Note",
    "survey_response": "Survey answer",
}
# Things that happen *to* a customer or are written *about* them: they say nothing of the
# customer's own engagement, so they do not move lastEngagementDate.
NON_CUSTOMER_EVENT_TYPES = frozenset({"payment_failed", "note"})
# Trouble the customer reports or acts on is contact (it moves lastEngagementDate), but not
# use of the product: counted as activity, a month of tickets and a cancellation request
# read as "activity grew" and took points off the risk they signal.
TROUBLE_EVENT_TYPES = frozenset({"support_ticket", "downgrade", "cancellation_request"})
# What the activity factors (trend, an active month) and the dashboard's weekly chart leave out.
NOT_ACTIVITY_EVENT_TYPES = NON_CUSTOMER_EVENT_TYPES | TROUBLE_EVENT_TYPES
EVENT_TYPE_MAX_LENGTH = 50
_EVENT_TYPE_PATTERN = re.compile(r"^[a-z0-9_]+$")


def normalize_event_type(text: str) -> str:
    """'Feature Used' -> 'feature_used'; raises ValueError with a readable message."""
    value = re.sub(r"[\s\-]+", "_", (text or "").strip().lower())
    if not value:
        raise ValueError("Choose or type an event type.")
    if len(value) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError(f"Event types have at most {EVENT_TYPE_MAX_LENGTH} characters.")
    if not _EVENT_TYPE_PATTERN.match(value):
        raise ValueError("Use letters, digits and underscores only, like trial_started.")
    return value


def is_customer_initiated(event_type: str) -> bool:
    """True for events that show the customer engaging (custom types count)."""
    return event_type not in NON_CUSTOMER_EVENT_TYPES


def is_activity(event_type: str) -> bool:
    """True for events that show the customer using the product (custom types count)."""
    return event_type not in NOT_ACTIVITY_EVENT_TYPES


def event_type_label(event_type: str) -> str:
    """A readable name for an event type."""
    return EVENT_TYPE_LABELS.get(event_type) or event_type.replace("_", " ").capitalize()


# ---------------------------------------------------------------------------------------
# Windows (SQL counts events with now - N days <= event_date <= now)
# ---------------------------------------------------------------------------------------
RECENT_DAYS = 30  # "recent activity": a month is one billing cycle for most subscriptions
PREVIOUS_DAYS = 30  # the month before, to see the trend
SUPPORT_WINDOW_DAYS = 30
PAYMENT_WINDOW_DAYS = 60  # dunning usually runs a few weeks; two months catches repeats
PLAN_CHANGE_WINDOW_DAYS = 90  # a downgrade or cancellation request stays a warning for a quarter
# The latest NPS and satisfaction answers of the last year count: surveys go out a few times a
# year, and a detractor of two years ago is not a reason to call them today.
ANSWER_WINDOW_DAYS = 365

# ---------------------------------------------------------------------------------------
# Weights: points added to (or taken from) the score. Each is a product decision.
# ---------------------------------------------------------------------------------------
BASE_SCORE = 20  # an engaged, unremarkable customer still carries some risk
INSUFFICIENT_DATA_SCORE = 50  # nothing known: neither safe nor alarming, flagged as such

# Silence is the strongest early signal: the longer, the worse.
INACTIVE_DAYS_STEPS = ((60, 35), (30, 25), (14, 10))  # (more than N days, points)
# No login while still using other channels still matters, but less.
NO_LOGIN_DAYS = 21
NO_LOGIN_POINTS = 10
# Activity this month less than half of last month's: fading interest.
TREND_DROP_RATIO = 0.5
TREND_DROP_POINTS = 15
# Below this many events a month, a change is noise: a drop needs them last month, growth
# this month (from 1 to 2 events is not a customer warming up).
TREND_MIN_EVENTS = 4
TREND_GROWTH_RATIO = 1.5
TREND_GROWTH_POINTS = -10
# Repeated support trouble: one ticket is normal, three in a month is a pattern.
SUPPORT_TICKETS_SOME = 2
SUPPORT_TICKETS_MANY = 4
SUPPORT_SOME_POINTS = 8
SUPPORT_MANY_POINTS = 15
# Payment failures: involuntary churn is the easiest to prevent.
PAYMENT_FAILURE_POINTS = 10
PAYMENT_FAILURE_MAX_POINTS = 20
DOWNGRADE_POINTS = 15
CANCELLATION_REQUEST_POINTS = 35  # the customer said it out loud
UPGRADE_POINTS = -15
# Survey answers: the customer's own words weigh a lot.
NPS_DETRACTOR_POINTS = 20  # 0-6
NPS_PROMOTER_POINTS = -15  # 9-10
SATISFACTION_LOW_POINTS = 15  # 1-2 of 5
SATISFACTION_HIGH_POINTS = -10  # 5 of 5
# Brand-new customers are onboarding, not lapsing.
NEW_CUSTOMER_DAYS = 14
NEW_CUSTOMER_QUIET_POINTS = 10  # new and silent for a week: onboarding may be stuck
NEW_CUSTOMER_QUIET_DAYS = 7
HEALTHY_ACTIVITY = 8  # activity events (`is_activity`) in the last month: plainly "active"
HEALTHY_ACTIVITY_POINTS = -10


@dataclass(frozen=True)
class CustomerFacts:
    """What SQL can aggregate cheaply about one customer (counts over the windows above)."""

    signup_date: datetime | None = None
    last_engagement: datetime | None = None
    last_login: datetime | None = None
    event_count: int = 0
    recent_activity: int = 0
    previous_activity: int = 0
    recent_logins: int = 0
    support_tickets: int = 0
    payment_failures: int = 0
    downgrades: int = 0
    upgrades: int = 0
    cancellation_requests: int = 0
    latest_nps: int | None = None
    latest_satisfaction: int | None = None
    # Whether the account records logins at all. Many send only purchases, tickets or
    # product events: then "has never logged in" would be said of every customer.
    logins_tracked: bool = True


@dataclass(frozen=True)
class Factor:
    """One reason behind a score: its points, in words, and what to do about it."""

    code: str
    points: int
    reason: str
    action: str


@dataclass(frozen=True)
class ChurnRisk:
    """A score from 0 (safe) to 100 (about to leave) and the factors that made it."""

    score: int
    factors: tuple[Factor, ...] = field(default_factory=tuple)
    insufficient_data: bool = False

    @property
    def band(self) -> str:
        """'low', 'medium' or 'high'."""
        return risk_band(self.score) or "low"

    @property
    def starting_score(self) -> int | None:
        """Where the score starts before its factors add or take points; None when nothing
        is known yet (the score is then INSUFFICIENT_DATA_SCORE, whatever the factors)."""
        return None if self.insufficient_data else BASE_SCORE

    @property
    def clamped(self) -> bool:
        """Whether the factors took the score past 0 or 100, where it stops."""
        start = self.starting_score
        return start is not None and start + sum(f.points for f in self.factors) != self.score

    @property
    def top_factor(self) -> Factor | None:
        """The factor that raises the risk most, if any does."""
        raising = [f for f in self.factors if f.points > 0]
        return raising[0] if raising else None

    @property
    def next_action(self) -> str:
        """The suggested next step: the top risk's action, or keep up what works."""
        top = self.top_factor
        return top.action if top else KEEP_GOING_ACTION

    def action_for(self, factor: Factor) -> str | None:
        """The step to show beside a factor. A good sign has none while something raises the
        risk: a thank-you note or a referral request is the wrong call to someone leaving."""
        if factor.points < 0 and self.top_factor is not None:
            return None
        return factor.action


KEEP_GOING_ACTION = "Keep doing what works: a thank-you note or an invitation to share feedback."


def _days(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 86400))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _nothing_known(event_count: int, latest_nps, latest_satisfaction) -> bool:
    """No event and no survey answer: the score is INSUFFICIENT_DATA_SCORE, a placeholder."""
    return event_count <= 0 and latest_nps is None and latest_satisfaction is None


def knows_nothing(stored: Mapping | None) -> bool:
    """Whether a customer's stored facts (STORED_FACTS) say nothing is known about them, so
    their score is a placeholder to flag rather than show as a risk. False when not scored
    at all (None)."""
    if not stored:
        return False
    return _nothing_known(
        stored.get("event_count") or 0, stored.get("latest_nps"), stored.get("latest_satisfaction")
    )


def score_churn_risk(facts: CustomerFacts, now: datetime) -> ChurnRisk:
    """Score one customer at `now`, with every factor that moved the score."""
    if _nothing_known(facts.event_count, facts.latest_nps, facts.latest_satisfaction):
        return ChurnRisk(
            score=INSUFFICIENT_DATA_SCORE,
            factors=(
                Factor(
                    "insufficient_data",
                    0,
                    "No engagement recorded yet",
                    "Log their first touchpoint, or send a welcome check-in.",
                ),
            ),
            insufficient_data=True,
        )

    factors: list[Factor] = []
    tenure = _days(now - facts.signup_date) if facts.signup_date else None
    is_new = tenure is not None and tenure < NEW_CUSTOMER_DAYS
    # Dates after `now` (clock skew, typos) count as "just now", never as negative silence.
    since_engagement = _days(now - facts.last_engagement) if facts.last_engagement else None

    if is_new:
        quiet = since_engagement if since_engagement is not None else tenure
        if quiet is not None and quiet >= NEW_CUSTOMER_QUIET_DAYS:
            factors.append(
                Factor(
                    "onboarding_stalled",
                    NEW_CUSTOMER_QUIET_POINTS,
                    f"New customer, quiet for {_plural(quiet, 'day')}",
                    "Offer an onboarding session to get them to their first success.",
                )
            )
    elif since_engagement is None:
        factors.append(
            Factor(
                "never_engaged",
                INACTIVE_DAYS_STEPS[0][1],
                "Never engaged since signing up",
                "Call them: find out what they hoped for and help them get started.",
            )
        )
    else:
        for threshold, points in INACTIVE_DAYS_STEPS:
            if since_engagement > threshold:
                factors.append(
                    Factor(
                        "inactive",
                        points,
                        f"No activity in {_plural(since_engagement, 'day')}",
                        "Reach out with a personal check-in call or e-mail.",
                    )
                )
                break

    if not is_new and facts.event_count > 0 and facts.logins_tracked:
        since_login = _days(now - facts.last_login) if facts.last_login else None
        if since_login is None or since_login > NO_LOGIN_DAYS:
            reason = (
                "Has never logged in" if since_login is None else f"No login in {since_login} days"
            )
            factors.append(
                Factor(
                    "no_login",
                    NO_LOGIN_POINTS,
                    reason,
                    "Offer a short walkthrough of what is new since their last visit.",
                )
            )

    if (
        facts.previous_activity >= TREND_MIN_EVENTS
        and facts.recent_activity < facts.previous_activity * TREND_DROP_RATIO
    ):
        factors.append(
            Factor(
                "activity_drop",
                TREND_DROP_POINTS,
                f"Activity fell from {facts.previous_activity} to {facts.recent_activity} "
                "events month over month",
                "Ask what changed for them: a new team, a new priority, a missing feature?",
            )
        )
    elif (
        facts.previous_activity > 0
        and facts.recent_activity >= TREND_MIN_EVENTS
        and facts.recent_activity >= facts.previous_activity * TREND_GROWTH_RATIO
    ):
        factors.append(
            Factor(
                "activity_growth",
                TREND_GROWTH_POINTS,
                f"Activity grew from {facts.previous_activity} to {facts.recent_activity} "
                "events month over month",
                KEEP_GOING_ACTION,
            )
        )
    elif facts.recent_activity >= HEALTHY_ACTIVITY:
        factors.append(
            Factor(
                "active",
                HEALTHY_ACTIVITY_POINTS,
                f"Active: {facts.recent_activity} events in the last {RECENT_DAYS} days",
                KEEP_GOING_ACTION,
            )
        )

    if facts.support_tickets >= SUPPORT_TICKETS_SOME:
        points = (
            SUPPORT_MANY_POINTS
            if facts.support_tickets >= SUPPORT_TICKETS_MANY
            else SUPPORT_SOME_POINTS
        )
        factors.append(
            Factor(
                "support_trouble",
                points,
                f"{_plural(facts.support_tickets, 'support ticket')} in {SUPPORT_WINDOW_DAYS} days",
                "Escalate their open issues and follow up personally once they are fixed.",
            )
        )

    if facts.payment_failures > 0:
        factors.append(
            Factor(
                "payment_failed",
                min(PAYMENT_FAILURE_MAX_POINTS, PAYMENT_FAILURE_POINTS * facts.payment_failures),
                f"{_plural(facts.payment_failures, 'failed payment')} in "
                f"{PAYMENT_WINDOW_DAYS} days",
                "Contact them to update their payment details before access lapses.",
            )
        )

    if facts.cancellation_requests > 0:
        factors.append(
            Factor(
                "cancellation_request",
                CANCELLATION_REQUEST_POINTS,
                f"Asked to cancel in the last {PLAN_CHANGE_WINDOW_DAYS} days",
                "Call them today: listen to why, and offer help with what is not working.",
            )
        )
    if facts.downgrades > 0:
        factors.append(
            Factor(
                "downgrade",
                DOWNGRADE_POINTS,
                f"Downgraded in the last {PLAN_CHANGE_WINDOW_DAYS} days",
                "Review how they use the product and show the features they pay for.",
            )
        )
    if facts.upgrades > 0:
        factors.append(
            Factor(
                "upgrade",
                UPGRADE_POINTS,
                f"Upgraded in the last {PLAN_CHANGE_WINDOW_DAYS} days",
                "Welcome them to the new plan and help them use what it adds.",
            )
        )

    if facts.latest_nps is not None:
        if facts.latest_nps <= 6:
            factors.append(
                Factor(
                    "nps_detractor",
                    NPS_DETRACTOR_POINTS,
                    f"Gave an NPS of {facts.latest_nps} (detractor)",
                    "Reply personally to their feedback and close the loop on it.",
                )
            )
        elif facts.latest_nps >= 9:
            factors.append(
                Factor(
                    "nps_promoter",
                    NPS_PROMOTER_POINTS,
                    f"Gave an NPS of {facts.latest_nps} (promoter)",
                    "Thank them, and ask whether they would share a review or a referral.",
                )
            )
    if facts.latest_satisfaction is not None:
        if facts.latest_satisfaction <= 2:
            factors.append(
                Factor(
                    "low_satisfaction",
                    SATISFACTION_LOW_POINTS,
                    f"Rated satisfaction {facts.latest_satisfaction} of 5",
                    "Follow up personally on what disappointed them.",
                )
            )
        elif facts.latest_satisfaction >= 5:
            factors.append(
                Factor(
                    "high_satisfaction",
                    SATISFACTION_HIGH_POINTS,
                    "Rated satisfaction 5 of 5",
                    "Thank them, and ask what they value most.",
                )
            )

    raw = BASE_SCORE + sum(f.points for f in factors)
    ordered = tuple(sorted(factors, key=lambda f: (-abs(f.points), f.code)))
    return ChurnRisk(score=max(0, min(100, raw)), factors=ordered)


def factors_to_json(risk: ChurnRisk) -> list[dict]:
    """The factors as stored beside the score on the customer row."""
    return [
        {"code": f.code, "points": f.points, "reason": f.reason, "action": f.action}
        for f in risk.factors
    ]


# The facts stored beside a score (signup and last engagement are columns of their own).
STORED_FACTS = (
    "last_login",
    "event_count",
    "recent_activity",
    "previous_activity",
    "recent_logins",
    "support_tickets",
    "payment_failures",
    "downgrades",
    "upgrades",
    "cancellation_requests",
    "latest_nps",
    "latest_satisfaction",
    "logins_tracked",
)
# The window counts among them (the rest are a timestamp, the latest answers and a flag).
STORED_COUNTS = tuple(
    name
    for name in STORED_FACTS
    if name not in ("last_login", "latest_nps", "latest_satisfaction", "logins_tracked")
)


def stored_facts(facts: CustomerFacts) -> dict:
    """The facts as kept beside the score (what `facts_from_stored` reads back)."""
    stored = {}
    for name in STORED_FACTS:
        value = getattr(facts, name)
        if isinstance(value, datetime):  # fixed form: SQL writes the same text (`iso_timestamp`)
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        elif isinstance(value, bool):  # as SQL writes it, 1 or 0, on every database
            value = int(value)
        stored[name] = value
    return stored


def no_history_facts(logins_tracked: bool) -> dict:
    """What a rescore stores for a customer with no history yet, in an account that does
    (or does not) record logins."""
    return stored_facts(CustomerFacts(logins_tracked=logins_tracked))


def facts_from_history(
    signup_date: datetime | None,
    events: Iterable[tuple[str, datetime]],
    answers: Iterable[tuple[str, int, datetime]],
    now: datetime,
    logins_tracked: bool = True,
) -> CustomerFacts:
    """A customer's facts at `now` from their (type, date) events and (kind, score, date) answers,
    in an account that records logins (or not).

    The reference for the SQL aggregates in services/scoring.py (tests compare the two), and
    how generated demo customers are scored as they are made.
    """
    past = [(kind, when) for kind, when in events if when <= now]
    engaged = [when for kind, when in past if is_customer_initiated(kind)]
    active = [when for kind, when in past if is_activity(kind)]
    logins = [when for kind, when in past if kind == "login"]
    recent = now - timedelta(days=RECENT_DAYS)
    previous = now - timedelta(days=RECENT_DAYS + PREVIOUS_DAYS)
    windows = {
        "support_ticket": now - timedelta(days=SUPPORT_WINDOW_DAYS),
        "payment_failed": now - timedelta(days=PAYMENT_WINDOW_DAYS),
        "downgrade": now - timedelta(days=PLAN_CHANGE_WINDOW_DAYS),
        "upgrade": now - timedelta(days=PLAN_CHANGE_WINDOW_DAYS),
        "cancellation_request": now - timedelta(days=PLAN_CHANGE_WINDOW_DAYS),
    }
    counts = dict.fromkeys(windows, 0)
    for kind, when in past:
        if kind in windows and when >= windows[kind]:
            counts[kind] += 1

    latest: dict[str, tuple[datetime, int]] = {}
    answered_since = now - timedelta(days=ANSWER_WINDOW_DAYS)
    for kind, score, when in answers:
        if answered_since <= when <= now and kind in ("nps", "satisfaction"):
            if kind not in latest or when > latest[kind][0]:
                latest[kind] = (when, score)
    return CustomerFacts(
        signup_date=signup_date,
        last_engagement=max(engaged, default=None),
        last_login=max(logins, default=None),
        event_count=len(past),
        recent_activity=sum(1 for when in active if when >= recent),
        previous_activity=sum(1 for when in active if previous <= when < recent),
        recent_logins=sum(1 for when in logins if when >= recent),
        support_tickets=counts["support_ticket"],
        payment_failures=counts["payment_failed"],
        downgrades=counts["downgrade"],
        upgrades=counts["upgrade"],
        cancellation_requests=counts["cancellation_request"],
        latest_nps=latest["nps"][1] if "nps" in latest else None,
        latest_satisfaction=latest["satisfaction"][1] if "satisfaction" in latest else None,
        logins_tracked=logins_tracked,
    )


def _stored_int(value: object, default: int | None = 0) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return default
    return default


def _stored_flag(value: object) -> bool:
    """A stored 0 or 1; anything else reads as set."""
    if isinstance(value, bool):
        return value
    number = _stored_int(value, None)
    return True if number is None else number != 0


def _stored_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def facts_from_stored(
    data: object, signup_date: datetime | None, last_engagement: datetime | None
) -> CustomerFacts | None:
    """The facts a stored score came from, or None when there are none (never scored)."""
    if not isinstance(data, dict):
        return None
    counts = {name: _stored_int(data.get(name)) for name in STORED_COUNTS}
    return CustomerFacts(
        signup_date=signup_date,
        last_engagement=last_engagement,
        last_login=_stored_time(data.get("last_login")),
        latest_nps=_stored_int(data.get("latest_nps"), None),
        latest_satisfaction=_stored_int(data.get("latest_satisfaction"), None),
        # Scores stored before the flag existed counted every account as recording logins.
        logins_tracked=_stored_flag(data.get("logins_tracked")),
        **counts,
    )


def explain_stored(
    data: object,
    signup_date: datetime | None,
    last_engagement: datetime | None,
    as_of: datetime | None,
) -> ChurnRisk | None:
    """A stored score's reasons and next steps, worded as of the time it was computed."""
    facts = facts_from_stored(data, signup_date, last_engagement)
    if facts is None or as_of is None:
        return None
    return score_churn_risk(facts, as_of)
