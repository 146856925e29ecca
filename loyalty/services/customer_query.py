"""One query builder for every list of customers: filters, sort, keyset pages, capped count.

The customer table, a segment's member list, exports and the API all read customers
through `CustomerQuery`, so they agree on what a filter means.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import namedtuple
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, raiseload

from loyalty.domain.bands import band_bounds
from loyalty.domain.importing import text_problem
from loyalty.models import (
    Customer,
    CustomerSearch,
    CustomerSegmentMembership,
    CustomerTag,
    ScoreCount,
    SegmentCount,
)
from loyalty.types import among_ids, comma_list, id_list

# Column name in URLs -> the column it sorts by.
SORTABLE = {
    "name": Customer.name,
    "email": Customer.email,
    "external_id": Customer.external_customer_id,
    "signup": Customer.signup_date,
    "last_engagement": Customer.last_engagement_date,
    "risk": Customer.churn_risk_score,
}
DEFAULT_SORT = "risk"
DEFAULT_DIRECTION = "desc"
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# Counting every match of a broad filter over 100,000 rows costs more than it tells:
# beyond this many the page says "more than 10,000".
COUNT_CAP = 10_000
# A search that matches no more than this many customers is looked up once per page: its
# count brings their ids, and the page finds them in customers by primary key.
LISTED_MATCHES = 1000
STREAM_BATCH = 2000  # rows fetched at a time when every match is read (exports)

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class CustomerFilters:
    """What narrows a list of customers; every field is optional."""

    text: str = ""
    band: str = ""
    segment_id: uuid.UUID | None = None
    tag: str = ""
    signup_from: datetime | None = None
    signup_to: datetime | None = None
    engaged_from: datetime | None = None
    engaged_to: datetime | None = None
    never_engaged: bool = False

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return self != CustomerFilters()

    @property
    def narrowed(self) -> bool:
        """True when a filter other than the segment is set (a search within it)."""
        return self != CustomerFilters(segment_id=self.segment_id)

    @property
    def without_text(self) -> CustomerFilters:
        """The same filters without the free-text search (the others fold away on a phone)."""
        return replace(self, text="")


@dataclass(frozen=True)
class CustomerQuery:
    """A view of the customer list: filters, sort, page size and the page's position."""

    filters: CustomerFilters = field(default_factory=CustomerFilters)
    sort: str = DEFAULT_SORT
    direction: Direction = DEFAULT_DIRECTION
    page_size: int = DEFAULT_PAGE_SIZE
    after: str = ""
    before: str = ""

    def first_page(self) -> CustomerQuery:
        """The same view from its first page."""
        return replace(self, after="", before="")


# What a row of the customer table shows. The table reads these columns as plain rows
# (attribute access by the same names), not as whole customers: building ORM objects took
# more time than the query itself.
_FACTS = Customer.churn_risk_facts
TABLE_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.email,
    Customer.external_customer_id,
    Customer.signup_date,
    Customer.last_engagement_date,
    Customer.churn_risk_score,
    # scoring.knows_nothing in SQL (the rows are tuples, not Customers): flagged, not a risk.
    and_(
        _FACTS["event_count"].as_integer() == 0,
        _FACTS["latest_nps"].as_integer().is_(None),
        _FACTS["latest_satisfaction"].as_integer().is_(None),
    ).label("knows_nothing"),
)
TableRow = namedtuple("TableRow", [column.key for column in TABLE_COLUMNS])


@dataclass(frozen=True)
class CustomerPage:
    """One page of customers and how to reach its neighbours."""

    customers: Sequence  # whole Customers, or rows of TABLE_COLUMNS (see customer_page)
    tags: dict[uuid.UUID, list[str]]  # each customer's tag names, sorted
    next_cursor: str
    previous_cursor: str
    total: int
    total_capped: bool


def filtered(
    statement: Select, filters: CustomerFilters, matched: ColumnElement[bool] | None = None
) -> Select:
    """Add the filters to a select over Customer (account scoping is added by the session).

    `matched`, where given, stands in for the free-text search: the customers it was found
    to match (see `search_matches`).
    """
    conditions = []
    if matched is not None:
        conditions.append(matched)
    elif filters.text.strip():
        conditions.append(Customer.id.in_(_text_matches(filters.text)))
    if filters.band:
        low, high = band_bounds(filters.band)
        conditions.append(Customer.churn_risk_score >= low)
        if high is not None:
            conditions.append(Customer.churn_risk_score < high)
    if filters.segment_id is not None:
        conditions.append(
            exists().where(
                CustomerSegmentMembership.customer_id == Customer.id,
                CustomerSegmentMembership.customer_segment_id == filters.segment_id,
            )
        )
    if filters.tag:
        conditions.append(
            exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == filters.tag)
        )
    if filters.signup_from:
        conditions.append(Customer.signup_date >= filters.signup_from)
    if filters.signup_to:
        conditions.append(Customer.signup_date <= filters.signup_to)
    if filters.never_engaged:
        conditions.append(Customer.last_engagement_date.is_(None))
    if filters.engaged_from:
        conditions.append(Customer.last_engagement_date >= filters.engaged_from)
    if filters.engaged_to:
        conditions.append(Customer.last_engagement_date <= filters.engaged_to)
    return statement.where(*conditions) if conditions else statement


def encode_cursor(customer: Customer, sort: str) -> str:
    """Where a page ends (or starts), for the next (or previous) page to go on from."""
    value = getattr(customer, SORTABLE[sort].key)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, str(customer.id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def is_cursor(cursor: str, sort: str) -> bool:
    """True when `cursor` is one this list makes for `sort` (the API refuses any other)."""
    return _decode_cursor(cursor, sort) is not None


def _decode_cursor(cursor: str, sort: str) -> tuple[object, uuid.UUID] | None:
    """The (sort value, id) a cursor points at, or None for a cursor that makes no sense."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, ident = json.loads(raw)
        ident = uuid.UUID(ident)
        if value is not None and sort in ("signup", "last_engagement"):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:  # not one of ours: every timestamp we write has one
                return None
        elif value is not None and sort == "risk":
            value = float(value)
        elif value is not None and (not isinstance(value, str) or text_problem(value)):
            return None
    except (ValueError, TypeError):
        return None
    return value, ident


def _beyond(sort: str, ascending: bool, value: object, ident: uuid.UUID) -> tuple:
    """Rows that come after (value, ident) in this order (NULLs last ascending, first
    descending), as conditions each read in order from the (user_id, column, id) index:
    the page is filled from the first, then from the next where the first runs out.

    That NULL placement is PostgreSQL's own for an index read forwards or backwards, and
    SQLite is told to do the same. One condition with an OR for the NULLs would not bound
    the index scan: PostgreSQL would read the account from its first row to the cursor.
    """
    column = SORTABLE[sort]
    if value is None:
        if ascending:
            return (and_(column.is_(None), Customer.id > ident),)
        return (and_(column.is_(None), Customer.id < ident), column.is_not(None))
    if ascending:
        after = tuple_(column, Customer.id) > tuple_(value, ident)
        return (after, column.is_(None)) if column.nullable else (after,)
    return (tuple_(column, Customer.id) < tuple_(value, ident),)


def ordered(statement: Select, sort: str, ascending: bool) -> Select:
    """The table's order for `sort` (ties broken by id), which its indexes read in order."""
    column = SORTABLE[sort]
    if ascending:
        return statement.order_by(column.asc().nulls_last(), Customer.id.asc())
    return statement.order_by(column.desc().nulls_first(), Customer.id.desc())


def _text_matches(text: str) -> Select:
    """The ids of the customers whose name, e-mail or external id contains `text`."""
    text = text.strip().lower()
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return select(CustomerSearch.customer_id).where(
        CustomerSearch.search_text.like(pattern, escape="\\")
    )


def count_matches(session: Session, filters: CustomerFilters, cap: int = COUNT_CAP) -> int:
    """How many customers match, counting no further than `cap` + 1."""
    limited = filtered(select(Customer.id), filters).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(limited)) or 0


def search_matches(session: Session, text: str, cap: int = COUNT_CAP) -> tuple[int, str | None]:
    """How many customers a search matches, counting no further than `cap` + 1, and, when
    there are no more than LISTED_MATCHES, their ids as one `id_list` text ("" for none;
    None when there are more).

    It counts in the search table (a row per customer, kept by triggers), without looking
    each match up in customers. The ids stay text: turning hundreds into UUIDs and back
    cost more than the search they spare.
    """
    limited = _text_matches(text).limit(cap + 1).subquery()
    count = func.count()
    ids = case((count <= LISTED_MATCHES, id_list(limited.c.customer_id)))
    total, listed = session.execute(select(count, ids).select_from(limited)).one()
    if total > LISTED_MATCHES:
        return total, None
    return total, listed if total else ""


def account_customer_count(session: Session) -> int:
    """How many customers the account has, exactly, from the counts the database keeps."""
    return session.scalar(select(func.coalesce(func.sum(ScoreCount.customers), 0))) or 0


def matching_total(session: Session, filters: CustomerFilters) -> tuple[int, bool]:
    """How many customers `filters` match, as the table's count says it: (total, capped)."""
    total, capped, _listed = _total(session, filters)
    return total, capped


def _total(session: Session, filters: CustomerFilters) -> tuple[int, bool, str | None]:
    """(total, capped, the matches' ids when a search alone found few enough, else None)."""
    # The whole account and a whole segment have exact sizes the database keeps.
    if not filters.active:
        return account_customer_count(session), False, None
    if not filters.narrowed:
        counts = session.get(SegmentCount, filters.segment_id)
        return (counts.members if counts else 0), False, None
    listed = None
    if filters == CustomerFilters(text=filters.text):
        total, listed = search_matches(session, filters.text)
    else:
        total = count_matches(session, filters)
    return min(total, COUNT_CAP), total > COUNT_CAP, listed


def customer_page(session: Session, query: CustomerQuery, whole: bool = False) -> CustomerPage:
    """One page of the list, found by keyset (fast at any depth), with a capped count.

    Its customers are rows of TABLE_COLUMNS, or whole Customer objects when `whole`.
    A search alone is counted first, and where it matches few enough, the page looks its
    matches up by id instead of searching again.
    """
    sort = query.sort if query.sort in SORTABLE else DEFAULT_SORT
    ascending = query.direction == "asc"
    if whole:
        shown = select(Customer, _tag_names()).options(raiseload(Customer.tags))
    else:
        shown = select(*TABLE_COLUMNS, _tag_names())
    total, capped, listed = _total(session, query.filters)
    matched = None if listed is None else among_ids(Customer.id, listed)
    statement = filtered(shown, query.filters, matched)

    backwards = bool(query.before) and not query.after
    parts: tuple = (None,)  # a first page: from the start of the order
    if query.after or query.before:
        cursor = _decode_cursor(query.before if backwards else query.after, sort)
        # Going back: walk the opposite order from the cursor, then flip the page.
        parts = (false(),) if cursor is None else _beyond(sort, ascending != backwards, *cursor)
    found: list = []
    # A search that matches no one has no page to look for.
    for part in () if listed == "" else parts:  # a second statement only across NULLs
        wanted = query.page_size + 1 - len(found)
        within = statement if part is None else statement.where(part)
        page = ordered(within, sort, ascending != backwards).limit(wanted)
        found += session.execute(page).all()
        if len(found) > query.page_size:
            break

    has_more = len(found) > query.page_size
    found = found[: query.page_size]
    if backwards:
        found.reverse()
    rows = [row[0] for row in found] if whole else [TableRow(*row[:-1]) for row in found]
    names = (row[-1] for row in found)  # the tags, last in each row
    tags = {row.id: _tag_list(n) for row, n in zip(rows, names, strict=True)}
    at_start = not (query.after or query.before) or (backwards and not has_more)
    at_end = not has_more and not backwards
    return CustomerPage(
        customers=rows,
        tags=tags,
        next_cursor="" if at_end or not rows else encode_cursor(rows[-1], sort),
        previous_cursor="" if at_start or not rows else encode_cursor(rows[0], sort),
        total=total,
        total_capped=capped,
    )


def all_matching(
    session: Session, filters: CustomerFilters, sort: str, direction: Direction
) -> Iterator[tuple[TableRow, list[str]]]:
    """Every matching customer in order with their sorted tags, streamed (for exports)."""
    statement = ordered(
        filtered(select(*TABLE_COLUMNS, _tag_names()), filters), sort, direction == "asc"
    )
    for row in session.execute(statement.execution_options(yield_per=STREAM_BATCH)):
        yield TableRow(*row[:-1]), _tag_list(row[-1])


def _tag_names():
    """A customer's tags as one comma-joined text column of the customers' own query:
    loading them as related objects took longer than the customers themselves."""
    return (
        select(comma_list(CustomerTag.tag))
        .where(CustomerTag.customer_id == Customer.id)
        .scalar_subquery()
    )


def _tag_list(names: str | None) -> list[str]:
    return sorted(names.split(",")) if names else []
