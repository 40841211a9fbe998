"""Event webhooks to apps: Standard Webhooks signatures, delivery, retries, replay, the log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.crypto import decrypt
from marketplace import webhooks
from marketplace.events import create_deliveries, emit
from marketplace.models import App, WebhookAttempt, WebhookDelivery
from marketplace.tasks import deliver_due_webhooks
from marketplace.webhooks import (
    WebhookVerificationError,
    deliver_batch,
    do_replay_delivery,
    generate_secret,
    sign,
    signed_headers,
    verify,
)

pytestmark = pytest.mark.django_db


# --- Signing ------------------------------------------------------------------------------


def test_signature_is_the_published_standard_webhooks_vector():
    # From the Standard Webhooks reference libraries' tests.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_signature_matches_an_independent_hmac():
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = '{"type":"x","data":{"n":"ü"}}'.encode()
    digest = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert sign(secret, "msg_1", 1700000000, body) == "v1," + base64.b64encode(digest).decode()


def test_verify_accepts_a_good_request_and_refuses_tampering():
    secret = generate_secret()
    body = b'{"a":1}'
    headers = signed_headers(secret, "msg_x", body)
    verify(secret, headers, body)
    verify(secret, {k.upper(): v for k, v in headers.items()}, body)  # case-insensitive
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, b'{"a":2}')
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, {**headers, "webhook-id": "msg_y"}, body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, {k: v for k, v in headers.items() if k != "webhook-signature"}, body)
    stale = signed_headers(secret, "msg_x", body, timestamp=int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError):
        verify(secret, stale, body)
    # One of several signatures (as during a rotation) is enough.
    other = sign(generate_secret(), "msg_x", int(headers["webhook-timestamp"]), body)
    verify(
        secret, {**headers, "webhook-signature": f"{other} {headers['webhook-signature']}"}, body
    )


def test_secret_format():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_") :])) >= 24


def test_app_secret_is_created_encrypted_and_rotated(hooked_app):
    installation = hooked_app(["app.installed"])
    app = installation.app
    first = webhooks.app_signing_secret(app)
    app.refresh_from_db()
    assert first.startswith("whsec_") and first not in app.webhook_secret
    assert webhooks.app_signing_secret(app) == first  # stable once created
    rotated = webhooks.do_rotate_webhook_secret(app)
    assert rotated != first
    app = App.objects.get(pk=app.pk)
    assert webhooks.app_signing_secret(app) == rotated
    assert rotated not in app.webhook_secret and first not in app.webhook_secret
    # Both sign during the grace period; then only the new one.
    assert webhooks.app_signing_keyring(app) == [rotated, first]
    webhooks.do_rotate_webhook_secret(app, expire_previous_now=True)
    assert len(webhooks.app_signing_keyring(App.objects.get(pk=app.pk))) == 1


def test_after_a_rotation_receivers_on_either_secret_verify(hooked_app, webhook_receiver, settings):
    installation = hooked_app(["lowcode.record.created"])
    old = webhooks.app_signing_secret(installation.app)
    new = webhooks.do_rotate_webhook_secret(installation.app)
    deliver_batch([_pending(installation).pk])
    headers, body, _path = webhook_receiver.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, body)
    verify(new, headers, body)
    settings.TACK_WEBHOOK_SECRET_GRACE_SECONDS = 0
    newer = webhooks.do_rotate_webhook_secret(App.objects.get(pk=installation.app_id))
    deliver_batch([_pending(installation).pk])
    headers, body, _path = webhook_receiver.requests[-1]
    verify(newer, headers, body)
    with pytest.raises(WebhookVerificationError):
        verify(new, headers, body)


# --- emit ---------------------------------------------------------------------------------


def test_emit_delivers_signed_to_subscribed_apps_only(
    hooked_app, webhook_receiver, org, django_capture_on_commit_callbacks
):
    subscribed = hooked_app(["lowcode.record.created"])
    hooked_app(["core.member.joined"])  # not subscribed to this event
    hooked_app(["lowcode.record.created"], granted=["core:member.read"])  # scope not granted
    with django_capture_on_commit_callbacks(execute=True):
        emit(org.pk, "lowcode.record.created", {"record": {"id": 7}})
    assert len(webhook_receiver.requests) == 1
    headers, body, _path = webhook_receiver.requests[0]
    verify(webhooks.app_signing_secret(subscribed.app), headers, body)
    payload = json.loads(body)
    assert payload["type"] == "lowcode.record.created"
    assert payload["data"]["record"] == {"id": 7}
    assert payload["data"]["installation_id"] == subscribed.pk
    assert payload["timestamp"].endswith("Z")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert headers["webhook-id"] == delivery.message_id
    attempt = delivery.attempt_log.get()
    assert attempt.succeeded and attempt.status_code == 200


def test_emit_waits_for_the_transaction_and_drops_on_rollback(
    hooked_app, webhook_receiver, org, django_capture_on_commit_callbacks
):
    from django.db import transaction

    hooked_app(["lowcode.record.created"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                emit(org.pk, "lowcode.record.created", {"record": {"id": 1}})
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == []
    assert not WebhookDelivery.objects.exists()
    assert webhook_receiver.requests == []


def test_emit_refuses_unknown_events(org):
    with pytest.raises(ValueError):
        emit(org.pk, "no.such.event", {})


def test_other_orgs_apps_hear_nothing(
    hooked_app, webhook_receiver, org, other_org, django_capture_on_commit_callbacks
):
    hooked_app(["lowcode.record.created"], in_org=other_org)
    with django_capture_on_commit_callbacks(execute=True):
        emit(org.pk, "lowcode.record.created", {"record": {"id": 1}})
    assert webhook_receiver.requests == []


def test_deliveries_are_created_in_one_insert(hooked_app, org, django_assert_max_num_queries):
    installations = [hooked_app(["lowcode.record.created"]) for _ in range(5)]
    with django_assert_max_num_queries(2):
        ids = create_deliveries(
            org.pk, "lowcode.record.created", {"record": {"id": 1}}, timezone.now()
        )
    assert len(ids) == 5
    assert set(WebhookDelivery.objects.values_list("installation_id", flat=True)) == {
        i.pk for i in installations
    }


# --- Retries, failure, replay -------------------------------------------------------------


def _pending(installation, event="lowcode.record.created") -> WebhookDelivery:
    ids = create_deliveries(
        installation.org_id, event, {"record": {"id": 1}}, timezone.now(), only={installation.pk}
    )
    return WebhookDelivery.objects.get(pk=ids[0])


def _make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_non_2xx_is_retried_on_the_schedule_then_failed(hooked_app, webhook_receiver, settings):
    settings.TACK_WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800]
    installation = hooked_app(["lowcode.record.created"])
    delivery = _pending(installation)
    webhook_receiver.status = 503
    waits = []
    for _ in range(3):
        before = timezone.now()
        deliver_batch([delivery.pk])
        delivery.refresh_from_db()
        assert delivery.status == "pending"
        waits.append(round((delivery.next_attempt_at - before).total_seconds()))
        # Not yet due: nothing is sent.
        assert deliver_batch([delivery.pk]).skipped == 1
        _make_due(delivery)
    assert waits == [5, 300, 1800]
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.failed_at is not None
    assert delivery.attempts == 4 and delivery.next_attempt_at is None
    assert delivery.last_status_code == 503 and "503" in delivery.last_error
    assert len(webhook_receiver.requests) == 4
    # The same webhook-id on every attempt; a signature for each attempt.
    assert {h["webhook-id"] for h, _b, _p in webhook_receiver.requests} == {delivery.message_id}
    assert list(delivery.attempt_log.values_list("number", flat=True)) == [1, 2, 3, 4]


def test_replay_of_a_failed_delivery_succeeds_and_keeps_history(
    hooked_app, webhook_receiver, settings, django_capture_on_commit_callbacks
):
    settings.TACK_WEBHOOK_RETRY_SCHEDULE = [5]
    installation = hooked_app(["lowcode.record.created"])
    delivery = _pending(installation)
    webhook_receiver.status = 500
    deliver_batch([delivery.pk])
    _make_due(delivery)
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    webhook_receiver.status = 204
    with django_capture_on_commit_callbacks(execute=True):
        do_replay_delivery(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.replays == 1
    assert delivery.attempts == 3
    assert [a.succeeded for a in delivery.attempt_log.all()] == [False, False, True]


def test_a_replayed_delivery_gets_a_new_round_of_retries(hooked_app, webhook_receiver, settings):
    settings.TACK_WEBHOOK_RETRY_SCHEDULE = [5]
    installation = hooked_app(["lowcode.record.created"])
    delivery = _pending(installation)
    webhook_receiver.status = 500
    for _ in range(2):
        _make_due(delivery)
        deliver_batch([delivery.pk])
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    delivery.refresh_from_db()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(webhooks, "enqueue", lambda ids: None)
        do_replay_delivery(delivery)
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending"  # one retry left in the new round
    _make_due(delivery)
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 4


def test_replay_of_a_pending_delivery_is_a_conflict(hooked_app):
    from core.errors import Conflict

    delivery = _pending(hooked_app(["lowcode.record.created"]))
    with pytest.raises(Conflict):
        do_replay_delivery(delivery)


def test_refused_connection_and_timeout_are_failed_attempts(hooked_app, webhook_receiver):
    installation = hooked_app(["lowcode.record.created"])
    delivery = _pending(installation)
    webhook_receiver.stop()
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code is None and "could not connect" in delivery.last_error


def test_a_slow_receiver_times_out(hooked_app, webhook_receiver, settings):
    settings.TACK_WEBHOOK_TIMEOUT_SECONDS = 0.3
    webhook_receiver.delay = 1.0
    delivery = _pending(hooked_app(["lowcode.record.created"]))
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "no answer within 0.3 seconds"


def test_redirect_is_not_followed_and_not_success(hooked_app, webhook_receiver):
    webhook_receiver.status = 302
    delivery = _pending(hooked_app(["lowcode.record.created"]))
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code == 302


def test_private_targets_are_refused_in_production_mode(hooked_app, webhook_receiver, settings):
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False
    delivery = _pending(hooked_app(["lowcode.record.created"]))
    deliver_batch([delivery.pk])
    delivery.refresh_from_db()
    assert webhook_receiver.requests == []
    assert delivery.status == "pending" and "refused" in delivery.last_error
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert not attempt.succeeded and attempt.status_code is None


def test_the_beat_sweep_sends_due_retries(hooked_app, webhook_receiver):
    delivery = _pending(hooked_app(["lowcode.record.created"]))
    webhook_receiver.status = 500
    deliver_batch([delivery.pk])
    webhook_receiver.status = 200
    assert deliver_due_webhooks() == 0  # not due yet
    _make_due(delivery)
    assert deliver_due_webhooks() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_a_claimed_delivery_is_not_sent_twice(hooked_app, webhook_receiver):
    delivery = _pending(hooked_app(["lowcode.record.created"]))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claim="other", claimed_until=timezone.now() + timedelta(minutes=1)
    )
    assert deliver_batch([delivery.pk]).skipped == 1
    assert webhook_receiver.requests == []
    # A lease that ran out (its worker died) is taken over.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert deliver_batch([delivery.pk]).delivered == 1


# --- Uninstall ----------------------------------------------------------------------------


def test_uninstall_cancels_pending_deliveries_but_tells_the_app(
    hooked_app, webhook_receiver, owner, django_capture_on_commit_callbacks
):
    from marketplace.actions import do_uninstall_app

    installation = hooked_app(["lowcode.record.created", "app.uninstalled"])
    pending = _pending(installation)
    with django_capture_on_commit_callbacks(execute=True):
        do_uninstall_app(owner, installation)
    pending.refresh_from_db()
    assert pending.status == "cancelled"
    told = WebhookDelivery.objects.get(event_type="app.uninstalled")
    assert told.status == "delivered"
    assert [b["type"] for b in webhook_receiver.bodies()] == ["app.uninstalled"]
    # A retry that comes due after the uninstall is cancelled, not sent.
    late = WebhookDelivery.objects.create(
        org_id=installation.org_id,
        installation=installation,
        app=installation.app,
        message_id="msg_late",
        event_type="lowcode.record.created",
        payload={"type": "lowcode.record.created", "timestamp": "", "data": {}},
        next_attempt_at=timezone.now(),
    )
    assert deliver_batch([late.pk]).cancelled == 1
    late.refresh_from_db()
    assert late.status == "cancelled"
    assert len(webhook_receiver.requests) == 1


def test_payloads_and_log_never_hold_the_secret(hooked_app, webhook_receiver, org):
    installation = hooked_app(["lowcode.record.created"])
    secret = webhooks.app_signing_secret(installation.app)
    delivery = _pending(installation)
    deliver_batch([delivery.pk])
    _headers, body, _path = webhook_receiver.requests[0]
    key = secret[len("whsec_") :]
    assert key not in body.decode()
    stored = App.objects.get(pk=installation.app_id).webhook_secret
    assert key not in stored
    assert decrypt(
        stored, salt=b"tack.marketplace.apps", info=b"app webhook signing secret at rest"
    )


def test_old_finished_deliveries_are_pruned(hooked_app, webhook_receiver):
    from marketplace.tasks import prune_webhook_deliveries

    installation = hooked_app(["lowcode.record.created"])
    old_done, old_pending, recent = (_pending(installation) for _ in range(3))
    deliver_batch([old_done.pk, recent.pk])
    long_ago = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk__in=[old_done.pk, old_pending.pk]).update(created_at=long_ago)
    prune_webhook_deliveries()
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk}
    assert not WebhookAttempt.objects.filter(delivery_id=old_done.pk).exists()


# --- HTTPS: pinned to the vetted address, certificate checked for the host name ------------


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS receiver for ``localhost`` with a self-signed certificate; ``(port, ca_file,
    requests)``."""
    import datetime as dt
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(cert_file), seen
    server.shutdown()
    server.server_close()


def _resolve_to_ipv4_loopback(monkeypatch):
    """``localhost`` may resolve to ::1 first; the receiver listens on 127.0.0.1 only."""
    monkeypatch.setattr(webhooks, "resolve_public_address", lambda url, field: "127.0.0.1")


def test_https_target_with_an_untrusted_certificate_fails(tls_receiver, monkeypatch):
    port, _ca, seen = tls_receiver
    _resolve_to_ipv4_loopback(monkeypatch)
    monkeypatch.setattr(webhooks, "_pools", None)
    result = webhooks.post_signed(f"https://localhost:{port}/hook", generate_secret(), "m", b"{}")
    assert not result.succeeded and "certificate" in result.error.lower()
    assert seen == []


def test_https_target_is_pinned_and_verified_for_its_name(tls_receiver, monkeypatch):
    import urllib3

    port, ca_file, seen = tls_receiver
    _resolve_to_ipv4_loopback(monkeypatch)
    trusting = urllib3.PoolManager(retries=False, cert_reqs="CERT_REQUIRED", ca_certs=ca_file)
    monkeypatch.setattr(webhooks, "_pools", trusting)
    secret = generate_secret()
    result = webhooks.post_signed(f"https://localhost:{port}/hook", secret, "msg_tls", b"{}")
    assert result.succeeded, result.error
    assert seen[0]["host"] == f"localhost:{port}"
    verify(secret, seen[0], b"{}")
    # The connection went to the vetted address; the name is what TLS checked.
    target = webhooks.pin_target(f"https://localhost:{port}/hook")
    assert (target.address, target.hostname) == ("127.0.0.1", "localhost")
    monkeypatch.setattr(webhooks, "_pools", None)


def test_the_sweep_does_not_queue_the_same_delivery_twice(
    hooked_app, webhook_receiver, monkeypatch
):

    delivery = _pending(hooked_app(["lowcode.record.created"]))
    queued: list[list[int]] = []
    monkeypatch.setattr(webhooks, "enqueue", lambda ids: queued.append(list(ids)))
    assert deliver_due_webhooks() == 1
    assert deliver_due_webhooks() == 0  # still waiting for a worker: not queued again
    assert queued == [[delivery.pk]]
    # The queued task's worker takes it.
    assert deliver_batch([delivery.pk]).delivered == 1
