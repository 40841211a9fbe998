"""Explicit extension points core actions call after they commit a change.

Other apps append callables in their ``AppConfig.ready()``. These are plain lists called
directly by the actions (not Django signals), so the flow stays visible and testable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

#: ``hook(membership)`` after a membership is created, activated, suspended or removed.
MEMBERSHIP_CHANGED: list[Callable[[Any], None]] = []
#: ``hook(membership)`` inside the transaction, just before a membership is deleted.
MEMBERSHIP_REMOVING: list[Callable[[Any], None]] = []
#: ``hook(department, membership)`` after a member joins or leaves a department.
DEPARTMENT_MEMBER_CHANGED: list[Callable[[Any, Any], None]] = []


def run_after_commit(hooks: list[Callable[..., None]], *args: Any) -> None:
    for hook in hooks:
        transaction.on_commit(lambda hook=hook: hook(*args))  # type: ignore[misc]
