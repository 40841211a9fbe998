"""DING: send to chosen members or all, confirm, see who confirmed, and reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from core.models import Membership
from im import actions
from im import ding as dings
from im.models import ConversationMember, Ding, DingReceipt, Event, Message
from im.tasks import send_ding_reminders


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


@pytest.fixture
def alice(org, add_member, make_user) -> Membership:
    return add_member(org, user=make_user("alice@example.test", name="Alice"))


@pytest.fixture
def bob(org, add_member, make_user) -> Membership:
    return add_member(org, user=make_user("bob@example.test", name="Bob"))


@pytest.fixture
def carol(org, add_member, make_user) -> Membership:
    """In the conversation, but not a recipient unless a test says so."""
    return add_member(org, user=make_user("carol@example.test", name="Carol"))


@pytest.fixture
def dave(org, add_member, make_user) -> Membership:
    """In the organisation, not in the conversation."""
    return add_member(org, user=make_user("dave@example.test", name="Dave"))


@pytest.fixture
def group(owner, alice, bob, carol):
    owner.user.display_name = "The Boss"
    owner.user.save(update_fields=["display_name"])
    return actions.do_create_group(owner, name="Line 3", member_ids=[alice.pk, bob.pk, carol.pk])


def send(api, who, group, **body):
    body.setdefault("body", "Stop line 3 now")
    return api(who).post(url(group.org, f"conversations/{group.pk}/ding/"), body, format="json")


def ding_of(response) -> Ding:
    return Ding.objects.select_related("message").get(message_id=response.json()["message"]["id"])


# --- Sending ----------------------------------------------------------------------------


def test_ding_to_chosen_members_answers_the_message_and_its_status(api, owner, alice, bob, group):
    response = send(api, owner, group, member_ids=[alice.pk, bob.pk])

    assert response.status_code == 201, response.content
    body = response.json()
    message_id = body["message"]["id"]
    shown = api(owner).get(url(group.org, f"messages/{message_id}/")).json()
    assert body["message"] == shown
    assert body["message"]["kind"] == "ding"
    assert body["ding"]["message_id"] == message_id
    assert body["ding"]["sender_id"] == owner.pk
    assert (body["ding"]["total"], body["ding"]["confirmed_count"]) == (2, 0)
    assert body["ding"]["unconfirmed_count"] == 2
    assert body["ding"]["confirmed"] == []
    assert body["ding"]["unconfirmed"] == [
        {"member_id": alice.pk, "display_name": "Alice", "reminded_count": 0},
        {"member_id": bob.pk, "display_name": "Bob", "reminded_count": 0},
    ]
    assert body["ding"]["reminders_sent"] == 0
    assert body["ding"]["closed"] is False
    ding = Ding.objects.get(message_id=message_id)
    assert (ding.remind_every_minutes, ding.max_reminders) == (5, 3)
    assert ding.next_reminder_at == ding.message.created_at + timedelta(minutes=5)

    created = Event.objects.get(type="ding.created")
    assert created.conversation_id == group.pk and created.target_user_id is None
    assert created.payload == {
        "message_id": message_id,
        "sender_id": owner.pk,
        "recipient_ids": [alice.pk, bob.pk],
    }
    assert Event.objects.filter(type="message.created", payload__message__id=message_id).exists()


def test_ding_to_all_reaches_every_member_but_the_sender(api, owner, alice, bob, carol, group):
    response = send(api, owner, group, all=True, remind_every_minutes=30, max_reminders=5)

    assert response.status_code == 201, response.content
    ids = {row["member_id"] for row in response.json()["ding"]["unconfirmed"]}
    assert ids == {alice.pk, bob.pk, carol.pk}
    ding = ding_of(response)
    assert (ding.remind_every_minutes, ding.max_reminders) == (30, 5)


def test_a_member_can_ding_too_and_the_sender_is_never_a_recipient(api, owner, alice, group):
    response = send(api, alice, group, all=True)

    assert response.status_code == 201
    ids = {row["member_id"] for row in response.json()["ding"]["unconfirmed"]}
    assert alice.pk not in ids and owner.pk in ids


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": None}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"member_ids": []}, "member_ids"),
        ({"member_ids": None}, "member_ids"),
        ({"member_ids": "dave"}, "member_ids"),
        ({"member_ids": "self"}, "member_ids"),
        ({"member_ids": "other-org"}, "member_ids"),
        ({"member_ids": [999_999]}, "member_ids"),
        ({"member_ids": ["x"]}, "member_ids"),
        ({"all": True, "member_ids": "alice"}, "member_ids"),
        ({"remind_every_minutes": 0}, "remind_every_minutes"),
        ({"remind_every_minutes": 1441}, "remind_every_minutes"),
        ({"max_reminders": -1}, "max_reminders"),
        ({"max_reminders": 21}, "max_reminders"),
    ],
)
def test_bad_dings_are_400_and_send_nothing(api, owner, alice, dave, outsider, group, body, field):
    placeholders = {
        "dave": [dave.pk],
        "self": [owner.pk],
        "other-org": [outsider.pk],
        "alice": [alice.pk],
    }
    body = {"body": "Stop line 3 now", "member_ids": [alice.pk], **body}
    if isinstance(body["member_ids"], str):
        body["member_ids"] = placeholders[body["member_ids"]]
    body = {key: value for key, value in body.items() if value is not None}

    response = api(owner).post(
        url(group.org, f"conversations/{group.pk}/ding/"), body, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Message.objects.filter(conversation=group).exclude(kind="system").exists()
    assert not Ding.objects.exists()


def test_ding_to_all_with_nobody_else_in_the_conversation_is_400(api, owner):
    alone = actions.do_create_group(owner, name="Just me", member_ids=[])

    response = send(api, owner, alone, all=True)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_recipients"
    assert not Ding.objects.exists()


def test_ding_in_a_conversation_i_am_not_in_is_404(api, dave, alice, group):
    response = send(api, dave, group, member_ids=[alice.pk])

    assert response.status_code == 404
    assert not Ding.objects.exists()


def test_retry_with_the_same_client_msg_id_returns_the_first_ding(api, owner, alice, bob, group):
    first = send(api, owner, group, member_ids=[alice.pk], client_msg_id="ding-1")
    again = send(api, owner, group, member_ids=[alice.pk, bob.pk], client_msg_id="ding-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert again.json()["ding"]["total"] == 1
    assert Ding.objects.count() == 1 == DingReceipt.objects.count()
    assert Event.objects.filter(type="ding.created").count() == 1


def test_client_msg_id_of_a_plain_message_is_a_conflict(api, owner, alice, group):
    actions.do_send_message(owner, group, body="hello", client_msg_id="m-1")

    response = send(api, owner, group, member_ids=[alice.pk], client_msg_id="m-1")

    assert response.status_code == 409
    assert not Ding.objects.exists()


# --- Status and confirming ----------------------------------------------------------------


@pytest.fixture
def ding(owner, alice, bob, group) -> Ding:
    sent, _created = dings.do_send_ding(
        owner, group, body="Stop line 3 now", member_ids=[alice.pk, bob.pk]
    )
    return sent


def status_url(ding: Ding, suffix: str = "") -> str:
    return url(ding.message.conversation.org, f"messages/{ding.message_id}/ding/{suffix}")


def test_sender_sees_who_confirmed_and_who_did_not(api, owner, alice, bob, ding):
    api(alice).post(status_url(ding, "confirm/"))

    response = api(owner).get(status_url(ding))

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["confirmed_count"], body["unconfirmed_count"]) == (2, 1, 1)
    assert [(c["member_id"], c["display_name"]) for c in body["confirmed"]] == [(alice.pk, "Alice")]
    assert body["confirmed"][0]["confirmed_at"]
    assert body["unconfirmed"] == [
        {"member_id": bob.pk, "display_name": "Bob", "reminded_count": 0}
    ]
    assert body["closed"] is False


def test_recipients_and_member_managers_see_the_status_bystanders_do_not(
    api, org, owner, admin, bob, carol, dave, ding
):
    actions.do_add_conversation_members(owner, ding.message.conversation, [admin.pk])

    assert api(bob).get(status_url(ding)).status_code == 200
    assert api(admin).get(status_url(ding)).status_code == 200
    assert api(carol).get(status_url(ding)).status_code == 403
    assert api(dave).get(status_url(ding)).status_code == 404


def test_another_organisation_cannot_see_send_or_confirm_a_ding(
    api, org, outsider, alice, group, ding
):
    client = api(outsider)

    assert client.get(status_url(ding)).status_code == 404
    assert client.post(status_url(ding, "confirm/")).status_code == 404
    assert send(api, outsider, group, member_ids=[alice.pk]).status_code == 404
    assert client.get(url(org, "dings/pending/")).status_code == 404
    assert Ding.objects.count() == 1
    assert not DingReceipt.objects.filter(confirmed_at__isnull=False).exists()


def test_a_plain_message_has_no_ding_status(api, owner, group):
    message, _created = actions.do_send_message(owner, group, body="just chat")

    response = api(owner).get(url(group.org, f"messages/{message.pk}/ding/"))

    assert response.status_code == 404
    assert api(owner).post(url(group.org, f"messages/{message.pk}/ding/confirm/")).status_code == (
        404
    )


def test_recipient_confirms_once_and_confirming_again_keeps_the_first_time(api, owner, alice, ding):
    first = api(alice).post(status_url(ding, "confirm/"))
    again = api(alice).post(status_url(ding, "confirm/"))

    assert first.status_code == again.status_code == 200
    when = first.json()["confirmed"][0]["confirmed_at"]
    assert again.json()["confirmed"][0]["confirmed_at"] == when
    assert first.json()["confirmed_count"] == 1
    events = list(Event.objects.filter(type="ding.confirmed"))
    assert len(events) == 1
    assert events[0].conversation_id == ding.message.conversation_id
    assert events[0].target_user_id is None
    assert events[0].payload == {
        "message_id": ding.message_id,
        "member_id": alice.pk,
        "confirmed_at": DingReceipt.objects.get(membership=alice).confirmed_at.isoformat(),
        "confirmed_count": 1,
        "unconfirmed_count": 1,
    }


def test_only_recipients_can_confirm(api, owner, carol, dave, ding):
    assert api(carol).post(status_url(ding, "confirm/")).status_code == 403
    assert api(owner).post(status_url(ding, "confirm/")).status_code == 403
    assert api(dave).post(status_url(ding, "confirm/")).status_code == 404
    assert not DingReceipt.objects.filter(confirmed_at__isnull=False).exists()
    assert not Event.objects.filter(type="ding.confirmed").exists()


def test_confirming_moves_my_read_cursor_to_the_ding(api, owner, alice, group, ding):
    link = ConversationMember.objects.get(conversation=group, membership=alice)
    assert link.last_read_message_id < ding.message_id

    api(alice).post(status_url(ding, "confirm/"))

    link.refresh_from_db()
    assert link.last_read_message_id == ding.message_id


def test_confirming_never_moves_my_cursor_back(api, owner, alice, group, ding):
    later, _created = actions.do_send_message(owner, group, body="later")
    group.refresh_from_db()
    actions.do_mark_read(alice, group)

    api(alice).post(status_url(ding, "confirm/"))

    assert (
        ConversationMember.objects.get(conversation=group, membership=alice).last_read_message_id
        == later.pk
    )


def test_when_everyone_confirms_the_ding_closes(api, alice, bob, ding):
    api(alice).post(status_url(ding, "confirm/"))
    response = api(bob).post(status_url(ding, "confirm/"))

    assert response.json()["closed"] is True
    assert response.json()["next_reminder_at"] is None
    assert response.json()["unconfirmed_count"] == 0
    ding.refresh_from_db()
    assert ding.next_reminder_at is None


def test_pending_lists_dings_waiting_for_me_newest_first(api, org, owner, alice, bob, group):
    older, _c = dings.do_send_ding(owner, group, body="first", member_ids=[alice.pk])
    newer, _c = dings.do_send_ding(owner, group, body="second", member_ids=[alice.pk, bob.pk])
    done, _c = dings.do_send_ding(owner, group, body="third", member_ids=[alice.pk])
    dings.do_confirm_ding(alice, dings.access_ding(alice, done.message_id))

    response = api(alice).get(url(org, "dings/pending/"))

    assert response.status_code == 200
    assert [row["message_id"] for row in response.json()] == [newer.message_id, older.message_id]
    row = response.json()[0]
    assert row == {
        "message_id": newer.message_id,
        "conversation_id": group.pk,
        "sender_id": owner.pk,
        "body": "second",
        "created_at": row["created_at"],
        "reminded_count": 0,
    }
    assert [r["message_id"] for r in api(bob).get(url(org, "dings/pending/")).json()] == [
        newer.message_id
    ]
    assert api(owner).get(url(org, "dings/pending/")).json() == []


def test_a_recalled_ding_leaves_the_pending_list_and_stops_reminding(api, org, owner, alice, ding):
    actions.do_recall_message(owner, ding.message)
    Ding.objects.filter(pk=ding.pk).update(next_reminder_at=timezone.now() - timedelta(seconds=1))

    assert api(alice).get(url(org, "dings/pending/")).json() == []
    assert send_ding_reminders() == 0
    assert mail.outbox == []
    ding.refresh_from_db()
    assert ding.next_reminder_at is None


# --- Reminders ----------------------------------------------------------------------------


def make_due(ding: Ding) -> None:
    Ding.objects.filter(pk=ding.pk).update(next_reminder_at=timezone.now() - timedelta(minutes=1))


@pytest.fixture
def three_way(owner, alice, bob, carol, group) -> Ding:
    """Alice has confirmed; Bob reads Chinese; Carol reads English."""
    bob.user.locale = "zh-hans"
    bob.user.save(update_fields=["locale"])
    sent, _created = dings.do_send_ding(
        owner,
        group,
        body="Batch 2311 failed the check",
        member_ids=[alice.pk, bob.pk, carol.pk],
        max_reminders=2,
    )
    dings.do_confirm_ding(alice, dings.access_ding(alice, sent.message_id))
    return sent


def test_due_reminder_emails_exactly_the_unconfirmed_in_their_language(
    settings, org, alice, bob, carol, three_way
):
    settings.TACK_PUBLIC_URL = "https://tack.example.test"
    make_due(three_way)

    assert send_ding_reminders() == 2

    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {"bob@example.test", "carol@example.test"}
    english, chinese = by_recipient["carol@example.test"], by_recipient["bob@example.test"]
    assert english.subject == "DING from The Boss: please confirm"
    assert chinese.subject == "来自 The Boss 的 DING\N{FULLWIDTH COLON}请确认"
    link = (
        f"https://tack.example.test/o/{org.pk}/chat/"
        f"?c={three_way.message.conversation_id}&m={three_way.message_id}"
    )
    for sent in (english, chinese):
        assert "The Boss" in sent.body
        assert "Batch 2311 failed the check" in sent.body
        assert link in sent.body
    assert "Reminder 1 of 2." in english.body
    assert "第 1 次提醒" in chinese.body

    reminded = dict(DingReceipt.objects.values_list("membership_id", "reminded_count"))
    assert reminded == {alice.pk: 0, bob.pk: 1, carol.pk: 1}
    three_way.refresh_from_db()
    assert three_way.reminders_sent == 1
    assert three_way.next_reminder_at > timezone.now()


def test_reminder_events_target_each_unconfirmed_recipient(bob, carol, three_way):
    make_due(three_way)
    send_ding_reminders()

    events = Event.objects.filter(type="ding.reminder")
    assert sorted(e.target_user_id for e in events) == sorted([bob.user_id, carol.user_id])
    assert events[0].payload == {
        "message_id": three_way.message_id,
        "conversation_id": three_way.message.conversation_id,
        "sender_id": three_way.message.sender_id,
        "body": "Batch 2311 failed the check",
        "reminder": 1,
    }


def test_running_twice_in_the_same_instant_reminds_once(three_way):
    make_due(three_way)

    send_ding_reminders()
    send_ding_reminders()

    assert len(mail.outbox) == 2
    assert Event.objects.filter(type="ding.reminder").count() == 2


def test_nothing_is_sent_before_the_reminder_is_due(three_way):
    assert send_ding_reminders() == 0
    assert mail.outbox == []


def test_reminders_stop_after_max_reminders(three_way):
    for _tick in range(2):
        make_due(three_way)
        send_ding_reminders()
    three_way.refresh_from_db()
    assert three_way.reminders_sent == 2
    assert three_way.next_reminder_at is None

    make_due(three_way)  # even if a time were set again, the limit holds
    send_ding_reminders()

    assert len(mail.outbox) == 4  # two recipients, two reminders
    three_way.refresh_from_db()
    assert three_way.reminders_sent == 2
    assert set(DingReceipt.objects.values_list("reminded_count", flat=True)) == {0, 2}


def test_confirmed_recipients_are_never_reminded(api, bob, carol, three_way):
    make_due(three_way)
    send_ding_reminders()
    mail.outbox.clear()
    api(bob).post(status_url(three_way, "confirm/"))

    make_due(three_way)
    send_ding_reminders()

    assert [m.to for m in mail.outbox] == [["carol@example.test"]]
    assert not Event.objects.filter(type="ding.reminder", target_user=bob.user, payload__reminder=2)


def test_a_fully_confirmed_ding_is_never_reminded(api, bob, carol, three_way):
    api(bob).post(status_url(three_way, "confirm/"))
    api(carol).post(status_url(three_way, "confirm/"))
    make_due(three_way)  # even if something set a time, nobody is left to remind

    assert send_ding_reminders() == 0
    assert mail.outbox == []
    three_way.refresh_from_db()
    assert three_way.next_reminder_at is None


def test_a_recipient_who_confirms_before_the_email_goes_out_gets_none(bob, three_way):
    make_due(three_way)
    due = dings.do_send_due_reminders()
    dings.do_confirm_ding(bob, dings.access_ding(bob, three_way.message_id))

    sent = [dings.send_reminder_email(item.receipt_id, item.reminder) for item in due]

    assert sorted(sent) == [False, True]
    assert [m.to for m in mail.outbox] == [["carol@example.test"]]


def test_zero_reminders_means_none_are_scheduled(owner, alice, group):
    sent, _created = dings.do_send_ding(
        owner, group, body="FYI, confirm", member_ids=[alice.pk], max_reminders=0
    )

    assert sent.next_reminder_at is None
    assert send_ding_reminders() == 0


def test_after_an_outage_reminders_do_not_burst(three_way):
    Ding.objects.filter(pk=three_way.pk).update(
        next_reminder_at=timezone.now() - timedelta(hours=2)
    )

    send_ding_reminders()
    send_ding_reminders()

    three_way.refresh_from_db()
    assert three_way.reminders_sent == 1
    assert three_way.next_reminder_at > timezone.now() + timedelta(minutes=4)


def test_beat_runs_the_reminders_every_minute(settings):
    assert settings.CELERY_BEAT_SCHEDULE["im-ding-reminders"] == {
        "task": "im.tasks.send_ding_reminders",
        "schedule": 60.0,
    }


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL (SQLite serialises)"
)
@pytest.mark.django_db(transaction=True)
def test_a_ding_locked_by_another_worker_is_skipped(org, owner, alice, group):
    import threading

    from django.db import close_old_connections, transaction

    sent, _created = dings.do_send_ding(owner, group, body="locked", member_ids=[alice.pk])
    make_due(sent)
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Ding.objects.select_for_update().get(pk=sent.pk)
                locked.set()
                release.wait(10)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert dings.do_send_due_reminders() == []
    finally:
        release.set()
        thread.join()
    assert len(dings.do_send_due_reminders()) == 1


# --- Real time ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_sender_socket_receives_ding_confirmed_live(realtime, owner, alice, group, api):
    import asyncio

    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from core.actions import do_create_api_token

    sent, _created = await database_sync_to_async(dings.do_send_ding)(
        owner, group, body="Confirm please", member_ids=[alice.pk]
    )
    secret = (await database_sync_to_async(do_create_api_token)(owner.user, name="ws")).secret
    ws = WebsocketCommunicator(
        application, f"/ws/?token={secret}", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"

    client = await database_sync_to_async(api)(alice)
    response = await database_sync_to_async(client.post)(
        f"/api/v1/orgs/{group.org_id}/messages/{sent.message_id}/ding/confirm/"
    )
    assert response.status_code == 200

    async def next_of(kind: str) -> dict:
        while True:
            frame = await ws.receive_json_from(timeout=5)
            if frame["type"] == kind:
                return frame

    frame = await asyncio.wait_for(next_of("ding.confirmed"), timeout=10)
    assert frame["message_id"] == sent.message_id
    assert frame["member_id"] == alice.pk
    assert (frame["confirmed_count"], frame["unconfirmed_count"]) == (1, 0)
    assert frame["conversation_id"] == group.pk
    await ws.disconnect()
