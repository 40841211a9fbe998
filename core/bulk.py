"""Bulk inserts that are fast on PostgreSQL: COPY instead of one huge INSERT.

``bulk_insert(objs)`` gives every object its primary key (drawn from the table's
sequence in one query), then streams all rows with ``COPY … FROM STDIN``. Elsewhere, or
for a handful of rows, it is Django's ``bulk_create``. Objects come back saved
(``_state.adding`` false) with their ids, like ``bulk_create``'s.

``insert_rows(model, columns, rows)`` is the same without model instances, for hot bulk
paths: plain tuples in, new primary keys out (COPY on PostgreSQL, ``bulk_create``
elsewhere). A JSON column takes Python values or ``JsonText`` (already serialised).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

M = TypeVar("M", bound=models.Model)

#: Below this many rows COPY's extra round trip is not worth it.
COPY_THRESHOLD = 50


class JsonText(str):
    """A JSON column's value already serialised (``insert_rows`` writes it as it is), for
    callers that serialise anyway, e.g. to hash the data: it saves encoding twice."""

    __slots__ = ()


def _value(field: models.Field[Any, Any], obj: models.Model) -> Any:
    value = getattr(obj, field.attname)
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value, cls=field.encoder)
    return value


def _iso(moment: datetime) -> str:
    """A timestamp as PostgreSQL reads it (an aware one with its offset)."""
    if moment.tzinfo is None and settings.USE_TZ:
        # As Django's DateTimeField stores a naive value: in the default time zone.
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.isoformat()


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


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: bool = True,
) -> list[int]:
    """Insert ``rows`` (values in ``columns`` order, by attname: ``form_id``) into
    ``model``'s table; returns the new primary keys in row order.

    JSON fields take Python values. Fields not in ``columns`` get their defaults as
    ``Model.save()`` would give them (a callable default is called per row).
    ``returning=False``: the caller needs no keys (an empty list comes back), so on
    PostgreSQL the table's identity default numbers the rows and a round trip is saved.
    """
    if not rows:
        return []
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    given = [by_attname[c] for c in columns]
    missing = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in columns]
    if connection.vendor != "postgresql" or len(rows) < COPY_THRESHOLD:
        objs = [
            model(
                **{
                    column: json.loads(value) if value.__class__ is JsonText else value
                    for column, value in zip(columns, row, strict=True)
                }
            )
            for row in rows
        ]
        model._default_manager.bulk_create(objs, batch_size=1000)
        return [int(obj.pk) for obj in objs] if returning else []
    constant: list[Any] = []
    per_row: list[tuple[int, Callable[[], Any]]] = []
    for index, field in enumerate(missing):
        if field.has_default() and callable(field.default):
            constant.append(None)
            per_row.append((index, field.get_default))
        else:
            constant.append(field.get_default())  # "" for text without a default
    fields = [*given, *missing]
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    encoders = {i: fields[i].encoder for i in json_at}  # type: ignore[attr-defined]
    table = meta.db_table
    pk_column = str(meta.pk.column)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        names = [str(f.column) for f in fields]
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, len(rows)],
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
            names.insert(0, pk_column)
        quoted = ", ".join(quote(c) for c in names)
        # Timestamps go as ISO text, each distinct one formatted once: bulk rows mostly
        # share one "now", and the driver's per-value timestamp formatting costs several
        # times what the rest of a row does.
        times_at = [i for i in range(len(columns)) if isinstance(fields[i], models.DateTimeField)]
        constant = [_iso(v) if isinstance(v, datetime) else v for v in constant]
        texts: dict[datetime, str] = {}
        with cursor.cursor.copy(f"COPY {quote(table)} ({quoted}) FROM STDIN") as copy:
            write_row = copy.write_row
            simple = not json_at and not per_row and not times_at
            lead: tuple[Any, ...] = ()
            for index, row in enumerate(rows):
                if returning:
                    lead = (ids[index],)
                if simple:
                    write_row((*lead, *row, *constant))
                    continue
                values = [*row, *constant]
                for at, default in per_row:
                    values[len(columns) + at] = default()
                for i in json_at:
                    if values[i] is not None and values[i].__class__ is not JsonText:
                        values[i] = json.dumps(values[i], cls=encoders[i])
                for i in times_at:
                    moment = values[i]
                    if moment.__class__ is datetime:
                        text = texts.get(moment)
                        if text is None:
                            text = texts[moment] = _iso(moment)
                        values[i] = text
                write_row((*lead, *values))
    return ids if returning else []
