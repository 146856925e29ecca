"""When an engagement event may be dated, one rule for the API, its bulk path and the form."""

from __future__ import annotations

from datetime import datetime, timedelta

# How far ahead of the server's clock an event may be dated. A client's clock often runs a
# little fast, so "now" on a phone may be a minute or two ahead; anything later has not
# happened yet, and the score (which only counts what has happened) would contradict it.
EVENT_DATE_FUTURE_TOLERANCE = timedelta(minutes=5)


def check_event_date(when: datetime, now: datetime) -> None:
    """Refuse (ValueError, with the reason) an event dated more than the tolerance after now.

    Both moments must carry a time zone."""
    if when > now + EVENT_DATE_FUTURE_TOLERANCE:
        minutes = int(EVENT_DATE_FUTURE_TOLERANCE.total_seconds() // 60)
        raise ValueError(
            f"An event cannot be in the future (more than {minutes} minutes from now)."
        )
