"""``access_<thing>(member, id)`` for chat: one lookup per kind, 404 for missing and not-yours."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from core.access import as_id
from core.errors import NotFound
from core.models import Membership
from im.models import Attachment, Conversation, ConversationMember, Message


def access_conversation_link(member: Membership, conversation_id: Any) -> ConversationMember:
    """My membership of a conversation, with the conversation: one query for both."""
    cid = as_id(conversation_id)
    link = (
        ConversationMember.objects.select_related("conversation")
        .filter(org_id=member.org_id, conversation_id=cid, membership=member)
        .first()
    )
    if link is None:
        raise NotFound("Conversation not found.")
    return link


def access_attachment(member: Membership, attachment_id: Any) -> Attachment:
    """An attachment its uploader, or a member of the conversation it was sent in, may read.

    Files of recalled messages are gone for everyone but the uploader.
    """
    aid = as_id(attachment_id)
    attachment = (
        Attachment.objects.filter(org_id=member.org_id, pk=aid)
        .filter(
            Q(uploaded_by=member)
            | Q(
                message__conversation__members__membership=member,
                message__recalled_at__isnull=True,
            )
        )
        .first()
    )
    if attachment is None:
        raise NotFound("Attachment not found.")
    return attachment


def access_message(member: Membership, message_id: Any) -> Message:
    mid = as_id(message_id)
    message = (
        Message.objects.select_related("conversation")
        .filter(org_id=member.org_id, pk=mid, conversation__members__membership=member)
        .first()
    )
    if message is None:
        raise NotFound("Message not found.")
    return message


def access_conversation(member: Membership, conversation_id: Any) -> Conversation:
    """A conversation ``member`` belongs to; anything else is a 404."""
    return access_conversation_link(member, conversation_id).conversation
