"""Text a user or a customer typed comes out escaped on every page and fragment showing it."""

from __future__ import annotations

import base64
import io
import json

import pytest

from loyalty.extensions import db
from loyalty.models import (
    CustomerSegment,
    CustomerTag,
    EngagementEvent,
    FeedbackSurvey,
    SurveyInvitation,
    SurveyResponse,
)
from loyalty.services import tokens
from loyalty.types import utcnow
from tests import factories

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)>{{7*7}}{% raw %}'\""
RAW_MARKERS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
HTMX = {"HX-Request": "true"}


def test_payloads_are_escaped_everywhere(app, signed_in, user):
    with app.app_context():
        session = db.session
        customer = factories.make_customer(
            session, user, name=PAYLOAD, email="x@example.org", external_customer_id=PAYLOAD[:60]
        )
        session.add(CustomerTag(customer_id=customer.id, user_id=user.id, tag="<b>tag</b>"))
        segment = CustomerSegment(user_id=user.id, name=PAYLOAD, description=PAYLOAD)
        survey = FeedbackSurvey(
            user_id=user.id, title=PAYLOAD, description=PAYLOAD, kind="nps", question=PAYLOAD
        )
        session.add_all([segment, survey])
        session.flush()
        session.add_all(
            [
                EngagementEvent(
                    user_id=user.id,
                    customer_id=customer.id,
                    event_type="note",
                    event_date=utcnow(),
                    details={"text": PAYLOAD, PAYLOAD[:40]: PAYLOAD},
                ),
                SurveyResponse(
                    user_id=user.id,
                    customer_id=customer.id,
                    feedback_survey_id=survey.id,
                    response={"kind": "nps", "score": 3, "comment": PAYLOAD},
                ),
                SurveyInvitation(
                    user_id=user.id,
                    feedback_survey_id=survey.id,
                    customer_id=customer.id,
                    token="h" * 43,
                    email_to="x@example.org",
                    email_subject=PAYLOAD,
                    email_body=PAYLOAD,
                ),
            ]
        )
        tokens.create_token(session, user.id, PAYLOAD[:80])
        session.commit()
        ids = {"c": customer.id, "s": segment.id, "v": survey.id}
    pages = [
        ("/", {}),
        ("/customers", {}),
        ("/customers", HTMX),
        (f"/customers/{ids['c']}", {}),
        (f"/customers/{ids['c']}/row", HTMX),
        (f"/customers/{ids['c']}/row/edit", HTMX),
        (f"/customers/{ids['c']}/events", HTMX),
        (f"/customers/{ids['c']}/edit", {}),
        ("/segments", {}),
        (f"/segments/{ids['s']}", {}),
        ("/surveys", {}),
        (f"/surveys/{ids['v']}", {}),
        ("/surveys/outbox", {}),
        ("/account", {}),
    ]
    for url, headers in pages:
        response = signed_in.get(url, headers=headers)
        assert response.status_code == 200, url
        for marker in RAW_MARKERS:
            assert marker not in response.text, f"unescaped on {url}"
        assert "<b>tag</b>" not in response.text, url
    detail = signed_in.get(f"/customers/{ids['c']}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "{{7*7}}" in detail  # shown as typed, never evaluated
    public = app.test_client().get("/s/" + "h" * 43).text
    for marker in RAW_MARKERS:
        assert marker not in public
    assert "{{7*7}}" in public


def assert_escaped(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"unescaped on {where}"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, f"payload not shown on {where}"


def upload(client, content: str, filename: str):
    response = client.post(
        "/customers/import",
        data={"file": (io.BytesIO(content.encode()), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def test_import_headers_cells_and_json_keys_are_escaped_in_the_review(signed_in):
    """A file's column names, sample cells and the error report show what the file holds."""
    cell = PAYLOAD.replace('"', "").replace("'", "")
    csv_text = f"externalCustomerId,name,email,{cell}\nc1,{cell},not-an-email,{cell}\n"
    json_text = json.dumps([{"externalCustomerId": "c1", "name": PAYLOAD, PAYLOAD: PAYLOAD}])
    for filename, content in (("hostile.csv", csv_text), ("hostile.json", json_text)):
        url = upload(signed_in, content, filename)
        review = signed_in.get(url)
        assert review.status_code == 200
        assert_escaped(review.text, f"review of {filename}")
        refused = signed_in.post(url, data={"mode": "all"}, headers=HTMX)
        assert refused.status_code == 422
        assert_escaped(refused.text, f"refused import of {filename}")
        assert "{{7*7}}" in review.text  # shown as typed, never evaluated


# PostgreSQL text cannot hold U+0000; SQLite can. Every door refuses it, on both databases.
NUL = "a\x00b"
NUL_SAID = "Contains a NUL character (\\u0000), which text cannot hold."
# JSON may escape half of a UTF-16 pair on its own ("\ud800"): no UTF-8 text can hold it,
# so neither database nor any page can. It was a 500 at every JSON door.
SURROGATE = "a\ud800b"
SURROGATE_SAID = "Contains half of a character (a lone \\ud800-\\udfff escape), which is not text."


@pytest.mark.parametrize(("text", "said"), [(NUL, NUL_SAID), (SURROGATE, SURROGATE_SAID)])
def test_unstorable_text_in_json_is_a_422_and_writes_nothing(app, user, text, said):
    with app.app_context():
        _row, secret = tokens.create_token(db.session, user.id, "nul")
        customer = factories.make_customer(db.session, user, external_customer_id="cus_1")
        db.session.commit()
        customer_id = customer.id
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    bodies = [
        ("post", "/api/customers", {"externalCustomerId": "n1", "name": text, "email": "n@x.org"}),
        ("patch", f"/api/customers/{customer_id}", {"name": text}),
        (
            "post",
            f"/api/customers/{customer_id}/events",
            {"eventType": "note", "details": {text: 1}},
        ),
        (
            "post",
            "/api/events",
            {
                "events": [
                    {"externalCustomerId": "cus_1", "eventType": "note", "details": {"t": text}}
                ]
            },
        ),
        ("post", "/api/events", {"events": [{"externalCustomerId": text, "eventType": "note"}]}),
        ("post", "/api/segments", {"name": text}),
        ("post", "/api/surveys", {"title": text, "kind": "nps"}),
    ]
    for method, path, body in bodies:
        response = getattr(api, method)(path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.mimetype == "application/problem+json"
        assert response.json["errors"] == {"": said}
    with app.app_context():
        assert db.session.query(EngagementEvent).count() == 0
        assert db.session.get(type(customer), customer_id).name == customer.name


def test_a_json_file_with_half_a_character_is_refused_at_upload(signed_in):
    """Its rows could not even be shown for review (the page failed to encode)."""
    response = signed_in.post(
        "/customers/import",
        data={
            "file": (
                io.BytesIO(
                    b'[{"externalCustomerId": "c1", "name": "a\\ud800b", "email": "a@x.org"}]'
                ),
                "customers.json",
            )
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "half of a character" in response.text
    assert "No customers yet" in signed_in.get("/customers").text


def test_a_cursor_holding_half_a_character_is_refused(app, user, signed_in):
    """A crafted page cursor reached the database, which could not encode it: a 500."""
    with app.app_context():
        _row, secret = tokens.create_token(db.session, user.id, "cursor")
        db.session.commit()
    raw = b'["a\\ud800", "00000000-0000-0000-0000-000000000000"]'
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    page = signed_in.get(f"/customers?sort=name&dir=asc&after={cursor}")
    assert page.status_code == 200
    api = app.test_client().get(
        f"/api/customers?sort=name&cursor={cursor}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert api.status_code == 422
    assert api.mimetype == "application/problem+json"


def test_nul_characters_in_forms_and_query_strings_are_a_400(signed_in):
    form = {
        "name": NUL,
        "email": "a@x.org",
        "external_customer_id": "f1",
        "signup_date": "2026-01-01",
    }
    page = signed_in.post("/customers/new", data=form)
    assert page.status_code == 400
    assert "Something in that request was off" in page.text
    assert signed_in.get("/customers?q=a%00b").status_code == 400
    api = signed_in.get("/api/customers?q=a%00b")
    assert api.status_code == 400 and api.json["detail"] == NUL_SAID
    assert signed_in.get("/customers").status_code == 200  # nothing was added
    assert "No customers yet" in signed_in.get("/customers").text


def test_nul_characters_in_an_imported_file_are_row_errors(signed_in):
    """Past the first 4 KB (where a NUL byte marks a binary file) a NUL is a cell's problem."""
    rows = [f"c{n},Person {n},p{n}@example.org" for n in range(200)]
    rows[150] = f"c150,{NUL},p150@example.org"
    url = upload(signed_in, "externalCustomerId,name,email\n" + "\n".join(rows) + "\n", "c.csv")
    refused = signed_in.post(url, data={"mode": "all"}, headers=HTMX)
    assert refused.status_code == 422
    assert "which text cannot hold" in refused.text
    assert "No customers yet" in signed_in.get("/customers").text


def test_nul_characters_in_an_events_file_are_row_problems(app, user, tmp_path):
    with app.app_context():
        factories.make_customer(db.session, user, external_customer_id="cus_1")
        db.session.commit()
        email = user.email
    path = tmp_path / "events.csv"
    fine = "cus_1,note,fine enough\n" * 300  # past the first 4 KB, which must look like text
    path.write_text(f"externalCustomerId,eventType,note\n{fine}cus_1,note,{NUL}\n")
    result = app.test_cli_runner().invoke(args=["import-events", str(path), "--email", email])
    assert result.exit_code != 0
    assert "row 302" in result.output and "which text cannot hold" in result.output
    assert "nothing was imported" in result.output
    with app.app_context():
        assert db.session.query(EngagementEvent).count() == 0
