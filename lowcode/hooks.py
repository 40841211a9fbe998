"""Extension points other low-code modules (approvals, reports, QR entry) plug into.

Each list holds plain callables, appended at import time by the module that owns the
behaviour; ``lowcode.actions`` calls them inside its transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Q

if TYPE_CHECKING:
    from core.models import Membership
    from lowcode.models import Form, Record

#: ``(form, removed_keys) -> list of messages``: why those fields cannot be removed.
FIELD_USAGE_CHECKS: list[Callable[[Form, set[str]], list[str]]] = []
#: ``(actor, record) -> None`` after a record is created (inside the transaction).
RECORD_CREATED: list[Callable[[Membership | None, Record], None]] = []
#: ``(actor, record) -> None`` after a record's data changed (inside the transaction).
RECORD_UPDATED: list[Callable[[Membership | None, Record], None]] = []
#: ``(actor, record) -> None`` after a record was deleted (inside the transaction).
RECORD_DELETED: list[Callable[[Membership | None, Record], None]] = []
#: ``(actor, record) -> None``: raise a TackError to refuse an edit or delete.
RECORD_WRITE_CHECKS: list[Callable[[Membership, Record], None]] = []
#: ``(member) -> Q``: records a member sees without ``view_all`` besides their own.
RECORD_VISIBILITY: list[Callable[[Membership], Q]] = []


def any_of(parts: list[Any]) -> Q:
    q = Q(pk__in=[])
    for part in parts:
        q |= part
    return q
