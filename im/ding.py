"""DING: a message each chosen recipient must confirm, reminded until they do.

Writes (``check_*`` / ``do_*``) and reads for DING live here. The DING message itself is
an ordinary message of kind ``ding`` sent through ``im.actions.do_send_message``; a
``Ding`` row holds the reminder schedule and one ``DingReceipt`` per recipient holds the
confirmation (the only per-recipient read state we store, see ARCHITECTURE.md).

Lock order, everywhere: the ``Ding`` row first, then its receipts. Confirming and the
reminder run both follow it, so they never deadlock; the reminder run takes due DINGs with
``SKIP LOCKED`` so two workers never remind the same DING in the same tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Membership
from core.permissions import has_permission
from im.actions import do_mark_read, do_send_message, get_link
from im.events import record_event
from im.models import Conversation, ConversationMember, Ding, DingReceipt, Message

logger = logging.getLogger("tack.ding")

REMIND_EVERY_MINUTES_RANGE = (1, 1440)
MAX_REMINDERS_RANGE = (0, 20)
DEFAULT_REMIND_EVERY_MINUTES = 5
DEFAULT_MAX_REMINDERS = 3
#: How many due DINGs one reminder transaction claims at a time.
REMINDER_BATCH = 50
#: The pending list is for a badge and a panel, not an archive.
PENDING_LIMIT = 200


# --- Sending ----------------------------------------------------------------------------


def check_ding_schedule(remind_every_minutes: int, max_reminders: int) -> None:
    low, high = REMIND_EVERY_MINUTES_RANGE
    if not low <= remind_every_minutes <= high:
        raise ValidationFailed(
            _("Remind every %(low)s to %(high)s minutes.") % {"low": low, "high": high},
            fields={"remind_every_minutes": [_("Out of range.")]},
        )
    low, high = MAX_REMINDERS_RANGE
    if not low <= max_reminders <= high:
        raise ValidationFailed(
            _("Send %(low)s to %(high)s reminders.") % {"low": low, "high": high},
            fields={"max_reminders": [_("Out of range.")]},
        )


def check_ding_recipients(
    actor: Membership,
    conversation: Conversation,
    *,
    member_ids: list[int] | None,
    all_members: bool,
) -> list[int]:
    """The recipients' membership ids: conversation members other than the sender."""
    in_conversation = ConversationMember.objects.filter(conversation=conversation)
    if all_members:
        if member_ids:
            raise ValidationFailed(
                _('Choose recipients or "all", not both.'),
                fields={"member_ids": [_('Leave empty when "all" is set.')]},
            )
        ids = sorted(
            in_conversation.exclude(membership_id=actor.pk)
            .filter(membership__status=Membership.Status.ACTIVE)
            .values_list("membership_id", flat=True)
        )
    else:
        wanted = set(member_ids or ())
        if actor.pk in wanted:
            raise ValidationFailed(
                _("You cannot DING yourself."), fields={"member_ids": [_("That is you.")]}
            )
        found = set(
            in_conversation.filter(
                membership_id__in=wanted, membership__status=Membership.Status.ACTIVE
            ).values_list("membership_id", flat=True)
        )
        if found != wanted:
            raise ValidationFailed(
                _("Recipients must be members of this conversation."),
                fields={"member_ids": [_("Not in this conversation.")]},
            )
        ids = sorted(found)
    if not ids:
        raise ValidationFailed(
            _("A DING needs at least one recipient."),
            code="no_recipients",
            fields={"member_ids": [_("Choose at least one member.")]},
        )
    return ids


def _existing_ding(actor: Membership, client_msg_id: str) -> Ding | None:
    if not client_msg_id:
        return None
    message = Message.objects.filter(
        org_id=actor.org_id, sender=actor, client_msg_id=client_msg_id
    ).first()
    if message is None:
        return None
    return _ding_of_retry(message)


def _ding_of_retry(message: Message) -> Ding:
    ding = Ding.objects.filter(message=message).select_related("message").first()
    if ding is None:
        raise Conflict(
            _("This client_msg_id was already used for a message that is not a DING."),
            code="client_msg_id_reused",
            fields={"client_msg_id": [_("Already used.")]},
        )
    return ding


@transaction.atomic
def do_send_ding(
    actor: Membership,
    conversation: Conversation,
    *,
    body: str,
    member_ids: list[int] | None = None,
    all_members: bool = False,
    client_msg_id: str = "",
    remind_every_minutes: int = DEFAULT_REMIND_EVERY_MINUTES,
    max_reminders: int = DEFAULT_MAX_REMINDERS,
) -> tuple[Ding, bool]:
    """Send a DING; returns ``(ding, created)``. A retried ``client_msg_id`` returns the first."""
    existing = _existing_ding(actor, client_msg_id)
    if existing is not None and existing.message.conversation_id != conversation.pk:
        raise Conflict(
            _("This client message id was already used in another conversation."),
            code="client_msg_id_reused",
            fields={"client_msg_id": [_("Already used.")]},
        )
    if existing is not None:
        return existing, False
    get_link(actor, conversation)  # 404 unless the sender is in the conversation
    check_ding_schedule(remind_every_minutes, max_reminders)
    recipients = check_ding_recipients(
        actor, conversation, member_ids=member_ids, all_members=all_members
    )
    message, created = do_send_message(
        actor, conversation, body=body, client_msg_id=client_msg_id, kind=Message.Kind.DING
    )
    if not created:  # the same client_msg_id raced in and committed first
        return _ding_of_retry(message), False
    ding = Ding.objects.create(
        org_id=actor.org_id,
        message=message,
        remind_every_minutes=remind_every_minutes,
        max_reminders=max_reminders,
        next_reminder_at=(
            message.created_at + timedelta(minutes=remind_every_minutes)
            if max_reminders > 0
            else None
        ),
    )
    DingReceipt.objects.bulk_create(
        [DingReceipt(org_id=actor.org_id, ding=ding, membership_id=mid) for mid in recipients],
        batch_size=2000,
    )
    record_event(
        conversation,
        "ding.created",
        {"message_id": message.pk, "sender_id": actor.pk, "recipient_ids": recipients},
    )
    return ding, True


# --- Reading ----------------------------------------------------------------------------


def access_ding(actor: Membership, message_id: Any) -> Ding:
    """The DING of a message in one of ``actor``'s conversations; anything else is a 404."""
    from im.access import access_message

    message = access_message(actor, message_id)
    ding = Ding.objects.filter(message=message).first()
    if ding is None:
        raise NotFound(_("This message is not a DING."))
    ding.message = message
    return ding


def is_recipient(actor: Membership, ding: Ding) -> bool:
    return DingReceipt.objects.filter(ding=ding, membership=actor).exists()


def check_view_ding(actor: Membership, ding: Ding) -> None:
    """The sender, the recipients and member managers may see who has confirmed."""
    if ding.message.sender_id == actor.pk or is_recipient(actor, ding):
        return
    if has_permission(actor, "core.member.update"):
        return
    raise Forbidden(_("Only the sender and the recipients can see this DING's confirmations."))


@dataclass(frozen=True)
class DingCounts:
    total: int
    confirmed: int

    @property
    def unconfirmed(self) -> int:
        return self.total - self.confirmed


def ding_counts(ding: Ding) -> DingCounts:
    row = DingReceipt.objects.filter(ding=ding).aggregate(
        total=Count("id"), confirmed=Count("id", filter=Q(confirmed_at__isnull=False))
    )
    return DingCounts(total=row["total"], confirmed=row["confirmed"])


def ding_status(ding: Ding) -> dict[str, Any]:
    """Who has confirmed and who has not, with the reminder schedule."""
    receipts = list(
        DingReceipt.objects.filter(ding=ding)
        .select_related("membership__user")
        .order_by("confirmed_at", "id")
    )
    confirmed = [r for r in receipts if r.confirmed_at is not None]
    unconfirmed = [r for r in receipts if r.confirmed_at is None]
    return {
        "message_id": ding.message_id,
        "sender_id": ding.message.sender_id,
        "total": len(receipts),
        "confirmed_count": len(confirmed),
        "unconfirmed_count": len(unconfirmed),
        "confirmed": [
            {
                "member_id": r.membership_id,
                "display_name": r.membership.user.display_name,
                "confirmed_at": r.confirmed_at,
            }
            for r in confirmed
        ],
        "unconfirmed": [
            {
                "member_id": r.membership_id,
                "display_name": r.membership.user.display_name,
                "reminded_count": r.reminded_count,
            }
            for r in sorted(unconfirmed, key=lambda r: r.pk)
        ],
        "reminders_sent": ding.reminders_sent,
        "next_reminder_at": ding.next_reminder_at,
        "closed": ding.next_reminder_at is None,
    }


def pending_dings(actor: Membership) -> QuerySet[DingReceipt]:
    """DINGs waiting for ``actor``'s confirmation, newest first (recalled ones drop out)."""
    return (
        DingReceipt.objects.filter(
            org_id=actor.org_id,
            membership=actor,
            confirmed_at__isnull=True,
            ding__message__recalled_at__isnull=True,
        )
        .select_related("ding__message")
        .order_by("-ding__message_id")[:PENDING_LIMIT]
    )


# --- Confirming -------------------------------------------------------------------------


@transaction.atomic
def do_confirm_ding(actor: Membership, ding: Ding) -> DingReceipt:
    """Confirm a DING I received. Idempotent: a second call keeps the first ``confirmed_at``."""
    locked = Ding.objects.select_for_update().get(pk=ding.pk)  # lock order: Ding, receipts
    receipt = DingReceipt.objects.filter(ding=locked, membership=actor).first()
    if receipt is None:
        raise Forbidden(_("Only a recipient can confirm this DING."))
    message = ding.message
    do_mark_read(actor, message.conversation, up_to=message.pk)
    if receipt.confirmed_at is not None:
        return receipt
    receipt.confirmed_at = timezone.now()
    receipt.save(update_fields=["confirmed_at"])
    counts = ding_counts(locked)
    if counts.unconfirmed == 0 and locked.next_reminder_at is not None:
        locked.next_reminder_at = None
        locked.save(update_fields=["next_reminder_at"])
    ding.next_reminder_at = locked.next_reminder_at
    ding.reminders_sent = locked.reminders_sent
    record_event(
        message.conversation,
        "ding.confirmed",
        {
            "message_id": message.pk,
            "member_id": actor.pk,
            "confirmed_at": receipt.confirmed_at.isoformat(),
            "confirmed_count": counts.confirmed,
            "unconfirmed_count": counts.unconfirmed,
        },
    )
    return receipt


# --- Reminders --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderDue:
    """One e-mail to send after the reminder is committed."""

    receipt_id: int
    reminder: int


def _due(now: datetime) -> QuerySet[Ding]:
    return Ding.objects.filter(
        next_reminder_at__lte=now, reminders_sent__lt=F("max_reminders")
    ).order_by("next_reminder_at", "id")


def _remind(ding: Ding, now: datetime) -> list[ReminderDue]:
    """Remind every unconfirmed recipient of a locked, due DING once; schedule the next."""
    message = Message.objects.select_related("conversation").get(pk=ding.message_id)
    unconfirmed = DingReceipt.objects.filter(ding=ding, confirmed_at__isnull=True)
    targets = list(
        unconfirmed.filter(membership__status=Membership.Status.ACTIVE).values_list(
            "pk", "membership_id", "membership__user_id"
        )
    )
    if message.is_recalled or not unconfirmed.exists():
        ding.next_reminder_at = None
        ding.save(update_fields=["next_reminder_at"])
        return []
    reminder = ding.reminders_sent + 1
    DingReceipt.objects.filter(pk__in=[pk for pk, _m, _u in targets]).update(
        reminded_count=F("reminded_count") + 1
    )
    payload = {
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "body": message.body,
        "reminder": reminder,
    }
    for _pk, _member_id, user_id in targets:
        record_event(message.conversation, "ding.reminder", payload, target_user=user_id)
    ding.reminders_sent = reminder
    if reminder >= ding.max_reminders:
        ding.next_reminder_at = None
    else:
        interval = timedelta(minutes=ding.remind_every_minutes)
        assert ding.next_reminder_at is not None
        upcoming = ding.next_reminder_at + interval
        # After an outage, do not fire a burst of catch-up reminders on consecutive ticks.
        ding.next_reminder_at = upcoming if upcoming > now else now + interval
    ding.save(update_fields=["reminders_sent", "next_reminder_at"])
    return [ReminderDue(receipt_id=pk, reminder=reminder) for pk, _m, _u in targets]


def do_send_due_reminders(now: datetime | None = None) -> list[ReminderDue]:
    """Remind every due DING once; returns the e-mails to send (after commit).

    Each batch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and moved past ``now``
    in the same transaction, so a second worker (or a second run in the same instant)
    finds nothing to do.
    """
    now = now or timezone.now()
    due: list[ReminderDue] = []
    while True:
        with transaction.atomic():
            batch = list(_due(now).select_for_update(skip_locked=True)[:REMINDER_BATCH])
            for ding in batch:
                due.extend(_remind(ding, now))
        if len(batch) < REMINDER_BATCH:
            return due


def ding_link(message: Message) -> str:
    base = settings.TACK_PUBLIC_URL.rstrip("/")
    return f"{base}/o/{message.org_id}/chat/?c={message.conversation_id}&m={message.pk}"


def send_reminder_email(receipt_id: int, reminder: int) -> bool:
    """E-mail one reminder in the recipient's language; skipped once they have confirmed."""
    receipt = (
        DingReceipt.objects.select_related(
            "membership__user", "ding__message__sender__user", "ding__message__conversation"
        )
        .filter(pk=receipt_id, confirmed_at__isnull=True)
        .first()
    )
    if receipt is None:
        return False
    user = receipt.membership.user
    message = receipt.ding.message
    sender = message.sender.user.display_name if message.sender else ""
    context = {
        "sender_name": sender,
        "conversation_name": message.conversation.name,
        "body": message.body,
        "link": ding_link(message),
        "reminder": reminder,
        "max_reminders": receipt.ding.max_reminders,
        "recipient_name": user.display_name,
    }
    with translation.override(user.locale or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("im/email/ding_reminder_subject.txt", context).split())
        text = render_to_string("im/email/ding_reminder.txt", context)
    send_mail(subject, text, None, [user.email])
    return True
