"""The API's segments and their members."""

from __future__ import annotations

import uuid
from dataclasses import replace

from flask import Response, jsonify, request, url_for
from flask_login import current_user

from loyalty.db import get_or_404
from loyalty.domain.api_input import (
    id_list,
    segment_input,
)
from loyalty.errors import problem
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
)
from loyalty.services import customers as customer_service
from loyalty.services import segment_criteria as criteria_service
from loyalty.services import segments as segment_service
from loyalty.views.api import (
    _body,
    _listing,
    _offset_page,
    _own_customers,
    bp,
    iso,
)
from loyalty.views.api.customers import _customer_listing, _customer_query


def segment_json(segment: CustomerSegment, members: int | None = None) -> dict:
    """A segment as the API shows it."""
    body = {
        "id": str(segment.id),
        "name": segment.name,
        "description": segment.description,
        "criteria": segment.criteria,
        "isAutomatic": segment.is_automatic,
        "createdAt": iso(segment.created_at),
        "updatedAt": iso(segment.updated_at),
    }
    if members is not None:
        body["memberCount"] = members
    return body


def _name_taken() -> Response:
    return problem(
        409,
        "Duplicate segment name",
        "You already have a segment with this name.",
        errors={"name": "Already used by another segment."},
    )


@bp.get("/segments")
def list_segments() -> Response:
    """Every segment with its member count."""
    stats = segment_service.segment_stats(db.session)
    rows, cursor = _offset_page(stats)
    return _listing([segment_json(s.segment, s.members) for s in rows], cursor)


def _save_segment(segment: CustomerSegment | None, values: dict) -> CustomerSegment | Response:
    try:
        if segment is None:
            segment = segment_service.create_segment(
                db.session, current_user.id, values["name"], values["description"]
            )
        else:
            segment_service.rename_segment(
                db.session, segment, values["name"], values["description"]
            )
    except segment_service.SegmentNameTaken:
        return _name_taken()
    if values["criteria"] is not None:
        criteria_service.apply_criteria(
            db.session, segment, values["criteria"], values["isAutomatic"]
        )
    else:
        segment.criteria, segment.is_automatic = None, False
    return segment


@bp.post("/segments")
def create_segment() -> Response:
    """A new segment; with criteria it is filled at once (and kept in sync if automatic)."""
    saved = _save_segment(None, segment_input(_body()))
    if isinstance(saved, Response):
        return saved
    db.session.commit()
    response = jsonify(segment_json(saved, segment_service.stats_of(db.session, saved).members))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_segment", segment_id=saved.id)
    return response


@bp.get("/segments/<uuid:segment_id>")
def get_segment(segment_id: uuid.UUID) -> Response:
    """One segment with its member count."""
    segment = get_or_404(CustomerSegment, segment_id)
    return jsonify(segment_json(segment, segment_service.stats_of(db.session, segment).members))


@bp.route("/segments/<uuid:segment_id>", methods=["PUT", "PATCH"])
def update_segment(segment_id: uuid.UUID) -> Response:
    """Replace or change a segment (criteria included)."""
    segment = get_or_404(CustomerSegment, segment_id)
    data = _body()
    if request.method == "PATCH" and isinstance(data, dict):
        current = segment_json(segment)
        data = {
            **{k: current[k] for k in ("name", "description", "criteria", "isAutomatic")},
            **data,
        }
    saved = _save_segment(segment, segment_input(data))
    if isinstance(saved, Response):
        return saved
    db.session.commit()
    return jsonify(segment_json(saved, segment_service.stats_of(db.session, saved).members))


@bp.delete("/segments/<uuid:segment_id>")
def delete_segment(segment_id: uuid.UUID) -> Response:
    """Delete a segment (its customers stay)."""
    segment_service.delete_segment(db.session, get_or_404(CustomerSegment, segment_id))
    db.session.commit()
    return Response(status=204)


@bp.get("/segments/<uuid:segment_id>/members")
def segment_members(segment_id: uuid.UUID) -> Response:
    """The segment's customers, with the same filters and pages as /api/customers."""
    segment = get_or_404(CustomerSegment, segment_id)
    query = _customer_query()
    return _customer_listing(replace(query, filters=replace(query.filters, segment_id=segment.id)))


def _automatic(error: customer_service.AutomaticSegment) -> Response:
    return problem(
        409,
        "Automatic segment",
        f"{error} To choose members by hand, set isAutomatic to false first.",
    )


@bp.post("/segments/<uuid:segment_id>/members")
def add_segment_members(segment_id: uuid.UUID) -> Response:
    """Add customers to a manual segment (one statement; members already in are skipped)."""
    segment = get_or_404(CustomerSegment, segment_id)
    ids = _own_customers(id_list(_body()))
    try:
        added = customer_service.add_to_segment(db.session, segment, ids)
    except customer_service.AutomaticSegment as error:
        return _automatic(error)
    db.session.commit()
    return jsonify({"added": added})


@bp.post("/segments/<uuid:segment_id>/members/remove")
def remove_segment_members(segment_id: uuid.UUID) -> Response:
    """Take customers out of a manual segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    ids = _own_customers(id_list(_body()))
    try:
        removed = customer_service.remove_from_segment(db.session, segment, ids)
    except customer_service.AutomaticSegment as error:
        return _automatic(error)
    db.session.commit()
    return jsonify({"removed": removed})


@bp.delete("/segments/<uuid:segment_id>/members/<uuid:customer_id>")
def remove_segment_member(segment_id: uuid.UUID, customer_id: uuid.UUID) -> Response:
    """Take one customer out of a manual segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    customer = get_or_404(Customer, customer_id)
    try:
        customer_service.remove_from_segment(db.session, segment, [customer.id])
    except customer_service.AutomaticSegment as error:
        return _automatic(error)
    db.session.commit()
    return Response(status=204)
