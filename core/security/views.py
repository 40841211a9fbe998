"""Pages: the organisation's security policy, two-step verification (set-up and the
second sign-in step), and the organisation's brand stylesheet."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.context_processors import _safe_colour, _text_on
from core.errors import Conflict, NotFound, TackError, ValidationFailed
from core.models import Organization, User
from core.permissions import check_permission
from core.security import actions
from core.security.enforcement import (
    PASSWORD_CHANGE,
    PENDING,
    PENDING_SECONDS,
    TWO_FACTOR_AT,
    client_ip,
    mark_signed_in,
)
from core.security.forms import SecurityPolicyForm, TwoFactorCodeForm
from core.security.models import TwoFactorDevice
from core.security.policies import get_or_create_policy
from core.views import PASSWORD_BACKEND, OrgRequest, UserRequest, org_page

RECOVERY_CODES_KEY = "tack.recovery_codes"


def _next_url(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _no_store(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, no_store=True, private=True)
    return response


# --- Security policy page -----------------------------------------------------------------


@org_page
@require_http_methods(["GET", "POST"])
def org_security(request: OrgRequest) -> HttpResponse:
    check_permission(request.membership, "core.security.manage")
    policy = get_or_create_policy(request.org)
    form = SecurityPolicyForm(policy, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_security_policy(
                request.membership, form.changes(), ip=client_ip(request)
            )
        except (ValidationFailed, Conflict) as exc:
            form.add_tack_error(exc)
        else:
            messages.success(request, _("Security policy saved."))
            return redirect("core:org_security", org_id=request.org.pk)
    context = {"form": form, "policy": policy, "your_ip": client_ip(request)}
    status = 400 if form.errors else 200
    return render(request, "core/security_policy.html", context, status=status)


# --- Two-step verification: set-up --------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: UserRequest) -> HttpResponse:
    """Set up, confirm, turn off, or renew recovery codes; ``step`` says which was sent."""
    user = request.user
    _brand_with_last_org(request)  # the page, and the authenticator's label, wear its brand
    step = request.POST.get("step") if request.method == "POST" else None
    form = TwoFactorCodeForm(request.POST if step in {"confirm", "disable", "renew"} else None)
    enrolment = None
    codes: list[str] | None = None
    try:
        if step == "start":
            enrolment = actions.do_start_two_factor(user, issuer=_issuer(request))
        elif step == "confirm" and form.is_valid():
            codes = actions.do_confirm_two_factor(
                user, form.cleaned_data["code"], ip=client_ip(request)
            )
            request.session[TWO_FACTOR_AT] = int(time.time())
            messages.success(request, _("Two-step verification is on."))
        elif step == "disable" and form.is_valid():
            actions.do_disable_two_factor(user, form.cleaned_data["code"], ip=client_ip(request))
            request.session.pop(TWO_FACTOR_AT, None)
            messages.success(request, _("Two-step verification is off."))
            return redirect("core:two_factor")
        elif step == "renew" and form.is_valid():
            codes = actions.do_regenerate_recovery_codes(
                user, form.cleaned_data["code"], ip=client_ip(request)
            )
            messages.success(request, _("New recovery codes made; the old ones no longer work."))
    except TackError as exc:
        if exc.status == 404:
            exc = ValidationFailed(exc.message)
        form.add_tack_error(exc)
    device = TwoFactorDevice.objects.filter(user=user).first()
    context: dict[str, Any] = {
        "device": device,
        "enrolment": enrolment,
        "recovery_codes": codes,
        "codes_left": actions.recovery_codes_left(user) if device else 0,
        "form": form,
        "next": _next_url(request, ""),
    }
    response = render(request, "core/two_factor.html", context, status=400 if form.errors else 200)
    return _no_store(response)


def _issuer(request: HttpRequest) -> str:
    org = getattr(request, "org", None)
    return org.display_name if org is not None else "Tack"


def _brand_with_last_org(request: UserRequest) -> None:
    from core.views import brand_with_remembered_org

    brand_with_remembered_org(request)


# --- Two-step verification: the second sign-in step -----------------------------------------


def _pending_user(request: HttpRequest) -> tuple[User | None, dict[str, Any]]:
    pending = request.session.get(PENDING) or {}
    if not pending or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None, {}
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None, {}
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return user, pending


@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """After the password: the 6-digit code. Also a step-up for a signed-in session."""
    user: User | None
    pending: dict[str, Any] = {}
    if isinstance(request.user, User) and request.user.is_authenticated:
        user = request.user
    else:
        user, pending = _pending_user(request)
    if user is None:
        messages.info(request, _("Sign in to continue."))
        return redirect("core:login")
    if not actions.has_two_factor(user):
        return redirect(_next_url(request, reverse("core:two_factor")))
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            kind = actions.check_two_factor_code(user, form.cleaned_data["code"])
        except (ValidationFailed, TackError) as exc:
            if isinstance(exc, NotFound):
                return redirect("core:login")
            form.add_tack_error(exc)
            if exc.status == 429:
                context = {"form": form, "next": _next_url(request, pending.get("next") or "")}
                return render(request, "core/two_factor_verify.html", context, status=429)
        else:
            target = _next_url(request, pending.get("next") or reverse("core:home"))
            if pending:
                request.session.pop(PENDING, None)
                login(request, user, backend=PASSWORD_BACKEND)
                mark_signed_in(request, two_factor=True, password=None)
                if pending.get("password_change"):
                    request.session[PASSWORD_CHANGE] = True
            else:
                request.session[TWO_FACTOR_AT] = int(time.time())
            if kind == "recovery":
                left = actions.recovery_codes_left(user)
                messages.warning(
                    request,
                    _("You used a recovery code; %(n)s are left.") % {"n": left},
                )
            return redirect(target)
    context = {"form": form, "next": _next_url(request, pending.get("next") or "")}
    return render(
        request, "core/two_factor_verify.html", context, status=400 if form.errors else 200
    )


# --- Branding: the organisation's stylesheet ---------------------------------------------------


@require_GET
def brand_css(request: HttpRequest, org_id: int) -> HttpResponse:
    """``:root`` custom properties for one organisation's colour (CSP: no inline style).

    Public (login and public-form pages wear the brand too) and cacheable: the URL carries
    the colour as a version, so a change is a new URL."""
    org = Organization.objects.filter(pk=org_id).only("brand_color").first()
    if org is None:
        raise Http404
    colour = _safe_colour(org.brand_color)
    body = f":root {{ --brand: {colour}; --brand-on: {_text_on(colour)}; }}\n"
    response = HttpResponse(body, content_type="text/css; charset=utf-8")
    patch_cache_control(response, public=True, max_age=3600)
    return response
