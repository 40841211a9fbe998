"""The member directory as a CSV file: allowed by ``core.member.read`` and the
organisation's export policy (``check_export_allowed(member, "members")``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from core.models import Membership
from core.permissions import check_permission
from core.security.policies import check_export_allowed
from core.selectors import member_list

MAX_MEMBERS = 200_000


def _safe(text: str) -> str:
    """No spreadsheet formulas from user-typed names (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def check_member_export(actor: Membership, filters: dict[str, Any] | None = None) -> Any:
    check_permission(actor, "core.member.read")
    check_export_allowed(actor, "members")
    return member_list(actor.org, filters=filters or {}).order_by("user__display_name", "id")


def member_csv_chunks(members: Any) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [_("Name"), _("E-mail"), _("Role"), _("Status"), _("Title"), _("Departments"), _("Joined")]
    )
    yield ("\ufeff" + buffer.getvalue()).encode()
    for n, member in enumerate(members.iterator(chunk_size=2000)):
        if n >= MAX_MEMBERS:
            break
        buffer.seek(0)
        buffer.truncate()
        departments = "; ".join(link.department.name for link in member.department_links.all())
        writer.writerow(
            [
                _safe(member.user.display_name),
                member.user.email,
                member.role,
                member.status,
                _safe(member.title),
                _safe(departments),
                member.joined_at.date().isoformat(),
            ]
        )
        yield buffer.getvalue().encode()
