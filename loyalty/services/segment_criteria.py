"""Segment criteria as one SQL condition on customers, and automatic memberships kept current."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, exists, func, not_, or_, select, true
from sqlalchemy.orm import Session

from loyalty.domain.criteria import (
    Criteria,
    EventsRule,
    LastEngagementRule,
    NpsRule,
    RiskRule,
    SignupRule,
    TagsRule,
    parse_criteria,
)
from loyalty.domain.surveys import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
    SurveyResponse,
)
from loyalty.services.customer_query import DEFAULT_DIRECTION, DEFAULT_SORT, ordered
from loyalty.services.customers import add_matching_to_segment
from loyalty.types import IdList, among_ids, utcnow

PREVIEW_LIMIT = 10
DELETE_BATCH = 5000


def _rule_condition(rule, now: datetime, account_id: uuid.UUID | None):
    if isinstance(rule, SignupRule):
        if rule.op == "older_than_days":
            return Customer.signup_date < now - timedelta(days=rule.days or 0)
        parts = []
        if rule.start is not None:
            parts.append(Customer.signup_date >= rule.start)
        if rule.end is not None:
            parts.append(Customer.signup_date < rule.end)
        return and_(*parts)
    if isinstance(rule, LastEngagementRule):
        column = Customer.last_engagement_date
        if rule.op == "never":
            return column.is_(None)
        cut = now - timedelta(days=rule.days or 0)
        return column < cut if rule.op == "older_than_days" else column >= cut
    if isinstance(rule, RiskRule):
        score = Customer.churn_risk_score
        parts = [score.is_not(None)]
        if rule.low is not None:
            parts.append(score >= rule.low)
        if rule.high is not None:
            parts.append(score <= rule.high if rule.op == "between" else score < rule.high)
        return and_(*parts)
    if isinstance(rule, TagsRule):
        tagged = exists().where(
            CustomerTag.customer_id == Customer.id, CustomerTag.tag.in_(rule.tags)
        )
        if rule.op == "any":
            return tagged
        if rule.op == "none":
            return not_(tagged)
        having = (
            select(func.count(CustomerTag.tag))
            .where(CustomerTag.customer_id == Customer.id, CustomerTag.tag.in_(rule.tags))
            .scalar_subquery()
        )
        return having == len(rule.tags)
    if isinstance(rule, EventsRule):
        # One grouped pass over the window's events instead of a count per customer.
        def counted(having):
            return (
                select(EngagementEvent.customer_id)
                .where(
                    EngagementEvent.event_type == rule.event_type,
                    EngagementEvent.event_date >= now - timedelta(days=rule.days),
                    EngagementEvent.event_date <= now,
                    *([EngagementEvent.user_id == account_id] if account_id else []),
                )
                .group_by(EngagementEvent.customer_id)
                .having(having)
            )

        if rule.op == "at_least":
            if rule.count <= 0:
                return true()
            return Customer.id.in_(counted(func.count() >= rule.count))
        # NOT EXISTS (not NOT IN) so the database can plan a hash anti-join at any size.
        over = counted(func.count() > rule.count).subquery()
        return ~exists().where(over.c.customer_id == Customer.id)
    if isinstance(rule, NpsRule):
        # Each customer's latest NPS answer in one windowed pass (no lookup per customer).
        kind = SurveyResponse.response["kind"].as_string()
        ranked = (
            select(
                SurveyResponse.customer_id.label("customer_id"),
                SurveyResponse.response["score"].as_integer().label("score"),
                func.row_number()
                .over(
                    partition_by=SurveyResponse.customer_id,
                    order_by=(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc()),
                )
                .label("position"),
            )
            .where(kind == "nps", *([SurveyResponse.user_id == account_id] if account_id else []))
            .subquery()
        )
        low, high = {
            "detractor": (0, NPS_DETRACTOR_MAX),
            "passive": (NPS_DETRACTOR_MAX + 1, NPS_PROMOTER_MIN - 1),
            "promoter": (NPS_PROMOTER_MIN, 10),
        }[rule.category]
        return Customer.id.in_(
            select(ranked.c.customer_id).where(
                ranked.c.position == 1, ranked.c.score.between(low, high)
            )
        )
    raise TypeError(f"unknown rule {rule!r}")


def criteria_condition(
    criteria: Criteria, now: datetime | None = None, account_id: uuid.UUID | None = None
):
    """One SQL condition on Customer that holds exactly for the customers that match.

    `account_id` narrows inner aggregates to the account (the outer query picks its customers).
    """
    now = now or utcnow()
    conditions = [_rule_condition(rule, now, account_id) for rule in criteria.rules]
    if not conditions:
        return true()
    return and_(*conditions) if criteria.match == "all" else or_(*conditions)


def preview(
    session: Session, account_id: uuid.UUID, criteria: Criteria, limit: int = PREVIEW_LIMIT
):
    """How many customers match, and the first few (highest risk first), without saving.

    The first few come in the customer table's default order, which its risk index reads
    backwards and stops after `limit` rows; the count reads only the matching ids.
    """
    condition = and_(
        Customer.user_id == account_id, criteria_condition(criteria, account_id=account_id)
    )
    total = session.scalar(select(func.count()).select_from(Customer).where(condition)) or 0
    if not total:
        return 0, []
    default_order = ordered(
        select(Customer).where(condition), DEFAULT_SORT, ascending=DEFAULT_DIRECTION == "asc"
    )
    first = session.scalars(default_order.limit(limit))
    return total, list(first)


def apply_criteria(
    session: Session, segment: CustomerSegment, criteria: Criteria, automatic: bool
) -> int:
    """Save criteria; automatic segments follow them, manual ones add the matches once."""
    segment.criteria = criteria.to_json()
    segment.is_automatic = automatic
    session.flush()
    if automatic:
        return refresh_segment(session, segment)
    condition = criteria_condition(criteria, account_id=segment.user_id)
    added = add_matching_to_segment(session, segment, condition)
    segment.members_refreshed_at = utcnow()
    return added


def refresh_segment(
    session: Session, segment: CustomerSegment, customer_ids: Iterable[uuid.UUID] | None = None
) -> int:
    """Make an automatic segment's members exactly its matches (two set-based statements)."""
    criteria = parse_criteria(segment.criteria or {})
    condition = criteria_condition(criteria, account_id=segment.user_id)
    ids = None
    if customer_ids is not None:  # one parameter, however many customers
        ids = bindparam("customer_ids", list(customer_ids), type_=IdList())
    scope = true() if ids is None else among_ids(Customer.id, ids)
    member = CustomerSegmentMembership
    # Members minus matches (EXCEPT) is one set difference; the few stale ids are then deleted
    # by key. (A DELETE ... IN (EXCEPT) can be planned as a loop per member when statistics
    # lag behind a segment that just grew.)
    stale = (
        select(member.customer_id)
        .where(
            member.customer_segment_id == segment.id,
            *([among_ids(member.customer_id, ids)] if ids is not None else []),
        )
        .except_(select(Customer.id).where(Customer.user_id == segment.user_id, scope, condition))
    )
    stale_ids = list(session.scalars(stale))
    for start in range(0, len(stale_ids), DELETE_BATCH):
        session.execute(
            delete(member).where(
                member.customer_segment_id == segment.id,
                member.customer_id.in_(stale_ids[start : start + DELETE_BATCH]),
            ),
            execution_options={"synchronize_session": False},
        )
    added = add_matching_to_segment(session, segment, and_(scope, condition))
    segment.members_refreshed_at = utcnow()
    return added


def refresh_automatic_segments(
    session: Session, account_id: uuid.UUID, customer_ids: Iterable[uuid.UUID] | None = None
) -> None:
    """Recompute every automatic segment of the account (or just for some customers)."""
    ids = list(customer_ids) if customer_ids is not None else None
    segments = session.scalars(
        select(CustomerSegment).where(
            CustomerSegment.user_id == account_id, CustomerSegment.is_automatic.is_(True)
        )
    )
    for segment in segments:
        refresh_segment(session, segment, ids)
