"""The account's time zone: how moments are shown, and how typed times are read.

Everything is stored and exchanged (API, exports) in UTC; pages show moments, and read the
times people type, in the account's zone. Calendar dates (a signup date, a week of the
survey trend) are days, not moments, and are shown as they are.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from flask import g, has_request_context
from flask_login import current_user

DEFAULT_ZONE = "UTC"
UTC_ZONE = ZoneInfo(DEFAULT_ZONE)


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted (aliases too: browsers report some, like Asia/Calcutta)."""
    return tuple(sorted(available_timezones() | {DEFAULT_ZONE}))


def zone_named(name: object) -> ZoneInfo | None:
    """The zone of that name, or None for a name that is not one of `zone_names`."""
    if not isinstance(name, str) or name not in _known():
        return None
    return ZoneInfo(name)


@cache
def _known() -> frozenset[str]:
    return frozenset(zone_names())


def account_zone() -> ZoneInfo:
    """The signed-in account's zone (UTC outside a request or for nobody signed in)."""
    if not has_request_context():
        return UTC_ZONE
    zone = g.get("account_zone")
    if zone is None:
        name = current_user.time_zone if current_user.is_authenticated else None
        zone = g.account_zone = zone_named(name) or UTC_ZONE
    return zone
