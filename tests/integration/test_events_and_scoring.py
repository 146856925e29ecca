"""Engagement events on the customer page, and scores that follow them."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from loyalty.domain import scoring
from loyalty.domain.criteria import parse_criteria
from loyalty.domain.scoring import CustomerFacts, score_churn_risk
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    EngagementEvent,
    FeedbackSurvey,
    ScoreSnapshot,
    SurveyResponse,
    User,
)
from loyalty.services import tokens
from loyalty.services.scoring import compute_facts, rescore, risk_of
from loyalty.services.segment_criteria import criteria_condition
from loyalty.types import utcnow
from tests import factories

HTMX = {"HX-Request": "true"}


def make_customer(app, owner, **fields):
    with app.app_context():
        customer = factories.make_customer(db.session, owner, **fields)
        db.session.commit()
        return customer.id


def add_events(app, owner, customer_id, *events):
    with app.app_context():
        for event_type, days_ago in events:
            db.session.add(
                EngagementEvent(
                    user_id=owner.id,
                    customer_id=customer_id,
                    event_type=event_type,
                    event_date=utcnow() - timedelta(days=days_ago),
                    details={},
                )
            )
        db.session.commit()


def event_form(event_type="login", when=None, text="", **extra):
    when = when or (utcnow() - timedelta(hours=1))
    data = {
        "event_type": event_type,
        "event_date": when.strftime("%Y-%m-%dT%H:%M"),
        "text": text,
    }
    data.update(extra)
    return data


class _FormAsShown(HTMLParser):
    """The fields a browser sends for a form nobody touched: inputs, chosen options, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = attrs.get("name")
            self.fields[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            # A browser drops the one newline right after <textarea>.
            text = self.fields[self._textarea] + data
            self.fields[self._textarea] = text.removeprefix("\r\n").removeprefix("\n")


def form_as_shown(html: str) -> dict[str, str]:
    """What saving `html`'s form unchanged would send."""
    parser = _FormAsShown()
    parser.feed(html)
    return parser.fields


def stored(app, customer_id) -> Customer:
    with app.app_context():
        return db.session.get(Customer, customer_id)


def test_new_customer_is_scored_with_insufficient_data(signed_in):
    response = signed_in.post(
        "/customers/new",
        data={
            "external_customer_id": "n-1",
            "name": "Newbie",
            "email": "n@x.org",
            "signup_date": "2026-01-01",
        },
    )
    html = signed_in.get(response.headers["Location"]).text
    assert "No engagement recorded yet" in html
    assert "Log their first touchpoint" in html
    assert "Scored" in html


def test_logging_an_event_updates_timeline_score_and_last_engagement(app, signed_in, user):
    cid = make_customer(app, user, signup_date=utcnow() - timedelta(days=200))
    add_events(app, user, cid, ("login", 90))
    with app.app_context():
        rescore(db.session, user.id)
        db.session.commit()
    before = stored(app, cid).churn_risk_score

    response = signed_in.post(
        f"/customers/{cid}/events", data=event_form("login", text="Came back"), headers=HTMX
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="timeline"')
    assert "Came back" in response.text
    assert 'id="churn-risk" hx-swap-oob="true"' in response.text
    assert 'id="customer-profile" class=' in response.text
    assert "Event logged." in response.text

    after = stored(app, cid)
    assert after.churn_risk_score < before
    assert after.last_engagement_date > utcnow() - timedelta(hours=2)


def test_custom_event_types_and_details(app, signed_in, user):
    cid = make_customer(app, user)
    response = signed_in.post(
        f"/customers/{cid}/events",
        data=event_form(
            "__other__",
            custom_type="Trial Started",
            **{"pairs-0-key": "plan", "pairs-0-value": "pro"},
        ),
        headers=HTMX,
    )
    assert response.status_code == 200
    with app.app_context():
        event = db.session.scalar(select(EngagementEvent))
    assert event.event_type == "trial_started"
    assert event.details == {"plan": "pro"}
    assert "Trial started" in response.text


def test_event_form_errors_come_back_in_place(app, signed_in, user):
    cid = make_customer(app, user)
    response = signed_in.post(
        f"/customers/{cid}/events",
        data={"event_type": "__other__", "custom_type": "bad type!", "event_date": "yesterday"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "Use letters, digits and underscores only" in response.text
    assert "Enter a date and time" in response.text


@pytest.mark.parametrize("custom_type", ["", "   "])
def test_other_needs_a_custom_type(app, signed_in, user, custom_type):
    """ "Other…" with nothing typed was a 500: the field's Optional() stopped the check."""
    cid = make_customer(app, user)
    logged = signed_in.post(
        f"/customers/{cid}/events",
        data=event_form("__other__", custom_type=custom_type),
        headers=HTMX,
    )
    assert logged.status_code == 422
    assert "Choose or type an event type." in logged.text

    signed_in.post(f"/customers/{cid}/events", data=event_form("login"), headers=HTMX)
    with app.app_context():
        event = db.session.scalar(select(EngagementEvent))
    prefix = f"e-{event.id.hex}-"
    edited = signed_in.post(
        f"/events/{event.id}/edit",
        data={prefix + k: v for k, v in event_form("__other__", custom_type=custom_type).items()},
        headers=HTMX,
    )
    assert edited.status_code == 422
    assert "Choose or type an event type." in edited.text
    with app.app_context():
        assert db.session.scalar(select(EngagementEvent.event_type)) == "login"


def test_event_form_errors_without_htmx_keep_what_was_typed(app, signed_in, user):
    """Without JavaScript the customer page comes back with the form open and its errors;
    it used to redirect with a toast, losing what was typed."""
    cid = make_customer(app, user)
    response = signed_in.post(
        f"/customers/{cid}/events",
        data=event_form("__other__", text="Called about the renewal"),
    )
    assert response.status_code == 422
    assert "<html" in response.text
    assert "Choose or type an event type." in response.text
    assert "Called about the renewal" in response.text
    assert re.search(r"<details[^>]*open", response.text)
    with app.app_context():
        assert db.session.scalar(select(EngagementEvent)) is None


def test_payment_failures_do_not_count_as_engagement(app, signed_in, user):
    cid = make_customer(app, user)
    signed_in.post(f"/customers/{cid}/events", data=event_form("payment_failed"), headers=HTMX)
    customer = stored(app, cid)
    assert customer.last_engagement_date is None
    assert 'data-factor="payment_failed"' in signed_in.get(f"/customers/{cid}").text


def test_trouble_raises_the_risk_and_is_never_counted_as_growing_activity(app, signed_in, user):
    cid = make_customer(app, user, signup_date=utcnow() - timedelta(days=300))
    add_events(app, user, cid, ("login", 40), ("support_ticket", 5), ("support_ticket", 9))
    signed_in.post(f"/customers/{cid}/events", data=event_form("cancellation_request"))
    html = signed_in.get(f"/customers/{cid}").text
    assert 'data-factor="support_trouble"' in html
    assert 'data-factor="cancellation_request"' in html
    assert "Activity grew" not in html and "Keep doing what works" not in html
    risk = signed_in.get(f"/api/customers/{cid}").json["churnRiskFactors"]
    assert "activity_growth" not in {factor["code"] for factor in risk}


def test_good_signs_suggest_no_thanks_while_something_raises_the_risk(app, signed_in, user):
    cid = make_customer(app, user, signup_date=utcnow() - timedelta(days=300))
    add_events(app, user, cid, *(("login", day) for day in range(1, 10)))
    signed_in.post(f"/customers/{cid}/events", data=event_form("feature_used"))
    happy = signed_in.get(f"/customers/{cid}").text
    assert 'data-factor="active"' in happy and "Keep doing what works" in happy

    signed_in.post(f"/customers/{cid}/events", data=event_form("cancellation_request"))
    leaving = signed_in.get(f"/customers/{cid}").text
    assert 'data-factor="active"' in leaving  # still a reason, with its points
    assert "Call them today" in leaving and "Keep doing what works" not in leaving


def test_an_account_that_sends_no_logins_is_not_told_nobody_logs_in(app, signed_in, runner, user):
    long_ago = utcnow() - timedelta(days=300)
    buyer = make_customer(app, user, name="Buyer", signup_date=long_ago)
    other = make_customer(app, user, name="Other", signup_date=long_ago)
    add_events(app, user, buyer, ("purchase", 2), ("support_ticket", 3))
    add_events(app, user, other, ("purchase", 5))
    runner.invoke(args=["rescore"])
    page = signed_in.get(f"/customers/{buyer}").text
    assert 'data-factor="no_login"' not in page and "Has never logged in" not in page
    with app.app_context():
        assert not compute_facts(db.session, user.id, utcnow())[buyer].logins_tracked
        # The score written in SQL is the one the reasons shown add up to.
        customer = db.session.get(Customer, buyer)
        risk = risk_of(customer, db.session.get(User, user.id))
        assert risk.score == customer.churn_risk_score

    # Once the account records logins, customers without one are told apart again: at
    # once, not at the next daily rescore (the first login changes every customer's rule).
    signed_in.post(f"/customers/{other}/events", data=event_form("login"))
    assert 'data-factor="no_login"' not in signed_in.get(f"/customers/{other}").text
    page = signed_in.get(f"/customers/{buyer}").text
    assert 'data-factor="no_login"' in page and "Has never logged in" in page
    codes = {f["code"] for f in signed_in.get(f"/api/customers/{buyer}").json["churnRiskFactors"]}
    assert "no_login" in codes
    assert "changed for 0 customers" in runner.invoke(args=["rescore"]).output


def test_the_first_login_sent_through_the_api_rescores_the_whole_account(
    app, signed_in, runner, user
):
    long_ago = utcnow() - timedelta(days=300)
    buyer = make_customer(app, user, name="Buyer", signup_date=long_ago, external_customer_id="b1")
    make_customer(app, user, name="Other", signup_date=long_ago, external_customer_id="o1")
    add_events(app, user, buyer, ("purchase", 2))
    runner.invoke(args=["rescore"])
    before = signed_in.get(f"/api/customers/{buyer}").json
    assert "no_login" not in {f["code"] for f in before["churnRiskFactors"]}

    with app.app_context():
        _row, secret = tokens.create_token(db.session, user.id, "tests")
        db.session.commit()
    sent = app.test_client().post(
        "/api/events",
        json={"events": [{"externalCustomerId": "o1", "eventType": "login"}]},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert sent.json["created"] == 1, sent.json
    after = signed_in.get(f"/api/customers/{buyer}").json
    assert "no_login" in {f["code"] for f in after["churnRiskFactors"]}
    assert after["churnRiskScore"] == before["churnRiskScore"] + scoring.NO_LOGIN_POINTS


def test_deleting_the_accounts_only_login_stops_the_login_rule_for_everyone(app, signed_in, user):
    long_ago = utcnow() - timedelta(days=300)
    buyer = make_customer(app, user, name="Buyer", signup_date=long_ago)
    other = make_customer(app, user, name="Other", signup_date=long_ago)
    add_events(app, user, buyer, ("purchase", 2))
    signed_in.post(f"/customers/{other}/events", data=event_form("login"))
    signed_in.post(f"/customers/{buyer}/events", data=event_form("purchase"))
    assert "Has never logged in" in signed_in.get(f"/customers/{buyer}").text

    with app.app_context():
        login_id = db.session.scalar(
            select(EngagementEvent.id).where(EngagementEvent.event_type == "login")
        )
    deleted = signed_in.post(f"/events/{login_id}/delete")
    assert deleted.status_code in (200, 303)
    assert "Has never logged in" not in signed_in.get(f"/customers/{buyer}").text


def test_edit_and_delete_an_event_rescore(app, signed_in, user):
    cid = make_customer(app, user, signup_date=utcnow() - timedelta(days=300))
    signed_in.post(f"/customers/{cid}/events", data=event_form("login"), headers=HTMX)
    with app.app_context():
        event_id = db.session.scalar(select(EngagementEvent.id))
    fresh = stored(app, cid).churn_risk_score

    old = utcnow() - timedelta(days=100)
    prefix = f"e-{event_id.hex}-"
    form = signed_in.get(f"/events/{event_id}/edit", headers=HTMX)
    assert f'name="{prefix}event_type"' in form.text
    edited = signed_in.post(
        f"/events/{event_id}/edit",
        data={f"{prefix}{k}": v for k, v in event_form("login", when=old).items()},
        headers=HTMX,
    )
    assert edited.status_code == 200
    assert edited.headers["HX-Retarget"] == "#timeline"
    assert stored(app, cid).churn_risk_score > fresh

    deleted = signed_in.post(f"/events/{event_id}/delete", headers=HTMX)
    assert "No engagement recorded yet" in deleted.text
    assert stored(app, cid).last_engagement_date is None


DETAILS_OF_ALL_KINDS = {
    **{f"k{n}": n for n in range(12)},
    "flag": True,
    "off": False,
    "missing": None,
    "ratio": 1.5,
    "padded": "  as sent  ",
    "empty": "",
    "long": "x" * 2000,
    "text": "Bought the annual plan",
}


def test_saving_an_event_unchanged_keeps_its_details_their_types_and_its_date(app, signed_in, user):
    """Saving the edit form as shown kept 10 keys, all turned into text, and dropped the
    seconds of the date; a 2,000-character value the API took could not be saved at all."""
    cid = make_customer(app, user)
    when = (utcnow() - timedelta(days=1)).replace(second=37, microsecond=0)
    sent = {"eventType": "purchase", "eventDate": when.isoformat(), "details": DETAILS_OF_ALL_KINDS}
    logged = signed_in.post(f"/api/customers/{cid}/events", json=sent)
    assert logged.status_code == 201, logged.json
    event_id = logged.json["id"]

    editor = signed_in.get(f"/events/{event_id}/edit", headers=HTMX)
    saved = signed_in.post(
        f"/events/{event_id}/edit", data=form_as_shown(editor.text), headers=HTMX
    )
    assert saved.status_code == 200, saved.text
    assert "Event saved." in saved.text
    after = signed_in.get(f"/api/events/{event_id}").json
    assert after["details"] == DETAILS_OF_ALL_KINDS
    assert after["eventDate"] == logged.json["eventDate"]


def test_details_typed_in_the_edit_form_are_text_and_untouched_ones_keep_their_type(
    app, signed_in, user
):
    cid = make_customer(app, user)
    sent = {"eventType": "purchase", "details": {"seats": 3, "paid": True, "plan": "pro"}}
    event_id = signed_in.post(f"/api/customers/{cid}/events", json=sent).json["id"]
    fields = form_as_shown(signed_in.get(f"/events/{event_id}/edit", headers=HTMX).text)
    rows = {value: name[: -len("key")] for name, value in fields.items() if name.endswith("key")}
    fields[rows["seats"] + "value"] = "4"
    fields[rows["plan"] + "key"] = ""  # an emptied key removes the detail
    blank = next(name for name, value in fields.items() if name.endswith("key") and not value)
    fields[blank], fields[blank[: -len("key")] + "value"] = "region", "EU"

    signed_in.post(f"/events/{event_id}/edit", data=fields, headers=HTMX)
    details = signed_in.get(f"/api/events/{event_id}").json["details"]
    assert details == {"seats": "4", "paid": True, "region": "EU"}


def test_the_event_form_takes_as_many_details_as_the_api(app, signed_in, user):
    cid = make_customer(app, user)
    pairs = {}
    for n in range(50):
        pairs[f"pairs-{n}-key"], pairs[f"pairs-{n}-value"] = f"k{n}", "v" * 2000
    logged = signed_in.post(f"/customers/{cid}/events", data=event_form(**pairs), headers=HTMX)
    assert logged.status_code == 200
    with app.app_context():
        details = db.session.scalar(select(EngagementEvent.details))
    assert len(details) == 50 and details["k49"] == "v" * 2000

    too_many = signed_in.post(
        f"/customers/{cid}/events", data=event_form(text="One more", **pairs), headers=HTMX
    )
    assert too_many.status_code == 422
    assert "At most 50 details" in too_many.text


def test_two_details_of_one_name_are_refused_not_merged(app, signed_in, user):
    """A second pair of a name (or one named like the Details box) replaced the first."""
    cid = make_customer(app, user)
    for pairs, message in (
        (
            {"pairs-0-key": "plan", "pairs-0-value": "gold", "pairs-1-key": "plan"},
            "&#34;plan&#34; is twice",
        ),
        ({"pairs-0-key": "text", "pairs-0-value": "hi"}, "&#34;text&#34; is the Details box"),
    ):
        refused = signed_in.post(f"/customers/{cid}/events", data=event_form(**pairs), headers=HTMX)
        assert refused.status_code == 422 and message in refused.text
    with app.app_context():
        assert db.session.scalar(select(EngagementEvent)) is None


def test_an_event_dated_in_the_future_is_refused_and_the_date_kept(app, signed_in, user):
    """A future event showed on the timeline while the score said nothing was recorded."""
    cid = make_customer(app, user)
    tomorrow = utcnow() + timedelta(days=1)
    typed = tomorrow.strftime("%Y-%m-%dT%H:%M")
    refused = signed_in.post(
        f"/customers/{cid}/events", data=event_form("login", when=tomorrow), headers=HTMX
    )
    assert refused.status_code == 422
    assert "cannot be in the future" in refused.text
    assert f'value="{typed}"' in refused.text
    with app.app_context():
        assert db.session.scalar(select(EngagementEvent)) is None

    # A client clock a minute or two ahead is not the future.
    ahead = utcnow() + timedelta(minutes=2)
    taken = signed_in.post(
        f"/customers/{cid}/events", data=event_form("login", when=ahead), headers=HTMX
    )
    assert taken.status_code == 200
    with app.app_context():
        event_id = db.session.scalar(select(EngagementEvent.id))
    prefix = f"e-{event_id.hex}-"
    edited = signed_in.post(
        f"/events/{event_id}/edit",
        data={prefix + k: v for k, v in event_form("login", when=tomorrow).items()},
        headers=HTMX,
    )
    assert edited.status_code == 422
    assert "cannot be in the future" in edited.text and f'value="{typed}"' in edited.text


def test_timeline_pages_back_through_a_long_history(app, signed_in, user):
    cid = make_customer(app, user)
    add_events(app, user, cid, *[("feature_used", n) for n in range(45)])
    page = signed_in.get(f"/customers/{cid}").text
    assert page.count('id="event-') == 20
    older = re.search(r'hx-get="(/customers/[^"]+/events\?older=[^"]+)"', page).group(1)
    second = signed_in.get(older.replace("&amp;", "&"), headers=HTMX).text
    assert second.count('id="event-') == 20
    third_url = re.search(r'hx-get="(/customers/[^"]+/events\?older=[^"]+)"', second).group(1)
    third = signed_in.get(third_url.replace("&amp;", "&"), headers=HTMX).text
    assert third.count('id="event-') == 5
    assert "Show older events" not in third


def test_other_accounts_events_are_404(app, signed_in):
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other)
        event = EngagementEvent(
            user_id=other.id,
            customer_id=theirs.id,
            event_type="login",
            event_date=utcnow(),
            details={},
        )
        db.session.add(event)
        db.session.commit()
        event_id, customer_id = event.id, theirs.id
    assert signed_in.post(f"/customers/{customer_id}/events", data=event_form()).status_code == 404
    assert signed_in.get(f"/events/{event_id}/edit", headers=HTMX).status_code == 404
    assert signed_in.post(f"/events/{event_id}/edit", data=event_form()).status_code == 404
    assert signed_in.post(f"/events/{event_id}/delete").status_code == 404


def test_set_based_scores_equal_the_per_customer_function(app, user):
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    histories = {
        "quiet": [("login", 80), ("support_ticket", 75)],
        "busy": [("login", d) for d in range(0, 60, 3)] + [("feature_used", 2)],
        "troubled": [
            ("support_ticket", 3),
            ("support_ticket", 5),
            ("support_ticket", 9),
            ("support_ticket", 20),
            ("payment_failed", 10),
            ("downgrade", 40),
        ],
        "leaving": [("cancellation_request", 1), ("login", 1), ("note", 0.5)],
        "future": [("login", -5), ("login", 40)],
        "empty": [],
    }
    with app.app_context():
        session = db.session
        customers = {}
        for name, events in histories.items():
            customer = factories.make_customer(
                session, user, name=name, signup_date=now - timedelta(days=365)
            )
            customers[name] = customer
            for event_type, days in events:
                session.add(
                    EngagementEvent(
                        user_id=user.id,
                        customer_id=customer.id,
                        event_type=event_type,
                        event_date=now - timedelta(days=days),
                        details={},
                    )
                )
        session.flush()
        computed = compute_facts(session, user.id, now)
        for name, events in histories.items():
            past = [(t, now - timedelta(days=d)) for t, d in events if d >= 0]

            def count(types, window, past=past):
                return sum(
                    1 for t, when in past if t in types and when >= now - timedelta(days=window)
                )

            engaged = [(t, w) for t, w in past if t not in ("payment_failed", "note")]
            trouble = ("support_ticket", "downgrade", "cancellation_request")
            active = [(t, w) for t, w in engaged if t not in trouble]
            facts = CustomerFacts(
                signup_date=now - timedelta(days=365),
                last_engagement=max((w for _t, w in engaged), default=None),
                last_login=max((w for t, w in past if t == "login"), default=None),
                event_count=len(past),
                recent_activity=sum(1 for _t, w in active if w >= now - timedelta(days=30)),
                previous_activity=sum(
                    1
                    for _t, w in active
                    if now - timedelta(days=60) <= w < now - timedelta(days=30)
                ),
                recent_logins=count({"login"}, 30),
                support_tickets=count({"support_ticket"}, 30),
                payment_failures=count({"payment_failed"}, 60),
                downgrades=count({"downgrade"}, 90),
                upgrades=count({"upgrade"}, 90),
                cancellation_requests=count({"cancellation_request"}, 90),
            )
            assert computed[customers[name].id] == facts, name


def test_rescoring_named_customers_writes_theirs_alone_and_their_segment_follows(app, user):
    """Some customers (as the worker and the API rescore them) are sent as one list, however
    many; the others keep what they had, in scores and in automatic segments."""
    at_risk = {"match": "all", "rules": [{"field": "churn_risk", "op": "above", "value": 70}]}
    with app.app_context():
        session = db.session
        named, others = [], []
        for n in range(6):
            customer = factories.make_customer(
                session, user, name=f"C{n}", signup_date=factories.days_ago(200)
            )
            (named if n % 2 else others).append(customer.id)
        segment = CustomerSegment(
            user_id=user.id, name="At risk", criteria=at_risk, is_automatic=True
        )
        session.add(segment)
        session.flush()
        rescore(session, user.id)  # no history: every customer gets the same middling score
        trouble = ("cancellation_request", "downgrade", "payment_failed", "payment_failed")
        for customer_id in named + others:
            session.add_all(
                EngagementEvent(
                    user_id=user.id,
                    customer_id=customer_id,
                    event_type=event_type,
                    event_date=factories.days_ago(1),
                    details={},
                )
                for event_type in trouble
            )
        session.flush()
        before = dict(session.execute(select(Customer.id, Customer.churn_risk_score)).all())
        assert rescore(session, user.id, customer_ids=named) == len(named)
        session.commit()
        after = dict(session.execute(select(Customer.id, Customer.churn_risk_score)).all())
        members = set(
            session.scalars(
                select(CustomerSegmentMembership.customer_id).where(
                    CustomerSegmentMembership.customer_segment_id == segment.id
                )
            )
        )
    assert all(after[c] > before[c] and after[c] > 70 for c in named)
    assert all(after[c] == before[c] < 70 for c in others)
    assert members == set(named)


def test_rescore_command_recomputes_every_account_and_records_a_snapshot(app, runner, user):
    cid = make_customer(app, user, signup_date=utcnow() - timedelta(days=200))
    add_events(app, user, cid, ("login", 45))
    result = runner.invoke(args=["rescore"])
    assert result.exit_code == 0, result.output
    assert f"{user.email}: rescored; scores or reasons changed for 1 customer." in result.output
    customer = stored(app, cid)
    assert customer.churn_risk_score is not None
    assert customer.churn_scored_at is not None
    with app.app_context():
        risk = risk_of(customer, db.session.get(User, user.id))
    assert "No activity in 45 days" in [f.reason for f in risk.factors]
    again = runner.invoke(args=["rescore"])
    assert f"{user.email}: rescored; scores or reasons changed for 0 customers." in again.output
    with app.app_context():
        snapshot = db.session.scalar(select(ScoreSnapshot))
    assert snapshot.customer_count == 1


def test_rescore_command_for_an_unknown_account_fails_clearly(runner):
    result = runner.invoke(args=["rescore", "--email", "ghost@example.com"])
    assert result.exit_code != 0
    assert "No account with the e-mail ghost@example.com." in result.output


def test_customer_page_runs_a_constant_number_of_statements(app, signed_in, user):
    from sqlalchemy import event as sa_event

    cid = make_customer(app, user)
    counts = []
    for batch in (1, 40):
        add_events(app, user, cid, *[("login", n) for n in range(batch)])
        seen = 0

        def count(*_args):
            nonlocal seen
            seen += 1

        engine = app.extensions["db"].engine
        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            assert signed_in.get(f"/customers/{cid}").status_code == 200
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)
        counts.append(seen)
    assert counts[0] == counts[1]


@pytest.mark.parametrize("logins", [True, False], ids=["logins", "no-logins"])
def test_scores_written_in_sql_equal_the_domain_rules_on_random_histories(app, user, logins):
    """The SQL expression and `score_churn_risk` agree, including at every window's edge, in
    an account that records logins and in one that does not."""
    rng = random.Random(20261125)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    # Days that sit on or next to the thresholds and windows of the rules.
    edges = [0, 0.5, 1, 6.9, 7, 7.1, 13.9, 14, 14.1, 15, 21, 22, 29.9, 30, 30.1, 31, 45, 59.9]
    edges += [60, 60.1, 61, 89.9, 90, 90.1, 120, -2]
    types = [*scoring.STANDARD_EVENT_TYPES, "trial_started"]
    if not logins:
        types.remove("login")
    with app.app_context():
        session = db.session
        survey = FeedbackSurvey(user_id=user.id, title="NPS", kind="nps", question="?")
        csat = FeedbackSurvey(user_id=user.id, title="CSAT", kind="satisfaction", question="?")
        session.add_all([survey, csat])
        session.flush()
        histories = {}
        for _ in range(150):
            signup = now - timedelta(days=rng.choice([*edges, 200, 400]))
            customer = factories.make_customer(session, user, signup_date=signup)
            events, answers = [], []
            for _ in range(rng.choice([0, 1, 2, 5, 9, 14])):
                kind = rng.choice(types[:3]) if rng.random() < 0.6 else rng.choice(types)
                events.append((kind, now - timedelta(days=rng.choice(edges))))
                session.add(
                    EngagementEvent(
                        user_id=user.id,
                        customer_id=customer.id,
                        event_type=kind,
                        event_date=events[-1][1],
                        details={},
                    )
                )
            for answered, kind, top in ((survey, "nps", 10), (csat, "satisfaction", 5)):
                ages = set()
                for _ in range(rng.choice([0, 0, 1, 2])):
                    # Some answers sit at the edge of the window answers count in.
                    age = rng.choice([rng.uniform(-1, 90), rng.choice([364.9, 365, 365.1, 500])])
                    if age in ages:  # two answers at one instant have no "latest" to agree on
                        continue
                    ages.add(age)
                    answers.append((kind, rng.randint(0, top), now - timedelta(days=age)))
                    session.add(
                        SurveyResponse(
                            user_id=user.id,
                            customer_id=customer.id,
                            feedback_survey_id=answered.id,
                            response={"kind": kind, "score": answers[-1][1]},
                            submitted_at=answers[-1][2],
                        )
                    )
            histories[customer.id] = (signup, events, answers)
        session.commit()
        # The SQL aggregates and the domain's reference agree on every customer's facts.
        facts = compute_facts(session, user.id, now)
        for customer_id, (signup, events, answers) in histories.items():
            expected = scoring.facts_from_history(signup, events, answers, now, logins)
            assert facts[customer_id] == expected

        assert rescore(session, user.id, now=now) == 150
        session.commit()
        account = session.get(User, user.id)
        seen = set()
        for customer in session.scalars(select(Customer).where(Customer.user_id == user.id)):
            expected = score_churn_risk(facts[customer.id], now)
            assert customer.churn_risk_score == expected.score, facts[customer.id]
            assert risk_of(customer, account) == expected
            seen.add(expected.score)
        assert len(seen) > 15  # the data reached many different rules

        # Nothing moved: a second pass writes nothing, and the reasons stay as they were.
        assert rescore(session, user.id, now=now) == 0
        # A day later, some scores move with the calendar, and only those are written.
        later = now + timedelta(days=1)
        changed = rescore(session, user.id, now=later)
        assert 0 < changed < 150
        facts = compute_facts(session, user.id, later)
        account = session.get(User, user.id)
        for customer in session.scalars(select(Customer).where(Customer.user_id == user.id)):
            expected = score_churn_risk(facts[customer.id], later)
            assert customer.churn_risk_score == expected.score
            assert risk_of(customer, account) == expected


@pytest.mark.parametrize("scores", [(2, 10), (10, 2)])
def test_two_answers_at_one_instant_give_one_latest_nps_to_the_score_and_segments(
    app, user, scores
):
    """Answers loaded with the same moment (an import of old answers, say) have no order of
    their own: the later id wins, in the score as in a "latest NPS" segment."""
    now = utcnow()
    at = now - timedelta(days=3)
    with app.app_context():
        session = db.session
        customer = factories.make_customer(session, user)
        survey = FeedbackSurvey(user_id=user.id, title="Pulse", kind="nps", question="?")
        session.add(survey)
        session.flush()
        ids = (uuid.UUID(int=1), uuid.UUID(int=2))  # the earlier id stored first
        for answer_id, score in zip(ids, scores, strict=True):
            session.add(
                SurveyResponse(
                    id=answer_id,
                    user_id=user.id,
                    customer_id=customer.id,
                    feedback_survey_id=survey.id,
                    response={"kind": "nps", "score": score},
                    submitted_at=at,
                )
            )
            session.flush()
        latest = scores[1]
        assert compute_facts(session, user.id, now)[customer.id].latest_nps == latest
        category = "detractor" if latest <= 6 else "promoter"
        criteria = parse_criteria(
            {"match": "all", "rules": [{"field": "latest_nps", "op": "is", "value": category}]}
        )
        in_segment = session.scalars(
            select(Customer.id).where(
                Customer.user_id == user.id, criteria_condition(criteria, now)
            )
        ).all()
        assert in_segment == [customer.id]


def test_the_customer_page_says_where_the_score_starts(app, signed_in, user):
    quiet = make_customer(app, user, signup_date=utcnow() - timedelta(days=300))
    add_events(app, user, quiet, ("login", 50))
    signed_in.post(
        f"/customers/{quiet}/events", data=event_form("purchase", utcnow() - timedelta(days=45))
    )
    page = signed_in.get(f"/customers/{quiet}").text
    assert "Every customer starts at 20 points" in page
    assert "between 0 and 100" not in page

    leaving = make_customer(app, user, signup_date=utcnow() - timedelta(days=300))
    add_events(app, user, leaving, *(("support_ticket", day) for day in range(1, 6)))
    add_events(app, user, leaving, ("payment_failed", 3), ("payment_failed", 9), ("downgrade", 4))
    signed_in.post(f"/customers/{leaving}/events", data=event_form("cancellation_request"))
    page = signed_in.get(f"/customers/{leaving}").text
    assert "Every customer starts at 20 points" in page and "between 0 and 100" in page

    unknown = make_customer(app, user)
    assert "starts at" not in signed_in.get(f"/customers/{unknown}").text
