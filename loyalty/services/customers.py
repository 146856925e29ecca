"""Customers: create, edit, delete, tag, and group into segments, one transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Uuid, bindparam, delete, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    FeedbackSurvey,
    SurveyResponse,
)
from loyalty.types import UTCDateTime, utcnow


class DuplicateExternalId(Exception):
    """Another customer of this account already has that external id."""

    def __init__(self, external_id: str) -> None:
        super().__init__(f"A customer with the external id {external_id!r} already exists.")
        self.external_id = external_id


class StaleCustomer(Exception):
    """The customer changed since the editor loaded it; nothing was overwritten."""

    def __init__(self, current: Customer) -> None:
        super().__init__("This customer was changed by someone else in the meantime.")
        self.current = current


@dataclass(frozen=True)
class CustomerFields:
    """What a person (or a program) may set on a customer."""

    external_customer_id: str
    name: str
    email: str
    signup_date: datetime
    tags: tuple[str, ...] = ()


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags compare case-insensitively, without surrounding spaces or repeats, sorted."""
    return tuple(sorted({t.strip().lower() for t in tags if t and t.strip()}))


def external_id_taken(session: Session, external_id: str, except_id: uuid.UUID | None) -> bool:
    """True when another customer of the signed-in account uses this external id."""
    statement = select(Customer.id).where(Customer.external_customer_id == external_id)
    if except_id is not None:
        statement = statement.where(Customer.id != except_id)
    return session.scalar(statement.limit(1)) is not None


def _set_tags(session: Session, customer: Customer, tags: Sequence[str]) -> None:
    wanted = set(normalize_tags(tags))
    current = {t.tag for t in customer.tags}
    for tag in list(customer.tags):
        if tag.tag not in wanted:
            customer.tags.remove(tag)
    for tag in sorted(wanted - current):
        customer.tags.append(CustomerTag(tag=tag, user_id=customer.user_id))


def change_tags(
    session: Session, customer: Customer, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> tuple[str, ...]:
    """Add and remove some tags (an edit like any other: the version moves on)."""
    gone = set(normalize_tags(remove))
    wanted = [t.tag for t in customer.tags if t.tag not in gone] + list(add)
    _set_tags(session, customer, wanted)
    customer.version += 1
    customer.updated_at = utcnow()
    session.flush()
    return tuple(t.tag for t in customer.tags)


def create_customer(session: Session, account_id: uuid.UUID, fields: CustomerFields) -> Customer:
    """Add a customer to the account; raises DuplicateExternalId."""
    if external_id_taken(session, fields.external_customer_id, None):
        raise DuplicateExternalId(fields.external_customer_id)
    customer = Customer(
        user_id=account_id,
        external_customer_id=fields.external_customer_id,
        name=fields.name,
        email=fields.email,
        signup_date=fields.signup_date,
    )
    session.add(customer)
    _set_tags(session, customer, fields.tags)
    session.flush()
    return customer


def update_customer(
    session: Session, customer: Customer, fields: CustomerFields, expected_version: int | None
) -> Customer:
    """Change a customer; refuses (StaleCustomer) if it changed since `expected_version`."""
    if expected_version is not None and expected_version != customer.version:
        raise StaleCustomer(customer)
    if fields.external_customer_id != customer.external_customer_id and external_id_taken(
        session, fields.external_customer_id, customer.id
    ):
        raise DuplicateExternalId(fields.external_customer_id)
    customer.external_customer_id = fields.external_customer_id
    customer.name = fields.name
    customer.email = fields.email
    customer.signup_date = fields.signup_date
    _set_tags(session, customer, fields.tags)
    customer.version += 1
    customer.updated_at = utcnow()
    session.flush()
    return customer


def delete_customers(session: Session, ids: Iterable[uuid.UUID]) -> int:
    """Delete the account's customers among `ids` (the database removes their rows too)."""
    ids = list(ids)
    if not ids:
        return 0
    owned = list(session.scalars(select(Customer.id).where(Customer.id.in_(ids))))
    if owned:
        session.execute(
            delete(Customer).where(Customer.id.in_(owned)),
            execution_options={"synchronize_session": False},
        )
    session.expire_all()
    return len(owned)


def owned_customer_ids(session: Session, ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """The subset of `ids` that are customers of the signed-in account."""
    ids = list(ids)
    if not ids:
        return []
    return list(session.scalars(select(Customer.id).where(Customer.id.in_(ids))))


class AutomaticSegment(Exception):
    """Members chosen by hand for a segment whose criteria choose them (and would undo it)."""

    def __init__(self, segment: CustomerSegment) -> None:
        super().__init__(f"{segment.name} is automatic: its criteria choose its members.")


def _chosen_by_hand(segment: CustomerSegment) -> None:
    if segment.is_automatic:
        raise AutomaticSegment(segment)


def add_to_segment(session: Session, segment: CustomerSegment, ids: Iterable[uuid.UUID]) -> int:
    """Put the account's customers among `ids` into a manual `segment`: one statement,
    repeats ignored. An automatic segment refuses (AutomaticSegment): its next refresh
    would take them out again."""
    _chosen_by_hand(segment)
    return add_matching_to_segment(session, segment, Customer.id.in_(list(ids)))


def add_matching_to_segment(session: Session, segment: CustomerSegment, condition) -> int:
    """Put every customer of the segment's account matching `condition` into it, set-based.

    One INSERT ... SELECT; ON CONFLICT DO NOTHING keeps a concurrent add of the same customer
    harmless (the primary key decides).
    """
    # A Core INSERT ... SELECT skips the ORM's account criteria, so the account is explicit.
    # Matches EXCEPT current members: existing members cost nothing, however many there are.
    newcomers = (
        select(Customer.id.label("customer_id"))
        .where(Customer.user_id == segment.user_id, condition)
        .except_(
            select(CustomerSegmentMembership.customer_id).where(
                CustomerSegmentMembership.customer_segment_id == segment.id
            )
        )
        .subquery()
    )
    # (WHERE true: SQLite needs a WHERE before ON CONFLICT to tell it from a join's ON.)
    chosen = select(
        newcomers.c.customer_id, literal(segment.id, Uuid), literal(utcnow(), UTCDateTime)
    ).where(true())
    dialect = session.get_bind().dialect.name
    make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING gives the count on every driver (rowcount of INSERT ... SELECT may be -1).
    added = session.connection().execute(
        make_insert(CustomerSegmentMembership)
        .from_select(["customer_id", "customer_segment_id", "added_at"], chosen)
        .on_conflict_do_nothing()
        .returning(CustomerSegmentMembership.customer_id)
    )
    return len(added.all())


def remove_from_segment(
    session: Session, segment: CustomerSegment, ids: Iterable[uuid.UUID]
) -> int:
    """Take customers out of a manual `segment` (an automatic one refuses, as above)."""
    _chosen_by_hand(segment)
    ids = list(ids)
    if not ids:
        return 0
    result = session.connection().execute(
        delete(CustomerSegmentMembership).where(
            CustomerSegmentMembership.customer_segment_id == segment.id,
            CustomerSegmentMembership.customer_id.in_(ids),
        )
    )
    return result.rowcount


def segments_of(session: Session, customer: Customer) -> list[CustomerSegment]:
    """The segments a customer belongs to, by name."""
    return list(
        session.scalars(
            select(CustomerSegment)
            .join(
                CustomerSegmentMembership,
                CustomerSegmentMembership.customer_segment_id == CustomerSegment.id,
            )
            .where(CustomerSegmentMembership.customer_id == customer.id)
            .order_by(CustomerSegment.name)
        )
    )


def _account_tags_statement():
    """Every tag of an account in order, hopping from one tag to the next along the
    (account, tag) index: a handful of tags spread over 100,000 customers costs a handful
    of index probes, where DISTINCT would read every tag row."""
    tags = CustomerTag.__table__
    account = bindparam("account", type_=tags.c.user_id.type)
    first = select(func.min(tags.c.tag).label("tag")).where(tags.c.user_id == account)
    found = first.cte("found", recursive=True)
    following = (
        select(func.min(tags.c.tag))
        .where(tags.c.user_id == account, tags.c.tag > found.c.tag)
        .scalar_subquery()
    )
    found = found.union_all(select(following).where(found.c.tag.is_not(None)))
    return (
        select(found.c.tag)
        .where(found.c.tag.is_not(None))
        .order_by(found.c.tag)
        .limit(bindparam("limit"))
    )


# Built once: making it, and its cache key, took twice as long as running it (many pages
# show the account's tags).
_ACCOUNT_TAGS = _account_tags_statement()


def account_tags(session: Session, limit: int = 500) -> list[str]:
    """Every tag the account uses (at most `limit`), for suggestions and filters."""
    params = {"account": session.info["account_id"], "limit": limit}
    return list(session.scalars(_ACCOUNT_TAGS, params))


def account_segments(session: Session) -> list[CustomerSegment]:
    """The account's segments by name (for filters and "add to segment")."""
    return list(session.scalars(select(CustomerSegment).order_by(CustomerSegment.name)))


def survey_answers(
    session: Session, customer: Customer, limit: int = 20
) -> list[tuple[SurveyResponse, str]]:
    """The customer's latest survey answers with the survey's title."""
    rows = session.execute(
        select(SurveyResponse, FeedbackSurvey.title)
        .join(FeedbackSurvey, FeedbackSurvey.id == SurveyResponse.feedback_survey_id)
        .where(SurveyResponse.customer_id == customer.id)
        .order_by(SurveyResponse.submitted_at.desc())
        .limit(limit)
    )
    return [(response, title) for response, title in rows]
