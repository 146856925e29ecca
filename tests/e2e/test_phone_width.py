"""Every page fits a small phone's screen: nothing makes the whole page scroll sideways,
and no text is squeezed into a column a few letters wide.

Wide content (the customer table, code snippets) may scroll inside its own box; the page
itself must not. One long snippet or row used to widen a whole page's layout grid.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import sign_up
from tests.e2e.test_customers_table import add_customer
from tests.e2e.test_import import CRM_EXPORT, upload_and_check
from tests.e2e.test_segments import create_segment

PHONE = {"width": 320, "height": 720}
# What people type has no spaces sometimes: a long name, an address, a link in a comment.
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff" * 5
LONG_EMAIL = "a" * 60 + "@" + "subdomain-" * 8 + "example.com"
LONG_LINK = "https://example.com/" + "a-very-long-path-segment/" * 8
LONG_SEGMENT = "Customersfromthespringcampaign" * 3


def sideways_scroll(page: Page) -> int:
    """How many pixels the page is wider than the screen (0 when it fits)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


# Texts squeezed into a column a few letters wide (a badge's "100" one digit per line).
SQUEEZED_TEXTS = """() => {
  const squeezed = [];
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (texts.nextNode()) {
    const node = texts.currentNode;
    if (node.textContent.trim().length < 3 || !node.parentElement.offsetParent) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const boxes = [...range.getClientRects()].filter((box) => box.width > 0);
    const lines = new Set(boxes.map((box) => Math.round(box.top))).size;
    if (lines >= 3 && Math.max(...boxes.map((box) => box.width)) < 40) {
      squeezed.push(node.textContent.trim().slice(0, 30));
    }
  }
  return squeezed;
}"""


def assert_row_fits(row: Locator) -> None:
    """A customer row shows its risk and its buttons without scrolling sideways."""
    width = row.page.viewport_size["width"]
    risk = row.get_by_title(re.compile("churn risk")).bounding_box()
    delete = row.get_by_role("button", name=re.compile("^Delete")).bounding_box()
    assert risk["x"] + risk["width"] <= width, "the risk is on the screen"
    assert delete["x"] + delete["width"] <= width, "the row's buttons are on the screen"
    # Still a table to a screen reader: a row of cells under column headers.
    expect(row.get_by_role("cell")).not_to_have_count(0)
    expect(row.page.get_by_role("columnheader", name="Churn risk")).to_be_visible()


def test_every_page_fits_a_phone_screen(browser, live_server, tmp_path):
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    too_wide: dict[str, int] = {}
    squeezed: dict[str, list[str]] = {}

    def check(name: str) -> None:
        page.wait_for_load_state()
        if extra := sideways_scroll(page):
            too_wide[name] = extra
        if texts := page.evaluate(SQUEEZED_TEXTS):
            squeezed[name] = texts

    try:
        sign_up(page)
        for menu in ("Account menu", "Navigation menu"):  # one line each, not "Account" over "▾"
            assert page.get_by_label(menu).bounding_box()["height"] < 40, menu
        for path in ("/customers", "/segments", "/surveys", "/surveys/outbox", "/"):
            page.goto(path)
            check(f"{path}, empty")
        page.get_by_role("button", name="Load demo data").click()
        expect(page.locator("#total-customers")).to_have_text("300")
        check("dashboard")

        create_segment(page, LONG_SEGMENT)
        check("segment page, long name")
        add_customer(page, LONG_NAME, "X" * 120, LONG_EMAIL)
        page.get_by_text("Log an event").click()
        page.get_by_label("Details", exact=True).fill(f"Sent us {LONG_LINK}")
        page.get_by_role("button", name="Log event").click()
        expect(page.locator("#timeline")).to_contain_text(LONG_LINK)
        check("customer page, long name")
        page.goto("/customers?q=wolfe")
        check("customer table, long name")

        page.goto("/customers")
        check("customer table")
        assert_row_fits(page.locator("#customer-table tbody tr").first)
        rows = page.locator("#customer-table tbody")
        rows.get_by_role("button", name="Edit").first.click()
        expect(rows.get_by_role("button", name="Save")).to_be_visible()
        check("customer table, a row being edited")
        save = rows.get_by_role("button", name="Save").bounding_box()
        assert save["x"] + save["width"] <= PHONE["width"], "Save is on the screen"
        name = rows.get_by_label("Name").bounding_box()
        assert name["width"] > PHONE["width"] * 0.75, "the fields use the row's width"
        page.goto("/customers")
        page.locator("#customer-table tbody tr a").first.click()
        expect(page.locator("#churn-risk")).to_be_visible()
        check("customer page")
        page.get_by_role("link", name="Edit", exact=True).click()
        check("customer edit page")

        for path in ("/customers/new", "/customers/import", "/segments", "/account", "/api/docs"):
            page.goto(path)
            check(path)

        export = tmp_path / "crm.csv"
        export.write_text(CRM_EXPORT)
        page.goto("/customers/import")
        upload_and_check(page, export)
        check("import review")

        page.goto("/segments")
        page.locator("main ul a").first.click()
        expect(page.locator("#customer-table")).to_be_visible()
        check("segment page")

        page.goto("/surveys")
        check("/surveys")
        page.locator("main ul a").first.click()
        check("survey page")
        survey_url = page.url
        page.get_by_label("To everyone in a segment").select_option(label="Trials")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Sent")
        page.goto("/surveys/outbox")
        check("outbox")

        link = page.locator("#outbox a[target=_blank]").first.get_attribute("href")
        page.goto(link)
        expect(page.get_by_role("button", name="Send my answer")).to_be_visible()
        check("public survey form")
        page.locator("label:has(input[name=score])").last.click()
        page.locator("textarea").fill(f"See {LONG_LINK}")
        page.get_by_role("button", name="Send my answer").click()
        expect(page.get_by_role("heading", name="Thank you for your answer!")).to_be_visible()
        page.goto(survey_url)
        expect(page.get_by_text(LONG_LINK)).to_be_visible()
        check("survey page, a comment with a long link")
    finally:
        context.close()
    assert too_wide == {}, f"pages wider than a {PHONE['width']} px screen: {too_wide}"
    assert squeezed == {}, f"texts squeezed a few letters wide: {squeezed}"


def test_on_a_phone_filters_and_bulk_actions_fold_away(browser, live_server):
    """Seven filters and five bulk-action controls filled a phone's first screen: the table
    started below it."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_up(page)
        page.goto("/")
        page.get_by_role("button", name="Load demo data").click()
        expect(page.locator("#total-customers")).to_have_text("300")

        page.goto("/customers")
        expect(page.get_by_label("Search")).to_be_visible()
        expect(page.get_by_label("Churn risk")).to_be_hidden()
        expect(page.get_by_role("button", name="Delete selected")).to_be_hidden()
        expect(page.locator("#customer-table tbody tr").first).to_be_in_viewport()
        assert_row_fits(page.locator("#customer-table tbody tr").first)
        table_box = page.locator("#customer-table .overflow-x-auto")
        assert table_box.evaluate("box => box.scrollWidth - box.clientWidth") == 0

        page.locator("#customer-table tbody input[name=ids]").first.check()
        page.get_by_text("Actions for selected").click()
        page.get_by_role("button", name="Add selected to segment").click()
        # (The demo may already hold that customer in the first segment: it then says so.)
        expect(page.get_by_role("status")).to_contain_text(
            re.compile(r"Added \d+ customers? to|That customer was already in")
        )

        # The columns a phone hides can still sort the table.
        expect(page.get_by_role("columnheader", name="Signed up")).to_be_hidden()
        page.get_by_label("Sort by").select_option(label="Signed up: oldest first")
        expect(page).to_have_url(re.compile(r"sort=signup&dir=asc"))
        expect(page.get_by_label("Sort by")).to_have_value("signup-asc")
        signups = page.locator("#customer-table tbody tr td:nth-child(5) time").evaluate_all(
            "times => times.map(time => time.getAttribute('datetime'))"
        )
        assert len(signups) == 50 and signups == sorted(signups) and signups[0] < signups[-1]

        page.get_by_text("More filters").click()
        page.get_by_label("Churn risk").select_option("high")
        expect(page).to_have_url(re.compile(r"band=high"))
        expect(page.locator("#match-count")).to_contain_text("match")

        # A link with such a filter in use shows it.
        page.reload()
        expect(page.get_by_label("Churn risk")).to_be_visible()
        expect(page.get_by_label("Churn risk")).to_have_value("high")

        # A wider screen has room for them all, and no fold.
        page.set_viewport_size({"width": 1024, "height": 768})
        page.goto("/customers")
        expect(page.get_by_label("Churn risk")).to_be_visible()
        expect(page.get_by_text("More filters")).to_be_hidden()
        expect(page.get_by_role("button", name="Delete selected")).to_be_visible()
        expect(page.get_by_text("Actions for selected")).to_be_hidden()
    finally:
        context.close()
