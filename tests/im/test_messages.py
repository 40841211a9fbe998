"""Messages: rendering, limits, idempotent sends, mentions, threads, quotes, edit, recall,
reactions and pins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from im import actions
from im.models import Conversation, Mention, Message, MessageEdit, Reaction


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


@pytest.fixture
def group(owner, admin, member) -> Conversation:
    return actions.do_create_group(owner, name="Dispatch", member_ids=[admin.pk, member.pk])


def send(api, who, org, conversation, **data):
    return api(who).post(
        url(org, f"conversations/{conversation.pk}/messages/"), data, format="json"
    )


# --- Rendering ---------------------------------------------------------------------------


def test_markdown_is_rendered(api, org, group, member):
    response = send(api, member, org, group, body="**bold** and _soft_")

    assert response.status_code == 201
    html = response.json()["html"]
    assert "<strong>bold</strong>" in html
    assert "<em>soft</em>" in html
    assert response.json()["body"] == "**bold** and _soft_"


def test_script_in_the_body_never_appears_unescaped(api, org, group, member):
    body = '<script>alert(1)</script> <img src=x onerror="alert(2)">'

    response = send(api, member, org, group, body=body)

    html = response.json()["html"]
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    assert Message.objects.get(pk=response.json()["id"]).html == html


def test_javascript_links_are_dropped(api, org, group, member):
    body = "[click](javascript:alert(1)) <javascript:alert(2)> [ok](https://example.test)"

    response = send(api, member, org, group, body=body)

    html = response.json()["html"]
    assert 'href="javascript' not in html.lower()
    assert html.lower().count("<a ") == 1
    assert 'href="https://example.test"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


# --- Limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   \n\t"])
def test_empty_body_is_rejected(api, org, group, member, body):
    response = send(api, member, org, group, body=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty"
    assert not Message.objects.exists()


def test_ten_thousand_characters_are_accepted_one_more_is_not(api, org, group, member):
    accepted = send(api, member, org, group, body="a" * 10_000)
    rejected = send(api, member, org, group, body="a" * 10_001)

    assert accepted.status_code == 201
    assert rejected.status_code == 400
    assert "body" in rejected.json()["error"]["fields"]
    assert Message.objects.count() == 1


def test_posting_to_a_conversation_i_am_not_in_is_not_found(api, org, owner, admin, member):
    private = actions.do_create_group(owner, name="Board", member_ids=[admin.pk])

    response = send(api, member, org, private, body="let me in")

    assert response.status_code == 404
    assert not Message.objects.exists()


# --- Idempotency -------------------------------------------------------------------------


def test_retried_client_msg_id_returns_the_first_message_and_creates_nothing(
    api, org, group, member
):
    first = send(api, member, org, group, body="once", client_msg_id="c-1")
    retry = send(api, member, org, group, body="once", client_msg_id="c-1")

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1
    group.refresh_from_db()
    assert group.last_message_id == first.json()["id"]


def test_same_client_msg_id_from_another_sender_is_a_new_message(api, org, group, member, admin):
    mine = send(api, member, org, group, body="x", client_msg_id="same")
    theirs = send(api, admin, org, group, body="y", client_msg_id="same")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_reusing_a_client_msg_id_in_another_conversation_is_a_conflict(
    api, org, group, owner, member
):
    elsewhere = actions.do_create_group(owner, name="Elsewhere", member_ids=[member.pk])
    send(api, member, org, group, body="x", client_msg_id="dup")
    later, _ = actions.do_send_message(owner, elsewhere, body="someone else's message")

    response = send(api, member, org, elsewhere, body="y", client_msg_id="dup")

    assert response.status_code == 409
    assert list(Message.objects.filter(conversation=elsewhere)) == [later]


# --- Mentions ------------------------------------------------------------------------------


def test_mentions_of_members_are_stored(api, org, group, member, admin):
    response = send(api, member, org, group, body="@Admin look", mention_ids=[admin.pk])

    assert response.status_code == 201
    assert list(
        Mention.objects.filter(message_id=response.json()["id"]).values_list(
            "membership_id", flat=True
        )
    ) == [admin.pk]


def test_mentioning_a_non_member_is_rejected(api, org, group, member, add_member):
    stranger = add_member(org)

    response = send(api, member, org, group, body="hi", mention_ids=[stranger.pk])

    assert response.status_code == 400
    assert "mention_ids" in response.json()["error"]["fields"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", ["@all standup now", "请注意 @所有人"])
def test_at_all_sets_mentions_all_in_groups(api, org, group, member, body):
    response = send(api, member, org, group, body=body)

    assert response.json()["mentions_all"] is True


def test_at_all_does_nothing_in_direct_chats_or_inside_words(api, org, group, owner, member):
    direct = actions.do_get_or_create_direct(owner, member.pk)

    in_direct = send(api, member, org, direct, body="@all hi")
    in_word = send(api, member, org, group, body="mail me at bob@all.test")

    assert in_direct.json()["mentions_all"] is False
    assert in_word.json()["mentions_all"] is False


# --- Threads and quotes --------------------------------------------------------------------


def test_reply_to_a_reply_joins_the_root_thread(api, org, group, owner, member):
    root = send(api, owner, org, group, body="root").json()
    reply = send(api, member, org, group, body="r1", thread_root_id=root["id"]).json()
    nested = send(api, owner, org, group, body="r2", thread_root_id=reply["id"]).json()
    send(api, owner, org, group, body="not in the thread")

    assert reply["thread_root"] == root["id"]
    assert nested["thread_root"] == root["id"]
    assert Message.objects.get(pk=root["id"]).reply_count == 2
    thread = api(member).get(url(org, f"conversations/{group.pk}/messages/?thread={root['id']}"))
    assert [m["id"] for m in thread.json()] == [root["id"], reply["id"], nested["id"]]
    assert thread.json()[0]["reply_count"] == 2


def test_thread_root_from_another_conversation_is_rejected(api, org, group, owner, member):
    other = actions.do_create_group(owner, name="Other", member_ids=[member.pk])
    foreign, _ = actions.do_send_message(owner, other, body="elsewhere")

    response = send(api, member, org, group, body="r", thread_root_id=foreign.pk)

    assert response.status_code == 400


def test_quote_from_the_same_conversation(api, org, group, owner, member):
    quoted = send(api, owner, org, group, body="original").json()

    response = send(api, member, org, group, body="agreed", quote_id=quoted["id"])

    assert response.status_code == 201
    assert response.json()["quote"] == quoted["id"]


def test_quote_from_another_conversation_is_rejected(api, org, group, owner, member):
    other = actions.do_create_group(owner, name="Other", member_ids=[member.pk])
    foreign, _ = actions.do_send_message(owner, other, body="secret")

    response = send(api, member, org, group, body="leak", quote_id=foreign.pk)

    assert response.status_code == 400
    assert "quote_id" in response.json()["error"]["fields"]


def test_messages_page_before_and_after(api, org, group, member):
    ids = [actions.do_send_message(member, group, body=f"m{i}")[0].pk for i in range(5)]
    base = url(org, f"conversations/{group.pk}/messages/")

    latest = api(member).get(f"{base}?limit=2").json()
    before = api(member).get(f"{base}?before={ids[2]}&limit=10").json()
    after = api(member).get(f"{base}?after={ids[2]}").json()
    bad = api(member).get(f"{base}?limit=nope")

    assert [m["id"] for m in latest] == ids[3:]
    assert [m["id"] for m in before] == ids[:2]
    assert [m["id"] for m in after] == ids[3:]
    assert bad.status_code == 400


# --- Edit ----------------------------------------------------------------------------------


def test_sender_edits_and_history_keeps_earlier_versions(api, org, group, member):
    message = send(api, member, org, group, body="first").json()
    mid = message["id"]

    api(member).patch(url(org, f"messages/{mid}/"), {"body": "second"})
    response = api(member).patch(url(org, f"messages/{mid}/"), {"body": "**third**"})

    assert response.status_code == 200
    assert response.json()["body"] == "**third**"
    assert "<strong>third</strong>" in response.json()["html"]
    assert response.json()["edited_at"] is not None
    history = api(member).get(url(org, f"messages/{mid}/history/")).json()
    assert [h["body"] for h in history] == ["first", "second"]


def test_others_cannot_edit_my_message(api, org, group, member, owner):
    mid = send(api, member, org, group, body="mine").json()["id"]

    response = api(owner).patch(url(org, f"messages/{mid}/"), {"body": "theirs"})

    assert response.status_code == 403
    assert Message.objects.get(pk=mid).body == "mine"
    assert not MessageEdit.objects.exists()


def test_edit_to_empty_is_rejected(api, org, group, member):
    mid = send(api, member, org, group, body="mine").json()["id"]

    response = api(member).patch(url(org, f"messages/{mid}/"), {"body": "  "}, format="json")

    assert response.status_code == 400
    assert Message.objects.get(pk=mid).body == "mine"


def test_recalled_message_cannot_be_edited(api, org, group, member):
    mid = send(api, member, org, group, body="oops").json()["id"]
    api(member).post(url(org, f"messages/{mid}/recall/"))

    response = api(member).patch(url(org, f"messages/{mid}/"), {"body": "fixed"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "recalled"


# --- Recall --------------------------------------------------------------------------------


def test_sender_recalls_within_a_day_leaving_a_tombstone(api, org, group, member, owner):
    mid = send(api, member, org, group, body="wrong chat").json()["id"]
    api(member).patch(url(org, f"messages/{mid}/"), {"body": "still wrong"})

    response = api(member).post(url(org, f"messages/{mid}/recall/"))

    assert response.status_code == 200
    assert response.json()["recalled"] is True
    assert response.json()["body"] == response.json()["html"] == ""
    seen = api(owner).get(url(org, f"messages/{mid}/")).json()
    assert (seen["recalled"], seen["body"], seen["html"]) == (True, "", "")
    listed = api(owner).get(url(org, f"conversations/{group.pk}/messages/")).json()
    assert [(m["id"], m["body"]) for m in listed] == [(mid, "")]
    assert api(owner).get(url(org, f"messages/{mid}/history/")).json() == []


def test_recall_after_the_window_is_forbidden(api, org, group, member):
    mid = send(api, member, org, group, body="old news").json()["id"]
    Message.objects.filter(pk=mid).update(created_at=timezone.now() - timedelta(hours=25))

    response = api(member).post(url(org, f"messages/{mid}/recall/"))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "recall_window_passed"
    assert Message.objects.get(pk=mid).recalled_at is None


def test_plain_member_cannot_recall_someone_elses_message(api, org, group, member, owner):
    mid = send(api, owner, org, group, body="boss").json()["id"]

    response = api(member).post(url(org, f"messages/{mid}/recall/"))

    assert response.status_code == 403
    assert Message.objects.get(pk=mid).recalled_at is None


def test_admin_may_recall_anyones_old_message(api, org, group, member, admin):
    mid = send(api, member, org, group, body="leaked password").json()["id"]
    Message.objects.filter(pk=mid).update(created_at=timezone.now() - timedelta(days=30))

    response = api(admin).post(url(org, f"messages/{mid}/recall/"))

    assert response.status_code == 200
    message = Message.objects.get(pk=mid)
    assert message.recalled_at is not None
    assert message.recalled_by_id == admin.pk


# --- Reactions -----------------------------------------------------------------------------


def test_reactions_add_and_remove_idempotently(api, org, group, member, owner):
    mid = send(api, owner, org, group, body="lunch?").json()["id"]
    react = url(org, f"messages/{mid}/reactions/")

    assert api(member).post(react, {"emoji": "👍"}).status_code == 204
    assert api(member).post(react, {"emoji": "👍"}).status_code == 204
    assert api(owner).post(react, {"emoji": "👍"}).status_code == 204
    shown = api(member).get(url(org, f"messages/{mid}/")).json()["reactions"]
    assert shown == [{"emoji": "👍", "count": 2, "member_ids": [member.pk, owner.pk]}]

    assert api(member).delete(f"{react}👍/").status_code == 204
    assert api(member).delete(f"{react}👍/").status_code == 204
    assert list(Reaction.objects.values_list("membership_id", flat=True)) == [owner.pk]


@pytest.mark.parametrize("emoji", ["", "two words", "x" * 33])
def test_invalid_emoji_is_rejected(api, org, group, member, emoji):
    mid = send(api, member, org, group, body="hi").json()["id"]

    response = api(member).post(url(org, f"messages/{mid}/reactions/"), {"emoji": emoji})

    assert response.status_code == 400
    assert not Reaction.objects.exists()


def test_recalled_message_takes_no_reactions(api, org, group, member):
    mid = send(api, member, org, group, body="hi").json()["id"]
    api(member).post(url(org, f"messages/{mid}/recall/"))

    response = api(member).post(url(org, f"messages/{mid}/reactions/"), {"emoji": "👍"})

    assert response.status_code == 409


# --- Pins ----------------------------------------------------------------------------------


def test_pin_and_unpin(api, org, group, member, owner):
    mid = send(api, owner, org, group, body="rota attached").json()["id"]

    pinned = api(member).post(url(org, f"messages/{mid}/pin/"))
    assert pinned.status_code == 200
    assert pinned.json()["pinned_at"] is not None
    assert Message.objects.get(pk=mid).pinned_by_id == member.pk

    unpinned = api(member).delete(url(org, f"messages/{mid}/pin/"))
    assert unpinned.status_code == 200
    assert unpinned.json()["pinned_at"] is None


def test_recalled_message_cannot_be_pinned(api, org, group, member):
    mid = send(api, member, org, group, body="x").json()["id"]
    api(member).post(url(org, f"messages/{mid}/recall/"))

    assert api(member).post(url(org, f"messages/{mid}/pin/")).status_code == 409


def test_sending_a_message_costs_a_fixed_number_of_queries(
    api, org, owner, add_member, django_assert_num_queries
):
    """Pinned like Zulip's hot paths: token, membership, conversation link, idempotency check,
    insert, conversation and cursor updates, event (+ the transaction's two statements)."""
    from im.actions import do_create_group

    group = do_create_group(owner, name="G", member_ids=[add_member(org).pk for _ in range(50)])
    client = api(owner)
    url = f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/messages/"
    client.post(url, {"body": "warm up"}, format="json")
    with django_assert_num_queries(10):
        response = client.post(url, {"body": "hello", "client_msg_id": "q-1"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "path,payload",
    [
        ("conversations/", {"name": "G", "member_ids": [99999999999999999999]}),
        ("conversations/direct/", {"member_id": 99999999999999999999}),
        ("MESSAGES", {"body": "x", "mention_ids": [99999999999999999999]}),
        ("MESSAGES", {"body": "x", "attachment_ids": [2**63]}),
        ("MESSAGES", {"body": "x", "quote_id": 2**64}),
    ],
)
def test_ids_beyond_64_bits_are_a_400_not_a_500(api, org, owner, member, path, payload):
    from im.actions import do_create_group

    group = do_create_group(owner, name="G", member_ids=[member.pk])
    path = f"conversations/{group.pk}/messages/" if path == "MESSAGES" else path
    response = api(owner).post(f"/api/v1/orgs/{org.pk}/{path}", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
