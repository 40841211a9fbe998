"""Bulk inserts that are fast on PostgreSQL: COPY instead of one huge INSERT.

``bulk_insert(objs)`` gives every object its primary key (drawn from the table's
sequence in one query), then streams all rows with ``COPY … FROM STDIN``. Elsewhere, or
for a handful of rows, it is Django's ``bulk_create``. Objects come back saved
(``_state.adding`` false) with their ids, like ``bulk_create``'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

#: Below this many rows COPY's extra round trip is not worth it.
COPY_THRESHOLD = 50


def _value(field: models.Field[Any, Any], obj: models.Model) -> Any:
    value = getattr(obj, field.attname)
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value, cls=field.encoder)
    return value


def bulk_insert(objs: Sequence[M]) -> list[M]:
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql" or len(objs) < COPY_THRESHOLD:
        return model._default_manager.bulk_create(objs, batch_size=1000)
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    table = meta.db_table
    pk_column = str(meta.pk.column)
    for obj in objs:  # defaults (callables like timezone.now) as Model.save() would
        for field in fields:
            if getattr(obj, field.attname) is None and field.has_default():
                setattr(obj, field.attname, field.get_default())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk_column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        quoted = ", ".join(
            connection.ops.quote_name(c) for c in [pk_column, *(str(f.column) for f in fields)]
        )
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
        ) as copy:
            for pk, obj in zip(ids, objs, strict=True):
                obj.pk = pk
                copy.write_row([pk, *(_value(f, obj) for f in fields)])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs
