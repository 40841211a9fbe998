"""Chat demo data: the all-staff group, team groups and a few hundred messages."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from django.utils import timezone

from core.demo import DemoContext, demo_step
from core.models import Membership
from im.actions import (
    do_create_group,
    do_enable_department_group,
    do_ensure_all_staff,
    do_mark_read,
    do_send_message,
)
from im.models import Conversation, ConversationMember, Message

# (group name, department whose members join, lines)
_GROUPS = [
    (
        "Food Safety Team",
        "Quality & Food Safety",
        [
            "Morning! Checkpoint **CP-07** (pasteuriser outlet) logged 72.4 °C at 06:10.",
            "Lab results for batch 20231104 are in: all within spec.",
            "Reminder: the external audit starts Thursday. Please check your logs are complete.",
            "CP-11 cold room read 5.8 °C overnight — maintenance is checking the door seal.",
            "Updated the inspection checklist, see the pinned message.",
            "Batch 20231106 sample retained, label photo attached in the form.",
            "Thanks! Closing the CP-11 ticket, temperature back to 3.9 °C.",
            "Can someone cover the 14:00 reception inspection today?",
            "I can take it.",
            "Complaint from a retailer about batch 20231102 — pulling all inspection records now.",
            "Found them: all 13 checkpoints passed for that batch. Sending the summary to Sales.",
        ],
    ),
    (
        "Plant Operations",
        "Production",
        [
            "Line 2 back up after the filler changeover, 25 minutes.",
            "Milk reception: 3 tankers in, 82,400 L total, all accepted.",
            "Packaging film delivery delayed until tomorrow morning.",
            "We have stock for about 1.5 shifts, should be fine.",
            "Planned maintenance on the homogeniser Saturday 08:00-12:00.",
            "Shift handover notes are in the usual place.",
            "Energy use down 4% this week after the compressor fix 👏",
        ],
    ),
    (
        "Sales & Logistics",
        None,
        [
            "Hema wants +20% yoghurt volume for the November promotion.",
            "Cold chain: truck 4's logger showed a 10-minute excursion to 7 °C, within tolerance.",
            "New distributor in Hangzhou signed, first order next week.",
            "Please send me the updated price list by Friday.",
            "Done, it's in the shared folder.",
        ],
    ),
]

_ALL_STAFF_LINES = [
    "Welcome to Northfield Tack! This is the all-staff group for company-wide news.",
    "The canteen is closed on Friday for renovation; food trucks will be in the yard.",
    "Congratulations to the Quality team for passing the ISO 22000 surveillance audit!",
    "Fire drill next Tuesday at 10:30. Please follow your area warden.",
    "Annual health checks: book your slot with HR by the end of the month.",
    "年终总结会定于12月20日下午举行，请各部门提前准备材料。",
    "Reminder: submit expense claims before the 25th.",
    "New safety shoes have arrived, collect them at the stores.",
]

_REPLIES = [
    "Thanks!",
    "Noted 👍",
    "收到",
    "Will do.",
    "Great news!",
    "👍",
    "OK, thanks for the heads-up.",
]


@demo_step("im.chat", order=100)
def chat(ctx: DemoContext) -> None:
    org = ctx.org
    if Message.objects.filter(org=org).exists():
        ctx.log("Chat: already has messages, nothing to add.")
        return
    rng = random.Random(20231104)  # noqa: S311  (reproducible demo data, not security)
    active = list(
        Membership.objects.filter(org=org, status=Membership.Status.ACTIVE).select_related("user")
    )
    staff = [m for m in active if m.role != Membership.Role.GUEST]
    all_staff = do_ensure_all_staff(org.pk)
    conversations: list[tuple[Conversation, list[str], list[Membership]]] = [
        (all_staff, _ALL_STAFF_LINES, staff)
    ]
    for name, department_name, lines in _GROUPS:
        department = ctx.departments.get(department_name) if department_name else None
        if department is not None:
            conversation = do_enable_department_group(ctx.owner, department)
            people = [
                m for m in staff if conversation.members.filter(membership=m).exists()
            ] or staff[:6]
        else:
            people = rng.sample(staff, min(8, len(staff)))
            conversation = do_create_group(ctx.owner, name=name, member_ids=[m.pk for m in people])
            people = [*people, ctx.owner]
        conversations.append((conversation, lines, people))

    # Direct chats between the admin and a few colleagues.
    from im.actions import do_get_or_create_direct

    for other in staff[1:5]:
        direct = do_get_or_create_direct(ctx.owner, other.pk)
        conversations.append(
            (
                direct,
                ["Have you got a minute later today?", "Sure, after 3pm.", "Perfect, thanks."],
                [ctx.owner, other],
            )
        )

    sent: list[Message] = []
    for round_no in range(32):
        for conversation, lines, people in conversations:
            if round_no >= len(lines) and conversation.kind == Conversation.Kind.DIRECT:
                continue
            line = lines[round_no] if round_no < len(lines) else rng.choice(lines + _REPLIES)
            senders = [p for p in people if p.user.is_active] or [ctx.owner]
            for i, sender in enumerate(rng.sample(senders, min(len(senders), 1 + round_no % 4))):
                body = line if i == 0 else rng.choice(_REPLIES)
                message, _created = do_send_message(sender, conversation, body=body)
                sent.append(message)
    # Spread the history over the last three days, oldest first.
    now = timezone.now()
    step = timedelta(minutes=(3 * 24 * 60) // max(len(sent), 1))
    for index, message in enumerate(sent):
        Message.objects.filter(pk=message.pk).update(created_at=now - step * (len(sent) - index))
    # Everyone was in their groups before the history began.
    ConversationMember.objects.filter(conversation__in=[c for c, _l, _p in conversations]).update(
        joined_at=now - step * (len(sent) + 60)
    )
    for conversation, _lines, _people in conversations:
        latest = conversation.messages.order_by("-id").values_list("created_at", flat=True).first()
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=latest)
    # Most people have read most things; the admin has a few unread red dots.
    for conversation, _lines, people in conversations:
        last = conversation.messages.order_by("-id").values_list("id", flat=True).first()
        if last is None:
            continue
        for person in itertools.islice(people, 0, None, 2):
            if person.pk != ctx.owner.pk:
                do_mark_read(person, conversation, last)
    # The group the admin created (and so belongs to) gets the DINGs and the bot.
    own_group = next(c for c in conversations if c[0].kind == Conversation.Kind.GROUP)
    _ding_and_bot(ctx, own_group[0], own_group[2])
    ctx.extra["im.conversations"] = [c for c, _l, _p in conversations]
    ctx.log(f"Chat: {len(conversations)} conversations, {len(sent)} messages.")


def _ding_and_bot(ctx: DemoContext, team: Conversation, people: list[Membership]) -> None:
    """A DING still waiting for some confirmations, and a bot posting a card."""
    from im.bots import do_create_bot, do_post_bot_message
    from im.ding import do_confirm_ding, do_send_ding

    recipients = [p for p in people if p.pk != ctx.owner.pk][:5]
    if recipients:
        ding, _created = do_send_ding(
            ctx.owner,
            team,
            body="**Audit tomorrow 09:00**: every checkpoint log must be complete tonight.",
            member_ids=[p.pk for p in recipients],
            client_msg_id="demo-ding-audit",
        )
        for person in recipients[:2]:
            do_confirm_ding(person, ding)
    # The admin is DINGed too, so the demo login shows the banner.
    if len(people) > 1:
        sender = next(p for p in people if p.pk != ctx.owner.pk)
        do_send_ding(
            sender,
            team,
            body="Please approve the CP-11 cold room repair today.",
            member_ids=[ctx.owner.pk],
            client_msg_id="demo-ding-repair",
        )
    credentials = do_create_bot(ctx.owner, name="Lab Monitor", conversation_id=team.pk)
    do_post_bot_message(
        credentials.bot,
        team,
        text="Lab results ready",
        card={
            "title": "Batch 20231104: release check",
            "fields": [
                {"label": "Protein", "value": "3.2 g/100 ml ✓"},
                {"label": "Somatic cells", "value": "180k/ml ✓"},
                {"label": "Antibiotics", "value": "Negative ✓"},
            ],
            "footer": "Lab Monitor · automatic",
        },
    )
