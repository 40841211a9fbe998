"""WebSocket plumbing shared by every app: token auth and the ``/ws/`` events socket.

Browser clients authenticate with their session cookie; other clients pass a
personal API token as ``?token=tack_…``. The IM issue extends the consumer with
conversation events; here it greets, answers pings and rejects malformed frames
without closing the socket.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser

from core.auth import hash_token
from core.models import ApiToken, User


@database_sync_to_async
def _user_for_token(raw: str) -> User | None:
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    return token.user


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


class EventsConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.accept()
        await self.send_json({"type": "hello", "user_id": user.pk})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data or "")
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise ValueError("a frame is a JSON object with a string 'type'")
        except ValueError as exc:
            await self.send_json({"type": "error", "code": "malformed_frame", "message": str(exc)})
            return
        if frame["type"] == "ping":
            await self.send_json({"type": "pong", "id": frame.get("id")})
        else:
            await self.send_json(
                {
                    "type": "error",
                    "code": "unknown_type",
                    "message": f"Unknown type {frame['type']!r}",
                }
            )

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload))
