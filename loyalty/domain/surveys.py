"""Survey arithmetic: NPS categories and scores, satisfaction summaries."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    return nps_from_counts(Counter(scores))


def nps_from_counts(answers: Mapping[int, int]) -> NpsSummary:
    """Summarise NPS answers given as {score: how many answered it}."""
    counts = {"promoter": 0, "passive": 0, "detractor": 0}
    for score, answered in answers.items():
        counts[nps_category(score)] += answered
    return NpsSummary(
        count=sum(counts.values()),
        promoters=counts["promoter"],
        passives=counts["passive"],
        detractors=counts["detractor"],
    )


# --- Survey kinds and answers -------------------------------------------------------------

KINDS = {
    "nps": "Net Promoter Score (0–10)",
    "satisfaction": "Satisfaction (1–5)",
    "text": "Free-text question",
}
DEFAULT_QUESTIONS = {
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "satisfaction": "How satisfied are you with us?",
    "text": "What is one thing we could do better for you?",
}
SCALES = {"nps": (0, 10), "satisfaction": (1, 5)}
COMMENT_MAX = 2000
SATISFACTION_LABELS = {1: "Very unhappy", 2: "Unhappy", 3: "Neutral", 4: "Happy", 5: "Very happy"}


class AnswerError(ValueError):
    """An answer that cannot be stored; `errors` maps a field ("score", "comment") to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_answer(kind: str, score: object, comment: object) -> dict:
    """Validate one answer to a survey of `kind`; returns the JSON stored as the response.

    NPS takes a whole number 0-10 and an optional "why"; satisfaction 1-5 and an optional
    comment; a text survey needs the text itself.
    """
    if kind not in KINDS:
        raise AnswerError({"kind": "This survey has an unknown kind."})
    text = "" if comment is None else str(comment).replace("\r\n", "\n").strip()
    errors: dict[str, str] = {}
    if len(text) > COMMENT_MAX:
        errors["comment"] = f"Please keep it under {COMMENT_MAX:,} characters."
    answer: dict = {"kind": kind, "comment": text}
    if kind == "text":
        if not text:
            errors["comment"] = "Please write an answer."
    else:
        low, high = SCALES[kind]
        try:
            number = int(str(score).strip()) if not isinstance(score, bool) else None
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            errors["score"] = f"Choose a score from {low} to {high}."
        answer["score"] = number
    if errors:
        raise AnswerError(errors)
    return answer


@dataclass(frozen=True)
class SatisfactionSummary:
    """Average satisfaction (1-5) and how many gave each score."""

    count: int
    average: float | None
    distribution: dict[int, int]


def satisfaction_summary(scores: Iterable[int]) -> SatisfactionSummary:
    """Summarise satisfaction answers (1-5)."""
    return satisfaction_from_counts(Counter(scores))


def satisfaction_from_counts(answers: Mapping[int, int]) -> SatisfactionSummary:
    """Summarise satisfaction answers given as {score: how many answered it}; scores
    outside 1-5 are not counted."""
    distribution = {score: answers.get(score, 0) for score in range(1, 6)}
    count = sum(distribution.values())
    total = sum(score * n for score, n in distribution.items())
    return SatisfactionSummary(
        count=count,
        average=round(total / count, 2) if count else None,
        distribution=distribution,
    )


@dataclass(frozen=True)
class WeekPoint:
    """Answers in one week, with that week's NPS or average satisfaction."""

    start: datetime
    count: int
    value: float | None


def trend_start(now: datetime, weeks: int) -> datetime:
    """Monday 00:00 (UTC) of the first of the last `weeks` weeks, this one included."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday - timedelta(weeks=weeks - 1)


def weekly_trend(
    kind: str, answers: Iterable[tuple[str, int | None, datetime]], now: datetime, weeks: int
) -> list[WeekPoint]:
    """Answers per week (weeks start on Monday) over the last `weeks`, oldest first.

    `answers` are (kind, score, submitted at); a week's value is its NPS for an NPS survey,
    its average for a satisfaction survey, None for text or an empty week.
    """
    start = trend_start(now, weeks)
    counts = Counter(
        (answer_kind, score, (at - start).days // 7) for answer_kind, score, at in answers
    )
    return weekly_trend_from_counts(kind, counts, start, weeks)


def weekly_trend_from_counts(
    kind: str, counts: Mapping[tuple[str, int | None, int], int], start: datetime, weeks: int
) -> list[WeekPoint]:
    """`weekly_trend` from {(answer kind, score, week number from `start`): answers}."""
    answered = [0] * weeks
    scores: list[Counter] = [Counter() for _ in range(weeks)]
    for (answer_kind, score, week), n in counts.items():
        if 0 <= week < weeks:
            answered[week] += n
            if answer_kind == kind and score is not None:
                scores[week][score] += n
    points = []
    for week in range(weeks):
        value = None
        if scores[week] and kind == "nps":
            value = nps_from_counts(scores[week]).score
        elif scores[week] and kind == "satisfaction":
            value = satisfaction_from_counts(scores[week]).average
        points.append(WeekPoint(start + timedelta(weeks=week), answered[week], value))
    return points


def embed_signature(secret: str, survey_id: str, external_customer_id: str) -> str:
    """HMAC-SHA256 (hex) of "<survey id>:<externalCustomerId>" with the account's embed secret.

    The account's own backend computes this for its signed-in customer, so a survey embedded
    in its product can only be answered as that customer.
    """
    message = f"{survey_id}:{external_customer_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(secret: str, survey_id: str, external_customer_id: str, given: str) -> bool:
    """Constant-time check of an embed signature."""
    expected = embed_signature(secret, survey_id, external_customer_id)
    return hmac.compare_digest(expected, (given or "").strip().lower())
