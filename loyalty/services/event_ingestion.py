"""Bulk event ingestion for other systems: batches by externalCustomerId, safe to retry."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from loyalty.domain.api_input import InputError, customer_input, event_input
from loyalty.domain.importing import unstorable_text
from loyalty.models import Customer, EngagementEvent, IdempotencyKey
from loyalty.services import rescore_queue
from loyalty.services.bulk import copy_from_stdin, insert_rows
from loyalty.services.copy_text import escape
from loyalty.services.scoring import rescore
from loyalty.types import ordered_ids, utcnow

MAX_BATCH = 5000
LOOKUP_CHUNK = 1000


@dataclass(frozen=True)
class Replay:
    """The stored answer to an earlier request with the same Idempotency-Key."""

    status: int
    response: dict
    conflict: bool = False


def _fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def replay(session: Session, account_id: uuid.UUID, key: str, body: bytes) -> Replay | None:
    """The first answer for this key (or a conflict when the body differs), or None."""
    row = session.get(IdempotencyKey, (account_id, key))
    if row is None:
        return None
    if row.request_fingerprint != _fingerprint(body):
        return Replay(status=422, response={}, conflict=True)
    return Replay(status=row.status_code, response=row.response)


def remember(
    session: Session, account_id: uuid.UUID, key: str, body: bytes, status: int, response: dict
) -> Replay | None:
    """Store the answer under the key; if a concurrent request stored one first, return it."""
    make_insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    stored = session.execute(
        make_insert(IdempotencyKey)
        .values(
            user_id=account_id,
            key=key,
            request_fingerprint=_fingerprint(body),
            status_code=status,
            response=response,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    ).first()
    if stored is not None:
        return None
    session.expire_all()
    return replay(session, account_id, key, body)


def _known_customers(
    session: Session, account_id: uuid.UUID, ids: list[str]
) -> dict[str, uuid.UUID]:
    # Core, not the ORM: plain tuples back; the WHERE clause scopes it to the account.
    customers = Customer.__table__.c
    lookup = select(customers.external_customer_id, customers.id).where(
        customers.user_id == account_id
    )
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: a thousand separate ones cost more to send than the lookup.
        wanted = bindparam("ids", ids, type_=ARRAY(customers.external_customer_id.type))
        return dict(
            session.connection()
            .execute(lookup.where(customers.external_customer_id == any_(wanted)))
            .all()
        )
    found: dict[str, uuid.UUID] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        rows = session.connection().execute(lookup.where(customers.external_customer_id.in_(chunk)))
        found.update(dict(rows.all()))
    return found


def ingest(
    session: Session, account_id: uuid.UUID, data: object, queue_rescores: bool = False
) -> dict:
    """Validate every item, create missing customers if asked, insert the valid events.

    Items are independent: invalid ones are reported by index and the rest are written.
    Customers touched are rescored once, together: now, or by the rescore worker when
    `queue_rescores` (the answer's `scores` says which).
    """
    if not isinstance(data, dict):
        raise InputError({"": "Expected an object with an events list."})
    items = data.get("events")
    create_missing = data.get("createMissingCustomers", False)
    if not isinstance(items, list) or not items:
        raise InputError({"events": "Expected a non-empty list of events."})
    if len(items) > MAX_BATCH:
        raise InputError({"events": f"At most {MAX_BATCH} events per request."})
    if not isinstance(create_missing, bool):
        raise InputError({"createMissingCustomers": "Expected true or false."})

    now = utcnow()
    results: list[dict] = [{} for _ in items]
    parsed: list[tuple[int, str, tuple]] = []
    new_customers: dict[str, dict] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            results[index] = {
                "index": index,
                "status": "failed",
                "errors": {"": "Expected an object."},
            }
            continue
        if problem := unstorable_text(item):
            results[index] = {"index": index, "status": "failed", "errors": {"": problem}}
            continue
        item = dict(item)
        external_id = item.pop("externalCustomerId", None)
        customer_data = item.pop("customer", None)
        errors: dict[str, str] = {}
        if not isinstance(external_id, str) or not external_id.strip():
            errors["externalCustomerId"] = (
                "Missing." if external_id is None else "Expected a string."
            )
        elif len(external_id.strip()) > 255:
            errors["externalCustomerId"] = "Longer than 255 characters."
        try:
            event = event_input(item, now)
        except InputError as error:
            errors.update(error.errors)
        if errors:
            results[index] = {"index": index, "status": "failed", "errors": errors}
            continue
        external_id = external_id.strip()
        parsed.append((index, external_id, event))
        if customer_data is not None and external_id not in new_customers:
            new_customers[external_id] = customer_data

    known = _known_customers(session, account_id, sorted({e for _, e, _ in parsed}))
    to_create: dict[str, dict] = {}
    for index, external_id, _event in parsed:
        if external_id in known or external_id in to_create:
            continue
        if not create_missing:
            results[index] = _failed(index, "No customer has this externalCustomerId.")
            continue
        try:
            record = customer_input(
                {**(new_customers.get(external_id) or {}), "externalCustomerId": external_id}
            )
        except InputError as error:
            detail = "; ".join(f"{k}: {v}" for k, v in error.errors.items())
            results[index] = _failed(index, f"Cannot create the customer ({detail}).")
            continue
        to_create[external_id] = {
            "id": uuid.uuid4(),
            "user_id": account_id,
            "external_customer_id": external_id,
            "name": record.name,
            "email": record.email,
            "signup_date": record.signup_date or now,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    if to_create:
        insert_rows(session, Customer, list(to_create.values()))
        known.update({e: row["id"] for e, row in to_create.items()})

    event_rows = []
    event_ids = iter(ordered_ids(now, len(parsed)))
    for index, external_id, (event_type, when, details) in parsed:
        if results[index]:
            continue
        if external_id not in known:  # its customer could not be created
            results[index] = _failed(index, "No customer has this externalCustomerId.")
            continue
        event_id = next(event_ids)
        event_rows.append(
            {
                "id": event_id,
                "user_id": account_id,
                "customer_id": known[external_id],
                "event_type": event_type,
                "event_date": when,
                "details": details,
                "created_at": now,
            }
        )
        results[index] = {"index": index, "status": "created", "id": str(event_id)}
    if event_rows:
        _insert_events(session, event_rows)
        touched = list({row["customer_id"] for row in event_rows})
        if queue_rescores:
            rescore_queue.enqueue(session, account_id, touched)
        else:
            rescore(session, account_id, customer_ids=touched)
    failed = sum(1 for r in results if r["status"] == "failed")
    return {
        "created": len(event_rows),
        "failed": failed,
        "customersCreated": len(to_create),
        "scores": "queued" if queue_rescores and event_rows else "updated",
        "results": results,
    }


def _insert_events(session: Session, rows: list[dict]) -> None:
    """Write the events in one go: COPY on PostgreSQL, an executemany on SQLite.

    Either way the trigger keeping engagement_days runs once per statement, not per event.
    COPY is about four times faster than multi-row INSERTs for a batch of 1,000.
    """
    if session.get_bind().dialect.name != "postgresql":
        # Sent as multi-row INSERTs from one cached statement ("insertmanyvalues").
        session.execute(insert(EngagementEvent), rows)
        return
    account = str(rows[0]["user_id"])  # one batch, one account, one time written
    written = rows[0]["created_at"].isoformat()
    lines = "".join(
        f"{row['id']}\t{account}\t{row['customer_id']}\t{escape(row['event_type'])}\t"
        f"{row['event_date'].isoformat()}\t"
        f"{escape(json.dumps(row['details'])) if row['details'] else '{}'}\t{written}\n"
        for row in rows
    )
    with copy_from_stdin(
        session,
        "COPY engagement_history (id, user_id, customer_id, event_type, event_date, details, "
        "created_at) FROM STDIN",
    ) as copy:
        copy.write(lines)


def _failed(index: int, message: str) -> dict:
    return {"index": index, "status": "failed", "errors": {"externalCustomerId": message}}
