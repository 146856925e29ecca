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


# Names the system's zone database has that are no place: this machine's own zone, and a
# zone for unset clocks.
_NOT_ZONES = frozenset({"localtime", "Factory"})
# The areas of the zones a person picks from: "Europe/Paris", not "CET", "W-SU" or "Etc/GMT+5"
# (whose sign is the reverse of what it reads).
MENU_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted (aliases too: browsers report some, like Asia/Calcutta)."""
    return tuple(sorted((available_timezones() - _NOT_ZONES) | {DEFAULT_ZONE}))


@cache
def menu_zone_names() -> tuple[str, ...]:
    """The zones a menu offers: UTC, then each place's zone by area (any of `zone_names`
    is still taken, as a browser may report an old alias)."""
    places = sorted(name for name in zone_names() if name.split("/")[0] in MENU_AREAS)
    return (DEFAULT_ZONE, *places)


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
