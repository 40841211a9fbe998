"""Real-time end to end: sockets on /ws/ receive their conversations' events after commit."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from core.actions import do_create_api_token
from im import actions
from im.models import Event

ORIGIN = [(b"origin", b"http://localhost")]
TIMEOUT = 3


async def connect(who) -> WebsocketCommunicator:
    issue = database_sync_to_async(lambda: do_create_api_token(who.user, name="ws"))
    secret = (await issue()).secret
    ws = WebsocketCommunicator(application, f"/ws/?token={secret}", headers=ORIGIN)
    connected, _code = await ws.connect()
    assert connected
    hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert hello == {"type": "hello", "user_id": who.user_id}
    return ws


async def next_of_type(ws: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    """The next event of ``kind`` (skipping others the same action may have caused)."""
    for _ in range(20):
        event = await ws.receive_json_from(timeout=TIMEOUT)
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event")


send_message = database_sync_to_async(actions.do_send_message)
mark_read = database_sync_to_async(actions.do_mark_read)


@database_sync_to_async
def make_group(owner, *others, name="Ops"):
    return actions.do_create_group(owner, name=name, member_ids=[m.pk for m in others])


@database_sync_to_async
def fresh(conversation):
    conversation.refresh_from_db()
    return conversation


@database_sync_to_async
def api_get(api, who, path: str):
    response = api(who).get(f"/api/v1/orgs/{who.org_id}/{path}")
    return response.status_code, response.json()


@pytest.mark.django_db(transaction=True)
async def test_message_and_read_reach_the_other_members_socket(realtime, owner, member):
    group = await make_group(owner, member)
    sender = await connect(owner)
    reader = await connect(member)

    message, created = await send_message(owner, group, body="**truck** at gate 3")
    assert created

    event = await next_of_type(reader, "message.created")
    assert event["conversation_id"] == group.pk
    assert event["message"]["id"] == message.pk
    assert event["message"]["body"] == "**truck** at gate 3"
    assert "<strong>truck</strong>" in event["message"]["html"]
    assert event["message"]["sender_id"] == owner.pk
    assert (await next_of_type(sender, "message.created"))["message"]["id"] == message.pk

    await mark_read(member, await fresh(group))

    read = await next_of_type(sender, "read")
    assert read["conversation_id"] == group.pk
    assert read["membership_id"] == member.pk
    assert read["last_read_message_id"] == message.pk

    await sender.disconnect()
    await reader.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(realtime, owner, member):
    group = await make_group(owner, member)
    ws = await connect(member)

    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from(timeout=TIMEOUT))["code"] == "malformed_frame"
    await ws.send_to(text_data='["a list"]')
    assert (await ws.receive_json_from(timeout=TIMEOUT))["code"] == "malformed_frame"
    await ws.send_json_to({"type": "no-such-frame"})
    assert (await ws.receive_json_from(timeout=TIMEOUT))["code"] == "unknown_type"
    await ws.send_json_to({"type": "typing"})
    assert (await ws.receive_json_from(timeout=TIMEOUT))["code"] == "invalid"

    await ws.send_json_to({"type": "ping", "id": 1})
    assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong", "id": 1}
    message, _ = await send_message(owner, group, body="still here?")
    assert (await next_of_type(ws, "message.created"))["message"]["id"] == message.pk

    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_typing_is_relayed_to_members_and_not_to_others(
    realtime, org, owner, member, admin, add_member
):
    group = await make_group(owner, member)
    typist = await connect(member)
    listener = await connect(owner)
    stranger = await connect(admin)

    await typist.send_json_to({"type": "typing", "conversation_id": group.pk})

    typing = await next_of_type(listener, "typing")
    assert typing == {
        "type": "typing",
        "org_id": org.pk,
        "conversation_id": group.pk,
        "user_id": member.user_id,
    }
    assert await stranger.receive_nothing(timeout=0.3)

    # A second frame within the throttle window is not relayed again.
    await typist.send_json_to({"type": "typing", "conversation_id": group.pk})
    assert await listener.receive_nothing(timeout=0.3)

    for ws in (typist, listener, stranger):
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_typing_in_a_conversation_i_am_not_in_is_refused(realtime, owner, admin, member):
    group = await make_group(owner, admin)
    intruder = await connect(member)
    listener = await connect(admin)

    await intruder.send_json_to({"type": "typing", "conversation_id": group.pk})

    assert (await intruder.receive_json_from(timeout=TIMEOUT))["code"] == "not_found"
    assert await listener.receive_nothing(timeout=0.3)
    for ws in (intruder, listener):
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_typing_is_off_in_groups_above_the_limit(realtime, settings, owner, member, admin):
    settings.IM_TYPING_MAX_MEMBERS = 2
    group = await make_group(owner, member, admin)
    typist = await connect(member)
    listener = await connect(owner)

    await typist.send_json_to({"type": "typing", "conversation_id": group.pk})

    assert await listener.receive_nothing(timeout=0.3)
    for ws in (typist, listener):
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_socket_of_someone_not_in_the_conversation_receives_nothing(
    realtime, owner, member, admin
):
    group = await make_group(owner, member)
    outsider = await connect(admin)
    insider = await connect(member)

    message, _ = await send_message(owner, group, body="private")

    assert (await next_of_type(insider, "message.created"))["message"]["id"] == message.pk
    assert await outsider.receive_nothing(timeout=0.3)
    for ws in (outsider, insider):
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_being_added_subscribes_open_sockets_and_leaving_unsubscribes(
    realtime, owner, member
):
    ws = await connect(member)
    group = await make_group(owner, member)

    joined = await next_of_type(ws, "conversation.joined")
    assert joined["conversation_id"] == group.pk
    message, _ = await send_message(owner, group, body="welcome")
    assert (await next_of_type(ws, "message.created"))["message"]["id"] == message.pk

    await database_sync_to_async(actions.do_leave_conversation)(member, await fresh(group))
    assert (await next_of_type(ws, "conversation.left"))["conversation_id"] == group.pk
    await send_message(owner, group, body="after you left")
    assert await ws.receive_nothing(timeout=0.3)

    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_after_a_disconnect_events_after_returns_everything_missed(
    realtime, api, owner, member
):
    group = await make_group(owner, member)
    ws = await connect(member)
    first, _ = await send_message(owner, group, body="seen live")
    last_seen = (await next_of_type(ws, "message.created"))["id"]
    await ws.disconnect()

    missed = [(await send_message(owner, group, body=f"missed {i}"))[0] for i in range(3)]
    await database_sync_to_async(actions.do_react)(owner, first, "👀")
    await database_sync_to_async(actions.do_recall_message)(owner, missed[0])

    status, events = await api_get(api, member, f"events/?after={last_seen}")

    assert status == 200
    assert [e["type"] for e in events] == [
        "message.created",
        "message.created",
        "message.created",
        "reaction.added",
        "message.recalled",
    ]
    assert [e["message"]["id"] for e in events[:3]] == [m.pk for m in missed]
    assert events[4]["message_id"] == missed[0].pk

    # Reconnecting, the socket carries on live from here.
    ws = await connect(member)
    latest, _ = await send_message(owner, group, body="back online")
    live = await next_of_type(ws, "message.created")
    assert live["message"]["id"] == latest.pk
    assert live["id"] > events[-1]["id"]
    await ws.disconnect()


def test_an_event_is_published_once_whatever_the_group_size(
    org, owner, add_member, django_capture_on_commit_callbacks
):
    crowd = [add_member(org) for _ in range(30)]
    group = actions.do_create_group(owner, name="Crowd", member_ids=[m.pk for m in crowd])
    layer = mock.AsyncMock()

    with (
        mock.patch("im.events.get_channel_layer", return_value=layer),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message, _ = actions.do_send_message(owner, group, body="hello everyone")

    assert layer.group_send.await_count == 1
    (group_name, payload), _kwargs = layer.group_send.await_args
    assert group_name == "tack.hub"
    assert payload["event"]["message"]["id"] == message.pk
    assert Event.objects.filter(conversation=group, type="message.created").count() == 1


@pytest.mark.django_db(transaction=True)
async def test_a_suspended_members_open_socket_stops_receiving(realtime, owner, member):
    """Suspension cuts the live feed at once, not at the next reconnect."""
    from core.actions import do_set_member_status

    group = await make_group(owner, member)
    ws = await connect(member)
    # transaction=True: the core hook runs on commit, as in production.
    await database_sync_to_async(do_set_member_status)(owner, member, "suspended")
    notice = await ws.receive_json_from(timeout=TIMEOUT)
    assert notice["type"] == "membership.suspended" and group.pk in notice["conversation_ids"]
    await database_sync_to_async(actions.do_send_message)(owner, group, body="AFTER-SUSPEND")
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()
