"""Chat API serializers: parse and present."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import IdField
from core.api.serializers import UserBriefSerializer
from im.actions import MAX_MESSAGE_CHARS
from im.models import Attachment, Conversation, ConversationMember, Message, MessageEdit


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    class Meta:
        model = Conversation
        fields = [
            "id",
            "kind",
            "name",
            "topic",
            "avatar",
            "owner",
            "department",
            "member_count",
            "last_message_id",
            "last_message_at",
            "created_at",
        ]
        read_only_fields = fields


class MyConversationSerializer(serializers.Serializer[Any]):
    """A conversation as I see it: with my cursor, badges and preferences."""

    conversation = ConversationSerializer()
    role = serializers.CharField()
    last_read_message_id = serializers.IntegerField()
    unread = serializers.IntegerField(help_text="Messages after my cursor, capped at 100.")
    mentioned = serializers.IntegerField(help_text="Unread messages that mention me or @all.")
    muted = serializers.BooleanField()
    pinned = serializers.BooleanField()
    title = serializers.CharField(help_text="Group name, or the other person in a direct chat.")


class GroupCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    topic = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")
    member_ids = serializers.ListField(child=IdField(), max_length=20000, default=list)


class DirectCreateSerializer(serializers.Serializer[Any]):
    member_id = IdField()


class GroupRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=["admin", "member"])


class AvatarSerializer(serializers.Serializer[Any]):
    avatar = serializers.ImageField()


class ConversationUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    topic = serializers.CharField(max_length=250, required=False, allow_blank=True)


class MySettingsSerializer(serializers.Serializer[Any]):
    muted = serializers.BooleanField(required=False)
    pinned = serializers.BooleanField(required=False)


class MemberIdsSerializer(serializers.Serializer[Any]):
    member_ids = serializers.ListField(child=IdField(), min_length=1, max_length=20000)


class MemberIdSerializer(serializers.Serializer[Any]):
    member_id = IdField()


class ConversationMemberSerializer(serializers.ModelSerializer[ConversationMember]):
    member_id = serializers.IntegerField(source="membership_id")
    user = UserBriefSerializer(source="membership.user")

    class Meta:
        model = ConversationMember
        fields = ["member_id", "user", "role", "last_read_message_id", "joined_at"]
        read_only_fields = fields


class ReadSerializer(serializers.Serializer[Any]):
    message_id = IdField(required=False, help_text="Read up to here; default: the latest message.")


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    url = serializers.SerializerMethodField(
        help_text="Download address; needs the caller's access."
    )

    def get_url(self, attachment: Attachment) -> str:
        return f"/api/v1/orgs/{attachment.org_id}/attachments/{attachment.pk}/download/"

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "is_image", "url", "created_at"]
        read_only_fields = fields


class AttachmentUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()


class ReactionSummarySerializer(serializers.Serializer[Any]):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    member_ids = serializers.ListField(child=serializers.IntegerField())


class MessageSerializer(serializers.ModelSerializer[Message]):
    sender = serializers.SerializerMethodField()
    bot_name = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    html = serializers.SerializerMethodField()
    card = serializers.SerializerMethodField()
    recalled = serializers.SerializerMethodField()
    reactions = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "sender",
            "bot",
            "bot_name",
            "kind",
            "client_msg_id",
            "body",
            "html",
            "card",
            "thread_root",
            "reply_count",
            "quote",
            "mentions_all",
            "created_at",
            "edited_at",
            "recalled",
            "pinned_at",
            "reactions",
            "attachments",
        ]
        read_only_fields = fields

    def get_sender(self, message: Message) -> dict[str, Any] | None:
        if message.sender is None:
            return None
        user = message.sender.user
        return {
            "member_id": message.sender_id,
            "user_id": user.pk,
            "display_name": user.display_name,
        }

    def get_bot_name(self, message: Message) -> str:
        return message.bot.name if message.bot_id and message.bot else ""

    def get_body(self, message: Message) -> str:
        return "" if message.is_recalled else message.body

    def get_html(self, message: Message) -> str:
        return "" if message.is_recalled else message.html

    def get_card(self, message: Message) -> dict[str, Any] | None:
        return None if message.is_recalled else message.card

    def get_recalled(self, message: Message) -> bool:
        return message.is_recalled

    def get_reactions(self, message: Message) -> list[dict[str, Any]]:
        summary: dict[str, list[int]] = {}
        for reaction in message.reactions.all():
            summary.setdefault(reaction.emoji, []).append(reaction.membership_id)
        return [{"emoji": e, "count": len(ids), "member_ids": ids} for e, ids in summary.items()]

    def get_attachments(self, message: Message) -> list[dict[str, Any]]:
        if message.is_recalled:
            return []
        request = self.context.get("request")
        return AttachmentSerializer(
            message.attachments.all(), many=True, context={"request": request}
        ).data  # type: ignore[return-value]


class MessageCreateSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(
        max_length=MAX_MESSAGE_CHARS, allow_blank=True, default="", trim_whitespace=False
    )
    client_msg_id = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        help_text="Idempotency key: a retried send with the same id returns the first message.",
    )
    mention_ids = serializers.ListField(child=IdField(), max_length=500, default=list)
    thread_root_id = IdField(required=False, allow_null=True)
    quote_id = IdField(required=False, allow_null=True)
    attachment_ids = serializers.ListField(child=IdField(), max_length=20, default=list)


class MessageEditSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=MAX_MESSAGE_CHARS, trim_whitespace=False)


class MessageHistorySerializer(serializers.ModelSerializer[MessageEdit]):
    class Meta:
        model = MessageEdit
        fields = ["id", "body", "html", "edited_by", "edited_at"]
        read_only_fields = fields


class ReactionSerializer(serializers.Serializer[Any]):
    emoji = serializers.CharField(max_length=32)


class ReceiptsSerializer(serializers.Serializer[Any]):
    message_id = serializers.IntegerField()
    read_count = serializers.IntegerField()
    unread_count = serializers.IntegerField()


class UnreadSerializer(serializers.Serializer[Any]):
    total_unread = serializers.IntegerField()
    total_mentioned = serializers.IntegerField()
    conversations = serializers.ListField(child=serializers.DictField())


class EventsAfterQuery(serializers.Serializer[Any]):
    after = serializers.IntegerField(min_value=0)
    replay = serializers.IntegerField(min_value=0, max_value=300, required=False)


class EventSerializer(serializers.Serializer[Any]):
    """A stored event; each type adds its own fields (see docs/REALTIME.md)."""

    id = serializers.IntegerField()
    org_id = serializers.IntegerField()
    type = serializers.CharField()
    conversation_id = serializers.IntegerField(allow_null=True)
    target_user_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
