"""Approvals in chat: cards with Approve / Reject buttons, notices, the button handler.

Each member gets one "Approvals" notice conversation (``im.bots.ensure_notice_bot``)
with its own system bot. A pending task posts a card there; the card's buttons are
handled in-process (``im.cards.CARD_HANDLERS["lowcode.approvals"]``), and every state
change rewrites the cards of the approval so finished ones lose their buttons and show
what happened ("Approved by Bob"). Rejecting from chat uses a fixed comment; a comment
of one's own can be given in the approvals inbox.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Conflict, NotFound
from core.models import Membership
from im.cards import CARD_HANDLERS, FIELD_VALUE_MAX, TITLE_MAX, card_owner_id, check_card
from im.events import record_event
from im.models import Message
from lowcode.models import ApprovalInstance, ApprovalTask, Record
from lowcode.registries import field_type_registry

logger = logging.getLogger("tack.approvals")

HANDLER = "lowcode.approvals"
CHANNEL_KEY = "approvals"
SUMMARY_FIELDS = 4
_SUMMARY_SKIP = {"sub_table", "attachment", "image"}


def _name(member: Membership | None) -> str:
    return member.user.display_name if member is not None else _("someone")


def record_summary(record: Record) -> list[dict[str, str]]:
    """The first four fields of the record's form version as ``{"label", "value"}`` text."""
    summary = []
    for definition in record.version.fields:
        if definition["type"] in _SUMMARY_SKIP:
            continue
        try:
            ftype = field_type_registry.get(definition["type"])
            value = record.data.get(definition["key"])
            text = ftype.display(definition.get("options", {}), value) if value is not None else ""
        except Exception:  # a display problem must never break an approval
            logger.exception("display of %s on record %s", definition["key"], record.pk)
            text = ""
        summary.append(
            {
                "label": str(definition.get("label") or definition["key"])[:100],
                "value": text[:FIELD_VALUE_MAX],
            }
        )
        if len(summary) == SUMMARY_FIELDS:
            break
    return summary


def _title(instance: ApprovalInstance) -> str:
    record = instance.record
    title = _("%(form)s #%(number)s from %(name)s") % {
        "form": record.form.name,
        "number": record.number,
        "name": _name(instance.submitter),
    }
    return title[:TITLE_MAX]


def _status(task: ApprovalTask, instance: ApprovalInstance) -> str:
    State = ApprovalTask.State
    approver = _name(task.approver)
    if task.state == State.PENDING and instance.state == ApprovalInstance.State.PENDING:
        due = task.due_at.strftime("%Y-%m-%d %H:%M UTC") if task.due_at else ""
        return _("Waiting for your approval") + (
            " · " + _("due %(at)s") % {"at": due} if due else ""
        )
    if task.state == State.APPROVED:
        return _("Approved by %(name)s") % {"name": approver}
    if task.state == State.REJECTED:
        return _("Rejected by %(name)s: %(comment)s") % {"name": approver, "comment": task.comment}
    if task.state == State.TRANSFERRED:
        new = (
            ApprovalTask.objects.filter(
                instance=instance,
                node_index=task.node_index,
                position=task.position,
                pk__gt=task.pk,
            )
            .select_related("approver__user")
            .order_by("id")
            .first()
        )
        return _("Transferred to %(name)s") % {"name": _name(new.approver if new else None)}
    if instance.state == ApprovalInstance.State.WITHDRAWN:
        return _("Withdrawn by the submitter")
    if instance.state == ApprovalInstance.State.REJECTED:
        return _("Rejected")
    if instance.state == ApprovalInstance.State.APPROVED:
        return _("Approved")
    return _("Completed by another approver")


def card_for(task: ApprovalTask) -> dict[str, Any]:
    instance = ApprovalInstance.objects.select_related(
        "record__form", "record__version", "submitter__user"
    ).get(pk=task.instance_id)
    nodes = instance.definition.get("nodes", [])
    node_name = nodes[task.node_index]["name"] if task.node_index < len(nodes) else ""
    fields = [*record_summary(instance.record), {"label": _("Step"), "value": node_name}]
    status = _status(task, instance)
    fields.append({"label": _("Status"), "value": status[:FIELD_VALUE_MAX]})
    card: dict[str, Any] = {"title": _title(instance), "fields": fields}
    if (
        task.state == ApprovalTask.State.PENDING
        and instance.state == ApprovalInstance.State.PENDING
    ):
        card["buttons"] = [
            {
                "action_id": "approve",
                "label": _("Approve"),
                "style": "primary",
                "value": str(task.pk),
            },
            {"action_id": "reject", "label": _("Reject"), "style": "danger", "value": str(task.pk)},
        ]
        card["footer"] = _("Open the approvals inbox to reject with your own comment or transfer.")[
            :300
        ]
    return card


def _bot(member: Membership) -> Any:
    from im.bots import ensure_notice_bot

    return ensure_notice_bot(member, key=CHANNEL_KEY, name=_("Approvals"), handler=HANDLER)


def post_task_card(task: ApprovalTask) -> None:
    """Post the card of a newly pending task to its approver (never fails the approval)."""
    approver = Membership.objects.select_related("user").get(pk=task.approver_id)
    if not approver.is_active:
        return
    try:
        with transaction.atomic():
            from im.bots import do_post_bot_message

            bot = _bot(approver)
            message = do_post_bot_message(bot, bot.conversation, card=card_for(task))
            task.card_message_id = message.pk
            task.save(update_fields=["card_message_id"])
    except Exception:
        logger.exception("approval card for task %s", task.pk)


def refresh_cards(instance: ApprovalInstance) -> None:
    """Rewrite the cards of the instance's tasks whose state shows differently now."""
    tasks = ApprovalTask.objects.filter(
        instance=instance, card_message_id__isnull=False
    ).select_related("approver__user")
    for task in tasks:
        message = (
            Message.objects.select_related("conversation")
            .filter(org_id=instance.org_id, pk=task.card_message_id or 0)
            .first()
        )
        if message is None or message.recalled_at is not None or not message.card:
            continue
        owner_id = card_owner_id(message.card)
        if owner_id is None:
            continue
        card = check_card(card_for(task), owner_bot_id=owner_id)
        if card == message.card:
            continue
        message.card = card
        message.save(update_fields=["card"])
        record_event(
            message.conversation, "message.card_updated", {"message_id": message.pk, "card": card}
        )


def notify(
    member: Membership, instance: ApprovalInstance, text: str, *, task: ApprovalTask | None = None
) -> None:
    """A text in the member's Approvals conversation (never fails the approval)."""
    if not member.is_active:
        return
    try:
        with transaction.atomic():
            from im.bots import do_post_bot_message

            bot = _bot(member)
            do_post_bot_message(bot, bot.conversation, text=text[:2000])
    except Exception:
        logger.exception("approval notice to member %s", member.pk)


def _subject(instance: ApprovalInstance) -> str:
    record = Record.objects.select_related("form").get(pk=instance.record_id)
    return _("%(form)s #%(number)s") % {"form": record.form.name, "number": record.number}


def cc_text(instance: ApprovalInstance) -> str:
    return _("For your information: %(subject)s from %(name)s.") % {
        "subject": _subject(instance),
        "name": _name(instance.submitter),
    }


def outcome_text(instance: ApprovalInstance) -> str:
    words: dict[str, str] = {
        ApprovalInstance.State.APPROVED: _("Your %(subject)s was approved."),
        ApprovalInstance.State.REJECTED: _("Your %(subject)s was rejected."),
        ApprovalInstance.State.WITHDRAWN: _("Your %(subject)s was withdrawn."),
    }
    return words.get(instance.state, _("Your %(subject)s changed.")) % {
        "subject": _subject(instance)
    }


def urge_text(instance: ApprovalInstance) -> str:
    return _("%(name)s is waiting for your approval of %(subject)s.") % {
        "name": _name(instance.submitter),
        "subject": _subject(instance),
    }


def reminder_text(instance: ApprovalInstance) -> str:
    return _("Reminder: %(subject)s is overdue for your approval.") % {
        "subject": _subject(instance)
    }


def on_card_click(
    actor: Membership, message: Message, button: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """``CARD_HANDLERS[HANDLER]``: Approve or Reject clicked on an approval card."""
    from lowcode import approvals

    task = (
        ApprovalTask.objects.select_related("instance")
        .filter(
            org_id=message.org_id,
            card_message_id=message.pk,
            approver=actor,
            instance__record__deleted_at__isnull=True,
        )
        .first()
    )
    if task is None:
        raise NotFound(_("Approval not found."))
    if task.state != ApprovalTask.State.PENDING:
        raise Conflict(_("This task has already been handled."), code="invalid_transition")
    if button["action_id"] == "approve":
        approvals.do_approve(actor, task.instance)
        return _("Approved."), None
    if button["action_id"] == "reject":
        approvals.do_reject(actor, task.instance, _("Rejected from chat"))
        return _("Rejected."), None
    raise NotFound(_("Unknown action."))


CARD_HANDLERS[HANDLER] = on_card_click
