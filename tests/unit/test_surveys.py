"""NPS arithmetic."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.surveys import nps_category, nps_summary


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
