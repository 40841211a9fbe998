"""Writes: the organisation's security policy, and a person's two-step verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_audit
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Membership, User
from core.permissions import check_permission
from core.security import totp
from core.security.models import EXPORT_KINDS, RecoveryCode, SecurityPolicy, TwoFactorDevice
from core.security.policies import forget_policy, ip_in_allowlist, parse_network

MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 8, 128
MIN_SESSION_MINUTES, MAX_SESSION_MINUTES = 5, 60 * 24 * 30
MAX_ALLOWLIST = 100
POLICY_FIELDS = (
    "password_min_length",
    "password_require_mixed_case",
    "password_require_digit",
    "password_require_symbol",
    "password_disallow_email",
    "session_lifetime_minutes",
    "ip_allowlist",
    "require_two_factor_for_admins",
    "export_roles",
    "external_sharing",
)
_BOOLEAN_FIELDS = frozenset(
    {
        "password_require_mixed_case",
        "password_require_digit",
        "password_require_symbol",
        "password_disallow_email",
        "require_two_factor_for_admins",
        "external_sharing",
    }
)
_ROLES = frozenset(Membership.Role.values)


def _int_in(value: Any, low: int, high: int, *, zero_ok: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (zero_ok and value == 0) or low <= value <= high


def check_update_security_policy(
    actor: Membership, changes: dict[str, Any], *, ip: str | None
) -> dict[str, Any]:
    """Validate and authorise; returns the changes normalised (CIDRs in canonical form)."""
    check_permission(actor, "core.security.manage")
    fields: dict[str, list[str]] = {}
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    for name in unknown:
        fields[name] = [_("Unknown setting.")]
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name in _BOOLEAN_FIELDS:
            if not isinstance(value, bool):
                fields[name] = [_("Must be true or false.")]
            clean[name] = value
    if "password_min_length" in changes:
        value = changes["password_min_length"]
        if not _int_in(value, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH):
            fields["password_min_length"] = [
                _("Between %(low)s and %(high)s characters.")
                % {"low": MIN_PASSWORD_LENGTH, "high": MAX_PASSWORD_LENGTH}
            ]
        clean["password_min_length"] = value
    if "session_lifetime_minutes" in changes:
        value = changes["session_lifetime_minutes"]
        if not _int_in(value, MIN_SESSION_MINUTES, MAX_SESSION_MINUTES, zero_ok=True):
            fields["session_lifetime_minutes"] = [
                _("0 (no limit) or between %(low)s and %(high)s minutes (30 days).")
                % {"low": MIN_SESSION_MINUTES, "high": MAX_SESSION_MINUTES}
            ]
        clean["session_lifetime_minutes"] = value
    if "ip_allowlist" in changes:
        clean["ip_allowlist"] = _check_allowlist(changes["ip_allowlist"], fields)
    if "export_roles" in changes:
        clean["export_roles"] = _check_export_roles(changes["export_roles"], fields)
    if fields:
        raise ValidationFailed(_("Please correct the highlighted settings."), fields=fields)
    allowlist = clean.get("ip_allowlist")
    if allowlist and ip is not None and not ip_in_allowlist(allowlist, ip):
        reason = _(
            "This allowlist would lock you out: your current address %(ip)s is not in it. "
            "Add your own network first."
        ) % {"ip": ip}
        raise ValidationFailed(
            reason, code="ip_allowlist_locks_you_out", fields={"ip_allowlist": [reason]}
        )
    return clean


def _check_allowlist(value: Any, fields: dict[str, list[str]]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fields["ip_allowlist"] = [_("A list of networks such as 203.0.113.0/24.")]
        return []
    if len(value) > MAX_ALLOWLIST:
        fields["ip_allowlist"] = [_("At most %(n)s networks.") % {"n": MAX_ALLOWLIST}]
        return []
    networks, bad = [], []
    for entry in value:
        if not entry.strip():
            continue
        try:
            network = str(parse_network(entry))
        except ValueError:
            bad.append(entry[:60])
            continue
        if network not in networks:
            networks.append(network)
    if bad:
        fields["ip_allowlist"] = [
            _("Not a network or address: %(entries)s") % {"entries": ", ".join(bad)}
        ]
    return networks


def _check_export_roles(value: Any, fields: dict[str, list[str]]) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        fields["export_roles"] = [_("An object of export kinds to role lists.")]
        return {}
    problems = []
    unknown_kinds = sorted(set(value) - set(EXPORT_KINDS))
    if unknown_kinds:
        problems.append(
            _("Unknown export kinds: %(k)s") % {"k": ", ".join(map(str, unknown_kinds))}
        )
    clean: dict[str, list[str]] = {}
    for kind in EXPORT_KINDS:
        if kind not in value:
            continue
        roles = value[kind]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            problems.append(_("%(kind)s: a list of roles.") % {"kind": kind})
            continue
        unknown_roles = sorted(set(roles) - _ROLES)
        if unknown_roles:
            problems.append(
                _("Unknown roles: %(roles)s") % {"roles": ", ".join(r[:20] for r in unknown_roles)}
            )
            continue
        clean[kind] = [r for r in Membership.Role.values if r in roles]
    if problems:
        fields["export_roles"] = problems
    return clean


@transaction.atomic
def do_update_security_policy(
    actor: Membership, changes: dict[str, Any], *, ip: str | None = None
) -> SecurityPolicy:
    """Apply ``changes`` (a subset of ``POLICY_FIELDS``); audited with old → new values."""
    clean = check_update_security_policy(actor, changes, ip=ip)
    SecurityPolicy.objects.get_or_create(org_id=actor.org_id)
    policy = SecurityPolicy.objects.select_for_update().get(org_id=actor.org_id)
    if "export_roles" in clean:
        clean["export_roles"] = {**(policy.export_roles or {}), **clean["export_roles"]}
    before, after = {}, {}
    for name, value in clean.items():
        old = getattr(policy, name)
        if old != value:
            before[name], after[name] = old, value
            setattr(policy, name, value)
    if after:
        policy.updated_at = timezone.now()
        policy.updated_by = actor.user
        policy.save()
        record_audit(
            actor.org,
            actor.user,
            "security.policy.update",
            policy,
            data={"before": before, "after": after},
            ip=ip,
        )
        forget_policy(actor.org_id)
    return policy


# --- Two-step verification ----------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """Shown once: the seed, its ``otpauth://`` URI and a QR code of it."""

    secret: str
    uri: str
    qr_data_url: str


def _audit_user_orgs(user: User, action: str, ip: str | None) -> None:
    """Two-step changes are personal; each organisation the person belongs to sees them."""
    for membership in Membership.objects.filter(
        user=user, status=Membership.Status.ACTIVE
    ).select_related("org"):
        record_audit(membership.org, user, action, user, ip=ip)


@transaction.atomic
def do_start_two_factor(user: User, *, issuer: str = "Tack") -> Enrolment:
    """A new, unconfirmed seed (replacing an unconfirmed one). Refused while one is active."""
    secret = totp.new_secret()
    TwoFactorDevice.objects.get_or_create(
        user=user, defaults={"secret_encrypted": totp.encrypt_secret(secret)}
    )
    device = TwoFactorDevice.objects.select_for_update().get(user=user)
    if device.is_confirmed:
        raise Conflict(
            _("Two-step verification is already on. Turn it off first to use a new device."),
            code="two_factor_enabled",
        )
    device.secret_encrypted = totp.encrypt_secret(secret)
    device.created_at = timezone.now()
    device.last_used_step = 0
    device.save()
    uri = totp.provisioning_uri(secret, user.email, issuer)
    return Enrolment(secret=secret, uri=uri, qr_data_url=totp.qr_data_url(uri))


def _verify_device_code(device: TwoFactorDevice, code: str) -> bool:
    """Check a TOTP code against a locked device row; consumes its time step."""
    step = totp.matching_step(totp.device_secret(device), code)
    if step is None or step <= device.last_used_step:
        return False
    device.last_used_step = step
    device.save(update_fields=["last_used_step"])
    return True


def _use_recovery_code(user: User, code: str) -> bool:
    digest = totp.hash_recovery_code(code)
    used = RecoveryCode.objects.filter(user=user, code_hash=digest, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return used == 1


def _bad_code() -> ValidationFailed:
    return ValidationFailed(
        _("That code is not valid. Codes change every 30 seconds and work once."),
        code="invalid_code",
        fields={"code": [_("Wrong or already used code.")]},
    )


def do_confirm_two_factor(user: User, code: str, *, ip: str | None = None) -> list[str]:
    """Turn the pending device on with a valid code; returns ten recovery codes (shown once)."""
    totp.check_not_locked(user.pk)
    with transaction.atomic():
        device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            raise NotFound(_("Start setting up two-step verification first."))
        if device.is_confirmed:
            raise Conflict(_("Two-step verification is already on."), code="two_factor_enabled")
        ok = _verify_device_code(device, code)
        if ok:
            device.confirmed_at = timezone.now()
            device.save(update_fields=["confirmed_at"])
            codes = _replace_recovery_codes(user)
            _audit_user_orgs(user, "security.two_factor.enable", ip)
    if not ok:
        totp.count_failure(user.pk)
        raise _bad_code()
    totp.clear_failures(user.pk)
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = totp.new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=totp.hash_recovery_code(c)) for c in codes
    )
    return codes


def confirmed_device(user: User) -> TwoFactorDevice | None:
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def has_two_factor(user: User) -> bool:
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def check_two_factor_code(user: User, code: str) -> str:
    """Verify a sign-in code: a TOTP code, or one of the recovery codes (used up).

    Returns "totp" or "recovery"; raises ``ValidationFailed`` or ``TooManyAttempts``."""
    totp.check_not_locked(user.pk)
    with transaction.atomic():
        device = (
            TwoFactorDevice.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if device is None:
            raise NotFound(_("Two-step verification is not on for this account."))
        kind = None
        if _verify_device_code(device, code):
            kind = "totp"
        elif len(totp.normalise_code(code)) > totp.DIGITS and _use_recovery_code(user, code):
            kind = "recovery"
    if kind is None:
        totp.count_failure(user.pk)
        raise _bad_code()
    totp.clear_failures(user.pk)
    return kind


def do_disable_two_factor(user: User, code: str, *, ip: str | None = None) -> None:
    """Turn two-step verification off; needs a current code (or a recovery code)."""
    check_two_factor_code(user, code)
    with transaction.atomic():
        TwoFactorDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        _audit_user_orgs(user, "security.two_factor.disable", ip)


def do_regenerate_recovery_codes(user: User, code: str, *, ip: str | None = None) -> list[str]:
    check_two_factor_code(user, code)
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        _audit_user_orgs(user, "security.two_factor.recovery_codes", ip)
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
