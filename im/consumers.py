"""Chat frames on the shared ``/ws/`` socket (see ``core.realtime``)."""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from core.realtime import FRAME_HANDLERS, HUB_GROUP, EventsConsumer
from im.models import Conversation

TYPING_INTERVAL_SECONDS = 3.0


@database_sync_to_async
def _member_count(conversation_id: int) -> int:
    return (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("member_count", flat=True)
        .first()
        or 0
    )


@database_sync_to_async
def _org_of(conversation_id: int) -> int | None:
    return Conversation.objects.filter(pk=conversation_id).values_list("org_id", flat=True).first()


async def handle_typing(consumer: EventsConsumer, frame: dict[str, Any]) -> None:
    """``{"type": "typing", "conversation_id": N}``: throttled, not stored, off in big groups."""
    try:
        conversation_id = int(frame.get("conversation_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        await consumer.send_json(
            {"type": "error", "code": "invalid", "message": "conversation_id is required"}
        )
        return
    if conversation_id not in consumer.conversation_ids or (
        await _org_of(conversation_id) in getattr(consumer, "refused_orgs", ())
    ):
        await consumer.send_json({"type": "error", "code": "not_found", "message": "Not found."})
        return
    last: dict[int, float] = consumer.__dict__.setdefault("_typing_sent", {})
    now = time.monotonic()
    if now - last.get(conversation_id, 0.0) < TYPING_INTERVAL_SECONDS:
        return
    last[conversation_id] = now
    if await _member_count(conversation_id) > settings.IM_TYPING_MAX_MEMBERS:
        return
    await get_channel_layer().group_send(
        HUB_GROUP,
        {
            "type": "hub.event",
            "event": {
                "type": "typing",
                "org_id": await _org_of(conversation_id),
                "conversation_id": conversation_id,
                "user_id": consumer.user.pk,
            },
        },
    )


def register_frame_handlers() -> None:
    FRAME_HANDLERS["typing"] = handle_typing
