"""The JSON API under /api/ (problem+json errors; see loyalty/errors.py)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_login import login_required

from loyalty.extensions import db
from loyalty.services.analytics import churn_analytics

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every API call needs a signed-in account (anonymous calls get a 401 problem)."""


@bp.get("/analytics/churn-risk")
def churn_risk() -> Response:
    """Aggregated churn-risk data: counts, averages, bands, deciles, segments, top risks."""
    return jsonify(churn_analytics(db.session).to_json())
