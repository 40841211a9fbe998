"""API authentication: personal bearer tokens, and the login lockout response."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.models import ApiToken, User

TOKEN_PREFIX = "tack_"
_LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_token(raw: str) -> str:
    """Tokens are 240 random bits, so one SHA-256 is enough (no salt or stretching)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer tack_…``. Answers 401 with a ``WWW-Authenticate`` challenge."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        try:
            raw = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Malformed token.")) from exc
        token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
        if token is None or not token.is_usable or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The address a login attempt names, whether it came from the API or the login form."""
    credentials = credentials or {}
    value = (
        credentials.get("email")
        or credentials.get("username")
        or request.POST.get("email")
        or request.POST.get("username")
        or ""
    )
    return str(value).strip().lower()


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes calls this once an account is locked after repeated failures."""
    message = _("Too many failed logins. Try again in 15 minutes.")
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "locked_out", "message": message, "fields": {}}}, status=429
        )
    return render(request, "core/locked_out.html", {"message": message}, status=429)
