"""Key driver analysis: relative weights and Shapley (LMG) R^2 shares.

Which predictors (employee-experience constructs, service attributes) matter most for
an outcome (engagement, CSAT, NPS)? With correlated predictors regression weights do
not answer that; the two decompositions here split R^2 among the predictors instead:

* :func:`relative_weights` (Johnson 2000): regress the outcome on the orthogonal
  counterparts of the predictors and map the shares back; fast (one eigen-
  decomposition), almost identical to Shapley in practice.
* :func:`shapley` (Lindeman, Merenda & Gold 1980; Grömping 2006, ``relaimpo``'s
  ``lmg``): each predictor's average gain in R^2 over all orders of entry.

Both take ``bootstrap=B`` for percentile intervals and rank stability, computed with
one BLAS thread (:func:`analysis.threads.limit_blas_threads`). The bootstrap is
vectorised: the B resampled correlation matrices come from one matrix product of
multinomial resampling counts with the cross-products of the data (weighted moments),
and the decompositions run on the (B, p, p) stack with batched ``numpy.linalg``
calls. :mod:`analysis.importance_performance` turns importance into action quadrants.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from analysis.errors import DataError
from analysis.frames import numeric_columns
from analysis.threads import limit_blas_threads

EXACT_SHAPLEY_MAX = 12
"""Up to this many predictors :func:`shapley` is exact (all 2^p subsets)."""

DEFAULT_PERMUTATIONS = 2000
"""Random orders of entry used by :func:`shapley` beyond ``EXACT_SHAPLEY_MAX``."""

_EIGEN_TOL = 1e-10
_CHUNK_ELEMENTS = 8_000_000  # float64 elements per batched block (~64 MB)

DRIVER_COLUMNS = (
    "predictor",
    "weight",
    "pct",
    "rank",
    "ci_lower",
    "ci_upper",
    "pct_ci_lower",
    "pct_ci_upper",
    "rank_stability",
    "mean_rank",
    "mc_error",
)


@dataclass(frozen=True)
class DriverResult:
    """An R^2 decomposition with bootstrap uncertainty.

    Attributes
    ----------
    method
        ``"relative_weights"`` or ``"shapley"``.
    outcome, predictors
        The variables, predictors in the order given.
    n
        Complete rows used.
    r2
        R^2 of the regression of the outcome on all predictors; the weights sum to it.
    table
        One row per predictor (order given), columns ``predictor, weight, pct, rank,
        ci_lower, ci_upper, pct_ci_lower, pct_ci_upper, rank_stability, mean_rank,
        mc_error``: ``weight`` is the share of R^2 in R^2 units, ``pct`` its percentage
        of R^2, ``rank`` 1 for the largest. Interval columns are bias-corrected (BC)
        percentile bootstrap intervals (:func:`bias_corrected_interval`),
        ``rank_stability`` the share of draws in which the predictor holds its observed
        rank and ``mean_rank`` its mean rank over draws (NaN without a bootstrap).
        ``mc_error`` is the Monte-Carlo standard error of a sampled Shapley value (0
        when exact).
    bootstrap
        Draws requested; ``n_failed`` of them gave a singular correlation matrix
        and were left out.
    ci
        Confidence level of the intervals.
    approximation
        ``"eigen"`` (relative weights), ``"exact"`` or ``"permutation"`` (Shapley).
    n_permutations
        Orders of entry sampled (0 when exact).
    r2_ci_lower, r2_ci_upper
        Bias-corrected percentile interval of R^2 (NaN without a bootstrap).
    draws
        The (B, p) bootstrap weights (None without a bootstrap).
    """

    method: str
    outcome: str
    predictors: tuple[str, ...]
    n: int
    r2: float
    table: pd.DataFrame
    bootstrap: int
    n_failed: int
    ci: float
    approximation: str
    n_permutations: int
    r2_ci_lower: float
    r2_ci_upper: float
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The per-predictor table (predictors in the order given)."""
        return self.table.copy()

    def ranked(self) -> pd.DataFrame:
        """The per-predictor table, most important first."""
        return self.table.sort_values("rank", kind="stable").reset_index(drop=True)

    @property
    def importance(self) -> pd.Series:
        """Share of explained variance per predictor (``pct / 100``), for
        :func:`importance_performance`."""
        return pd.Series(self.table["pct"].to_numpy() / 100.0, index=list(self.predictors), name="importance")


# --------------------------------------------------------------------------- data
def _complete_matrix(
    data: pd.DataFrame, outcome: str, predictors: Sequence[str], *, where: str
) -> tuple[np.ndarray, list[str]]:
    """Complete rows as an (n, p + 1) array: predictors, then the outcome."""
    if isinstance(predictors, str):
        predictors = [predictors]
    predictors = list(predictors)
    if not predictors:
        raise DataError("no predictors given.", where=where, fix="name at least one predictor column.")
    duplicated = sorted({p for p in predictors if predictors.count(p) > 1})
    if duplicated:
        raise DataError(f"predictors named twice: {duplicated}.", where=where, fix="name each predictor once.")
    if outcome in predictors:
        raise DataError(
            f"the outcome '{outcome}' is also a predictor.", where=where, fix="remove it from the predictors."
        )
    frame = numeric_columns(data, [*predictors, outcome], where=where)
    for column in frame.columns:
        if frame[column].notna().sum() == 0:
            raise DataError(
                f"column '{column}' has no values (all missing).",
                where=where,
                fix="drop it from the analysis or check how the data were read.",
            )
    complete = frame.dropna()
    n, p = len(complete), len(predictors)
    if n < p + 2:
        raise DataError(
            f"{n} complete rows for {p} predictors; a regression needs at least {p + 2}.",
            where=where,
            fix="use fewer predictors or more rows (units) with all values present.",
        )
    values = complete.to_numpy(dtype=float)
    spread = values.std(axis=0)
    size = np.abs(values).max(axis=0)
    flat = [name for name, s, m in zip(complete.columns, spread, size, strict=True) if not s > 1e-12 * (1.0 + m)]
    if flat:
        raise DataError(
            f"no variance in {flat} over the complete rows.",
            where=where,
            fix="leave constant columns out of the driver analysis.",
        )
    corr = np.corrcoef(values[:, :p], rowvar=False).reshape(p, p)
    eigenvalues, eigenvectors = np.linalg.eigh(corr)
    if eigenvalues[0] < _EIGEN_TOL * p:
        null = eigenvectors[:, eigenvalues < _EIGEN_TOL * p]
        involved = [predictors[i] for i in np.flatnonzero(np.abs(null).max(axis=1) > 0.1)]
        raise DataError(
            f"the predictors {involved} are perfectly collinear (one is a linear combination of the others).",
            where=where,
            fix="drop one of them or combine them into a single score.",
        )
    return values, predictors


def _correlation_matrix(values: np.ndarray) -> np.ndarray:
    return np.corrcoef(values, rowvar=False)[None, :, :]


def _bootstrap_correlations(values: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(B, q, q) correlation matrices of ``draws`` nonparametric bootstrap samples.

    Each draw's resampling counts ``w`` (multinomial(n, 1/n), obtained by counting n
    uniform row indices) give its moments as weighted sums ``w @ X / n`` and
    ``w @ (X_a X_b) / n``; a block of draws is one matrix product of the (b, n)
    count matrix with the (n, q + q(q+1)/2) matrix of centred values and their
    cross-products. No Python loop over draws.
    """
    n, q = values.shape
    centred = values - values.mean(axis=0)
    upper = np.triu_indices(q)
    moments = np.concatenate([centred, centred[:, upper[0]] * centred[:, upper[1]]], axis=1)
    block = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty((draws, q, q))
    for start in range(0, draws, block):
        b = min(block, draws - start)
        rows = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(rows.ravel(), minlength=b * n).reshape(b, n).astype(float)
        weighted = counts @ moments / n
        mean = weighted[:, :q]
        cov = np.empty((b, q, q))
        cov[:, upper[0], upper[1]] = weighted[:, q:]
        cov[:, upper[1], upper[0]] = weighted[:, q:]
        cov -= mean[:, :, None] * mean[:, None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
            out[start : start + b] = cov / (sd[:, :, None] * sd[:, None, :])
    return out


def _usable(corr: np.ndarray, p: int) -> np.ndarray:
    """Draws whose predictor correlation matrix is finite and positive definite."""
    finite = np.isfinite(corr).all(axis=(1, 2))
    safe = np.where(finite[:, None, None], corr[:, :p, :p], np.eye(p))
    return finite & (np.linalg.eigvalsh(safe)[:, 0] > _EIGEN_TOL * p)


# --------------------------------------------------------------------------- decompositions
def _relative_weights_of(corr: np.ndarray, p: int) -> np.ndarray:
    """Johnson's raw relative weights for a (B, p + 1, p + 1) stack; (B, p)."""
    rxx, rxy = corr[:, :p, :p], corr[:, :p, p]
    eigenvalues, vectors = np.linalg.eigh(rxx)
    root = np.sqrt(eigenvalues)
    half = (vectors * root[:, None, :]) @ vectors.transpose(0, 2, 1)  # Rxx^(1/2): Lambda
    inv_half = (vectors / root[:, None, :]) @ vectors.transpose(0, 2, 1)  # Rxx^(-1/2)
    beta = np.einsum("bij,bj->bi", inv_half, rxy)  # outcome on the orthogonal Z
    return np.einsum("bij,bj->bi", half**2, beta**2)


@cache
def _subsets(p: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """For each size k = 1..p: the (C(p,k), k) predictor index array and the bitmasks."""
    out = []
    for k in range(1, p + 1):
        combos = np.array(list(itertools.combinations(range(p), k)), dtype=np.intp)
        out.append((combos, (1 << combos).sum(axis=1)))
    return tuple(out)


def _subset_r2(corr: np.ndarray, p: int) -> np.ndarray:
    """R^2 of every subset of the predictors, (B, 2^p), indexed by bitmask (bit j = predictor j)."""
    draws = corr.shape[0]
    r2 = np.zeros((draws, 1 << p))
    rxx, rxy = corr[:, :p, :p], corr[:, :p, p]
    for combos, masks in _subsets(p):
        k = combos.shape[1]
        block = max(1, _CHUNK_ELEMENTS // (len(combos) * k * k))
        for start in range(0, draws, block):
            stop = min(draws, start + block)
            sub = rxx[start:stop][:, combos[:, :, None], combos[:, None, :]]
            r = rxy[start:stop][:, combos]
            solved = np.linalg.solve(sub, r[..., None])[..., 0]
            r2[start:stop, masks] = np.einsum("bck,bck->bc", r, solved)
    return r2


@cache
def _shapley_design(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks without predictor j (p, 2^(p-1)) and their Shapley weights |S|!(p-|S|-1)!/p!."""
    masks = np.arange(1 << p)
    size = np.array([bin(m).count("1") for m in masks])
    weight_of = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)])
    without = np.stack([masks[(masks >> j) & 1 == 0] for j in range(p)])
    return without, weight_of[size[without]]


def _exact_shapley(corr: np.ndarray, p: int) -> np.ndarray:
    r2 = _subset_r2(corr, p)
    without, weights = _shapley_design(p)
    out = np.empty((corr.shape[0], p))
    for j in range(p):
        gain = r2[:, without[j] | (1 << j)] - r2[:, without[j]]
        out[:, j] = gain @ weights[j]
    return out


def _sampled_shapley(corr: np.ndarray, p: int, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean gain over the given orders of entry and its Monte-Carlo standard error.

    For one order, reorder the predictor correlations, take the Cholesky factor L and
    z = L^-1 r_xy: the R^2 of the first k predictors is z_1^2 + ... + z_k^2, so the
    gain of the k-th predictor entered is z_k^2 (one batched Cholesky per order).
    """
    draws, m = corr.shape[0], orders.shape[0]
    rxx, rxy = corr[:, :p, :p], corr[:, :p, p]
    inverse = np.argsort(orders, axis=1)
    mean, error = np.empty((draws, p)), np.empty((draws, p))
    block = max(1, _CHUNK_ELEMENTS // (m * p * p))
    for start in range(0, draws, block):
        stop = min(draws, start + block)
        chol = np.linalg.cholesky(rxx[start:stop][:, orders[:, :, None], orders[:, None, :]])
        z = np.linalg.solve(chol, rxy[start:stop][:, orders][..., None])[..., 0]
        gains = np.take_along_axis(z**2, np.broadcast_to(inverse, z.shape), axis=2)
        mean[start:stop] = gains.mean(axis=1)
        error[start:stop] = gains.std(axis=1, ddof=1) / np.sqrt(m)
    return mean, error


# --------------------------------------------------------------------------- result
def ranks(weights: np.ndarray) -> np.ndarray:
    """Rank 1 = largest, ties broken by predictor order; works along the last axis."""
    order = np.argsort(-weights, axis=-1, kind="stable")
    return np.argsort(order, axis=-1, kind="stable") + 1


def bias_corrected_interval(draws: np.ndarray, estimate: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Bias-corrected (BC) percentile bootstrap interval of each column of ``draws``.

    Parameters
    ----------
    draws
        (B, p) bootstrap replicates.
    estimate
        (p,) estimates on the full data.
    ci
        Confidence level.

    Returns
    -------
    lower, upper
        (p,) interval bounds.

    Notes
    -----
    With :math:`z_0 = \Phi^{-1}(\#\{\hat\theta^*_b < \hat\theta\}/B)` (ties counted half,
    the share kept within :math:`[1/(B+1), B/(B+1)]`), the bounds are the bootstrap quantiles
    at :math:`\Phi(2 z_0 \pm z_{(1+ci)/2})`. Unlike the plain percentile interval, it
    contains the estimate whenever the estimate lies within the central ``ci`` share of
    its bootstrap distribution (a skewed, bounded statistic such as a share of R² often
    sits near the edge of its percentile interval).

    References
    ----------
    Efron, B. (1982). *The Jackknife, the Bootstrap and Other Resampling Plans*. SIAM,
    ch. 10.7; Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*,
    ch. 14.
    """
    from scipy.stats import norm

    b = draws.shape[0]
    below = (draws < estimate).mean(axis=0) + 0.5 * (draws == estimate).mean(axis=0)
    z0 = norm.ppf(np.clip(below, 1.0 / (b + 1), b / (b + 1.0)))
    z = norm.ppf(0.5 + ci / 2)
    lower_q, upper_q = norm.cdf(2 * z0 - z), norm.cdf(2 * z0 + z)
    lower = np.array([np.quantile(draws[:, j], lower_q[j]) for j in range(draws.shape[1])])
    upper = np.array([np.quantile(draws[:, j], upper_q[j]) for j in range(draws.shape[1])])
    return lower, upper


def _result(
    method: str,
    outcome: str,
    predictors: list[str],
    n: int,
    estimate: np.ndarray,
    draws: np.ndarray | None,
    *,
    bootstrap: int,
    ci: float,
    approximation: str,
    n_permutations: int = 0,
    mc_error: np.ndarray | None = None,
) -> DriverResult:
    r2 = float(estimate.sum())
    rank = ranks(estimate)
    table = pd.DataFrame(
        {
            "predictor": predictors,
            "weight": estimate,
            "pct": 100.0 * estimate / r2 if r2 > 0 else np.full(len(predictors), np.nan),
            "rank": rank,
        }
    )
    nan = np.full(len(predictors), np.nan)
    r2_interval = (np.nan, np.nan)
    n_failed = 0
    if draws is not None:
        valid = np.isfinite(draws).all(axis=1)
        n_failed = int((~valid).sum())
        good = draws[valid]
        if len(good):
            totals = good.sum(axis=1)
            pct = 100.0 * good / totals[:, None]
            table["ci_lower"], table["ci_upper"] = bias_corrected_interval(good, estimate, ci)
            table["pct_ci_lower"], table["pct_ci_upper"] = bias_corrected_interval(pct, table["pct"].to_numpy(), ci)
            draw_ranks = ranks(good)
            table["rank_stability"] = (draw_ranks == rank).mean(axis=0)
            table["mean_rank"] = draw_ranks.mean(axis=0)
            low, high = bias_corrected_interval(totals[:, None], np.array([r2]), ci)
            r2_interval = (low[0], high[0])
    for column in ("ci_lower", "ci_upper", "pct_ci_lower", "pct_ci_upper", "rank_stability", "mean_rank"):
        if column not in table:
            table[column] = nan
    table["mc_error"] = mc_error if mc_error is not None else 0.0
    return DriverResult(
        method=method,
        outcome=outcome,
        predictors=tuple(predictors),
        n=n,
        r2=r2,
        table=table[list(DRIVER_COLUMNS)],
        bootstrap=bootstrap,
        n_failed=n_failed,
        ci=ci,
        approximation=approximation,
        n_permutations=n_permutations,
        r2_ci_lower=float(r2_interval[0]),
        r2_ci_upper=float(r2_interval[1]),
        draws=draws,
    )


def _check_options(bootstrap: int, ci: float, where: str) -> None:
    if int(bootstrap) != bootstrap or bootstrap < 0:
        raise DataError(
            f"bootstrap must be a whole number >= 0, got {bootstrap}.", where=where, fix="e.g. bootstrap=1000."
        )
    if not 0 < ci < 1:
        raise DataError(f"ci must lie between 0 and 1, got {ci}.", where=where, fix="e.g. ci=0.95.")


def _bootstrap_stack(values: np.ndarray, bootstrap: int, seed, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap correlation matrices with unusable draws replaced by the identity, and the usable mask."""
    corr = _bootstrap_correlations(values, bootstrap, np.random.default_rng(seed))
    usable = _usable(corr, p)
    corr[~usable] = np.eye(p + 1)
    return corr, usable


# --------------------------------------------------------------------------- public
def relative_weights(
    data: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    bootstrap: int = 0,
    seed: int | None = None,
    ci: float = 0.95,
) -> DriverResult:
    """Johnson's (2000) relative weights: R^2 split among correlated predictors.

    Parameters
    ----------
    data
        One row per respondent (or per unit for unit-level drivers).
    outcome
        Numeric outcome column.
    predictors
        Numeric predictor columns. Rows missing any variable are dropped (listwise).
    bootstrap
        Number of nonparametric bootstrap draws (0: none) for percentile intervals
        and rank stability; vectorised (see the module docstring).
    seed
        Seed of the bootstrap.
    ci
        Confidence level of the percentile intervals.

    Returns
    -------
    DriverResult
        ``approximation="eigen"``; weights sum to R^2.

    Raises
    ------
    DataError
        Missing or non-numeric columns, an all-missing or constant column, fewer
        complete rows than predictors + 2, perfectly collinear predictors.

    Notes
    -----
    With the predictor correlation matrix ``R_xx = V diag(l) V'`` and predictor-
    outcome correlations ``r_xy``, the orthogonal counterparts ``Z`` of the
    predictors relate to them by ``Lambda = R_xx^(1/2) = V diag(sqrt l) V'``; the
    outcome's weights on ``Z`` are ``beta = R_xx^(-1/2) r_xy`` and::

        epsilon_j = sum_k Lambda_jk^2 beta_k^2,      sum_j epsilon_j = beta'beta = R^2

    ``pct`` is ``100 epsilon_j / R^2``. Bootstrap draws whose predictor correlation
    matrix is singular are dropped and counted in ``n_failed``. R: ``rwa::rwa``
    (package rwa); Tonidandel & LeBreton's RWA-Web computes the same weights.

    References
    ----------
    Johnson, J. W. (2000). A heuristic method for estimating the relative weight of
    predictor variables in multiple regression. *Multivariate Behavioral Research,
    35*, 1-19.
    Tonidandel, S., & LeBreton, J. M. (2011). Relative importance analysis: A useful
    supplement to regression analysis. *Journal of Business and Psychology, 26*, 1-9.
    """
    where = f"relative_weights of '{outcome}'"
    _check_options(bootstrap, ci, where)
    values, names = _complete_matrix(data, outcome, predictors, where=where)
    p = len(names)
    estimate = _relative_weights_of(_correlation_matrix(values), p)[0]
    draws = None
    if bootstrap:
        with limit_blas_threads():
            corr, usable = _bootstrap_stack(values, bootstrap, seed, p)
            draws = _relative_weights_of(corr, p)
        draws[~usable] = np.nan
    return _result(
        "relative_weights", outcome, names, len(values), estimate, draws,
        bootstrap=bootstrap, ci=ci, approximation="eigen",
    )


def shapley(
    data: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    bootstrap: int = 0,
    seed: int | None = None,
    ci: float = 0.95,
    exact_max: int = EXACT_SHAPLEY_MAX,
    n_permutations: int = DEFAULT_PERMUTATIONS,
) -> DriverResult:
    """Shapley (LMG) decomposition of R^2 (Lindeman, Merenda & Gold 1980).

    Parameters
    ----------
    data
        One row per respondent (or per unit).
    outcome, predictors
        Numeric columns; rows missing any of them are dropped (listwise).
    bootstrap
        Nonparametric bootstrap draws (0: none), vectorised as in
        :func:`relative_weights`.
    seed
        Seed of the bootstrap and of the sampled orders of entry.
    ci
        Confidence level of the percentile intervals.
    exact_max
        Exact all-subsets computation up to this many predictors (default 12).
    n_permutations
        Random orders of entry beyond ``exact_max``.

    Returns
    -------
    DriverResult
        ``approximation`` ``"exact"`` or ``"permutation"``; the values sum to R^2
        (exactly also when sampled: every order of entry distributes all of R^2).

    Raises
    ------
    DataError
        As :func:`relative_weights`.

    Notes
    -----
    With ``R^2(S)`` the R^2 of the regression on the subset S of the p predictors,
    ``R^2(S) = r_S' R_SS^-1 r_S`` from the correlation matrix::

        LMG_j = sum_{S not containing j} |S|! (p - |S| - 1)! / p! * (R^2(S + j) - R^2(S))

    the average over all p! orders of entry of the gain in R^2 when j enters. Up to
    ``exact_max`` predictors every subset's R^2 is computed (batched solves by subset
    size, once per subset, over all bootstrap draws at once). Beyond, the mean
    gain over ``n_permutations`` random orders (sampling of Castro, Gómez & Tejada
    2009): for one order the gain of the k-th predictor entered is ``z_k^2`` with
    ``z = L^-1 r_xy`` and L the Cholesky factor of the reordered ``R_xx``; ``mc_error``
    is the standard deviation of a predictor's gains over the orders divided by
    sqrt(n_permutations). R: ``relaimpo::calc.relimp(type = "lmg")`` (Grömping 2006).

    References
    ----------
    Lindeman, R. H., Merenda, P. F., & Gold, R. Z. (1980). *Introduction to bivariate
    and multivariate analysis*. Scott, Foresman.
    Grömping, U. (2006). Relative importance for linear regression in R: The package
    relaimpo. *Journal of Statistical Software, 17*(1), 1-27.
    Castro, J., Gómez, D., & Tejada, J. (2009). Polynomial calculation of the Shapley
    value based on sampling. *Computers & Operations Research, 36*, 1726-1730.
    """
    where = f"shapley of '{outcome}'"
    _check_options(bootstrap, ci, where)
    if int(n_permutations) != n_permutations or n_permutations < 2:
        raise DataError(
            f"n_permutations must be a whole number >= 2, got {n_permutations}.", where=where, fix="e.g. 2000."
        )
    values, names = _complete_matrix(data, outcome, predictors, where=where)
    p = len(names)
    rng = np.random.default_rng(seed)
    exact = p <= exact_max
    orders = None if exact else rng.permuted(np.tile(np.arange(p), (n_permutations, 1)), axis=1)

    def decompose(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if exact:
            return _exact_shapley(corr, p), None
        return _sampled_shapley(corr, p, orders)

    draws = None
    with limit_blas_threads():
        estimate, mc_error = decompose(_correlation_matrix(values))
        if bootstrap:
            corr, usable = _bootstrap_stack(values, bootstrap, rng, p)
            draws = decompose(corr)[0]
            draws[~usable] = np.nan
    return _result(
        "shapley",
        outcome,
        names,
        len(values),
        estimate[0],
        draws,
        bootstrap=bootstrap,
        ci=ci,
        approximation="exact" if exact else "permutation",
        n_permutations=0 if exact else int(n_permutations),
        mc_error=None if mc_error is None else mc_error[0],
    )
