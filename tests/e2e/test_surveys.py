"""Surveys in a real browser: send a personal link, answer it inside another site's iframe."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import Page, expect

from tests.e2e.test_customers_table import add_customer


@contextmanager
def partner_site(browser, html: str) -> Iterator[Page]:
    """A page of another site that embeds `html`, opened on a phone-sized screen.

    It is a real local server (127.0.0.2 is another site than the app's 127.0.0.1):
    Chromium refuses to let a page it did not load from the local network frame a local one.
    """
    body = f"<!doctype html><title>Partner</title>{html}".encode()

    class Partner(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.2", 0), Partner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"http://127.0.0.2:{server.server_port}/")
        yield page
    finally:
        context.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_answer_a_personal_link_inside_another_sites_iframe(signed_up, browser, live_server):
    page = signed_up
    add_customer(page, "Nora Quinn", "n-1", "nora@example.com")
    customer_url = page.url

    page.goto("/surveys")
    page.get_by_label("Title").fill("Quarterly check-in")
    page.get_by_label("Kind").select_option("nps")
    page.get_by_role("button", name="Create survey").click()
    expect(page.get_by_role("heading", name="Quarterly check-in")).to_be_visible()
    survey_url = page.url
    snippet = page.locator("pre code").first.inner_text()  # the page's embed snippet

    page.goto(customer_url)
    page.get_by_label("Survey to send").select_option(label="Quarterly check-in")
    page.get_by_role("button", name="Send survey").click()
    expect(page.get_by_role("status")).to_contain_text("Sent 1 invitation")
    link = page.get_by_role("button", name="Copy the Quarterly check-in link").get_attribute(
        "data-copy"
    )
    assert link.startswith(live_server + "/s/")

    page.goto("/surveys/outbox")
    expect(page.get_by_text("nora@example.com")).to_be_visible()
    expect(page.get_by_role("link", name=link)).to_be_visible()

    # The snippet as the survey page gives it, on a phone: the whole form fits its height,
    # with the error of an answer sent without a score too.
    frame = "<h1>Partner</h1>" + snippet.replace(f"{live_server}/s/TOKEN", link).replace(
        "<iframe ", '<iframe id="survey" '
    )
    height = int(re.search(r'height="(\d+)"', snippet).group(1))
    with partner_site(browser, frame) as partner:
        survey = partner.frame_locator("#survey")
        survey.get_by_role("button", name="Send my answer").click()
        expect(survey.get_by_text("Choose a score from 0 to 10.")).to_be_visible()
        assert survey.locator("html").evaluate("html => html.scrollHeight") <= height
        survey.get_by_text("9", exact=True).click()
        survey.get_by_label("What is the main reason for your score?").fill("Nora's team loves it")
        survey.get_by_role("button", name="Send my answer").click()
        expect(survey.get_by_role("heading", name="Thank you for your answer!")).to_be_visible()
        partner.reload()
        expect(survey.get_by_text("You have already answered")).to_be_visible()

    page.goto(survey_url)
    expect(page.locator("#nps-score")).to_have_text("100")
    expect(page.locator("#response-rate")).to_have_text("100%")
    expect(page.get_by_text("Nora's team loves it")).to_be_visible()
    page.goto(customer_url)
    expect(page.get_by_text("Quarterly check-in: 9")).to_be_visible()
    expect(page.get_by_role("list", name="Survey links").get_by_text("answered")).to_be_visible()


def test_admin_pages_refuse_to_be_framed(browser, live_server):
    frames = (
        f'<iframe id="admin" src="{live_server}/login"></iframe>'
        f'<iframe id="survey" src="{live_server}/s/unknown-token"></iframe>'
    )
    with partner_site(browser, frames) as partner:
        partner.wait_for_load_state("load")
        # The public route renders inside the frame (its friendly 404), the log-in page not.
        expect(partner.frame_locator("#survey").get_by_role("heading")).to_have_text(
            re.compile("This survey link does not work")
        )
        admin = partner.frame_locator("#admin")
        expect(admin.get_by_role("button", name="Log in")).to_have_count(0)
