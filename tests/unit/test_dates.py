"""When an engagement event may be dated: up to now, give or take a client's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loyalty.domain.api_input import InputError, event_input
from loyalty.domain.dates import EVENT_DATE_FUTURE_TOLERANCE, check_event_date

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("ahead", [timedelta(days=-400), timedelta(0), timedelta(minutes=5)])
def test_events_up_to_the_clock_tolerance_ahead_are_taken(ahead):
    assert EVENT_DATE_FUTURE_TOLERANCE == timedelta(minutes=5)
    check_event_date(NOW + ahead, NOW)


@pytest.mark.parametrize("ahead", [timedelta(minutes=5, seconds=1), timedelta(days=30_000)])
def test_events_further_ahead_are_the_future(ahead):
    with pytest.raises(ValueError, match="cannot be in the future"):
        check_event_date(NOW + ahead, NOW)


def test_the_api_names_the_date_of_a_future_event():
    with pytest.raises(InputError) as error:
        event_input({"eventType": "login", "eventDate": "2026-11-24T12:06:00Z"}, NOW)
    assert set(error.value.errors) == {"eventDate"}
    assert event_input({"eventType": "login", "eventDate": "2026-11-24T12:04:00Z"}, NOW)[1] == (
        NOW + timedelta(minutes=4)
    )
