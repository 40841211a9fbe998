"""Conversations, messages, read cursors, DING.

Read state is one cursor per (conversation, member): ``ConversationMember.last_read_message_id``.
Unread = messages after the cursor; receipts for message M = members whose cursor is at or
past M. No row per recipient per message; only DING confirmations are stored per recipient.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Department, Membership, Organization


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", _("Direct")
        GROUP = "group", _("Group")
        ALL_STAFF = "all_staff", _("All staff")
        DEPARTMENT = "department", _("Department")
        # One member and one system bot (e.g. "Approvals"); ``direct_key`` names the channel.
        NOTICE = "notice", _("Notifications")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="conversations")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=120, blank=True)
    topic = models.CharField(max_length=250, blank=True)
    avatar = models.ImageField(upload_to="conversation-avatars/", blank=True)
    owner = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="conversations"
    )
    # "<low membership id>:<high membership id>" for direct conversations, else blank.
    direct_key = models.CharField(max_length=50, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    last_message_id = models.BigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-last_message_id", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "direct_key"],
                condition=Q(kind="direct"),
                name="conversation_unique_direct_pair",
            ),
            models.UniqueConstraint(
                fields=["org"], condition=Q(kind="all_staff"), name="conversation_one_all_staff"
            ),
            models.UniqueConstraint(
                fields=["org", "department"],
                condition=Q(kind="department"),
                name="conversation_one_per_department",
            ),
            models.UniqueConstraint(
                fields=["org", "direct_key"],
                condition=Q(kind="notice"),
                name="conversation_unique_notice_key",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.pk}"

    @property
    def is_group(self) -> bool:
        return self.kind != self.Kind.DIRECT


class ConversationMember(models.Model):
    """A member's place in a conversation: their read cursor and preferences."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        MEMBER = "member", _("Member")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="conversation_links"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    last_read_message_id = models.BigIntegerField(default=0)
    muted = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "conversation", "membership"], name="conversation_member_unique"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # Receipts: who has read up to message M in this conversation.
            models.Index(fields=["conversation", "last_read_message_id"]),
            models.Index(fields=["membership", "conversation"]),
        ]

    def __str__(self) -> str:
        return f"member {self.membership_id} in conversation {self.conversation_id}"


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        DING = "ding", _("DING")
        CARD = "card", _("Card")
        SYSTEM = "system", _("System")

    id = models.BigAutoField(primary_key=True)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    bot = models.ForeignKey(
        "im.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    client_msg_id = models.CharField(max_length=64, blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    card = models.JSONField(null=True, blank=True)
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    reply_count = models.PositiveIntegerField(default=0)
    quote = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mentions_all = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    recalled_at = models.DateTimeField(null=True, blank=True)
    recalled_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "sender", "client_msg_id"],
                condition=~Q(client_msg_id=""),
                name="message_unique_client_msg_id",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["conversation", "id"]),
            models.Index(fields=["thread_root", "id"]),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.conversation_id}"

    @property
    def is_recalled(self) -> bool:
        return self.recalled_at is not None


class MessageEdit(models.Model):
    """The text a message had before each edit."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    html = models.TextField()
    edited_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return f"edit of {self.message_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class Mention(models.Model):
    """A member @-mentioned in a message; drives the "mentioned" badge."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "message", "membership"], name="mention_unique"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["membership", "conversation", "message"]),
        ]

    def __str__(self) -> str:
        return f"@{self.membership_id} in {self.message_id}"


class Reaction(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "message", "membership", "emoji"], name="reaction_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message_id}"


def private_storage() -> Storage:
    """Chat files never sit under the public media URL: they are served by an API view
    that checks who is asking (``im.api.views.AttachmentViewSet.download``)."""
    return FileSystemStorage(location=settings.TACK_PRIVATE_MEDIA_ROOT, base_url=None)


def attachment_path(instance: Attachment, filename: str) -> str:
    """A random name per file, kept apart per organisation; the real name lives in ``name``."""
    suffix = Path(filename).suffix.lower()[:10]
    return f"attachments/{instance.org_id}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, storage=private_storage, max_length=200)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    is_image = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return self.name


class Ding(models.Model):
    """A message that each chosen recipient must confirm; reminded until they do."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # One DING per message; a foreign key plus an org-scoped unique constraint (not a
    # one-to-one, whose unique index would lack org_id and block distribution by org).
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="dings")
    remind_every_minutes = models.PositiveIntegerField(default=5)
    max_reminders = models.PositiveIntegerField(default=3)
    reminders_sent = models.PositiveIntegerField(default=0)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "message"], name="ding_unique_message"),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["next_reminder_at"])]

    def __str__(self) -> str:
        return f"DING {self.message_id}"


class DingReceipt(models.Model):
    """One recipient's confirmation of one DING (the only per-recipient read state)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ding = models.ForeignKey(Ding, on_delete=models.CASCADE, related_name="receipts")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    reminded_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "ding", "membership"], name="ding_receipt_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"DING {self.ding_id} → {self.membership_id}"


class Event(models.Model):
    """A real-time event, kept so a reconnecting client can fetch what it missed.

    An event goes to every member of ``conversation``, or only to ``target_user`` when set
    (DING reminders, being added to a conversation, "all read" on another device).
    """

    id = models.BigAutoField(primary_key=True)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    type = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["conversation", "id"]),
            models.Index(fields=["target_user", "id"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class Bot(models.Model):
    """An incoming webhook and/or outgoing bot attached to a conversation."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(max_length=80)
    avatar_url = models.CharField(max_length=300, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="bots"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Incoming webhook: POST /hooks/<key>/ with a Slack-compatible payload.
    incoming_key_hash = models.CharField(max_length=64, blank=True)
    # Outgoing: POSTed (signed) when mentioned or when one of its card buttons is clicked.
    outgoing_url = models.URLField(blank=True)
    signing_secret = models.CharField(max_length=128, blank=True)
    # In-process card handler (a key of ``im.cards.CARD_HANDLERS``); blank: POST to
    # ``outgoing_url`` as usual.
    handler = models.CharField(max_length=80, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return self.name
