"""Existence checks for values that point at rows: members, departments, records, files."""

from __future__ import annotations

from typing import Any


def missing_ids(kind: str, scope: Any, ctx: Any, ids: set[int]) -> set[int]:
    """The ids of ``ids`` that do not exist, or may not be used, in ``ctx.org_id``.

    ``ctx`` is a ``ValueContext`` (or anything with ``org_id``, ``actor_id`` and
    ``record_id``). Files are usable by their uploader, before they are sent in chat or
    put in another record; a record being edited keeps its own files.
    """
    from django.db.models import Q

    from core.models import Department, Membership
    from im.models import Attachment
    from lowcode.models import Record, RecordFile

    org_id = ctx.org_id
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
        record_id: int | None = getattr(ctx, "record_id", None)
        mine = RecordFile.objects.filter(org_id=org_id, record_id=record_id or 0).values(
            "attachment"
        )
        claimed = RecordFile.objects.filter(org_id=org_id).values("attachment")
        files = Attachment.objects.filter(org_id=org_id, pk__in=ids).filter(
            Q(pk__in=mine)
            | (
                Q(uploaded_by_id=getattr(ctx, "actor_id", None), message__isnull=True)
                & ~Q(pk__in=claimed)
            )
        )
        if kind == "image":
            files = files.filter(is_image=True)
        found = set(files.values_list("pk", flat=True))
    else:
        raise ValueError(f"Unknown reference kind {kind!r}")
    return ids - found
