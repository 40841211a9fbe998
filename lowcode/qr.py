"""Entry links and QR codes: scan a code, the form opens pre-filled for a signed-in member.

Every form has one entry URL, ``/o/<org_id>/apps/forms/<form_id>/fill/``. A form whose
``qr_field`` names a single-select field also has one URL per choice, with the choice
pre-filled by a query parameter (``?checkpoint=cp07``): one code per checkpoint, printed
and stuck on site. Codes are made with segno (error correction level M), as PNG or SVG.

URLs are absolute. They start with ``settings.TACK_PUBLIC_URL``; while that is still the
loopback default and a request is at hand, the request's own host is used instead, so
codes made on a fresh install point where the browser reached the server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import segno
from django.conf import settings
from django.http import HttpRequest

from lowcode.models import Form

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
PNG_SCALE = 8
SVG_SCALE = 4


@dataclass(frozen=True)
class Entry:
    """One entry code: the pre-filled value (None for the plain form), its label and URL."""

    value: str | None
    label: str
    url: str


def base_url(request: HttpRequest | None = None) -> str:
    configured = str(settings.TACK_PUBLIC_URL).rstrip("/")
    if request is not None and (urlsplit(configured).hostname or "") in _LOOPBACK:
        return f"{request.scheme}://{request.get_host()}"
    return configured


def entry_path(form: Form) -> str:
    return f"/o/{form.org_id}/apps/forms/{form.pk}/fill/"


def entry_url(
    form: Form, request: HttpRequest | None = None, prefill: dict[str, str] | None = None
) -> str:
    query = f"?{urlencode(prefill)}" if prefill else ""
    return f"{base_url(request)}{entry_path(form)}{query}"


def qr_definition(form: Form) -> dict[str, Any] | None:
    """The published single-select field that gets one code per choice, if any."""
    if not form.qr_field or form.published_version is None:
        return None
    for definition in form.published_version.fields:
        if definition["key"] == form.qr_field and definition["type"] == "single_select":
            return dict(definition)
    return None


def form_entries(form: Form, request: HttpRequest | None = None) -> list[Entry]:
    """The form's own code, then one per choice of its QR field."""
    entries = [Entry(None, form.name, entry_url(form, request))]
    definition = qr_definition(form)
    if definition is not None:
        for choice in definition.get("options", {}).get("choices", []):
            url = entry_url(form, request, {definition["key"]: choice["id"]})
            entries.append(Entry(choice["id"], choice["label"], url))
    return entries


def entry_for_value(
    form: Form, value: str | None, request: HttpRequest | None = None
) -> Entry | None:
    """The entry for one choice id (None: the form's own); None if there is no such choice."""
    for entry in form_entries(form, request):
        if entry.value == (value or None):
            return entry
    return None


def qr_png(url: str, *, scale: int = PNG_SCALE) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(url: str, *, scale: int = SVG_SCALE) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(
        buffer, kind="svg", scale=scale, border=4, xmldecl=False, light="#fff"
    )
    return buffer.getvalue()


def qr_svg_inline(url: str, *, scale: int = SVG_SCALE) -> str:
    """An ``<svg>`` element to embed in an HTML page (the printable sheet)."""
    return qr_svg(url, scale=scale).decode()
