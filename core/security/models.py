"""Security policy per organisation, and two-step verification devices per person."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

#: Data an organisation may restrict exporting, by kind.
EXPORT_KINDS = ("members", "records", "metrics")


def default_export_roles() -> dict[str, list[str]]:
    return {
        "members": ["owner", "admin"],
        "records": ["owner", "admin", "member"],
        "metrics": ["owner", "admin"],
    }


class SecurityPolicy(models.Model):
    """One per organisation, created with the defaults the first time it is needed."""

    org = models.ForeignKey(
        "core.Organization", on_delete=models.CASCADE, related_name="security_policies"
    )
    password_min_length = models.PositiveSmallIntegerField(default=10)
    password_require_mixed_case = models.BooleanField(default=False)
    password_require_digit = models.BooleanField(default=False)
    password_require_symbol = models.BooleanField(default=False)
    password_disallow_email = models.BooleanField(default=True)
    #: 0: sessions last as long as the sign-in cookie (two weeks).
    session_lifetime_minutes = models.PositiveIntegerField(default=0)
    #: CIDR networks members may sign in and call the API from; empty: anywhere.
    ip_allowlist = models.JSONField(default=list, blank=True)
    require_two_factor_for_admins = models.BooleanField(default=False)
    export_roles = models.JSONField(default=default_export_roles)
    external_sharing = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "security policies"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org"], name="security_policy_one_per_org"),
        ]

    def __str__(self) -> str:
        return f"security policy of org {self.org_id}"


class TwoFactorDevice(models.Model):
    """A person's TOTP authenticator (RFC 6238). The seed is stored encrypted."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor_device"
    )
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    #: The last time step whose code was accepted: a code is never accepted twice.
    last_used_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"two-factor device of user {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """A single-use code for when the authenticator is lost; only its hash is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["user", "code_hash"])]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"
