"""The customer table, the customer page, forms, inline edits and bulk actions."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Response, abort, current_app, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from loyalty.db import get_or_404
from loyalty.domain import importing
from loyalty.domain.bands import RISK_BANDS
from loyalty.extensions import db
from loyalty.forms.customers import CustomerForm
from loyalty.forms.events import EventForm
from loyalty.models import Customer, CustomerSegment, FeedbackSurvey
from loyalty.partials import form_errors, fragment, notify, redirect_to, render, wants_fragment
from loyalty.services import customers as customer_service
from loyalty.services import events as event_service
from loyalty.services import rescore_queue
from loyalty.services import surveys as survey_service
from loyalty.services.customer_query import (
    DEFAULT_DIRECTION,
    DEFAULT_PAGE_SIZE,
    DEFAULT_SORT,
    PAGE_SIZES,
    SORTABLE,
    CustomerFilters,
    CustomerQuery,
    customer_page,
    matching_total,
)
from loyalty.services.scoring import rescore, risk_of, scored_as_of
from loyalty.time_zones import account_zone
from loyalty.views.surveys import customer_survey_panel, send_to

bp = Blueprint("customers", __name__, url_prefix="/customers")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every customer page needs a signed-in account."""


def _date(value: str | None, end_of_day: bool = False, zone: tzinfo = UTC) -> datetime | None:
    """The start (or end) of a typed day in `zone`, in UTC. Signup dates are calendar days
    kept at UTC midnight; engagement is a moment, read in the account's zone."""
    try:
        day = date.fromisoformat(value or "") + timedelta(days=1 if end_of_day else 0)
        moment = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or past year 9999 once moved
        return None
    return moment - timedelta(microseconds=1) if end_of_day else moment


def _day(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """The day `_date` read `moment` from, as typed."""
    return moment.astimezone(zone).date().isoformat() if moment else ""


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def parse_list_query(args: MultiDict) -> CustomerQuery:
    """Read the table's view from URL parameters; values that make no sense are ignored."""
    bands = {band for band, _low, _high in RISK_BANDS}
    try:
        size = int(args.get("size", DEFAULT_PAGE_SIZE))
    except ValueError:
        size = DEFAULT_PAGE_SIZE
    sort = args.get("sort", DEFAULT_SORT)
    direction = args.get("dir", DEFAULT_DIRECTION)
    # The phone's sort menu sends both at once ("signup-asc"); it wins over the form's own.
    order, _, order_direction = args.get("order", "").rpartition("-")
    if order in SORTABLE and order_direction in ("asc", "desc"):
        sort, direction = order, order_direction
    filters = CustomerFilters(
        text=args.get("q", "").strip()[:200],
        band=args.get("band", "") if args.get("band") in bands else "",
        segment_id=_uuid(args.get("segment")),
        tag=args.get("tag", "").strip().lower()[:40],
        signup_from=_date(args.get("signup_from")),
        signup_to=_date(args.get("signup_to"), end_of_day=True),
        engaged_from=_date(args.get("engaged_from"), zone=account_zone()),
        engaged_to=_date(args.get("engaged_to"), end_of_day=True, zone=account_zone()),
        never_engaged=args.get("never") == "1",
    )
    return CustomerQuery(
        filters=filters,
        sort=sort if sort in SORTABLE else DEFAULT_SORT,
        direction="asc" if direction == "asc" else "desc",
        page_size=size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        after=args.get("after", "")[:500],
        before=args.get("before", "")[:500],
    )


def query_params(query: CustomerQuery, **changes) -> dict[str, str]:
    """The URL parameters of a view (only the ones that differ from the defaults)."""
    f = query.filters
    params = {
        "q": f.text,
        "band": f.band,
        "segment": str(f.segment_id) if f.segment_id else "",
        "tag": f.tag,
        "signup_from": _day(f.signup_from),
        "signup_to": _day(f.signup_to),
        "engaged_from": _day(f.engaged_from, account_zone()),
        "engaged_to": _day(f.engaged_to, account_zone()),
        "never": "1" if f.never_engaged else "",
        "sort": query.sort if query.sort != DEFAULT_SORT else "",
        "dir": query.direction if query.direction != DEFAULT_DIRECTION else "",
        "size": str(query.page_size) if query.page_size != DEFAULT_PAGE_SIZE else "",
        "after": query.after,
        "before": query.before,
    }
    params.update({k: str(v) for k, v in changes.items()})
    return {k: v for k, v in params.items() if v}


def table_context(query: CustomerQuery, base_endpoint: str = "customers.index", **url_values):
    """Everything the customer table block needs, for /customers and a segment's members."""

    def view_url(**changes) -> str:
        params = query_params(query, **changes)
        return url_for(base_endpoint, **url_values) + ("?" + urlencode(params) if params else "")

    def sort_url(column: str) -> str:
        same = query.sort == column
        direction = (
            ("asc" if query.direction == "desc" else "desc")
            if same
            else ("desc" if column in ("risk", "signup", "last_engagement") else "asc")
        )
        return view_url(sort=column, dir=direction, after="", before="")

    def export_url(file_format: str) -> str:
        return url_for(
            "imports.export", file_format=file_format, **query_params(query.first_page())
        )

    page = customer_page(db.session, query)
    days = query_params(query)
    return {
        # The date filters as typed (a day in the account's zone for engagement).
        "filter_days": {
            name: days.get(name, "")
            for name in ("signup_from", "signup_to", "engaged_from", "engaged_to")
        },
        "export_url": export_url,
        "page": page,
        "query": query,
        "view_url": view_url,
        "sort_url": sort_url,
        "table_url": url_for(base_endpoint, **url_values),
        "page_sizes": PAGE_SIZES,
        "segments": customer_service.account_segments(db.session),
        "surveys": survey_service.account_surveys(db.session),
        # Unfiltered, the page's total is the account's exact size.
        "has_any_customer": bool(page.customers) or query.filters.active or page.total > 0,
        "risk_bands": RISK_BANDS,
    }


def filter_form_tags() -> list[str]:
    """The account's tags for the filter form's menu; a table swap leaves the form in place,
    so it needs none."""
    return [] if wants_fragment() else customer_service.account_tags(db.session)


def pushing_view_url(response: Response, context: dict) -> Response:
    """A swapped table puts its view's own URL in the address bar, not every empty field of
    the filter form, so the link a person copies is short and shows the same view."""
    if wants_fragment():
        response.headers["HX-Push-Url"] = context["view_url"]()
    return response


@bp.get("")
def index() -> Response:
    """The customer table: sort, filter and page; htmx swaps only the table."""
    query = parse_list_query(request.args)
    context = table_context(query)
    response = render(
        "customers/index.html",
        "customer_table",
        tags=filter_form_tags(),
        **context,
    )
    return pushing_view_url(response, context)


@bp.route("/new", methods=["GET", "POST"])
def new() -> Response:
    """Add a customer by hand."""
    form = CustomerForm()
    if form.validate_on_submit():
        try:
            customer = customer_service.create_customer(
                db.session, current_user.id, form.customer_fields()
            )
            rescore(db.session, current_user.id, customer_ids=[customer.id])
        except customer_service.DuplicateExternalId as error:
            form.external_customer_id.errors.append(str(error))
        else:
            db.session.commit()
            notify(f"{customer.name} was added.")
            return redirect_to(url_for("customers.detail", customer_id=customer.id))
    if form.errors:
        return form_errors("customers/form.html", "customer_form", form=form, customer=None)
    return render("customers/form.html", "customer_form", form=form, customer=None)


@bp.get("/<uuid:customer_id>")
def detail(customer_id: uuid.UUID) -> Response:
    """One customer: risk and its reasons, segments, tags, timeline, survey answers."""
    customer = get_or_404(Customer, customer_id)
    return render("customers/detail.html", **detail_context(customer))


def detail_context(customer: Customer, event_form: EventForm | None = None) -> dict:
    """Everything the customer's whole page shows (`event_form`: one sent back with errors)."""
    return {
        "segments": customer_service.segments_of(db.session, customer),
        "all_segments": customer_service.account_segments(db.session),
        "answers": customer_service.survey_answers(db.session, customer),
        "account_tags": customer_service.account_tags(db.session),
        **customer_survey_panel(customer),
        **customer_panels(customer, event_form),
    }


def customer_panels(customer: Customer, event_form: EventForm | None = None) -> dict:
    """What the score, profile and timeline panels of the customer page need."""
    risk = risk_of(customer, current_user)
    return {
        "customer": customer,
        "risk": risk,
        "scored_at": scored_as_of(customer, current_user),
        # With QUEUE_RESCORES, events sent in bulk are scored by the worker moments later.
        "score_queued": current_app.config["QUEUE_RESCORES"]
        and rescore_queue.is_queued(db.session, customer.id),
        "timeline": event_service.timeline(db.session, customer),
        "event_form": event_form or EventForm(formdata=None),
    }


@bp.route("/<uuid:customer_id>/edit", methods=["GET", "POST"])
def edit(customer_id: uuid.UUID) -> Response:
    """Edit a customer on its own page."""
    customer = get_or_404(Customer, customer_id)
    if request.method == "GET":
        form = CustomerForm(data=_form_data(customer))
        return render("customers/form.html", "customer_form", form=form, customer=customer)
    form = CustomerForm()
    status = 422
    if form.validate():
        try:
            customer_service.update_customer(
                db.session, customer, form.customer_fields(), form.expected_version()
            )
        except customer_service.DuplicateExternalId as error:
            form.external_customer_id.errors.append(str(error))
        except customer_service.StaleCustomer as error:
            form, status = _stale_form(CustomerForm, error.current), 409
        else:
            rescore(db.session, current_user.id, customer_ids=[customer.id])
            db.session.commit()
            notify(f"{customer.name} was saved.")
            return redirect_to(url_for("customers.detail", customer_id=customer.id))
    return render(
        "customers/form.html", "customer_form", status=status, form=form, customer=customer
    )


STALE_MESSAGE = (
    "Someone else changed this customer while you were editing. "
    "These are the current values: check them and save again."
)


def _stale_form(make_form, current: Customer, **kwargs) -> CustomerForm:
    """A fresh form with the stored values and a note on why the save was refused."""
    db.session.refresh(current)
    form = make_form(data=_form_data(current), formdata=None, **kwargs)
    form.form_errors.append(STALE_MESSAGE)
    return form


def _form_data(customer: Customer) -> dict:
    """A customer's stored values as the form shows them."""
    return {
        "external_customer_id": customer.external_customer_id,
        "name": customer.name,
        "email": customer.email,
        "signup_date": customer.signup_date.date(),
        "tags": ", ".join(t.tag for t in customer.tags),
        "version": str(customer.version),
    }


def _row_form(customer: Customer, formdata=None) -> CustomerForm:
    """The inline form of one row (prefixed, so several rows can be edited at once)."""
    return CustomerForm(
        formdata=formdata,
        prefix=f"c-{customer.id.hex}",
        data=_form_data(customer) if formdata is None else None,
    )


def _row_segment() -> CustomerSegment | None:
    """The segment whose member table the row is in (`?segment=`): its rows offer Remove
    from the segment where the customer table offers Delete."""
    try:
        segment_id = uuid.UUID(request.args.get("segment", ""))
    except ValueError:
        return None
    return get_or_404(CustomerSegment, segment_id)


@bp.get("/<uuid:customer_id>/row")
def row(customer_id: uuid.UUID) -> Response:
    """One table row as shown (cancel of an inline edit)."""
    customer = get_or_404(Customer, customer_id)
    return fragment(
        "customers/_row.html",
        url_for("customers.index"),
        customer=customer,
        segment=_row_segment(),
    )


@bp.get("/<uuid:customer_id>/row/edit")
def row_edit(customer_id: uuid.UUID) -> Response:
    """One table row as an inline form."""
    customer = get_or_404(Customer, customer_id)
    return fragment(
        "customers/_row_edit.html",
        url_for("customers.edit", customer_id=customer_id),
        customer=customer,
        form=_row_form(customer),
        segment=_row_segment(),
    )


@bp.post("/<uuid:customer_id>/row")
def row_save(customer_id: uuid.UUID) -> Response:
    """Save an inline row edit: the saved row, or the form with errors in place."""
    customer = get_or_404(Customer, customer_id)
    form = _row_form(customer, formdata=request.form)
    status = 422
    if form.validate():
        try:
            customer_service.update_customer(
                db.session, customer, form.customer_fields(), form.expected_version()
            )
        except customer_service.DuplicateExternalId as error:
            form.external_customer_id.errors.append(str(error))
        except customer_service.StaleCustomer as error:
            db.session.refresh(error.current)
            form, status = _row_form(error.current), 409
            form.form_errors.append(STALE_MESSAGE)
        else:
            rescore(db.session, current_user.id, customer_ids=[customer.id])
            db.session.commit()
            notify(f"{customer.name} was saved.")
            return fragment(
                "customers/_row.html",
                url_for("customers.index"),
                customer=customer,
                segment=_row_segment(),
            )
    return fragment(
        "customers/_row_edit.html",
        url_for("customers.edit", customer_id=customer_id),
        status=status,
        customer=customer,
        form=form,
        segment=_row_segment(),
    )


@bp.post("/<uuid:customer_id>/delete")
def delete(customer_id: uuid.UUID) -> Response:
    """Delete a customer with its events, answers and memberships."""
    customer = get_or_404(Customer, customer_id)
    name = customer.name
    customer_service.delete_customers(db.session, [customer.id])
    db.session.commit()
    notify(f"{name} was deleted.")
    if request.headers.get("HX-Target", "").startswith("customer-row-"):
        return fragment(
            "customers/_removed_row.html", url_for("customers.index"), count=viewed_count()
        )
    return redirect_to(url_for("customers.index"))


def viewed_query(segment_id: uuid.UUID | None = None) -> CustomerQuery:
    """The table view the browser shows (its URL is in HX-Current-URL) from its first page,
    within `segment_id` on a segment's page."""
    came_from = urlsplit(request.headers.get("HX-Current-URL", ""))
    query = parse_list_query(MultiDict(parse_qsl(came_from.query))).first_page()
    if segment_id is not None:
        query = replace(query, filters=replace(query.filters, segment_id=segment_id))
    return query


def viewed_count(segment_id: uuid.UUID | None = None) -> tuple[int, bool, bool] | None:
    """After a row left the table: how many the view the browser shows now holds, as the
    table's count takes it; None when that view is unknown."""
    if not urlsplit(request.headers.get("HX-Current-URL", "")).path:
        return None
    query = viewed_query(segment_id)
    return (*matching_total(db.session, query.filters), query.filters.active)


def _tags_panel(customer: Customer, error: str = "", typed: str = "", status: int = 200):
    """The tag list and its add form (the whole page when the browser has no htmx)."""
    context = (
        {"customer": customer, "account_tags": customer_service.account_tags(db.session)}
        if wants_fragment()
        else detail_context(customer)
    )
    return render(
        "customers/detail.html",
        "customer_tags",
        status=status,
        tag_error=error,
        typed_tag=typed,
        **context,
    )


@bp.post("/<uuid:customer_id>/tags")
def add_tags(customer_id: uuid.UUID) -> Response:
    """Tag a customer ("vip", or several: "vip, trial"); swaps the tag list."""
    customer = get_or_404(Customer, customer_id)
    typed = request.form.get("tag", "")
    try:
        tags = importing.tags_to_add((t.tag for t in customer.tags), typed)
    except ValueError as error:
        return _tags_panel(customer, str(error), typed, 422)
    customer_service.change_tags(db.session, customer, add=tags)
    rescore(db.session, current_user.id, customer_ids=[customer.id])
    db.session.commit()
    if not wants_fragment():
        return redirect_to(url_for("customers.detail", customer_id=customer.id))
    return _tags_panel(customer)


@bp.post("/<uuid:customer_id>/tags/remove")
def remove_tag(customer_id: uuid.UUID) -> Response:
    """Take one tag off a customer; swaps the tag list."""
    customer = get_or_404(Customer, customer_id)
    customer_service.change_tags(db.session, customer, remove=[request.form.get("tag", "")])
    rescore(db.session, current_user.id, customer_ids=[customer.id])
    db.session.commit()
    if not wants_fragment():
        return redirect_to(url_for("customers.detail", customer_id=customer.id))
    return _tags_panel(customer)


@bp.post("/<uuid:customer_id>/segments")
def join_segment(customer_id: uuid.UUID) -> Response:
    """Add this customer to the chosen segment; swaps the page's segment list."""
    customer = get_or_404(Customer, customer_id)
    segment = get_or_404(CustomerSegment, _uuid(request.form.get("segment")) or uuid.UUID(int=0))
    try:
        customer_service.add_to_segment(db.session, segment, [customer.id])
    except customer_service.AutomaticSegment as error:
        notify(not_by_hand(error), "error")
    else:
        db.session.commit()
        notify(f"{customer.name} was added to {segment.name}.")
    if not wants_fragment():
        return redirect_to(url_for("customers.detail", customer_id=customer.id))
    return render(
        "customers/detail.html",
        "customer_segments",
        customer=customer,
        segments=customer_service.segments_of(db.session, customer),
        all_segments=customer_service.account_segments(db.session),
    )


# The customer table's bulk actions, here and on a segment's page, with nothing ticked.
NOTHING_SELECTED = "Select at least one customer first."


def added_message(added: int, chosen: int, segment_name: str) -> str:
    """What adding `chosen` customers to a segment did, members already in it included
    ("Added 0 customers" read as a failure when they were all in it already)."""
    if added == 0 and chosen:
        who = "That customer was" if chosen == 1 else "Those customers were"
        return f"{who} already in {segment_name}."
    done = f"Added {added} customer{'s' if added != 1 else ''} to {segment_name}"
    already = chosen - added
    if already > 0:
        return f"{done}; {already} {'was' if already == 1 else 'were'} already in it."
    return f"{done}."


def not_by_hand(error: customer_service.AutomaticSegment) -> str:
    """An automatic segment's refusal of members chosen by hand, and what its page offers."""
    return f'{error} To choose them by hand, save its criteria with "Add once" on its page.'


@bp.post("/bulk")
def bulk() -> Response:
    """Delete the selected customers, or add them to a segment."""
    ids = [i for i in (_uuid(v) for v in request.form.getlist("ids")) if i]
    action = request.form.get("action", "")
    if not ids:
        notify(NOTHING_SELECTED, "error")
    elif action == "delete":
        deleted = customer_service.delete_customers(db.session, ids)
        db.session.commit()
        notify(f"Deleted {deleted} customer{'s' if deleted != 1 else ''}.")
    elif action == "send_survey":
        survey = get_or_404(FeedbackSurvey, _uuid(request.form.get("survey")) or uuid.UUID(int=0))
        notify(send_to(survey, customer_ids=ids))
    elif action == "add_to_segment":
        segment = get_or_404(
            CustomerSegment, _uuid(request.form.get("segment")) or uuid.UUID(int=0)
        )
        try:
            added = customer_service.add_to_segment(db.session, segment, ids)
        except customer_service.AutomaticSegment as error:
            notify(not_by_hand(error), "error")
        else:
            db.session.commit()
            notify(added_message(added, len(set(ids)), segment.name))
    else:
        abort(400)
    return _table_after_change()


def _table_after_change() -> Response:
    """After a bulk change: the table as the user was looking at it, or back to their page."""
    came_from = urlsplit(request.headers.get("HX-Current-URL") or request.referrer or "")
    index_path = url_for("customers.index")
    if came_from.path != index_path or not request.headers.get("HX-Request"):
        back = came_from.path if came_from.path.startswith("/") else index_path
        return redirect_to(back + (f"?{came_from.query}" if came_from.query else ""))
    query = parse_list_query(MultiDict(parse_qsl(came_from.query))).first_page()
    return render("customers/index.html", "customer_table", tags=[], **table_context(query))
