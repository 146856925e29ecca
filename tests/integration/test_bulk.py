"""Writing many rows at once (COPY on PostgreSQL): every row, the kept counts, the errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from loyalty.models import FeedbackSurvey, SurveyCount, SurveyInvitation
from loyalty.services.bulk import insert_rows
from loyalty.types import utcnow
from tests import factories


def invitation(user, survey, customer, token: str) -> dict:
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "user_id": user.id,
        "feedback_survey_id": survey.id,
        "customer_id": customer.id,
        "token": token,
        "email_to": customer.email,
        "email_subject": "How are we doing?",
        "email_body": "Hi\tthere,\nback\\slash and ünïcode — 👋",
        "sent_at": now,
        "expires_at": now + timedelta(days=60),
    }


@pytest.fixture
def survey(session, user):
    survey = FeedbackSurvey(user_id=user.id, title="NPS", kind="nps", question="Recommend us?")
    session.add(survey)
    session.flush()
    return survey


def test_every_row_is_written_as_given_and_counted(session, user, survey):
    customers = [factories.make_customer(session, user) for _ in range(3)]
    insert_rows(
        session,
        SurveyInvitation,
        [invitation(user, survey, c, f"t{n}") for n, c in enumerate(customers)],
    )
    session.expire_all()
    written = session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.token)).all()
    assert [(i.token, i.customer_id) for i in written] == [
        (f"t{n}", c.id) for n, c in enumerate(customers)
    ]
    assert written[0].email_body == "Hi\tthere,\nback\\slash and ünïcode — 👋"
    assert written[0].sent_at.tzinfo is not None
    assert session.get(SurveyCount, survey.id).invitations == 3


def test_a_duplicate_fails_as_an_integrity_error_and_writes_nothing(session, user, survey):
    customer = factories.make_customer(session, user)
    rows = [invitation(user, survey, customer, "same"), invitation(user, survey, customer, "same")]
    with pytest.raises(IntegrityError):
        insert_rows(session, SurveyInvitation, rows)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SurveyInvitation)) == 0
