"""Django admin for low-code data: for platform support, read-only.

Apps, forms and records are designed and edited in the product, where actions check
permissions, validate against the form's schema and keep the change history; editing
them here would skip all of that. Support staff can look (by organisation, app and
form) and restore an archived app.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.tenant_admin import TenantModelAdmin
from lowcode.models import (
    App,
    ApprovalCc,
    ApprovalFlow,
    ApprovalInstance,
    ApprovalStep,
    ApprovalTask,
    Form,
    FormVersion,
    ImportJob,
    LookupPage,
    PublicLink,
    Record,
    RecordChange,
    RecordFile,
    Report,
)


class ReadOnlyTenantAdmin(TenantModelAdmin[Any]):
    """Every field visible, nothing editable, nothing added or deleted here."""

    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(f.name for f in self.model._meta.concrete_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(App)
class AppAdmin(ReadOnlyTenantAdmin):
    list_display = ("name", "org", "is_published", "created_at", "archived_at")
    list_filter: ClassVar[tuple[Any, ...]] = ("org", "is_published", "archived_at")
    search_fields = ("name",)
    actions = ("restore",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)  # for the restore action; fields stay read-only

    @admin.action(description=_("Restore archived apps"))
    def restore(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        count = queryset.exclude(archived_at=None).update(archived_at=None)
        self.message_user(request, _("%(n)s apps restored.") % {"n": count}, messages.SUCCESS)


@admin.register(Form)
class FormAdmin(ReadOnlyTenantAdmin):
    list_display = ("name", "app", "org", "published_version", "updated_at")
    list_select_related = ("org", "app", "published_version")
    search_fields = ("name", "app__name")


@admin.register(FormVersion)
class FormVersionAdmin(ReadOnlyTenantAdmin):
    list_display = ("form", "number", "org", "published_at")
    list_select_related = ("org", "form")


@admin.register(Record)
class RecordAdmin(ReadOnlyTenantAdmin):
    list_display = ("__str__", "form", "org", "source", "created_at", "deleted_at")
    list_filter: ClassVar[tuple[Any, ...]] = ("org", "source", "approval_state")
    list_select_related = ("org", "form")
    raw_id_fields = ("form", "version", "created_by", "updated_by", "deleted_by")


@admin.register(RecordChange)
class RecordChangeAdmin(ReadOnlyTenantAdmin):
    list_display = ("record", "kind", "actor", "at", "org")
    list_select_related = ("org", "record", "actor__user")


@admin.register(RecordFile)
class RecordFileAdmin(ReadOnlyTenantAdmin):
    list_display = ("record", "attachment", "org")
    list_select_related = ("org", "record", "attachment")
    raw_id_fields = ("record", "attachment")


@admin.register(LookupPage)
class LookupPageAdmin(ReadOnlyTenantAdmin):
    list_display = ("name", "form", "input_field", "org")
    list_select_related = ("org", "form")


@admin.register(Report)
class ReportAdmin(ReadOnlyTenantAdmin):
    list_display = ("name", "form", "chart", "aggregate", "org")
    list_select_related = ("org", "form")


@admin.register(ApprovalFlow)
class ApprovalFlowAdmin(ReadOnlyTenantAdmin):
    list_display = ("form", "is_enabled", "updated_at", "org")
    list_select_related = ("org", "form")


@admin.register(ApprovalInstance)
class ApprovalInstanceAdmin(ReadOnlyTenantAdmin):
    list_display = ("record", "state", "current_node", "started_at", "finished_at", "org")
    list_filter: ClassVar[tuple[Any, ...]] = ("org", "state")
    list_select_related = ("org", "record")
    raw_id_fields = ("record",)


@admin.register(ApprovalTask)
class ApprovalTaskAdmin(ReadOnlyTenantAdmin):
    list_display = ("instance", "node_index", "approver", "state", "due_at", "org")
    list_filter: ClassVar[tuple[Any, ...]] = ("org", "state")
    list_select_related = ("org", "instance", "approver__user")


@admin.register(ApprovalStep)
class ApprovalStepAdmin(ReadOnlyTenantAdmin):
    list_display = ("instance", "action", "actor", "at", "org")
    list_select_related = ("org", "instance", "actor__user")


@admin.register(ApprovalCc)
class ApprovalCcAdmin(ReadOnlyTenantAdmin):
    list_display = ("instance", "member", "created_at", "org")
    list_select_related = ("org", "instance", "member__user")


@admin.register(PublicLink)
class PublicLinkAdmin(ReadOnlyTenantAdmin):
    list_display = ("__str__", "form", "expires_at", "revoked_at", "submission_count", "org")
    list_select_related = ("org", "form")
    exclude = ("token_hash",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(f for f in super().get_readonly_fields(request, obj) if f != "token_hash")


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyTenantAdmin):
    list_display = ("file_name", "form", "state", "created_count", "error_count", "org")
    list_filter: ClassVar[tuple[Any, ...]] = ("org", "state")
    list_select_related = ("org", "form")
