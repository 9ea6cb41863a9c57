"""Seeded simulation of survey responses and of the service-profit chain.

Two public functions:

* :func:`simulate_responses` fills any instrument with plausible answers: construct
  items driven by correlated latent scores nested in units with a chosen ICC,
  demographics and choice questions sampled, a few missing answers and short
  neutral comments. It is what ``tandem demo`` and the tests use when they need
  "some data" for an instrument.
* :func:`simulate_service_profit_chain` generates linked employee and customer
  responses whose unit means follow a known standardized path model (manager
  support, training, tools -> job satisfaction, engagement -> service climate ->
  service quality as customers see it -> CSAT -> loyalty and NPS). The true paths
  are returned beside the data, so the linkage analysis can be checked for
  recovery and power.

The generating model (unit and respondent latent scores from a standardized path model,
items cut into their scale's categories) is :mod:`analysis.answer_model`.
Reverse-keyed items are generated in the keyed direction and then reflected
(``min + max - x``), so ``analysis.scoring`` recovers the keyed values.

Everything is vectorised with NumPy; 100,000 employee rows take well under a second
per construct block.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from analysis.answer_model import (
    PathModel,
    SimulationError,
    check_chain_settings,
    check_fraction,
    item_answers,
    item_values,
    kpi_values,
    node_items,
    node_sides,
    shift_for_mean,
    unit_sizes,
)
from surveys.errors import did_you_mean
from surveys.question_types import kind_of

__all__ = [
    "BUSINESS_CHAIN",
    "SERVICE_PROFIT_CHAIN",
    "ChainTruth",
    "SimulatedChain",
    "SimulationError",
    "simulate_responses",
    "simulate_service_profit_chain",
]

#: The demo's known unit-level model: ``{outcome: {predictor: standardized beta}}``.
#: Nodes are construct ids of the employee or customer instrument, or the metric
#: names ``csat`` / ``nps`` / ``ces`` / ``enps`` (the instrument's metric items).
#: ``manager_support`` is built to be the strongest employee lever of every
#: customer outcome, ``tools_resources`` the weakest.
SERVICE_PROFIT_CHAIN: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "job_satisfaction": MappingProxyType(
            {"manager_support": 0.45, "training_development": 0.25, "tools_resources": 0.15}),
        "engagement": MappingProxyType(
            {"manager_support": 0.40, "training_development": 0.30, "tools_resources": 0.10}),
        "service_climate": MappingProxyType({"job_satisfaction": 0.35, "engagement": 0.35}),
        "service_quality": MappingProxyType({"service_climate": 0.55}),
        "csat": MappingProxyType({"service_quality": 0.65}),
        "loyalty": MappingProxyType({"csat": 0.60}),
        "nps": MappingProxyType({"csat": 0.55}),
    }
)

#: The demo's known business link: ``{KPI: {predictor: standardized beta}}`` at unit level
#: (customer retention follows loyalty, sales growth CSAT, first-contact resolution the
#: service climate), added to :data:`SERVICE_PROFIT_CHAIN` when a study names KPIs.
BUSINESS_CHAIN: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "retention": MappingProxyType({"loyalty": 0.45}),
        "sales_growth": MappingProxyType({"csat": 0.40}),
        "first_contact_resolution": MappingProxyType({"service_climate": 0.40}),
    }
)

#: Simulated open answers, by audience (the demo's comments read like the people who wrote them).
_COMMENTS = {
    "employee": (
        "Nothing further to add.",
        "More training on the new system would help.",
        "Communication between shifts could improve.",
        "The tools work most of the time.",
        "The team was busy but managed.",
        "I would like clearer goals for the quarter.",
        "My manager makes time when I ask.",
        "Rotas are published too late.",
        "We need more people at the weekend.",
        "Recognition for good work is rare.",
        "The new till system keeps freezing.",
        "I like my colleagues; the workload is the problem.",
        "Career steps here are unclear to me.",
        "Onboarding for new staff was good.",
    ),
    "customer": (
        "The visit was as expected.",
        "Nothing further to add.",
        "Opening hours could be longer.",
        "The staff answered my questions.",
        "I had to wait a little at the counter.",
        "Information on the website was clear.",
        "The process took about as long as usual.",
        "I would like more updates by email.",
        "The location is easy to reach.",
        "Some items were out of stock.",
        "The staff were friendly and quick.",
        "Parking was difficult.",
        "My order was ready on time.",
        "The store was clean and tidy.",
    ),
}

_EPOCH = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ChainTruth:
    """The known truth behind a :class:`SimulatedChain`.

    Attributes
    ----------
    paths
        One row per unit-level path: ``lhs, op ("~"), rhs, std_all`` (the true
        standardized coefficient of the unit latent means).
    total_effects
        ``lhs, rhs, effect``: the true standardized total effect of every node on
        every later node (sum over paths of the products of coefficients).
    r2
        True R² of every endogenous node at unit level.
    driver_order
        For every customer outcome, the employee constructs ordered from the
        largest to the smallest true total effect (those with no effect omitted).
    icc
        The ICC(1) used on each side: ``{"employee": ..., "customer": ...}``.
    """

    paths: pd.DataFrame
    total_effects: pd.DataFrame
    r2: pd.Series
    driver_order: Mapping[str, tuple[str, ...]]
    icc: Mapping[str, float]

    def to_frame(self) -> pd.DataFrame:
        """The true paths (``lhs, op, rhs, std_all``)."""
        return self.paths.copy()


@dataclass(frozen=True)
class SimulatedChain:
    """Linked employee and customer responses from a known service-profit chain.

    Attributes
    ----------
    employees, customers
        Wide response frames (one row per response) following the wide-frame
        contract of ``surveys.exports``.
    units
        One row per unit: ``unit, n_employees, n_customers`` and the true latent
        unit mean of every node of the chain.
    truth
        :class:`ChainTruth`.
    kpis
        With business KPIs in the paths: one row per unit, ``unit`` and each KPI's value
        (:func:`analysis.answer_model.kpi_values` of its latent unit level), else None.
    """

    employees: pd.DataFrame
    customers: pd.DataFrame
    units: pd.DataFrame
    truth: ChainTruth = field(repr=False)
    kpis: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The unit table."""
        return self.units.copy()


# --------------------------------------------------------------------------- frames


def _unit_ids(instrument: Any, n_units: int) -> list[str]:
    listed = [u.id for u in getattr(instrument, "units", ())]
    return listed[:n_units] + [f"unit_{j + 1:04d}" for j in range(len(listed), n_units)]


def _meta(instrument: Any, units: np.ndarray, rng: np.random.Generator, campaign: str | None,
          wave: str, start: dt.datetime | None) -> pd.DataFrame:
    n = units.size
    campaign = campaign or f"sim-{instrument.id}"
    langs = list(instrument.languages)
    p = np.full(len(langs), 0.3 / max(len(langs) - 1, 1))
    p[0] = 0.7 if len(langs) > 1 else 1.0
    seconds = np.sort(rng.integers(0, 14 * 24 * 3600, size=n))
    submitted = pd.Timestamp(start or _EPOCH) + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame(
        {
            "response_id": [f"{campaign}-{i + 1:07d}" for i in range(n)],
            "campaign": campaign,
            "wave": str(wave),
            "unit": units,
            "language": np.asarray(langs, dtype=object)[rng.choice(len(langs), size=n, p=p)],
            "submitted_at": submitted,
        }
    )


def _choice_answers(question: Any, n: int, rng: np.random.Generator, instrument: Any = None) -> dict[str, Any]:
    values = np.asarray([o.value for o in question.options], dtype=object)
    weights = rng.dirichlet(np.full(values.size, 3.0))
    return {question.id: values[rng.choice(values.size, size=n, p=weights)]}


def _multi_answers(question: Any, n: int, rng: np.random.Generator, instrument: Any = None) -> dict[str, Any]:
    k = len(question.options)
    lo = max(int(getattr(question, "min_selected", 0) or 0), 1)
    hi = min(int(getattr(question, "max_selected", None) or k), k)
    count = rng.integers(lo, max(hi, lo) + 1, size=n)
    order = np.argsort(rng.random((n, k)), axis=1)
    chosen = np.zeros((n, k), dtype=bool)
    np.put_along_axis(chosen, order, np.arange(k)[None, :] < count[:, None], axis=1)
    return {f"{question.id}__{o.value}": chosen[:, j].astype(float) for j, o in enumerate(question.options)}


def _ranking_answers(question: Any, n: int, rng: np.random.Generator, instrument: Any = None) -> dict[str, Any]:
    k = len(question.options)
    ranks = np.argsort(np.argsort(rng.random((n, k)), axis=1), axis=1) + 1
    return {f"{question.id}__{o.value}": ranks[:, j].astype(float) for j, o in enumerate(question.options)}


def _text_answers(question: Any, n: int, rng: np.random.Generator, instrument: Any = None) -> dict[str, Any]:
    max_length = getattr(question, "max_length", None) or 500
    audience = getattr(instrument, "audience", "customer")
    bank = np.asarray([c[:max_length] for c in _COMMENTS.get(audience, _COMMENTS["customer"])], dtype=object)
    answer = bank[rng.integers(0, bank.size, size=n)]
    answer[rng.random(n) > 0.35] = None
    return {question.id: answer}


def _date_answers(question: Any, n: int, rng: np.random.Generator, instrument: Any = None) -> dict[str, Any]:
    lo = getattr(question, "min", None) or dt.date(2025, 1, 1)
    hi = getattr(question, "max", None) or dt.date(2025, 12, 31)
    days = rng.integers(0, max((hi - lo).days, 0) + 1, size=n)
    return {question.id: np.asarray([(lo + dt.timedelta(days=int(d))).isoformat() for d in days], dtype=object)}


def _no_answers(question: Any, n: int, rng: np.random.Generator, instrument: Any = None) -> dict[str, Any]:
    return {}


#: Question type -> how its answers are simulated (``(question, n, rng, instrument)`` -> columns);
#: ``None`` for the numeric item types,
#: whose answers come from the latent model (:func:`answers`). Every type of
#: :data:`surveys.question_types.REGISTRY` has an entry (a test checks it).
SIMULATORS: Mapping[str, Any] = {
    "likert": None, "matrix": None, "rating": None, "number": None,
    "single_choice": _choice_answers, "dropdown": _choice_answers, "multi_choice": _multi_answers,
    "ranking": _ranking_answers, "text": _text_answers, "date": _date_answers, "unit": _no_answers,
}


def _apply_show_if(frame: pd.DataFrame, instrument: Any, columns_of: Mapping[str, list[str]]) -> None:
    """Blank the answers to questions whose ``show_if`` is false for that respondent."""
    for question in instrument.questions:
        condition = getattr(question, "show_if", None)
        if condition is None or not columns_of.get(question.id):
            continue
        names = sorted(n for n in condition.names if n in frame.columns)
        keys = frame[names].astype(object).where(frame[names].notna(), None) if names else None
        if keys is None:
            shown = np.full(len(frame), bool(condition.evaluate({})))
        else:
            combos = keys.drop_duplicates()
            verdict = {tuple(row): bool(condition.evaluate(dict(zip(names, row, strict=True))))
                       for row in combos.itertuples(index=False, name=None)}
            shown = np.fromiter((verdict[tuple(r)] for r in keys.itertuples(index=False, name=None)),
                                dtype=bool, count=len(frame))
        frame.loc[~shown, columns_of[question.id]] = np.nan


def _fill(instrument: Any, meta: pd.DataFrame, latent: Mapping[str, np.ndarray], rng: np.random.Generator,
          *, loading: float, missing_rate: float, shifts: Mapping[str, float], comments: bool = True) -> pd.DataFrame:
    """Build the wide frame: meta columns, then every question's columns in instrument order."""
    n = len(meta)
    owner = node_items(instrument, list(latent))
    items_by_question: dict[str, list[Any]] = {}
    for item in instrument.items:
        items_by_question.setdefault(item.question_id, []).append(item)
    columns: dict[str, Any] = {}
    columns_of: dict[str, list[str]] = {}
    unit_question = getattr(instrument, "unit_question", None)
    for question in instrument.questions:
        kind = kind_of(question)
        if question.id == unit_question or not kind.columns(question):
            continue
        if question.id in items_by_question:
            cols = {}
            for item in items_by_question[question.id]:
                values = item_values(item)
                node = owner.get(item.id, item.id)
                if kind.measure == "scale" and node == item.id:  # a free number, not a scale item
                    draws = rng.uniform(values.min(), values.max(), size=n)
                    cols[item.id] = np.round(draws) if getattr(question, "integer", True) else np.round(draws, 1)
                    continue
                eta = latent[node] if node in latent else rng.standard_normal(n)
                cols[item.id] = item_answers(eta, values, loading, rng, reverse=bool(item.reverse),
                                         shift=shifts.get(node, 0.0) if values.size > 1 else 0.0)
        elif kind.free_text and not comments:
            cols = {}
        else:
            cols = (SIMULATORS[question.type] or _no_answers)(question, n, rng, instrument)
        if cols and not getattr(question, "required", False) and not kind.free_text:
            skip = rng.random(n) < missing_rate
            for name in cols:
                text = np.asarray(cols[name]).dtype == object
                col = np.asarray(cols[name], dtype=object if text else float)
                col[skip] = None if col.dtype == object else np.nan
                cols[name] = col
        columns.update(cols)
        columns_of[question.id] = list(cols)
    frame = pd.concat([meta, pd.DataFrame(columns, index=meta.index)], axis=1)
    _apply_show_if(frame, instrument, columns_of)
    return frame


def _construct_shifts(instrument: Any, construct_means: Mapping[str, float] | None) -> dict[str, float]:
    shifts: dict[str, float] = {}
    ids = [c.id for c in instrument.constructs]
    for cid, target in (construct_means or {}).items():
        if cid not in ids:
            raise SimulationError(
                f"construct_means names '{cid}', which is not a construct of instrument '{instrument.id}'."
                + did_you_mean(cid, ids),
                fix="Use construct ids of the instrument.",
            )
        first = instrument.item(instrument.construct(cid).items[0])
        shifts[cid] = shift_for_mean(item_values(first), float(target), where=f"construct '{cid}'")
    return shifts


def simulate_responses(
    instrument: Any,
    *,
    n_units: int,
    respondents_per_unit: int | tuple[int, int],
    seed: int | None,
    construct_means: Mapping[str, float] | None = None,
    icc: float = 0.15,
    loading: float = 0.75,
    construct_correlation: float = 0.4,
    missing_rate: float = 0.03,
    campaign: str | None = None,
    wave: str = "1",
    start: dt.datetime | None = None,
) -> pd.DataFrame:
    """Simulate a wide response frame for any instrument.

    Parameters
    ----------
    instrument
        A loaded :class:`surveys.instrument.Instrument`.
    n_units
        Number of units; the instrument's listed units first, then ``unit_0041`` ...
    respondents_per_unit
        Respondents per unit: an integer, or ``(low, high)`` for sizes drawn uniformly.
    seed
        Seed of the NumPy generator; the same seed gives the same frame.
    construct_means
        Expected keyed item mean per construct id on its items' scale (for example
        ``{"engagement": 3.9}``); others keep the default favourable skew.
    icc
        ICC(1) of every construct's latent score (share of variance between units).
    loading
        Standardized loading of every item on its construct (0 < loading < 1).
    construct_correlation
        Correlation of the latent construct scores at both levels (one general factor).
    missing_rate
        Share of answers left out at random for questions that are not required.
    campaign, wave, start
        Values of the ``campaign`` and ``wave`` columns and the start of fielding.

    Returns
    -------
    pandas.DataFrame
        One row per response: ``response_id, campaign, wave, unit, language,
        submitted_at`` and the question columns of the wide-frame contract. Item
        answers are raw (reverse-keyed items reflected, not yet re-keyed).

    Notes
    -----
    Latent construct score of respondent *i* in unit *u*:
    ``eta = sqrt(icc) * (sqrt(r) g_u + sqrt(1 - r) u_c) + sqrt(1 - icc) * (sqrt(r) g_i + sqrt(1 - r) e_ic)``
    with ``r = construct_correlation``; answers cut ``loading * eta + sqrt(1 - loading^2) e``
    at fixed thresholds (see the module docstring).
    """
    check_fraction("icc", icc, closed=True, high=0.99)
    check_fraction("loading", loading)
    check_fraction("construct_correlation", construct_correlation, closed=True, high=0.99)
    check_fraction("missing_rate", missing_rate, closed=True, high=0.99)
    if n_units < 1:
        raise SimulationError(f"n_units must be at least 1, got {n_units}", fix="Pass n_units=40 for example.")
    rng = np.random.default_rng(seed)
    sizes = unit_sizes(respondents_per_unit, n_units, rng, "respondents_per_unit")
    unit_index = np.repeat(np.arange(n_units), sizes)
    units = np.asarray(_unit_ids(instrument, n_units), dtype=object)[unit_index]
    n = unit_index.size
    ids = [c.id for c in instrument.constructs]
    r = construct_correlation

    def level(rows: int) -> np.ndarray:
        general = rng.standard_normal((rows, 1))
        return np.sqrt(r) * general + np.sqrt(1 - r) * rng.standard_normal((rows, len(ids)))

    eta = np.sqrt(icc) * level(n_units)[unit_index] + np.sqrt(1 - icc) * level(n)
    latent = {cid: eta[:, j] for j, cid in enumerate(ids)}
    meta = _meta(instrument, units, rng, campaign, wave, start)
    return _fill(instrument, meta, latent, rng, loading=loading, missing_rate=missing_rate,
                 shifts=_construct_shifts(instrument, construct_means))


# --------------------------------------------------------------------------- chain


def simulate_service_profit_chain(
    employee_instrument: Any,
    customer_instrument: Any,
    *,
    n_units: int = 40,
    employees_per_unit: int | tuple[int, int] = (8, 25),
    customers_per_unit: int | tuple[int, int] = (20, 60),
    paths: Mapping[str, Mapping[str, float]] | None = None,
    icc_employee: float = 0.2,
    icc_customer: float = 0.1,
    loading: float = 0.75,
    exogenous_correlation: float = 0.3,
    missing_rate: float = 0.03,
    seed: int | None = None,
    wave: str = "1",
    comments: bool = True,
    business: Sequence[str] = (),
) -> SimulatedChain:
    """Simulate linked employee and customer responses from a known unit-level path model.

    Parameters
    ----------
    employee_instrument, customer_instrument
        Loaded instruments (``audience`` employee and customer).
    n_units
        Number of shared units.
    employees_per_unit, customers_per_unit
        Respondents per unit on each side: an integer or a ``(low, high)`` range.
    paths
        ``{outcome: {predictor: standardized beta}}`` over construct ids of either
        instrument or the metric names ``csat``/``nps``/``ces``/``enps``; defaults to
        :data:`SERVICE_PROFIT_CHAIN`, the shipped study's hypothesised paths.
    icc_employee, icc_customer
        ICC(1) of every latent score on each side.
    loading
        Standardized loading of every item on its construct.
    exogenous_correlation
        Correlation between the exogenous drivers of the chain (at both levels).
    missing_rate, wave, comments
        As in :func:`simulate_responses`; ``comments=False`` skips text answers.
    business
        Path nodes that are business KPIs (unit-level figures, no respondents): their
        values per unit are returned in ``kpis``.
    seed
        Seed; the same seed gives the same data.

    Returns
    -------
    SimulatedChain
        ``employees``, ``customers`` (wide frames), ``units`` and ``truth``.

    Notes
    -----
    Unit latent means ``u`` follow the recursive model ``u = B u + zeta`` with
    residual variances chosen so that every node has variance 1 (so ``B`` holds
    standardized coefficients). Respondent latent scores are
    ``eta_i = sqrt(icc) u_unit(i) + sqrt(1 - icc) w_i`` where ``w_i`` follows the same
    model within units. Constructs of the instruments that are not in the paths get
    independent latent scores with the same ICC. Observed unit means estimate ``u``
    with reliability ICC(2) = k·ICC / (1 + (k - 1)·ICC) (Bliese, 2000), so recovery
    of ``B`` needs units large enough for ICC(2) near 1.
    """
    check_chain_settings(icc_employee=icc_employee, icc_customer=icc_customer, loading=loading,
                         exogenous_correlation=exogenous_correlation, missing_rate=missing_rate)
    if n_units < 2:
        raise SimulationError(f"n_units must be at least 2, got {n_units}", fix="Pass n_units=40 for example.")
    paths = SERVICE_PROFIT_CHAIN if paths is None else paths
    chain = {str(n) for lhs, preds in paths.items() for n in (lhs, *preds)}
    sides = node_sides(employee_instrument, customer_instrument, sorted(chain), business)
    extra = [c.id for inst in (employee_instrument, customer_instrument) for c in inst.constructs if c.id not in chain]
    kpi_nodes = {n for n, side in sides.items() if side == "business"}
    survey_paths = {lhs: preds for lhs, preds in paths.items() if lhs not in kpi_nodes}
    if any(r in kpi_nodes for preds in survey_paths.values() for r in preds):
        raise SimulationError("a survey node is regressed on a business KPI",
                              fix="KPIs are the chain's last link: regress KPIs on survey nodes, not the reverse.")
    model = PathModel.build(survey_paths, extra, exogenous_correlation)
    chain_nodes = frozenset(chain)
    rng = np.random.default_rng(seed)
    unit_ids = np.asarray(_unit_ids(employee_instrument, n_units), dtype=object)
    u = model.draw(n_units, rng, chain_nodes - kpi_nodes)

    frames = {}
    counts = {}
    for side, inst, spec, icc in (
        ("employee", employee_instrument, employees_per_unit, icc_employee),
        ("customer", customer_instrument, customers_per_unit, icc_customer),
    ):
        sizes = unit_sizes(spec, n_units, rng, f"{side}s_per_unit")
        counts[side] = sizes
        index = np.repeat(np.arange(n_units), sizes)
        w = model.draw(index.size, rng, chain_nodes)
        eta = np.sqrt(icc) * u[index] + np.sqrt(1 - icc) * w
        own = {c.id for c in inst.constructs} | {n for n, s in sides.items() if s == side}
        latent = {node: eta[:, j] for j, node in enumerate(model.nodes) if node in own}
        meta = _meta(inst, unit_ids[index], rng, f"sim-{inst.id}", wave, None)
        frames[side] = _fill(inst, meta, latent, rng, loading=loading, missing_rate=missing_rate,
                             shifts={}, comments=comments)

    units = pd.DataFrame({"unit": unit_ids, "n_employees": counts["employee"], "n_customers": counts["customer"]})
    for j, node in enumerate(model.nodes):
        if node in chain_nodes:
            units[node] = u[:, j]
    kpis = None
    if kpi_nodes:  # after the respondents, on their own stream: the survey data do not change with KPIs
        model = PathModel.build(paths, extra, exogenous_correlation)
        u = _business_levels(model, units, kpi_nodes, chain_nodes, np.random.default_rng([seed or 0, 7]))
        kpis = pd.DataFrame({"unit": unit_ids, **{node: kpi_values(node, u[node]) for node in model.nodes
                                                  if node in kpi_nodes}})
        for node in model.nodes:
            if node in kpi_nodes:
                units[node] = u[node]
    return SimulatedChain(frames["employee"], frames["customer"], units,
                          _truth(model, sides, chain_nodes, icc_employee, icc_customer), kpis)


def _business_levels(model: PathModel, units: pd.DataFrame, kpi_nodes: set[str], chain_nodes: frozenset[str],
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The KPI nodes' standardized unit levels from the survey nodes' (``units``): each is its
    paths' sum plus a residual whose variance makes its variance 1 in the full model."""
    sigma = model.implied_corr(chain_nodes)
    levels = {n: units[n].to_numpy() for n in model.nodes if n in units.columns}
    for i, node in enumerate(model.nodes):  # topological order
        if node not in kpi_nodes:
            continue
        b = model.beta[i, :i]
        resid = np.sqrt(1.0 - float(b @ sigma[:i, :i] @ b))
        levels[node] = sum(b[j] * levels[model.nodes[j]] for j in np.flatnonzero(b)) + resid * rng.standard_normal(
            len(units))
    return levels


def _truth(model: PathModel, sides: Mapping[str, str], chain: frozenset[str],
           icc_employee: float, icc_customer: float) -> ChainTruth:
    nodes = model.nodes
    rows = [
        {"lhs": nodes[i], "op": "~", "rhs": nodes[j], "std_all": model.beta[i, j]}
        for i in range(len(nodes)) for j in range(len(nodes)) if model.beta[i, j] != 0
    ]
    sigma = model.implied_corr(chain)
    total = model.total_effects()
    effects = [
        {"lhs": nodes[i], "rhs": nodes[j], "effect": total[i, j]}
        for i in range(len(nodes)) for j in range(len(nodes)) if total[i, j] != 0
    ]
    r2 = pd.Series(
        {nodes[i]: float(model.beta[i] @ sigma @ model.beta[i]) for i in range(len(nodes)) if model.beta[i].any()},
        name="r2",
    )
    order = {}
    for i, outcome in enumerate(nodes):
        if sides.get(outcome) != "customer":
            continue
        drivers = [(nodes[j], total[i, j]) for j in range(len(nodes))
                   if sides.get(nodes[j]) == "employee" and total[i, j] != 0]
        if drivers:
            order[outcome] = tuple(n for n, _ in sorted(drivers, key=lambda d: -abs(d[1])))
    return ChainTruth(
        paths=pd.DataFrame(rows, columns=["lhs", "op", "rhs", "std_all"]),
        total_effects=pd.DataFrame(effects, columns=["lhs", "rhs", "effect"]),
        r2=r2,
        driver_order=MappingProxyType(order),
        icc=MappingProxyType({"employee": icc_employee, "customer": icc_customer}),
    )
