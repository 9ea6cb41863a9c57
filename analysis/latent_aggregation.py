"""Linkage by latent aggregation: the study's chain among the units' *latent* means.

A unit's observed mean is a noisy estimate of its true level (its reliability is ICC(2)),
so a chain fitted to observed unit means has paths biased toward zero, the more so the
smaller the units. Here the employees and the customers of the analysed units are stacked
(each respondent's construct scores and metric values, the other side's columns missing by
design) and fitted as one two-level SEM (:func:`analysis.sem.twolevel.fit_twolevel`,
``missing="fiml"``): at level 1 each side's respondents vary around their unit (free
covariances within a side, none between sides: they are different people); at level 2 the
units' latent means follow the study's paths. This is the multilevel latent covariate
model (Lüdtke et al. 2008) for both samples at once — latent aggregation of manifest
scores in the taxonomy of Marsh et al. (2009); lavaan fits the same model with
``sem(model, data, cluster = "unit", missing = "ml")``.

Paths and indirect effects are the between level's standardized solution; their intervals
and p-values come from Monte Carlo draws of the parameters (:func:`analysis.sem.twolevel.monte_carlo_std`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.metrics import answer_points
from analysis.sem import twolevel
from analysis.study import METRIC_NODES, Study, metric_node

__all__ = ["LEVEL_ONE_SCALE", "between_parameters", "fit_latent_chain", "latent_model_syntax", "stacked_nodes"]

#: Per-respondent metric values are put on a scale near 1 for the optimiser (NPS points / 100).
LEVEL_ONE_SCALE = {"nps": 0.01, "enps": 0.01}


def latent_model_syntax(study: Study) -> str:
    """The two-level lavaan syntax: level 1 free covariances among each side's nodes and
    none between sides; level 2 the study's paths and ``:=`` indirect effects
    (:meth:`analysis.study.Study.model_syntax`). KPI nodes are named at level 2 only: a
    unit's figure, constant within it."""
    sides = {side: [n for n in study.nodes if study.side(n) == side] for side in ("employee", "customer")}
    lines = ["level: 1"]
    for nodes in sides.values():
        lines += [f"  {a} ~~ {b}" for a, b in itertools.combinations(nodes, 2)]
        lines += [f"  {a} ~~ {a}" for a in nodes if len(nodes) == 1]
    lines += [f"  {a} ~~ 0*{b}" for a in sides["employee"] for b in sides["customer"]]
    lines += ["level: 2", *("  " + line for line in study.model_syntax().splitlines())]
    return "\n".join(lines)


def stacked_nodes(study: Study, scored: Mapping[str, pd.DataFrame], units: pd.DataFrame) -> pd.DataFrame:
    """Both sides' respondents in the analysed ``units`` (the unit table: its ``unit`` column,
    and its KPI columns), one row each: the unit, each node's value for that respondent
    (construct score, or metric points: CSAT top-two-box 0/1, NPS points / 100, CES), the
    other side's nodes missing, and the unit's KPIs on every row. Respondents without a
    value on every node of their side are left out."""
    frames = []
    keep = set(units["unit"])
    for side, instrument in (("employee", study.employee), ("customer", study.customer)):
        frame = scored[side]
        frame = frame[frame[study.unit_key].isin(keep)]
        out = pd.DataFrame({"unit": frame[study.unit_key].to_numpy()})
        for node in (n for n in study.nodes if study.side(n) == side):
            if node in METRIC_NODES:
                item_id, metric, options = metric_node(node, instrument)
                x = frame[item_id].to_numpy(dtype=float)
                points = np.full(x.size, np.nan)
                answered = ~np.isnan(x)
                points[answered] = answer_points(x[answered], metric, where=f"{node} of {side}s", **options)
                out[node] = points * LEVEL_ONE_SCALE.get(node, 1.0)
            else:
                out[node] = frame[node].to_numpy(dtype=float)
        frames.append(out.dropna())
    stacked = pd.concat(frames, ignore_index=True)
    kpis = list(study.kpi_nodes)
    if kpis:
        stacked = stacked.join(units.set_index("unit")[kpis], on="unit")
    return stacked[["unit", *study.nodes]]


def fit_latent_chain(study: Study, stacked: pd.DataFrame, *, draws: int = 1000, seed: int | None = None,
                     robust: bool = False):
    """Fit :func:`latent_model_syntax` to :func:`stacked_nodes` (cluster ``unit``, FIML of the
    design, exogenous nodes random); returns the :class:`analysis.sem.SEMResult` with the
    Monte Carlo columns of the standardized solution when ``draws > 0``, drawn with the ML
    covariance of the estimates (inverse observed information) or, with ``robust``, the
    cluster-robust one (lavaan MLR). ML is the default because it covers better: on the
    shipped chain (``bench.bench_recovery``, 5-point items) the two agree at 200 units (mean
    coverage .938 and .939) and ML is closer to 95% at 40 (.947 against .939; the sandwich
    is known to be too small with few clusters)."""
    return twolevel.fit_twolevel(latent_model_syntax(study), stacked, "unit", fixed_x=False, missing="fiml",
                                 monte_carlo=draws, seed=seed, robust=robust)


def between_parameters(study: Study) -> int:
    """Free parameters of the latent model's between level (what the units must support)."""
    return twolevel.count_parameters(latent_model_syntax(study), fixed_x=False).npar_between
