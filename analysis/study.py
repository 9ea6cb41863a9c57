"""Linkage study definitions: which employee and customer instruments meet on which unit.

A study file (``instruments/studies/*.yaml``) names the two instruments, the unit key
they share, the minimum respondents per unit on each side, the hypothesised
unit-level paths (lavaan regressions over construct ids), the customer outcomes for
driver analysis and an optional wave lag::

    id: service_profit_chain
    title: The service-profit chain
    employee_instrument: ../employee_experience.yaml   # relative to this file
    customer_instrument: ../customer_experience.yaml
    unit_key: unit
    min_respondents: {employee: 5, customer: 10}
    paths:
      - job_satisfaction ~ manager_support + training + tools
      - service_climate ~ job_satisfaction + engagement
      - csat ~ service_quality
    drivers:
      outcomes: [service_quality, csat, nps]
      predictors: [manager_support, training, tools]   # optional
    wave_lag: 0
    linkage_model: auto        # latent | corrected | observed | auto (the first the units support)
    business:                  # optional: business KPIs per unit (tandem kpi import) as path nodes
      kpis: [retention, sales_growth]
      lag: 1                   # KPIs of the period after each survey wave

KPI nodes are unit-level figures (no respondents, so no sampling error): in the latent
model they are level-2 variables, and :func:`analysis.linkage.run_study` takes their
values per unit (``kpis=``).

Path nodes are construct ids of either instrument or the metric names ``csat``,
``nps``, ``ces``, ``enps`` (the instrument's metric items, aggregated to the unit's
CSAT top-two-box share, NPS ...). YAML is read with the instrument machinery
(:mod:`surveys.yamlsource`: size, binary and alias-bomb limits), and every problem is
reported at once as a :class:`surveys.problems.Problem` with file, line and column,
exactly like instrument errors.

Size limits (rule ``size-limit``), far above any real study, keep a hostile file from
keeping validation busy: the text at most :data:`MAX_STUDY_BYTES`, at most
:data:`MAX_PATHS` paths of at most :data:`MAX_PATH_CHARS` characters and
:data:`MAX_PREDICTORS` predictors each, :data:`MAX_STUDY_NODES` distinct nodes, and at
most :data:`MAX_ROUTES` indirect routes (counted without listing them: a layered
model of a few dozen nodes has millions of routes, and each becomes a term of a
defined effect). The cycle check is linear in the size of the model.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surveys.errors import did_you_mean, suggestion_budget
from surveys.instrument import Instrument
from surveys.loader import load_instrument
from surveys.problems import InstrumentError, Problem
from surveys.yamlsource import parse_yaml, read_text

__all__ = [
    "MAX_PATHS",
    "MAX_ROUTES",
    "MAX_STUDY_BYTES",
    "MAX_STUDY_NODES",
    "METRIC_NODES",
    "Study",
    "StudyError",
    "StudyPath",
    "count_routes",
    "load_study",
    "metric_node",
    "node_names",
    "node_side",
    "parse_study",
]

METRIC_NODES = ("csat", "nps", "ces", "enps")
#: The chain's models (:func:`analysis.linkage.run_study`): among the units' latent means, on
#: unit means corrected for their sampling error, on observed unit means, or the first of
#: these the data support.
LINKAGE_MODELS = ("auto", "latent", "corrected", "observed")
_KEYS = ("id", "title", "description", "employee_instrument", "customer_instrument", "unit_key",
         "min_respondents", "paths", "drivers", "wave_lag", "linkage_model", "business")
_REQUIRED = ("id", "employee_instrument", "customer_instrument", "paths")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Largest study text (the shipped one is under 1 KiB).
MAX_STUDY_BYTES = 256 * 1024
#: Most entries under ``paths``.
MAX_PATHS = 200
#: Longest path line.
MAX_PATH_CHARS = 2_000
#: Most predictors of one path.
MAX_PREDICTORS = 50
#: Most distinct nodes over all paths (a unit-level model of 40-200 units fits a handful).
MAX_STUDY_NODES = 100
#: Most indirect routes (employee node to customer node over two or more paths).
MAX_ROUTES = 1_000


class StudyError(InstrumentError):
    """A study file that cannot be used; ``problems`` lists every problem found
    (formatted like instrument problems: ``file:line:col: error [rule] ...``)."""


@dataclass(frozen=True)
class StudyPath:
    """One hypothesised regression ``lhs ~ rhs1 + rhs2`` (unit level)."""

    lhs: str
    rhs: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.lhs} ~ {' + '.join(self.rhs)}"


@dataclass(frozen=True)
class Study:
    """A validated linkage study.

    Attributes
    ----------
    id, title
        Identifier and display title.
    employee, customer
        The two loaded :class:`~surveys.instrument.Instrument` objects.
    employee_path, customer_path
        Where they were loaded from.
    unit_key
        The wide-frame column that links employees and customers (``unit``).
    min_employees, min_customers
        Units with fewer respondents on a side are left out of every analysis and
        never shown.
    paths
        Hypothesised unit-level regressions.
    outcomes
        Customer nodes whose unit-level drivers are ranked.
    predictors
        Employee nodes used as drivers (default: every employee node of the paths).
    wave_lag
        0 to pool each side; k >= 1 links employee wave t with customer wave t + k.
    linkage_model
        One of :data:`LINKAGE_MODELS` (``auto`` by default).
    business, business_lag
        The business KPI ids the paths may use (side ``"business"``) and the periods between
        a survey wave and the KPIs linked to it.
    source
        The study file.
    """

    id: str
    title: str
    employee: Instrument
    customer: Instrument
    employee_path: Path
    customer_path: Path
    unit_key: str
    min_employees: int
    min_customers: int
    paths: tuple[StudyPath, ...]
    outcomes: tuple[str, ...]
    predictors: tuple[str, ...]
    wave_lag: int
    source: str
    linkage_model: str = "auto"
    business: tuple[str, ...] = ()
    business_lag: int = 1

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every node of the paths, in first-mention order."""
        seen: list[str] = []
        for p in self.paths:
            for n in (*p.rhs, p.lhs):
                if n not in seen:
                    seen.append(n)
        return tuple(seen)

    def side(self, node: str) -> str:
        """``"employee"`` or ``"customer"`` (which instrument defines ``node``), or
        ``"business"`` for a KPI node."""
        if node in self.business:
            return "business"
        return node_side(node, self.employee, self.customer) or "unknown"

    @property
    def kpi_nodes(self) -> tuple[str, ...]:
        """The KPI nodes the paths use."""
        return tuple(n for n in self.nodes if n in self.business)

    def without_business(self) -> Study:
        """The study without its KPI nodes and the paths into or out of them (for data without KPIs)."""
        kept = []
        for p in self.paths:
            if p.lhs in self.business:
                continue
            rhs = tuple(r for r in p.rhs if r not in self.business)
            if rhs:
                kept.append(StudyPath(p.lhs, rhs))
        return dataclasses.replace(self, paths=tuple(kept), business=())

    def model_syntax(self) -> str:
        """lavaan syntax of the unit-level path model, with labelled paths and
        ``:=`` indirect (total) effects of every employee node on every customer node.

        Labels are ``b_<lhs>__<rhs>``; defined effects ``ind_<employee>__<customer>``
        sum the products of the labels along every directed route.
        """
        lines = [f"{p.lhs} ~ " + " + ".join(f"{_label(p.lhs, r)}*{r}" for r in p.rhs) for p in self.paths]
        for source, target, routes in self.indirect_routes():
            terms = " + ".join("*".join(_label(b, a) for a, b in itertools.pairwise(r)) for r in routes)
            lines.append(f"{_defined(source, target)} := {terms}")
        return "\n".join(lines)

    def indirect_routes(self) -> list[tuple[str, str, list[tuple[str, ...]]]]:
        """``(employee node, customer or KPI node, routes)`` for every pair joined by a
        directed route of two or more paths (each route a tuple of nodes)."""
        children: dict[str, list[str]] = {}
        for p in self.paths:
            for r in p.rhs:
                children.setdefault(r, []).append(p.lhs)

        def walk(route: tuple[str, ...]) -> list[tuple[str, ...]]:
            out = [route]
            for child in children.get(route[-1], []):
                out += walk((*route, child))
            return out

        result = []
        for source in self.nodes:
            if self.side(source) != "employee":
                continue
            by_target: dict[str, list[tuple[str, ...]]] = {}
            for route in walk((source,)):
                if len(route) >= 3 and self.side(route[-1]) in ("customer", "business"):
                    by_target.setdefault(route[-1], []).append(route)
            result += [(source, target, routes) for target, routes in by_target.items()]
        return result


def _label(lhs: str, rhs: str) -> str:
    return f"b_{lhs}__{rhs}"


def _defined(source: str, target: str) -> str:
    return f"ind_{source}__{target}"


def node_names(instrument: Instrument) -> set[str]:
    """The names an instrument gives to path nodes: its construct ids and its metrics."""
    metrics = instrument.metrics
    return {c.id for c in instrument.constructs} | {m for m in METRIC_NODES if getattr(metrics, m, None)}


def node_side(node: str, employee: Instrument, customer: Instrument) -> str | None:
    """``"employee"`` or ``"customer"``: which instrument defines ``node`` (None: neither)."""
    if node in node_names(employee):
        return "employee"
    if node in node_names(customer):
        return "customer"
    return None


def load_study(path: str | Path) -> Study:
    """Load and validate a study file; raises :class:`StudyError` listing every problem."""
    try:
        text = read_text(path)
    except InstrumentError as exc:
        raise StudyError(exc.problems) from None
    return parse_study(text, source=str(path), base=Path(path).parent)


def parse_study(text: str, *, source: str = "<study>", base: str | Path = ".",
                instruments: Mapping[str, Instrument] | None = None) -> Study:
    """Validate study YAML ``text``; instrument paths resolve relative to ``base``.

    ``instruments`` (``{"employee": ..., "customer": ...}``) binds the study to instruments
    already loaded, e.g. the versions a campaign pinned, instead of the files that
    ``employee_instrument`` and ``customer_instrument`` name (which are then optional).
    """
    if len(text) > MAX_STUDY_BYTES:
        raise StudyError([Problem(source, 0, 0, "", "size-limit",
                                  f"the study is {len(text) / 1024:,.0f} KiB, more than the "
                                  f"{MAX_STUDY_BYTES // 1024} KiB a study file may have",
                                  "A study is a few lines; check that this is the right file.")])
    with suggestion_budget():
        return _parse_study(text, source=source, base=base, instruments=instruments)


def _parse_study(text: str, *, source: str, base: str | Path,
                 instruments: Mapping[str, Instrument] | None) -> Study:
    try:
        document = parse_yaml(text, source=source, prescan=None)
    except InstrumentError as exc:
        raise StudyError(exc.problems) from None
    problems: list[Problem] = []

    def problem(path: tuple, rule: str, message: str, fix: str = "", item: str = "") -> None:
        line, column = document.locations.key(path)
        problems.append(Problem(source, line, column, item, rule, message, fix))

    doc = document.data
    if not isinstance(doc, dict):
        problem((), "not-a-mapping", "a study file must be a YAML mapping (key: value lines)",
                fix="Start from instruments/studies/service_profit_chain.yaml.")
        raise StudyError(problems)

    for key in doc:
        if key not in _KEYS:
            problem((key,), "unknown-key", f"unknown key '{key}'",
                    fix=(did_you_mean(str(key), _KEYS) + " Otherwise remove it.").strip())
    given = dict(instruments or {})
    for key in _REQUIRED:
        if key not in doc and key.removesuffix("_instrument") not in given:
            problem((), "required", f"the study lacks '{key}'", fix=f"Add a '{key}:' entry.")

    instruments: dict[str, Instrument] = {}
    paths_of: dict[str, Path] = {}
    for side in ("employee", "customer"):
        key = f"{side}_instrument"
        if side in given:
            instruments[side], paths_of[side] = given[side], Path(f"<{given[side].id} {given[side].version}>")
            continue
        if key not in doc:
            continue
        value = doc[key]
        if not isinstance(value, str) or not value.strip():
            problem((key,), "instrument", f"'{key}' must be the path of an instrument file")
            continue
        file = Path(value) if Path(value).is_absolute() else (Path(base) / value).resolve()
        if not file.is_file():
            problem((key,), "instrument", f"'{key}': no instrument file at '{value}' (looked in {file})",
                    fix="Give the path relative to the study file.")
            continue
        try:
            inst = load_instrument(file)
        except InstrumentError as exc:
            problem((key,), "instrument",
                    f"'{key}': the instrument '{value}' does not load ({len(exc.problems)} problem(s))",
                    fix=f"Run `tandem validate {file}` and fix it first.")
            continue
        if inst.audience != side:
            problem((key,), "audience", f"'{key}' names an instrument whose audience is '{inst.audience}'",
                    fix=f"Use an instrument with 'audience: {side}'.")
        instruments[side], paths_of[side] = inst, file

    unit_key = doc.get("unit_key", "unit")
    if not isinstance(unit_key, str) or not _NAME.match(unit_key):
        problem(("unit_key",), "unit-key", "'unit_key' must be a column name such as 'unit'")
        unit_key = "unit"

    minimum = _min_respondents(doc, instruments, problem)
    business, business_lag = _business(doc, instruments, problem)
    paths = _paths(doc, instruments, problem, business)
    outcomes, predictors = _drivers(doc, instruments, paths, problem)
    wave_lag = doc.get("wave_lag", 0)
    if isinstance(wave_lag, bool) or not isinstance(wave_lag, int) or wave_lag < 0:
        problem(("wave_lag",), "wave-lag", "'wave_lag' must be a whole number >= 0",
                fix="0 pools each side; 1 links employee wave t with customer wave t+1.")
        wave_lag = 0
    linkage_model = doc.get("linkage_model", "auto")
    if linkage_model not in LINKAGE_MODELS:
        problem(("linkage_model",), "linkage-model",
                f"'linkage_model' must be one of {', '.join(LINKAGE_MODELS)}, got {linkage_model!r}",
                fix="auto fits the chain to the units' latent means when the units support it.")
        linkage_model = "auto"
    study_id = doc.get("id")
    if "id" in doc and (not isinstance(study_id, str) or not _NAME.match(study_id)):
        problem(("id",), "id", "'id' must be a name of letters, digits and underscores")

    if problems:
        raise StudyError(problems)
    return Study(
        id=str(study_id), title=str(doc.get("title", study_id)),
        employee=instruments["employee"], customer=instruments["customer"],
        employee_path=paths_of["employee"], customer_path=paths_of["customer"],
        unit_key=unit_key, min_employees=minimum["employee"], min_customers=minimum["customer"],
        paths=paths, outcomes=outcomes, predictors=predictors, wave_lag=int(wave_lag), source=source,
        linkage_model=str(linkage_model), business=business, business_lag=business_lag,
    )


def _min_respondents(doc: dict, instruments: Mapping[str, Instrument], problem) -> dict[str, int]:
    out = {side: inst.min_group_size for side, inst in instruments.items()}
    out.setdefault("employee", 5)
    out.setdefault("customer", 5)
    spec = doc.get("min_respondents", {})
    if not isinstance(spec, dict):
        problem(("min_respondents",), "min-respondents",
                "'min_respondents' must be a mapping such as {employee: 5, customer: 10}")
        return out
    for key in spec:
        if key not in ("employee", "customer"):
            problem(("min_respondents", key), "unknown-key", f"unknown side '{key}' in min_respondents",
                    fix=(did_you_mean(str(key), ("employee", "customer")) + " Use 'employee' and 'customer'.").strip())
    for side in ("employee", "customer"):
        if side not in spec:
            continue
        value = spec[side]
        floor = instruments[side].min_group_size if side in instruments else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problem(("min_respondents", side), "min-respondents", f"min_respondents.{side} must be a whole number >= 1")
        elif value < floor:
            problem(("min_respondents", side), "anonymity",
                    f"min_respondents.{side} is {value}, below the {side} instrument's "
                    f"anonymity.min_group_size {floor}",
                    fix=f"Use at least {floor}: smaller units could identify respondents.")
        else:
            out[side] = value
    return out


def _business(doc: dict, instruments: Mapping[str, Instrument], problem) -> tuple[tuple[str, ...], int]:
    """The ``business`` section: KPI ids (names, not constructs or metrics) and the lag."""
    spec = doc.get("business")
    if spec is None:
        return (), 1
    if not isinstance(spec, dict) or set(spec) - {"kpis", "lag"}:
        problem(("business",), "business", "'business' must be a mapping with 'kpis' (a list of KPI ids) and "
                "an optional 'lag'", fix="For example: business: {kpis: [retention, sales_growth], lag: 1}")
        return (), 1
    kpis = spec.get("kpis")
    if not isinstance(kpis, list) or not kpis or not all(isinstance(k, str) and _NAME.match(k) for k in kpis):
        problem(("business", "kpis"), "business", "'business.kpis' must be a non-empty list of KPI ids",
                fix="Use the ids declared with 'tandem kpi declare', e.g. [retention, sales_growth].")
        return (), 1
    taken = set().union(*(node_names(inst) for inst in instruments.values())) if instruments else set()
    for i, kpi in enumerate(kpis):
        if kpi in taken:
            problem(("business", "kpis", i), "business", f"KPI '{kpi}' has the name of a construct or metric",
                    fix="Give the KPI another id.", item=kpi)
    lag = spec.get("lag", 1)
    if isinstance(lag, bool) or not isinstance(lag, int) or not 0 <= lag <= 12:
        problem(("business", "lag"), "business", "'business.lag' must be a whole number from 0 to 12",
                fix="1 links each survey wave with the KPIs of the period after it; 0 with the same period.")
        lag = 1
    return tuple(dict.fromkeys(kpis)), int(lag)


def _paths(doc: dict, instruments: Mapping[str, Instrument], problem,
           business: tuple[str, ...] = ()) -> tuple[StudyPath, ...]:
    spec = doc.get("paths")
    if spec is None:
        return ()
    if not isinstance(spec, list) or not spec:
        problem(("paths",), "paths", "'paths' must be a non-empty list of lines like 'y ~ x1 + x2'")
        return ()
    if len(spec) > MAX_PATHS:
        problem(("paths", MAX_PATHS), "size-limit", f"'paths' has {len(spec):,} entries, more than the {MAX_PATHS:,} "
                "a study may have", fix="A unit-level model has a handful of paths; check that this is the right file.")
        return ()
    known = {n: side for side, inst in instruments.items() for n in node_names(inst)} | dict.fromkeys(
        business, "business")
    both = (set(node_names(instruments["employee"])) & set(node_names(instruments["customer"]))
            if len(instruments) == 2 else set())
    out: list[StudyPath] = []
    for i, line in enumerate(spec):
        if isinstance(line, str) and (len(line) > MAX_PATH_CHARS or line.count("+") >= MAX_PREDICTORS):
            problem(("paths", i), "size-limit", f"path {i + 1} is {len(line):,} characters with "
                    f"{line.count('+') + 1:,} predictors; a path may have at most {MAX_PATH_CHARS:,} characters and "
                    f"{MAX_PREDICTORS} predictors", fix="Split the model, or keep the predictors that matter.")
            continue
        if not isinstance(line, str) or line.count("~") != 1:
            problem(("paths", i), "path-syntax", f"path {i + 1} is not a regression 'y ~ x1 + x2': {line!r}",
                    fix="Write one regression per list entry, for example 'service_climate ~ engagement'.")
            continue
        lhs, rhs = (part.strip() for part in line.split("~"))
        names = [lhs, *(r.strip() for r in rhs.split("+"))]
        if not all(_NAME.match(n) for n in names):
            problem(("paths", i), "path-syntax", f"path {i + 1} has a name that is not an identifier: {line!r}",
                    fix="Use construct ids joined by '+'; labels and fixed values are not allowed here.")
            continue
        ok = True
        if len(instruments) == 2:
            for n in names:
                if n not in known:
                    problem(("paths", i), "node",
                            f"path {i + 1}: '{n}' is not a construct or metric of either instrument",
                            fix=(did_you_mean(n, known) + " Use construct ids of the two instruments, "
                                 "csat, nps, ces, enps for their metric items, or a KPI listed under "
                                 "'business'.").strip(), item=n)
                    ok = False
                elif n in both:
                    problem(("paths", i), "node", f"path {i + 1}: '{n}' is defined by both instruments", item=n,
                            fix="Rename the construct in one instrument so each node has one source.")
                    ok = False
        if len(set(names)) != len(names):
            problem(("paths", i), "path-syntax", f"path {i + 1} names a variable twice: {line!r}")
            ok = False
        if any(p.lhs == lhs for p in out):
            problem(("paths", i), "path-duplicate", f"'{lhs}' is already regressed in an earlier path",
                    fix="Put all predictors of one outcome on one line.")
            ok = False
        if ok:
            out.append(StudyPath(lhs, tuple(names[1:])))
    nodes = {n for p in out for n in (p.lhs, *p.rhs)}
    if len(nodes) > MAX_STUDY_NODES:
        problem(("paths",), "size-limit", f"the paths name {len(nodes):,} different nodes, more than the "
                f"{MAX_STUDY_NODES} a unit-level model may have",
                fix="A unit-level model of tens or hundreds of units fits a handful of constructs.")
        return tuple(out)
    cycle = _cycle(out)
    if cycle:
        problem(("paths",), "path-cycle", "the paths form a cycle: " + " -> ".join(cycle),
                fix="Unit-level paths must be recursive; remove one of the paths in the cycle.")
    elif len(instruments) == 2:
        routes = count_routes(out, lambda n: "business" if n in business else node_side(
            n, instruments["employee"], instruments["customer"]))
        if routes > MAX_ROUTES:
            problem(("paths",), "size-limit", f"the paths form {routes:,} indirect routes from employee to customer "
                    f"nodes, more than the {MAX_ROUTES:,} a study may have (each is a term of an indirect effect)",
                    fix="Remove paths between nodes of the same side, or split the model.")
    return tuple(out)


def _cycle(paths: list[StudyPath]) -> list[str]:
    """A cycle of the paths (from a regressed node to its predictors) as a list of nodes, or ``[]``.

    Iterative depth-first search with colours: each node and edge is visited once (a
    search that revisits shared ancestors is exponential in a layered model).
    """
    edges = {p.lhs: p.rhs for p in paths}
    state: dict[str, int] = {}  # 1: on the current trail, 2: finished
    for start in edges:
        if state.get(start):
            continue
        trail = [start]
        state[start] = 1
        stack = [iter(edges.get(start, ()))]
        while stack:
            parent = next(stack[-1], None)
            if parent is None:
                stack.pop()
                state[trail.pop()] = 2
                continue
            mark = state.get(parent)
            if mark == 1:
                return list(reversed([*trail[trail.index(parent):], parent]))
            if mark == 2:
                continue
            state[parent] = 1
            trail.append(parent)
            stack.append(iter(edges.get(parent, ())))
    return []


def count_routes(paths, side) -> int:
    """How many directed routes of two or more paths lead from an employee node to a customer
    node (what :meth:`Study.indirect_routes` lists), counted without listing them.

    ``side`` maps a node to ``"employee"``, ``"customer"`` or ``None``; the paths must not
    form a cycle. Dynamic programming over the nodes: linear in the size of the model.
    """
    children: dict[str, list[str]] = {}
    for p in paths:
        for r in p.rhs:
            children.setdefault(r, []).append(p.lhs)
    memo: dict[str, tuple[int, int, int]] = {}
    nodes = list(dict.fromkeys(n for p in paths for n in (p.lhs, *p.rhs)))

    def ending(node: str) -> tuple[int, int, int]:
        """Routes from ``node`` to a customer node over 0, 1, and 2 or more paths."""
        if node in memo:
            return memo[node]
        zero, one, more = (1 if side(node) in ("customer", "business") else 0), 0, 0
        for child in children.get(node, ()):
            below = ending(child)
            one += below[0]
            more += below[1] + below[2]
        memo[node] = (zero, one, more)
        return memo[node]

    return sum(ending(n)[2] for n in nodes if side(n) == "employee")


def _drivers(doc: dict, instruments: Mapping[str, Instrument], paths: tuple[StudyPath, ...],
             problem) -> tuple[tuple[str, ...], tuple[str, ...]]:
    nodes = [n for p in paths for n in (*p.rhs, p.lhs)]
    sides = {side: node_names(inst) for side, inst in instruments.items()}
    default_pred = tuple(dict.fromkeys(n for n in nodes if n in sides.get("employee", ())))
    default_out = tuple(dict.fromkeys(n for n in nodes if n in sides.get("customer", ())))
    spec = doc.get("drivers", {})
    if not isinstance(spec, dict):
        problem(("drivers",), "drivers", "'drivers' must be a mapping with 'outcomes' (and optional 'predictors')")
        return default_out, default_pred
    for key in spec:
        if key not in ("outcomes", "predictors"):
            problem(("drivers", key), "unknown-key", f"unknown key '{key}' in drivers",
                    fix=(did_you_mean(str(key), ("outcomes", "predictors"))
                         + " Use 'outcomes' and 'predictors'.").strip())
    chosen = {}
    for key, side, default in (("outcomes", "customer", default_out), ("predictors", "employee", default_pred)):
        value = spec.get(key)
        if value is None:
            chosen[key] = default
            continue
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            problem(("drivers", key), "drivers", f"drivers.{key} must be a non-empty list of names")
            chosen[key] = default
            continue
        for i, name in enumerate(value):
            if side in sides and name not in sides[side]:
                problem(("drivers", key, i), "drivers",
                        f"drivers.{key}: '{name}' is not a construct or metric of the {side} instrument",
                        fix=(did_you_mean(name, sides[side]) + f" Driver {key} are {side} constructs.").strip(),
                        item=name)
        chosen[key] = tuple(value)
    if len(chosen["predictors"]) < 2 and "predictors" in spec:
        problem(("drivers", "predictors"), "drivers",
                "drivers.predictors needs at least two employee constructs to rank")
    return chosen["outcomes"], chosen["predictors"]


_METRIC_FUNCTIONS = {"nps": "nps", "enps": "enps", "csat": "csat_top2box", "ces": "ces"}


def metric_node(name: str, instrument: Instrument) -> tuple[str, str, dict[str, Any]]:
    """``(item id, metric, options)`` of a metric node for :func:`analysis.metrics.unit_values`
    and :func:`analysis.metrics.answer_points`: ``nps``/``enps`` (NPS points), ``csat``
    (top-two-box share on the item's scale), ``ces`` (mean effort)."""
    item_id = getattr(instrument.metrics, name)
    options: dict[str, Any] = {}
    if name == "csat":
        item = instrument.item(item_id)
        options["scale"] = item.scale if item.scale is not None else np.arange(item.min, item.max + 1)
    return item_id, _METRIC_FUNCTIONS[name], options
