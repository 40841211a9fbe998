"""Cool apps in group chats: members add and remove apps; apps post and update cards.

Member routes (under ``/api/v1/orgs/<org_id>/``; apps' tokens are refused, no scope):

* ``conversations/<id>/apps/``  GET the apps in a chat the caller is in, POST
  ``{"installation", "card_id"?}`` to add one (it must be granted ``im:card.write``);
* ``cool-apps/<id>/``  DELETE: remove the app from the chat (whoever added it, the group's
  owner and admins, organisation admins).

App routes (an OAuth token acting as the app's own member, scope ``im:card.write``):

* ``app-cards/``  POST ``{"conversation_id", "card", "text"?, "idempotency_key"?}``: post a
  card in a chat the app was added to (a retried key returns the first card, 200);
* ``app-cards/<message id>/``  PATCH ``{"card"}``: replace one of its cards.

Clicks on the app's cards go to the app signed (``marketplace.coolapps``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from im.access import access_conversation
from im.actions import MAX_MESSAGE_CHARS
from im.api.serializers import MessageSerializer
from im.models import Message
from marketplace import coolapps
from marketplace.models import CoolAppBinding


class CoolAppSerializer(serializers.ModelSerializer[CoolAppBinding]):
    app = serializers.SerializerMethodField()
    bot_id = serializers.IntegerField(read_only=True)
    conversation_id = serializers.IntegerField(read_only=True)
    installation_id = serializers.IntegerField(read_only=True)
    added_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    added_by_name = serializers.SerializerMethodField()

    class Meta:
        model = CoolAppBinding
        fields = (
            "id",
            "installation_id",
            "conversation_id",
            "bot_id",
            "card_id",
            "app",
            "added_by_id",
            "added_by_name",
            "created_at",
        )
        read_only_fields = fields

    def get_app(self, binding: CoolAppBinding) -> dict[str, str]:
        app = binding.installation.app
        return {"app_id": app.app_id, "name": app.name, "summary": app.summary}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_added_by_name(self, binding: CoolAppBinding) -> str | None:
        by = binding.added_by
        return by.user.display_name if by is not None else None


class CoolAppAddSerializer(serializers.Serializer[Any]):
    installation = serializers.IntegerField(min_value=1)
    card_id = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class AppCardCreateSerializer(serializers.Serializer[Any]):
    conversation_id = serializers.IntegerField(min_value=1)
    card = serializers.JSONField(help_text="A Tack card: title, fields, buttons, footer.")
    text = serializers.CharField(
        max_length=MAX_MESSAGE_CHARS, required=False, allow_blank=True, default=""
    )
    idempotency_key = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A retry with the same key returns the first card instead of posting again.",
    )


class AppCardUpdateSerializer(serializers.Serializer[Any]):
    card = serializers.JSONField(help_text="The card's new content.")


def _parse(serializer_class: Any, request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    validated: dict[str, Any] = data.validated_data
    return validated


class ConversationAppViewSet(OrgScopedViewSet):
    """The apps added to one group chat."""

    queryset = CoolAppBinding.objects.all()
    serializer_class = CoolAppSerializer
    pagination_class = None

    @extend_schema(responses=CoolAppSerializer(many=True))
    def list(self, request: Request, org_id: int, pk: str) -> Response:
        conversation = access_conversation(self.membership, pk)
        bindings = coolapps.bindings_in(self.membership, conversation)
        return Response(CoolAppSerializer(bindings, many=True).data)

    @extend_schema(request=CoolAppAddSerializer, responses={201: CoolAppSerializer})
    def create(self, request: Request, org_id: int, pk: str) -> Response:
        conversation = access_conversation(self.membership, pk)
        data = _parse(CoolAppAddSerializer, request)
        binding = coolapps.do_add_cool_app(
            self.membership,
            conversation,
            installation_id=data["installation"],
            card_id=data["card_id"],
            ip=self.ip,
        )
        return Response(CoolAppSerializer(binding).data, status=status.HTTP_201_CREATED)


class CoolAppViewSet(OrgScopedViewSet):
    queryset = CoolAppBinding.objects.all()
    serializer_class = CoolAppSerializer

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        binding = coolapps.access_member_binding(self.membership, pk)
        coolapps.do_remove_cool_app(self.membership, binding, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AppCardViewSet(OrgScopedViewSet):
    """Cards an app posts in the chats it was added to (``im:card.write``)."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    app_scope: ClassVar[str | None] = "im:card"

    def _present(self, message: Message) -> dict[str, Any]:
        fresh = (
            Message.objects.filter(org_id=self.org.pk, pk=message.pk)
            .select_related("sender__user", "bot")
            .prefetch_related("reactions", "attachments")
            .get()
        )
        data: dict[str, Any] = MessageSerializer(fresh, context={"request": self.request}).data
        return data

    @extend_schema(
        request=AppCardCreateSerializer, responses={201: MessageSerializer, 200: MessageSerializer}
    )
    def create(self, request: Request, org_id: int) -> Response:
        data = _parse(AppCardCreateSerializer, request)
        message, created = coolapps.do_post_app_card(
            self.membership,
            conversation_id=data["conversation_id"],
            card=data["card"],
            text=data["text"],
            idempotency_key=data["idempotency_key"],
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self._present(message), status=code)

    @extend_schema(request=AppCardUpdateSerializer, responses=MessageSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        data = _parse(AppCardUpdateSerializer, request)
        message = coolapps.do_update_app_card(self.membership, pk, card=data["card"])
        return Response(self._present(message))


#: Included from ``marketplace.api.urls`` at the root of /api/v1/.
urlpatterns = [
    path(
        "orgs/<int:org_id>/conversations/<int:pk>/apps/",
        ConversationAppViewSet.as_view({"get": "list", "post": "create"}),
        name="conversation-apps",
    ),
    path(
        "orgs/<int:org_id>/cool-apps/<int:pk>/",
        CoolAppViewSet.as_view({"delete": "destroy"}),
        name="cool-app-detail",
    ),
    path(
        "orgs/<int:org_id>/app-cards/",
        AppCardViewSet.as_view({"post": "create"}),
        name="app-card-list",
    ),
    path(
        "orgs/<int:org_id>/app-cards/<int:pk>/",
        AppCardViewSet.as_view({"patch": "partial_update"}),
        name="app-card-detail",
    ),
]
