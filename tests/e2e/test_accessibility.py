"""Every page passes axe-core's automated accessibility rules (WCAG 2 A and AA, and axe's
best practices), empty and full, on a laptop and on a phone, with menus and forms open.

axe-core comes from the npm registry with the other front-end tools (package-lock.json);
the browser context bypasses the app's Content-Security-Policy only to inject it.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_up
from tests.e2e.test_customers_table import add_customer
from tests.e2e.test_import import CRM_EXPORT, upload_and_check

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def violations(page: Page) -> list[str]:
    """axe's findings on the page as it is now, one line per rule and element."""
    page.wait_for_load_state()
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .flatMap(v => v.nodes.map(n => `${v.id} (${v.impact}): ${n.target.join(" ")}`))"""
    )
    return found


def test_every_page_passes_axe_on_a_laptop_and_a_phone(browser, live_server, tmp_path):
    found: dict[str, list[str]] = {}
    for size, viewport in SIZES.items():
        context = browser.new_context(base_url=live_server, viewport=viewport, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(10_000)

        def check(name: str, page: Page = page, size: str = size) -> None:
            if problems := violations(page):
                found[f"{size}: {name}"] = problems

        try:
            for path in ("/login", "/signup", "/no-such-page", "/reset-password/not-a-link"):
                page.goto(path)
                check(path)
            page.goto("/forgot-password")
            page.get_by_label("E-mail").fill("someone@example.com")
            page.get_by_role("button", name="E-mail me a link").click()
            expect(page.get_by_text("If an account uses someone@example.com")).to_be_visible()
            check("/forgot-password, sent")
            page.goto("/signup")
            page.get_by_role("button", name="Create account").click()
            expect(page.get_by_text("Enter your e-mail address.")).to_be_visible()
            check("/signup, with errors")
            sign_up(page)
            for path in ("/", "/customers", "/segments", "/surveys", "/surveys/outbox"):
                page.goto(path)
                check(f"{path}, empty")
            page.goto("/account")
            page.get_by_label(re.compile("^Account menu")).click()
            check("/account, menu open")

            page.goto("/")
            page.get_by_role("button", name="Load demo data").click()
            expect(page.locator("#total-customers")).to_have_text("300")
            check("/, demo data")
            page.get_by_role("button", name="Quick add customer").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="Add customer").click()
            expect(dialog.get_by_text("Enter the customer's e-mail address.")).to_be_visible()
            check("/, quick add sent back with errors")
            page.keyboard.press("Escape")
            if size == "phone":
                page.get_by_label("Navigation menu").click()
                check("/, navigation menu open")

            page.goto("/customers")
            check("/customers")
            page.locator("#customer-table tbody").get_by_role("button", name="Edit").first.click()
            row = page.locator("#customer-table tbody tr").first
            row.get_by_label("E-mail").fill("not an email")
            row.get_by_role("button", name="Save").click()
            expect(row.get_by_text("Enter a valid e-mail address")).to_be_visible()
            check("/customers, a row edited with an error")
            page.locator("#customer-table tbody a").first.click()
            page.get_by_text("Log an event").click()
            check("a customer, event form open")

            page.goto("/segments")
            page.locator("main a[href^='/segments/']").first.click()
            page.get_by_text("Define by criteria").click()
            check("a segment, criteria open")

            page.goto("/surveys")
            page.locator("main a[href^='/surveys/']").first.click()
            check("a survey")

            add_customer(page, "Ada Axe", f"axe-{size}", f"ada-{size}@example.com")
            page.get_by_label("Survey to send").select_option(index=0)
            page.get_by_role("button", name="Send survey").click()
            expect(page.get_by_role("status")).to_contain_text("Sent 1 invitation")
            link = page.get_by_role("button", name=re.compile("^Copy the .* link$")).first
            page.goto(link.get_attribute("data-copy"))
            check("the public survey form")
            page.goto("/surveys/outbox")
            check("/surveys/outbox")

            path = tmp_path / f"crm-{size}.csv"
            path.write_text(CRM_EXPORT)
            page.goto("/customers/import")
            check("/customers/import")
            upload_and_check(page, path)
            check("an import's review")

            page.goto("/api/docs")
            check("/api/docs")
        finally:
            context.close()
    assert not found, "\n".join(
        f"{page}: {problem}" for page, all in found.items() for problem in all
    )
