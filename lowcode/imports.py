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
  rows are imported. Empty rows are skipped. A cell that cannot be converted at all, or a
  row that breaks validation in an unexpected way, is that row's error, never the whole
  import's; only a database failure ends the job. NUL characters are refused per cell.
* A CSV cell longer than the csv module's field limit (131,072 characters) is refused
  when the file is uploaded (400 ``cell_too_long``).
* A job ``running`` with no progress for ``STALE_AFTER`` (10 minutes: its worker died) is
  shown as ``failed``, with how many rows were imported, when it is next read.
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
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
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
STALE_AFTER = timedelta(minutes=10)  # a running job silent this long has lost its worker
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


def _unreadable_row(number: int, exc: Exception) -> ValidationFailed:
    if isinstance(exc, csv.Error) and "field limit" in str(exc):
        return ValidationFailed(
            _(
                "Row %(row)s has a cell longer than %(n)s characters, more than any field "
                "holds. Shorten it and try again."
            )
            % {"row": number, "n": f"{csv.field_size_limit():,}"},
            code="cell_too_long",
            fields={"file": [_("A cell is too long.")]},
        )
    return ValidationFailed(
        _("Row %(row)s of the file could not be read.") % {"row": number},
        code="unsupported_file",
        fields={"file": [_("Unreadable file.")]},
    )


def read_rows(
    rows: Iterator[Any], *, first: int = 1, limit: int | None = None
) -> Iterator[tuple[int, Any]]:
    """``(row number, row)`` pairs; a row the reader cannot parse raises ``ValidationFailed``
    (a CSV cell over the csv module's field limit, a damaged workbook), more than ``limit``
    rows raises ``Conflict``."""
    number = first
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # csv.Error, or whatever a damaged workbook raises
            raise _unreadable_row(number, exc) from None
        if limit is not None and number > limit:  # a workbook whose size info lied
            raise Conflict(
                _("The import stopped after %(n)s rows; the rows before were imported.")
                % {"n": f"{limit - first + 1:,}"},
                code="too_many_rows",
            )
        yield number, row
        number += 1


def _open_rows(kind: str, handle: IO[bytes], *, count: bool = True) -> tuple[Iterator[Any], int]:
    """Rows of the file and a row-count estimate (header included)."""
    if kind == "csv":
        text = decode_csv(handle.read())
        total = sum(1 for _row in read_rows(_csv_rows(text))) if count else 0
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
        name = "" if cell is None else str(cell).replace("\x00", "").strip()
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


@dataclass
class Row:
    """One row of the file: its number as the file shows it, its data, its cell errors."""

    number: int
    data: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)


def row_data(columns: dict[int, tuple[dict[str, Any], FieldType]], row: Any, number: int) -> Row:
    """The row's cells converted for their fields; a cell that cannot be converted is an
    error of that field (never of the whole import). NUL characters are refused here, so
    the database never sees them."""
    result = Row(number, {})
    for index, (definition, ftype) in columns.items():
        raw = row[index] if index < len(row) else None
        if raw is None:
            continue
        key = definition["key"]
        if isinstance(raw, str) and "\x00" in raw:
            result.errors[key] = [_("Text may not contain control characters.")]
            continue
        try:
            value = cell_value(definition, ftype, raw)
        except Exception:  # a value no field type expected: this cell's error only
            logger.warning("Import row %s: cell %r could not be converted", number, key)
            result.errors[key] = [_("This value could not be read.")]
            continue
        if value is not None and value != "":
            result.data[key] = value
    return result


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
            file_name=Path((upload.name or "import").replace("\x00", "")).name[:200] or "import",
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


class _Abandoned(Exception):
    """The job was declared stopped (no progress for ``STALE_AFTER``) while this worker ran."""


# Failures of the database itself end the job; any other error fails only the row.
_INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError)


def run_import(job_id: int) -> ImportJob | None:
    """Import a pending job's file; the job ends ``done`` or ``failed`` with its counts."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.PENDING).update(
        state=ImportJob.State.RUNNING, started_at=now, heartbeat_at=now
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
    except _Abandoned:
        logger.warning("Import %s went on after it was declared stopped", job_id)
        job.refresh_from_db()
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
        chunk: list[Row] = []
        reader = read_rows(iterator, first=2, limit=MAX_ROWS + 1)
        stopped: TackError | None = None
        while True:
            try:
                row_number, row = next(reader)
            except StopIteration:
                break
            except TackError as exc:  # an unreadable row, too many rows: keep the rows before
                stopped = exc
                break
            if _blank(row):
                continue
            chunk.append(row_data(columns, row, row_number))
            if len(chunk) >= CHUNK_ROWS:
                _import_chunk(job, actor, form, chunk)
                chunk = []
        if chunk:
            _import_chunk(job, actor, form, chunk)
        if stopped is not None:
            raise stopped
    job.total_rows = job.processed_rows


def _create(
    actor: Membership, form: Form, rows: list[Row]
) -> tuple[int, dict[int, dict[str, list[str]]]]:
    """Validate and insert ``rows`` (all or none of the good ones); errors by row number."""
    with transaction.atomic():  # a database error rolls back to here, not the caller's work
        # first_row=0: errors come back keyed by the offset in the list.
        result = do_bulk_create_records(
            actor, form, [row.data for row in rows], source=Record.Source.IMPORT, first_row=0
        )
    return result.created, {rows[offset].number: errs for offset, errs in result.errors.items()}


def _create_robustly(
    job: ImportJob, actor: Membership, form: Form, rows: list[Row]
) -> tuple[int, dict[int, dict[str, list[str]]]]:
    """``_create``; if a row breaks the validation or insert of the chunk in an unexpected
    way, the rows are retried one by one and the one that breaks is reported alone."""
    try:
        return _create(actor, form, rows)
    except (TackError, *_INFRASTRUCTURE_ERRORS):
        raise
    except Exception:
        if len(rows) == 1:
            logger.exception("Import %s: row %s could not be imported", job.pk, rows[0].number)
            return 0, {rows[0].number: {"data": [_("This row could not be imported.")]}}
        logger.warning("Import %s: a chunk failed, retrying row by row", job.pk, exc_info=True)
    created, errors = 0, {}
    for row in rows:
        count, bad = _create_robustly(job, actor, form, [row])
        created += count
        errors.update(bad)
    return created, errors


def _import_chunk(job: ImportJob, actor: Membership, form: Form, rows: list[Row]) -> None:
    errors = {row.number: row.errors for row in rows if row.errors}
    good = [row for row in rows if not row.errors]
    created = 0
    if good:
        created, bad = _create_robustly(job, actor, form, good)
        errors.update(bad)
    for number in sorted(errors):
        if len(job.errors) < MAX_STORED_ERRORS:
            job.errors.append({"row": number, "fields": errors[number]})
    job.processed_rows += len(rows)
    job.created_count += created
    job.error_count += len(errors)
    job.total_rows = max(job.total_rows, job.processed_rows)
    progress = {
        "processed_rows": job.processed_rows,
        "created_count": job.created_count,
        "error_count": job.error_count,
        "total_rows": job.total_rows,
        "errors": job.errors,
    }
    running = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING)
    if not running.update(**progress, heartbeat_at=timezone.now()):
        # Declared stopped meanwhile: keep the counts true, and stop here.
        ImportJob.objects.filter(pk=job.pk).update(
            **progress, message=_stopped_message(job.created_count, job.message)
        )
        raise _Abandoned


# --- jobs that stopped ---------------------------------------------------------------------


def _stopped_message(created: int, message: str) -> str:
    stopped = _("The import stopped; %(n)s rows were imported. Import the rest again.") % {
        "n": f"{created:,}"
    }
    return " ".join(p for p in (stopped, message) if p)[:500]


def expire_stale(jobs: list[ImportJob]) -> list[ImportJob]:
    """Jobs ``running`` without progress for ``STALE_AFTER`` (their worker died) become
    ``failed``, saying how many rows were imported; the others are returned unchanged."""
    cutoff = timezone.now() - STALE_AFTER
    for job in jobs:
        if job.state != ImportJob.State.RUNNING:
            continue
        last = job.heartbeat_at or job.started_at or job.created_at
        if last >= cutoff:
            continue
        job.state = ImportJob.State.FAILED
        job.finished_at = timezone.now()
        job.message = _stopped_message(job.created_count, job.message)
        # Only if it is still running and still silent: a worker may just have moved it.
        silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
        ImportJob.objects.filter(silent, pk=job.pk, state=ImportJob.State.RUNNING).update(
            state=job.state, finished_at=job.finished_at, message=job.message
        )
        job.refresh_from_db()
    return jobs


def imports_for(actor: Membership, form: Form) -> list[ImportJob]:
    """A form's recent imports (manage level), newest first."""
    check_app_level(actor, form.app, "manage")
    return expire_stale(
        list(ImportJob.objects.filter(org_id=form.org_id, form=form).order_by("-id")[:50])
    )


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
    expire_stale([job])
    return job
