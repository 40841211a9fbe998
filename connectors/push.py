"""Records pushed to Tack (inbound webhooks) go through the sync engine's own upsert.

``do_receive_push`` authenticates and validates one webhook call; ``apply_pushed_records``
writes its records into the stream's destination with ``connectors.sync``'s batch writer,
recorded as a ``SyncRun`` with ``trigger=push``. Pushed and pulled records share one code
path: upsert by primary key, one ``SyncedRecord`` per external id, chat cards, counts.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from connectors.actions import full_config
from connectors.builtin.webhook import SECRET_KEY, WebhookConnector, signature_ok
from connectors.models import Connection, Destination, SyncRun
from connectors.registries import ConnectorError, connector_registry
from connectors.sync import BATCH, Counts, _flush
from core.errors import Conflict, NotFound, TackError, ValidationFailed

MAX_RECORDS = 1000


class SignatureRejected(TackError):
    """A missing, stale or wrong ``X-Tack-Signature``: 401, nothing stored."""

    status = 401
    code = "bad_signature"


def apply_pushed_records(destination: Destination, records: list[dict[str, Any]]) -> SyncRun:
    """Upsert ``records`` into the destination as one finished push run."""
    connection = destination.connection
    connector = connector_registry.get(connection.type)
    stream = connector.stream(full_config(connection), destination.stream)
    moment = timezone.now()
    with transaction.atomic():
        # Created finished: a push never holds the connection's one live-run slot.
        run = SyncRun.objects.create(
            org_id=connection.org_id,
            connection=connection,
            trigger=SyncRun.Trigger.PUSH,
            state=SyncRun.State.SUCCEEDED,
            started_at=moment,
            finished_at=moment,
            attempt=1,
        )
        counts = Counts()
        for start in range(0, len(records), BATCH):
            _flush(run, destination, stream, records[start : start + BATCH], None, counts)
        progress = {stream.name: {"read": counts.read, "done": True}}
        SyncRun.objects.filter(pk=run.pk).update(progress=progress, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _payload_records(raw_body: bytes) -> list[dict[str, Any]]:
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed(
            _('The body must be JSON: a record or {"records": [...]}.'), code="malformed_request"
        ) from None
    if isinstance(payload, dict) and "records" in payload:
        records = payload["records"]
    elif isinstance(payload, dict):
        records = [payload]
    else:
        records = None
    if not isinstance(records, list) or not records:
        raise ValidationFailed(
            _('Send a record object or {"records": [...]} with at least one record.'),
            code="malformed_request",
            fields={"records": [_("A non-empty list of objects is required.")]},
        )
    if len(records) > MAX_RECORDS:
        raise ValidationFailed(
            _("Send at most %(n)s records per request.") % {"n": MAX_RECORDS},
            code="too_many_records",
            fields={"records": [_("Too many.")]},
        )
    bad = [i for i, record in enumerate(records) if not isinstance(record, dict)]
    if bad:
        raise ValidationFailed(
            _("Every record must be a JSON object."),
            code="malformed_request",
            fields={f"records.{i}": [_("Not an object.")] for i in bad[:20]},
        )
    return records


def do_receive_push(
    connection_id: int,
    stream_name: str,
    raw_body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
) -> SyncRun:
    """One signed webhook call. Raises NotFound, SignatureRejected, ValidationFailed, Conflict."""
    if not 0 < connection_id < 2**63:  # beyond any id the database can hold
        raise NotFound(_("Unknown webhook."))
    connection = Connection.objects.filter(pk=connection_id, type=WebhookConnector.type).first()
    if connection is None:
        raise NotFound(_("Unknown webhook."))
    config = full_config(connection)
    secret = str(config.get(SECRET_KEY) or "")
    if not signature_ok(secret, timestamp, signature, raw_body, now=time.time()):
        raise SignatureRejected(_("The request signature is missing, stale or wrong."))
    if not connection.enabled:
        raise Conflict(_("This connection is disabled."), code="connection_disabled")
    connector = connector_registry.get(connection.type)
    stream = next((s for s in connector.discover(config) if s.name == stream_name), None)
    if stream is None:
        raise NotFound(_("Unknown stream."))
    destination = (
        Destination.objects.select_related(
            "connection", "form__published_version", "conversation", "bot"
        )
        .filter(org_id=connection.org_id, connection=connection, stream=stream.name, enabled=True)
        .first()
    )
    if destination is None:
        raise Conflict(
            _("Choose where this stream goes before pushing records."), code="no_destination"
        )
    records = _payload_records(raw_body)
    missing = [
        i
        for i, record in enumerate(records)
        if any(record.get(key) in (None, "") for key in stream.primary_key)
    ]
    if missing:
        keys = ", ".join(stream.primary_key)
        raise ValidationFailed(
            _("Every record needs its primary key (%(keys)s).") % {"keys": keys},
            fields={f"records.{i}": [_("Primary key missing.")] for i in missing[:20]},
        )
    too_long = [
        i
        for i, record in enumerate(records)
        if len(":".join(str(record.get(key)) for key in stream.primary_key)) > 200
    ]
    if too_long:
        raise ValidationFailed(
            _("A primary key may be at most 200 characters."),
            fields={f"records.{i}": [_("Primary key too long.")] for i in too_long[:20]},
        )
    try:
        return apply_pushed_records(destination, records)
    except ConnectorError as exc:  # e.g. the destination form is no longer published
        raise Conflict(exc.message, code="destination_unavailable") from None
