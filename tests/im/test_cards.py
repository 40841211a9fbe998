"""Cards: the schema, and button clicks forwarded (signed) to the bot that owns the card.

The bot is a real HTTP server on 127.0.0.1 (``BotReceiver`` from ``test_bots``).
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from core.errors import ValidationFailed
from im import actions, bots
from im.cards import CARD_SCHEMA, blocks_to_message, check_card
from im.models import Bot, Conversation, Event, Message
from tests.im import test_bots
from tests.im.test_bots import closed_port_url

#: The real local bot endpoint, shared with test_bots.
receiver = test_bots.receiver

# --- The schema -------------------------------------------------------------------------

CARD = {
    "title": "Lot 20231104",
    "fields": [{"label": "Line", "value": "3"}],
    "buttons": [{"action_id": "release", "label": "Release", "style": "primary", "value": "L1"}],
    "footer": "QA",
}


def test_the_card_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(CARD_SCHEMA)
    assert CARD_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_valid_card_gets_its_owner_from_the_server():
    card = check_card({**CARD, "owner": {"type": "bot", "id": 999}}, owner_bot_id=7)

    assert card["owner"] == {"type": "bot", "id": 7}
    assert card["title"] == "Lot 20231104"


def test_buttons_default_to_the_default_style_and_an_empty_value():
    card = check_card({"buttons": [{"action_id": "a", "label": "A"}]}, owner_bot_id=1)

    assert card["buttons"] == [{"action_id": "a", "label": "A", "style": "default", "value": ""}]


@pytest.mark.parametrize(
    "card",
    [
        "not an object",
        {"title": "t" * 151},
        {"footer": "f" * 301},
        {"title": 5},
        {"html": "<b>x</b>"},
        {"fields": [{"label": "only a label"}]},
        {"fields": [{"label": "l", "value": "v" * 2001}]},
        {"fields": [{"label": "l", "value": "v"}] * 21},
        {"buttons": [{"action_id": "a", "label": "A", "style": "blink"}]},
        {"buttons": [{"action_id": "", "label": "A"}]},
        {"buttons": [{"action_id": "a", "label": "A", "onclick": "x"}]},
        {"buttons": [{"action_id": "a", "label": "A"}, {"action_id": "a", "label": "B"}]},
        {"buttons": [{"action_id": f"a{i}", "label": "A"} for i in range(11)]},
    ],
)
def test_invalid_cards_are_refused(card: Any):
    with pytest.raises(ValidationFailed):
        check_card(card, owner_bot_id=1)


def test_slack_blocks_map_onto_a_card():
    text, card = blocks_to_message(
        [
            {"type": "section", "text": {"type": "plain_text", "text": "First"}},
            {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Second"}},
            {
                "type": "context",
                "elements": [
                    {"type": "image", "image_url": "https://x.test/a.png", "alt_text": "a"},
                    {"type": "plain_text", "text": "one"},
                    {"type": "mrkdwn", "text": "two"},
                ],
            },
        ]
    )

    assert text == "First\n\nSecond"
    assert card == {"title": "Title", "footer": "one · two"}


def test_blocks_with_only_text_make_no_card():
    assert blocks_to_message([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]) == (
        "x",
        None,
    )


# --- Button clicks ----------------------------------------------------------------------


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


@pytest.fixture
def group(owner, member) -> Conversation:
    return actions.do_create_group(owner, name="QA", member_ids=[member.pk])


@pytest.fixture
def bot(owner, group, receiver) -> Bot:
    created = bots.do_create_bot(
        owner, name="QA Bot", conversation_id=group.pk, outgoing_url=receiver.url
    )
    receiver.secret = created.signing_secret
    return created.bot


@pytest.fixture
def card_message(bot, group) -> Message:
    return bots.do_post_bot_message(bot, group, text="Lot ready", card=CARD)


def click(api, who, message: Message, action_id: Any = "release") -> Any:
    return api(who).post(
        url(message.conversation.org, f"messages/{message.pk}/card-actions/"),
        {"action_id": action_id},
        format="json",
    )


def test_a_click_is_sent_signed_to_the_card_owner(api, member, card_message, receiver):
    response = click(api, member, card_message)

    assert response.status_code == 200, response.content
    (call,) = receiver.calls
    assert call.signature_ok
    assert call.headers["X-Tack-Signature"].startswith("v1=")
    assert call.json == {
        "type": "card_action",
        "action_id": "release",
        "value": "L1",
        "message_id": card_message.pk,
        "conversation_id": card_message.conversation_id,
        "org_id": card_message.org_id,
        "member": {"id": member.pk, "display_name": member.user.display_name},
    }
    assert response.json()["message"]["card"] == card_message.card
    assert response.json()["reply"] is None


def test_the_owner_can_update_the_card_for_everyone(
    api,
    owner,
    member,
    card_message,
    receiver,
):
    receiver.answer = {"card": {"title": "Lot 20231104 released", "footer": "by QA"}}

    response = click(api, member, card_message)

    assert response.status_code == 200
    expected = {
        "title": "Lot 20231104 released",
        "footer": "by QA",
        "owner": {"type": "bot", "id": card_message.bot_id},
    }
    assert response.json()["message"]["card"] == expected
    card_message.refresh_from_db()
    assert card_message.card == expected
    seen_by_owner = api(owner).get(url(card_message.org, f"messages/{card_message.pk}/"))
    assert seen_by_owner.json()["card"] == expected
    event = Event.objects.get(type="message.card_updated")
    assert event.conversation_id == card_message.conversation_id
    assert event.payload == {"message_id": card_message.pk, "card": expected}


def test_the_owner_can_reply_as_the_bot(api, member, card_message, receiver):
    receiver.answer = {"text": "Released by **you**"}

    response = click(api, member, card_message)

    assert response.status_code == 200
    reply = Message.objects.exclude(pk=card_message.pk).get()
    assert reply.bot_id == card_message.bot_id and reply.sender is None
    assert reply.body == "Released by **you**"
    assert response.json()["reply"]["id"] == reply.pk
    card_message.refresh_from_db()
    assert card_message.card["title"] == "Lot 20231104"


def test_unknown_action_is_refused_without_calling_the_bot(api, member, card_message, receiver):
    response = click(api, member, card_message, action_id="explode")

    assert response.status_code == 400
    assert "action_id" in response.json()["error"]["fields"]
    assert receiver.calls == []


def test_missing_action_id_is_refused(api, member, card_message, receiver):
    response = api(member).post(
        url(card_message.org, f"messages/{card_message.pk}/card-actions/"), {}, format="json"
    )

    assert response.status_code == 400
    assert receiver.calls == []


def test_clicking_on_a_message_that_is_not_a_card_is_not_found(api, member, group, receiver):
    message, _created = actions.do_send_message(member, group, body="plain")

    response = click(api, member, message)

    assert response.status_code == 404
    assert receiver.calls == []


def test_a_member_outside_the_conversation_cannot_click(
    api,
    org,
    add_member,
    card_message,
    receiver,
):
    stranger = add_member(org, "admin")

    response = click(api, stranger, card_message)

    assert response.status_code == 404
    assert receiver.calls == []


def test_a_recalled_card_cannot_be_clicked(api, owner, member, card_message, receiver):
    actions.do_recall_message(owner, card_message)

    response = click(api, member, card_message)

    assert response.status_code == 409
    assert receiver.calls == []


def _assert_nothing_changed(card_message: Message) -> None:
    before = dict(card_message.card)
    card_message.refresh_from_db()
    assert card_message.card == before
    assert Message.objects.count() == 1
    assert not Event.objects.filter(type="message.card_updated").exists()


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (500, {"text": "oops"}),
        (302, None),
        (200, b"not json"),
        (200, ["a", "list"]),
        (200, {"card": {"title": "t" * 500}}),
        (200, {"card": {"title": "ok"}, "text": 12}),
        (200, {"text": "x" * 10_001}),
    ],
)
def test_a_failing_owner_changes_nothing(api, member, card_message, receiver, status, answer):
    receiver.status, receiver.answer = status, answer

    response = click(api, member, card_message)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "card_owner_unavailable"
    assert len(receiver.calls) == 1
    _assert_nothing_changed(card_message)


def test_an_unreachable_owner_changes_nothing(api, member, bot, card_message):
    Bot.objects.filter(pk=bot.pk).update(outgoing_url=closed_port_url())

    response = click(api, member, card_message)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "card_owner_unavailable"
    _assert_nothing_changed(card_message)


def test_a_slow_owner_times_out_and_changes_nothing(
    api,
    member,
    card_message,
    receiver,
    monkeypatch,
):
    monkeypatch.setattr(bots, "OUTGOING_TIMEOUT_SECONDS", 0.3)
    receiver.delay, receiver.answer = 1.0, {"card": {"title": "too late"}}

    response = click(api, member, card_message)

    assert response.status_code == 409
    _assert_nothing_changed(card_message)


def test_a_deactivated_owner_is_unavailable(api, owner, member, bot, card_message, receiver):
    bots.do_deactivate_bot(owner, bot)

    response = click(api, member, card_message)

    assert response.status_code == 409
    assert receiver.calls == []
