"""Reads: apps a member sees, record queries with filters, sort and keyset pages."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.dates import parse_day, parse_moment
from core.errors import ValidationFailed
from core.models import Membership
from lowcode import hooks
from lowcode.access import app_levels, visible_records_q
from lowcode.models import App, Form, FormVersion, Record
from lowcode.registries import OPERATORS, FieldError, ValueContext, field_type_registry

MAX_PAGE = 200
DEFAULT_PAGE = 50
#: Record columns that can be filtered and sorted like fields.
SYSTEM_FIELDS: dict[str, dict[str, Any]] = {
    "number": {"key": "number", "type": "number", "label": "#", "column": "number"},
    "created_at": {"key": "created_at", "type": "created_at", "label": "Created at"},
    "created_by": {"key": "created_by", "type": "created_by", "label": "Created by"},
    "updated_at": {
        "key": "updated_at",
        "type": "created_at",
        "label": "Updated at",
        "column": "updated_at",
    },
}


def extra_visibility_q(member: Membership) -> Q:
    return hooks.any_of([hook(member) for hook in hooks.RECORD_VISIBILITY])


def apps_for(member: Membership) -> list[App]:
    """Apps the member can open, with their levels attached as ``app.levels``."""
    apps = []
    for app in App.objects.filter(org_id=member.org_id, archived_at__isnull=True):
        levels = app_levels(member, app)
        if levels:
            app.levels = levels  # type: ignore[attr-defined]
            apps.append(app)
    return apps


def form_fields(form: Form, version: FormVersion | None = None) -> list[dict[str, Any]]:
    version = version or form.published_version
    return list(version.fields) if version is not None else list(form.draft_fields)


def _field(fields_by_key: dict[str, dict[str, Any]], key: Any, where: str) -> dict[str, Any]:
    if not isinstance(key, str):
        raise ValidationFailed(_("Unknown field."), fields={where: [_("Unknown field.")]})
    definition = fields_by_key.get(key) or SYSTEM_FIELDS.get(key)
    if definition is None:
        raise ValidationFailed(
            _("Unknown field %(key)s.") % {"key": key}, fields={where: [_("Unknown field.")]}
        )
    return definition


def _path(definition: dict[str, Any]) -> str:
    if "column" in definition:
        return str(definition["column"])
    return field_type_registry.get(definition["type"]).lookup_path(definition["key"])


MAX_ID = 2**63 - 1
MAX_NUMBER = 1e15
MAX_TEXT = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _coerce(definition: dict[str, Any], value: Any) -> Any:
    """A filter (or cursor) value in the field's stored shape, checked so the database
    never sees something it cannot compare: "5" finds the number 5, "garbage" is a 400."""
    ftype = field_type_registry.get(definition["type"])
    kind = definition["type"]
    options = definition.get("options", {})
    if kind == "money":
        if isinstance(value, dict):
            value = value.get("amount")
        if isinstance(value, str):
            value = ftype.parse_text(options, value)["amount"]
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_NUMBER:
            raise FieldError(_("Enter an amount in minor units (fen, cents)."))
        return value
    if kind == "created_at":  # the record's own timestamps
        parsed = parse_moment(value) if isinstance(value, str) else None
        if parsed is None and isinstance(value, str):
            day = parse_day(value) if len(value) == 10 else None
            parsed = datetime.combine(day, datetime.min.time()) if day else None
        if parsed is None:
            raise FieldError(_("Enter a date or a date and time, such as 2026-11-23T09:30:00Z."))
        return parsed if parsed.tzinfo else timezone.make_aware(parsed)
    if isinstance(value, str) and ftype.storage in ("number", "id", "bool", "virtual"):
        value = ftype.parse_text(options, value)
    if ftype.storage == "number" or "column" in definition:
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or abs(value) > MAX_NUMBER
        ):
            raise FieldError(_("Enter a number."))
        return value
    if ftype.storage in ("id", "id_list", "virtual"):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
            raise FieldError(_("Enter an id."))
        return value
    if ftype.storage == "bool":
        if not isinstance(value, bool):
            raise FieldError(_("Enter true or false."))
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise FieldError(_("Enter text."))
    if _CONTROL.search(value):
        raise FieldError(_("Text may not contain control characters."))
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise FieldError(_("Enter a date as YYYY-MM-DD.")) from None
    if kind == "datetime":
        return ftype.normalize(options, value, ValueContext(org_id=0), "")
    return value


def filter_q(fields: list[dict[str, Any]], filters: Any) -> Q:
    """``[{"field": key, "op": op, "value": v}, ...]`` (all must hold) -> Q."""
    if not isinstance(filters, list) or len(filters) > 20:
        raise ValidationFailed(
            _("Filters must be a list of at most 20 conditions."),
            fields={"filter": [_("Invalid filter.")]},
        )
    by_key = {f["key"]: f for f in fields}
    q = Q()
    for index, condition in enumerate(filters):
        where = f"filter[{index}]"
        if not isinstance(condition, dict):
            raise ValidationFailed(_("Invalid filter."), fields={where: [_("Expected an object.")]})
        definition = _field(by_key, condition.get("field"), f"{where}.field")
        ftype = field_type_registry.get(definition["type"])
        op = condition.get("op", "eq")
        operators = (
            ("eq", "gte", "lte", "range", "in") if "column" in definition else ftype.operators
        )
        if op not in OPERATORS or op not in operators:
            raise ValidationFailed(
                _("This field cannot be filtered with %(op)s.") % {"op": op},
                fields={f"{where}.op": [_("Use one of: %(ops)s.") % {"ops": ", ".join(operators)}]},
            )
        value: Any = condition.get("value")
        try:
            if op in ("empty", "not_empty"):
                value = None
            elif op == "range":
                if not isinstance(value, list) or len(value) != 2 or value == [None, None]:
                    raise FieldError(_("A range is [low, high]; either may be null."))
                value = [None if v is None else _coerce(definition, v) for v in value]
            elif op == "in":
                if not isinstance(value, list) or not 0 < len(value) <= 100:
                    raise FieldError(_("Give a list of 1 to 100 values."))
                value = [_coerce(definition, v) for v in value]
            elif op == "contains" and definition["type"] == "multi_select":
                value = value if isinstance(value, list) else [value]
            else:
                value = _coerce(definition, value)
            if "column" in definition:
                path = definition["column"]
                suffix = {"eq": "", "gte": "__gte", "lte": "__lte", "in": "__in"}
                if op == "range":
                    low, high = value
                    part = Q()
                    if low is not None:
                        part &= Q(**{f"{path}__gte": low})
                    if high is not None:
                        part &= Q(**{f"{path}__lte": high})
                    q &= part
                else:
                    q &= Q(**{f"{path}{suffix[op]}": value})
            else:
                q &= ftype.filter_q(definition.get("options", {}), definition["key"], op, value)
        except FieldError as exc:
            raise ValidationFailed(exc.message, fields={f"{where}.value": [exc.message]}) from None
        except (ValueError, TypeError):
            raise ValidationFailed(
                _("Invalid filter value."), fields={f"{where}.value": [_("Invalid value.")]}
            ) from None
    return q


@dataclass
class Page:
    records: list[Record]
    next_cursor: str | None


def _encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(
            base64.urlsafe_b64decode(padded.encode()), parse_constant=_reject_constant
        )
        if not isinstance(pk, int) or isinstance(pk, bool) or not 0 <= pk <= MAX_ID:
            raise ValueError
        return value, pk
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise ValidationFailed(
            _("The cursor is not valid."), fields={"cursor": [_("Invalid cursor.")]}
        ) from None


def _sort_value(record: Record, definition: dict[str, Any] | None) -> Any:
    if definition is None:
        return None
    if "column" in definition:
        return getattr(record, definition["column"])
    ftype = field_type_registry.get(definition["type"])
    if ftype.virtual_column:
        return getattr(record, ftype.virtual_column)
    value = record.data.get(definition["key"])
    if definition["type"] == "money" and isinstance(value, dict):
        return value.get("amount")
    return value


def records_query(
    member: Membership,
    form: Form,
    *,
    filters: Any = None,
    sort: str = "",
    cursor: str = "",
    limit: int = DEFAULT_PAGE,
    deleted: bool = False,
    levels: set[str] | None = None,
) -> Page:
    """One page of a form's records the member may see."""
    levels = levels if levels is not None else app_levels(member, form.app)
    fields = form_fields(form)
    # Versions are few and shared: one query for the page (serialisers read
    # ``version.number``), not a join that copies the version's JSON into every row.
    queryset: QuerySet[Record] = (
        Record.objects.filter(org_id=form.org_id, form_id=form.pk, deleted_at__isnull=not deleted)
        .select_related("created_by__user")
        .prefetch_related("version")
    )
    visibility = visible_records_q(member, levels)
    if visibility:
        queryset = queryset.filter(visibility)
    if filters:
        queryset = queryset.filter(filter_q(fields, filters))
    limit = max(1, min(int(limit), MAX_PAGE))
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    definition: dict[str, Any] | None = None
    if key and key != "id":
        definition = _field({f["key"]: f for f in fields}, key, "sort")
        # Lists cannot be ordered; a checkbox is true or absent, nothing to order by.
        if field_type_registry.get(definition["type"]).storage in (
            "rows",
            "id_list",
            "string_list",
            "bool",
        ) or definition.get("options", {}).get("multiple"):
            raise ValidationFailed(
                _("This field cannot be sorted."), fields={"sort": [_("Not sortable.")]}
            )
    elif not key:
        descending = True  # newest first
    path = _path(definition) if definition is not None else None
    empty: QuerySet[Record] | None = None
    if cursor:
        value, last_id = _decode_cursor(cursor)
        if value is not None and definition is not None:
            try:
                value = _coerce(definition, value)
            except FieldError:
                raise ValidationFailed(
                    _("The cursor is not valid."), fields={"cursor": [_("Invalid cursor.")]}
                ) from None
        elif value is not None:
            raise ValidationFailed(
                _("The cursor is not valid."), fields={"cursor": [_("Invalid cursor.")]}
            )
        if path is None:
            queryset = (
                queryset.filter(pk__lt=last_id) if descending else queryset.filter(pk__gt=last_id)
            )
        elif descending:  # DESC NULLS FIRST, the backward scan of (value, id)
            if value is None:
                queryset = queryset.filter(
                    Q(**{f"{path}__isnull": True}, pk__lt=last_id) | Q(**{f"{path}__isnull": False})
                )
            else:
                # The redundant bound is what lets the scan start at the cursor: the OR
                # alone is only a filter, so page k would read every row of pages 1..k.
                queryset = queryset.filter(
                    Q(**{f"{path}__lte": value}),
                    Q(**{f"{path}__lt": value}) | Q(**{path: value}, pk__lt=last_id),
                )
        elif value is None:  # ASC NULLS LAST
            queryset = queryset.filter(Q(**{f"{path}__isnull": True}, pk__gt=last_id))
        else:
            # The rest of the values from the cursor on (an index range, as above), then
            # the empty ones, which sort last, read separately if the page is not full.
            empty = queryset.filter(**{f"{path}__isnull": True}).order_by("pk")
            queryset = queryset.filter(
                Q(**{f"{path}__gte": value}),
                Q(**{f"{path}__gt": value}) | Q(**{path: value}, pk__gt=last_id),
            )
    if path is None:
        queryset = queryset.order_by("-pk" if descending else "pk")
    elif descending:
        queryset = queryset.order_by(F(path).desc(nulls_first=True), "-pk")
    else:
        queryset = queryset.order_by(F(path).asc(nulls_last=True), "pk")
    rows = list(queryset[: limit + 1])
    if empty is not None and len(rows) <= limit:
        rows += list(empty[: limit + 1 - len(rows)])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(_sort_value(last, definition), last.pk)
    return Page(records=rows, next_cursor=next_cursor)


def run_lookup(member: Membership, lookup: Any, value: str, *, cursor: str = "") -> Page:
    """A lookup page's query for one typed value (blank: no results)."""
    value = (value or "").strip()[:500]
    if not value:
        return Page(records=[], next_cursor=None)
    op = "contains" if lookup.match == "contains" else "eq"
    return records_query(
        member,
        lookup.form,
        filters=[{"field": lookup.input_field, "op": op, "value": value}],
        sort=lookup.sort or "",
        cursor=cursor,
    )


def record_history(record: Record) -> list[Any]:
    """The record's creation (from the record itself) and then every change, oldest first."""
    from lowcode.models import RecordChange

    created = RecordChange(
        org_id=record.org_id,
        record=record,
        kind=RecordChange.Kind.CREATED,
        actor_id=record.created_by_id,
        at=record.created_at,
        changes={"source": record.source},
        version=record.version,
    )
    return [created, *record.changes.select_related("version")]


def record_file(record: Record, file_id: Any) -> Any:
    """A file one of the record's attachment or image fields holds (``RecordFile``)."""
    from core.access import as_id
    from core.errors import NotFound
    from im.models import Attachment

    attachment = Attachment.objects.filter(
        org_id=record.org_id,
        pk=as_id(file_id),
        pk__in=record.files.values("attachment_id"),
    ).first()
    if attachment is None:
        raise NotFound(_("File not found."))
    return attachment
