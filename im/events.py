"""Real-time events: stored with an increasing id, then published after commit.

``record_event`` is called inside the action's transaction; the row commits with the
change it describes, and ``transaction.on_commit`` publishes it once to every web
process (see ``core.realtime``). A client that missed it asks for events after its
last id (``events_after``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.models import Membership, User
from core.realtime import HUB_GROUP
from im.models import Conversation, ConversationMember, Event

logger = logging.getLogger("tack.events")


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "org_id": event.org_id,
        "type": event.type,
        "conversation_id": event.conversation_id,
        "target_user_id": event.target_user_id,
        "created_at": event.created_at.isoformat(),
        **event.payload,
    }


def publish(payloads: list[dict[str, Any]]) -> None:
    """Send already-committed events to every web process (one group_send each)."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    for payload in payloads:
        for attempt in (1, 2):
            try:
                send(HUB_GROUP, {"type": "hub.event", "event": payload})
                break
            except Exception:  # Redis down: the event is stored; clients catch up
                # A Redis that just restarted closes the pooled connection once: retry
                # on a fresh one before giving up on live delivery of this event.
                if attempt == 2:
                    logger.warning("could not publish event %s", payload.get("id"), exc_info=True)


def record_event(
    conversation: Conversation | None,
    type: str,
    payload: dict[str, Any],
    *,
    target_user: User | int | None = None,
    org_id: int | None = None,
) -> Event:
    target_id = target_user.pk if isinstance(target_user, User) else target_user
    resolved_org = org_id or (conversation.org_id if conversation else None)
    assert resolved_org is not None, "an event belongs to an organisation"
    event = Event.objects.create(
        org_id=resolved_org,
        conversation=conversation,
        type=type,
        payload=payload,
        target_user_id=target_id,
    )
    data = event_dict(event)
    transaction.on_commit(lambda: publish([data]))
    return event


#: The longest ``replay`` a client may ask for (seconds).
MAX_REPLAY_SECONDS = 300


def events_after(
    member: Membership, after: int, *, limit: int = 500, replay_seconds: int = 0
) -> QuerySet[Event]:
    """What ``member`` missed: events after id ``after`` in their conversations or for them.

    Ids are handed out when a transaction inserts its event, not when it commits, so a
    transaction that took id 10 may commit after the one that took id 11: a client that
    saw 11 and then asks for "after 11" would never see 10. ``replay_seconds`` closes that
    gap: events created in the last few seconds are returned again even when their id is
    not above ``after`` (the client drops ids it has already applied). Without it the
    answer is exactly "id > after".
    """
    conversation_ids = ConversationMember.objects.filter(membership=member).values(
        "conversation_id"
    )
    window = Q(id__gt=after)
    if replay_seconds > 0:
        since = timezone.now() - timedelta(seconds=min(replay_seconds, MAX_REPLAY_SECONDS))
        window |= Q(created_at__gte=since)
    return (
        Event.objects.filter(window, org_id=member.org_id)
        .filter(
            Q(conversation_id__in=conversation_ids, target_user__isnull=True)
            | Q(target_user_id=member.user_id)
        )
        .order_by("id")[:limit]
    )
