"""Segments: the list, a segment's page with its members, and membership changes."""

from __future__ import annotations

import uuid
from dataclasses import replace

from flask import Blueprint, Response, request, url_for
from flask_login import current_user, login_required

from loyalty.db import get_or_404
from loyalty.domain.criteria import (
    FIELDS,
    NPS_CATEGORIES,
    OPERATORS,
    CriteriaError,
    describe,
    parse_criteria,
)
from loyalty.domain.scoring import STANDARD_EVENT_TYPES
from loyalty.extensions import db
from loyalty.forms.segments import SegmentForm
from loyalty.models import Customer, CustomerSegment
from loyalty.partials import form_errors, fragment, notify, redirect_to, render, wants_fragment
from loyalty.services import customers as customer_service
from loyalty.services import segment_criteria as criteria_service
from loyalty.services import segments as segment_service
from loyalty.views.customers import (
    NOTHING_SELECTED,
    added_message,
    filter_form_tags,
    not_by_hand,
    parse_list_query,
    pushing_view_url,
    table_context,
    viewed_count,
    viewed_query,
)

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
    context = _detail_context(segment)
    response = render("segments/detail.html", "customer_table", **context)
    return pushing_view_url(response, context)


def _detail_context(segment: CustomerSegment) -> dict:
    """Everything the segment's whole page shows, as saved; a form's errors override parts."""
    return {
        **table_context(_members_query(segment), "segments.detail", segment_id=segment.id),
        "segment": segment,
        "match": (segment.criteria or {}).get("match", "all"),
        "rows": _rows_from_criteria(segment.criteria),
        "fields": FIELDS,
        "operators": OPERATORS,
        "nps_categories": NPS_CATEGORIES,
        "event_types": STANDARD_EVENT_TYPES,
        "sentences": _saved_sentences(segment),
        "problems": None,
        "total": None,
        "first": [],
        "stats": segment_service.stats_of(db.session, segment),
        "form": SegmentForm(data={"name": segment.name, "description": segment.description}),
        "tags": filter_form_tags(),
    }


def _saved_sentences(segment: CustomerSegment) -> list[str]:
    try:
        return describe(parse_criteria(segment.criteria or {}))
    except CriteriaError:
        return []


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
    return form_errors(
        "segments/detail.html",
        "segment_form",
        page_context=lambda: _detail_context(segment),
        segment=segment,
        form=form,
    )


RULE_INPUTS = ("field", "op", "value", "value2", "count", "event_type", "days")
TYPED_INPUTS = ("value", "value2", "count", "event_type", "days")  # the rest are menus
MAX_EDITOR_ROWS = 20


def _editor_rows(form) -> list[dict[str, str]]:
    """The rule rows as typed (kept as text, so a half-filled rule is shown back as is)."""
    indexes = sorted(
        {
            int(key.split("-")[1])
            for key in form
            if key.startswith("rules-") and key.split("-")[1].isdigit()
        }
    )
    rows = [
        {name: form.get(f"rules-{i}-{name}", "").strip() for name in RULE_INPUTS} for i in indexes
    ][:MAX_EDITOR_ROWS]
    for row in rows:
        if row["field"] not in OPERATORS:
            row["field"] = "churn_risk"
        if row["op"] not in OPERATORS[row["field"]]:
            row["op"] = next(iter(OPERATORS[row["field"]]))
    return rows


def _rows_from_criteria(criteria: dict | None) -> list[dict[str, str]]:
    """Stored criteria as editor rows."""
    rows = []
    for rule in (criteria or {}).get("rules", []):
        value = rule.get("value")
        pair = isinstance(value, list) and rule.get("field") != "tags"
        rows.append(
            {
                "field": rule.get("field", ""),
                "op": rule.get("op", ""),
                "value": _text(value[0] if pair else value),
                "value2": _text(value[1]) if pair else "",
                "count": _text(rule.get("count")),
                "event_type": _text(rule.get("event_type")),
                "days": _text(rule.get("days")),
            }
        )
    return rows


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rule_json(row: dict[str, str]) -> dict:
    """One editor row as a criteria rule (validation happens in the domain)."""
    field, op = row["field"], row["op"]
    rule: dict = {"field": field, "op": op}
    if op == "between":
        rule["value"] = [row["value"], row["value2"]]
    elif field == "events":
        rule.update(count=row["count"], event_type=row["event_type"], days=row["days"])
    elif op != "never":
        rule["value"] = row["value"]
    return rule


def _editor(
    segment: CustomerSegment,
    match: str,
    rows: list[dict[str, str]],
    status: int = 200,
    quiet: frozenset[int] = frozenset(),
):
    """The criteria editor with a live count and the first matches (nothing is saved).

    `quiet` holds the rules that show no errors yet: nothing has been typed into them (one
    just added, or just switched to another field), so "Enter the number of events" would
    scold before the user could; the preview still waits for them to be finished."""
    problems: CriteriaError | None = None
    total, first, sentences = None, [], []
    try:
        criteria = parse_criteria({"match": match, "rules": [_rule_json(r) for r in rows]})
    except CriteriaError as error:
        problems = error
    else:
        total, first = criteria_service.preview(db.session, current_user.id, criteria)
        sentences = describe(criteria)
    return render(
        "segments/detail.html",
        "criteria_editor",
        status=status if problems is None else (422 if status == 200 else status),
        page_context=lambda: _detail_context(segment),
        segment=segment,
        match=match,
        rows=rows,
        problems=problems,
        quiet=quiet,
        total=total,
        first=first,
        sentences=sentences,
        fields=FIELDS,
        operators=OPERATORS,
        nps_categories=NPS_CATEGORIES,
        event_types=STANDARD_EVENT_TYPES,
    )


@bp.post("/<uuid:segment_id>/criteria/preview")
def criteria_preview(segment_id: uuid.UUID) -> Response:
    """Re-draw the editor after any change (add or remove a rule), with a live preview."""
    segment = get_or_404(CustomerSegment, segment_id)
    rows = _editor_rows(request.form)
    if request.form.get("add"):
        rows.append({**dict.fromkeys(RULE_INPUTS, ""), "field": "churn_risk", "op": "above"})
    remove = request.form.get("remove", "")
    if remove.isdigit() and int(remove) < len(rows):
        rows.pop(int(remove))
    match = "any" if request.form.get("match") == "any" else "all"
    untouched = frozenset(
        i for i, row in enumerate(rows) if not any(row.get(name) for name in TYPED_INPUTS)
    )
    response = _editor(segment, match, rows, quiet=untouched)
    response.status_code = 200  # a rule being typed is not an error yet
    return response


@bp.post("/<uuid:segment_id>/criteria")
def criteria_save(segment_id: uuid.UUID) -> Response:
    """Save the criteria: follow them automatically, or add everyone who matches once."""
    segment = get_or_404(CustomerSegment, segment_id)
    rows = _editor_rows(request.form)
    match = "any" if request.form.get("match") == "any" else "all"
    automatic = request.form.get("mode") == "automatic"
    try:
        criteria = parse_criteria({"match": match, "rules": [_rule_json(r) for r in rows]})
    except CriteriaError:
        return _editor(segment, match, rows, status=422)
    added = criteria_service.apply_criteria(db.session, segment, criteria, automatic)
    db.session.commit()
    if automatic:
        notify(f"{segment.name} now follows its criteria.")
    else:
        notify(f"Added {added} matching customer{'s' if added != 1 else ''} to {segment.name}.")
    return redirect_to(url_for("segments.detail", segment_id=segment.id))


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
    chosen = _ids_from_form()
    try:
        added = customer_service.add_to_segment(db.session, segment, chosen)
    except customer_service.AutomaticSegment as error:
        return _not_by_hand(segment, error)
    db.session.commit()
    notify(added_message(added, len(set(chosen)), segment.name))
    return _after_membership_change(segment)


@bp.post("/<uuid:segment_id>/members/remove")
def remove_members(segment_id: uuid.UUID) -> Response:
    """Take customers out of a segment."""
    segment = get_or_404(CustomerSegment, segment_id)
    selected = _ids_from_form()
    if not selected:
        notify(NOTHING_SELECTED, "error")
        return _after_membership_change(segment)
    ids = customer_service.owned_customer_ids(db.session, selected)
    try:
        removed = customer_service.remove_from_segment(db.session, segment, ids)
    except customer_service.AutomaticSegment as error:
        return _not_by_hand(segment, error)
    db.session.commit()
    notify(f"Removed {removed} customer{'s' if removed != 1 else ''} from {segment.name}.")
    return _after_membership_change(segment)


def _not_by_hand(segment: CustomerSegment, error: customer_service.AutomaticSegment) -> Response:
    """An automatic segment refused a change by hand (from a page older than the segment's
    switch to automatic): say so, and show the page as it is, nothing removed."""
    notify(not_by_hand(error), "error")
    if request.headers.get("HX-Target", "").startswith("customer-row-"):
        return redirect_to(url_for("segments.detail", segment_id=segment.id))
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
        query = viewed_query(segment.id)
        return render(
            "segments/detail.html",
            "customer_table",
            oob=("segment_stats",),
            segment=segment,
            stats=segment_service.stats_of(db.session, segment),
            stats_oob=True,
            **table_context(query, "segments.detail", segment_id=segment.id),
        )
    if request.headers.get("HX-Target", "").startswith("customer-row-"):
        return fragment(
            "customers/_removed_row.html",
            url_for("segments.detail", segment_id=segment.id),
            count=viewed_count(segment.id),
            segment_stats=segment_service.stats_of(db.session, segment),
        )
    return redirect_to(url_for("segments.detail", segment_id=segment.id))
