"""Applying the policy to requests: organisation pages (``core.views.org_page``) and the
organisation API (``OrgPolicyPermission``, a default DRF permission class).

Session keys:
- ``AUTH_AT``: when this session signed in (epoch seconds), for the session lifetime;
- ``TWO_FACTOR_AT``: when this session passed two-step verification;
- ``PASSWORD_CHANGE``: the password no longer meets a policy; pages ask for a new one;
- ``PENDING``: a sign-in waiting for its second step (user id, time, where to go next).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission

from core.errors import Forbidden, TackError
from core.models import Membership, User
from core.security.actions import has_two_factor
from core.security.policies import (
    active_org_ids,
    ip_allowed,
    ip_refusal_message,
    password_problems,
    policy_for,
    strictest_policy,
    two_factor_required,
)

AUTH_AT = "tack.auth_at"
TWO_FACTOR_AT = "tack.two_factor_at"
PASSWORD_CHANGE = "tack.password_change_required"
PENDING = "tack.two_factor_pending"
PENDING_SECONDS = 300


class TwoFactorCodeRequired(TackError):
    status = 401
    code = "two_factor_code_required"


class SessionExpired(TackError):
    status = 401
    code = "session_expired"


def client_ip(request: HttpRequest) -> str | None:
    ip: str | None = request.META.get("REMOTE_ADDR")
    return ip


def mark_signed_in(request: HttpRequest, *, two_factor: bool, password: str | None) -> None:
    """After ``login()``: start the session's clock; flag a password that fails a policy."""
    now = int(time.time())
    request.session[AUTH_AT] = now
    if two_factor:
        request.session[TWO_FACTOR_AT] = now
    user = request.user
    if password is not None and isinstance(user, User) and password_fails_policies(user, password):
        request.session[PASSWORD_CHANGE] = True


def mark_two_factor_passed(request: HttpRequest) -> None:
    request.session[TWO_FACTOR_AT] = int(time.time())


def password_fails_policies(user: User, password: str) -> bool:
    policy = strictest_policy(active_org_ids(user.pk))
    return bool(password_problems(policy, password, user.email))


def session_age_exceeded(request: HttpRequest, lifetime_minutes: int) -> bool:
    if not lifetime_minutes:
        return False
    started = request.session.get(AUTH_AT)
    if started is None:  # signed in before lifetimes were tracked: count from now
        request.session[AUTH_AT] = int(time.time())
        return False
    return time.time() - float(started) > lifetime_minutes * 60


def session_two_factor_ok(request: HttpRequest) -> bool:
    return bool(request.session.get(TWO_FACTOR_AT))


def signed_in_orgs_refuse_ip(user: User, ip: str | None) -> bool:
    """At sign-in: refused when every organisation the person belongs to refuses the IP."""
    org_ids = active_org_ids(user.pk)
    return bool(org_ids) and not any(ip_allowed(org_id, ip) for org_id in org_ids)


# --- pages -------------------------------------------------------------------------------


def enforce_page(request: HttpRequest, membership: Membership) -> HttpResponse | None:
    """The response that replaces an organisation page the policy does not let through."""
    policy = policy_for(membership.org_id)
    if not ip_allowed(membership.org_id, client_ip(request)):
        context = {"message": ip_refusal_message(), "code": "ip_not_allowed"}
        return render(request, "core/403.html", context, status=403)
    if session_age_exceeded(request, policy.session_lifetime_minutes):
        login_url = reverse("core:login")
        logout(request)
        messages.info(
            request,
            _("Your session ended under your organisation's security policy. Sign in again."),
        )
        return redirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
    if request.session.get(PASSWORD_CHANGE):
        messages.warning(
            request,
            _("Your organisation's password rules changed. Choose a new password to continue."),
        )
        return redirect(reverse("core:account") + "#password")
    if two_factor_required(membership):
        next_query = urlencode({"next": request.get_full_path()})
        if not has_two_factor(membership.user):
            messages.warning(
                request,
                _("Your organisation requires two-step verification for admins. Set it up now."),
            )
            return redirect(f"{reverse('core:two_factor')}?{next_query}")
        if not session_two_factor_ok(request):
            return redirect(f"{reverse('core:two_factor_verify')}?{next_query}")
    return None


# --- API ---------------------------------------------------------------------------------


def enforce_api(request: Any, org_id: Any) -> None:
    """Raise the refusal for an API call to ``org_id`` the policy does not let through.

    Only callers who are active members are checked; anyone else gets the view's own 404.
    """
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated or user.is_app:
        return
    try:
        org_pk = int(org_id)
    except (TypeError, ValueError):
        return
    if not 0 < org_pk < 2**63:
        return
    policy = policy_for(org_pk)
    if not (
        policy.ip_allowlist
        or policy.session_lifetime_minutes
        or policy.require_two_factor_for_admins
    ):
        return  # nothing to enforce: no membership query on the hot path
    membership = (
        Membership.objects.select_related("user")
        .filter(org_id=org_pk, user=user, status=Membership.Status.ACTIVE)
        .first()
    )
    if membership is None:
        return
    if not ip_allowed(org_pk, client_ip(request)):
        raise Forbidden(ip_refusal_message(), code="ip_not_allowed")
    by_session = request.auth is None
    if by_session and session_age_exceeded(request, policy.session_lifetime_minutes):
        logout(request._request)
        raise SessionExpired(
            _("Your session ended under your organisation's security policy. Sign in again.")
        )
    if two_factor_required(membership):
        enrolled = has_two_factor(user)
        if not enrolled or (by_session and not session_two_factor_ok(request)):
            raise Forbidden(
                _("Your organisation requires two-step verification for admins."),
                code="two_factor_required",
            )


def enforce_session_for_user(request: Any) -> None:
    """For a session-authenticated call outside any organisation that hands out a lasting
    credential (a personal API token): the session must still be within every organisation's
    lifetime, and have passed the second step wherever the person must use it."""
    user = request.user
    if getattr(request, "auth", None) is not None or not isinstance(user, User) or user.is_app:
        return
    memberships = list(
        Membership.objects.select_related("user").filter(user=user, status=Membership.Status.ACTIVE)
    )
    for membership in memberships:
        lifetime = policy_for(membership.org_id).session_lifetime_minutes
        if session_age_exceeded(request, lifetime):
            logout(getattr(request, "_request", request))
            raise SessionExpired(
                _("Your session ended under your organisation's security policy. Sign in again.")
            )
    needs_step = any(two_factor_required(m) for m in memberships)
    if needs_step and has_two_factor(user) and not session_two_factor_ok(request):
        raise Forbidden(
            _("Your organisation requires two-step verification for admins."),
            code="two_factor_required",
        )


def socket_refused_orgs(user: User, ip: str | None, session: Any, by_session: bool) -> set[int]:
    """The organisations whose events a ``/ws/`` socket may not receive under their policy:
    a network outside the allowlist, a session past its lifetime, a missing second step."""
    refused: set[int] = set()
    if not isinstance(user, User) or user.is_app:
        return refused
    memberships = Membership.objects.select_related("user").filter(
        user=user, status=Membership.Status.ACTIVE
    )
    for membership in memberships:
        policy = policy_for(membership.org_id)
        if not ip_allowed(membership.org_id, ip):
            refused.add(membership.org_id)
            continue
        started = session.get(AUTH_AT) if by_session and session is not None else None
        lifetime = policy.session_lifetime_minutes
        if lifetime and started is not None and time.time() - float(started) > lifetime * 60:
            refused.add(membership.org_id)
            continue
        if two_factor_required(membership):
            stepped = by_session and session is not None and bool(session.get(TWO_FACTOR_AT))
            if not has_two_factor(user) or (by_session and not stepped):
                refused.add(membership.org_id)
    return refused


class OrgPolicyPermission(BasePermission):
    """A default DRF permission: every view with ``org_id`` in its URL gets the policy."""

    def has_permission(self, request: Any, view: Any) -> bool:
        org_id = getattr(view, "kwargs", {}).get("org_id")
        if org_id is not None:
            enforce_api(request, org_id)
        return True


def check_sign_in_policies(user: User, ip: str | None, otp_code: str | None) -> None:
    """For API sign-ins (session or token): the network allowlists, then the two-step code."""
    from core.security.actions import check_two_factor_code

    if signed_in_orgs_refuse_ip(user, ip):
        raise Forbidden(ip_refusal_message(), code="ip_not_allowed")
    if has_two_factor(user):
        if not otp_code:
            raise TwoFactorCodeRequired(
                _("This account uses two-step verification: send the current code as otp_code."),
                fields={"otp_code": [_("Required for this account.")]},
            )
        check_two_factor_code(user, otp_code)
