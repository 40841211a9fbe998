from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from core.models import Organization
from core.permissions import member_permissions
from core.selectors import organizations_for_user

DEFAULT_BRAND_COLOR = "#1f6feb"
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _safe_colour(value: str | None) -> str:
    """Only a plain #rrggbb reaches the page's stylesheet; anything else falls back."""
    return value if value and _HEX_COLOUR.match(value) else DEFAULT_BRAND_COLOR


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a ``#rrggbb`` colour."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


_LIGHT_TEXT, _DARK_TEXT = "#ffffff", "#111827"


def _text_on(colour: str) -> str:
    """Light or dark text, whichever has the higher contrast ratio on ``colour``."""
    background = _luminance(colour) + 0.05
    on_light = (_luminance(_LIGHT_TEXT) + 0.05) / background
    on_dark = background / (_luminance(_DARK_TEXT) + 0.05)
    return _LIGHT_TEXT if on_light >= on_dark else _DARK_TEXT


def tack(request: HttpRequest) -> dict[str, Any]:
    """Branding for every page: the current organisation's, else Tack's own.

    ``user_orgs`` (for the organisation switcher) and ``org_perms`` (the current
    member's operations) are lazy: a page that never shows them costs no query.
    """
    org: Organization | None = getattr(request, "org", None)
    membership = getattr(request, "membership", None)
    colour = _safe_colour(org.brand_color if org else None)

    def user_orgs() -> list[Organization]:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        return list(organizations_for_user(user))

    return {
        "brand_name": org.display_name if org else "Tack",
        "brand_color": colour,
        "brand_on_color": _text_on(colour),
        "brand_logo_url": org.brand_logo.url if org and org.brand_logo else None,
        # The colours as a stylesheet (CSP: no inline style); the colour versions the URL.
        "brand_css_url": (
            f"{reverse('core:brand_css', args=[org.pk])}?v={colour[1:]}" if org else None
        ),
        "current_org": org,
        "current_membership": membership,
        "org_perms": (
            SimpleLazyObject(lambda: member_permissions(membership))
            if membership is not None
            else frozenset()
        ),
        "user_orgs": SimpleLazyObject(user_orgs),
    }


def email_brand(org: Organization) -> dict[str, Any]:
    """The organisation's brand for HTML e-mails (inline styles there: mail clients need them)."""
    from django.conf import settings

    colour = _safe_colour(org.brand_color)
    logo_url = None
    if org.brand_logo:
        url = org.brand_logo.url
        logo_url = (
            url if url.startswith(("http://", "https://")) else settings.TACK_PUBLIC_URL + url
        )
    return {
        "name": org.display_name,
        "color": colour,
        "on_color": _text_on(colour),
        "logo_url": logo_url,
    }
