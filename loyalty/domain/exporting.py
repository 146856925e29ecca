"""Exporting customers as CSV or JSON, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping

EXPORT_COLUMNS = (
    "externalCustomerId",
    "name",
    "email",
    "signupDate",
    "tags",
    "churnRiskScore",
    "lastEngagementDate",
)
# A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def neutralise_cell(value: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula ('=1+1' -> "'=1+1")."""
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:g}"
    elif not isinstance(value, str):
        value = str(value)
    return neutralise_cell(value)


def customers_to_csv(rows: Iterable[Mapping[str, object]]) -> Iterator[str]:
    """CSV text in chunks: a header, then one line per customer (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(row.get(column)) for column in EXPORT_COLUMNS])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def customers_to_json(rows: Iterable[Mapping[str, object]]) -> Iterator[str]:
    """A JSON array in chunks, one object per customer with the spec's field names."""
    yield "["
    for index, row in enumerate(rows):
        item = {column: row.get(column) for column in EXPORT_COLUMNS}
        yield ("," if index else "") + "\n" + json.dumps(item, ensure_ascii=False)
    yield "\n]\n"
