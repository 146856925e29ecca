"""Segments: the list, a segment's page with its members, and membership changes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from loyalty.db import get_or_404
from loyalty.extensions import db
from loyalty.forms.segments import SegmentForm
from loyalty.models import Customer, CustomerSegment
from loyalty.partials import form_errors, fragment, notify, redirect_to, render, wants_fragment
from loyalty.services import customers as customer_service
from loyalty.services import segments as segment_service
from loyalty.views.customers import parse_list_query, table_context

bp = Blueprint("segments", __name__, url_prefix="/segments")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every segment page needs a signed-in account."""


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def _ids_from_form() -> list[uuid.UUID]:
    return [i for i in map(_uuid_or_none, request.form.getlist("ids")) if i]


@bp.route("", methods=["GET", "POST"])
def index() -> Response:
    """Every segment with its size and average risk, and a form to create one."""
    form = SegmentForm()
    if request.method == "POST" and form.validate():
        try:
            segment = segment_service.create_segment(
                db.session, current_user.id, form.name.data, form.description.data or ""
            )
        except segment_service.SegmentNameTaken:
            form.name.errors.append("You already have a segment with this name.")
        else:
            db.session.commit()
            notify(f"Segment {segment.name} was created.")
            return redirect_to(url_for("segments.detail", segment_id=segment.id))
    context = {"form": form, "stats": segment_service.segment_stats(db.session)}
    if form.errors:
        return form_errors("segments/index.html", "segment_create", **context)
    return render("segments/index.html", "segment_create", **context)


def _members_query(segment: CustomerSegment):
    query = parse_list_query(request.args)
    return replace(query, filters=replace(query.filters, segment_id=segment.id))


@bp.get("/<uuid:segment_id>")
def detail(segment_id: uuid.UUID) -> Response:
    """A segment: what it is for, and its members in the same table as /customers."""
    segment = get_or_404(CustomerSegment, segment_id)
    context = table_context(_members_query(segment), "segments.detail", segment_id=segment.id)
    return render(
        "segments/detail.html",
        "customer_table",
        segment=segment,
        stats=segment_service.stats_of(db.session, segment),
        form=SegmentForm(data={"name": segment.name, "description": segment.description}),
        tags=customer_service.account_tags(db.session),
        **context,
    )


@bp.post("/<uuid:segment_id>/edit")
def edit(segment_id: uuid.UUID) -> Response:
    """Rename or re-describe a segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    form = SegmentForm()
    if form.validate():
        try:
            segment_service.rename_segment(
                db.session, segment, form.name.data, form.description.data or ""
            )
        except segment_service.SegmentNameTaken:
            form.name.errors.append("You already have a segment with this name.")
        else:
            db.session.commit()
            notify("Segment saved.")
            return redirect_to(url_for("segments.detail", segment_id=segment.id))
    return form_errors("segments/detail.html", "segment_form", segment=segment, form=form)


@bp.post("/<uuid:segment_id>/delete")
def delete(segment_id: uuid.UUID) -> Response:
    """Delete a segment (its customers stay)."""
    segment = get_or_404(CustomerSegment, segment_id)
    name = segment.name
    segment_service.delete_segment(db.session, segment)
    db.session.commit()
    notify(f"Segment {name} was deleted. Its customers are untouched.")
    return redirect_to(url_for("segments.index"))


@bp.post("/<uuid:segment_id>/members")
def add_members(segment_id: uuid.UUID) -> Response:
    """Add customers (by id) to a segment; from a customer page it swaps that page's list."""
    segment = get_or_404(CustomerSegment, segment_id)
    added = customer_service.add_to_segment(db.session, segment, _ids_from_form())
    db.session.commit()
    notify(f"Added {added} customer{'s' if added != 1 else ''} to {segment.name}.")
    return _after_membership_change(segment)


@bp.post("/<uuid:segment_id>/members/remove")
def remove_members(segment_id: uuid.UUID) -> Response:
    """Take customers out of a segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    ids = customer_service.owned_customer_ids(db.session, _ids_from_form())
    removed = customer_service.remove_from_segment(db.session, segment, ids)
    db.session.commit()
    notify(f"Removed {removed} customer{'s' if removed != 1 else ''} from {segment.name}.")
    return _after_membership_change(segment)


def _after_membership_change(segment: CustomerSegment) -> Response:
    """Swap only what changed: the customer page's segment list, or the removed row."""
    customer_id = _uuid_or_none(request.form.get("customer"))
    if customer_id:
        customer = get_or_404(Customer, customer_id)
        if not wants_fragment():
            return redirect_to(url_for("customers.detail", customer_id=customer.id))
        return render(
            "customers/detail.html",
            "customer_segments",
            customer=customer,
            segments=customer_service.segments_of(db.session, customer),
            all_segments=customer_service.account_segments(db.session),
        )
    if request.headers.get("HX-Target") == "customer-table" and wants_fragment():
        came_from = urlsplit(request.headers.get("HX-Current-URL", ""))
        query = parse_list_query(MultiDict(parse_qsl(came_from.query))).first_page()
        query = replace(query, filters=replace(query.filters, segment_id=segment.id))
        return render(
            "segments/detail.html",
            "customer_table",
            segment=segment,
            **table_context(query, "segments.detail", segment_id=segment.id),
        )
    if request.headers.get("HX-Target", "").startswith("customer-row-"):
        return fragment(
            "customers/_removed_row.html", url_for("segments.detail", segment_id=segment.id)
        )
    return redirect_to(url_for("segments.detail", segment_id=segment.id))
