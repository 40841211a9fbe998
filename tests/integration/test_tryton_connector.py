"""The Tryton connector against a real Tryton server (trytond on SQLite).

Data is created through Tryton's own RPC, synced into a low-code form, changed in Tryton
and synced again (only the change comes through); a sale order is created from Tack and
read back from Tryton; a sync killed half way resumes without duplicates; Tryton stopped
gives a transient error, retries, then a visible failed run.
"""

from __future__ import annotations

import pytest

from connectors.actions import (
    do_check_connection,
    do_create_connection,
    do_create_form_from_stream,
    do_request_sync,
    do_run_connector_action,
)
from connectors.models import SyncedRecord, SyncRun
from connectors.registries import ConfigError, TransientError, connector_registry
from connectors.sync import MAX_ATTEMPTS, run_sync
from lowcode.actions import do_create_app
from lowcode.models import Record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _connection(owner, server, **config):
    return do_create_connection(
        owner, type="tryton", name="Tryton ERP", config={**server.config, **config}
    )


def _sync(owner, connection, django_capture_on_commit_callbacks) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=False):
        run, created = do_request_sync(owner, connection)
    assert created
    return run_sync(run.pk)


def _names(form):
    return sorted(
        r.data.get("ext_name") for r in Record.objects.filter(form=form, deleted_at__isnull=True)
    )


def test_check_discover_and_bad_credentials(tryton, owner):
    connection = _connection(owner, tryton)
    checked = do_check_connection(owner, connection)
    assert checked.last_check_ok is True, checked.last_check_message
    connector = connector_registry.get("tryton")
    streams = {s.name: s for s in connector.discover(tryton.config)}
    assert set(streams) == {"parties", "products", "sale_orders", "opportunities"}
    assert streams["parties"].cursor_field == "write_date"
    with pytest.raises(ConfigError):
        connector.check({**tryton.config, "password": "wrong"})
    tryton.stop()
    with pytest.raises(TransientError):
        connector.check(tryton.config)


def test_parties_sync_then_only_changes_come_through(
    tryton, owner, django_capture_on_commit_callbacks
):
    client = tryton.client()
    client.call("party.party", "create", [{"name": f"Customer {i:02d}"} for i in range(30)])
    connection = _connection(owner, tryton, page_size=10)
    app = do_create_app(owner, name="CRM")
    destination = do_create_form_from_stream(owner, connection, stream="parties", app=app)
    form = destination.form
    total = client.call("party.party", "search_count", [])

    first = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert first.state == SyncRun.State.SUCCEEDED, first.error_message
    assert (first.read_count, first.created_count, first.failed_count) == (total, total, 0)
    assert len(_names(form)) == total
    assert first.progress["parties"]["done"] is True

    (changed,) = client.call("party.party", "search", [("name", "=", "Customer 07")])
    client.call("party.party", "write", [changed], {"name": "Customer 07 (renamed)"})
    client.call("party.party", "create", [{"name": "Newcomer"}])

    second = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert second.state == SyncRun.State.SUCCEEDED
    assert (second.read_count, second.created_count, second.updated_count) == (2, 1, 1)
    names = _names(form)
    assert "Customer 07 (renamed)" in names and "Customer 07" not in names
    assert "Newcomer" in names and len(names) == total + 1
    renamed = SyncedRecord.objects.get(destination=destination, external_id=str(changed)).record
    (change,) = renamed.changes.all()
    assert change.kind == "updated" and change.actor is None  # made by the sync
    assert change.changes["ext_name"] == ["Customer 07", "Customer 07 (renamed)"]

    third = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (third.read_count, third.created_count, third.updated_count) == (0, 0, 0)


def test_interrupted_sync_resumes_without_duplicates_or_gaps(
    tryton, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from connectors import sync

    client = tryton.client()
    client.call("party.party", "create", [{"name": f"Batch {i:02d}"} for i in range(45)])
    total = client.call("party.party", "search_count", [])
    connection = _connection(owner, tryton, page_size=10)
    destination = do_create_form_from_stream(
        owner, connection, stream="parties", app=do_create_app(owner, name="CRM")
    )
    real_write, calls = sync._write_batch, {"n": 0}

    def dying_write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # mid-run, after two committed pages
        return real_write(*args, **kwargs)

    monkeypatch.setattr(sync, "_write_batch", dying_write)
    with django_capture_on_commit_callbacks(execute=False):
        run, _ = do_request_sync(owner, connection)
    with pytest.raises(SystemExit):
        run_sync(run.pk)
    assert Record.objects.filter(form=destination.form).count() == 20  # two pages stored
    monkeypatch.setattr(sync, "_write_batch", real_write)
    resumed = run_sync(run.pk)  # the task redelivered to another worker
    assert resumed.state == SyncRun.State.SUCCEEDED
    assert resumed.attempt == 2
    records = Record.objects.filter(form=destination.form)
    assert records.count() == total
    external = list(
        SyncedRecord.objects.filter(destination=destination).values_list("external_id", flat=True)
    )
    assert len(external) == len(set(external)) == total


def test_tryton_stopped_is_retried_then_fails_visibly(
    tryton, owner, django_capture_on_commit_callbacks
):
    connection = _connection(owner, tryton)
    do_create_form_from_stream(
        owner, connection, stream="parties", app=do_create_app(owner, name="CRM")
    )
    with django_capture_on_commit_callbacks(execute=False):
        run, _ = do_request_sync(owner, connection)
    tryton.stop()
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(TransientError):
            run_sync(run.pk)
        run.refresh_from_db()
        assert run.state == SyncRun.State.RETRYING
        assert run.attempt == attempt and run.next_retry_at is not None
        assert run.error_kind == "transient"
    failed = run_sync(run.pk)
    assert failed.state == SyncRun.State.FAILED
    assert failed.error_kind == "transient" and "not reachable" in failed.error_message
    assert failed.finished_at is not None


def test_sale_order_created_from_tack_is_held_by_tryton(tryton, owner):
    client = tryton.client()
    (party,) = client.call("party.party", "create", [{"name": "Acme Foods"}])
    (product,) = client.call("product.product", "search", [], 0, 1, None)
    connection = _connection(owner, tryton)
    created = do_run_connector_action(
        owner,
        connection,
        "create_sale_order",
        {"party": party, "reference": "TACK-1042", "lines": [{"product": product, "quantity": 3}]},
    )
    (sale,) = client.call(
        "sale.sale", "read", [created["id"]], ["party", "reference", "total_amount", "state"]
    )
    assert sale["party"] == party and sale["reference"] == "TACK-1042"
    assert sale["total_amount"] == 168  # 3 x 56.00 list price
    customer = do_run_connector_action(owner, connection, "create_party", {"name": "Globex"})
    assert client.call("party.party", "read", [customer["id"]], ["name"])[0]["name"] == "Globex"
    (opportunity,) = client.call(
        "sale.opportunity", "create", [{"party": party, "description": "Big order"}]
    )
    moved = do_run_connector_action(
        owner,
        connection,
        "set_opportunity_state",
        {"opportunity": opportunity, "state": "opportunity"},
    )
    assert moved["state"] == "opportunity"


def test_new_sale_orders_post_cards_into_a_group(
    tryton, owner, member, django_capture_on_commit_callbacks
):
    from connectors.actions import do_save_destination
    from im.actions import do_create_group
    from im.models import Message

    client = tryton.client()
    (party,) = client.call("party.party", "create", [{"name": "Acme Foods"}])
    (product,) = client.call("product.product", "search", [], 0, 1, None)
    connection = _connection(owner, tryton)
    do_run_connector_action(
        owner,
        connection,
        "create_sale_order",
        {"party": party, "reference": "SO-1042", "lines": [{"product": product, "quantity": 1000}]},
    )
    sales = do_create_group(owner, name="Sales", member_ids=[member.pk])
    do_save_destination(
        owner,
        connection,
        stream="sale_orders",
        conversation=sales,
        card_on="created",
        card_title="New sale order {reference} from {party_name}, {total_amount} {currency_code}",
        card_fields=["state", "sale_date"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = do_request_sync(owner, connection)
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, run.error_message
    card = Message.objects.get(conversation=sales, kind=Message.Kind.CARD)
    assert card.card["title"] == "New sale order SO-1042 from Acme Foods, 56000 CNY"
    assert [f["label"] for f in card.card["fields"]] == ["State", "Sale date"]
    # Synced again with nothing new: no second card.
    with django_capture_on_commit_callbacks(execute=True):
        do_request_sync(owner, connection)
    assert Message.objects.filter(conversation=sales, kind=Message.Kind.CARD).count() == 1


def test_due_connections_are_queued_by_the_scheduler(
    tryton, owner, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from connectors.actions import do_update_connection
    from connectors.tasks import schedule_due_syncs

    connection = _connection(owner, tryton)
    do_create_form_from_stream(
        owner, connection, stream="products", app=do_create_app(owner, name="Catalogue")
    )
    connection = do_update_connection(owner, connection, schedule="interval", interval_minutes=30)
    assert connection.next_sync_at > timezone.now() + timedelta(minutes=29)
    assert schedule_due_syncs() == 0  # not due yet
    type(connection).objects.filter(pk=connection.pk).update(next_sync_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule_due_syncs() == 1
    run = SyncRun.objects.get(connection=connection)
    assert run.trigger == "schedule" and run.state == SyncRun.State.SUCCEEDED
    connection.refresh_from_db()
    assert connection.next_sync_at > timezone.now() + timedelta(minutes=29)


def test_sessions_are_reused_and_an_expired_one_logs_in_again(tryton):
    from time import monotonic as now

    from connectors.builtin import tryton as module

    first = module.TrytonClient(tryton.config)
    second = module.TrytonClient(tryton.config)
    assert second.reused  # no second login (Tryton hashes the password on each one)
    assert second.http.headers["Authorization"] == first.http.headers["Authorization"]
    assert second.call("party.party", "search_count", []) >= 0
    # A sync's reads use remembered preferences while recent, and read them again once
    # older than that; every other client (actions write to Tryton) always reads them.
    recent = module.READ_PREFERENCES_MAX_AGE_SECONDS
    module._sessions[second._key] = (*module._sessions[second._key][:2], {"company": -1}, now())
    assert module.TrytonClient(tryton.config, preferences_max_age=recent).context == {"company": -1}
    assert module.TrytonClient(tryton.config).context.get("company") != -1
    aged = now() - recent - 1
    module._sessions[second._key] = (*module._sessions[second._key][:2], {"company": -1}, aged)
    current = module.TrytonClient(tryton.config, preferences_max_age=recent)
    assert current.reused and current.context.get("company") != -1
    assert module._sessions[second._key][2] == current.context  # remembered again
    assert module._sessions[second._key][3] > aged
    # A session Tryton no longer knows (expired, server restarted): one new login, when
    # its preferences are read or, while they are recent, at the first call.
    key = second._key
    for read_at in (aged, now()):
        stamp, _token, context, _at = module._sessions[key]
        module._sessions[key] = (stamp, "Session " + "A" * 40, context, read_at)
        stale = module.TrytonClient(tryton.config, preferences_max_age=recent)
        assert stale.reused == (read_at != aged)  # recent: refused only at the first call
        assert stale.call("party.party", "search_count", []) >= 0
        assert not stale.reused  # logged in again
        token = stale.http.headers["Authorization"]
        assert module._sessions[key][1] == token != "Session " + "A" * 40
    # ``check`` always logs in: it tests the credentials, not a remembered session.
    assert not module.TrytonClient(tryton.config, fresh=True).reused
    wrong = {**tryton.config, "password": "not-the-password"}
    with pytest.raises(ConfigError):
        module.TrytonClient(wrong)


def _read(tryton, state, page_size=4):
    """Everything one read yields: (ids in order, the states it checkpointed)."""
    from connectors.registries import RecordMessage

    connector = connector_registry.get("tryton")
    config = {**tryton.config, "page_size": page_size}
    ids, states = [], []
    for message in connector.read(config, connector.stream(config, "parties"), state):
        if isinstance(message, RecordMessage):
            ids.append(message.data["id"])
        else:
            states.append(message.state)
    return ids, states


def test_never_changed_records_are_read_by_id_and_resume_after_the_last_one(tryton):
    client = tryton.client()
    client.call("party.party", "create", [{"name": f"Party {i:02d}"} for i in range(11)])
    everyone = sorted(client.call("party.party", "search", []))
    ids, states = _read(tryton, None)
    assert ids == everyone  # by id, each once
    assert states[-1] == {"created_id": everyone[-1], "written": [None, 0]}
    # Page boundaries: a pass that ends on a full page (after several) asks once more.
    client.call("party.party", "create", [{"name": "Even"}] * (-len(everyone) % 4))
    everyone = sorted(client.call("party.party", "search", []))
    assert len(everyone) % 4 == 0 and len(everyone) > 8
    assert _read(tryton, None, page_size=4)[0] == everyone
    ids, states = _read(tryton, None)
    # Resumed from a checkpoint in the middle: only what follows it.
    middle = next(s for s in states if s["created_id"] >= everyone[5])
    again, _ = _read(tryton, middle)
    assert again == [i for i in everyone if i > middle["created_id"]]
    # The next run: nothing, then only a newcomer and a changed record.
    assert _read(tryton, states[-1]) == ([], [])
    (newcomer,) = client.call("party.party", "create", [{"name": "Newcomer"}])
    client.call("party.party", "write", [everyone[0]], {"name": "Renamed"})
    ids, states = _read(tryton, states[-1])
    assert ids == [newcomer, everyone[0]]
    assert states[-1]["created_id"] == newcomer and states[-1]["written"][1] == everyone[0]


def test_a_checkpoint_of_the_older_create_date_order_is_honoured_then_dropped(tryton):
    from connectors.builtin.tryton import _decode_object

    client = tryton.client()
    client.call("party.party", "create", [{"name": f"Early {i:02d}"} for i in range(5)])
    client.call("party.party", "create", [{"name": f"Late {i:02d}"} for i in range(11)])
    rows = client.call(
        "party.party",
        "search_read",
        [("write_date", "=", None)],
        0,
        None,
        [["create_date", "ASC"], ["id", "ASC"]],
        ["create_date"],
    )
    # What the older order stored after its sixth record: [create_date, id].
    sixth = rows[5]
    create_date = sixth["create_date"]
    if isinstance(create_date, dict):
        create_date = _decode_object(create_date)
    legacy = {"created": [create_date, sixth["id"]], "written": [None, 0]}
    left = sorted(r["id"] for r in rows[6:])
    assert len(left) % 4 == 0  # so the transition ends on an empty page
    ids, states = _read(tryton, legacy, page_size=4)
    assert sorted(ids) == left  # exactly what it had left
    assert "created" in states[0]  # kept while that pass is under way (resumable)
    assert states[-1] == {"created_id": max(r["id"] for r in rows), "written": [None, 0]}
    assert _read(tryton, states[-1]) == ([], [])
    # Resumed half way through the transition: the rest of what it had left.
    again, _ = _read(tryton, states[0], page_size=4)
    assert again == [i for i in left if i > states[0]["created_id"]]
    # An older checkpoint at the very last record: nothing to read, ids from there on.
    last = rows[-1]["create_date"]
    if isinstance(last, dict):
        last = _decode_object(last)
    ids, states = _read(tryton, {"created": [last, rows[-1]["id"]], "written": [None, 0]})
    assert ids == []
    assert states == [{"created_id": rows[-1]["id"], "written": [None, 0]}]


@pytest.mark.parametrize(
    "state",
    [
        {"created_id": "many"},
        {"created_id": True},
        {"created_id": 3.7},
        {"created": ["not a date", 3]},
        {"created": ["2026-01-01T00:00:00Z"]},
        {"written": [{"a": 1}, 2]},
        {"written": "2026-01-01"},
    ],
)
def test_a_damaged_checkpoint_is_a_configuration_error(tryton, state):
    with pytest.raises(ConfigError, match="checkpoint is not valid"):
        _read(tryton, state)
