"""The database going away: a clear 503 while it is gone, and recovery without a restart."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, make_url, text

from loyalty import create_app
from tests.databases import scratch_database

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=1"


def test_api_answers_a_503_problem_when_the_database_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": UNREACHABLE})
    response = app.test_client().get(
        "/api/customers", headers={"Authorization": "Bearer lg_anything"}
    )
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"]
    assert "Traceback" not in response.text
    app.extensions["db"].engine.dispose()


# Terminating server connections is a PostgreSQL matter; CI always sets TEST_DATABASE_URL.
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_the_app_recovers_when_its_connections_are_killed(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with scratch_database("postgresql", tmp_path) as database_url:
        _recovers(database_url)


def _recovers(database_url: str) -> None:
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": database_url})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200  # a pooled connection now exists

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": url.database},
        ).scalar()
    admin.dispose()
    assert killed >= 1

    # The pool checks connections before use (pre-ping): the next request just works.
    recovered = client.get("/readyz")
    assert recovered.status_code == 200
    assert recovered.json["database"] == "ok"
    assert client.get("/login").status_code == 200
    app.extensions["db"].engine.dispose()
