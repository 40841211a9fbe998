"""Form definitions -> JSON Schema (2020-12) + UI schema, and record validation.

A form is designed as a list of field definitions::

    {"key": "batch", "type": "text", "label": "Batch number", "required": true,
     "indexed": true, "help": "...", "placeholder": "...", "width": "half",
     "options": {...type-specific...}}

Keys are stable: renaming a field changes its label only, so records never lose data.
From the list the field types derive the data schema and a UI schema in the spirit of
react-jsonschema-form (``ui:order``, ``ui:widget``, ``ui:help``...). Records are checked
by the ``jsonschema`` library first, then by each type's own ``normalize``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, NamedTuple

import fastjsonschema
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# No type stubs are installed for jsonschema.
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError as SchemaError  # type: ignore[import-untyped]

from core.errors import ValidationFailed
from lowcode.registries import FieldError, FieldType, ValueContext, field_type_registry

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_FIELDS = 200
MAX_INDEXED = 10
MAX_INDEXED_TEXT = 500
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

FIELD_DEFINITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key", "type", "label"],
    "properties": {
        "key": {"type": "string", "pattern": KEY_PATTERN},
        "type": {"type": "string", "minLength": 1, "maxLength": 40},
        "label": {"type": "string", "minLength": 1, "maxLength": 100},
        "help": {"type": "string", "maxLength": 300},
        "placeholder": {"type": "string", "maxLength": 100},
        "required": {"type": "boolean"},
        "indexed": {"type": "boolean"},
        "width": {"enum": ["full", "half"]},
        "options": {"type": "object"},
    },
}
_definitions_validator = Draft202012Validator(
    {"type": "array", "maxItems": MAX_FIELDS, "items": FIELD_DEFINITION_SCHEMA}
)


def field_type(definition: dict[str, Any]) -> FieldType:
    return field_type_registry.get(definition["type"])


def _path(error: SchemaError, prefix: str = "") -> str:
    path = prefix
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def check_field_definitions(fields: Any, *, nested: bool = False) -> list[dict[str, Any]]:
    """Validate a designer's field list; raise ValidationFailed with per-field errors."""
    errors: dict[str, list[str]] = defaultdict(list)
    for error in _definitions_validator.iter_errors(fields):
        errors[_path(error, "fields")].append(error.message)
    if errors:
        raise ValidationFailed(_("The form definition is not valid."), fields=dict(errors))
    seen: set[str] = set()
    indexed = 0
    for index, definition in enumerate(fields):
        where = f"fields[{index}]"
        key, kind = definition["key"], definition["type"]
        if key in seen:
            errors[f"{where}.key"].append(_("Two fields share the key %(key)s.") % {"key": key})
        seen.add(key)
        if kind not in field_type_registry:
            errors[f"{where}.type"].append(_("Unknown field type %(type)s.") % {"type": kind})
            continue
        ftype = field_type_registry.get(kind)
        options = definition.get("options", {})
        for error in Draft202012Validator(ftype.options_schema()).iter_errors(options):
            errors[_path(error, f"{where}.options")].append(error.message)
        if definition.get("indexed"):
            indexed += 1
            if not ftype.can_index or nested:
                errors[f"{where}.indexed"].append(_("This field type cannot be indexed."))
            elif options.get("max_length", 0) > MAX_INDEXED_TEXT:
                # A B-tree index entry must stay under ~2.7 kB: 500 characters of any
                # script (4 bytes each at most) always fit.
                errors[f"{where}.options.max_length"].append(
                    _("An indexed text field holds at most %(n)s characters.")
                    % {"n": MAX_INDEXED_TEXT}
                )
        if definition.get("required") and ftype.read_only:
            errors[f"{where}.required"].append(_("A computed field cannot be required."))
        if f"{where}.options" not in errors:
            try:
                ftype.check_options(options, fields)
            except FieldError as exc:
                errors[f"{where}.options"].append(exc.message)
            except ValidationFailed as exc:
                for path, messages in exc.fields.items():
                    errors[f"{where}.options.{path}"].extend(messages)
    if indexed > MAX_INDEXED:
        errors["fields"].append(
            _("At most %(n)s fields of a form can be indexed.") % {"n": MAX_INDEXED}
        )
    if errors:
        raise ValidationFailed(_("The form definition is not valid."), fields=dict(errors))
    return list(fields)


def _property_schema(definition: dict[str, Any]) -> dict[str, Any]:
    ftype = field_type(definition)
    schema = dict(ftype.value_schema(definition.get("options", {})))
    schema["title"] = definition["label"]
    if definition.get("help"):
        schema["description"] = definition["help"]
    if ftype.read_only:
        schema["readOnly"] = True
    schema["x-tack-type"] = ftype.type
    return schema


def object_schema(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """The schema of one object with these fields (a record, or a sub-table row)."""
    stored = [f for f in fields if field_type(f).virtual_column is None]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {f["key"]: _property_schema(f) for f in stored},
        "required": [f["key"] for f in stored if f.get("required")],
    }


def build_schema(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": SCHEMA_DIALECT, "title": name, **object_schema(fields)}


def build_ui_schema(fields: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    ui: dict[str, Any] = {"ui:order": [f["key"] for f in fields]}
    for definition in fields:
        ftype = field_type(definition)
        entry: dict[str, Any] = {"ui:widget": ftype.widget, "ui:title": definition["label"]}
        if definition.get("help"):
            entry["ui:help"] = definition["help"]
        if definition.get("placeholder"):
            entry["ui:placeholder"] = definition["placeholder"]
        if definition.get("width") == "half":
            entry["ui:options"] = {"width": "half"}
        if ftype.read_only:
            entry["ui:readonly"] = True
        if ftype.type == "sub_table":
            entry["items"] = build_ui_schema(definition["options"]["columns"], {})
        ui[definition["key"]] = entry
    if layout.get("sections"):
        ui["ui:sections"] = layout["sections"]
    return ui


# --- records -----------------------------------------------------------------------

# "Expected %(what)s."
_TYPE_WORDS = {
    "string": gettext_lazy("text"),
    "number": gettext_lazy("a number"),
    "integer": gettext_lazy("a whole number"),
    "boolean": gettext_lazy("true or false"),
    "array": gettext_lazy("a list"),
    "object": gettext_lazy("an object"),
}


def _message(error: SchemaError) -> str:
    kind, value = error.validator, error.validator_value
    if kind == "type":
        wanted = value if isinstance(value, str) else value[0]
        return _("Expected %(what)s.") % {"what": str(_TYPE_WORDS.get(wanted, wanted))}
    if kind == "maxLength":
        return _("At most %(n)s characters.") % {"n": value}
    if kind == "minLength":
        return _("At least %(n)s characters.") % {"n": value}
    if kind == "maximum":
        return _("Must be at most %(n)s.") % {"n": value}
    if kind == "minimum":
        return _("Must be at least %(n)s.") % {"n": value}
    if kind == "enum":
        return _("Not one of the choices.")
    if kind == "const":
        return _("Must be %(value)s.") % {"value": value}
    if kind == "pattern":
        return _("Not in the expected format.")
    if kind == "format":
        return _("Not a valid %(format)s.") % {"format": value}
    if kind == "maxItems":
        return _("At most %(n)s items.") % {"n": value}
    if kind == "minItems":
        return _("At least %(n)s items.") % {"n": value}
    if kind == "uniqueItems":
        return _("Items must not repeat.")
    return str(error.message)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _has_control_characters(value: Any, depth: int = 0) -> bool:
    """NUL and other C0 controls (tab, newline and carriage return are fine): PostgreSQL's
    JSON refuses NUL, spreadsheets refuse the rest, and no form field needs them."""
    if isinstance(value, str):
        return bool(_CONTROL.search(value))
    if depth > 4:
        return False  # deeper than any field type nests; the schema refuses it anyway
    if isinstance(value, dict):
        return any(_has_control_characters(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_has_control_characters(v, depth + 1) for v in value)
    return False


#: Value classes with no text inside (``bool`` is a subclass of ``int``, listed apart).
_PLAIN = frozenset({int, float, bool})


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class RecordValidator:
    """jsonschema (Draft 2020-12) for the errors, with a compiled fast path for valid data.

    Most records are valid, and ``fastjsonschema`` checks a valid one several times faster
    than the general validator. Only when it finds a problem does the ``jsonschema``
    validator run, to report every error with its path. The schemas our field types
    produce use only keywords both read the same way.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.full = Draft202012Validator(schema, format_checker=FormatChecker())
        try:
            self.fast: Any = fastjsonschema.compile(schema, use_default=False)
        except fastjsonschema.JsonSchemaDefinitionException:
            self.fast = None

    def iter_errors(self, instance: Any) -> Any:
        if self.fast is not None:
            try:
                self.fast(instance)
            except fastjsonschema.JsonSchemaException:
                pass
            else:
                return iter(())
        return self.full.iter_errors(instance)


_VALIDATORS: dict[Any, tuple[list[dict[str, Any]], RecordValidator]] = {}
_MAX_VALIDATORS = 512


def validator_for(fields: list[dict[str, Any]], cache_key: Any) -> RecordValidator:
    """A compiled validator for a published version, cached by its id.

    The cached entry is reused only if its fields compare equal (a C-speed comparison,
    far cheaper than compiling), so a reused id (a restored database) can never pick up
    another form's schema.
    """
    cached = _VALIDATORS.get(cache_key)
    if cached is not None and cached[0] == fields:
        return cached[1]
    validator = RecordValidator(object_schema(fields))
    if len(_VALIDATORS) >= _MAX_VALIDATORS:
        _VALIDATORS.pop(next(iter(_VALIDATORS)))
    _VALIDATORS[cache_key] = (fields, validator)
    return validator


class _Slot(NamedTuple):
    """What checking one field's value needs, looked up once per field list."""

    definition: dict[str, Any]
    options: dict[str, Any]
    read_only: bool
    required: bool
    #: The type's ``normalize``, or None when it returns the value unchanged.
    normalize: Any


def field_plan(fields: list[dict[str, Any]]) -> dict[str, _Slot]:
    """Each field's type, options and normaliser by key, for checking many rows.

    ``normalize_object(..., plan=field_plan(fields))`` gives exactly what it gives without a
    plan; a batch computes the plan once instead of once per row.
    """
    plan: dict[str, _Slot] = {}
    for definition in fields:
        ftype = field_type(definition)
        custom = type(ftype).normalize is not FieldType.normalize
        plan[definition["key"]] = _Slot(
            definition,
            definition.get("options", {}),
            ftype.read_only,
            bool(definition.get("required")),
            ftype.normalize if custom else None,
        )
    return plan


def normalize_object(
    fields: list[dict[str, Any]],
    data: dict[str, Any],
    ctx: ValueContext,
    prefix: str = "",
    *,
    validator: Any = None,
    plan: dict[str, _Slot] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check ``data`` against ``fields``; return (stored values, errors by field path).

    Unknown keys and values for read-only fields are errors; empty values are dropped.
    ``plan`` (from ``field_plan(fields)``) saves looking the fields up again per row.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    if not isinstance(data, dict):
        return {}, {prefix.rstrip(".") or "data": [_("Expected an object.")]}
    if plan is None:
        plan = field_plan(fields)
    given: dict[str, Any] = {}
    for key, value in data.items():
        slot = plan.get(key)
        if slot is None:
            errors[f"{prefix}{key}"].append(_("Unknown field."))
        elif slot.read_only:
            if not _is_empty(value):
                errors[f"{prefix}{key}"].append(_("This field is filled in automatically."))
        elif value is None or value.__class__ in _PLAIN:
            # Numbers, booleans and None hold no text: nothing to strip or refuse.
            if value is not None:
                given[key] = value
        elif value.__class__ is str:
            value = value.strip()
            if _CONTROL.search(value):
                errors[f"{prefix}{key}"].append(_("Text may not contain control characters."))
            elif value:
                given[key] = value
        else:
            if isinstance(value, str):
                value = value.strip()
            if _has_control_characters(value):
                errors[f"{prefix}{key}"].append(_("Text may not contain control characters."))
            elif not _is_empty(value):
                given[key] = value
    if validator is None:
        validator = RecordValidator(object_schema(fields))
    for error in validator.iter_errors(given):
        if error.validator == "required":
            base = _path(error, prefix.rstrip(".")) if prefix else _path(error)
            for key in error.validator_value:
                if isinstance(error.instance, dict) and key not in error.instance:
                    errors[f"{base}.{key}" if base else key].append(_("This field is required."))
            continue
        if error.validator == "additionalProperties":
            if error.absolute_path and isinstance(error.instance, dict):  # inside a sub-table
                base = _path(error, prefix.rstrip(".")) if prefix else _path(error)
                known = error.schema.get("properties", {})
                for extra in error.instance:
                    if extra not in known:
                        errors[f"{base}.{extra}"].append(_("Unknown field."))
            continue  # top level: reported above as unknown fields
        errors[_path(error, prefix.rstrip(".")) if prefix else _path(error)].append(_message(error))
    cleaned: dict[str, Any] = {}
    for key, value in given.items():
        if errors:  # a value the schema refused is not normalised as well
            path = f"{prefix}{key}"
            if any(p == path or p.startswith((f"{path}[", f"{path}.")) for p in errors):
                continue
        slot = plan[key]
        if slot.normalize is None:
            cleaned[key] = value  # given values are never empty (see above)
            continue
        path = f"{prefix}{key}"
        try:
            stored = slot.normalize(slot.options, value, ctx, path)
        except FieldError as exc:
            errors[f"{path}{exc.path}"].append(exc.message)
            continue
        kind = stored.__class__
        if kind not in _PLAIN and (not stored if kind is str else _is_empty(stored)):
            if slot.required:
                errors[path].append(_("This field is required."))
            continue
        cleaned[key] = stored
    return cleaned, dict(errors)


def apply_computed(fields: list[dict[str, Any]], data: dict[str, Any]) -> None:
    """Fill computed fields in place (they depend only on number fields, not each other)."""
    numeric = {f["key"] for f in fields if field_type(f).numeric and f["type"] != "computed"}
    for definition in fields:
        if definition["type"] != "computed":
            continue
        ftype = field_type(definition)
        value = ftype.compute(definition["options"], data, numeric)  # type: ignore[attr-defined]
        if value is None:
            data.pop(definition["key"], None)
        else:
            data[definition["key"]] = value


def clean_record_data(
    fields: list[dict[str, Any]],
    data: Any,
    ctx: ValueContext,
    *,
    cache_key: Any = None,
) -> dict[str, Any]:
    """Everything a record write needs: schema, types, references, computed fields."""
    validator = validator_for(fields, cache_key) if cache_key is not None else None
    cleaned, errors = normalize_object(fields, data, ctx, validator=validator)
    for path, messages in ctx.unresolved().items():
        errors.setdefault(path, []).extend(messages)
    if errors:
        raise ValidationFailed(
            _("Some fields need attention."), code="invalid_record", fields=errors
        )
    apply_computed(fields, cleaned)
    return cleaned
