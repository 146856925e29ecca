"""The dashboard at `/`."""

from __future__ import annotations

from flask import Blueprint, Response
from flask_login import login_required
from sqlalchemy import func, select

from loyalty.extensions import db
from loyalty.models import Customer
from loyalty.partials import render

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index() -> Response:
    """Where a customer-success manager starts the day."""
    customer_count = db.session.scalar(select(func.count()).select_from(Customer))
    return render("dashboard/index.html", customer_count=customer_count)
