"""Quick add from the dashboard, in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect


def test_quick_add_from_the_dashboard_updates_the_numbers(signed_up):
    page = signed_up
    assert page.evaluate("document.activeElement.tagName") == "BODY"  # the closed dialog waits
    page.get_by_role("button", name="Quick add customer").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    box, width = dialog.bounding_box(), page.viewport_size["width"]
    assert abs(box["x"] - (width - box["x"] - box["width"])) <= 2, "the dialog is centred"
    expect(dialog.get_by_label("Name")).to_be_focused()
    dialog.get_by_label("Name").fill("Hana Ito")
    dialog.get_by_label("E-mail").fill("not an email")
    dialog.get_by_label("External ID").fill("h-1")
    expect(dialog.get_by_label("Signup date")).not_to_have_value("")  # today, to start with
    dialog.get_by_label("Signup date").fill("2026-05-01")
    dialog.get_by_role("button", name="Add customer").click()
    expect(dialog.get_by_text("Enter a valid e-mail address")).to_be_visible()
    expect(dialog.get_by_label("E-mail")).to_be_focused()
    dialog.get_by_label("E-mail").fill("hana@example.com")
    dialog.get_by_role("button", name="Add customer").click()
    expect(dialog.get_by_text("Added. You can add another one.")).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()
    expect(page.locator("#total-customers")).to_have_text("1")
    expect(page.get_by_role("link", name="Hana Ito")).to_be_visible()
