"""Churn-risk bands: the thresholds that colour badges, filter the table and group analytics."""

from __future__ import annotations

from collections.abc import Mapping

# (band, lowest score in it, first score above it). Below 40 a customer needs nothing special;
# from 70 the signals usually add up to someone already on the way out, worth a call this week.
RISK_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("low", 0, 40),
    ("medium", 40, 70),
    ("high", 70, None),
)

BAND_LABELS = {"low": "Low risk", "medium": "Medium risk", "high": "High risk"}


def band_bounds(band: str) -> tuple[int, int | None]:
    """The score range of a band: (low inclusive, high exclusive or None for no limit)."""
    for name, low, high in RISK_BANDS:
        if name == band:
            return low, high
    raise ValueError(f"unknown risk band {band!r}")


def score_range(low: int, high: int | None) -> str:
    """A range of whole scores as people read it: (0, 40) is "0–39"; the top one ends at 100
    (a band with no limit, or the last tenth, which holds 100 itself)."""
    return f"{low}–{100 if high is None or high >= 100 else high - 1}"


def risk_band(score: float | None) -> str | None:
    """'low', 'medium' or 'high' for a score from 0 to 100; None when there is no score."""
    if score is None:
        return None
    for name, low, high in RISK_BANDS:
        if score >= low and (high is None or score < high):
            return name
    return RISK_BANDS[0][0]


def band_counts(histogram: Mapping[int, int]) -> dict[str, int]:
    """Customers per band, from a histogram of whole scores ({floor(score): customers})."""
    counts = dict.fromkeys((name for name, _low, _high in RISK_BANDS), 0)
    for whole, customers in histogram.items():
        counts[risk_band(whole)] += customers
    return counts


def decile_counts(histogram: Mapping[int, int], deciles: int = 10) -> list[int]:
    """Customers per tenth of the scale (0-9, 10-19, ... 90-100), from the same histogram."""
    counts = [0] * deciles
    for whole, customers in histogram.items():
        counts[max(0, min(deciles - 1, whole * deciles // 100))] += customers
    return counts
