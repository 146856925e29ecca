"""The customer table, forms, inline edits, bulk actions and the customer page."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
)
from loyalty.services import customer_query
from loyalty.services import customers as customer_service
from loyalty.services.scoring import rescore
from loyalty.types import utcnow
from tests import factories

HTMX = {"HX-Request": "true"}


@pytest.fixture
def owner(app, user):
    """The signed-in account's user row, for adding data directly."""
    return user


def add_customers(app, owner, specs):
    with app.app_context():
        made = [factories.make_customer(db.session, owner, **spec) for spec in specs]
        db.session.commit()
        return [c.id for c in made]


def names_in(html: str) -> list[str]:
    return re.findall(r'href="/customers/[0-9a-f-]{36}">([^<]+)</a>', html)


def test_empty_account_offers_add_and_import(signed_in):
    page = signed_in.get("/customers")
    assert page.status_code == 200
    assert "No customers yet" in page.text
    assert 'href="/customers/new"' in page.text


def test_table_lists_only_the_accounts_customers(app, signed_in, owner):
    add_customers(app, owner, [{"name": "Ada Mine"}])
    with app.app_context():
        stranger = factories.make_user(db.session)
        factories.make_customer(db.session, stranger, name="Zed Theirs")
        db.session.commit()
    html = signed_in.get("/customers").text
    assert "Ada Mine" in html
    assert "Zed Theirs" not in html
    assert "1 customer" in html


def test_whole_account_count_is_exact_and_a_filtered_count_stops_at_the_cap(
    app, signed_in, owner, monkeypatch
):
    monkeypatch.setattr(customer_query, "COUNT_CAP", 2)
    ids = add_customers(app, owner, [{"name": f"Ada {n}"} for n in range(3)] + [{"name": "Bob"}])
    assert re.search(r"\b4 customers\b", signed_in.get("/customers").text)
    filtered = signed_in.get("/customers?q=ada").text
    assert "More than 2 customers match" in filtered
    with app.app_context():  # a whole segment's size is exact too
        segment = CustomerSegment(user_id=owner.id, name="Three Adas")
        db.session.add(segment)
        db.session.flush()
        db.session.add_all(
            CustomerSegmentMembership(customer_id=i, customer_segment_id=segment.id)
            for i in ids[:3]
        )
        db.session.commit()
        segment_id = segment.id
    assert "3 customers match" in signed_in.get(f"/customers?segment={segment_id}").text
    assert "3 customers match" in signed_in.get(f"/segments/{segment_id}").text
    narrowed = signed_in.get(f"/customers?segment={segment_id}&q=ada").text
    assert "More than 2 customers match" in narrowed
    assert re.search(r"\b1 customer matches\b", signed_in.get("/customers?q=bob").text)


def test_sorts_by_risk_descending_by_default_and_by_any_column(app, signed_in, owner):
    add_customers(
        app,
        owner,
        [
            {"name": "Bea", "churn_risk_score": 20.0, "email": "c@x.org"},
            {"name": "Cal", "churn_risk_score": 90.0, "email": "a@x.org"},
            {"name": "Abe", "churn_risk_score": 55.0, "email": "b@x.org"},
        ],
    )
    assert names_in(signed_in.get("/customers").text) == ["Cal", "Abe", "Bea"]
    assert names_in(signed_in.get("/customers?sort=name&dir=asc").text) == ["Abe", "Bea", "Cal"]
    assert names_in(signed_in.get("/customers?sort=name&dir=desc").text) == ["Cal", "Bea", "Abe"]
    assert names_in(signed_in.get("/customers?sort=email&dir=asc").text) == ["Cal", "Abe", "Bea"]
    assert names_in(signed_in.get("/customers?sort=risk&dir=asc").text) == ["Bea", "Abe", "Cal"]
    # The phone's sort menu names column and direction at once, over the form's own.
    menu = signed_in.get("/customers?sort=risk&dir=desc&order=email-asc", headers=HTMX)
    assert names_in(menu.text) == ["Cal", "Abe", "Bea"]
    assert menu.headers["HX-Push-Url"] == "/customers?sort=email&dir=asc"
    assert '<option value="email-asc" selected>' in menu.text
    for junk in ("email", "email-up", "password-asc", "-asc"):
        assert names_in(signed_in.get(f"/customers?order={junk}").text) == ["Cal", "Abe", "Bea"]


def test_filters_by_text_band_tag_and_dates(app, signed_in, owner):
    add_customers(
        app,
        owner,
        [
            {
                "name": "Old Vip",
                "churn_risk_score": 80.0,
                "signup_date": datetime(2024, 1, 10, tzinfo=UTC),
                "external_customer_id": "acme-1",
            },
            {
                "name": "New Trial",
                "churn_risk_score": 10.0,
                "signup_date": datetime(2026, 5, 1, tzinfo=UTC),
                "email": "trial@acme.io",
            },
        ],
    )
    with app.app_context():
        old = db.session.scalar(select(Customer).where(Customer.name == "Old Vip"))
        old.tags.append(CustomerTag(tag="vip", user_id=owner.id))
        db.session.commit()
    assert names_in(signed_in.get("/customers?q=acme").text) == ["Old Vip", "New Trial"]
    assert names_in(signed_in.get("/customers?q=TRIAL@").text) == ["New Trial"]
    assert names_in(signed_in.get("/customers?band=high").text) == ["Old Vip"]
    assert names_in(signed_in.get("/customers?tag=vip").text) == ["Old Vip"]
    assert names_in(signed_in.get("/customers?signup_from=2026-01-01").text) == ["New Trial"]
    assert names_in(signed_in.get("/customers?signup_to=2024-01-10").text) == ["Old Vip"]
    assert names_in(signed_in.get("/customers?never=1&q=old").text) == ["Old Vip"]


def test_text_filter_treats_wildcards_literally(app, signed_in, owner):
    add_customers(app, owner, [{"name": "100% Pure"}, {"name": "Plain"}])
    assert names_in(signed_in.get("/customers?q=%25").text) == ["100% Pure"]
    assert names_in(signed_in.get("/customers?q=P_ain").text) == []


def test_the_tag_menu_lists_the_accounts_own_tags_once_each_in_order(app, signed_in, owner):
    with app.app_context():
        stranger = factories.make_user(db.session)
        for account, tag_sets in ((owner, [["vip", "beta"], ["vip"]]), (stranger, [["secret"]])):
            for tags in tag_sets:
                customer = factories.make_customer(db.session, account)
                customer.tags.extend(CustomerTag(tag=t, user_id=account.id) for t in tags)
        db.session.commit()
    menu = signed_in.get("/customers").text.split('id="filter-tag"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', menu) == ["", "beta", "vip"]


def test_a_tag_filter_no_customer_has_still_shows_in_the_menu(app, signed_in, owner):
    add_customers(app, owner, [{"name": "Someone"}])
    html = signed_in.get("/customers?tag=ghost").text
    assert '<option value="ghost" selected>ghost</option>' in html
    assert "No customers match these filters" in html


def test_a_segment_filter_for_a_deleted_segment_says_so_in_the_menu(app, signed_in, owner):
    add_customers(app, owner, [{"name": "Someone"}])
    gone = "00000000-0000-4000-8000-000000000001"
    html = signed_in.get(f"/customers?segment={gone}").text
    assert f'<option value="{gone}" selected>A deleted segment</option>' in html
    assert "No customers match these filters" in html


def test_no_matches_offers_to_clear_filters(app, signed_in, owner):
    add_customers(app, owner, [{"name": "Someone"}])
    html = signed_in.get("/customers?q=nobody-like-this").text
    assert "No customers match these filters" in html
    assert "Clear filters" in html


@pytest.mark.parametrize(
    "narrowing",
    ["q=nobody", "signup_from=2000-01-01&signup_to=2000-01-02", "never=1", "band=high"],
)
def test_a_segment_filtered_to_nothing_says_so_rather_than_empty(app, signed_in, owner, narrowing):
    member = {
        "name": "Member",
        "signup_date": datetime(2026, 1, 5, tzinfo=UTC),
        "last_engagement_date": datetime(2026, 1, 6, tzinfo=UTC),
        "churn_risk_score": 10.0,
    }
    (customer_id,) = add_customers(app, owner, [member])
    with app.app_context():
        segment = CustomerSegment(user_id=owner.id, name="Has a member")
        db.session.add(segment)
        db.session.flush()
        db.session.add(
            CustomerSegmentMembership(customer_id=customer_id, customer_segment_id=segment.id)
        )
        db.session.commit()
        segment_id = segment.id
    assert "Member" in signed_in.get(f"/segments/{segment_id}").text
    html = signed_in.get(f"/segments/{segment_id}?{narrowing}").text
    assert "No customers match these filters" in html
    assert "No members yet" not in html


def test_a_customer_nothing_is_known_about_is_flagged_not_shown_as_a_risk(app, signed_in, owner):
    """The placeholder score of a customer with no events and no answers is not a medium
    risk: the table, an edited row and the customer page say there is no data yet."""
    quiet, busy = add_customers(app, owner, [{"name": "Quiet"}, {"name": "Busy"}])
    with app.app_context():
        db.session.add(
            EngagementEvent(
                user_id=owner.id, customer_id=busy, event_type="login", event_date=utcnow()
            )
        )
        rescore(db.session, owner.id)
        db.session.commit()

    def badge(html: str, customer_id) -> str:
        row = re.search(rf'<tr id="customer-row-{customer_id}".*?</tr>', html, re.S).group(0)
        return " ".join(re.sub(r"<[^>]+>", " ", row.split("</td>")[-3]).split())

    table = signed_in.get("/customers").text
    assert badge(table, quiet) == "50 no data yet, a starting guess"
    assert "no data" not in badge(table, busy) and "risk" in badge(table, busy)
    edited = signed_in.get(f"/customers/{quiet}/row", headers=HTMX).text
    assert "no data" in badge(edited, quiet)
    assert "no data</span>" in signed_in.get(f"/customers/{quiet}").text


def test_table_fragment_for_htmx_and_whole_page_otherwise(app, signed_in, owner):
    add_customers(app, owner, [{"name": "Frag"}])
    page = signed_in.get("/customers?sort=name")
    fragment = signed_in.get("/customers?sort=name", headers=HTMX)
    assert "<html" in page.text and 'id="customer-filters"' in page.text
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="customer-table"')
    assert "Frag" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_keyset_pages_walk_forward_and_back_without_gaps(app, signed_in, owner):
    add_customers(app, owner, [{"name": f"P{n:03d}", "churn_risk_score": 50.0} for n in range(60)])
    seen = []
    url = "/customers?sort=name&dir=asc&size=25"
    pages = []
    while url:
        html = signed_in.get(url).text
        names = names_in(html)
        pages.append((url, names))
        seen.extend(names)
        found = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"P{n:03d}" for n in range(60)]
    assert [len(names) for _url, names in pages] == [25, 25, 10]
    last_html = signed_in.get(pages[-1][0]).text
    previous = re.search(r'href="([^"]+)"[^>]*rel="prev"', last_html).group(1)
    assert names_in(signed_in.get(previous.replace("&amp;", "&")).text) == pages[1][1]


def test_keyset_pages_handle_ties_and_unscored_customers(app, signed_in, owner):
    add_customers(
        app,
        owner,
        [
            {"name": f"T{n:02d}", "churn_risk_score": (None if n % 3 == 0 else 40.0)}
            for n in range(30)
        ],
    )
    for direction in ("asc", "desc"):
        seen = []
        url = f"/customers?sort=risk&dir={direction}&size=25"
        while url:
            html = signed_in.get(url).text
            seen.extend(names_in(html))
            found = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
            url = found.group(1).replace("&amp;", "&") if found else None
        assert sorted(seen) == [f"T{n:02d}" for n in range(30)]


def _index_search_of(app, url: str, signed_in) -> str:
    """How the database finds the rows of the table page at `url`: the plan of its
    statement over customers, as PostgreSQL or SQLite explains it."""
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM customers" in statement and "LIMIT" in statement and "ORDER BY" in statement:
            captured.append((statement, parameters))

    engine = app.extensions["db"].engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert signed_in.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]  # a short last page goes on to the NULLs after it
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return " / ".join(row[-1] for row in plan if "customers" in row[-1])
        # A handful of rows: without these, PostgreSQL would rather read them all.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        [[plan]] = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        nodes, scans = [plan[0]["Plan"]], []
        while nodes:
            node = nodes.pop()
            nodes.extend(node.get("Plans", []))
            if node.get("Relation Name") == "customers":
                scans.append(f"{node['Index Name']}: {node.get('Index Cond', '')}")
        return " / ".join(scans)


@pytest.mark.parametrize(
    "sort, direction",
    [(sort, direction) for sort in customer_query.SORTABLE for direction in ("asc", "desc")],
)
def test_a_later_page_starts_from_its_cursor_in_the_index(app, signed_in, owner, sort, direction):
    """A keyset page is read from its cursor on in the sort's index, so a page in the
    middle of 100,000 customers costs what the first one does; the bound is no filter
    over every row before it (that took 440 ms for the middle page by name)."""
    add_customers(
        app,
        owner,
        [
            {
                "name": f"K{n:02d}",
                "churn_risk_score": 10.0 + n,
                "last_engagement_date": datetime(2026, 1, 1 + n, tzinfo=UTC),
            }
            for n in range(30)
        ],
    )
    first = signed_in.get(f"/customers?sort={sort}&dir={direction}&size=25").text
    later = re.search(r'href="([^"]+)"[^>]*rel="next"', first).group(1).replace("&amp;", "&")
    search = _index_search_of(app, later, signed_in)
    column = customer_query.SORTABLE[sort].key
    # PostgreSQL: "ix_customers_user_name: ((user_id = ...) AND (ROW((name)::text, id) > ...";
    # SQLite: "SEARCH customers USING INDEX ... (user_id=? AND (name,id)>(?,?))".
    bound = rf"\(user_id = .* AND .*\b{column}\b[^<>]*[<>]|\(user_id=\? AND \(?{column}\b[^<>]*[<>]"
    assert re.search(bound, search), search


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pages_cross_from_scored_to_unscored_customers_both_ways(app, signed_in, owner, direction):
    """Unscored customers come last lowest-first and first highest-first; a page that
    starts or ends among them, or crosses into them, leaves nobody out or in twice."""
    ids = add_customers(
        app,
        owner,
        [
            {"name": f"U{n:02d}", "churn_risk_score": None if n < 30 else float(n)}
            for n in range(40)
        ],
    )
    unscored = sorted((str(i), f"U{n:02d}") for n, i in enumerate(ids) if n < 30)
    scored = [f"U{n:02d}" for n in range(30, 40)]
    if direction == "asc":
        expected = scored + [name for _id, name in unscored]
    else:
        expected = [name for _id, name in reversed(unscored)] + scored[::-1]
    pages, url = [], f"/customers?sort=risk&dir={direction}&size=25"
    while url:
        html = signed_in.get(url).text
        pages.append((url, names_in(html)))
        found = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert [name for _url, names in pages for name in names] == expected
    back = re.search(r'href="([^"]+)"[^>]*rel="prev"', signed_in.get(pages[-1][0]).text)
    assert names_in(signed_in.get(back.group(1).replace("&amp;", "&")).text) == expected[:25]


@pytest.mark.parametrize("listed", [1000, 5], ids=["ids-listed", "too-many-to-list"])
def test_a_search_pages_alike_whether_its_matches_are_listed_or_searched_again(
    app, signed_in, owner, monkeypatch, listed
):
    """A search that matches few is looked up once (its ids come with its count); one that
    matches more searches again for each page. Both show the same pages and count."""
    monkeypatch.setattr(customer_query, "LISTED_MATCHES", listed)
    add_customers(
        app,
        owner,
        [
            {"name": f"Mia {n:02d}", "churn_risk_score": None if n % 4 == 0 else float(n % 3)}
            for n in range(30)
        ]
        + [{"name": f"Other {n}"} for n in range(5)],
    )
    with app.app_context():  # another account's Mia is not ours to find
        factories.make_customer(db.session, factories.make_user(db.session), name="Mia Theirs")
        db.session.commit()
    searches = []

    def note_search(_conn, _cursor, statement, *_args):
        searches.append("customer_search" in statement)

    engine = app.extensions["db"].engine
    for direction in ("asc", "desc"):
        url, seen, pages = f"/customers?q=mia&sort=risk&dir={direction}&size=25", [], []
        while url:
            searches.clear()
            event.listen(engine, "before_cursor_execute", note_search)
            try:
                html = signed_in.get(url).text
            finally:
                event.remove(engine, "before_cursor_execute", note_search)
            assert re.search(r'id="match-count"[^>]*>\s*30 customers match', html)
            # Listed: the count is the one statement that searches.
            assert searches.count(True) == (1 if listed == 1000 else 2)
            pages.append(names_in(html))
            seen += pages[-1]
            found = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
            url = found.group(1).replace("&amp;", "&") if found else None
        assert sorted(seen) == [f"Mia {n:02d}" for n in range(30)]
        assert [len(page) for page in pages] == [25, 5]
        previous = re.search(r'href="([^"]+)"[^>]*rel="prev"', html).group(1)
        assert names_in(signed_in.get(previous.replace("&amp;", "&")).text) == pages[0]
    searches.clear()
    event.listen(engine, "before_cursor_execute", note_search)
    try:
        html = signed_in.get("/customers?q=nobody").text
    finally:
        event.remove(engine, "before_cursor_execute", note_search)
    assert "No customers match" in html
    assert searches.count(True) == 1  # nothing matched, so no page is looked for


def test_a_forged_cursor_shows_an_empty_page_not_an_error(app, signed_in, owner):
    add_customers(app, owner, [{"name": "Cursor"}])
    response = signed_in.get("/customers?after=not-a-cursor")
    assert response.status_code == 200
    assert names_in(response.text) == []
    ident = "00000000-0000-0000-0000-000000000001"
    for sort, value in [("name", "a\u0000b"), ("signup", "2026-01-01T00:00:00"), ("risk", [])]:
        raw = json.dumps([value, ident]).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        for path in ("/customers", "/api/customers"):  # an empty page, not a 500
            response = signed_in.get(f"{path}?sort={sort}&after={cursor}")
            assert response.status_code == 200, (sort, path)


def test_table_runs_the_same_number_of_statements_for_5_or_50_rows(app, signed_in, owner):
    def statements_for(url):
        count = 0

        def count_it(*_args):
            nonlocal count
            count += 1

        engine = app.extensions["db"].engine
        event.listen(engine, "before_cursor_execute", count_it)
        try:
            assert signed_in.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count_it)
        return count

    add_customers(app, owner, [{"name": f"Q{n}"} for n in range(5)])
    few = statements_for("/customers")
    add_customers(app, owner, [{"name": f"R{n}"} for n in range(45)])
    many = statements_for("/customers")
    assert few == many
    assert many <= 10


def test_add_customer_with_form(signed_in):
    response = signed_in.post(
        "/customers/new",
        data={
            "external_customer_id": "cus_9",
            "name": "Grace Hopper",
            "email": "Grace@Example.COM",
            "signup_date": "2026-02-03",
            "tags": "VIP, trial, vip",
        },
    )
    assert response.status_code == 303
    detail = signed_in.get(response.headers["Location"])
    assert "Grace Hopper" in detail.text
    assert "grace@example.com" in detail.text
    assert ">trial<" in detail.text and ">vip<" in detail.text


def test_new_customer_forms_start_with_todays_signup_date(signed_in):
    today = datetime.now(UTC).date().isoformat()
    for page, field in (("/customers/new", "signup_date"), ("/", "quick-signup_date")):
        (date_input,) = re.findall(rf'<input[^>]*id="{field}"[^>]*>', signed_in.get(page).text)
        assert f'value="{today}"' in date_input


def test_add_customer_shows_field_errors(signed_in):
    response = signed_in.post(
        "/customers/new",
        data={"external_customer_id": "", "name": "", "email": "nope", "signup_date": "31/02/2026"},
    )
    assert response.status_code == 422
    assert "Enter the customer&#39;s name." in response.text
    assert "Enter a valid e-mail address" in response.text
    assert "Enter a date, like 2026-03-31." in response.text


def test_duplicate_external_id_is_a_clear_message(app, signed_in, owner):
    add_customers(app, owner, [{"external_customer_id": "dup-1"}])
    response = signed_in.post(
        "/customers/new",
        data={
            "external_customer_id": "dup-1",
            "name": "Twin",
            "email": "twin@x.org",
            "signup_date": "2026-01-01",
        },
    )
    assert response.status_code == 422
    assert "A customer with the external id &#39;dup-1&#39; already exists." in response.text


def test_same_external_id_is_fine_in_another_account(app, signed_in, owner):
    with app.app_context():
        other = factories.make_user(db.session)
        factories.make_customer(db.session, other, external_customer_id="shared-1")
        db.session.commit()
    response = signed_in.post(
        "/customers/new",
        data={
            "external_customer_id": "shared-1",
            "name": "Mine",
            "email": "m@x.org",
            "signup_date": "2026-01-01",
        },
    )
    assert response.status_code == 303


def test_other_accounts_customer_is_404_everywhere(app, signed_in):
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other).id
        db.session.commit()
    for method, url in [
        ("get", f"/customers/{theirs}"),
        ("get", f"/customers/{theirs}/edit"),
        ("post", f"/customers/{theirs}/edit"),
        ("get", f"/customers/{theirs}/row"),
        ("get", f"/customers/{theirs}/row/edit"),
        ("post", f"/customers/{theirs}/row"),
        ("post", f"/customers/{theirs}/delete"),
    ]:
        response = getattr(signed_in, method)(url, headers=HTMX)
        assert response.status_code == 404, url
    signed_in.post("/customers/bulk", data={"ids": [str(theirs)], "action": "delete"})
    with app.app_context():
        assert db.session.get(Customer, theirs) is not None


def test_two_rows_edited_at_once_have_fields_of_their_own(app, signed_in, owner):
    """Customers imported together have ids that start alike (time-ordered): their editors'
    field ids must still differ, or each label names the other row's field."""
    first, second = add_customers(
        app,
        owner,
        [
            {"id": uuid.UUID("01a24252-81bd-7000-8000-00000000000a"), "name": "One"},
            {"id": uuid.UUID("01a24252-81bd-7000-8000-00000000000b"), "name": "Two"},
        ],
    )
    ids = [
        set(
            re.findall(
                r'id="([^"]+)"', signed_in.get(f"/customers/{c}/row/edit", headers=HTMX).text
            )
        )
        for c in (first, second)
    ]
    assert ids[0] and not ids[0] & ids[1]


def test_inline_edit_swaps_the_row_with_errors_then_saves(app, signed_in, owner):
    [cid] = add_customers(app, owner, [{"name": "Inline", "external_customer_id": "in-1"}])
    prefix = f"c-{cid.hex}-"
    form = signed_in.get(f"/customers/{cid}/row/edit", headers=HTMX)
    assert form.status_code == 200
    assert f'name="{prefix}name"' in form.text
    assert "<html" not in form.text

    data = {
        f"{prefix}name": "",
        f"{prefix}email": "inline@x.org",
        f"{prefix}external_customer_id": "in-1",
        f"{prefix}signup_date": "2026-01-01",
        f"{prefix}tags": "",
        f"{prefix}version": "1",
    }
    bad = signed_in.post(f"/customers/{cid}/row", data=data, headers=HTMX)
    assert bad.status_code == 422
    assert "Enter the customer&#39;s name." in bad.text
    assert bad.text.lstrip().startswith(f'<tr id="customer-row-{cid}"')

    data[f"{prefix}name"] = "Renamed Inline"
    good = signed_in.post(f"/customers/{cid}/row", data=data, headers=HTMX)
    assert good.status_code == 200
    assert "Renamed Inline" in good.text
    assert "was saved" in good.text  # the toast, out of band


def test_stale_edit_is_refused_with_current_values(app, signed_in, owner):
    [cid] = add_customers(app, owner, [{"name": "Before"}])
    base = {"email": "s@x.org", "external_customer_id": "st-1", "signup_date": "2026-01-01"}
    first = signed_in.post(f"/customers/{cid}/edit", data={**base, "name": "First", "version": "1"})
    assert first.status_code == 303
    second = signed_in.post(
        f"/customers/{cid}/edit", data={**base, "name": "Second", "version": "1"}
    )
    assert second.status_code == 409
    assert "Someone else changed this customer" in second.text
    assert 'value="First"' in second.text
    with app.app_context():
        assert db.session.get(Customer, cid).name == "First"


def test_row_endpoints_send_a_browser_to_a_whole_page(app, signed_in, owner):
    [cid] = add_customers(app, owner, [{"name": "Direct"}])
    response = signed_in.get(f"/customers/{cid}/row/edit")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{cid}/edit"


def test_delete_from_row_and_from_page(app, signed_in, owner):
    first, second = add_customers(app, owner, [{"name": "Row Gone"}, {"name": "Page Gone"}])
    row = signed_in.post(
        f"/customers/{first}/delete", headers={**HTMX, "HX-Target": f"customer-row-{first}"}
    )
    assert row.status_code == 200
    assert "Row Gone was deleted." in row.text
    page = signed_in.post(f"/customers/{second}/delete")
    assert page.status_code == 303
    assert page.headers["Location"] == "/customers"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_row_deleted_in_place_updates_the_count_above_the_rows(app, signed_in, owner):
    """The count is swapped out-of-band with the view's own filters, as the table says it."""
    first, _, _ = add_customers(
        app, owner, [{"name": "Ann One"}, {"name": "Ann Two"}, {"name": "Bob"}]
    )
    response = signed_in.post(
        f"/customers/{first}/delete",
        headers={
            **HTMX,
            "HX-Target": f"customer-row-{first}",
            "HX-Current-URL": "http://localhost/customers?q=ann&sort=name",
        },
    )
    count = re.search(r'<p [^>]*id="match-count"[^>]*>(.*?)</p>', response.text, re.S)
    assert 'hx-swap-oob="true"' in count.group(0)
    assert " ".join(count.group(1).split()) == "1 customer matches"
    segment_id = make_segment_with(app, owner, [c for c in add_customers(app, owner, [{}])])
    [member] = segment_members(app, segment_id)
    removed = signed_in.post(
        f"/segments/{segment_id}/members/remove",
        data={"ids": str(member)},
        headers={
            **HTMX,
            "HX-Target": f"customer-row-{member}",
            "HX-Current-URL": f"http://localhost/segments/{segment_id}",
        },
    )
    assert re.search(r'id="match-count"[^>]*>\s*0 customers match\s*</p>', removed.text)


def make_segment_with(app, owner, members):
    with app.app_context():
        segment = CustomerSegment(user_id=owner.id, name="Few")
        db.session.add(segment)
        db.session.flush()
        customer_service.add_to_segment(db.session, segment, members)
        db.session.commit()
        return segment.id


def segment_members(app, segment_id):
    with app.app_context():
        return list(
            db.session.scalars(
                select(CustomerSegmentMembership.customer_id).where(
                    CustomerSegmentMembership.customer_segment_id == segment_id
                )
            )
        )


def test_bulk_delete_and_add_to_segment(app, signed_in, owner):
    ids = add_customers(app, owner, [{"name": f"B{n}"} for n in range(4)])
    with app.app_context():
        segment = CustomerSegment(user_id=owner.id, name="Champions")
        db.session.add(segment)
        db.session.commit()
        segment_id = segment.id
    headers = {**HTMX, "HX-Current-URL": "http://localhost/customers?sort=name&dir=asc"}
    added = signed_in.post(
        "/customers/bulk",
        data={
            "ids": [str(i) for i in ids[:3]],
            "action": "add_to_segment",
            "segment": str(segment_id),
        },
        headers=headers,
    )
    assert added.status_code == 200
    assert "Added 3 customers to Champions." in added.text
    again = signed_in.post(
        "/customers/bulk",
        data={
            "ids": [str(i) for i in ids[:3]],
            "action": "add_to_segment",
            "segment": str(segment_id),
        },
        headers=headers,
    )
    assert "Those customers were already in Champions." in again.text
    some = signed_in.post(
        "/customers/bulk",
        data={
            "ids": [str(i) for i in ids[2:4]],
            "action": "add_to_segment",
            "segment": str(segment_id),
        },
        headers=headers,
    )
    assert "Added 1 customer to Champions; 1 was already in it." in some.text
    deleted = signed_in.post(
        "/customers/bulk",
        data={"ids": [str(ids[0]), str(ids[3])], "action": "delete"},
        headers=headers,
    )
    assert "Deleted 2 customers." in deleted.text
    assert names_in(deleted.text) == ["B1", "B2"]
    with app.app_context():
        members = db.session.scalar(select(func.count()).select_from(CustomerSegmentMembership))
    assert members == 2


def test_bulk_add_to_another_accounts_segment_is_404(app, signed_in, owner):
    ids = add_customers(app, owner, [{"name": "Mine"}])
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = CustomerSegment(user_id=other.id, name="Theirs")
        db.session.add(theirs)
        db.session.commit()
        theirs_id = theirs.id
    response = signed_in.post(
        "/customers/bulk",
        data={"ids": [str(ids[0])], "action": "add_to_segment", "segment": str(theirs_id)},
        headers=HTMX,
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerSegmentMembership)) == 0


def test_detail_page_shows_profile_and_empty_sections(app, signed_in, owner):
    [cid] = add_customers(app, owner, [{"name": "Detail Person"}])
    html = signed_in.get(f"/customers/{cid}").text
    assert "Detail Person" in html
    assert "No engagement recorded yet." in html
    assert "Not in any segment." in html
    assert "No survey answers yet." in html


def test_unknown_customer_id_is_404(signed_in):
    assert signed_in.get(f"/customers/{uuid.uuid4()}").status_code == 404
    assert signed_in.get("/customers/not-a-uuid").status_code == 404
