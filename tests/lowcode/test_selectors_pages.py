"""records_query keyset pages: every record once in order, a seekable next page, few queries."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lowcode.actions import do_bulk_create_records
from lowcode.indexes import index_name
from lowcode.selectors import records_query

FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch", "indexed": True},
    {"key": "temp", "type": "number", "label": "Temperature", "indexed": True},
]
# Ties, and empty values that must come last ascending and first descending.
TEMPS = [5, None, 1, 5, 3, None, 5, 1, None, 3, 7]


@pytest.fixture
def form(make_form, owner):
    form = make_form(FIELDS)
    rows = [
        {"batch": f"B{i % 4}"} | ({"temp": t} if t is not None else {}) for i, t in enumerate(TEMPS)
    ]
    assert do_bulk_create_records(owner, form, rows).created == len(TEMPS)
    return form


def _walk(owner, form, sort, limit):
    seen, cursor = [], ""
    while True:
        page = records_query(owner, form, sort=sort, cursor=cursor, limit=limit)
        seen += page.records
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def _key(record, descending):
    temp = record.data.get("temp")
    # Empty values: last ascending (NULLS LAST), first descending (NULLS FIRST).
    if descending:
        return (temp is not None, -(temp or 0), -record.pk)
    return (temp is None, temp or 0, record.pk)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 50])
@pytest.mark.parametrize("sort", ["temp", "-temp"])
def test_pages_visit_every_record_once_in_order(form, owner, sort, limit):
    seen = _walk(owner, form, sort, limit)
    descending = sort.startswith("-")
    expected = sorted(form.records.all(), key=lambda r: _key(r, descending))
    assert [r.pk for r in seen] == [r.pk for r in expected]


def test_a_page_reads_the_form_version_once(form, owner):
    with CaptureQueriesContext(connection) as ctx:
        page = records_query(owner, form, sort="-temp", limit=50)
        numbers = {record.version.number for record in page.records}
    assert numbers == {1}
    assert sum("lowcode_formversion" in q["sql"] for q in ctx.captured_queries) == 1


def _cursor(value, pk):
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL expression indexes")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sort", ["temp", "-temp"])
def test_the_next_page_starts_at_the_cursor_in_the_index(make_form, owner, sort):
    form = make_form(FIELDS)
    do_bulk_create_records(owner, form, [{"batch": f"B{i}", "temp": i % 500} for i in range(3000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lowcode_record")
    with CaptureQueriesContext(connection) as ctx:
        records_query(owner, form, sort=sort, cursor=_cursor(250, 10**9), limit=50)
    sql = next(q["sql"] for q in ctx.captured_queries if 'FROM "lowcode_record"' in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert index_name(form.pk, "temp") in plan
    bound = "<=" if sort.startswith("-") else ">="
    # The cursor's bound is an index condition, not a filter over the rows before it.
    assert f"Index Cond: ((data -> 'temp'::text) {bound} '250'::jsonb)" in plan, plan
