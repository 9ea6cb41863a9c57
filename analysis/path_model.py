"""Observed-variable recursive path models solved by least squares per equation.

When a path model has only observed variables, no cycle, ``fixed.x`` and residual
covariances only between outcomes with the same predictors, its maximum-likelihood
solution is least squares per equation (:func:`path_model_tests`). ``tandem power`` fits
thousands of replications this way in a few batched matrix operations, and the
reliability-corrected linkage model (:mod:`analysis.corrected_means`) fits its corrected
between-unit correlation matrices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.sem import count_parameters
from analysis.study import Study

__all__ = ["PathPlan", "path_model_tests", "path_plan"]


@dataclass(frozen=True)
class PathPlan:
    """An observed-variable recursive path model whose ML solution is least squares per
    equation: the nodes, each equation's outcome and predictors (node indices), the
    exogenous nodes and the outcome pairs with a free residual covariance (same predictors)."""

    nodes: tuple[str, ...]
    equations: tuple[tuple[int, tuple[int, ...]], ...]
    exogenous: tuple[int, ...]
    residual_pairs: tuple[tuple[int, int], ...]
    paths: tuple[tuple[str, str], ...]
    npar: int


def path_plan(study: Study) -> PathPlan | None:
    """The :class:`PathPlan` of the study's unit model, or None when per-equation least
    squares is not its ML solution (latent variables, equality constraints, a cycle, or a
    residual covariance between outcomes with different predictors)."""
    table = count_parameters(study.model_syntax())
    st = table.structure
    if st.latent or table.syntax.constraints:
        return None
    free = [r for r in table.rows if r.free]
    if len({r.pid for r in free}) != len(free):
        return None
    nodes = tuple(study.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    predictors: dict[int, list[int]] = {}
    paths = []
    for r in table.rows:
        if r.op == "~":
            predictors.setdefault(index[r.lhs], []).append(index[r.rhs])
            paths.append((r.lhs, r.rhs))
    order = _topological(predictors, len(nodes))
    if order is None:
        return None
    pairs = []
    for r in table.rows:
        if r.op == "~~" and r.lhs != r.rhs and r.free:
            a, b = index[r.lhs], index[r.rhs]
            if a not in predictors or b not in predictors or set(predictors[a]) != set(predictors[b]):
                return None
            pairs.append((a, b))
    equations = tuple((j, tuple(predictors[j])) for j in order if j in predictors)
    exogenous = tuple(i for i in range(len(nodes)) if i not in predictors)
    return PathPlan(nodes, equations, exogenous, tuple(pairs), tuple(paths), table.npar)


def _topological(predictors: Mapping[int, list[int]], k: int) -> list[int] | None:
    order, done = [], set()
    pending = list(range(k))
    while pending:
        ready = [v for v in pending if all(u in done for u in predictors.get(v, []))]
        if not ready:
            return None
        for v in ready:
            done.add(v)
            order.append(v)
        pending = [v for v in pending if v not in done]
    return order


def path_model_tests(plan: PathPlan, cov: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and Wald p-values of every path (``plan.paths`` order) in a batch of data sets.

    Parameters
    ----------
    plan
        The model.
    cov
        ``(R, k, k)``: each data set's covariance (or, z-scored as in
        :func:`analysis.linkage.fit_chain`, correlation) matrix of ``plan.nodes``.
    n
        ``(R,)``: cases of each data set.

    Notes
    -----
    For a recursive model with ``fixed.x`` whose residual covariances join only outcomes
    with the same predictors, ML is least squares per equation (the likelihood factors
    into one regression per equation; identical regressors make the seemingly unrelated
    regressions OLS): ``b_j = S_PP^-1 S_Py`` and ``sigma_j^2 = S_yy - S_yP b_j`` with S
    divided by N. Standard errors are lavaan's (``information = "expected"``): the
    information of ``b_j`` is ``N Sigma_PP / sigma_j^2`` with ``Sigma`` the model-implied
    covariance matrix ``A Psi A'`` (``A = (I - B)^-1``, ``Psi`` the exogenous sample
    covariances, the residual variances and covariances), which differs from the sample
    ``S_PP`` where a predictor is itself an outcome of the model. p is two-sided normal.
    """
    r_count, k = cov.shape[0], cov.shape[1]
    beta = np.zeros((r_count, k, k))
    psi = np.zeros((r_count, k, k))
    ex = list(plan.exogenous)
    rows, cols = np.ix_(ex, ex)
    psi[:, rows, cols] = cov[:, rows, cols]
    coefs = []
    for j, pred in plan.equations:
        p = list(pred)
        s_pp = cov[:, p][:, :, p]
        s_py = cov[:, p, j]
        b = np.linalg.solve(s_pp, s_py[:, :, None])[:, :, 0]
        beta[:, j, p] = b
        psi[:, j, j] = cov[:, j, j] - np.einsum("rq,rq->r", s_py, b)
        coefs.append((j, p, b))
    coef_of = {j: (p, b) for j, p, b in coefs}
    for a, c in plan.residual_pairs:
        p, _ = coef_of[a]
        _, b_c = coef_of[c]
        # residual cross-product / N: S_ac - S_aP b_c - b_a' S_Pc + b_a' S_PP b_c, = S_ac - S_aP b_c at OLS
        psi[:, a, c] = psi[:, c, a] = cov[:, a, c] - np.einsum("rq,rq->r", cov[:, a, p], b_c)
    a_inv = np.linalg.inv(np.eye(k)[None] - beta)
    implied = a_inv @ psi @ a_inv.transpose(0, 2, 1)
    est = {}
    for j, p, b in coefs:
        info_inv = np.linalg.inv(implied[:, p][:, :, p])
        se = np.sqrt(psi[:, j, j][:, None] * np.diagonal(info_inv, axis1=1, axis2=2) / n[:, None])
        for q, v in enumerate(p):
            est[(plan.nodes[j], plan.nodes[v])] = (b[:, q], se[:, q])
    b_out = np.stack([est[path][0] for path in plan.paths], axis=1)
    se_out = np.stack([est[path][1] for path in plan.paths], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = b_out / se_out
    return b_out, special.erfc(np.abs(z) / np.sqrt(2))
