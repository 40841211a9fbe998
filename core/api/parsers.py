"""Request parsers."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, but a body nested too deep for Python is a 400, not a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON body is nested too deeply.")) from None


def raw_body(request: Any, max_bytes: int = 1024 * 1024) -> bytes:
    """A request body read as bytes (signed webhooks must check exactly what was sent),
    refused with 413 above ``max_bytes`` before it is read when the length is declared."""
    from core.errors import PayloadTooLarge

    too_large = PayloadTooLarge(
        _("The request body may be at most %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)},
        fields={"body": [_("Too large.")]},
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise too_large
    body: bytes = request.body
    if len(body) > max_bytes:
        raise too_large
    return body
