"""The API's surveys, their answers, and the personal links that send them."""

from __future__ import annotations

import uuid

from flask import Response, jsonify, request, url_for
from flask_login import current_user

from loyalty.db import get_or_404
from loyalty.domain.api_input import (
    response_input,
    send_input,
    survey_input,
)
from loyalty.domain.surveys import DEFAULT_QUESTIONS, KINDS
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    FeedbackSurvey,
    SurveyInvitation,
    SurveyResponse,
)
from loyalty.services import surveys as survey_service
from loyalty.services.scoring import rescore
from loyalty.types import utcnow
from loyalty.views.api import (
    _body,
    _checked,
    _keyset_cursor,
    _limit,
    _listing,
    _offset_page,
    _own_customers,
    bp,
    iso,
)
from loyalty.views.public import personal_link
from loyalty.views.surveys import invite


def survey_json(survey: FeedbackSurvey) -> dict:
    """A survey as the API shows it."""
    return {
        "id": str(survey.id),
        "title": survey.title,
        "description": survey.description,
        "kind": survey.kind,
        "question": survey.question,
        "createdAt": iso(survey.created_at),
        "updatedAt": iso(survey.updated_at),
    }


def response_json(response: SurveyResponse) -> dict:
    """A survey response as the API shows it."""
    return {
        "id": str(response.id),
        "surveyId": str(response.feedback_survey_id),
        "customerId": str(response.customer_id),
        "response": response.response,
        "submittedAt": iso(response.submitted_at),
    }


def _survey_fields(data: object) -> survey_service.SurveyFields:
    return survey_service.SurveyFields(**survey_input(data, KINDS, DEFAULT_QUESTIONS))


@bp.get("/surveys")
def list_surveys() -> Response:
    """Every survey."""
    surveys = survey_service.account_surveys(db.session)
    rows, cursor = _offset_page(surveys)
    return _listing([survey_json(s) for s in rows], cursor)


@bp.post("/surveys")
def create_survey() -> Response:
    """A new survey (NPS, satisfaction or text)."""
    survey = survey_service.create_survey(db.session, current_user.id, _survey_fields(_body()))
    db.session.commit()
    response = jsonify(survey_json(survey))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_survey", survey_id=survey.id)
    return response


@bp.get("/surveys/<uuid:survey_id>")
def get_survey(survey_id: uuid.UUID) -> Response:
    """One survey."""
    return jsonify(survey_json(get_or_404(FeedbackSurvey, survey_id)))


@bp.route("/surveys/<uuid:survey_id>", methods=["PUT", "PATCH"])
def update_survey(survey_id: uuid.UUID) -> Response:
    """Replace or change a survey's wording."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    data = _body()
    if request.method == "PATCH" and isinstance(data, dict):
        current = survey_json(survey)
        data = {**{k: current[k] for k in ("title", "description", "kind", "question")}, **data}
    survey_service.update_survey(db.session, survey, _survey_fields(data))
    db.session.commit()
    return jsonify(survey_json(survey))


@bp.delete("/surveys/<uuid:survey_id>")
def delete_survey(survey_id: uuid.UUID) -> Response:
    """Delete a survey with its links and answers."""
    survey_service.delete_survey(db.session, get_or_404(FeedbackSurvey, survey_id))
    db.session.commit()
    return Response(status=204)


@bp.get("/surveys/<uuid:survey_id>/responses")
def survey_responses(survey_id: uuid.UUID) -> Response:
    """A survey's answers, newest first; `next` pages back."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    cursor, limit = _checked(_keyset_cursor, _limit)
    page = survey_service.responses_page(db.session, survey, cursor, limit)
    return _listing([response_json(r) for r in page.rows], page.older)


@bp.post("/surveys/<uuid:survey_id>/responses")
def record_response(survey_id: uuid.UUID) -> Response:
    """Record an answer given elsewhere (customerId, score, comment); rescores the customer."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    customer_id, answer = response_input(_body(), survey.kind)
    customer = get_or_404(Customer, customer_id)
    stored = survey_service.answer_embedded(db.session, survey, customer, answer)
    db.session.commit()
    response = jsonify(response_json(stored))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_response", response_id=stored.id)
    return response


@bp.get("/responses/<uuid:response_id>")
def get_response(response_id: uuid.UUID) -> Response:
    """One survey response."""
    return jsonify(response_json(get_or_404(SurveyResponse, response_id)))


@bp.delete("/responses/<uuid:response_id>")
def delete_response(response_id: uuid.UUID) -> Response:
    """Delete a survey response (its customer is rescored)."""
    answer = get_or_404(SurveyResponse, response_id)
    account_id, customer_id = answer.user_id, answer.customer_id
    db.session.delete(answer)
    db.session.flush()
    rescore(db.session, account_id, customer_ids=[customer_id])
    db.session.commit()
    return Response(status=204)


# --- Sending surveys: personal links ------------------------------------------------------

# The outbox's words for a link's state, as the API names them.
INVITATION_STATUS = {
    "open": "open",
    "answered": "answered",
    "expired": "expired",
    "switched off": "revoked",
}


def invitation_json(invitation: SurveyInvitation, now) -> dict:
    """A personal survey link with the e-mail that carries it, as the outbox shows it."""
    return {
        "id": str(invitation.id),
        "surveyId": str(invitation.feedback_survey_id),
        "customerId": str(invitation.customer_id),
        "link": personal_link(invitation.token),
        "status": INVITATION_STATUS[survey_service.link_status(invitation, now)],
        "emailTo": invitation.email_to,
        "emailSubject": invitation.email_subject,
        "emailBody": invitation.email_body,
        "sentAt": iso(invitation.sent_at),
        "deliveredAt": iso(invitation.delivered_at),
        "expiresAt": iso(invitation.expires_at),
        "answeredAt": iso(invitation.answered_at),
        "revokedAt": iso(invitation.revoked_at),
    }


@bp.post("/surveys/<uuid:survey_id>/send")
def send_survey(survey_id: uuid.UUID) -> Response:
    """Give each chosen customer (`customerIds`) or a segment's members (`segmentId`) a
    personal link, as the survey page's "send" does: anyone who already holds an open link
    to this survey is skipped. E-mailed where SMTP is configured, else in the outbox."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    customer_ids, segment_id = send_input(_body())
    if customer_ids is not None:
        customer_ids = _own_customers(customer_ids)
    else:
        segment_id = get_or_404(CustomerSegment, segment_id).id
    result, delivered, invitations = invite(survey, customer_ids, segment_id, load=True)
    order = {ident: n for n, ident in enumerate(result.ids)}
    invitations.sort(key=lambda i: order[i.id])
    return jsonify(
        {
            "created": result.count,
            "skipped": result.skipped,
            "delivered": delivered or 0,
            "invitations": [
                {
                    "id": str(i.id),
                    "customerId": str(i.customer_id),
                    "link": personal_link(i.token),
                }
                for i in invitations
            ],
        }
    )


@bp.get("/surveys/<uuid:survey_id>/invitations")
def survey_invitations(survey_id: uuid.UUID) -> Response:
    """A survey's personal links, newest first, each with its e-mail and state."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    cursor, limit = _checked(_keyset_cursor, _limit)
    page = survey_service.outbox(db.session, survey.id, cursor, limit)
    now = utcnow()
    return _listing([invitation_json(row[0], now) for row in page.rows], page.older)


@bp.get("/invitations/<uuid:invitation_id>")
def get_invitation(invitation_id: uuid.UUID) -> Response:
    """One personal link."""
    return jsonify(invitation_json(get_or_404(SurveyInvitation, invitation_id), utcnow()))


@bp.post("/invitations/<uuid:invitation_id>/revoke")
def revoke_invitation(invitation_id: uuid.UUID) -> Response:
    """Switch a personal link off, as the outbox does (an answer already given stays)."""
    invitation = get_or_404(SurveyInvitation, invitation_id)
    survey_service.revoke(db.session, invitation)
    db.session.commit()
    return jsonify(invitation_json(invitation, utcnow()))
