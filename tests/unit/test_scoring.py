"""Churn-risk rules, one by one, at their edges, and as properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain import scoring
from loyalty.domain.scoring import (
    STORED_FACTS,
    ChurnRisk,
    CustomerFacts,
    explain_stored,
    factors_to_json,
    facts_from_stored,
    is_customer_initiated,
    normalize_event_type,
    score_churn_risk,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def engaged(**overrides) -> CustomerFacts:
    """A settled customer who used the product yesterday."""
    values = {
        "signup_date": ago(400),
        "last_engagement": ago(1),
        "last_login": ago(1),
        "event_count": 50,
        "recent_activity": 5,
        "previous_activity": 5,
        "recent_logins": 4,
    }
    values.update(overrides)
    return CustomerFacts(**values)


def codes(risk: ChurnRisk) -> set[str]:
    return {f.code for f in risk.factors}


def test_no_history_says_insufficient_data_not_a_misleading_number():
    risk = score_churn_risk(CustomerFacts(signup_date=ago(100)), NOW)
    assert risk.insufficient_data
    assert risk.score == scoring.INSUFFICIENT_DATA_SCORE
    assert [f.code for f in risk.factors] == ["insufficient_data"]
    assert risk.factors[0].reason == "No engagement recorded yet"


def test_a_survey_answer_alone_is_enough_to_score():
    risk = score_churn_risk(CustomerFacts(signup_date=ago(100), latest_nps=3), NOW)
    assert not risk.insufficient_data
    assert "nps_detractor" in codes(risk)


def test_an_engaged_customer_is_low_risk():
    risk = score_churn_risk(engaged(), NOW)
    assert risk.band == "low"
    assert risk.top_factor is None
    assert risk.next_action == scoring.KEEP_GOING_ACTION


@pytest.mark.parametrize(
    ("days", "points"), [(14, 0), (15, 10), (30, 10), (31, 25), (60, 25), (61, 35), (400, 35)]
)
def test_silence_raises_risk_in_steps(days, points):
    risk = score_churn_risk(engaged(last_engagement=ago(days), last_login=ago(1)), NOW)
    inactive = [f for f in risk.factors if f.code == "inactive"]
    assert (inactive[0].points if inactive else 0) == points
    if inactive:
        assert inactive[0].reason == f"No activity in {days} days"


def test_no_login_in_weeks_raises_risk_with_the_day_count():
    risk = score_churn_risk(engaged(last_login=ago(47)), NOW)
    [factor] = [f for f in risk.factors if f.code == "no_login"]
    assert factor.reason == "No login in 47 days"
    assert factor.points == scoring.NO_LOGIN_POINTS
    assert "discount" not in factor.action.lower()


def test_never_logged_in():
    risk = score_churn_risk(engaged(last_login=None), NOW)
    assert any(f.reason == "Has never logged in" for f in risk.factors)


def test_logins_say_nothing_in_an_account_that_does_not_record_them():
    tracked = score_churn_risk(engaged(last_login=None), NOW)
    untracked = score_churn_risk(engaged(last_login=None, logins_tracked=False), NOW)
    assert "no_login" in codes(tracked)
    assert "no_login" not in codes(untracked)
    assert untracked.score == tracked.score - scoring.NO_LOGIN_POINTS
    # Recency still counts every event the account does send.
    quiet = score_churn_risk(engaged(last_engagement=ago(40), logins_tracked=False), NOW)
    assert [f.reason for f in quiet.factors if f.code == "inactive"] == ["No activity in 40 days"]


def test_never_engaged_is_as_bad_as_long_silence():
    risk = score_churn_risk(engaged(last_engagement=None, last_login=None, event_count=2), NOW)
    assert "never_engaged" in codes(risk)


def test_activity_drop_and_growth():
    drop = score_churn_risk(engaged(previous_activity=10, recent_activity=4), NOW)
    assert "activity_drop" in codes(drop)
    assert "fell from 10 to 4" in next(f.reason for f in drop.factors if f.code == "activity_drop")
    growth = score_churn_risk(engaged(previous_activity=4, recent_activity=6), NOW)
    assert "activity_growth" in codes(growth)
    noise = score_churn_risk(engaged(previous_activity=3, recent_activity=0), NOW)
    assert "activity_drop" not in codes(noise)
    # Noise both ways: from 1 to 2 events is no growth either.
    for previous, recent in ((1, 2), (2, 3)):
        quiet = score_churn_risk(engaged(previous_activity=previous, recent_activity=recent), NOW)
        assert "activity_growth" not in codes(quiet)
    assert "activity_growth" in codes(
        score_churn_risk(engaged(previous_activity=2, recent_activity=4), NOW)
    )


def test_trouble_is_contact_but_not_activity_that_lowers_the_risk():
    """Tickets, a downgrade and a cancellation request after a quiet month are no "activity
    grew" (nor a healthy month): they only raise the risk, each by its own factor."""
    history = [("login", ago(40))] + [("support_ticket", ago(d)) for d in (2, 5, 9, 11)]
    history += [("downgrade", ago(6)), ("cancellation_request", ago(3))]
    history += [("support_ticket", ago(d + 0.5)) for d in range(12, 20)]
    facts = scoring.facts_from_history(ago(400), history, [], NOW)
    assert facts.last_engagement == ago(2)  # they did get in touch
    assert (facts.recent_activity, facts.previous_activity) == (0, 1)
    risk = score_churn_risk(facts, NOW)
    assert {"support_trouble", "downgrade", "cancellation_request"} <= codes(risk)
    assert all(f.points > 0 for f in risk.factors), risk.factors
    assert "Keep doing what works" not in " ".join(f.action for f in risk.factors)


def test_repeated_support_tickets_escalate():
    one = score_churn_risk(engaged(support_tickets=1), NOW)
    some = score_churn_risk(engaged(support_tickets=2), NOW)
    many = score_churn_risk(engaged(support_tickets=4), NOW)
    assert "support_trouble" not in codes(one)
    assert some.score - one.score == scoring.SUPPORT_SOME_POINTS
    assert many.score - one.score == scoring.SUPPORT_MANY_POINTS
    assert "Escalate" in many.next_action


def test_payment_failures_add_up_to_a_cap():
    assert (
        score_churn_risk(engaged(payment_failures=1), NOW).score
        == score_churn_risk(engaged(), NOW).score + scoring.PAYMENT_FAILURE_POINTS
    )
    capped = score_churn_risk(engaged(payment_failures=10**9), NOW)
    factor = next(f for f in capped.factors if f.code == "payment_failed")
    assert factor.points == scoring.PAYMENT_FAILURE_MAX_POINTS


def test_cancellation_request_is_the_strongest_plan_signal():
    risk = score_churn_risk(engaged(cancellation_requests=1), NOW)
    assert risk.top_factor.code == "cancellation_request"
    assert "Call them today" in risk.next_action


def test_downgrade_raises_and_upgrade_lowers():
    base = score_churn_risk(engaged(), NOW).score
    assert score_churn_risk(engaged(downgrades=1), NOW).score > base
    assert score_churn_risk(engaged(upgrades=1), NOW).score < base or base == 0


@pytest.mark.parametrize(
    ("nps", "code"),
    [
        (0, "nps_detractor"),
        (6, "nps_detractor"),
        (7, None),
        (8, None),
        (9, "nps_promoter"),
        (10, "nps_promoter"),
    ],
)
def test_nps_answers(nps, code):
    risk = score_churn_risk(engaged(latest_nps=nps), NOW)
    nps_codes = codes(risk) & {"nps_detractor", "nps_promoter"}
    assert nps_codes == ({code} if code else set())


def test_good_signs_carry_a_step_only_when_nothing_raises_the_risk():
    content = score_churn_risk(engaged(latest_nps=10), NOW)
    (promoter,) = content.factors
    assert "referral" in content.action_for(promoter)
    leaving = score_churn_risk(engaged(latest_nps=10, cancellation_requests=1), NOW)
    steps = {f.code: leaving.action_for(f) for f in leaving.factors}
    assert steps["nps_promoter"] is None
    assert "Call them today" in steps["cancellation_request"]


def test_detractor_action_is_a_personal_reply():
    risk = score_churn_risk(engaged(latest_nps=2), NOW)
    assert "Reply personally" in risk.next_action


def test_answers_older_than_a_year_no_longer_speak_for_the_customer():
    """A detractor's answer from two years ago is not a reason to call them today; the
    latest answer of the last year counts, whatever came before it."""
    old = [("nps", 2, ago(730)), ("satisfaction", 1, ago(400))]
    facts = scoring.facts_from_history(ago(1000), [("login", ago(1))], old, NOW)
    assert (facts.latest_nps, facts.latest_satisfaction) == (None, None)
    assert not codes(score_churn_risk(facts, NOW)) & {"nps_detractor", "low_satisfaction"}
    within = [*old, ("nps", 3, ago(scoring.ANSWER_WINDOW_DAYS))]
    facts = scoring.facts_from_history(ago(1000), [("login", ago(1))], within, NOW)
    assert facts.latest_nps == 3


@pytest.mark.parametrize(("rating", "delta_sign"), [(1, 1), (2, 1), (3, 0), (4, 0), (5, -1)])
def test_satisfaction_answers(rating, delta_sign):
    base = score_churn_risk(engaged(), NOW).score
    score = score_churn_risk(engaged(latest_satisfaction=rating), NOW).score
    assert (score > base) - (score < base) == delta_sign or (delta_sign == -1 and base == 0)


def test_new_customers_get_onboarding_advice_not_inactivity_alarms():
    quiet_new = score_churn_risk(
        CustomerFacts(signup_date=ago(10), last_engagement=ago(9), event_count=1), NOW
    )
    assert "onboarding_stalled" in codes(quiet_new)
    assert "inactive" not in codes(quiet_new) and "no_login" not in codes(quiet_new)
    busy_new = score_churn_risk(
        CustomerFacts(signup_date=ago(5), last_engagement=ago(1), event_count=3), NOW
    )
    assert "onboarding_stalled" not in codes(busy_new)


def test_dates_in_the_future_count_as_now():
    risk = score_churn_risk(
        engaged(signup_date=NOW + timedelta(days=30), last_engagement=NOW + timedelta(days=3)), NOW
    )
    assert 0 <= risk.score <= 100
    assert "inactive" not in codes(risk)


def test_a_single_event_scores():
    risk = score_churn_risk(
        CustomerFacts(signup_date=ago(90), last_engagement=ago(2), event_count=1), NOW
    )
    assert not risk.insufficient_data
    assert 0 <= risk.score <= 100


def test_huge_counts_stay_within_bounds():
    risk = score_churn_risk(
        engaged(
            support_tickets=10**9,
            payment_failures=10**9,
            downgrades=10**9,
            cancellation_requests=10**9,
            last_engagement=ago(1000),
            last_login=None,
            previous_activity=10**9,
            recent_activity=0,
            latest_nps=0,
            latest_satisfaction=1,
        ),
        NOW,
    )
    assert risk.score == 100
    assert risk.band == "high"


def test_factors_are_ordered_by_weight_and_explain_themselves():
    risk = score_churn_risk(engaged(last_engagement=ago(70), latest_nps=2, support_tickets=2), NOW)
    weights = [abs(f.points) for f in risk.factors]
    assert weights == sorted(weights, reverse=True)
    assert all(f.reason and f.action for f in risk.factors)


def test_no_action_ever_suggests_a_discount():
    words = ("discount", "coupon", "% off", "price cut", "free month")
    facts = engaged(
        last_engagement=ago(90),
        last_login=None,
        support_tickets=5,
        payment_failures=2,
        downgrades=1,
        cancellation_requests=1,
        upgrades=1,
        latest_nps=1,
        latest_satisfaction=1,
        previous_activity=10,
        recent_activity=1,
    )
    for risk in (score_churn_risk(facts, NOW), score_churn_risk(CustomerFacts(), NOW)):
        for factor in risk.factors:
            assert not any(word in factor.action.lower() for word in words)


def test_stored_facts_explain_the_score_they_came_from():
    facts = engaged(latest_nps=2, support_tickets=3)
    stored = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in vars(facts).items()
        if name in STORED_FACTS
    }
    assert set(stored) == set(STORED_FACTS)
    risk = explain_stored(stored, facts.signup_date, facts.last_engagement, NOW)
    assert risk == score_churn_risk(facts, NOW)
    untracked = engaged(last_login=None, logins_tracked=False)
    again = explain_stored(
        scoring.stored_facts(untracked), untracked.signup_date, untracked.last_engagement, NOW
    )
    assert again == score_churn_risk(untracked, NOW)
    assert "no_login" not in codes(again)
    assert [f["reason"] for f in factors_to_json(risk)] == [f.reason for f in risk.factors]


def test_stored_facts_tolerate_junk_and_absence():
    assert explain_stored(None, None, None, NOW) is None
    assert explain_stored({"event_count": 1}, None, None, None) is None
    odd = facts_from_stored(
        {"event_count": "3", "support_tickets": True, "last_login": "yesterday", "latest_nps": []},
        None,
        None,
    )
    assert odd == CustomerFacts(event_count=3)
    # Scores stored before the login flag existed were computed with logins counted.
    assert facts_from_stored({"event_count": 3}, None, None).logins_tracked
    assert not facts_from_stored({"logins_tracked": 0}, None, None).logins_tracked
    naive = facts_from_stored({"last_login": "2026-11-01 10:00:00"}, None, None)
    assert naive.last_login == datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("login", "login"), ("Feature Used", "feature_used"), (" trial-started ", "trial_started")],
)
def test_event_types_are_normalised(given, expected):
    assert normalize_event_type(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "x" * 51, "drop table;", "émoji"])
def test_bad_event_types_are_refused_with_a_message(bad):
    with pytest.raises(ValueError, match=r"\w"):
        normalize_event_type(bad)


def test_payment_failures_and_notes_are_not_engagement():
    assert not is_customer_initiated("payment_failed")
    assert not is_customer_initiated("note")
    assert is_customer_initiated("login")
    assert is_customer_initiated("custom_thing")


moments = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
)
counts = st.integers(min_value=0, max_value=10**12)
facts_strategy = st.builds(
    CustomerFacts,
    signup_date=moments,
    last_engagement=moments,
    last_login=moments,
    event_count=counts,
    recent_activity=counts,
    previous_activity=counts,
    recent_logins=counts,
    support_tickets=counts,
    payment_failures=counts,
    downgrades=counts,
    upgrades=counts,
    cancellation_requests=counts,
    latest_nps=st.one_of(st.none(), st.integers(0, 10)),
    latest_satisfaction=st.one_of(st.none(), st.integers(1, 5)),
    logins_tracked=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(facts_strategy)
def test_score_is_always_an_int_between_0_and_100(facts):
    risk = score_churn_risk(facts, NOW)
    assert isinstance(risk.score, int)
    assert 0 <= risk.score <= 100


@settings(max_examples=300, deadline=None)
@given(
    facts_strategy,
    st.integers(min_value=0, max_value=2000),
    st.integers(min_value=0, max_value=2000),
    st.sampled_from(["last_engagement", "last_login"]),
)
def test_more_recent_engagement_never_raises_risk(facts, older_days, newer_days, which):
    older, newer = sorted([older_days, newer_days], reverse=True)
    base = {k: getattr(facts, k) for k in CustomerFacts.__dataclass_fields__}
    stale = CustomerFacts(**{**base, which: NOW - timedelta(days=older)})
    fresh = CustomerFacts(**{**base, which: NOW - timedelta(days=newer)})
    assert score_churn_risk(fresh, NOW).score <= score_churn_risk(stale, NOW).score


def test_the_explanation_says_where_the_points_start_and_where_they_stop():
    one_reason = score_churn_risk(engaged(last_engagement=ago(70)), NOW)
    assert one_reason.starting_score == scoring.BASE_SCORE
    assert one_reason.score == one_reason.starting_score + sum(f.points for f in one_reason.factors)
    assert not one_reason.clamped

    everything_wrong = score_churn_risk(
        engaged(last_engagement=ago(90), support_tickets=5, cancellation_requests=1, latest_nps=1),
        NOW,
    )
    assert everything_wrong.score == 100 and everything_wrong.clamped

    nothing_known = score_churn_risk(CustomerFacts(), NOW)
    assert nothing_known.starting_score is None and not nothing_known.clamped


def test_stored_facts_of_a_customer_nothing_is_known_about_say_so():
    empty = {"event_count": 0, "latest_nps": None, "latest_satisfaction": None}
    assert scoring.knows_nothing(empty)
    assert not scoring.knows_nothing({**empty, "event_count": 1})
    assert not scoring.knows_nothing({**empty, "latest_nps": 3})  # an answer is something
    assert not scoring.knows_nothing(None)  # not scored at all: another case
