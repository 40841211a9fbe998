"""Bots API and card button clicks: parse, access, act, serialise."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from im import access, bots
from im.api.serializers import MessageSerializer
from im.cards import ACTION_ID_MAX
from im.models import Bot, Message


class BotSerializer(serializers.ModelSerializer[Bot]):
    """A bot as listed: never its key hash or signing secret."""

    conversation_id = serializers.IntegerField(read_only=True, allow_null=True)
    has_outgoing = serializers.SerializerMethodField()

    class Meta:
        model = Bot
        fields = [
            "id",
            "name",
            "avatar_url",
            "conversation_id",
            "outgoing_url",
            "has_outgoing",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_outgoing(self, bot: Bot) -> bool:
        return bool(bot.outgoing_url)


class BotCredentialsSerializer(serializers.Serializer[Any]):
    """Shown once, on create and rotate."""

    bot = BotSerializer()
    incoming_webhook_url = serializers.CharField(
        help_text="POST Slack-compatible JSON here. Shown once; keep it secret."
    )
    signing_secret = serializers.CharField(
        help_text="Verifies X-Tack-Signature on calls to your outgoing URL. Shown once."
    )


class BotCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=bots.BOT_NAME_MAX)
    conversation_id = IdField()
    outgoing_url = serializers.URLField(max_length=200, required=False, allow_blank=True)


def _credentials(credentials: bots.BotCredentials) -> dict[str, Any]:
    return BotCredentialsSerializer(
        {
            "bot": credentials.bot,
            "incoming_webhook_url": credentials.incoming_webhook_url,
            "signing_secret": credentials.signing_secret,
        }
    ).data


class BotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Incoming webhooks and outgoing bots, for conversation owners/admins and org admins."""

    queryset = Bot.objects.all()
    serializer_class = BotSerializer

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return bots.manageable_bots(self.membership, queryset)

    @extend_schema(request=BotCreateSerializer, responses={201: BotCredentialsSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = BotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = bots.do_create_bot(self.membership, **data.validated_data, ip=self.ip)
        return Response(_credentials(credentials), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        """Deactivate: its webhook and outgoing calls stop; its messages stay."""
        bots.do_deactivate_bot(self.membership, bots.access_bot(self.membership, pk), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=BotCredentialsSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, org_id: int, pk: str) -> Response:
        """Issue a new webhook key and signing secret; the old ones stop working."""
        credentials = bots.do_rotate_bot_secrets(
            self.membership, bots.access_bot(self.membership, pk), ip=self.ip
        )
        return Response(_credentials(credentials))


class CardActionSerializer(serializers.Serializer[Any]):
    action_id = serializers.CharField(max_length=ACTION_ID_MAX)


class CardActionResultSerializer(serializers.Serializer[Any]):
    message = MessageSerializer(help_text="The card message, updated if the bot changed it.")
    reply = MessageSerializer(allow_null=True, help_text="The bot's text reply, if any.")


class CardActionViewSet(OrgScopedViewSet):
    """A button click on a card, forwarded (signed) to the bot that owns the card."""

    queryset = Message.objects.all()
    serializer_class = CardActionResultSerializer

    @extend_schema(request=CardActionSerializer, responses=CardActionResultSerializer)
    @action(detail=True, methods=["post"], url_path="card-actions")
    def card_actions(self, request: Request, org_id: int, pk: str) -> Response:
        data = CardActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = bots.do_card_action(
            self.membership,
            access.access_message(self.membership, pk),
            data.validated_data["action_id"],
        )
        fresh = self._present([result.message.pk] + ([result.reply.pk] if result.reply else []))
        return Response(
            {
                "message": fresh[result.message.pk],
                "reply": fresh[result.reply.pk] if result.reply else None,
            }
        )

    def _present(self, ids: list[int]) -> dict[int, Any]:
        messages = (
            self.get_queryset()
            .filter(pk__in=ids)
            .select_related("sender__user")
            .prefetch_related("reactions", "attachments")
        )
        context = {"request": self.request}
        return {m.pk: MessageSerializer(m, context=context).data for m in messages}
