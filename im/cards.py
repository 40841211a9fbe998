"""Interactive cards: the schema every stored card obeys, and Slack blocks → card.

A card is plain data (``title``, ``fields``, ``buttons``, ``footer``) plus an ``owner``
the server sets: the bot that receives the card's button clicks. Every string is plain
text with a length limit; clients render it escaped, never as HTML or markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

# No type stubs are installed for jsonschema (types-jsonschema would add them).
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import (  # type: ignore[import-untyped]
    ValidationError as SchemaError,
)

from core.errors import ValidationFailed

if TYPE_CHECKING:
    from core.models import Membership
    from im.models import Message

#: In-process card owners: ``Bot.handler`` → ``(actor, message, button) -> (reply_text, card)``.
#: Consulted by ``im.bots.do_card_action`` before any HTTP call. ``card`` None keeps the
#: card as it is now (the handler may have updated it itself); a blank text posts no reply.
#: Domain errors the handler raises (409, 403, ...) reach the clicking member unchanged.
CardHandler = Callable[["Membership", "Message", dict[str, Any]], tuple[str, dict[str, Any] | None]]
CARD_HANDLERS: dict[str, CardHandler] = {}

TITLE_MAX = 150
FOOTER_MAX = 300
FIELDS_MAX = 20
FIELD_LABEL_MAX = 100
FIELD_VALUE_MAX = 2000
BUTTONS_MAX = 10
ACTION_ID_MAX = 255
BUTTON_LABEL_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_STYLES = ("primary", "danger", "default")


def _text(max_length: int, *, min_length: int = 0) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


CARD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tack.invalid/schemas/card.json",
    "title": "Tack card",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": _text(TITLE_MAX),
        "fields": {
            "type": "array",
            "maxItems": FIELDS_MAX,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["label", "value"],
                "properties": {
                    "label": _text(FIELD_LABEL_MAX),
                    "value": _text(FIELD_VALUE_MAX),
                },
            },
        },
        "buttons": {
            "type": "array",
            "maxItems": BUTTONS_MAX,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["action_id", "label"],
                "properties": {
                    "action_id": _text(ACTION_ID_MAX, min_length=1),
                    "label": _text(BUTTON_LABEL_MAX, min_length=1),
                    "style": {"enum": list(BUTTON_STYLES)},
                    "value": _text(BUTTON_VALUE_MAX),
                },
            },
        },
        "footer": _text(FOOTER_MAX),
        "owner": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "id"],
            "properties": {
                "type": {"const": "bot"},
                "id": {"type": "integer", "minimum": 1},
            },
        },
    },
}

Draft202012Validator.check_schema(CARD_SCHEMA)
_validator = Draft202012Validator(CARD_SCHEMA)


def _path(error: SchemaError) -> str:
    parts = ["card"]
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)


def check_card(card: Any, *, owner_bot_id: int) -> dict[str, Any]:
    """A valid card owned by bot ``owner_bot_id`` (any ``owner`` supplied is replaced)."""
    if not isinstance(card, dict):
        raise ValidationFailed(
            _("A card must be a JSON object."), fields={"card": [_("Not an object.")]}
        )
    checked: dict[str, Any] = {**card, "owner": {"type": "bot", "id": owner_bot_id}}
    errors = sorted(_validator.iter_errors(checked), key=lambda e: list(e.absolute_path))
    if errors:
        raise ValidationFailed(
            _("The card is not valid."),
            code="invalid_card",
            fields={_path(e): [e.message] for e in errors[:20]},
        )
    action_ids = [b["action_id"] for b in checked.get("buttons", [])]
    if len(action_ids) != len(set(action_ids)):
        raise ValidationFailed(
            _("Each button on a card needs its own action_id."),
            code="invalid_card",
            fields={"card.buttons": [_("Duplicate action_id.")]},
        )
    for button in checked.get("buttons", []):
        button.setdefault("style", "default")
        button.setdefault("value", "")
    return checked


def card_button(card: dict[str, Any] | None, action_id: str) -> dict[str, Any] | None:
    for button in (card or {}).get("buttons", []):
        if button.get("action_id") == action_id:
            return dict(button)
    return None


def card_owner_id(card: dict[str, Any] | None) -> int | None:
    owner = (card or {}).get("owner") or {}
    owner_id = owner.get("id") if owner.get("type") == "bot" else None
    return owner_id if isinstance(owner_id, int) else None


# --- Slack-compatible blocks ------------------------------------------------------------


class _Blocks:
    """Collects what a list of Slack blocks says, reporting errors by path."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.card: dict[str, Any] = {}
        self.errors: dict[str, list[str]] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def text_of(self, obj: Any, path: str) -> str | None:
        """The text of a Slack text object ``{"type": "mrkdwn"|"plain_text", "text": ...}``."""
        if (
            not isinstance(obj, dict)
            or obj.get("type") not in ("mrkdwn", "plain_text")
            or not isinstance(obj.get("text"), str)
        ):
            self.fail(path, _("Expected a text object with type mrkdwn or plain_text."))
            return None
        text: str = obj["text"]
        return text

    def header(self, block: dict[str, Any], path: str) -> None:
        text = self.text_of(block.get("text"), f"{path}.text")
        if text is not None and "title" not in self.card:
            self.card["title"] = text.strip()

    def section(self, block: dict[str, Any], path: str) -> None:
        if "text" in block:
            text = self.text_of(block["text"], f"{path}.text")
            if text is not None and text.strip():
                self.texts.append(text)
        fields = block.get("fields", [])
        if not isinstance(fields, list):
            self.fail(f"{path}.fields", _("Expected a list."))
            return
        for i, field in enumerate(fields):
            text = self.text_of(field, f"{path}.fields[{i}]")
            if text is not None:
                self.card.setdefault("fields", []).append(_field(text))
        if "text" not in block and not fields:
            self.fail(path, _("A section needs text or fields."))

    def context(self, block: dict[str, Any], path: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{path}.elements", _("Expected a non-empty list."))
            return
        parts = []
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") == "image":
                continue  # images are not shown on cards; their alt text would only repeat
            text = self.text_of(element, f"{path}.elements[{i}]")
            if text is not None and text.strip():
                parts.append(text.strip())
        if parts:
            footer = self.card.get("footer")
            self.card["footer"] = " · ".join([footer, *parts] if footer else parts)

    def actions(self, block: dict[str, Any], path: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{path}.elements", _("Expected a non-empty list."))
            return
        for i, element in enumerate(elements):
            where = f"{path}.elements[{i}]"
            if not isinstance(element, dict) or element.get("type") != "button":
                self.fail(where, _("Only buttons are supported in actions blocks."))
                continue
            label = self.text_of(element.get("text"), f"{where}.text")
            buttons = self.card.setdefault("buttons", [])
            action_id = element.get("action_id", f"button-{len(buttons) + 1}")
            value = element.get("value", "")
            style = element.get("style", "default")
            if not isinstance(action_id, str) or not isinstance(value, str):
                self.fail(where, _("action_id and value must be strings."))
                continue
            if style not in BUTTON_STYLES:
                self.fail(f"{where}.style", _("Must be primary or danger."))
                continue
            if label is not None:
                buttons.append(
                    {"action_id": action_id, "label": label, "style": style, "value": value}
                )


def _field(text: str) -> dict[str, str]:
    """Slack fields are one text; ``*Label*\\nvalue`` becomes a label and a value."""
    head, newline, rest = text.partition("\n")
    if not newline:
        return {"label": "", "value": text.strip()}
    return {"label": head.strip().strip("*_").strip(), "value": rest.strip()}


_BLOCK_TYPES = {"header", "section", "divider", "context", "actions"}
MAX_BLOCKS = 50


def blocks_to_message(blocks: Any) -> tuple[str, dict[str, Any] | None]:
    """Slack ``blocks`` → (text from sections, card or None). The card has no owner yet.

    Headers give the title, section fields the card's fields, context the footer,
    actions' buttons the buttons; section text is the message text. Dividers are dropped.
    """
    if not isinstance(blocks, list):
        raise ValidationFailed(_("blocks must be a list."), fields={"blocks": [_("Not a list.")]})
    if len(blocks) > MAX_BLOCKS:
        raise ValidationFailed(
            _("At most %(n)s blocks are allowed.") % {"n": MAX_BLOCKS},
            fields={"blocks": [_("Too many.")]},
        )
    found = _Blocks()
    for i, block in enumerate(blocks):
        path = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in _BLOCK_TYPES:
            found.fail(
                f"{path}.type",
                _("Unsupported block type; use one of: %(types)s.")
                % {"types": ", ".join(sorted(_BLOCK_TYPES))},
            )
            continue
        assert isinstance(block, dict)
        if kind != "divider":
            getattr(found, kind)(block, path)
    if found.errors:
        raise ValidationFailed(
            _("The blocks are not valid."), code="invalid_blocks", fields=found.errors
        )
    text = "\n\n".join(found.texts)
    return text, (found.card or None)
