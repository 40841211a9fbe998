"""The computed-field expression language: arithmetic over field references, nothing else.

``(price * quantity) / 100 + shipping``. Parsed with :mod:`ast` in ``eval`` mode and then
walked by this module; Python never evaluates it. Allowed: numbers, field keys, ``+ - *
/ // % **`` (with a small exponent), unary ``+ -`` and parentheses. Anything else (calls,
attributes, subscripts, strings, comparisons, names that are not number fields) is
refused with the position and the reason.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

MAX_LENGTH = 500
MAX_NODES = 200
MAX_EXPONENT = 10

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


class ExpressionError(ValueError):
    """The expression does not parse or uses something other than arithmetic."""


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.expr
    references: frozenset[str]

    def evaluate(self, values: Mapping[str, Any]) -> int | float | None:
        """The value, or None when a referenced field is empty or the maths is undefined."""
        try:
            result: int | float = _evaluate(self.tree, values)
        except (ZeroDivisionError, OverflowError, _Missing):
            return None
        if isinstance(result, float):
            if not math.isfinite(result):
                return None
            result = round(result, 6)
            if result.is_integer() and abs(result) < 2**53:
                return int(result)
        return result


class _Missing(Exception):
    pass


def parse(source: str, allowed_names: set[str] | frozenset[str]) -> Expression:
    """Parse and check ``source``; ``allowed_names`` are the number-valued field keys."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(_("Write an expression, such as price * quantity."))
    if len(source) > MAX_LENGTH:
        raise ExpressionError(_("Expressions may be at most %(n)s characters.") % {"n": MAX_LENGTH})
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(
            _("The expression does not parse (at character %(col)s).") % {"col": exc.offset or 0}
        ) from None
    nodes = list(ast.walk(tree.body))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(_("The expression is too long."))
    references: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ExpressionError(_("Only + - * / // % and ** are allowed."))
            if isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant)
                and type(node.right.value) is int
                and 0 <= node.right.value <= MAX_EXPONENT
            ):
                raise ExpressionError(
                    _("Powers need a whole-number exponent from 0 to %(n)s.") % {"n": MAX_EXPONENT}
                )
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise ExpressionError(_("Only + and - may come before a value."))
        elif isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                raise ExpressionError(_("Only numbers may be written as values."))
        elif isinstance(node, ast.Name):
            if node.id not in allowed_names:
                raise ExpressionError(
                    _("%(name)s is not a number field of this form.") % {"name": node.id}
                )
            references.add(node.id)
        elif isinstance(node, ast.operator | ast.unaryop | ast.expr_context):
            continue
        else:
            raise ExpressionError(
                _("Only arithmetic and field references are allowed (found %(what)s).")
                % {"what": type(node).__name__}
            )
    return Expression(source=source.strip(), tree=tree.body, references=frozenset(references))


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or value is None:
        raise _Missing
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict) and isinstance(value.get("amount"), int):  # money
        amount: int = value["amount"]
        return amount
    raise _Missing


def _evaluate(node: ast.expr, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return _number(values.get(node.id))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, values)
        right = _evaluate(node.right, values)
        if isinstance(node.op, ast.Mult | ast.Pow) and max(abs(left), abs(right)) > 1e150:
            raise OverflowError
        return _BINARY[type(node.op)](left, right)
    raise _Missing  # unreachable: parse() admits nothing else
