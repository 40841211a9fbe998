"""Export a form's records as CSV or XLSX, with the record list's filter and sort.

Rows come from ``lowcode.selectors.records_query`` in keyset pages, so an export shows
exactly what the caller's record list shows (all records with ``view_all``, else their
own) and never loads everything at once. The header holds the field labels; cells are
what each field type's ``display()`` gives (money as "12,500.00 CNY", choices as their
labels), members and departments as names (loaded once per page), then the record
number, who created it and when. CSV starts with a UTF-8 BOM so Excel opens Chinese text
correctly. Number fields stay numbers in XLSX so they can be summed.

Text cells and header labels that a spreadsheet would run as a formula get a leading
apostrophe; control characters an XLSX file cannot hold are dropped (older records may
still hold them), before that check so that they cannot hide a formula.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ValidationFailed
from core.models import Department, Membership
from core.security.policies import check_export_allowed
from lowcode.access import app_levels, visible_records_q
from lowcode.models import Form, Record
from lowcode.registries import field_type_registry
from lowcode.selectors import MAX_PAGE, Page, filter_q, form_fields, records_query

MAX_EXPORT_ROWS = 100_000
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = {"number", "computed"}


@dataclass
class Export:
    """A checked export: the header, and the first page already fetched."""

    member: Membership
    form: Form
    fields: list[dict[str, Any]]
    filters: Any
    sort: str
    levels: set[str]
    first_page: Page

    def header(self) -> list[str]:
        labels = (_safe(str(f["label"])) for f in self.fields)  # a label may look like a formula
        return ["#", *labels, _("Created by"), _("Created at")]

    def pages(self) -> Iterator[list[Record]]:
        page, sent = self.first_page, 0
        while True:
            records = page.records[: MAX_EXPORT_ROWS - sent]
            yield records
            sent += len(records)
            if page.next_cursor is None or sent >= MAX_EXPORT_ROWS:
                return
            page = records_query(
                self.member,
                self.form,
                filters=self.filters,
                sort=self.sort,
                cursor=page.next_cursor,
                limit=MAX_PAGE,
                levels=self.levels,
            )


def check_export(member: Membership, form: Form, *, filters: Any = None, sort: str = "") -> Export:
    """Validate the filter and sort, check the size; raises before any byte is sent."""
    check_export_allowed(member, "records")
    levels = app_levels(member, form.app)
    fields = [
        f for f in form_fields(form) if field_type_registry.get(f["type"]).virtual_column is None
    ]
    queryset = Record.objects.filter(org_id=form.org_id, form_id=form.pk, deleted_at__isnull=True)
    visibility = visible_records_q(member, levels)
    if visibility:
        queryset = queryset.filter(visibility)
    if filters:
        queryset = queryset.filter(filter_q(form_fields(form), filters))
    if queryset.count() > MAX_EXPORT_ROWS:
        raise ValidationFailed(
            _(
                "An export holds at most %(n)s records. Add a filter (for example a date "
                "range) and export in parts."
            )
            % {"n": f"{MAX_EXPORT_ROWS:,}"},
            code="export_too_large",
            fields={"filter": [_("Too many records.")]},
        )
    first = records_query(member, form, filters=filters, sort=sort, limit=MAX_PAGE, levels=levels)
    return Export(member, form, fields, filters, sort, levels, first)


def _names(
    org_id: int, records: list[Record], fields: list[dict[str, Any]]
) -> tuple[dict[int, str], dict[int, str]]:
    """Member and department names used by this page of records (two queries at most)."""
    member_ids: set[int] = set()
    department_ids: set[int] = set()
    for definition in fields:
        if definition["type"] not in ("member", "department"):
            continue
        target = member_ids if definition["type"] == "member" else department_ids
        for record in records:
            value = record.data.get(definition["key"])
            for pk in value if isinstance(value, list) else [value]:
                if isinstance(pk, int) and not isinstance(pk, bool):
                    target.add(pk)
    members = (
        dict(
            Membership.objects.filter(org_id=org_id, pk__in=member_ids).values_list(
                "pk", "user__display_name"
            )
        )
        if member_ids
        else {}
    )
    departments = (
        dict(
            Department.objects.filter(org_id=org_id, pk__in=department_ids).values_list(
                "pk", "name"
            )
        )
        if department_ids
        else {}
    )
    return members, departments


def _safe(text: str) -> str:
    """Text that a spreadsheet will not run as a formula.

    Characters XLSX cannot hold are dropped first (for CSV too), so what is checked is
    what the spreadsheet gets: "\\x0b=CMD()" must not become "=CMD()".
    """
    text = _illegal_characters().sub("", text)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _illegal_characters() -> re.Pattern[str]:
    """Control characters an XLSX file cannot hold (openpyxl refuses them)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    pattern: re.Pattern[str] = ILLEGAL_CHARACTERS_RE
    return pattern


def _xlsx_cell(value: Any) -> Any:
    return _illegal_characters().sub("", value) if isinstance(value, str) else value


def _cell(
    definition: dict[str, Any],
    value: Any,
    names: tuple[dict[int, str], dict[int, str]],
    *,
    native_numbers: bool,
) -> Any:
    kind = definition["type"]
    options = definition.get("options", {})
    if kind in ("member", "department"):
        lookup = names[0] if kind == "member" else names[1]
        ids = value if isinstance(value, list) else ([] if value is None else [value])
        return _safe(", ".join(lookup.get(pk, f"#{pk}") for pk in ids))
    if native_numbers and kind in _NUMERIC and isinstance(value, int | float):
        return value
    text = field_type_registry.get(kind).display(options, value)
    if kind in _NUMERIC or kind == "money":
        return text
    return _safe(text)


def _created_by(record: Record) -> str:
    if record.created_by_id is None:
        return _("Public link") if record.source == Record.Source.PUBLIC else ""
    return _safe(record.created_by.user.display_name) if record.created_by else ""


def rows(export: Export, *, native_numbers: bool = False) -> Iterator[list[Any]]:
    """The header, then one list of cells per record."""
    yield export.header()
    for records in export.pages():
        names = _names(export.form.org_id, records, export.fields)
        for record in records:
            yield [
                record.number,
                *(
                    _cell(d, record.data.get(d["key"]), names, native_numbers=native_numbers)
                    for d in export.fields
                ),
                _created_by(record),
                timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M"),
            ]


class _Line:
    """A file-like ``write`` that hands back what was written (for streaming CSV)."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(export: Export) -> Iterator[bytes]:
    """The CSV file as byte chunks (BOM first), about one page of records per chunk."""
    yield "\ufeff".encode()
    writer = csv.writer(_Line())
    buffer: list[str] = []
    for row in rows(export):
        buffer.append(writer.writerow(row))
        if len(buffer) >= MAX_PAGE:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


def xlsx_file(export: Export) -> IO[bytes]:
    """The XLSX workbook (openpyxl write-only), in a temporary file rewound to the start."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(export.form.name))
    for row in rows(export, native_numbers=True):
        sheet.append([_xlsx_cell(value) for value in row])  # every cell, the header too
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return handle


def xlsx_chunks(export: Export, size: int = 64 * 1024) -> Iterator[bytes]:
    """The XLSX workbook in byte chunks (it is written whole first: a zip needs its end)."""
    handle = xlsx_file(export)
    try:
        yield from iter(lambda: handle.read(size), b"")
    finally:
        handle.close()


def _sheet_title(name: str) -> str:
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in _xlsx_cell(name)).strip()
    return (cleaned or "Records")[:31]


def file_name(form: Form, kind: str) -> str:
    safe = "".join(c for c in form.name if c not in '\\/:*?"<>|\r\n\t').strip() or "records"
    return f"{safe}-{timezone.localdate().isoformat()}.{kind}"


def csv_text(export: Export) -> str:
    """The whole CSV as text (tests and small exports)."""
    return b"".join(csv_chunks(export)).decode("utf-8")


__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "MAX_EXPORT_ROWS",
    "Export",
    "check_export",
    "csv_chunks",
    "csv_text",
    "file_name",
    "rows",
    "xlsx_chunks",
    "xlsx_file",
]
