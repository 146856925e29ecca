"""Real-browser tests: the app served on a local port, driven by Playwright in Chromium.

CSRF stays on, as in production. Each test signs up its own account, so tests never see
each other's data and need no clean-up (tenancy does that for us).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from loyalty import create_app
from tests.conftest import TEST_CONFIG
from tests.databases import scratch_database

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The machine has no network: keep Chromium from reaching for Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

expect.set_options(timeout=10_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(backend, tmp_path_factory) -> Iterator[str]:
    """The app on 127.0.0.1 with CSRF on, over its own scratch database; yields its URL."""
    os.environ["INSTANCE_PATH"] = str(tmp_path_factory.mktemp("e2e-instance"))
    with scratch_database(backend, tmp_path_factory.mktemp("e2e-db")) as url:
        # Every test signs up its own account from 127.0.0.1: more than the sign-ups an hour
        # one address may make. Rate limits are tested in tests/integration/test_auth.py.
        config = {
            **TEST_CONFIG,
            "DATABASE_URL": url,
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
        }
        del config["TESTING"]
        app = create_app(config)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=5)
            app.extensions["db"].engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole run (starting it is the slow part)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium) "
            "or set CHROMIUM to its path."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    """A fresh browser profile (no cookies) for each test."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


PASSWORD = "correct horse battery"


def sign_up(page: Page) -> str:
    """Create a new account through the sign-up form; returns its e-mail."""
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("Work e-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # The heading shows before the deferred scripts run: wait for them before clicking.
    page.wait_for_load_state()
    return email


@pytest.fixture
def signed_up(page) -> Page:
    """A page signed in to a brand-new account."""
    sign_up(page)
    return page
