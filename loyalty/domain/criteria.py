"""Segment criteria: a small JSON language, validated here, turned into SQL elsewhere.

Shape (stored on the segment as JSON):

    {"match": "all" | "any",
     "rules": [
        {"field": "signup_date", "op": "before" | "after", "value": "2026-01-31"},
        {"field": "signup_date", "op": "between", "value": ["2026-01-01", "2026-03-31"]},
        {"field": "signup_date", "op": "older_than_days", "value": 90},
        {"field": "last_engagement", "op": "older_than_days" | "newer_than_days", "value": 30},
        {"field": "last_engagement", "op": "never"},
        {"field": "churn_risk", "op": "above" | "below", "value": 70},
        {"field": "churn_risk", "op": "between", "value": [40, 70]},
        {"field": "tags", "op": "any" | "all" | "none", "value": ["vip", "trial"]},
        {"field": "events", "op": "at_least" | "at_most", "count": 3,
         "event_type": "support_ticket", "days": 30},
        {"field": "latest_nps", "op": "is", "value": "detractor" | "passive" | "promoter"}
     ]}

Semantics (the SQL in loyalty/services/segment_criteria.py follows these exactly):
- Dates are whole UTC days: "before D" is earlier than D 00:00, "after D" is from D+1
  00:00, "between D1 and D2" includes both days.
- "older than N days" is strictly before now - N days; a customer who never engaged is
  not "older than" anything (use "never" for them); "newer than N days" is at or after
  now - N days.
- Churn risk "above v" is score >= v, "below v" is score < v, "between a and b" includes
  both ends; a customer without a score matches no churn-risk rule.
- Events count those of the type with now - N days <= date <= now.
- Latest NPS looks at the customer's most recent NPS answer only.
- No rules at all matches everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from loyalty.domain.surveys import nps_category

MAX_RULES = 20
MAX_DAYS = 3650
MAX_TAGS = 20
NPS_CATEGORIES = ("detractor", "passive", "promoter")

FIELDS = {
    "signup_date": "Signup date",
    "last_engagement": "Last engagement",
    "churn_risk": "Churn risk",
    "tags": "Tags",
    "events": "Events",
    "latest_nps": "Latest NPS answer",
}
OPERATORS = {
    "signup_date": {
        "before": "before",
        "after": "after",
        "between": "between",
        "older_than_days": "more than N days ago",
    },
    "last_engagement": {
        "older_than_days": "more than N days ago",
        "newer_than_days": "within the last N days",
        "never": "never",
    },
    "churn_risk": {"above": "at least", "below": "below", "between": "between"},
    "tags": {"any": "has any of", "all": "has all of", "none": "has none of"},
    "events": {"at_least": "at least", "at_most": "at most"},
    "latest_nps": {"is": "is"},
}
_EVENT_TYPE = re.compile(r"^[a-z0-9_]{1,50}$")


class CriteriaError(ValueError):
    """Criteria that cannot be used; `problems` lists (rule index or None, message)."""

    def __init__(self, problems: list[tuple[int | None, str]]) -> None:
        super().__init__("; ".join(message for _index, message in problems))
        self.problems = problems

    def for_rule(self, index: int) -> list[str]:
        """The messages about one rule."""
        return [message for i, message in self.problems if i == index]


@dataclass(frozen=True)
class SignupRule:
    """Signup date before/after/between days, or older than N days."""

    op: str
    start: datetime | None = None  # inclusive lower bound
    end: datetime | None = None  # exclusive upper bound
    days: int | None = None


@dataclass(frozen=True)
class LastEngagementRule:
    """Last engagement older/newer than N days, or never."""

    op: str
    days: int | None = None


@dataclass(frozen=True)
class RiskRule:
    """Churn risk at least, below, or between (inclusive)."""

    op: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class TagsRule:
    """Has any, all or none of some tags."""

    op: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class EventsRule:
    """At least / at most N events of a type in the last N days."""

    op: str
    count: int
    event_type: str
    days: int


@dataclass(frozen=True)
class NpsRule:
    """The latest NPS answer is in a category."""

    category: str


Rule = SignupRule | LastEngagementRule | RiskRule | TagsRule | EventsRule | NpsRule


@dataclass(frozen=True)
class Criteria:
    """Validated criteria: rules combined with AND (match all) or OR (match any)."""

    match: str
    rules: tuple[Rule, ...]
    source: tuple[dict, ...]

    def to_json(self) -> dict:
        """The normalised JSON to store."""
        return {"match": self.match, "rules": [dict(r) for r in self.source]}


def _day(value: object) -> date:
    text = str(value).strip()
    if not text:
        raise ValueError("Enter a date like 2026-03-31.")
    try:
        return (
            datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            if "T" in text
            else (date.fromisoformat(text))
        )
    except ValueError as error:
        raise ValueError(f"{text!r} is not a date like 2026-03-31.") from error


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ValueError(f"{what} must be a whole number.")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"Enter {what[0].lower()}{what[1:]}.")
    try:
        number = int(str(value).strip())
    except ValueError as error:
        raise ValueError(f"{what} must be a whole number.") from error
    if not low <= number <= high:
        raise ValueError(f"{what} must be between {low} and {high}.")
    return number


def _score(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("A churn risk is a number from 0 to 100.")
    try:
        number = float(str(value).strip())
    except ValueError as error:
        raise ValueError("A churn risk is a number from 0 to 100.") from error
    if not 0 <= number <= 100:
        raise ValueError("A churn risk is a number from 0 to 100.")
    return number


def _pair(value: object) -> tuple[object, object]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("Give both ends of the range.")
    if any(v is None or str(v).strip() == "" for v in value):
        raise ValueError("Give both ends of the range.")
    return value[0], value[1]


def _parse_rule(data: object) -> tuple[Rule, dict]:
    if not isinstance(data, dict):
        raise ValueError("Each rule must be an object.")
    field, op = data.get("field"), data.get("op")
    if not isinstance(field, str) or field not in OPERATORS:
        raise ValueError("Choose what the rule looks at.")
    if not isinstance(op, str) or op not in OPERATORS[field]:
        raise ValueError(f"Choose how to compare the {FIELDS[field].lower()}.")
    value = data.get("value")
    if field == "signup_date":
        if op == "older_than_days":
            days = _int(value, "The number of days", 0, MAX_DAYS)
            return SignupRule(op, days=days), {"field": field, "op": op, "value": days}
        if op == "between":
            first, last = (_day(v) for v in _pair(value))
            if first > last:
                raise ValueError("The first date must not be after the second.")
            rule = SignupRule(op, start=_start_of(first), end=_start_of(last + timedelta(days=1)))
            return rule, {"field": field, "op": op, "value": [first.isoformat(), last.isoformat()]}
        day = _day(value)
        rule = (
            SignupRule(op, end=_start_of(day))
            if op == "before"
            else SignupRule(op, start=_start_of(day + timedelta(days=1)))
        )
        return rule, {"field": field, "op": op, "value": day.isoformat()}
    if field == "last_engagement":
        if op == "never":
            return LastEngagementRule(op), {"field": field, "op": op}
        days = _int(value, "The number of days", 0, MAX_DAYS)
        return LastEngagementRule(op, days=days), {"field": field, "op": op, "value": days}
    if field == "churn_risk":
        if op == "between":
            low, high = (_score(v) for v in _pair(value))
            if low > high:
                raise ValueError("The lower score must not be above the higher one.")
            return RiskRule(op, low=low, high=high), {
                "field": field,
                "op": op,
                "value": [low, high],
            }
        score = _score(value)
        rule = RiskRule(op, low=score) if op == "above" else RiskRule(op, high=score)
        return rule, {"field": field, "op": op, "value": score}
    if field == "tags":
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple):
            raise ValueError("List one or more tags.")
        tags = tuple(sorted({str(t).strip().lower() for t in value if str(t).strip()}))
        if not tags:
            raise ValueError("List one or more tags.")
        if len(tags) > MAX_TAGS or any(len(t) > 40 for t in tags):
            raise ValueError(f"At most {MAX_TAGS} tags of up to 40 characters.")
        return TagsRule(op, tags), {"field": field, "op": op, "value": list(tags)}
    if field == "events":
        count = _int(data.get("count"), "The number of events", 0, 1_000_000)
        days = _int(data.get("days"), "The number of days", 1, MAX_DAYS)
        event_type = str(data.get("event_type") or "").strip().lower()
        if not _EVENT_TYPE.match(event_type):
            raise ValueError("Choose an event type (letters, digits and underscores).")
        rule = EventsRule(op, count=count, event_type=event_type, days=days)
        source = {"field": field, "op": op, "count": count, "event_type": event_type, "days": days}
        return rule, source
    if value not in NPS_CATEGORIES:
        raise ValueError("Choose detractor, passive or promoter.")
    return NpsRule(str(value)), {"field": field, "op": op, "value": value}


def parse_criteria(data: object) -> Criteria:
    """Validate criteria JSON; raises CriteriaError with a message per problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CriteriaError([(None, "Criteria must be an object with match and rules.")])
    match = data.get("match", "all")
    problems: list[tuple[int | None, str]] = []
    if match not in ("all", "any"):
        problems.append((None, "Match must be 'all' or 'any'."))
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise CriteriaError([(None, "Rules must be a list.")])
    if len(raw_rules) > MAX_RULES:
        problems.append((None, f"At most {MAX_RULES} rules."))
    rules, sources = [], []
    for index, raw in enumerate(raw_rules[:MAX_RULES]):
        try:
            rule, source = _parse_rule(raw)
        except ValueError as error:
            problems.append((index, str(error)))
        else:
            rules.append(rule)
            sources.append(source)
    if problems:
        raise CriteriaError(problems)
    return Criteria(match=match, rules=tuple(rules), source=tuple(sources))


def _sentence(rule: dict) -> str:
    field, op, value = rule["field"], rule["op"], rule.get("value")
    if field == "signup_date":
        if op == "between":
            return f"Signed up between {value[0]} and {value[1]}"
        if op == "older_than_days":
            return f"Signed up more than {value} days ago"
        return f"Signed up {op} {value}"
    if field == "last_engagement":
        if op == "never":
            return "Never engaged"
        if op == "older_than_days":
            return f"Last engaged more than {value} days ago"
        return f"Engaged within the last {value} days"
    if field == "churn_risk":
        if op == "between":
            return f"Churn risk between {value[0]:g} and {value[1]:g}"
        return f"Churn risk {'at least' if op == 'above' else 'below'} {value:g}"
    if field == "tags":
        return f"{OPERATORS['tags'][op].capitalize()} the tags {', '.join(value)}"
    if field == "events":
        return (
            f"{OPERATORS['events'][op].capitalize()} {rule['count']} "
            f"{rule['event_type'].replace('_', ' ')} events in the last {rule['days']} days"
        )
    return f"Latest NPS answer is a {value}"


def describe(criteria: Criteria) -> list[str]:
    """Each rule as a sentence, for the segment page."""
    return [_sentence(rule) for rule in criteria.source]


def matches(criteria: Criteria, customer: CustomerSnapshot, now: datetime) -> bool:
    """The reference meaning of the criteria for one customer (the SQL must agree)."""
    results = [_matches(rule, customer, now) for rule in criteria.rules]
    if not results:
        return True
    return all(results) if criteria.match == "all" else any(results)


@dataclass(frozen=True)
class CustomerSnapshot:
    """What criteria look at, for the reference evaluator."""

    signup_date: datetime
    last_engagement: datetime | None = None
    churn_risk: float | None = None
    tags: frozenset[str] = frozenset()
    events: tuple[tuple[str, datetime], ...] = ()
    latest_nps: int | None = None


def _matches(rule: Rule, c: CustomerSnapshot, now: datetime) -> bool:
    if isinstance(rule, SignupRule):
        if rule.op == "older_than_days":
            return c.signup_date < now - timedelta(days=rule.days or 0)
        return (rule.start is None or c.signup_date >= rule.start) and (
            rule.end is None or c.signup_date < rule.end
        )
    if isinstance(rule, LastEngagementRule):
        if rule.op == "never":
            return c.last_engagement is None
        if c.last_engagement is None:
            return False
        cut = now - timedelta(days=rule.days or 0)
        return c.last_engagement < cut if rule.op == "older_than_days" else c.last_engagement >= cut
    if isinstance(rule, RiskRule):
        if c.churn_risk is None:
            return False
        return (rule.low is None or c.churn_risk >= rule.low) and (
            rule.high is None
            or (c.churn_risk <= rule.high if rule.op == "between" else c.churn_risk < rule.high)
        )
    if isinstance(rule, TagsRule):
        wanted = set(rule.tags)
        if rule.op == "any":
            return bool(wanted & c.tags)
        if rule.op == "all":
            return wanted <= c.tags
        return not (wanted & c.tags)
    if isinstance(rule, EventsRule):
        start = now - timedelta(days=rule.days)
        count = sum(1 for t, when in c.events if t == rule.event_type and start <= when <= now)
        return count >= rule.count if rule.op == "at_least" else count <= rule.count
    return c.latest_nps is not None and nps_category(c.latest_nps) == rule.category
