"""The built-in field types. Each is registered in ``LowcodeConfig.ready()``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.dates import parse_moment
from lowcode.expressions import ExpressionError, parse
from lowcode.registries import FieldError, FieldType, ValueContext, field_type_registry

OPTION_ID = r"^[A-Za-z0-9_-]{1,40}$"
CURRENCY = r"^[A-Z]{3}$"
MAX_ROWS = 200


def _options(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    return schema


_CHOICES_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": 500,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "label"],
        "properties": {
            "id": {"type": "string", "pattern": OPTION_ID},
            "label": {"type": "string", "minLength": 1, "maxLength": 100},
            "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
        },
    },
}


def json_list_has(key: str, item: str | int) -> Q:
    """Records whose list under ``key`` holds ``item``.

    PostgreSQL: jsonb containment (``@>``), served by the field's GIN index when it is
    marked indexed (``lowcode.indexes``). SQLite has no JSON
    containment, but ``JSON_EXTRACT`` of a list is compact JSON text, so the item is
    matched with its delimiters.
    """
    if connection.vendor == "postgresql":
        return Q(**{f"data__{key}__contains": [item]})
    token = f'"{item}"' if isinstance(item, str) else str(int(item))
    path = f"data__{key}__icontains"
    shapes = (f"[{token},", f",{token},", f",{token}]", f"[{token}]")
    q = Q()
    for shape in shapes:
        q |= Q(**{path: shape})
    return q


def _choice_ids(options: dict[str, Any]) -> list[str]:
    return [choice["id"] for choice in options.get("choices", [])]


def _choice_labels(options: dict[str, Any]) -> dict[str, str]:
    return {choice["id"]: choice["label"] for choice in options.get("choices", [])}


def _check_unique_choices(options: dict[str, Any]) -> None:
    ids = _choice_ids(options)
    if len(ids) != len(set(ids)):
        raise FieldError(_("Each choice needs its own id."))


class TextType(FieldType):
    type = "text"
    label = gettext_lazy("Text")
    operators: ClassVar[tuple[str, ...]] = (
        "eq",
        "contains",
        "in",
        "gte",
        "lte",
        "range",
        "empty",
        "not_empty",
    )
    can_index = True
    widget = "text"

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {
                "max_length": {"type": "integer", "minimum": 1, "maximum": 1000},
                "pattern": {"type": "string", "maxLength": 200},
            }
        )

    def check_options(self, options: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        if "pattern" in options:
            try:
                re.compile(options["pattern"])
            except re.error:
                raise FieldError(_("The pattern is not a valid regular expression.")) from None

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": options.get("max_length", 200)}
        if options.get("pattern"):
            schema["pattern"] = options["pattern"]
        return schema

    # No ``normalize``: ``normalize_object`` strips every text value before the types see
    # it, so the stored text is the given text (and a page of records skips the call).


class LongTextType(TextType):
    type = "long_text"
    label = gettext_lazy("Long text")
    operators: ClassVar[tuple[str, ...]] = ("contains", "empty", "not_empty")
    can_index = False
    widget = "textarea"

    def options_schema(self) -> dict[str, Any]:
        return _options({"max_length": {"type": "integer", "minimum": 1, "maximum": 20000}})

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "maxLength": options.get("max_length", 5000)}


_NUMBER_LIMIT = 10**15


class NumberType(FieldType):
    type = "number"
    label = gettext_lazy("Number")
    storage = "number"
    operators: ClassVar[tuple[str, ...]] = ("eq", "gte", "lte", "range", "in", "empty", "not_empty")
    can_index = True
    numeric = True
    widget = "number"

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {
                "decimals": {"type": "integer", "minimum": 0, "maximum": 6},
                "min": {"type": "number"},
                "max": {"type": "number"},
                "unit": {"type": "string", "maxLength": 20},
            }
        )

    def check_options(self, options: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        if "min" in options and "max" in options and options["min"] > options["max"]:
            raise FieldError(_("The minimum is above the maximum."))

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "number"}
        if "min" in options:
            schema["minimum"] = options["min"]
        if "max" in options:
            schema["maximum"] = options["max"]
        return schema

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        if value.__class__ is int and -_NUMBER_LIMIT <= value <= _NUMBER_LIMIT:
            return value  # what rounding to 0 decimals gives back (exact below 2**53)
        if isinstance(value, bool) or abs(value) > _NUMBER_LIMIT:
            raise FieldError(_("Enter a number between -10^15 and 10^15."))
        decimals = options.get("decimals", 0 if isinstance(value, int) else 6)
        rounded = round(float(value), decimals)
        if float(rounded).is_integer():
            return int(rounded)
        return rounded

    def display(self, options: dict[str, Any], value: Any) -> str:
        if value is None:
            return ""
        text = f"{value:,.{options['decimals']}f}" if "decimals" in options else f"{value:,}"
        return f"{text} {options['unit']}" if options.get("unit") else text

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        cleaned = text.strip().replace(",", "")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            return text  # the schema reports "not a number"
        if not number.is_finite():
            return text
        return int(number) if number == number.to_integral_value() else float(number)


class MoneyType(FieldType):
    """An integer amount in minor units (fen, cents) and an ISO 4217 currency."""

    type = "money"
    label = gettext_lazy("Money")
    storage = "money"
    operators: ClassVar[tuple[str, ...]] = ("eq", "gte", "lte", "range", "empty", "not_empty")
    can_index = True
    numeric = True
    widget = "money"

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {
                "currency": {"type": "string", "pattern": CURRENCY},
                "min": {"type": "integer"},
                "max": {"type": "integer"},
            }
        )

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        amount: dict[str, Any] = {"type": "integer", "minimum": -(10**15), "maximum": 10**15}
        if "min" in options:
            amount["minimum"] = options["min"]
        if "max" in options:
            amount["maximum"] = options["max"]
        currency: dict[str, Any] = {"type": "string", "pattern": CURRENCY}
        if options.get("currency"):
            currency = {"const": options["currency"]}
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["amount"],
            "properties": {"amount": amount, "currency": currency},
        }

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        currency = value.get("currency") or options.get("currency") or "CNY"
        return {"amount": value["amount"], "currency": currency}

    def lookup_path(self, key: str) -> str:
        return f"data__{key}__amount"

    def display(self, options: dict[str, Any], value: Any) -> str:
        if not value:
            return ""
        amount = Decimal(value["amount"]) / 100
        return f"{amount:,.2f} {value.get('currency', '')}".strip()

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        """``"56,000.50 CNY"`` or ``"56000.5"`` -> minor units."""
        parts = text.strip().split()
        currency = parts[1].upper() if len(parts) == 2 else options.get("currency", "CNY")
        try:
            amount = Decimal(parts[0].replace(",", "")) if parts else Decimal("x")
            if not amount.is_finite() or abs(amount) > Decimal(10) ** 13:
                raise InvalidOperation
            minor = amount * 100
        except ArithmeticError:  # InvalidOperation, Infinity, sNaN, overflow
            return {"amount": text, "currency": currency}  # the schema reports it
        if minor != minor.to_integral_value():
            return {"amount": text, "currency": currency}
        return {"amount": int(minor), "currency": currency}

    def filter_q(self, options: dict[str, Any], key: str, op: str, value: Any) -> Q:
        if op in ("empty", "not_empty"):
            return Q(**{f"data__{key}__isnull": op == "empty"})
        return super().filter_q(options, key, op, value)


class DateType(FieldType):
    type = "date"
    label = gettext_lazy("Date")
    operators: ClassVar[tuple[str, ...]] = ("eq", "gte", "lte", "range", "in", "empty", "not_empty")
    can_index = True
    widget = "date"

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "format": "date"}

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise FieldError(_("Enter a date as YYYY-MM-DD.")) from None


#: The stored form of a datetime (years from 1000, so ``%Y`` writes four digits too),
#: here also with a fraction of a second, which storing drops (as ``strftime`` below).
_STORED_DATETIME = re.compile(r"[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


class DateTimeType(FieldType):
    type = "datetime"
    label = gettext_lazy("Date and time")
    operators: ClassVar[tuple[str, ...]] = ("gte", "lte", "range", "empty", "not_empty")
    can_index = True
    widget = "datetime"

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "maxLength": 40}

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        """Stored in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` so text order is time order."""
        if value.__class__ is str and _STORED_DATETIME.fullmatch(value):
            try:  # in the stored form, maybe with fractions (a synced or re-saved value)
                datetime.fromisoformat(value)
            except ValueError:
                pass  # e.g. month 13: refused below
            else:
                return value if len(value) == 20 else f"{value[:19]}Z"
        parsed = parse_moment(value) if isinstance(value, str) else None
        if parsed is None:
            raise FieldError(_("Enter a date and time such as 2026-11-23T09:30:00+08:00."))
        if parsed.tzinfo is None:
            from django.utils import timezone

            parsed = timezone.make_aware(parsed)
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SingleSelectType(FieldType):
    type = "single_select"
    label = gettext_lazy("Single select")
    operators: ClassVar[tuple[str, ...]] = ("eq", "in", "empty", "not_empty")
    can_index = True
    widget = "select"

    def options_schema(self) -> dict[str, Any]:
        return _options({"choices": _CHOICES_SCHEMA}, required=["choices"])

    def check_options(self, options: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        _check_unique_choices(options)

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "enum": _choice_ids(options)}

    def display(self, options: dict[str, Any], value: Any) -> str:
        return _choice_labels(options).get(value, value or "")

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        """A choice by id or by label (case-insensitive)."""
        text = text.strip()
        for choice in options.get("choices", []):
            if text == choice["id"] or text.casefold() == choice["label"].casefold():
                return choice["id"]
        return text


class MultiSelectType(SingleSelectType):
    type = "multi_select"
    label = gettext_lazy("Multiple select")
    storage = "string_list"
    operators: ClassVar[tuple[str, ...]] = ("contains", "empty", "not_empty")
    can_index = True
    widget = "checkboxes"

    def holds_list(self, options: dict[str, Any]) -> bool:
        return True

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": _choice_ids(options)},
        }

    def display(self, options: dict[str, Any], value: Any) -> str:
        labels = _choice_labels(options)
        return ", ".join(labels.get(v, v) for v in value or [])

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        parts = [p for p in re.split(r"[;,、，]", text) if p.strip()]
        return [SingleSelectType.parse_text(self, options, part) for part in parts]

    def filter_q(self, options: dict[str, Any], key: str, op: str, value: Any) -> Q:
        if op != "contains":
            return super().filter_q(options, key, op, value)
        wanted = value if isinstance(value, list) else [value]
        q = Q()
        for choice in wanted:
            if not isinstance(choice, str) or not re.match(OPTION_ID, choice):
                raise FieldError(_("Unknown choice."))
            q |= json_list_has(key, choice)
        return q

    def lookup_path(self, key: str) -> str:
        return f"data__{key}"


class CheckboxType(FieldType):
    type = "checkbox"
    label = gettext_lazy("Checkbox")
    storage = "bool"
    operators: ClassVar[tuple[str, ...]] = ("eq",)
    widget = "checkbox"

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}

    def display(self, options: dict[str, Any], value: Any) -> str:
        return _("Yes") if value else _("No")

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        lowered = text.strip().casefold()
        if lowered in {"1", "true", "yes", "y", "x", "✓", "是"}:
            return True
        if lowered in {"0", "false", "no", "n", "", "否"}:
            return False
        return text

    def filter_q(self, options: dict[str, Any], key: str, op: str, value: Any) -> Q:
        # An unticked box is stored as absent, so "false" means "not true".
        if value is True:
            return Q(**{f"data__{key}": True})
        return Q(**{f"data__{key}__isnull": True}) | Q(**{f"data__{key}": False})


class _ReferenceType(FieldType):
    """A pointer (or several) at rows of this organisation, stored as integer ids."""

    storage = "id"
    reference_kind: ClassVar[str]
    can_index = True
    operators: ClassVar[tuple[str, ...]] = ("eq", "in", "empty", "not_empty")

    def holds_list(self, options: dict[str, Any]) -> bool:
        return bool(options.get("multiple"))

    def options_schema(self) -> dict[str, Any]:
        return _options({"multiple": {"type": "boolean"}})

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        one = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
        if options.get("multiple"):
            return {"type": "array", "items": one, "uniqueItems": True, "maxItems": 100}
        return one

    def scope(self, options: dict[str, Any]) -> Any:
        return None

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        ids = value if isinstance(value, list) else [value]
        ctx.refer(self.reference_kind, self.scope(options), ids, path)
        return value

    def parse_text(self, options: dict[str, Any], text: str) -> Any:
        parts = [p.strip().lstrip("#") for p in re.split(r"[;,]", text) if p.strip()]
        values: list[Any] = [int(p) if p.isdigit() else p for p in parts]
        if options.get("multiple"):
            return values
        return values[0] if values else text

    def filter_q(self, options: dict[str, Any], key: str, op: str, value: Any) -> Q:
        if options.get("multiple") and op in ("eq", "in"):
            wanted = value if isinstance(value, list) else [value]
            q = Q()
            for pk in wanted:
                q |= json_list_has(key, pk)
            return q
        return super().filter_q(options, key, op, value)


class MemberType(_ReferenceType):
    type = "member"
    label = gettext_lazy("Member")
    reference_kind = "member"
    widget = "member"


class DepartmentType(_ReferenceType):
    type = "department"
    label = gettext_lazy("Department")
    reference_kind = "department"
    widget = "department"


class RelationType(_ReferenceType):
    type = "relation"
    label = gettext_lazy("Relation to another form")
    reference_kind = "record"
    storage = "id"
    in_sub_table = False
    widget = "relation"

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {
                "form": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "multiple": {"type": "boolean"},
            },
            required=["form"],
        )

    def scope(self, options: dict[str, Any]) -> Any:
        return options["form"]

    def display(self, options: dict[str, Any], value: Any) -> str:
        ids = value if isinstance(value, list) else [value]
        return ", ".join(f"#{pk}" for pk in ids if pk is not None)


class AttachmentType(_ReferenceType):
    """Files uploaded through ``attachments/``; the value is a list of their ids."""

    type = "attachment"
    label = gettext_lazy("Attachment")
    reference_kind = "file"
    storage = "id_list"
    can_index = False
    operators: ClassVar[tuple[str, ...]] = ("empty", "not_empty")
    in_sub_table = False
    widget = "file"

    def options_schema(self) -> dict[str, Any]:
        return _options({"max_files": {"type": "integer", "minimum": 1, "maximum": 20}})

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "array",
            "uniqueItems": True,
            "maxItems": options.get("max_files", 10),
            "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        }

    def display(self, options: dict[str, Any], value: Any) -> str:
        return _("%(n)s files") % {"n": len(value or [])}


class ImageType(AttachmentType):
    type = "image"
    label = gettext_lazy("Image")
    reference_kind = "image"
    widget = "image"


class PhoneType(TextType):
    type = "phone"
    label = gettext_lazy("Phone")
    operators: ClassVar[tuple[str, ...]] = ("eq", "contains", "in", "empty", "not_empty")
    widget = "tel"

    def options_schema(self) -> dict[str, Any]:
        return _options({})

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^\+?[0-9][0-9 ()\-]{3,22}[0-9]$"}

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        return re.sub(r"[ ()\-]", "", value)


class EmailType(TextType):
    type = "email"
    label = gettext_lazy("E-mail")
    operators: ClassVar[tuple[str, ...]] = ("eq", "contains", "in", "empty", "not_empty")
    widget = "email"

    def options_schema(self) -> dict[str, Any]:
        return _options({})

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "maxLength": 254}

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        value = value.strip()
        try:
            validate_email(value)
        except DjangoValidationError:
            raise FieldError(_("Enter a valid e-mail address.")) from None
        local, _sep, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"


class ScannedCodeType(TextType):
    """The value read from a QR code or barcode (the fill page offers the camera)."""

    type = "scanned_code"
    label = gettext_lazy("Scanned code")
    widget = "scanner"
    operators: ClassVar[tuple[str, ...]] = ("eq", "contains", "in", "empty", "not_empty")

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {"symbology": {"enum": ["any", "qr", "ean13", "code128"]}},
        )

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        if options.get("symbology") == "ean13":
            return {"type": "string", "pattern": r"^[0-9]{13}$"}
        return {"type": "string", "maxLength": 500}

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        value = value.strip()
        if options.get("symbology") == "ean13":
            digits = [int(d) for d in value]
            check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
            if check != digits[12]:
                raise FieldError(_("The EAN-13 check digit is wrong."))
        return value


class SerialNumberType(FieldType):
    """``INS-000123``: assigned from the record number when the record is created."""

    type = "serial"
    label = gettext_lazy("Serial number")
    read_only = True
    can_index = True
    in_sub_table = False
    operators: ClassVar[tuple[str, ...]] = ("eq", "contains", "in", "empty", "not_empty")
    widget = "readonly"

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {
                "prefix": {"type": "string", "maxLength": 20, "pattern": r"^[^\s]*$"},
                "digits": {"type": "integer", "minimum": 1, "maximum": 12},
            }
        )

    def format(self, options: dict[str, Any], number: int) -> str:
        return f"{options.get('prefix', '')}{number:0{options.get('digits', 6)}d}"


class ComputedType(FieldType):
    """A number computed from other number fields with a safe expression."""

    type = "computed"
    label = gettext_lazy("Computed")
    storage = "number"
    read_only = True
    can_index = True
    numeric = True
    in_sub_table = False
    operators: ClassVar[tuple[str, ...]] = ("eq", "gte", "lte", "range", "empty", "not_empty")
    widget = "readonly"

    def options_schema(self) -> dict[str, Any]:
        return _options(
            {
                "expression": {"type": "string", "minLength": 1, "maxLength": 500},
                "decimals": {"type": "integer", "minimum": 0, "maximum": 6},
            },
            required=["expression"],
        )

    def check_options(self, options: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        numeric = {
            f["key"]
            for f in fields
            if f.get("type") in field_type_registry
            and field_type_registry.get(f["type"]).numeric
            and f.get("type") != "computed"
        }
        try:
            parse(options["expression"], numeric)
        except ExpressionError as exc:
            raise FieldError(str(exc)) from None

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "number", "readOnly": True}

    def compute(self, options: dict[str, Any], values: dict[str, Any], numeric: set[str]) -> Any:
        result = parse(options["expression"], numeric).evaluate(values)
        if result is not None and "decimals" in options:
            result = round(result, options["decimals"])
            if float(result).is_integer():
                result = int(result)
        return result


class SubTableType(FieldType):
    """Repeating rows, each with the columns the designer chose."""

    type = "sub_table"
    label = gettext_lazy("Sub-table")
    storage = "rows"
    in_sub_table = False
    operators: ClassVar[tuple[str, ...]] = ("empty", "not_empty")
    widget = "table"

    def options_schema(self) -> dict[str, Any]:
        from lowcode.schema import FIELD_DEFINITION_SCHEMA

        return _options(
            {
                "columns": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 30,
                    "items": FIELD_DEFINITION_SCHEMA,
                },
                "max_rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS},
            },
            required=["columns"],
        )

    def check_options(self, options: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        from lowcode.schema import check_field_definitions

        for column in options["columns"]:
            kind = column.get("type")
            if kind in field_type_registry and not field_type_registry.get(kind).in_sub_table:
                raise FieldError(
                    _("A %(type)s cannot be a column of a sub-table.") % {"type": kind}
                )
        check_field_definitions(options["columns"], nested=True)

    def value_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        from lowcode.schema import object_schema

        return {
            "type": "array",
            "maxItems": options.get("max_rows", MAX_ROWS),
            "items": object_schema(options["columns"]),
        }

    def normalize(self, options: dict[str, Any], value: Any, ctx: ValueContext, path: str) -> Any:
        from lowcode.schema import normalize_object

        rows = []
        for index, row in enumerate(value):
            cleaned, errors = normalize_object(options["columns"], row, ctx, f"{path}[{index}].")
            if errors:
                first_path, messages = next(iter(errors.items()))
                raise FieldError(messages[0], path=first_path[len(path) :])
            if cleaned:
                rows.append(cleaned)
        return rows

    def display(self, options: dict[str, Any], value: Any) -> str:
        return _("%(n)s rows") % {"n": len(value or [])}


class CreatedByType(FieldType):
    type = "created_by"
    label = gettext_lazy("Created by")
    storage = "virtual"
    read_only = True
    virtual_column = "created_by_id"
    in_sub_table = False
    operators: ClassVar[tuple[str, ...]] = ("eq", "in")
    widget = "readonly"


class CreatedAtType(FieldType):
    type = "created_at"
    label = gettext_lazy("Created at")
    storage = "virtual"
    read_only = True
    virtual_column = "created_at"
    in_sub_table = False
    operators: ClassVar[tuple[str, ...]] = ("gte", "lte", "range")
    widget = "readonly"

    def display(self, options: dict[str, Any], value: Any) -> str:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        return super().display(options, value)


BUILT_IN_TYPES: list[type[FieldType]] = [
    TextType,
    LongTextType,
    NumberType,
    MoneyType,
    DateType,
    DateTimeType,
    SingleSelectType,
    MultiSelectType,
    CheckboxType,
    MemberType,
    DepartmentType,
    AttachmentType,
    ImageType,
    PhoneType,
    EmailType,
    SerialNumberType,
    ScannedCodeType,
    SubTableType,
    RelationType,
    ComputedType,
    CreatedByType,
    CreatedAtType,
]


def register_built_in_types() -> None:
    for cls in BUILT_IN_TYPES:
        if cls.type not in field_type_registry:
            field_type_registry.register(cls())
