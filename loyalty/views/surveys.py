"""Surveys: create and edit, send personal links, the outbox, and each survey's results."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, request, url_for
from flask_login import current_user, login_required

from loyalty.db import get_or_404
from loyalty.domain.surveys import KINDS, SATISFACTION_LABELS, embed_signature
from loyalty.extensions import db
from loyalty.forms.surveys import SurveyForm
from loyalty.models import Customer, CustomerSegment, FeedbackSurvey, SurveyInvitation
from loyalty.partials import form_errors, notify, redirect_to, render, wants_fragment
from loyalty.services import customers as customer_service
from loyalty.services import mail
from loyalty.services import surveys as survey_service
from loyalty.views.public import embed_base, personal_link

bp = Blueprint("surveys", __name__, url_prefix="/surveys")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every survey page needs a signed-in account."""


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


@bp.route("", methods=["GET", "POST"])
def index() -> Response:
    """Every survey with its response counts, and a form to create one."""
    form = SurveyForm()
    if request.method == "POST" and form.validate():
        survey = survey_service.create_survey(db.session, current_user.id, form.survey_fields())
        db.session.commit()
        notify(f"Survey {survey.title} was created. Send it to customers from here.")
        return redirect_to(url_for("surveys.detail", survey_id=survey.id))
    context = {"form": form, "rows": survey_service.survey_list(db.session), "kinds": KINDS}
    if form.errors:
        return form_errors("surveys/index.html", "survey_create", **context)
    return render("surveys/index.html", "survey_create", **context)


@bp.get("/<uuid:survey_id>")
def detail(survey_id: uuid.UUID) -> Response:
    """A survey's results (optionally for one segment), how to send it and embed it."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    segment = None
    if request.args.get("segment"):
        segment = get_or_404(CustomerSegment, _uuid(request.args["segment"]) or uuid.UUID(int=0))
    return render("surveys/detail.html", "survey_results", **_detail_context(survey, segment))


def _detail_context(survey: FeedbackSurvey, segment: CustomerSegment | None = None) -> dict:
    """Everything the survey's whole page shows, as saved; a form's errors override parts."""
    example_id = "CUSTOMER_EXTERNAL_ID"
    return {
        "survey": survey,
        "segment": segment,
        "results": survey_service.survey_results(
            db.session, survey, segment.id if segment else None
        ),
        "segments": customer_service.account_segments(db.session),
        "form": SurveyForm(obj=survey, formdata=None),
        "kinds": KINDS,
        "satisfaction_labels": SATISFACTION_LABELS,
        "embed_base": embed_base(),
        "embed_secret": current_user.embed_secret,
        "example_signature": embed_signature(current_user.embed_secret, str(survey.id), example_id),
        "example_id": example_id,
    }


@bp.post("/<uuid:survey_id>/edit")
def edit(survey_id: uuid.UUID) -> Response:
    """Change the title, kind or wording."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    form = SurveyForm()
    if form.validate():
        survey_service.update_survey(db.session, survey, form.survey_fields())
        db.session.commit()
        notify("Survey saved.")
        return redirect_to(url_for("surveys.detail", survey_id=survey.id))
    return form_errors(
        "surveys/detail.html",
        "survey_form",
        page_context=lambda: _detail_context(survey),
        survey=survey,
        form=form,
        kinds=KINDS,
    )


@bp.post("/<uuid:survey_id>/delete")
def delete(survey_id: uuid.UUID) -> Response:
    """Delete a survey, its links and its answers."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    title = survey.title
    survey_service.delete_survey(db.session, survey)
    db.session.commit()
    notify(f"Survey {title} was deleted, with its links and answers.")
    return redirect_to(url_for("surveys.index"))


def invite(
    survey: FeedbackSurvey, customer_ids=None, segment_id=None, *, load: bool = False
) -> tuple[survey_service.SendResult, int | None, list[SurveyInvitation]]:
    """Invite customers (or a segment's members) and e-mail them where SMTP is configured,
    for the pages and the API alike: (what was sent, how many were e-mailed or None without
    SMTP, and the new invitations themselves when asked to `load` them)."""
    result = survey_service.send_survey(
        db.session, survey, customer_ids, segment_id, link_for=personal_link
    )
    db.session.commit()  # the links exist whether or not the e-mail goes out
    found = survey_service.invitations_by_id(db.session, result.ids)  # in batches, lazily
    invitations = list(found) if load else []
    delivered = None
    if mail.smtp_configured(current_app.config):
        delivered = mail.deliver(current_app.config, invitations if load else found)
        db.session.commit()
    return result, delivered, invitations


def send_to(survey: FeedbackSurvey, customer_ids=None, segment_id=None) -> str:
    """Invite customers, deliver by e-mail where configured; returns what to tell the user."""
    result, delivered, _ = invite(survey, customer_ids, segment_id)
    where = "see them in the outbox" if delivered is None else f"{delivered} e-mailed"
    count = result.count
    message = f"Sent {count} invitation{'s' if count != 1 else ''} ({where})."
    if result.skipped:
        message += f" {result.skipped} already had an open link."
    return message


@bp.post("/send")
def send_chosen() -> Response:
    """Send the survey chosen in the form (the customer page's "Send survey")."""
    return send(_uuid(request.form.get("survey")) or uuid.UUID(int=0))


@bp.post("/<uuid:survey_id>/send")
def send(survey_id: uuid.UUID) -> Response:
    """Send to a segment (from the survey page) or to one customer (from the customer page)."""
    survey = get_or_404(FeedbackSurvey, survey_id)
    customer_id = _uuid(request.form.get("customer"))
    if customer_id is not None:
        customer = get_or_404(Customer, customer_id)
        notify(send_to(survey, customer_ids=[customer.id]))
        if not wants_fragment():
            return redirect_to(url_for("customers.detail", customer_id=customer.id))
        return render(
            "customers/detail.html",
            "customer_surveys",
            customer=customer,
            **customer_survey_panel(customer),
        )
    segment = get_or_404(CustomerSegment, _uuid(request.form.get("segment")) or uuid.UUID(int=0))
    notify(send_to(survey, segment_id=segment.id))
    return redirect_to(url_for("surveys.outbox", survey=survey.id))


def customer_survey_panel(customer: Customer) -> dict:
    """The customer page's survey panel: their links, and surveys to send."""
    return {
        "invitations": survey_service.invitations_of(db.session, customer),
        "surveys": survey_service.account_surveys(db.session),
        "personal_link": personal_link,
        "link_status": survey_service.link_status,
        "now": survey_service.utcnow(),
    }


@bp.get("/outbox")
def outbox() -> Response:
    """Every invitation as the e-mail that would go out, newest first."""
    survey_id = _uuid(request.args.get("survey"))
    survey = get_or_404(FeedbackSurvey, survey_id) if survey_id else None
    page = survey_service.outbox(db.session, survey_id, request.args.get("older", ""))
    return render(
        "surveys/outbox.html",
        "outbox_rows" if request.args.get("older") else None,
        page=page,
        survey=survey,
        personal_link=personal_link,
        link_status=survey_service.link_status,
        smtp=mail.smtp_configured(current_app.config),
        now=survey_service.utcnow(),
    )


@bp.post("/invitations/<uuid:invitation_id>/revoke")
def revoke(invitation_id: uuid.UUID) -> Response:
    """Switch a personal link off."""
    invitation = get_or_404(SurveyInvitation, invitation_id)
    survey_service.revoke(db.session, invitation)
    db.session.commit()
    notify("The link was switched off.")
    back = request.form.get("back", "")
    if back == "customer":
        customer = get_or_404(Customer, invitation.customer_id)
        if wants_fragment():
            return render(
                "customers/detail.html",
                "customer_surveys",
                customer=customer,
                **customer_survey_panel(customer),
            )
        return redirect_to(url_for("customers.detail", customer_id=customer.id))
    return redirect_to(url_for("surveys.outbox"))
