"""The audit log of administrative actions."""

from __future__ import annotations

from typing import Any

from django.db import models

from core.models import AuditLogEntry, Organization, User


def record_audit(
    org: Organization,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    *,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditLogEntry:
    """Write one entry. Call inside the action's transaction so it commits with it."""
    return AuditLogEntry.objects.create(
        org=org,
        actor=actor,
        action=action,
        target_type=target._meta.model_name or "" if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        data=data or {},
        ip_address=ip,
    )
