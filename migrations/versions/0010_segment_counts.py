"""members and their score totals per segment, kept by triggers

Segment pages and the analytics API joined every membership to its customer to show how
many members a segment has and their average risk: 60-100 ms at 48,000 memberships.
`segment_counts` holds, per segment, the members, how many of them are scored, and the
sum of their scores, kept exact by triggers:

- memberships added or removed count in or out, with their customer's score;
- a customer whose score changes moves the totals of every segment they are in;
- a customer being deleted first leaves their segments (a BEFORE DELETE trigger removes
  the memberships while the customer, and so the score, is still there), so the cascade
  that follows finds nothing left to remove;
- the counts of a segment being deleted are left alone (they go with it): touching them
  would re-check their key against a segment that is already gone.

On PostgreSQL the membership and score triggers are statement triggers over transition
tables; their joins are run with EXECUTE so each is planned for the rows at hand (PL/pgSQL
would otherwise keep the plan made for the first call, whether that moved one row or a
hundred thousand). SQLite has row triggers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_UPSERT = """
    INSERT INTO segment_counts (customer_segment_id, user_id, members, scored, score_sum)
    {rows}
    ON CONFLICT (customer_segment_id) DO UPDATE
    SET members = segment_counts.members + excluded.members,
        scored = segment_counts.scored + excluded.scored,
        score_sum = segment_counts.score_sum + excluded.score_sum
"""
# Memberships in: count them in with their customers' scores.
_JOINED = """
    SELECT m.customer_segment_id, c.user_id, {sign} * count(*), {sign} * count(c.churn_risk_score),
           {sign} * coalesce(sum(c.churn_risk_score::numeric), 0)
    FROM {table} AS m JOIN customers AS c ON c.id = m.customer_id
    GROUP BY 1, 2 ORDER BY 1
"""
_MEMBERS_ADD = _UPSERT.format(rows=_JOINED.format(sign=1, table="new_rows"))
_MEMBERS_REMOVE = """
    UPDATE segment_counts AS s
    SET members = s.members + g.members, scored = s.scored + g.scored,
        score_sum = s.score_sum + g.score_sum
    FROM ({rows}) AS g (customer_segment_id, user_id, members, scored, score_sum)
    WHERE s.customer_segment_id = g.customer_segment_id
      AND EXISTS (SELECT 1 FROM customer_segments AS cs WHERE cs.id = s.customer_segment_id)
""".format(rows=_JOINED.format(sign=-1, table="old_rows"))
# Scores that moved: every segment of the customer gets the new score in and the old out;
# segments whose totals did not move are not written.
_SCORES_MOVE = _UPSERT.format(
    rows="""
    SELECT m.customer_segment_id, d.user_id, 0, sum(d.scored), sum(d.score_sum)
    FROM (
        SELECT id, user_id, (churn_risk_score IS NOT NULL)::integer AS scored,
               coalesce(churn_risk_score, 0)::numeric AS score_sum
        FROM new_rows
        UNION ALL
        SELECT id, user_id, -(churn_risk_score IS NOT NULL)::integer,
               -coalesce(churn_risk_score, 0)::numeric
        FROM old_rows
    ) AS d
    JOIN customer_segment_memberships AS m ON m.customer_id = d.id
    GROUP BY 1, 2 HAVING sum(d.scored) <> 0 OR sum(d.score_sum) <> 0 ORDER BY 1
    """
)


def _function(name: str, statement: str) -> str:
    quoted = statement.replace("'", "''")
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN EXECUTE '{quoted}'; RETURN NULL; END $$"
    )


POSTGRESQL = [
    _function("segment_counts_add", _MEMBERS_ADD),
    _function("segment_counts_remove", _MEMBERS_REMOVE),
    _function("segment_counts_move", _SCORES_MOVE),
    """
    CREATE FUNCTION segment_counts_leave() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM customer_segment_memberships WHERE customer_id = OLD.id) THEN
            DELETE FROM customer_segment_memberships WHERE customer_id = OLD.id;
        END IF;
        RETURN OLD;
    END $$
    """,
    """
    CREATE TRIGGER segment_counts_insert AFTER INSERT ON customer_segment_memberships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION segment_counts_add()
    """,
    """
    CREATE TRIGGER segment_counts_delete AFTER DELETE ON customer_segment_memberships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION segment_counts_remove()
    """,
    """
    CREATE TRIGGER segment_counts_scores AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION segment_counts_move()
    """,
    """
    CREATE TRIGGER segment_counts_leave BEFORE DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION segment_counts_leave()
    """,
]

_SQLITE_SCORE = "(SELECT churn_risk_score FROM customers WHERE id = {0}.customer_id)"
SQLITE = [
    """
    CREATE TRIGGER segment_counts_insert AFTER INSERT ON customer_segment_memberships
    BEGIN
        INSERT INTO segment_counts (customer_segment_id, user_id, members, scored, score_sum)
        SELECT NEW.customer_segment_id, c.user_id, 1, c.churn_risk_score IS NOT NULL,
               coalesce(c.churn_risk_score, 0)
        FROM customers AS c WHERE c.id = NEW.customer_id
        ON CONFLICT (customer_segment_id) DO UPDATE
        SET members = members + 1, scored = scored + excluded.scored,
            score_sum = score_sum + excluded.score_sum;
    END
    """,
    f"""
    CREATE TRIGGER segment_counts_delete AFTER DELETE ON customer_segment_memberships
    BEGIN
        UPDATE segment_counts
        SET members = members - 1,
            scored = scored - coalesce({_SQLITE_SCORE.format("OLD")} IS NOT NULL, 0),
            score_sum = score_sum - coalesce({_SQLITE_SCORE.format("OLD")}, 0)
        WHERE customer_segment_id = OLD.customer_segment_id
          AND EXISTS (SELECT 1 FROM customer_segments WHERE id = OLD.customer_segment_id);
    END
    """,
    """
    CREATE TRIGGER segment_counts_scores AFTER UPDATE OF churn_risk_score ON customers
    WHEN OLD.churn_risk_score IS NOT NEW.churn_risk_score
    BEGIN
        UPDATE segment_counts
        SET scored = scored + (NEW.churn_risk_score IS NOT NULL)
                            - (OLD.churn_risk_score IS NOT NULL),
            score_sum = score_sum + coalesce(NEW.churn_risk_score, 0)
                                  - coalesce(OLD.churn_risk_score, 0)
        WHERE customer_segment_id IN (
            SELECT customer_segment_id FROM customer_segment_memberships
            WHERE customer_id = NEW.id
        );
    END
    """,
    """
    CREATE TRIGGER segment_counts_leave BEFORE DELETE ON customers
    BEGIN
        DELETE FROM customer_segment_memberships WHERE customer_id = OLD.id;
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "segment_counts",
        sa.Column("customer_segment_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_segment_id"],
            ["customer_segments.id"],
            name="fk_segment_counts_customer_segment_id_customer_segments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_segment_id", name="pk_segment_counts"),
    )
    op.execute(
        "INSERT INTO segment_counts (customer_segment_id, user_id, members, scored, score_sum) "
        "SELECT m.customer_segment_id, c.user_id, count(*), count(c.churn_risk_score), "
        "coalesce(sum(c.churn_risk_score), 0) "
        "FROM customer_segment_memberships AS m JOIN customers AS c ON c.id = m.customer_id "
        "GROUP BY 1, 2"
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    triggers = (
        ("segment_counts_insert", "customer_segment_memberships"),
        ("segment_counts_delete", "customer_segment_memberships"),
        ("segment_counts_scores", "customers"),
        ("segment_counts_leave", "customers"),
    )
    for trigger, table in triggers:
        op.execute(
            f"DROP TRIGGER {trigger} ON {table}" if postgresql else f"DROP TRIGGER {trigger}"
        )
    if postgresql:
        for function in ("add", "remove", "move", "leave"):
            op.execute(f"DROP FUNCTION segment_counts_{function}()")
    op.drop_table("segment_counts")
