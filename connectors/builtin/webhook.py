"""The inbound webhook connector: another system pushes JSON records to Tack.

Each connection has its own URL per stream, ``POST /hooks/connectors/<connection id>/
<stream>/``, and a signing secret that Tack generates (``do_rotate_webhook_secret``; it is
stored encrypted with the connection's other secrets and shown once). A sender signs each
request::

    X-Tack-Timestamp: 1767225600                      (Unix seconds)
    X-Tack-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>

Requests older (or newer) than five minutes are refused, so a captured request cannot be
replayed later. The body is ``{"records": [{...}, ...]}`` or one record object. Records go
through the same upsert as pulled records (``connectors.push``), by the stream's primary
key. The receiving view is ``connectors.webhook_views``.

The configuration lists the streams: ``[{name, label?, primary_key, fields?}]``; ``fields``
(``[{name, type, label?}]``) are what a form can be created from. ``check`` is always ok;
``read`` yields nothing (records arrive pushed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from connectors.models import Connection
from connectors.registries import (
    CheckResult,
    ConnectorType,
    RecordMessage,
    StateMessage,
    Stream,
    StreamField,
)
from core.models import Membership

SECRET_KEY = "signing_secret"
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-Tack-Signature"
TIMESTAMP_HEADER = "X-Tack-Timestamp"
TOLERANCE_SECONDS = 300

_NAME = {"type": "string", "minLength": 1, "maxLength": 100}
_FIELD_TYPES = ["string", "integer", "number", "boolean", "date", "datetime", "object", "array"]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The ``X-Tack-Signature`` value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signature_ok(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *, now: float
) -> bool:
    """A fresh timestamp and a matching signature (compared in constant time)."""
    if not secret or not timestamp or not signature:
        return False
    timestamp = timestamp.strip()
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode())


def _primary_key(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ("id",)


class WebhookConnector(ConnectorType):
    type = "webhook"
    label = "Inbound webhook"
    description = "Another system pushes JSON records to a signed URL."
    push = True

    def spec(self) -> dict[str, Any]:
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": ["streams"],
            "properties": {
                "streams": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {**_NAME, "pattern": "^[A-Za-z0-9_-]+$"},
                            "label": {"type": "string", "maxLength": 100},
                            "primary_key": {
                                "anyOf": [
                                    _NAME,
                                    {"type": "array", "items": _NAME, "minItems": 1, "maxItems": 5},
                                ],
                                "default": "id",
                            },
                            "fields": {
                                "type": "array",
                                "maxItems": 500,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name"],
                                    "properties": {
                                        "name": _NAME,
                                        "type": {"enum": _FIELD_TYPES, "default": "string"},
                                        "label": {"type": "string", "maxLength": 100},
                                    },
                                },
                            },
                        },
                    },
                },
                # Generated by Tack (do_rotate_webhook_secret), never typed in by a user.
                SECRET_KEY: {
                    "type": "string",
                    "title": "Signing secret",
                    "maxLength": 200,
                    "readOnly": True,
                    "writeOnly": True,
                    "x-secret": True,
                },
            },
        }

    def issue_credentials(self, actor: Any, connection: Any) -> dict[str, str]:
        secret = do_rotate_webhook_secret(actor, connection)
        return {
            SECRET_KEY: secret,
            "url": f"/hooks/connectors/{connection.pk}/<stream>/",
        }

    def check(self, config: Mapping[str, Any]) -> CheckResult:
        if not config.get(SECRET_KEY):
            return CheckResult(True, "Ready; generate the signing secret to start receiving.")
        return CheckResult(True, "Ready to receive signed records.")

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        streams = []
        for item in config.get("streams") or []:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            primary_key = _primary_key(item.get("primary_key"))
            fields = [
                StreamField(
                    str(f["name"]), str(f.get("type") or "string"), str(f.get("label") or "")
                )
                for f in item.get("fields") or []
                if isinstance(f, dict) and f.get("name")
            ]
            names = {f.name for f in fields}
            fields += [StreamField(key, "string", key) for key in primary_key if key not in names]
            streams.append(
                Stream(
                    name=str(item["name"]),
                    label=str(item.get("label") or item["name"]),
                    fields=tuple(fields),
                    primary_key=primary_key,
                )
            )
        return streams

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        return iter(())  # records arrive pushed; there is nothing to pull


@transaction.atomic
def do_rotate_webhook_secret(
    actor: Membership, connection: Connection, *, ip: str | None = None
) -> str:
    """A new signing secret for a webhook connection; the old one stops working at once.

    Returns the secret: the only time it is shown.
    """
    from connectors.actions import decrypt_secrets, encrypt_secrets
    from core.audit import record_audit
    from core.errors import NotFound, ValidationFailed
    from core.permissions import check_permission

    check_permission(actor, "connectors.connection.manage")
    if connection.org_id != actor.org_id:
        raise NotFound()
    if connection.type != WebhookConnector.type:
        raise ValidationFailed(_("Only an inbound webhook connection has a signing secret."))
    secret = new_secret()
    locked = Connection.objects.select_for_update().get(pk=connection.pk)
    stored = decrypt_secrets(locked.secrets)
    stored[SECRET_KEY] = secret
    locked.secrets = encrypt_secrets(stored)
    locked.save(update_fields=["secrets"])
    connection.secrets = locked.secrets
    record_audit(actor.org, actor.user, "connectors.webhook.rotate_secret", connection, ip=ip)
    return secret
