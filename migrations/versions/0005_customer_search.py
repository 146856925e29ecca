"""customer search by trigrams

The table's free-text filter looks for a fragment anywhere in the name, e-mail or external
id. Without an index that reads every customer of the account; a trigram index (pg_trgm,
PostgreSQL only) over the one search text the filter uses finds the few that match.
Where the extension cannot be created (no privilege), the filter still works, unindexed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Must stay the expression loyalty.services.customer_query.SEARCH_TEXT renders.
SEARCH_TEXT = "lower(name || ' ' || email || ' ' || external_customer_id)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        DO $$
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pg_trgm is not available: customer search stays unindexed';
        END
        $$
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                CREATE INDEX IF NOT EXISTS ix_customers_search
                    ON customers USING gin ({SEARCH_TEXT} gin_trgm_ops);
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customers_search")
