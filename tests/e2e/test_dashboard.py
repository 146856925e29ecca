"""Quick add from the dashboard, in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect


def test_quick_add_from_the_dashboard_updates_the_numbers(signed_up):
    page = signed_up
    page.get_by_role("button", name="Quick add customer").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Hana Ito")
    dialog.get_by_label("E-mail").fill("not an email")
    dialog.get_by_label("External ID").fill("h-1")
    dialog.get_by_label("Signup date").fill("2026-05-01")
    dialog.get_by_role("button", name="Add customer").click()
    expect(dialog.get_by_text("Enter a valid e-mail address")).to_be_visible()
    dialog.get_by_label("E-mail").fill("hana@example.com")
    dialog.get_by_role("button", name="Add customer").click()
    expect(dialog.get_by_text("Added. You can add another one.")).to_be_visible()
    expect(page.locator("#total-customers")).to_have_text("1")
    expect(page.get_by_role("link", name="Hana Ito")).to_be_visible()
