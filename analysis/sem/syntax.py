"""Parser of lavaan model syntax.

Supported (Rosseel 2012, lavaan's ``lavaanify``/``lavParseModelString``):

====================  =====================================================
``f =~ x1 + x2``      latent variable ``f`` measured by ``x1``, ``x2``
``y ~ x1 + f``        regression
``x1 ~~ x2``          (residual) variance / covariance
``y ~ 1``             intercept (mean structure)
``ab := a*b``         defined parameter (arithmetic on labels)
``a == b``            equality constraint between labels (or label == number)
``a*x``               label; ``1*x`` fixed value; ``NA*x`` free; ``start(0.5)*x``
``c(a, b)*x``         one modifier per group (multi-group models)
``# ...``, ``! ...``  comments; ``;`` separates statements; a statement may span lines
====================  =====================================================

A malformed model raises :class:`~analysis.errors.ModelSpecificationError` naming the
line and column.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from analysis.errors import ModelSpecificationError

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_OPERATORS = ("=~", "~~", "<~", ":=", "==", "~", "<", ">", "|")

#: The functions a ``:=`` expression may call: the one whitelist, read by the parser
#: (:func:`parse_model` rejects any other call) and by the evaluator (:func:`evaluate`).
DEFINED_FUNCTIONS: Mapping[str, Callable[[float], float]] = MappingProxyType(
    {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "abs": abs})
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: math.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


@dataclass(frozen=True)
class Statement:
    """One ``lhs op rhs`` term of the model with its modifiers.

    ``fixed``, ``label`` and ``start`` hold one entry per group (a single entry applies to
    every group); ``None`` entries mean "no modifier". ``free`` is True for ``NA*x``.
    """

    lhs: str
    op: str
    rhs: str
    fixed: tuple[float | None, ...] = (None,)
    label: tuple[str | None, ...] = (None,)
    start: tuple[float | None, ...] = (None,)
    free: tuple[bool, ...] = (False,)
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Definition:
    """A defined parameter ``name := expression`` (an arithmetic expression of labels)."""

    name: str
    expression: str
    names: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class Constraint:
    """An equality constraint ``lhs == rhs`` between labels or a label and a number."""

    lhs: str
    rhs: str
    line: int = 0


@dataclass(frozen=True)
class ModelSyntax:
    """The parsed model: statements in order of appearance, definitions, constraints."""

    statements: tuple[Statement, ...]
    definitions: tuple[Definition, ...]
    constraints: tuple[Constraint, ...]
    text: str

    @property
    def latent_names(self) -> tuple[str, ...]:
        """Latent variables in order of appearance (left of ``=~``)."""
        return tuple(dict.fromkeys(s.lhs for s in self.statements if s.op == "=~"))

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Every variable the statements name (latent and observed), in order."""
        names: dict[str, None] = {}
        for s in self.statements:
            names[s.lhs] = None
            if s.rhs != "1":
                names[s.rhs] = None
        return tuple(names)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label used by a statement."""
        return tuple(dict.fromkeys(lab for s in self.statements for lab in s.label if lab))


def _error(what: str, line: int, column: int, text: str, fix: str) -> ModelSpecificationError:
    snippet = text.strip()
    return ModelSpecificationError(what, where=f"model syntax line {line}, column {column}: '{snippet}'", fix=fix)


def _logical_lines(text: str) -> list[tuple[int, int, str, str]]:
    """(line, column offset, statement text, original line) after comments, ``;`` and continuations."""
    pieces: list[tuple[int, int, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        body = re.split(r"[#!]", raw, maxsplit=1)[0]
        offset = 0
        for part in body.split(";"):
            if part.strip():
                lead = len(part) - len(part.lstrip())
                pieces.append((number, offset + lead + 1, part.strip(), raw))
            offset += len(part) + 1
    merged: list[tuple[int, int, str, str]] = []
    for number, column, part, raw in pieces:
        has_op = any(op in part for op in _OPERATORS)
        if merged and (not has_op or part[0] in "+*" or merged[-1][2][-1] in "+*~=" ):
            ln, col, prev, prev_raw = merged[-1]
            merged[-1] = (ln, col, f"{prev} {part}", prev_raw)
        else:
            merged.append((number, column, part, raw))
    return merged


def _split_top(text: str, sep: str) -> list[tuple[int, str]]:
    """Split on ``sep`` outside parentheses and quotes; (offset, piece) pairs."""
    out, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append((start, text[start:i]))
            start = i + 1
    out.append((start, text[start:]))
    return out


def _find_operator(statement: str) -> tuple[str, int]:
    for op in _OPERATORS:
        idx = statement.find(op)
        if idx >= 0:
            # "~" inside "=~"/"~~" is found by the earlier, longer operators
            return op, idx
    return "", -1


def _parse_modifier(mod: str, line: int, column: int, raw: str):
    """One modifier -> list of (kind, value) per group; kind in fixed/free/label/start."""
    mod = mod.strip()
    kind = "value"
    inner = mod
    m = re.fullmatch(r"(start|equal|label)\((.*)\)", mod)
    if m:
        kind, inner = m.group(1), m.group(2)
    values: list[str]
    cm = re.fullmatch(r"c\((.*)\)", inner.strip())
    if cm:
        values = [v.strip() for _, v in _split_top(cm.group(1), ",")]
    else:
        values = [inner.strip()]
    parsed = []
    for v in values:
        v = v.strip().strip("\"'")
        if kind == "start":
            if not _NUMBER.match(v):
                raise _error(f"start value '{v}' is not a number", line, column, raw, "write start(0.5)*x")
            parsed.append(("start", float(v)))
        elif kind in ("equal", "label"):
            if not _NAME.match(v):
                raise _error(f"label '{v}' is not a valid name", line, column, raw,
                             "labels start with a letter and contain letters, digits, '_' or '.'")
            parsed.append(("label", v))
        elif v == "NA":
            parsed.append(("free", None))
        elif _NUMBER.match(v):
            parsed.append(("fixed", float(v)))
        elif _NAME.match(v):
            parsed.append(("label", v))
        else:
            raise _error(f"modifier '{v}' is neither a number, NA, nor a label", line, column, raw,
                         "write a label (a*x), a fixed value (1*x), NA*x or start(0.5)*x")
    return parsed


def _parse_term(term: str, line: int, column: int, raw: str, op: str) -> dict:
    parts = [p for _, p in _split_top(term, "*")]
    name = parts[-1].strip()
    is_intercept = op == "~" and name == "1"
    if not is_intercept and not _NAME.match(name):
        raise _error(f"'{name}' is not a valid variable name", line, column, raw,
                     "variable names start with a letter and contain letters, digits, '_' or '.'")
    result = {"rhs": name, "fixed": [None], "label": [None], "start": [None], "free": [False]}
    for mod in parts[:-1]:
        if not mod.strip():
            raise _error("empty modifier before '*'", line, column, raw, "write e.g. a*x or 1*x")
        per_group = _parse_modifier(mod, line, column, raw)
        n = len(per_group)
        for key in ("fixed", "label", "start", "free"):
            if len(result[key]) == 1 and n > 1:
                result[key] = result[key] * n
        for g, (kind, value) in enumerate(per_group):
            if kind == "fixed":
                result["fixed"][g] = value
            elif kind == "free":
                result["free"][g] = True
            elif kind == "label":
                result["label"][g] = value
            elif kind == "start":
                result["start"][g] = value
    lengths = {len(v) for k, v in result.items() if k != "rhs"} - {1}
    if len(lengths) > 1:
        raise _error("c(...) modifiers of different lengths", line, column, raw,
                     "give one value per group in every c(...) of a term")
    n = max([len(v) for k, v in result.items() if k != "rhs"])
    for key in ("fixed", "label", "start", "free"):
        if len(result[key]) == 1 and n > 1:
            result[key] = result[key] * n
    return result


def _expression_names(expr: str, line: int, column: int, raw: str) -> tuple[str, ...]:
    """Names used by an arithmetic expression; rejects anything but arithmetic."""
    try:
        tree = ast.parse(expr.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise _error(f"cannot read the expression '{expr}'", line, column, raw,
                     "use labels, numbers, + - * / ^ and parentheses") from exc
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in DEFINED_FUNCTIONS:
                raise _error(f"function in '{expr}' is not supported", line, column, raw,
                             f"use only {sorted(DEFINED_FUNCTIONS)}")
        elif isinstance(node, ast.Name):
            if node.id not in DEFINED_FUNCTIONS:
                names.append(node.id)
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Load,
                                   ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)):
            raise _error(f"'{expr}' is not an arithmetic expression", line, column, raw,
                         "use labels, numbers, + - * / ^ and parentheses")
    return tuple(dict.fromkeys(names))


def parse_model(text: str) -> ModelSyntax:
    """Parse lavaan model syntax into statements, definitions and constraints.

    Parameters
    ----------
    text
        The model in lavaan syntax (see the module docstring for what is supported).

    Returns
    -------
    ModelSyntax

    Raises
    ------
    ModelSpecificationError
        With the line and column of the first problem.

    Notes
    -----
    The R equivalent is ``lavaan::lavParseModelString``. Formative indicators (``<~``),
    thresholds (``|``) and inequality constraints (``<``, ``>``) are not supported.
    """
    if not isinstance(text, str) or not text.strip():
        raise ModelSpecificationError("the model syntax is empty", fix="write e.g. 'f =~ x1 + x2 + x3'")
    statements: list[Statement] = []
    definitions: list[Definition] = []
    constraints: list[Constraint] = []
    for line, column, stmt, raw in _logical_lines(text):
        op, idx = _find_operator(stmt)
        if not op:
            raise _error("no operator (=~, ~, ~~, :=, ==) in this statement", line, column, raw,
                         "write e.g. 'f =~ x1 + x2' or 'y ~ x'")
        if op in ("<~", "<", ">", "|"):
            raise _error(f"operator '{op}' is not supported", line, column + idx, raw,
                         "use =~, ~, ~~, ~ 1, := or ==")
        lhs_text, rhs_text = stmt[:idx].strip(), stmt[idx + len(op):].strip()
        if not lhs_text or not rhs_text:
            side = "left" if not lhs_text else "right"
            raise _error(f"nothing on the {side} of '{op}'", line, column + idx, raw,
                         "write e.g. 'f =~ x1 + x2'")
        if op == ":=":
            if not _NAME.match(lhs_text):
                raise _error(f"'{lhs_text}' is not a valid name for a defined parameter", line, column, raw,
                             "write e.g. 'ab := a*b'")
            names = _expression_names(rhs_text, line, column + idx, raw)
            definitions.append(Definition(lhs_text, rhs_text.replace("^", "**"), names, line))
            continue
        if op == "==":
            for side in (lhs_text, rhs_text):
                if not (_NAME.match(side) or _NUMBER.match(side)):
                    raise _error(f"'{side}' in an equality constraint must be a label or a number",
                                 line, column, raw, "write e.g. 'a == b' or 'a == 0.5'")
            constraints.append(Constraint(lhs_text, rhs_text, line))
            continue
        lhs_names = [p.strip() for _, p in _split_top(lhs_text, "+")]
        for name in lhs_names:
            if not _NAME.match(name):
                raise _error(f"'{name}' is not a valid variable name", line, column, raw,
                             "variable names start with a letter and contain letters, digits, '_' or '.'")
        after = stmt[idx + len(op):]
        rhs_start = idx + len(op) + len(after) - len(after.lstrip())
        for offset, term in _split_top(rhs_text, "+"):
            term_column = column + rhs_start + offset + len(term) - len(term.lstrip())
            if not term.strip():
                raise _error(f"empty term after '{op}'", line, term_column, raw,
                             "remove the doubled or trailing '+'")
            parsed = _parse_term(term.strip(), line, term_column, raw, op)
            for lhs in lhs_names:
                statements.append(Statement(
                    lhs=lhs, op=op, rhs=parsed["rhs"], fixed=tuple(parsed["fixed"]),
                    label=tuple(parsed["label"]), start=tuple(parsed["start"]),
                    free=tuple(parsed["free"]), line=line, column=term_column))
    if not statements:
        raise ModelSpecificationError("the model has no =~, ~ or ~~ statements",
                                      fix="write e.g. 'f =~ x1 + x2 + x3'")
    latents = {s.lhs for s in statements if s.op == "=~"}
    for s in statements:
        if s.op == "~~" and (s.rhs == "1"):
            raise _error("'~~ 1' is not valid", s.line, s.column, s.lhs, "intercepts are written 'y ~ 1'")
    labels = {lab for s in statements for lab in s.label if lab}
    clash = labels & ({s.lhs for s in statements} | {s.rhs for s in statements}) - latents
    for d in definitions:
        if d.name in labels:
            raise ModelSpecificationError(f"defined parameter '{d.name}' has the name of a label",
                                          where=f"model syntax line {d.line}", fix="rename it")
    if clash:
        name = sorted(clash)[0]
        raise ModelSpecificationError(f"label '{name}' is also a variable name",
                                      where="model syntax", fix="use labels that are not variable names")
    return ModelSyntax(tuple(statements), tuple(definitions), tuple(constraints), text)


def evaluate(expression: str, values: Mapping[str, float]) -> float:
    """Value of a ``:=`` expression at the given label values.

    The expression was checked by :func:`parse_model` (labels, numbers, ``+ - * / **``
    and the calls of :data:`DEFINED_FUNCTIONS`); it is interpreted node by node in
    floating point, never ``eval``-ed, so ``9^9^9`` overflows at once instead of building
    a huge integer. Raises ``ZeroDivisionError``, ``ValueError`` or ``OverflowError``
    where the expression is undefined.
    """

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return float(values[node.id])
        if isinstance(node, ast.BinOp):
            return float(_BINARY[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](value(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return float(DEFINED_FUNCTIONS[node.func.id](*[value(a) for a in node.args]))
        raise ValueError(f"unsupported element in '{expression}'")

    return value(_parsed(expression))


@functools.lru_cache(maxsize=256)
def _parsed(expression: str) -> ast.Expression:
    return ast.parse(expression, mode="eval")
