"""Sign up, log out, log in, in a real browser with CSRF on."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, sign_up


def test_newcomer_signs_up_logs_out_and_logs_back_in(page):
    email = sign_up(page)
    expect(page.get_by_text("Let's find out who needs you")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Welcome to Loyalty Guardian")

    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_wrong_password_shows_an_error_in_place(page):
    email = sign_up(page)
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That e-mail and password do not match an account."
    )
    expect(page).to_have_url(re.compile(r"/login$"))


def test_signup_form_shows_field_errors(page):
    page.goto("/signup")
    page.get_by_label("Work e-mail").fill("someone@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("different")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Use at least 8 characters.")).to_be_visible()
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()  # the first to correct


def test_pages_load_without_console_errors_or_csp_violations(page):
    messages: list[str] = []
    page.on("console", lambda message: message.type == "error" and messages.append(message.text))
    sign_up(page)
    page.goto("/account")
    expect(page.get_by_role("heading", name="Account settings")).to_be_visible()
    assert messages == []


def test_deleting_the_account_asks_twice_and_then_removes_it(page):
    email = sign_up(page)
    page.goto("/customers/new")
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("E-mail").fill("ada@example.org")
    page.get_by_label("External ID").fill("ada")
    page.get_by_role("button", name="Add customer").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

    page.goto("/account")
    danger = page.get_by_role("region", name="Delete account")
    expect(danger).to_contain_text("1 customer with their events")
    dialogs: list[str] = []

    def answer(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    danger.get_by_label("Your password").fill("not the password")
    danger.get_by_role("button", name="Delete my account").click()
    expect(danger.get_by_text("That is not your password.")).to_be_visible()
    expect(danger.get_by_label("Your password")).to_have_attribute("aria-invalid", "true")

    danger.get_by_label("Your password").fill(PASSWORD)
    danger.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    expect(page.get_by_role("status")).to_contain_text(
        "Your account and all its data were deleted."
    )
    assert dialogs == ["Delete your account and all its data? This cannot be undone."] * 2

    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That e-mail and password do not match an account."
    )


def _logged_reset_link(caplog, timeout=5.0) -> str:
    """The reset link from the log. It is written once the answer has gone out (so the answer
    takes as long whether or not the account exists), so it may come just after the page."""
    deadline = time.monotonic() + timeout
    while not (links := re.findall(r"https?://[^/\s]+(/reset-password/\S+)", caplog.text)):
        assert time.monotonic() < deadline, "no reset link was logged"
        time.sleep(0.05)
    [link] = links
    return link


def test_a_forgotten_password_is_reset_through_its_link(page, caplog):
    email = sign_up(page)
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill(email)
    # No SMTP here: outside production the link goes to the log, as it would to the inbox.
    with caplog.at_level("WARNING", logger="loyalty.services.mail"):
        page.get_by_role("button", name="E-mail me a link").click()
        expect(page.get_by_text(f"If an account uses {email}, we have e-mailed")).to_be_visible()
        link = _logged_reset_link(caplog)

    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new secret")
    page.get_by_label("Repeat new password").fill("another secret")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("a brand new secret")
    page.get_by_label("Repeat new password").fill("a brand new secret")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your password was changed")

    page.goto(link)
    expect(page.get_by_text("This link has expired or was already used")).to_be_visible()


def test_idle_progress_messages_are_hidden_until_their_request_runs(signed_up):
    """A progress line shown by opacity alone was read out by screen readers at every visit
    ("Deleting the account and all its data…") and made a second status region."""
    page = signed_up
    page.goto("/account")
    expect(page.get_by_text("Deleting the account and all its data…")).to_be_hidden()
    expect(page.get_by_role("status")).to_have_count(1)  # the toasts
    page.goto("/customers/import")
    expect(page.get_by_text("Uploading and reading the file…")).to_be_hidden()
