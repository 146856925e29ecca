"""The database: one engine per app, one session per request, account scoping built in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, abort, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker, with_loader_criteria

from loyalty.models import AccountOwned


class DatabaseState:
    """What one app holds: its engine, its session factory, and a test binding."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        # Tests bind every session to one connection inside a transaction they roll back.
        self.bind_override: Connection | None = None


class Database:
    """Hands out the current app's engine and the request's session (bound by `init_app`)."""

    def init_app(self, app: Flask) -> None:
        """Create the engine for the app's DATABASE_URL."""
        app.extensions["db"] = DatabaseState(app.config["DATABASE_URL"])
        app.teardown_appcontext(self._close_session)

    @property
    def state(self) -> DatabaseState:
        """The current app's database state."""
        return current_app.extensions["db"]

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return self.state.engine

    def new_session(self) -> Session:
        """A session of our own, e.g. for CLI commands; the caller closes it."""
        state = self.state
        if state.bind_override is not None:
            return state.sessions(
                bind=state.bind_override, join_transaction_mode="create_savepoint"
            )
        return state.sessions()

    @property
    def session(self) -> Session:
        """The session of the current app context (request or CLI command)."""
        if "db_session" not in g:
            g.db_session = self.new_session()
        return g.db_session

    def _close_session(self, _exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A raw connection for set-based work (COPY, bulk statements) outside the ORM."""
        state = self.state
        if state.bind_override is not None:
            yield state.bind_override
            return
        with state.engine.connect() as connection:
            yield connection


def make_engine(url: str) -> Engine:
    """An engine with the same behaviour on PostgreSQL and SQLite."""
    if url.startswith("sqlite"):
        # JSON is stored as text: written compactly, as SQLite's json_object() writes it, facts
        # a rescore computes in SQL compare equal to the same facts written from Python.
        engine = create_engine(url, connect_args={"timeout": 15}, json_serializer=_compact_json)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _configure_sqlite(dbapi_connection, _record) -> None:
    # SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked, per connection.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    # pysqlite's own transaction handling is turned off above, so BEGIN is ours to send;
    # that makes SAVEPOINTs (used by tests and nested writes) behave.
    connection.exec_driver_sql("BEGIN")


def get_or_404(model: type, ident: uuid.UUID):
    """Load one of the signed-in account's rows by id; anything else (or nothing) is a 404."""
    found = db.session.scalar(select(model).where(model.id == ident))
    if found is None:
        abort(404)
    return found


def scope_session_to_account(session: Session, account_id: uuid.UUID | None) -> None:
    """Limit every ORM query of `session` to one account's rows (None lifts the limit)."""
    if account_id is None:
        session.info.pop("account_id", None)
    else:
        session.info["account_id"] = account_id


@event.listens_for(Session, "do_orm_execute")
def _add_account_criteria(execute_state) -> None:
    """The one place where account scoping happens: no query can forget it."""
    account_id = execute_state.session.info.get("account_id")
    if account_id is None or execute_state.is_column_load or execute_state.is_relationship_load:
        return
    if not (execute_state.is_select or execute_state.is_update or execute_state.is_delete):
        return
    execute_state.statement = execute_state.statement.options(
        with_loader_criteria(
            AccountOwned,
            lambda cls: cls.user_id == account_id,
            include_aliases=True,
        )
    )


db = Database()
