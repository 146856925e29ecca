"""Risk bands at their edges."""

import pytest

from loyalty.domain.bands import RISK_BANDS, band_bounds, risk_band, score_range


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "low"), (39.99, "low"), (40, "medium"), (69.9, "medium"), (70, "high"), (100, "high")],
)
def test_scores_fall_in_the_band_of_their_range(score, band):
    assert risk_band(score) == band


def test_no_score_has_no_band():
    assert risk_band(None) is None


def test_bounds_cover_0_to_100_without_gaps():
    edges = [(low, high) for _name, low, high in RISK_BANDS]
    assert edges[0][0] == 0 and edges[-1][1] is None
    for (_, high), (low, _) in zip(edges, edges[1:], strict=False):
        assert high == low
    assert band_bounds("medium") == (40, 70)
    with pytest.raises(ValueError):
        band_bounds("extreme")


def test_score_ranges_are_written_without_a_shared_boundary():
    assert [score_range(low, high) for _band, low, high in RISK_BANDS] == [
        "0–39",
        "40–69",
        "70–100",
    ]
    assert score_range(0, 10) == "0–9" and score_range(90, 100) == "90–100"
