"""Reads: querysets with their joins done, so views never cause N+1 queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from core.models import (
    ApiToken,
    AuditLogEntry,
    Department,
    DepartmentMember,
    Invitation,
    Membership,
    Organization,
    User,
)


def organizations_for_user(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(
        memberships__user=user, memberships__status=Membership.Status.ACTIVE
    ).order_by("name", "id")


def member_list(
    org: Organization,
    *,
    filters: dict[str, Any] | None = None,
    base: QuerySet[Membership] | None = None,
) -> QuerySet[Membership]:
    """Members of ``org``, users and departments loaded. Filters: department, role, status, q.

    People only: installed apps' own accounts (``User.is_app``) are listed with the
    installed apps, not in the directory."""
    filters = filters or {}
    qs = (
        (base if base is not None else Membership.objects.all())
        .filter(org=org, user__is_app=False)
        .select_related("user")
        .prefetch_related(
            Prefetch(
                "department_links",
                queryset=DepartmentMember.objects.select_related("department").order_by("id"),
            )
        )
    )
    if filters.get("department"):
        qs = qs.filter(department_links__department_id=filters["department"])
    if filters.get("role"):
        qs = qs.filter(role=filters["role"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("q"):
        term = filters["q"]
        qs = qs.filter(
            Q(user__display_name__icontains=term)
            | Q(user__email__icontains=term)
            | Q(title__icontains=term)
        )
    return qs.distinct()


def department_list(
    org: Organization, *, base: QuerySet[Department] | None = None
) -> QuerySet[Department]:
    qs = base if base is not None else Department.objects.all()
    return qs.filter(org=org).annotate(member_count=Count("members"))


def department_tree(org: Organization) -> list[dict[str, Any]]:
    """The whole tree as nested dicts, built from one query."""
    nodes: dict[int | None, list[dict[str, Any]]] = {}
    for dep in department_list(org).order_by("name", "id"):
        nodes.setdefault(dep.parent_id, []).append(
            {"department": dep, "member_count": getattr(dep, "member_count", 0), "children": []}
        )
    for children in nodes.values():
        for node in children:
            node["children"] = nodes.get(node["department"].pk, [])
    return nodes.get(None, [])


def audit_log(org: Organization) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(org=org).select_related("actor")


def department_members(department: Department) -> QuerySet[DepartmentMember]:
    """A department's members, managers first, with their users loaded."""
    return (
        DepartmentMember.objects.filter(org_id=department.org_id, department=department)
        .select_related("membership__user")
        .order_by("-is_manager", "membership__user__display_name", "id")
    )


def pending_invitations(org: Organization) -> QuerySet[Invitation]:
    """Invitations of ``org`` that can still be accepted, newest first."""
    return Invitation.objects.filter(
        org=org, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def pending_invitations_for_email(email: str) -> QuerySet[Invitation]:
    """Open invitations addressed to ``email``, with their organisations."""
    return Invitation.objects.filter(
        email=email.lower(),
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).select_related("org", "invited_by")


def api_tokens_for_user(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-id")


def email_has_account(email: str) -> bool:
    return User.objects.filter(email=email.lower()).exists()
