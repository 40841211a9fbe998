"""DING API: send, see who has confirmed, confirm, and my pending DINGs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from im import access
from im import ding as dings
from im.actions import MAX_MESSAGE_CHARS
from im.api.serializers import MessageSerializer
from im.models import Ding, Message

# --- Serializers ------------------------------------------------------------------------


class DingCreateSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=MAX_MESSAGE_CHARS, trim_whitespace=False)
    member_ids = serializers.ListField(
        child=IdField(),
        max_length=20000,
        required=False,
        default=list,
        help_text="Recipients (membership ids, all in this conversation). Or set `all`.",
    )
    all = serializers.BooleanField(
        required=False, default=False, help_text="Every member of the conversation but me."
    )
    client_msg_id = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        help_text="Idempotency key: a retried send with the same id returns the first DING.",
    )
    remind_every_minutes = serializers.IntegerField(
        min_value=dings.REMIND_EVERY_MINUTES_RANGE[0],
        max_value=dings.REMIND_EVERY_MINUTES_RANGE[1],
        default=dings.DEFAULT_REMIND_EVERY_MINUTES,
    )
    max_reminders = serializers.IntegerField(
        min_value=dings.MAX_REMINDERS_RANGE[0],
        max_value=dings.MAX_REMINDERS_RANGE[1],
        default=dings.DEFAULT_MAX_REMINDERS,
    )


class DingConfirmedSerializer(serializers.Serializer[Any]):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    confirmed_at = serializers.DateTimeField()


class DingUnconfirmedSerializer(serializers.Serializer[Any]):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    reminded_count = serializers.IntegerField()


class DingStatusSerializer(serializers.Serializer[Any]):
    message_id = serializers.IntegerField()
    sender_id = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField()
    confirmed_count = serializers.IntegerField()
    unconfirmed_count = serializers.IntegerField()
    confirmed = DingConfirmedSerializer(many=True)
    unconfirmed = DingUnconfirmedSerializer(many=True)
    reminders_sent = serializers.IntegerField()
    next_reminder_at = serializers.DateTimeField(allow_null=True)
    closed = serializers.BooleanField(
        help_text="No reminder is scheduled: all confirmed, reminders used up, or recalled."
    )


class DingSentSerializer(serializers.Serializer[Any]):
    message = MessageSerializer()
    ding = DingStatusSerializer()


class PendingDingSerializer(serializers.Serializer[Any]):
    message_id = serializers.IntegerField(source="ding.message_id")
    conversation_id = serializers.IntegerField(source="ding.message.conversation_id")
    sender_id = serializers.IntegerField(source="ding.message.sender_id", allow_null=True)
    body = serializers.CharField(source="ding.message.body")
    created_at = serializers.DateTimeField(source="ding.message.created_at")
    reminded_count = serializers.IntegerField()


# --- Views ------------------------------------------------------------------------------


class DingViewSet(OrgScopedViewSet):
    """DING routes; mounted with explicit paths in ``im.api.urls``."""

    queryset = Ding.objects.all()
    serializer_class = DingStatusSerializer
    pagination_class = None

    def _status(self, ding: Ding) -> Response:
        return Response(DingStatusSerializer(dings.ding_status(ding)).data)

    @extend_schema(
        operation_id="conversation_ding_create",
        request=DingCreateSerializer,
        responses={201: DingSentSerializer, 200: DingSentSerializer},
    )
    def send_ding(self, request: Request, org_id: int, pk: str) -> Response:
        """Send a DING to chosen members (or all) of a conversation."""
        conversation = access.access_conversation(self.membership, pk)
        data = DingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        params["all_members"] = params.pop("all")
        ding, created = dings.do_send_ding(self.membership, conversation, **params)
        message = (
            Message.objects.select_related("sender__user")
            .prefetch_related("reactions", "attachments")
            .get(pk=ding.message_id)
        )
        ding.message = message
        body = {
            "message": MessageSerializer(message, context={"request": request}).data,
            "ding": DingStatusSerializer(dings.ding_status(ding)).data,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(operation_id="message_ding_retrieve", responses=DingStatusSerializer)
    def ding_status(self, request: Request, org_id: int, pk: str) -> Response:
        """Who has confirmed a DING (sender, recipients and member managers)."""
        ding = dings.access_ding(self.membership, pk)
        dings.check_view_ding(self.membership, ding)
        return self._status(ding)

    @extend_schema(
        operation_id="message_ding_confirm", request=None, responses=DingStatusSerializer
    )
    def confirm(self, request: Request, org_id: int, pk: str) -> Response:
        """Confirm a DING I received; also marks the conversation read up to it."""
        ding = dings.access_ding(self.membership, pk)
        dings.do_confirm_ding(self.membership, ding)
        return self._status(ding)

    @extend_schema(operation_id="dings_pending_list", responses=PendingDingSerializer(many=True))
    def pending(self, request: Request, org_id: int) -> Response:
        """DINGs waiting for my confirmation, newest first (at most 200)."""
        receipts = dings.pending_dings(self.membership)
        return Response(PendingDingSerializer(receipts, many=True).data)
