"""Every write in chat: conversations, messages, reactions, read cursors.

``check_*`` validates and authorises; ``do_*`` writes, then records the real-time
event in the same transaction (published after commit, see ``im.events``).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Department, DepartmentMember, Membership
from core.permissions import check_permission, has_permission
from im.events import record_event
from im.models import (
    Attachment,
    Conversation,
    ConversationMember,
    Mention,
    Message,
    MessageEdit,
    Reaction,
)
from im.rendering import render_markdown

Kind = Conversation.Kind
MAX_MESSAGE_CHARS = 10_000
RECALL_WINDOW = timedelta(hours=24)
ALL_MENTION = re.compile(r"(?<!\w)@(all|所有人)(?!\w)")


# --- Serialisation shared by events and the API ------------------------------------------


def message_payload(message: Message) -> dict[str, Any]:
    """The public shape of a message, used in events (the API serializer matches it)."""
    recalled = message.recalled_at is not None
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "bot_id": message.bot_id,
        # Only when already loaded: a payload must never cost a query.
        "bot_name": message.bot.name if Message.bot.is_cached(message) and message.bot else "",
        "kind": message.kind,
        "body": "" if recalled else message.body,
        "html": "" if recalled else message.html,
        "card": None if recalled else message.card,
        "thread_root_id": message.thread_root_id,
        "quote_id": message.quote_id,
        "mentions_all": message.mentions_all,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "recalled": recalled,
        "client_msg_id": message.client_msg_id,
    }


# --- Conversations ----------------------------------------------------------------------


def _active_members(org_id: int, ids: Iterable[int]) -> list[Membership]:
    ids = set(ids)
    found = list(
        Membership.objects.filter(org_id=org_id, pk__in=ids, status=Membership.Status.ACTIVE)
    )
    if len(found) != len(ids):
        raise NotFound(_("Member not found."), fields={"member_ids": [_("Not found.")]})
    return found


def _add_members(
    conversation: Conversation, members: Iterable[Membership], *, role: str = "member"
) -> list[Membership]:
    """Add members not yet in the conversation; returns those added. Cursor starts at 'now'."""
    existing = set(
        ConversationMember.objects.filter(conversation=conversation).values_list(
            "membership_id", flat=True
        )
    )
    new = [m for m in members if m.pk not in existing]
    ConversationMember.objects.bulk_create(
        [
            ConversationMember(
                org_id=conversation.org_id,
                conversation=conversation,
                membership=m,
                role=role,
                last_read_message_id=conversation.last_message_id,
            )
            for m in new
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    if new:
        Conversation.objects.filter(pk=conversation.pk).update(
            member_count=F("member_count") + len(new)
        )
        conversation.refresh_from_db(fields=["member_count"])
        # One event for the whole batch (a 10,000-member group is one event, not 10,000);
        # each web process subscribes the listed users' sockets before delivering it.
        record_event(
            conversation,
            "conversation.joined",
            {
                "membership_ids": [m.pk for m in new],
                "user_ids": [m.user_id for m in new],
                "member_count": conversation.member_count,
            },
        )
    return new


def _remove_members(conversation: Conversation, members: Iterable[Membership]) -> int:
    members = list(members)
    deleted, _by_model = ConversationMember.objects.filter(
        conversation=conversation, membership__in=members
    ).delete()
    # Someone who left can neither confirm nor be reminded of this conversation's DINGs.
    from im.models import DingReceipt

    DingReceipt.objects.filter(
        ding__message__conversation=conversation,
        membership__in=members,
        confirmed_at__isnull=True,
    ).delete()
    if deleted:
        Conversation.objects.filter(pk=conversation.pk).update(
            member_count=F("member_count") - deleted
        )
        for m in members:
            record_event(
                conversation, "conversation.left", {"membership_id": m.pk}, target_user=m.user_id
            )
    return int(deleted)


def get_link(actor: Membership, conversation: Conversation) -> ConversationMember:
    link = ConversationMember.objects.filter(conversation=conversation, membership=actor).first()
    if link is None:
        raise NotFound(_("Conversation not found."))
    return link


def _check_manager(actor: Membership, conversation: Conversation) -> None:
    if conversation.kind in (Kind.ALL_STAFF, Kind.DEPARTMENT, Kind.DIRECT, Kind.NOTICE):
        raise Conflict(
            _("This conversation's members follow the organisation; it cannot be changed here."),
            code="managed_conversation",
        )
    link = get_link(actor, conversation)
    if link.role not in ("owner", "admin"):
        raise Forbidden(_("Only the group's owner and admins can do this."))


@transaction.atomic
def do_create_group(
    actor: Membership, *, name: str, member_ids: list[int], topic: str = ""
) -> Conversation:
    check_permission(actor, "im.group.create")
    name = name.strip()
    if not name:
        raise ValidationFailed(_("A group needs a name."), fields={"name": [_("Required.")]})
    members = _active_members(actor.org_id, set(member_ids) - {actor.pk})
    conversation = Conversation.objects.create(
        org_id=actor.org_id, kind=Kind.GROUP, name=name, topic=topic, owner=actor
    )
    _add_members(conversation, [actor], role="owner")
    _add_members(conversation, members)
    return conversation


@transaction.atomic
def do_get_or_create_direct(actor: Membership, other_id: int) -> Conversation:
    (other,) = _active_members(actor.org_id, [other_id])
    low, high = sorted([actor.pk, other.pk])
    key = f"{low}:{high}"
    existing = Conversation.objects.filter(org_id=actor.org_id, kind=Kind.DIRECT, direct_key=key)
    conversation = existing.first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                org_id=actor.org_id, kind=Kind.DIRECT, direct_key=key
            )
    except IntegrityError:  # created concurrently by the other side
        return existing.get()
    _add_members(conversation, [actor, other] if other.pk != actor.pk else [actor])
    return conversation


@transaction.atomic
def do_update_conversation(
    actor: Membership,
    conversation: Conversation,
    *,
    name: str | None = None,
    topic: str | None = None,
) -> Conversation:
    _check_manager(actor, conversation)
    changes: dict[str, str] = {}
    if name is not None:
        if not name.strip():
            raise ValidationFailed(_("A group needs a name."), fields={"name": [_("Required.")]})
        changes["name"] = name.strip()
    if topic is not None:
        changes["topic"] = topic
    for key, value in changes.items():
        setattr(conversation, key, value)
    if changes:
        conversation.save(update_fields=list(changes))
        record_event(conversation, "conversation.updated", changes)
    return conversation


@transaction.atomic
def do_add_conversation_members(
    actor: Membership, conversation: Conversation, member_ids: list[int]
) -> list[Membership]:
    _check_manager(actor, conversation)
    return _add_members(conversation, _active_members(actor.org_id, member_ids))


@transaction.atomic
def do_remove_conversation_member(
    actor: Membership, conversation: Conversation, member: Membership
) -> None:
    if member.pk == actor.pk:
        return do_leave_conversation(actor, conversation)
    _check_manager(actor, conversation)
    target = get_link(member, conversation)
    if target.role == "owner":
        raise Forbidden(_("The group's owner cannot be removed. Transfer ownership first."))
    _remove_members(conversation, [member])
    return None


@transaction.atomic
def do_leave_conversation(actor: Membership, conversation: Conversation) -> None:
    if conversation.kind != Kind.GROUP:
        raise Conflict(
            _("You cannot leave this conversation; it follows the organisation."),
            code="managed_conversation",
        )
    link = get_link(actor, conversation)
    if link.role == "owner" and conversation.member_count > 1:
        raise Conflict(
            _("Transfer ownership to another member before leaving."), code="owner_must_transfer"
        )
    _remove_members(conversation, [actor])


@transaction.atomic
def do_set_group_role(
    actor: Membership, conversation: Conversation, member: Membership, role: str
) -> ConversationMember:
    """The group's owner appoints or removes group admins."""
    link = get_link(actor, conversation)
    if conversation.kind != Kind.GROUP or link.role != "owner":
        raise Forbidden(_("Only the group's owner can appoint admins."))
    if role not in ("admin", "member"):
        raise ValidationFailed(_("Invalid."), fields={"role": [_("Choose admin or member.")]})
    target = get_link(member, conversation)
    if target.role == "owner":
        raise Conflict(
            _("The owner's role changes only by transferring ownership."), code="owner_role"
        )
    if target.role != role:
        target.role = role
        target.save(update_fields=["role"])
        record_event(conversation, "conversation.updated", {"member_roles": {member.pk: role}})
    return target


@transaction.atomic
def do_set_group_avatar(actor: Membership, conversation: Conversation, upload: Any) -> Conversation:
    from core.errors import PayloadTooLarge

    _check_manager(actor, conversation)
    if upload.size > settings.LOGO_MAX_BYTES:
        raise PayloadTooLarge(
            _("The image may be at most %(size)s KiB.") % {"size": settings.LOGO_MAX_BYTES // 1024},
            fields={"avatar": [_("Too large.")]},
        )
    conversation.avatar = upload
    conversation.save(update_fields=["avatar"])
    record_event(conversation, "conversation.updated", {"avatar": conversation.avatar.url})
    return conversation


@transaction.atomic
def do_transfer_ownership(
    actor: Membership, conversation: Conversation, new_owner: Membership
) -> Conversation:
    link = get_link(actor, conversation)
    if conversation.kind != Kind.GROUP or link.role != "owner":
        raise Forbidden(_("Only the group's owner can transfer ownership."))
    target = get_link(new_owner, conversation)
    ConversationMember.objects.filter(pk=link.pk).update(role="admin")
    ConversationMember.objects.filter(pk=target.pk).update(role="owner")
    conversation.owner = new_owner
    conversation.save(update_fields=["owner"])
    record_event(conversation, "conversation.updated", {"owner_id": new_owner.pk})
    return conversation


def do_update_my_settings(
    actor: Membership,
    conversation: Conversation,
    *,
    muted: bool | None = None,
    pinned: bool | None = None,
) -> ConversationMember:
    link = get_link(actor, conversation)
    fields = []
    if muted is not None:
        link.muted = muted
        fields.append("muted")
    if pinned is not None:
        link.pinned = pinned
        fields.append("pinned")
    if fields:
        link.save(update_fields=fields)
    return link


# --- Organisation-following conversations (all staff, departments) ----------------------


@transaction.atomic
def do_ensure_all_staff(org_id: int) -> Conversation:
    """The organisation's all-staff group, created on demand and kept in step with members."""
    conversation, created = Conversation.objects.get_or_create(
        org_id=org_id, kind=Kind.ALL_STAFF, defaults={"name": _("All staff")}
    )
    if created:
        members = Membership.objects.filter(org_id=org_id, status=Membership.Status.ACTIVE)
        _add_members(conversation, members)
    return conversation


@transaction.atomic
def do_enable_department_group(actor: Membership, department: Department) -> Conversation:
    check_permission(actor, "core.department.manage")
    conversation, created = Conversation.objects.get_or_create(
        org_id=actor.org_id,
        kind=Kind.DEPARTMENT,
        department=department,
        defaults={"name": department.name},
    )
    if created:
        _add_members(conversation, _department_members(department))
    return conversation


def _department_members(department: Department) -> list[Membership]:
    return list(
        Membership.objects.filter(
            department_links__department=department, status=Membership.Status.ACTIVE
        )
    )


def sync_membership(membership: Membership) -> None:
    """Core calls this after a membership is created, activated, suspended or removed."""
    with transaction.atomic():
        all_staff = Conversation.objects.filter(
            org_id=membership.org_id, kind=Kind.ALL_STAFF
        ).first()
        exists = Membership.objects.filter(pk=membership.pk).exists()
        active = exists and membership.status == Membership.Status.ACTIVE
        if all_staff is not None:
            if active:
                _add_members(all_staff, [membership])
            elif exists:
                _remove_members(all_staff, [membership])
        department_groups = Conversation.objects.filter(
            org_id=membership.org_id, kind=Kind.DEPARTMENT
        )
        if exists:
            # Open sockets follow (or stop following) every remaining conversation at once.
            kept = list(
                ConversationMember.objects.filter(membership=membership).values_list(
                    "conversation_id", flat=True
                )
            )
            record_event(
                None,
                "membership.activated" if active else "membership.suspended",
                {"conversation_ids": kept},
                target_user=membership.user_id,
                org_id=membership.org_id,
            )
        if active:
            # Reactivated: back into the groups of the departments they are still in.
            for conversation in department_groups.filter(
                department__members__membership=membership
            ):
                _add_members(conversation, [membership])
        elif exists:
            for conversation in department_groups:
                _remove_members(conversation, [membership])


def remove_from_all_conversations(membership: Membership) -> None:
    """Core calls this inside the transaction before a membership is deleted."""
    for conversation in Conversation.objects.filter(members__membership=membership):
        _remove_members(conversation, [membership])


def sync_department_member(department: Department, membership: Membership) -> None:
    """Core calls this after a member joins or leaves a department."""
    conversation = Conversation.objects.filter(
        org_id=department.org_id, kind=Kind.DEPARTMENT, department=department
    ).first()
    if conversation is None:
        return
    in_department = DepartmentMember.objects.filter(
        department=department, membership=membership
    ).exists()
    with transaction.atomic():
        if in_department and membership.status == Membership.Status.ACTIVE:
            _add_members(conversation, [membership])
        else:
            _remove_members(conversation, [membership])


# --- Messages ---------------------------------------------------------------------------


def check_message_body(body: str, *, has_other_content: bool = False) -> str:
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            _("A message may be at most %(n)s characters.") % {"n": f"{MAX_MESSAGE_CHARS:,}"},
            code="too_long",
            fields={"body": [_("Too long.")]},
        )
    if not body.strip() and not has_other_content:
        raise ValidationFailed(
            _("A message cannot be empty."), code="empty", fields={"body": [_("Required.")]}
        )
    return body


def _valid_mentions(conversation: Conversation, ids: Iterable[int]) -> list[int]:
    ids = set(ids)
    if not ids:
        return []
    found = set(
        ConversationMember.objects.filter(
            conversation=conversation, membership_id__in=ids
        ).values_list("membership_id", flat=True)
    )
    if found != ids:
        raise ValidationFailed(
            _("You can only mention members of this conversation."),
            fields={"mention_ids": [_("Not in this conversation.")]},
        )
    return sorted(found)


def _first_with_client_msg_id(
    actor: Membership, conversation: Conversation, client_msg_id: str
) -> Message | None:
    first = Message.objects.filter(
        org_id=actor.org_id, sender=actor, client_msg_id=client_msg_id
    ).first()
    if first is not None and first.conversation_id != conversation.pk:
        raise Conflict(
            _("This client message id was already used in another conversation."),
            code="client_msg_id_reused",
            fields={"client_msg_id": [_("Already used.")]},
        )
    return first


def do_send_message(
    actor: Membership,
    conversation: Conversation,
    *,
    client_msg_id: str = "",
    link: ConversationMember | None = None,
    **content: Any,
) -> tuple[Message, bool]:
    """Send; returns ``(message, created)``. A retried ``client_msg_id`` returns the first.

    ``link`` is the sender's ConversationMember when the caller already has it. Content
    keywords: body, mention_ids, thread_root_id, quote_id, attachment_ids, card, kind.
    """
    if client_msg_id:
        first = _first_with_client_msg_id(actor, conversation, client_msg_id)
        if first is not None:
            return first, False
    try:
        message = _insert_message(actor, conversation, client_msg_id, link, **content)
    except IntegrityError:
        # The same client_msg_id raced in from a concurrent retry; the whole insert rolled
        # back (no savepoint needed on the normal path), so answer with the winner.
        first = (
            _first_with_client_msg_id(actor, conversation, client_msg_id) if client_msg_id else None
        )
        if first is None:
            raise
        return first, False
    return message, True


@transaction.atomic
def _insert_message(
    actor: Membership,
    conversation: Conversation,
    client_msg_id: str,
    link: ConversationMember | None,
    *,
    body: str = "",
    mention_ids: Iterable[int] = (),
    thread_root_id: int | None = None,
    quote_id: int | None = None,
    attachment_ids: Iterable[int] = (),
    card: dict[str, Any] | None = None,
    kind: str = Message.Kind.TEXT,
) -> Message:
    if link is None or link.membership_id != actor.pk or link.conversation_id != conversation.pk:
        link = get_link(actor, conversation)
    attachment_ids = list(attachment_ids)
    check_message_body(body, has_other_content=bool(attachment_ids or card))
    root = _thread_root(conversation, thread_root_id)
    quote = _same_conversation_message(conversation, quote_id, "quote_id")
    mentions = _valid_mentions(conversation, mention_ids)
    mentions_all = bool(ALL_MENTION.search(body)) and conversation.is_group
    message = Message(
        org_id=actor.org_id,
        conversation=conversation,
        sender=actor,
        kind=kind,
        client_msg_id=client_msg_id,
        body=body,
        html=render_markdown(body) if body else "",
        card=card,
        thread_root=root,
        quote=quote,
        mentions_all=mentions_all,
    )
    message.save()
    if attachment_ids:
        claimed = Attachment.objects.filter(
            org_id=actor.org_id, pk__in=attachment_ids, uploaded_by=actor, message__isnull=True
        ).update(message=message)
        if claimed != len(set(attachment_ids)):
            raise ValidationFailed(
                _("Attachment not found."), fields={"attachment_ids": [_("Not found.")]}
            )
    if mentions:
        Mention.objects.bulk_create(
            [
                Mention(
                    org_id=actor.org_id,
                    message=message,
                    conversation=conversation,
                    membership_id=mid,
                )
                for mid in mentions
            ]
        )
    # Concurrent senders may commit out of id order: only ever move these forwards.
    Conversation.objects.filter(pk=conversation.pk, last_message_id__lt=message.pk).update(
        last_message_id=message.pk, last_message_at=message.created_at
    )
    if root is not None:
        Message.objects.filter(pk=root.pk).update(reply_count=F("reply_count") + 1)
    # Senders have read their own message.
    ConversationMember.objects.filter(pk=link.pk, last_read_message_id__lt=message.pk).update(
        last_read_message_id=message.pk
    )
    payload = message_payload(message)
    payload["mention_ids"] = mentions
    record_event(conversation, "message.created", {"message": payload})
    transaction.on_commit(lambda: _after_send(message))
    return message


def _after_send(message: Message) -> None:
    """Hooks other parts of IM attach to (bots mentioned in the message, …), after commit."""
    for hook in AFTER_SEND_HOOKS:
        hook(message)


AFTER_SEND_HOOKS: list[Any] = []


def _same_conversation_message(
    conversation: Conversation, message_id: int | None, field: str
) -> Message | None:
    if message_id is None:
        return None
    found = Message.objects.filter(conversation=conversation, pk=message_id).first()
    if found is None:
        raise ValidationFailed(
            _("That message is not in this conversation."), fields={field: [_("Not found.")]}
        )
    return found


def _thread_root(conversation: Conversation, root_id: int | None) -> Message | None:
    root = _same_conversation_message(conversation, root_id, "thread_root_id")
    if root is not None and root.thread_root_id is not None:
        root = root.thread_root  # replies to a reply join the same thread
    return root


@transaction.atomic
def do_edit_message(actor: Membership, message: Message, *, body: str) -> Message:
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.sender_id != actor.pk:
        raise Forbidden(_("You can only edit your own messages."))
    if message.is_recalled:
        raise Conflict(_("A recalled message cannot be edited."), code="recalled")
    check_message_body(body, has_other_content=bool(message.card))
    if body == message.body:
        return message
    MessageEdit.objects.create(
        org_id=message.org_id,
        message=message,
        body=message.body,
        html=message.html,
        edited_by=actor,
    )
    message.body = body
    message.html = render_markdown(body)
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "html", "edited_at"])
    record_event(message.conversation, "message.edited", {"message": message_payload(message)})
    return message


@transaction.atomic
def do_recall_message(actor: Membership, message: Message) -> Message:
    message = Message.objects.select_for_update().select_related("conversation").get(pk=message.pk)
    if message.is_recalled:
        return message
    may_recall_any = has_permission(actor, "im.message.recall_any")
    if not may_recall_any:
        if message.sender_id != actor.pk:
            raise Forbidden(_("You can only recall your own messages."))
        if timezone.now() - message.created_at > RECALL_WINDOW:
            raise Forbidden(
                _("Messages can only be recalled within 24 hours."), code="recall_window_passed"
            )
    message.recalled_at = timezone.now()
    message.recalled_by = actor
    message.save(update_fields=["recalled_at", "recalled_by"])
    _scrub_stored_events(message)
    record_event(
        message.conversation,
        "message.recalled",
        {"message_id": message.pk, "recalled_by": actor.pk},
    )
    return message


def _scrub_stored_events(message: Message) -> None:
    """A recalled message's text must not survive in the catch-up log either."""
    from im.models import Event

    tombstone = message_payload(message)  # recalled: body, html and card are empty
    stored = Event.objects.filter(
        conversation_id=message.conversation_id,
        type__in=["message.created", "message.edited"],
        payload__message__id=message.pk,
    )
    for event in stored:
        event.payload = {**event.payload, "message": {**event.payload["message"], **tombstone}}
        event.save(update_fields=["payload"])


@transaction.atomic
def do_set_pinned(actor: Membership, message: Message, *, pinned: bool) -> Message:
    get_link(actor, message.conversation)
    if message.is_recalled and pinned:
        raise Conflict(_("A recalled message cannot be pinned."), code="recalled")
    message.pinned_at = timezone.now() if pinned else None
    message.pinned_by = actor if pinned else None
    message.save(update_fields=["pinned_at", "pinned_by"])
    record_event(
        message.conversation,
        "message.pinned",
        {"message_id": message.pk, "pinned": pinned, "by": actor.pk},
    )
    return message


def check_emoji(emoji: str) -> str:
    emoji = emoji.strip()
    if not emoji or len(emoji) > 32 or any(c.isspace() for c in emoji):
        raise ValidationFailed(_("Not a valid reaction."), fields={"emoji": [_("Invalid.")]})
    return emoji


@transaction.atomic
def do_react(actor: Membership, message: Message, emoji: str, *, add: bool = True) -> None:
    get_link(actor, message.conversation)
    emoji = check_emoji(emoji)
    if message.is_recalled:
        raise Conflict(_("A recalled message cannot take reactions."), code="recalled")
    if add:
        _obj, created = Reaction.objects.get_or_create(
            org_id=message.org_id, message=message, membership=actor, emoji=emoji
        )
        changed = created
    else:
        changed = bool(
            Reaction.objects.filter(message=message, membership=actor, emoji=emoji).delete()[0]
        )
    if changed:
        record_event(
            message.conversation,
            "reaction.added" if add else "reaction.removed",
            {"message_id": message.pk, "membership_id": actor.pk, "emoji": emoji},
        )


# --- Read state -------------------------------------------------------------------------


@transaction.atomic
def do_mark_read(
    actor: Membership, conversation: Conversation, up_to: int | None = None
) -> ConversationMember:
    """Move my cursor forward (never back) to ``up_to`` or the latest message."""
    link = get_link(actor, conversation)
    target = (
        conversation.last_message_id if up_to is None else min(up_to, conversation.last_message_id)
    )
    moved = ConversationMember.objects.filter(pk=link.pk, last_read_message_id__lt=target).update(
        last_read_message_id=target
    )
    if moved:
        link.last_read_message_id = target
        _record_read(actor, conversation.pk, conversation.member_count, target)
    return link


def _record_read(actor: Membership, conversation_id: int, member_count: int, last: int) -> None:
    """Tell the room a cursor moved, so senders' receipts update live.

    In very large groups every member's read reaching every member would grow with the
    square of the group, so there only the reader's own devices hear it and receipts are
    fetched when looked at.
    """
    payload = {"membership_id": actor.pk, "user_id": actor.user_id, "last_read_message_id": last}
    conversation = Conversation(pk=conversation_id, org_id=actor.org_id)
    if member_count > settings.IM_LIVE_RECEIPTS_MAX_MEMBERS:
        record_event(conversation, "read", payload, target_user=actor.user_id)
    else:
        record_event(conversation, "read", payload)


@transaction.atomic
def do_mark_all_read(actor: Membership) -> int:
    """Clear all red dots: every cursor of mine jumps to its conversation's latest message."""
    links = list(
        ConversationMember.objects.filter(
            membership=actor, last_read_message_id__lt=F("conversation__last_message_id")
        ).values_list(
            "pk", "conversation_id", "conversation__last_message_id", "conversation__member_count"
        )
    )
    for pk, conversation_id, last, member_count in links:
        ConversationMember.objects.filter(pk=pk).update(last_read_message_id=last)
        _record_read(actor, conversation_id, member_count, last)
    return len(links)


# --- Attachments ------------------------------------------------------------------------


def do_upload_attachment(actor: Membership, upload: Any) -> Attachment:
    from core.errors import PayloadTooLarge

    limit = settings.IM_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise PayloadTooLarge(
            _("Files may be at most %(mb)s MB.") % {"mb": limit // (1024 * 1024)},
            fields={"file": [_("Too large.")]},
        )
    declared = (upload.content_type or "application/octet-stream").split(";")[0].lower()
    # The name decides how a browser (or a static file server) treats the file later, so
    # the type guessed from it counts as much as the type the client declared.
    guessed = (mimetypes.guess_type(str(upload.name))[0] or "").lower()
    content_type = guessed or declared
    if {declared, guessed} & settings.IM_ATTACHMENT_BLOCKED_TYPES:
        raise ValidationFailed(
            _("This type of file cannot be shared."), fields={"file": [_("Not allowed.")]}
        )
    is_image = content_type in {"image/png", "image/jpeg", "image/gif", "image/webp"}
    if is_image:
        from PIL import Image, UnidentifiedImageError

        try:
            Image.open(upload).verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            # PIL reports a damaged PNG chunk as SyntaxError, a bad header as ValueError.
            raise ValidationFailed(
                _("The file is not a valid image."), fields={"file": [_("Invalid image.")]}
            ) from exc
        upload.seek(0)
    return Attachment.objects.create(
        org_id=actor.org_id,
        uploaded_by=actor,
        file=upload,
        name=str(upload.name)[:200],
        content_type=content_type,
        size=upload.size,
        is_image=is_image,
    )
