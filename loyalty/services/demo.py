"""Demo data: believable customers whose engagement tells different stories.

Each customer is generated from its own seeded random stream, so the same --seed gives
the same data whatever --customers is, and a second run adds nothing that exists.
Patterns: healthy (steady use), fading (use dropping off), churning (silent, tickets,
failed payments, a cancellation request) and new (signed up in the last two weeks).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import struct
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from loyalty.domain import scoring
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
    FeedbackSurvey,
    SurveyResponse,
)
from loyalty.services.bulk import copy_from_stdin
from loyalty.services.copy_text import ESCAPES, NULL, escape
from loyalty.services.scoring import record_snapshot
from loyalty.services.segment_criteria import refresh_automatic_segments
from loyalty.types import ordered_id_prefix, utcnow

DEMO_PREFIX = "demo-"
DEFAULT_CUSTOMERS = 300
HISTORY_DAYS = 365
RECENT_HISTORY_DAYS = 90  # dense history; before it, a third of the pace
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


# Everyday use: six logins for three feature uses and one purchase.
EVERYDAY = ("login",) * 6 + ("feature_used",) * 3 + ("purchase",)
FEATURES = ("reports", "exports", "alerts", "api")
TICKETS = ("Export fails", "Cannot log in", "Slow dashboard", "Billing question")


def _events(rng: random.Random, pattern: str, signup: datetime, now: datetime) -> Iterator[tuple]:
    """(type, date, details) events telling the pattern's story."""
    # A year of history, dense in the last quarter (what scores read) and sparse before it,
    # keeps 100,000 demo customers to about a million events.
    age = max(1, min(HISTORY_DAYS, (now - signup).days))
    if pattern == "healthy":
        active_until, per_week = 0, rng.uniform(0.4, 0.9)
    elif pattern == "fading":
        active_until, per_week = rng.randint(25, 55), rng.uniform(0.3, 0.8)
    elif pattern == "churning":
        active_until, per_week = rng.randint(50, 120), rng.uniform(0.3, 0.7)
    else:
        active_until, per_week = 0, rng.uniform(1, 3)
    day, rate = age, per_week / 7
    while day > active_until:
        day -= max(1, int(rng.expovariate(rate if day <= RECENT_HISTORY_DAYS else rate / 3)))
        if day <= active_until:
            break
        # random() arithmetic, not choice()/randint(): this line runs a million times.
        kind = EVERYDAY[int(rng.random() * len(EVERYDAY))]
        details = {"feature": rng.choice(FEATURES)} if kind == "feature_used" else {}
        yield kind, now - timedelta(days=day, minutes=int(rng.random() * 1440)), details
    if pattern in ("fading", "churning"):
        for _ in range(rng.randint(1 if pattern == "fading" else 2, 4)):
            when = now - timedelta(days=rng.randint(1, 29))
            yield "support_ticket", when, {"text": rng.choice(TICKETS)}
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


# Columns of each table, in the order the generated rows carry them, with how each is
# written: ids travel as 128-bit ints (fast to format) until a row is written.
COLUMNS = {
    "customers": (
        ("id", "id"),
        ("user_id", "id"),
        ("external_customer_id", "text"),
        ("name", "text"),
        ("email", "text"),
        ("signup_date", "time"),
        ("churn_risk_score", "number"),
        ("churn_risk_facts", "json"),
        ("churn_scored_at", "time"),
        ("last_engagement_date", "time"),
        ("version", "number"),
        ("created_at", "time"),
        ("updated_at", "time"),
    ),
    "customer_tags": (("customer_id", "id"), ("tag", "text"), ("user_id", "id")),
    "engagement_history": (
        ("id", "id"),
        ("user_id", "id"),
        ("customer_id", "id"),
        ("event_type", "text"),
        ("event_date", "time"),
        ("details", "json"),
        ("created_at", "time"),
    ),
    "survey_responses": (
        ("id", "id"),
        ("user_id", "id"),
        ("customer_id", "id"),
        ("feedback_survey_id", "id"),
        ("response", "json"),
        ("submitted_at", "time"),
    ),
    "customer_segment_memberships": (
        ("customer_id", "id"),
        ("customer_segment_id", "id"),
        ("added_at", "time"),
    ),
}
TABLES = {
    "customers": Customer.__table__,
    "customer_tags": CustomerTag.__table__,
    "engagement_history": EngagementEvent.__table__,
    "survey_responses": SurveyResponse.__table__,
    "customer_segment_memberships": CustomerSegmentMembership.__table__,
}
CHUNK = 5000  # customers generated (and written) at a time: memory stays flat


@dataclass(frozen=True)
class _Plan:
    """What every generated customer needs to know about the run."""

    account_id: int
    seed: int
    now: datetime
    nps_survey: int
    csat_survey: int
    segments: dict[str, int]
    existing: frozenset[str]

    run: int  # the high 64 bits of every id this run makes (see `_id`)


def _id(plan: _Plan, index: int, n: int = 0) -> int:
    """The id of customer `index` (n = 0) or of its n-th event: ordered, unique per run."""
    return (plan.run << 64) | (0b10 << 62) | (index << 24) | n


def _customer_rows(plan: _Plan, index: int, rows: dict[str, list]) -> None:
    """Generate one demo customer and its history into `rows` (scored as it is made)."""
    rng = random.Random(f"{plan.seed}:{index}")  # noqa: S311 (repeatable demo data, not secrets)
    account, now = plan.account_id, plan.now
    pattern = _pattern(rng)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = rng.choice(COMPANIES)
    signup_days = rng.randint(1, 13) if pattern == "new" else rng.randint(60, 900)
    signup = now - timedelta(days=signup_days, hours=rng.randint(0, 23))
    customer_id = _id(plan, index)
    plan_tag = rng.choice(PLAN_TAGS)
    tags = (
        {plan_tag}
        | ({"trial"} if pattern == "new" else set())
        | ({"vip"} if plan_tag == "enterprise" and rng.random() < 0.4 else set())
    )
    rows["customer_tags"].extend((customer_id, t, account) for t in sorted(tags))

    history = []
    for n, (event_type, when, details) in enumerate(_events(rng, pattern, signup, now)):
        when = max(when, signup)
        history.append((event_type, when))
        rows["engagement_history"].append(
            (_id(plan, index, n + 1), account, customer_id, event_type, when, details, now)
        )

    answers = []
    if rng.random() < 0.35:
        score = _nps(rng, pattern)
        category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        answers.append(("nps", score, now - timedelta(days=rng.randint(1, 60))))
        response = {"kind": "nps", "score": score, "comment": rng.choice(COMMENTS[category])}
        rows["survey_responses"].append(
            (_id(plan, index, 1 << 23), account, customer_id, plan.nps_survey)
            + (response, answers[-1][2])
        )
    if rng.random() < 0.2:
        rating = max(1, min(5, round(_nps(rng, pattern) / 2)))
        answers.append(("satisfaction", rating, now - timedelta(days=rng.randint(1, 60))))
        response = {"kind": "satisfaction", "score": rating, "comment": ""}
        rows["survey_responses"].append(
            (_id(plan, index, (1 << 23) + 1), account, customer_id, plan.csat_survey)
            + (response, answers[-1][2])
        )

    for tag, segment in (("enterprise", "Enterprise accounts"), ("trial", "Trials")):
        if tag in tags:
            rows["customer_segment_memberships"].append((customer_id, plan.segments[segment], now))

    facts = scoring.facts_from_history(signup, history, answers, now)
    rows["customers"].append(
        (
            customer_id,
            account,
            f"{DEMO_PREFIX}{index:06d}",
            f"{first} {last}",
            f"{first}.{last}{index}@{company}.example".lower(),
            signup,
            float(scoring.score_churn_risk(facts, now).score),
            scoring.stored_facts(facts),
            now,
            facts.last_engagement,
            1,
            now,
            now,
        )
    )


def _chunk(plan: _Plan, first: int, last: int, copy_text: bool) -> dict:
    """Customers first..last (inclusive) as rows per table, or as COPY text for PostgreSQL."""
    rows: dict[str, list] = {table: [] for table in COLUMNS}
    for index in range(first, last + 1):
        if f"{DEMO_PREFIX}{index:06d}" not in plan.existing:
            _customer_rows(plan, index, rows)
    # In date order, the account's (user, date) index takes the chunk in one sweep instead
    # of a jump per event; the id indexes only grow at their end either way.
    rows["engagement_history"].sort(key=lambda row: row[4])
    if copy_text:
        return {table: (len(items), _copy_data(table, items)) for table, items in rows.items()}
    return rows


_SMALL_JSON: dict[tuple, str] = {}


def _copy_json(value) -> str:
    # Event details repeat a handful of shapes: format each once.
    if len(value) <= 1:
        key = tuple(value.items())
        text = _SMALL_JSON.get(key)
        if text is None:
            text = _SMALL_JSON[key] = json.dumps(value).translate(ESCAPES)
        return text
    return json.dumps(value).translate(ESCAPES)


# How a value of each kind is written in COPY's text format.
_COPY_FORMATS = {
    "id": lambda value: f"{value:032x}",
    "text": escape,
    "time": lambda value: NULL if value is None else value.isoformat(),
    "number": lambda value: NULL if value is None else str(value),
    "json": _copy_json,
}


def _copy_data(table: str, rows: list[tuple]) -> str | bytes:
    """Rows in COPY's text format (tab-separated, \\N for NULL, escaped text), or binary."""
    if table == "engagement_history":
        return _binary_events(rows)
    formats = [_COPY_FORMATS[kind] for _name, kind in COLUMNS[table]]
    return "".join(
        "\t".join([write(value) for write, value in zip(formats, row, strict=True)]) + "\n"
        for row in rows
    )


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
_SMALL_JSONB: dict[tuple, bytes] = {}


def _binary_events(rows: list[tuple]) -> bytes:
    """Events in COPY's binary format: a million rows load a quarter faster than as text,
    because the server need not parse their timestamps and ids."""
    pack_time = struct.Struct("!iq").pack  # length 8, microseconds since 2000-01-01
    parts = [_BINARY_HEADER]
    append = parts.append
    texts: dict[str, bytes] = {}
    for event_id, user_id, customer_id, kind, when, details, created in rows:
        kind_bytes = texts.get(kind)
        if kind_bytes is None:
            encoded = kind.encode()
            kind_bytes = texts[kind] = struct.pack("!i", len(encoded)) + encoded
        key = tuple(details.items()) if len(details) <= 1 else None
        jsonb = _SMALL_JSONB.get(key) if key is not None else None
        if jsonb is None:
            encoded = b"\x01" + json.dumps(details).encode()  # jsonb's binary form: version 1
            jsonb = struct.pack("!i", len(encoded)) + encoded
            if key is not None:
                _SMALL_JSONB[key] = jsonb
        append(b"\x00\x07\x00\x00\x00\x10")
        append(event_id.to_bytes(16, "big"))
        append(b"\x00\x00\x00\x10")
        append(user_id.to_bytes(16, "big"))
        append(b"\x00\x00\x00\x10")
        append(customer_id.to_bytes(16, "big"))
        append(kind_bytes)
        append(pack_time(8, (when - _PG_EPOCH) // _MICROSECOND))
        append(jsonb)
        append(pack_time(8, (created - _PG_EPOCH) // _MICROSECOND))
    append(_BINARY_TRAILER)
    return b"".join(parts)


def _python_rows(table: str, rows: list[tuple]) -> list[dict]:
    """Rows as dicts for an INSERT (ids become UUIDs)."""
    columns = COLUMNS[table]
    return [
        {
            name: uuid.UUID(int=value) if kind == "id" else value
            for (name, kind), value in zip(columns, row, strict=True)
        }
        for row in rows
    ]


def _write(session: Session, chunk: dict) -> dict[str, int]:
    """Write one chunk, parents before children; returns rows written per table."""
    connection = session.connection()
    written = {}
    if connection.dialect.name == "postgresql":
        # The trigger that counts events per day keeps each COPY's rows in memory: give it
        # room instead of temporary files.
        connection.execute(text("SET LOCAL work_mem = '64MB'"))
        for table, (count, text_rows) in chunk.items():
            if count:
                columns = ", ".join(name for name, _kind in COLUMNS[table])
                binary = " (FORMAT binary)" if isinstance(text_rows, bytes) else ""
                statement = f"COPY {table} ({columns}) FROM STDIN{binary}"
                with copy_from_stdin(session, statement) as copy:
                    copy.write(text_rows)
            written[table] = count
        return written
    for table, items in chunk.items():
        for start in range(0, len(items), BATCH):
            connection.execute(
                insert(TABLES[table]), _python_rows(table, items[start : start + BATCH])
            )
        written[table] = len(items)
    return written


def _chunks(plan: _Plan, ranges: list[tuple[int, int]], copy_text: bool) -> Iterator[dict]:
    """The chunks in order; from the second on, each is made while the previous is written.

    The maker is a second process, not a thread, so it shares no lock with the one sending
    rows to the database. It is forked and never touches the connections it inherits; a
    single chunk (a web request's few hundred customers) is simply made here.
    """
    if len(ranges) <= 1:
        yield from (_chunk(plan, first, last, copy_text) for first, last in ranges)
        return
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as maker:
        pending = maker.submit(_chunk, plan, *ranges[0], copy_text)
        for following in [*ranges[1:], None]:
            chunk = pending.result()
            if following is not None:
                pending = maker.submit(_chunk, plan, *following, copy_text)
            yield chunk


def reset_account(session: Session, account_id: uuid.UUID) -> None:
    """Remove the account's segments, customers and surveys (and so everything under them).

    Segments go first: their memberships leave in one cascade instead of one customer at a
    time (see migration 0010).
    """
    for model in (CustomerSegment, Customer, FeedbackSurvey):
        session.execute(delete(model).where(model.user_id == account_id))


def seed_account(
    session: Session, account_id: uuid.UUID, customers: int = DEFAULT_CUSTOMERS, seed: int = 42
) -> DemoResult:
    """Fill an account with demo data; customers that already exist are left alone.

    Customers are generated in chunks in a second process while the previous chunk is being
    written, so the database and Python work at the same time; each customer is scored by
    the domain as it is made, so no rescore is needed afterwards.
    """
    now = utcnow()
    existing = frozenset(
        session.scalars(
            select(Customer.external_customer_id).where(
                Customer.user_id == account_id,
                Customer.external_customer_id.like(f"{DEMO_PREFIX}%"),
            )
        )
    )
    nps_survey, csat_survey = _surveys(session, account_id)
    plan = _Plan(
        account_id.int,
        seed,
        now,
        nps_survey.id.int,
        csat_survey.id.int,
        {name: segment_id.int for name, segment_id in _segments(session, account_id).items()},
        existing,
        ordered_id_prefix(now),
    )
    copy_text = session.get_bind().dialect.name == "postgresql"
    totals = dict.fromkeys(COLUMNS, 0)
    ranges = [
        (first, min(first + CHUNK - 1, customers)) for first in range(1, customers + 1, CHUNK)
    ]
    for chunk in _chunks(plan, ranges, copy_text):
        for table, count in _write(session, chunk).items():
            totals[table] += count
    refresh_statistics(session)
    # Every new customer was scored by the domain as it was made (tests check that SQL agrees):
    # what a rescore would add is today's snapshot and the automatic segments.
    record_snapshot(session, account_id, now)
    refresh_automatic_segments(session, account_id, None)
    return DemoResult(
        customers=totals["customers"],
        events=totals["engagement_history"],
        responses=totals["survey_responses"],
        skipped=customers - totals["customers"],
    )


def refresh_statistics(session: Session) -> None:
    """After a bulk load, let PostgreSQL's planner see the new rows before it plans with them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "ANALYZE customers, customer_search, customer_tags, engagement_history, "
                "survey_responses, customer_segment_memberships"
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
