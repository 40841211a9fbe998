"""Bots: incoming webhooks, signed outgoing calls, and interactive card actions.

A bot belongs to one conversation. It may post there through its incoming webhook
(``POST /hooks/<key>/``, Slack-compatible, see ``im.webhooks``), and it may have an
``outgoing_url`` that Tack calls, signed, when a member @-mentions it or clicks one of
its card's buttons. Only a SHA-256 of the incoming key is stored; the signing secret is
needed again to sign each call, so it is stored encrypted (Fernet, with a key derived
from ``SECRET_KEY``). Both are shown once, when created or rotated.

Signature: ``X-Tack-Signature: v1=<hex HMAC-SHA256(secret, "<X-Tack-Timestamp>.<raw body>")>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter

from core.access import as_id
from core.audit import record_audit
from core.auth import hash_token
from core.crypto import UndecryptableSecret, decrypt, encrypt
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Membership
from core.netguard import UnresolvableHost, check_public_url, resolve_public_address
from core.permissions import has_permission
from im.actions import (
    ALL_MENTION,
    MAX_MESSAGE_CHARS,
    check_message_body,
    message_payload,
)
from im.cards import CARD_HANDLERS, blocks_to_message, card_button, card_owner_id, check_card
from im.events import record_event
from im.models import Bot, Conversation, ConversationMember, Message
from im.rendering import render_markdown

logger = logging.getLogger("tack.bots")

MANAGE_PERMISSION = "core.member.update"
OUTGOING_TIMEOUT_SECONDS = 5
MAX_REPLY_BYTES = 256 * 1024
MENTION_RETRIES = 3
BOT_NAME_MAX = 80


class BotUnavailable(Exception):
    """The bot's outgoing endpoint failed, timed out or answered nonsense."""


class BotTargetRefused(BotUnavailable):
    """The outgoing URL (now) points into a private network: not called, not retried."""


# --- Secrets ----------------------------------------------------------------------------


_SALT, _INFO = b"tack.im.bots", b"bot signing secret at rest"


def encrypt_secret(raw: str) -> str:
    return encrypt(raw, salt=_SALT, info=_INFO)


def decrypt_secret(stored: str) -> str:
    try:
        return decrypt(stored, salt=_SALT, info=_INFO)
    except UndecryptableSecret as exc:
        raise BotUnavailable("signing secret cannot be decrypted (SECRET_KEY changed?)") from exc


def new_incoming_key() -> str:
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    # 176 bits; 30 characters, so its Fernet token (120 characters) fits the column.
    return secrets.token_urlsafe(22)


def incoming_webhook_url(key: str) -> str:
    return f"{settings.TACK_PUBLIC_URL.rstrip('/')}/hooks/{key}/"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Tack-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


@dataclass(frozen=True)
class BotCredentials:
    """What the creator sees once: the webhook URL (holding the key) and the signing secret."""

    bot: Bot
    incoming_key: str
    signing_secret: str

    @property
    def incoming_webhook_url(self) -> str:
        return incoming_webhook_url(self.incoming_key)


# --- Access -----------------------------------------------------------------------------


def manageable_bots(member: Membership, bots: QuerySet[Bot] | None = None) -> QuerySet[Bot]:
    """Bots ``member`` may see and manage: all of the organisation's for admins, else the
    bots of conversations ``member`` owns or administers."""
    bots = Bot.objects.all() if bots is None else bots
    bots = bots.filter(org_id=member.org_id).select_related("conversation")
    if has_permission(member, MANAGE_PERMISSION):
        return bots
    manages = ConversationMember.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        membership=member,
        role__in=[ConversationMember.Role.OWNER, ConversationMember.Role.ADMIN],
    )
    return bots.filter(Exists(manages))


def access_bot(member: Membership, bot_id: Any) -> Bot:
    bot = manageable_bots(member).filter(pk=as_id(bot_id)).first()
    if bot is None:
        raise NotFound(_("Bot not found."))
    return bot


def check_may_manage_bots(actor: Membership, conversation: Conversation) -> None:
    if has_permission(actor, MANAGE_PERMISSION):
        return
    role = (
        ConversationMember.objects.filter(conversation=conversation, membership=actor)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise NotFound(_("Conversation not found."), fields={"conversation_id": [_("Not found.")]})
    if role not in (ConversationMember.Role.OWNER, ConversationMember.Role.ADMIN):
        raise Forbidden(
            _(
                "Only the conversation's owner and admins, or organisation admins, "
                "can manage its bots."
            )
        )


# --- Managing bots ----------------------------------------------------------------------


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > BOT_NAME_MAX or "@" in name or any(c in name for c in "\r\n\t"):
        raise ValidationFailed(
            _("A bot needs a name of at most %(n)s characters, without @ or line breaks.")
            % {"n": BOT_NAME_MAX},
            fields={"name": [_("Invalid.")]},
        )
    return name


def _check_outgoing_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        raise ValidationFailed(
            _("The outgoing URL must be an http or https address."),
            fields={"outgoing_url": [_("Invalid URL.")]},
        ) from None
    if len(url) > Bot._meta.get_field("outgoing_url").max_length:  # type: ignore[operator]
        raise ValidationFailed(
            _("The outgoing URL is too long."), fields={"outgoing_url": [_("Too long.")]}
        )
    # Not into our own network (SSRF); checked again before every call, see call_bot.
    check_public_url(url, field="outgoing_url")
    return url


@transaction.atomic
def do_create_bot(
    actor: Membership,
    *,
    name: str,
    conversation_id: int,
    outgoing_url: str = "",
    ip: str | None = None,
) -> BotCredentials:
    conversation = Conversation.objects.filter(org_id=actor.org_id, pk=conversation_id).first()
    if conversation is None:
        raise NotFound(_("Conversation not found."), fields={"conversation_id": [_("Not found.")]})
    check_may_manage_bots(actor, conversation)
    if conversation.kind == Conversation.Kind.DIRECT:
        raise ValidationFailed(
            _("Bots can only be added to group conversations."),
            fields={"conversation_id": [_("A direct conversation.")]},
        )
    name = _check_name(name)
    outgoing_url = _check_outgoing_url(outgoing_url)
    if Bot.objects.filter(conversation=conversation, is_active=True, name__iexact=name).exists():
        raise Conflict(
            _("This conversation already has a bot with that name."), code="bot_name_taken"
        )
    key, secret = new_incoming_key(), new_signing_secret()
    bot = Bot.objects.create(
        org_id=actor.org_id,
        name=name,
        conversation=conversation,
        created_by=actor.user,
        incoming_key_hash=hash_token(key),
        outgoing_url=outgoing_url,
        signing_secret=encrypt_secret(secret),
    )
    record_audit(
        actor.org,
        actor.user,
        "bot.create",
        bot,
        data={"conversation_id": conversation.pk, "outgoing_url": outgoing_url},
        ip=ip,
    )
    return BotCredentials(bot=bot, incoming_key=key, signing_secret=secret)


@transaction.atomic
def do_deactivate_bot(actor: Membership, bot: Bot, *, ip: str | None = None) -> Bot:
    if bot.conversation is not None:
        check_may_manage_bots(actor, bot.conversation)
    if bot.is_active:
        bot.is_active = False
        bot.save(update_fields=["is_active"])
        record_audit(actor.org, actor.user, "bot.deactivate", bot, ip=ip)
    return bot


@transaction.atomic
def do_rotate_bot_secrets(actor: Membership, bot: Bot, *, ip: str | None = None) -> BotCredentials:
    """A new incoming key and signing secret; the old ones stop working at once."""
    if bot.conversation is not None:
        check_may_manage_bots(actor, bot.conversation)
    if not bot.is_active:
        raise Conflict(_("This bot has been removed."), code="bot_inactive")
    key, secret = new_incoming_key(), new_signing_secret()
    bot.incoming_key_hash = hash_token(key)
    bot.signing_secret = encrypt_secret(secret)
    bot.save(update_fields=["incoming_key_hash", "signing_secret"])
    record_audit(actor.org, actor.user, "bot.rotate", bot, ip=ip)
    return BotCredentials(bot=bot, incoming_key=key, signing_secret=secret)


# --- Posting as a bot -------------------------------------------------------------------


@transaction.atomic
def do_post_bot_message(
    bot: Bot,
    conversation: Conversation,
    *,
    text: str = "",
    card: dict[str, Any] | None = None,
) -> Message:
    """Post ``text`` and/or ``card`` (owned by ``bot``) into the bot's conversation."""
    if not bot.is_active:
        raise NotFound(_("Bot not found."))
    if bot.conversation_id != conversation.pk:
        raise Forbidden(_("A bot can only post in its own conversation."))
    check_message_body(text, has_other_content=card is not None)
    if card is not None:
        card = check_card(card, owner_bot_id=bot.pk)
    message = Message.objects.create(
        org_id=bot.org_id,
        conversation=conversation,
        sender=None,
        bot=bot,
        kind=Message.Kind.CARD if card is not None else Message.Kind.TEXT,
        body=text,
        html=render_markdown(text) if text else "",
        card=card,
        mentions_all=bool(ALL_MENTION.search(text)) and conversation.is_group,
    )
    Conversation.objects.filter(pk=conversation.pk, last_message_id__lt=message.pk).update(
        last_message_id=message.pk, last_message_at=message.created_at
    )
    payload = message_payload(message)
    payload["mention_ids"] = []
    record_event(conversation, "message.created", {"message": payload})
    return message


def do_receive_incoming(key: str, raw_body: bytes) -> Message:
    """An incoming webhook call: Slack-compatible ``{"text"}`` and/or ``{"blocks"}``."""
    bot = (
        Bot.objects.select_related("conversation")
        .filter(incoming_key_hash=hash_token(key), is_active=True, conversation__isnull=False)
        .first()
    )
    if bot is None or bot.conversation is None:
        raise NotFound(_("Unknown webhook."))
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            _("The body must be a JSON object."), code="malformed_request"
        ) from None
    if not isinstance(payload, dict):
        raise ValidationFailed(_("The body must be a JSON object."), code="malformed_request")
    text, blocks = payload.get("text"), payload.get("blocks")
    if text is None and blocks is None:
        raise ValidationFailed(
            _("Send text, blocks or both."),
            fields={"text": [_("Required without blocks.")]},
        )
    if text is not None and not isinstance(text, str):
        raise ValidationFailed(_("text must be a string."), fields={"text": [_("Not a string.")]})
    if text is not None and len(text) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            _("A message may be at most %(n)s characters.") % {"n": f"{MAX_MESSAGE_CHARS:,}"},
            code="too_long",
            fields={"text": [_("Too long.")]},
        )
    body, card = blocks_to_message(blocks) if blocks is not None else ("", None)
    # As in Slack, text is the fallback when the blocks carry their own text.
    body = body or text or ""
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            _("A message may be at most %(n)s characters.") % {"n": f"{MAX_MESSAGE_CHARS:,}"},
            code="too_long",
            fields={"blocks": [_("Too long.")]},
        )
    return do_post_bot_message(bot, bot.conversation, text=body, card=card)


# --- Calling a bot ----------------------------------------------------------------------


class _PinnedTLSAdapter(HTTPAdapter):
    """For a URL whose host was replaced by its vetted address: TLS still sends the original
    host name (SNI) and checks the certificate against it."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
        pool_kwargs["server_hostname"] = self._hostname
        pool_kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["server_hostname"] = self._hostname
        proxy_kwargs["assert_hostname"] = self._hostname
        return super().proxy_manager_for(proxy, **proxy_kwargs)


def _pinned_request(url: str) -> tuple[str, str, requests.Session]:
    """Vet ``url``'s host now and pin it: the URL to request (host replaced by the vetted
    address), the Host header to send, and a session that does TLS for the original name.

    Connecting to the address that was checked, rather than letting ``requests`` resolve
    the name again, leaves no window for DNS rebinding (a name that resolves to a public
    address for the check and to a private one for the connection).
    """
    try:
        address = resolve_public_address(url, field="outgoing_url")
    except UnresolvableHost as exc:
        raise BotUnavailable(f"outgoing URL host does not resolve: {exc.message}") from None
    except ValidationFailed as exc:
        raise BotTargetRefused(f"outgoing URL refused: {exc.message}") from None
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    with contextlib.suppress(UnicodeError):  # else resolved all the same; left as is
        hostname = hostname.encode("idna").decode("ascii")
    literal = f"[{address}]" if ":" in address else address
    host_header = f"[{hostname}]" if ":" in hostname else hostname
    if parts.port is not None:
        literal, host_header = f"{literal}:{parts.port}", f"{host_header}:{parts.port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{literal}" if userinfo else literal
    session = requests.Session()
    if parts.scheme.lower() == "https":
        session.mount("https://", _PinnedTLSAdapter(hostname))
    return urlunsplit(parts._replace(netloc=netloc)), host_header, session


def call_bot(bot: Bot, payload: dict[str, Any]) -> dict[str, Any]:
    """POST ``payload`` signed to the bot's outgoing URL; its JSON answer (``{}`` if empty).

    The URL's host is resolved and vetted (public addresses only, ``core.netguard``) at each
    call, so a DNS change after the bot was created is caught.
    """
    if not bot.outgoing_url or not bot.signing_secret:
        raise BotUnavailable("no outgoing URL")
    target, host_header, session = _pinned_request(bot.outgoing_url)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Tack-Bots/1",
        "X-Tack-Timestamp": timestamp,
        "X-Tack-Signature": sign(decrypt_secret(bot.signing_secret), timestamp, body),
        "Host": host_header,
    }
    try:
        with (
            session,
            session.post(
                target,
                data=body,
                headers=headers,
                timeout=OUTGOING_TIMEOUT_SECONDS,
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            if not 200 <= response.status_code < 300:
                raise BotUnavailable(f"answered {response.status_code}")
            raw = b""
            for chunk in response.iter_content(64 * 1024):
                raw += chunk
                if len(raw) > MAX_REPLY_BYTES:
                    raise BotUnavailable("answer too large")
    except requests.RequestException as exc:
        raise BotUnavailable(str(exc)) from exc
    if not raw.strip():
        return {}
    try:
        answer = json.loads(raw)
    except ValueError:
        raise BotUnavailable("answer is not JSON") from None
    if not isinstance(answer, dict):
        raise BotUnavailable("answer is not a JSON object")
    return answer


def _member_brief(member: Membership) -> dict[str, Any]:
    return {"id": member.pk, "display_name": member.user.display_name}


def _reply_text(answer: dict[str, Any]) -> str:
    text = answer.get("text")
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        raise BotUnavailable("text must be a string of at most 10,000 characters")
    return text if text.strip() else ""


@dataclass(frozen=True)
class CardActionResult:
    message: Message
    reply: Message | None


def do_card_action(actor: Membership, message: Message, action_id: str) -> CardActionResult:
    """A member clicked a card button: ask the card's owner, then apply its answer.

    The call to the bot happens outside any transaction; nothing changes unless the bot
    answers 2xx with a valid answer.
    """
    conversation = message.conversation
    if not ConversationMember.objects.filter(conversation=conversation, membership=actor).exists():
        raise NotFound(_("Message not found."))
    if message.kind != Message.Kind.CARD or not message.card:
        raise NotFound(_("Card not found."))
    if message.is_recalled:
        raise Conflict(_("This card has been recalled."), code="recalled")
    button = card_button(message.card, action_id)
    if button is None:
        raise ValidationFailed(
            _("This card has no such button."), fields={"action_id": [_("Unknown action.")]}
        )
    unavailable = Conflict(
        _("The bot behind this card did not answer. Try again later."),
        code="card_owner_unavailable",
    )
    owner_id = card_owner_id(message.card)
    bot = (
        Bot.objects.filter(org_id=message.org_id, pk=owner_id, is_active=True).first()
        if owner_id is not None
        else None
    )
    if bot is not None and bot.handler:
        handler = CARD_HANDLERS.get(bot.handler)
        if handler is None:
            raise unavailable
        text, new_card = handler(actor, message, button)
        if new_card is not None:
            new_card = check_card(new_card, owner_bot_id=bot.pk)
        return _apply_card_answer(bot, message, text, new_card)
    if bot is None or not bot.outgoing_url:
        raise unavailable
    payload = {
        "type": "card_action",
        "action_id": action_id,
        "value": button.get("value", ""),
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "org_id": message.org_id,
        "member": _member_brief(actor),
    }
    try:
        answer = call_bot(bot, payload)
        text = _reply_text(answer)
        new_card = check_card(answer["card"], owner_bot_id=bot.pk) if "card" in answer else None
    except (BotUnavailable, ValidationFailed) as exc:
        logger.warning("card action on message %s: bot %s failed: %s", message.pk, bot.pk, exc)
        raise unavailable from None
    return _apply_card_answer(bot, message, text, new_card)


def _apply_card_answer(
    bot: Bot, message: Message, text: str, new_card: dict[str, Any] | None
) -> CardActionResult:
    conversation = message.conversation
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.is_recalled:
            raise Conflict(_("This card has been recalled."), code="recalled")
        if new_card is not None:
            locked.card = new_card
            locked.save(update_fields=["card"])
            record_event(
                conversation, "message.card_updated", {"message_id": locked.pk, "card": new_card}
            )
        reply = do_post_bot_message(bot, conversation, text=text) if text else None
    return CardActionResult(message=locked, reply=reply)


# --- Notice channels: a system bot talking to one member ---------------------------------


@transaction.atomic
def ensure_notice_bot(member: Membership, *, key: str, name: str, handler: str) -> Bot:
    """The bot of ``member``'s one-member notice conversation ``key``, created once.

    The conversation (kind ``notice``, ``direct_key`` ``"<key>:<member id>"``) shows in
    the member's chat list under ``name``; the bot posts there and its card buttons are
    handled in-process by ``CARD_HANDLERS[handler]``.
    """
    channel_key = f"{key}:{member.pk}"
    found = Conversation.objects.filter(
        org_id=member.org_id, kind=Conversation.Kind.NOTICE, direct_key=channel_key
    )
    conversation = found.first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    org_id=member.org_id,
                    kind=Conversation.Kind.NOTICE,
                    direct_key=channel_key,
                    name=name,
                )
        except IntegrityError:
            conversation = found.get()
    if not ConversationMember.objects.filter(conversation=conversation, membership=member).exists():
        from im.actions import _add_members

        _add_members(conversation, [member])
    bot = Bot.objects.filter(conversation=conversation, handler=handler, is_active=True).first()
    if bot is None:
        bot = Bot.objects.create(
            org_id=member.org_id, name=name, conversation=conversation, handler=handler
        )
    return bot


# --- Outgoing bots: @-mentions ----------------------------------------------------------


def mentions_bot(body: str, name: str) -> bool:
    """``@<name>`` not inside a word or address (``a@Deploy`` does not count)."""
    pattern = r"(?<![\w@.])@" + re.escape(name) + r"(?![A-Za-z0-9_])"
    return re.search(pattern, body, flags=re.IGNORECASE) is not None


def on_message_sent(message: Message) -> None:
    """``im.actions.AFTER_SEND_HOOKS``: queue a call to each outgoing bot the message mentions."""
    try:
        # Most messages mention nobody: decided from the text in hand, without a query.
        if message.sender_id is None or "@" not in message.body:
            return
        bots = Bot.objects.filter(conversation_id=message.conversation_id, is_active=True).exclude(
            outgoing_url=""
        )
        for bot in bots:
            if mentions_bot(message.body, bot.name):
                deliver_mention.delay(bot.pk, message.pk)
    except Exception:  # a bot must never break sending
        logger.exception("could not hand message %s to its mentioned bots", message.pk)


def _deliver_mention(task: Any, bot_id: int, message_id: int) -> None:
    bot = Bot.objects.filter(pk=bot_id, is_active=True).select_related("conversation").first()
    message = (
        Message.objects.filter(pk=message_id, recalled_at__isnull=True)
        .select_related("sender__user")
        .first()
    )
    if bot is None or bot.conversation is None or message is None or message.sender is None:
        return
    payload = {
        "type": "mention",
        "message": message_payload(message),
        "conversation_id": message.conversation_id,
        "org_id": message.org_id,
        "bot": {"id": bot.pk, "name": bot.name},
        "member": _member_brief(message.sender),
    }
    try:
        text = _reply_text(call_bot(bot, payload))
    except BotTargetRefused as exc:
        logger.warning("mention of bot %s in %s not delivered: %s", bot_id, message_id, exc)
        return
    except BotUnavailable as exc:
        if task.request.is_eager or task.request.retries >= MENTION_RETRIES:
            logger.warning("mention of bot %s in %s not delivered: %s", bot_id, message_id, exc)
            return
        raise task.retry(exc=exc, countdown=10 * 4**task.request.retries) from exc
    if text:
        do_post_bot_message(bot, bot.conversation, text=text)


#: Celery task (registered when ``im.apps`` imports this module in ``ready()``).
deliver_mention = shared_task(
    bind=True, name="im.bots.deliver_mention", max_retries=MENTION_RETRIES, ignore_result=True
)(_deliver_mention)
