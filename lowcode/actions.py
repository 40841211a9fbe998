"""Every low-code write: apps, forms and versions, records, lookups.

``check_*`` validates and authorises; ``do_*`` writes. Permission checks live here so
the API, the web pages, imports and Celery tasks cannot skip them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

# No type stubs are installed for jsonschema.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from core.audit import record_audit
from core.bulk import JsonText, bulk_insert, insert_rows
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Membership
from core.permissions import check_permission
from lowcode import hooks
from lowcode.access import LEVELS, app_levels, check_app_level
from lowcode.models import App, Form, FormVersion, LookupPage, Record, RecordChange, RecordFile
from lowcode.registries import ValueContext, field_type_registry
from lowcode.schema import (
    build_schema,
    build_ui_schema,
    check_field_definitions,
    clean_record_data,
    field_type,
)

MAX_BULK = 10_000

_GRANT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "roles": {
            "type": "array",
            "uniqueItems": True,
            "items": {"enum": ["owner", "admin", "member", "guest"]},
        },
        "members": {
            "type": "array",
            "uniqueItems": True,
            "maxItems": 500,
            "items": {"type": "integer", "minimum": 1},
        },
        "departments": {
            "type": "array",
            "uniqueItems": True,
            "maxItems": 500,
            "items": {"type": "integer", "minimum": 1},
        },
    },
}
PERMISSIONS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": dict.fromkeys(LEVELS, _GRANT),
}
_permissions_validator = Draft202012Validator(PERMISSIONS_SCHEMA)


# --- apps ------------------------------------------------------------------------------


def _check_name(raw: Any, where: str = "name", max_length: int = 80) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed(_("A name is required."), fields={where: [_("Required.")]})
    name = raw.strip()
    if len(name) > max_length:
        raise ValidationFailed(
            _("Names may be at most %(n)s characters.") % {"n": max_length},
            fields={where: [_("Too long.")]},
        )
    return name


def check_permissions_value(actor: Membership, permissions: Any) -> dict[str, Any]:
    errors = {
        ".".join(["permissions", *map(str, e.absolute_path)]): [e.message]
        for e in _permissions_validator.iter_errors(permissions)
    }
    if errors:
        raise ValidationFailed(_("The app permissions are not valid."), fields=errors)
    from lowcode.references import missing_ids

    for level, grant in permissions.items():
        for kind, ids in (
            ("member", grant.get("members", [])),
            ("department", grant.get("departments", [])),
        ):
            missing = missing_ids(kind, None, ValueContext(org_id=actor.org_id), set(ids))
            if missing:
                message = (
                    _("Unknown member ids: %(ids)s.")
                    if kind == "member"
                    else _("Unknown department ids: %(ids)s.")
                ) % {"ids": sorted(missing)}
                raise ValidationFailed(
                    message, fields={f"permissions.{level}.{kind}s": [_("Unknown ids.")]}
                )
    full: dict[str, dict[str, Any]] = {
        level: {"roles": [], "members": [], "departments": []} for level in LEVELS
    }
    for level, grant in permissions.items():
        full[level].update(grant)
    return full


@transaction.atomic
def do_create_app(
    actor: Membership,
    *,
    name: str,
    description: str = "",
    icon: str = "",
    color: str = "#1f6feb",
    permissions: dict[str, Any] | None = None,
    ip: str | None = None,
) -> App:
    check_permission(actor, "lowcode.app.create")
    app = App(
        org_id=actor.org_id,
        name=_check_name(name),
        description=(description or "").strip()[:500],
        icon=(icon or "")[:8],
        color=color or "#1f6feb",
        created_by=actor,
    )
    if permissions is not None:
        app.permissions = check_permissions_value(actor, permissions)
    app.full_clean(exclude=["org", "created_by", "permissions"])
    app.save()
    record_audit(actor.org, actor.user, "lowcode.app.create", app, ip=ip)
    return app


@transaction.atomic
def do_update_app(actor: Membership, app: App, *, ip: str | None = None, **changes: Any) -> App:
    check_app_level(actor, app, "manage")
    if "name" in changes:
        app.name = _check_name(changes["name"])
    if "description" in changes:
        app.description = (changes["description"] or "").strip()[:500]
    if "icon" in changes:
        app.icon = (changes["icon"] or "")[:8]
    if "color" in changes:
        app.color = changes["color"]
    if "permissions" in changes:
        app.permissions = check_permissions_value(actor, changes["permissions"])
        record_audit(
            actor.org,
            actor.user,
            "lowcode.app.permissions",
            app,
            data={"permissions": app.permissions},
            ip=ip,
        )
    if "is_published" in changes and bool(changes["is_published"]) != app.is_published:
        if (
            changes["is_published"]
            and not app.forms.filter(published_version__isnull=False).exists()
        ):
            raise Conflict(
                _("Publish at least one form before publishing the app."), code="no_published_form"
            )
        app.is_published = bool(changes["is_published"])
        record_audit(
            actor.org,
            actor.user,
            "lowcode.app.publish" if app.is_published else "lowcode.app.unpublish",
            app,
            ip=ip,
        )
    app.updated_at = timezone.now()
    app.full_clean(exclude=["org", "created_by", "permissions"])
    app.save()
    return app


@transaction.atomic
def do_archive_app(actor: Membership, app: App, *, ip: str | None = None) -> None:
    check_app_level(actor, app, "manage")
    app.archived_at = timezone.now()
    app.save(update_fields=["archived_at"])
    record_audit(actor.org, actor.user, "lowcode.app.archive", app, ip=ip)


# --- forms and versions ------------------------------------------------------------------


@transaction.atomic
def do_create_form(
    actor: Membership,
    app: App,
    *,
    name: str,
    description: str = "",
    fields: list[dict[str, Any]] | None = None,
    layout: dict[str, Any] | None = None,
) -> Form:
    check_app_level(actor, app, "manage")
    form = Form(
        org_id=actor.org_id,
        app=app,
        name=_check_name(name),
        description=(description or "").strip()[:500],
        draft_fields=check_field_definitions(fields) if fields else [],
        draft_layout=_check_layout(layout),
        position=app.forms.count(),
    )
    if fields:
        _check_relations(actor, form.draft_fields)
    form.save()
    return form


def _check_layout(layout: Any) -> dict[str, Any]:
    if layout in (None, {}):
        return {}
    if not isinstance(layout, dict) or len(json.dumps(layout)) > 20_000:
        raise ValidationFailed(
            _("The layout must be an object."), fields={"layout": [_("Invalid.")]}
        )
    return layout


def _check_relations(actor: Membership, fields: list[dict[str, Any]]) -> None:
    """Relation fields point at a form whose records the designer may see (view all):
    otherwise a relation would reveal which records of a hidden app exist."""
    targets = {f["options"]["form"] for f in fields if f["type"] == "relation"}
    if not targets:
        return
    forms = Form.objects.select_related("app").filter(org_id=actor.org_id, pk__in=targets)
    visible = {form.pk for form in forms if "view_all" in app_levels(actor, form.app)}
    if targets - visible:
        raise ValidationFailed(
            _("A relation points at a form that does not exist or that you cannot see."),
            fields={"fields": [_("Unknown form %(ids)s.") % {"ids": sorted(targets - visible)}]},
        )


@transaction.atomic
def do_update_form(actor: Membership, form: Form, **changes: Any) -> Form:
    """Edit the draft (and the form's own settings); publishing makes it count."""
    check_app_level(actor, form.app, "manage")
    if "name" in changes:
        form.name = _check_name(changes["name"])
    if "description" in changes:
        form.description = (changes["description"] or "").strip()[:500]
    if "fields" in changes:
        form.draft_fields = check_field_definitions(changes["fields"])
        _check_relations(actor, form.draft_fields)
    if "layout" in changes:
        form.draft_layout = _check_layout(changes["layout"])
    if "qr_field" in changes:
        key = changes["qr_field"] or ""
        published = form.published_version.fields if form.published_version else []
        if key and not any(f["key"] == key and f["type"] == "single_select" for f in published):
            raise ValidationFailed(
                _("QR codes per value need a published single-select field."),
                fields={"qr_field": [_("Not a published single-select field.")]},
            )
        form.qr_field = key
    form.updated_at = timezone.now()
    # Never write next_number from memory: records may have taken numbers meanwhile.
    form.save(
        update_fields=[
            "name",
            "description",
            "draft_fields",
            "draft_layout",
            "qr_field",
            "updated_at",
        ]
    )
    return form


def _storage_of(definition: dict[str, Any]) -> str:
    ftype = field_type(definition)
    if ftype.type in ("member", "department", "relation") and definition.get("options", {}).get(
        "multiple"
    ):
        return "id_list"
    return ftype.storage


#: Field types that read any stored string (so text-like data may move into them).
_ANY_TEXT = {"text", "long_text", "scanned_code"}
_NUMBERS = {"number", "computed"}


def _history_entry(definition: dict[str, Any]) -> dict[str, str]:
    return {"storage": _storage_of(definition), "type": definition["type"]}


def _type_label(entry: Any) -> str:
    kind = entry.get("type") if isinstance(entry, dict) else None
    if isinstance(kind, str) and kind in field_type_registry:
        return str(field_type_registry.get(kind).label)
    return str(entry.get("storage") if isinstance(entry, dict) else entry)


def _can_hold(before: Any, definition: dict[str, Any]) -> bool:
    """Whether records written under ``before`` (a ``key_history`` entry) still read
    correctly as ``definition``: same storage, and a type that accepts those values."""
    storage, kind = (
        (before.get("storage"), before.get("type")) if isinstance(before, dict) else (before, None)
    )
    if storage != _storage_of(definition):
        return False
    new = definition["type"]
    if kind is None or kind == new:
        return True  # an entry from before types were kept: the storage check is all we have
    if storage == "string":
        return new in _ANY_TEXT
    return {kind, new} <= _NUMBERS


def check_publish(form: Form) -> tuple[list[dict[str, Any]], set[str]]:
    """The draft, checked for publishing; and the keys it drops from the current version."""
    fields = check_field_definitions(form.draft_fields)
    if not fields:
        raise ValidationFailed(
            _("Add at least one field before publishing."), fields={"fields": [_("Empty.")]}
        )
    errors: dict[str, list[str]] = {}
    for index, definition in enumerate(fields):
        before = form.key_history.get(definition["key"])
        if before is not None and not _can_hold(before, definition):
            errors[f"fields[{index}].type"] = [
                _(
                    "Records already hold other values under %(key)s (%(before)s); a %(now)s "
                    "field cannot read them. Add a new field instead, so no data is orphaned."
                )
                % {
                    "key": definition["key"],
                    "before": _type_label(before),
                    "now": field_type(definition).label,
                }
            ]
    if errors:
        raise Conflict(
            _("This change would orphan existing data."), code="would_orphan_data", fields=errors
        )
    current = form.published_version.fields if form.published_version else []
    removed = {f["key"] for f in current} - {f["key"] for f in fields}
    if removed:
        problems = [
            message for check in hooks.FIELD_USAGE_CHECKS for message in check(form, removed)
        ]
        if form.qr_field in removed:
            problems.append(
                _("The QR codes per value use the field %(key)s.") % {"key": form.qr_field}
            )
        if problems:
            raise Conflict(
                _("Some removed fields are still in use."),
                code="field_in_use",
                fields={"fields": problems},
            )
    return fields, removed


@transaction.atomic
def do_publish_form(
    actor: Membership, form: Form, *, ip: str | None = None
) -> tuple[FormVersion, bool]:
    """Freeze the draft as a new version; ``(version, created)`` (False if unchanged)."""
    check_app_level(actor, form.app, "manage")
    given = form
    form = (
        Form.objects.select_for_update(of=("self",))
        .select_related("app", "published_version")
        .get(pk=given.pk)
    )
    fields, _removed = check_publish(form)
    current = form.published_version
    if current is not None and current.fields == fields and current.layout == form.draft_layout:
        return current, False
    number = (current.number if current else 0) + 1
    number = max(
        number,
        (form.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1,
    )
    version = FormVersion.objects.create(
        org_id=form.org_id,
        form=form,
        number=number,
        fields=fields,
        layout=form.draft_layout,
        schema=build_schema(form.name, fields),
        ui_schema=build_ui_schema(fields, form.draft_layout),
        published_by=actor,
    )
    history = dict(form.key_history)
    for definition in fields:
        history[definition["key"]] = _history_entry(definition)
    form.key_history = history
    form.published_version = version
    form.updated_at = timezone.now()
    form.save(update_fields=["key_history", "published_version", "updated_at"])
    record_audit(
        actor.org, actor.user, "lowcode.form.publish", form, data={"version": version.number}, ip=ip
    )
    from lowcode.indexes import schedule_index_sync

    schedule_index_sync(form)
    # The caller's object reads as published too.
    given.published_version, given.key_history = version, history
    given.updated_at = form.updated_at
    return version, True


def lock_forms_for_delete(forms: QuerySet[Form]) -> list[int]:
    """Lock forms about to be deleted (in the deleting transaction); their ids.

    The row lock every insert takes first (``_allocate_numbers``): a record being added
    now is either committed before the deletion looks for records, or refused once the
    form is gone. Records have no database-level foreign keys to rely on (see ``Record``).
    """
    return list(forms.order_by("pk").select_for_update().values_list("pk", flat=True))


@transaction.atomic
def do_delete_form(actor: Membership, form: Form, *, ip: str | None = None) -> None:
    check_app_level(actor, form.app, "manage")
    if not lock_forms_for_delete(Form.objects.filter(pk=form.pk)):
        raise NotFound(_("Form not found."))
    if Record.objects.filter(org_id=form.org_id, form=form).exists():
        raise Conflict(
            _("This form has records. Export and delete them first."), code="form_has_records"
        )
    record_audit(actor.org, actor.user, "lowcode.form.delete", form, ip=ip)
    form.delete()


# --- records ---------------------------------------------------------------------------


def _writable_version(actor: Membership | None, form: Form) -> FormVersion:
    if form.published_version is None:
        raise Conflict(_("This form has not been published yet."), code="form_not_published")
    return form.published_version


def _allocate_numbers(form: Form, count: int) -> int:
    """Reserve ``count`` record numbers; returns the first. One row-locking UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Form._meta.db_table} SET next_number = next_number + %s "  # noqa: S608
            "WHERE id = %s RETURNING next_number",
            [count, form.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("Form not found."))
    return int(row[0]) - count


def _file_ids(fields: list[dict[str, Any]], data: dict[str, Any]) -> set[int]:
    keys = [f["key"] for f in fields if f["type"] in ("attachment", "image")]
    return {pk for key in keys for pk in (data.get(key) or []) if isinstance(pk, int)}


def _link_files(records: list[Record], fields: list[dict[str, Any]]) -> None:
    """Claim the files new records hold (``RecordFile``: one record per file)."""
    links = [
        RecordFile(org_id=record.org_id, record=record, attachment_id=pk)
        for record in records
        for pk in _file_ids(fields, record.data)
    ]
    if links:
        RecordFile.objects.bulk_create(links)


def _relink_files(record: Record, fields: list[dict[str, Any]]) -> None:
    held = _file_ids(fields, record.data)
    linked = set(
        RecordFile.objects.filter(org_id=record.org_id, record=record).values_list(
            "attachment_id", flat=True
        )
    )
    RecordFile.objects.filter(
        org_id=record.org_id, record=record, attachment_id__in=linked - held
    ).delete()
    RecordFile.objects.bulk_create(
        [RecordFile(org_id=record.org_id, record=record, attachment_id=pk) for pk in held - linked]
    )


def _fill_serials(fields: list[dict[str, Any]], data: dict[str, Any], number: int) -> None:
    for definition in fields:
        if definition["type"] == "serial":
            ftype = field_type(definition)
            data[definition["key"]] = ftype.format(definition.get("options", {}), number)  # type: ignore[attr-defined]


def check_create_record(actor: Membership | None, form: Form) -> FormVersion:
    if actor is not None:
        check_app_level(actor, form.app, "submit")
    return _writable_version(actor, form)


def do_create_record(
    actor: Membership | None,
    form: Form,
    data: Any,
    *,
    idempotency_key: str = "",
    source: str = Record.Source.WEB,
) -> tuple[Record, bool]:
    """Create a record; ``(record, created)``. A repeated idempotency key returns the first.

    ``actor`` is None only for public links (checked by their own action).
    """
    version = check_create_record(actor, form)
    if len(idempotency_key) > 80:
        raise ValidationFailed(
            _("Idempotency keys may be at most 80 characters."),
            fields={"idempotency_key": [_("Too long.")]},
        )
    if idempotency_key and actor is not None:
        first = _first_with_key(actor, form, idempotency_key)
        if first is not None:
            return first, False
    ctx = ValueContext(org_id=form.org_id, actor_id=actor.pk if actor else None)
    cleaned = clean_record_data(version.fields, data, ctx, cache_key=version.pk)
    try:
        with transaction.atomic():
            record = _insert(actor, form, version, cleaned, idempotency_key, source)
    except IntegrityError:
        first = _first_with_key(actor, form, idempotency_key) if idempotency_key and actor else None
        if first is None:
            raise
        return first, False
    return record, True


def _first_with_key(actor: Membership, form: Form, key: str) -> Record | None:
    return Record.objects.filter(
        org_id=form.org_id, form=form, created_by=actor, idempotency_key=key
    ).first()


def _insert(
    actor: Membership | None,
    form: Form,
    version: FormVersion,
    cleaned: dict[str, Any],
    idempotency_key: str,
    source: str,
) -> Record:
    number = _allocate_numbers(form, 1)
    _fill_serials(version.fields, cleaned, number)
    now = timezone.now()
    record = Record.objects.create(
        org_id=form.org_id,
        form=form,
        version=version,
        number=number,
        data=cleaned,
        source=source,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
        idempotency_key=idempotency_key,
    )
    _link_files([record], version.fields)
    for hook in hooks.RECORD_CREATED:
        hook(actor, record)
    return record


@dataclass
class BulkResult:
    created: int = 0
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    record_ids: list[int] = field(default_factory=list)


def clean_many(
    form: Form,
    version: FormVersion,
    rows: Iterable[Any],
    *,
    first_row: int = 1,
    actor_id: int | None = None,
) -> tuple[list[tuple[int, dict[str, Any]]], dict[int, dict[str, list[str]]]]:
    """Validate rows against ``version``: ``([(row number, stored data)], {row: errors})``.

    References (members, records, files) are checked for all rows in one query per kind,
    and a missing one fails only its own row.
    """
    from lowcode.schema import apply_computed, field_plan, normalize_object, validator_for

    ctx = ValueContext(org_id=form.org_id, actor_id=actor_id)
    fields = version.fields
    validator = validator_for(fields, version.pk)
    plan = field_plan(fields)  # once per call, not once per row
    computed = any(f["type"] == "computed" for f in fields)
    pending: list[tuple[int, dict[str, Any], dict[str, list[str]]]] = []
    for offset, data in enumerate(rows):
        if offset >= MAX_BULK:
            raise ValidationFailed(
                _("At most %(n)s rows at a time.") % {"n": MAX_BULK},
                fields={"rows": [_("Too many.")]},
            )
        row_number = first_row + offset
        prefix = f"row{row_number}."
        cleaned, errors = normalize_object(
            fields, data, ctx, prefix, validator=validator, plan=plan
        )
        pending.append((row_number, cleaned, errors))
    unresolved = ctx.unresolved()
    good: list[tuple[int, dict[str, Any]]] = []
    bad: dict[int, dict[str, list[str]]] = {}
    for row_number, cleaned, errors in pending:
        if errors or unresolved:
            prefix = f"row{row_number}."
            row_errors = {
                (k[len(prefix) :] if k.startswith(prefix) else "data"): v for k, v in errors.items()
            }
            for path, messages in unresolved.items():
                if path.startswith(prefix):
                    row_errors.setdefault(path[len(prefix) :], []).extend(messages)
            if row_errors:
                bad[row_number] = row_errors
                continue
        if computed:
            apply_computed(fields, cleaned)
        good.append((row_number, cleaned))
    return good, bad


def insert_records(
    form: Form,
    version: FormVersion,
    rows: list[dict[str, Any]],
    *,
    actor: Membership | None,
    source: str,
) -> list[Record]:
    """Insert already-clean rows (numbers, serials, history) in the caller's transaction.

    No approval flow starts: bulk loads carry history, not new submissions.
    """
    if not rows:
        return []
    now = timezone.now()
    first = _allocate_numbers(form, len(rows))
    records = []
    for index, cleaned in enumerate(rows):
        _fill_serials(version.fields, cleaned, first + index)
        records.append(
            Record(
                org_id=form.org_id,
                form=form,
                version=version,
                number=first + index,
                data=cleaned,
                source=source,
                created_by=actor,
                created_at=now,
                updated_by=actor,
                updated_at=now,
            )
        )
    created = bulk_insert(records)
    _link_files(created, version.fields)
    return created


_RECORD_COLUMNS = (
    "org_id",
    "form_id",
    "version_id",
    "number",
    "data",
    "source",
    "created_by_id",
    "created_at",
    "updated_by_id",
    "updated_at",
    "idempotency_key",
    "approval_state",
)


def insert_record_rows(
    form: Form,
    version: FormVersion,
    rows: list[dict[str, Any]],
    *,
    actor: Membership | None,
    source: str,
    texts: Sequence[JsonText] | None = None,
) -> list[int]:
    """``insert_records`` for callers that need only the new ids (a sync's page).

    The same rows, numbers, serials and file links, written from plain tuples (no model
    instances); returns the new records' ids in row order. ``texts``: the same rows
    already serialised as JSON, written as they are unless serial numbers must be filled.
    """
    if not rows:
        return []
    fields = version.fields
    now = timezone.now()
    first = _allocate_numbers(form, len(rows))
    serials = any(f["type"] == "serial" for f in fields)
    data: Sequence[dict[str, Any] | JsonText] = rows if serials or texts is None else texts
    actor_id = actor.pk if actor is not None else None
    org_id, form_id, version_id = form.org_id, form.pk, version.pk
    values = []
    for index, cleaned in enumerate(rows):
        if serials:
            _fill_serials(fields, cleaned, first + index)
        values.append(
            (
                org_id,
                form_id,
                version_id,
                first + index,
                data[index],
                source,
                actor_id,
                now,
                actor_id,
                now,
                "",
                "",
            )
        )
    # The numbers just reserved are ours alone, so they find the new ids in one indexed
    # read; cheaper than drawing every id from the sequence first.
    insert_rows(Record, _RECORD_COLUMNS, values, returning=False)
    # Plain SQL: thousands of ids through the ORM's row iteration would cost more than the
    # query (``lowcode_record_unique_number`` serves it).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Record._meta.db_table} WHERE org_id = %s AND form_id = %s"  # noqa: S608
            " AND number >= %s AND number < %s ORDER BY number",
            [org_id, form_id, first, first + len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    assert len(ids) == len(rows)
    if any(f["type"] in ("attachment", "image") for f in fields):
        links = [
            RecordFile(org_id=org_id, record_id=pk, attachment_id=file_id)
            for pk, cleaned in zip(ids, rows, strict=True)
            for file_id in _file_ids(fields, cleaned)
        ]
        if links:
            RecordFile.objects.bulk_create(links)
    return ids


def do_bulk_create_records(
    actor: Membership,
    form: Form,
    rows: Iterable[Any],
    *,
    source: str = Record.Source.IMPORT,
    first_row: int = 1,
) -> BulkResult:
    """Validate every row; insert the good ones in one transaction; report the bad ones.

    Row numbers in ``errors`` start at ``first_row`` (2 for a CSV with a header line).
    Approval flows do not start for imported records (history is being loaded).
    """
    check_app_level(actor, form.app, "manage")
    version = _writable_version(actor, form)
    good, bad = clean_many(form, version, rows, first_row=first_row, actor_id=actor.pk)
    result = BulkResult(errors=bad)
    if good:
        with transaction.atomic():
            created = insert_records(
                form, version, [cleaned for _row, cleaned in good], actor=actor, source=source
            )
        result.created = len(created)
        result.record_ids = [r.pk for r in created]
    return result


def _merge_kept_values(
    record: Record,
    version: FormVersion,
    cleaned: dict[str, Any],
    keys: tuple[set[str], set[str]] | None = None,
) -> dict[str, list[Any]]:
    """Keep what a write never drops (values of fields ``version`` no longer has, serial
    numbers already given) in ``cleaned``; returns the diff ``{key: [old, new]}``."""
    if keys is None:
        keys = (
            {f["key"] for f in version.fields},
            {f["key"] for f in version.fields if f["type"] == "serial"},
        )
    current_keys, serials = keys
    for key, value in record.data.items():
        if key not in current_keys or key in serials:
            cleaned.setdefault(key, value)
    _fill_missing_serial(version.fields, cleaned, record.number)
    return {
        key: [record.data.get(key), cleaned.get(key)]
        for key in sorted(set(record.data) | set(cleaned))
        if record.data.get(key) != cleaned.get(key)
    }


def write_records_data(
    items: list[tuple[Record, dict[str, Any]]],
    version: FormVersion,
    *,
    actor: Membership | None,
) -> list[bool]:
    """``write_record_data`` for many records at once (a sync's page of changes), in
    the caller's transaction: one UPDATE, one history insert, file links set-based.

    Returns, per item, whether the record changed.
    """
    keys = (
        {f["key"] for f in version.fields},
        {f["key"] for f in version.fields if f["type"] == "serial"},
    )
    now = timezone.now()
    written: list[tuple[Record, dict[str, list[Any]]]] = []
    result = []
    for record, cleaned in items:
        diff = _merge_kept_values(record, version, cleaned, keys)
        if not diff and record.version_id == version.pk:
            result.append(False)
            continue
        record.data = cleaned
        record.version = version
        record.updated_by = actor
        record.updated_at = now
        written.append((record, diff))
        result.append(True)
    if not written:
        return result
    records = [record for record, _diff in written]
    Record.objects.bulk_update(records, ["data", "version", "updated_by", "updated_at"])
    # File links follow the new data, as ``_relink_files`` does one record at a time.
    org_id = records[0].org_id
    linked: dict[int, dict[int, int]] = {}
    for pk, record_id, attachment_id in RecordFile.objects.filter(
        org_id=org_id, record_id__in=[r.pk for r in records]
    ).values_list("pk", "record_id", "attachment_id"):
        linked.setdefault(record_id, {})[attachment_id] = pk
    stale: list[int] = []
    fresh: list[RecordFile] = []
    for record in records:
        held = _file_ids(version.fields, record.data)
        have = linked.get(record.pk, {})
        stale += [pk for attachment_id, pk in have.items() if attachment_id not in held]
        fresh += [
            RecordFile(org_id=record.org_id, record=record, attachment_id=pk)
            for pk in held
            if pk not in have
        ]
    if stale:
        RecordFile.objects.filter(pk__in=stale).delete()
    if fresh:
        RecordFile.objects.bulk_create(fresh)
    RecordChange.objects.bulk_create(
        [
            RecordChange(
                org_id=record.org_id,
                record=record,
                kind=RecordChange.Kind.UPDATED,
                actor=actor,
                at=now,
                changes=diff,
                version=version,
            )
            for record, diff in written
        ]
    )
    return result


def write_record_data(
    record: Record, version: FormVersion, cleaned: dict[str, Any], *, actor: Membership | None
) -> bool:
    """Store new clean data on a record (in the caller's transaction), with its history.

    Values of fields ``version`` no longer has, and serial numbers already given, are
    kept. Returns False (and writes nothing) when nothing changed.
    """
    diff = _merge_kept_values(record, version, cleaned)
    if not diff and record.version_id == version.pk:
        return False
    record.data = cleaned
    record.version = version
    record.updated_by = actor
    record.updated_at = timezone.now()
    record.save(update_fields=["data", "version", "updated_by", "updated_at"])
    _relink_files(record, version.fields)
    RecordChange.objects.create(
        org_id=record.org_id,
        record=record,
        kind=RecordChange.Kind.UPDATED,
        actor=actor,
        at=record.updated_at,
        changes=diff,
        version=version,
    )
    return True


def _check_write(actor: Membership, record: Record) -> None:
    levels = app_levels(actor, record.form.app)
    if "manage" not in levels and not ("submit" in levels and record.created_by_id == actor.pk):
        check_app_level(actor, record.form.app, "manage")
    for hook in hooks.RECORD_WRITE_CHECKS:
        hook(actor, record)


@transaction.atomic
def do_update_record(actor: Membership, record: Record, changes: Any) -> Record:
    """Apply a partial change, validated against the form's current version.

    Values of fields the current version no longer has are kept as they are.
    """
    record = (
        Record.objects.select_for_update(of=("self",))
        .select_related("form__app", "form__published_version")
        .get(pk=record.pk)
    )
    if record.deleted_at is not None:
        raise NotFound(_("Record not found."))
    _check_write(actor, record)
    if not isinstance(changes, dict):
        raise ValidationFailed(
            _("Send the changed fields as an object."), fields={"data": [_("Expected an object.")]}
        )
    version = _writable_version(actor, record.form)
    editable = {f["key"] for f in version.fields if not field_type(f).read_only}
    merged = {k: v for k, v in record.data.items() if k in editable}
    merged.update(changes)
    ctx = ValueContext(org_id=record.org_id, actor_id=actor.pk, record_id=record.pk)
    cleaned = clean_record_data(version.fields, merged, ctx, cache_key=version.pk)
    if write_record_data(record, version, cleaned, actor=actor):
        for hook in hooks.RECORD_UPDATED:
            hook(actor, record)
    return record


def _fill_missing_serial(fields: list[dict[str, Any]], data: dict[str, Any], number: int) -> None:
    """A serial field added after the record was created gets the record's number."""
    for definition in fields:
        if definition["type"] == "serial" and definition["key"] not in data:
            _fill_serials([definition], data, number)


@transaction.atomic
def do_delete_record(actor: Membership, record: Record) -> Record:
    _check_write(actor, record)
    if record.deleted_at is None:
        record.deleted_at = timezone.now()
        record.deleted_by = actor
        record.save(update_fields=["deleted_at", "deleted_by"])
        RecordChange.objects.create(
            org_id=record.org_id,
            record=record,
            kind=RecordChange.Kind.DELETED,
            actor=actor,
            version=record.version,
        )
        for hook in hooks.RECORD_DELETED:
            hook(actor, record)
    return record


@transaction.atomic
def do_restore_record(actor: Membership, record: Record) -> Record:
    _check_write(actor, record)
    if record.deleted_at is not None:
        record.deleted_at = None
        record.deleted_by = None
        record.save(update_fields=["deleted_at", "deleted_by"])
        RecordChange.objects.create(
            org_id=record.org_id,
            record=record,
            kind=RecordChange.Kind.RESTORED,
            actor=actor,
            version=record.version,
        )
    return record


# --- lookups -------------------------------------------------------------------------


def _check_lookup_fields(form: Form, input_field: Any, columns: Any, match: str) -> None:
    fields = {
        f["key"]: f for f in (form.published_version.fields if form.published_version else [])
    }
    if input_field not in fields:
        raise ValidationFailed(
            _("Choose a published field of the form to search by."),
            fields={"input_field": [_("Unknown field.")]},
        )
    ftype = field_type_registry.get(fields[input_field]["type"])
    wanted = "contains" if match == LookupPage.Match.CONTAINS else "eq"
    if wanted not in ftype.operators:
        raise ValidationFailed(
            _("This field cannot be searched that way."), fields={"match": [_("Not supported.")]}
        )
    if not isinstance(columns, list) or any(c not in fields for c in columns) or len(columns) > 30:
        raise ValidationFailed(
            _("Columns must be published fields of the form."),
            fields={"columns": [_("Unknown field.")]},
        )


@transaction.atomic
def do_save_lookup(
    actor: Membership,
    form: Form,
    *,
    lookup: LookupPage | None = None,
    name: str,
    input_field: str,
    match: str = LookupPage.Match.EQUALS,
    columns: list[str] | None = None,
    description: str = "",
) -> LookupPage:
    check_app_level(actor, form.app, "manage")
    if match not in LookupPage.Match.values:
        raise ValidationFailed(_("Unknown match."), fields={"match": [_("Use eq or contains.")]})
    columns = list(columns or [])
    _check_lookup_fields(form, input_field, columns, match)
    lookup = lookup or LookupPage(org_id=actor.org_id, app=form.app, form=form, created_by=actor)
    lookup.form = form
    lookup.name = _check_name(name)
    lookup.description = (description or "").strip()[:300]
    lookup.input_field = input_field
    lookup.match = match
    lookup.columns = columns
    lookup.save()
    return lookup


@transaction.atomic
def do_delete_lookup(actor: Membership, lookup: LookupPage) -> None:
    check_app_level(actor, lookup.app, "manage")
    lookup.delete()


def _lookups_using(form: Form, removed: set[str]) -> list[str]:
    problems = []
    for lookup in LookupPage.objects.filter(org_id=form.org_id, form=form):
        used = ({lookup.input_field} | set(lookup.columns)) & removed
        if used:
            problems.append(
                _("The lookup %(name)s uses %(keys)s.")
                % {"name": lookup.name, "keys": ", ".join(sorted(used))}
            )
    return problems


hooks.FIELD_USAGE_CHECKS.append(_lookups_using)
