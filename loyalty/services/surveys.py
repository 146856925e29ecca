"""Surveys: invitations with personal links, the outbox, answers, and results."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from loyalty.domain.surveys import (
    NpsSummary,
    SatisfactionSummary,
    WeekPoint,
    nps_from_counts,
    satisfaction_from_counts,
    trend_start,
    weekly_trend_from_counts,
)
from loyalty.models import (
    Customer,
    CustomerSegmentMembership,
    EngagementEvent,
    FeedbackSurvey,
    SurveyCount,
    SurveyInvitation,
    SurveyResponse,
    User,
)
from loyalty.services import paging
from loyalty.services.bulk import insert_rows
from loyalty.services.scoring import rescore
from loyalty.types import utcnow

INVITATION_DAYS = 60  # a personal link works this long
REPEAT_DAYS = 30  # an embedded survey asks the same customer again after this
OUTBOX_PAGE = 50
LATEST_COMMENTS = 10
TREND_WEEKS = 12
ANSWERED_EVENT = "survey_answered"


@dataclass(frozen=True)
class SurveyFields:
    """What a person may set on a survey."""

    title: str
    description: str
    kind: str
    question: str


def create_survey(session: Session, account_id: uuid.UUID, fields: SurveyFields) -> FeedbackSurvey:
    """A new survey of the account."""
    survey = FeedbackSurvey(user_id=account_id, **fields.__dict__)
    session.add(survey)
    session.flush()
    return survey


def update_survey(session: Session, survey: FeedbackSurvey, fields: SurveyFields) -> None:
    """Change a survey's wording (answers already given keep their kind)."""
    for name, value in fields.__dict__.items():
        setattr(survey, name, value)
    survey.updated_at = utcnow()
    session.flush()


def delete_survey(session: Session, survey: FeedbackSurvey) -> None:
    """Delete a survey with its invitations and answers."""
    session.delete(survey)
    session.flush()


@dataclass(frozen=True)
class SurveyRow:
    """A survey in the list with its invitations and answers counted."""

    survey: FeedbackSurvey
    invited: int
    answered: int


def survey_list(session: Session) -> list[SurveyRow]:
    """The account's surveys, newest first, with the counts the database keeps."""
    rows = session.execute(
        select(FeedbackSurvey, SurveyCount.invitations, SurveyCount.responses)
        .outerjoin(SurveyCount, SurveyCount.feedback_survey_id == FeedbackSurvey.id)
        .order_by(FeedbackSurvey.created_at.desc())
    )
    return [SurveyRow(survey, invited or 0, answered or 0) for survey, invited, answered in rows]


def account_surveys(session: Session) -> list[FeedbackSurvey]:
    """The account's surveys by title (for "send a survey" menus)."""
    return list(session.scalars(select(FeedbackSurvey).order_by(FeedbackSurvey.title)))


# --- Sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """The invitations made, and how many customers already had an open one."""

    ids: list[uuid.UUID]
    skipped: int

    @property
    def count(self) -> int:
        """How many invitations went out."""
        return len(self.ids)


def _open_invitation(now: datetime):
    return and_(
        SurveyInvitation.answered_at.is_(None),
        SurveyInvitation.revoked_at.is_(None),
        or_(SurveyInvitation.expires_at.is_(None), SurveyInvitation.expires_at > now),
    )


def _message(survey: FeedbackSurvey, sender: str, name: str, link: str) -> tuple[str, str]:
    first_name = name.split()[0] if name.split() else "there"
    subject = f"{survey.title} — a quick question from {sender}"
    body = (
        f"Hi {first_name},\n\n{survey.question}\n\n"
        f"It takes a few seconds to answer here:\n{link}\n\n"
        f"Thank you for helping us do better,\n{sender}\n"
    )
    return subject, body


def send_survey(
    session: Session,
    survey: FeedbackSurvey,
    customer_ids: Iterable[uuid.UUID] | None = None,
    segment_id: uuid.UUID | None = None,
    *,
    link_for: Callable[[str], str],
) -> SendResult:
    """Invite the chosen customers (or a segment's members) with one personal link each.

    Customers who already hold an open link to this survey are skipped, so sending twice
    does not spam anyone. The messages land in the outbox; `deliver` sends them by e-mail
    where SMTP is configured.
    """
    now = utcnow()
    chosen = select(Customer.id, Customer.name, Customer.email).where(
        Customer.user_id == survey.user_id
    )
    if segment_id is not None:
        chosen = chosen.join(
            CustomerSegmentMembership, CustomerSegmentMembership.customer_id == Customer.id
        ).where(CustomerSegmentMembership.customer_segment_id == segment_id)
    else:
        chosen = chosen.where(Customer.id.in_(list(customer_ids or [])))
    already = set(
        session.scalars(
            select(SurveyInvitation.customer_id).where(
                SurveyInvitation.feedback_survey_id == survey.id,
                SurveyInvitation.customer_id.in_(chosen.with_only_columns(Customer.id)),
                _open_invitation(now),
            )
        )
    )
    owner = session.get(User, survey.user_id)
    sender = (owner.company_name if owner else "") or "the team"
    rows = []
    for customer_id, name, email in session.execute(chosen.order_by(Customer.name)):
        if customer_id in already:
            continue
        token = secrets.token_urlsafe(32)
        subject, body = _message(survey, sender, name, link_for(token))
        rows.append(
            {
                "id": uuid.uuid4(),
                "user_id": survey.user_id,
                "feedback_survey_id": survey.id,
                "customer_id": customer_id,
                "token": token,
                "email_to": email,
                "email_subject": subject,
                "email_body": body,
                "sent_at": now,
                "expires_at": now + timedelta(days=INVITATION_DAYS),
            }
        )
    insert_rows(session, SurveyInvitation, rows)
    return SendResult(ids=[r["id"] for r in rows], skipped=len(already))


def invitations_by_id(
    session: Session, ids: list[uuid.UUID], batch: int = 500
) -> Iterable[SurveyInvitation]:
    """Invitations in batches (for e-mail delivery of a large send)."""
    for start in range(0, len(ids), batch):
        yield from session.scalars(
            select(SurveyInvitation).where(SurveyInvitation.id.in_(ids[start : start + batch]))
        )


def invitations_of(session: Session, customer: Customer, limit: int = 10):
    """A customer's latest invitations with their survey titles."""
    return session.execute(
        select(SurveyInvitation, FeedbackSurvey.title)
        .join(FeedbackSurvey, FeedbackSurvey.id == SurveyInvitation.feedback_survey_id)
        .where(SurveyInvitation.customer_id == customer.id)
        .order_by(SurveyInvitation.sent_at.desc())
        .limit(limit)
    ).all()


def link_status(invitation: SurveyInvitation, now: datetime) -> str:
    """answered, switched off, expired or open."""
    if invitation.answered_at is not None:
        return "answered"
    if invitation.revoked_at is not None:
        return "switched off"
    if invitation.expires_at is not None and invitation.expires_at <= now:
        return "expired"
    return "open"


def revoke(session: Session, invitation: SurveyInvitation) -> None:
    """Turn a personal link off (an answer already given stays)."""
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
    session.flush()


def outbox(
    session: Session, survey_id: uuid.UUID | None = None, older: str = "", limit: int = OUTBOX_PAGE
) -> paging.Page:
    """The simulated mailbox: every invitation as the e-mail it is (one query per page).

    Rows are (invitation, customer name, survey title)."""
    statement = (
        select(SurveyInvitation, Customer.name, FeedbackSurvey.title)
        .join(Customer, Customer.id == SurveyInvitation.customer_id)
        .join(FeedbackSurvey, FeedbackSurvey.id == SurveyInvitation.feedback_survey_id)
    )
    if survey_id is not None:
        statement = statement.where(SurveyInvitation.feedback_survey_id == survey_id)
    return paging.newest_first(
        session,
        statement,
        SurveyInvitation.sent_at,
        SurveyInvitation.id,
        older,
        limit,
        position=lambda row: (row[0].sent_at, row[0].id),
        scalars=False,
    )


def responses_page(
    session: Session, survey: FeedbackSurvey, older: str = "", limit: int = 50
) -> paging.Page:
    """A page of a survey's answers, newest first."""
    r = SurveyResponse
    return paging.newest_first(
        session,
        select(r).where(r.feedback_survey_id == survey.id),
        r.submitted_at,
        r.id,
        older,
        limit,
        position=lambda answer: (answer.submitted_at, answer.id),
    )


# --- Answering ----------------------------------------------------------------------------


def find_invitation(session: Session, token: str) -> SurveyInvitation | None:
    """The invitation behind a personal link, if the link is real and still usable."""
    if not token or len(token) > 64:
        return None
    invitation = session.scalar(select(SurveyInvitation).where(SurveyInvitation.token == token))
    if invitation is None or invitation.revoked_at is not None:
        return None
    if invitation.answered_at is None and invitation.expires_at is not None:
        if invitation.expires_at <= utcnow():
            return None
    return invitation


def response_to(session: Session, invitation: SurveyInvitation) -> SurveyResponse | None:
    """The answer given through a link."""
    return session.scalar(
        select(SurveyResponse).where(SurveyResponse.invitation_id == invitation.id)
    )


def _record(
    session: Session,
    survey: FeedbackSurvey,
    customer_id: uuid.UUID,
    answer: dict,
    invitation_id: uuid.UUID | None,
    now: datetime,
) -> SurveyResponse:
    response = SurveyResponse(
        user_id=survey.user_id,
        customer_id=customer_id,
        feedback_survey_id=survey.id,
        invitation_id=invitation_id,
        response=answer,
        submitted_at=now,
    )
    details = {"text": answer.get("comment") or "", "survey": survey.title}
    if "score" in answer:
        details["score"] = answer["score"]
    session.add(response)
    session.add(
        EngagementEvent(
            user_id=survey.user_id,
            customer_id=customer_id,
            event_type=ANSWERED_EVENT,
            event_date=now,
            details=details,
        )
    )
    session.flush()
    # The answer moves the churn score (detractors up, promoters down) and segment criteria.
    rescore(session, survey.user_id, customer_ids=[customer_id])
    return response


def answer_invitation(
    session: Session, invitation: SurveyInvitation, answer: dict
) -> SurveyResponse | None:
    """Store the answer to a personal link, once: None if the link was answered already.

    The conditional UPDATE makes two simultaneous submissions store exactly one answer.
    """
    now = utcnow()
    claimed = session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id, SurveyInvitation.answered_at.is_(None))
        .values(answered_at=now)
        .returning(SurveyInvitation.id)
    ).first()
    if claimed is None:
        return None
    survey = session.get(FeedbackSurvey, invitation.feedback_survey_id)
    return _record(session, survey, invitation.customer_id, answer, invitation.id, now)


def embedded_customer(
    session: Session, survey: FeedbackSurvey, external_customer_id: str
) -> Customer | None:
    """The survey account's customer an embed names."""
    return session.scalar(
        select(Customer).where(
            Customer.user_id == survey.user_id,
            Customer.external_customer_id == external_customer_id,
        )
    )


def recent_answer(
    session: Session, survey: FeedbackSurvey, customer: Customer
) -> SurveyResponse | None:
    """The customer's answer to this survey in the last REPEAT_DAYS, if any."""
    return session.scalar(
        select(SurveyResponse)
        .where(
            SurveyResponse.feedback_survey_id == survey.id,
            SurveyResponse.customer_id == customer.id,
            SurveyResponse.submitted_at >= utcnow() - timedelta(days=REPEAT_DAYS),
        )
        .order_by(SurveyResponse.submitted_at.desc())
        .limit(1)
    )


def answer_embedded(
    session: Session, survey: FeedbackSurvey, customer: Customer, answer: dict
) -> SurveyResponse:
    """Store an answer given in a survey embedded by the account's own product."""
    return _record(session, survey, customer.id, answer, None, utcnow())


# --- Results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyResults:
    """What a survey's page shows."""

    invited: int
    answered_links: int
    responses: int
    nps: NpsSummary | None
    satisfaction: SatisfactionSummary | None
    weeks: list[WeekPoint]
    comments: list[dict]

    @property
    def response_rate(self) -> int | None:
        """Answered links as a whole percentage of links sent."""
        if not self.invited:
            return None
        return round(100 * self.answered_links / self.invited)


def survey_results(
    session: Session, survey: FeedbackSurvey, segment_id: uuid.UUID | None = None
) -> SurveyResults:
    """Response rate, NPS or satisfaction, weekly trend and latest comments (4 queries)."""

    def in_segment(statement, customer_column):
        if segment_id is None:
            return statement
        members = select(CustomerSegmentMembership.customer_id).where(
            CustomerSegmentMembership.customer_segment_id == segment_id
        )
        return statement.where(customer_column.in_(members))

    invitations = select(func.count(), func.count(SurveyInvitation.answered_at)).where(
        SurveyInvitation.feedback_survey_id == survey.id
    )
    invited, answered_links = session.execute(
        in_segment(invitations, SurveyInvitation.customer_id)
    ).one()

    # The answers are counted in the database, by kind, score and week of the trend (None
    # outside it): a few dozen rows, however many answers there are.
    kind = SurveyResponse.response["kind"].as_string()
    score = SurveyResponse.response["score"].as_integer()
    start = trend_start(utcnow(), TREND_WEEKS)
    submitted = SurveyResponse.submitted_at
    week = case(
        (submitted >= start + timedelta(weeks=TREND_WEEKS), None),
        *((submitted >= start + timedelta(weeks=n), n) for n in reversed(range(TREND_WEEKS))),
        else_=None,
    )
    answers = (
        select(
            kind.label("answer_kind"),
            score.label("answer_score"),
            week.label("answer_week"),
            func.count(),
        )
        .where(SurveyResponse.feedback_survey_id == survey.id)
        .group_by("answer_kind", "answer_score", "answer_week")
    )
    counts = session.execute(in_segment(answers, SurveyResponse.customer_id)).all()
    scores: dict[str, Counter] = {"nps": Counter(), "satisfaction": Counter()}
    for answer_kind, answer_score, _week, n in counts:
        if answer_kind in scores and answer_score is not None:
            scores[answer_kind][answer_score] += n
    nps = nps_from_counts(scores["nps"]) if survey.kind == "nps" else None
    satisfaction = (
        satisfaction_from_counts(scores["satisfaction"]) if survey.kind == "satisfaction" else None
    )
    weeks = weekly_trend_from_counts(
        survey.kind,
        {(k, sc, w): n for k, sc, w, n in counts if w is not None},
        start,
        TREND_WEEKS,
    )

    comment = SurveyResponse.response["comment"].as_string()
    latest = select(Customer.id, Customer.name, score, comment, SurveyResponse.submitted_at).join(
        Customer, Customer.id == SurveyResponse.customer_id
    )
    latest = latest.where(
        SurveyResponse.feedback_survey_id == survey.id, comment.is_not(None), comment != ""
    )
    latest = in_segment(latest, SurveyResponse.customer_id)
    comments = [
        {"customer_id": cid, "name": name, "score": s, "comment": c, "at": at}
        for cid, name, s, c, at in session.execute(
            latest.order_by(SurveyResponse.submitted_at.desc()).limit(LATEST_COMMENTS)
        )
    ]
    return SurveyResults(
        invited=invited,
        answered_links=answered_links,
        responses=sum(n for *_key, n in counts),
        nps=nps,
        satisfaction=satisfaction,
        weeks=weeks,
        comments=comments,
    )
