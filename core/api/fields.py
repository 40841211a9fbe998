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


def with_fields(serializer: Any, **extra: serializers.Field[Any, Any, Any, Any]) -> Any:
    """``get_fields()`` plus fields whose names clash with Serializer attributes
    (``fields``, ``data``, ``help``, ``required``...), which cannot be class attributes."""
    fields = (
        serializers.Serializer.get_fields(serializer)
        if not isinstance(serializer, serializers.ModelSerializer)
        else serializers.ModelSerializer.get_fields(serializer)
    )
    fields.update(extra)
    return fields
