"""Platform events → webhook deliveries to the apps that subscribed to them.

``emit(org_id, event_type, data)`` is called by actions (directly or through the hook
lists they expose). After the caller's transaction commits it creates, in one insert, a
``WebhookDelivery`` for every active installation in the organisation whose manifest
subscribes to the event and whose granted scopes include the scope the event needs
(``marketplace.scopes.EVENTS``), and hands them to the Celery workers. A failure here is
logged and never breaks the action that emitted the event.

``data`` must hold only what the event's scope allows the app to see, never secrets.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.models import Installation, WebhookDelivery
from marketplace.scopes import EVENTS
from marketplace.webhooks import (
    cancel_installation_deliveries,
    enqueue,
    subscribed_events,
    webhook_url,
)

logger = logging.getLogger("tack.marketplace.events")


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def receives(installation: Installation, event_type: str) -> bool:
    """Whether ``installation`` gets ``event_type``: active (or being told it was just
    uninstalled), subscribed, scope granted."""
    if not (installation.is_active or event_type == "app.uninstalled"):
        return False
    if not webhook_url(installation):
        return False
    if event_type not in subscribed_events(installation):
        return False
    scope = EVENTS.get(event_type)
    return scope is None or scope in (installation.granted_scopes or [])


def emit(
    org_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    installation_ids: Iterable[int] | None = None,
) -> None:
    """Queue ``event_type`` with ``data`` for the organisation's subscribed apps, after the
    current transaction commits (at once outside one). ``installation_ids`` narrows the
    receivers (e.g. the apps added to one chat)."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown app event {event_type!r}")
    only = None if installation_ids is None else set(installation_ids)
    occurred_at = timezone.now()
    installations: list[Installation] | None = None
    if event_type in APP_LIFECYCLE_EVENTS:
        # Only the app concerned hears about its own installation. The uninstall is told
        # while the installation is still active: its receivers are resolved now.
        only = {int(data["installation_id"])}
        if event_type == "app.uninstalled":
            installations = list(
                Installation.objects.filter(org_id=org_id, pk__in=only).select_related("version")
            )

    def create() -> None:
        try:
            if event_type == "app.uninstalled":
                stop_installation(org_id, only or set())
            ids = create_deliveries(
                org_id, event_type, data, occurred_at, only=only, installations=installations
            )
        except Exception:  # an app's webhook must never break the platform's own action
            logger.exception("could not queue %s for the apps of org %s", event_type, org_id)
            return
        if ids:
            enqueue(ids)

    transaction.on_commit(create)


#: Events about the receiving installation itself (``data["installation_id"]``).
APP_LIFECYCLE_EVENTS = frozenset({"app.installed", "app.uninstalled", "app.scopes_changed"})


def stop_installation(org_id: int, installation_ids: set[int]) -> None:
    """After an uninstall: cancel the app's pending deliveries and remove its cool-app bots."""
    from marketplace.coolapps import deactivate_installation_bindings

    for installation in Installation.objects.filter(org_id=org_id, pk__in=installation_ids):
        if installation.is_active:
            continue
        cancel_installation_deliveries(installation)
        deactivate_installation_bindings(installation)


def create_deliveries(
    org_id: int,
    event_type: str,
    data: dict[str, Any],
    occurred_at: Any,
    *,
    only: set[int] | None = None,
    installations: list[Installation] | None = None,
) -> list[int]:
    """Insert the deliveries of one event (one query); their ids."""
    if only is not None and not only:
        return []
    if installations is None:
        found = Installation.objects.filter(org_id=org_id, status=Installation.Status.ACTIVE)
        found = found.select_related("version")
        if only is not None:
            found = found.filter(pk__in=only)
        installations = list(found)
    receivers = [i for i in installations if receives(i, event_type)]
    if not receivers:
        return []
    now = timezone.now()
    stamp = occurred_at.isoformat().replace("+00:00", "Z")
    deliveries = [
        WebhookDelivery(
            org_id=org_id,
            installation=installation,
            app_id=installation.app_id,
            message_id=new_message_id(),
            event_type=event_type,
            payload={
                "type": event_type,
                "timestamp": stamp,
                "data": {**data, "org_id": org_id, "installation_id": installation.pk},
            },
            next_attempt_at=now,
            created_at=now,
        )
        for installation in receivers
    ]
    created = WebhookDelivery.objects.bulk_create(deliveries)
    if created and created[0].pk is None:  # backends that do not return ids
        keys = [d.message_id for d in deliveries]
        return list(
            WebhookDelivery.objects.filter(org_id=org_id, message_id__in=keys).values_list(
                "pk", flat=True
            )
        )
    return [d.pk for d in created]


# --- Platform events (registered in ``MarketplaceConfig.ready``) ---------------------------
# Each builds a payload with what the event's scope allows an app to see, never secrets.


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def on_message_sent(message: Any) -> None:
    """``im.actions.AFTER_SEND_HOOKS``: a member's message in a chat that apps were added to."""
    from marketplace.models import CoolAppBinding

    try:
        if message.sender_id is None:  # bots' (and so apps' own) messages are not echoed
            return
        installation_ids = set(
            CoolAppBinding.objects.filter(
                org_id=message.org_id, conversation_id=message.conversation_id, is_active=True
            ).values_list("installation_id", flat=True)
        )
        if not installation_ids:
            return
        sender = message.sender
        emit(
            message.org_id,
            "im.message.created",
            {
                "message": {
                    "id": message.pk,
                    "conversation_id": message.conversation_id,
                    "kind": message.kind,
                    "body": message.body,
                    "thread_root_id": getattr(message, "thread_root_id", None),
                    "created_at": _iso(message.created_at),
                    "sender": {"id": sender.pk, "display_name": sender.user.display_name},
                }
            },
            installation_ids=installation_ids,
        )
    except Exception:  # an app must never break sending
        logger.exception("could not queue message %s for apps", message.pk)


def _member_data(membership: Any) -> dict[str, Any]:
    return {
        "member": {
            "id": membership.pk,
            "user_id": membership.user_id,
            "display_name": membership.user.display_name,
            "role": membership.role,
            "title": membership.title,
        }
    }


def on_membership_changed(membership: Any) -> None:
    """``core.hooks.MEMBERSHIP_CHANGED`` (after commit): joined (or reactivated) / suspended."""
    if getattr(membership.user, "is_app", False):
        return
    if membership.status == "active":
        emit(membership.org_id, "core.member.joined", _member_data(membership))
    elif membership.status == "suspended":
        data = _member_data(membership)
        data["reason"] = "suspended"
        emit(membership.org_id, "core.member.left", data)


def on_membership_removing(membership: Any) -> None:
    """``core.hooks.MEMBERSHIP_REMOVING`` (in the transaction): sent once it commits."""
    if getattr(membership.user, "is_app", False):
        return
    data = _member_data(membership)
    data["reason"] = "removed"
    emit(membership.org_id, "core.member.left", data)


def _record_data(record: Any) -> dict[str, Any]:
    return {
        "record": {
            "id": record.pk,
            "form_id": record.form_id,
            "number": record.number,
            "data": record.data,
            "created_at": _iso(record.created_at),
            "updated_at": _iso(record.updated_at),
            "deleted_at": _iso(record.deleted_at),
        }
    }


def _record_readers(event_type: str, record: Any) -> list[int]:
    """Installations whose own account may read ``record`` through the API (the low-code
    app's permissions: its level, and which records that level sees). A webhook never
    carries more than the app could fetch."""
    from django.db.models import Q

    from lowcode.access import app_levels, visible_records_q
    from lowcode.models import Record

    readers = []
    installations = Installation.objects.filter(
        org_id=record.org_id, status=Installation.Status.ACTIVE, app_member__isnull=False
    ).select_related("app_member", "version")
    for installation in installations:
        if not receives(installation, event_type):  # subscribed, scope, a webhook URL
            continue
        member = installation.app_member
        if member is None:  # excluded by the query; for the type checker
            continue
        levels = app_levels(member, record.form.app)
        if (
            levels
            and Record.objects.filter(Q(pk=record.pk) & visible_records_q(member, levels)).exists()
        ):
            readers.append(installation.pk)
    return readers


def _emit_record(event_type: str, record: Any) -> None:
    emit(
        record.org_id,
        event_type,
        _record_data(record),
        installation_ids=_record_readers(event_type, record),
    )


def on_record_created(actor: Any, record: Any) -> None:
    _emit_record("lowcode.record.created", record)


def on_record_updated(actor: Any, record: Any) -> None:
    _emit_record("lowcode.record.updated", record)


def on_record_deleted(actor: Any, record: Any) -> None:
    _emit_record("lowcode.record.deleted", record)


def on_sync_finished(run: Any) -> None:
    """``connectors.sync.SYNC_FINISHED``: counts and state, never the connection's config."""
    emit(
        run.org_id,
        "connectors.sync.finished",
        {
            "run": {
                "id": run.pk,
                "connection_id": run.connection_id,
                "state": run.state,
                "trigger": run.trigger,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "read": run.read_count,
                "created": run.created_count,
                "updated": run.updated_count,
                "unchanged": run.unchanged_count,
                "failed": run.failed_count,
                "error_kind": run.error_kind,
            }
        },
    )
