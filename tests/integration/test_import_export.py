"""Import a file (upload, map, check, import) and export the current view."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from sqlalchemy import func, select

from loyalty.extensions import db
from loyalty.models import Customer, CustomerSearch, CustomerTag, EngagementEvent, ImportUpload
from loyalty.services.scoring import rescore
from loyalty.types import utcnow
from tests import factories

HTMX = {"HX-Request": "true"}

GOOD_CSV = (
    "Customer ID;Full Name;Email Address;Created (UTC);Labels\n"
    "cus_1;Ada Lovelace;ADA@example.com;2026-01-05 10:00:00;vip, beta\n"
    "cus_2;Alan Turing;alan@example.com;1767225600;\n"
)


def upload(client, content: bytes | str, filename="customers.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/customers/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def review_url(response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def mapping_form(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(map-[a-z_]+)" value="([^"]*)"', html))


def count(app, model=Customer) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_upload_suggests_mapping_from_common_export_headers(signed_in):
    url = review_url(upload(signed_in, GOOD_CSV))
    html = signed_in.get(url).text
    mapping = mapping_form(html)
    assert mapping["map-external_customer_id"] == "Customer ID"
    assert mapping["map-name"] == "Full Name"
    assert mapping["map-email"] == "Email Address"
    assert mapping["map-signup_date"] == "Created (UTC)"
    assert mapping["map-tags"] == "Labels"
    assert "All 2 rows are ready to import." in html
    assert "Ada Lovelace" in html  # the sample rows


def test_clean_import_creates_customers_and_second_import_changes_nothing(app, signed_in):
    url = review_url(upload(signed_in, GOOD_CSV))
    mapping = mapping_form(signed_in.get(url).text)
    done = signed_in.post(url, data={**mapping, "mode": "all"})
    assert done.status_code == 303
    assert "Import finished: 2 added, 0 updated, 0 unchanged." in signed_in.get("/customers").text
    with app.app_context():
        ada = db.session.scalar(select(Customer).where(Customer.external_customer_id == "cus_1"))
        assert ada.email == "ada@example.com"
        assert ada.signup_date.isoformat() == "2026-01-05T10:00:00+00:00"
        assert sorted(t.tag for t in ada.tags) == ["beta", "vip"]
        assert ada.churn_risk_score == 50  # no history yet
        alan = db.session.scalar(select(Customer).where(Customer.external_customer_id == "cus_2"))
        assert alan.signup_date.isoformat() == "2026-01-01T00:00:00+00:00"
        assert db.session.scalar(select(func.count()).select_from(ImportUpload)) == 0

    again = review_url(upload(signed_in, GOOD_CSV))
    signed_in.post(again, data={**mapping_form(signed_in.get(again).text), "mode": "all"})
    assert "Import finished: 0 added, 0 updated, 2 unchanged." in signed_in.get("/customers").text
    assert count(app) == 2
    ada_page = signed_in.get(f"/customers/{ada.id}").text
    assert "No engagement recorded yet" in ada_page


def test_imported_customers_arrive_scored_as_a_rescore_would_score_them(
    app, signed_in, user, backend
):
    url = review_url(upload(signed_in, GOOD_CSV))
    signed_in.post(url, data={**mapping_form(signed_in.get(url).text), "mode": "all"})
    with app.app_context():
        stored = {
            c.external_customer_id: c.churn_risk_facts for c in db.session.scalars(select(Customer))
        }
        changed = rescore(db.session, user.id)
        db.session.commit()
        assert {
            c.external_customer_id: c.churn_risk_facts for c in db.session.scalars(select(Customer))
        } == stored
    # New rows need no write from the rescore after the import, on either database.
    assert changed == 0
    if backend == "postgresql":
        # The big import path (COPY): its ids grow in file order (UUIDv7-style), so indexes
        # on them append.
        with app.app_context():
            ids = list(
                db.session.scalars(select(Customer.id).order_by(Customer.external_customer_id))
            )
        assert [i.version for i in ids] == [7, 7] and ids == sorted(ids)


def test_an_import_that_moves_a_signup_date_rescores_that_customer(app, signed_in, user, backend):
    with app.app_context():
        now = utcnow()
        # A new customer quiet for 40 days: onboarding stalled...
        ada = factories.make_customer(
            db.session, user, external_customer_id="cus_1", signup_date=now - timedelta(days=5)
        )
        db.session.add(
            EngagementEvent(
                user_id=user.id,
                customer_id=ada.id,
                event_type="login",
                event_date=now - timedelta(days=40),
                details={},
            )
        )
        rescore(db.session, user.id)
        db.session.commit()
        before = ada.churn_risk_facts, ada.churn_risk_score
    # ...becomes a long-standing customer quiet for 40 days once the file's date says so.
    url = review_url(upload(signed_in, GOOD_CSV))
    signed_in.post(url, data={**mapping_form(signed_in.get(url).text), "mode": "all"})
    page = signed_in.get(f"/customers/{ada.id}").text
    assert "New customer, quiet" not in page
    assert "No activity in 40 days" in page
    with app.app_context():
        ada = db.session.get(Customer, ada.id)
        assert (ada.churn_risk_facts, ada.churn_risk_score) != before
        stored = ada.churn_risk_score
        changed = rescore(db.session, user.id, now=ada.churn_scored_at)
        assert db.session.get(Customer, ada.id).churn_risk_score == stored
        if backend == "postgresql":
            assert changed == 0  # the import left every score as a full rescore has it


def test_reimport_updates_instead_of_duplicating(app, signed_in, user):
    with app.app_context():
        factories.make_customer(db.session, user, external_customer_id="cus_1", name="Old Name")
        db.session.commit()
    url = review_url(upload(signed_in, GOOD_CSV))
    signed_in.post(url, data={**mapping_form(signed_in.get(url).text), "mode": "all"})
    assert "1 added, 1 updated" in signed_in.get("/customers").text
    with app.app_context():
        names = sorted(db.session.scalars(select(Customer.name)))
    assert names == ["Ada Lovelace", "Alan Turing"]


def test_search_follows_imports_edits_and_deletes_within_the_account(app, signed_in, user):
    """The search text lives beside the customer (customer_search, kept by the database):
    whatever writes a customer, the table's search finds it by what it is called now."""

    def found(text: str) -> list[str]:
        html = signed_in.get(f"/customers?q={text}").text
        names = re.findall(r'href="/customers/[0-9a-f-]{36}">([^<]+)</a>', html)
        count = re.search(r'id="match-count"[^>]*>\s*(\d+) customers? match', html)
        assert count and int(count[1]) == len(names), "the count says what the rows show"
        return names

    with app.app_context():
        factories.make_customer(db.session, user, external_customer_id="cus_1", name="Old Name")
        stranger = factories.make_user(db.session, "stranger@example.com")
        factories.make_customer(db.session, stranger, name="Ada Lovelace", email="ada@x.org")
        db.session.commit()
    assert found("old name") == ["Old Name"]
    url = review_url(upload(signed_in, GOOD_CSV))  # renames cus_1, adds cus_2
    signed_in.post(url, data={**mapping_form(signed_in.get(url).text), "mode": "all"})
    assert found("old name") == []
    assert found("lovelace") == ["Ada Lovelace"]  # ours only, not the stranger's
    assert found("CUS_2") == ["Alan Turing"]  # by external id
    with app.app_context():
        ada = db.session.scalar(select(Customer).where(Customer.external_customer_id == "cus_1"))
        ada_id, version = ada.id, str(ada.version)
        rescore(db.session, user.id)  # a score written leaves the search text as it was
        db.session.commit()
    assert found("ada@example") == ["Ada Lovelace"]
    edit = {"email": "countess@example.com", "external_customer_id": "cus_1", "version": version}
    edit |= {"name": "Countess Ada", "signup_date": "2026-01-05"}
    assert signed_in.post(f"/customers/{ada_id}/edit", data=edit).status_code == 303
    assert found("countess@") == ["Countess Ada"]
    assert found("ada@example") == []
    assert signed_in.post(f"/customers/{ada_id}/delete").status_code in (200, 303)
    assert found("countess") == []
    with app.app_context():  # one search text per customer, none left behind
        texts = db.session.scalar(select(func.count()).select_from(CustomerSearch))
        assert texts == db.session.scalar(select(func.count()).select_from(Customer)) == 2


def test_one_bad_row_writes_nothing_by_default(app, signed_in):
    content = GOOD_CSV + "cus_3;;not-an-email;31/02/2026;\ncus_1;Dup;dup@example.com;;\n"
    url = review_url(upload(signed_in, content))
    html = signed_in.get(url).text
    assert "2 of 4 rows are valid; 2 have problems." in html
    assert "&#39;not-an-email&#39; is not an e-mail address." in html
    assert "&#39;cus_1&#39; already appears in row 2." in html
    assert re.search(r"<td[^>]*>4</td><td[^>]*>Name</td><td[^>]*>Missing.</td>", html)

    refused = signed_in.post(url, data={**mapping_form(html), "mode": "all"}, headers=HTMX)
    assert refused.status_code == 422
    assert "Nothing was imported" in refused.text
    assert count(app) == 0

    skipped = signed_in.post(url, data={**mapping_form(html), "mode": "skip_invalid"})
    assert skipped.status_code == 303
    assert "2 added, 0 updated, 0 unchanged, 2 skipped" in signed_in.get("/customers").text
    assert count(app) == 2


def test_changing_the_mapping_rechecks_the_file(signed_in):
    content = "id,first,last,mail\n7,Grace,Hopper,grace@example.com\n"
    url = review_url(upload(signed_in, content))
    html = signed_in.get(url).text
    assert mapping_form(html)["map-name"] == ""
    assert mapping_form(html)["map-first_name"] == "first"
    fragment = signed_in.get(
        url + "?map-external_customer_id=id&map-name=&map-first_name=first&map-last_name=last"
        "&map-email=mail",
        headers=HTMX,
    )
    assert "<html" not in fragment.text
    assert "1 row is ready to import." in fragment.text
    missing = signed_in.get(url + "?map-external_customer_id=id&map-email=", headers=HTMX)
    assert "Choose the column that holds the e-mail." in missing.text


def test_json_import_array_or_wrapped(app, signed_in):
    payload = {
        "customers": [
            {
                "externalCustomerId": "j1",
                "name": "Json One",
                "email": "j1@example.com",
                "signupDate": "2026-02-01T09:00:00+02:00",
                "tags": ["Trial"],
            },
        ]
    }
    url = review_url(upload(signed_in, json.dumps(payload), "export.json"))
    html = signed_in.get(url).text
    assert "1 row is ready to import." in html
    signed_in.post(url, data={**mapping_form(html), "mode": "all"})
    with app.app_context():
        customer = db.session.scalar(select(Customer))
        assert customer.signup_date.isoformat() == "2026-02-01T07:00:00+00:00"
        assert [t.tag for t in customer.tags] == ["trial"]


def test_unreadable_files_get_clear_errors_and_write_nothing(app, signed_in):
    cases = [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "photo.csv", "binary file"),
        ("id,name,email\n1,Jos\xe9,x@y.z\n".encode("latin-1"), "latin.csv", "not UTF-8"),
        (b"", "empty.csv", "The file is empty"),
        (b"[" * 100000 + b"]" * 100000, "deep.json", "nested too deeply"),
        (b'{"a": 1', "broken.json", "The JSON is not valid"),
        (b'"just a string"', "str.json", "Expected a list of customers"),
    ]
    for content, name, message in cases:
        response = upload(signed_in, content, name)
        if response.status_code == 303:  # problems found while reading rows, after upload
            html = signed_in.get(response.headers["Location"], follow_redirects=True).text
        else:
            assert response.status_code == 422, name
            html = response.text
        assert message in html, name
    assert count(app) == 0


NO_ROWS = "The file has no rows to import: it needs a header row and at least one row"


def test_a_file_with_no_rows_is_refused_at_upload(app, signed_in):
    for content, name in [
        ("externalCustomerId,name,email\n", "header-only.csv"),
        ("[]", "empty-list.json"),
        ('{"customers": []}', "wrapped.json"),
    ]:
        response = upload(signed_in, content, name)
        assert response.status_code == 422, name
        assert NO_ROWS in response.text, name
        assert "Choose the column" not in response.text
    assert count(app) == 0
    assert count(app, ImportUpload) == 0


def test_an_upload_kept_from_before_with_no_rows_goes_back_to_the_upload(app, signed_in, user):
    with app.app_context():
        stored = ImportUpload(
            user_id=user.id, filename="x.csv", file_format="csv", size=6, content=b"id,a,b\n"
        )
        db.session.add(stored)
        db.session.commit()
        upload_id = stored.id
    page = signed_in.get(f"/customers/import/{upload_id}", follow_redirects=True)
    assert NO_ROWS in page.text
    assert "Import 0 customers" not in page.text


def test_counts_on_the_review_page_read_right_for_one(signed_in):
    one = "externalCustomerId,name,email\nc1,Ada,ada@example.com\n"
    html = signed_in.get(review_url(upload(signed_in, one))).text
    assert "1 row is ready to import." in html
    assert re.search(r">Import 1 customer</button>", html)

    one_bad = "externalCustomerId,name,email\nc1,Ada,not-an-email\n"
    html = signed_in.get(review_url(upload(signed_in, one_bad))).text
    assert "0 of 1 row is valid; 1 has problems." in html

    one_good_one_bad = one + "c2,Bob,not-an-email\n"
    html = signed_in.get(review_url(upload(signed_in, one_good_one_bad))).text
    assert "Import the 1 valid row and skip the rest" in html


def test_upload_without_a_file_says_so(signed_in):
    response = signed_in.post("/customers/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV or JSON file to import." in response.text


def test_oversized_upload_is_a_clear_413(make_app, user):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    response = upload(client, "id,name,email\n" + "x" * 5000)
    assert response.status_code == 413
    assert "That file is too large" in response.text


def test_another_accounts_upload_is_404(app, signed_in):
    with app.app_context():
        other = factories.make_user(db.session)
        stored = ImportUpload(
            user_id=other.id, filename="x.csv", file_format="csv", size=1, content=b"a"
        )
        db.session.add(stored)
        db.session.commit()
        upload_id = stored.id
    assert signed_in.get(f"/customers/import/{upload_id}").status_code == 404
    assert signed_in.post(f"/customers/import/{upload_id}", data={"mode": "all"}).status_code == 404


def test_export_the_filtered_view_as_csv_and_json(app, signed_in, user):
    with app.app_context():
        evil = factories.make_customer(
            db.session, user, name="=HYPERLINK(1)", churn_risk_score=80.0, external_customer_id="e1"
        )
        evil.tags.append(CustomerTag(tag="vip", user_id=user.id))
        evil.tags.append(CustomerTag(tag="at-risk", user_id=user.id))
        factories.make_customer(db.session, user, name="Calm", churn_risk_score=10.0)
        stranger = factories.make_user(db.session, email="stranger@example.com")
        factories.make_customer(db.session, stranger, name="Not yours", churn_risk_score=90.0)
        db.session.commit()
    response = signed_in.get("/customers/export.csv?band=high")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in rows] == ["'=HYPERLINK(1)"]
    assert rows[0]["tags"] == "at-risk, vip"
    assert rows[0]["churnRiskScore"] == "80"

    data = json.loads(signed_in.get("/customers/export.json?sort=name&dir=asc").text)
    assert [c["name"] for c in data] == ["=HYPERLINK(1)", "Calm"]
    assert data[0].keys() >= {"externalCustomerId", "signupDate", "churnRiskScore", "tags"}
    assert data[0]["tags"] == ["at-risk", "vip"] and data[1]["tags"] == []


def test_import_customers_command(app, runner, user, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(GOOD_CSV)
    result = runner.invoke(args=["import-customers", str(path), "--email", user.email])
    assert result.exit_code == 0, result.output
    assert "Imported: 2 added, 0 updated, 0 unchanged, 0 skipped." in result.output
    again = runner.invoke(args=["import-customers", str(path), "--email", user.email])
    assert "0 added, 0 updated, 2 unchanged" in again.output
    assert count(app) == 2


def test_import_command_refuses_a_file_with_errors(app, runner, user, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(GOOD_CSV + "cus_9;No Mail;;;\n")
    result = runner.invoke(args=["import-customers", str(path), "--email", user.email])
    assert result.exit_code != 0
    assert "row 4, email: Missing." in result.output
    assert "nothing was imported" in result.output
    assert count(app) == 0
    skipped = runner.invoke(
        args=["import-customers", str(path), "--email", user.email, "--skip-invalid"]
    )
    assert "2 added, 0 updated, 0 unchanged, 1 skipped" in skipped.output


def test_import_command_needs_a_known_account(runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(GOOD_CSV)
    result = runner.invoke(args=["import-customers", str(path), "--email", "ghost@example.com"])
    assert result.exit_code != 0
    assert "No account with the e-mail ghost@example.com." in result.output


def test_import_command_refuses_a_file_with_no_rows(app, runner, user, tmp_path):
    path = tmp_path / "header-only.csv"
    path.write_text("externalCustomerId,name,email\n")
    result = runner.invoke(args=["import-customers", str(path), "--email", user.email])
    assert result.exit_code != 0
    assert NO_ROWS in result.output
    assert count(app) == 0


def test_import_command_says_an_empty_file_is_empty(app, runner, user, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = runner.invoke(args=["import-customers", str(path), "--email", user.email])
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert "The file is empty: it needs a header row and at least one row." in result.output


def test_reimport_replaces_tags_with_the_files(app, signed_in, user):
    with app.app_context():
        ada = factories.make_customer(db.session, user, external_customer_id="cus_1")
        alan = factories.make_customer(db.session, user, external_customer_id="cus_2")
        db.session.add_all(
            [
                CustomerTag(customer_id=ada.id, user_id=user.id, tag="old"),
                CustomerTag(customer_id=ada.id, user_id=user.id, tag="vip"),
                CustomerTag(customer_id=alan.id, user_id=user.id, tag="gone"),
            ]
        )
        db.session.commit()
    url = review_url(upload(signed_in, GOOD_CSV))
    signed_in.post(url, data={**mapping_form(signed_in.get(url).text), "mode": "all"})
    with app.app_context():
        tags = sorted(
            (c.external_customer_id, t.tag)
            for c, t in db.session.execute(
                select(Customer, CustomerTag).join(
                    CustomerTag, CustomerTag.customer_id == Customer.id
                )
            )
        )
    # cus_1 lists "vip, beta": "old" goes, "beta" comes; cus_2 lists none: "gone" goes.
    assert tags == [("cus_1", "beta"), ("cus_1", "vip")]


def test_import_events_command_all_or_nothing(app, runner, user, tmp_path):
    with app.app_context():
        factories.make_customer(db.session, user, external_customer_id="ev-1")
        factories.make_customer(db.session, user, external_customer_id="ev-2")
        db.session.commit()
    good = tmp_path / "events.csv"
    good.write_text(
        "externalCustomerId,eventType,eventDate,feature\n"
        "ev-1,login,2026-11-01T10:00:00Z,\n"
        "ev-2,Feature Used,2026-11-02 09:30:00,reports\n"
    )
    bad = tmp_path / "events.json"
    bad.write_text(
        json.dumps(
            {
                "events": [
                    {"externalCustomerId": "ev-1", "eventType": "support_ticket"},
                    {"externalCustomerId": "nobody", "eventType": "login"},
                    {"externalCustomerId": "ev-2", "eventType": "bad type!"},
                ]
            }
        )
    )
    refused = runner.invoke(args=["import-events", str(bad), "--email", user.email])
    assert refused.exit_code != 0
    assert "2 events have problems; nothing was imported" in refused.output
    assert "row 2: externalCustomerId: No customer has this externalCustomerId." in refused.output
    assert count(app, EngagementEvent) == 0

    done = runner.invoke(args=["import-events", str(good), "--email", user.email])
    assert done.exit_code == 0, done.output
    assert "Imported 2 events, 0 skipped." in done.output
    kept = runner.invoke(args=["import-events", str(bad), "--email", user.email, "--skip-invalid"])
    assert "Imported 1 event, 2 skipped." in kept.output
    with app.app_context():
        events = {
            (e.event_type, json.dumps(e.details))
            for e in db.session.scalars(select(EngagementEvent))
        }
        assert events == {
            ("login", "{}"),
            ("feature_used", '{"feature": "reports"}'),
            ("support_ticket", "{}"),
        }
        scored = db.session.scalar(select(Customer).where(Customer.external_customer_id == "ev-2"))
        assert scored.last_engagement_date is not None


def test_import_events_command_refuses_a_file_with_no_rows(app, runner, user, tmp_path):
    for name, content in [
        ("events.csv", "externalCustomerId,eventType,eventDate\n"),
        ("events.json", "[]"),
    ]:
        path = tmp_path / name
        path.write_text(content)
        result = runner.invoke(args=["import-events", str(path), "--email", user.email])
        assert result.exit_code != 0, name
        assert NO_ROWS in result.output, name
