"""Import customers from a CSV/JSON file (upload, map, check, import) and export a view."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, request, url_for
from flask_login import current_user, login_required

from loyalty.db import scope_session_to_account
from loyalty.domain import importing
from loyalty.domain.exporting import customers_to_csv, customers_to_json
from loyalty.extensions import db
from loyalty.partials import notify, redirect_to, render
from loyalty.services import imports as import_service
from loyalty.services.customer_query import all_matching
from loyalty.views.customers import parse_list_query

bp = Blueprint("imports", __name__, url_prefix="/customers")

MAPPABLE = (*importing.CUSTOMER_FIELDS, *importing.NAME_PARTS)


@bp.before_request
@login_required
def _signed_in() -> None:
    """Imports and exports belong to a signed-in account."""


def _upload_or_404(upload_id: uuid.UUID):
    upload = import_service.load_upload(db.session, upload_id)
    if upload is None:
        abort(404)
    return upload


def _mapping_from(values) -> dict[str, str | None] | None:
    """The mapping a person chose in the form (map-<field> = column), if any."""
    if not any(key.startswith("map-") for key in values):
        return None
    return {name: (values.get(f"map-{name}") or None) for name in MAPPABLE}


@bp.route("/import", methods=["GET", "POST"])
def upload() -> Response:
    """Step 1: choose a CSV or JSON file."""
    error = None
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            error = "Choose a CSV or JSON file to import."
        else:
            try:
                stored = import_service.store_upload(
                    db.session, current_user.id, file.filename, file.read()
                )
            except importing.ImportFileError as problem:
                error = str(problem)
            else:
                db.session.commit()
                return redirect_to(url_for("imports.review", upload_id=stored.id))
    return render("customers/import.html", "upload_form", status=422 if error else 200, error=error)


@bp.get("/import/<uuid:upload_id>")
def review(upload_id: uuid.UUID) -> Response:
    """Step 2: adjust the column mapping and see every problem before anything is written."""
    stored = _upload_or_404(upload_id)
    try:
        preview = import_service.preview(stored, _mapping_from(request.args))
    except importing.ImportFileError as problem:
        notify(str(problem), "error")
        return redirect_to(url_for("imports.upload"))
    return render(
        "customers/import_review.html",
        "import_preview",
        preview=preview,
        fields=MAPPABLE,
        labels=importing.FIELD_LABELS,
    )


@bp.post("/import/<uuid:upload_id>")
def run(upload_id: uuid.UUID) -> Response:
    """Step 3: import all rows (or, if chosen, only the valid ones)."""
    stored = _upload_or_404(upload_id)
    mapping = _mapping_from(request.form) or {}
    skip_invalid = request.form.get("mode") == "skip_invalid"
    try:
        result = import_service.run_import(
            db.session, current_user.id, stored, mapping, skip_invalid
        )
    except (import_service.ImportHasErrors, importing.ImportFileError):
        db.session.rollback()
        stored = _upload_or_404(upload_id)
        return render(
            "customers/import_review.html",
            "import_preview",
            status=422,
            preview=import_service.preview(stored, mapping),
            fields=MAPPABLE,
            labels=importing.FIELD_LABELS,
            refused=True,
        )
    db.session.commit()
    counts = result.counts
    message = (
        f"Import finished: {counts.created} added, {counts.updated} updated, "
        f"{counts.unchanged} unchanged"
    )
    if result.skipped:
        message += f", {result.skipped} skipped"
    notify(message + ".")
    return redirect_to(url_for("customers.index"))


def _export_rows(session, query):
    """The view's customers as export rows, read in batches; closes `session` when done."""
    try:
        for c, tags in all_matching(session, query.filters, query.sort, query.direction):
            yield {
                "externalCustomerId": c.external_customer_id,
                "name": c.name,
                "email": c.email,
                "signupDate": c.signup_date.isoformat(),
                "tags": tags,
                "churnRiskScore": c.churn_risk_score,
                "lastEngagementDate": c.last_engagement_date.isoformat()
                if c.last_engagement_date
                else None,
            }
    finally:
        session.close()


@bp.get("/export.<any(csv, json):file_format>")
def export(file_format: str) -> Response:
    """Download the current view (filters and sort) as CSV or JSON."""
    query = parse_list_query(request.args)
    # The download streams after the request's own session is closed: it gets its own.
    session = db.new_session()
    scope_session_to_account(session, current_user.id)
    rows = _export_rows(session, query)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    if file_format == "csv":
        body, mimetype = customers_to_csv(rows), "text/csv"  # Flask adds the charset
    else:
        body, mimetype = customers_to_json(rows), "application/json"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="customers-{stamp}.{file_format}"'
    )
    return response
