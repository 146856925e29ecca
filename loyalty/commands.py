"""Command-line tools: `flask --app app <command>`."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

PROJECT_ROOT = Path(__file__).resolve().parent.parent

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(database_url: str) -> AlembicConfig:
    """Alembic settings pointing at this project's migrations and the given database."""
    config = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"Database is at {revision}.")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("current")
def current() -> None:
    """Show the revision the database is at."""
    command.current(alembic_config(current_app.config["DATABASE_URL"]))


@click.command("rescore")
@with_appcontext
@click.option("--email", help="Only this account (default: every account).")
def rescore_command(email: str | None) -> None:
    """Recompute every customer's churn score (run daily: recency changes with the calendar)."""
    from sqlalchemy import select

    from loyalty.extensions import db
    from loyalty.models import User
    from loyalty.services.scoring import rescore

    session = db.session
    accounts = select(User).order_by(User.email)
    if email:
        accounts = accounts.where(User.email == email.strip().lower())
    users = list(session.scalars(accounts))
    if email and not users:
        raise click.ClickException(f"No account with the e-mail {email}.")
    for user in users:
        count = rescore(session, user.id)
        session.commit()
        click.echo(f"{user.email}: rescored {count} customers.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(db_cli)
    app.cli.add_command(rescore_command)
