"""Filters and globals shared by the templates."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from flask import Flask, current_app, g, url_for

from loyalty.domain.bands import risk_band, score_range
from loyalty.domain.scoring import event_type_label
from loyalty.time_zones import account_zone
from loyalty.types import utcnow


def humanize_time(value: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', '3 days ago', or a date for older moments."""
    if value is None:
        return "never"
    now = now or utcnow()
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for limit, unit_seconds, unit in (
        (60, 1, None),
        (3600, 60, "minute"),
        (86400, 3600, "hour"),
        (86400 * 45, 86400, "day"),
    ):
        if seconds < limit:
            if unit is None:
                return "just now"
            count = int(seconds // unit_seconds)
            label = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {label}" if future else f"{label} ago"
    return value.astimezone(account_zone()).strftime("%-d %b %Y")


def format_date(value: date | str | None) -> str:
    """A calendar day (a signup date, a week), as stored: 24 Nov 2026 (ISO text too)."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%-d %b %Y") if value else "—"


def format_datetime(value: datetime | None) -> str:
    """A moment in the account's time zone: 24 Nov 2026, 09:05 EST."""
    if value is None:
        return "—"
    local = value.astimezone(account_zone())
    return f"{local:%-d %b %Y, %H:%M} {local.tzname()}"


def iso(value: datetime | None) -> str:
    """ISO 8601 with offset, for machine-readable attributes."""
    return value.isoformat() if value else ""


def asset_url(filename: str) -> str:
    """A static file's URL with its modification time, so browsers fetch new builds."""
    path = Path(current_app.static_folder or "") / filename
    version = int(path.stat().st_mtime) if path.exists() else 0
    return url_for("static", filename=filename, v=version)


_ID_PLACEHOLDER = uuid.UUID(int=0)


def id_url(endpoint: str, **argument: uuid.UUID) -> str:
    """`url_for(endpoint, some_id=an_id)` for the many rows of a table.

    Werkzeug builds the endpoint's URL once per request, and each row only puts in its id:
    a table row has three such links, and building them one by one took a quarter of the
    time its rows take to render.
    """
    ((name, value),) = argument.items()
    if not isinstance(value, uuid.UUID):
        raise TypeError(f"id_url takes a UUID for {name}, not {type(value).__name__}")
    built = g.setdefault("id_urls", {})
    parts = built.get((endpoint, name))
    if parts is None:
        url = url_for(endpoint, **{name: _ID_PLACEHOLDER})
        parts = built[(endpoint, name)] = url.split(str(_ID_PLACEHOLDER))
    return f"{parts[0]}{value}{parts[1]}"


def init_app(app: Flask) -> None:
    """Register the filters and globals."""
    app.add_template_filter(humanize_time, "ago")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(iso, "iso")
    app.add_template_global(asset_url)
    app.add_template_global(id_url)
    app.add_template_filter(risk_band, "risk_band")
    app.add_template_global(score_range)
    app.add_template_filter(event_type_label, "event_label")

    @app.context_processor
    def _navigation() -> dict:
        return {"nav_endpoints": frozenset(app.view_functions)}
