"""OAuth 2.0 endpoints for marketplace apps: consent (authorize), token, revoke.

``/oauth/authorize/`` is a page for people: a signed-in member picks the organisation
(where the app is installed), reads what the app asks for and approves or denies. The app
can ask only for scopes the organisation's admin granted when installing it; asking for
more is refused with a clear message (the admin must consent to them first). PKCE with
S256 is required. ``/oauth/token/`` and ``/oauth/revoke/`` are django-oauth-toolkit's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_application_model
from oauth2_provider.views.mixins import OAuthLibMixin

from core.audit import record_audit
from core.models import Membership
from marketplace.models import App, Installation
from marketplace.oauth import PKCE_METHOD
from marketplace.scopes import SCOPES, WRITE_SCOPES

#: The request parameters carried from the consent page to its form post.
OAUTH_FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
)


def _redirect(uri: str) -> HttpResponseBase:
    """A redirect back to the app's registered redirect URI."""
    response: HttpResponseBase = OAuth2ResponseRedirect(uri, ["http", "https"])
    return response


def _with_params(uri: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode(params)


@method_decorator([never_cache, xframe_options_deny], name="dispatch")
class AuthorizeView(OAuthLibMixin, View):  # type: ignore[misc]
    """Authorization-code grant: organisation chooser, consent page, code redirect."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request.user, "is_app", False):
            return self._page(request, _("App accounts cannot authorise apps."), status=403)
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        return response

    # --- GET: validate, choose the organisation, show the consent page ---

    def get(self, request: HttpRequest) -> HttpResponseBase:
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self._oauth_error(request, error)
        params = {k: str(credentials.get(k) or "") for k in OAUTH_FIELDS if k != "scope"}
        params["scope"] = request.GET.get("scope", "")
        return self._consent(request, params, request.GET.get("org"))

    # --- POST: the member approved or denied ---

    def post(self, request: HttpRequest) -> HttpResponseBase:
        params = {k: request.POST.get(k, "") for k in OAUTH_FIELDS}
        context = self._resolve(request, params, request.POST.get("org"))
        if isinstance(context, HttpResponseBase):
            return context
        installation: Installation = context["installation"]
        credentials: dict[str, Any] = {
            k: params[k] for k in OAUTH_FIELDS if k != "scope" and params.get(k)
        }
        credentials["tack_installation_id"] = installation.pk
        allow = request.POST.get("decision") == "allow"
        try:
            with transaction.atomic():
                uri, _headers, _body, _status = self.create_authorization_response(
                    request=request,
                    scopes=" ".join(context["scopes"]),
                    credentials=credentials,
                    allow=allow,
                )
                record_audit(
                    installation.org,
                    request.user,  # type: ignore[arg-type]
                    "marketplace.oauth.authorized",
                    installation,
                    data={"app": installation.app.app_id, "scopes": context["scopes"]},
                    ip=request.META.get("REMOTE_ADDR"),
                )
        except OAuthToolkitError as error:
            return self._oauth_error(request, error)
        return _redirect(uri)

    # --- helpers ---

    def _consent(
        self, request: HttpRequest, params: dict[str, str], org_param: str | None
    ) -> HttpResponseBase:
        context = self._resolve(request, params, org_param)
        if isinstance(context, HttpResponseBase):
            return context
        response = render(request, "marketplace/oauth_authorize.html", context)
        # Browsers apply form-action to the redirect after the post: allow the app's origin.
        redirect = urlsplit(params["redirect_uri"])
        response._csp_update = {  # type: ignore[attr-defined]
            "form-action": [f"{redirect.scheme}://{redirect.netloc}"]
        }
        return response

    def _resolve(
        self, request: HttpRequest, params: dict[str, str], org_param: str | None
    ) -> dict[str, Any] | HttpResponseBase:
        """The app, the installation and the scopes, or the page/redirect that says no."""
        application = get_application_model().objects.filter(client_id=params["client_id"]).first()
        app = (
            App.objects.select_related("partner").filter(oauth_application=application).first()
            if application is not None
            else None
        )
        if app is None or not params["redirect_uri"]:
            return self._page(request, _("This app is not known."), status=400)
        if not application.redirect_uri_allowed(params["redirect_uri"]):
            return self._page(request, _("The app sent an unregistered redirect URI."), status=400)
        back = {"state": params["state"]} if params["state"] else {}
        if params["code_challenge_method"] != PKCE_METHOD or not params["code_challenge"]:
            return _redirect(
                _with_params(
                    params["redirect_uri"],
                    {
                        "error": "invalid_request",
                        "error_description": "PKCE with code_challenge_method=S256 is required.",
                        **back,
                    },
                )
            )
        installations = list(
            Installation.objects.select_related("org", "app")
            .filter(
                app=app,
                status=Installation.Status.ACTIVE,
                org__memberships__user_id=int(request.user.pk or 0),
                org__memberships__status=Membership.Status.ACTIVE,
            )
            .order_by("org__name", "org_id")
        )
        deny_url = _with_params(params["redirect_uri"], {"error": "access_denied", **back})
        base = {"app": app, "params": params, "deny_url": deny_url}
        if not installations:
            return self._page(
                request,
                _(
                    "%(app)s is not installed in any organisation you belong to. Ask an "
                    "administrator to install it first."
                )
                % {"app": app.name},
                status=403,
                **base,
            )
        chosen = None
        if org_param:
            chosen = next((i for i in installations if str(i.org_id) == org_param), None)
            if chosen is None:
                return self._page(
                    request,
                    _("%(app)s is not installed in that organisation, or you are not a member.")
                    % {"app": app.name},
                    status=404,
                    **base,
                )
        elif len(installations) == 1:
            chosen = installations[0]
        else:
            choices = [(i.org, "?" + urlencode({**params, "org": i.org_id})) for i in installations]
            return render(
                request, "marketplace/oauth_choose_org.html", {**base, "choices": choices}
            )
        requested = params["scope"].split() if params["scope"].strip() else []
        scopes = requested or list(chosen.granted_scopes)
        unknown = [s for s in scopes if s not in SCOPES]
        missing = [s for s in scopes if s in SCOPES and s not in chosen.granted_scopes]
        refused = unknown + missing
        if refused:
            return self._page(
                request,
                _(
                    "%(app)s asks for permissions that an administrator of %(org)s has not "
                    "granted. An administrator must approve them for the installed app first."
                )
                % {"app": app.name, "org": chosen.org.name},
                status=403,
                missing=[
                    (s, str(SCOPES.get(s, _("Unknown permission")))) for s in unknown + missing
                ],
                **{
                    **base,
                    "deny_url": _with_params(
                        params["redirect_uri"],
                        {
                            "error": "invalid_scope",
                            "error_description": "Not granted: " + " ".join(refused),
                            **back,
                        },
                    ),
                },
            )
        described = [(s, str(SCOPES[s]), s in WRITE_SCOPES) for s in scopes]
        return {
            **base,
            "installation": chosen,
            "org": chosen.org,
            "scopes": scopes,
            "described": described,
            "other_orgs": len(installations) > 1,
        }

    def _oauth_error(self, request: HttpRequest, error: OAuthToolkitError) -> HttpResponseBase:
        oauthlib_error = error.oauthlib_error
        if isinstance(error, FatalClientError) or not oauthlib_error.redirect_uri:
            return self._page(
                request,
                _("The app's request is not valid: %(reason)s")
                % {"reason": oauthlib_error.description or oauthlib_error.error},
                status=400,
            )
        redirect_uri = oauthlib_error.redirect_uri
        separator = "&" if "?" in redirect_uri else "?"
        return _redirect(redirect_uri + separator + oauthlib_error.urlencoded)

    def _page(self, request: HttpRequest, message: str, status: int, **extra: Any) -> HttpResponse:
        return render(
            request,
            "marketplace/oauth_error.html",
            {"message": message, **extra},
            status=status,
        )
