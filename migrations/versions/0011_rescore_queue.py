"""customers waiting for the rescore worker

With QUEUE_RESCORES=1, bulk event ingestion writes its events and queues the customers it
touched here instead of rescoring them inside the request; `flask rescore-worker` claims
them in batches, rescores them, and deletes their rows in the same transaction.

One row per customer, however many events arrive for them before the worker comes round.
There are no foreign keys: every queued row would pay for the check, and the worker skips
customers that have been deleted since (their rescore matches nothing).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rescore_queue",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_rescore_queue"),
    )
    op.create_index("ix_rescore_queue_queued_at", "rescore_queue", ["queued_at"])


def downgrade() -> None:
    op.drop_index("ix_rescore_queue_queued_at", table_name="rescore_queue")
    op.drop_table("rescore_queue")
