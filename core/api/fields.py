"""Serializer fields shared by every API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

#: Primary keys are 64-bit; anything larger would overflow the database driver (a 500).
MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """A database id from the request: a positive 64-bit integer, else a 400."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
