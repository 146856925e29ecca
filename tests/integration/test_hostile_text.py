"""Text a user or a customer typed comes out escaped on every page and fragment showing it."""

from __future__ import annotations

from loyalty.extensions import db
from loyalty.models import (
    CustomerSegment,
    CustomerTag,
    EngagementEvent,
    FeedbackSurvey,
    SurveyInvitation,
    SurveyResponse,
)
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
