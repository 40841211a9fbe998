"""Per-field expression indexes for fields marked "indexed" (PostgreSQL only).

Every record lives in one table; a field marked indexed gets a partial index on
``((data -> 'key'), id) WHERE form_id = N AND deleted_at IS NULL``, the exact
expression Django emits for ``data__key`` lookups and ordering, so equality, ranges
and sorted keyset pages on that field read the index alone. Money fields index
``data #> '{key,amount}'``. List-valued fields (multiple select, several members,
departments or records) get a GIN index on ``(data -> 'key')`` instead, which serves the
containment (``@>``) their filters use. There is no index over all of ``data``: every
record would pay for it on insert (a GIN entry per key), while only list filters can use
it. Indexes are built CONCURRENTLY by a Celery task after the
publishing transaction commits, so a large table stays writable meanwhile.

SQLite (the embedded default) gets none: it scans, which is fine at its scale.
"""

from __future__ import annotations

import re

from django.db import connection, transaction

from lowcode.models import Form
from lowcode.schema import field_type

PREFIX = "lc_f"
_SAFE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def index_name(form_id: int, key: str) -> str:
    return f"{PREFIX}{form_id}_{key}"[:63]


def wanted_indexes(form: Form) -> dict[str, str]:
    """Index name -> CREATE statement for the form's published indexed fields."""
    version = form.published_version
    if version is None:
        return {}
    wanted = {}
    for definition in version.fields:
        key = definition["key"]
        if not definition.get("indexed") or not _SAFE_KEY.match(key):
            continue
        expression = f"(data -> '{key}')"
        if definition["type"] == "money":
            expression = f"(data #> '{{{key},amount}}')"  # what data__key__amount emits
        name = index_name(form.pk, key)
        where = f"WHERE form_id = {int(form.pk)} AND deleted_at IS NULL"
        if field_type(definition).holds_list(definition.get("options", {})):
            wanted[name] = (
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON lowcode_record '
                f"USING gin ({expression} jsonb_path_ops) {where}"
            )
            continue
        wanted[name] = (
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON lowcode_record '
            f"({expression}, id) {where}"
        )
    return wanted


def sync_form_indexes(form_id: int) -> list[str]:
    """Create missing and drop stale indexes of one form; returns the names created."""
    if connection.vendor != "postgresql":
        return []
    form = Form.objects.select_related("published_version").filter(pk=form_id).first()
    wanted = wanted_indexes(form) if form is not None else {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'lowcode_record' "
            "AND indexname LIKE %s",
            [f"{PREFIX}{int(form_id)}\\_%"],
        )
        existing = {row[0] for row in cursor.fetchall()}
        # An index whose concurrent build failed is left INVALID: drop and rebuild it.
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE NOT i.indisvalid AND c.relname LIKE %s",
            [f"{PREFIX}{int(form_id)}\\_%"],
        )
        invalid = {row[0] for row in cursor.fetchall()}
        for name in (existing - set(wanted)) | invalid:
            cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        created = []
        for name, statement in wanted.items():
            if name not in existing or name in invalid:
                cursor.execute(statement)
                created.append(name)
    return created


def schedule_index_sync(form: Form) -> None:
    """After the publishing transaction commits, build the indexes in the background."""
    if connection.vendor != "postgresql":
        return
    from lowcode.tasks import sync_indexes

    form_id = form.pk
    transaction.on_commit(lambda: sync_indexes.delay(form_id))
