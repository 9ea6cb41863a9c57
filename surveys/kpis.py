"""Business KPIs as data: declarations, periods, imports, roll-up up the organisation, lagged frames.

A KPI is **declared** once in YAML (``instruments/business/kpis.yaml`` ships the usual ones)::

    kpis:
      retention:
        label: Employee retention (12 months)
        higher_is_better: true
        measure: percent
        aggregation: mean
        weight: headcount        # mean weighted by the headcount KPI; leave out for unweighted
      complaints:
        label: Customer complaints
        higher_is_better: false
        measure: count
        aggregation: sum
      first_contact_resolution:
        label: First-contact resolution
        higher_is_better: true
        measure: ratio
        aggregation: ratio           # recomputed from its components up the tree
        numerator: resolved_contacts # both declared KPIs with aggregation: sum
        denominator: contacts

Its **values** come from a CSV file with the columns ``unit, period, kpi, value`` (other
columns are ignored), one value per unit, period and KPI. A period is a quarter
(``2026Q3``) or a month (``2026-09``). :func:`import_kpis` reads the file in chunks
(bounded memory), checks every row (the unit belongs to the organisation in force during
the period, the KPI is declared, the period and the value can be read, no key twice) and
stores all rows in one transaction only if none was refused; otherwise it raises
:class:`KpiImportRefused` with every problem and its line, and stores nothing. Importing a
value again for the same unit, period and KPI replaces it (a corrected file).

Roll-up (:func:`rollup`): a unit's value is the value imported for it when there is one
(a reported figure is never overwritten), otherwise the aggregate of the units directly
below it that have a value: ``sum`` adds them; ``mean`` without weight is their plain mean
(each district counts once in its region, whatever its size); ``mean`` with ``weight: W``
is their mean weighted by KPI ``W`` (rolled up by its own rule, so a weighted mean of
districts equals the weighted mean of their stores); ``ratio`` with ``numerator: N`` and
``denominator: D`` is recomputed from its components, ``Σ N / Σ D`` over the units below
(a region's first-contact resolution is its resolved contacts over its contacts, not the
mean of its districts' rates). These are bookkeeping rules declared
by the organisation, not estimates, which is why they live here with the storage; the
statistics that use the frames are in :mod:`analysis`.

API overview
------------
``read_definitions(path) -> list[KpiDefinition]`` (every problem at once, with lines);
``declare_kpis(store, definitions) -> int``; ``definitions(store) -> dict[str, KpiDefinition]``;
``parse_period(text) -> str``, ``period_bounds(period) -> (first day, last day)``, ``quarter_of(day) -> str``,
``shift_period(period, n) -> str``;
``import_kpis(store, path, *, chunk_rows=50_000, progress=None) -> KpiImport``;
``kpi_values(store, kpi_ids, periods) -> DataFrame`` (``kpi, unit, period, value``);
``rollup(org, values, *, definition, weights=None) -> DataFrame``;
``kpi_frame(store, kpis, periods, *, lag=1, level=None) -> DataFrame``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from surveys import org_store
from surveys import store as db
from surveys.errors import TandemError, did_you_mean, suggestion_budget
from surveys.limits import RULE as SIZE_RULE
from surveys.organisation import Organisation, ProblemCollector
from surveys.problems import InstrumentError, Problem
from surveys.question_types import UNIT_ID
from surveys.schema import kpi_definitions
from surveys.schema import kpi_values as values_table
from surveys.text import clean_text
from surveys.yamlsource import parse_yaml, read_text

__all__ = [
    "AGGREGATIONS", "CHUNK_ROWS", "COLUMNS", "SHIPPED_KPIS", "KpiDefinition", "KpiError", "KpiImport",
    "KpiImportRefused", "declare_kpis", "definitions", "import_kpis", "kpi_frame", "kpi_values", "parse_period",
    "period_bounds", "quarter_of", "read_definitions", "rollup", "shift_period",
]

#: The declarations shipped with Tandem (``tandem kpi declare`` without a file).
SHIPPED_KPIS = Path(__file__).resolve().parents[1] / "instruments" / "business" / "kpis.yaml"
#: How a KPI is aggregated up the tree.
AGGREGATIONS = ("mean", "sum", "ratio")
#: The columns of a KPI values file.
COLUMNS = ("unit", "period", "kpi", "value")
#: Rows read, checked and stored per chunk.
CHUNK_ROWS = 50_000
#: Problems listed in a refusal (all are counted).
MAX_LISTED = 1_000
#: Most KPIs declared.
MAX_KPIS = 500
#: Longest cell read from a values file.
MAX_CELL = 200

KPI_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_QUARTER = re.compile(r"([12][0-9]{3})[Qq]([1-4])")
_MONTH = re.compile(r"([12][0-9]{3})-(0[1-9]|1[0-2])")
_KEYS = {"label", "higher_is_better", "measure", "aggregation", "weight", "numerator", "denominator"}
_COMPONENTS = ("numerator", "denominator")


class KpiError(TandemError):
    """A KPI request that cannot be done as asked (unknown KPI, bad period ...)."""


class KpiImportRefused(InstrumentError):
    """A KPI file (declarations or values) with problems; ``problems`` lists them; nothing was stored."""


@dataclass(frozen=True)
class KpiDefinition:
    """A declared KPI.

    Attributes
    ----------
    id
        The KPI's id in values files (``retention``).
    label
        Its display name.
    higher_is_better
        Its direction (True: more is better).
    measure
        Its unit of measure (``percent``, ``count``, ``hours``, ``EUR`` ...).
    aggregation
        ``mean``, ``sum`` or ``ratio`` (see the module docstring).
    weight
        For ``mean``: the id of the KPI that weighs it, or ``None`` for an unweighted mean.
    numerator, denominator
        For ``ratio``: the ids of the KPIs (aggregated by sum) it is recomputed from,
        ``value = numerator / denominator``.
    """

    id: str
    label: str
    higher_is_better: bool
    measure: str
    aggregation: str
    weight: str | None = None
    numerator: str | None = None
    denominator: str | None = None

    @property
    def components(self) -> tuple[str, str] | None:
        """``(numerator, denominator)`` of a ratio KPI, else ``None``."""
        if self.aggregation != "ratio" or self.numerator is None or self.denominator is None:
            return None
        return self.numerator, self.denominator


@dataclass(frozen=True)
class KpiImport:
    """What an import stored: ``rows`` read and stored, the ``kpis`` and ``periods`` they cover."""

    rows: int
    kpis: tuple[str, ...]
    periods: tuple[str, ...]


# --------------------------------------------------------------------------- declarations


def read_definitions(path: str | Path, *, known: Iterable[str] | Mapping[str, KpiDefinition] = ()
                     ) -> list[KpiDefinition]:
    """Read and check a KPI declaration file (YAML, see the module docstring).

    Parameters
    ----------
    known
        Ids of KPIs declared already (a weight or a ratio's component may name one of
        them); given as :func:`definitions` (id -> definition), their aggregation is
        checked too.

    Raises
    ------
    KpiImportRefused
        Every problem of the file, each with its line, column and rule.
    """
    source = str(path)
    document = parse_yaml(read_text(path), source=source, prescan=None)
    problems: list[Problem] = []

    def problem(at: tuple, item: str, rule: str, message: str, fix: str) -> None:
        problems.append(Problem(source, *document.locations.key(at), item, rule, message, fix))

    data = document.data
    entries = data.get("kpis") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        problem(("kpis",), "", "not-a-mapping", "the file has no 'kpis:' mapping of KPI ids",
                "Start the file with 'kpis:' and one entry per KPI (see docs/organisation.md).")
        raise KpiImportRefused(problems)
    if len(entries) > MAX_KPIS:
        problem(("kpis",), "", SIZE_RULE, f"more than {MAX_KPIS} KPIs", "Declare the KPIs you analyse.")
        raise KpiImportRefused(problems)
    found: list[KpiDefinition] = []
    ids = set(entries) | set(known)

    def aggregation_of(kpi: str) -> Any:
        if isinstance(entries.get(kpi), dict):
            return entries[kpi].get("aggregation")
        return known[kpi].aggregation if isinstance(known, Mapping) and kpi in known else None
    with suggestion_budget():
        for kpi_id, entry in entries.items():
            at = ("kpis", kpi_id)
            if not KPI_ID.fullmatch(str(kpi_id)):
                problem(at, str(kpi_id)[:64], "bad-id", f"'{str(kpi_id)[:64]}' is not a usable KPI id",
                        "Use lower-case letters, digits and '_', starting with a letter (up to 64).")
                continue
            if not isinstance(entry, dict):
                problem(at, kpi_id, "not-a-mapping", "the KPI is not a mapping of its fields",
                        "Give label, higher_is_better, measure and aggregation under the id.")
                continue
            for key in entry:
                if key not in _KEYS:
                    problem((*at, key), kpi_id, "unknown-key", f"unknown key '{str(key)[:40]}'",
                            did_you_mean(str(key), _KEYS).strip() or f"Use {', '.join(sorted(_KEYS))}.")
            for key in ("label", "higher_is_better", "measure", "aggregation"):
                if key not in entry:
                    problem(at, kpi_id, "missing-key", f"the KPI has no '{key}'", f"Add '{key}:'.")
            label = entry.get("label")
            if "label" in entry and (not isinstance(label, str) or not clean_text(label, multiline=False)
                                     or len(label) > 200):
                problem((*at, "label"), kpi_id, "bad-label", "the label must be a text of 1 to 200 characters",
                        "Write a short name, e.g. 'Employee retention'.")
            direction = entry.get("higher_is_better")
            if "higher_is_better" in entry and not isinstance(direction, bool):
                problem((*at, "higher_is_better"), kpi_id, "bad-direction", "higher_is_better must be true or false",
                        "Write 'higher_is_better: true' (more is better) or 'false' (less is better).")
            measure = entry.get("measure")
            if "measure" in entry and (not isinstance(measure, str) or not measure.strip() or len(measure) > 50):
                problem((*at, "measure"), kpi_id, "bad-measure", "the measure must be a short text",
                        "Name the unit of measure: percent, count, hours, EUR ...")
            aggregation = entry.get("aggregation")
            if "aggregation" in entry and aggregation not in AGGREGATIONS:
                problem((*at, "aggregation"), kpi_id, "bad-aggregation",
                        f"aggregation '{str(aggregation)[:30]}' is not one of {', '.join(AGGREGATIONS)}",
                        (did_you_mean(str(aggregation), AGGREGATIONS).strip()
                         or "Use 'mean' (optionally with 'weight:') or 'sum'."))
            weight = entry.get("weight")
            if weight is not None:
                if aggregation != "mean":
                    problem((*at, "weight"), kpi_id, "weight-needs-mean", "only a mean can be weighted",
                            "Remove 'weight:' or use 'aggregation: mean'.")
                elif weight == kpi_id or str(weight) not in ids:
                    problem((*at, "weight"), kpi_id, "unknown-weight",
                            f"weight '{str(weight)[:64]}' is not another declared KPI",
                            did_you_mean(str(weight), ids - {kpi_id}).strip()
                            or "Declare the weighing KPI (e.g. headcount, with aggregation: sum).")
                elif aggregation_of(str(weight)) not in (None, "sum"):
                    problem((*at, "weight"), kpi_id, "weight-not-sum",
                            f"the weight '{weight}' is not aggregated by sum",
                            f"Give '{weight}' 'aggregation: sum' (weights add up the tree).")
            _check_components(entry, kpi_id, at, ids, aggregation_of, problem)
            if not any(p.item == kpi_id for p in problems):
                found.append(KpiDefinition(kpi_id, clean_text(label, multiline=False), direction, measure.strip(),
                                           aggregation, weight, entry.get("numerator"), entry.get("denominator")))
    if problems:
        raise KpiImportRefused(problems)
    return found


def _check_components(entry: Mapping[str, Any], kpi_id: str, at: tuple, ids: set[str],
                      aggregation_of: Callable[[str], Any], problem: Callable[..., None]) -> None:
    """The rules of a ratio's ``numerator`` and ``denominator``: both given for ``aggregation:
    ratio`` and only then (``ratio-components``, ``components-need-ratio``), each another
    declared KPI (``unknown-component``) aggregated by sum (``component-not-sum``), not the same."""
    ratio = entry.get("aggregation") == "ratio"
    for key in _COMPONENTS:
        value = entry.get(key)
        if value is None:
            if ratio:
                problem(at, kpi_id, "ratio-components", f"a ratio KPI needs a '{key}'",
                        f"Add '{key}:' naming a KPI with 'aggregation: sum' (e.g. numerator: resolved_contacts, "
                        "denominator: contacts).")
            continue
        if not ratio:
            problem((*at, key), kpi_id, "components-need-ratio", f"only a ratio KPI has a '{key}'",
                    f"Remove '{key}:' or use 'aggregation: ratio'.")
        elif value == kpi_id or str(value) not in ids:
            problem((*at, key), kpi_id, "unknown-component", f"{key} '{str(value)[:64]}' is not another declared KPI",
                    did_you_mean(str(value), ids - {kpi_id}).strip()
                    or "Declare the component KPI (with aggregation: sum) in this file or before.")
        elif aggregation_of(str(value)) not in (None, "sum"):
            problem((*at, key), kpi_id, "component-not-sum", f"the {key} '{value}' is not aggregated by sum",
                    f"Give '{value}' 'aggregation: sum' (a ratio is recomputed from the sums of its components).")
    if ratio and entry.get("numerator") is not None and entry.get("numerator") == entry.get("denominator"):
        problem((*at, "denominator"), kpi_id, "unknown-component", "the numerator and the denominator are the same KPI",
                "Name two different KPIs.")


def declare_kpis(store: db.Store, declared: Sequence[KpiDefinition]) -> int:
    """Store (or replace) these KPI declarations in one transaction; return how many."""
    now = db.utcnow()
    k = kpi_definitions

    def tx(conn: Connection) -> int:
        for d in declared:
            values = {"label": d.label, "higher_is_better": d.higher_is_better, "measure": d.measure,
                      "aggregation": d.aggregation, "weight": d.weight, "numerator": d.numerator,
                      "denominator": d.denominator, "updated_at": now}
            if conn.execute(sa.select(k.c.id).where(k.c.id == d.id)).first() is None:
                conn.execute(k.insert().values(id=d.id, **values))
            else:
                conn.execute(k.update().where(k.c.id == d.id).values(**values))
        return len(declared)

    return store.run(tx)


def definitions(store: db.Store) -> dict[str, KpiDefinition]:
    """Every declared KPI by id."""
    k = kpi_definitions
    rows = store.run(lambda conn: conn.execute(sa.select(k).order_by(k.c.id)).all(), write=False)
    return {r.id: KpiDefinition(r.id, r.label, bool(r.higher_is_better), r.measure, r.aggregation, r.weight,
                                r.numerator, r.denominator)
            for r in rows}


# --------------------------------------------------------------------------- periods


def parse_period(text: Any) -> str:
    """The canonical form of a period: ``2026Q3`` (a quarter) or ``2026-09`` (a month).

    Raises
    ------
    KpiError
        For anything else.
    """
    value = str(text).strip()
    if match := _QUARTER.fullmatch(value):
        return f"{match[1]}Q{match[2]}"
    if _MONTH.fullmatch(value):
        return value
    raise KpiError(f"'{value[:20]}' is not a period", where="period",
                   fix="Write a quarter as 2026Q3 or a month as 2026-09.")


def _parts(period: str) -> tuple[int, int, int]:
    """``(year, first month, months)`` of a canonical period."""
    period = parse_period(period)
    if "Q" in period:
        year, quarter = period.split("Q")
        return int(year), 3 * int(quarter) - 2, 3
    year, month = period.split("-")
    return int(year), int(month), 1


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period."""
    year, month, months = _parts(period)
    start = dt.date(year, month, 1)
    end_month = month + months
    end = dt.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def quarter_of(day: dt.date) -> str:
    """The quarter a day belongs to (``2026Q3``): ``Q = floor((month - 1) / 3) + 1``."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def shift_period(period: str, n: int) -> str:
    """The period ``n`` steps later (earlier for negative ``n``) of the same kind: 2026Q4 + 1 = 2027Q1."""
    year, month, months = _parts(period)
    index = year * 12 + (month - 1) + int(n) * months
    new_year, new_month = divmod(index, 12)
    return f"{new_year}Q{new_month // 3 + 1}" if months == 3 else f"{new_year}-{new_month + 1:02d}"


# --------------------------------------------------------------------------- values


def _chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if not path.is_file():
        raise KpiError("no such file", where=str(path), fix="Give the path of the KPI values CSV file.")
    try:
        with pd.read_csv(path, chunksize=chunk_rows, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                         skipinitialspace=True, skip_blank_lines=False) as reader:  # lines stay the file's
            yield from reader
    except UnicodeDecodeError as exc:
        raise KpiError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})", where=str(path),
                       fix="Save the file as UTF-8 CSV and import again.") from None
    except pd.errors.EmptyDataError:
        raise KpiError("the file is empty", where=str(path),
                       fix=f"Start with the header row {','.join(COLUMNS)}.") from None
    except pd.errors.ParserError as exc:
        raise KpiError(f"the CSV file cannot be read ({str(exc).splitlines()[0]})", where=str(path),
                       fix="Check the separators and quotes of the file.") from None


class _Checker:
    """Checks rows of a values file chunk by chunk; keeps the keys seen (for duplicates) and the problems."""

    def __init__(self, store: db.Store, source: str) -> None:
        self.store = store
        self.source = source
        self.declared = definitions(store)
        self.units: dict[str, set[str]] = {}
        self.seen: dict[tuple[str, str, str], int] = {}
        self.found = ProblemCollector(source, limit=MAX_LISTED)
        self.add = self.found.add

    def units_of(self, period: str) -> set[str]:
        if period not in self.units:
            self.units[period] = org_store.units_during(self.store, *period_bounds(period))
        return self.units[period]

    def header(self, frame: pd.DataFrame) -> dict[str, str] | None:
        names = {str(c).strip().lower(): c for c in frame.columns}
        missing = [c for c in COLUMNS if c not in names]
        for column in missing:
            self.add(1, column, "missing-column", f"the header has no '{column}' column",
                     did_you_mean(column, list(names)).strip() or f"The header needs {','.join(COLUMNS)}.")
        return None if missing else {c: names[c] for c in COLUMNS}

    def check(self, frame: pd.DataFrame, first_line: int, columns: dict[str, str]) -> list[dict[str, Any]]:
        records = []
        cells = zip(*(frame[columns[c]].tolist() for c in COLUMNS), strict=True)
        for line, (unit, period_text, kpi, value_text) in enumerate(cells, start=first_line):
            unit, kpi, value_text = unit.strip()[:MAX_CELL + 1], kpi.strip()[:MAX_CELL + 1], value_text.strip()
            if not (unit or kpi or value_text or period_text.strip()):
                continue  # a blank line
            problems_before = self.found.count
            try:
                period = parse_period(period_text[:MAX_CELL])
            except KpiError:
                period = None
                self.add(line, unit, "bad-period", f"'{clean_text(period_text[:20], multiline=False)}' is not a "
                         "period", "Write a quarter as 2026Q3 or a month as 2026-09.")
            if kpi not in self.declared:
                self.add(line, unit, "unknown-kpi", f"KPI '{clean_text(kpi[:64], multiline=False)}' is not declared",
                         did_you_mean(kpi, self.declared).strip()
                         or "Declare it first ('tandem kpi declare kpis.yaml').")
            if not UNIT_ID.fullmatch(unit):
                self.add(line, "", "bad-unit-id", f"'{clean_text(unit[:70], multiline=False)}' is not a unit id",
                         "Use the unit ids of the organisation file.")
            elif period is not None and unit not in self.units_of(period):
                known = self.units_of(period)
                self.add(line, unit, "unknown-unit", f"unit '{unit}' is not in the organisation in force during "
                         f"{period}", did_you_mean(unit, known).strip() if known else
                         f"Import the organisation in force then first ('tandem org import FILE --as-of "
                         f"{period_bounds(period)[0]}').")
            value = _number(value_text)
            if value is None:
                self.add(line, unit, "bad-value", f"'{clean_text(value_text[:30], multiline=False)}' is not a number",
                         "Write the value as a plain number with a decimal point (12.5), no unit or thousands "
                         "separator.")
            if self.found.count > problems_before:
                continue
            key = (kpi, unit, period)
            if key in self.seen:
                self.add(line, unit, "duplicate", f"{kpi} of unit '{unit}' for {period} appears again (first on "
                         f"line {self.seen[key]})", "Keep one value per unit, period and KPI.")
                continue
            self.seen[key] = line
            records.append({"kpi_id": kpi, "unit_id": unit, "period": period, "value": value})
        return records


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def _number(text: str) -> float | None:
    """A plain finite decimal number (``12.5``, ``-3``, ``1e6``); no separators, no other scripts' digits."""
    if len(text) > 50 or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def import_kpis(store: db.Store, path: str | Path, *, chunk_rows: int = CHUNK_ROWS,
                progress: Callable[[str, int], None] | None = None) -> KpiImport:
    """Check every row of a KPI values file, then store all of them or none.

    Parameters
    ----------
    path
        A CSV file with the columns ``unit, period, kpi, value`` (UTF-8, a header row).
    chunk_rows
        Rows per chunk (memory bound: one chunk plus the keys seen, for duplicates).
    progress
        Called as ``progress(stage, rows_done)`` with stage ``"checking"`` or ``"storing"``.

    Raises
    ------
    KpiImportRefused
        Every problem (line = the file's line, header = 1) and rule: ``missing-column``,
        ``bad-period``, ``unknown-kpi``, ``bad-unit-id``, ``unknown-unit``, ``bad-value``,
        ``duplicate``. Nothing was stored.
    KpiError
        The file cannot be read at all.
    """
    path = Path(path)
    step = progress or (lambda _stage, _rows: None)
    checker = _Checker(store, str(path))
    rows = 0
    columns = None
    with suggestion_budget():
        for chunk in _chunks(path, chunk_rows):
            columns = columns or checker.header(chunk)
            if columns is None:
                break
            checker.check(chunk, rows + 2, columns)
            rows += len(chunk)
            step("checking", rows)
    checker.found.raise_if_any(KpiImportRefused)
    if rows == 0:
        raise KpiError("the file has no rows", where=str(path), fix="Add one row per unit, period and KPI.")
    kpis, periods = {k for k, _, _ in checker.seen}, {p for _, _, p in checker.seen}
    checker.seen.clear()
    now = db.utcnow()
    done = 0
    with store.write() as conn:
        for chunk in _chunks(path, chunk_rows):
            records = [{**r, "imported_at": now} for r in checker.check(chunk, done + 2, columns)]
            _upsert(conn, store.dialect, records)
            done += len(records)
            checker.seen.clear()
            step("storing", done)
    return KpiImport(done, tuple(sorted(kpis)), tuple(sorted(periods)))


def _upsert(conn: Connection, dialect: str, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(values_table)
    conn.execute(statement.on_conflict_do_update(  # one statement, executed for many rows
        index_elements=["kpi_id", "unit_id", "period"],
        set_={"value": statement.excluded.value, "imported_at": statement.excluded.imported_at}), records)


def kpi_values(store: db.Store, kpi_ids: Iterable[str], periods: Iterable[str]) -> pd.DataFrame:
    """Stored values (``kpi, unit, period, value``) of these KPIs and periods, as imported (no roll-up)."""
    kpi_ids, periods = list(kpi_ids), [parse_period(p) for p in periods]
    v = values_table
    query = (sa.select(v.c.kpi_id, v.c.unit_id, v.c.period, v.c.value)
             .where(v.c.kpi_id.in_(kpi_ids), v.c.period.in_(periods)).order_by(v.c.kpi_id, v.c.period, v.c.unit_id))
    rows = store.run(lambda conn: conn.execute(query).all(), write=False)
    return pd.DataFrame([tuple(r) for r in rows], columns=["kpi", "unit", "period", "value"])


# --------------------------------------------------------------------------- roll-up and frames


def rollup(org: Organisation, values: Mapping[str, float], *, definition: KpiDefinition,
           weights: Mapping[str, float] | None = None,
           components: tuple[Mapping[str, float], Mapping[str, float]] | None = None) -> pd.DataFrame:
    """Every unit's value of one KPI, rolled up the tree by the KPI's declared rule.

    Parameters
    ----------
    org
        The organisation the values belong to.
    values
        Unit id -> imported value (units not in ``org`` and non-finite values are ignored).
    definition
        The KPI (its ``aggregation`` and ``weight``).
    weights
        For a weighted mean: unit id -> the weight KPI's value, **already rolled up** (a unit
        whose weight is missing or not positive does not count in its parent's mean).
    components
        For a ratio: ``(numerator, denominator)``, each unit id -> the component KPI's
        **imported** value (not rolled up: the pairs are added here).

    Returns
    -------
    DataFrame
        Index ``unit`` (tree order), columns ``level``, ``value`` (NaN where no unit below has
        a value), ``source`` (``"reported"``, ``"rolled up"`` or ``""``) and ``n`` (how many
        reported values the figure rests on).

    Notes
    -----
    For unit u with children C(u) that have a value x_c: sum: ``x_u = Σ x_c``; mean:
    ``x_u = (1/|C|) Σ x_c``; weighted mean: ``x_u = Σ w_c x_c / Σ w_c`` over the children
    with ``w_c > 0``. A value imported for u itself wins over its roll-up.

    Ratio (recomputed from components): each unit carries a pair ``(N_u, D_u)``, its own
    imported numerator and denominator when it has both, else ``N_u = Σ N_c`` and
    ``D_u = Σ D_c`` over its children with a pair; ``x_u = N_u / D_u`` (when ``D_u > 0``), so
    the value of a region is its resolved contacts over its contacts, not the mean of its
    stores' rates. A unit's imported ratio is kept as its own value, but its parent adds only
    pairs: a ratio without components counts nowhere above it. ``n`` counts the pairs a
    value rests on.
    """
    if definition.aggregation not in AGGREGATIONS:
        raise KpiError(f"unknown aggregation '{definition.aggregation}'", where=f"KPI '{definition.id}'",
                       fix="Declare it with aggregation 'mean' or 'sum'.")
    weighted = definition.aggregation == "mean" and definition.weight is not None
    if weighted and weights is None:
        raise KpiError(f"the weighted mean needs the values of '{definition.weight}'",
                       where=f"KPI '{definition.id}'", fix="Pass the rolled-up weights (kpi_frame does).")
    order = org.subtree(org.root)
    if definition.aggregation == "ratio":
        if components is None or definition.components is None:
            raise KpiError("the ratio needs the values of its numerator and denominator",
                           where=f"KPI '{definition.id}'",
                           fix="Declare 'numerator:' and 'denominator:' and pass their imported values (kpi_frame "
                               "does).")
        return _ratio_rollup(org, order, values, components)
    value: dict[str, float] = {}
    count: dict[str, int] = {}
    source: dict[str, str] = {}
    for unit in reversed(order):  # children before parents
        own = values.get(unit)
        if own is not None and math.isfinite(own):
            value[unit], count[unit], source[unit] = float(own), 1, "reported"
            continue
        kids = [c for c in org.children(unit) if c in value]
        if weighted:
            kids = [c for c in kids if _positive(weights.get(c))]  # type: ignore[union-attr]
        if not kids:
            continue
        xs = [value[c] for c in kids]
        if definition.aggregation == "sum":
            value[unit] = math.fsum(xs)
        elif weighted:
            ws = [float(weights[c]) for c in kids]  # type: ignore[index]
            value[unit] = math.fsum(w * x for w, x in zip(ws, xs, strict=True)) / math.fsum(ws)
        else:
            value[unit] = math.fsum(xs) / len(xs)
        count[unit], source[unit] = sum(count[c] for c in kids), "rolled up"
    frame = pd.DataFrame({
        "level": [org.level_of(u) for u in order],
        "value": [value.get(u, math.nan) for u in order],
        "source": [source.get(u, "") for u in order],
        "n": [count.get(u, 0) for u in order],
    }, index=pd.Index(order, name="unit"))
    return frame


def _ratio_rollup(org: Organisation, order: Sequence[str], values: Mapping[str, float],
                  components: tuple[Mapping[str, float], Mapping[str, float]]) -> pd.DataFrame:
    """:func:`rollup` of a ratio KPI: ``x_u = N_u / D_u`` with the component pairs added up the tree."""
    numerators, denominators = components
    pair: dict[str, tuple[float, float]] = {}
    count: dict[str, int] = {}
    value: dict[str, float] = {}
    source: dict[str, str] = {}
    for unit in reversed(order):  # children before parents
        n, d = numerators.get(unit), denominators.get(unit)
        own_pair = n is not None and d is not None and math.isfinite(n) and math.isfinite(d)
        if own_pair:
            pair[unit], count[unit] = (float(n), float(d)), 1  # type: ignore[arg-type]
        else:
            kids = [c for c in org.children(unit) if c in pair]
            if kids:
                pair[unit] = (math.fsum(pair[c][0] for c in kids), math.fsum(pair[c][1] for c in kids))
                count[unit] = sum(count[c] for c in kids)
        own = values.get(unit)
        if own is not None and math.isfinite(own):
            value[unit], source[unit] = float(own), "reported"
            count[unit] = max(count.get(unit, 0), 1)
        elif unit in pair and pair[unit][1] > 0:
            value[unit] = pair[unit][0] / pair[unit][1]
            source[unit] = "reported" if own_pair else "rolled up"  # from its own components, or those below
    return pd.DataFrame({
        "level": [org.level_of(u) for u in order],
        "value": [value.get(u, math.nan) for u in order],
        "source": [source.get(u, "") for u in order],
        "n": [count.get(u, 0) if u in value else 0 for u in order],
    }, index=pd.Index(order, name="unit"))


def _positive(weight: Any) -> bool:
    return weight is not None and math.isfinite(weight) and weight > 0


def kpi_frame(store: db.Store, kpis: Sequence[str], periods: Sequence[str], *, lag: int = 1,
              level: str | None = None) -> pd.DataFrame:
    """Unit × KPI for the period ``lag`` steps after each given period (e.g. the quarter after a wave).

    Parameters
    ----------
    kpis
        Declared KPI ids (a weighted mean's weight KPI and a ratio's components are read as well).
    periods
        The periods of the survey waves (``2026Q2``, ``2026-06``).
    lag
        Steps (quarters or months, like each period) between a wave and its KPIs; 0 = same period.
    level
        Only units of this level (default: every unit of the tree).

    Returns
    -------
    DataFrame
        One row per period and unit of the organisation in force at the end of the KPI period:
        ``period`` (the wave's), ``kpi_period``, ``unit``, ``level``, then one column per KPI
        (its rolled-up value, NaN where none).
    """
    declared = definitions(store)
    unknown = [k for k in kpis if k not in declared]
    if unknown:
        raise KpiError(f"KPI '{unknown[0]}' is not declared", where="kpi_frame",
                       fix=did_you_mean(unknown[0], declared).strip() or "Declare it with 'tandem kpi declare'.")
    needed = list(dict.fromkeys([*kpis, *(declared[k].weight for k in kpis if declared[k].weight),
                                 *(c for k in kpis for c in (declared[k].components or ()))]))
    targets = {parse_period(p): shift_period(p, lag) for p in periods}
    stored = kpi_values(store, needed, set(targets.values()))
    frames = []
    for period, target in targets.items():
        org = org_store.org_at(store, period_bounds(target)[1])
        if org is None:
            raise KpiError(f"no organisation is in force in {target}", where="kpi_frame",
                           fix=f"Import one ('tandem org import FILE --as-of {period_bounds(target)[0]}').")
        here = stored[stored["period"] == target]
        by_kpi = {k: dict(zip(g["unit"], g["value"], strict=True)) for k, g in here.groupby("kpi")}
        rolled: dict[str, pd.Series] = {}
        for kpi in sorted(needed, key=lambda k: declared[k].weight is not None):  # weights first
            d = declared[kpi]
            weights = rolled[d.weight].to_dict() if d.weight else None
            parts = tuple(by_kpi.get(c, {}) for c in d.components) if d.components else None
            rolled[kpi] = rollup(org, by_kpi.get(kpi, {}), definition=d, weights=weights,
                                 components=parts)["value"]  # type: ignore[arg-type]
        units = list(org.at_level(level)) if level else list(org.subtree(org.root))
        frame = pd.DataFrame({"period": period, "kpi_period": target, "unit": units,
                              "level": [org.level_of(u) for u in units]})
        for kpi in kpis:
            frame[kpi] = rolled[kpi].reindex(units).to_numpy()
        frames.append(frame)
    columns = ["period", "kpi_period", "unit", "level", *kpis]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
