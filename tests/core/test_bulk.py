"""``core.bulk.insert_rows``: plain rows in, keys out; COPY on PostgreSQL above the
threshold, ``bulk_create`` below it and on SQLite. Both paths must store the same rows."""

from __future__ import annotations

import pytest

from core.bulk import COPY_THRESHOLD, insert_rows
from lowcode.models import Record

pytestmark = pytest.mark.django_db

COLUMNS = ("org_id", "form_id", "version_id", "number", "data", "source")


@pytest.fixture
def form(make_form):
    return make_form([{"key": "name", "type": "text", "label": "Name"}])


def _rows(form, count, start=1):
    return [
        (
            form.org_id,
            form.pk,
            form.published_version_id,
            start + i,
            {"name": f'Tab\there \\ "quoted" {i}', "n": [i, None]},
            Record.Source.IMPORT,
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD + 10])
def test_rows_are_stored_with_defaults_and_keys_in_order(form, count):
    ids = insert_rows(Record, COLUMNS, _rows(form, count))
    assert len(ids) == count == len(set(ids))
    stored = {r.pk: r for r in Record.objects.filter(form=form)}
    assert set(stored) == set(ids)
    for i, pk in enumerate(ids):
        record = stored[pk]
        assert record.number == i + 1
        assert record.data == {"name": f'Tab\there \\ "quoted" {i}', "n": [i, None]}
        assert record.source == Record.Source.IMPORT
        # Not given: the model's defaults, as save() would set them.
        assert record.idempotency_key == "" and record.approval_state == ""
        assert record.created_at is not None and record.deleted_at is None


def test_without_returning_rows_are_stored_and_no_keys_come_back(form):
    count = COPY_THRESHOLD + 5
    assert insert_rows(Record, COLUMNS, _rows(form, count), returning=False) == []
    assert sorted(Record.objects.filter(form=form).values_list("number", flat=True)) == list(
        range(1, count + 1)
    )
    # The table's own numbering carries on after rows inserted without keys.
    (after,) = insert_rows(Record, COLUMNS, _rows(form, 1, start=count + 1))
    assert after > max(Record.objects.filter(number__lte=count).values_list("pk", flat=True))


def test_nothing_to_insert(form):
    assert insert_rows(Record, COLUMNS, []) == []


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD + 10])
def test_timestamps_and_json_text_are_stored_as_given(form, count):
    """Timestamps go through COPY as text (one shared "now", and distinct ones), in any
    offset; already serialised JSON (``JsonText``) is stored as the same data."""
    import datetime as dt
    import json

    from core.bulk import JsonText

    shanghai = dt.timezone(dt.timedelta(hours=8))
    shared = dt.datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=shanghai)
    rows = [
        (
            *row[:4],
            JsonText(json.dumps(row[4], sort_keys=True)) if i % 2 else row[4],
            row[5],
            shared if i % 3 else shared + dt.timedelta(days=i),
        )
        for i, row in enumerate(_rows(form, count))
    ]
    ids = insert_rows(Record, (*COLUMNS, "created_at"), rows)
    stored = {r.pk: r for r in Record.objects.filter(form=form)}
    for i, pk in enumerate(ids):
        assert stored[pk].data == {"name": f'Tab\there \\ "quoted" {i}', "n": [i, None]}
        assert stored[pk].created_at == (shared if i % 3 else shared + dt.timedelta(days=i))
