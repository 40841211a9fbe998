"""The field-type registry (after Baserow's ``field_type_registry``).

One class per type, registered in ``LowcodeConfig.ready()``. A type owns its options
(a JSON Schema), the JSON Schema of its values, the UI widget, validation and
normalisation, display, storage kind, filter operators and whether it can be indexed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext as _


class FieldError(ValueError):
    """A value a field type refuses; ``path`` is relative to the field (``[2].qty``)."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass
class ValueContext:
    """What validation needs beyond the value: the org, the actor, references to check.

    Types that point at rows (members, departments, records, files) call ``refer`` and
    the caller checks every reference of a batch at once with ``unresolved``.
    """

    org_id: int
    actor_id: int | None = None
    #: The record being edited (its own files stay valid), None for new records.
    record_id: int | None = None
    references: dict[tuple[str, Any], dict[int, list[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def refer(self, kind: str, scope: Any, ids: Iterable[int], path: str) -> None:
        for pk in ids:
            self.references[(kind, scope)][pk].append(path)

    def unresolved(self) -> dict[str, list[str]]:
        """Field paths whose references do not exist in this organisation."""
        from lowcode.references import missing_ids

        errors: dict[str, list[str]] = defaultdict(list)
        for (kind, scope), wanted in self.references.items():
            for pk in missing_ids(kind, scope, self, set(wanted)):
                for path in wanted[pk]:
                    errors[path].append(
                        _("%(id)s does not exist or is not available.") % {"id": pk}
                    )
        self.references.clear()
        return dict(errors)


OPERATORS = ("eq", "contains", "gte", "lte", "range", "in", "empty", "not_empty")


class FieldType:
    """Base class. Subclasses set ``type`` and override the hooks they need."""

    type: ClassVar[str]
    label: ClassVar[str | Promise]
    #: JSON type family stored in ``Record.data``; a key may never change family.
    storage: ClassVar[str] = "string"
    #: Filter operators this type supports.
    operators: ClassVar[tuple[str, ...]] = ("eq", "in", "empty", "not_empty")
    can_index: ClassVar[bool] = False
    #: Computed by the server (serial, computed, created-by/at): never accepted as input.
    read_only: ClassVar[bool] = False
    #: Not stored in ``data``: read from the record's own columns.
    virtual_column: ClassVar[str | None] = None
    #: May be used inside a sub-table.
    in_sub_table: ClassVar[bool] = True
    #: The value is a number a computed field may use.
    numeric: ClassVar[bool] = False
    widget: ClassVar[str] = "text"

    # --- definition ------------------------------------------------------------------
    def options_schema(self) -> dict[str, Any]:
        """JSON Schema for this type's ``options``."""
        return {"type": "object", "additionalProperties": False, "properties": {}}

    def check_options(self, options: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        """Cross-field checks on options (raise FieldError)."""

    # --- values ----------------------------------------------------------------------
    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        """JSON Schema (2020-12) for one value."""
        return {"type": "string"}

    def holds_list(self, options: dict[str, Any]) -> bool:
        """Values are lists, filtered by containment: an index on it is a GIN index."""
        return False

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        """The value to store, after the JSON Schema passed. Raise FieldError to refuse."""
        return value

    def display(self, options: dict[str, Any], value: Any) -> str:
        """Plain text for tables, exports and chat cards."""
        if value is None:
            return ""
        return str(value)

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        """A value from a CSV cell or a query string (before ``normalize``)."""
        return text

    # --- queries ---------------------------------------------------------------------
    def lookup_path(self, key: str) -> str:
        """The ORM path of the comparable part of the value."""
        return self.virtual_column or f"data__{key}"

    def filter_q(self, options: dict[str, Any], key: str, op: str, value: Any) -> Q:
        path = self.lookup_path(key)
        if op == "empty":
            return Q(**{f"{path}__isnull": True})
        if op == "not_empty":
            return Q(**{f"{path}__isnull": False})
        if op == "eq":
            return Q(**{path: value})
        if op == "in":
            return Q(**{f"{path}__in": value})
        if op == "gte":
            return Q(**{f"{path}__gte": value})
        if op == "lte":
            return Q(**{f"{path}__lte": value})
        if op == "range":
            low, high = value
            q = Q()
            if low is not None:
                q &= Q(**{f"{path}__gte": low})
            if high is not None:
                q &= Q(**{f"{path}__lte": high})
            return q
        if op == "contains":
            return Q(**{f"{path}__icontains": value})
        raise FieldError(_("This field cannot be filtered with %(op)s.") % {"op": op})


class FieldTypeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, FieldType] = {}

    def register(self, field_type: FieldType) -> None:
        if field_type.type in self._types:
            raise ValueError(f"Field type {field_type.type!r} is already registered")
        self._types[field_type.type] = field_type

    def get(self, name: str) -> FieldType:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return list(self._types)

    def all(self) -> list[FieldType]:
        return list(self._types.values())


field_type_registry = FieldTypeRegistry()
