"""The calculator tool: arithmetic a model needs for derived figures (differences,
ratios, percentages), evaluated safely (numbers and + - * / ** % and parentheses
only, through the ``ast`` module; no names, calls or attributes). Its result is a
row like any other, so the number check accepts a derived figure only when the
model asked for it here.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import TYPE_CHECKING, Any

from copilot.tools.base import result
from copilot.types import Citation, ToolResult

if TYPE_CHECKING:
    from engine.store.connection import Queryable

_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate(expression: str) -> float:
    """The value of an arithmetic expression; InputError for anything else."""
    from engine.errors import InputError

    text = str(expression or "").replace("−", "-").replace(",", "").replace("%", "/100")
    if len(text) > 200:
        raise InputError("the expression is too long (200 characters at most)")
    try:
        tree = ast.parse(text, mode="eval")
        value = float(_eval(tree.body))
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise InputError(
            f"cannot evaluate {expression!r}: {exc}", hint="use numbers, + - * / ** and parentheses"
        ) from None
    if not math.isfinite(value):
        raise InputError(f"{expression!r} is not a finite number")
    return value


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    raise ValueError("only numbers and arithmetic operators are allowed")


def calculate(con: Queryable, account: str, expression: str | None = None) -> ToolResult:
    """Evaluate ``expression``; one row (expression, value)."""
    if not str(expression or "").strip():
        return result(
            "calculate",
            "Calculator",
            ["expression", "value"],
            [],
            [],
            note="Give an arithmetic expression, e.g. (967431.72 - 977478.13) / 977478.13.",
        )
    value = evaluate(expression or "")
    return result(
        "calculate",
        "Calculator",
        ["expression", "value"],
        [(str(expression), round(value, 10))],
        [Citation("calculator", str(expression))],
        args={"expression": expression},
    )
