"""The customer table in a real browser: sort, filter, history, inline edit, delete."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, sign_up


def add_customer(page: Page, name: str, external_id: str, email: str, signup: str = "2026-01-15"):
    page.goto("/customers/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("External ID").fill(external_id)
    page.get_by_label("Signup date").fill(signup)
    page.get_by_role("button", name="Add customer").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def table_names(page: Page):
    return page.locator("#customer-table tbody tr td:nth-child(2) > a")


def test_sort_filter_reload_and_back_button(signed_up):
    page = signed_up
    for name, ext in [("Charlie", "c-3"), ("Alice", "a-1"), ("Bob", "b-2")]:
        add_customer(page, name, ext, f"{name.lower()}@example.com")
    page.goto("/customers")
    expect(table_names(page)).to_have_count(3)

    page.get_by_role("link", name="Name", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=name&dir=asc"))
    expect(table_names(page)).to_have_text(["Alice", "Bob", "Charlie"])
    page.get_by_role("link", name="Name", exact=True).click()
    expect(table_names(page)).to_have_text(["Charlie", "Bob", "Alice"])

    page.get_by_label("Search").fill("ali")
    expect(page).to_have_url(re.compile(r"q=ali"))
    expect(table_names(page)).to_have_text(["Alice"])
    expect(page.locator("#match-count")).to_have_text("1 customer matches")
    # The address bar holds the view (descending is the default), not every empty field of
    # the filter form.
    expect(page).to_have_url(re.compile(r"/customers\?q=ali&sort=name$"))

    page.reload()
    expect(page.get_by_label("Search")).to_have_value("ali")
    expect(table_names(page)).to_have_text(["Alice"])

    page.go_back()
    expect(page).to_have_url(re.compile(r"/customers\?sort=name$"))
    expect(table_names(page)).to_have_text(["Charlie", "Bob", "Alice"])
    expect(page.get_by_label("Search")).to_have_value("")


def test_inline_edit_shows_an_error_then_saves(signed_up):
    page = signed_up
    add_customer(page, "Dana", "d-4", "dana@example.com")
    page.goto("/customers")
    page.get_by_role("button", name="Edit Dana").click()
    row = page.locator("#customer-table tbody tr").first
    row.get_by_label("E-mail").fill("not an email")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_text("Enter a valid e-mail address")).to_be_visible()
    row.get_by_label("E-mail").fill("dana@acme.io")
    row.get_by_label("Name").fill("Dana Scully")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Dana Scully")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Dana Scully was saved.")
    page.reload()
    expect(page.get_by_text("dana@acme.io")).to_be_visible()


def test_inline_edit_by_keyboard_alone(signed_up):
    page = signed_up
    add_customer(page, "Gil", "g-7", "gil@example.com")
    page.goto("/customers")
    row = page.locator("#customer-table tbody tr").first
    edit = page.get_by_role("button", name="Edit Gil")

    edit.focus()
    page.keyboard.press("Enter")
    expect(row.get_by_label("Name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="Gil", exact=True)).to_be_visible()
    expect(edit).to_be_focused()

    page.keyboard.press("Enter")
    row.get_by_label("E-mail").fill("not an email")
    row.get_by_label("Name").fill("Gil Grissom")
    page.keyboard.press("Enter")
    expect(row.get_by_label("E-mail")).to_be_focused()  # the field with the error
    page.keyboard.press("Control+A")
    page.keyboard.type("gil@lvpd.example")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Gil Grissom was saved.")
    expect(page.get_by_role("button", name="Edit Gil Grissom")).to_be_focused()
    page.reload()
    expect(page.get_by_text("gil@lvpd.example")).to_be_visible()


def test_a_click_after_typing_a_search_is_not_undone_by_a_second_search(signed_up):
    """Leaving the search box used to send the search again (its change event), and that
    table replaced the row the click had just opened for editing."""
    page = signed_up
    for name, ext in [("Iris", "i-9"), ("Ivan", "i-10")]:
        add_customer(page, name, ext, f"{name.lower()}@example.com")
    page.goto("/customers")
    searches = []
    page.on("request", lambda r: "q=i" in r.url and searches.append(r.url))
    page.get_by_label("Search").click()
    page.keyboard.type("i")
    expect(page).to_have_url(re.compile(r"q=i"))
    expect(page.locator("#match-count")).to_contain_text("2 customers match")

    page.get_by_role("button", name="Edit Iris").click()
    rows = page.locator("#customer-table tbody")
    expect(rows.get_by_role("button", name="Save")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(rows.get_by_role("button", name="Save")).to_be_visible()
    assert len(searches) == 1


def test_a_table_on_its_way_shows_it_and_takes_no_clicks_until_it_comes(signed_up):
    """The rows on screen while a search is away are about to be replaced: an editor
    opened on one of them would vanish when the answer comes. The table says it is busy
    and holds clicks, by mouse or keyboard, until the new rows are there."""
    page = signed_up
    for name, ext in [("Iris", "i-21"), ("Ivan", "i-22"), ("Bob", "b-23")]:
        add_customer(page, name, ext, f"{name.lower()}@example.com")
    page.goto("/customers")
    table = page.locator("#customer-table")
    held = []
    page.route(re.compile(r"/customers\?.*q=i"), lambda route: held.append(route))

    page.get_by_label("Search").fill("i")
    # Busy from the keystroke, not only once the request leaves after a pause in the typing.
    assert table.get_attribute("aria-busy") == "true"
    expect(table).to_have_attribute("aria-busy", "true")
    edit_bob = page.get_by_role("button", name="Edit Bob")
    box = edit_bob.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    edit_bob.focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)  # time enough for an editor to be fetched, were it asked for
    expect(table.get_by_role("button", name="Save")).to_have_count(0)

    held[0].continue_()
    expect(page.locator("#match-count")).to_contain_text("2 customers match")
    expect(table).not_to_have_attribute("aria-busy", "true")
    # An input event that changes nothing sends no search: the table is soon released.
    page.get_by_label("Search").dispatch_event("input")
    expect(table).to_have_attribute("aria-busy", "true")
    expect(table).not_to_have_attribute("aria-busy", "true")
    page.get_by_role("button", name="Edit Iris").click()
    expect(table.get_by_role("button", name="Save")).to_be_visible()


def test_a_form_sent_back_with_errors_focuses_the_field_to_correct(signed_up):
    page = signed_up
    page.goto("/customers/new")
    page.get_by_label("Name").fill("Jo")
    page.get_by_label("E-mail").fill("not an email")
    page.get_by_label("External ID").fill("j-11")
    page.get_by_role("button", name="Add customer").click()
    expect(page.get_by_text("Enter a valid e-mail address")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_be_focused()


def test_delete_asks_for_confirmation(signed_up):
    page = signed_up
    add_customer(page, "Eve", "e-5", "eve@example.com")
    page.goto("/customers")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete Eve").click()
    expect(page.get_by_role("link", name="Eve")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Eve").click()
    expect(page.get_by_role("link", name="Eve")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("Eve was deleted.")


def test_a_row_deleted_in_another_tab_says_so_and_the_table_stays(signed_up):
    """A failed htmx request (here a 404) shows the server's reason as a toast instead of
    nothing, and leaves the page as it was."""
    page = signed_up
    add_customer(page, "Gone", "g-1", "gone@example.com")
    add_customer(page, "Stays", "s-1", "stays@example.com")
    page.goto("/customers")
    other = page.context.new_page()
    other.goto(page.url)
    other.once("dialog", lambda dialog: dialog.accept())
    other.get_by_role("button", name="Delete Gone").click()
    expect(other.get_by_role("status")).to_contain_text("Gone was deleted.")
    other.close()

    page.get_by_role("button", name="Edit Gone").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Not found. There is nothing here, or it belongs to another account."
    )
    expect(table_names(page)).to_have_count(2)  # nothing swapped away
    expect(page.get_by_role("link", name="Gone")).to_be_visible()
    page.get_by_role("button", name="Edit Stays").click()  # the page still works
    expect(page.get_by_label("Name", exact=True)).to_have_value("Stays")


def test_delete_selected_with_nothing_selected_asks_nothing_and_says_so(signed_up):
    page = signed_up
    add_customer(page, "Kept", "k-1", "kept@example.com")
    page.goto("/customers")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("status")).to_contain_text("Select at least one customer first.")
    assert asked == []  # no "Delete the selected customers?" about none
    page.locator("#customer-table tbody input[name=ids]").first.check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("link", name="Kept")).to_be_visible()  # dismissed: kept
    assert len(asked) == 1 and asked[0].startswith("Delete the selected customers?")


def test_clear_filters_empties_the_search_box_too(signed_up):
    page = signed_up
    add_customer(page, "Alice", "a-1", "alice@example.com")
    page.goto("/customers")
    page.get_by_label("Search").fill("zzzzqqq")
    expect(page.get_by_text("No customers match these filters")).to_be_visible()
    page.get_by_role("link", name="Clear filters").click()
    expect(table_names(page)).to_have_text(["Alice"])
    expect(page.get_by_label("Search")).to_have_value("")
    expect(page).not_to_have_url(re.compile(r"q="))


def risk_numbers(page: Page) -> list[int]:
    cells = page.locator("#customer-table tbody tr td:nth-child(7)").all_inner_texts()
    return [int(re.match(r"\d+", text.strip()).group()) for text in cells]


def test_sort_by_risk_both_ways_on_demo_data(signed_up):
    page = signed_up
    page.get_by_role("button", name="Load demo data").click()
    expect(page.locator("#total-customers")).to_have_text("300")
    page.get_by_role("link", name="Customers", exact=True).first.click()
    expect(page.locator("#customer-table tbody tr")).to_have_count(50)
    descending = risk_numbers(page)
    assert descending == sorted(descending, reverse=True)
    page.get_by_role("link", name="Churn risk", exact=True).click()
    expect(page.locator("#customer-table caption")).to_contain_text("ascending")
    ascending = risk_numbers(page)
    assert ascending == sorted(ascending)
    assert ascending[0] <= descending[-1]
    page.get_by_label("Churn risk", exact=True).select_option("high")
    expect(page).to_have_url(re.compile(r"band=high"))
    expect(page.locator("#match-count")).to_contain_text("match")
    assert all(n >= 70 for n in risk_numbers(page))


def test_two_browsers_editing_one_customer(page, browser, live_server):
    """The second save is refused with the values the first one stored; nothing is lost."""
    first = page
    email = sign_up(first)
    add_customer(first, "Erin", "e-5", "erin@example.com")
    edit_url = first.url + "/edit"
    context = browser.new_context(base_url=live_server)
    second = context.new_page()
    try:
        second.goto("/login")
        second.get_by_label("E-mail").fill(email)
        second.get_by_label("Password").fill(PASSWORD)
        second.get_by_role("button", name="Log in").click()
        expect(second.get_by_role("heading", name="Dashboard")).to_be_visible()

        first.goto(edit_url)
        second.goto(edit_url)
        first.get_by_label("Name").fill("Erin First")
        first.get_by_role("button", name="Save customer").click()
        expect(first.get_by_role("heading", name="Erin First")).to_be_visible()

        second.get_by_label("Name").fill("Erin Second")
        second.get_by_role("button", name="Save customer").click()
        expect(second.get_by_role("alert")).to_contain_text(
            "Someone else changed this customer while you were editing"
        )
        expect(second.get_by_label("Name")).to_have_value("Erin First")
        second.get_by_label("Name").fill("Erin Second")
        second.get_by_role("button", name="Save customer").click()
        expect(second.get_by_role("heading", name="Erin Second")).to_be_visible()
    finally:
        context.close()
