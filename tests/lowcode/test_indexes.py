"""Per-field expression indexes on PostgreSQL: created on publish, used by lookups and pages."""

from __future__ import annotations

import pytest
from django.db import connection

from lowcode.actions import do_bulk_create_records, do_publish_form, do_update_form
from lowcode.indexes import index_name, sync_form_indexes
from lowcode.models import Record

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL expression indexes"),
    pytest.mark.django_db(transaction=True),
]

FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch", "indexed": True},
    {"key": "cost", "type": "money", "label": "Cost", "indexed": True},
    {"key": "note", "type": "text", "label": "Note"},
]


def _indexes(form_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'lowcode_record' "
            "AND indexname LIKE %s",
            [f"lc_f{form_id}\\_%"],
        )
        return {row[0] for row in cursor.fetchall()}


def _plan(queryset):
    with connection.cursor() as cursor:
        sql, params = queryset.query.sql_with_params()
        cursor.execute("ANALYZE lowcode_record")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    return plan


def test_publishing_builds_and_drops_the_field_indexes(make_form, owner):
    form = make_form(FIELDS)  # publishing queued the build after commit (Celery is eager here)
    assert _indexes(form.pk) == {index_name(form.pk, "batch"), index_name(form.pk, "cost")}
    do_update_form(owner, form, fields=[{**FIELDS[0], "indexed": False}, *FIELDS[1:]])
    do_publish_form(owner, form)
    assert _indexes(form.pk) == {index_name(form.pk, "cost")}
    assert sync_form_indexes(form.pk) == []  # idempotent


def test_lookups_and_money_ranges_read_the_index(make_form, owner):
    form = make_form(FIELDS)
    do_bulk_create_records(
        owner, form, [{"batch": f"B{i}", "cost": {"amount": i}} for i in range(2000)]
    )
    base = Record.objects.filter(org_id=form.org_id, form_id=form.pk, deleted_at__isnull=True)
    assert index_name(form.pk, "batch") in _plan(base.filter(data__batch="B7"))
    assert index_name(form.pk, "cost") in _plan(base.filter(data__cost__amount__gte=1990))


def test_list_valued_fields_get_a_gin_index_that_containment_filters_read(make_form, owner):
    from lowcode.field_types import json_list_has

    tags = {
        "key": "tags",
        "type": "multi_select",
        "label": "Tags",
        "indexed": True,
        "options": {"choices": [{"id": c, "label": c.title()} for c in ("cold", "late", "ok")]},
    }
    form = make_form([FIELDS[0], tags])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index_name(form.pk, "tags")]
        )
        (definition,) = cursor.fetchone()
    assert "USING gin" in definition and "jsonb_path_ops" in definition
    do_bulk_create_records(
        owner,
        form,
        [{"batch": f"B{i}", "tags": ["cold"] if i % 50 == 0 else ["ok"]} for i in range(2000)],
    )
    base = Record.objects.filter(org_id=form.org_id, form_id=form.pk, deleted_at__isnull=True)
    cold = base.filter(json_list_has("tags", "cold"))
    assert cold.count() == 40
    assert index_name(form.pk, "tags") in _plan(cold)
    # Nothing indexes all of a record's data any more (each insert would pay for it).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'lowcode_record_data_gin'"
        )
        assert cursor.fetchone()[0] == 0
