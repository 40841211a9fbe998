"""Bots: the management API, incoming webhooks, and outgoing bots hearing @-mentions.

Outgoing calls go to a real HTTP server on 127.0.0.1 (``BotReceiver``) that checks the
signature the way a bot author would; ``requests`` is never mocked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from core.auth import hash_token
from core.models import AuditLogEntry
from im import actions, bots
from im.models import Bot, Conversation, ConversationMember, Event, Message

# --- A real bot endpoint ----------------------------------------------------------------


@dataclass
class Call:
    headers: dict[str, str]
    raw: bytes
    signature_ok: bool

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.raw)


@dataclass
class BotReceiver:
    """An HTTP server in a thread that verifies X-Tack-Signature and answers as told."""

    secret: str = ""
    calls: list[Call] = field(default_factory=list)
    status: int = 200
    answer: Any = None  # dict → JSON; bytes → as is; None → empty body
    delay: float = 0.0
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        timestamp = handler.headers.get("X-Tack-Timestamp", "")
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        signature_ok = fresh and hmac.compare_digest(
            handler.headers.get("X-Tack-Signature", ""), f"v1={expected}"
        )
        self.calls.append(Call(dict(handler.headers), raw, signature_ok))
        if self.delay:
            time.sleep(self.delay)
        body = (
            json.dumps(self.answer).encode()
            if isinstance(self.answer, dict | list)
            else (self.answer or b"")
        )
        try:
            handler.send_response(self.status if signature_ok else 401)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # Tack gave up waiting (the timeout tests)


@pytest.fixture
def receiver() -> Iterator[BotReceiver]:
    state = BotReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tack"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    """An address nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


# --- Helpers ----------------------------------------------------------------------------


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


@pytest.fixture
def group(owner, admin, member) -> Conversation:
    conversation = actions.do_create_group(owner, name="Line 3", member_ids=[member.pk])
    return conversation


def create_bot(api, who, conversation, **extra) -> Any:
    return api(who).post(
        url(conversation.org, "bots/"),
        {"name": "Deploy", "conversation_id": conversation.pk, **extra},
        format="json",
    )


def hook_path(created: dict[str, Any]) -> str:
    webhook = created["incoming_webhook_url"]
    return webhook[webhook.index("/hooks/") :]


def post_hook(path: str, payload: Any) -> Any:
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return Client(enforce_csrf_checks=True).post(path, body, content_type="application/json")


def messages(conversation: Conversation) -> list[Message]:
    return list(Message.objects.filter(conversation=conversation).order_by("id"))


# --- Managing bots ----------------------------------------------------------------------


def test_created_bot_shows_webhook_url_and_secret_once_and_stores_neither(
    api, org, owner, group, settings
):
    response = create_bot(api, owner, group)

    assert response.status_code == 201
    created = response.json()
    assert created["incoming_webhook_url"].startswith(f"{settings.TACK_PUBLIC_URL}/hooks/")
    key = created["incoming_webhook_url"].rstrip("/").rsplit("/", 1)[1]
    secret = created["signing_secret"]
    assert len(key) >= 40 and len(secret) >= 30
    bot = Bot.objects.get(pk=created["bot"]["id"])
    assert bot.incoming_key_hash == hash_token(key)
    assert secret not in bot.signing_secret and key not in bot.signing_secret
    assert bots.decrypt_secret(bot.signing_secret) == secret
    assert bot.conversation == group and bot.created_by == owner.user and bot.is_active
    listed = api(owner).get(url(org, "bots/")).content.decode()
    detail = api(owner).get(url(org, f"bots/{bot.pk}/")).content.decode()
    for leaked in (key, secret, bot.incoming_key_hash, bot.signing_secret, "signing_secret"):
        assert leaked not in listed
        assert leaked not in detail
    assert json.loads(detail)["name"] == "Deploy"
    assert AuditLogEntry.objects.filter(org=org, action="bot.create").count() == 1


def test_signing_secret_survives_a_secret_key_rotation_with_fallbacks(owner, group, settings):
    created = bots.do_create_bot(owner, name="Rotating", conversation_id=group.pk)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "a-completely-new-secret-key-for-this-test-0123456789"
    with pytest.raises(bots.BotUnavailable):
        bots.decrypt_secret(created.bot.signing_secret)
    settings.SECRET_KEY_FALLBACKS = [old_key]

    assert bots.decrypt_secret(created.bot.signing_secret) == created.signing_secret


def test_group_owner_and_group_admin_may_add_a_bot(api, org, owner, member, group):
    ConversationMember.objects.filter(conversation=group, membership=member).update(role="admin")

    assert create_bot(api, owner, group, name="A").status_code == 201
    assert create_bot(api, member, group, name="B").status_code == 201


def test_org_admin_may_add_a_bot_to_a_group_they_are_not_in(api, admin, group):
    assert not ConversationMember.objects.filter(conversation=group, membership=admin).exists()

    assert create_bot(api, admin, group).status_code == 201


def test_plain_member_of_the_group_may_not_add_a_bot(api, member, group):
    response = create_bot(api, member, group)

    assert response.status_code == 403
    assert not Bot.objects.exists()


def test_member_outside_the_group_gets_404_for_its_conversation(api, org, add_member, group):
    stranger = add_member(org, "member")

    response = create_bot(api, stranger, group)

    assert response.status_code == 404
    assert not Bot.objects.exists()


def test_bot_for_another_orgs_conversation_is_not_found(api, owner, outsider):
    theirs = actions.do_create_group(outsider, name="Theirs", member_ids=[])

    response = api(owner).post(
        url(owner.org, "bots/"), {"name": "X", "conversation_id": theirs.pk}, format="json"
    )

    assert response.status_code == 404
    assert "conversation_id" in response.json()["error"]["fields"]
    assert not Bot.objects.exists()


def test_direct_conversations_take_no_bots(api, owner, member):
    direct = actions.do_get_or_create_direct(owner, member.pk)

    response = create_bot(api, owner, direct)

    assert response.status_code == 400
    assert not Bot.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"name": ""},
        {"name": "has @ sign"},
        {"name": "x" * 81},
        {"outgoing_url": "ftp://example.test/"},
        {"outgoing_url": "not a url"},
    ],
)
def test_bad_bot_input_is_refused(api, owner, group, extra):
    response = create_bot(api, owner, group, **extra)

    assert response.status_code == 400
    assert not Bot.objects.exists()


def test_two_active_bots_in_a_group_cannot_share_a_name(api, owner, group):
    assert create_bot(api, owner, group).status_code == 201

    response = create_bot(api, owner, group, name="deploy")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "bot_name_taken"


def test_members_only_see_bots_of_groups_they_manage(api, org, owner, member, admin, group):
    bot_id = create_bot(api, owner, group).json()["bot"]["id"]

    assert api(member).get(url(org, "bots/")).json()["results"] == []
    assert api(member).get(url(org, f"bots/{bot_id}/")).status_code == 404
    assert api(member).delete(url(org, f"bots/{bot_id}/")).status_code == 404
    assert api(member).post(url(org, f"bots/{bot_id}/rotate/")).status_code == 404
    assert [b["id"] for b in api(admin).get(url(org, "bots/")).json()["results"]] == [bot_id]
    assert Bot.objects.get(pk=bot_id).is_active


def test_delete_deactivates_the_bot_and_its_webhook_stops(api, org, owner, group):
    created = create_bot(api, owner, group).json()

    response = api(owner).delete(url(org, f"bots/{created['bot']['id']}/"))

    assert response.status_code == 204
    bot = Bot.objects.get(pk=created["bot"]["id"])
    assert not bot.is_active
    hook = post_hook(hook_path(created), {"text": "still here?"})
    assert hook.status_code == 404
    assert hook.json()["error"]["code"] == "not_found"
    assert messages(group) == []
    assert api(owner).get(url(org, f"bots/{bot.pk}/")).json()["is_active"] is False


def test_rotate_issues_a_new_key_and_secret_and_the_old_key_stops(api, org, owner, group):
    created = create_bot(api, owner, group).json()

    response = api(owner).post(url(org, f"bots/{created['bot']['id']}/rotate/"))

    assert response.status_code == 200
    rotated = response.json()
    assert rotated["incoming_webhook_url"] != created["incoming_webhook_url"]
    assert rotated["signing_secret"] != created["signing_secret"]
    bot = Bot.objects.get(pk=created["bot"]["id"])
    assert bots.decrypt_secret(bot.signing_secret) == rotated["signing_secret"]
    assert post_hook(hook_path(created), {"text": "old"}).status_code == 404
    assert post_hook(hook_path(rotated), {"text": "new"}).status_code == 200
    assert [m.body for m in messages(group)] == ["new"]


def test_an_inactive_bot_cannot_be_rotated(api, org, owner, group):
    bot_id = create_bot(api, owner, group).json()["bot"]["id"]
    api(owner).delete(url(org, f"bots/{bot_id}/"))

    response = api(owner).post(url(org, f"bots/{bot_id}/rotate/"))

    assert response.status_code == 409


# --- Incoming webhooks ------------------------------------------------------------------


@pytest.fixture
def hook(api, owner, group) -> str:
    return hook_path(create_bot(api, owner, group).json())


def test_incoming_text_is_posted_by_the_bot(api, org, member, group, hook):
    response = post_hook(hook, {"text": "Build *42* passed"})

    assert response.status_code == 200
    (message,) = messages(group)
    assert response.json() == {"ok": True, "message_id": message.pk}
    assert message.sender is None and message.bot.name == "Deploy"
    assert message.kind == "text" and message.card is None
    assert message.body == "Build *42* passed"
    assert "<em>42</em>" in message.html
    group.refresh_from_db()
    assert group.last_message_id == message.pk and group.last_message_at == message.created_at
    event = Event.objects.get(type="message.created", conversation=group)
    assert event.payload["message"]["id"] == message.pk
    assert event.payload["message"]["bot_id"] == message.bot_id
    seen = api(member).get(url(org, f"conversations/{group.pk}/messages/")).json()
    assert [(m["id"], m["sender"], m["bot"]) for m in seen] == [(message.pk, None, message.bot_id)]
    unread = api(member).get(url(org, "unread/")).json()
    assert unread["total_unread"] == 1


def test_incoming_blocks_become_a_card_owned_by_the_bot(group, hook):
    payload = {
        "text": "fallback only",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Lot 20231104"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Inspection *passed*"},
                "fields": [
                    {"type": "mrkdwn", "text": "*Line*\n3"},
                    {"type": "plain_text", "text": "Grade A"},
                ],
            },
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "QA robot"}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Release"},
                        "action_id": "release",
                        "value": "lot-20231104",
                        "style": "primary",
                    },
                    {"type": "button", "text": {"type": "plain_text", "text": "Hold"}},
                ],
            },
        ],
    }

    response = post_hook(hook, payload)

    assert response.status_code == 200
    (message,) = messages(group)
    assert message.kind == "card"
    assert message.body == "Inspection *passed*"
    assert message.card == {
        "title": "Lot 20231104",
        "fields": [{"label": "Line", "value": "3"}, {"label": "", "value": "Grade A"}],
        "footer": "QA robot",
        "buttons": [
            {
                "action_id": "release",
                "label": "Release",
                "style": "primary",
                "value": "lot-20231104",
            },
            {"action_id": "button-2", "label": "Hold", "style": "default", "value": ""},
        ],
        "owner": {"type": "bot", "id": message.bot_id},
    }


def test_a_client_cannot_forge_the_card_owner(group, hook, owner):
    other = bots.do_create_bot(owner, name="Other", conversation_id=group.pk).bot
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Hi"}}]

    post_hook(hook, {"blocks": blocks, "owner": {"type": "bot", "id": other.pk}})

    (message,) = messages(group)
    assert message.card["owner"]["id"] == message.bot_id != other.pk


def test_incoming_webhook_needs_no_session_or_csrf_token(group, hook, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)

    response = client.post(hook, {"text": "hi"}, content_type="application/json")

    assert response.status_code == 200
    assert messages(group)[0].body == "hi"


def test_unknown_webhook_key_is_a_404_envelope(db):
    response = post_hook("/hooks/not-a-real-key/", {"text": "hi"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b'"just a string"', 400),
        ({}, 400),
        ({"text": ""}, 400),
        ({"text": "   "}, 400),
        ({"text": 42}, 400),
        ({"text": "x" * 10_001}, 400),
        ({"blocks": "nope"}, 400),
        ({"blocks": [{"type": "image", "image_url": "http://x"}]}, 400),
        ({"blocks": [{"type": "divider"}]}, 400),
        ({"blocks": [{"type": "section"}]}, 400),
        ({"blocks": [{"type": "section", "text": {"type": "html", "text": "x"}}]}, 400),
        ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "t" * 151}}]}, 400),
        (
            {
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [{"type": "static_select", "action_id": "s"}],
                    }
                ]
            },
            400,
        ),
        (
            {
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {"type": "button", "text": {"type": "plain_text", "text": "A"}},
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "B"},
                                "action_id": "button-1",
                            },
                        ],
                    }
                ]
            },
            400,
        ),
        ({"text": "big", "padding": "x" * (1024 * 1024)}, 413),
    ],
)
def test_bad_incoming_payloads_are_refused_and_store_nothing(group, hook, payload, status):
    events_before = Event.objects.count()

    response = post_hook(hook, payload)

    assert response.status_code == status, response.content
    assert "error" in response.json()
    assert messages(group) == []
    assert Event.objects.count() == events_before
    group.refresh_from_db()
    assert group.last_message_id == 0


def test_text_of_exactly_10000_characters_is_accepted(group, hook):
    assert post_hook(hook, {"text": "y" * 10_000}).status_code == 200


def test_incoming_webhook_is_throttled_per_key(group, hook, settings):
    settings.TACK_INCOMING_WEBHOOK_RATE = "2/min"

    codes = [post_hook(hook, {"text": f"n{i}"}).status_code for i in range(3)]

    assert codes == [200, 200, 429]
    assert len(messages(group)) == 2


# --- Outgoing bots: @-mentions ----------------------------------------------------------


@pytest.fixture
def outgoing(api, owner, group, receiver) -> Bot:
    created = create_bot(api, owner, group, name="Build Bot", outgoing_url=receiver.url).json()
    receiver.secret = created["signing_secret"]
    return Bot.objects.get(pk=created["bot"]["id"])


def send(api, who, conversation, body: str) -> Any:
    return api(who).post(
        url(conversation.org, f"conversations/{conversation.pk}/messages/"),
        {"body": body},
        format="json",
    )


def test_mentioned_bot_gets_a_signed_call_and_its_reply_is_posted(
    api, member, group, outgoing, receiver, django_capture_on_commit_callbacks
):
    receiver.answer = {"text": "Deploying **main** now"}

    with django_capture_on_commit_callbacks(execute=True):
        response = send(api, member, group, "@build bot please deploy")

    assert response.status_code == 201
    (call,) = receiver.calls
    assert call.signature_ok
    assert call.headers["Content-Type"].startswith("application/json")
    sent = call.json
    assert sent["type"] == "mention"
    assert sent["message"]["id"] == response.json()["id"]
    assert sent["message"]["body"] == "@build bot please deploy"
    assert sent["conversation_id"] == group.pk and sent["org_id"] == group.org_id
    assert sent["bot"] == {"id": outgoing.pk, "name": "Build Bot"}
    assert sent["member"] == {"id": member.pk, "display_name": member.user.display_name}
    _human, reply = messages(group)
    assert reply.bot == outgoing and reply.sender is None
    assert reply.body == "Deploying **main** now"
    assert "<strong>main</strong>" in reply.html


def test_a_message_that_does_not_mention_the_bot_is_not_sent_to_it(
    api, member, group, outgoing, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(api, member, group, "the build bot is slow; mail me at ops@Build Bot")
        send(api, member, group, "@Build Botany is not a bot")

    assert receiver.calls == []
    assert len(messages(group)) == 2


def test_a_bot_in_another_group_does_not_hear_mentions_here(
    api, owner, member, group, receiver, django_capture_on_commit_callbacks
):
    elsewhere = actions.do_create_group(owner, name="Elsewhere", member_ids=[])
    bots.do_create_bot(
        owner, name="Build Bot", conversation_id=elsewhere.pk, outgoing_url=receiver.url
    )

    with django_capture_on_commit_callbacks(execute=True):
        send(api, member, group, "@Build Bot hello?")

    assert receiver.calls == []


def test_an_unreachable_bot_never_breaks_sending(
    api, owner, member, group, django_capture_on_commit_callbacks
):
    bots.do_create_bot(
        owner, name="Ghost", conversation_id=group.pk, outgoing_url=closed_port_url()
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = send(api, member, group, "@Ghost are you there")

    assert response.status_code == 201
    assert [m.body for m in messages(group)] == ["@Ghost are you there"]


def test_a_deactivated_bot_hears_nothing(
    api, org, owner, member, group, outgoing, receiver, django_capture_on_commit_callbacks
):
    api(owner).delete(url(org, f"bots/{outgoing.pk}/"))

    with django_capture_on_commit_callbacks(execute=True):
        send(api, member, group, "@Build Bot hi")

    assert receiver.calls == []


def test_a_bot_answering_with_an_error_posts_nothing(
    api, member, group, outgoing, receiver, django_capture_on_commit_callbacks
):
    receiver.secret = "not-the-secret"  # the receiver rejects our signature: 401
    receiver.answer = {"text": "should not appear"}

    with django_capture_on_commit_callbacks(execute=True):
        send(api, member, group, "@Build Bot hi")

    assert len(receiver.calls) == 1 and not receiver.calls[0].signature_ok
    assert [m.body for m in messages(group)] == ["@Build Bot hi"]


def test_the_mention_task_is_registered_with_celery():
    from config.celery import app

    assert "im.bots.deliver_mention" in app.tasks


def test_bot_messages_carry_the_bot_name_for_display(api, org, owner, add_member):
    from im.actions import do_create_group
    from im.bots import do_create_bot, do_post_bot_message

    group = do_create_group(owner, name="Lab", member_ids=[add_member(org).pk])
    bot = do_create_bot(owner, name="Lab Monitor", conversation_id=group.pk).bot
    do_post_bot_message(bot, group, text="Results ready")
    listed = api(owner).get(f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/messages/").json()
    assert [(m["bot_name"], m["body"]) for m in listed if m["bot"]] == [
        ("Lab Monitor", "Results ready")
    ]


# --- Outgoing URLs may not reach into our own network (core.netguard) --------------------


def test_a_bot_aimed_at_the_metadata_service_is_refused(api, owner, group, settings):
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False

    response = create_bot(api, owner, group, outgoing_url="http://169.254.169.254/")

    assert response.status_code == 400
    assert "outgoing_url" in response.json()["error"]["fields"]
    assert not Bot.objects.exists()
    assert not AuditLogEntry.objects.filter(action="bot.create").exists()


def test_a_bot_whose_target_became_private_is_not_called(
    api, member, group, outgoing, receiver, settings, django_capture_on_commit_callbacks
):
    receiver.answer = {"text": "should not appear"}
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False  # as if its DNS now said 127.0.0.1

    with django_capture_on_commit_callbacks(execute=True):
        response = send(api, member, group, "@Build Bot hi")

    assert response.status_code == 201
    assert receiver.calls == []
    assert [m.body for m in messages(group)] == ["@Build Bot hi"]


def test_a_card_whose_owner_became_private_is_unavailable_and_not_called(
    member, group, outgoing, receiver, settings
):
    card = {"title": "Lot", "buttons": [{"action_id": "go", "label": "Go"}]}
    message = bots.do_post_bot_message(outgoing, group, card=card)
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False

    from core.errors import Conflict

    with pytest.raises(Conflict) as caught:
        bots.do_card_action(member, message, "go")

    assert caught.value.code == "card_owner_unavailable"
    assert receiver.calls == []


def _fake_dns(monkeypatch, name: str, address: str) -> list[str]:
    """``name`` resolves to ``address``; IP literals as usual; anything else fails."""
    import socket

    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_the_call_goes_to_the_vetted_address_with_the_original_host_header(
    owner, member, group, receiver, monkeypatch
):
    port = receiver.url.split(":")[2].split("/")[0]
    asked = _fake_dns(monkeypatch, "bot.example.test", "127.0.0.1")
    created = bots.do_create_bot(
        owner,
        name="Named",
        conversation_id=group.pk,
        outgoing_url=f"http://bot.example.test:{port}/tack",
    )
    receiver.secret = created.signing_secret
    asked.clear()

    assert bots.call_bot(created.bot, {"type": "ping"}) == {}

    (call,) = receiver.calls
    assert call.signature_ok
    assert call.headers["Host"] == f"bot.example.test:{port}"
    # Resolved once, for the check; the connection went to the address that was checked.
    assert asked.count("bot.example.test") == 1


def test_https_calls_keep_the_host_name_for_sni_and_the_certificate(
    owner, group, monkeypatch, tmp_path
):
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bot.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bot.example.test")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    state = BotReceiver()
    server_names: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def note_sni(_sock: Any, sni: str | None, _context: Any) -> None:
        server_names.append(sni)

    context.sni_callback = note_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        _fake_dns(monkeypatch, "bot.example.test", "127.0.0.1")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
        created = bots.do_create_bot(
            owner,
            name="Secure",
            conversation_id=group.pk,
            outgoing_url=f"https://bot.example.test:{port}/tack",
        )
        state.secret = created.signing_secret
        state.answer = {"ok": True}

        assert bots.call_bot(created.bot, {"type": "ping"}) == {"ok": True}
    finally:
        server.shutdown()
        server.server_close()

    (call,) = state.calls
    assert call.signature_ok
    assert call.headers["Host"] == f"bot.example.test:{port}"
    assert server_names == ["bot.example.test"]
