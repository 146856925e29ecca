"""events by account, type and date

Segment criteria ("at least 2 support tickets in 30 days") and scoring read one event type
in a date window; this index keeps that to the rows of that type.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_engagement_history_user_type_date",
        "engagement_history",
        ["user_id", "event_type", "event_date"],
    )


def downgrade() -> None:
    op.drop_index("ix_engagement_history_user_type_date", table_name="engagement_history")
