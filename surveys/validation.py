"""Validation of instruments: schema errors mapped back to YAML, and the cross-reference rules.

Two public functions, both returning :class:`~surveys.problems.Problem` lists with
file, line, column, item id, rule name and fix:

* :func:`schema_problems` turns pydantic's ``ValidationError`` into problems at the
  YAML position of the offending key or value, with "did you mean" for misspelt
  keys, question types and choices.
* :func:`check_instrument` runs every rule in :data:`RULES` and then
  :data:`CONTENT_RULES` on a schema-valid instrument and returns all problems
  together. One rule, one function; each function's name is ``rule_`` + the rule it
  reports (``duplicate-id`` -> :func:`rule_duplicate_id`), and the README lists them.

Both are bounded: the size limits of :mod:`surveys.limits` (rule ``size-limit``) are
checked first, on the parsed data, and a file over a limit gets only those problems,
without the cross-reference rules; every "did you mean" runs inside one
:func:`surveys.errors.suggestion_budget` per file, so a file with thousands of
misspelt names is answered in about a second (the later problems without a
suggestion).
"""

from __future__ import annotations

import keyword
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Any

from pydantic import BaseModel, ValidationError

from surveys.errors import did_you_mean, suggestion_budget
from surveys.instrument import (
    ID_PATTERN,
    LANGUAGE_PATTERN,
    QUESTION_TYPES,
    Instrument,
    LangText,
    Scale,
)
from surveys.limits import size_problems
from surveys.problems import Problem
from surveys.yamlsource import Document

__all__ = ["CONTENT_RULES", "RESERVED_IDS", "RULES", "check_instrument", "schema_problems"]

#: Column names of the wide response frame that no question or construct may take.
RESERVED_IDS = frozenset({"response_id", "campaign", "wave", "language", "submitted_at"})

Path = tuple[str | int, ...]

SHOW_IF_FIX = ("show_if takes comparisons (== != < <= > >= in, not in), and/or/not and + - * / over ids of "
               "earlier questions, numbers, 'quoted text', True/False/None and [lists] of constants.")


# --------------------------------------------------------------------------- schema errors


def schema_problems(error: ValidationError, document: Document) -> list[Problem]:
    """Problems for every error pydantic found, at their YAML positions.

    Parameters
    ----------
    error
        The ``ValidationError`` from ``Instrument.model_validate``.
    document
        The parsed YAML (for positions and item ids).

    Returns
    -------
    list of Problem
        The size-limit problems of :func:`surveys.limits.size_problems` first (a huge
        file with a schema error still learns that it is too large), then one per
        pydantic error.
    """
    with suggestion_budget():
        return (size_problems(document.data, document.locations, source=document.source)
                + _schema_problems_of(error, document))


def _schema_problems_of(error: ValidationError, document: Document) -> list[Problem]:
    details = [(detail, tuple(detail["loc"])) for detail in error.errors(include_url=False)]
    located = [(detail, loc, _data_path(document.data, loc)) for detail, loc in details]
    misspelt = {(path[:-1], _closest(str(path[-1]), _allowed_keys(loc)))
                for detail, loc, path in located if detail["type"] == "extra_forbidden" and path}
    return [_schema_problem(detail, loc, path, document) for detail, loc, path in located
            if not (detail["type"] == "missing" and path and (path[:-1], path[-1]) in misspelt)]


def _closest(name: str, candidates: Iterable[str]) -> str:
    """The candidate ``did_you_mean`` would suggest for ``name`` (or ``""``)."""
    hint = did_you_mean(name, candidates)
    return hint.split("'")[1] if hint else ""


def _schema_problem(detail: Mapping[str, Any], loc: Path, path: Path, document: Document) -> Problem:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    value = detail.get("input")
    key = str(path[-1]) if path and isinstance(path[-1], str) else ""
    item = _item_at(document.data, path)
    at = document.locations.value(path)
    shown = _short(value)
    if kind == "extra_forbidden":
        allowed = [k for k in _allowed_keys(loc) if not (k == "id" and len(path) >= 2 and path[0] == "scales")]
        hint = did_you_mean(key, allowed).strip()
        known = f"Allowed keys here: {', '.join(allowed)}."
        fix = f"{hint} {known}" if hint else known
        return Problem(document.source, *document.locations.key(path), item, "unknown-key",
                       f"unknown key '{key}'", fix.strip())
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", value))
        at = document.locations.value((*path, "type"))
        return Problem(document.source, *at, item, "unknown-question-type", f"unknown question type '{tag}'",
                       (did_you_mean(tag, QUESTION_TYPES) + f" Question types: {', '.join(QUESTION_TYPES)}.").strip())
    if kind == "union_tag_not_found":
        return Problem(document.source, *at, item, "missing-key", "the question has no 'type'",
                       f"Add 'type:' with one of: {', '.join(QUESTION_TYPES)}.")
    if kind == "missing":
        parent = path[:-1]
        return Problem(document.source, *document.locations.value(parent), item, "missing-key",
                       f"required key '{key}' is missing", f"Add '{key}:' here.")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(str(value), choices).strip()
        return Problem(document.source, *at, item, "unknown-value",
                       f"{key} '{shown}' is not one of {', '.join(choices)}",
                       hint or f"Use one of: {', '.join(choices)}.")
    if kind == "string_pattern_mismatch":
        return _pattern_problem(str(ctx.get("pattern", "")), key, value, document, at, item)
    if kind.startswith("show_if_"):
        rule = "show-if-forbidden" if kind == "show_if_forbidden" else "show-if-syntax"
        return Problem(document.source, *_inside(document, at, value, ctx.get("offset", 0)), item, rule,
                       detail["msg"], SHOW_IF_FIX)
    if kind == "lang_text":
        return Problem(document.source, *at, item, "bad-text", f"{key}: {detail['msg']}",
                       "Write a text, or one text per language: {en: '...', de: '...'}.")
    if kind in ("too_short", "too_long"):
        size = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return Problem(document.source, *at, item, "empty" if kind == "too_short" else "too-many",
                       f"'{key}' has {ctx.get('actual_length', '?')} entries; it needs "
                       f"{'at least' if kind == 'too_short' else 'at most'} {size}",
                       f"{'Add' if kind == 'too_short' else 'Remove'} entries under '{key}'.")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return Problem(document.source, *at, item, "out-of-range", f"{key} = {shown}: {detail['msg'].lower()}",
                       f"Change '{key}' to a value in range.")
    return Problem(document.source, *at, item, "wrong-type", f"{key or 'value'} = {shown}: {detail['msg']}",
                   f"See the README, section 'Instrument format', for what '{key or 'this'}' takes.")


def _pattern_problem(pattern: str, key: str, value: Any, document: Document, at: tuple[int, int],
                     item: str) -> Problem:
    if pattern == LANGUAGE_PATTERN:
        return Problem(document.source, *at, item, "bad-language", f"'{_short(value)}' is not a language code",
                       "Use ISO 639-1 codes such as 'en', 'de' or 'fr-CH'.")
    suggestion = re.sub(r"[^a-z0-9_]+", "_", str(value).strip().lower()).strip("_")
    suggestion = suggestion if re.match(ID_PATTERN, suggestion or "-") else ""
    return Problem(document.source, *at, item, "bad-id", f"{key} '{_short(value)}' is not a valid id",
                   "Ids start with a lowercase letter and use only a-z, 0-9 and _ (at most 64 characters)"
                   + (f", e.g. '{suggestion}'." if suggestion else "."))


def _inside(document: Document, at: tuple[int, int], value: Any, offset: int) -> tuple[int, int]:
    """The position ``offset`` characters into a one-line scalar that starts at ``at`` (quotes skipped)."""
    lines = document.text.splitlines()
    if not isinstance(value, str) or "\n" in value.strip() or not 0 < at[0] <= len(lines):
        return at
    line = lines[at[0] - 1]
    quoted = line[at[1] - 1:at[1]] in ("'", '"')
    start = at[1] + quoted
    lead = len(value) - len(value.lstrip())
    return at[0], start + lead + offset


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _data_path(data: Any, loc: Path) -> Path:
    """The path in the YAML data for a pydantic error location (union tags dropped)."""
    path: list[str | int] = []
    node = data
    previous: str | int | None = None
    for element in loc:
        tag = isinstance(previous, int) and isinstance(node, dict) and element == node.get("type")
        previous = element
        if tag:
            continue  # the tag pydantic adds for the discriminated union, right after the list index
        if isinstance(node, dict) and element in node:
            node = node[element]
        elif isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            node = node[element]
        elif isinstance(element, str) and element.startswith(("function-", "[key]")):
            continue
        else:
            node = None
        path.append(element)
    return tuple(path)


def _item_at(data: Any, path: Path) -> str:
    """Id of the innermost mapping with an ``id`` along ``path`` (or the scale's key)."""
    item = str(path[1]) if len(path) > 1 and path[0] == "scales" else ""
    node = data
    for depth, element in enumerate(path):
        if depth and isinstance(node, dict) and isinstance(node.get("id"), str):
            item = node["id"]
        try:
            node = node[element]
        except (KeyError, IndexError, TypeError):
            return item
    if path and isinstance(node, dict) and isinstance(node.get("id"), str):
        item = node["id"]
    return item


def _allowed_keys(loc: Path) -> list[str]:
    """The keys allowed in the mapping that holds ``loc[-1]`` (walking the model types)."""
    current: Any = Instrument
    for element in loc[:-1]:
        current = _step(current, element)
        if current is None:
            return []
    model = _model_of(current)
    return list(model.model_fields) if model else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation


def _step(annotation: Any, element: str | int) -> Any:
    annotation = _unwrap(annotation)
    model = _model_of(annotation)
    if model is not None:
        field = model.model_fields.get(str(element))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and args:
        return args[0]
    if origin in (dict, Mapping, typing.Mapping) and len(args) == 2:
        return args[1]
    if origin in (typing.Union, UnionType) and element in QUESTION_TYPES:
        return QUESTION_TYPES[str(element)]
    return None


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Context:
    """What a rule sees: the instrument, the YAML document and where each question is."""

    instrument: Instrument
    document: Document

    def problem(self, path: Path, item: str, rule: str, message: str, fix: str = "", *,
                severity: str = "error", at_key: bool = False) -> Problem:
        """A problem at the YAML position of ``path``."""
        where = self.document.locations.key(path) if at_key else self.document.locations.value(path)
        return Problem(self.document.source, *where, item, rule, message, fix, severity)  # type: ignore[arg-type]

    def questions(self) -> Iterator[tuple[Path, Any]]:
        """Every question with its YAML path, in order."""
        for p, page in enumerate(self.instrument.pages):
            for q, question in enumerate(page.questions):
                yield ("pages", p, "questions", q), question

    def line(self, path: Path) -> int:
        """The line of ``path``."""
        return self.document.locations.value(path)[0]


Rule = Callable[[Context], Iterable[Problem]]


def _duplicates(entries: Iterable[tuple[str, Path]], ctx: Context, rule: str, what: str, fix: str,
                *, item: str | None = None) -> Iterator[Problem]:
    first: dict[str, Path] = {}
    for name, path in entries:
        if name in first:
            yield ctx.problem(path, name if item is None else item, rule,
                              f"{what} '{name}' is used twice (first at line {ctx.line(first[name])})", fix)
        else:
            first[name] = path


def _id_entries(ctx: Context) -> Iterator[tuple[str, Path]]:
    for path, question in ctx.questions():
        yield question.id, (*path, "id")
        for r, row in enumerate(getattr(question, "rows", ())):
            yield row.id, (*path, "rows", r, "id")
    for c, construct in enumerate(ctx.instrument.constructs):
        yield construct.id, ("constructs", c, "id")


def rule_duplicate_id(ctx: Context) -> Iterator[Problem]:
    """Question, matrix row and construct ids are unique across the instrument.

    They share one namespace because each becomes a column of the response frame
    (items) or of the scored frame (constructs).
    """
    yield from _duplicates(_id_entries(ctx), ctx, "duplicate-id", "id",
                           "Give each question, matrix row and construct its own id.")


def rule_duplicate_page(ctx: Context) -> Iterator[Problem]:
    """Page ids are unique."""
    yield from _duplicates(((page.id, ("pages", p, "id")) for p, page in enumerate(ctx.instrument.pages)),
                           ctx, "duplicate-page", "page id", "Give each page its own id.")


def rule_duplicate_option(ctx: Context) -> Iterator[Problem]:
    """Option values are unique within a question."""
    for path, question in ctx.questions():
        options = getattr(question, "options", ())
        yield from _duplicates(((o.value, (*path, "options", i, "value")) for i, o in enumerate(options)),
                               ctx, "duplicate-option", "option value", "Give each option its own value.",
                               item=question.id)


def rule_duplicate_unit(ctx: Context) -> Iterator[Problem]:
    """Unit ids are unique."""
    yield from _duplicates(((u.id, ("units", i, "id")) for i, u in enumerate(ctx.instrument.units)),
                           ctx, "duplicate-unit", "unit id", "Give each unit its own id.")


def rule_duplicate_scale_value(ctx: Context) -> Iterator[Problem]:
    """The values of a scale's points are unique."""
    for sid, scale in ctx.instrument.scales.items():
        entries = ((str(p.value), ("scales", sid, "points", i, "value")) for i, p in enumerate(scale.points))
        yield from _duplicates(entries, ctx, "duplicate-scale-value", "value",
                               "Give each point of the scale its own value.", item=sid)


def rule_duplicate_language(ctx: Context) -> Iterator[Problem]:
    """Each language is listed once."""
    yield from _duplicates(((lang, ("languages", i)) for i, lang in enumerate(ctx.instrument.languages)),
                           ctx, "duplicate-language", "language", "List each language once.", item="")


def rule_reserved_id(ctx: Context) -> Iterator[Problem]:
    """Ids are not Python keywords or true/false/none (``show_if`` could not name them)
    and not a fixed column of the response frame (``response_id``, ``wave``, ...)."""
    for name, path in _id_entries(ctx):
        if keyword.iskeyword(name) or name in ("true", "false", "none"):
            yield ctx.problem(path, name, "reserved-id", f"'{name}' is a reserved word of the show_if language",
                              f"Rename it, e.g. '{name}_q'.")
        elif name in RESERVED_IDS:
            yield ctx.problem(path, name, "reserved-id", f"'{name}' is a fixed column of the response data",
                              f"Rename it, e.g. '{name}_q' (reserved: {', '.join(sorted(RESERVED_IDS))}).")


def rule_unknown_scale(ctx: Context) -> Iterator[Problem]:
    """Every likert question and matrix names a scale defined under ``scales``."""
    scales = ctx.instrument.scales
    for path, question in ctx.questions():
        if question.type in ("likert", "matrix") and question.scale not in scales:
            hint = did_you_mean(question.scale, scales).strip()
            known = f"Defined scales: {', '.join(scales)}." if scales else "Define it under 'scales:'."
            yield ctx.problem((*path, "scale"), question.id, "unknown-scale",
                              f"scale '{question.scale}' is not defined", f"{hint} {known}".strip())


def rule_unknown_item(ctx: Context) -> Iterator[Problem]:
    """Every construct item is an analysable item (likert, matrix row, rating, number), listed once."""
    inst = ctx.instrument
    items = {item.id for item in inst.items}
    others = {q.id: q.type for q in inst.questions if q.id not in items}
    for c, construct in enumerate(inst.constructs):
        seen: set[str] = set()
        for i, name in enumerate(construct.items):
            path = ("constructs", c, "items", i)
            if name in seen:
                yield ctx.problem(path, construct.id, "unknown-item", f"item '{name}' is listed twice",
                                  "List each item once.")
            elif name in others:
                yield ctx.problem(path, construct.id, "unknown-item",
                                  f"'{name}' is a {others[name]} question, not a numeric item",
                                  "Constructs take likert questions, matrix rows, ratings and numbers.")
            elif name not in items:
                hint = did_you_mean(name, items).strip()
                yield ctx.problem(path, construct.id, "unknown-item", f"item '{name}' does not exist",
                                  hint or "Name a likert question, matrix row, rating or number question.")
            seen.add(name)


def rule_construct_size(ctx: Context) -> Iterator[Problem]:
    """A construct has at least 3 items (warning): fewer cannot identify a factor model."""
    for c, construct in enumerate(ctx.instrument.constructs):
        if len(construct.items) < 3:
            yield ctx.problem(("constructs", c, "items"), construct.id, "construct-size",
                              f"construct '{construct.id}' has {len(construct.items)} item(s); a measurement "
                              "model needs at least 3 per construct",
                              "Add items, or leave it out of factor models.", severity="warning")


def rule_unknown_name(ctx: Context) -> Iterator[Problem]:
    """Every name in a ``show_if`` is a question or matrix row id."""
    known = {name for name, _ in _id_entries(ctx)} - {c.id for c in ctx.instrument.constructs}
    for path, question in ctx.questions():
        if question.show_if is None:
            continue
        for name in sorted(question.show_if.names - known):
            hint = did_you_mean(name, known).strip()
            yield ctx.problem((*path, "show_if"), question.id, "unknown-name",
                              f"show_if names '{name}', which is not a question", hint or SHOW_IF_FIX)


def rule_show_if_order(ctx: Context) -> Iterator[Problem]:
    """``show_if`` reads only answers to questions shown before: on earlier pages, or earlier on
    the same page when that page is not randomized (a shuffled page has no fixed order)."""
    position: dict[str, tuple[int, int]] = {}  # id -> (question index, page index)
    for index, (path, question) in enumerate(ctx.questions()):
        for name in (question.id, *(row.id for row in getattr(question, "rows", ()))):
            position.setdefault(name, (index, int(path[1])))
    for index, (path, question) in enumerate(ctx.questions()):
        if question.show_if is None:
            continue
        page = ctx.instrument.pages[int(path[1])]
        for name in sorted(question.show_if.names & position.keys()):
            earlier, on_page = position[name]
            if earlier >= index:
                where = "itself" if earlier == index else "a question that comes later"
                yield ctx.problem((*path, "show_if"), question.id, "show-if-order",
                                  f"show_if reads '{name}', {where}",
                                  "Move the question after the one it depends on, or refer to an earlier one.")
            elif page.randomize and on_page == int(path[1]):
                yield ctx.problem((*path, "show_if"), question.id, "show-if-order",
                                  f"show_if reads '{name}' on the same page, but page '{page.id}' is randomized, "
                                  "so it may be shown later",
                                  f"Move '{name}' to an earlier page, or set 'randomize: false' on '{page.id}'.")


def rule_unit_question(ctx: Context) -> Iterator[Problem]:
    """There is exactly one question of type ``unit`` (it links employee and customer data)."""
    units = [(path, q) for path, q in ctx.questions() if q.type == "unit"]
    if not units:
        yield ctx.problem(("pages",), "", "unit-question", "no question of type 'unit'",
                          "Add a question with 'type: unit' (source: list or invitation) so responses "
                          "can be linked by store, branch or team.", at_key=True)
    for path, question in units[1:]:
        yield ctx.problem((*path, "type"), question.id, "unit-question",
                          f"a second unit question (the first is '{units[0][1].id}')", "Keep one unit question.")


def rule_units_missing(ctx: Context) -> Iterator[Problem]:
    """A unit question with ``source: list`` needs the top-level ``units`` list; one with
    ``source: organisation`` takes its units from the organisation, so the instrument lists none."""
    for path, question in ctx.questions():
        if question.type != "unit":
            continue
        if question.source == "list" and not ctx.instrument.units:
            yield ctx.problem((*path, "type"), question.id, "units-missing",
                              "the unit question offers a list, but the instrument has no 'units'",
                              "Add 'units:' (a list of {id, label}), or use 'source: organisation' (the "
                              "organisation's units, also for an open link) or 'source: invitation'.")
        elif question.source == "organisation" and ctx.instrument.units:
            yield ctx.problem((*path, "source"), question.id, "units-listed",
                              "the unit question takes its units from the organisation, but the instrument "
                              "lists 'units' too",
                              "Remove 'units:' from the instrument, or use 'source: list' to offer that list.")


def _scale_of(ctx: Context, question: Any) -> Scale | None:
    return ctx.instrument.scales.get(getattr(question, "scale", ""))


def rule_reverse_unordered(ctx: Context) -> Iterator[Problem]:
    """``reverse: true`` only on items whose scale is ordered."""
    for path, question in ctx.questions():
        scale = _scale_of(ctx, question)
        if scale is None or scale.ordered:
            continue
        flagged = [((*path, "reverse"), question.id)] if getattr(question, "reverse", False) else []
        flagged += [((*path, "rows", r, "reverse"), row.id)
                    for r, row in enumerate(getattr(question, "rows", ())) if row.reverse]
        for where, item in flagged:
            yield ctx.problem(where, item, "reverse-unordered",
                              f"reverse-keyed, but scale '{scale.id}' is not ordered",
                              f"Remove 'reverse', or mark scale '{scale.id}' as 'ordered: true'.")


def rule_scale_order(ctx: Context) -> Iterator[Problem]:
    """The points of an ordered scale are written from the lowest value to the highest."""
    for sid, scale in ctx.instrument.scales.items():
        values = scale.values
        drops = [i for i in range(1, len(values)) if values[i] <= values[i - 1]]
        if scale.ordered and drops:
            yield ctx.problem(("scales", sid, "points", drops[0], "value"), sid, "scale-order",
                              f"the values of ordered scale '{sid}' do not increase ({', '.join(map(str, values))})",
                              "List the points from the lowest value to the highest, or set 'ordered: false'.")


def _texts(node: Any, path: Path) -> Iterator[tuple[Path, LangText]]:
    if isinstance(node, LangText):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _texts(getattr(node, name), (*path, name))
    elif isinstance(node, tuple):
        for index, value in enumerate(node):
            yield from _texts(value, (*path, index))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _texts(value, (*path, key))


def rule_missing_translation(ctx: Context) -> Iterator[Problem]:
    """Every text is given in every language of the instrument, and in no other."""
    languages = ctx.instrument.languages
    for path, text in _texts(ctx.instrument, ()):
        item = _item_at(ctx.document.data, path)
        missing = [lang for lang in languages if lang not in text]
        if missing:
            plain = len(text) == 1 and not isinstance(_data_at(ctx.document.data, path), dict)
            yield ctx.problem(path, item, "missing-translation",
                              f"'{path[-1]}' has no {', '.join(missing)} text",
                              ("Write it as {" + ", ".join(f"{lang}: '...'" for lang in languages) + "}."
                               if plain else f"Add {', '.join(f'{lang}:' for lang in missing)}."))
        for lang in text:
            if lang not in languages:
                hint = did_you_mean(lang, languages).strip()
                yield ctx.problem((*path, lang), item, "unknown-language",
                                  f"'{path[-1]}' has a text in '{lang}', which is not in languages",
                                  hint or f"Add '{lang}' to languages, or remove this text.", at_key=True)


def _data_at(data: Any, path: Path) -> Any:
    for element in path:
        try:
            data = data[element]
        except (KeyError, IndexError, TypeError):
            return None
    return data


#: Which question types each metric accepts.
METRIC_TYPES: Mapping[str, tuple[str, ...]] = {
    "nps": ("rating",), "enps": ("rating",),
    "csat": ("likert", "matrix", "rating"), "ces": ("likert", "matrix", "rating"),
}


def rule_metric_type(ctx: Context) -> Iterator[Problem]:
    """Metric items exist and have the right type: NPS/eNPS a 0-10 rating, CSAT/CES a likert item or rating."""
    inst = ctx.instrument
    items = {item.id: item for item in inst.items}
    for metric, allowed in METRIC_TYPES.items():
        name = getattr(inst.metrics, metric)
        if name is None:
            continue
        path = ("metrics", metric)
        item = items.get(name)
        if item is None:
            hint = did_you_mean(name, items).strip()
            yield ctx.problem(path, name, "metric-type", f"{metric} names '{name}', which is not an item",
                              hint or "Name a likert question, matrix row or rating question.")
        elif item.type not in allowed:
            yield ctx.problem(path, name, "metric-type", f"{metric} item '{name}' is a {item.type} question",
                              f"{metric.upper()} needs a {' or '.join(allowed)} item.")
        elif metric in ("nps", "enps") and (item.min, item.max) != (0, 10):
            yield ctx.problem(path, name, "metric-type",
                              f"{metric} item '{name}' runs {item.min:g}-{item.max:g}, not 0-10",
                              f"Give '{name}' min: 0 and max: 10 (the {metric.upper()} scale).")


def rule_bad_range(ctx: Context) -> Iterator[Problem]:
    """Lower bounds lie below upper bounds (number, rating, date, multi_choice selections)."""
    for path, q in ctx.questions():
        if q.type in ("number", "date", "rating") and q.min is not None and q.max is not None and (
                q.min >= q.max if q.type == "rating" else q.min > q.max):
            yield ctx.problem((*path, "min"), q.id, "bad-range", f"min ({q.min}) is not below max ({q.max})",
                              "Swap or correct min and max.")
        if q.type == "multi_choice":
            top = q.max_selected if q.max_selected is not None else len(q.options)
            if not q.min_selected <= top <= len(q.options):
                yield ctx.problem((*path, "min_selected"), q.id, "bad-range",
                                  f"min_selected {q.min_selected} / max_selected {top} do not fit "
                                  f"{len(q.options)} options",
                                  "Use 0 <= min_selected <= max_selected <= the number of options.")


# --------------------------------------------------------------------------- content

#: Markup in an instrument text that makes a respondent's browser load something from
#: another server (a tracking pixel, a framed page, a script), with what to call it.
REMOTE_CONTENT: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[[^\]\n]*\]\s*[(\[]"), "a markdown image"),
    (re.compile(r"<\s*/?\s*(img|image|iframe|frame|frameset|object|embed|applet|script|link|style|meta|base|"
                r"video|audio|source|track|picture|svg|math|portal|form|input|body|html)(?![\w-])", re.I),
     "an HTML <{0}> tag"),
    (re.compile(r"\burl\s*\(", re.I), "a CSS url(...)"),
    (re.compile(r"@import\b", re.I), "a CSS @import"),
    (re.compile(r"\b(src|srcset|background|poster|lowsrc|dynsrc|formaction|xlink:href)\s*=", re.I),
     "an HTML {0}= attribute"),
    (re.compile(r"(?:\]\(\s*<?|\bhref\s*=\s*[\"']?\s*)(javascript|vbscript|data|file)\s*:", re.I), "a {0}: link"),
)

REMOTE_FIX = ("Remove it and write plain text: Tandem shows no images or embedded content in a survey, and a "
              "remote image is a tracking pixel that tells another server who opened the survey, when and from "
              "where. Links written as [text](https://...) are fine.")


def remote_markup(text: str) -> tuple[int, str] | None:
    """``(offset, what)`` of the first remote-loading markup in ``text``, or ``None``."""
    found = None
    for pattern, what in REMOTE_CONTENT:
        match = pattern.search(text)
        if match and (found is None or match.start() < found[0]):
            found = (match.start(), what.format(*(g.lower() for g in match.groups() if g)))
    return found


def _strings(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string value of the YAML data with its path (iterative, in file order)."""
    stack: list[tuple[Path, Any]] = [(path, node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            stack.extend(((*where, k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*where, i), v) for i, v in reversed(list(enumerate(value))))


def rule_remote_content(ctx: Context) -> Iterator[Problem]:
    """No text of the instrument (titles, question texts, help, labels, consent, descriptions,
    in every language, and every other string of the file) holds markup that loads content from
    elsewhere: markdown images, HTML tags such as ``<img``, ``<iframe``, ``<script``, ``<link``,
    ``<style``, ``src=``-like attributes, CSS ``url(`` and ``@import``, or ``javascript:`` links.

    Instrument texts are shown to every respondent; a remote image there is fetched by each
    respondent's browser as the page opens, telling its server who answered when and from where.
    """
    for path, text in _strings(ctx.document.data, ()):
        found = remote_markup(text)
        if found is None:
            continue
        offset, what = found
        at = ctx.document.locations.value(path)
        line, column = _inside(ctx.document, at, text, offset)
        field = next((str(p) for p in reversed(path) if isinstance(p, str) and p not in ctx.instrument.languages),
                     "text")
        language = f" ({path[-1]})" if isinstance(path[-1], str) and path[-1] in ctx.instrument.languages else ""
        snippet = _short(text[offset:offset + 40].split("\n")[0])
        yield Problem(ctx.document.source, line, column, _item_at(ctx.document.data, path), "remote-content",
                      f"'{field}'{language} contains {what} ('{snippet}'), which would load content from another "
                      "server in every respondent's browser", REMOTE_FIX)


#: Rules on the content of texts, run after :data:`RULES`.
CONTENT_RULES: tuple[Rule, ...] = (rule_remote_content,)


#: Every cross-reference rule, in the order they run.
RULES: tuple[Rule, ...] = (
    rule_duplicate_id,
    rule_duplicate_page,
    rule_duplicate_option,
    rule_duplicate_unit,
    rule_duplicate_scale_value,
    rule_duplicate_language,
    rule_reserved_id,
    rule_unknown_scale,
    rule_scale_order,
    rule_unknown_item,
    rule_construct_size,
    rule_unknown_name,
    rule_show_if_order,
    rule_unit_question,
    rule_units_missing,
    rule_reverse_unordered,
    rule_missing_translation,
    rule_metric_type,
    rule_bad_range,
)


def check_instrument(instrument: Instrument, document: Document) -> list[Problem]:
    """Run every rule of :data:`RULES` and :data:`CONTENT_RULES`; return all problems.

    The size limits come first: a file over one gets only its ``size-limit`` problems
    (the rules would cost time in proportion to its size, for problems nobody reads).

    Parameters
    ----------
    instrument
        A schema-valid instrument.
    document
        The YAML it came from (positions).
    """
    too_large = size_problems(document.data, document.locations, source=document.source)
    if too_large:
        return too_large
    context = Context(instrument, document)
    with suggestion_budget():
        return [problem for rule in (*RULES, *CONTENT_RULES) for problem in rule(context)]
