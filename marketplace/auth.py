"""API authentication for marketplace apps: OAuth 2.0 access tokens, scoped.

``Authorization: Bearer <token>`` where the token is a django-oauth-toolkit access token
(personal tokens start with ``tack_`` and are left to ``core.auth.ApiTokenAuthentication``).
The token is bound to one installation; every call is checked here, right after the
token is recognised, for every DRF view:

1. the organisation in the URL (``org_id``) must be the installation's, else 404 exactly
   like a missing organisation;
2. the view must declare which scope the action needs (deny by default: 403
   ``scope_required``), and the token and the installation must both have it (403
   ``insufficient_scope``).

Views declare scopes with class attributes::

    app_scope: ClassVar[str | None] = "lowcode:record"  # GET → .read, others → .write
    app_scopes: ClassVar[dict[str, str]] = {"list": "im:message.read", "create": ...}

``app_scopes`` is looked up by ``"<action>:<method>"`` (an action answering several
methods, e.g. ``"messages:post"``), then the action (viewsets), then the lower-case HTTP
method (plain views), then ``"*"``; ``app_scope`` is the fallback.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from core.auth import TOKEN_PREFIX
from core.errors import Forbidden, NotFound
from core.models import User
from marketplace.models import Installation, InstallationToken
from marketplace.oauth import token_checksum
from marketplace.scopes import SCOPES


def required_scope(view: Any, method: str) -> str | None:
    """The scope an app needs to call ``view`` with ``method``; None: apps may not."""
    if view is None:
        return None
    explicit: dict[str, str] = getattr(view, "app_scopes", None) or {}
    verb = method.lower()
    action = getattr(view, "action", None) or verb
    for key in (f"{action}:{verb}", action, verb, "*"):
        if key in explicit:
            return explicit[key]
    base: str | None = getattr(view, "app_scope", None)
    if not base:
        return None
    return f"{base}.read" if method.upper() in SAFE_METHODS else f"{base}.write"


def enforce_app_access(request: Request, view: Any, installation: Installation, token: Any) -> None:
    """Organisation first (404), then scope (403). Raises; returns nothing when allowed."""
    kwargs = getattr(view, "kwargs", None) or {}
    org_id = kwargs.get("org_id")
    if org_id is not None and str(org_id) != str(installation.org_id):
        raise NotFound(_("Organisation not found."))
    scope = required_scope(view, request.method or "GET")
    if scope is None:
        raise Forbidden(
            _("Apps cannot use this endpoint: it has no OAuth scope."), code="scope_required"
        )
    if scope not in set(token.scope.split()) or scope not in installation.granted_scopes:
        raise Forbidden(
            _("This call needs the %(scope)s scope, which the app's token does not have.")
            % {"scope": scope},
            code="insufficient_scope",
            fields={"scope": [scope]},
        )


class AppTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <OAuth access token>`` of a marketplace app.

    ``request.user`` is the person who approved the app (authorization code) or the app's
    own member (client credentials); ``request.auth`` is the DOT ``AccessToken``.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            raw = header[1].decode()
        except UnicodeError:
            return None  # ApiTokenAuthentication reports the malformed header
        if raw.startswith(TOKEN_PREFIX):
            return None
        # One query: the binding, its token and user, and the installation.
        binding = (
            InstallationToken.objects.select_related(
                "access_token", "access_token__user", "installation", "installation__app"
            )
            .filter(access_token__token_checksum=token_checksum(raw))
            .first()
        )
        token: Any = binding.access_token if binding is not None else None
        if binding is None or token is None or token.is_expired():
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        if token.user is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        installation = binding.installation
        if not installation.is_active:
            raise exceptions.AuthenticationFailed(
                _("The app has been uninstalled from this organisation.")
            )
        token.tack_installation = installation
        view = (request.parser_context or {}).get("view")
        enforce_app_access(request, view, installation, token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def installation_of(request: Request) -> Installation | None:
    """The installation an app's token acts for; None for people and personal tokens."""
    installation: Installation | None = getattr(request.auth, "tack_installation", None)
    return installation


def is_app_request(request: Request) -> bool:
    return installation_of(request) is not None


class AppTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """OpenAPI: the OAuth 2.0 flows, and the scope each operation needs."""

    target_class = "marketplace.auth.AppTokenAuthentication"
    name = "appOAuth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scopes = {name: str(text) for name, text in SCOPES.items()}
        return {
            "type": "oauth2",
            "description": (
                "OAuth 2.0 access token of a marketplace app, bound to one installation "
                "(one organisation) and limited to the scopes its admin granted."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize/",
                    "tokenUrl": "/oauth/token/",
                    "refreshUrl": "/oauth/token/",
                    "scopes": scopes,
                },
                "clientCredentials": {"tokenUrl": "/oauth/token/", "scopes": scopes},
            },
        }

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        scope = required_scope(auto_schema.view, auto_schema.method)
        return [{self.name: [scope]}] if scope else []
