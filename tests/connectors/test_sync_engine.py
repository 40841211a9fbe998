"""The sync engine's set-based write path, with an in-memory source.

Pages of more than ``core.bulk.COPY_THRESHOLD`` records take the COPY path on PostgreSQL
(``bulk_create`` on SQLite); both must give the same records, links, counts, history and
checkpoints. The source reads ahead in a thread like the built-in remote connectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest

from connectors import sync
from connectors.actions import do_create_form_from_stream, do_request_sync
from connectors.models import StreamState, SyncedRecord, SyncRun
from connectors.registries import (
    ConnectorType,
    RecordMessage,
    StateMessage,
    Stream,
    StreamField,
    TransientError,
    connector_registry,
)
from lowcode.actions import do_create_app, do_delete_record
from lowcode.models import Record, RecordChange

pytestmark = pytest.mark.django_db

PAGE = 80  # above core.bulk.COPY_THRESHOLD: PostgreSQL writes with COPY


class MemoryConnector(ConnectorType):
    """``ROWS`` (id -> record), read by id in pages of ``PAGE``; ``FAIL_AFTER`` pages."""

    type = "memory_test"
    label = "Memory"
    read_ahead: ClassVar[bool] = True
    ROWS: ClassVar[dict[int, dict[str, Any]]] = {}
    FAIL_AFTER: ClassVar[int | None] = None
    pages_read: ClassVar[int] = 0

    def spec(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "properties": {}}

    def check(self, config: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        return [
            Stream(
                name="items",
                label="Items",
                fields=(
                    StreamField("id", "integer", "Id"),
                    StreamField("name", "string", "Name"),
                    StreamField("amount", "number", "Amount"),
                ),
                primary_key=("id",),
                cursor_field=None,
            )
        ]

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        last = (state or {}).get("after", 0)
        pages = 0
        while True:
            if self.FAIL_AFTER is not None and pages >= self.FAIL_AFTER:
                raise TransientError("The source went away.")
            ids = sorted(i for i in self.ROWS if i > last)[:PAGE]
            type(self).pages_read += 1
            pages += 1
            for i in ids:
                yield RecordMessage(dict(self.ROWS[i]))
            if ids:
                last = ids[-1]
                yield StateMessage({"after": last})
            if len(ids) < PAGE:
                return


@pytest.fixture
def memory():
    MemoryConnector.ROWS = {
        i: {"id": i, "name": f"Item {i:03d}", "amount": i * 1.5} for i in range(1, 201)
    }
    MemoryConnector.FAIL_AFTER = None
    MemoryConnector.pages_read = 0
    connector_registry.register(MemoryConnector())
    yield MemoryConnector
    connector_registry._types.pop(MemoryConnector.type, None)
    connector_registry.origins.pop(MemoryConnector.type, None)


@pytest.fixture
def destination(memory, owner):
    from connectors.models import Connection

    connection = Connection.objects.create(
        org_id=owner.org_id, name="Memory", type=memory.type, config={}, created_by=owner
    )
    return do_create_form_from_stream(
        owner, connection, stream="items", app=do_create_app(owner, name="Stock")
    )


def _sync(owner, destination, django_capture_on_commit_callbacks, **kwargs: Any) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=False):
        run, created = do_request_sync(owner, destination.connection, **kwargs)
    assert created
    return sync.run_sync(run.pk)


def _data(destination) -> dict[int, dict[str, Any]]:
    return {
        r.data["ext_id"]: r.data
        for r in Record.objects.filter(form=destination.form, deleted_at__isnull=True)
    }


def _before_second_page(monkeypatch, action) -> None:
    """Run ``action`` after the first page is stored, while the second is being read."""
    real_flush, calls = sync._flush, {"n": 0}

    def flush(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            action()
        real_flush(*args, **kwargs)

    monkeypatch.setattr(sync, "_flush", flush)


def test_a_full_sync_stores_every_record_once_with_links_and_checkpoint(
    destination, owner, django_capture_on_commit_callbacks
):
    run = _sync(owner, destination, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.SUCCEEDED, run.error_message
    assert (run.read_count, run.created_count, run.updated_count, run.failed_count) == (
        200,
        200,
        0,
        0,
    )
    assert run.progress["items"] == {"read": 200, "done": True}
    data = _data(destination)
    assert sorted(data) == list(range(1, 201))
    assert data[7] == {"ext_id": 7, "ext_name": "Item 007", "ext_amount": 10.5}
    records = Record.objects.filter(form=destination.form)
    assert sorted(records.values_list("number", flat=True)) == list(range(1, 201))
    assert set(records.values_list("source", flat=True)) == {Record.Source.CONNECTOR}
    links = dict(
        SyncedRecord.objects.filter(destination=destination).values_list(
            "external_id", "record__data"
        )
    )
    assert len(links) == 200
    assert links["42"]["ext_name"] == "Item 042"
    hashes = set(SyncedRecord.objects.filter(destination=destination).values_list("data_hash"))
    assert len(hashes) == 200
    assert StreamState.objects.get(destination=destination).state == {"after": 200}
    destination.form.refresh_from_db()
    assert destination.form.next_number == 201


def test_changes_update_in_place_with_history_and_bad_rows_fail_alone(
    destination, memory, owner, django_capture_on_commit_callbacks
):
    _sync(owner, destination, django_capture_on_commit_callbacks)
    before = dict(Record.objects.filter(form=destination.form).values_list("data__ext_id", "pk"))
    for i in range(1, 61):
        memory.ROWS[i]["name"] = f"Renamed {i:03d}"
    memory.ROWS[70]["amount"] = "lots"  # not a number: this row fails, the page goes on
    deleted = Record.objects.get(form=destination.form, data__ext_id=100)
    do_delete_record(owner, deleted)
    run = _sync(owner, destination, django_capture_on_commit_callbacks, full_refresh=True)
    assert run.state == SyncRun.State.SUCCEEDED, run.error_message
    assert (run.read_count, run.created_count, run.updated_count) == (200, 1, 60)
    assert (run.unchanged_count, run.failed_count) == (138, 1)
    assert run.record_errors == [
        {"stream": "items", "external_id": "70", "fields": {"ext_amount": ["Expected a number."]}}
    ]
    data = _data(destination)
    assert data[5]["ext_name"] == "Renamed 005"
    assert data[70]["ext_amount"] == 105  # the stored value is kept
    after = dict(
        Record.objects.filter(form=destination.form, deleted_at__isnull=True).values_list(
            "data__ext_id", "pk"
        )
    )
    assert after[5] == before[5]  # updated in place, not recreated
    assert after[100] != before[100]  # deleted in Tack: synced again as a new record
    change = RecordChange.objects.get(record_id=before[5], kind=RecordChange.Kind.UPDATED)
    assert change.changes == {"ext_name": ["Item 005", "Renamed 005"]}
    assert change.actor is None
    assert RecordChange.objects.filter(kind=RecordChange.Kind.UPDATED).count() == 60
    link = SyncedRecord.objects.get(destination=destination, external_id="100")
    assert link.record_id == after[100]
    assert SyncedRecord.objects.filter(destination=destination).count() == 200
    # Nothing changed since: nothing is written again.
    again = _sync(owner, destination, django_capture_on_commit_callbacks, full_refresh=True)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 199)
    assert RecordChange.objects.filter(kind=RecordChange.Kind.UPDATED).count() == 60


def test_a_source_error_keeps_the_pages_before_it_and_resumes_there(
    destination, memory, owner, django_capture_on_commit_callbacks
):
    memory.FAIL_AFTER = 2
    with pytest.raises(TransientError):
        _sync(owner, destination, django_capture_on_commit_callbacks)
    run = SyncRun.objects.get(connection=destination.connection)
    assert run.state == SyncRun.State.RETRYING
    assert run.read_count == 160
    assert StreamState.objects.get(destination=destination).state == {"after": 160}
    assert len(_data(destination)) == 160
    memory.FAIL_AFTER = None
    resumed = sync.run_sync(run.pk)
    assert resumed.state == SyncRun.State.SUCCEEDED
    assert resumed.read_count == 200
    assert sorted(_data(destination)) == list(range(1, 201))
    assert SyncedRecord.objects.filter(destination=destination).count() == 200


def test_a_cancel_stops_at_the_next_page_and_keeps_what_was_stored(
    destination, memory, owner, monkeypatch, django_capture_on_commit_callbacks
):
    # Someone pressed "cancel" while the page was being read.
    _before_second_page(monkeypatch, lambda: SyncRun.objects.update(cancel_requested=True))
    run = _sync(owner, destination, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.CANCELLED
    assert run.read_count == 80  # the page in hand when the cancel came is not kept
    assert len(_data(destination)) == 80
    assert StreamState.objects.get(destination=destination).state == {"after": 80}


@pytest.mark.parametrize("rows", [0, 200], ids=["nothing-new", "after-the-last-page"])
def test_a_cancel_after_the_last_checkpoint_still_ends_the_run_cancelled(
    destination, memory, owner, monkeypatch, django_capture_on_commit_callbacks, rows
):
    memory.ROWS = {i: memory.ROWS[i] for i in range(1, rows + 1)}
    monkeypatch.setattr(memory, "read_ahead", False)  # read in this thread (test database)
    real_read = memory.read

    def read(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from real_read(self, *args, **kwargs)
        SyncRun.objects.update(cancel_requested=True)  # pressed as the source ran out

    monkeypatch.setattr(memory, "read", read)
    run = _sync(owner, destination, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.CANCELLED
    assert run.read_count == rows and len(_data(destination)) == rows  # stored pages stay


def test_a_destination_deleted_between_pages_stops_the_run_and_leaves_no_links(
    destination, memory, owner, monkeypatch, django_capture_on_commit_callbacks
):
    """Links have no database-level foreign keys: the sync itself must notice."""
    destination_id = destination.pk
    # Deleted (with its links) while the page was being read.
    _before_second_page(
        monkeypatch, lambda: type(destination).objects.filter(pk=destination_id).delete()
    )
    run = _sync(owner, destination, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.CANCELLED
    assert SyncedRecord.objects.filter(destination_id=destination_id).count() == 0
    # The records of the first page stay in the form, as a deleted destination promises.
    assert Record.objects.filter(form=destination.form).count() == 80


@pytest.mark.django_db(transaction=True)
def test_deleting_a_connection_waits_for_the_page_being_written_and_removes_its_links(
    destination, owner
):
    """Under PostgreSQL's row locks: a page holds its destination until it commits, and a
    deletion locks it first, so the links the page wrote are deleted too (no orphans)."""
    import threading

    from django.db import connection, connections, transaction

    from connectors.actions import do_delete_connection
    from core.models import Membership

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time")
    destination_id = destination.pk
    stream = connector_registry.get(MemoryConnector.type).stream({}, "items")
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def page() -> None:  # one page of a sync, kept open until released
        try:
            with transaction.atomic():
                sync._write_batch(
                    destination,
                    stream,
                    [{"id": 1, "name": "Item 001", "amount": 1.5}],
                    sync.Counts(),
                )
                holding.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def delete() -> None:
        try:
            actor = Membership.objects.select_related("org", "user").get(pk=owner.pk)
            do_delete_connection(actor, destination.connection)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    writer, deleter = threading.Thread(target=page), threading.Thread(target=delete)
    writer.start()
    assert holding.wait(timeout=30)
    deleter.start()
    deleter.join(timeout=1.0)
    waited = deleter.is_alive()  # the deletion waits for the page's commit
    release.set()
    writer.join(timeout=30)
    deleter.join(timeout=30)
    assert errors == []
    assert waited
    assert SyncedRecord.objects.filter(destination_id=destination_id).count() == 0
    assert Record.objects.filter(form=destination.form).count() == 1  # records stay


def test_bulk_interpreter_settings_last_only_while_a_sync_runs(
    destination, memory, owner, monkeypatch, django_capture_on_commit_callbacks
):
    import gc
    import sys

    usual = (sys.getswitchinterval(), gc.get_threshold())
    seen: list[tuple[float, tuple[int, ...]]] = []
    real_flush = sync._flush

    def watching(*args: Any, **kwargs: Any) -> None:
        seen.append((sys.getswitchinterval(), gc.get_threshold()))
        real_flush(*args, **kwargs)

    monkeypatch.setattr(sync, "_flush", watching)
    memory.FAIL_AFTER = 1  # and after a failing read too
    with pytest.raises(TransientError):
        _sync(owner, destination, django_capture_on_commit_callbacks)
    assert seen
    assert all(value == (sync.SWITCH_INTERVAL_S, sync.GC_THRESHOLD) for value in seen)
    assert (sys.getswitchinterval(), gc.get_threshold()) == usual


def test_links_hashed_the_older_way_count_as_unchanged_and_take_the_new_hash(
    destination, memory, owner, django_capture_on_commit_callbacks
):
    _sync(owner, destination, django_capture_on_commit_callbacks)
    # As links written before the current hash form: sha256 of the standard library's JSON.
    for link in SyncedRecord.objects.filter(destination=destination).select_related("record"):
        SyncedRecord.objects.filter(pk=link.pk).update(
            data_hash=sync._legacy_hash(link.record.data)
        )
    memory.ROWS[5]["name"] = "Renamed 005"
    run = _sync(owner, destination, django_capture_on_commit_callbacks, full_refresh=True)
    assert (run.read_count, run.created_count, run.updated_count, run.unchanged_count) == (
        200,
        0,
        1,
        199,
    )
    hashes = list(
        SyncedRecord.objects.filter(destination=destination).values_list("data_hash", flat=True)
    )
    assert len(hashes) == 200 and all(
        h.startswith(sync.HASH_PREFIX) and len(h) == 64 for h in hashes
    )
    assert _data(destination)[5]["ext_name"] == "Renamed 005"


def test_a_connection_deleted_during_a_sync_ends_it_quietly(
    destination, memory, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from connectors.models import Connection

    connection_id = destination.connection_id
    # The connection, its runs, destinations and links go.
    _before_second_page(monkeypatch, lambda: Connection.objects.filter(pk=connection_id).delete())
    run = _sync(owner, destination, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.CANCELLED
    assert not SyncRun.objects.filter(pk=run.pk).exists()
    assert SyncedRecord.objects.filter(destination_id=destination.pk).count() == 0
