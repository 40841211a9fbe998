"""Event webhooks to apps: Standard Webhooks signing, the signing secret, and delivery.

Format (https://www.standardwebhooks.com): each request is a JSON ``POST`` with

* ``webhook-id``: the message id, the same on every retry and replay (receivers use it to
  drop duplicates);
* ``webhook-timestamp``: unix seconds of this attempt;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`` where
  ``key`` is the base64-decoded part of the app's secret after ``whsec_``.

The body is ``{"type", "timestamp", "data"}``. An app's secret is stored encrypted
(``core.crypto``) and shown to the partner once, when created or rotated.

Delivery: a worker claims a batch of due pending deliveries (a lease, so the beat sweep and
another worker leave them alone), POSTs them through one HTTP session per thread (keep-alive
to the same receiver), and records every attempt. A 2xx within
``TACK_WEBHOOK_TIMEOUT_SECONDS`` is delivered; anything else waits for the next step of
``TACK_WEBHOOK_RETRY_SCHEDULE`` and, once it is spent, the delivery is failed (the dead
letter) until a partner replays it. Deliveries of an uninstalled app are cancelled.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.crypto import UndecryptableSecret, decrypt, encrypt
from core.errors import Conflict, ValidationFailed
from core.netguard import UnresolvableHost, resolve_public_address
from marketplace.models import App, Installation, WebhookAttempt, WebhookDelivery

logger = logging.getLogger("tack.marketplace.webhooks")

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
#: How far a receiver should accept a timestamp from its own clock (Standard Webhooks).
DEFAULT_TOLERANCE_SECONDS = 5 * 60
RESPONSE_LOG_CHARS = 1000
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Tack-Webhooks/1"

_SALT, _INFO = b"tack.marketplace.apps", b"app webhook signing secret at rest"


# --- Signing ----------------------------------------------------------------------------


class WebhookVerificationError(Exception):
    """A request's signature headers are missing, stale or do not match."""


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for ``body`` sent as ``msg_id`` at ``timestamp``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(
    secret: str | Sequence[str], msg_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret (space-separated), so
    a receiver still on the previous secret keeps verifying during a rotation."""
    ts = int(time.time()) if timestamp is None else timestamp
    keyring = [secret] if isinstance(secret, str) else list(secret)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sign(key, msg_id, ts, body) for key in keyring),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a received request as an app would; raise ``WebhookVerificationError``.

    ``headers`` is looked up case-insensitively. Any one of the space-separated ``v1``
    signatures may match (several are sent while a secret is being rotated).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook headers")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("invalid timestamp") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance")
    expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in signatures.split(" "):
        version, _sep, value = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value, expected):
            return
    raise WebhookVerificationError("no matching signature")


# --- Secrets ----------------------------------------------------------------------------


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def encrypt_secret(raw: str) -> str:
    return encrypt(raw, salt=_SALT, info=_INFO)


def decrypt_secret(stored: str) -> str:
    return decrypt(stored, salt=_SALT, info=_INFO)


def _keyring(app: App) -> dict[str, Any]:
    """The stored secrets: ``{"current", "previous"?, "previous_until"?}``. A secret that
    was never rotated is stored as the bare ``whsec_`` string."""
    raw = decrypt_secret(app.webhook_secret)
    if raw.startswith("{"):
        stored: dict[str, Any] = json.loads(raw)
        return stored
    return {"current": raw}


def ensure_webhook_secret(app: App) -> str | None:
    """Give ``app`` a signing secret if it has none; the new secret (to show once) or None."""
    if app.webhook_secret:
        return None
    raw = generate_secret()
    updated = App.objects.filter(pk=app.pk, webhook_secret="").update(
        webhook_secret=encrypt_secret(raw)
    )
    app.refresh_from_db(fields=["webhook_secret"])
    return raw if updated else None  # else someone else set one meanwhile


def app_signing_secret(app: App) -> str:
    """The app's current secret in clear, creating one on first use."""
    ensure_webhook_secret(app)
    current: str = _keyring(app)["current"]
    return current


def app_signing_keyring(app: App) -> list[str]:
    """The secrets to sign with: the current one, and the previous one during the grace
    period after a rotation."""
    ensure_webhook_secret(app)
    ring = _keyring(app)
    keys = [ring["current"]]
    if ring.get("previous") and float(ring.get("previous_until", 0)) > time.time():
        keys.append(ring["previous"])
    return keys


def do_rotate_webhook_secret(app: App, *, expire_previous_now: bool = False) -> str:
    """A new secret for ``app`` (returned once). Requests are signed with both the new and
    the old secret for ``TACK_WEBHOOK_SECRET_GRACE_SECONDS`` (so the app can switch without
    losing events), unless ``expire_previous_now`` (a leaked secret)."""
    raw = generate_secret()
    ring: dict[str, Any] = {"current": raw}
    if app.webhook_secret and not expire_previous_now:
        try:
            ring["previous"] = _keyring(app)["current"]
        except UndecryptableSecret:
            pass
        else:
            grace = float(getattr(settings, "TACK_WEBHOOK_SECRET_GRACE_SECONDS", 86400))
            ring["previous_until"] = time.time() + grace
    stored = raw if len(ring) == 1 else json.dumps(ring)
    app.webhook_secret = encrypt_secret(stored)
    app.save(update_fields=["webhook_secret"])
    return raw


# --- Targets ----------------------------------------------------------------------------


def webhook_config(installation: Installation) -> dict[str, Any]:
    manifest = installation.version.manifest if installation.version_id else {}
    config = manifest.get("webhook") if isinstance(manifest, dict) else None
    return config if isinstance(config, dict) else {}


def subscribed_events(installation: Installation) -> set[str]:
    events = webhook_config(installation).get("events")
    return {e for e in events if isinstance(e, str)} if isinstance(events, list) else set()


def webhook_url(installation: Installation) -> str:
    url = webhook_config(installation).get("url")
    return url.strip() if isinstance(url, str) else ""


@dataclass(frozen=True)
class Target:
    """Where to connect (the vetted address), and the name to send and verify TLS for."""

    scheme: str
    address: str
    port: int
    hostname: str
    host_header: str
    path: str


class TargetRefused(Exception):
    pass


def pin_target(url: str) -> Target:
    """Resolve and vet ``url`` (``core.netguard``) and pin it to the vetted address, so a
    DNS answer that changes between the check and the connection cannot redirect us."""
    try:
        address = resolve_public_address(url, field="webhook.url")
    except UnresolvableHost as exc:
        raise TargetRefused(f"host does not resolve: {exc.message}") from None
    except ValidationFailed as exc:
        raise TargetRefused(f"target refused: {exc.message}") from None
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    hostname = parts.hostname or ""
    with contextlib.suppress(UnicodeError):
        hostname = hostname.encode("idna").decode("ascii")
    port = parts.port or (443 if scheme == "https" else 80)
    host_header = f"[{hostname}]" if ":" in hostname else hostname
    if parts.port is not None:
        host_header = f"{host_header}:{parts.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, address, port, hostname, host_header, path)


# --- HTTP -------------------------------------------------------------------------------

_pool_lock = threading.Lock()
_pools: urllib3.PoolManager | None = None


def _pool_manager() -> urllib3.PoolManager:
    """One connection pool manager per worker process, shared by its threads: keep-alive
    connections to each receiver (urllib3, what ``requests`` runs on, without its
    per-request overhead)."""
    global _pools
    with _pool_lock:
        if _pools is None:
            _pools = urllib3.PoolManager(
                num_pools=128,
                maxsize=max(1, int(settings.TACK_WEBHOOK_CONCURRENCY)),
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
            )
        return _pools


@dataclass
class AttemptResult:
    status_code: int | None = None
    duration_ms: int = 0
    error: str = ""
    response_body: str = ""  # the start of the answer, for the log
    body: bytes = b""  # the answer, up to MAX_RESPONSE_BYTES
    response_complete: bool = True
    attempted_at: datetime = field(default_factory=timezone.now)

    @property
    def succeeded(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


def post_signed(
    url: str,
    secret: str | Sequence[str],
    msg_id: str,
    body: bytes,
    *,
    targets: dict[str, Target | TargetRefused] | None = None,
    timeout: float | None = None,
) -> AttemptResult:
    """POST ``body`` to ``url`` signed; what happened (never raises for HTTP trouble).

    ``targets`` caches vetted targets by URL for one batch (one DNS check per receiver).
    """
    timeout = float(settings.TACK_WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout)
    started = time.perf_counter()
    result = AttemptResult()
    try:
        cached = targets.get(url) if targets is not None else None
        if cached is None:
            try:
                cached = pin_target(url)
            except TargetRefused as exc:
                cached = exc
            if targets is not None:
                targets[url] = cached
        if isinstance(cached, TargetRefused):
            raise cached
        target = cached
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": target.host_header,
            **signed_headers(secret, msg_id, body),
        }
        tls = {"server_hostname": target.hostname, "assert_hostname": target.hostname}
        pool = _pool_manager().connection_from_host(
            target.address,
            target.port,
            target.scheme,
            pool_kwargs=tls if target.scheme == "https" else None,
        )
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
            preload_content=False,
        )
        try:
            result.status_code = response.status
            raw = b""
            while len(raw) <= MAX_RESPONSE_BYTES:
                chunk = response.read(16 * 1024)
                if not chunk:
                    break
                raw += chunk
            if len(raw) > MAX_RESPONSE_BYTES:
                result.response_complete = False
                response.close()  # not worth reading on: drop the connection
            else:
                response.release_conn()
        except BaseException:
            response.close()
            raise
        result.body = raw[:MAX_RESPONSE_BYTES]
        result.response_body = raw[: RESPONSE_LOG_CHARS * 4].decode("utf-8", "replace")[
            :RESPONSE_LOG_CHARS
        ]
    except TargetRefused as exc:
        result.error = str(exc)[:300]
    except urllib3.exceptions.NewConnectionError as exc:  # (a ConnectTimeoutError subclass)
        result.error = f"could not connect: {exc}"[:300]
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        result.error = f"no answer within {timeout:g} seconds"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    if not result.error and result.duration_ms > timeout * 1000:
        result.error = f"answered after {result.duration_ms} ms (limit {timeout:g} s)"
    if not result.error and result.status_code is not None and not result.succeeded:
        result.error = f"answered HTTP {result.status_code}"
    return result


# --- Delivery ---------------------------------------------------------------------------


def retry_schedule() -> list[int]:
    return [int(s) for s in settings.TACK_WEBHOOK_RETRY_SCHEDULE]


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class BatchOutcome:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    retry_soon: list[tuple[int, float]] = field(default_factory=list)


def _claim(ids: Iterable[int], lease_seconds: float) -> list[WebhookDelivery]:
    """Lease the due pending deliveries among ``ids`` to this worker, and load them."""
    token = secrets.token_hex(8)
    now = timezone.now()
    ids = list(ids)
    WebhookDelivery.objects.filter(
        pk__in=ids, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claim=QUEUED)).update(
        claim=token, claimed_until=now + timedelta(seconds=lease_seconds)
    )
    claimed = list(
        WebhookDelivery.objects.filter(
            pk__in=ids, claim=token, status=WebhookDelivery.Status.PENDING
        )
        .select_related("installation__version", "app")
        .order_by("id")
    )
    return claimed


def deliver_batch(ids: Iterable[int]) -> BatchOutcome:
    """Attempt the due pending deliveries among ``ids`` once each; record what happened."""
    ids = list(ids)
    outcome = BatchOutcome()
    if not ids:
        return outcome
    concurrency = max(1, int(settings.TACK_WEBHOOK_CONCURRENCY))
    timeout = float(settings.TACK_WEBHOOK_TIMEOUT_SECONDS)
    lease = 60 + timeout * (len(ids) / concurrency + 1)
    claimed = _claim(ids, lease)
    outcome.skipped = len(ids) - len(claimed)
    if not claimed:
        return outcome

    secrets_by_app: dict[int, list[str] | None] = {}
    to_send: list[tuple[WebhookDelivery, str, list[str]]] = []
    cancelled: list[WebhookDelivery] = []
    for delivery in claimed:
        installation = delivery.installation
        url = webhook_url(installation)
        # The one thing an uninstalled app still hears about is its own uninstall.
        stopped = not installation.is_active and delivery.event_type != "app.uninstalled"
        if stopped or not url:
            delivery.status = WebhookDelivery.Status.CANCELLED
            delivery.last_error = "the app was uninstalled" if stopped else "no webhook URL"
            cancelled.append(delivery)
            continue
        if delivery.app_id not in secrets_by_app:
            try:
                secrets_by_app[delivery.app_id] = app_signing_keyring(delivery.app)
            except UndecryptableSecret:
                secrets_by_app[delivery.app_id] = None
        secret = secrets_by_app[delivery.app_id]
        if secret is None:
            logger.error("webhook secret of app %s cannot be decrypted", delivery.app_id)
            delivery.status = WebhookDelivery.Status.CANCELLED
            delivery.last_error = "signing secret cannot be decrypted"
            cancelled.append(delivery)
            continue
        to_send.append((delivery, url, secret))

    targets: dict[str, Target | TargetRefused] = {}

    def send(item: tuple[WebhookDelivery, str, list[str]]) -> AttemptResult:
        delivery, url, secret = item
        payload = encode_payload(delivery.payload)
        return post_signed(url, secret, delivery.message_id, payload, targets=targets)

    if len(to_send) > 1 and concurrency > 1:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(to_send))) as pool:
            results = list(pool.map(send, to_send))
    else:
        results = [send(item) for item in to_send]

    attempts: list[WebhookAttempt] = []
    schedule = retry_schedule()
    finished_at = timezone.now()
    for (delivery, url, _secret), result in zip(to_send, results, strict=True):
        delivery.attempts += 1
        delivery.last_attempt_at = finished_at
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error[:300]
        attempts.append(
            WebhookAttempt(
                org_id=delivery.org_id,
                delivery=delivery,
                number=delivery.attempts,
                attempted_at=result.attempted_at,
                url=url[:500],
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                succeeded=result.succeeded,
                error=result.error[:300],
                response_body=result.response_body,
            )
        )
        if result.succeeded:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = finished_at
            delivery.next_attempt_at = None
            outcome.delivered += 1
        else:
            wait = next_wait(delivery, schedule)
            if wait is None:
                _fail(delivery, finished_at)
                outcome.failed += 1
            else:
                delivery.next_attempt_at = finished_at + timedelta(seconds=wait)
                outcome.retrying += 1
                outcome.retry_soon.append((delivery.pk, wait))
    for delivery in cancelled:
        delivery.next_attempt_at = None
        outcome.cancelled += 1

    everything = [d for d, _u, _s in to_send] + cancelled
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(attempts)
        _save_outcomes(everything)
    return outcome


_OUTCOME_FIELDS = (
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "delivered_at",
    "failed_at",
)


def _save_outcomes(deliveries: list[WebhookDelivery]) -> None:
    """Write back a batch's results and release its lease: one UPDATE per distinct
    outcome (a batch has few: delivered with 200, or the same error at the same step),
    much cheaper than one CASE per field and row."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for delivery in deliveries:
        key = tuple(getattr(delivery, name) for name in _OUTCOME_FIELDS)
        groups.setdefault(key, []).append(delivery.pk)
    for key, ids in groups.items():
        values = dict(zip(_OUTCOME_FIELDS, key, strict=True))
        WebhookDelivery.objects.filter(pk__in=ids).update(claim="", claimed_until=None, **values)


def next_wait(delivery: WebhookDelivery, schedule: list[int]) -> int | None:
    """Seconds until the next retry after a failed attempt, or None when this round's
    retries are spent. A replay starts a new round (``round_start``)."""
    done = delivery.attempts - delivery.round_start
    if done < 1 or done > len(schedule):
        return None
    return schedule[done - 1]


def _fail(delivery: WebhookDelivery, at: Any) -> None:
    delivery.status = WebhookDelivery.Status.FAILED
    delivery.failed_at = at
    delivery.next_attempt_at = None


def enqueue(ids: list[int]) -> None:
    """Hand pending deliveries to the workers, in batches."""
    from marketplace.tasks import deliver_webhooks

    size = max(1, int(settings.TACK_WEBHOOK_BATCH_SIZE))
    for start in range(0, len(ids), size):
        deliver_webhooks.delay(ids[start : start + size])


#: ``claim`` of deliveries the sweep has handed to the queue (a worker may take them).
QUEUED = "queued"
#: How long the sweep leaves queued deliveries alone (a lost task is re-queued after it).
QUEUE_LEASE_SECONDS = 600


def take_due_delivery_ids(limit: int = 10_000) -> list[int]:
    """Due pending deliveries nobody holds, marked queued so the next sweeps do not queue
    them again while they wait for a worker."""
    now = timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(
            claim=QUEUED, claimed_until=now + timedelta(seconds=QUEUE_LEASE_SECONDS)
        )
    return ids


# --- Replay and cancellation ------------------------------------------------------------


def do_replay_delivery(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivered, failed or cancelled delivery again, with a new round of retries;
    its attempts so far stay in the log."""
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("installation")
            .get(pk=delivery.pk)
        )
        if locked.status == WebhookDelivery.Status.PENDING:
            raise Conflict(
                _("This delivery is still being attempted; wait for it to finish."),
                code="delivery_pending",
            )
        if not locked.installation.is_active:
            raise Conflict(
                _("The app is no longer installed in this organisation."),
                code="installation_inactive",
            )
        locked.status = WebhookDelivery.Status.PENDING
        locked.next_attempt_at = timezone.now()
        locked.replays += 1
        locked.failed_at = None
        locked.claim = ""
        locked.claimed_until = None
        locked.round_start = locked.attempts
        locked.save(
            update_fields=[
                "status",
                "next_attempt_at",
                "replays",
                "failed_at",
                "claim",
                "claimed_until",
                "round_start",
            ]
        )
        transaction.on_commit(lambda: enqueue([locked.pk]))
    return locked


def cancel_installation_deliveries(installation: Installation) -> int:
    """Stop every pending delivery of ``installation`` (it was uninstalled)."""
    return WebhookDelivery.objects.filter(
        org_id=installation.org_id,
        installation=installation,
        status=WebhookDelivery.Status.PENDING,
    ).update(
        status=WebhookDelivery.Status.CANCELLED,
        next_attempt_at=None,
        last_error="the app was uninstalled",
    )
