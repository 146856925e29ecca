"""Newest-first pages on (date, id) for timelines, the outbox and survey answers.

Keyset paging: the cursor is the last row's date and id, so page 500 is as fast as page 1.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Page:
    """Rows newest first, and the cursor of the next (older) page ("" at the end)."""

    rows: list
    older: str


def encode(moment: datetime, ident: uuid.UUID) -> str:
    """An opaque cursor for a row's position."""
    raw = f"{moment.isoformat()}|{ident}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, uuid.UUID] | None:
    """The position in a cursor, or None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, ident = raw.split("|")
        return datetime.fromisoformat(moment), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        return None


def newest_first(
    session: Session,
    statement: Select,
    date_column,
    id_column,
    older: str,
    limit: int,
    position: Callable[[object], tuple[datetime, uuid.UUID]],
    scalars: bool = True,
) -> Page:
    """One page of `statement` ordered by date and id descending, after the cursor `older`.

    `position` gives a row's (date, id) for the next cursor. A cursor that is not ours gives
    an empty page rather than an error.
    """
    if older:
        found = decode(older)
        if found is None:
            return Page([], "")
        moment, ident = found
        statement = statement.where(
            or_(date_column < moment, and_(date_column == moment, id_column < ident))
        )
    statement = statement.order_by(date_column.desc(), id_column.desc()).limit(limit + 1)
    result = session.execute(statement)
    rows = list(result.scalars()) if scalars else [tuple(row) for row in result]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode(*position(rows[-1])) if more and rows else "")
