"""Importing a file in a real browser: change the mapping, see the report, import cleanly."""

from __future__ import annotations

import re

from playwright.sync_api import expect

CRM_EXPORT = (
    "Record ID,Contact,Work e-mail (primary),Create Date\n"
    "h-1,Ivy League,ivy@example.com,2026-02-01\n"
    "h-2,Jay Gatsby,not-an-email,2026-02-02\n"
)


def upload_and_check(page, path) -> None:
    """Upload a file and wait until the review page's scripts are ready for mapping changes."""
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_url(re.compile(r"/customers/import/[0-9a-f-]+$"))
    page.wait_for_load_state()


def test_import_with_mapping_change_error_report_then_clean_import(signed_up, tmp_path):
    page = signed_up
    path = tmp_path / "crm.csv"
    path.write_text(CRM_EXPORT)
    page.goto("/customers")
    page.get_by_role("link", name="Import").first.click()
    upload_and_check(page, path)

    expect(page.get_by_role("heading", name=re.compile("Check the import"))).to_be_visible()
    expect(page.get_by_text("Choose the column that holds the name.")).to_be_visible()
    expect(page.get_by_text("Choose the column that holds the e-mail.")).to_be_visible()
    page.get_by_label(re.compile(r"^Name")).select_option("Contact")
    expect(page.get_by_text("Choose the column that holds the name.")).to_have_count(0)
    page.get_by_label(re.compile(r"^E-mail")).select_option("Work e-mail (primary)")

    expect(page.locator("#report-summary")).to_have_text("1 of 2 rows are valid; 1 has problems.")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("3")
    expect(errors.first).to_contain_text("'not-an-email' is not an e-mail address.")

    page.get_by_role("button", name="Try to import everything").click()
    expect(page.get_by_text("Nothing was imported")).to_be_visible()

    fixed = tmp_path / "crm-fixed.csv"
    fixed.write_text(CRM_EXPORT.replace("not-an-email", "jay@example.com"))
    page.goto("/customers/import")
    upload_and_check(page, fixed)
    page.get_by_label(re.compile(r"^Name")).select_option("Contact")
    expect(page.get_by_text("Choose the column that holds the name.")).to_have_count(0)
    page.get_by_label(re.compile(r"^E-mail")).select_option("Work e-mail (primary)")
    expect(page.locator("#report-summary")).to_have_text("All 2 rows are ready to import.")
    page.get_by_role("button", name="Import 2 customers").click()

    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.get_by_role("status")).to_contain_text("Import finished: 2 added")
    expect(page.get_by_role("link", name="Ivy League")).to_be_visible()
    expect(page.get_by_role("link", name="Jay Gatsby")).to_be_visible()
