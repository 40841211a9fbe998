"""Read cursors: unread counts and mentions, marking read, receipts, events catch-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from im import actions, selectors
from im.models import Conversation, ConversationMember, Message


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


@pytest.fixture
def group(owner, admin, member) -> Conversation:
    return actions.do_create_group(owner, name="Floor", member_ids=[admin.pk, member.pk])


def cursor(conversation: Conversation, who) -> int:
    return ConversationMember.objects.get(
        conversation=conversation, membership=who
    ).last_read_message_id


def bulk_messages(conversation: Conversation, sender, n: int) -> list[int]:
    """``n`` messages from ``sender``, inserted in one go (the conversation's last id follows)."""
    Message.objects.bulk_create(
        [
            Message(
                org_id=conversation.org_id, conversation=conversation, sender=sender, body=f"{i}"
            )
            for i in range(n)
        ]
    )
    last = Message.objects.filter(conversation=conversation).order_by("-id").first()
    assert last is not None
    Conversation.objects.filter(pk=conversation.pk).update(last_message_id=last.pk)
    conversation.refresh_from_db()
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("id", flat=True)
    )


def unread(api, who, org) -> dict:
    response = api(who).get(url(org, "unread/"))
    assert response.status_code == 200
    return response.json()


def listed(api, who, org) -> dict[int, dict]:
    return {c["conversation"]["id"]: c for c in api(who).get(url(org, "conversations/")).json()}


# --- Unread counts -------------------------------------------------------------------------


def test_sending_moves_the_senders_cursor(api, org, group, owner, member):
    message, _ = actions.do_send_message(owner, group, body="hi")

    assert cursor(group, owner) == message.pk
    assert cursor(group, member) == 0
    assert unread(api, owner, org)["total_unread"] == 0


def test_unread_counts_per_conversation_and_total(api, org, group, owner, admin, member):
    direct = actions.do_get_or_create_direct(admin, member.pk)
    for body in ("a", "b", "c"):
        actions.do_send_message(owner, group, body=body)
    actions.do_send_message(admin, direct, body="psst")
    actions.do_send_message(member, group, body="my own message is never unread to me")

    counts = unread(api, member, org)
    mine = listed(api, member, org)

    # Replying read the group up to my own message.
    assert counts["conversations"] == [{"conversation_id": direct.pk, "unread": 1, "mentioned": 0}]
    assert counts["total_unread"] == 1
    assert mine[group.pk]["unread"] == 0
    assert mine[direct.pk]["unread"] == 1

    assert unread(api, admin, org)["total_unread"] == 4  # three from owner, one from member


def test_unread_counts_before_i_reply(api, org, group, owner, admin, member):
    direct = actions.do_get_or_create_direct(admin, member.pk)
    for body in ("a", "b", "c"):
        actions.do_send_message(owner, group, body=body)
    actions.do_send_message(admin, direct, body="psst")

    counts = unread(api, member, org)
    mine = listed(api, member, org)

    assert counts["total_unread"] == 4
    assert {c["conversation_id"]: c["unread"] for c in counts["conversations"]} == {
        group.pk: 3,
        direct.pk: 1,
    }
    assert (mine[group.pk]["unread"], mine[direct.pk]["unread"]) == (3, 1)


def test_unread_count_is_capped_at_one_hundred(api, org, group, owner, member):
    bulk_messages(group, owner, 150)

    assert unread(api, member, org)["conversations"] == [
        {"conversation_id": group.pk, "unread": 100, "mentioned": 0}
    ]
    assert listed(api, member, org)[group.pk]["unread"] == 100


def test_mentions_and_at_all_count_as_mentioned(api, org, group, owner, admin, member):
    actions.do_send_message(owner, group, body="@member please", mention_ids=[member.pk])
    actions.do_send_message(admin, group, body="@all fire drill")
    actions.do_send_message(owner, group, body="@admin please", mention_ids=[admin.pk])
    actions.do_send_message(owner, group, body="plain")

    counts = unread(api, member, org)

    assert counts["total_unread"] == 4
    assert counts["total_mentioned"] == 2
    assert listed(api, member, org)[group.pk]["mentioned"] == 2
    # admin: mentioned once explicitly; their own @all does not count for them.
    assert unread(api, admin, org)["conversations"] == [
        {"conversation_id": group.pk, "unread": 2, "mentioned": 1}
    ]


def test_mentions_stop_counting_once_read(api, org, group, owner, member):
    first, _ = actions.do_send_message(owner, group, body="@m", mention_ids=[member.pk])
    actions.do_send_message(owner, group, body="@all")

    api(member).post(url(org, f"conversations/{group.pk}/read/"), {"message_id": first.pk})

    assert unread(api, member, org)["conversations"] == [
        {"conversation_id": group.pk, "unread": 1, "mentioned": 1}
    ]


# --- Marking read --------------------------------------------------------------------------


def test_mark_read_up_to_a_message_and_never_backwards(api, org, group, owner, member):
    ids = [actions.do_send_message(owner, group, body=f"{i}")[0].pk for i in range(4)]
    read = url(org, f"conversations/{group.pk}/read/")

    partial = api(member).post(read, {"message_id": ids[1]})
    assert partial.status_code == 200
    assert partial.json() == {"last_read_message_id": ids[1]}
    assert unread(api, member, org)["total_unread"] == 2

    backwards = api(member).post(read, {"message_id": ids[0]})
    assert backwards.json() == {"last_read_message_id": ids[1]}
    assert cursor(group, member) == ids[1]

    everything = api(member).post(read)
    assert everything.json() == {"last_read_message_id": ids[3]}
    assert unread(api, member, org)["total_unread"] == 0


def test_mark_read_past_the_end_stops_at_the_latest_message(api, org, group, owner, member):
    message, _ = actions.do_send_message(owner, group, body="x")

    api(member).post(url(org, f"conversations/{group.pk}/read/"), {"message_id": message.pk + 999})

    assert cursor(group, member) == message.pk


def test_mark_all_read_clears_everything_in_one_call(api, org, group, owner, admin, member):
    others = [
        actions.do_create_group(owner, name=f"g{i}", member_ids=[member.pk]) for i in range(3)
    ]
    for conversation in [group, *others]:
        actions.do_send_message(owner, conversation, body="news")
    actions.do_send_message(admin, actions.do_get_or_create_direct(admin, member.pk), body="hi")
    assert unread(api, member, org)["total_unread"] == 5

    response = api(member).post(url(org, "conversations/read-all/"))

    assert response.status_code == 200
    assert response.json() == {"conversations_marked": 5}
    assert unread(api, member, org) == {
        "total_unread": 0,
        "total_mentioned": 0,
        "conversations": [],
    }
    assert api(member).post(url(org, "conversations/read-all/")).json() == {
        "conversations_marked": 0
    }
    # Other members' state is untouched.
    assert unread(api, admin, org)["total_unread"] == 1


def test_unread_query_count_does_not_grow_with_conversations(
    api, org, owner, member, django_assert_max_num_queries
):
    client = api(member)

    def make(n: int) -> None:
        for i in range(n):
            conversation = actions.do_create_group(owner, name=f"c{i}", member_ids=[member.pk])
            actions.do_send_message(owner, conversation, body="x", mention_ids=[member.pk])

    make(2)
    with django_assert_max_num_queries(8) as few:
        assert client.get(url(org, "unread/")).json()["total_unread"] == 2
    make(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(url(org, "unread/")).json()
    assert (body["total_unread"], body["total_mentioned"]) == (22, 22)


def test_conversation_list_query_count_does_not_grow_with_conversations(
    api, org, owner, member, django_assert_max_num_queries
):
    client = api(member)

    def make(n: int) -> None:
        for i in range(n):
            conversation = actions.do_create_group(owner, name=f"c{i}", member_ids=[member.pk])
            actions.do_send_message(owner, conversation, body="x")
        actions.do_send_message(owner, actions.do_get_or_create_direct(owner, member.pk), body="d")

    make(2)
    with django_assert_max_num_queries(12) as few:
        assert len(client.get(url(org, "conversations/")).json()) == 3
    make(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(url(org, "conversations/")).json()) == 23


# --- Receipts ------------------------------------------------------------------------------


def test_receipts_follow_recipients_reading(api, org, group, owner, admin, member, guest):
    actions._add_members(group, [guest])
    message, _ = actions.do_send_message(owner, group, body="please read")
    receipts = url(org, f"messages/{message.pk}/receipts/")
    members = url(org, f"messages/{message.pk}/receipts/members/")

    def who(state: str) -> set[int]:
        body = api(owner).get(f"{members}?state={state}").json()
        rows = body["results"] if isinstance(body, dict) else body
        return {row["member_id"] for row in rows}

    assert api(owner).get(receipts).json() == {
        "message_id": message.pk,
        "read_count": 0,
        "unread_count": 3,
    }
    assert who("unread") == {admin.pk, member.pk, guest.pk}
    assert who("read") == set()

    api(member).post(url(org, f"conversations/{group.pk}/read/"))
    actions.do_send_message(guest, group, body="later message, so guest has read too")

    assert api(owner).get(receipts).json()["read_count"] == 2
    assert api(owner).get(receipts).json()["unread_count"] == 1
    assert who("read") == {member.pk, guest.pk}
    assert who("unread") == {admin.pk}


def test_receipts_are_for_the_sender_and_admins_only(api, org, group, owner, admin, member):
    message, _ = actions.do_send_message(owner, group, body="x")
    own, _ = actions.do_send_message(member, group, body="y")

    assert api(owner).get(url(org, f"messages/{message.pk}/receipts/")).status_code == 200
    assert api(admin).get(url(org, f"messages/{message.pk}/receipts/")).status_code == 200
    assert api(member).get(url(org, f"messages/{own.pk}/receipts/")).status_code == 200
    denied = api(member).get(url(org, f"messages/{message.pk}/receipts/"))
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    listing = api(member).get(url(org, f"messages/{message.pk}/receipts/members/?state=read"))
    assert listing.status_code == 403


def test_receipt_members_needs_a_valid_state(api, org, group, owner):
    message, _ = actions.do_send_message(owner, group, body="x")

    response = api(owner).get(url(org, f"messages/{message.pk}/receipts/members/?state=maybe"))

    assert response.status_code == 400


# --- Events catch-up -----------------------------------------------------------------------


def test_events_after_returns_exactly_what_i_missed_in_my_conversations(
    api, org, group, owner, admin, member
):
    private = actions.do_create_group(owner, name="Private", member_ids=[admin.pk])
    actions.do_send_message(owner, group, body="before")
    start = api(member).get(url(org, "events/?after=0")).json()[-1]["id"]

    message, _ = actions.do_send_message(owner, group, body="one")
    actions.do_send_message(owner, private, body="not for member")
    actions.do_edit_message(owner, message, body="one, edited")
    actions.do_react(admin, message, "🎉")
    actions.do_react(owner, actions.do_send_message(owner, private, body="p")[0], "🎉")
    group.refresh_from_db()
    actions.do_mark_read(admin, group)
    actions.do_recall_message(owner, message)

    response = api(member).get(url(org, f"events/?after={start}"))

    assert response.status_code == 200
    events = response.json()
    assert [e["type"] for e in events] == [
        "message.created",
        "message.edited",
        "reaction.added",
        "read",
        "message.recalled",
    ]
    assert {e["conversation_id"] for e in events} == {group.pk}
    assert all(e["id"] > start for e in events)
    assert events == sorted(events, key=lambda e: e["id"])
    # The message was recalled afterwards: its text is gone from the stored events too.
    assert events[0]["message"]["body"] == events[1]["message"]["body"] == ""
    assert events[0]["message"]["recalled"] and events[1]["message"]["html"] == ""
    assert events[2]["emoji"] == "🎉"
    assert events[3]["membership_id"] == admin.pk
    assert events[4]["message_id"] == message.pk
    # From the middle: only what comes after.
    assert [
        e["id"] for e in api(member).get(url(org, f"events/?after={events[2]['id']}")).json()
    ] == [
        events[3]["id"],
        events[4]["id"],
    ]


def test_an_event_that_commits_late_below_the_last_id_comes_back_with_replay(
    api, org, group, owner, member
):
    """A transaction that took a lower id may commit after a later one: ``replay`` returns it."""
    from im.models import Event

    actions.do_send_message(owner, group, body="late")
    actions.do_send_message(owner, group, body="early")
    early, late = Event.objects.filter(conversation=group).order_by("-id")[:2]
    assert late.pk < early.pk
    late_id = late.pk
    late.delete()  # not committed yet when the client asks
    seen = api(member).get(url(org, "events/?after=0")).json()[-1]["id"]
    assert seen == early.pk
    late.pk = late_id
    late.save(force_insert=True)  # commits now, with its lower id

    exact = api(member).get(url(org, f"events/?after={seen}")).json()
    replayed = api(member).get(url(org, f"events/?after={seen}&replay=60")).json()

    assert exact == []
    assert late.pk in [e["id"] for e in replayed]
    # Events outside the window do not come back.
    Event.objects.filter(conversation=group).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert api(member).get(url(org, f"events/?after={seen}&replay=60")).json() == []


@pytest.mark.parametrize("query", ["after=1&replay=301", "after=1&replay=-1", "after=-1"])
def test_events_after_refuses_out_of_range_parameters(api, org, member, query):
    response = api(member).get(url(org, f"events/?{query}"))

    assert response.status_code == 400


@pytest.mark.parametrize("after", ["", "abc", "1.5"])
def test_events_after_must_be_an_integer(api, org, member, after):
    response = api(member).get(url(org, f"events/?after={after}"))

    assert response.status_code == 400
    assert "after" in response.json()["error"]["fields"]


def test_receipts_stay_right_after_the_sender_leaves(api, org, group, owner, admin, member):
    message, _ = actions.do_send_message(member, group, body="bye all")
    group.refresh_from_db()
    actions.do_leave_conversation(member, group)

    body = api(admin).get(url(org, f"messages/{message.pk}/receipts/")).json()

    assert (body["read_count"], body["unread_count"]) == (0, 2)


def test_recalled_messages_are_not_unread_and_not_mentions(org, owner, member):
    group = actions.do_create_group(owner, name="G", member_ids=[member.pk])
    message, _ = actions.do_send_message(owner, group, body="hello @all", mention_ids=[member.pk])
    assert selectors.unread_counts(member)[group.pk] == selectors.Unread(1, 2)
    actions.do_recall_message(owner, message)
    assert group.pk not in selectors.unread_counts(member)


def test_members_who_joined_later_are_not_counted_in_receipts(org, owner, member, add_member):
    group = actions.do_create_group(owner, name="G", member_ids=[member.pk])
    message, _ = actions.do_send_message(owner, group, body="before you joined")
    actions.do_add_conversation_members(owner, group, [add_member(org).pk])
    counts = selectors.receipts(message)
    assert (counts.read_count, counts.unread_count) == (0, 1)
