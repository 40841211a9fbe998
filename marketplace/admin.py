"""Django admin for the marketplace: for platform support, read-only.

Partners, apps, versions and installations change through the product (partner console,
review queue, installed-apps page), where actions check roles, validate manifests, follow
the review transitions and write the audit log. Support staff can look here, and suspend
or reactivate a partner (a suspended partner's apps leave the catalogue).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.tenant_admin import TenantModelAdmin
from marketplace.models import App, AppVersion, Installation, Partner, PartnerMember


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(f.name for f in self.model._meta.concrete_fields)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartnerMemberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PartnerMember
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "contact_email", "status", "created_at")
    list_filter: ClassVar[tuple[Any, ...]] = ("status",)
    search_fields = ("name", "slug", "contact_email")
    exclude = ("payout_details",)  # encrypted; never shown
    inlines = (PartnerMemberInline,)
    actions = ("suspend", "reactivate")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(f for f in super().get_readonly_fields(request, obj) if f != "payout_details")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)  # for the actions; fields stay read-only

    @admin.action(description=_("Suspend partners (their apps leave the catalogue)"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        count = queryset.update(status=Partner.Status.SUSPENDED)
        self.message_user(request, _("%(n)s partners suspended.") % {"n": count}, messages.SUCCESS)

    @admin.action(description=_("Reactivate partners"))
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        count = queryset.update(status=Partner.Status.ACTIVE)
        self.message_user(
            request, _("%(n)s partners reactivated.") % {"n": count}, messages.SUCCESS
        )


@admin.register(App)
class AppAdmin(ReadOnlyAdmin):
    list_display = ("app_id", "name", "partner", "published_version", "is_listed", "created_at")
    list_select_related = ("partner", "published_version")
    list_filter: ClassVar[tuple[Any, ...]] = ("is_listed",)
    search_fields = ("app_id", "name", "partner__name")
    exclude = ("webhook_secret",)  # encrypted; never shown

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(f for f in super().get_readonly_fields(request, obj) if f != "webhook_secret")


@admin.register(AppVersion)
class AppVersionAdmin(ReadOnlyAdmin):
    list_display = ("app", "version", "status", "submitted_at", "reviewed_at", "published_at")
    list_select_related = ("app",)
    list_filter: ClassVar[tuple[Any, ...]] = ("status",)
    search_fields = ("app__app_id", "version")


@admin.register(Installation)
class InstallationAdmin(TenantModelAdmin[Installation]):
    list_display = ("app", "org", "version", "status", "installed_at", "uninstalled_at")
    list_select_related = ("app", "org", "version")
    list_filter: ClassVar[tuple[Any, ...]] = ("org", "status")
    search_fields = ("app__app_id", "org__name")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(f.name for f in self.model._meta.concrete_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
