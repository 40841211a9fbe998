"""Small presentation helpers for Tack's templates: icons and initials."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# 24 by 24 line icons, drawn for Tack: each value is the inside of an <svg> element.
ICONS: dict[str, str] = {
    "chat": '<path d="M4 5.5h16v11H10l-4.5 3.5v-3.5H4z"/><path d="M8 10h8M8 13h5"/>',
    "apps": (
        '<rect x="4" y="4" width="6.5" height="6.5" rx="1.5"/>'
        '<rect x="13.5" y="4" width="6.5" height="6.5" rx="1.5"/>'
        '<rect x="4" y="13.5" width="6.5" height="6.5" rx="1.5"/>'
        '<path d="M16.75 13.5v6.5M13.5 16.75H20"/>'
    ),
    "connectors": (
        '<path d="M9 3.5v4M15 3.5v4"/><path d="M6.5 7.5h11v3.5a5.5 5.5 0 0 1-11 0z"/>'
        '<path d="M12 16.5v4"/>'
    ),
    "marketplace": (
        '<path d="M4 9.5 5.5 4.5h13L20 9.5"/><path d="M4 9.5h16v1a2.7 2.7 0 0 1-5.3 0 '
        '2.7 2.7 0 0 1-5.4 0 2.7 2.7 0 0 1-5.3 0z"/><path d="M5.5 12.5V20h13v-7.5"/>'
        '<path d="M10 20v-4.5h4V20"/>'
    ),
    "members": (
        '<circle cx="9" cy="8.5" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0 1 13 0"/>'
        '<circle cx="17" cy="9.5" r="2.5"/><path d="M16.5 14.1A5 5 0 0 1 21.5 19"/>'
    ),
    "departments": (
        '<rect x="9" y="3" width="6" height="5" rx="1"/>'
        '<rect x="3" y="16" width="6" height="5" rx="1"/>'
        '<rect x="15" y="16" width="6" height="5" rx="1"/><path d="M12 8v4M6 16v-4h12v4"/>'
    ),
    "settings": (
        '<path d="M4 6.5h9M17 6.5h3M4 12h3M11 12h9M4 17.5h11M19 17.5h1"/>'
        '<circle cx="15" cy="6.5" r="2"/><circle cx="9" cy="12" r="2"/>'
        '<circle cx="17" cy="17.5" r="2"/>'
    ),
    "code": '<path d="M8 7.5 3.5 12 8 16.5M16 7.5l4.5 4.5-4.5 4.5M13.5 5l-3 14"/>',
    "chevron": '<path d="m7 10 5 5 5-5"/>',
    "chevron-right": '<path d="m10 7 5 5-5 5"/>',
    "check": '<path d="m5 12.5 4.5 4.5L19 7.5"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "logout": '<path d="M10 4H5v16h5"/><path d="m15 8 4 4-4 4M19 12H9"/>',
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
    "globe": (
        '<circle cx="12" cy="12" r="9"/><path d="M3 12h18"/>'
        '<path d="M12 3c2.5 2.6 3.7 5.6 3.7 9s-1.2 6.4-3.7 9'
        'c-2.5-2.6-3.7-5.6-3.7-9S9.5 5.6 12 3z"/>'
    ),
    "key": '<circle cx="8" cy="15" r="4"/><path d="m11 12 8.5-8.5M16.5 6.5l2.5 2.5M14 9l2 2"/>',
    "trash": '<path d="M4 7h16M9.5 7V4.5h5V7M6 7l1 13h10l1-13M10 11v5M14 11v5"/>',
    "mail": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3.5 7 8.5 6 8.5-6"/>',
    "home": '<path d="m3.5 11 8.5-7 8.5 7"/><path d="M6 9v11h12V9M10 20v-5.5h4V20"/>',
    "menu": '<path d="M4 6.5h16M4 12h16M4 17.5h16"/>',
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="m20 20-4.3-4.3"/>',
    "building": (
        '<rect x="5" y="3" width="14" height="18" rx="1.5"/>'
        '<path d="M9 7h2M13 7h2M9 11h2M13 11h2M10 21v-4h4v4"/>'
    ),
    "alert": '<circle cx="12" cy="12" r="9"/><path d="M12 7.5v5.5M12 16.5v.01"/>',
    "info": '<circle cx="12" cy="12" r="9"/><path d="M12 11v5.5M12 7.5v.01"/>',
    "copy": (
        '<rect x="9" y="9" width="11" height="11" rx="2"/>'
        '<path d="M15 9V5.5A1.5 1.5 0 0 0 13.5 4h-8A1.5 1.5 0 0 0 4 5.5v8A1.5 1.5 0 0 0 5.5 15H9"/>'
    ),
    "lock": (
        '<rect x="5" y="10.5" width="14" height="10" rx="2"/>'
        '<path d="M8 10.5V7a4 4 0 0 1 8 0v3.5"/>'
    ),
    "arrow-right": '<path d="M5 12h14M13 6l6 6-6 6"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "chart": '<path d="M4 4v16h16"/><path d="m7.5 15 3.5-4 3 2.5 5-6"/>',
    "star": '<path d="m12 4 2.4 5 5.4.6-4 3.7 1.1 5.4L12 16l-4.9 2.7 1.1-5.4-4-3.7 5.4-.6z"/>',
    "palette": (
        '<path d="M12 3.5a8.5 8.5 0 0 0 0 17c1.2 0 1.8-.9 1.5-1.9-.4-1.2.4-2.6 1.8-2.6h1.7'
        'a3.5 3.5 0 0 0 3.5-3.5c0-5-3.8-9-8.5-9z"/>'
        '<circle cx="8" cy="11" r="1"/><circle cx="11" cy="7.5" r="1"/>'
        '<circle cx="15.5" cy="8.5" r="1"/>'
    ),
    "shield": (
        '<path d="M12 3.5 19 6v5.5c0 4.3-3 7.7-7 9-4-1.3-7-4.7-7-9V6z"/><path d="m9 12 2 2 4-4"/>'
    ),
}


@register.simple_tag
def icon(name: str, size: int = 20, label: str = "") -> SafeString:
    """An inline SVG icon; decorative unless ``label`` names it for screen readers."""
    body = ICONS[name]
    aria = format_html('role="img" aria-label="{}"', label) if label else 'aria-hidden="true"'
    return format_html(
        '<svg class="icon icon-{}" width="{}" height="{}" viewBox="0 0 24 24" fill="none" '
        'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
        'stroke-linejoin="round" {}>{}</svg>',
        name,
        size,
        size,
        mark_safe(aria),  # noqa: S308  (built above from escaped parts)
        mark_safe(body),  # noqa: S308  (constant markup defined in this module)
    )


@register.filter
def initials(name: str) -> str:
    """One or two letters for an avatar.

    "Ada Lovelace" → "AL", "Xu Ming 徐明" → "XM", "张伟" → "张".
    """
    words = str(name).split()
    if not words:
        return "?"
    if not words[0][:1].isascii():
        return words[0][:1]
    latin = [w for w in words if w[:1].isascii() and w[:1].isalnum()] or words
    if len(latin) == 1:
        return latin[0][:1].upper()
    return (latin[0][:1] + latin[-1][:1]).upper()
