"""The public endpoint of inbound webhook connections.

``POST /hooks/connectors/<connection id>/<stream>/``: no session, no CSRF; the HMAC
signature is the credential (see ``connectors.builtin.webhook``). Throttled per
connection: ``TACK_CONNECTOR_WEBHOOK_RATE`` (default 600/min).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from connectors.builtin.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from connectors.push import do_receive_push
from core.api.parsers import raw_body

MAX_BODY_BYTES = 1024 * 1024


class ConnectorWebhookThrottle(SimpleRateThrottle):
    scope = "connector_webhook"

    def get_rate(self) -> str:
        return str(getattr(settings, "TACK_CONNECTOR_WEBHOOK_RATE", "600/min"))

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {
            "scope": self.scope,
            "ident": str(view.kwargs.get("connection_id", "")),
        }


class ConnectorWebhookView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ConnectorWebhookThrottle]
    parser_classes: list[Any] = []  # the raw body is signed, so it is read as bytes

    @extend_schema(
        operation_id="connector_webhook_push",
        auth=[],
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description='"sha256=" + hex HMAC-SHA256(secret, "<timestamp>.<raw body>")',
            ),
            OpenApiParameter(
                TIMESTAMP_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Unix seconds; refused when more than 5 minutes off.",
            ),
        ],
        request=inline_serializer(
            "ConnectorWebhookPush",
            {"records": serializers.ListField(child=serializers.DictField())},
        ),
        responses={
            202: inline_serializer(
                "ConnectorWebhookResult",
                {
                    "run": serializers.IntegerField(),
                    "received": serializers.IntegerField(),
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                    "unchanged": serializers.IntegerField(),
                    "failed": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request: Request, connection_id: int, stream: str) -> Response:
        """Push records (one object or ``{"records": [...]}``) into the stream's form."""
        run = do_receive_push(
            connection_id,
            stream,
            raw_body(request, MAX_BODY_BYTES),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
        )
        return Response(
            {
                "run": run.pk,
                "received": run.read_count,
                "created": run.created_count,
                "updated": run.updated_count,
                "unchanged": run.unchanged_count,
                "failed": run.failed_count,
                "errors": run.record_errors[:20],
            },
            status=202,
        )
