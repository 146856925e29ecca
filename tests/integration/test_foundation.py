"""The ground everything stands on: pages vs fragments, headers, errors, health, CSRF."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loyalty import create_app
from tests.integration.test_segments import make_segment
from tests.integration.test_surveys import make_survey


def test_same_url_answers_whole_page_or_fragment(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "<html" in page.text
    fragment = client.get("/login", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="auth-form"' in fragment.text
    for response in (page, fragment):
        assert "HX-Request" in response.headers["Vary"]
        assert "HX-History-Restore-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
        {"HX-Request": "true", "HX-Boosted": "true"},
    ],
)
def test_history_restores_and_boosted_requests_get_the_whole_page(client, headers):
    response = client.get("/login", headers=headers)
    assert "<html" in response.text


def test_htmx_form_errors_come_back_as_a_422_fragment(client):
    response = client.post("/signup", data={"email": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "<html" not in response.text
    assert "Enter your e-mail address." in response.text


@pytest.mark.parametrize(
    ("path", "data", "status", "says"),
    [
        ("/segments/{segment}/edit", {"name": " "}, 422, "Give the segment a name."),
        (
            "/segments/{segment}/criteria",
            {"rules-0-field": "churn_risk", "rules-0-op": "above", "rules-0-value": "250"},
            422,
            "A churn risk is a number from 0 to 100.",
        ),
        ("/segments/{segment}/criteria/preview", {"add": "1"}, 200, "Define by criteria"),
        ("/surveys/{survey}/edit", {"title": " ", "kind": "nps"}, 422, "Give the survey a title."),
        ("/quick-add", {"quick-name": "Pat"}, 422, "Enter the customer&#39;s ID"),
    ],
)
def test_forms_posted_without_htmx_come_back_as_whole_pages(
    app, signed_in, user, path, data, status, says
):
    """Without JavaScript (or before htmx loads) a form posts normally: its errors come back
    on the whole page. These answered 500: the page was drawn with only the form's data."""
    url = path.format(segment=make_segment(app, user), survey=make_survey(app, user))
    response = signed_in.post(url, data=data)
    assert response.status_code == status
    assert "<html" in response.text
    assert says in response.text


def test_quick_add_without_htmx_goes_to_the_dashboard(signed_in):
    response = signed_in.post(
        "/quick-add",
        data={
            "quick-external_customer_id": "cus_1",
            "quick-name": "Pat",
            "quick-email": "pat@example.com",
            "quick-signup_date": "2026-01-05",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "Pat was added." in signed_in.get("/").text


def test_htmx_success_redirects_with_hx_redirect(client, user):
    response = client.post(
        "/login",
        data={"email": "owner@example.com", "password": "correct horse battery"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_contain_no_inline_script(signed_in):
    for url in ("/", "/account"):
        html = signed_in.get(url).text
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html)
        assert " on" + "click=" not in html


def test_forms_carry_no_attribute_made_of_a_python_none(signed_in):
    # A form macro's unset autocomplete came out as autocomplete="None" on every field.
    for url in ("/account", "/customers/new", "/segments", "/surveys"):
        assert '="None"' not in signed_in.get(url).text, url


def test_signed_in_pages_are_not_cached(signed_in):
    assert signed_in.get("/").headers["Cache-Control"] == "private, no-store"


def test_unknown_page_is_a_friendly_404(signed_in):
    response = signed_in.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "<html" in response.text


def test_unknown_api_path_answers_problem_json(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404
    assert response.json["title"] == "Not found"


def test_htmx_error_becomes_a_toast_not_a_swapped_page(signed_in):
    response = signed_in.get("/no/such/page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert "<html" not in response.text
    assert 'hx-swap-oob="beforeend:#toasts"' in response.text


def test_healthz_says_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_the_served_app_keeps_its_start_up_objects_out_of_full_collections(tmp_path):
    """gunicorn and `flask run` load app.py: what it builds lives as long as the process, and
    a full garbage collection that rescanned it stalled a worker for about 100 ms."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SECRET_KEY": "test",
        "APP_ENV": "development",
    }
    frozen = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", "import gc, app; print(gc.get_freeze_count())"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(frozen) > 10_000


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["database"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=1",
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    app.extensions["db"].engine.dispose()


def test_pages_answer_503_when_the_database_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {
            "SECRET_KEY": "x",
            "WTF_CSRF_ENABLED": False,
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=1",
        }
    )
    response = app.test_client().post("/login", data={"email": "a@b.co", "password": "x"})
    assert response.status_code == 503
    assert "can&#39;t reach our database" in response.text
    assert response.headers["Retry-After"]
    app.extensions["db"].engine.dispose()


class TestCsrf:
    @pytest.fixture
    def app(self, make_app):
        return make_app(WTF_CSRF_ENABLED=True)

    def test_form_post_without_token_is_refused(self, client, user):
        response = client.post(
            "/login", data={"email": "owner@example.com", "password": "correct horse battery"}
        )
        assert response.status_code == 403
        assert "This form has expired" in response.text

    def test_form_post_with_token_works(self, client, user):
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post(
            "/login",
            data={
                "email": "owner@example.com",
                "password": "correct horse battery",
                "csrf_token": token,
            },
        )
        assert response.status_code == 303

    def test_each_account_form_carries_its_token_under_a_unique_id(self, client, user):
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        login = {"email": "owner@example.com", "password": "correct horse battery"}
        client.post("/login", data={**login, "csrf_token": token})
        page = client.get("/account").text
        ids = re.findall(r'\sid="([^"]+)"', page)
        assert len(ids) == len(set(ids))  # two forms once each had an <input id="csrf_token">
        zone_form = page.split('id="time-zone-form"')[1].split("</form>")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', zone_form).group(1)
        saved = client.post(
            "/account/time-zone", data={"time_zone": "Europe/Paris", "csrf_token": token}
        )
        assert saved.status_code == 303
        refused = client.post("/account/time-zone", data={"time_zone": "Europe/Rome"})
        assert refused.status_code == 403

    def test_htmx_request_sends_the_token_as_a_header(self, client, user):
        page = client.get("/login").text
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        response = client.post(
            "/login",
            data={"email": "owner@example.com", "password": "correct horse battery"},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert response.status_code == 204

    def test_logout_without_token_is_refused(self, client, user):
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post(
            "/login",
            data={
                "email": "owner@example.com",
                "password": "correct horse battery",
                "csrf_token": token,
            },
        )
        assert client.post("/logout").status_code == 403
        assert client.get("/").status_code == 200
