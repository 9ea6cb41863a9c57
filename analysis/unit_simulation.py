"""Unit tables of a linkage study simulated straight from the answer model (for power).

:func:`simulate_unit_table` returns what :func:`analysis.linkage.unit_table` returns for the
responses :func:`analysis.simulate.simulate_service_profit_chain` simulates: the same
generating model (:mod:`analysis.answer_model`: unit and respondent latent scores from the
standardized path model, items cut into their scale's categories), the same unit sizes,
missing answers, reverse-keying, construct scoring (:func:`analysis.scoring.construct_score`)
and metric values (:func:`analysis.metrics.answer_points`), and the same minimum unit sizes.
It differs only in what it leaves out: the items of nodes the study does not name, the
choice, text and date questions, the identifying columns, and the response frames
themselves. Respondents are aggregated to units in NumPy as they are drawn.

That is what makes ``tandem power`` fast: a thousand replications of a study at 200 units
simulate about 11 million respondents, and building response frames for them costs five
times what their answers do. The random streams differ from the frame simulator's, so the
two give different draws from the same distribution (a test compares them).

It applies when a node's items can be simulated alone: no question holding one of them is
shown conditionally (``show_if``), since a condition would need the answers it depends on
(:func:`why_not_direct`); otherwise :func:`analysis.power.power` simulates the frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.answer_model import (
    PathModel,
    SimulationError,
    check_chain_settings,
    item_answers,
    item_values,
    kpi_values,
    node_items,
    node_sides,
    unit_sizes,
)
from analysis.metrics import answer_points
from analysis.scoring import construct_score, item_bounds
from analysis.study import METRIC_NODES, Study, metric_node
from surveys.question_types import kind_of

__all__ = ["simulate_unit_table", "why_not_direct"]


def _side_nodes(study: Study, side: str) -> list[str]:
    return [n for n in study.nodes if study.side(n) == side]


def _node_item_ids(instrument: Any, nodes: list[str]) -> list[str]:
    """The item ids a side's nodes are computed from: construct items and metric items."""
    ids: list[str] = []
    constructs = {c.id: c for c in instrument.constructs}
    for node in nodes:
        if node in METRIC_NODES:
            ids.append(getattr(instrument.metrics, node))
        else:
            ids += constructs[node].items
    return list(dict.fromkeys(ids))


def why_not_direct(study: Study) -> str | None:
    """``None`` when :func:`simulate_unit_table` can simulate ``study``; otherwise why not."""
    for side, instrument in (("employee", study.employee), ("customer", study.customer)):
        needed = {instrument.item(i).question_id for i in _node_item_ids(instrument, _side_nodes(study, side))}
        for question in instrument.questions:
            if question.id in needed and getattr(question, "show_if", None) is not None:
                return (f"question '{question.id}' of '{instrument.id}' holds a node's item and is shown only if "
                        f"{question.show_if.source}")
    return None


def simulate_unit_table(
    study: Study,
    *,
    n_units: int,
    paths: Mapping[str, Mapping[str, float]],
    employees_per_unit: int | tuple[int, int] = (8, 25),
    customers_per_unit: int | tuple[int, int] = (20, 60),
    icc_employee: float = 0.2,
    icc_customer: float = 0.1,
    loading: float = 0.75,
    exogenous_correlation: float = 0.3,
    missing_rate: float = 0.03,
    seed: int | None = None,
) -> pd.DataFrame:
    """The study's unit table for ``n_units`` simulated units, without response frames.

    Parameters
    ----------
    study
        The study; its instruments, nodes, unit minimums.
    n_units, paths, employees_per_unit, customers_per_unit, icc_employee, icc_customer, loading,
    exogenous_correlation, missing_rate, seed
        As in :func:`analysis.simulate.simulate_service_profit_chain`.

    Returns
    -------
    pandas.DataFrame
        The units with at least ``study.min_employees`` employee and ``study.min_customers``
        customer respondents: ``unit`` (the simulated unit's position, 0 to ``n_units - 1``),
        ``n_employees``, ``n_customers`` and the unit value of every node (the mean construct
        score, or the metric: NPS points, CSAT top-two-box share, mean CES), NaN where no
        respondent of the unit answered the node's items.

    Raises
    ------
    analysis.answer_model.SimulationError
        Bad settings or paths (as the frame simulator), or a study :func:`why_not_direct`
        refuses.

    Notes
    -----
    Unit latent means ``u = B u + zeta`` (standardized), respondent latents
    ``eta_i = sqrt(icc) u_unit(i) + sqrt(1 - icc) w_i``, answers ``x_ij`` = the category of
    ``lambda eta_i + sqrt(1 - lambda^2) e_ij`` (:mod:`analysis.answer_model`); a unit's node
    value is the mean over its respondents of their construct score (or metric points).
    """
    why = why_not_direct(study)
    if why is not None:
        raise SimulationError(f"the unit table cannot be simulated without response frames: {why}",
                              fix="Simulate the responses (analysis.simulate.simulate_service_profit_chain) "
                                  "and aggregate them (analysis.linkage.unit_table).")
    check_chain_settings(icc_employee=icc_employee, icc_customer=icc_customer, loading=loading,
                         exogenous_correlation=exogenous_correlation, missing_rate=missing_rate)
    chain = {str(n) for lhs, preds in paths.items() for n in (lhs, *preds)}
    sides = node_sides(study.employee, study.customer, sorted(chain), study.business)
    owners = {}
    for side, instrument in (("employee", study.employee), ("customer", study.customer)):
        own = [c.id for c in instrument.constructs] + [n for n, s in sides.items() if s == side]
        owner = node_items(instrument, own)
        owners[side] = {i: owner.get(i, i) for i in _node_item_ids(instrument, _side_nodes(study, side))}
    extra = sorted({o for side in owners.values() for o in side.values()} - chain)
    model = PathModel.build(paths, extra, exogenous_correlation)
    column = {node: j for j, node in enumerate(model.nodes)}
    rng = np.random.default_rng(seed)
    u = model.draw(n_units, rng, frozenset(chain))
    table: dict[str, np.ndarray] = {"unit": np.arange(n_units)}
    for side, instrument, spec, icc in (("employee", study.employee, employees_per_unit, icc_employee),
                                         ("customer", study.customer, customers_per_unit, icc_customer)):
        sizes = unit_sizes(spec, n_units, rng, f"{side}s_per_unit")
        index = np.repeat(np.arange(n_units), sizes)
        eta = np.sqrt(icc) * u[index] + np.sqrt(1 - icc) * model.draw(index.size, rng, frozenset(chain))
        keyed = _keyed_answers(instrument, owners[side], eta, column, rng, loading=loading, missing_rate=missing_rate)
        table[f"n_{side}s"] = sizes
        constructs = {c.id: c for c in instrument.constructs}
        for node in _side_nodes(study, side):
            if node in METRIC_NODES:
                item_id, metric, options = metric_node(node, instrument)
                x = keyed[item_id]
                answered = ~np.isnan(x)
                points = np.full(x.size, np.nan)
                points[answered] = answer_points(x[answered], metric, where=f"simulated {node}", **options)
            else:
                points = construct_score(np.column_stack([keyed[i] for i in constructs[node].items]), constructs[node])
            table[node] = _unit_means(points, index, n_units)
    for node in study.kpi_nodes:  # a unit's figure: its latent level on the KPI's scale, no sampling error
        table[node] = kpi_values(node, u[:, column[node]])
    units = pd.DataFrame(table)
    keep = (units["n_employees"] >= study.min_employees) & (units["n_customers"] >= study.min_customers)
    return units[keep].reset_index(drop=True)


def _keyed_answers(instrument: Any, owner: Mapping[str, str], eta: np.ndarray, column: Mapping[str, int],
                   rng: np.random.Generator, *, loading: float, missing_rate: float) -> dict[str, np.ndarray]:
    """The keyed answers to the items in ``owner`` (item -> the node driving it), question by
    question as the frame simulator draws them: a question that is not required is skipped
    whole with probability ``missing_rate``; reverse-keyed items are reflected and re-keyed."""
    n = eta.shape[0]
    by_question: dict[str, list[Any]] = {}
    for item_id in owner:
        item = instrument.item(item_id)
        by_question.setdefault(item.question_id, []).append(item)
    keyed: dict[str, np.ndarray] = {}
    for question in instrument.questions:
        if question.id not in by_question:
            continue
        cols = {}
        for item in by_question[question.id]:
            values = item_values(item)
            x = item_answers(eta[:, column[owner[item.id]]], values, loading, rng, reverse=bool(item.reverse),
                             shift=0.0)
            if item.reverse:
                low, high = item_bounds(item)
                x = low + high - x
            cols[item.id] = x.astype(float)
        if not getattr(question, "required", False) and not kind_of(question).free_text:
            skip = rng.random(n) < missing_rate
            for x in cols.values():
                x[skip] = np.nan
        keyed.update(cols)
    return keyed


def _unit_means(values: np.ndarray, index: np.ndarray, n_units: int) -> np.ndarray:
    """Mean of ``values`` per unit over the respondents with a value (NaN for none)."""
    ok = ~np.isnan(values)
    count = np.bincount(index[ok], minlength=n_units)
    total = np.bincount(index[ok], weights=values[ok], minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
