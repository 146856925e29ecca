"""an update of customers compares each new search text with the stored one

The update trigger of `customer_search` (0015) joined the statement's old rows to its new
rows to find the customers whose name, e-mail or external id changed. PostgreSQL joined
the two transition tables by sorting both, whole rows and all, on disk: a rescore of
100,000 customers, which changes no text, spent two of its seven seconds there. Each new
row is now compared with the text the search table holds for it, in one hash join with
the table itself, and the trigger no longer asks for the old rows. SQLite's row trigger
fires only when one of those columns is written and is unchanged.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TEXT = "lower({0}name || ' ' || {0}email || ' ' || {0}external_customer_id)"

_COMPARED_WITH_STORED = f"""
    CREATE OR REPLACE FUNCTION customer_search_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE customer_search AS s SET search_text = n.search_text
        FROM (SELECT id, {_TEXT.format("")} AS search_text FROM new_rows) AS n
        WHERE s.customer_id = n.id AND s.search_text IS DISTINCT FROM n.search_text;
        RETURN NULL;
    END $$
"""

# 0015's, for a downgrade.
_COMPARED_WITH_OLD_ROWS = f"""
    CREATE OR REPLACE FUNCTION customer_search_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE customer_search AS s SET search_text = changed.search_text
        FROM (
            SELECT n.id, {_TEXT.format("n.")} AS search_text
            FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE (n.name, n.email, n.external_customer_id)
                  IS DISTINCT FROM (o.name, o.email, o.external_customer_id)
        ) AS changed
        WHERE s.customer_id = changed.id;
        RETURN NULL;
    END $$
"""


def _replace(function: str, transition_tables: str) -> None:
    op.execute("DROP TRIGGER customer_search_update ON customers")
    op.execute(function)
    op.execute(
        f"""
        CREATE TRIGGER customer_search_update AFTER UPDATE ON customers
        REFERENCING {transition_tables}
        FOR EACH STATEMENT EXECUTE FUNCTION customer_search_move()
        """
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace(_COMPARED_WITH_STORED, "NEW TABLE AS new_rows")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace(_COMPARED_WITH_OLD_ROWS, "OLD TABLE AS old_rows NEW TABLE AS new_rows")
