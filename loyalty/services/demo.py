"""Demo data: believable customers whose engagement tells different stories.

Each customer is generated from its own seeded random stream, so the same --seed gives
the same data whatever --customers is, and a second run adds nothing that exists.
Patterns: healthy (steady use), fading (use dropping off), churning (silent, tickets,
failed payments, a cancellation request) and new (signed up in the last two weeks).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
    FeedbackSurvey,
    SurveyResponse,
)
from loyalty.services.scoring import rescore
from loyalty.types import utcnow

DEMO_PREFIX = "demo-"
DEFAULT_CUSTOMERS = 300
HISTORY_DAYS = 180
BATCH = 5000

FIRST_NAMES = (
    "Ada",
    "Alan",
    "Amara",
    "Ben",
    "Carla",
    "Chen",
    "Dana",
    "Diego",
    "Elif",
    "Emma",
    "Farah",
    "Felix",
    "Grace",
    "Hana",
    "Ivan",
    "Jonas",
    "Kai",
    "Lena",
    "Liam",
    "Maya",
    "Mateo",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Rosa",
    "Sam",
    "Sofia",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Adeyemi",
    "Berg",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hoffmann",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urban",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
)
COMPANIES = (
    "acme",
    "brightpath",
    "cloudnine",
    "dataforge",
    "evergreen",
    "fjord",
    "granite",
    "helix",
    "ironwood",
    "juniper",
    "kestrel",
    "lumen",
    "meridian",
    "northwind",
    "orbit",
    "pinecone",
)
PATTERNS = (("healthy", 0.45), ("fading", 0.25), ("churning", 0.15), ("new", 0.15))
PLAN_TAGS = ("starter", "pro", "enterprise")
COMMENTS = {
    "promoter": ("Love how easy the reports are.", "Support is fantastic.", "Saves us hours."),
    "passive": ("Does the job.", "Fine, a bit pricey.", "Missing a few integrations."),
    "detractor": ("Too many bugs lately.", "We barely use it anymore.", "Onboarding was hard."),
}


@dataclass
class DemoResult:
    """What the seeding added."""

    customers: int
    events: int
    responses: int
    skipped: int


def _pattern(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for name, weight in PATTERNS:
        total += weight
        if roll < total:
            return name
    return PATTERNS[-1][0]


def _events(rng: random.Random, pattern: str, signup: datetime, now: datetime) -> Iterator[tuple]:
    """(type, date, details) events telling the pattern's story."""
    # Half a year of history keeps 100,000 demo customers to about a million events.
    age = max(1, min(HISTORY_DAYS, (now - signup).days))
    if pattern == "healthy":
        active_until, per_week = 0, rng.uniform(0.4, 0.9)
    elif pattern == "fading":
        active_until, per_week = rng.randint(25, 55), rng.uniform(0.3, 0.8)
    elif pattern == "churning":
        active_until, per_week = rng.randint(50, 120), rng.uniform(0.3, 0.7)
    else:
        active_until, per_week = 0, rng.uniform(1, 3)
    day = age
    while day > active_until:
        day -= max(1, int(rng.expovariate(per_week / 7)))
        if day <= active_until:
            break
        when = now - timedelta(days=day, minutes=rng.randint(0, 1439))
        kind = rng.choices(("login", "feature_used", "purchase"), (6, 3, 1))[0]
        details = (
            {"feature": rng.choice(("reports", "exports", "alerts", "api"))}
            if kind == "feature_used"
            else {}
        )
        yield kind, when, details
    if pattern in ("fading", "churning"):
        for _ in range(rng.randint(1 if pattern == "fading" else 2, 4)):
            yield (
                "support_ticket",
                now - timedelta(days=rng.randint(1, 29)),
                {
                    "text": rng.choice(
                        ("Export fails", "Cannot log in", "Slow dashboard", "Billing question")
                    )
                },
            )
    if pattern == "churning":
        for _ in range(rng.randint(0, 2)):
            yield "payment_failed", now - timedelta(days=rng.randint(1, 50)), {}
        if rng.random() < 0.5:
            yield "cancellation_request", now - timedelta(days=rng.randint(1, 40)), {}
        elif rng.random() < 0.5:
            yield "downgrade", now - timedelta(days=rng.randint(1, 80)), {}
    if pattern == "healthy" and rng.random() < 0.15:
        yield "upgrade", now - timedelta(days=rng.randint(1, 80)), {}


def _nps(rng: random.Random, pattern: str) -> int:
    ranges = {"healthy": (7, 10), "fading": (4, 8), "churning": (0, 6), "new": (6, 10)}
    low, high = ranges[pattern]
    return rng.randint(low, high)


def _bulk_insert(session: Session, table, rows: Iterable[dict]) -> int:
    """Insert many rows: COPY on PostgreSQL, batched executemany elsewhere."""
    connection = session.connection()
    count = 0
    if connection.dialect.name == "postgresql":
        rows = list(rows)
        if not rows:
            return 0
        columns = list(rows[0])
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(row[c]) for c in columns])
                count += 1
        return count
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            connection.execute(insert(table), batch)
            count += len(batch)
            batch = []
    if batch:
        connection.execute(insert(table), batch)
        count += len(batch)
    return count


def _copy_value(value):
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def reset_account(session: Session, account_id: uuid.UUID) -> None:
    """Remove the account's customers, segments and surveys (and so everything under them)."""
    for model in (Customer, CustomerSegment, FeedbackSurvey):
        session.execute(delete(model).where(model.user_id == account_id))


def seed_account(
    session: Session, account_id: uuid.UUID, customers: int = DEFAULT_CUSTOMERS, seed: int = 42
) -> DemoResult:
    """Fill an account with demo data; customers that already exist are left alone."""
    now = utcnow()
    existing = set(
        session.scalars(
            select(Customer.external_customer_id).where(
                Customer.user_id == account_id,
                Customer.external_customer_id.like(f"{DEMO_PREFIX}%"),
            )
        )
    )
    nps_survey, csat_survey = _surveys(session, account_id)
    segments = _segments(session, account_id)

    customer_rows, tag_rows, event_rows, response_rows, member_rows = [], [], [], [], []
    for index in range(1, customers + 1):
        external_id = f"{DEMO_PREFIX}{index:06d}"
        if external_id in existing:
            continue
        rng = random.Random(f"{seed}:{index}")  # noqa: S311 (repeatable demo data, not secrets)
        pattern = _pattern(rng)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        signup_days = rng.randint(1, 13) if pattern == "new" else rng.randint(60, 900)
        signup = now - timedelta(days=signup_days, hours=rng.randint(0, 23))
        customer_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        customer_rows.append(
            {
                "id": customer_id,
                "user_id": account_id,
                "external_customer_id": external_id,
                "name": f"{first} {last}",
                "email": f"{first}.{last}{index}@{company}.example".lower(),
                "signup_date": signup,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        plan = rng.choice(PLAN_TAGS)
        tags = (
            {plan}
            | ({"trial"} if pattern == "new" else set())
            | ({"vip"} if plan == "enterprise" and rng.random() < 0.4 else set())
        )
        tag_rows.extend(
            {"customer_id": customer_id, "tag": t, "user_id": account_id} for t in sorted(tags)
        )
        for event_type, when, details in _events(rng, pattern, signup, now):
            event_rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "user_id": account_id,
                    "customer_id": customer_id,
                    "event_type": event_type,
                    "event_date": max(when, signup),
                    "details": details,
                    "created_at": now,
                }
            )
        if rng.random() < 0.35:
            score = _nps(rng, pattern)
            category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            response_rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "user_id": account_id,
                    "customer_id": customer_id,
                    "feedback_survey_id": nps_survey.id,
                    "response": {
                        "kind": "nps",
                        "score": score,
                        "comment": rng.choice(COMMENTS[category]),
                    },
                    "submitted_at": now - timedelta(days=rng.randint(1, 60)),
                }
            )
        if rng.random() < 0.2:
            rating = max(1, min(5, round(_nps(rng, pattern) / 2)))
            response_rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "user_id": account_id,
                    "customer_id": customer_id,
                    "feedback_survey_id": csat_survey.id,
                    "response": {"kind": "satisfaction", "score": rating, "comment": ""},
                    "submitted_at": now - timedelta(days=rng.randint(1, 60)),
                }
            )
        if "enterprise" in tags:
            member_rows.append(
                {
                    "customer_id": customer_id,
                    "customer_segment_id": segments["Enterprise accounts"],
                    "added_at": now,
                }
            )
        if "trial" in tags:
            member_rows.append(
                {
                    "customer_id": customer_id,
                    "customer_segment_id": segments["Trials"],
                    "added_at": now,
                }
            )

    _bulk_insert(session, Customer.__table__, customer_rows)
    _bulk_insert(session, CustomerTag.__table__, tag_rows)
    _bulk_insert(session, EngagementEvent.__table__, event_rows)
    _bulk_insert(session, SurveyResponse.__table__, response_rows)
    _bulk_insert(session, CustomerSegmentMembership.__table__, member_rows)
    refresh_statistics(session)
    rescore(session, account_id)
    return DemoResult(
        customers=len(customer_rows),
        events=len(event_rows),
        responses=len(response_rows),
        skipped=customers - len(customer_rows),
    )


def refresh_statistics(session: Session) -> None:
    """After a bulk load, let PostgreSQL's planner see the new rows before it plans with them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "ANALYZE customers, customer_tags, engagement_history, survey_responses, "
                "customer_segment_memberships"
            )
        )


def _surveys(session: Session, account_id: uuid.UUID) -> tuple[FeedbackSurvey, FeedbackSurvey]:
    found = {
        s.title: s
        for s in session.scalars(select(FeedbackSurvey).where(FeedbackSurvey.user_id == account_id))
    }
    wanted = (
        ("Quarterly NPS", "nps", "How likely are you to recommend us to a friend or colleague?"),
        ("Support satisfaction", "satisfaction", "How satisfied are you with our support?"),
    )
    result = []
    for title, kind, question in wanted:
        survey = found.get(title)
        if survey is None:
            survey = FeedbackSurvey(user_id=account_id, title=title, kind=kind, question=question)
            session.add(survey)
        result.append(survey)
    session.flush()
    return result[0], result[1]


def _segments(session: Session, account_id: uuid.UUID) -> dict[str, uuid.UUID]:
    found = {
        s.name: s
        for s in session.scalars(
            select(CustomerSegment).where(CustomerSegment.user_id == account_id)
        )
    }
    wanted = {
        "Enterprise accounts": "Our largest customers: a personal touch matters most here.",
        "Trials": "Signed up in the last two weeks; onboarding decides whether they stay.",
    }
    for name, description in wanted.items():
        if name not in found:
            found[name] = CustomerSegment(user_id=account_id, name=name, description=description)
            session.add(found[name])
    session.flush()
    return {name: found[name].id for name in wanted}
