"""Rescores left to a worker, so bulk event ingestion does not score inside the request.

With QUEUE_RESCORES=1, `POST /api/events` and `flask import-events` write their events and
queue the customers they touched; `flask rescore-worker` claims queued customers in
batches, rescores them with `scoring.rescore` and deletes their rows, in one transaction.
A customer is queued once however many of their events arrive before the worker does.

Why no event is missed: queueing a customer who is already queued still updates (and so
locks) their row until the ingesting transaction commits. The worker's claim skips locked
rows, and a claim that came first makes the ingesting transaction wait and then queue the
customer again. Either way, a rescore that runs before an event is committed is followed
by another one after.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Uuid, bindparam, delete, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from loyalty.models import RescoreQueueItem
from loyalty.services.scoring import rescore
from loyalty.types import UTCDateTime, utcnow

queue = RescoreQueueItem.__table__


def enqueue(session: Session, account_id: uuid.UUID, customer_ids: Collection[uuid.UUID]) -> None:
    """Queue the account's customers for the worker (each customer once)."""
    if not customer_ids:
        return
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # One statement over an array, rather than a row of parameters per customer.
        ids = func.unnest(bindparam("ids", list(customer_ids), type_=ARRAY(Uuid)))
        statement = postgresql_insert(queue).from_select(
            ["customer_id", "user_id", "queued_at"],
            select(ids, literal(account_id, Uuid), literal(now, UTCDateTime)),
        )
        rows = None
    else:
        statement = sqlite_insert(queue)
        rows = [{"customer_id": c, "user_id": account_id, "queued_at": now} for c in customer_ids]
    # Already queued: keep the first time (no customer waits behind newer ones forever),
    # but write the row, so it stays locked until this transaction's events are committed.
    statement = statement.on_conflict_do_update(
        index_elements=[queue.c.customer_id], set_={"queued_at": queue.c.queued_at}
    )
    session.execute(statement, rows)


# From this many customers of one account, one pass over the whole account is cheaper.
WHOLE_ACCOUNT = 10_000


def rescore_queued(
    session: Session, limit: int | None = 5000, account_id: uuid.UUID | None = None
) -> int:
    """Claim up to `limit` queued customers (of one account, or of any), oldest first, and
    rescore them.

    Returns how many were claimed. The caller commits; a rollback puts them back in the queue.
    """
    claimed = (
        select(queue.c.customer_id)
        .order_by(queue.c.queued_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time
    )
    if account_id is not None:
        claimed = claimed.where(queue.c.user_id == account_id)
    rows = session.execute(
        delete(queue)
        .where(queue.c.customer_id.in_(claimed.scalar_subquery()))
        .returning(queue.c.user_id, queue.c.customer_id)
    ).all()
    by_account: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for owner, customer_id in rows:
        by_account[owner].append(customer_id)
    for owner, customer_ids in by_account.items():
        if len(customer_ids) >= WHOLE_ACCOUNT:
            rescore(session, owner)
        else:
            rescore(session, owner, customer_ids=customer_ids)
    return len(rows)


def is_queued(session: Session, customer_id: uuid.UUID) -> bool:
    """Whether the customer waits for the worker (events of theirs are not scored yet)."""
    return (
        session.scalar(select(queue.c.customer_id).where(queue.c.customer_id == customer_id))
        is not None
    )


def waiting(session: Session, account_id: uuid.UUID | None = None) -> tuple[int, datetime | None]:
    """How many customers are queued (of one account, or of all) and since when."""
    statement = select(func.count(), func.min(queue.c.queued_at))
    if account_id is not None:
        statement = statement.where(queue.c.user_id == account_id)
    count, oldest = session.execute(statement).one()
    return count, oldest
