"""Survey arithmetic: NPS categories and scores, satisfaction summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NPS_PROMOTER_MIN = 9  # 9-10 recommend you
NPS_DETRACTOR_MAX = 6  # 0-6 are unhappy enough to warn others


def nps_category(score: int) -> str:
    """'promoter' (9-10), 'passive' (7-8) or 'detractor' (0-6)."""
    if score >= NPS_PROMOTER_MIN:
        return "promoter"
    if score <= NPS_DETRACTOR_MAX:
        return "detractor"
    return "passive"


@dataclass(frozen=True)
class NpsSummary:
    """Net Promoter Score: % promoters minus % detractors, with the split behind it."""

    count: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> int | None:
        """From -100 to 100; None without answers."""
        if not self.count:
            return None
        return round(100 * (self.promoters - self.detractors) / self.count)

    def percent(self, category: str) -> int:
        """The share of one category, in whole percent."""
        if not self.count:
            return 0
        return round(100 * getattr(self, category + "s") / self.count)


def nps_summary(scores: Iterable[int]) -> NpsSummary:
    """Summarise NPS answers (0-10)."""
    counts = {"promoter": 0, "passive": 0, "detractor": 0}
    for score in scores:
        counts[nps_category(score)] += 1
    return NpsSummary(
        count=sum(counts.values()),
        promoters=counts["promoter"],
        passives=counts["passive"],
        detractors=counts["detractor"],
    )
