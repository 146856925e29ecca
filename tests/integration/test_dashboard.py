"""The dashboard: empty state, numbers that agree with the API, quick add, demo data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, select

from loyalty.domain import scoring
from loyalty.domain.scoring import score_churn_risk
from loyalty.extensions import db
from loyalty.models import Customer, EngagementEvent, SurveyResponse, User
from loyalty.services import demo
from loyalty.services.analytics import TREND_WEEKS
from loyalty.services.scoring import compute_facts, rescore, risk_of, scored_as_of
from loyalty.types import utcnow

HTMX = {"HX-Request": "true"}


def test_new_account_gets_guidance_not_zeros(signed_in):
    html = signed_in.get("/").text
    assert "Let's find out who needs you" in html
    assert "Load demo data" in html
    assert '<svg role="img"' not in html


def test_weeks_without_activity_say_so_instead_of_an_empty_chart(signed_in):
    signed_in.post(
        "/quick-add",
        data={
            "quick-name": "Quiet",
            "quick-email": "quiet@example.com",
            "quick-external_customer_id": "q-1",
            "quick-signup_date": "2026-03-01",
        },
        headers=HTMX,
    )
    html = signed_in.get("/").text
    assert "Engagement, week by week" in html
    assert "No customer activity in the last 12 weeks yet." in html
    assert 'id="trend-title"' not in html


def test_load_demo_data_then_numbers_match_the_api(app, signed_in, user):
    response = signed_in.post("/demo")
    assert response.status_code == 303
    html = signed_in.get("/").text
    api = signed_in.get("/api/analytics/churn-risk").json
    assert api["customerCount"] == 300
    total = re.search(r'id="total-customers">([^<]+)<', html).group(1)
    assert total == f"{api['customerCount']:,}"
    average = re.search(r'id="average-risk">([^<]+)<', html).group(1)
    assert average == str(round(api["averageScore"]))
    for customer in api["mostAtRisk"][:5]:
        assert customer["name"].replace("'", "&#39;") in html
        assert customer["topReason"].replace("'", "&#39;") in html
    assert "Risk distribution" in html and "Engagement, week by week" in html
    assert 'id="trend-title"' in html and "No customer activity" not in html
    # Bands and deciles name the scores they hold, without sharing a boundary; weeks read as
    # dates people read.
    for band, low, high in scoring.RISK_BANDS:
        label = f"{band.capitalize()} ({low}–{high - 1 if high else 100})"
        assert label in html
        assert label in signed_in.get("/customers").text
    assert '<td class="pr-4">0–9</td>' in html and '<td class="pr-4">90–100</td>' in html
    first_week = utcnow().date() - timedelta(days=7 * TREND_WEEKS - 1)
    assert f"week of {first_week:%-d %b %Y}</text>" in html
    assert re.search(r'id="current-nps">[+-]\d+<', html)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EngagementEvent)) > 1000
        assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) > 50


def test_dashboard_statements_do_not_grow_with_customers(app, signed_in):
    signed_in.post("/demo")
    engine = app.extensions["db"].engine
    seen = 0

    def count(*_args):
        nonlocal seen
        seen += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert signed_in.get("/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen <= 12


def test_quick_add_refreshes_the_numbers(app, signed_in):
    data = {
        "quick-name": "Quick Quinn",
        "quick-email": "quinn@example.com",
        "quick-external_customer_id": "q-1",
        "quick-signup_date": "2026-03-01",
    }
    response = signed_in.post("/quick-add", data=data, headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "customer-added"
    assert "Added. You can add another one." in response.text
    assert "Quick Quinn was added." in response.text
    numbers = signed_in.get("/", headers=HTMX)
    assert numbers.text.lstrip().startswith('<div id="dashboard-numbers"')
    assert 'id="total-customers">1<' in numbers.text


def test_most_at_risk_flags_a_customer_nothing_is_known_about(signed_in):
    data = {
        "quick-name": "Fresh Fay",
        "quick-email": "fay@example.com",
        "quick-external_customer_id": "f-1",
        "quick-signup_date": "2026-03-01",
    }
    signed_in.post("/quick-add", data=data, headers=HTMX)
    page = signed_in.get("/").text
    listed = re.search(r"Fresh Fay</a>.*?</li>", page, re.S).group(0)
    assert "No engagement recorded yet" in listed and "no data</span>" in listed


def test_quick_add_errors_stay_in_the_dialog(signed_in):
    response = signed_in.post("/quick-add", data={"quick-name": ""}, headers=HTMX)
    assert response.status_code == 422
    assert "Enter the customer&#39;s name." in response.text
    assert "HX-Trigger" not in response.headers


def test_seed_command_options_and_repeatability(app, runner):
    first = runner.invoke(args=["seed", "--customers", "40", "--seed", "7"])
    assert first.exit_code == 0, first.output
    assert "Created the account demo@loyalty-guardian.test" in first.output
    assert "Seeded 40 customers" in first.output
    with app.app_context():
        names = list(
            db.session.scalars(select(Customer.name).order_by(Customer.external_customer_id))
        )
    again = runner.invoke(args=["seed", "--customers", "40", "--seed", "7"])
    assert (
        "Seeded 0 customers" in again.output and "40 customers were already there" in again.output
    )
    reset = runner.invoke(args=["seed", "--customers", "40", "--seed", "7", "--reset"])
    assert "Seeded 40 customers" in reset.output
    with app.app_context():
        assert (
            list(db.session.scalars(select(Customer.name).order_by(Customer.external_customer_id)))
            == names
        )
        scored = db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.churn_risk_score.is_not(None))
        )
        assert scored == 40


def test_seed_if_empty_does_nothing_when_accounts_exist(runner, user):
    result = runner.invoke(args=["seed", "--if-empty"])
    assert result.exit_code == 0
    assert result.output == ""


def test_seeded_customers_are_scored_as_the_rescore_would_score_them(
    app, user, backend, monkeypatch
):
    monkeypatch.setattr(demo, "CHUNK", 25)  # several chunks: made in a second process
    # A clock whose microseconds end in zeros: timestamps in the stored facts must be written
    # the same way by Python and by SQL even then (PostgreSQL's own JSON form trims them).
    monkeypatch.setattr(demo, "utcnow", lambda: datetime(2026, 11, 25, 19, 3, 12, 120000, UTC))
    with app.app_context():
        session = db.session
        result = demo.seed_account(session, user.id, customers=120, seed=3)
        session.commit()
        assert result.customers == 120 and result.events > 500
        seeded_at = max(c.churn_scored_at for c in session.scalars(select(Customer)))
        # The domain scored each customer while generating it; the SQL rescore agrees with
        # every one (on SQLite it rewrites them anyway: its JSON text differs in form only).
        changed = rescore(session, user.id, now=seeded_at)
        session.commit()
        if backend == "postgresql":
            assert changed == 0
        account = session.get(User, user.id)
        customers = list(session.scalars(select(Customer).where(Customer.user_id == user.id)))
        facts = compute_facts(session, user.id, max(c.churn_scored_at for c in customers))
        for customer in customers:
            risk = risk_of(customer, account)
            assert risk.score == customer.churn_risk_score
            assert risk == score_churn_risk(facts[customer.id], scored_as_of(customer, account))
        bands = {scoring.risk_band(c.churn_risk_score) for c in customers}
        assert bands == {"low", "medium", "high"}
