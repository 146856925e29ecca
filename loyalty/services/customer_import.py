"""Writing validated customer records in bulk: COPY + one upsert on PostgreSQL, batches on SQLite.

Rows are matched on (account, externalCustomerId): a new id inserts, a known one updates,
and an unchanged row is left alone, so importing the same file twice changes nothing.
The caller owns the transaction: nothing is visible until it commits, and an error (or a
killed process) before that leaves the account as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Protocol

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from loyalty.models import Customer, CustomerTag
from loyalty.services.bulk import copy_from_stdin
from loyalty.services.scoring import first_score, logins_tracked
from loyalty.types import ordered_batch_prefix, utcnow

BATCH_SIZE = 1000


class CustomerRow(Protocol):
    """A validated customer record (see loyalty/domain/importing.py)."""

    external_customer_id: str
    name: str
    email: str
    signup_date: datetime | None
    tags: tuple[str, ...] | None


@dataclass
class ImportCounts:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Customers whose signup date moved: the only change of an import that moves a score
    # (new customers arrive scored).
    rescore_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows written or confirmed."""
        return self.created + self.updated + self.unchanged


def _batches(rows: Iterable[CustomerRow], size: int = BATCH_SIZE) -> Iterator[list[CustomerRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def upsert_customers(
    session: Session, account_id: uuid.UUID, rows: Iterable[CustomerRow], set_tags: bool
) -> ImportCounts:
    """Insert or update the account's customers from `rows` (streamed; memory stays flat)."""
    if session.get_bind().dialect.name == "postgresql":
        return _upsert_postgresql(session, account_id, rows, set_tags)
    return _upsert_batched(session, account_id, rows, set_tags)


_PG_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS customer_import_stage (
    external_customer_id text NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    signup_date timestamptz,
    tags text
) ON COMMIT DROP
"""

_PG_UPDATE = """
UPDATE customers c
   SET name = s.name,
       email = s.email,
       signup_date = COALESCE(s.signup_date, c.signup_date),
       version = c.version + 1,
       updated_at = :now
  FROM customer_import_stage s
 WHERE c.user_id = :account AND c.external_customer_id = s.external_customer_id
   AND (c.name, c.email, c.signup_date)
       IS DISTINCT FROM (s.name, s.email, COALESCE(s.signup_date, c.signup_date))
"""

# ON CONFLICT keeps two overlapping imports from creating the same customer twice.
_PG_INSERT = """
INSERT INTO customers (id, user_id, external_customer_id, name, email, signup_date,
                       churn_risk_score, churn_risk_facts, churn_scored_at,
                       version, created_at, updated_at)
SELECT CAST(:id_prefix || lpad(to_hex(row_number() OVER ()), 8, '0') AS uuid),
       :account, s.external_customer_id, s.name, s.email,
       COALESCE(s.signup_date, :now), :score, CAST(:facts AS jsonb), :now, 1, :now, :now
  FROM customer_import_stage s
 WHERE NOT EXISTS (SELECT 1 FROM customers c
                    WHERE c.user_id = :account AND c.external_customer_id = s.external_customer_id)
ON CONFLICT (user_id, external_customer_id) DO NOTHING
"""

# Existing customers whose stored signup date the staged rows change.
_PG_SIGNUP_MOVES = """
SELECT c.id
  FROM customers c
  JOIN customer_import_stage s ON s.external_customer_id = c.external_customer_id
 WHERE c.user_id = :account AND s.signup_date IS NOT NULL AND s.signup_date <> c.signup_date
"""

BIG_IMPORT = 10_000  # from here the planner is told about the new rows at once

# A tag goes when the file's row does not list it (each row compared with its own list, so
# this is one join, not a search per tag). Only customers that were already there can have
# tags to lose: an import that created every row skips it.
_PG_TAGS_REMOVE = """
DELETE FROM customer_tags ct
USING customer_import_stage s, customers c
WHERE c.user_id = :account AND c.external_customer_id = s.external_customer_id
  AND ct.customer_id = c.id
  AND NOT (ct.tag = ANY (COALESCE(string_to_array(NULLIF(s.tags, ''), ','), '{}')))
"""

_PG_TAGS_ADD = """
INSERT INTO customer_tags (customer_id, tag, user_id)
SELECT c.id, t.tag, :account
FROM customer_import_stage s
JOIN customers c ON c.user_id = :account AND c.external_customer_id = s.external_customer_id
CROSS JOIN LATERAL unnest(string_to_array(s.tags, ',')) AS t(tag)
WHERE s.tags <> ''
ON CONFLICT DO NOTHING
"""


def stages_rows(session: Session) -> bool:
    """True where rows can be staged first and written later (PostgreSQL: COPY)."""
    return session.get_bind().dialect.name == "postgresql"


def stage_customers(session: Session, rows: Iterable[CustomerRow]) -> int:
    """COPY rows into this transaction's staging table (nothing is written to customers)."""
    connection = session.connection()
    connection.execute(text(_PG_STAGE))
    connection.execute(text("TRUNCATE customer_import_stage"))
    staged = 0
    with copy_from_stdin(
        session,
        "COPY customer_import_stage (external_customer_id, name, email, signup_date, tags) "
        "FROM STDIN",
    ) as copy:
        for row in rows:
            tags = ",".join(row.tags) if row.tags else ""
            copy.write_row((row.external_customer_id, row.name, row.email, row.signup_date, tags))
            staged += 1
    return staged


def apply_staged(
    session: Session, account_id: uuid.UUID, staged: int, set_tags: bool
) -> ImportCounts:
    """Insert or update the account's customers from the staged rows, set-based."""
    if not staged:
        return ImportCounts()
    connection = session.connection()
    # Temporary tables are never analyzed by autovacuum: without this the joins below are
    # planned for an empty stage.
    connection.execute(text("ANALYZE customer_import_stage"))
    # A missing signup date keeps the stored one; a new customer without one gets "now".
    now = utcnow()
    params = {"account": account_id, "now": now}
    moved = list(connection.execute(text(_PG_SIGNUP_MOVES), params).scalars())
    updated = connection.execute(text(_PG_UPDATE), params).rowcount
    # New customers have no history yet: they start with the score a rescore would give them,
    # so the rescore after the import has nothing to write for them.
    first = first_score(now, logins_tracked(session, account_id, now))
    created = connection.execute(
        text(_PG_INSERT),
        {
            **params,
            "id_prefix": _id_prefix(now),
            "score": first["churn_risk_score"],
            "facts": json.dumps(first["churn_risk_facts"]),
        },
    ).rowcount
    if set_tags:
        if created < staged:
            connection.execute(text(_PG_TAGS_REMOVE), {"account": account_id})
        connection.execute(text(_PG_TAGS_ADD), {"account": account_id})
    connection.execute(text("TRUNCATE customer_import_stage"))
    if created >= BIG_IMPORT:
        connection.execute(text("ANALYZE customers, customer_tags, customer_search"))
    session.expire_all()
    return ImportCounts(
        created=created, updated=updated, unchanged=staged - created - updated, rescore_ids=moved
    )


def _id_prefix(now: datetime) -> str:
    """The first 24 hex digits of the new customers' ids; SQL appends a row counter.

    Time-ordered ids (see `ordered_batch_prefix`) keep the primary key, and the tags' and
    events' indexes on customer ids, appending.
    """
    return f"{ordered_batch_prefix(now):024x}"


def _upsert_postgresql(
    session: Session, account_id: uuid.UUID, rows: Iterable[CustomerRow], set_tags: bool
) -> ImportCounts:
    return apply_staged(session, account_id, stage_customers(session, rows), set_tags)


def _upsert_batched(
    session: Session, account_id: uuid.UUID, rows: Iterable[CustomerRow], set_tags: bool
) -> ImportCounts:
    counts = ImportCounts()
    now = utcnow()
    first = first_score(now, logins_tracked(session, account_id, now))
    for batch in _batches(rows):
        existing = {
            external_id: (cid, name, email, signup)
            for cid, external_id, name, email, signup in session.execute(
                select(
                    Customer.id,
                    Customer.external_customer_id,
                    Customer.name,
                    Customer.email,
                    Customer.signup_date,
                ).where(
                    Customer.user_id == account_id,
                    Customer.external_customer_id.in_([r.external_customer_id for r in batch]),
                )
            )
        }
        inserts, ids_by_external = [], {}
        for row in batch:
            found = existing.get(row.external_customer_id)
            if found is None:
                new_id = uuid.uuid4()
                ids_by_external[row.external_customer_id] = new_id
                inserts.append(
                    {
                        "id": new_id,
                        "user_id": account_id,
                        "external_customer_id": row.external_customer_id,
                        "name": row.name,
                        "email": row.email,
                        "signup_date": row.signup_date or now,
                        **first,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                continue
            cid, name, email, signup = found
            ids_by_external[row.external_customer_id] = cid
            new_signup = row.signup_date or signup
            if (name, email, signup) == (row.name, row.email, new_signup):
                counts.unchanged += 1
                continue
            if new_signup != signup:
                counts.rescore_ids.append(cid)
            session.execute(
                update(Customer)
                .where(Customer.id == cid)
                .values(
                    name=row.name,
                    email=row.email,
                    signup_date=new_signup,
                    version=Customer.version + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            counts.updated += 1
        if inserts:
            session.execute(insert(Customer), inserts)
            counts.created += len(inserts)
        if set_tags:
            _replace_tags(session, account_id, batch, ids_by_external)
    session.expire_all()
    return counts


def _replace_tags(
    session: Session,
    account_id: uuid.UUID,
    batch: list[CustomerRow],
    ids_by_external: dict[str, uuid.UUID],
) -> None:
    ids = list(ids_by_external.values())
    session.execute(
        delete(CustomerTag)
        .where(CustomerTag.customer_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    rows = [
        {"customer_id": ids_by_external[r.external_customer_id], "tag": tag, "user_id": account_id}
        for r in batch
        for tag in dict.fromkeys(r.tags or ())
    ]
    if rows:
        session.execute(insert(CustomerTag), rows)
