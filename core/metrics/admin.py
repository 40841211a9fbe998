"""Platform admin pages for activity and DAG metrics: read-only (activity is recorded by
the request path, rollups by ``dag_rollup``; definitions change through the operator
dashboard so every version is kept)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.metrics.models import (
    ActivityDaily,
    DagDefinition,
    DailyOrgRollup,
    MemberLapse,
    PlatformDaily,
    SystemDaily,
)
from core.tenant_admin import GenericModelAdmin, TenantModelAdmin


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DailyOrgRollup)
class DailyOrgRollupAdmin(_ReadOnly, TenantModelAdmin[DailyOrgRollup]):
    list_display = ("org", "day", "members", "active", "systems_used", "is_dag", "is_deep")
    list_filter = ("org", "is_dag", "is_deep", "size_bucket", "edition")
    date_hierarchy = "day"
    search_fields = ("org__name", "org__slug")


@admin.register(ActivityDaily)
class ActivityDailyAdmin(_ReadOnly, TenantModelAdmin[ActivityDaily]):
    list_display = ("org", "day", "member_id", "minutes")
    date_hierarchy = "day"
    search_fields = ("org__name",)
    show_full_result_count = False


@admin.register(SystemDaily)
class SystemDailyAdmin(_ReadOnly, TenantModelAdmin[SystemDaily]):
    list_display = ("org", "day", "system")
    date_hierarchy = "day"
    search_fields = ("org__name", "system")


@admin.register(MemberLapse)
class MemberLapseAdmin(_ReadOnly, TenantModelAdmin[MemberLapse]):
    list_display = ("org", "member_id", "reason", "joined_at", "ended_at", "reactivated_at")
    list_filter = ("org", "reason")
    search_fields = ("org__name",)


@admin.register(DagDefinition)
class DagDefinitionAdmin(_ReadOnly, GenericModelAdmin[DagDefinition]):
    list_display = ("version", "created_at")


@admin.register(PlatformDaily)
class PlatformDailyAdmin(_ReadOnly, GenericModelAdmin[PlatformDaily]):
    list_display = ("day", "dag_count", "deep_count", "dau", "mau", "orgs", "active_orgs")
    date_hierarchy = "day"
