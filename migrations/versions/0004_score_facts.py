"""score facts instead of stored reasons; one index for an account's events

Scores are computed in SQL now. A customer row keeps the facts its score came from (counts
over the scoring windows, last login, latest answers), and the reasons are worded from those
facts when a page shows them, so a rescore writes only the rows whose score or facts moved.
A full rescore records its time on the account: that is how fresh every unchanged score is.
Free space in each page lets those writes stay HOT (no index entries) when only facts change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("churn_risk_factors")
        batch.add_column(sa.Column("churn_risk_facts", JSONType, nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("scores_refreshed_at", sa.DateTime(timezone=True)))
    # Scores written before this have no facts to explain them: score them again.
    op.execute("UPDATE customers SET churn_risk_score = NULL, churn_scored_at = NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customers SET (fillfactor = 80)")
    # Two indexes on the account's events become one: every event written maintains one less.
    op.drop_index("ix_engagement_history_user_date", table_name="engagement_history")
    op.drop_index("ix_engagement_history_user_type_date", table_name="engagement_history")
    op.create_index(
        "ix_engagement_history_user_date_type",
        "engagement_history",
        ["user_id", "event_date", "event_type"],
    )


def downgrade() -> None:
    op.drop_index("ix_engagement_history_user_date_type", table_name="engagement_history")
    op.create_index(
        "ix_engagement_history_user_type_date",
        "engagement_history",
        ["user_id", "event_type", "event_date"],
    )
    op.create_index(
        "ix_engagement_history_user_date", "engagement_history", ["user_id", "event_date"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customers RESET (fillfactor)")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("scores_refreshed_at")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("churn_risk_facts")
        batch.add_column(sa.Column("churn_risk_factors", JSONType, nullable=True))
