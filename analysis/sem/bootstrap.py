"""The nonparametric bootstrap: rows resampled within groups, the model refitted from the
estimates (Efron & Tibshirani 1993; Bollen & Stine 1990; lavaan ``se = "bootstrap"``).

Each draw's refit is standardized with its own implied variances (``std_all`` per draw,
as ``bootstrapLavaan(fit, FUN = standardizedSolution)``). Complete data are resampled
through their moments only: a draw's mean and covariance are weighted sums over the
original rows (weights = how often each row was drawn), so no resampled data matrix is
built; FIML draws with missing values rebuild the casewise statistics.
"""

from __future__ import annotations

import numpy as np

from analysis.sem import optimizer
from analysis.sem.fitted import FittedModel
from analysis.sem.samplestats import GroupStats
from analysis.sem.variance import defined_values, label_values


def _draw(d: GroupStats, rng: np.random.Generator, fiml: bool) -> GroupStats:
    idx = rng.integers(0, d.n, d.n)
    if d.complete:
        w = np.bincount(idx, minlength=d.n).astype(float)
        mean = (w @ d.raw) / d.n
        xc = d.raw - mean
        cov = (xc.T * w) @ xc / d.n
        return GroupStats(d.n, mean, cov, d.raw[idx])
    return GroupStats.of(d.raw[idx], fiml=fiml, tol=1e-6)


def bootstrap(fitted: FittedModel, draws: int, seed: int | None, missing: str) -> tuple[np.ndarray, np.ndarray]:
    """``(est, std_all)`` of every row and defined parameter per draw (NaN rows: the refit
    did not converge)."""
    rng = np.random.default_rng(seed)
    syntax, estimator, model, table = fitted.syntax, fitted.estimator, fitted.model, fitted.table
    n_rows, n_def = len(table.rows), len(syntax.definitions)
    out = np.full((draws, n_rows + n_def), np.nan)
    out_std = np.full_like(out, np.nan)
    fiml = missing == "fiml"
    original = estimator.sample
    state = estimator.scoring(fitted.x)
    try:  # the expected Hessian at the estimate: the metric of every refit
        metric = np.linalg.cholesky(2 * state[2]) if state is not None else None
    except np.linalg.LinAlgError:
        metric = None
    try:
        for b in range(draws):
            estimator.set_sample([_draw(d, rng, fiml) for d in original])
            opt = optimizer.minimize(estimator, fitted.x, precise=False, metric=metric)
            if not opt.converged:
                continue
            values = model.row_values(opt.x)
            out[b, :n_rows] = values
            std = fitted.standardizer(model, opt.x)  # the draw's data are attached: its own implied SDs
            out_std[b, :n_rows] = std
            if n_def:
                out[b, n_rows:] = defined_values(syntax, label_values(table, values))
                out_std[b, n_rows:] = fitted.standardizer.defined(syntax, std)
    finally:
        estimator.set_sample(original)
    return out, out_std
