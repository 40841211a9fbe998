"""OAuth 2.0 for marketplace apps, on django-oauth-toolkit (DOT).

Design:

- One DOT ``Application`` per ``App``: a confidential client with a hashed secret. It may
  use the authorization-code grant (with PKCE S256, acting as a person who approved the
  consent page) and the client-credentials grant (acting as the installation's own app
  member). DOT allows one grant type per client, so ``MarketplaceOAuth2Validator`` also
  accepts client credentials for marketplace clients.
- Every access token, refresh token and unused authorization code is bound to exactly one
  ``Installation`` (``InstallationToken``): the token works only in that organisation and
  only within the scopes its admin granted (``Installation.granted_scopes``).
- Client credentials name the organisation with an ``org`` parameter on the token request.
  The authorization code remembers the organisation the person chose on the consent page.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from core.errors import ValidationFailed
from core.models import Membership, User
from marketplace.models import App, Installation, InstallationToken
from marketplace.scopes import SCOPES

#: The only PKCE method accepted (``plain`` is refused at the authorization endpoint).
PKCE_METHOD = "S256"
MAX_REDIRECT_URIS = 10
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


# --- Clients ------------------------------------------------------------------------------


def clean_redirect_uris(uris: list[str]) -> list[str]:
    """Absolute ``https`` URIs without fragments (``http`` only for loopback hosts), see
    ``redirect_uri_problem``."""
    if not isinstance(uris, list) or not uris:
        raise ValidationFailed(
            _("Give at least one OAuth redirect URI."),
            code="invalid_redirect_uris",
            fields={"redirect_uris": [_("At least one redirect URI is required.")]},
        )
    if len(uris) > MAX_REDIRECT_URIS:
        raise ValidationFailed(
            _("An app may have at most %(n)d redirect URIs.") % {"n": MAX_REDIRECT_URIS},
            code="invalid_redirect_uris",
            fields={"redirect_uris": [_("Too many redirect URIs.")]},
        )
    problems: list[str] = []
    cleaned: list[str] = []
    for uri in uris:
        if not isinstance(uri, str) or not uri.strip():
            problems.append(_("A redirect URI is empty."))
            continue
        uri = uri.strip()
        problem = redirect_uri_problem(uri)
        if problem:
            problems.append(problem)
        elif uri not in cleaned:
            cleaned.append(uri)
    if problems:
        raise ValidationFailed(
            _("Some redirect URIs are not valid."),
            code="invalid_redirect_uris",
            fields={"redirect_uris": problems},
        )
    return cleaned


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or None: absolute https without a fragment
    (http only for loopback hosts, and only where
    ``OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"]`` lists it: development). The manifest
    check and the OAuth client use this one rule."""
    try:
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
    except ValueError:
        return _("%(uri)s is not an absolute http(s) URL.") % {"uri": uri}
    if parts.scheme not in ("https", "http") or not host:
        return _("%(uri)s is not an absolute http(s) URL.") % {"uri": uri}
    if parts.scheme == "http" and not (_is_loopback(host) and _http_allowed()):
        return _("%(uri)s must use https (http only for localhost in development).") % {"uri": uri}
    if parts.fragment or "#" in uri:
        return _("%(uri)s must not contain a fragment (#).") % {"uri": uri}
    if any(c.isspace() for c in uri):
        return _("%(uri)s contains spaces.") % {"uri": uri}
    return None


def _http_allowed() -> bool:
    return "http" in oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_oauth_client(app: App, redirect_uris: list[str]) -> tuple[str, str]:
    """Create the app's OAuth client; returns ``(client_id, client_secret)``.

    The secret is stored hashed and cannot be shown again (``rotate_client_secret``).
    """
    uris = clean_redirect_uris(redirect_uris)
    application_model = get_application_model()
    raw_secret: str = generate_client_secret()
    with transaction.atomic():
        application = application_model(
            name=app.name[:255] or app.app_id,
            client_type=AbstractApplication.CLIENT_CONFIDENTIAL,
            authorization_grant_type=AbstractApplication.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(uris),
            client_secret=raw_secret,
            hash_client_secret=True,
            skip_authorization=False,
            algorithm=AbstractApplication.NO_ALGORITHM,
        )
        application.full_clean(exclude=["user", "client_secret"])
        application.save()
        app.oauth_application = application
        app.save(update_fields=["oauth_application"])
    return application.client_id, raw_secret


def set_redirect_uris(app: App, uris: list[str]) -> None:
    application = _application_of(app)
    application.redirect_uris = " ".join(clean_redirect_uris(uris))
    application.save(update_fields=["redirect_uris", "updated"])


def rotate_client_secret(app: App) -> str:
    """A new client secret (shown once); the old one stops working at once."""
    application = _application_of(app)
    raw_secret: str = generate_client_secret()
    application.client_secret = raw_secret
    application.hash_client_secret = True
    application.save(update_fields=["client_secret", "hash_client_secret", "updated"])
    return raw_secret


def _application_of(app: App) -> Any:
    if app.oauth_application_id is None:
        raise ValidationFailed(_("This app has no OAuth client yet."), code="no_oauth_client")
    return get_application_model().objects.get(pk=app.oauth_application_id)


# --- Installations ------------------------------------------------------------------------


def ensure_app_member(installation: Installation) -> Membership:
    """The installation's own account in its organisation (created when missing).

    Client-credentials tokens act as this member; cards the app posts come from it.
    """
    with transaction.atomic():
        locked = Installation.objects.select_for_update().get(pk=installation.pk)
        if locked.app_member_id is not None:
            member = Membership.objects.select_related("user", "org").get(pk=locked.app_member_id)
            if member.status != Membership.Status.ACTIVE and locked.is_active:
                member.status = Membership.Status.ACTIVE
                member.save(update_fields=["status"])
            installation.app_member = member
            return member
        app = App.objects.get(pk=locked.app_id)
        email = f"app-{locked.pk}@apps.invalid"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=None, display_name=app.name[:80], is_app=True
            )
        member, _created = Membership.objects.get_or_create(
            org_id=locked.org_id,
            user=user,
            defaults={"role": Membership.Role.MEMBER, "status": Membership.Status.ACTIVE},
        )
        locked.app_member = member
        locked.save(update_fields=["app_member"])
        installation.app_member = member
        return member


def revoke_installation_tokens(installation: Installation) -> int:
    """Revoke every access token, refresh token and unused code of an installation.

    Returns how many were revoked. Used on uninstall and when granted scopes shrink.
    """
    with transaction.atomic():
        bindings = InstallationToken.objects.select_for_update().filter(installation=installation)
        rows = list(bindings.values_list("access_token_id", "refresh_token_id", "grant_id"))
        access_ids = [a for a, _r, _g in rows if a is not None]
        refresh_ids = [r for _a, r, _g in rows if r is not None]
        grant_ids = [g for _a, _r, g in rows if g is not None]
        refresh_model = get_refresh_token_model()
        refreshed = refresh_model.objects.filter(pk__in=refresh_ids, revoked__isnull=True).update(
            revoked=timezone.now(), access_token=None
        )
        access_model = get_access_token_model()
        grant_model = get_grant_model()
        _total, accessed = access_model.objects.filter(pk__in=access_ids).delete()
        _total, granted = grant_model.objects.filter(pk__in=grant_ids).delete()
        bindings.delete()
    count: int = (
        refreshed
        + accessed.get(access_model._meta.label, 0)
        + granted.get(grant_model._meta.label, 0)
    )
    return count


def active_installation(app: App, org_id: int) -> Installation | None:
    return (
        Installation.objects.select_related("app", "org")
        .filter(app=app, org_id=org_id, status=Installation.Status.ACTIVE)
        .first()
    )


def token_checksum(raw: str) -> str:
    """How DOT looks access tokens up (SHA-256 of the raw token)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# --- DOT hooks ----------------------------------------------------------------------------


class MarketplaceScopes(BaseScopes):  # type: ignore[misc]
    """The scope catalogue is ``marketplace.scopes.SCOPES``; defaults are what was granted."""

    def get_all_scopes(self) -> dict[str, str]:
        return {name: str(text) for name, text in SCOPES.items()}

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return list(SCOPES)

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        installation = getattr(request, "tack_installation", None) if request else None
        if installation is not None:
            return list(installation.granted_scopes)
        return []


def _app_of_client(client: Any) -> App | None:
    if client is None:
        return None
    return App.objects.filter(oauth_application_id=client.pk).first()


def _usable(binding: InstallationToken, user: Any) -> bool:
    """A code or refresh token still counts: app installed, its person still a member."""
    if not binding.installation.is_active or user is None:
        return False
    return Membership.objects.filter(
        org_id=binding.org_id, user=user, status=Membership.Status.ACTIVE
    ).exists()


class MarketplaceOAuth2Validator(OAuth2Validator):  # type: ignore[misc]
    """DOT's validator, plus: tokens bound to one installation and its granted scopes."""

    # --- which installation a request is about ---

    def _client_credentials_installation(self, request: Any) -> Installation:
        app = _app_of_client(request.client)
        if app is None:
            raise oauth_errors.UnauthorizedClientError(request=request)
        org_param = request._params.get("org") if hasattr(request, "_params") else None
        if not org_param:
            raise oauth_errors.InvalidRequestError(
                description="Pass org=<organisation id>: the organisation the app acts in.",
                request=request,
            )
        try:
            org_id = int(org_param)
            if not 0 < org_id < 2**63:  # outside the id column's range
                raise ValueError(org_param)
        except (TypeError, ValueError):
            raise oauth_errors.InvalidRequestError(
                description="org must be an organisation id.", request=request
            ) from None
        installation = active_installation(app, org_id)
        if installation is None:
            raise oauth_errors.InvalidGrantError(
                description="The app is not installed in this organisation.", request=request
            )
        if installation.app_member_id is None:  # an admin removed the app's account
            raise oauth_errors.InvalidGrantError(
                description=(
                    "The app's account in this organisation was removed; an admin must "
                    "install the app again."
                ),
                request=request,
            )
        if not Membership.objects.filter(
            pk=installation.app_member_id, status=Membership.Status.ACTIVE
        ).exists():  # an admin suspended the app's account: the app may not bring it back
            raise oauth_errors.InvalidGrantError(
                description="The app's account in this organisation is suspended.",
                request=request,
            )
        return installation

    def _installation(self, request: Any) -> Installation | None:
        installation = getattr(request, "tack_installation", None)
        if installation is not None:
            return installation  # type: ignore[no-any-return]
        installation_id = getattr(request, "tack_installation_id", None)
        if installation_id is not None:
            installation = (
                Installation.objects.select_related("app")
                .filter(pk=installation_id, status=Installation.Status.ACTIVE)
                .first()
            )
            if installation is None or installation.app.oauth_application_id != getattr(
                request.client, "pk", None
            ):
                raise oauth_errors.InvalidRequestError(
                    description="The app is not installed in this organisation.",
                    request=request,
                )
            request.tack_installation = installation
        return installation

    # --- grants ---

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kw: Any
    ) -> bool:
        if grant_type == "client_credentials":
            if _app_of_client(request.client) is None:
                return False
            request.tack_installation = self._client_credentials_installation(request)
            return True
        if grant_type not in ("authorization_code", "refresh_token"):
            return False
        return bool(super().validate_grant_type(client_id, grant_type, client, request))

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> Any:
        installation = self._installation(request)
        return list(installation.granted_scopes) if installation else []

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kw: Any
    ) -> bool:
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            raise oauth_errors.InvalidScopeError(
                description="Unknown scope: " + " ".join(unknown), request=request
            )
        installation = self._installation(request)
        if installation is not None:
            missing = [s for s in scopes if s not in installation.granted_scopes]
            if missing:
                raise oauth_errors.InvalidScopeError(
                    description=(
                        "Not granted in this organisation: "
                        + " ".join(missing)
                        + ". An admin must consent to them first."
                    ),
                    request=request,
                )
        return True

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        binding = (
            InstallationToken.objects.select_related("installation")
            .filter(grant__code=code, grant__application=client)
            .first()
        )
        if binding is None or not _usable(binding, request.user):
            return False
        request.tack_installation = binding.installation
        return True

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        instance = getattr(request, "refresh_token_instance", None)
        binding = (
            InstallationToken.objects.select_related("installation")
            .filter(refresh_token=instance)
            .first()
            if instance is not None
            else None
        )
        if binding is None or not _usable(binding, request.user):
            return False
        request.tack_installation = binding.installation
        return True

    # --- saving: bind everything to the installation ---

    def _bound_installation(self, request: Any) -> Installation:
        installation = self._installation(request)
        if installation is None:
            raise oauth_errors.InvalidRequestError(
                description="The token is not bound to an installation.", request=request
            )
        return installation

    def _create_authorization_code(self, request: Any, code: Any, expires: Any = None) -> Any:
        if request.code_challenge_method != PKCE_METHOD:
            raise oauth_errors.InvalidRequestError(
                description="PKCE with code_challenge_method=S256 is required.", request=request
            )
        installation = self._bound_installation(request)
        grant = super()._create_authorization_code(request, code, expires)
        InstallationToken.objects.create(
            org_id=installation.org_id, installation=installation, grant=grant
        )
        return grant

    def _create_access_token(
        self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None
    ) -> Any:
        installation = self._bound_installation(request)
        if request.grant_type == "client_credentials":
            request.user = ensure_app_member(installation).user
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        InstallationToken.objects.create(
            org_id=installation.org_id, installation=installation, access_token=access_token
        )
        return access_token

    def _create_refresh_token(
        self, request: Any, refresh_token_code: Any, access_token: Any, previous: Any
    ) -> Any:
        installation = self._bound_installation(request)
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous
        )
        InstallationToken.objects.create(
            org_id=installation.org_id, installation=installation, refresh_token=refresh_token
        )
        return refresh_token
