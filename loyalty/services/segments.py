"""Segments: named groups of customers, kept by hand or by criteria."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.models import Customer, CustomerSegment, CustomerSegmentMembership


class SegmentNameTaken(Exception):
    """Another segment of this account has that name."""


@dataclass(frozen=True)
class SegmentStats:
    """A segment with its member count and their average churn risk."""

    segment: CustomerSegment
    members: int
    average_risk: float | None


def segment_stats(session: Session) -> list[SegmentStats]:
    """Every segment of the account with member count and average risk, in one query."""
    rows = session.execute(
        select(
            CustomerSegment,
            func.count(Customer.id),
            func.avg(Customer.churn_risk_score),
        )
        .outerjoin(
            CustomerSegmentMembership,
            CustomerSegmentMembership.customer_segment_id == CustomerSegment.id,
        )
        .outerjoin(Customer, Customer.id == CustomerSegmentMembership.customer_id)
        .group_by(CustomerSegment.id)
        .order_by(CustomerSegment.name)
    )
    return [
        SegmentStats(segment, members, float(avg) if avg is not None else None)
        for segment, members, avg in rows
    ]


def stats_of(session: Session, segment: CustomerSegment) -> SegmentStats:
    """Member count and average risk of one segment."""
    members, average = session.execute(
        select(func.count(Customer.id), func.avg(Customer.churn_risk_score))
        .join(CustomerSegmentMembership, CustomerSegmentMembership.customer_id == Customer.id)
        .where(CustomerSegmentMembership.customer_segment_id == segment.id)
    ).one()
    return SegmentStats(segment, members, float(average) if average is not None else None)


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
