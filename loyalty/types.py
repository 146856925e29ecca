"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def ordered_id_prefix(now: datetime) -> int:
    """The high 64 bits of UUIDv7-style ids: milliseconds since 1970, version 7, 12 random bits.

    Bulk writers (the seed, imports) fill the low 64 bits with a counter, so ids grow in the
    order rows are written and every index on them appends at its end, instead of touching a
    random page of a large index for each row.
    """
    return (int(now.timestamp() * 1000) << 16) | (0x7 << 12) | secrets.randbits(12)


def ordered_batch_prefix(now: datetime) -> int:
    """The high 96 bits of one batch's time-ordered ids: `ordered_id_prefix`, the RFC 4122
    variant and 30 random bits (two batches in the same millisecond stay apart); the low
    32 bits count the batch's rows."""
    return (ordered_id_prefix(now) << 32) | (0b10 << 30) | secrets.randbits(30)


def ordered_ids(now: datetime, count: int) -> list[uuid.UUID]:
    """`count` new time-ordered ids (see `ordered_batch_prefix`), in ascending order."""
    high = ordered_batch_prefix(now) << 32
    return [uuid.UUID(int=high | n) for n in range(count)]


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    PostgreSQL keeps `timestamptz` natively. SQLite has no such type and would drop the
    offset, so values are converted to UTC and stored without one; since every stored
    value is UTC, text order is time order and comparisons stay correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass a timezone-aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class json_object(FunctionElement):  # noqa: N801 (named like the SQL function it renders)
    """`json_object('key', value, ...)`: a JSON object built in SQL, on either database."""

    type = JSONType
    inherit_cache = True
    name = "json_object"


@compiles(json_object)
def _json_object_sqlite(element, compiler, **kw):
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_object_postgresql(element, compiler, **kw):
    return f"jsonb_build_object({compiler.process(element.clauses, **kw)})"


class comma_list(FunctionElement):  # noqa: N801
    """A text column's values joined by commas, in no set order, for values that cannot
    hold a comma (tags): string_agg on PostgreSQL, group_concat on SQLite."""

    type = String()
    inherit_cache = True
    name = "comma_list"


@compiles(comma_list, "postgresql")
def _comma_list_postgresql(element, compiler, **kw):
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_list)
def _comma_list_sqlite(element, compiler, **kw):
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


class id_list(FunctionElement):  # noqa: N801
    """An id column's values as one text, in no set order, for `among_ids` to read back: an
    array literal on PostgreSQL, a JSON array on SQLite."""

    type = String()
    inherit_cache = True
    name = "id_list"


@compiles(id_list, "postgresql")
def _id_list_postgresql(element, compiler, **kw):
    return f"CAST(array_agg({compiler.process(element.clauses, **kw)}) AS TEXT)"


@compiles(id_list)
def _id_list_sqlite(element, compiler, **kw):
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


class among_ids(FunctionElement):  # noqa: N801
    """`among_ids(column, listed)`: true where the column holds one of the ids in `listed`,
    a text `id_list` made or a parameter of type `IdList`; each id is found by the column's
    index."""

    type = Boolean()
    inherit_cache = True
    name = "among_ids"


@compiles(among_ids, "postgresql")
def _among_ids_postgresql(element, compiler, **kw):
    column, listed = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} = ANY(CAST({listed} AS UUID[]))"


@compiles(among_ids)
def _among_ids_sqlite(element, compiler, **kw):
    column, listed = (compiler.process(clause, **kw) for clause in element.clauses)
    # Both parts are compiled clauses (a column, a bound parameter), not text from outside.
    return f"{column} IN (SELECT value FROM json_each({listed}))"  # noqa: S608


class IdList(TypeDecorator):
    """A list of UUIDs sent as one parameter, for `among_ids`: a uuid[] on PostgreSQL, JSON
    text on SQLite. An `IN` list of a few thousand ids is as many parameters, each rendered,
    sent and parsed on its own: that took a third of a 5,000-customer rescore."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Uuid()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps([ident.hex for ident in value])  # as SQLite stores a Uuid


class iso_timestamp(FunctionElement):  # noqa: N801
    """A UTC timestamp as ISO 8601 text with all six fraction digits, as Python's
    `isoformat(timespec="microseconds")` writes it: the same text from either database,
    whatever the session's time zone (PostgreSQL's own JSON form trims trailing zeros)."""

    type = String()
    inherit_cache = True
    name = "iso_timestamp"


@compiles(iso_timestamp, "postgresql")
def _iso_timestamp_postgresql(element, compiler, **kw):
    value = compiler.process(element.clauses, **kw)
    return f"""to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


@compiles(iso_timestamp)
def _iso_timestamp_sqlite(element, compiler, **kw):
    # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text.
    value = compiler.process(element.clauses, **kw)
    return f"(replace({value}, ' ', 'T') || '+00:00')"


class floor_int(FunctionElement):  # noqa: N801
    """The largest whole number not above the value, as an integer, on either database
    (PostgreSQL's CAST rounds, SQLite's truncates)."""

    type = Integer()
    inherit_cache = True
    name = "floor_int"


@compiles(floor_int, "postgresql")
def _floor_int_postgresql(element, compiler, **kw):
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(floor_int)
def _floor_int_sqlite(element, compiler, **kw):
    value = compiler.process(element.clauses, **kw)
    return f"(CAST({value} AS INTEGER) - (({value}) < CAST({value} AS INTEGER)))"


class greatest(FunctionElement):  # noqa: N801
    """The larger of its arguments: GREATEST on PostgreSQL, max() on SQLite."""

    inherit_cache = True
    name = "greatest"


class least(FunctionElement):  # noqa: N801
    """The smaller of its arguments: LEAST on PostgreSQL, min() on SQLite."""

    inherit_cache = True
    name = "least"


@compiles(greatest)
@compiles(least)
def _extremum(element, compiler, **kw):
    return f"{element.name}({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
@compiles(least, "sqlite")
def _extremum_sqlite(element, compiler, **kw):
    # SQLite's max() and min() with several arguments are GREATEST and LEAST.
    name = {"greatest": "max", "least": "min"}[element.name]
    return f"{name}({compiler.process(element.clauses, **kw)})"
