"""Segment criteria as one SQL condition on customers, and automatic memberships kept current."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, not_, or_, select, true
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
from loyalty.services.customers import add_matching_to_segment
from loyalty.types import utcnow

PREVIEW_LIMIT = 10


def _rule_condition(rule, now: datetime):
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
        count = (
            select(func.count(EngagementEvent.id))
            .where(
                EngagementEvent.customer_id == Customer.id,
                EngagementEvent.event_type == rule.event_type,
                EngagementEvent.event_date >= now - timedelta(days=rule.days),
                EngagementEvent.event_date <= now,
            )
            .scalar_subquery()
        )
        return count >= rule.count if rule.op == "at_least" else count <= rule.count
    if isinstance(rule, NpsRule):
        score = SurveyResponse.response["score"].as_integer()
        latest = (
            select(score)
            .where(
                SurveyResponse.customer_id == Customer.id,
                SurveyResponse.response["kind"].as_string() == "nps",
            )
            .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        bounds = {
            "detractor": (0, NPS_DETRACTOR_MAX),
            "passive": (NPS_DETRACTOR_MAX + 1, NPS_PROMOTER_MIN - 1),
            "promoter": (NPS_PROMOTER_MIN, 10),
        }[rule.category]
        return latest.between(*bounds)
    raise TypeError(f"unknown rule {rule!r}")


def criteria_condition(criteria: Criteria, now: datetime | None = None):
    """One SQL condition on Customer that holds exactly for the customers that match."""
    now = now or utcnow()
    conditions = [_rule_condition(rule, now) for rule in criteria.rules]
    if not conditions:
        return true()
    return and_(*conditions) if criteria.match == "all" else or_(*conditions)


def preview(session: Session, criteria: Criteria, limit: int = PREVIEW_LIMIT):
    """How many customers match, and the first few (highest risk first), without saving."""
    condition = criteria_condition(criteria)
    total = session.scalar(select(func.count()).select_from(Customer).where(condition)) or 0
    first = list(
        session.scalars(
            select(Customer)
            .where(condition)
            .order_by(Customer.churn_risk_score.desc().nulls_last(), Customer.id)
            .limit(limit)
        )
    )
    return total, first


def apply_criteria(
    session: Session, segment: CustomerSegment, criteria: Criteria, automatic: bool
) -> int:
    """Save criteria; automatic segments follow them, manual ones add the matches once."""
    segment.criteria = criteria.to_json()
    segment.is_automatic = automatic
    session.flush()
    if automatic:
        return refresh_segment(session, segment)
    added = add_matching_to_segment(session, segment, criteria_condition(criteria))
    segment.members_refreshed_at = utcnow()
    return added


def refresh_segment(
    session: Session, segment: CustomerSegment, customer_ids: Iterable[uuid.UUID] | None = None
) -> int:
    """Make an automatic segment's members exactly its matches (two set-based statements)."""
    criteria = parse_criteria(segment.criteria or {})
    condition = criteria_condition(criteria)
    scope = true() if customer_ids is None else Customer.id.in_(list(customer_ids))
    matching = select(Customer.id).where(Customer.user_id == segment.user_id, scope, condition)
    stale = select(Customer.id).where(Customer.user_id == segment.user_id, scope, not_(condition))
    if customer_ids is None:
        session.execute(
            delete(CustomerSegmentMembership).where(
                CustomerSegmentMembership.customer_segment_id == segment.id,
                CustomerSegmentMembership.customer_id.not_in(matching),
            )
        )
    else:
        session.execute(
            delete(CustomerSegmentMembership).where(
                CustomerSegmentMembership.customer_segment_id == segment.id,
                CustomerSegmentMembership.customer_id.in_(stale),
            )
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
