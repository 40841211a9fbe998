"""Web forms for the security policy page and two-step verification."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import TackForm
from core.models import Membership
from core.security.actions import (
    MAX_PASSWORD_LENGTH,
    MAX_SESSION_MINUTES,
    MIN_PASSWORD_LENGTH,
)
from core.security.models import EXPORT_KINDS, SecurityPolicy

ROLE_CHOICES = [(r.value, r.label) for r in Membership.Role]
EXPORT_LABELS = {
    "members": _("Member directory"),
    "records": _("Low-code records"),
    "metrics": _("Usage metrics"),
}


class SecurityPolicyForm(TackForm):
    password_min_length = forms.IntegerField(
        label=_("Minimum password length"),
        min_value=MIN_PASSWORD_LENGTH,
        max_value=MAX_PASSWORD_LENGTH,
    )
    password_require_mixed_case = forms.BooleanField(
        label=_("Require upper-case and lower-case letters"), required=False
    )
    password_require_digit = forms.BooleanField(label=_("Require a digit"), required=False)
    password_require_symbol = forms.BooleanField(label=_("Require a symbol"), required=False)
    password_disallow_email = forms.BooleanField(
        label=_("Refuse passwords that contain the e-mail address"), required=False
    )
    session_lifetime_minutes = forms.IntegerField(
        label=_("Session lifetime (minutes)"),
        min_value=0,
        max_value=MAX_SESSION_MINUTES,
        help_text=_("Members sign in again after this long. 0: two weeks (the default)."),
    )
    ip_allowlist = forms.CharField(
        label=_("Allowed networks"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "203.0.113.0/24\n2001:db8::/32"}),
        help_text=_(
            "One network (CIDR) or address per line. Members can only sign in and use the API "
            "from these. Leave empty to allow any network."
        ),
    )
    require_two_factor_for_admins = forms.BooleanField(
        label=_("Require two-step verification for owners and admins"), required=False
    )
    external_sharing = forms.BooleanField(
        label=_("Allow sharing outside the organisation (public form links and guests)"),
        required=False,
    )

    def __init__(self, policy: SecurityPolicy, *args: Any, **kwargs: Any) -> None:
        initial = {
            "password_min_length": policy.password_min_length,
            "password_require_mixed_case": policy.password_require_mixed_case,
            "password_require_digit": policy.password_require_digit,
            "password_require_symbol": policy.password_require_symbol,
            "password_disallow_email": policy.password_disallow_email,
            "session_lifetime_minutes": policy.session_lifetime_minutes,
            "ip_allowlist": "\n".join(policy.ip_allowlist or []),
            "require_two_factor_for_admins": policy.require_two_factor_for_admins,
            "external_sharing": policy.external_sharing,
        }
        roles = policy.export_roles or {}
        for kind in EXPORT_KINDS:
            initial[f"export_{kind}"] = roles.get(kind, [])
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        for kind in EXPORT_KINDS:
            self.fields[f"export_{kind}"] = forms.MultipleChoiceField(
                label=EXPORT_LABELS[kind],
                choices=ROLE_CHOICES,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )

    def export_fields(self) -> list[forms.BoundField]:
        return [self[f"export_{kind}"] for kind in EXPORT_KINDS]

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes = {
            name: data[name]
            for name in (
                "password_min_length",
                "password_require_mixed_case",
                "password_require_digit",
                "password_require_symbol",
                "password_disallow_email",
                "session_lifetime_minutes",
                "require_two_factor_for_admins",
                "external_sharing",
            )
        }
        changes["ip_allowlist"] = [
            line.strip() for line in data["ip_allowlist"].splitlines() if line.strip()
        ]
        changes["export_roles"] = {kind: data[f"export_{kind}"] for kind in EXPORT_KINDS}
        return changes


class TwoFactorCodeForm(TackForm):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "placeholder": "123456",
            }
        ),
        help_text=_("The 6-digit code from your authenticator app, or a recovery code."),
    )
