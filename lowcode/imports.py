"""Bulk import of a form's records from a CSV or XLSX file.

``do_start_import`` checks the file (size, type, header) while the request is still
open, so a file that cannot work answers 400/413 and writes nothing. The rows are then
imported by ``run_import`` in a Celery task (inline in the embedded mode), in chunks:
each chunk is validated and its good rows inserted in one transaction through
``lowcode.actions.do_bulk_create_records``; the job's counters move after every chunk,
which is what the progress bar shows.

Rules the user sees:

* CSV: UTF-8 (with or without BOM) or GB18030; comma, semicolon or tab separated.
  XLSX: the first worksheet; formula cells import the value Excel last calculated.
  At most ``LOWCODE_IMPORT_MAX_BYTES`` (20 MB) and ``MAX_ROWS`` rows per file.
* Row 1 is the header. A column matches a field by its key or its label, ignoring case
  (Chinese labels work the same way). Columns that match nothing, and columns of fields
  that are filled in automatically (serial numbers, computed values), are listed in the
  job's message: they are never silently dropped.
* A row with any bad cell is skipped as a whole and reported with its row number as the
  file shows it (the header is row 1) and the field keys with their messages; the good
  rows are imported. Empty rows are skipped.
* Importing the same file twice imports its rows twice: there is no de-duplication.
* Imported records do not start approval flows (history is being loaded).
* The uploaded file is deleted once its import has ended.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, PayloadTooLarge, TackError, ValidationFailed
from core.models import Membership
from lowcode.access import check_app_level
from lowcode.actions import do_bulk_create_records
from lowcode.models import Form, ImportJob, Record
from lowcode.registries import FieldType, field_type_registry

logger = logging.getLogger("tack.lowcode.imports")

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CHUNK_ROWS = 2_000
MAX_ROWS = 200_000
MAX_STORED_ERRORS = 1_000
KINDS = ("csv", "xlsx")
_XLSX_MAGIC = b"PK\x03\x04"
_SLASH_DATE = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")


def max_import_bytes() -> int:
    """The upload limit: ``settings.LOWCODE_IMPORT_MAX_BYTES`` (default 20 MB)."""
    return int(getattr(settings, "LOWCODE_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


# --- reading files -------------------------------------------------------------------------


def decode_csv(raw: bytes) -> str:
    """UTF-8 (with or without a BOM), else GB18030 (what Chinese Excel saves as CSV)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ValidationFailed(
            _("The file is not UTF-8 or GB18030 text. Save it as CSV UTF-8 and try again."),
            code="bad_encoding",
            fields={"file": [_("Unknown text encoding.")]},
        ) from None


def _csv_rows(text: str) -> Iterator[list[Any]]:
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_rows(handle: IO[bytes]) -> tuple[Iterator[tuple[Any, ...]], int]:
    """The first sheet's rows and its row count (0 if the file does not say)."""
    from openpyxl import load_workbook

    workbook = load_workbook(handle, read_only=True, data_only=True)
    sheet = workbook.worksheets[0]
    total = sheet.max_row or 0

    def rows() -> Iterator[tuple[Any, ...]]:
        try:
            yield from sheet.iter_rows(values_only=True)
        finally:
            workbook.close()

    return rows(), total


def _kind_of(name: str, head: bytes) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in KINDS:
        raise ValidationFailed(
            _("Import a .csv or .xlsx file."),
            code="unsupported_file",
            fields={"file": [_("Only .csv and .xlsx files can be imported.")]},
        )
    looks_xlsx = head.startswith(_XLSX_MAGIC)
    if suffix == "xlsx" and not looks_xlsx:
        raise ValidationFailed(
            _("This file is not an Excel workbook (.xlsx)."),
            code="unsupported_file",
            fields={"file": [_("The content does not match the .xlsx extension.")]},
        )
    if suffix == "csv" and (looks_xlsx or b"\x00" in head):
        raise ValidationFailed(
            _("This file is not a CSV text file."),
            code="unsupported_file",
            fields={"file": [_("The content does not match the .csv extension.")]},
        )
    return suffix


def _open_rows(kind: str, handle: IO[bytes], *, count: bool = True) -> tuple[Iterator[Any], int]:
    """Rows of the file and a row-count estimate (header included)."""
    if kind == "csv":
        text = decode_csv(handle.read())
        total = sum(1 for _row in _csv_rows(text)) if count else 0
        return _csv_rows(text), total
    try:
        return _xlsx_rows(handle)
    except Exception:  # openpyxl raises many kinds of errors for broken workbooks
        raise ValidationFailed(
            _("The workbook could not be read. Save it again in Excel as .xlsx."),
            code="unsupported_file",
            fields={"file": [_("Unreadable workbook.")]},
        ) from None


# --- header --------------------------------------------------------------------------------


@dataclass
class ColumnMap:
    """Which field each column fills; what was left out, and why."""

    columns: dict[int, dict[str, Any]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    automatic: list[str] = field(default_factory=list)

    def message(self) -> str:
        parts = []
        if self.unknown:
            parts.append(
                _("Columns that match no field were not imported: %(names)s.")
                % {"names": ", ".join(self.unknown)}
            )
        if self.automatic:
            parts.append(
                _("Columns filled in automatically were not imported: %(names)s.")
                % {"names": ", ".join(self.automatic)}
            )
        return " ".join(parts)[:500]


def _fold(text: Any) -> str:
    return " ".join(str(text).split()).casefold()


def map_header(fields: list[dict[str, Any]], header: list[Any]) -> ColumnMap:
    """Match header cells to fields by key or label (case-insensitive)."""
    by_name: dict[str, dict[str, Any]] = {}
    for definition in fields:
        by_name.setdefault(_fold(definition["label"]), definition)
    for definition in fields:  # a key wins over another field's label
        by_name[_fold(definition["key"])] = definition
    mapping = ColumnMap()
    taken: set[str] = set()
    for index, cell in enumerate(header):
        name = "" if cell is None else str(cell).strip()
        if not name:
            continue
        found = by_name.get(_fold(name))
        if found is None or found["key"] in taken:
            mapping.unknown.append(name)
            continue
        definition = found
        ftype = field_type_registry.get(definition["type"])
        if ftype.read_only or ftype.virtual_column:
            mapping.automatic.append(name)
            continue
        taken.add(definition["key"])
        mapping.columns[index] = definition
    if not mapping.columns:
        raise ValidationFailed(
            _(
                "No column of the first row matches a field of this form. The first row "
                "must hold field names (or keys)."
            ),
            code="no_matching_columns",
            fields={"file": [_("No column matches a field.")]},
        )
    return mapping


# --- cells ---------------------------------------------------------------------------------


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def cell_value(definition: dict[str, Any], ftype: FieldType, raw: Any) -> Any:
    """A cell (CSV text, or an XLSX number/date/bool) in the shape the field validates."""
    options = definition.get("options", {})
    kind = ftype.type
    if isinstance(raw, bool):
        if kind == "checkbox":
            return raw
        raw = _("Yes") if raw else _("No")
    if isinstance(raw, datetime):
        if kind == "date":
            return raw.date().isoformat()
        if kind == "datetime":
            return raw.isoformat()
        raw = raw.isoformat(sep=" ")
    elif isinstance(raw, date):
        if kind in ("date", "datetime"):
            return raw.isoformat()
        raw = raw.isoformat()
    elif isinstance(raw, time):
        raw = raw.isoformat()
    elif isinstance(raw, int | float | Decimal):
        if kind in ("number", "computed"):
            return raw
        if kind == "money":
            try:
                minor = Decimal(str(raw)) * 100
            except InvalidOperation:
                return {"amount": str(raw)}
            if minor == minor.to_integral_value():
                return {"amount": int(minor), "currency": options.get("currency", "CNY")}
            return {"amount": str(raw)}
        raw = _number_text(raw)
    text = str(raw).strip()
    if not text:
        return None
    if kind == "date":
        match = _SLASH_DATE.match(text)
        if match:
            year, month, day = match.groups()
            text = f"{year}-{int(month):02d}-{int(day):02d}"
        return text
    return ftype.parse_text(options, text)


def _row_data(columns: dict[int, tuple[dict[str, Any], FieldType]], row: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for index, (definition, ftype) in columns.items():
        raw = row[index] if index < len(row) else None
        if raw is None:
            continue
        value = cell_value(definition, ftype, raw)
        if value is not None and value != "":
            data[definition["key"]] = value
    return data


def _blank(row: Any) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


# --- actions -------------------------------------------------------------------------------


def check_start_import(
    actor: Membership, form: Form, upload: UploadedFile[bytes]
) -> tuple[str, ColumnMap]:
    """Refuse what cannot work before anything is stored; the file kind and header map."""
    check_app_level(actor, form.app, "manage")
    if form.published_version is None:
        raise Conflict(_("Publish the form before importing records."), code="form_not_published")
    limit = max_import_bytes()
    if upload.size is None or upload.size > limit:
        raise PayloadTooLarge(
            _("Import files may be at most %(mb)s MB.") % {"mb": round(limit / 1024 / 1024, 1)},
            fields={"file": [_("Too large.")]},
        )
    upload.seek(0)
    kind = _kind_of(upload.name or "", upload.read(8))
    upload.seek(0)
    rows, total = _open_rows(kind, upload)
    if total - 1 > MAX_ROWS:
        raise PayloadTooLarge(
            _("Import at most %(n)s rows at a time; split the file.") % {"n": f"{MAX_ROWS:,}"},
            code="too_many_rows",
            fields={"file": [_("Too many rows.")]},
        )
    try:
        header = next(iter(rows), None)
    except Exception:
        raise ValidationFailed(
            _("The file could not be read."),
            code="unsupported_file",
            fields={"file": [_("Unreadable file.")]},
        ) from None
    mapping = map_header(form.published_version.fields, list(header or []))
    upload.seek(0)
    return kind, mapping


def do_start_import(actor: Membership, form: Form, upload: UploadedFile[bytes]) -> ImportJob:
    """Store the file and queue its import; the job reports progress and row errors."""
    _kind, mapping = check_start_import(actor, form, upload)
    with transaction.atomic():
        job = ImportJob(
            org_id=form.org_id,
            form=form,
            created_by=actor,
            file_name=Path(upload.name or "import").name[:200],
            message=mapping.message(),
        )
        job.file.save(job.file_name, upload, save=False)
        job.save()
        transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from lowcode.import_tasks import run_import_task

    run_import_task.delay(job_id)


def _finish(job: ImportJob, state: str, message: str = "") -> None:
    job.state = state
    if message:
        job.message = " ".join(p for p in (message, job.message) if p)[:500]
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "state",
            "message",
            "finished_at",
            "total_rows",
            "processed_rows",
            "created_count",
            "error_count",
            "errors",
        ]
    )


def run_import(job_id: int) -> ImportJob | None:
    """Import a pending job's file; the job ends ``done`` or ``failed`` with its counts."""
    claimed = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.PENDING).update(
        state=ImportJob.State.RUNNING, started_at=timezone.now()
    )
    job = (
        ImportJob.objects.select_related("form__app", "form__published_version", "created_by")
        .filter(pk=job_id)
        .first()
    )
    if job is None or not claimed:
        return job  # unknown, or already taken by another worker
    try:
        _import(job)
    except TackError as exc:
        _finish(job, ImportJob.State.FAILED, exc.message)
    except csv.Error as exc:
        _finish(job, ImportJob.State.FAILED, _("The file could not be read: %(e)s") % {"e": exc})
    except Exception:
        logger.exception("Import %s failed", job_id)
        _finish(job, ImportJob.State.FAILED, _("The import stopped because of an internal error."))
    else:
        _finish(job, ImportJob.State.DONE)
    _discard_file(job)
    return job


def _discard_file(job: ImportJob) -> None:
    """The uploaded copy is not kept once the import ended (the uploader still has it)."""
    if job.file:
        try:
            job.file.delete(save=False)
        except OSError:
            logger.warning("Could not delete the file of import %s", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(file="")


def _import(job: ImportJob) -> None:
    actor, form = job.created_by, job.form
    if actor is None or not actor.is_active:
        raise Conflict(_("The member who started this import is no longer active."))
    if form.published_version is None:
        raise Conflict(_("The form is no longer published."), code="form_not_published")
    kind = Path(job.file.name or "").suffix.lower().lstrip(".")
    with job.file.open("rb") as handle:
        rows, total = _open_rows(kind, handle)
        iterator = iter(rows)
        header = next(iterator, None)
        mapping = map_header(form.published_version.fields, list(header or []))
        columns = {
            index: (definition, field_type_registry.get(definition["type"]))
            for index, definition in mapping.columns.items()
        }
        job.total_rows = max(total - 1, 0)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
        chunk: list[dict[str, Any]] = []
        numbers: list[int] = []
        for row_number, row in enumerate(iterator, start=2):
            if row_number > MAX_ROWS + 1:  # a workbook whose size info lied
                raise Conflict(
                    _("The import stopped after %(n)s rows; the rows before were imported.")
                    % {"n": f"{MAX_ROWS:,}"},
                    code="too_many_rows",
                )
            if _blank(row):
                continue
            chunk.append(_row_data(columns, row))
            numbers.append(row_number)
            if len(chunk) >= CHUNK_ROWS:
                _import_chunk(job, actor, form, chunk, numbers)
                chunk, numbers = [], []
        if chunk:
            _import_chunk(job, actor, form, chunk, numbers)
    job.total_rows = job.processed_rows


def _import_chunk(
    job: ImportJob, actor: Membership, form: Form, chunk: list[dict[str, Any]], numbers: list[int]
) -> None:
    # first_row=0: errors come back keyed by the offset in the chunk.
    result = do_bulk_create_records(actor, form, chunk, source=Record.Source.IMPORT, first_row=0)
    for offset in sorted(result.errors):
        if len(job.errors) < MAX_STORED_ERRORS:
            job.errors.append({"row": numbers[offset], "fields": result.errors[offset]})
    job.processed_rows += len(chunk)
    job.created_count += result.created
    job.error_count += len(result.errors)
    job.total_rows = max(job.total_rows, job.processed_rows)
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=job.processed_rows,
        created_count=job.created_count,
        error_count=job.error_count,
        total_rows=job.total_rows,
        errors=job.errors,
    )


def imports_for(actor: Membership, form: Form) -> list[ImportJob]:
    """A form's recent imports (manage level), newest first."""
    check_app_level(actor, form.app, "manage")
    return list(ImportJob.objects.filter(org_id=form.org_id, form=form).order_by("-id")[:50])


def access_import(actor: Membership, job_id: Any) -> ImportJob:
    """An import of a form the caller manages; 404 otherwise (same as a missing one)."""
    from core.access import as_id
    from core.errors import NotFound
    from lowcode.access import app_levels

    job = (
        ImportJob.objects.select_related("form__app")
        .filter(org_id=actor.org_id, pk=as_id(job_id))
        .first()
    )
    if job is None or "manage" not in app_levels(actor, job.form.app):
        raise NotFound(_("Import not found."))
    return job
