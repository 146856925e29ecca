"""PostgreSQL COPY's text format: one line per row, tab-separated, backslash escapes."""

from __future__ import annotations

ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def escape(value: str) -> str:
    """Text as a COPY column: the characters COPY reads specially, escaped."""
    return value.translate(ESCAPES)
