"""The app manifest: its JSON Schema (published in ``docs/partners/``) and its validation.

A manifest describes one version of an app: its reverse-DNS ``id``, name, description,
icon, semantic ``version``, categories, the ``scopes`` it asks for, its webhook and the
events it subscribes to, its chat cards ("cool apps"), OAuth redirect URIs and price plans.

``validate_manifest(data)`` checks the JSON Schema (Draft 2020-12) and then the rules a
schema cannot say (an event needs its scope, redirect URIs use https, the webhook URL is a
public address, plan codes are unique, ...). It reports *every* problem at once, keyed by
its JSON path (``scopes[2]``, ``pricing.plans[1].amount``), so a partner fixes a manifest
in one round.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urlsplit

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# No type stubs are installed for jsonschema.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError as SchemaError  # type: ignore[import-untyped]

from core.errors import ValidationFailed
from im.cards import CARD_SCHEMA
from marketplace.scopes import EVENTS, SCOPES

#: The categories an app may list itself under (at most three).
CATEGORIES: dict[str, str | Promise] = {
    "productivity": gettext_lazy("Productivity"),
    "communication": gettext_lazy("Communication"),
    "hr": gettext_lazy("HR and people"),
    "finance": gettext_lazy("Finance and expenses"),
    "sales": gettext_lazy("Sales and CRM"),
    "customer-service": gettext_lazy("Customer service"),
    "project-management": gettext_lazy("Project management"),
    "operations": gettext_lazy("Operations and supply chain"),
    "analytics": gettext_lazy("Reports and analytics"),
    "developer-tools": gettext_lazy("Developer tools"),
}

PLAN_TYPES = ("free", "flat", "per_seat")
PLAN_INTERVALS = ("month", "year")
MAX_ICON_CHARS = 100_000
MAX_MANIFEST_ERRORS = 100

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
#: Reverse-DNS: at least three lower-case labels, e.g. ``com.acme.crm``.
APP_ID = r"^[a-z][a-z0-9-]{0,62}(\.[a-z0-9][a-z0-9-]{0,62}){2,}$"
ICON = r"^(data:image/(png|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/=]+|/static/[A-Za-z0-9._/-]+)$"
CURRENCY = r"^[A-Z]{3}$"
CARD_ID = r"^[a-z][a-z0-9_-]{0,39}$"
PLAN_CODE = r"^[a-z0-9][a-z0-9_-]{0,39}$"


def _string(max_length: int, *, min_length: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, **extra}


def _url(description: str) -> dict[str, Any]:
    return _string(2000, format="uri", pattern=r"^https?://", description=description)


def _card_sample_schema() -> dict[str, Any]:
    """The IM card schema, without the ``owner`` the server sets when a card is posted."""
    card = copy.deepcopy(CARD_SCHEMA)
    for key in ("$schema", "$id"):
        card.pop(key, None)
    card["properties"].pop("owner", None)
    card["title"] = "Sample card"
    return card


MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tack.invalid/schemas/app-manifest.json",
    "title": "Tack app manifest",
    "description": (
        "One version of a marketplace app. Submitted by a partner, reviewed by the platform, "
        "and shown to organisation admins when they install the app."
    ),
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "description", "version", "categories", "scopes"],
    "properties": {
        "$schema": {"type": "string", "description": "Optional: this schema's address."},
        "id": _string(
            120,
            pattern=APP_ID,
            description="Reverse-DNS id, fixed for the app's lifetime: com.example.expenses",
        ),
        "name": _string(80, description="Shown in the catalogue."),
        "summary": _string(200, min_length=0, description="One line for catalogue tiles."),
        "description": _string(4000, description="Plain text; what the app does."),
        "icon": _string(
            MAX_ICON_CHARS,
            pattern=ICON,
            description=(
                "A base64 data URL (PNG, JPEG, WebP or SVG) or a /static/ path; pages never "
                "load icons from another host."
            ),
        ),
        "version": _string(40, pattern=SEMVER, description="Semantic version: 1.2.0"),
        "categories": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
            "items": {"enum": list(CATEGORIES)},
        },
        "scopes": {
            "type": "array",
            "uniqueItems": True,
            "items": {"enum": list(SCOPES)},
            "description": "What the app may do in an organisation; the admin consents to these.",
        },
        "webhook": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "events"],
            "properties": {
                "url": _url("Where events are POSTed (Standard Webhooks); https."),
                "events": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"enum": list(EVENTS)},
                },
            },
        },
        "cards": {
            "type": "array",
            "maxItems": 20,
            "description": "Chat cards (cool apps) the app can add to group chats.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "callback_url"],
                "properties": {
                    "id": _string(40, pattern=CARD_ID),
                    "name": _string(80),
                    "description": _string(500, min_length=0),
                    "callback_url": _url("Button clicks are POSTed here, signed; https."),
                    "sample": {"$ref": "#/$defs/card"},
                },
            },
        },
        "oauth": {
            "type": "object",
            "additionalProperties": False,
            "required": ["redirect_uris"],
            "properties": {
                "redirect_uris": {
                    "type": "array",
                    "maxItems": 10,
                    "uniqueItems": True,
                    "items": _string(2000, format="uri"),
                }
            },
        },
        "pricing": {
            "type": "object",
            "additionalProperties": False,
            "required": ["plans"],
            "properties": {
                "plans": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 10,
                    "items": {"$ref": "#/$defs/plan"},
                }
            },
        },
    },
    "$defs": {
        "plan": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "name", "type"],
            "properties": {
                "code": _string(40, pattern=PLAN_CODE),
                "name": _string(80),
                "type": {"enum": list(PLAN_TYPES)},
                "interval": {"enum": list(PLAN_INTERVALS)},
                "amount": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 10**12,
                    "description": "Integer minor units (fen, cents): 9800 is 98.00.",
                },
                "currency": _string(3, pattern=CURRENCY),
                "trial_days": {"type": "integer", "minimum": 0, "maximum": 90},
            },
        },
        "card": _card_sample_schema(),
    },
}

Draft202012Validator.check_schema(MANIFEST_SCHEMA)
_validator = Draft202012Validator(MANIFEST_SCHEMA)


def schema_document() -> str:
    """The schema as published in ``docs/partners/manifest.schema.json``."""
    import json

    return json.dumps(MANIFEST_SCHEMA, indent=2, ensure_ascii=False) + "\n"


def json_path(parts: Any) -> str:
    """``["pricing", "plans", 1, "amount"]`` → ``pricing.plans[1].amount`` (root: ``manifest``)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "manifest"


def _schema_message(error: SchemaError) -> tuple[str, str]:
    """A (path, message) a partner understands, for one schema error."""
    path = json_path(error.absolute_path)
    if error.validator == "required":
        missing = next((k for k in error.validator_value if k not in error.instance), "")
        return json_path([*error.absolute_path, missing]), _("This field is required.")
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return path, _("Unknown field(s): %(names)s.") % {"names": ", ".join(map(str, extra))}
    if error.validator == "enum":
        return path, _("%(value)r is not one of the allowed values.") % {"value": error.instance}
    if error.validator == "pattern":
        hints = {
            APP_ID: _("Use a reverse-DNS id such as com.example.expenses (lower case)."),
            SEMVER: _("Use a semantic version such as 1.2.0."),
            ICON: _("Use a base64 data URL (PNG, JPEG, WebP, SVG) or a /static/ path."),
            CURRENCY: _("Use a three-letter currency code such as CNY."),
            r"^https?://": _("Use an https:// URL."),
        }
        return path, str(hints.get(error.validator_value, error.message))
    if error.validator == "uniqueItems":
        return path, _("Each item may appear only once.")
    return path, error.message


def _add(errors: dict[str, list[str]], path: str, message: str) -> None:
    bucket = errors.setdefault(path, [])
    if message not in bucket:
        bucket.append(message)


def _check_redirect_uri(uri: str) -> str | None:
    from marketplace.oauth import redirect_uri_problem

    return redirect_uri_problem(uri)


def _check_outbound_url(url: str, path: str, errors: dict[str, list[str]]) -> None:
    """A webhook or card callback URL: https, and a public address (``core.netguard``)."""
    from core.netguard import UnresolvableHost, check_public_url, private_targets_allowed

    if urlsplit(url).scheme != "https" and not private_targets_allowed():
        _add(errors, path, _("The URL must use https."))
        return
    try:
        check_public_url(url, field=path)
    except UnresolvableHost:
        pass  # a name that does not resolve yet; deliveries retry and show the failure
    except ValidationFailed as exc:
        _add(errors, path, exc.message)


def _items(value: Any) -> list[Any]:
    """``value`` when it is a list, else nothing (the schema already reported it)."""
    return value if isinstance(value, list) else []


def _semantic_errors(manifest: dict[str, Any], errors: dict[str, list[str]]) -> None:
    scopes = {s for s in _items(manifest.get("scopes")) if isinstance(s, str)}
    webhook = manifest.get("webhook")
    if isinstance(webhook, dict):
        for i, event in enumerate(_items(webhook.get("events"))):
            needed = EVENTS.get(event) if isinstance(event, str) else None
            if needed and needed not in scopes:
                _add(
                    errors,
                    f"webhook.events[{i}]",
                    _("The event %(event)s needs the scope %(scope)s.")
                    % {"event": event, "scope": needed},
                )
        if isinstance(webhook.get("url"), str) and "webhook.url" not in errors:
            _check_outbound_url(webhook["url"], "webhook.url", errors)
    cards = manifest.get("cards")
    if isinstance(cards, list) and cards:
        if "im:card.write" not in scopes:
            _add(errors, "cards", _("Chat cards need the scope im:card.write."))
        seen: set[str] = set()
        for i, card in enumerate(cards):
            if not isinstance(card, dict):
                continue
            card_id = card.get("id")
            if isinstance(card_id, str):
                if card_id in seen:
                    _add(errors, f"cards[{i}].id", _("Each card needs its own id."))
                seen.add(card_id)
            callback, path = card.get("callback_url"), f"cards[{i}].callback_url"
            if isinstance(callback, str) and path not in errors:
                _check_outbound_url(callback, path, errors)
            sample = card.get("sample")
            if isinstance(sample, dict):
                ids = [
                    b.get("action_id")
                    for b in _items(sample.get("buttons"))
                    if isinstance(b, dict) and isinstance(b.get("action_id"), str)
                ]
                if len(ids) != len(set(ids)):
                    _add(errors, f"cards[{i}].sample.buttons", _("Duplicate action_id."))
    oauth = manifest.get("oauth")
    if isinstance(oauth, dict):
        for i, uri in enumerate(_items(oauth.get("redirect_uris"))):
            if isinstance(uri, str):
                problem = _check_redirect_uri(uri)
                if problem:
                    _add(errors, f"oauth.redirect_uris[{i}]", problem)
    pricing = manifest.get("pricing")
    if isinstance(pricing, dict):
        _plan_errors(pricing.get("plans"), errors)


def _plan_errors(plans: Any, errors: dict[str, list[str]]) -> None:
    if not isinstance(plans, list):
        return
    codes: set[str] = set()
    for i, plan in enumerate(plans):
        if not isinstance(plan, dict):
            continue
        path = f"pricing.plans[{i}]"
        code = plan.get("code")
        if isinstance(code, str):
            if code in codes:
                _add(errors, f"{path}.code", _("Plan codes must be unique."))
            codes.add(code)
        kind, amount = plan.get("type"), plan.get("amount")
        if kind == "free":
            if amount not in (None, 0):
                _add(errors, f"{path}.amount", _("A free plan costs 0."))
            continue
        if kind in ("flat", "per_seat"):
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                _add(errors, f"{path}.amount", _("A paid plan needs an amount above 0."))
            for key in ("interval", "currency"):
                if key not in plan:
                    _add(errors, f"{path}.{key}", _("A paid plan needs this field."))


def validate_manifest(data: Any) -> dict[str, Any]:
    """The manifest, normalised, or ``ValidationFailed`` listing every problem by JSON path."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            _("The manifest must be a JSON object."),
            code="invalid_manifest",
            fields={"manifest": [_("Not an object.")]},
        )
    errors: dict[str, list[str]] = {}
    for error in sorted(_validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        path, message = _schema_message(error)
        _add(errors, path, message)
        if len(errors) >= MAX_MANIFEST_ERRORS:
            break
    _semantic_errors(data, errors)
    if errors:
        count = sum(len(v) for v in errors.values())
        raise ValidationFailed(
            _("The manifest has %(n)s problem(s).") % {"n": count},
            code="invalid_manifest",
            fields=errors,
        )
    manifest = copy.deepcopy(data)
    manifest.pop("$schema", None)
    manifest.setdefault("summary", _first_sentence(manifest["description"]))
    for plan in (manifest.get("pricing") or {}).get("plans", []):
        plan.setdefault("trial_days", 0)
        if plan["type"] == "free":
            plan.setdefault("amount", 0)
    return manifest


def _first_sentence(text: str) -> str:
    first = re.split(r"(?<=[.!?。])\s", text.strip(), maxsplit=1)[0]
    return first[:200]


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key for semantic versions (pre-releases sort before their release)."""
    match = re.match(SEMVER, version)
    if not match:
        return (-1,)
    major, minor, patch, pre = match.group(1), match.group(2), match.group(3), match.group(4)
    pre_key: tuple[Any, ...] = (1,)
    if pre:
        pre_key = (
            0,
            *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")),
        )
    return (int(major), int(minor), int(patch), pre_key)
