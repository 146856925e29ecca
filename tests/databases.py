"""Scratch databases for the suite: an SQLite file, and PostgreSQL when TEST_DATABASE_URL is set.

The schema is always built by `alembic upgrade head`, so every run tests the migrations too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, make_url, text

from loyalty.commands import alembic_config
from loyalty.config import normalize_database_url


def backends() -> list[str]:
    """The databases this run tests: SQLite always, PostgreSQL when a URL is given."""
    names = ["sqlite"]
    if os.environ.get("TEST_DATABASE_URL"):
        names.append("postgresql")
    return names


def migrate(url: str) -> None:
    """Build the schema from the migrations."""
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


@contextmanager
def scratch_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, migrated database that is thrown away afterwards; yields its URL."""
    if backend == "sqlite":
        path = directory / f"test-{uuid.uuid4().hex[:8]}.sqlite3"
        url = f"sqlite:///{path}"
        migrate(url)
        yield url
        return

    server_url = make_url(normalize_database_url(os.environ["TEST_DATABASE_URL"]))
    name = f"loyalty_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
