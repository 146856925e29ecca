"""Logging engagement in a real browser: the timeline and the score change in place."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import sign_up
from tests.e2e.test_customers_table import add_customer


def test_logging_events_changes_score_and_reasons_without_reload(signed_up):
    page = signed_up
    add_customer(page, "Frank", "f-6", "frank@example.com", signup="2025-01-10")
    risk = page.locator("#churn-risk")
    expect(risk).to_contain_text("No engagement recorded yet")
    page.evaluate("window.__marker = 'same page'")

    page.get_by_text("Log an event").click()
    page.get_by_label("Event type").select_option("support_ticket")
    page.get_by_label("Details", exact=True).fill("Export keeps failing")
    page.get_by_role("button", name="Log event").click()
    expect(page.locator("#timeline")).to_contain_text("Export keeps failing")
    expect(risk).not_to_contain_text("No engagement recorded yet")

    page.get_by_text("Log an event").click()
    page.get_by_label("Event type").select_option("cancellation_request")
    page.get_by_role("button", name="Log event").click()
    expect(risk).to_contain_text("Asked to cancel")
    expect(risk).to_contain_text("Call them today")
    expect(page.locator("#timeline li[id^=event-]")).to_have_count(2)
    assert page.evaluate("window.__marker") == "same page"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Cancellation request").click()
    expect(risk).not_to_contain_text("Asked to cancel")
    expect(page.locator("#timeline li[id^=event-]")).to_have_count(1)


def test_event_edit_takes_the_focus_and_gives_it_back(signed_up):
    page = signed_up
    add_customer(page, "Hank", "h-8", "hank@example.com")
    page.get_by_text("Log an event").click()
    page.get_by_label("Event type").select_option("login")
    page.get_by_role("button", name="Log event").click()
    edit = page.get_by_role("button", name=re.compile(r"^Edit Login of "))
    expect(edit).to_be_visible()

    edit.focus()
    page.keyboard.press("Enter")
    entry = page.locator("#timeline li[id^=event-]").first
    expect(entry.get_by_label("Event type")).to_be_focused()
    page.keyboard.press("Escape")
    expect(edit).to_be_focused()
    expect(entry).to_contain_text("Login")

    page.keyboard.press("Enter")
    entry.get_by_label("Details", exact=True).fill("From the phone app")
    entry.get_by_role("button", name="Save event").click()
    expect(page.get_by_role("status")).to_contain_text("Event saved.")
    expect(entry).to_contain_text("From the phone app")
    expect(edit).to_be_focused()


def test_a_manager_in_tokyo_types_and_reads_tokyo_times(browser, live_server):
    context = browser.new_context(base_url=live_server, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_up(page)
        page.goto("/account")
        expect(page.get_by_role("combobox", name="Time zone")).to_have_value("Asia/Tokyo")

        add_customer(page, "Ichiro", "i-9", "ichiro@example.com")
        page.get_by_text("Log an event").click()
        page.get_by_label("When (Asia/Tokyo time)").fill("2026-11-20T09:30")
        page.get_by_role("button", name="Log event").click()
        expect(page.locator("#timeline")).to_contain_text("20 Nov 2026, 09:30 JST")
        stamp = page.locator("#timeline time").first.get_attribute("datetime")
        assert stamp == "2026-11-20T00:30:00+00:00"

        # Moved to another zone, the same moment reads in the new one.
        page.goto("/account")
        page.get_by_role("combobox", name="Time zone").select_option("Europe/Paris")
        page.get_by_role("button", name="Save time zone").click()
        expect(page.get_by_role("status")).to_contain_text("Times now show in Europe/Paris time.")
        page.goto("/customers")
        page.get_by_role("link", name="Ichiro").click()
        expect(page.locator("#timeline")).to_contain_text("20 Nov 2026, 01:30 CET")
    finally:
        context.close()


def test_an_event_takes_more_details_than_the_form_first_shows(signed_up):
    page = signed_up
    add_customer(page, "Gina", "g-7", "gina@example.com")
    page.get_by_text("Log an event").click()
    page.get_by_label("Event type").select_option("purchase")
    for n, (key, value) in enumerate([("a", "1"), ("b", "2"), ("c", "3"), ("plan", "gold")], 1):
        if n > 3:  # the form starts with three pairs
            page.get_by_role("button", name="+ Add a detail").click()
            expect(page.get_by_label(f"Detail {n} key")).to_be_focused()
        page.get_by_label(f"Detail {n} key").fill(key)
        page.get_by_label(f"Detail {n} value").fill(value)
    page.get_by_role("button", name="Log event").click()
    expect(page.locator("#timeline")).to_contain_text("plan")
    expect(page.locator("#timeline")).to_contain_text("gold")
