"""Segments by criteria: live preview, automatic and manual membership, SQL == reference."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from loyalty.domain.criteria import CustomerSnapshot, matches, parse_criteria
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
    FeedbackSurvey,
    SurveyResponse,
)
from loyalty.services.segment_criteria import criteria_condition
from loyalty.types import utcnow
from tests import factories
from tests.integration.test_segments import HTMX, make_customers, make_segment

RISKY = {"rules-0-field": "churn_risk", "rules-0-op": "above", "rules-0-value": "70"}


def members_of(app, segment_id):
    with app.app_context():
        rows = db.session.execute(
            select(Customer.name)
            .join(CustomerSegmentMembership)
            .where(CustomerSegmentMembership.customer_segment_id == segment_id)
        )
        return sorted(name for (name,) in rows)


def saved_segment(app, segment_id):
    with app.app_context():
        segment = db.session.get(CustomerSegment, segment_id)
        return segment.criteria, segment.is_automatic


@pytest.fixture
def risky_and_safe(app, user):
    return make_customers(
        app,
        user,
        {"name": "Risky Rita", "churn_risk_score": 85.0},
        {"name": "Edge Ed", "churn_risk_score": 70.0},
        {"name": "Safe Sam", "churn_risk_score": 12.0},
        {"name": "Unscored Uma"},
    )


def test_live_preview_counts_and_lists_matches_without_saving(app, signed_in, user, risky_and_safe):
    segment_id = make_segment(app, user, "At risk")
    response = signed_in.post(
        f"/segments/{segment_id}/criteria/preview", data={"match": "all", **RISKY}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert '<strong id="criteria-count" class="tabular-nums">2</strong> customers match' in (
        response.text
    )
    assert "churn risk at least 70" in response.text
    assert "Risky Rita" in response.text and "Edge Ed" in response.text
    assert response.text.index("Risky Rita") < response.text.index("Edge Ed")  # riskiest first
    assert "Safe Sam" not in response.text
    assert saved_segment(app, segment_id) == (None, False)
    assert members_of(app, segment_id) == []


def test_preview_of_a_half_typed_rule_says_what_is_missing(app, signed_in, user):
    segment_id = make_segment(app, user)
    response = signed_in.post(
        f"/segments/{segment_id}/criteria/preview",
        data={"rules-0-field": "churn_risk", "rules-0-op": "between", "rules-0-value": "40"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Give both ends of the range." in response.text
    assert "Finish the rules above to see who matches." in response.text


def test_a_rule_switched_to_another_field_shows_no_errors_until_typed_in(app, signed_in, user):
    """Picking "Events" or "between" is not a mistake yet: the rule waits to be filled in,
    and the boxes say what goes in them instead of showing numbers that look like values."""
    segment_id = make_segment(app, user)
    for rule in (
        {"rules-0-field": "events", "rules-0-op": "at_least"},
        {"rules-0-field": "signup_date", "rules-0-op": "between"},
    ):
        response = signed_in.post(
            f"/segments/{segment_id}/criteria/preview", data=rule, headers=HTMX
        )
        assert 'role="alert"' not in response.text, rule
        assert "Finish the rules above to see who matches." in response.text
    events = signed_in.post(
        f"/segments/{segment_id}/criteria/preview",
        data={"rules-0-field": "events", "rules-0-op": "at_least", "rules-0-count": "2"},
        headers=HTMX,
    ).text
    assert 'role="alert"' in events  # typed in, half done: now it says what is missing
    assert 'placeholder="how many"' in events and 'placeholder="days"' in events


def test_add_and_remove_rules_in_the_editor(app, signed_in, user):
    segment_id = make_segment(app, user)
    added = signed_in.post(
        f"/segments/{segment_id}/criteria/preview", data={**RISKY, "add": "1"}, headers=HTMX
    )
    assert added.text.count("data-rule") == 2
    assert 'aria-label="Remove rule 2"' in added.text
    # The new rule is empty, not wrong: no error yet, and the preview waits for it.
    assert "is a number" not in added.text
    assert "Finish the rules above to see who matches." in added.text
    removed = signed_in.post(
        f"/segments/{segment_id}/criteria/preview", data={**RISKY, "remove": "0"}, headers=HTMX
    )
    assert removed.text.count("data-rule") == 0
    assert "customers match right now" in removed.text  # no rules: everyone


def test_switching_the_field_offers_its_own_comparisons(app, signed_in, user):
    segment_id = make_segment(app, user)
    response = signed_in.post(
        f"/segments/{segment_id}/criteria/preview",
        data={"rules-0-field": "events", "rules-0-op": "above"},
        headers=HTMX,
    )
    assert '<option value="at_least" selected>at least</option>' in response.text
    assert 'name="rules-0-event_type"' in response.text


def test_save_automatic_keeps_members_in_sync(app, signed_in, user, risky_and_safe):
    segment_id = make_segment(app, user, "At risk")
    saved = signed_in.post(
        f"/segments/{segment_id}/criteria", data={**RISKY, "mode": "automatic"}, headers=HTMX
    )
    assert saved.status_code == 204
    assert saved.headers["HX-Redirect"] == f"/segments/{segment_id}"
    criteria, automatic = saved_segment(app, segment_id)
    assert automatic is True
    assert criteria == {
        "match": "all",
        "rules": [{"field": "churn_risk", "op": "above", "value": 70.0}],
    }
    assert members_of(app, segment_id) == ["Edge Ed", "Risky Rita"]
    page = signed_in.get(f"/segments/{segment_id}").text
    assert "Follows:</span> Churn risk at least 70." in page

    # Rita logs in: her score drops below 70 and she leaves the segment on her own.
    rita = risky_and_safe[0]
    signed_in.post(
        f"/customers/{rita}/events",
        data={"event_type": "login", "event_date": utcnow().strftime("%Y-%m-%dT%H:%M")},
    )
    assert members_of(app, segment_id) == ["Edge Ed"]


def test_automatic_segment_follows_an_edited_customer(app, signed_in, user):
    [pat] = make_customers(app, user, {"name": "Pat"})
    segment_id = make_segment(app, user, "VIPs")
    signed_in.post(
        f"/segments/{segment_id}/criteria",
        data={
            "rules-0-field": "tags",
            "rules-0-op": "any",
            "rules-0-value": "vip",
            "mode": "automatic",
        },
    )
    assert members_of(app, segment_id) == []
    with app.app_context():
        version = db.session.get(Customer, pat).version
    signed_in.post(
        f"/customers/{pat}/edit",
        data={
            "name": "Pat",
            "email": "pat@example.org",
            "external_customer_id": "pat",
            "signup_date": "2026-01-01",
            "tags": "VIP, trial",
            "version": str(version),
        },
    )
    assert members_of(app, segment_id) == ["Pat"]


def test_save_manual_adds_matches_once(app, signed_in, user, risky_and_safe):
    segment_id = make_segment(app, user, "Call list")
    saved = signed_in.post(f"/segments/{segment_id}/criteria", data={**RISKY, "mode": "manual"})
    assert saved.status_code == 303
    assert members_of(app, segment_id) == ["Edge Ed", "Risky Rita"]
    assert saved_segment(app, segment_id)[1] is False
    with app.app_context():
        db.session.get(Customer, risky_and_safe[0]).churn_risk_score = 10.0
        db.session.commit()
    signed_in.post(f"/segments/{segment_id}/criteria", data={**RISKY, "mode": "manual"})
    assert members_of(app, segment_id) == ["Edge Ed", "Risky Rita"]  # hand-made: nobody leaves
    assert (
        "Last filled by:</span> Churn risk at least 70."
        in signed_in.get(f"/segments/{segment_id}").text
    )


def test_invalid_criteria_are_not_saved(app, signed_in, user):
    segment_id = make_segment(app, user)
    response = signed_in.post(
        f"/segments/{segment_id}/criteria",
        data={
            "rules-0-field": "churn_risk",
            "rules-0-op": "above",
            "rules-0-value": "250",
            "mode": "automatic",
        },
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "A churn risk is a number from 0 to 100." in response.text
    assert saved_segment(app, segment_id) == (None, False)


def test_criteria_never_reach_another_account(app, signed_in, user):
    make_customers(app, user, {"name": "Mine", "churn_risk_score": 90.0})
    with app.app_context():
        other = factories.make_user(db.session)
        factories.make_customer(db.session, other, name="Theirs", churn_risk_score=95.0)
        theirs = CustomerSegment(user_id=other.id, name="Their segment")
        db.session.add(theirs)
        db.session.commit()
        their_segment_id = theirs.id
    for path in ("criteria/preview", "criteria"):
        url = f"/segments/{their_segment_id}/{path}"
        assert signed_in.post(url, data={**RISKY, "mode": "automatic"}).status_code == 404
    segment_id = make_segment(app, user)
    preview = signed_in.post(f"/segments/{segment_id}/criteria/preview", data=RISKY, headers=HTMX)
    assert ">1</strong> customer matches" in preview.text
    assert "Theirs" not in preview.text
    signed_in.post(f"/segments/{segment_id}/criteria", data={**RISKY, "mode": "automatic"})
    assert members_of(app, segment_id) == ["Mine"]
    assert members_of(app, their_segment_id) == []


def _random_rule(rng: random.Random, now):
    field = rng.choice(
        ["signup_date", "last_engagement", "churn_risk", "tags", "events", "latest_nps"]
    )
    if field == "signup_date":
        op = rng.choice(["before", "after", "between", "older_than_days"])
        day = lambda: (now - timedelta(days=rng.randint(0, 400))).date().isoformat()  # noqa: E731
        value = {"between": sorted([day(), day()]), "older_than_days": rng.randint(0, 400)}.get(
            op, day()
        )
        return {"field": field, "op": op, "value": value}
    if field == "last_engagement":
        op = rng.choice(["older_than_days", "newer_than_days", "never"])
        return {"field": field, "op": op, "value": rng.randint(0, 120)}
    if field == "churn_risk":
        op = rng.choice(["above", "below", "between"])
        a, b = sorted([rng.randint(0, 100), rng.randint(0, 100)])
        return {"field": field, "op": op, "value": [a, b] if op == "between" else a}
    if field == "tags":
        tags = rng.sample(["vip", "trial", "enterprise", "beta"], rng.randint(1, 3))
        return {"field": field, "op": rng.choice(["any", "all", "none"]), "value": tags}
    if field == "events":
        return {
            "field": field,
            "op": rng.choice(["at_least", "at_most"]),
            "count": rng.randint(0, 4),
            "event_type": rng.choice(["login", "support_ticket"]),
            "days": rng.randint(1, 90),
        }
    return {"field": field, "op": "is", "value": rng.choice(["detractor", "passive", "promoter"])}


def test_sql_agrees_with_the_reference_evaluator(app, user):
    """The same criteria give the same members as the pure-Python meaning, on this database."""
    rng = random.Random(20261125)
    now = utcnow()
    snapshots = {}
    with app.app_context():
        session = db.session
        survey = FeedbackSurvey(user_id=user.id, title="NPS", kind="nps")
        session.add(survey)
        session.flush()
        for n in range(60):
            signup = now - timedelta(days=rng.uniform(0, 400))
            customer = factories.make_customer(
                session,
                user,
                name=f"Random {n}",
                signup_date=signup,
                churn_risk_score=rng.choice(
                    [None, float(rng.randint(0, 100)), rng.uniform(0, 100)]
                ),
                last_engagement_date=rng.choice([None, now - timedelta(days=rng.uniform(0, 120))]),
            )
            tags = frozenset(rng.sample(["vip", "trial", "enterprise", "beta"], rng.randint(0, 3)))
            session.add_all(
                CustomerTag(customer_id=customer.id, user_id=user.id, tag=t) for t in tags
            )
            events = tuple(
                (
                    rng.choice(["login", "support_ticket", "note"]),
                    now - timedelta(days=rng.uniform(-5, 100)),
                )
                for _ in range(rng.randint(0, 6))
            )
            session.add_all(
                EngagementEvent(
                    user_id=user.id, customer_id=customer.id, event_type=t, event_date=d
                )
                for t, d in events
            )
            answers = sorted(
                (
                    now - timedelta(days=rng.uniform(0, 200)),
                    rng.choice(["nps", "satisfaction"]),
                    rng.randint(0, 10),
                )
                for _ in range(rng.randint(0, 3))
            )
            session.add_all(
                SurveyResponse(
                    user_id=user.id,
                    customer_id=customer.id,
                    feedback_survey_id=survey.id,
                    response={"kind": kind, "score": score},
                    submitted_at=at,
                )
                for at, kind, score in answers
            )
            nps = [score for _at, kind, score in answers if kind == "nps"]
            snapshots[customer.id] = CustomerSnapshot(
                signup_date=customer.signup_date,
                last_engagement=customer.last_engagement_date,
                churn_risk=customer.churn_risk_score,
                tags=tags,
                events=events,
                latest_nps=nps[-1] if nps else None,
            )
        session.commit()

        for _ in range(80):
            data = {
                "match": rng.choice(["all", "any"]),
                "rules": [_random_rule(rng, now) for _ in range(rng.randint(1, 3))],
            }
            criteria = parse_criteria(data)
            in_sql = set(
                session.scalars(
                    select(Customer.id).where(
                        Customer.user_id == user.id, criteria_condition(criteria, now)
                    )
                )
            )
            expected = {cid for cid, snap in snapshots.items() if matches(criteria, snap, now)}
            assert in_sql == expected, data


def test_tags_inline_with_suggestions(app, signed_in, user):
    make_customers(app, user, {"name": "Tagged"})
    [pat] = make_customers(app, user, {"name": "Pat"})
    with app.app_context():
        db.session.add(
            CustomerTag(
                customer_id=make_customers(app, user, {"name": "Other"})[0],
                user_id=user.id,
                tag="enterprise",
            )
        )
        db.session.commit()
    page = signed_in.get(f"/customers/{pat}").text
    assert "No tags yet." in page
    assert (
        '<datalist id="account-tag-suggestions"><option value="enterprise"></option></datalist>'
        in page
    )

    added = signed_in.post(f"/customers/{pat}/tags", data={"tag": " VIP, Trial "}, headers=HTMX)
    assert added.status_code == 200
    assert added.text.lstrip().startswith('<div id="customer-tags"')
    assert (
        'aria-label="Remove tag trial"' in added.text
        and 'aria-label="Remove tag vip"' in added.text
    )
    again = signed_in.post(f"/customers/{pat}/tags", data={"tag": "vip"}, headers=HTMX)
    assert again.text.count('aria-label="Remove tag vip"') == 1

    empty = signed_in.post(f"/customers/{pat}/tags", data={"tag": " , "}, headers=HTMX)
    assert empty.status_code == 422
    assert "Type a tag to add." in empty.text
    too_long = signed_in.post(f"/customers/{pat}/tags", data={"tag": "x" * 41}, headers=HTMX)
    assert too_long.status_code == 422
    assert "Tags have at most 40 characters." in too_long.text
    assert 'value="' + "x" * 41 + '"' in too_long.text  # what was typed stays

    removed = signed_in.post(f"/customers/{pat}/tags/remove", data={"tag": "trial"}, headers=HTMX)
    assert 'aria-label="Remove tag trial"' not in removed.text
    assert "Pat" in signed_in.get("/customers?tag=vip").text
    assert "Pat" not in signed_in.get("/customers?tag=trial").text


def test_tags_of_another_accounts_customer_cannot_change(app, signed_in, user):
    with app.app_context():
        other = factories.make_user(db.session)
        theirs = factories.make_customer(db.session, other).id
        db.session.commit()
    assert signed_in.post(f"/customers/{theirs}/tags", data={"tag": "x"}).status_code == 404
    assert signed_in.post(f"/customers/{theirs}/tags/remove", data={"tag": "x"}).status_code == 404
    with app.app_context():
        assert (
            db.session.scalar(select(CustomerTag.tag).where(CustomerTag.customer_id == theirs))
            is None
        )
