"""Segments: named groups of customers, kept by hand or by criteria."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.models import CustomerSegment, SegmentCount


class SegmentNameTaken(Exception):
    """Another segment of this account has that name."""


@dataclass(frozen=True)
class SegmentStats:
    """A segment with its member count and their average churn risk."""

    segment: CustomerSegment
    members: int
    average_risk: float | None


def segment_stats(session: Session) -> list[SegmentStats]:
    """Every segment of the account with member count and average risk, in one query
    (the counts are kept by the database, see `SegmentCount`)."""
    rows = session.execute(
        select(CustomerSegment, SegmentCount)
        .outerjoin(SegmentCount, SegmentCount.customer_segment_id == CustomerSegment.id)
        .order_by(CustomerSegment.name)
    )
    return [_stats(segment, counts) for segment, counts in rows]


def stats_of(session: Session, segment: CustomerSegment) -> SegmentStats:
    """Member count and average risk of one segment."""
    return _stats(segment, session.get(SegmentCount, segment.id))


def _stats(segment: CustomerSegment, counts: SegmentCount | None) -> SegmentStats:
    if counts is None:  # nobody has joined it yet
        return SegmentStats(segment, 0, None)
    return SegmentStats(segment, counts.members, counts.average_risk)


def _name_taken(session: Session, name: str, except_id: uuid.UUID | None) -> bool:
    statement = select(CustomerSegment.id).where(func.lower(CustomerSegment.name) == name.lower())
    if except_id is not None:
        statement = statement.where(CustomerSegment.id != except_id)
    return session.scalar(statement.limit(1)) is not None


def create_segment(
    session: Session, account_id: uuid.UUID, name: str, description: str = ""
) -> CustomerSegment:
    """A new, empty manual segment; raises SegmentNameTaken."""
    if _name_taken(session, name, None):
        raise SegmentNameTaken(name)
    segment = CustomerSegment(user_id=account_id, name=name, description=description)
    try:
        with session.begin_nested():
            session.add(segment)
    except IntegrityError as error:
        raise SegmentNameTaken(name) from error
    return segment


def rename_segment(session: Session, segment: CustomerSegment, name: str, description: str) -> None:
    """Change a segment's name and description; raises SegmentNameTaken."""
    if _name_taken(session, name, segment.id):
        raise SegmentNameTaken(name)
    segment.name = name
    segment.description = description
    session.flush()


def delete_segment(session: Session, segment: CustomerSegment) -> None:
    """Delete a segment; its customers stay, only the grouping goes."""
    session.delete(segment)
    session.flush()
