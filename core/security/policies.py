"""Reading and applying an organisation's security policy.

The policy is read on every request to an organisation's pages and API, so it is cached
per organisation (``forget_policy`` drops the copy after a change). An organisation that
never saved a policy has the defaults: nothing is restricted beyond the platform's rules.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Forbidden, ValidationFailed
from core.models import Membership, Organization
from core.security.models import EXPORT_KINDS, SecurityPolicy, default_export_roles

POLICY_CACHE_SECONDS = 300
ADMIN_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


def _policy_key(org_id: int) -> str:
    return f"tack:security-policy:{org_id}"


def policy_for(org_id: int) -> SecurityPolicy:
    """The organisation's policy (unsaved defaults if it never changed one), cached."""
    cached: SecurityPolicy | None = cache.get(_policy_key(org_id))
    if cached is None:
        cached = SecurityPolicy.objects.filter(org_id=org_id).first() or SecurityPolicy(
            org_id=org_id
        )
        cache.set(_policy_key(org_id), cached, POLICY_CACHE_SECONDS)
    return cached


def get_or_create_policy(org: Organization) -> SecurityPolicy:
    policy, _created = SecurityPolicy.objects.get_or_create(org=org)
    return policy


def forget_policy(org_id: int) -> None:
    """Call after changing a policy (again after commit, so no reader caches the old one)."""
    cache.delete(_policy_key(org_id))
    transaction.on_commit(lambda: cache.delete(_policy_key(org_id)))


# --- IP allowlist -------------------------------------------------------------------------


def parse_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """One allowlist entry: a CIDR network or a single address. Raises ``ValueError``."""
    return ipaddress.ip_network(value.strip(), strict=False)


def ip_in_allowlist(allowlist: Iterable[str], ip: str | None) -> bool:
    """Whether ``ip`` is in one of the networks; an empty allowlist admits everyone."""
    networks = list(allowlist)
    if not networks:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # a dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d
        addresses.append(mapped)
    for entry in networks:
        try:
            network = parse_network(entry)
        except ValueError:
            continue
        if any(candidate in network for candidate in addresses):
            return True
    return False


def ip_allowed(org_id: int, ip: str | None) -> bool:
    return ip_in_allowlist(policy_for(org_id).ip_allowlist, ip)


def ip_refusal_message() -> str:
    return _(
        "Your organisation only allows access from its approved networks, and your "
        "current address is not one of them."
    )


# --- Passwords ----------------------------------------------------------------------------


def strictest_policy(org_ids: Iterable[int]) -> SecurityPolicy:
    """One policy holding the strictest password rules of several organisations."""
    merged = SecurityPolicy(password_min_length=0, password_disallow_email=False)
    for org_id in org_ids:
        policy = policy_for(org_id)
        merged.password_min_length = max(merged.password_min_length, policy.password_min_length)
        for flag in (
            "password_require_mixed_case",
            "password_require_digit",
            "password_require_symbol",
            "password_disallow_email",
        ):
            if getattr(policy, flag):
                setattr(merged, flag, True)
    return merged


def password_problems(policy: SecurityPolicy, password: str, email: str = "") -> list[str]:
    """What ``password`` lacks under ``policy``, in words; empty when it complies."""
    problems = []
    if len(password) < policy.password_min_length:
        problems.append(_("Use at least %(n)s characters.") % {"n": policy.password_min_length})
    if policy.password_require_mixed_case and not (
        re.search(r"[a-z]", password) and re.search(r"[A-Z]", password)
    ):
        problems.append(_("Use both upper-case and lower-case letters."))
    if policy.password_require_digit and not re.search(r"\d", password):
        problems.append(_("Include at least one digit."))
    if policy.password_require_symbol and not any(c in string.punctuation for c in password):
        problems.append(_("Include at least one symbol, such as ! or #."))
    if policy.password_disallow_email and email:
        local = email.split("@")[0].lower()
        if email.lower() in password.lower() or (len(local) >= 4 and local in password.lower()):
            problems.append(_("Do not use your e-mail address in your password."))
    return problems


def check_password_policies(
    password: str, email: str, org_ids: Iterable[int], *, field: str = "password"
) -> None:
    """Raise ``ValidationFailed`` unless ``password`` meets every organisation's rules."""
    problems = password_problems(strictest_policy(org_ids), password, email)
    if problems:
        raise ValidationFailed(
            _("Your organisation's password rules are not met."),
            code="password_policy",
            fields={field: problems},
        )


def active_org_ids(user_id: int) -> list[int]:
    return list(
        Membership.objects.filter(user_id=user_id, status=Membership.Status.ACTIVE).values_list(
            "org_id", flat=True
        )
    )


# --- Two-step verification ----------------------------------------------------------------


def two_factor_required(membership: Membership) -> bool:
    """Whether this member must use two-step verification in their organisation."""
    if membership.role not in ADMIN_ROLES or membership.user.is_app:
        return False
    return policy_for(membership.org_id).require_two_factor_for_admins


# --- Exports and external sharing ---------------------------------------------------------


def export_allowed(member: Membership, kind: str) -> bool:
    if kind not in EXPORT_KINDS:
        raise KeyError(f"Unknown export kind {kind!r}")
    if member.role == Membership.Role.OWNER:
        return True  # owners can always export, so no policy locks the data in
    roles = policy_for(member.org_id).export_roles or {}
    return member.role in roles.get(kind, default_export_roles()[kind])


def check_export_allowed(member: Membership, kind: str) -> None:
    """Raise ``Forbidden`` (``export_not_allowed``) unless the member's role may export
    ``kind`` ("members", "records" or "metrics") under the organisation's policy."""
    if not export_allowed(member, kind):
        raise Forbidden(
            _("Your organisation's security policy does not let your role export this data."),
            code="export_not_allowed",
            fields={"kind": [kind]},
        )


def external_sharing_allowed(org_id: int) -> bool:
    """Public form links and guest members: both off when the organisation says so."""
    return policy_for(org_id).external_sharing


def check_external_sharing(org_id: int) -> None:
    if not external_sharing_allowed(org_id):
        raise Forbidden(
            _("Your organisation's security policy does not allow sharing outside it."),
            code="external_sharing_off",
        )
