"""customers per whole score and NPS answers per day, kept by triggers

The dashboard read every customer's score (bands, histogram, average) and half a year of
NPS answers on each view: about 60 ms at 100,000 customers. Two small tables now hold the
same numbers, kept exact by triggers like `engagement_days` (migration 0007):

- `score_counts`: per account and whole score (-1 for not scored yet), how many customers
  and the sum of their scores.
- `nps_days`: per account, UTC day and NPS score (0-10), how many answers.

On PostgreSQL they are statement triggers over transition tables (one grouped statement
per change, rows locked in key order); SQLite has row triggers. Counts are only taken away
with UPDATE, never inserted negative, and the counts of an account being deleted are left
alone (they go with it): touching them would re-check their key against an account that is
already gone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Customers: added rows count in, removed rows count out. An update counts its new rows in
# and its old rows out, and writes only the buckets whose totals moved: a customer whose
# score stayed adds and takes away the same, exactly (the sums are numeric), so a rescore
# that rewrote many rows with their old scores locks no bucket.
_SCORE_ROWS = (
    "SELECT user_id, coalesce(floor(churn_risk_score)::integer, -1) AS whole, "
    "{sign} AS customers, {sign} * coalesce(churn_risk_score, 0)::numeric AS score_sum "
    "FROM {table}"
)
_SCORES_UPSERT = """
    INSERT INTO score_counts (user_id, whole, customers, score_sum)
    SELECT user_id, whole, sum(customers), sum(score_sum) FROM ({rows}) AS delta
    GROUP BY 1, 2 HAVING sum(customers) <> 0 OR sum(score_sum) <> 0 ORDER BY 1, 2
    ON CONFLICT (user_id, whole) DO UPDATE
    SET customers = score_counts.customers + excluded.customers,
        score_sum = score_counts.score_sum + excluded.score_sum;
"""
_SCORES_ADD = _SCORES_UPSERT.format(rows=_SCORE_ROWS.format(sign=1, table="new_rows"))
_SCORES_REMOVE = f"""
    UPDATE score_counts AS s
    SET customers = s.customers + gone.customers, score_sum = s.score_sum + gone.score_sum
    FROM (
        SELECT user_id, whole, sum(customers) AS customers, sum(score_sum) AS score_sum
        FROM ({_SCORE_ROWS.format(sign=-1, table="old_rows")}) AS rows GROUP BY 1, 2
    ) AS gone
    WHERE s.user_id = gone.user_id AND s.whole = gone.whole
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = s.user_id);
"""
_SCORES_MOVE = _SCORES_UPSERT.format(
    rows=_SCORE_ROWS.format(sign=1, table="new_rows")
    + " UNION ALL "
    + _SCORE_ROWS.format(sign=-1, table="old_rows")
)

# Survey answers: only NPS answers with a whole score count.
_NPS = (
    "FROM {0} WHERE response->>'kind' = 'nps' AND response->>'score' ~ '^([0-9]|10)$' "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)
_NPS_COLUMNS = "user_id, (submitted_at AT TIME ZONE 'UTC')::date, (response->>'score')::integer"
_NPS_ADD = f"""
    INSERT INTO nps_days (user_id, day, score, answers)
    SELECT {_NPS_COLUMNS}, count(*) {_NPS.format("new_rows")}
    ON CONFLICT (user_id, day, score) DO UPDATE SET answers = nps_days.answers + excluded.answers;
"""
_NPS_REMOVE = f"""
    UPDATE nps_days AS d SET answers = d.answers - gone.answers
    FROM (
        SELECT {_NPS_COLUMNS}, count(*) {_NPS.format("old_rows")}
    ) AS gone (user_id, day, score, answers)
    WHERE d.user_id = gone.user_id AND d.day = gone.day AND d.score = gone.score
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = d.user_id);
"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body} RETURN NULL; END $$"
    )


def _triggers(prefix: str, table: str) -> list[str]:
    return [
        f"""
        CREATE TRIGGER {prefix}_insert AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_add()
        """,
        f"""
        CREATE TRIGGER {prefix}_delete AFTER DELETE ON {table}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_remove()
        """,
        f"""
        CREATE TRIGGER {prefix}_update AFTER UPDATE ON {table}
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_move()
        """,
    ]


POSTGRESQL = [
    _function("score_counts_add", _SCORES_ADD),
    _function("score_counts_remove", _SCORES_REMOVE),
    _function("score_counts_move", _SCORES_MOVE),
    *_triggers("score_counts", "customers"),
    _function("nps_days_add", _NPS_ADD),
    _function("nps_days_remove", _NPS_REMOVE),
    _function("nps_days_move", _NPS_REMOVE + _NPS_ADD),
    *_triggers("nps_days", "survey_responses"),
]

# SQLite: a real score is at least 0, so CAST (which truncates) is its floor.
_SQLITE_WHOLE = "coalesce(CAST({0}.churn_risk_score AS INTEGER), -1)"
_SQLITE_SCORES_ADD = f"""
    INSERT INTO score_counts (user_id, whole, customers, score_sum)
    VALUES (NEW.user_id, {_SQLITE_WHOLE.format("NEW")}, 1, coalesce(NEW.churn_risk_score, 0))
    ON CONFLICT (user_id, whole) DO UPDATE
    SET customers = customers + 1, score_sum = score_sum + excluded.score_sum;
"""
_SQLITE_SCORES_REMOVE = f"""
    UPDATE score_counts
    SET customers = customers - 1, score_sum = score_sum - coalesce(OLD.churn_risk_score, 0)
    WHERE user_id = OLD.user_id AND whole = {_SQLITE_WHOLE.format("OLD")};
"""
# SQLite keeps timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text: the day is its start.
_SQLITE_IS_NPS = (
    "json_extract({0}.response, '$.kind') = 'nps' "
    "AND typeof(json_extract({0}.response, '$.score')) = 'integer' "
    "AND json_extract({0}.response, '$.score') BETWEEN 0 AND 10"
)
_SQLITE_NPS_ADD = f"""
    INSERT INTO nps_days (user_id, day, score, answers)
    SELECT NEW.user_id, substr(NEW.submitted_at, 1, 10),
           json_extract(NEW.response, '$.score'), 1
    WHERE {_SQLITE_IS_NPS.format("NEW")}
    ON CONFLICT (user_id, day, score) DO UPDATE SET answers = answers + 1;
"""
_SQLITE_NPS_REMOVE = f"""
    UPDATE nps_days SET answers = answers - 1
    WHERE user_id = OLD.user_id AND day = substr(OLD.submitted_at, 1, 10)
      AND score = json_extract(OLD.response, '$.score') AND {_SQLITE_IS_NPS.format("OLD")};
"""
SQLITE = [
    f"CREATE TRIGGER score_counts_insert AFTER INSERT ON customers BEGIN {_SQLITE_SCORES_ADD} END",
    f"CREATE TRIGGER score_counts_delete AFTER DELETE ON customers "
    f"BEGIN {_SQLITE_SCORES_REMOVE} END",
    "CREATE TRIGGER score_counts_update AFTER UPDATE OF churn_risk_score ON customers "
    "WHEN OLD.churn_risk_score IS NOT NEW.churn_risk_score "
    f"BEGIN {_SQLITE_SCORES_REMOVE} {_SQLITE_SCORES_ADD} END",
    f"CREATE TRIGGER nps_days_insert AFTER INSERT ON survey_responses BEGIN {_SQLITE_NPS_ADD} END",
    f"CREATE TRIGGER nps_days_delete AFTER DELETE ON survey_responses "
    f"BEGIN {_SQLITE_NPS_REMOVE} END",
    "CREATE TRIGGER nps_days_update AFTER UPDATE ON survey_responses "
    f"BEGIN {_SQLITE_NPS_REMOVE} {_SQLITE_NPS_ADD} END",
]


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "score_counts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("whole", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        _account_fk("score_counts"),
        sa.PrimaryKeyConstraint("user_id", "whole", name="pk_score_counts"),
    )
    op.create_table(
        "nps_days",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        _account_fk("nps_days"),
        sa.PrimaryKeyConstraint("user_id", "day", "score", name="pk_nps_days"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        whole = "coalesce(floor(churn_risk_score)::integer, -1)"
        is_nps = _NPS.format("survey_responses")
        nps = f"SELECT {_NPS_COLUMNS}, count(*) {is_nps}"
    else:
        whole = _SQLITE_WHOLE.format("customers")
        nps = (
            "SELECT user_id, substr(submitted_at, 1, 10), json_extract(response, '$.score'), "
            f"count(*) FROM survey_responses WHERE {_SQLITE_IS_NPS.format('survey_responses')} "
            "GROUP BY 1, 2, 3"
        )
    op.execute(
        "INSERT INTO score_counts (user_id, whole, customers, score_sum) "
        f"SELECT user_id, {whole}, count(*), coalesce(sum(churn_risk_score), 0) "
        "FROM customers GROUP BY 1, 2"
    )
    op.execute(f"INSERT INTO nps_days (user_id, day, score, answers) {nps}")
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for prefix, table in (("score_counts", "customers"), ("nps_days", "survey_responses")):
        for trigger in ("insert", "delete", "update"):
            op.execute(
                f"DROP TRIGGER {prefix}_{trigger} ON {table}"
                if postgresql
                else f"DROP TRIGGER {prefix}_{trigger}"
            )
        if postgresql:
            for function in ("add", "remove", "move"):
                op.execute(f"DROP FUNCTION {prefix}_{function}()")
    op.drop_table("nps_days")
    op.drop_table("score_counts")
