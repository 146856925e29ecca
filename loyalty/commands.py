"""Command-line tools: `flask --app app <command>`."""

from __future__ import annotations

import io
import itertools
import signal
import threading
import time
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
    from loyalty.services.accounts import find_account
    from loyalty.services.scoring import rescore

    session = db.session
    if email:
        account = find_account(session, email)
        if account is None:
            raise click.ClickException(f"No account with the e-mail {email}.")
        users = [account]
    else:
        users = list(session.scalars(select(User).order_by(User.email)))
    for user in users:
        changed = rescore(session, user.id)
        session.commit()
        customers = "customer" if changed == 1 else "customers"
        click.echo(f"{user.email}: rescored; scores or reasons changed for {changed} {customers}.")


@click.command("rescore-worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Score what is queued, then stop (for cron or tests).")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--idle", default=1.0, show_default=True, help="Seconds between looks when idle.")
def rescore_worker_command(once: bool, batch: int, idle: float) -> None:
    """Rescore the customers that bulk event ingestion queued (QUEUE_RESCORES=1).

    Runs until SIGTERM or Ctrl-C, finishing the batch at hand first."""
    from sqlalchemy.exc import DBAPIError

    from loyalty.extensions import db
    from loyalty.services.rescore_queue import rescore_queued

    stopping = threading.Event()
    if not once:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
    session = db.session
    while not stopping.is_set():
        started = time.perf_counter()
        try:
            claimed = rescore_queued(session, limit=batch)
            session.commit()
        except DBAPIError as error:  # e.g. a deadlock or a restart: the batch stays queued
            session.rollback()
            if once:
                raise click.ClickException(f"Rescoring failed: {error.orig or error}") from error
            current_app.logger.warning("rescore worker: %s; retrying", error.orig or error)
            stopping.wait(idle)
            continue
        if claimed:
            click.echo(f"Rescored {claimed} customers in {time.perf_counter() - started:.2f} s.")
        if claimed < batch:
            if once:
                break
            stopping.wait(idle)


@click.command("import-customers")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--email", required=True, help="The account to import into.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and skip the rest.")
@click.option(
    "--map",
    "overrides",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Override the suggested mapping, e.g. --map email='Billing Email'.",
)
def import_customers_command(
    file: Path, email: str, skip_invalid: bool, overrides: tuple[str, ...]
) -> None:
    """Import customers from a CSV or JSON FILE (all or nothing unless --skip-invalid)."""
    from loyalty.domain import importing
    from loyalty.extensions import db
    from loyalty.services.accounts import find_account
    from loyalty.services.imports import ImportHasErrors, import_records

    session = db.session
    account = find_account(session, email)
    if account is None:
        raise click.ClickException(f"No account with the e-mail {email}.")
    content = file.read_bytes()
    try:
        file_format = importing.detect_format(file.name, content[:4096])
    except importing.ImportFileError as error:
        raise click.ClickException(str(error)) from error

    def table():
        return importing.read_table(io.BytesIO(content), file_format)

    try:
        mapping = importing.suggest_mapping(table().columns)
    except importing.ImportFileError as error:  # an empty file, or a broken header
        raise click.ClickException(str(error)) from error
    for override in overrides:
        field, _, column = override.partition("=")
        if field not in mapping:
            raise click.ClickException(f"Unknown field {field!r}: use one of {', '.join(mapping)}.")
        mapping[field] = column or None
    click.echo("Mapping: " + ", ".join(f"{k}={v}" for k, v in mapping.items() if v))
    try:
        result = import_records(session, account.id, table, mapping, skip_invalid)
    except ImportHasErrors as error:
        session.rollback()
        for problem in error.report.errors[:50]:
            click.echo(f"  row {problem.row}, {problem.field}: {problem.message}", err=True)
        raise click.ClickException(
            f"{_counted(error.report.rows_with_errors, 'row')} ha"
            f"{'s' if error.report.rows_with_errors == 1 else 've'} problems; nothing was "
            "imported (use --skip-invalid to import the valid rows)."
        ) from error
    except importing.ImportFileError as error:
        session.rollback()
        raise click.ClickException(str(error)) from error
    session.commit()
    counts = result.counts
    click.echo(
        f"Imported: {counts.created} added, {counts.updated} updated, {counts.unchanged} "
        f"unchanged, {result.skipped} skipped."
    )


@click.command("import-events")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--email", required=True, help="The account whose customers the events are for.")
@click.option("--skip-invalid", is_flag=True, help="Keep the valid events and skip the rest.")
def import_events_command(file: Path, email: str, skip_invalid: bool) -> None:
    """Import engagement events from a CSV or JSON FILE (externalCustomerId, eventType,
    eventDate; other columns become details), 1,000 at a time through the API's bulk path.
    All or nothing unless --skip-invalid."""
    from loyalty.domain import importing
    from loyalty.domain.api_input import InputError
    from loyalty.extensions import db
    from loyalty.services.accounts import find_account
    from loyalty.services.event_ingestion import ingest
    from loyalty.services.rescore_queue import rescore_queued

    session = db.session
    account = find_account(session, email)
    if account is None:
        raise click.ClickException(f"No account with the e-mail {email}.")
    content = file.read_bytes()
    created = failed = 0
    problems: list[str] = []
    try:
        file_format = importing.detect_format(file.name, content[:4096])
        rows = importing.event_items(importing.read_table(io.BytesIO(content), file_format))
        while batch := list(itertools.islice(rows, 1000)):
            result = ingest(
                session, account.id, {"events": [item for _n, item in batch]}, queue_rescores=True
            )
            created += result["created"]
            failed += result["failed"]
            for outcome in result["results"]:
                if outcome["status"] == "failed" and len(problems) < 50:
                    row = batch[outcome["index"]][0]
                    reasons = "; ".join(
                        f"{k}: {v}" if k else v for k, v in outcome["errors"].items()
                    )
                    problems.append(f"  row {row}: {reasons}")
    except (importing.ImportFileError, InputError) as error:
        session.rollback()
        raise click.ClickException(str(error)) from error
    if failed and not skip_invalid:
        session.rollback()
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(
            f"{_counted(failed, 'event')} ha{'s' if failed == 1 else 've'} problems; nothing "
            "was imported "
            "(use --skip-invalid to keep the valid ones)."
        )
    if not current_app.config["QUEUE_RESCORES"]:
        # Each customer once, after every batch is in (not once per batch they appear in).
        rescore_queued(session, limit=None, account_id=account.id)
    session.commit()
    click.echo(f"Imported {_counted(created, 'event')}, {failed} skipped.")


def _counted(count: int, noun: str) -> str:
    """'1 event', '2 events'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


DEMO_EMAIL = "demo@loyalty-guardian.test"
DEMO_PASSWORD = "demo-password"  # noqa: S105 (a demo account, printed on purpose)


@click.command("seed")
@with_appcontext
@click.option("--email", default=DEMO_EMAIL, show_default=True, help="Account to fill.")
@click.option("--password", default=DEMO_PASSWORD, show_default=True, help="Used if created.")
@click.option("--customers", default=300, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", "seed_value", default=42, show_default=True, help="Same seed, same data.")
@click.option("--reset", is_flag=True, help="Replace the account's data instead of adding to it.")
@click.option("--if-empty", is_flag=True, help="Only when the database has no account yet.")
def seed_command(
    email: str, password: str, customers: int, seed_value: int, reset: bool, if_empty: bool
) -> None:
    """Fill an account with realistic demo customers, events, surveys and segments."""
    from sqlalchemy import func, select

    from loyalty.extensions import db
    from loyalty.models import User
    from loyalty.services import accounts, demo

    session = db.session
    if if_empty and session.scalar(select(func.count()).select_from(User)):
        return
    account = accounts.find_account(session, email)
    if account is None:
        account = accounts.create_account(session, email, password, "Demo Company")
        click.echo(f"Created the account {email} with the password {password!r}.")
    if reset:
        demo.reset_account(session, account.id)
    result = demo.seed_account(session, account.id, customers=customers, seed=seed_value)
    session.commit()
    click.echo(
        f"Seeded {result.customers} customers, {result.events} events and "
        f"{result.responses} survey answers ({result.skipped} customers were already there)."
    )
    click.echo(f"Log in as {email} on the app's /login page.")


token_cli = AppGroup("token", help="API tokens for programs.")


@token_cli.command("create")
@click.option("--email", required=True, help="The account the token acts for.")
@click.option("--name", required=True, help="What uses the token, e.g. 'CRM sync'.")
def create_token_command(email: str, name: str) -> None:
    """Make an API token and print it (the only time it is shown)."""
    from loyalty.extensions import db
    from loyalty.services.accounts import find_account
    from loyalty.services.tokens import create_token

    account = find_account(db.session, email)
    if account is None:
        raise click.ClickException(f"No account with the e-mail {email}.")
    if not name.strip():
        raise click.ClickException("Give the token a name.")
    _token, secret = create_token(db.session, account.id, name)
    db.session.commit()
    click.echo(secret)


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(db_cli)
    app.cli.add_command(rescore_command)
    app.cli.add_command(rescore_worker_command)
    app.cli.add_command(import_customers_command)
    app.cli.add_command(import_events_command)
    app.cli.add_command(seed_command)
    app.cli.add_command(token_cli)
