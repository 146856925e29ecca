"""events per account, day and type, kept by triggers

The dashboard's engagement trend counted three months of events on every view (about
200 ms at a million events). `engagement_days` holds the same counts per UTC day and event
type; triggers on engagement_history keep it exact however events are written or removed
(ORM, bulk INSERT, COPY, cascading deletes of customers and accounts). On PostgreSQL they
are statement triggers over transition tables (one grouped upsert per statement, in key
order so concurrent writers lock rows in the same order); SQLite has row triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Counts added for the rows a statement inserted (new_rows) and taken away for those it
# removed (old_rows); an UPDATE does both.
_ADD = """
    INSERT INTO engagement_days (user_id, day, event_type, events)
    SELECT user_id, (event_date AT TIME ZONE 'UTC')::date, event_type, count(*)
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (user_id, day, event_type)
    DO UPDATE SET events = engagement_days.events + excluded.events;
"""
_REMOVE = """
    UPDATE engagement_days AS d SET events = d.events - gone.events
    FROM (
        SELECT user_id, (event_date AT TIME ZONE 'UTC')::date AS day, event_type,
               count(*) AS events
        FROM old_rows GROUP BY 1, 2, 3
    ) AS gone
    WHERE d.user_id = gone.user_id AND d.day = gone.day AND d.event_type = gone.event_type;
"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION engagement_days_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body} RETURN NULL; END $$"
    )


POSTGRESQL = [
    _function("add", _ADD),
    _function("remove", _REMOVE),
    _function("move", _REMOVE + _ADD),
    """
    CREATE TRIGGER engagement_days_insert AFTER INSERT ON engagement_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engagement_days_add()
    """,
    """
    CREATE TRIGGER engagement_days_delete AFTER DELETE ON engagement_history
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engagement_days_remove()
    """,
    """
    CREATE TRIGGER engagement_days_update AFTER UPDATE ON engagement_history
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engagement_days_move()
    """,
]

# SQLite keeps timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text: the day is its start.
_SQLITE_ADD = """
    INSERT INTO engagement_days (user_id, day, event_type, events)
    VALUES (NEW.user_id, substr(NEW.event_date, 1, 10), NEW.event_type, 1)
    ON CONFLICT (user_id, day, event_type) DO UPDATE SET events = events + 1;
"""
_SQLITE_REMOVE = """
    UPDATE engagement_days SET events = events - 1
    WHERE user_id = OLD.user_id AND day = substr(OLD.event_date, 1, 10)
      AND event_type = OLD.event_type;
"""
SQLITE = [
    f"CREATE TRIGGER engagement_days_insert AFTER INSERT ON engagement_history "
    f"BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER engagement_days_delete AFTER DELETE ON engagement_history "
    f"BEGIN {_SQLITE_REMOVE} END",
    f"CREATE TRIGGER engagement_days_update AFTER UPDATE ON engagement_history "
    f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
]


def upgrade() -> None:
    op.create_table(
        "engagement_days",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_engagement_days_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "day", "event_type", name="pk_engagement_days"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    day = "(event_date AT TIME ZONE 'UTC')::date" if postgresql else "substr(event_date, 1, 10)"
    op.execute(
        "INSERT INTO engagement_days (user_id, day, event_type, events) "
        f"SELECT user_id, {day}, event_type, count(*) FROM engagement_history GROUP BY 1, 2, 3"
    )
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER engagement_days_{trigger} ON engagement_history")
        for function in ("add", "remove", "move"):
            op.execute(f"DROP FUNCTION engagement_days_{function}()")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER engagement_days_{trigger}")
    op.drop_table("engagement_days")
