"""an account's time zone

Pages showed every moment in UTC and read typed times as UTC, so a manager in New York
logging a call at 3 pm had to type 20:00. Each account now has an IANA zone, taken from
the browser at sign-up and changed on the account page; existing accounts keep UTC.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
