"""The linkage chain on unit means corrected for their sampling error (the two-step fallback).

When the latent model (:mod:`analysis.latent_aggregation`) cannot be used, the chain is
still fitted to unit means, but to their covariance matrix *less the part that is sampling
error*: each unit mean is its true level plus the mean of its respondents' deviations, whose
covariance is the pooled within-unit covariance over the unit's size, so the between-unit
covariance is estimated by the method of moments::

    Sigma_B = S_means - mean_j blockdiag(S_W,s / n_sj)

with ``S_means`` the covariance of the unit means (ddof 1) and ``S_W,s`` side ``s``'s pooled
within-unit covariance (employees and customers are different people: no within
covariance between sides). The path model is then least squares per equation on the
correlation matrix of ``Sigma_B`` (:func:`analysis.path_model.path_model_tests`): its
paths are standardized. For one predictor and equal unit sizes this is the regression on
Croon & van Veldhoven's (2007) adjusted group means (the slope ``sigma_B,xy / sigma_B,x^2``);
the between-group covariance by moments is Muthén's (1994) estimator. Intervals are the
bootstrap over units (the within-unit cross-products are summed per unit, so a resample
costs no pass over respondents), with the bootstrap p-value of the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.path_model import PathPlan, path_model_tests, path_plan
from analysis.sem.results import bootstrap_pvalue, percentile_interval
from analysis.study import Study

__all__ = ["EIGEN_FLOOR", "UnitMoments", "between_correlation", "fit_corrected_chain", "unit_moments"]

#: Smallest eigenvalue, relative to the largest, of a corrected correlation matrix.
EIGEN_FLOOR = 1e-3


@dataclass(frozen=True)
class UnitMoments:
    """Per unit: node means (``J x k``), respondents per side (``J x S``) and each side's
    within-unit SSCP (``J x k x k``, zero between sides); ``side_of[i]`` is node ``i``'s side
    (``S`` for a KPI node: a unit-level figure without sampling error)."""

    means: np.ndarray
    sizes: np.ndarray
    sscp: np.ndarray
    side_of: np.ndarray


def unit_moments(study: Study, stacked: pd.DataFrame) -> UnitMoments:
    """The :class:`UnitMoments` of :func:`analysis.latent_aggregation.stacked_nodes` output."""
    nodes = list(study.nodes)
    sides = ("employee", "customer")
    side_of = np.array([sides.index(study.side(n)) if study.side(n) in sides else len(sides) for n in nodes])
    codes, _ = pd.factorize(stacked["unit"], sort=True)
    J, k = int(codes.max()) + 1, len(nodes)
    values = stacked[nodes].to_numpy(dtype=float)
    means = np.zeros((J, k))
    sizes = np.zeros((J, len(sides)), dtype=int)
    sscp = np.zeros((J, k, k))
    for s in range(len(sides)):
        cols = np.flatnonzero(side_of == s)
        rows = ~np.isnan(values[:, cols]).any(axis=1)
        code, block = codes[rows], values[np.ix_(rows, cols)]
        sizes[:, s] = np.bincount(code, minlength=J)
        for c, col in enumerate(cols):
            means[:, col] = np.bincount(code, weights=block[:, c], minlength=J) / np.maximum(sizes[:, s], 1)
        dev = block - means[np.ix_(code, cols)]
        cross = dev[:, :, None] * dev[:, None, :]
        part = np.zeros((J, len(cols), len(cols)))
        np.add.at(part, code, cross)
        sscp[np.ix_(np.arange(J), cols, cols)] = part
    for col in np.flatnonzero(side_of == len(sides)):  # KPIs: the unit's figure, no sampling error
        means[:, col] = pd.Series(values[:, col]).groupby(codes).first().to_numpy()
    return UnitMoments(means, sizes, sscp, side_of)


def between_correlation(m: UnitMoments, pick: np.ndarray | None = None) -> np.ndarray | None:
    """The between-unit correlation matrix of the units ``pick`` (default all; repeats
    allowed, for the bootstrap), or None when a node's corrected between-unit variance is
    not positive (its sampling error is larger than the units' differences). A corrected
    matrix that is not positive definite otherwise has its eigenvalues raised to
    :data:`EIGEN_FLOOR` times the largest (lavaan's ``lav_matrix_symmetric_force_pd``)."""
    pick = np.arange(len(m.means)) if pick is None else pick
    means, sizes, sscp = m.means[pick], m.sizes[pick], m.sscp[pick]
    J = len(pick)
    s_means = np.cov(means, rowvar=False, ddof=1)
    error = np.zeros_like(s_means)
    for s in range(sizes.shape[1]):
        cols = np.flatnonzero(m.side_of == s)
        pooled = sscp[:, cols][:, :, cols].sum(axis=0) / max(int(sizes[:, s].sum()) - J, 1)
        error[np.ix_(cols, cols)] = pooled * float(np.mean(1.0 / sizes[:, s]))
    sigma = s_means - error
    if not np.all(np.diag(sigma) > 0):
        return None
    d = np.sqrt(np.diag(sigma))
    corr = sigma / np.outer(d, d)
    ev, vec = np.linalg.eigh(corr)
    if ev[0] <= EIGEN_FLOOR * ev[-1]:
        corr = (vec * np.maximum(ev, EIGEN_FLOOR * ev[-1])) @ vec.T
        d = np.sqrt(np.diag(corr))
        corr = corr / np.outer(d, d)
    return corr


def _estimates(plan: PathPlan, study: Study, corr: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Standardized paths (``plan.paths`` order) and indirect effects (``study.indirect_routes``)."""
    b, _ = path_model_tests(plan, corr[None], np.array([n]))
    beta = dict(zip(plan.paths, b[0], strict=True))
    indirect = [sum(np.prod([beta[(route[i + 1], route[i])] for i in range(len(route) - 1)]) for route in routes)
                for _, _, routes in study.indirect_routes()]
    return b[0], np.array(indirect, dtype=float)


def fit_corrected_chain(study: Study, stacked: pd.DataFrame, *, draws: int = 1000,
                        seed: int | None = None) -> tuple[pd.DataFrame, pd.Series, str | None]:
    """``(estimates, r2, why_not)``: the chain on the corrected between-unit correlations.

    ``estimates`` has lavaan's columns (``lhs, op, rhs, est, se, z, pvalue, ci_lower,
    ci_upper``) for the paths (``~``) and the ``:=`` indirect effects
    (``ind_<employee>__<customer>``), with bootstrap SDs, percentile intervals and p-values
    over ``draws`` resamples of units (NaN with ``draws=0``); ``why_not`` says why the
    model cannot be fitted (then the others are None)."""
    plan = path_plan(study)
    if plan is None:
        return None, None, "the study's paths are not a recursive observed path model"
    m = unit_moments(study, stacked)
    corr = between_correlation(m)
    if corr is None:
        return None, None, ("for some node the unit means' sampling error is larger than the units' "
                            "differences (its corrected between-unit variance is not positive)")
    J = float(len(m.means))
    b, ind = _estimates(plan, study, corr, J)
    rng = np.random.default_rng(seed)
    boot = np.full((draws, len(b) + len(ind)), np.nan)
    for d in range(draws):
        c = between_correlation(m, rng.integers(0, len(m.means), len(m.means)))
        if c is not None:
            try:
                boot[d] = np.concatenate(_estimates(plan, study, c, J))
            except np.linalg.LinAlgError:
                continue
    sd, lower, upper = percentile_interval(boot) if draws else (np.full(boot.shape[1], np.nan),) * 3
    pvalue = bootstrap_pvalue(boot) if draws else np.full(boot.shape[1], np.nan)
    names = [(lhs, "~", rhs) for lhs, rhs in plan.paths]
    names += [(f"ind_{source}__{target}", ":=", "") for source, target, _ in study.indirect_routes()]
    est = np.concatenate([b, ind])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / sd
    table = pd.DataFrame({"lhs": [n[0] for n in names], "op": [n[1] for n in names], "rhs": [n[2] for n in names],
                          "est": est, "se": sd, "z": z, "pvalue": pvalue, "ci_lower": lower, "ci_upper": upper})
    index = {v: i for i, v in enumerate(plan.nodes)}
    r2 = {}
    for j, pred in plan.equations:
        bj = np.array([dict(zip(plan.paths, b, strict=True))[(plan.nodes[j], plan.nodes[p])] for p in pred])
        r2[plan.nodes[j]] = float(corr[index[plan.nodes[j]], list(pred)] @ bj)
    return table, pd.Series(r2, name="r2"), None
