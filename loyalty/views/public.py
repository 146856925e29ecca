"""The public survey form: personal links and signed embeds, answered without logging in.

These are the only pages other sites may frame. In a cross-site iframe the session cookie
is not sent, so the unguessable token in the URL (or the account's HMAC signature) is what
protects them instead of the session and its CSRF token; both are rate-limited.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, render_template, request, url_for

from loyalty.domain.surveys import (
    SATISFACTION_LABELS,
    SCALES,
    AnswerError,
    parse_answer,
    signature_matches,
)
from loyalty.extensions import db, limiter
from loyalty.models import FeedbackSurvey, User
from loyalty.security import allow_framing, csrf_exempt_by_token
from loyalty.services import surveys as survey_service

bp = Blueprint("public", __name__)

ANSWER_LIMIT = "20 per minute"
VIEW_LIMIT = "120 per minute"


def public_url(endpoint: str, **values) -> str:
    """The absolute address of a page, for links sent by e-mail (PUBLIC_BASE_URL when set)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)


def personal_link(token: str) -> str:
    """The absolute address of a personal survey link."""
    return public_url("public.answer", token=token)


def embed_base() -> str:
    """Where embeds point: PUBLIC_BASE_URL, or this server."""
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")


def _page(survey: FeedbackSurvey, status: int = 200, **context) -> Response:
    html = render_template(
        "public/survey.html",
        survey=survey,
        scale=SCALES.get(survey.kind),
        satisfaction_labels=SATISFACTION_LABELS,
        errors=context.pop("errors", {}),
        **context,
    )
    response = Response(html, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _question_or_answer(survey: FeedbackSurvey, action: str, store) -> Response:
    """GET shows the question; POST checks the answer (422 with the reasons) and stores it."""
    if request.method == "GET":
        return _page(survey, action=action, values={})
    try:
        parsed = parse_answer(survey.kind, request.form.get("score"), request.form.get("comment"))
    except AnswerError as error:
        return _page(survey, 422, action=action, errors=error.errors, values=request.form)
    given, new = store(parsed)
    db.session.commit()
    return _page(survey, given=given, thanks=new, action=action)


def _gone() -> Response:
    html = render_template("public/gone.html")
    return Response(html, status=404, headers={"Cache-Control": "no-store"})


@bp.route("/s/<token>", methods=["GET", "POST"])
@allow_framing
@csrf_exempt_by_token
@limiter.limit(VIEW_LIMIT, methods=["GET"])
@limiter.limit(ANSWER_LIMIT, methods=["POST"])
def answer(token: str) -> Response:
    """A customer's personal link: the question, or the answer they already gave."""
    invitation = survey_service.find_invitation(db.session, token)
    if invitation is None:
        return _gone()
    survey = db.session.get(FeedbackSurvey, invitation.feedback_survey_id)
    action = url_for("public.answer", token=token)
    if invitation.answered_at is not None:
        given = survey_service.response_to(db.session, invitation)
        return _page(survey, given=given.response if given else {}, action=action)

    def store(parsed: dict) -> tuple[dict, bool]:
        if survey_service.answer_invitation(db.session, invitation, parsed) is not None:
            return parsed, True
        given = survey_service.response_to(db.session, invitation)  # answered in another tab
        return (given.response if given else parsed), False

    return _question_or_answer(survey, action, store)


@bp.route("/s/embed/<uuid:survey_id>", methods=["GET", "POST"])
@allow_framing
@csrf_exempt_by_token
@limiter.limit(VIEW_LIMIT, methods=["GET"])
@limiter.limit(ANSWER_LIMIT, methods=["POST"])
def embedded(survey_id: uuid.UUID) -> Response:
    """A survey embedded in the account's own product for one of its signed-in customers."""
    external_id = request.args.get("customer", "")
    signature = request.args.get("sig", "")
    survey = db.session.get(FeedbackSurvey, survey_id)
    owner = db.session.get(User, survey.user_id) if survey else None
    if (
        survey is None
        or owner is None
        or not external_id
        or not signature_matches(owner.embed_secret, str(survey.id), external_id, signature)
    ):
        return _gone()
    customer = survey_service.embedded_customer(db.session, survey, external_id)
    if customer is None:
        return _gone()
    action = url_for("public.embedded", survey_id=survey.id, customer=external_id, sig=signature)
    recent = survey_service.recent_answer(db.session, survey, customer)
    if recent is not None:
        return _page(survey, given=recent.response, action=action)

    def store(parsed: dict) -> tuple[dict, bool]:
        survey_service.answer_embedded(db.session, survey, customer, parsed)
        return parsed, True

    return _question_or_answer(survey, action, store)
