"""Chat API views: parse, access, act, serialise."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.access import access_member
from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from core.api.pagination import IdCursorPagination
from core.errors import ValidationFailed
from im import access, actions, selectors
from im.api import serializers as s
from im.events import event_dict, events_after
from im.models import Attachment, Conversation, ConversationMember, Message


def attachment_response(attachment: Attachment) -> FileResponse:
    """An uploaded file, served so a browser can never run it: images inline, anything
    else as a download, sandboxed, never sniffed."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not attachment.is_image,
        filename=attachment.name,
        content_type=attachment.content_type if attachment.is_image else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _title(link: ConversationMember, names: dict[int, str]) -> str:
    conversation = link.conversation
    if conversation.kind == Conversation.Kind.DIRECT:
        low, _sep, high = conversation.direct_key.partition(":")
        other = int(high) if int(low) == link.membership_id else int(low)
        return names.get(other, "")
    return conversation.name


class ConversationViewSet(mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Conversations I belong to."""

    queryset = Conversation.objects.all()
    serializer_class = s.ConversationSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {
        "list": "im:conversation.read",
        "retrieve": "im:conversation.read",
        "members:get": "im:conversation.read",
        "messages:get": "im:message.read",
        "messages:post": "im:message.write",
    }
    pagination_class = None  # the list is mine, with badges; member lists page on their own

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(members__membership=self.membership)

    def _conversation(self, pk: Any) -> Conversation:
        return access.access_conversation(self.membership, pk)

    @extend_schema(responses=s.MyConversationSerializer(many=True))
    def list(self, request: Request, org_id: int) -> Response:
        links = list(selectors.my_conversations(self.membership))
        counts = selectors.unread_counts(self.membership)
        direct_keys = [
            link.conversation.direct_key for link in links if link.conversation.direct_key
        ]
        other_ids = {int(x) for key in direct_keys for x in key.split(":")}
        names = dict(
            self.membership.org.memberships.filter(pk__in=other_ids).values_list(
                "pk", "user__display_name"
            )
        )
        body = [
            {
                "conversation": link.conversation,
                "role": link.role,
                "last_read_message_id": link.last_read_message_id,
                "unread": counts.get(link.conversation_id, selectors.Unread(0, 0)).unread,
                "mentioned": counts.get(link.conversation_id, selectors.Unread(0, 0)).mentioned,
                "muted": link.muted,
                "pinned": link.pinned,
                "title": _title(link, names),
            }
            for link in links
        ]
        return Response(s.MyConversationSerializer(body, many=True).data)

    @extend_schema(request=s.GroupCreateSerializer, responses={201: s.ConversationSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = s.GroupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = actions.do_create_group(self.membership, **data.validated_data)
        return Response(s.ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DirectCreateSerializer, responses=s.ConversationSerializer)
    @action(detail=False, methods=["post"])
    def direct(self, request: Request, org_id: int) -> Response:
        data = s.DirectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = actions.do_get_or_create_direct(
            self.membership, data.validated_data["member_id"]
        )
        return Response(s.ConversationSerializer(conversation).data)

    @extend_schema(request=None, responses=s.ConversationSerializer)
    @action(detail=False, methods=["post"], url_path="all-staff")
    def all_staff(self, request: Request, org_id: int) -> Response:
        """The organisation's all-staff group (created on first use)."""
        conversation = actions.do_ensure_all_staff(self.org.pk)
        return Response(s.ConversationSerializer(conversation).data)

    @extend_schema(request=s.ConversationUpdateSerializer, responses=s.ConversationSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.ConversationUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = actions.do_update_conversation(
            self.membership, self._conversation(pk), **data.validated_data
        )
        return Response(s.ConversationSerializer(conversation).data)

    @extend_schema(
        methods=["GET"], responses=s.ConversationMemberSerializer(many=True), request=None
    )
    @extend_schema(
        methods=["POST"],
        request=s.MemberIdsSerializer,
        responses={201: s.ConversationMemberSerializer(many=True)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=IdCursorPagination)
    def members(self, request: Request, org_id: int, pk: str) -> Response:
        conversation = self._conversation(pk)
        if request.method == "POST":
            data = s.MemberIdsSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            actions.do_add_conversation_members(
                self.membership, conversation, data.validated_data["member_ids"]
            )
            added = ConversationMember.objects.filter(
                conversation=conversation, membership_id__in=data.validated_data["member_ids"]
            ).select_related("membership__user")
            return Response(
                s.ConversationMemberSerializer(added, many=True).data,
                status=status.HTTP_201_CREATED,
            )
        links = ConversationMember.objects.filter(conversation=conversation).select_related(
            "membership__user"
        )
        page = self.paginate_queryset(links)
        return self.get_paginated_response(s.ConversationMemberSerializer(page, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<member_id>\d+)")
    def remove_member(self, request: Request, org_id: int, pk: str, member_id: str) -> Response:
        conversation = self._conversation(pk)
        member = access_member(self.membership, member_id)
        actions.do_remove_conversation_member(self.membership, conversation, member)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.GroupRoleSerializer, responses=s.ConversationMemberSerializer)
    @action(detail=True, methods=["post"], url_path=r"members/(?P<member_id>\d+)/role")
    def member_role(self, request: Request, org_id: int, pk: str, member_id: str) -> Response:
        """Appoint (``admin``) or dismiss (``member``) a group admin; owner only."""
        data = s.GroupRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = access_member(self.membership, member_id)
        link = actions.do_set_group_role(
            self.membership, self._conversation(pk), member, data.validated_data["role"]
        )
        return Response(s.ConversationMemberSerializer(link).data)

    @extend_schema(request=s.AvatarSerializer, responses=s.ConversationSerializer)
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def avatar(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.AvatarSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = actions.do_set_group_avatar(
            self.membership, self._conversation(pk), data.validated_data["avatar"]
        )
        return Response(s.ConversationSerializer(conversation, context={"request": request}).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def leave(self, request: Request, org_id: int, pk: str) -> Response:
        actions.do_leave_conversation(self.membership, self._conversation(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.MemberIdSerializer, responses=s.ConversationSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.MemberIdSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new_owner = access_member(self.membership, data.validated_data["member_id"])
        conversation = actions.do_transfer_ownership(
            self.membership, self._conversation(pk), new_owner
        )
        return Response(s.ConversationSerializer(conversation).data)

    @extend_schema(request=s.MySettingsSerializer, responses=s.MySettingsSerializer)
    @action(detail=True, methods=["patch"], url_path="my-settings")
    def my_settings(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.MySettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        link = actions.do_update_my_settings(
            self.membership, self._conversation(pk), **data.validated_data
        )
        return Response({"muted": link.muted, "pinned": link.pinned})

    @extend_schema(
        request=s.ReadSerializer,
        responses=inline_serializer(
            "ReadResult", {"last_read_message_id": serializers.IntegerField()}
        ),
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.ReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = actions.do_mark_read(
            self.membership, self._conversation(pk), data.validated_data.get("message_id")
        )
        return Response({"last_read_message_id": link.last_read_message_id})

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "ReadAllResult", {"conversations_marked": serializers.IntegerField()}
        ),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request, org_id: int) -> Response:
        """Clear all red dots: mark every conversation read."""
        return Response({"conversations_marked": actions.do_mark_all_read(self.membership)})

    @extend_schema(
        methods=["GET"],
        request=None,
        parameters=[
            OpenApiParameter("before", OpenApiTypes.INT, description="Messages before this id."),
            OpenApiParameter("after", OpenApiTypes.INT, description="Messages after this id."),
            OpenApiParameter("thread", OpenApiTypes.INT, description="Only this thread."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="At most 100; default 50."),
        ],
        responses=s.MessageSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        request=s.MessageCreateSerializer,
        responses={201: s.MessageSerializer, 200: s.MessageSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def messages(self, request: Request, org_id: int, pk: str) -> Response:
        link = access.access_conversation_link(self.membership, pk)
        conversation = link.conversation
        if request.method == "POST":
            data = s.MessageCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            message, created = actions.do_send_message(
                self.membership, conversation, link=link, **data.validated_data
            )
            shown = selectors.fresh_message_for_response(
                message,
                self.membership,
                created=created,
                claimed_attachments=bool(data.validated_data["attachment_ids"]),
            )
            body = s.MessageSerializer(shown, context={"request": request}).data
            return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
        query = _PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = selectors.messages_page(
            conversation,
            before=query.validated_data.get("before"),
            after=query.validated_data.get("after"),
            thread_root=query.validated_data.get("thread"),
            limit=query.validated_data.get("limit", 50),
        )
        return Response(s.MessageSerializer(messages, many=True, context={"request": request}).data)


class _PageQuery(serializers.Serializer[Any]):
    before = IdField(required=False)
    after = serializers.IntegerField(min_value=0, required=False)
    thread = IdField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False)


class MessageViewSet(mixins.RetrieveModelMixin, OrgScopedViewSet):
    """One message: edit, recall, history, receipts, reactions, pin."""

    queryset = Message.objects.all()
    serializer_class = s.MessageSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {
        "retrieve": "im:message.read",
        "history": "im:message.read",
        "partial_update": "im:message.write",
        "recall": "im:message.write",
    }

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return (
            queryset.filter(conversation__members__membership=self.membership)
            .select_related("sender__user", "bot", "conversation")
            .prefetch_related("reactions", "attachments")
        )

    def _message(self, pk: Any) -> Message:
        return access.access_message(self.membership, pk)

    def _present(self, message: Message) -> Response:
        fresh = self.get_queryset().get(pk=message.pk)
        return Response(s.MessageSerializer(fresh, context={"request": self.request}).data)

    @extend_schema(request=s.MessageEditSerializer, responses=s.MessageSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.MessageEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = actions.do_edit_message(self.membership, self._message(pk), **data.validated_data)
        return self._present(message)

    @extend_schema(request=None, responses=s.MessageSerializer)
    @action(detail=True, methods=["post"])
    def recall(self, request: Request, org_id: int, pk: str) -> Response:
        return self._present(actions.do_recall_message(self.membership, self._message(pk)))

    @extend_schema(responses=s.MessageHistorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, org_id: int, pk: str) -> Response:
        message = self._message(pk)
        if message.is_recalled:
            return Response([])
        return Response(s.MessageHistorySerializer(message.edits.all(), many=True).data)

    @extend_schema(responses=s.ReceiptsSerializer)
    @action(detail=True, methods=["get"])
    def receipts(self, request: Request, org_id: int, pk: str) -> Response:
        """How many have read this message and how many have not (sender and admins)."""
        message = self._message(pk)
        _check_receipt_access(self.membership, message)
        counts = selectors.receipts(message)
        return Response(
            {
                "message_id": message.pk,
                "read_count": counts.read_count,
                "unread_count": counts.unread_count,
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=["read", "unread"], required=True)],
        responses=s.ConversationMemberSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="receipts/members",
        pagination_class=IdCursorPagination,
    )
    def receipt_members(self, request: Request, org_id: int, pk: str) -> Response:
        """Who has read (``state=read``) or not read (``state=unread``) this message."""
        message = self._message(pk)
        _check_receipt_access(self.membership, message)
        state = request.query_params.get("state")
        if state not in {"read", "unread"}:
            raise ValidationFailed("state must be read or unread.", fields={"state": ["Invalid."]})
        members = selectors.receipt_members(message, read=state == "read")
        page = self.paginate_queryset(members)
        return self.get_paginated_response(s.ConversationMemberSerializer(page, many=True).data)

    @extend_schema(request=s.ReactionSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def reactions(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.ReactionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.do_react(self.membership, self._message(pk), data.validated_data["emoji"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"reactions/(?P<emoji>[^/]+)")
    def remove_reaction(self, request: Request, org_id: int, pk: str, emoji: str) -> Response:
        actions.do_react(self.membership, self._message(pk), emoji, add=False)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["POST", "DELETE"], request=None, responses=s.MessageSerializer)
    @action(detail=True, methods=["post", "delete"])
    def pin(self, request: Request, org_id: int, pk: str) -> Response:
        message = actions.do_set_pinned(
            self.membership, self._message(pk), pinned=request.method == "POST"
        )
        return self._present(message)


def _check_receipt_access(member: Any, message: Message) -> None:
    from core.errors import Forbidden
    from core.permissions import has_permission

    if message.sender_id != member.pk and not has_permission(member, "core.member.update"):
        raise Forbidden("Only the sender and admins can see who has read a message.")


class UnreadViewSet(OrgScopedViewSet):
    """Unread counts: the red dots."""

    queryset = Conversation.objects.all()
    serializer_class = s.UnreadSerializer
    pagination_class = None

    @extend_schema(responses=s.UnreadSerializer)
    def summary(self, request: Request, org_id: int) -> Response:
        counts = selectors.unread_counts(self.membership)
        return Response(
            {
                "total_unread": sum(c.unread for c in counts.values()),
                "total_mentioned": sum(c.mentioned for c in counts.values()),
                "conversations": [
                    {"conversation_id": cid, "unread": c.unread, "mentioned": c.mentioned}
                    for cid, c in sorted(counts.items())
                ],
            }
        )


class EventViewSet(OrgScopedViewSet):
    """Events after an id: what a client missed while its socket was down."""

    queryset = Conversation.objects.all()
    serializer_class = s.EventSerializer
    pagination_class = None  # pages by ``after``, at most 500 events

    @extend_schema(
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, required=True),
            OpenApiParameter(
                "replay",
                OpenApiTypes.INT,
                description=(
                    "Also return events of the last N seconds (at most 300) whose id is not "
                    "above `after`: a transaction may commit after a later one. Clients drop "
                    "ids they have already applied."
                ),
            ),
        ],
        responses=s.EventSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        query = s.EventsAfterQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = events_after(
            self.membership,
            query.validated_data["after"],
            replay_seconds=query.validated_data.get("replay", 0),
        )
        return Response([event_dict(e) for e in events])


class AttachmentViewSet(OrgScopedViewSet):
    queryset = Conversation.objects.all()
    serializer_class = s.AttachmentSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"create": "im:message.write", "download": "im:message.read"}
    parser_classes = [MultiPartParser]

    @extend_schema(request=s.AttachmentUploadSerializer, responses={201: s.AttachmentSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = s.AttachmentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attachment = actions.do_upload_attachment(self.membership, data.validated_data["file"])
        return Response(
            s.AttachmentSerializer(attachment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, org_id: int, pk: str) -> FileResponse:
        """The file, for its uploader or a member of the conversation it was sent to."""
        return attachment_response(access.access_attachment(self.membership, pk))
