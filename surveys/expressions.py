"""The ``show_if`` expression language: parsed once, checked against a whitelist, never eval'ed.

A question's ``show_if`` decides from earlier answers whether it is shown, e.g.
``tenure in ['lt1', '1to3'] and enps >= 9`` or ``not (visit_type == 'online')``.

Grammar (a subset of Python expressions, parsed with :mod:`ast`)::

    expr     := expr ('and' | 'or') expr | 'not' expr | compare
    compare  := arith (op arith)*      op: == != < <= > >= in 'not in'
    arith    := arith ('+' | '-' | '*' | '/') arith | '-' arith | '+' arith | atom
    atom     := NAME | NUMBER | STRING | True | False | None | list | '(' expr ')'
    list     := '[' const (',' const)* ']' | '(' const ',' ... ')'   (constants only)

Names are question ids (or matrix row ids). Anything else (function calls,
attributes, subscripts, lambdas, comprehensions, ``**``, names starting with ``_``)
is refused when the instrument is loaded.

Evaluation never raises. An unanswered question is ``None``; every comparison with
``None`` is ``False`` (so ``not (q == 1)`` is true while ``q`` is unanswered),
except an explicit ``q == None`` / ``q != None``, which tests whether ``q`` was
answered. Arithmetic applies to numbers only; anything else (text, lists, ``None``,
division by zero) gives ``None``, which then compares ``False``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_LENGTH", "Condition", "ExpressionError", "parse_condition"]

#: Longest expression accepted, in characters.
MAX_LENGTH = 500


class ExpressionError(ValueError):
    """A ``show_if`` expression that is not valid; ``kind`` is ``syntax`` or ``forbidden``."""

    def __init__(self, message: str, *, kind: str, offset: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.offset = offset


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_CONSTANT_TYPES = (int, float, str, bool, type(None))

_FORBIDDEN_NAMES: dict[type[ast.AST], str] = {
    ast.Call: "a function call",
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "a subscript (a[b])",
    ast.Lambda: "lambda",
    ast.IfExp: "'x if c else y'",
    ast.NamedExpr: "':='",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Dict: "a dictionary",
    ast.Set: "a set",
    ast.JoinedStr: "an f-string",
    ast.Starred: "'*'",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}
_OPERATOR_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Pow: "**", ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not",
}


@dataclass(frozen=True)
class Condition:
    """A parsed ``show_if`` expression.

    Attributes
    ----------
    source
        The expression as written.
    names
        The question (or matrix row) ids it reads.
    """

    source: str
    names: frozenset[str]
    _tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        """Whether the condition holds for ``answers`` (question id -> answer).

        Missing answers are ``None``; the result is always a ``bool`` and nothing
        raises (see the module notes for the rules).
        """
        return _truth(_evaluate(self._tree, answers))

    def __str__(self) -> str:
        return self.source


def parse_condition(source: str) -> Condition:
    """Parse and check a ``show_if`` expression.

    Parameters
    ----------
    source
        The expression text.

    Returns
    -------
    Condition

    Raises
    ------
    ExpressionError
        ``kind="syntax"`` when it does not parse (or is empty or too long),
        ``kind="forbidden"`` when it uses anything outside the grammar.
    """
    text = source.strip()
    if not text:
        raise ExpressionError("show_if is empty", kind="syntax")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"show_if is longer than {MAX_LENGTH} characters", kind="syntax")
    try:
        tree = ast.parse(text.replace("\n", " "), mode="eval")
    except SyntaxError as exc:
        offset = (exc.offset or 0) - 1
        at = f" (at character {offset + 1})" if 0 < offset < len(text) else ""
        raise ExpressionError(f"show_if is not a valid expression: {exc.msg}{at}", kind="syntax",
                              offset=max(offset, 0)) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"show_if cannot be parsed ({type(exc).__name__})", kind="syntax") from None
    names: set[str] = set()
    _check(tree.body, names, in_list=False)
    return Condition(source=text, names=frozenset(names), _tree=tree.body)


def _forbid(node: ast.AST, what: str) -> ExpressionError:
    offset = getattr(node, "col_offset", 0)
    return ExpressionError(f"{what} is not allowed in show_if (at character {offset + 1})", kind="forbidden",
                           offset=offset)


def _operator(op: ast.AST) -> str:
    symbol = _OPERATOR_SYMBOLS.get(type(op), type(op).__name__)
    if isinstance(op, ast.Is | ast.IsNot):
        return f"'{symbol}' (write == None or != None)"
    return f"the operator '{symbol}' (only + - * / are allowed)"


def _check(node: ast.AST, names: set[str], *, in_list: bool) -> None:
    """Walk the tree, refusing every node type outside the grammar."""
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, _CONSTANT_TYPES):
            raise _forbid(node, f"a {type(node.value).__name__} constant")
        return
    if in_list:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd) \
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, int | float):
            return
        raise _forbid(node, "a list element that is not a constant")
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _forbid(node, f"the name '{node.id}' (names may not start with '_')")
        names.add(node.id)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names, in_list=False)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise _forbid(node, _operator(node.op))
        _check(node.operand, names, in_list=False)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise _forbid(node, _operator(node.op))
        _check(node.left, names, in_list=False)
        _check(node.right, names, in_list=False)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise _forbid(node, _operator(op))
        for operand in (node.left, *node.comparators):
            _check(operand, names, in_list=False)
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            _check(element, names, in_list=True)
    else:
        raise _forbid(node, _FORBIDDEN_NAMES.get(type(node), type(node).__name__))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _truth(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:
        return False


def _evaluate(node: ast.expr, answers: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return answers.get(node.id)
    if isinstance(node, ast.List | ast.Tuple):
        return [_evaluate(element, answers) for element in node.elts]
    if isinstance(node, ast.BoolOp):
        results = (_truth(_evaluate(value, answers)) for value in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, answers)
        if isinstance(node.op, ast.Not):
            return not _truth(operand)
        if not _is_number(operand):
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _arithmetic(type(node.op), _evaluate(node.left, answers), _evaluate(node.right, answers))
    if isinstance(node, ast.Compare):
        return _compare(node, answers)
    return None  # unreachable for checked trees


def _arithmetic(op: type[ast.operator], left: Any, right: Any) -> Any:
    if not (_is_number(left) and _is_number(right)):
        return None
    if op is ast.Div and right == 0:
        return None
    try:
        result = _ARITH[op](left, right)
    except OverflowError:  # e.g. a 400-digit integer divided or mixed with a float
        return None
    return result if _is_number(result) else None


def _compare(node: ast.Compare, answers: Mapping[str, Any]) -> bool:
    left_node, left = node.left, _evaluate(node.left, answers)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _evaluate(right_node, answers)
        explicit_none = _is_none_literal(left_node) or _is_none_literal(right_node)
        if (left is None or right is None) and not (explicit_none and isinstance(op, ast.Eq | ast.NotEq)):
            return False
        try:
            if not _COMPARE[type(op)](left, right):
                return False
        except Exception:
            return False
        left_node, left = right_node, right
    return True


def _is_none_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
