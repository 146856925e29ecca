"""customer search text in a table of its own, its index led by the account

The trigram index of customer search (migration 0005) lived on `customers`. A score is an
indexed column, so every score written (every rescore, every event) made a new row version,
and a new version enters every index of the table: some forty trigrams a customer, for text
that had not changed. A rescore of 100,000 changed scores spent about two of its seven
seconds there, and the trigrams waited in the index's pending list, which every search
then read through. The index also held every account's customers, so a search in one
account fetched the matching customers of all the others before throwing them away.

`customer_search` keeps one lower-cased text per customer (name, e-mail, external id),
written by triggers only when one of those changes. On PostgreSQL its trigram index leads
with the account (btree_gin), so a search reads one account's matches. Where an extension
cannot be created (no privilege), the index is trigram-only, or absent, and search still
works, unindexed.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# What the filter searches (loyalty.models.CustomerSearch), for a row of customers.
_TEXT = "lower({0}name || ' ' || {0}email || ' ' || {0}external_customer_id)"

_POSTGRESQL = [
    f"""
    CREATE FUNCTION customer_search_add() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO customer_search (customer_id, user_id, search_text)
        SELECT id, user_id, {_TEXT.format("")} FROM new_rows;
        RETURN NULL;
    END $$
    """,
    # Most updates write scores: only the rows whose text changed touch the search table.
    f"""
    CREATE FUNCTION customer_search_move() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
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
    """,
    """
    CREATE FUNCTION customer_search_remove() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        DELETE FROM customer_search AS s USING old_rows AS o WHERE s.customer_id = o.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER customer_search_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_search_add()
    """,
    """
    CREATE TRIGGER customer_search_update AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customer_search_move()
    """,
    """
    CREATE TRIGGER customer_search_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_search_remove()
    """,
]

_SQLITE = [
    "CREATE TRIGGER customer_search_insert AFTER INSERT ON customers BEGIN "
    "INSERT INTO customer_search (customer_id, user_id, search_text) "
    f"VALUES (NEW.id, NEW.user_id, {_TEXT.format('NEW.')}); END",
    "CREATE TRIGGER customer_search_update "
    "AFTER UPDATE OF name, email, external_customer_id ON customers BEGIN "
    f"UPDATE customer_search SET search_text = {_TEXT.format('NEW.')} "
    "WHERE customer_id = NEW.id; END",
    "CREATE TRIGGER customer_search_delete AFTER DELETE ON customers BEGIN "
    "DELETE FROM customer_search WHERE customer_id = OLD.id; END",
]


def _create_extension(name: str) -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            CREATE EXTENSION IF NOT EXISTS {name};
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE '{name} is not available: customer search is indexed less well';
        END
        $$
        """
    )


def upgrade() -> None:
    op.create_table(
        "customer_search",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_search"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    # The triggers first: they lock customers against writes until the migration commits,
    # so the copy below misses no customer and copies none twice.
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)
    op.execute(
        "INSERT INTO customer_search (customer_id, user_id, search_text) "
        f"SELECT id, user_id, {_TEXT.format('')} FROM customers"
    )
    if not postgresql:
        return
    _create_extension("btree_gin")
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin')
               AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                CREATE INDEX ix_customer_search_text
                    ON customer_search USING gin (user_id, search_text gin_trgm_ops);
            ELSIF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                CREATE INDEX ix_customer_search_text
                    ON customer_search USING gin (search_text gin_trgm_ops);
            END IF;
        END
        $$
        """
    )
    op.execute("DROP INDEX IF EXISTS ix_customers_search")
    op.execute("ANALYZE customer_search")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "update", "delete"):
        op.execute(
            f"DROP TRIGGER customer_search_{event} ON customers"
            if postgresql
            else f"DROP TRIGGER customer_search_{event}"
        )
    if postgresql:
        for function in ("add", "move", "remove"):
            op.execute(f"DROP FUNCTION customer_search_{function}()")
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                    CREATE INDEX IF NOT EXISTS ix_customers_search
                        ON customers USING gin ({_TEXT.format("")} gin_trgm_ops);
                END IF;
            END
            $$
            """
        )
    op.drop_table("customer_search")
