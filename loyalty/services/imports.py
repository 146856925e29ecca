"""Customer imports: keep the upload, preview and check it, then write it all or nothing."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, undefer

from loyalty.domain import importing
from loyalty.domain.importing import ImportFileError, ImportReport
from loyalty.models import ImportUpload
from loyalty.services import customer_import
from loyalty.services.customer_import import ImportCounts, upsert_customers
from loyalty.services.scoring import record_snapshot, rescore
from loyalty.services.segment_criteria import refresh_automatic_segments
from loyalty.types import utcnow

PREVIEW_ROWS = 5
# Uploads nobody finished importing are cleared after this long.
UPLOAD_LIFETIME = timedelta(days=1)


class ImportHasErrors(Exception):
    """All-or-nothing import refused: some rows are invalid (see the report)."""

    def __init__(self, report: ImportReport) -> None:
        count = report.rows_with_errors
        rows = "1 row has" if count == 1 else f"{count} rows have"
        super().__init__(f"{rows} problems; nothing was imported.")
        self.report = report


@dataclass
class ImportPreview:
    """What the preview page shows: columns, the mapping, a few rows, and the full check."""

    upload: ImportUpload
    columns: list[str]
    mapping: dict[str, str | None]
    sample: list[tuple[int, dict[str, object]]]
    mapping_problems: list[str]
    report: ImportReport | None


@dataclass
class ImportResult:
    """What an import did."""

    counts: ImportCounts
    skipped: int


def store_upload(
    session: Session, account_id: uuid.UUID, filename: str, content: bytes
) -> ImportUpload:
    """Keep an uploaded file until it is imported; raises ImportFileError if unreadable."""
    if not content.strip():
        raise ImportFileError(importing.EMPTY_FILE_MESSAGE)
    file_format = importing.detect_format(filename, content[:4096])
    # Fails early on a broken header, or a file with nothing under it.
    importing.require_rows(importing.read_table(io.BytesIO(content), file_format))
    session.execute(
        delete(ImportUpload).where(
            ImportUpload.user_id == account_id, ImportUpload.created_at < utcnow() - UPLOAD_LIFETIME
        )
    )
    upload = ImportUpload(
        user_id=account_id,
        filename=filename[:255] or "upload",
        file_format=file_format,
        size=len(content),
        content=content,
    )
    session.add(upload)
    session.flush()
    return upload


def load_upload(session: Session, upload_id: uuid.UUID) -> ImportUpload | None:
    """The signed-in account's upload, with its content."""
    return session.scalar(
        select(ImportUpload)
        .where(ImportUpload.id == upload_id)
        .options(undefer(ImportUpload.content))
    )


def _table(upload: ImportUpload) -> importing.ImportTable:
    return importing.read_table(io.BytesIO(upload.content), upload.file_format)


def preview(upload: ImportUpload, mapping: dict[str, str | None] | None = None) -> ImportPreview:
    """Columns, the (suggested or chosen) mapping, sample rows and the validation report."""
    table = importing.require_rows(_table(upload))
    mapping = mapping or importing.suggest_mapping(table.columns)
    sample = []
    for item in table.rows:
        sample.append(item)
        if len(sample) >= PREVIEW_ROWS:
            break
    problems = importing.validate_mapping(mapping, table.columns)
    report = None if problems else importing.check_file(_table(upload), mapping)
    return ImportPreview(upload, table.columns, mapping, sample, problems, report)


def import_records(
    session: Session,
    account_id: uuid.UUID,
    table_for_pass,
    mapping: dict[str, str | None],
    skip_invalid: bool,
) -> ImportResult:
    """Validate everything first; then write (all rows, or only the valid ones if asked)."""
    # No rows is its own problem, said before any about the (then missing) columns.
    columns = importing.require_rows(table_for_pass()).columns
    problems = importing.validate_mapping(mapping, columns)
    if problems:
        raise ImportFileError(" ".join(problems))
    set_tags = bool(mapping.get("tags"))
    if customer_import.stages_rows(session):
        # One pass: the valid rows are staged while the file is checked, and written only
        # if the check allows it (the staging table goes with the transaction otherwise).
        report = importing.ImportReport()
        staged = customer_import.stage_customers(
            session, importing.checked_records(table_for_pass(), mapping, report)
        )
        if not report.ok and not skip_invalid:
            raise ImportHasErrors(report)
        counts = customer_import.apply_staged(session, account_id, staged, set_tags)
    else:
        report = importing.check_file(table_for_pass(), mapping)
        if not report.ok and not skip_invalid:
            raise ImportHasErrors(report)
        records = importing.valid_records(table_for_pass(), mapping)
        counts = upsert_customers(session, account_id, records, set_tags)
    # New customers arrive scored; only a moved signup date changes an existing score. What
    # else an import changes (names, e-mails, tags, the count) feeds the automatic segments
    # and today's snapshot.
    if len(counts.rescore_ids) >= customer_import.BIG_IMPORT:
        rescore(session, account_id)  # one pass over the account beats a list that long
    else:
        if counts.rescore_ids:
            rescore(session, account_id, customer_ids=counts.rescore_ids)
        refresh_automatic_segments(session, account_id)
        record_snapshot(session, account_id, utcnow())
    return ImportResult(counts=counts, skipped=report.rows_with_errors)


def run_import(
    session: Session,
    account_id: uuid.UUID,
    upload: ImportUpload,
    mapping: dict[str, str | None],
    skip_invalid: bool,
) -> ImportResult:
    """Import an upload, then forget it. The caller commits (or rolls back on error)."""
    result = import_records(session, account_id, lambda: _table(upload), mapping, skip_invalid)
    session.delete(upload)
    return result
