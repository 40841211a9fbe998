"""Platform admin pages for security policies and two-step verification (read-only: policies
change through ``do_update_security_policy`` so every change is checked, audited and the
cached copy dropped; seeds and recovery-code hashes are never shown)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.security.models import RecoveryCode, SecurityPolicy, TwoFactorDevice
from core.tenant_admin import GenericModelAdmin, TenantModelAdmin


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(_ReadOnly, TenantModelAdmin[SecurityPolicy]):
    list_display = (
        "org",
        "password_min_length",
        "session_lifetime_minutes",
        "require_two_factor_for_admins",
        "external_sharing",
        "updated_at",
    )
    list_filter = ("org", "require_two_factor_for_admins", "external_sharing")
    list_select_related = ("org",)
    search_fields = ("org__name", "org__slug")


@admin.register(TwoFactorDevice)
class TwoFactorDeviceAdmin(_ReadOnly, GenericModelAdmin[TwoFactorDevice]):
    """Deleting a device turns two-step verification off for a person who lost it."""

    list_display = ("user", "created_at", "confirmed_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    exclude = ("secret_encrypted", "last_used_step")


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(_ReadOnly, GenericModelAdmin[RecoveryCode]):
    list_display = ("user", "created_at", "used_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    exclude = ("code_hash",)
