"""Cool apps: an installed app added to a group chat posts and updates interactive cards.

Built on IM bots and cards. Adding an app to a chat creates a ``Bot`` in that conversation
whose ``handler`` is ``marketplace.coolapp`` and a ``CoolAppBinding`` (installation,
conversation, bot). The app, acting as its app member (an OAuth token with
``im:card.write``), posts cards there as that bot and updates them later.

A click on one of its cards is answered synchronously, like any bot's card: Tack POSTs an
``im.card.action`` event, signed in the Standard Webhooks format with the app's webhook
secret, to the ``callback_url`` of the card definition the app was added with (falling
back to the manifest's webhook URL). The app answers 2xx within the timeout with
``{"text"?, "card"?}``: a reply posted by its bot and/or the card's new content. The call
is logged as a delivery (one attempt; a click is not retried, the member clicks again).

Removing the app from the chat, or uninstalling it, deactivates the binding and its bot.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.access import as_id
from core.audit import record_audit
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Membership
from core.permissions import has_permission
from im.actions import MAX_MESSAGE_CHARS
from im.bots import OUTGOING_TIMEOUT_SECONDS, do_post_bot_message
from im.cards import card_owner_id, check_card
from im.events import record_event
from im.models import Bot, Conversation, ConversationMember, Message
from marketplace.models import CoolAppBinding, Installation, WebhookAttempt, WebhookDelivery
from marketplace.webhooks import (
    app_signing_keyring,
    encode_payload,
    post_signed,
    webhook_url,
)

logger = logging.getLogger("tack.marketplace.coolapps")

HANDLER = "marketplace.coolapp"
CARD_SCOPE = "im:card.write"
MANAGE_PERMISSION = "core.member.update"
CARD_ACTION_EVENT = "im.card.action"
_CHAT_KINDS = (Conversation.Kind.GROUP, Conversation.Kind.DEPARTMENT, Conversation.Kind.ALL_STAFF)


# --- Access -----------------------------------------------------------------------------


def bindings_in(member: Membership, conversation: Conversation) -> QuerySet[CoolAppBinding]:
    return (
        CoolAppBinding.objects.filter(
            org_id=member.org_id, conversation=conversation, is_active=True
        )
        .select_related("installation__app", "installation__version", "bot", "added_by__user")
        .order_by("id")
    )


def access_member_binding(member: Membership, binding_id: Any) -> CoolAppBinding:
    """An active app binding in a chat ``member`` is in; anything else is a 404."""
    binding = (
        CoolAppBinding.objects.filter(
            org_id=member.org_id,
            pk=as_id(binding_id),
            is_active=True,
            conversation__members__membership=member,
        )
        .select_related("installation__app", "bot")
        .first()
    )
    if binding is None:
        raise NotFound(_("This app is not in the conversation."))
    return binding


def installation_of_app_member(member: Membership) -> Installation:
    """The active installation whose app account ``member`` is; else 403 (a person)."""
    installation = (
        Installation.objects.filter(
            org_id=member.org_id, app_member=member, status=Installation.Status.ACTIVE
        )
        .select_related("app", "version")
        .first()
    )
    if installation is None:
        raise Forbidden(_("Only an installed app can post app cards."), code="not_an_app")
    return installation


def check_card_scope(installation: Installation) -> None:
    if CARD_SCOPE not in (installation.granted_scopes or []):
        raise Forbidden(
            _("The app has not been granted %(scope)s.") % {"scope": CARD_SCOPE},
            code="insufficient_scope",
        )


# --- Card definitions -------------------------------------------------------------------


def card_definitions(installation: Installation) -> list[dict[str, Any]]:
    manifest = installation.version.manifest if installation.version_id else {}
    cards = manifest.get("cards") if isinstance(manifest, dict) else None
    return [c for c in cards if isinstance(c, dict)] if isinstance(cards, list) else []


def _card_definition(installation: Installation, card_id: str) -> dict[str, Any] | None:
    for card in card_definitions(installation):
        if card.get("id") == card_id:
            return card
    return None


def callback_url(binding: CoolAppBinding) -> str:
    definition = _card_definition(binding.installation, binding.card_id) or {}
    url = definition.get("callback_url")
    return (
        url.strip() if isinstance(url, str) and url.strip() else webhook_url(binding.installation)
    )


# --- Adding and removing ----------------------------------------------------------------


@transaction.atomic
def do_add_cool_app(
    actor: Membership,
    conversation: Conversation,
    *,
    installation_id: Any,
    card_id: str = "",
    ip: str | None = None,
) -> CoolAppBinding:
    """Add an installed app (granted ``im:card.write``) to a group chat ``actor`` is in."""
    if not ConversationMember.objects.filter(conversation=conversation, membership=actor).exists():
        raise NotFound(_("Conversation not found."))
    if conversation.kind not in _CHAT_KINDS:
        raise ValidationFailed(
            _("Apps can only be added to group chats."),
            fields={"conversation": [_("Not a group chat.")]},
        )
    installation = (
        Installation.objects.filter(
            org_id=actor.org_id, pk=as_id(installation_id), status=Installation.Status.ACTIVE
        )
        .select_related("app", "version")
        .first()
    )
    if installation is None:
        raise ValidationFailed(
            _("No such app is installed in this organisation."),
            fields={"installation": [_("Not installed.")]},
        )
    if CARD_SCOPE not in (installation.granted_scopes or []):
        raise ValidationFailed(
            _("This app cannot post cards: it has not been granted %(scope)s.")
            % {"scope": CARD_SCOPE},
            code="insufficient_scope",
            fields={"installation": [_("No card scope.")]},
        )
    definitions = card_definitions(installation)
    card_id = (card_id or "").strip()
    if card_id and _card_definition(installation, card_id) is None:
        raise ValidationFailed(
            _("The app has no card with that id."), fields={"card_id": [_("Unknown card.")]}
        )
    if not card_id and definitions:
        card_id = str(definitions[0].get("id", ""))
    if CoolAppBinding.objects.filter(
        org_id=actor.org_id, installation=installation, conversation=conversation, is_active=True
    ).exists():
        raise Conflict(_("This app is already in the conversation."), code="cool_app_exists")
    bot = Bot.objects.create(
        org_id=actor.org_id,
        name=installation.app.name[:80],
        conversation=conversation,
        created_by=actor.user,
        handler=HANDLER,
    )
    try:
        with transaction.atomic():
            binding = CoolAppBinding.objects.create(
                org_id=actor.org_id,
                installation=installation,
                conversation=conversation,
                bot=bot,
                card_id=card_id[:40],
                added_by=actor,
            )
    except IntegrityError:
        raise Conflict(
            _("This app is already in the conversation."), code="cool_app_exists"
        ) from None
    record_audit(
        actor.org,
        actor.user,
        "marketplace.cool_app.added",
        binding,
        data={"app": installation.app.app_id, "conversation_id": conversation.pk},
        ip=ip,
    )
    return binding


def _check_may_remove(actor: Membership, binding: CoolAppBinding) -> None:
    if binding.added_by_id == actor.pk or has_permission(actor, MANAGE_PERMISSION):
        return
    role = (
        ConversationMember.objects.filter(conversation_id=binding.conversation_id, membership=actor)
        .values_list("role", flat=True)
        .first()
    )
    if role not in (ConversationMember.Role.OWNER, ConversationMember.Role.ADMIN):
        raise Forbidden(
            _("Only whoever added the app, the group's owner and admins can remove it.")
        )


@transaction.atomic
def do_remove_cool_app(
    actor: Membership, binding: CoolAppBinding, *, ip: str | None = None
) -> CoolAppBinding:
    _check_may_remove(actor, binding)
    _deactivate([binding])
    record_audit(
        actor.org,
        actor.user,
        "marketplace.cool_app.removed",
        binding,
        data={"app": binding.installation.app.app_id, "conversation_id": binding.conversation_id},
        ip=ip,
    )
    binding.is_active = False
    return binding


def _deactivate(bindings: list[CoolAppBinding]) -> None:
    if not bindings:
        return
    now = timezone.now()
    CoolAppBinding.objects.filter(pk__in=[b.pk for b in bindings]).update(
        is_active=False, removed_at=now
    )
    Bot.objects.filter(pk__in=[b.bot_id for b in bindings]).update(is_active=False)


def deactivate_installation_bindings(installation: Installation) -> int:
    """The app was uninstalled: it leaves every chat it was in."""
    bindings = list(
        CoolAppBinding.objects.filter(
            org_id=installation.org_id, installation=installation, is_active=True
        )
    )
    _deactivate(bindings)
    return len(bindings)


# --- The app posting and updating cards --------------------------------------------------


def _binding_for_app(installation: Installation, conversation_id: Any) -> CoolAppBinding:
    binding = (
        CoolAppBinding.objects.filter(
            org_id=installation.org_id,
            installation=installation,
            conversation_id=as_id(conversation_id),
            is_active=True,
        )
        .select_related("bot", "conversation")
        .first()
    )
    if binding is None:
        raise NotFound(
            _("The app has not been added to this conversation."),
            fields={"conversation_id": [_("Not found.")]},
        )
    return binding


def do_post_app_card(
    app_member: Membership,
    *,
    conversation_id: Any,
    card: Any,
    text: str = "",
    idempotency_key: str = "",
) -> tuple[Message, bool]:
    """The app posts ``card`` (and optional ``text``) into a chat it was added to;
    ``(message, created)``. A repeated ``idempotency_key`` returns the first message."""
    installation = installation_of_app_member(app_member)
    check_card_scope(installation)
    binding = _binding_for_app(installation, conversation_id)
    if card is None:
        raise ValidationFailed(_("A card is required."), fields={"card": [_("Required.")]})
    with transaction.atomic():
        if idempotency_key:
            # Serialise this bot's keyed posts so a retry racing the first finds it.
            Bot.objects.select_for_update().filter(pk=binding.bot_id).first()
            first = Message.objects.filter(
                org_id=binding.org_id, bot_id=binding.bot_id, client_msg_id=idempotency_key
            ).first()
            if first is not None:
                return first, False
        message = do_post_bot_message(binding.bot, binding.conversation, text=text or "", card=card)
        if idempotency_key:
            message.client_msg_id = idempotency_key
            message.save(update_fields=["client_msg_id"])
    return message, True


def access_app_card(app_member: Membership, message_id: Any) -> tuple[CoolAppBinding, Message]:
    """A card message posted by the caller app's bot; anything else is a 404."""
    installation = installation_of_app_member(app_member)
    message = (
        Message.objects.filter(org_id=app_member.org_id, pk=as_id(message_id))
        .select_related("conversation")
        .first()
    )
    binding = (
        CoolAppBinding.objects.filter(
            org_id=app_member.org_id, installation=installation, bot_id=message.bot_id
        )
        .select_related("bot", "installation")
        .first()
        if message is not None and message.bot_id is not None
        else None
    )
    if message is None or binding is None or message.kind != Message.Kind.CARD:
        raise NotFound(_("Card not found."))
    return binding, message


@transaction.atomic
def do_update_app_card(app_member: Membership, message_id: Any, *, card: Any) -> Message:
    binding, message = access_app_card(app_member, message_id)
    check_card_scope(binding.installation)
    if not binding.is_active or not binding.bot.is_active:
        raise Conflict(
            _("The app has been removed from this conversation."), code="cool_app_removed"
        )
    new_card = check_card(card, owner_bot_id=binding.bot_id)
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.is_recalled:
        raise Conflict(_("This card has been recalled."), code="recalled")
    locked.card = new_card
    locked.save(update_fields=["card"])
    record_event(
        locked.conversation, "message.card_updated", {"message_id": locked.pk, "card": new_card}
    )
    return locked


# --- Card clicks → the app ----------------------------------------------------------------


def _unavailable() -> Conflict:
    return Conflict(
        _("The app behind this card did not answer. Try again later."),
        code="card_owner_unavailable",
    )


def handle_card_action(
    actor: Membership, message: Message, button: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """``im.cards.CARD_HANDLERS[HANDLER]``: send the click to the app, signed; its answer."""
    owner_id = card_owner_id(message.card)
    binding = (
        CoolAppBinding.objects.filter(org_id=message.org_id, bot_id=owner_id, is_active=True)
        .select_related("installation__app", "installation__version")
        .first()
        if owner_id is not None
        else None
    )
    if binding is None or not binding.installation.is_active:
        raise _unavailable()
    installation = binding.installation
    url = callback_url(binding)
    if not url or CARD_SCOPE not in (installation.granted_scopes or []):
        raise _unavailable()
    from marketplace.events import new_message_id

    now = timezone.now()
    payload = {
        "type": CARD_ACTION_EVENT,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {
            "org_id": message.org_id,
            "installation_id": installation.pk,
            "conversation_id": message.conversation_id,
            "message_id": message.pk,
            "card_id": binding.card_id,
            "action_id": button.get("action_id", ""),
            "value": button.get("value", ""),
            "member": {"id": actor.pk, "display_name": actor.user.display_name},
        },
    }
    delivery = WebhookDelivery(
        org_id=message.org_id,
        installation=installation,
        app_id=installation.app_id,
        message_id=new_message_id(),
        event_type=CARD_ACTION_EVENT,
        payload=payload,
        created_at=now,
        attempts=1,
        last_attempt_at=now,
    )
    # A member is waiting for the click's answer: the bots' timeout, not the webhooks'.
    result = post_signed(
        url,
        app_signing_keyring(installation.app),
        delivery.message_id,
        encode_payload(payload),
        timeout=OUTGOING_TIMEOUT_SECONDS,
    )
    answer: dict[str, Any] | None = None
    error = result.error
    if result.succeeded:
        answer, error = _parse_answer(result.body, result.response_complete, binding.bot_id)
    delivery.last_status_code = result.status_code
    delivery.last_error = error[:300]
    if error:
        delivery.status, delivery.failed_at = WebhookDelivery.Status.FAILED, timezone.now()
    else:
        delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
    with transaction.atomic():
        delivery.save()
        WebhookAttempt.objects.create(
            org_id=delivery.org_id,
            delivery=delivery,
            number=1,
            attempted_at=now,
            url=url[:500],
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            succeeded=not error,
            error=error[:300],
            response_body=result.response_body,
        )
    if error or answer is None:
        logger.warning(
            "card action on message %s: app %s failed: %s", message.pk, installation.app_id, error
        )
        raise _unavailable()
    return answer.get("text") or "", answer.get("card")


def _parse_answer(body: bytes, complete: bool, bot_id: int) -> tuple[dict[str, Any] | None, str]:
    """The app's answer ``{"text"?, "card"?}`` checked (card owned by ``bot_id``), or the
    reason it cannot be used."""
    if not body.strip():
        return {}, ""
    if not complete:
        return None, "the answer is too large"
    try:
        answer = json.loads(body)
    except ValueError:
        return None, "the answer is not JSON"
    if not isinstance(answer, dict):
        return None, "the answer is not a JSON object"
    text = answer.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS):
        return None, f"text must be a string of at most {MAX_MESSAGE_CHARS} characters"
    card = None
    if answer.get("card") is not None:
        try:
            card = check_card(answer["card"], owner_bot_id=bot_id)
        except ValidationFailed as exc:
            return None, f"invalid card: {exc.fields}"[:300]
    return {"text": (text or "").strip() and text, "card": card}, ""
