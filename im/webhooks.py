"""The public incoming-webhook endpoint: ``POST /hooks/<key>/`` (Slack-compatible).

No session, no CSRF, no login: the key in the URL is the credential (only its hash is
stored). Throttled per key. Mounted from ``config/urls.py`` with
``path("hooks/", include("im.webhooks"))``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from core.api.parsers import raw_body
from core.auth import hash_token
from im import bots

MAX_BODY_BYTES = 1024 * 1024


class IncomingWebhookThrottle(SimpleRateThrottle):
    """Per webhook key; ``TACK_INCOMING_WEBHOOK_RATE`` (default 60/min) overrides."""

    scope = "incoming_webhook"

    def get_rate(self) -> str:
        return str(getattr(settings, "TACK_INCOMING_WEBHOOK_RATE", "60/min"))

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {
            "scope": self.scope,
            "ident": hash_token(str(view.kwargs.get("key", ""))),
        }


class IncomingWebhookView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [IncomingWebhookThrottle]
    parser_classes: list[Any] = []  # the raw body is read and parsed by the action

    @extend_schema(
        operation_id="incoming_webhook",
        auth=[],
        request=inline_serializer(
            "IncomingWebhook",
            {
                "text": serializers.CharField(required=False, max_length=10_000),
                "blocks": serializers.ListField(child=serializers.DictField(), required=False),
            },
        ),
        responses=inline_serializer(
            "IncomingWebhookResult",
            {"ok": serializers.BooleanField(), "message_id": serializers.IntegerField()},
        ),
    )
    def post(self, request: Request, key: str) -> Response:
        """Post into the bot's conversation: ``{"text"}`` and/or Slack ``{"blocks": [...]}``."""
        message = bots.do_receive_incoming(key, raw_body(request, MAX_BODY_BYTES))
        return Response({"ok": True, "message_id": message.pk})


urlpatterns = [
    path("<str:key>/", IncomingWebhookView.as_view(), name="incoming-webhook"),
]
