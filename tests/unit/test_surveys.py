"""NPS arithmetic."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.surveys import (
    AnswerError,
    embed_signature,
    nps_category,
    nps_summary,
    parse_answer,
    satisfaction_from_counts,
    satisfaction_summary,
    signature_matches,
)


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_categories(score, category):
    assert nps_category(score) == category


def test_known_example():
    summary = nps_summary([10] * 5 + [7] * 3 + [2] * 2)
    assert summary.score == 30
    assert (
        summary.percent("promoter"),
        summary.percent("passive"),
        summary.percent("detractor"),
    ) == (50, 30, 20)


def test_no_answers_has_no_score():
    assert nps_summary([]).score is None


@given(st.lists(st.integers(0, 10), min_size=1))
def test_score_is_promoters_minus_detractors_within_bounds(scores):
    summary = nps_summary(scores)
    assert -100 <= summary.score <= 100
    expected = 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
    assert abs(summary.score - expected) <= 0.5


@pytest.mark.parametrize(
    ("kind", "score", "comment", "stored"),
    [
        ("nps", "0", "", {"kind": "nps", "score": 0, "comment": ""}),
        ("nps", " 10 ", " Great\r\nteam ", {"kind": "nps", "score": 10, "comment": "Great\nteam"}),
        ("satisfaction", 1, None, {"kind": "satisfaction", "score": 1, "comment": ""}),
        ("satisfaction", "5", "ok", {"kind": "satisfaction", "score": 5, "comment": "ok"}),
        ("text", None, "More webinars", {"kind": "text", "comment": "More webinars"}),
    ],
)
def test_valid_answers_are_stored_clean(kind, score, comment, stored):
    assert parse_answer(kind, score, comment) == stored


@pytest.mark.parametrize(
    ("kind", "score", "comment", "errors"),
    [
        ("nps", "11", "", {"score": "Choose a score from 0 to 10."}),
        ("nps", "-1", "", {"score": "Choose a score from 0 to 10."}),
        ("nps", "", "why", {"score": "Choose a score from 0 to 10."}),
        ("nps", "7.5", "", {"score": "Choose a score from 0 to 10."}),
        ("nps", True, "", {"score": "Choose a score from 0 to 10."}),
        ("satisfaction", "0", "", {"score": "Choose a score from 1 to 5."}),
        ("satisfaction", "6", "", {"score": "Choose a score from 1 to 5."}),
        ("text", None, "   ", {"comment": "Please write an answer."}),
        ("text", None, "x" * 2001, {"comment": "Please keep it under 2,000 characters."}),
        ("poll", 1, "", {"kind": "This survey has an unknown kind."}),
    ],
)
def test_invalid_answers_say_what_is_wrong(kind, score, comment, errors):
    with pytest.raises(AnswerError) as caught:
        parse_answer(kind, score, comment)
    assert caught.value.errors == errors


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats(allow_nan=True)), st.text())
def test_any_input_is_stored_valid_or_refused(score, comment):
    try:
        answer = parse_answer("nps", score, comment)
    except AnswerError:
        return
    assert 0 <= answer["score"] <= 10
    assert len(answer["comment"]) <= 2000


def test_satisfaction_summary():
    summary = satisfaction_summary([5, 4, 4, 1])
    assert summary.count == 4
    assert summary.average == 3.5
    assert summary.distribution == {1: 1, 2: 0, 3: 0, 4: 2, 5: 1}
    assert satisfaction_summary([]).average is None


def test_satisfaction_from_counts_leaves_out_scores_off_the_scale():
    summary = satisfaction_from_counts({5: 2, 3: 1, 9: 4, 0: 1})
    assert (summary.count, summary.average) == (3, 4.33)
    assert summary.distribution == {1: 0, 2: 0, 3: 1, 4: 0, 5: 2}


def test_embed_signature_is_hmac_sha256_of_survey_and_customer():
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"survey-1:cus_42", hashlib.sha256).hexdigest()
    assert embed_signature("s3cret", "survey-1", "cus_42") == expected
    assert signature_matches("s3cret", "survey-1", "cus_42", expected.upper())
    assert not signature_matches("s3cret", "survey-1", "cus_43", expected)
    assert not signature_matches("other", "survey-1", "cus_42", expected)
    assert not signature_matches("s3cret", "survey-1", "cus_42", "")


def test_weekly_trend_buckets_by_monday_weeks():
    from datetime import UTC, datetime

    from loyalty.domain.surveys import weekly_trend

    now = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
    answers = [
        ("nps", 10, datetime(2026, 11, 24, tzinfo=UTC)),
        ("nps", 0, datetime(2026, 11, 23, 1, tzinfo=UTC)),
        ("nps", 9, datetime(2026, 11, 18, tzinfo=UTC)),
        ("nps", 9, datetime(2026, 1, 1, tzinfo=UTC)),  # too old to show
    ]
    weeks = weekly_trend("nps", answers, now, 3)
    assert [w.start.date().isoformat() for w in weeks] == ["2026-11-09", "2026-11-16", "2026-11-23"]
    assert [(w.count, w.value) for w in weeks] == [(0, None), (1, 100), (2, 0)]
    satisfaction = weekly_trend(
        "satisfaction", [("satisfaction", 4, now), ("satisfaction", 5, now)], now, 1
    )
    assert satisfaction[0].value == 4.5
