"""Size limits of instrument files, checked before the expensive work.

Real instruments have a few dozen questions, a few dozen constructs and at most a few
thousand units; the limits below are far above that and exist only so that a hostile
or machine-generated file is answered in a moment with a plain reason, instead of
keeping ``tandem validate`` or the Campaigns page busy for minutes (YAML parsing in
pure Python takes about 7 ms per KiB, and every misspelt name costs a "did you mean"
search).

===========================  ===========  ==============================================
limit                        value        what it counts
===========================  ===========  ==============================================
:data:`MAX_QUESTIONS`        2,000        questions over all pages
:data:`MAX_PAGES`            500          pages
:data:`MAX_ROWS`             200          rows of one matrix
:data:`MAX_ITEMS`            5,000        question and matrix row ids together (columns)
:data:`MAX_OPTIONS`          500          options of one question (countries: ~250)
:data:`MAX_UNITS`            10,000       units (stores, branches, teams)
:data:`MAX_CONSTRUCTS`       500          constructs
:data:`MAX_CONSTRUCT_ITEMS`  200          items of one construct
:data:`MAX_SCALES`           200          scales
:data:`MAX_LANGUAGES`        50           languages
:data:`MAX_TEXT`             20,000       characters of one text in one language (and of
                                          any other string in the file)
===========================  ===========  ==============================================

Two checks use them, both reporting rule ``size-limit`` with the line and column of
the first entry over the limit:

* :func:`prescan` reads the raw text *before* YAML parsing (a few regular
  expressions, milliseconds for 2 MiB): it counts the questions (``type:`` with a
  question type under ``pages:``), the ids under ``pages:``, ``units:`` and
  ``constructs:`` and the option values, in the usual layout of an instrument (top-level
  keys at the start of a line). It only refuses files that are clearly over a limit;
  a layout it does not recognise passes to the parser.
* :func:`size_problems` checks the parsed data exactly (after YAML, before the schema
  and the cross-reference rules): this catches what the prescan cannot see, such as
  questions repeated through aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from surveys.problems import Problem

__all__ = [
    "MAX_CONSTRUCTS", "MAX_CONSTRUCT_ITEMS", "MAX_ITEMS", "MAX_LANGUAGES", "MAX_OPTIONS", "MAX_PAGES",
    "MAX_QUESTIONS", "MAX_ROWS", "MAX_SCALES", "MAX_TEXT", "MAX_UNITS", "prescan", "size_problems",
]

MAX_QUESTIONS = 2_000
MAX_PAGES = 500
MAX_ROWS = 200
MAX_ITEMS = 5_000
MAX_OPTIONS = 500
MAX_UNITS = 10_000
MAX_CONSTRUCTS = 500
MAX_CONSTRUCT_ITEMS = 200
MAX_SCALES = 200
MAX_LANGUAGES = 50
MAX_TEXT = 20_000

RULE = "size-limit"
_FIX = ("Real instruments have a few dozen questions; check that this is the right file, or split the survey "
        "into several instruments. The limits are listed in the README, section 'Instrument format'.")

_QUESTION_TYPES = ("likert", "rating", "single_choice", "dropdown", "multi_choice", "number", "text", "matrix",
                   "ranking", "date", "unit")

# A top-level key at the start of a line: plain, 'single' or "double" quoted.
_TOP_KEY = re.compile(r"""^(?:"([^"\n]*)"|'([^'\n]*)'|([A-Za-z_][\w-]*))[ \t]*:(?=[ \t\r\n]|$)""", re.M)


def _key(name: str) -> str:
    """A regex for ``name:`` as a key in block or flow style (optionally quoted)."""
    return r"""(?:^|(?<=[\s{,\[]))(?:"NAME"|'NAME'|NAME)[ \t]*:(?=[ \t\r\n]|$)""".replace("NAME", name)


_ID = re.compile(_key("id"), re.M)
_VALUE = re.compile(_key("value"), re.M)
_TYPE_VALUE = r"""[ \t]*["']?(?:TYPES)["']?(?=[\s,}\]#]|$)""".replace("TYPES", "|".join(_QUESTION_TYPES))
_TYPE = re.compile(_key("type") + _TYPE_VALUE, re.M)


def _sections(text: str) -> dict[str, tuple[int, int]]:
    """Top-level key -> (start, end) offsets of its part of the text (the first of each key)."""
    found: list[tuple[str, int]] = []
    for match in _TOP_KEY.finditer(text):
        found.append((next(g for g in match.groups() if g is not None), match.start()))
    out: dict[str, tuple[int, int]] = {}
    for index, (name, start) in enumerate(found):
        end = found[index + 1][1] if index + 1 < len(found) else len(text)
        out.setdefault(name, (start, end))
    return out


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def prescan(text: str, *, source: str) -> list[Problem]:
    """Problems of a file that is clearly over a size limit, found without parsing it.

    Parameters
    ----------
    text
        The instrument's YAML text.
    source
        The file name for the problems.

    Returns
    -------
    list of Problem
        Empty when nothing is clearly over a limit (the exact check follows parsing).
    """
    sections = _sections(text)
    checks = (
        ("pages", _TYPE, MAX_QUESTIONS, "questions", "the pages hold {n:,} questions, more than the {limit:,} "
         "an instrument may have (question {over:,} starts here)"),
        ("pages", _ID, MAX_ITEMS + MAX_PAGES, "ids", "the pages hold {n:,} ids (pages, questions and matrix rows), "
         "more than the {limit:,} an instrument may have"),
        ("pages", _VALUE, MAX_QUESTIONS * 10, "option values", "the pages hold {n:,} option values, more than the "
         "{limit:,} an instrument may have"),
        ("units", _ID, MAX_UNITS, "units", "'units' lists {n:,} units, more than the {limit:,} an instrument may have "
         "(unit {over:,} starts here)"),
        ("constructs", _ID, MAX_CONSTRUCTS, "constructs", "'constructs' lists {n:,} constructs, more than the "
         "{limit:,} an instrument may have (construct {over:,} starts here)"),
        ("scales", _VALUE, MAX_SCALES * 21, "scale points", "'scales' has {n:,} points, more than the {limit:,} "
         "an instrument may have"),
    )
    problems: list[Problem] = []
    reported: set[str] = set()
    for section, pattern, limit, _what, message in checks:
        if section not in sections or section in reported:
            continue
        start, end = sections[section]
        matches = pattern.finditer(text, start, end)
        over = None
        count = 0
        for match in matches:
            count += 1
            if count == limit + 1:
                over = match.start()
        if over is not None:
            problems.append(Problem(source, *_position(text, over), "", RULE,
                                    message.format(n=count, limit=limit, over=limit + 1), _FIX))
            reported.add(section)
    return problems


# --------------------------------------------------------------------------- exact, on the parsed data


def _entries(value: Any) -> list:
    return value if isinstance(value, list) else []


def size_problems(data: Any, locations: Any, *, source: str) -> list[Problem]:
    """Exact size checks on parsed instrument data (plain dicts and lists).

    Parameters
    ----------
    data
        :attr:`surveys.yamlsource.Document.data`.
    locations
        :attr:`surveys.yamlsource.Document.locations` (positions of the problems).
    source
        The file name for the problems.

    Returns
    -------
    list of Problem
        One per limit exceeded, at the first entry over it.
    """
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []

    def over(path: tuple, message: str, item: str = "") -> None:
        problems.append(Problem(source, *locations.value(path), item, RULE, message, _FIX))

    def check_list(path: tuple, entries: list, limit: int, what: str, item: str = "") -> None:
        if len(entries) > limit:
            over((*path, limit), f"{what} has {len(entries):,} entries, more than the {limit:,} allowed", item)

    pages = _entries(data.get("pages"))
    check_list(("pages",), pages, MAX_PAGES, "'pages'")
    questions = 0
    ids = 0
    first_over: tuple | None = None
    first_ids_over: tuple | None = None
    for p, page in enumerate(pages[:MAX_PAGES + 1]):
        if not isinstance(page, dict):
            continue
        for q, question in enumerate(_entries(page.get("questions"))):
            path = ("pages", p, "questions", q)
            questions += 1
            ids += 1
            if questions == MAX_QUESTIONS + 1:
                first_over = path
            if not isinstance(question, dict):
                continue
            qid = question.get("id") if isinstance(question.get("id"), str) else ""
            options = _entries(question.get("options"))
            check_list((*path, "options"), options, MAX_OPTIONS, f"question '{qid}': 'options'", qid)
            rows = _entries(question.get("rows"))
            check_list((*path, "rows"), rows, MAX_ROWS, f"matrix '{qid}': 'rows'", qid)
            if ids <= MAX_ITEMS < ids + len(rows):
                first_ids_over = (*path, "rows", MAX_ITEMS - ids)
            ids += len(rows)
            if ids > MAX_ITEMS and first_ids_over is None:
                first_ids_over = path
    if first_over is not None:
        over(first_over, f"the pages hold {questions:,} questions, more than the {MAX_QUESTIONS:,} allowed")
    elif first_ids_over is not None:
        over(first_ids_over, f"the pages hold {ids:,} questions and matrix rows, more than the {MAX_ITEMS:,} "
                             "allowed (each becomes a column of the response data)")
    check_list(("units",), _entries(data.get("units")), MAX_UNITS, "'units'")
    constructs = _entries(data.get("constructs"))
    check_list(("constructs",), constructs, MAX_CONSTRUCTS, "'constructs'")
    for c, construct in enumerate(constructs[:MAX_CONSTRUCTS + 1]):
        if isinstance(construct, dict):
            cid = construct.get("id") if isinstance(construct.get("id"), str) else ""
            check_list(("constructs", c, "items"), _entries(construct.get("items")), MAX_CONSTRUCT_ITEMS,
                       f"construct '{cid}': 'items'", cid)
    scales = data.get("scales")
    if isinstance(scales, dict) and len(scales) > MAX_SCALES:
        over(("scales", list(scales)[MAX_SCALES]), f"'scales' defines {len(scales):,} scales, more than the "
                                                   f"{MAX_SCALES:,} allowed")
    check_list(("languages",), _entries(data.get("languages")), MAX_LANGUAGES, "'languages'")
    for path, text in _long_strings(data):
        over(path, f"a text of {len(text):,} characters, more than the {MAX_TEXT:,} allowed",
             _nearest_id(data, path))
        if len(problems) >= 20:
            break
    return problems


def _long_strings(data: Any) -> Iterator[tuple[tuple, str]]:
    """Every string (value or key) longer than :data:`MAX_TEXT`, with its path (iterative walk)."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if len(node) > MAX_TEXT:
                yield path, node
        elif isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                if isinstance(key, str) and len(key) > MAX_TEXT:
                    yield (*path, key), key
                stack.append(((*path, key), value))
        elif isinstance(node, list):
            stack.extend(((*path, i), value) for i, value in reversed(list(enumerate(node))))


def _nearest_id(data: Any, path: tuple) -> str:
    item, node = "", data
    for element in path:
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            item = node["id"]
        try:
            node = node[element]
        except (KeyError, IndexError, TypeError):
            break
    return item
