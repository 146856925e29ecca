"""An account's time zone: pages show moments in it and read typed times in it; the API,
exports and stored data stay in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from loyalty.extensions import db
from loyalty.models import EngagementEvent, User
from loyalty.services.scoring import rescore
from tests import factories

HTMX = {"HX-Request": "true"}


def account(app, email="owner@example.com") -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def set_zone(app, user, zone: str) -> None:
    with app.app_context():
        db.session.get(User, user.id).time_zone = zone
        db.session.commit()


def make_customer(app, user, **fields):
    with app.app_context():
        customer = factories.make_customer(db.session, user, **fields)
        db.session.commit()
        return customer.id


def test_sign_up_takes_the_browsers_zone_and_ignores_one_that_does_not_exist(client):
    form = {"password": "correct horse battery", "confirm": "correct horse battery"}
    client.post(
        "/signup", data={**form, "email": "ny@example.com", "time_zone": "America/New_York"}
    )
    client.post("/logout")
    client.post("/signup", data={**form, "email": "mars@example.com", "time_zone": "Mars/Olympus"})
    client.post("/logout")
    client.post("/signup", data={**form, "email": "none@example.com"})
    assert account(client.application, "ny@example.com").time_zone == "America/New_York"
    assert account(client.application, "mars@example.com").time_zone == "UTC"
    assert account(client.application, "none@example.com").time_zone == "UTC"


def test_sign_up_form_asks_the_browser_for_its_zone(client):
    page = client.get("/signup").text
    assert re.search(r'<input data-browser-time-zone[^>]* name="time_zone" type="hidden"', page)


def test_the_account_page_changes_the_zone_and_refuses_one_not_on_its_list(app, signed_in, user):
    page = signed_in.get("/account").text
    assert '<option selected value="UTC">UTC</option>' in page
    assert '<option value="Europe/Paris">Europe/Paris</option>' in page

    refused = signed_in.post("/account/time-zone", data={"time_zone": "Europe/Atlantis"})
    assert refused.status_code == 422
    assert "Choose a time zone from the list, like Europe/Paris." in refused.text
    assert account(app).time_zone == "UTC"

    saved = signed_in.post("/account/time-zone", data={"time_zone": "Asia/Tokyo"}, headers=HTMX)
    assert saved.status_code == 204 and saved.headers["HX-Redirect"] == "/account"
    assert account(app).time_zone == "Asia/Tokyo"
    page = signed_in.get("/account").text
    assert "Times now show in Asia/Tokyo time." in page
    assert '<option selected value="Asia/Tokyo">Asia/Tokyo</option>' in page


def test_the_zone_menu_offers_places_and_keeps_an_alias_a_browser_reported(app, signed_in, user):
    options = re.findall(r'<option[^>]*value="([^"]+)"', signed_in.get("/account").text)
    assert options[0] == "UTC" and "Europe/Paris" in options and "America/New_York" in options
    for name in ("CET", "W-SU", "Zulu", "localtime", "Etc/GMT+5", "US/Eastern"):
        assert name not in options, name
    set_zone(app, user, "Asia/Calcutta")  # what some browsers still report for India
    page = signed_in.get("/account").text
    assert re.search(
        r'<option selected value="Asia/Calcutta">|<option value="Asia/Calcutta" selected', page
    )
    refused = signed_in.post("/account/time-zone", data={"time_zone": "localtime"})
    assert refused.status_code == 422


def test_events_are_typed_and_shown_in_the_accounts_zone_and_stored_in_utc(app, signed_in, user):
    set_zone(app, user, "America/New_York")
    cid = make_customer(app, user)
    form = signed_in.get(f"/customers/{cid}").text
    assert "When (America/New York time)" in form

    signed_in.post(
        f"/customers/{cid}/events",
        data={"event_type": "login", "event_date": "2026-11-20T09:00", "text": ""},
        headers=HTMX,
    )
    with app.app_context():
        event = db.session.scalar(select(EngagementEvent))
        assert event.event_date == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # EST is UTC-5
        event_id = event.id
    page = signed_in.get(f"/customers/{cid}").text
    assert "20 Nov 2026, 09:00 EST" in page
    assert "14:00 UTC" not in page and ", 14:00" not in page
    # Summer time is read as summer time.
    signed_in.post(
        f"/customers/{cid}/events",
        data={"event_type": "login", "event_date": "2026-07-01T09:00", "text": ""},
        headers=HTMX,
    )
    assert "1 Jul 2026, 09:00 EDT" in signed_in.get(f"/customers/{cid}").text

    editor = signed_in.get(f"/events/{event_id}/edit", headers=HTMX).text
    assert 'value="2026-11-20T09:00"' in editor
    api = signed_in.get(f"/api/customers/{cid}/events").json
    assert "2026-11-20T14:00:00" in {item["eventDate"][:19] for item in api["data"]}


def test_engagement_filters_read_days_in_the_accounts_zone(app, signed_in, user):
    set_zone(app, user, "Asia/Tokyo")
    cid = make_customer(app, user, name="Late Evening UTC")
    with app.app_context():
        # 20:00 UTC on the 19th is 05:00 on the 20th in Tokyo.
        db.session.add(
            EngagementEvent(
                user_id=user.id,
                customer_id=cid,
                event_type="login",
                event_date=datetime(2026, 11, 19, 20, 0, tzinfo=UTC),
                details={},
            )
        )
        db.session.commit()
    with app.app_context():
        rescore(db.session, user.id, customer_ids=[cid])
        db.session.commit()
    url = "/customers?engaged_from=2026-11-20&engaged_to=2026-11-20"
    page = signed_in.get(url).text
    assert "Late Evening UTC" in page
    assert 'name="engaged_from" aria-label="Last engaged from" value="2026-11-20"' in page
    assert "Late Evening UTC" not in signed_in.get("/customers?engaged_to=2026-11-19").text

    set_zone(app, user, "UTC")
    assert "Late Evening UTC" not in signed_in.get(url).text

    # Days at the ends of the calendar are ignored, not an error, in any zone.
    for day in ("0001-01-01", "9999-12-31"):
        assert signed_in.get(f"/customers?engaged_to={day}&engaged_from={day}").status_code == 200


def test_a_new_customer_signed_up_on_the_accounts_today(app, signed_in, user):
    # Whatever the hour, one of these two is on another day than UTC.
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        set_zone(app, user, zone)
        today = datetime.now(ZoneInfo(zone)).date().isoformat()
        form = signed_in.get("/customers/new").text
        assert re.search(rf'name="signup_date"[^>]* value="{today}"', form), zone


def test_account_forms_sent_without_htmx_come_back_as_the_whole_page(signed_in):
    # Without JavaScript each of the page's three forms answers with the page, all of it.
    answers = [
        signed_in.post("/account/tokens", data={"name": "Billing sync"}),
        signed_in.post("/account/tokens", data={"name": ""}),
        signed_in.post("/account/time-zone", data={"time_zone": "Nowhere"}),
        signed_in.post("/account", data={"current_password": "wrong"}),
    ]
    for answer in answers:
        assert answer.status_code in (200, 422)
        for part in ("Change password", "Time zone", "API tokens", "<html"):
            assert part in answer.text, (answer.request.path, part)
