"""Engagement events on the customer page: log, page back, edit and delete in place."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, request, url_for
from flask_login import login_required

from loyalty.db import get_or_404
from loyalty.extensions import db
from loyalty.forms.events import EventForm
from loyalty.models import Customer, EngagementEvent
from loyalty.partials import fragment, notify, redirect_to, render, wants_fragment
from loyalty.services import events as event_service
from loyalty.views.customers import customer_panels, detail_context

bp = Blueprint("events", __name__)


@bp.before_request
@login_required
def _signed_in() -> None:
    """Events belong to a signed-in account."""


def _after_change(
    customer: Customer,
    form: EventForm | None = None,
    status: int = 200,
    focused_event: uuid.UUID | None = None,
):
    """The refreshed timeline, with the score and profile swapped out-of-band (and the focus
    on the Edit button of `focused_event`, when it was just edited)."""
    if not wants_fragment():
        return redirect_to(url_for("customers.detail", customer_id=customer.id))
    db.session.refresh(customer)
    response = render(
        "customers/detail.html",
        "timeline",
        status=status,
        oob=("churn_risk", "profile"),
        panels_oob=True,
        focused_event=focused_event,
        **customer_panels(customer, form),
    )
    # An edit starts from one entry, but the whole timeline (and its order) may change.
    response.headers["HX-Retarget"] = "#timeline"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


@bp.post("/customers/<uuid:customer_id>/events")
def create(customer_id: uuid.UUID) -> Response:
    """Log an event; the timeline and the score update without a page reload."""
    customer = get_or_404(Customer, customer_id)
    form = EventForm()
    if not form.validate():  # without htmx, the whole page with the form open
        context = (
            customer_panels(customer, form) if wants_fragment() else detail_context(customer, form)
        )
        return render("customers/detail.html", "timeline", status=422, **context)
    event_service.log_event(db.session, customer, form.chosen_type(), form.moment(), form.details())
    db.session.commit()
    notify("Event logged. The churn score is up to date.")
    return _after_change(customer)


@bp.get("/customers/<uuid:customer_id>/events")
def older(customer_id: uuid.UUID) -> Response:
    """The next (older) page of the timeline, appended in place."""
    customer = get_or_404(Customer, customer_id)
    page = event_service.timeline(db.session, customer, older_than=request.args.get("older", ""))
    return fragment(
        "events/_items.html",
        url_for("customers.detail", customer_id=customer.id),
        customer=customer,
        timeline=page,
    )


@bp.get("/events/<uuid:event_id>")
def show(event_id: uuid.UUID) -> Response:
    """One timeline entry as shown (cancel of an edit); its Edit button takes the focus back."""
    event = get_or_404(EngagementEvent, event_id)
    return fragment(
        "events/_item.html",
        url_for("customers.detail", customer_id=event.customer_id),
        event=event,
        focused_event=event.id,
    )


@bp.get("/events/<uuid:event_id>/edit")
def edit(event_id: uuid.UUID) -> Response:
    """One timeline entry as an inline form."""
    event = get_or_404(EngagementEvent, event_id)
    form = EventForm(formdata=None, prefix=f"e-{event.id.hex}")
    form.fill_from(event.event_type, event.event_date, event.details or {})
    return fragment(
        "events/_item_edit.html",
        url_for("customers.detail", customer_id=event.customer_id),
        event=event,
        form=form,
    )


@bp.post("/events/<uuid:event_id>/edit")
def update(event_id: uuid.UUID) -> Response:
    """Save a corrected event; the score follows."""
    event = get_or_404(EngagementEvent, event_id)
    form = EventForm(prefix=f"e-{event.id.hex}")
    if not form.validate():
        return fragment(
            "events/_item_edit.html",
            url_for("customers.detail", customer_id=event.customer_id),
            status=422,
            event=event,
            form=form,
        )
    # What was left as shown keeps its stored value: the seconds, a number's type.
    event_service.update_event(
        db.session,
        event,
        form.chosen_type(),
        form.moment(event.event_date),
        form.details(event.details or {}),
    )
    db.session.commit()
    notify("Event saved. The churn score is up to date.")
    return _after_change(get_or_404(Customer, event.customer_id), focused_event=event.id)


@bp.post("/events/<uuid:event_id>/delete")
def delete(event_id: uuid.UUID) -> Response:
    """Delete an event; the score follows."""
    event = get_or_404(EngagementEvent, event_id)
    customer = get_or_404(Customer, event.customer_id)
    event_service.delete_event(db.session, event)
    db.session.commit()
    notify("Event deleted. The churn score is up to date.")
    return _after_change(customer)
