"""The schema: migrations, account scoping, UTC timestamps, cascades on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, delete, func, inspect, select, update
from werkzeug.exceptions import NotFound

from loyalty.commands import alembic_config
from loyalty.db import get_or_404, scope_session_to_account
from loyalty.extensions import db
from loyalty.models import DATABASE_ONLY_INDEXES, Base, Customer, EngagementEvent
from tests import factories
from tests.databases import scratch_database


def _modelled(item, name, type_, reflected, compare_to) -> bool:
    # The trigram search index exists only on PostgreSQL, made by migration 0015.
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)


def test_migrations_go_from_empty_to_head_and_back(backend, tmp_path):
    with scratch_database(backend, tmp_path) as url:
        config = alembic_config(url)
        config.attributes["configure_logging"] = False
        engine = create_engine(url)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": _modelled})
            assert compare_metadata(context, Base.metadata) == []
            if backend == "postgresql":
                indexes = {i["name"] for i in inspect(connection).get_indexes("customer_search")}
                assert "ix_customer_search_text" in indexes
            tables = set(inspect(connection).get_table_names())
        assert {
            "users",
            "customers",
            "customer_segments",
            "customer_segment_memberships",
            "feedback_surveys",
            "survey_responses",
            "engagement_history",
        } <= tables
        command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
        engine.dispose()


def test_account_scoping_hides_other_accounts_rows(session):
    alice, bob = factories.make_user(session), factories.make_user(session)
    mine = factories.make_customer(session, alice, name="Mine")
    theirs = factories.make_customer(session, bob, name="Theirs")
    session.expunge_all()

    scope_session_to_account(session, alice.id)
    assert [c.name for c in session.scalars(select(Customer))] == ["Mine"]
    assert session.scalar(select(func.count()).select_from(Customer)) == 1
    assert get_or_404(Customer, mine.id).name == "Mine"
    with pytest.raises(NotFound):
        get_or_404(Customer, theirs.id)

    session.execute(update(Customer).values(name="Renamed"))
    session.execute(delete(Customer))
    scope_session_to_account(session, None)
    assert session.scalar(select(Customer.name).where(Customer.id == theirs.id)) == "Theirs"
    assert session.scalar(select(Customer).where(Customer.id == mine.id)) is None


def test_timestamps_are_stored_as_utc_and_read_back_aware(session):
    owner = factories.make_user(session)
    paris_noon = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    customer = factories.make_customer(session, owner, signup_date=paris_noon)
    session.expunge_all()
    loaded = session.get(Customer, customer.id)
    assert loaded.signup_date == paris_noon
    assert loaded.signup_date.tzinfo is not None
    assert loaded.signup_date.utcoffset() == timedelta(0)
    assert loaded.signup_date.hour == 10
    earlier = session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.signup_date < datetime(2026, 6, 1, 10, 30, tzinfo=UTC))
    )
    assert earlier == 1


def test_naive_timestamps_are_refused(session):
    owner = factories.make_user(session)
    with pytest.raises(Exception, match="naive"):
        factories.make_customer(session, owner, signup_date=datetime(2026, 1, 1))


def test_deleting_a_customer_deletes_its_events_in_the_database(session):
    owner = factories.make_user(session)
    customer = factories.make_customer(session, owner)
    session.add(
        EngagementEvent(
            user_id=owner.id,
            customer_id=customer.id,
            event_type="login",
            event_date=factories.days_ago(1),
            details={},
        )
    )
    session.flush()
    # A bulk delete skips the ORM: only the database's ON DELETE CASCADE can remove events.
    session.execute(delete(Customer).where(Customer.id == customer.id))
    assert session.scalar(select(func.count()).select_from(EngagementEvent)) == 0


def test_external_id_is_unique_per_account(session):
    alice, bob = factories.make_user(session), factories.make_user(session)
    factories.make_customer(session, alice, external_customer_id="cus_1")
    factories.make_customer(session, bob, external_customer_id="cus_1")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with session.begin_nested():
            factories.make_customer(session, alice, external_customer_id="cus_1")


def test_db_upgrade_command_reports_head(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "Database is at head." in result.output


def test_the_session_binds_to_the_apps_database(app):
    with app.app_context():
        assert db.session.get_bind().dialect.name in ("sqlite", "postgresql")
