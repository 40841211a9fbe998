import io

import pytest
from django.core.management import call_command

from im.models import Conversation, ConversationMember, Message

pytestmark = pytest.mark.django_db


def test_demo_fills_chat_once(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo", stdout=io.StringIO())
    counts = (
        Message.objects.count(),
        Conversation.objects.count(),
        ConversationMember.objects.count(),
    )
    assert counts[0] >= 200
    all_staff = Conversation.objects.get(kind="all_staff")
    assert all_staff.member_count == all_staff.members.count() >= 25
    assert Conversation.objects.filter(kind="department").exists()
    assert Conversation.objects.filter(kind="direct").count() >= 3
    call_command("demo", stdout=io.StringIO())
    assert (
        Message.objects.count(),
        Conversation.objects.count(),
        ConversationMember.objects.count(),
    ) == counts


def test_demo_has_a_pending_ding_for_the_admin_and_a_bot_card(settings, tmp_path):
    from im.models import Bot, DingReceipt

    settings.VAR_DIR = tmp_path
    call_command("demo", stdout=io.StringIO())
    pending = DingReceipt.objects.filter(confirmed_at__isnull=True)
    assert pending.filter(membership__user__email="admin@northfield-dairy.example").exists()
    assert DingReceipt.objects.filter(confirmed_at__isnull=False).count() >= 2
    assert Bot.objects.filter(name="Lab Monitor", is_active=True).exists()
    assert Message.objects.filter(bot__name="Lab Monitor", card__title__startswith="Batch").exists()
