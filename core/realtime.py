"""WebSocket plumbing: token auth, the per-process event hub and the ``/ws/`` socket.

Fan-out (ARCHITECTURE.md, "Read state and real-time"): an event is published **once**
to the channel-layer group ``tack.hub``, whose members are *processes*, not people. Each
ASGI process runs one ``Hub`` that receives every event and delivers it to the sockets it
holds, using local indexes by conversation and by user. Sending into a 10,000-member group
therefore costs one Redis operation per web process, not one per member, and a process
with no interested sockets drops the event after a dictionary lookup (the approach of
Zulip's Tornado shards and Mattermost's hub).

Clients never depend on the socket for correctness: every event is also stored with an
increasing id, and after a reconnect a client asks for the events after the last id it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser

from core.auth import hash_token
from core.metrics.recording import note_socket_connect
from core.models import ApiToken, User

logger = logging.getLogger("tack.realtime")

HUB_GROUP = "tack.hub"
#: channels_redis forgets group members after a day; the hub re-joins well before that.
HUB_REJOIN_SECONDS = 3600


@database_sync_to_async
def _user_for_token(raw: str) -> User | None:
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    return token.user


def _refused_orgs(scope: dict[str, Any]) -> set[int]:
    from core.security.enforcement import socket_refused_orgs

    client = scope.get("client") or (None,)
    query = parse_qs(scope.get("query_string", b"").decode())
    by_session = "token" not in query
    return socket_refused_orgs(scope["user"], client[0], scope.get("session"), by_session)


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` from ``?token=`` when present (after the session middleware)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode())
        if "token" in query:
            user = await _user_for_token(query["token"][0])
            scope = {**scope, "user": user or AnonymousUser()}
        return await self.inner(scope, receive, send)


class Hub:
    """One per process: receives each published event once and routes it locally."""

    def __init__(self) -> None:
        self.by_user: dict[int, set[EventsConsumer]] = defaultdict(set)
        self.by_conversation: dict[int, set[EventsConsumer]] = defaultdict(set)
        self.channel: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._joined_at = 0.0
        self._lock = asyncio.Lock()

    async def ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._task is not None and not self._task.done() and self._loop is loop:
                return
            layer = get_channel_layer()
            # The default prefix matters: channels_redis reads every process-local channel
            # through one shared Redis key per prefix under a single receive lock, so a
            # second prefix would starve behind the sockets' own pending receives.
            self.channel = await layer.new_channel()
            await layer.group_add(HUB_GROUP, self.channel)
            self._joined_at = time.monotonic()
            self._loop = loop
            self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop receiving and leave the hub group (shutdown, and between async tests)."""
        task, channel = self._task, self.channel
        self._task, self._loop, self.channel = None, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        layer = get_channel_layer()
        if channel is not None and layer is not None:
            with contextlib.suppress(Exception):
                await layer.group_discard(HUB_GROUP, channel)

    async def _run(self) -> None:
        layer = get_channel_layer()
        assert self.channel is not None
        rejoin = False
        while True:
            if rejoin:
                # Redis was away: a restarted Redis has forgotten the hub group, and a
                # process that is not in it would never hear an event again.
                try:
                    await layer.group_add(HUB_GROUP, self.channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    await asyncio.sleep(1)
                    continue
                self._joined_at = time.monotonic()
                rejoin = False
                logger.info("hub rejoined %s after a Redis outage", HUB_GROUP)
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: back off, keep the sockets up, rejoin after
                logger.warning("hub receive failed; retrying", exc_info=True)
                rejoin = True
                await asyncio.sleep(1)
                continue
            if time.monotonic() - self._joined_at > HUB_REJOIN_SECONDS:
                with contextlib.suppress(Exception):
                    await layer.group_add(HUB_GROUP, self.channel)
                    self._joined_at = time.monotonic()
            await self.dispatch(message.get("event") or {})

    async def dispatch(self, event: dict[str, Any]) -> None:
        target_user = event.get("target_user_id")
        conversation_id = event.get("conversation_id")
        if target_user is not None:
            targets = set(self.by_user.get(target_user, ()))
            kind = event.get("type")
            if kind == "conversation.left" and conversation_id:
                for consumer in targets:
                    self.unsubscribe(consumer, [conversation_id])
            elif kind == "membership.suspended":
                for consumer in targets:
                    self.unsubscribe(consumer, list(event.get("conversation_ids") or ()))
            elif kind == "membership.activated":
                for consumer in targets:
                    self.subscribe(consumer, list(event.get("conversation_ids") or ()))
        elif conversation_id is not None:
            if event.get("type") == "conversation.joined":
                # New members' sockets start following the conversation, then hear about it.
                for user_id in event.get("user_ids") or ():
                    for consumer in self.by_user.get(user_id, ()):
                        self.subscribe(consumer, [conversation_id])
            targets = set(self.by_conversation.get(conversation_id, ()))
        else:
            return
        if not targets:
            return
        text = json.dumps({k: v for k, v in event.items() if k != "target_user_id"})
        for consumer in targets:
            await consumer.deliver(text, event)

    def register(self, consumer: EventsConsumer, user_id: int, conversation_ids: list[int]) -> None:
        self.by_user[user_id].add(consumer)
        self.subscribe(consumer, conversation_ids)

    def subscribe(self, consumer: EventsConsumer, conversation_ids: list[int]) -> None:
        for cid in conversation_ids:
            self.by_conversation[cid].add(consumer)
            consumer.conversation_ids.add(cid)

    def unsubscribe(self, consumer: EventsConsumer, conversation_ids: list[int]) -> None:
        for cid in conversation_ids:
            members = self.by_conversation.get(cid)
            if members is not None:
                members.discard(consumer)
                if not members:
                    del self.by_conversation[cid]
            consumer.conversation_ids.discard(cid)

    def unregister(self, consumer: EventsConsumer, user_id: int) -> None:
        self.unsubscribe(consumer, list(consumer.conversation_ids))
        sockets = self.by_user.get(user_id)
        if sockets is not None:
            sockets.discard(consumer)
            if not sockets:
                del self.by_user[user_id]

    def socket_count(self) -> int:
        return sum(len(s) for s in self.by_user.values())


hub = Hub()

#: Frame handlers other apps register: ``frame type -> async handler(consumer, frame)``.
FRAME_HANDLERS: dict[str, Any] = {}
#: Called on connect to list the conversation ids a user's socket follows.
SUBSCRIPTION_LOADERS: list[Any] = []


class EventsConsumer(AsyncWebsocketConsumer):
    """``/ws/``: authenticated socket that receives the user's events."""

    user: User

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.conversation_ids: set[int] = set()
        # Organisations whose security policy refuses this socket: none of their events.
        self.refused_orgs: set[int] = await database_sync_to_async(_refused_orgs)(self.scope)
        await self.accept()
        conversation_ids: list[int] = []
        for loader in SUBSCRIPTION_LOADERS:
            conversation_ids.extend(await database_sync_to_async(loader)(user))
        await hub.ensure_running()
        hub.register(self, user.pk, conversation_ids)
        await database_sync_to_async(note_socket_connect)(user)  # DAG metrics: chat activity
        await self.send_json({"type": "hello", "user_id": user.pk})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "user"):
            hub.unregister(self, self.user.pk)

    async def deliver(self, text: str, event: dict[str, Any]) -> None:
        if event.get("org_id") in getattr(self, "refused_orgs", ()):
            return
        with contextlib.suppress(Exception):  # a socket closing mid-send is not an error
            await self.send(text_data=text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data or "")
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise ValueError("a frame is a JSON object with a string 'type'")
        except ValueError as exc:
            await self.send_json({"type": "error", "code": "malformed_frame", "message": str(exc)})
            return
        kind = frame["type"]
        if kind == "ping":
            await self.send_json({"type": "pong", "id": frame.get("id")})
            return
        handler = FRAME_HANDLERS.get(kind)
        if handler is None:
            await self.send_json(
                {"type": "error", "code": "unknown_type", "message": f"Unknown type {kind!r}"}
            )
            return
        try:
            await handler(self, frame)
        except Exception as exc:  # a bad frame must never close the socket
            logger.info("frame %s failed: %s", kind, exc)
            await self.send_json({"type": "error", "code": "frame_failed", "message": str(exc)})

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload))
