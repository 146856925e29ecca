"""Surveys: create, send personal links, the outbox, the public form, embeds and results."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from loyalty.db import scope_session_to_account
from loyalty.domain.surveys import embed_signature
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    EngagementEvent,
    FeedbackSurvey,
    SurveyCount,
    SurveyInvitation,
    SurveyResponse,
    User,
)
from loyalty.services import customers as customer_service
from loyalty.services import surveys as survey_service
from loyalty.types import utcnow
from tests import factories
from tests.integration.test_segments import HTMX, make_customers, make_segment


def make_survey(app, owner, title="How are we doing?", kind="nps", question="Recommend us?"):
    with app.app_context():
        survey = FeedbackSurvey(user_id=owner.id, title=title, kind=kind, question=question)
        db.session.add(survey)
        db.session.commit()
        return survey.id


def invitations(app, survey_id):
    with app.app_context():
        return list(
            db.session.scalars(
                select(SurveyInvitation)
                .where(SurveyInvitation.feedback_survey_id == survey_id)
                .order_by(SurveyInvitation.email_to)
            )
        )


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def link_path(invitation):
    return f"/s/{invitation.token}"


@pytest.fixture
def pat(app, user):
    [pat] = make_customers(
        app,
        user,
        {"name": "Pat Lee", "email": "pat@example.org", "external_customer_id": "cus_pat"},
    )
    return pat


def test_new_account_sees_what_surveys_are_for(signed_in):
    page = signed_in.get("/surveys").text
    assert "No surveys yet" in page
    assert "Create survey" in page


def test_create_survey_validates_and_fills_the_usual_question(app, signed_in, user):
    empty = signed_in.post("/surveys", data={"title": " ", "kind": "nps"}, headers=HTMX)
    assert empty.status_code == 422
    assert "Give the survey a title." in empty.text
    bad_kind = signed_in.post("/surveys", data={"title": "T", "kind": "poll"}, headers=HTMX)
    assert bad_kind.status_code == 422
    assert "Not a valid choice" in bad_kind.text
    created = signed_in.post("/surveys", data={"title": "Quarterly NPS", "kind": "nps"})
    assert created.status_code == 303
    page = signed_in.get(created.headers["Location"]).text
    assert "Quarterly NPS" in page
    assert "How likely are you to recommend us to a friend or colleague?" in page
    assert "No answers yet" in page


def test_edit_and_delete_a_survey(app, signed_in, user, pat):
    survey_id = make_survey(app, user)
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    edited = signed_in.post(
        f"/surveys/{survey_id}/edit",
        data={"title": "Renamed", "kind": "satisfaction", "question": "Happy?"},
    )
    assert edited.status_code == 303
    assert "Renamed" in signed_in.get(f"/surveys/{survey_id}").text
    deleted = signed_in.post(f"/surveys/{survey_id}/delete")
    assert deleted.headers["Location"] == "/surveys"
    assert count(app, FeedbackSurvey) == 0
    assert count(app, SurveyInvitation) == 0


def test_send_to_one_customer_from_their_page_and_see_the_outbox(app, signed_in, user, pat):
    survey_id = make_survey(app, user)
    response = signed_in.post(
        "/surveys/send", data={"survey": str(survey_id), "customer": str(pat)}, headers=HTMX
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="customer-surveys">')
    assert "Sent 1 invitation (see them in the outbox)." in response.text
    [invitation] = invitations(app, survey_id)
    assert len(invitation.token) >= 40
    assert f'data-copy="http://localhost/s/{invitation.token}"' in response.text

    outbox = signed_in.get("/surveys/outbox").text
    assert "pat@example.org" in outbox
    assert "How are we doing? — a quick question from" in outbox
    assert "Hi Pat," in outbox and "Recommend us?" in outbox
    assert f"http://localhost/s/{invitation.token}" in outbox

    again = signed_in.post(
        "/surveys/send", data={"survey": str(survey_id), "customer": str(pat)}, headers=HTMX
    )
    assert "Sent 0 invitations (see them in the outbox). 1 already had an open link." in again.text
    assert len(invitations(app, survey_id)) == 1


def test_send_to_a_segment_and_to_a_selection(app, signed_in, user):
    ids = make_customers(app, user, {"name": "A"}, {"name": "B"}, {"name": "C"})
    segment_id = make_segment(app, user, "Trials", members=ids[:2])
    survey_id = make_survey(app, user)
    sent = signed_in.post(f"/surveys/{survey_id}/send", data={"segment": str(segment_id)})
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/surveys/outbox?survey={survey_id}"
    assert len(invitations(app, survey_id)) == 2
    bulk = signed_in.post(
        "/customers/bulk",
        data={"action": "send_survey", "survey": str(survey_id), "ids": [str(i) for i in ids]},
        headers={**HTMX, "HX-Current-URL": "http://localhost/customers"},
    )
    assert bulk.status_code == 200
    assert "Sent 1 invitation (see them in the outbox). 2 already had an open link." in bulk.text
    assert len(invitations(app, survey_id)) == 3


def test_answer_a_personal_link_once(app, client, signed_in, user, pat):
    survey_id = make_survey(app, user)
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    [invitation] = invitations(app, survey_id)
    signed_in.get("/logout")
    anonymous = app.test_client()

    form = anonymous.get(link_path(invitation))
    assert form.status_code == 200
    assert "Recommend us?" in form.text
    assert 'name="score" value="10"' in form.text

    wrong = anonymous.post(link_path(invitation), data={"score": "12", "comment": "hm"})
    assert wrong.status_code == 422
    assert "Choose a score from 0 to 10." in wrong.text
    assert ">hm</textarea>" in wrong.text
    assert count(app, SurveyResponse) == 0

    answered = anonymous.post(link_path(invitation), data={"score": "3", "comment": "Too slow"})
    assert answered.status_code == 200
    assert "Thank you for your answer!" in answered.text
    again = anonymous.post(link_path(invitation), data={"score": "10"})
    assert "You have already answered" in again.text
    assert '<strong id="given-score">3</strong>' in again.text
    assert count(app, SurveyResponse) == 1
    with app.app_context():
        response = db.session.scalar(select(SurveyResponse))
        assert response.response == {"kind": "nps", "score": 3, "comment": "Too slow"}
        assert response.customer_id == pat
        assert db.session.get(SurveyInvitation, invitation.id).answered_at is not None


def test_an_answer_moves_the_score_and_shows_everywhere(app, signed_in, user, pat):
    survey_id = make_survey(app, user)
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    [invitation] = invitations(app, survey_id)
    with app.app_context():
        before = db.session.get(Customer, pat).churn_risk_score or 0
    app.test_client().post(
        link_path(invitation), data={"score": "2", "comment": "Support ignores us"}
    )
    with app.app_context():
        customer = db.session.get(Customer, pat)
        assert customer.churn_risk_score > before
        event = db.session.scalar(select(EngagementEvent).where(EngagementEvent.customer_id == pat))
        assert event.event_type == "survey_answered"

    customer_page = signed_in.get(f"/customers/{pat}").text
    assert "Support ignores us" in customer_page
    assert "Survey answered" in customer_page
    assert "Gave an NPS of 2 (detractor)" in customer_page
    results = signed_in.get(f"/surveys/{survey_id}").text
    assert re.search(r'id="nps-score"[^>]*>-100<', results)
    assert re.search(r'id="response-rate"[^>]*>100%<', results)
    assert "Support ignores us" in results
    assert "Support ignores us" in signed_in.get("/").text


def test_results_for_one_segment(app, signed_in, user):
    a, b = make_customers(app, user, {"name": "Promoter"}, {"name": "Detractor"})
    segment_id = make_segment(app, user, "Fans", members=[a])
    survey_id = make_survey(app, user)
    with app.app_context():
        for customer_id, score in ((a, 10), (b, 0)):
            db.session.add(
                SurveyResponse(
                    user_id=user.id,
                    customer_id=customer_id,
                    feedback_survey_id=survey_id,
                    response={"kind": "nps", "score": score, "comment": ""},
                )
            )
        db.session.commit()
    everyone = signed_in.get(f"/surveys/{survey_id}").text
    assert re.search(r'id="nps-score"[^>]*>0<', everyone)
    fans = signed_in.get(f"/surveys/{survey_id}?segment={segment_id}", headers=HTMX).text
    assert fans.lstrip().startswith('<div id="survey-results"')
    assert re.search(r'id="nps-score"[^>]*>100<', fans)
    assert re.search(r'id="response-count"[^>]*>1<', fans)


def test_results_count_every_answer_and_trend_the_last_weeks(app, signed_in, user):
    """The totals take every answer, the weekly table only recent ones, each week its own NPS."""
    customers = make_customers(app, user, *({"name": f"Customer {n}"} for n in range(6)))
    survey_id = make_survey(app, user)
    now = utcnow()
    this_monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    answers = [
        ({"kind": "nps", "score": 10}, this_monday + timedelta(minutes=1)),
        ({"kind": "nps", "score": 3}, this_monday + timedelta(minutes=2)),
        ({"kind": "nps", "score": 9}, this_monday - timedelta(minutes=1)),  # last week
        ({"kind": "nps", "score": 8}, this_monday - timedelta(weeks=3)),
        ({"kind": "nps", "score": 0}, now - timedelta(days=200)),  # before the trend
        # Answered while the survey asked for free text: counted, but no score.
        ({"kind": "text"}, this_monday - timedelta(days=1)),
    ]
    with app.app_context():
        for customer_id, (response, at) in zip(customers, answers, strict=True):
            db.session.add(
                SurveyResponse(
                    user_id=user.id,
                    customer_id=customer_id,
                    feedback_survey_id=survey_id,
                    response={**response, "comment": ""},
                    submitted_at=at,
                )
            )
        db.session.commit()
    page = signed_in.get(f"/surveys/{survey_id}").text
    assert re.search(r'id="response-count"[^>]*>6<', page)
    # 2 promoters, 1 passive, 2 detractors of 5 scores: 0.
    assert re.search(r'id="nps-score"[^>]*>0<', page)
    assert "Promoters (9–10): 2 (40%)" in page and "Detractors (0–6): 2 (40%)" in page
    weeks = re.findall(
        r'<tr class="border-t border-slate-100"><td class="py-1">([^<]+)</td>'
        r'<td class="tabular-nums">(\d+)</td><td class="tabular-nums">([^<]+)</td>',
        page,
    )
    assert len(weeks) == 12
    # Oldest first: three weeks ago one passive (NPS 0), last week a promoter and the text
    # answer (NPS 100 from the one score), this week a promoter and a detractor (NPS 0).
    assert [(n, value) for _start, n, value in weeks[-4:]] == [
        ("1", "0"),
        ("0", "—"),
        ("2", "100"),
        ("2", "0"),
    ]
    assert sum(int(n) for _start, n, _value in weeks) == 5


def test_satisfaction_results(app, signed_in, user, pat):
    survey_id = make_survey(app, user, kind="satisfaction", question="Happy?")
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    [invitation] = invitations(app, survey_id)
    form = app.test_client().get(link_path(invitation)).text
    assert 'name="score" value="5"' in form and 'name="score" value="6"' not in form
    app.test_client().post(link_path(invitation), data={"score": "4"})
    results = signed_in.get(f"/surveys/{survey_id}").text
    assert re.search(r'id="satisfaction-average"[^>]*>4.0<', results)


def test_text_survey_needs_an_answer(app, signed_in, user, pat):
    survey_id = make_survey(app, user, kind="text", question="What could we do better?")
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    [invitation] = invitations(app, survey_id)
    anonymous = app.test_client()
    assert anonymous.post(link_path(invitation), data={"comment": " "}).status_code == 422
    assert (
        anonymous.post(link_path(invitation), data={"comment": "Faster exports"}).status_code == 200
    )
    assert "Faster exports" in signed_in.get(f"/surveys/{survey_id}").text


def test_unknown_revoked_and_expired_links_get_a_friendly_404(app, signed_in, user, pat):
    survey_id = make_survey(app, user)
    other = make_customers(app, user, {"name": "Other"})[0]
    for customer in (pat, other):
        signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(customer)})
    first, second = invitations(app, survey_id)
    anonymous = app.test_client()
    unknown = anonymous.get("/s/not-a-real-token")
    assert unknown.status_code == 404
    assert "This survey link does not work" in unknown.text

    revoked = signed_in.post(f"/surveys/invitations/{first.id}/revoke")
    assert revoked.status_code == 303
    assert anonymous.get(link_path(first)).status_code == 404
    assert anonymous.post(link_path(first), data={"score": "9"}).status_code == 404

    with app.app_context():
        db.session.get(SurveyInvitation, second.id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert anonymous.get(link_path(second)).status_code == 404
    assert count(app, SurveyResponse) == 0


def test_only_the_public_form_may_be_framed(app, signed_in, user, pat):
    survey_id = make_survey(app, user)
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    [invitation] = invitations(app, survey_id)
    public = app.test_client().get(link_path(invitation))
    assert "frame-ancestors *" in public.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in public.headers
    assert "Set-Cookie" not in public.headers
    for path in ("/surveys", f"/surveys/{survey_id}", "/surveys/outbox", f"/customers/{pat}"):
        admin = signed_in.get(path)
        assert admin.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in admin.headers["Content-Security-Policy"]


def test_public_form_needs_no_session_or_csrf_token(make_app, user):
    app = make_app(WTF_CSRF_ENABLED=True)
    survey_id = make_survey(app, user)
    with app.app_context():
        customer = factories.make_customer(db.session, db.session.get(User, user.id))
        db.session.add(
            SurveyInvitation(
                user_id=user.id,
                feedback_survey_id=survey_id,
                customer_id=customer.id,
                token="t" * 43,
                email_to="x@example.org",
                email_subject="s",
                email_body="b",
            )
        )
        db.session.commit()
    anonymous = app.test_client()
    assert anonymous.post("/s/" + "t" * 43, data={"score": "9"}).status_code == 200
    assert count(app, SurveyResponse) == 1


def test_signed_embed_answers_as_that_customer_only(app, signed_in, user, pat):
    survey_id = make_survey(app, user)
    with app.app_context():
        secret = db.session.get(User, user.id).embed_secret
        other = factories.make_user(db.session)
        factories.make_customer(db.session, other, external_customer_id="cus_theirs")
        db.session.commit()
    good = embed_signature(secret, str(survey_id), "cus_pat")
    url = f"/s/embed/{survey_id}?customer=cus_pat&sig={good}"
    anonymous = app.test_client()
    page = anonymous.get(url)
    assert page.status_code == 200
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    assert anonymous.post(url, data={"score": "10", "comment": "Love it"}).status_code == 200
    assert "You have already answered" in anonymous.post(url, data={"score": "0"}).text
    with app.app_context():
        [stored] = db.session.scalars(select(SurveyResponse)).all()
        assert stored.customer_id == pat and stored.response["score"] == 10

    forged = f"/s/embed/{survey_id}?customer=cus_other&sig={good}"
    assert anonymous.get(forged).status_code == 404
    theirs = embed_signature(secret, str(survey_id), "cus_theirs")
    assert (
        anonymous.get(f"/s/embed/{survey_id}?customer=cus_theirs&sig={theirs}").status_code == 404
    )
    assert anonymous.get(f"/s/embed/{survey_id}?customer=cus_pat").status_code == 404
    assert "Your embed secret" in signed_in.get(f"/surveys/{survey_id}").text


def test_answers_are_rate_limited(app, user, pat):
    survey_id = make_survey(app, user)
    with app.app_context():
        secret = db.session.get(User, user.id).embed_secret
    signature = embed_signature(secret, str(survey_id), "cus_pat")
    url = f"/s/embed/{survey_id}?customer=cus_pat&sig={signature}"
    anonymous = app.test_client()
    statuses = [anonymous.post(url, data={"score": "99"}).status_code for _ in range(21)]
    assert statuses[:20] == [422] * 20
    assert statuses[20] == 429


def test_another_accounts_surveys_and_links_are_out_of_reach(app, signed_in, user, pat):
    with app.app_context():
        other = factories.make_user(db.session)
        their_customer = factories.make_customer(db.session, other).id
        db.session.commit()
    their_survey = make_survey(app, other, title="Theirs")
    my_survey = make_survey(app, user, title="Mine")
    for method, path in [
        ("get", f"/surveys/{their_survey}"),
        ("post", f"/surveys/{their_survey}/edit"),
        ("post", f"/surveys/{their_survey}/delete"),
        ("post", f"/surveys/{their_survey}/send"),
        ("get", f"/surveys/outbox?survey={their_survey}"),
    ]:
        assert getattr(signed_in, method)(path).status_code == 404, path
    assert (
        signed_in.post(
            "/surveys/send", data={"survey": str(their_survey), "customer": str(pat)}
        ).status_code
        == 404
    )
    assert (
        signed_in.post(
            "/surveys/send", data={"survey": str(my_survey), "customer": str(their_customer)}
        ).status_code
        == 404
    )
    signed_in.post(
        "/customers/bulk",
        data={"action": "send_survey", "survey": str(my_survey), "ids": [str(their_customer)]},
    )
    assert count(app, SurveyInvitation) == 0
    with app.app_context():
        db.session.add(
            SurveyInvitation(
                user_id=other.id,
                feedback_survey_id=their_survey,
                customer_id=their_customer,
                token="x" * 43,
                email_to="t@example.org",
                email_subject="s",
                email_body="b",
            )
        )
        db.session.commit()
        their_invitation = db.session.scalar(select(SurveyInvitation.id))
    assert signed_in.post(f"/surveys/invitations/{their_invitation}/revoke").status_code == 404
    assert "t@example.org" not in signed_in.get("/surveys/outbox").text


def test_smtp_delivers_the_same_messages_when_configured(make_app, user, smtp_sent):
    sent = smtp_sent
    app = make_app(SMTP_HOST="smtp.example.org", SMTP_USERNAME="mailer", SMTP_PASSWORD="pw")
    client = app.test_client()
    client.post(
        "/login", data={"email": "owner@example.com", "password": factories.DEFAULT_PASSWORD}
    )
    [pat] = make_customers(app, user, {"name": "Pat", "email": "pat@example.org"})
    survey_id = make_survey(app, user)
    response = client.post(
        "/surveys/send", data={"survey": str(survey_id), "customer": str(pat)}, headers=HTMX
    )
    assert "Sent 1 invitation (1 e-mailed)." in response.text
    assert sent[:3] == [("connect", "smtp.example.org", 587), ("starttls",), ("login", "mailer")]
    [(_, to, subject, body)] = [m for m in sent if m[0] == "message"]
    assert to == "pat@example.org"
    [invitation] = invitations(app, survey_id)
    assert f"/s/{invitation.token}" in body
    assert invitation.delivered_at is not None


def test_survey_counts_follow_every_way_invitations_and_answers_come_and_go(app, user):
    """The survey list's counts are kept by the database: they follow invitations sent,
    answers by link, by embed and in bulk, answers and customers deleted every way, and
    surveys and accounts deleted."""
    with app.app_context():
        session = db.session
        rival = factories.make_user(session)
        people = [factories.make_customer(session, user) for _ in range(5)]
        theirs = factories.make_customer(session, rival)
        nps = FeedbackSurvey(user_id=user.id, title="NPS", kind="nps")
        csat = FeedbackSurvey(user_id=user.id, title="CSAT", kind="satisfaction")
        their_survey = FeedbackSurvey(user_id=rival.id, title="Theirs", kind="nps")
        session.add_all([nps, csat, their_survey])
        session.flush()

        def check():
            session.flush()
            truth = {}
            for model, slot in ((SurveyInvitation, 0), (SurveyResponse, 1)):
                for survey_id, count in session.execute(
                    select(model.feedback_survey_id, func.count()).group_by(
                        model.feedback_survey_id
                    )
                ):
                    truth.setdefault(survey_id, [0, 0])[slot] = count
            kept = {
                row.feedback_survey_id: [row.invitations, row.responses]
                for row in session.scalars(select(SurveyCount))
            }
            assert {k: v for k, v in kept.items() if v != [0, 0]} == truth
            scope_session_to_account(session, user.id)
            listed = {
                row.survey.title: (row.invited, row.answered)
                for row in survey_service.survey_list(session)
            }
            scope_session_to_account(session, None)
            return listed

        assert check() == {"NPS": (0, 0), "CSAT": (0, 0)}
        link = lambda token: f"/s/{token}"  # noqa: E731
        survey_service.send_survey(session, nps, [p.id for p in people], link_for=link)
        survey_service.send_survey(session, csat, [p.id for p in people[:2]], link_for=link)
        survey_service.send_survey(session, their_survey, [theirs.id], link_for=link)
        assert check() == {"NPS": (5, 0), "CSAT": (2, 0)}
        invitations = session.scalars(
            select(SurveyInvitation).where(SurveyInvitation.feedback_survey_id == nps.id)
        ).all()
        for invitation in invitations[:3]:
            survey_service.answer_invitation(session, invitation, {"kind": "nps", "score": 9})
        survey_service.answer_embedded(
            session, csat, people[4], {"kind": "satisfaction", "score": 2}
        )
        assert check() == {"NPS": (5, 3), "CSAT": (2, 1)}
        answer = session.scalars(
            select(SurveyResponse).where(SurveyResponse.feedback_survey_id == nps.id)
        ).first()
        session.delete(answer)  # an answer deleted (the API's DELETE /api/responses/<id>)
        assert check() == {"NPS": (5, 2), "CSAT": (2, 1)}
        customer_service.delete_customers(session, [people[0].id, people[1].id])
        session.execute(delete(Customer).where(Customer.id == people[4].id))
        check()
        session.delete(csat)
        session.delete(session.get(User, rival.id))
        assert set(check()) == {"NPS"}
        assert session.get(SurveyCount, csat.id) is None


@pytest.mark.parametrize(
    ("kind", "score", "new_kind", "headline", "note"),
    [
        (
            "satisfaction",
            "4",
            "nps",
            "nps-score",
            "The answer so far was given before this survey asked for an NPS score",
        ),
        (
            "nps",
            "9",
            "satisfaction",
            "satisfaction-average",
            "before this survey asked for a satisfaction score, so there is no score yet",
        ),
    ],
)
def test_results_after_the_survey_changed_kind(
    app, signed_in, user, pat, kind, score, new_kind, headline, note
):
    """Answers keep the kind they were given in; the page said "500" when none was of the new
    kind (it divided by the count of such answers)."""
    survey_id = make_survey(app, user, kind=kind, question="Asked first")
    signed_in.post("/surveys/send", data={"survey": str(survey_id), "customer": str(pat)})
    [invitation] = invitations(app, survey_id)
    app.test_client().post(link_path(invitation), data={"score": score})
    edited = signed_in.post(
        f"/surveys/{survey_id}/edit",
        data={"title": "Changed", "kind": new_kind, "question": "Asked now"},
    )
    assert edited.status_code == 303

    page = signed_in.get(f"/surveys/{survey_id}")
    assert page.status_code == 200
    assert re.search(rf'id="{headline}"[^>]*>—<', page.text)
    assert re.search(r'id="response-count"[^>]*>1<', page.text)
    assert note in page.text
