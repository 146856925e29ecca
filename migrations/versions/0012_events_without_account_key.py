"""events keep their account id without a foreign key of their own

As with tags (0009): an event belongs to a customer, whose key cascades, and the customer
belongs to the account. `engagement_history.user_id` is a copy for the account's indexes;
its own foreign key to users checked every event a second time, about 4 ms of each batch
of 1,000 that the API ingests.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 03:45:00
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


@contextmanager
def _events_table() -> Iterator[op.BatchOperations]:
    """Alter engagement_history; on SQLite, where the table is rebuilt and its triggers
    (migration 0007's engagement_days) would go with it, put them back afterwards."""
    bind = op.get_bind()
    triggers = []
    if bind.dialect.name == "sqlite":
        triggers = (
            bind.exec_driver_sql(
                "SELECT sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = 'engagement_history'"
            )
            .scalars()
            .all()
        )
    with op.batch_alter_table("engagement_history") as batch_op:
        yield batch_op
    for sql in triggers:
        bind.exec_driver_sql(sql)


def upgrade() -> None:
    with _events_table() as batch_op:
        batch_op.drop_constraint("fk_engagement_history_user_id_users", type_="foreignkey")


def downgrade() -> None:
    with _events_table() as batch_op:
        batch_op.create_foreign_key(
            "fk_engagement_history_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
