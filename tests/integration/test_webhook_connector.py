"""The inbound webhook connector: signed pushes land in a form through the sync engine.

``POST /hooks/connectors/<connection>/<stream>/`` with ``X-Tack-Timestamp`` and
``X-Tack-Signature: sha256=HMAC(secret, "<timestamp>.<body>")``. Anything not signed
right is a 401 and stores nothing; malformed bodies are 400; unknown ids 404.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from connectors.actions import (
    MASK,
    decrypt_secrets,
    do_create_connection,
    do_save_destination,
    do_update_connection,
    masked_config,
)
from connectors.builtin.webhook import do_rotate_webhook_secret, sign
from connectors.models import SyncedRecord, SyncRun
from core.errors import NotFound
from core.models import Membership
from lowcode.actions import do_create_app, do_create_form, do_publish_form
from lowcode.models import Record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

STREAMS = [
    {
        "name": "orders",
        "label": "Orders",
        "primary_key": "number",
        "fields": [
            {"name": "number", "type": "string"},
            {"name": "customer", "type": "string"},
            {"name": "total", "type": "number"},
        ],
    }
]


def _hook(member: Membership) -> tuple[Any, str, Any]:
    connection = do_create_connection(
        member, type="webhook", name="Shop pushes", config={"streams": STREAMS}
    )
    secret = do_rotate_webhook_secret(member, connection)
    form = do_create_form(
        member,
        do_create_app(member, name="Shop"),
        name="Orders",
        fields=[
            {"key": "ext_number", "type": "text", "label": "Number", "indexed": True},
            {"key": "ext_customer", "type": "text", "label": "Customer"},
            {"key": "ext_total", "type": "number", "label": "Total"},
        ],
    )
    do_publish_form(member, form)
    destination = do_save_destination(
        member,
        connection,
        stream="orders",
        form=form,
        mapping={"ext_number": "number", "ext_customer": "customer", "ext_total": "total"},
    )
    return connection, secret, destination


@pytest.fixture
def hook(owner):
    return _hook(owner)


def _post(
    connection_id: int,
    body: bytes | dict[str, Any] | list[Any],
    secret: str | None,
    *,
    stream: str = "orders",
    timestamp: int | None = None,
    signature: str | None = None,
):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"HTTP_X_TACK_TIMESTAMP": stamp}
    if signature is not None:
        headers["HTTP_X_TACK_SIGNATURE"] = signature
    elif secret is not None:
        headers["HTTP_X_TACK_SIGNATURE"] = sign(secret, stamp, raw)
    return Client().post(
        f"/hooks/connectors/{connection_id}/{stream}/",
        data=raw,
        content_type="application/json",
        **headers,
    )


def _rows(destination) -> dict[str, dict[str, Any]]:
    records = Record.objects.filter(form=destination.form, deleted_at__isnull=True)
    return {r.data["ext_number"]: r.data for r in records}


def test_signed_records_are_upserted_by_primary_key(hook):
    connection, secret, destination = hook
    orders = {
        "records": [
            {"number": "SO-1", "customer": "Acme", "total": 120.5},
            {"number": "SO-2", "customer": "Globex", "total": 80},
        ]
    }
    response = _post(connection.pk, orders, secret)
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["received"], body["created"], body["updated"]) == (2, 2, 0)
    rows = _rows(destination)
    assert rows["SO-1"]["ext_customer"] == "Acme" and rows["SO-2"]["ext_total"] == 80
    run = SyncRun.objects.get(pk=body["run"])
    assert run.trigger == SyncRun.Trigger.PUSH and run.state == SyncRun.State.SUCCEEDED

    # The same order pushed again, changed: updated in place, not duplicated.
    again = _post(connection.pk, {"number": "SO-1", "customer": "Acme", "total": 99}, secret)
    assert again.status_code == 202
    assert (again.json()["created"], again.json()["updated"]) == (0, 1)
    rows = _rows(destination)
    assert len(rows) == 2 and rows["SO-1"]["ext_total"] == 99
    assert SyncedRecord.objects.filter(destination=destination).count() == 2


def test_a_record_that_does_not_fit_the_form_is_reported(hook):
    connection, secret, destination = hook
    response = _post(
        connection.pk,
        {"records": [{"number": "SO-9", "total": "lots"}, {"number": "SO-10", "total": 5}]},
        secret,
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["created"], body["failed"]) == (1, 1)
    assert body["errors"][0]["external_id"] == "SO-9"
    assert set(_rows(destination)) == {"SO-10"}


@pytest.mark.parametrize(
    "case", ["wrong_secret", "no_signature", "old_timestamp", "future_timestamp", "bad_stamp"]
)
def test_bad_signatures_are_401_and_store_nothing(hook, case):
    connection, secret, destination = hook
    body = json.dumps({"number": "SO-1", "customer": "Mallory", "total": 1}).encode()
    now = int(time.time())
    kwargs: dict[str, Any] = {}
    if case == "wrong_secret":
        kwargs["signature"] = sign("whsec_guess", now, body)
    elif case == "no_signature":
        secret = None
    elif case == "old_timestamp":
        kwargs = {"timestamp": now - 301, "signature": sign(secret, now - 301, body)}
    elif case == "future_timestamp":
        # Well past the tolerance: ``now`` is truncated to the second and the server reads
        # its clock later, so a stamp 301 s ahead could arrive 299.x s ahead.
        kwargs = {"timestamp": now + 310, "signature": sign(secret, now + 310, body)}
    else:
        kwargs = {"signature": sign(secret, "soon", body)}
    response = _post(connection.pk, body, secret, **kwargs)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert Record.objects.filter(form=destination.form).count() == 0
    assert not SyncRun.objects.filter(connection=connection).exists()


def test_a_body_changed_after_signing_is_refused(hook):
    connection, secret, destination = hook
    stamp = int(time.time())
    signed = sign(secret, stamp, b'{"number": "SO-1", "total": 1}')
    response = _post(
        connection.pk, {"number": "SO-1", "total": 1000}, None, timestamp=stamp, signature=signed
    )
    assert response.status_code == 401
    assert Record.objects.filter(form=destination.form).count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"records": []}',
        b'{"records": {"number": "SO-1"}}',
        b'{"records": [{"number": "SO-1"}, 7]}',
        b'{"records": [{"customer": "no key"}]}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_payloads_are_400_and_store_nothing(hook, body):
    connection, secret, destination = hook
    response = _post(connection.pk, body, secret)
    assert response.status_code == 400, response.content
    assert "error" in response.json()
    assert Record.objects.filter(form=destination.form).count() == 0
    assert not SyncRun.objects.filter(connection=connection).exists()


def test_unknown_connection_or_stream_is_404(hook, owner):
    connection, secret, _destination = hook
    body = {"number": "SO-1"}
    assert _post(connection.pk + 1000, body, secret).status_code == 404
    assert _post(10**30, body, secret).status_code == 404  # beyond a bigint: still 404
    assert _post(connection.pk, body, secret, stream="invoices").status_code == 404
    pulled = do_create_connection(
        owner, type="example_catalog", name="Not a webhook", config={"seed": 1, "count": 3}
    )
    response = _post(pulled.pk, body, secret)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_organisations_connection_is_not_reachable(hook, other_org, owner):
    connection, secret, destination = hook
    theirs_owner = Membership.objects.get(org=other_org, role="owner")
    theirs, their_secret, their_destination = _hook(theirs_owner)
    # Our secret does not open their URL, and their secret does not open ours.
    assert _post(theirs.pk, {"number": "SO-1"}, secret).status_code == 401
    assert _post(connection.pk, {"number": "SO-1"}, their_secret).status_code == 401
    assert Record.objects.filter(form=their_destination.form).count() == 0
    assert Record.objects.filter(form=destination.form).count() == 0
    with pytest.raises(NotFound):  # our admin cannot read or rotate their secret
        do_rotate_webhook_secret(owner, theirs)


def test_rotating_the_secret_retires_the_old_one_and_updates_keep_it(hook, owner):
    connection, secret, destination = hook
    assert masked_config(connection)["signing_secret"] == MASK
    assert secret not in json.dumps(connection.config)
    # Saving the form the UI shows (secret masked) keeps the secret.
    do_update_connection(owner, connection, config=masked_config(connection))
    connection.refresh_from_db()
    assert decrypt_secrets(connection.secrets)["signing_secret"] == secret
    assert _post(connection.pk, {"number": "SO-1"}, secret).status_code == 202

    fresh = do_rotate_webhook_secret(owner, connection)
    assert fresh != secret and fresh.startswith("whsec_")
    assert _post(connection.pk, {"number": "SO-2"}, secret).status_code == 401
    assert _post(connection.pk, {"number": "SO-2"}, fresh).status_code == 202
    assert set(_rows(destination)) == {"SO-1", "SO-2"}


def test_pushes_are_rate_limited_per_connection(hook, owner, settings):
    settings.TACK_CONNECTOR_WEBHOOK_RATE = "3/min"
    connection, secret, destination = hook
    other, other_secret, _other_destination = _hook(owner)
    for n in range(3):
        assert _post(connection.pk, {"number": f"SO-{n}"}, secret).status_code == 202
    limited = _post(connection.pk, {"number": "SO-9"}, secret)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "throttled"
    assert "SO-9" not in _rows(destination)
    assert _post(other.pk, {"number": "SO-9"}, other_secret).status_code == 202


def test_a_stream_without_a_destination_is_a_conflict(owner):
    connection = do_create_connection(
        owner, type="webhook", name="Nowhere", config={"streams": STREAMS}
    )
    secret = do_rotate_webhook_secret(owner, connection)
    response = _post(connection.pk, {"number": "SO-1"}, secret)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_destination"
