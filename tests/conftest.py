"""Fixtures shared by the integration and browser tests (tests/unit needs none of these)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loyalty import create_app
from loyalty.extensions import db, limiter
from tests import factories
from tests.databases import backends, scratch_database

# Cheap hashing keeps the suite fast; production keeps strong parameters (see config.py).
TEST_CONFIG = {
    "TESTING": True,
    "APP_ENV": "testing",
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 8,
    "ARGON2_PARALLELISM": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
}


def pytest_sessionstart(session):
    if os.environ.get("REQUIRE_POSTGRES") and "postgresql" not in backends():
        pytest.exit("REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not: refusing to skip it", 2)


@pytest.fixture(scope="session", params=backends())
def backend(request) -> str:
    """The database kind under test: every test that uses the database runs on each."""
    return request.param


@pytest.fixture(scope="session")
def database_url(backend, tmp_path_factory) -> Iterator[str]:
    """A migrated scratch database of the backend under test."""
    with scratch_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> Path:
    """An instance folder of the suite's own (never the developer's instance/)."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture
def make_app(database_url, instance_path, monkeypatch):
    """Build an app on the test database; each test's writes are rolled back at the end."""
    monkeypatch.setenv("INSTANCE_PATH", str(instance_path))
    apps: list[Flask] = []
    connection = None
    transaction = None

    def build(**overrides) -> Flask:
        nonlocal connection, transaction
        app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, **overrides})
        state = app.extensions["db"]
        if connection is None:
            connection = state.engine.connect()
            transaction = connection.begin()
        state.bind_override = connection
        apps.append(app)
        limiter.reset()
        return app

    yield build
    if transaction is not None:
        transaction.rollback()
        connection.close()
    for app in apps:
        app.extensions["db"].engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    """The app, with CSRF off (CSRF has tests of its own) and rate limits on."""
    return make_app()


@pytest.fixture
def client(app) -> FlaskClient:
    """A browser without a session."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Runs `flask` CLI commands against the test app."""
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session inside the test's transaction."""
    with app.app_context():
        yield db.session


class AuthActions:
    """Sign up, log in and out like a person would."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def signup(self, email: str = "owner@example.com", password: str = "correct horse battery"):
        return self._client.post(
            "/signup",
            data={"email": email, "password": password, "confirm": password},
        )

    def login(self, email: str = "owner@example.com", password: str = "correct horse battery"):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    """Sign-in actions on the test client."""
    return AuthActions(client)


@pytest.fixture
def user(app):
    """An account (owner@example.com) that exists but is not signed in."""
    with app.app_context():
        account = factories.make_user(db.session, "owner@example.com")
        db.session.commit()
        return account


@pytest.fixture
def signed_in(client, auth, user) -> FlaskClient:
    """A client signed in as `user`."""
    response = auth.login()
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def smtp_sent(monkeypatch) -> list[tuple]:
    """What the app sends over SMTP (connect, starttls, login, message), with no server."""
    sent: list[tuple] = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            sent.append(("starttls",))

        def login(self, username, password):
            sent.append(("login", username))

        def send_message(self, message):
            sent.append(("message", message["To"], message["Subject"], message.get_content()))

    monkeypatch.setattr("loyalty.services.mail.smtplib.SMTP", FakeSMTP)
    return sent
