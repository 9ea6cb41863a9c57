"""The organisation as data: units in a tree, their levels, managers and attributes (pure, no database).

An organisation comes from an HRIS-style CSV file, one row per unit::

    unit_id,name,parent_id,level,managers,format,country
    acme,ACME Retail,,company,ceo@acme.example,,
    north,North,acme,region,ann@acme.example;bob@acme.example,,FR
    store_01,Store 01 Lyon,north,store,,large,FR

``unit_id``, ``name``, ``parent_id`` and ``level`` are required columns (``unit`` and
``parent`` are accepted as their short names; header names ignore case and surrounding
spaces); ``managers`` is optional (e-mail addresses separated by ``;`` or ``,``); every
other column is an attribute of the unit (format, size band, country ...), kept as text.
:func:`read_organisation` checks the whole file and raises :class:`OrganisationError`
with **every** problem at once, each with its line and rule (docs/organisation.md lists
the rules); otherwise it returns an :class:`Organisation`.

Rules about the tree: exactly one root (a unit without parent); every parent is a unit
of the file; no cycles; every unit has a level; and **levels follow depth**: all units
of one level are at the same depth below the root and each depth has one level name
(a "store" is never directly under the company while other stores are under districts).
That rule is what lets campaigns and KPI roll-ups speak of "the units of level X".

API overview
------------
``read_organisation(path) -> Organisation``; ``parse_organisation(text, *, source) ->
Organisation``; ``Organisation.units`` (id -> :class:`OrgUnit`, file order),
``.root``, ``.levels`` (root first), ``.parent(u)``, ``.children(u)``, ``.ancestors(u)``,
``.subtree(u)``, ``.level_of(u)``, ``.depth(u)``, ``.leaves()``, ``.at_level(level)``,
``.managers_of(u)``, ``.units_managed_by(email)``, ``.sha256`` (of the canonical content,
for idempotent imports).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from surveys.errors import did_you_mean, suggestion_budget
from surveys.limits import RULE as SIZE_RULE
from surveys.problems import InstrumentError, Problem
from surveys.question_types import UNIT_ID
from surveys.text import clean_text

__all__ = [
    "MAX_ATTRIBUTES", "MAX_FIELD", "MAX_MANAGERS", "MAX_ORG_BYTES", "MAX_UNITS", "OrgUnit", "Organisation",
    "OrganisationError", "ProblemCollector", "organisation_from_bytes", "parse_organisation", "read_organisation",
]

#: Largest organisation file accepted (20 MiB: 100,000 units of 200 characters).
MAX_ORG_BYTES = 20 * 1024 * 1024
#: Most units in one organisation.
MAX_UNITS = 100_000
#: Most attribute columns (besides the required ones and ``managers``).
MAX_ATTRIBUTES = 50
#: Longest cell (characters).
MAX_FIELD = 1_000
#: Most manager addresses of one unit.
MAX_MANAGERS = 50
#: Problems reported for one file (all are counted; the rest are summarised).
MAX_PROBLEMS = 1_000

#: Required columns and the other header names accepted for them.
REQUIRED = {"unit_id": ("unit_id", "unit"), "name": ("name",), "parent_id": ("parent_id", "parent"),
            "level": ("level",)}
MANAGERS = "managers"

#: A plausible e-mail address (local part, one ``@``, a dotted domain); deliberately
#: simple: it catches typing and column mistakes, it does not prove the mailbox exists.
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")
LEVEL = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,99}")


class OrganisationError(InstrumentError):
    """An organisation file that cannot be imported: ``problems`` lists every problem (line and rule)."""


@dataclass(frozen=True)
class OrgUnit:
    """One unit of the organisation.

    Attributes
    ----------
    id, name
        The unit's id (the key campaigns, invitations and KPIs use) and its display name.
    parent
        The parent unit's id; ``None`` for the root.
    level
        Its level name (``region``, ``district``, ``store`` ...).
    managers
        E-mail addresses of its managers (lower case).
    attributes
        The other columns of its row (column name -> text; empty cells left out).
    line
        Its line in the file it came from (0 when not from a file).
    """

    id: str
    name: str
    parent: str | None
    level: str
    managers: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    line: int = 0

    def record(self) -> dict[str, object]:
        """The unit as plain data (what is stored and hashed; no line)."""
        return {"unit_id": self.id, "name": self.name, "parent_id": self.parent, "level": self.level,
                "managers": list(self.managers), "attributes": dict(sorted(self.attributes.items()))}


class Organisation:
    """A validated organisation tree (immutable; build it with :func:`parse_organisation`).

    Parameters
    ----------
    units
        Every unit, parents before children or in any order; they must form one tree whose
        levels follow depth (not checked again here: :func:`parse_organisation` checks).
    """

    def __init__(self, units: Iterable[OrgUnit]) -> None:
        self._units: dict[str, OrgUnit] = {u.id: u for u in units}
        children: dict[str, list[str]] = {u: [] for u in self._units}
        root = None
        for unit in self._units.values():
            if unit.parent is None:
                root = unit.id
            else:
                children[unit.parent].append(unit.id)
        if root is None:
            raise ValueError("an organisation needs a root unit")
        self._children = {u: tuple(c) for u, c in children.items()}
        self._root = root

    def __repr__(self) -> str:
        return f"Organisation({len(self._units)} units, levels {list(self.levels)})"

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._units

    @property
    def units(self) -> Mapping[str, OrgUnit]:
        """Unit id -> unit."""
        return self._units

    @property
    def root(self) -> str:
        """Id of the root unit."""
        return self._root

    def unit(self, unit_id: str) -> OrgUnit:
        """The unit with this id (``KeyError`` otherwise)."""
        return self._units[unit_id]

    def parent(self, unit_id: str) -> str | None:
        """The parent's id, ``None`` for the root."""
        return self._units[unit_id].parent

    def children(self, unit_id: str) -> tuple[str, ...]:
        """Ids of the units directly below, in file order."""
        return self._children[unit_id]

    def ancestors(self, unit_id: str) -> tuple[str, ...]:
        """Ids from the parent up to the root (empty for the root)."""
        chain = []
        parent = self._units[unit_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self._units[parent].parent
        return tuple(chain)

    def subtree(self, unit_id: str) -> tuple[str, ...]:
        """The unit and every unit below it, depth first in file order."""
        out, stack = [], [unit_id]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(self._children[current]))
        return tuple(out)

    def depth(self, unit_id: str) -> int:
        """0 for the root, 1 for its children ..."""
        return self._depths[unit_id]

    def level_of(self, unit_id: str) -> str:
        """The unit's level name."""
        return self._units[unit_id].level

    @cached_property
    def _depths(self) -> dict[str, int]:
        depths = {self._root: 0}
        for unit in self.subtree(self._root):
            for child in self._children[unit]:
                depths[child] = depths[unit] + 1
        return depths

    @cached_property
    def levels(self) -> tuple[str, ...]:
        """Level names from the root down (one per depth)."""
        by_depth: dict[int, str] = {}
        for unit_id, depth in self._depths.items():
            by_depth.setdefault(depth, self._units[unit_id].level)
        return tuple(by_depth[d] for d in sorted(by_depth))

    def leaves(self) -> tuple[str, ...]:
        """Units with no unit below them, in file order."""
        return tuple(u for u in self._units if not self._children[u])

    def at_level(self, level: str) -> tuple[str, ...]:
        """Units of one level, in file order (empty for an unknown level)."""
        return tuple(u.id for u in self._units.values() if u.level == level)

    def lowest_below(self) -> dict[str, int]:
        """Each unit's number of units of the lowest level in its subtree (itself included)."""
        lowest, below = self.levels[-1], {}
        for unit in reversed(self.subtree(self.root)):
            below[unit] = (self.level_of(unit) == lowest) + sum(below[c] for c in self.children(unit))
        return below

    def managers_of(self, unit_id: str) -> tuple[str, ...]:
        """E-mail addresses of the unit's own managers."""
        return self._units[unit_id].managers

    def units_managed_by(self, email: str) -> tuple[str, ...]:
        """Units that name this address (any case) as a manager; their subtrees are not added."""
        wanted = str(email).strip().lower()
        return tuple(u.id for u in self._units.values() if wanted in u.managers)

    def counts(self) -> dict[str, int]:
        """Units per level, root level first."""
        found = Counter(u.level for u in self._units.values())
        return {level: found[level] for level in self.levels}

    def records(self) -> list[dict[str, object]]:
        """Every unit as plain data, in file order."""
        return [u.record() for u in self._units.values()]

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the canonical content (units sorted by id): equal files give equal hashes."""
        rows = sorted(self.records(), key=lambda r: str(r["unit_id"]))
        return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- reading


class ProblemCollector:
    """Problems of one data file, in the order found, capped at ``limit`` listed (all are counted).

    Shared by the organisation and KPI files (:mod:`surveys.kpis`): ``add`` one problem,
    then ``raise_if_any(ErrorClass)`` raises every problem at once, with a last line saying
    how many more were found than listed.
    """

    def __init__(self, source: str, *, limit: int = MAX_PROBLEMS) -> None:
        self.source = source
        self.limit = limit
        self.problems: list[Problem] = []
        self.count = 0

    def add(self, line: int, item: str, rule: str, message: str, fix: str = "", column: int = 0) -> None:
        """Record one problem (``line`` and ``column`` 1-based, 0 for the whole file)."""
        self.count += 1
        if len(self.problems) < self.limit:
            self.problems.append(Problem(self.source, line, column, item[:70], rule, message, fix))

    def raise_if_any(self, error: type[InstrumentError] | None = None) -> None:
        """Raise ``error`` (default :class:`OrganisationError`) with every problem, if any was found."""
        if self.count:
            problems = list(self.problems)
            if self.count > len(problems):
                problems.append(Problem(self.source, problems[-1].line, problems[-1].column + 1, "", "more-problems",
                                        f"{self.count - len(problems):,} more problems are not listed",
                                        "Fix the problems above and check the file again."))
            raise (error or OrganisationError)(problems)


def read_organisation(path: str | Path) -> Organisation:
    """Read and validate an organisation CSV file (UTF-8, a header row, one row per unit).

    Raises
    ------
    OrganisationError
        Every problem of the file (its line, rule, what and how to fix), or the one reason
        the file cannot be read at all (missing, a directory, over :data:`MAX_ORG_BYTES`,
        not UTF-8).
    """
    source = str(path)
    target = Path(path)
    problems = ProblemCollector(source)
    try:
        size = target.stat().st_size
        if not target.is_file():
            raise IsADirectoryError
    except OSError:
        problems.add(0, "", "file", "no such file", "Give the path of the organisation's CSV file.")
        problems.raise_if_any()
    if size > MAX_ORG_BYTES:
        _too_large(problems, size)
    return organisation_from_bytes(target.read_bytes(), source=source)


def _too_large(problems: ProblemCollector, size: int) -> None:
    problems.add(0, "", SIZE_RULE, f"the file has {size / 2**20:.1f} MiB, more than the "
                 f"{MAX_ORG_BYTES // 2**20} MiB an organisation file may have",
                 f"Check that this is the organisation file (at most {MAX_UNITS:,} units).")
    problems.raise_if_any()


def organisation_from_bytes(raw: bytes, *, source: str = "<upload>") -> Organisation:
    """Validate an organisation CSV given as bytes (an upload), as :func:`read_organisation`
    does a file: UTF-8 (a byte-order mark allowed), at most :data:`MAX_ORG_BYTES`.

    Raises
    ------
    OrganisationError
        Every problem, with its line and rule.
    """
    problems = ProblemCollector(source)
    if len(raw) > MAX_ORG_BYTES:
        _too_large(problems, len(raw))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problems.add(line, "", "encoding", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                     "Save the file as UTF-8 CSV and import again.")
        problems.raise_if_any()
    return parse_organisation(text, source=source)


def _rows(text: str, problems: ProblemCollector) -> Iterator[tuple[int, list[str]]]:
    """``(first line, cells)`` of each CSV record (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.add(reader.line_num, "", "csv-syntax", f"the CSV cannot be read here ({exc})",
                         "Check the quotes of this line (a quote inside a cell is written twice).")
            return
        yield line, cells
        line = reader.line_num + 1


def parse_organisation(text: str, *, source: str = "<text>") -> Organisation:
    """Validate an organisation given as CSV text (see :func:`read_organisation`)."""
    problems = ProblemCollector(source)
    if len(text) > MAX_ORG_BYTES:
        problems.add(0, "", SIZE_RULE, "the text is longer than an organisation file may be",
                     f"Check that this is the organisation file (at most {MAX_UNITS:,} units).")
        problems.raise_if_any()
    with suggestion_budget():
        units = _units(text, problems)
        if units:
            _tree_rules(units, problems)
    problems.raise_if_any()
    return Organisation(units or [])


def _header(cells: list[str], problems: ProblemCollector) -> dict[str, int] | None:
    names = [clean_text(c, multiline=False).strip().lower() for c in cells]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        column = index + 1
        if not name:
            problems.add(1, "", "empty-column", f"column {column} has no name", "Name every column in the "
                         "header row (or delete the empty column).", column)
            continue
        canonical = next((key for key, aliases in REQUIRED.items() if name in aliases), name)
        if canonical in columns:
            problems.add(1, name, "duplicate-column", f"column '{name[:70]}' appears twice",
                         "Keep one column of each name.", column)
            continue
        columns[canonical] = index
    accepted = [a for aliases in REQUIRED.values() for a in aliases]
    for key in REQUIRED:
        if key not in columns:
            hint = did_you_mean(key, [n for n in names if n not in accepted]).strip()
            problems.add(1, key, "missing-column", f"the header has no '{key}' column",
                         hint or f"The header needs {', '.join(REQUIRED)} (and optionally {MANAGERS}).")
    if len(columns) - len(REQUIRED) - (MANAGERS in columns) > MAX_ATTRIBUTES:
        problems.add(1, "", SIZE_RULE, f"more than {MAX_ATTRIBUTES} attribute columns",
                     "Keep the attributes you analyse by (format, size band, country ...).")
    return None if problems.count else columns


def _units(text: str, problems: ProblemCollector) -> list[OrgUnit] | None:
    rows = _rows(text, problems)
    first = next(rows, None)
    if first is None:
        problems.add(1, "", "empty-file", "the file is empty",
                     "Start with a header row: unit_id,name,parent_id,level,managers")
        return None
    columns = _header(first[1], problems)
    if columns is None:
        return None
    attribute_columns = {name: index for name, index in columns.items()
                         if name not in REQUIRED and name != MANAGERS}
    units: list[OrgUnit] = []
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(units) >= MAX_UNITS:
            problems.add(line, "", SIZE_RULE, f"more than {MAX_UNITS:,} units",
                         "Check that this is the organisation file, or import a part of it.")
            break
        unit = _unit(line, cells, columns, attribute_columns, problems)
        if unit is not None:
            units.append(unit)
    if not units and problems.count == 0:
        problems.add(1, "", "empty-file", "the file has a header but no units", "Add one row per unit.")
    return units


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _unit(line: int, cells: list[str], columns: dict[str, int], attribute_columns: dict[str, int],
          problems: ProblemCollector) -> OrgUnit | None:
    too_long = [i for i, c in enumerate(cells) if len(c) > MAX_FIELD]
    for index in too_long:
        problems.add(line, "", SIZE_RULE, f"a cell of {len(cells[index]):,} characters (at most {MAX_FIELD:,})",
                     "Shorten the cell; names and attributes are short texts.", index + 1)
    if too_long:
        return None
    if len(cells) > len(columns) + 5:  # a few trailing empty cells are common in exported sheets
        problems.add(line, "", "extra-cells", f"{len(cells)} cells but {len(columns)} columns in the header",
                     "Check the separators of this line (a comma inside a name needs quotes).")
    unit_id = _cell(cells, columns["unit_id"]).strip()
    if not unit_id:
        problems.add(line, "", "missing-id", "the unit has no id", "Give every unit an id in 'unit_id'.",
                     columns["unit_id"] + 1)
        return None
    if not UNIT_ID.fullmatch(unit_id):
        problems.add(line, unit_id, "bad-unit-id", f"'{unit_id[:70]}' is not a usable unit id",
                     "Use letters, digits, '.', '-' and '_' (starting with a letter or digit, up to 200 "
                     "characters): it appears in links and files.", columns["unit_id"] + 1)
    name = clean_text(_cell(cells, columns["name"]), multiline=False)
    if not name:
        problems.add(line, unit_id, "missing-name", "the unit has no name", "Fill in 'name'.",
                     columns["name"] + 1)
    parent = _cell(cells, columns["parent_id"]).strip() or None
    level = clean_text(_cell(cells, columns["level"]), multiline=False)
    if not level:
        problems.add(line, unit_id, "missing-level", "the unit has no level",
                     "Fill in 'level' (company, region, district, store ...).", columns["level"] + 1)
    elif not LEVEL.fullmatch(level):
        problems.add(line, unit_id, "bad-level", f"'{level[:70]}' is not a usable level name",
                     "Use a short name of letters, digits, spaces, '-' or '_', starting with a letter.",
                     columns["level"] + 1)
    managers: list[str] = []
    text = _cell(cells, columns.get(MANAGERS)).strip()
    for address in (a.strip() for a in re.split(r"[;,]", text) if a.strip()):
        if not EMAIL.fullmatch(address):
            problems.add(line, unit_id, "bad-email", f"'{clean_text(address, multiline=False)[:70]}' is not an "
                         "e-mail address", "Write addresses like ann@example.org, separated by ';'.",
                         columns[MANAGERS] + 1)
        elif address.lower() not in managers:
            managers.append(address.lower())
    if len(managers) > MAX_MANAGERS:
        problems.add(line, unit_id, SIZE_RULE, f"{len(managers)} managers (at most {MAX_MANAGERS})",
                     "Name the unit's own managers; people above it manage it through its parents.")
    attributes = {key: value for key, index in attribute_columns.items()
                  if (value := clean_text(_cell(cells, index), multiline=False))}
    return OrgUnit(unit_id, name, parent, level, tuple(managers), attributes, line)


def _tree_rules(units: list[OrgUnit], problems: ProblemCollector) -> None:
    """Duplicate ids, unknown parents, cycles, one root, then (on a sound tree) levels following depth.

    A unit whose row has other problems (a bad address, no name) still takes part, so
    its children are not reported as orphans.
    """
    by_id: dict[str, OrgUnit] = {}
    for unit in units:
        if unit.id in by_id:
            problems.add(unit.line, unit.id, "duplicate-id",
                         f"unit '{unit.id}' appears again (first on line {by_id[unit.id].line})",
                         "Give each unit its own id, or delete the repeated row.")
        else:
            by_id[unit.id] = unit
    orphans = 0
    for unit in by_id.values():
        if unit.parent is not None and unit.parent not in by_id:
            orphans += 1
            problems.add(unit.line, unit.id, "unknown-parent", f"parent '{unit.parent[:70]}' is not a unit of the file",
                         did_you_mean(unit.parent, by_id).strip() or "Add the parent's row, or correct its id.")
    roots = [u for u in by_id.values() if u.parent is None]
    if not roots:
        problems.add(1, "", "no-root", "no unit is the root (every unit has a parent)",
                     "Leave 'parent_id' empty for the top unit (the company).")
    for extra in roots[1:]:
        problems.add(extra.line, extra.id, "several-roots",
                     f"a second unit without parent (the first is '{roots[0].id}' on line {roots[0].line})",
                     "Give every unit but the top one a parent; add a company unit above several regions.")
    if _cycles(by_id, problems) == 0 and orphans == 0 and len(roots) == 1:
        _levels(Organisation(by_id.values()), problems)


def _cycles(by_id: dict[str, OrgUnit], problems: ProblemCollector) -> int:
    """Report each cycle of parent links once, on the line of its first unit in the file; return how many."""
    found = 0
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in by_id:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in by_id and state.get(current) is None:
            state[current] = 1
            path.append(current)
            current = by_id[current].parent
        if current is not None and state.get(current) == 1:
            cycle = path[path.index(current):]
            found += 1
            first = min(cycle, key=lambda u: by_id[u].line)
            shown = " -> ".join([*cycle[:8], *(["..."] if len(cycle) > 8 else []), cycle[0]])
            problems.add(by_id[first].line, first, "cycle",
                         f"the units form a cycle of parents ({shown})" if len(cycle) > 1
                         else "the unit is its own parent",
                         "Correct 'parent_id' so that following parents always ends at the root.")
        for unit in path:
            state[unit] = 2
    return found


def _levels(org: Organisation, problems: ProblemCollector) -> None:
    """Each level name at one depth, each depth one level name (the most common one wins)."""
    at: dict[int, Counter[str]] = {}
    for unit_id, unit in org.units.items():
        if unit.level:  # a missing level is reported already
            at.setdefault(org.depth(unit_id), Counter())[unit.level] += 1
    expected = {depth: counts.most_common(1)[0][0] for depth, counts in at.items()}
    depth_of: dict[str, int] = {}
    for depth in sorted(expected):
        depth_of.setdefault(expected[depth], depth)
    for unit_id, unit in org.units.items():
        depth = org.depth(unit_id)
        if not unit.level or (unit.level == expected[depth] and depth_of[unit.level] == depth):
            continue
        if unit.level == expected[depth]:
            what = (f"level '{unit.level}' is used at depth {depth_of[unit.level]} already, here at depth {depth}")
        else:
            what = f"level '{unit.level}' at depth {depth}, where the other units are '{expected[depth]}'"
        chain = " > ".join(reversed([unit_id, *org.ancestors(unit_id)][:6]))
        problems.add(unit.line, unit_id, "level-depth", f"{what} ({chain})",
                     "Every unit of one level must be the same number of steps below the root: correct its "
                     "level or its parent (add the missing intermediate unit).")
