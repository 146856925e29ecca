"""invitations and answers per survey, kept by triggers

The survey list counted every invitation and every answer of the account, grouped by
survey, on each visit: 9 ms of SQL at 54,000 answers, and growing with them.
`survey_counts` holds, per survey, how many invitations were sent and how many answers
came in, kept exact by triggers on `survey_invitations` and `survey_responses` (rows in,
rows out; neither ever moves to another survey). Counts of a survey being deleted are left
alone: they go with it, and touching them would re-check their key against a survey that
is already gone (as in 0010).

PostgreSQL has statement triggers over transition tables; SQLite, row triggers.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# (table of the counted rows, the column of survey_counts it counts)
COUNTED = (("survey_invitations", "invitations"), ("survey_responses", "responses"))


def _postgresql(table: str, column: str) -> list[str]:
    name = f"survey_counts_{column}"
    return [
        f"""
        CREATE FUNCTION {name}_add() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO survey_counts (feedback_survey_id, user_id, invitations, responses)
            SELECT feedback_survey_id, user_id,
                   {"count(*)" if column == "invitations" else "0"},
                   {"count(*)" if column == "responses" else "0"}
            FROM new_rows GROUP BY 1, 2 ORDER BY 1
            ON CONFLICT (feedback_survey_id) DO UPDATE
            SET {column} = survey_counts.{column} + excluded.{column};
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE FUNCTION {name}_remove() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE survey_counts AS s SET {column} = s.{column} - g.gone
            FROM (SELECT feedback_survey_id, count(*) AS gone FROM old_rows GROUP BY 1) AS g
            WHERE s.feedback_survey_id = g.feedback_survey_id
              AND EXISTS (SELECT 1 FROM feedback_surveys AS f WHERE f.id = s.feedback_survey_id);
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER {name}_insert AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}_add()
        """,
        f"""
        CREATE TRIGGER {name}_delete AFTER DELETE ON {table}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}_remove()
        """,
    ]


def _sqlite(table: str, column: str) -> list[str]:
    name = f"survey_counts_{column}"
    return [
        f"""
        CREATE TRIGGER {name}_insert AFTER INSERT ON {table}
        BEGIN
            INSERT INTO survey_counts (feedback_survey_id, user_id, invitations, responses)
            VALUES (NEW.feedback_survey_id, NEW.user_id,
                    {"1" if column == "invitations" else "0"},
                    {"1" if column == "responses" else "0"})
            ON CONFLICT (feedback_survey_id) DO UPDATE SET {column} = {column} + 1;
        END
        """,
        f"""
        CREATE TRIGGER {name}_delete AFTER DELETE ON {table}
        BEGIN
            UPDATE survey_counts SET {column} = {column} - 1
            WHERE feedback_survey_id = OLD.feedback_survey_id
              AND EXISTS (SELECT 1 FROM feedback_surveys WHERE id = OLD.feedback_survey_id);
        END
        """,
    ]


def upgrade() -> None:
    op.create_table(
        "survey_counts",
        sa.Column("feedback_survey_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("invitations", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_survey_id"],
            ["feedback_surveys.id"],
            name="fk_survey_counts_feedback_survey_id_feedback_surveys",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feedback_survey_id", name="pk_survey_counts"),
    )
    op.execute(
        "INSERT INTO survey_counts (feedback_survey_id, user_id, invitations, responses) "
        "SELECT f.id, f.user_id, "
        "(SELECT count(*) FROM survey_invitations AS i WHERE i.feedback_survey_id = f.id), "
        "(SELECT count(*) FROM survey_responses AS r WHERE r.feedback_survey_id = f.id) "
        "FROM feedback_surveys AS f"
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, column in COUNTED:
        for statement in _postgresql(table, column) if postgresql else _sqlite(table, column):
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, column in COUNTED:
        for trigger in ("insert", "delete"):
            name = f"survey_counts_{column}_{trigger}"
            op.execute(f"DROP TRIGGER {name} ON {table}" if postgresql else f"DROP TRIGGER {name}")
        if postgresql:
            op.execute(f"DROP FUNCTION survey_counts_{column}_add()")
            op.execute(f"DROP FUNCTION survey_counts_{column}_remove()")
    op.drop_table("survey_counts")
