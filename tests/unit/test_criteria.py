"""Segment criteria: validation messages and each rule's edges (the reference semantics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loyalty.domain.criteria import (
    CriteriaError,
    CustomerSnapshot,
    describe,
    matches,
    parse_criteria,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def crit(*rules, match="all"):
    return parse_criteria({"match": match, "rules": list(rules)})


def customer(**fields):
    values = {"signup_date": NOW - timedelta(days=100)}
    values.update(fields)
    return CustomerSnapshot(**values)


def test_empty_criteria_match_everyone():
    assert matches(parse_criteria({}), customer(), NOW)
    assert matches(crit(), customer(), NOW)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"field": "nope", "op": "x"}, "Choose what the rule looks at."),
        ({"field": "churn_risk", "op": "x"}, "Choose how to compare the churn risk."),
        ({"field": "churn_risk", "op": "above", "value": "high"}, "number from 0 to 100"),
        ({"field": "churn_risk", "op": "between", "value": [80, 20]}, "must not be above"),
        ({"field": "signup_date", "op": "before", "value": "31/12/2026"}, "is not a date"),
        ({"field": "signup_date", "op": "before", "value": " "}, "Enter a date like 2026-03-31."),
        (
            {"field": "signup_date", "op": "between", "value": ["2026-02-01", "2026-01-01"]},
            "not be after",
        ),
        ({"field": "signup_date", "op": "older_than_days", "value": -1}, "between 0 and 3650"),
        (
            {"field": "last_engagement", "op": "older_than_days", "value": 99999},
            "between 0 and 3650",
        ),
        ({"field": "tags", "op": "any", "value": []}, "List one or more tags."),
        (
            {"field": "events", "op": "at_least", "count": 2, "event_type": "bad type", "days": 30},
            "event type",
        ),
        (
            {"field": "events", "op": "at_least", "count": "x", "event_type": "login", "days": 30},
            "whole number",
        ),
        (
            {"field": "events", "op": "at_least", "count": "", "event_type": "login", "days": 30},
            "Enter the number of events.",
        ),
        ({"field": "latest_nps", "op": "is", "value": "happy"}, "detractor, passive or promoter"),
        ("not a rule", "Each rule must be an object."),
    ],
)
def test_validation_says_what_is_wrong_per_rule(rule, message):
    with pytest.raises(CriteriaError) as raised:
        crit({"field": "churn_risk", "op": "above", "value": 10}, rule)
    assert raised.value.for_rule(0) == []
    assert any(message in text for text in raised.value.for_rule(1))


def test_too_many_rules_and_bad_match():
    with pytest.raises(CriteriaError, match="At most 20 rules"):
        crit(*[{"field": "last_engagement", "op": "never"}] * 21)
    with pytest.raises(CriteriaError, match="Match must be"):
        parse_criteria({"match": "some"})


def test_signup_dates_are_whole_utc_days():
    jan1 = datetime(2026, 1, 1, tzinfo=UTC)
    before = crit({"field": "signup_date", "op": "before", "value": "2026-01-01"})
    after = crit({"field": "signup_date", "op": "after", "value": "2026-01-01"})
    between = crit({"field": "signup_date", "op": "between", "value": ["2026-01-01", "2026-01-01"]})
    assert matches(before, customer(signup_date=jan1 - timedelta(microseconds=1)), NOW)
    assert not matches(before, customer(signup_date=jan1), NOW)
    assert not matches(after, customer(signup_date=jan1 + timedelta(hours=23)), NOW)
    assert matches(after, customer(signup_date=jan1 + timedelta(days=1)), NOW)
    assert matches(between, customer(signup_date=jan1 + timedelta(hours=23, minutes=59)), NOW)
    assert not matches(between, customer(signup_date=jan1 + timedelta(days=1)), NOW)


def test_older_than_and_never():
    older = crit({"field": "last_engagement", "op": "older_than_days", "value": 30})
    newer = crit({"field": "last_engagement", "op": "newer_than_days", "value": 30})
    never = crit({"field": "last_engagement", "op": "never"})
    edge = NOW - timedelta(days=30)
    assert not matches(older, customer(last_engagement=edge), NOW)
    assert matches(older, customer(last_engagement=edge - timedelta(seconds=1)), NOW)
    assert matches(newer, customer(last_engagement=edge), NOW)
    assert not matches(older, customer(), NOW) and not matches(newer, customer(), NOW)
    assert matches(never, customer(), NOW)
    signup = crit({"field": "signup_date", "op": "older_than_days", "value": 90})
    assert matches(signup, customer(), NOW)
    assert not matches(signup, customer(signup_date=NOW - timedelta(days=10)), NOW)


def test_churn_risk_ranges_and_unscored():
    above = crit({"field": "churn_risk", "op": "above", "value": 70})
    below = crit({"field": "churn_risk", "op": "below", "value": 40})
    between = crit({"field": "churn_risk", "op": "between", "value": [40, 70]})
    assert matches(above, customer(churn_risk=70), NOW)
    assert not matches(below, customer(churn_risk=40), NOW)
    assert matches(between, customer(churn_risk=40), NOW) and matches(
        between, customer(churn_risk=70), NOW
    )
    assert not any(matches(c, customer(), NOW) for c in (above, below, between))


def test_tags_any_all_none():
    tags = frozenset({"vip", "beta"})
    assert matches(
        crit({"field": "tags", "op": "any", "value": ["VIP", "x"]}), customer(tags=tags), NOW
    )
    assert not matches(
        crit({"field": "tags", "op": "all", "value": ["vip", "x"]}), customer(tags=tags), NOW
    )
    assert matches(
        crit({"field": "tags", "op": "all", "value": "vip, beta"}), customer(tags=tags), NOW
    )
    assert matches(crit({"field": "tags", "op": "none", "value": ["x"]}), customer(), NOW)


def test_event_counts_in_a_window_ignore_the_future():
    rule = {
        "field": "events",
        "op": "at_least",
        "count": 2,
        "event_type": "support_ticket",
        "days": 30,
    }
    events = (
        ("support_ticket", NOW - timedelta(days=30)),
        ("support_ticket", NOW + timedelta(days=1)),
        ("login", NOW),
    )
    assert not matches(crit(rule), customer(events=events), NOW)
    more = (*events, ("support_ticket", NOW))
    assert matches(crit(rule), customer(events=more), NOW)
    at_most = crit({**rule, "op": "at_most", "count": 0})
    assert matches(at_most, customer(), NOW)


def test_latest_nps_category():
    detractor = crit({"field": "latest_nps", "op": "is", "value": "detractor"})
    assert matches(detractor, customer(latest_nps=6), NOW)
    assert not matches(detractor, customer(latest_nps=7), NOW)
    assert not matches(detractor, customer(), NOW)


def test_match_any_versus_all():
    rules = (
        {"field": "churn_risk", "op": "above", "value": 70},
        {"field": "last_engagement", "op": "never"},
    )
    somebody = customer(churn_risk=80, last_engagement=NOW)
    assert not matches(crit(*rules), somebody, NOW)
    assert matches(crit(*rules, match="any"), somebody, NOW)


def test_descriptions_read_like_sentences():
    criteria = crit(
        {"field": "signup_date", "op": "older_than_days", "value": 90},
        {"field": "tags", "op": "any", "value": ["vip", "trial"]},
        {
            "field": "events",
            "op": "at_least",
            "count": 3,
            "event_type": "support_ticket",
            "days": 30,
        },
    )
    assert describe(criteria) == [
        "Signed up more than 90 days ago",
        "Has any of the tags trial, vip",
        "At least 3 support ticket events in the last 30 days",
    ]


# Keys are often the criteria's own, so the shapes reach the rules' checks (a list where a
# field name goes was a TypeError, not a CriteriaError).
CRITERIA_KEYS = ("match", "rules", "field", "op", "value", "value2", "count", "days", "event_type")
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(CRITERIA_KEYS) | st.text(max_size=8), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_like)
@example({"rules": [{"field": ["churn_risk"], "op": "above", "value": 50}]})
@example({"rules": [{"field": "churn_risk", "op": {"x": 1}, "value": 50}]})
def test_arbitrary_input_only_ever_raises_criteria_error(data):
    try:
        parse_criteria(data)
    except CriteriaError:
        pass


valid_rules = st.one_of(
    st.builds(lambda v: {"field": "churn_risk", "op": "above", "value": v}, st.integers(0, 100)),
    st.builds(
        lambda d: {"field": "last_engagement", "op": "older_than_days", "value": d},
        st.integers(0, 3650),
    ),
    st.just({"field": "last_engagement", "op": "never"}),
    st.builds(
        lambda t: {"field": "tags", "op": "all", "value": t},
        st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=3),
    ),
    st.builds(
        lambda c, d: {
            "field": "events",
            "op": "at_most",
            "count": c,
            "event_type": "login",
            "days": d,
        },
        st.integers(0, 50),
        st.integers(1, 365),
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(valid_rules, max_size=5), st.sampled_from(["all", "any"]))
def test_round_trip_is_stable(rules, match):
    first = parse_criteria({"match": match, "rules": rules})
    assert parse_criteria(first.to_json()).to_json() == first.to_json()


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
snapshots = st.builds(
    CustomerSnapshot,
    signup_date=moments,
    last_engagement=st.none() | moments,
    churn_risk=st.none() | st.floats(0, 100),
    tags=st.frozensets(st.text(max_size=12).map(str.lower), max_size=4),
    events=st.lists(
        st.tuples(st.sampled_from(["login", "support_ticket", "x"]), moments), max_size=6
    ).map(tuple),
    latest_nps=st.none() | st.integers(0, 10),
)
any_rules = valid_rules | st.builds(
    lambda op, tags: {"field": "tags", "op": op, "value": tags},
    st.sampled_from(["any", "all", "none"]),
    st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=1, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(any_rules, min_size=1, max_size=4), snapshots)
def test_all_and_any_combine_the_single_rules(rules, snapshot):
    """Whatever the text and numbers, the evaluator answers and combines rules as it says."""
    single = [matches(crit(rule), snapshot, NOW) for rule in rules]
    assert all(isinstance(answer, bool) for answer in single)
    assert matches(crit(*rules, match="all"), snapshot, NOW) is all(single)
    assert matches(crit(*rules, match="any"), snapshot, NOW) is any(single)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=1), snapshots)
def test_tags_none_is_the_opposite_of_tags_any(tags, snapshot):
    with_any = crit({"field": "tags", "op": "any", "value": tags[:20]})
    with_none = crit({"field": "tags", "op": "none", "value": tags[:20]})
    assert matches(with_none, snapshot, NOW) is not matches(with_any, snapshot, NOW)
