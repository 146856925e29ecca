"""Segments: create, rename, delete, members by hand, and the members table."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from loyalty.extensions import db
from loyalty.models import Customer, CustomerSegment, CustomerSegmentMembership
from tests import factories

HTMX = {"HX-Request": "true"}


def make_segment(app, owner, name="Champions", members=()):
    with app.app_context():
        segment = CustomerSegment(user_id=owner.id, name=name)
        db.session.add(segment)
        db.session.flush()
        for customer_id in members:
            db.session.add(
                CustomerSegmentMembership(customer_id=customer_id, customer_segment_id=segment.id)
            )
        db.session.commit()
        return segment.id


def make_customers(app, owner, *specs):
    with app.app_context():
        ids = [factories.make_customer(db.session, owner, **spec).id for spec in specs]
        db.session.commit()
        return ids


def names_in(html):
    return re.findall(r'href="/customers/[0-9a-f-]{36}">([^<]+)</a>', html)


def test_empty_segments_page_explains_what_they_are(signed_in):
    html = signed_in.get("/segments").text
    assert "No segments yet" in html
    assert "New segment" in html


def test_create_segment_and_see_it_listed_with_stats(app, signed_in, user):
    response = signed_in.post("/segments", data={"name": "At risk VIPs", "description": "Watch"})
    assert response.status_code == 303
    segment_url = response.headers["Location"]
    [a, b] = make_customers(
        app, user, {"name": "A", "churn_risk_score": 80.0}, {"name": "B", "churn_risk_score": 40.0}
    )
    segment_id = segment_url.rsplit("/", 1)[1]
    signed_in.post(f"/segments/{segment_id}/members", data={"ids": [str(a), str(b)]})
    listing = signed_in.get("/segments").text
    assert "At risk VIPs" in listing
    assert re.search(r"Members</dt><dd[^>]*>2<", listing)
    assert re.search(r"Average risk</dt><dd[^>]*>60<", listing)


def test_segment_names_are_required_and_unique(app, signed_in, user):
    make_segment(app, user, "Trials")
    empty = signed_in.post("/segments", data={"name": " "})
    assert empty.status_code == 422
    assert "Give the segment a name." in empty.text
    taken = signed_in.post("/segments", data={"name": "trials"})
    assert taken.status_code == 422
    assert "You already have a segment with this name." in taken.text


def test_rename_and_delete_segment(app, signed_in, user):
    [c] = make_customers(app, user, {"name": "Stays"})
    segment_id = make_segment(app, user, "Old name", members=[c])
    renamed = signed_in.post(
        f"/segments/{segment_id}/edit", data={"name": "New name", "description": "Why"}
    )
    assert renamed.status_code == 303
    assert "New name" in signed_in.get(f"/segments/{segment_id}").text
    deleted = signed_in.post(f"/segments/{segment_id}/delete")
    assert deleted.headers["Location"] == "/segments"
    with app.app_context():
        assert db.session.get(CustomerSegment, segment_id) is None
        assert db.session.get(Customer, c) is not None


def test_members_page_uses_the_customer_table(app, signed_in, user):
    ids = make_customers(
        app, user, {"name": "In One", "churn_risk_score": 10.0}, {"name": "In Two"}, {"name": "Out"}
    )
    segment_id = make_segment(app, user, members=ids[:2])
    page = signed_in.get(f"/segments/{segment_id}?sort=name&dir=asc")
    assert names_in(page.text) == ["In One", "In Two"]
    fragment = signed_in.get(f"/segments/{segment_id}?sort=name&dir=desc", headers=HTMX)
    assert "<html" not in fragment.text
    assert names_in(fragment.text) == ["In Two", "In One"]
    filtered = signed_in.get(f"/segments/{segment_id}?q=two")
    assert names_in(filtered.text) == ["In Two"]


def test_customer_table_filters_by_segment(app, signed_in, user):
    ids = make_customers(app, user, {"name": "Member"}, {"name": "Outsider"})
    segment_id = make_segment(app, user, members=ids[:1])
    assert names_in(signed_in.get(f"/customers?segment={segment_id}").text) == ["Member"]


def test_add_and_remove_from_the_customer_page(app, signed_in, user):
    [c] = make_customers(app, user, {"name": "Pat"})
    segment_id = make_segment(app, user, "Loyal")
    added = signed_in.post(
        f"/customers/{c}/segments", data={"segment": str(segment_id)}, headers=HTMX
    )
    assert added.status_code == 200
    assert added.text.lstrip().startswith('<div id="customer-segments">')
    assert "Pat was added to Loyal." in added.text
    again = signed_in.post(
        f"/customers/{c}/segments", data={"segment": str(segment_id)}, headers=HTMX
    )
    assert again.status_code == 200
    removed = signed_in.post(
        f"/segments/{segment_id}/members/remove",
        data={"ids": str(c), "customer": str(c)},
        headers=HTMX,
    )
    assert "Not in any segment." in removed.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerSegmentMembership)) == 0


def test_an_automatic_segment_offers_and_takes_no_members_by_hand(app, signed_in, user):
    """Its criteria choose its members (the next refresh would undo a hand-made change): the
    pages offer no Add or Remove for it, and a change posted anyway is refused, unchanged."""
    pat, sam = make_customers(app, user, {"name": "Pat"}, {"name": "Sam"})
    manual_id = make_segment(app, user, "Call list", members=[sam])
    automatic_id = make_segment(app, user, "At risk", members=[pat])
    with app.app_context():
        segment = db.session.get(CustomerSegment, automatic_id)
        segment.is_automatic = True
        segment.criteria = {
            "match": "all",
            "rules": [{"field": "churn_risk", "op": "above", "value": 70}],
        }
        db.session.commit()

    page = signed_in.get(f"/customers/{pat}").text
    assert 'aria-label="Remove from At risk"' not in page and ">Automatic</span>" in page
    offered = re.search(r'<select id="add-to-segment".*?</select>', page, re.S).group(0)
    assert "Call list" in offered and "At risk" not in offered
    bulk = re.search(
        r'<select id="bulk-segment".*?</select>', signed_in.get("/customers").text, re.S
    )
    assert "Call list" in bulk.group(0) and "At risk" not in bulk.group(0)
    members = signed_in.get(f"/segments/{automatic_id}").text
    assert names_in(members) == ["Pat"]
    assert "Remove selected from this segment" not in members
    assert 'aria-label="Remove Pat from At risk"' not in members
    assert "Remove selected from this segment" in signed_in.get(f"/segments/{manual_id}").text

    refusal = "At risk is automatic: its criteria choose its members."
    joined = signed_in.post(
        f"/customers/{sam}/segments", data={"segment": str(automatic_id)}, headers=HTMX
    )
    assert refusal in joined.text and "was added" not in joined.text
    added = signed_in.post(
        "/customers/bulk",
        data={"action": "add_to_segment", "segment": str(automatic_id), "ids": str(sam)},
        headers={**HTMX, "HX-Current-URL": "http://localhost/customers"},
    )
    assert refusal in added.text
    row = signed_in.post(
        f"/segments/{automatic_id}/members/remove",
        data={"ids": str(pat)},
        headers={**HTMX, "HX-Target": f"customer-row-{pat}"},
    )
    assert row.headers.get("HX-Redirect") == f"/segments/{automatic_id}"  # the row stays
    assert refusal in signed_in.get(f"/segments/{automatic_id}").text
    with app.app_context():
        held = db.session.scalars(
            select(CustomerSegmentMembership.customer_id).where(
                CustomerSegmentMembership.customer_segment_id == automatic_id
            )
        )
        assert list(held) == [pat]


def test_remove_a_row_from_the_segment_page(app, signed_in, user):
    [c] = make_customers(app, user, {"name": "Row"})
    segment_id = make_segment(app, user, members=[c])
    response = signed_in.post(
        f"/segments/{segment_id}/members/remove",
        data={"ids": str(c)},
        headers={**HTMX, "HX-Target": f"customer-row-{c}"},
    )
    assert response.status_code == 200
    assert "<tr" not in response.text
    assert "Removed 1 customer from Champions." in response.text
    assert members_shown(response.text) == "0"  # the figures above the table follow


def members_shown(html: str) -> str:
    """The Members figure of a segment's stats swapped out-of-band."""
    stats = re.search(r'<dl id="segment-stats"[^>]*hx-swap-oob="true"[^>]*>(.*?)</dl>', html, re.S)
    return re.search(r"Members</dt><dd[^>]*>([^<]+)</dd>", stats.group(1)).group(1)


def test_removing_selected_members_updates_the_segments_figures(app, signed_in, user):
    ids = make_customers(app, user, {"name": "A"}, {"name": "B"}, {"name": "C"})
    segment_id = make_segment(app, user, members=ids)
    response = signed_in.post(
        f"/segments/{segment_id}/members/remove",
        data={"ids": [str(i) for i in ids[:2]]},
        headers={
            **HTMX,
            "HX-Target": "customer-table",
            "HX-Current-URL": f"http://localhost/segments/{segment_id}",
        },
    )
    assert names_in(response.text) == ["C"]
    assert members_shown(response.text) == "1"
    assert 'id="segment-stats"' in signed_in.get(f"/segments/{segment_id}").text


def test_remove_selected_with_nothing_selected_asks_to_select(app, signed_in, user):
    [c] = make_customers(app, user, {"name": "Stays"})
    segment_id = make_segment(app, user, members=[c])
    response = signed_in.post(
        f"/segments/{segment_id}/members/remove",
        data={},
        headers={**HTMX, "HX-Target": "customer-table"},
    )
    assert response.status_code == 200
    assert "Select at least one customer first." in response.text
    assert "Removed 0" not in response.text
    assert names_in(response.text) == ["Stays"]


def test_cross_account_memberships_are_impossible(app, signed_in, user):
    [mine] = make_customers(app, user, {"name": "Mine"})
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other).id
        their_segment = CustomerSegment(user_id=other.id, name="Theirs")
        db.session.add(their_segment)
        db.session.commit()
        their_segment_id = their_segment.id
    my_segment = make_segment(app, user, "Mine")
    assert signed_in.get(f"/segments/{their_segment_id}").status_code == 404
    assert (
        signed_in.post(f"/segments/{their_segment_id}/members", data={"ids": str(mine)}).status_code
        == 404
    )
    assert (
        signed_in.post(
            f"/customers/{mine}/segments", data={"segment": str(their_segment_id)}
        ).status_code
        == 404
    )
    signed_in.post(f"/segments/{my_segment}/members", data={"ids": str(theirs)})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerSegmentMembership)) == 0


def test_a_row_edited_on_the_segment_page_stays_a_member_row(app, signed_in, user):
    """After an inline edit (or its cancel) a member's row still offers Remove, not Delete."""
    [c] = make_customers(app, user, {"name": "Row", "external_customer_id": "row-1"})
    segment_id = make_segment(app, user, "Loyal", members=[c])
    page = signed_in.get(f"/segments/{segment_id}").text
    edit_url = re.search(r'hx-get="(/customers/[0-9a-f-]+/row/edit[^"]*)"', page).group(1)
    assert edit_url == f"/customers/{c}/row/edit?segment={segment_id}"
    form = signed_in.get(edit_url, headers=HTMX).text
    save_url = re.search(r'hx-post="([^"]+)"', form).group(1).replace("&amp;", "&")
    cancel_url = re.search(r'hx-get="([^"]+)"', form).group(1).replace("&amp;", "&")
    assert save_url == f"/customers/{c}/row?segment={segment_id}"

    cancelled = signed_in.get(cancel_url, headers=HTMX).text
    assert "Remove Row from Loyal" in cancelled and "Delete Row" not in cancelled
    prefix = f"c-{c.hex}-"
    fields = {"name": "Renamed", "email": "r@x.org", "external_customer_id": "row-1"}
    data = {f"{prefix}{k}": v for k, v in fields.items()}
    data |= {f"{prefix}signup_date": "2026-01-01", f"{prefix}tags": "", f"{prefix}version": "1"}
    saved = signed_in.post(save_url, data=data, headers=HTMX)
    assert saved.status_code == 200
    assert "Remove Renamed from Loyal" in saved.text and "Delete Renamed" not in saved.text
    # The customer table's own rows keep offering Delete.
    plain = signed_in.get(f"/customers/{c}/row", headers=HTMX).text
    assert "Delete Renamed" in plain and "Remove Renamed" not in plain


def test_a_row_asking_for_another_accounts_segment_is_404(app, signed_in, user):
    [c] = make_customers(app, user, {"name": "Mine"})
    with app.app_context():
        other = factories.make_user(db.session)
        db.session.commit()
    theirs = make_segment(app, other, "Theirs")
    assert signed_in.get(f"/customers/{c}/row?segment={theirs}", headers=HTMX).status_code == 404
    # An id that is not an id is no segment: the plain row.
    plain = signed_in.get(f"/customers/{c}/row?segment=nope", headers=HTMX)
    assert plain.status_code == 200 and "Delete Mine" in plain.text
