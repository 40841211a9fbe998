"""Existence checks for values that point at rows: members, departments, records, files."""

from __future__ import annotations

from typing import Any


def missing_ids(kind: str, scope: Any, org_id: int, ids: set[int]) -> set[int]:
    """The ids of ``ids`` that do not exist (or are not usable) in ``org_id``."""
    from core.models import Department, Membership
    from im.models import Attachment
    from lowcode.models import Record

    if not ids:
        return set()
    found: set[int]
    if kind == "member":
        found = set(
            Membership.objects.filter(org_id=org_id, pk__in=ids).values_list("pk", flat=True)
        )
    elif kind == "department":
        found = set(
            Department.objects.filter(org_id=org_id, pk__in=ids).values_list("pk", flat=True)
        )
    elif kind == "record":
        found = set(
            Record.objects.filter(
                org_id=org_id, form_id=scope, pk__in=ids, deleted_at__isnull=True
            ).values_list("pk", flat=True)
        )
    elif kind in ("file", "image"):
        files = Attachment.objects.filter(org_id=org_id, pk__in=ids, message__isnull=True)
        if kind == "image":
            files = files.filter(is_image=True)
        found = set(files.values_list("pk", flat=True))
    else:
        raise ValueError(f"Unknown reference kind {kind!r}")
    return ids - found
