"""Engagement events: log, edit, delete, page through, and keep the score current after each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import Customer, EngagementEvent
from loyalty.services import paging
from loyalty.services.scoring import rescore

TIMELINE_PAGE = 20


@dataclass(frozen=True)
class TimelinePage:
    """Some of a customer's events, newest first, and where the next (older) page starts."""

    events: list[EngagementEvent]
    older_cursor: str


def log_event(
    session: Session, customer: Customer, event_type: str, event_date: datetime, details: dict
) -> EngagementEvent:
    """Record an event for a customer and rescore them."""
    event = EngagementEvent(
        user_id=customer.user_id,
        customer_id=customer.id,
        event_type=event_type,
        event_date=event_date,
        details=details,
    )
    session.add(event)
    session.flush()
    rescore(session, customer.user_id, customer_ids=[customer.id])
    return event


def update_event(
    session: Session, event: EngagementEvent, event_type: str, event_date: datetime, details: dict
) -> EngagementEvent:
    """Correct an event and rescore its customer."""
    event.event_type = event_type
    event.event_date = event_date
    event.details = details
    session.flush()
    rescore(session, event.user_id, customer_ids=[event.customer_id])
    return event


def delete_event(session: Session, event: EngagementEvent) -> None:
    """Remove an event and rescore its customer."""
    account_id, customer_id = event.user_id, event.customer_id
    session.delete(event)
    session.flush()
    rescore(session, account_id, customer_ids=[customer_id])


def timeline(
    session: Session,
    customer: Customer | None,
    older_than: str = "",
    limit: int = TIMELINE_PAGE,
    event_type: str = "",
) -> TimelinePage:
    """A page of a customer's timeline, or the whole account's with `customer=None`
    (keyset on date and id, so any depth is fast)."""
    e = EngagementEvent
    statement = select(e)
    if customer is not None:
        statement = statement.where(e.customer_id == customer.id)
    if event_type:
        statement = statement.where(e.event_type == event_type)
    page = paging.newest_first(
        session,
        statement,
        e.event_date,
        e.id,
        older_than,
        limit,
        position=lambda event: (event.event_date, event.id),
    )
    return TimelinePage(page.rows, page.older)
