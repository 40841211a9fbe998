"""Reads for chat: conversation lists with unread counts, message pages, receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet

from core.models import Membership
from im.models import Conversation, ConversationMember, Message, Reaction

#: Unread counts stop at this many per conversation ("99+"), so a huge backlog costs no more.
UNREAD_CAP = 100


def conversation_ids_for_user(user: Any) -> list[int]:
    """Every conversation id a user's sockets follow (all their organisations)."""
    return list(
        ConversationMember.objects.filter(
            membership__user=user, membership__status=Membership.Status.ACTIVE
        ).values_list("conversation_id", flat=True)
    )


def my_conversations(member: Membership) -> QuerySet[ConversationMember]:
    return (
        ConversationMember.objects.filter(membership=member)
        .select_related("conversation")
        .order_by("-pinned", "-conversation__last_message_id", "-conversation_id")
    )


@dataclass(frozen=True)
class Unread:
    unread: int
    mentioned: int


def unread_counts(member: Membership) -> dict[int, Unread]:
    """Per conversation with anything unread: messages after my cursor (capped) and mentions.

    One query. Conversations whose latest message is at or before my cursor are skipped
    through the denormalised ``last_message_id``; each remaining count is an index range
    scan on (conversation, id) stopped at ``UNREAD_CAP`` rows.
    """
    sql = f"""
        SELECT cm.conversation_id,
               (SELECT COUNT(*) FROM (
                    SELECT 1 FROM im_message m
                    WHERE m.conversation_id = cm.conversation_id
                      AND m.id > cm.last_read_message_id
                      AND m.recalled_at IS NULL
                      AND (m.sender_id IS NULL OR m.sender_id <> %s)
                    LIMIT {UNREAD_CAP}) AS u) AS unread,
               (SELECT COUNT(*) FROM im_mention mm
                    JOIN im_message mm_m ON mm_m.id = mm.message_id
                    WHERE mm.membership_id = %s
                      AND mm.conversation_id = cm.conversation_id
                      AND mm.message_id > cm.last_read_message_id
                      AND mm_m.recalled_at IS NULL)
             + (SELECT COUNT(*) FROM (
                    SELECT 1 FROM im_message m2
                    WHERE m2.conversation_id = cm.conversation_id
                      AND m2.id > cm.last_read_message_id
                      AND m2.mentions_all
                      AND m2.recalled_at IS NULL
                      AND (m2.sender_id IS NULL OR m2.sender_id <> %s)
                    LIMIT {UNREAD_CAP}) AS a) AS mentioned
        FROM im_conversationmember cm
        JOIN im_conversation c ON c.id = cm.conversation_id
        WHERE cm.membership_id = %s AND c.last_message_id > cm.last_read_message_id
    """  # noqa: S608  (only integers are interpolated, and only the constant cap)
    with connection.cursor() as cursor:
        cursor.execute(sql, [member.pk, member.pk, member.pk, member.pk])
        rows = cursor.fetchall()
    return {cid: Unread(int(u), int(m)) for cid, u, m in rows if u or m}


def messages_page(
    conversation: Conversation,
    *,
    before: int | None = None,
    after: int | None = None,
    thread_root: int | None = None,
    limit: int = 50,
) -> list[Message]:
    """Messages in id order: the newest ``limit`` (or those before/after an id)."""
    qs = Message.objects.filter(conversation=conversation).select_related("sender__user", "bot")
    qs = qs.prefetch_related("reactions", "attachments")
    if thread_root is not None:
        qs = qs.filter(Q(pk=thread_root) | Q(thread_root_id=thread_root))
    if after is not None:
        return list(qs.filter(pk__gt=after).order_by("id")[:limit])
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return list(reversed(qs.order_by("-id")[:limit]))


def message_with_details(message_id: int) -> Message:
    """One message with what its serializer reads, loaded up front."""
    return (
        Message.objects.select_related("sender__user", "bot")
        .prefetch_related("reactions", "attachments")
        .get(pk=message_id)
    )


def fresh_message_for_response(
    message: Message, sender: Membership, *, created: bool, claimed_attachments: bool = False
) -> Message:
    """The message just sent, ready to serialise without reading it back.

    A new message has no reactions yet and its sender is the caller, whose user is already
    loaded; only attachments (when any were claimed) need a query. A retried send returns
    the stored message as it is now.
    """
    if not created:
        return message_with_details(message.pk)
    message.sender = sender
    attachments = list(message.attachments.all()) if claimed_attachments else []
    message._prefetched_objects_cache = {  # type: ignore[attr-defined]
        "reactions": Reaction.objects.none(),
        "attachments": attachments,
    }
    return message


@dataclass(frozen=True)
class Receipts:
    read_count: int
    unread_count: int


def _recipients(message: Message) -> QuerySet[ConversationMember]:
    """Who the message was sent to: members at the time, less the sender.

    Someone who joined later never received it (their cursor starts past it), so they
    count neither as having read it nor as not having read it.
    """
    members = ConversationMember.objects.filter(
        conversation_id=message.conversation_id, joined_at__lte=message.created_at
    )
    if message.sender_id:
        members = members.exclude(membership_id=message.sender_id)
    return members


def receipts(message: Message) -> Receipts:
    """Read and unread counts for ``message`` (the sender is not counted)."""
    counts = _recipients(message).aggregate(
        read=Count("pk", filter=Q(last_read_message_id__gte=message.pk)),
        unread=Count("pk", filter=Q(last_read_message_id__lt=message.pk)),
    )
    return Receipts(read_count=counts["read"], unread_count=counts["unread"])


def receipt_members(message: Message, *, read: bool) -> QuerySet[ConversationMember]:
    """Who has (or has not) read ``message``, for a paginated list."""
    members = _recipients(message).select_related("membership__user")
    if read:
        return members.filter(last_read_message_id__gte=message.pk)
    return members.filter(last_read_message_id__lt=message.pk)
