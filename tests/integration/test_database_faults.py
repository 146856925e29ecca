"""The database going away: a clear 503 while it is gone, and recovery without a restart."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, event, make_url, text

from loyalty import create_app
from loyalty.extensions import db
from loyalty.services import accounts, tokens
from tests import factories
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


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_a_connection_killed_in_the_middle_of_a_request(tmp_path, monkeypatch):
    """The page says the database is unreachable (503); the next request just works."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with scratch_database("postgresql", tmp_path) as database_url:
        app = create_app(
            {"SECRET_KEY": "x", "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False}
        )
        with app.app_context():
            accounts.create_account(db.session, "owner@example.com", "correct horse battery")
            db.session.commit()
        client = app.test_client()
        client.post(
            "/login", data={"email": "owner@example.com", "password": "correct horse battery"}
        )
        admin = create_engine(
            make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        armed = [True]

        def kill_after_sign_in_check(connection, _cursor, statement, *_args) -> None:
            # The request has found its session; its connection dies before the page's query.
            if armed[0] and "FROM user_sessions" in statement:
                armed[0] = False
                pid = connection.connection.driver_connection.info.backend_pid
                with admin.connect() as other:
                    other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        engine = app.extensions["db"].engine
        event.listen(engine, "after_cursor_execute", kill_after_sign_in_check)
        try:
            broken = client.get("/customers")
        finally:
            event.remove(engine, "after_cursor_execute", kill_after_sign_in_check)
        assert not armed[0]
        assert broken.status_code == 503
        assert "can&#39;t reach our database" in broken.text
        assert "Traceback" not in broken.text
        assert broken.headers["Retry-After"]
        again = client.get("/customers")
        assert again.status_code == 200
        assert "No customers yet" in again.text
        admin.dispose()
        engine.dispose()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_a_bulk_copy_that_cannot_get_its_lock_answers_503_and_writes_nothing(tmp_path, monkeypatch):
    """Events go in with COPY; when it fails like any statement can (here a lock timeout),
    the client is told to retry, as for any other statement, and nothing is half-written."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with scratch_database("postgresql", tmp_path) as database_url:
        app = create_app({"SECRET_KEY": "x", "DATABASE_URL": database_url})
        with app.app_context():
            user = accounts.create_account(db.session, "owner@example.com", "correct horse battery")
            factories.make_customer(db.session, user, external_customer_id="cus_1")
            _row, secret = tokens.create_token(db.session, user.id, "tests")
            db.session.commit()
        engine = app.extensions["db"].engine

        def wait_briefly_for_locks(dbapi_connection, _record) -> None:
            dbapi_connection.execute("SET lock_timeout = '200ms'")
            dbapi_connection.commit()

        event.listen(engine, "connect", wait_briefly_for_locks)
        engine.dispose()  # the app's next connections wait 200 ms for a lock, then fail
        holder = create_engine(database_url)
        with holder.connect() as other:
            # Reads go on; writes to the events wait (SHARE mode), so only the COPY fails.
            other.execute(text("LOCK TABLE engagement_history IN SHARE MODE"))
            response = app.test_client().post(
                "/api/events",
                json={"events": [{"externalCustomerId": "cus_1", "eventType": "login"}]},
                headers={"Authorization": f"Bearer {secret}"},
            )
            other.rollback()
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"]
        with holder.connect() as other:
            assert other.execute(text("SELECT count(*) FROM engagement_history")).scalar() == 0
        holder.dispose()
        engine.dispose()
