"""The dashboard at `/`: the churn picture, who needs attention, and a quick add."""

from __future__ import annotations

from flask import Blueprint, Response, url_for
from flask_login import current_user, login_required

from loyalty.extensions import db
from loyalty.forms.customers import CustomerForm
from loyalty.partials import notify, redirect_to, render, wants_fragment
from loyalty.services import customers as customer_service
from loyalty.services import demo
from loyalty.services.analytics import churn_analytics, engagement_trend, feedback_summary
from loyalty.services.scoring import rescore

bp = Blueprint("dashboard", __name__)

QUICK_ADD_PREFIX = "quick"


def _numbers() -> dict:
    """What the dashboard's numbers and charts need."""
    analytics = churn_analytics(db.session, current_user, with_segments=False)
    return {
        "analytics": analytics,
        "trend": engagement_trend(db.session) if analytics.customer_count else [],
        "feedback": feedback_summary(db.session) if analytics.customer_count else None,
    }


@bp.get("/")
@login_required
def index() -> Response:
    """Where a customer-success manager starts the day."""
    return render(
        "dashboard/index.html",
        "dashboard_numbers",
        quick_form=CustomerForm(formdata=None, prefix=QUICK_ADD_PREFIX),
        **_numbers(),
    )


@bp.post("/quick-add")
@login_required
def quick_add() -> Response:
    """Add a customer from the dashboard's dialog; the numbers refresh on success."""
    form = CustomerForm(prefix=QUICK_ADD_PREFIX)
    if form.validate():
        try:
            customer = customer_service.create_customer(
                db.session, current_user.id, form.customer_fields()
            )
        except customer_service.DuplicateExternalId as error:
            form.external_customer_id.errors.append(str(error))
        else:
            rescore(db.session, current_user.id, customer_ids=[customer.id])
            db.session.commit()
            notify(f"{customer.name} was added.")
            if not wants_fragment():  # the dialog posts through htmx; a plain post gets the page
                return redirect_to(url_for("dashboard.index"))
            response = render(
                "dashboard/index.html",
                "quick_add_form",
                quick_form=CustomerForm(formdata=None, prefix=QUICK_ADD_PREFIX),
                added=True,
            )
            # The numbers panel listens for this and reloads itself.
            response.headers["HX-Trigger"] = "customer-added"
            return response
    return render(
        "dashboard/index.html",
        "quick_add_form",
        status=422,
        page_context=_numbers,
        quick_form=form,
        added=False,
    )


@bp.post("/demo")
@login_required
def load_demo() -> Response:
    """Fill the signed-in account with demo data, to try the product."""
    result = demo.seed_account(db.session, current_user.id)
    db.session.commit()
    notify(f"Demo data loaded: {result.customers} customers with their history.")
    return redirect_to(url_for("dashboard.index"))
