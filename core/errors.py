"""Typed domain errors. Actions raise these; ``core.api.errors`` maps them once."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext


class TackError(Exception):
    """Base class: an HTTP status, a stable machine code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(TackError):
    status = 400
    code = "invalid"


class NotFound(TackError):
    """Missing, or not visible to the caller: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"

    def __init__(self, message: str | None = None, **kwargs: Any):
        super().__init__(message or gettext("Not found."), **kwargs)


class Forbidden(TackError):
    status = 403
    code = "forbidden"


class Conflict(TackError):
    status = 409
    code = "conflict"


class PayloadTooLarge(TackError):
    status = 413
    code = "too_large"
