"""Segments in a real browser: tags with suggestions, criteria with a live preview, bulk adds."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_up
from tests.e2e.test_customers_table import add_customer, table_names


def tag(page: Page, name: str, text: str) -> None:
    page.goto("/customers")
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_label("Add a tag").fill(text)
    page.get_by_role("button", name="Add", exact=True).click()
    for one in text.split(","):
        expect(page.get_by_role("button", name=f"Remove tag {one.strip()}")).to_be_visible()


def create_segment(page: Page, name: str) -> None:
    page.goto("/segments")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_automatic_segment_built_with_a_live_preview(signed_up):
    page = signed_up
    for name, ext in [("Ada", "a-1"), ("Ben", "b-2"), ("Cy", "c-3")]:
        add_customer(page, name, ext, f"{name.lower()}@example.com")
    tag(page, "Ada", "vip")
    page.goto("/customers")
    page.get_by_role("link", name="Ben", exact=True).click()
    # The account's existing tags are offered as suggestions.
    expect(page.locator("#account-tag-suggestions option[value=vip]")).to_have_count(1)
    page.get_by_label("Add a tag").fill("vip")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("button", name="Remove tag vip")).to_be_visible()

    create_segment(page, "VIPs")
    page.get_by_text("Define by criteria").click()
    page.get_by_role("button", name="+ Add a rule").click()
    page.get_by_label("Rule 1: what it looks at").select_option("tags")
    expect(page.get_by_label("Rule 1: comparison")).to_have_value("any")
    page.get_by_label("Rule 1: value").fill("vip")
    expect(page.locator("#criteria-count")).to_have_text("2")
    preview = page.get_by_role("list", name="First matches")
    expect(preview.get_by_role("link")).to_have_count(2)
    expect(preview.get_by_role("link", name="Ada")).to_be_visible()
    expect(preview.get_by_role("link", name="Ben")).to_be_visible()
    page.get_by_role("button", name="Save: keep members in sync").click()
    expect(page.get_by_role("status")).to_contain_text("VIPs now follows its criteria.")
    expect(page.get_by_text("Follows: Has any of the tags vip.")).to_be_visible()
    expect(table_names(page)).to_have_count(2)

    # Taking the tag off Ben takes him out of the segment by itself.
    page.get_by_role("link", name="Ben", exact=True).click()
    page.get_by_role("button", name="Remove tag vip").click()
    expect(page.get_by_text("No tags yet.")).to_be_visible()
    page.goto("/segments")
    page.get_by_role("link", name="VIPs").click()
    expect(table_names(page)).to_have_text(["Ada"])


def test_bulk_add_from_the_table_and_remove_a_member(signed_up):
    page = signed_up
    for name, ext in [("Dee", "d-1"), ("Ezra", "e-2"), ("Fay", "f-3")]:
        add_customer(page, name, ext, f"{name.lower()}@example.com")
    create_segment(page, "Call list")
    page.goto("/customers")
    page.get_by_label("Select Dee").check()
    page.get_by_label("Select Fay").check()
    page.get_by_label("Segment to add the selected customers to").select_option(label="Call list")
    page.get_by_role("button", name="Add selected to segment").click()
    expect(page.get_by_role("status")).to_contain_text("Added 2 customers to Call list.")

    page.goto("/segments")
    page.get_by_role("link", name="Call list").click()
    expect(table_names(page)).to_have_count(2)
    page.get_by_role("button", name="Remove Dee from Call list").click()
    expect(page.get_by_role("status")).to_contain_text("Removed 1 customer from Call list.")
    expect(table_names(page)).to_have_text(["Fay"])
    page.reload()
    expect(table_names(page)).to_have_text(["Fay"])

    # An inline edit of a member's row keeps it a member row: Remove, not Delete.
    page.get_by_role("button", name="Edit Fay").click()
    members = page.locator("#customer-table tbody")
    members.get_by_role("textbox", name="Name").fill("Fay Li")
    members.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Fay Li was saved.")
    expect(page.get_by_role("button", name="Remove Fay Li from Call list")).to_be_visible()
    expect(page.get_by_role("button", name="Delete Fay Li")).to_have_count(0)


def test_typing_criteria_on_a_slow_connection_loses_nothing(signed_up):
    """The criteria form re-renders itself as you type; an answer that arrives while you
    type on must not put back the text its request carried."""
    page = signed_up
    create_segment(page, "Slow typing")
    page.get_by_text("Define by criteria").click()
    page.get_by_role("button", name="+ Add a rule").click()
    page.get_by_label("Rule 1: what it looks at").select_option("tags")
    expect(page.get_by_label("Rule 1: comparison")).to_have_value("any")

    def slowly(route):
        time.sleep(0.3)  # the answer takes 300 ms, as over a slow network
        route.continue_()

    page.route("**/criteria/preview", slowly)
    page.get_by_label("Rule 1: value").click()
    for chunk in ["vip", ", tri", "al, ent", "erprise"]:
        page.keyboard.type(chunk, delay=40)
        page.wait_for_timeout(430)  # a pause: the form asks for a preview
    expect(page.get_by_label("Rule 1: value")).to_have_value("vip, trial, enterprise")
    expect(page.get_by_label("Rule 1: value")).to_be_focused()


def test_remove_selected_with_nothing_selected_says_so(signed_up):
    page = signed_up
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    add_customer(page, "Gil", "g-1", "gil@example.com")
    create_segment(page, "Empty handed")
    page.goto("/customers")
    page.get_by_label("Select Gil").check()
    page.get_by_role("button", name="Add selected to segment").click()
    expect(page.get_by_role("status")).to_contain_text("Added 1 customer to Empty handed.")

    page.goto("/segments")
    page.get_by_role("link", name="Empty handed").click()
    page.get_by_role("button", name="Remove selected from this segment").click()
    expect(page.get_by_role("status")).to_contain_text("Select at least one customer first.")
    expect(table_names(page)).to_have_text(["Gil"])
    assert errors == []


def test_forms_work_without_javascript(browser, live_server):
    """With scripts off, a form posts normally and its errors come back on the whole page
    (the segment's and the survey's forms answered 500)."""
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_up(page)
        create_segment(page, "Champions")
        page.get_by_label("Name", exact=True).fill("")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Give the segment a name.")).to_be_visible()
        expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()

        page.get_by_label("Name", exact=True).fill("Best customers")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name="Best customers")).to_be_visible()

        page.goto("/surveys")
        page.get_by_label("Title").fill("Quarterly NPS")
        page.get_by_role("button", name="Create survey").click()
        expect(page.get_by_role("heading", name="Quarterly NPS")).to_be_visible()
        page.get_by_label("Title").fill(" ")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Give the survey a title.")).to_be_visible()
        expect(page.get_by_role("heading", name="Results")).to_be_visible()
    finally:
        context.close()
