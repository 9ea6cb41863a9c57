"""Polychoric and polyserial correlations: Likert items treated as ordinal.

A five-point answer is a coarse reading of a continuous latent response: category
:math:`c` is given when the latent :math:`y^*` lies between the thresholds
:math:`\\tau_{c-1}` and :math:`\\tau_c`. The polychoric correlation is the correlation
of two such latent normals, the polyserial correlation that of a latent normal and
an observed continuous variable. Both are estimated by lavaan's two-step estimator
(``lavaan::lavCor(x, ordered = ...)``):

1. the thresholds of each item from its own marginal proportions,
   :math:`\\tau_c = \\Phi^{-1}(P(y \\le c))`;
2. each correlation by maximum likelihood on the pair's bivariate table (or rows)
   with those thresholds fixed.

:func:`polychoric` gives the whole matrix of an item set (polychoric between ordered
items, polyserial between an ordered and a continuous one, the normal-theory ML
correlation, i.e. Pearson, between continuous ones), thresholds per item and n per
pair. :func:`bivariate_normal_cdf` is the vectorised bivariate normal distribution
function it uses (Genz 2004, after Drezner & Wesolowsky 1990; double precision).

The numbers equal lavaan 0.6.14's ``lavCor`` (``tests/reference``, kind ``polychoric``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.bivariate_normal import BivariateGrid, bivariate_normal_cdf, bivariate_normal_pdf
from analysis.errors import DataError
from analysis.polychoric_se import standard_errors
from analysis.scoring import numeric_items

__all__ = [
    "DEFAULT_MAX_CATEGORIES",
    "PolychoricResult",
    "PolyserialResult",
    "bivariate_normal_cdf",
    "bivariate_normal_pdf",
    "ordinal_thresholds",
    "polychoric",
    "polyserial",
]

#: Most distinct values an ordered item may have before :func:`polychoric` refuses it.
DEFAULT_MAX_CATEGORIES = 15

#: lavaan's bounds of the polychoric (nlminb, +-0.999) and polyserial (+-0.995) correlation.
POLYCHORIC_BOUND = 0.999
POLYSERIAL_BOUND = 0.995

# --------------------------------------------------------------------------- checks and thresholds


def _ordinal_codes(values: np.ndarray, name: str, *, where: str, max_categories: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Category codes 0..K-1 (-1 for missing) and the observed category values, checked."""
    present = ~np.isnan(values)
    observed = values[present]
    if not np.all(np.isfinite(observed)):
        raise DataError(f"ordered item {name!r} holds an infinite value", where=where,
                        fix="code the answers as integer category values and leave missing answers empty")
    fractional = observed != np.round(observed)
    if fractional.any():
        examples = ", ".join(repr(float(v)) for v in pd.unique(observed[fractional])[:3])
        raise DataError(
            f"ordered item {name!r} holds non-integer values (e.g. {examples}); an ordered item's answers "
            "must be integer category codes",
            where=where,
            fix="recode the answers to integer categories (e.g. 1..5), or leave the item out of ordered= "
                "to treat it as continuous",
        )
    levels, inverse = np.unique(observed, return_inverse=True)
    if len(levels) < 2:
        raise DataError(
            f"ordered item {name!r} has only one category ({levels[0]:g}) among its answers, so it has no "
            "threshold and no correlation",
            where=where,
            fix="drop the item from the analysis (everyone gave the same answer)",
        )
    if len(levels) > max_categories:
        raise DataError(
            f"item {name!r} is declared ordered but has {len(levels)} distinct values, more than "
            f"max_categories={max_categories}",
            where=where,
            fix="treat it as continuous (leave it out of ordered=), recode it into fewer categories, or raise "
                "max_categories= if it really is an ordinal item",
        )
    codes = np.full(values.shape, -1, dtype=np.int64)
    codes[present] = inverse
    return codes, levels


def _thresholds_from_counts(counts: np.ndarray) -> np.ndarray:
    """qnorm of the cumulative marginal proportions (the first K-1)."""
    return special.ndtri(np.cumsum(counts)[:-1] / counts.sum())


def ordinal_thresholds(values: Sequence[float] | pd.Series | np.ndarray, *,
                       max_categories: int = DEFAULT_MAX_CATEGORIES) -> pd.Series:
    """Thresholds of one ordinal item from its marginal proportions (missing answers ignored).

    Returns
    -------
    pandas.Series
        :math:`\\tau_c = \\Phi^{-1}(P(y \\le c))`, indexed by the category values below each
        threshold (lavaan's ``y|t1``, ``y|t2``, ... in order).
    """
    array = np.asarray(values, dtype=float)
    codes, levels = _ordinal_codes(array, "values", where="ordinal_thresholds", max_categories=max_categories)
    counts = np.bincount(codes[codes >= 0], minlength=len(levels)).astype(float)
    return pd.Series(_thresholds_from_counts(counts), index=pd.Index(levels[:-1], name="category"),
                     name="threshold")


# --------------------------------------------------------------------------- polychoric (vectorised)


def _pair_tables(codes: np.ndarray, k: np.ndarray, pairs: np.ndarray, k_max: int) -> np.ndarray:
    """Bivariate tables (P, k_max, k_max) of the pairs, over the rows where both are present."""
    tables = np.zeros((len(pairs), k_max * k_max), dtype=np.int64)
    size = k_max * k_max
    for i in np.unique(pairs[:, 0]):
        rows = np.flatnonzero(pairs[:, 0] == i)
        partners = pairs[rows, 1]
        first = codes[:, i][:, None]
        second = codes[:, partners]
        cell = first * k_max + second + (np.arange(len(rows)) * size)[None, :]
        cell = np.where((first >= 0) & (second >= 0), cell, len(rows) * size)
        tables[rows] = np.bincount(cell.ravel(), minlength=len(rows) * size + 1)[:-1].reshape(len(rows), size)
    return tables.reshape(len(pairs), k_max, k_max)


def _fit_polychoric(tables: np.ndarray, ext_a: np.ndarray, ext_b: np.ndarray, start: np.ndarray,
                    *, bound: float = POLYCHORIC_BOUND, tol: float = 1e-10, max_iter: int = 100
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximise every pair's bivariate-table log-likelihood in rho (thresholds fixed).

    A safeguarded Newton iteration for all pairs at once: the sign of the score keeps a
    bracket [lo, hi] around the maximum; a Newton step that leaves the bracket (or a
    non-negative curvature) is replaced by bisection. Returns rho, whether it is at a
    bound of [-bound, bound], and whether the iteration stopped before converging.
    """
    grid = BivariateGrid(ext_a, ext_b)
    counts = tables.astype(float)
    observed = counts > 0
    n_pairs = tables.shape[0]
    rho = np.clip(start, -0.9 * bound, 0.9 * bound)
    lo = np.full(n_pairs, -bound)
    hi = np.full(n_pairs, bound)
    active = np.ones(n_pairs, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        sub = grid if len(idx) == n_pairs else grid.subset(idx)
        prob, dp, d2p = sub.cell_terms(rho[idx])
        n = counts[idx]
        obs = observed[idx]
        safe = np.where(obs, np.maximum(prob, 1e-300), 1.0)
        score = np.where(obs, n * dp / safe, 0.0).sum(axis=(1, 2))
        curvature = np.where(obs, n * (d2p / safe - (dp / safe) ** 2), 0.0).sum(axis=(1, 2))
        r = rho[idx]
        up = score > 0
        lo[idx] = np.where(up, r, lo[idx])
        hi[idx] = np.where(up, hi[idx], r)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = r - score / curvature
        ok = (curvature < 0) & (newton > lo[idx]) & (newton < hi[idx])
        new = np.where(ok, newton, (lo[idx] + hi[idx]) / 2.0)
        step = np.abs(new - r)
        rho[idx] = new
        done = (step < tol) | (hi[idx] - lo[idx] < tol)
        active[idx[done]] = False
    # A table whose empty cells leave no interior maximum has a likelihood that rises (or
    # is flat to machine precision) towards +-1: report the bound, as lavaan's nlminb does.
    edge = np.where(rho >= 0, bound, -bound)
    at_bound = (np.abs(rho) > bound - 1e-6) | (_loglik(grid, counts, edge) >= _loglik(grid, counts, rho) - 1e-9)
    rho = np.where(at_bound, edge, rho)
    return rho, at_bound, active & ~at_bound


def _loglik(grid: BivariateGrid, counts: np.ndarray, rho: np.ndarray) -> np.ndarray:
    prob, _, _ = grid.cell_terms(rho, derivatives=False)
    observed = counts > 0
    return np.where(observed, counts * np.log(np.where(observed, np.maximum(prob, 1e-300), 1.0)), 0.0).sum(axis=(1, 2))


# --------------------------------------------------------------------------- polyserial and pearson


def _polyserial_rho(z: np.ndarray, codes: np.ndarray, ext: np.ndarray) -> float:
    """Two-step polyserial ML: z standardized, codes 0..K-1, ext = [-inf, t1.., +inf]."""
    upper, lower = ext[codes + 1], ext[codes]

    def negloglik(rho: float) -> float:
        s = math.sqrt(1.0 - rho * rho)
        p = special.ndtr((upper - rho * z) / s) - special.ndtr((lower - rho * z) / s)
        return -float(np.log(np.maximum(p, 1e-300)).sum())

    res = optimize.minimize_scalar(negloglik, bounds=(-POLYSERIAL_BOUND, POLYSERIAL_BOUND), method="bounded",
                                   options={"xatol": 1e-10})
    return float(res.x)


def _normal_rho(z1: np.ndarray, z2: np.ndarray) -> float:
    """ML correlation of two standardized normals with means and variances fixed (Pearson on complete data)."""
    n, s12, s_sq = len(z1), float(z1 @ z2), float(z1 @ z1 + z2 @ z2)
    # score: n rho (1 - rho^2) + (1 + rho^2) s12 - rho s_sq = 0, a cubic with one root in (-1, 1)
    roots = np.roots([-n, s12, n - s_sq, s12])
    real = roots[np.abs(roots.imag) < 1e-9].real
    real = real[np.abs(real) < 1.0]
    if not len(real):
        return float(np.clip(s12 / math.sqrt(float(z1 @ z1) * float(z2 @ z2)), -1.0, 1.0))

    def loglik(rho: float) -> float:
        return -n / 2.0 * math.log(1.0 - rho * rho) - (s_sq - 2.0 * rho * s12) / (2.0 * (1.0 - rho * rho))

    return float(max(real, key=loglik))


def _standardize(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    mean = values[present].mean()
    sd = values[present].std()  # ML (N denominator), as lavaan's univariate step
    return (values - mean) / sd


# --------------------------------------------------------------------------- result and entry points


@dataclass(frozen=True)
class PolychoricResult:
    """Polychoric (and polyserial) correlation matrix of an item set, with thresholds.

    Attributes
    ----------
    correlation
        Items x items correlation matrix (1 on the diagonal).
    thresholds
        Ordered item -> its thresholds, ascending (lavaan's ``item|t1``, ``item|t2``, ...).
    categories
        Ordered item -> its observed category values (one more than thresholds).
    n
        Items x items: cases answering both (the diagonal: cases answering the item).
    empty_cells
        Items x items: empty cells of the pair's bivariate table (0 for pairs with a
        continuous variable). Empty cells are not corrected, as in lavaan.
    ordered
        The items treated as ordinal; the others are continuous.
    missing
        ``"pairwise"`` or ``"listwise"``.
    n_rows, n_dropped
        Rows given and rows dropped by listwise deletion (0 under ``"pairwise"``).
    at_bound
        Pairs ``(item1, item2)`` whose estimate stopped at lavaan's bound (+-0.999), or is
        +-1 for a 2x2 table with two empty cells: the table cannot place the correlation.
    warnings
        Human-readable notes (estimates at a bound, an estimate that did not converge).
    se
        With ``se=True``: items x items standard errors of the correlations (NaN on the
        diagonal and for a correlation fixed at +-1), as ``lavCor(..., se = "standard")``.
    threshold_se
        With ``se=True``: item -> standard errors of its thresholds.
    gamma
        With ``gamma=True``: lavaan's ``NACOV`` (``lavInspect(fit, "gamma")``), N times the
        asymptotic covariance matrix of the thresholds (item by item, ``item|t1`` ...) and the
        correlations (``a~~b`` in lavaan's order: by the first item, then the second), the
        weight matrix of WLS/DWLS estimation of categorical models.
    """

    correlation: pd.DataFrame
    thresholds: dict[str, tuple[float, ...]]
    categories: dict[str, tuple[float, ...]]
    n: pd.DataFrame
    empty_cells: pd.DataFrame
    ordered: tuple[str, ...]
    missing: str
    n_rows: int
    n_dropped: int
    at_bound: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=())
    se: pd.DataFrame | None = None
    threshold_se: dict[str, tuple[float, ...]] | None = None
    gamma: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per pair (upper triangle): item1, item2, kind, r, se (NaN unless ``se=True``), n,
        empty_cells, at_bound."""
        names = list(self.correlation.columns)
        bound = set(self.at_bound)
        ordered = set(self.ordered)
        rows = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                kinds = (a in ordered) + (b in ordered)
                rows.append({
                    "item1": a, "item2": b, "kind": ("pearson", "polyserial", "polychoric")[kinds],
                    "r": float(self.correlation.loc[a, b]),
                    "se": float(self.se.loc[a, b]) if self.se is not None else float("nan"),
                    "n": int(self.n.loc[a, b]),
                    "empty_cells": int(self.empty_cells.loc[a, b]), "at_bound": (a, b) in bound,
                })
        return pd.DataFrame(rows, columns=["item1", "item2", "kind", "r", "se", "n", "empty_cells", "at_bound"])

    def thresholds_frame(self) -> pd.DataFrame:
        """One row per threshold: item, threshold (``t1`` ...), category (the value below it), value, se."""
        nan = float("nan")
        rows = [{"item": item, "threshold": f"t{j + 1}", "category": self.categories[item][j], "value": value,
                 "se": self.threshold_se[item][j] if self.threshold_se is not None else nan}
                for item, values in self.thresholds.items() for j, value in enumerate(values)]
        return pd.DataFrame(rows, columns=["item", "threshold", "category", "value", "se"])


def polychoric(
    data: pd.DataFrame,
    items: Sequence[str] | None = None,
    *,
    ordered: Sequence[str] | None = None,
    missing: str = "pairwise",
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    zero_add_2x2: float = 0.5,
    se: bool = False,
    gamma: bool = False,
) -> PolychoricResult:
    """Polychoric correlation matrix of ordinal items (polyserial with continuous ones).

    Parameters
    ----------
    data
        One row per case; item answers as integer category codes (1..5), missing
        answers as NaN.
    items
        The columns to correlate (default: every column of ``data``).
    ordered
        The items that are ordinal (default: all of ``items``). Other items are
        continuous: an ordered-continuous pair gets the polyserial correlation, a
        continuous pair the normal-theory ML correlation (Pearson on complete data).
    missing
        ``"pairwise"`` (default): each item's thresholds (or mean and variance) from the
        cases answering it, each correlation from the cases answering both (``n`` per
        pair); ``"listwise"``: only cases answering every item (lavaan's default).
    max_categories
        Most distinct values an ordered item may have (default 15); above it the item
        is refused, since it is better treated as continuous.
    zero_add_2x2
        Added to the empty cell of a 2x2 table with exactly one empty cell, keeping the
        margins: lavaan's default ``zero.add = c(0.5, 0)``, so binary items get lavaan's
        numbers. 0 gives no correction in any table, like ``psych::polychoric(correct = 0)``;
        larger tables are never corrected (lavaan's second element, 0).
    se
        Also compute standard errors of the thresholds and polychoric correlations
        (all items ordered, complete data), as ``lavCor(x, ordered = ..., se = "standard")``.
    gamma
        Also compute lavaan's asymptotic covariance matrix ``NACOV`` of thresholds and
        correlations (same conditions; an N x (thresholds + pairs) score matrix is formed).

    Returns
    -------
    PolychoricResult

    Raises
    ------
    DataError
        A missing or text column (as :func:`analysis.scoring.numeric_items`); an ordered
        item with non-integer values, with only one category, or with more than
        ``max_categories`` categories; a pair answered together by fewer than 3 cases;
        fewer than 2 items.

    Notes
    -----
    Two-step estimator (lavaan's ``lavCor``; Olsson 1979): with the thresholds
    :math:`a_i = \\Phi^{-1}(\\sum_{c \\le i} n_{c\\cdot}/n)` and :math:`b_j` fixed
    (:math:`a_0 = b_0 = -\\infty`, the last ones :math:`+\\infty`), :math:`\\rho` maximises

    .. math:: \\ell(\\rho) = \\sum_{i,j} n_{ij} \\log\\big[\\Phi_2(a_i, b_j; \\rho) - \\Phi_2(a_{i-1}, b_j; \\rho)
              - \\Phi_2(a_i, b_{j-1}; \\rho) + \\Phi_2(a_{i-1}, b_{j-1}; \\rho)\\big]

    over :math:`[-0.999, 0.999]`, by a safeguarded Newton iteration for all pairs at once
    (analytic score and curvature, :math:`\\partial\\Phi_2/\\partial\\rho = \\phi_2`). Empty
    cells are not corrected (lavaan corrects only a 2x2 table with one empty cell,
    see ``zero_add_2x2``); a table whose empty cells leave no interior maximum gives
    the bound, listed in ``at_bound``. A 2x2 table with two empty cells gives +-1 (as
    lavaan). The categories of an item are the values observed (a five-point item
    nobody answered with 1 has four categories and three thresholds).

    The polyserial correlation (Olsson, Drasgow & Dorans 1982, two-step) of a
    continuous :math:`x` (standardized with its ML mean and variance to :math:`z`) and
    an ordinal :math:`y` maximises
    :math:`\\sum_r \\log[\\Phi((\\tau_{y_r} - \\rho z_r)/\\sqrt{1-\\rho^2}) -
    \\Phi((\\tau_{y_r - 1} - \\rho z_r)/\\sqrt{1-\\rho^2})]` over :math:`[-0.995, 0.995]`.

    Standard errors (``se=True``) follow lavaan (Muthén 1984): the two-step estimates are
    linearised in the case-wise scores of the thresholds and correlations, with the
    Hessians replaced by the scores' cross-products (the information identity); the
    thresholds' uncertainty enters each correlation's error. The covariance is the
    scores' cross-product of that linearisation, times :math:`N/(N-1)` for the standard
    errors (lavaan's convention); ``gamma`` is :math:`N` times the covariance.

    References
    ----------
    Muthén, B. (1984). A general structural equation model with dichotomous, ordered
    categorical, and continuous latent variable indicators. *Psychometrika*, 49, 115-132.
    Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
    coefficient. *Psychometrika*, 44, 443-460.
    Olsson, U., Drasgow, F., & Dorans, N. J. (1982). The polyserial correlation
    coefficient. *Psychometrika*, 47, 337-347.
    """
    where = "polychoric"
    if missing not in ("pairwise", "listwise"):
        raise DataError(f"missing must be 'pairwise' or 'listwise', got {missing!r}", where=where,
                        fix="use missing='pairwise' (default) or missing='listwise'")
    if not isinstance(max_categories, int) or max_categories < 2:
        raise DataError(f"max_categories must be an integer of at least 2, got {max_categories!r}", where=where,
                        fix="use e.g. max_categories=15")
    frame = numeric_items(data, items, where=where)
    names = [str(c) for c in frame.columns]
    if len(names) < 2:
        raise DataError(f"needs at least 2 items, got {len(names)}", where=where,
                        fix="pass a frame with one column per item")
    ordered_names = names if ordered is None else [str(c) for c in ordered]
    unknown = [c for c in ordered_names if c not in names]
    if unknown:
        raise DataError(f"ordered item(s) {', '.join(map(repr, unknown))} are not among the items", where=where,
                        fix="list in ordered= only columns that are analysed")
    n_rows = len(frame)
    n_dropped = 0
    if missing == "listwise":
        complete = frame.dropna()
        n_dropped = n_rows - len(complete)
        frame = complete
    values = frame.to_numpy(dtype=float)
    p = len(names)
    is_ordered = np.array([c in set(ordered_names) for c in names])
    if (se or gamma) and not is_ordered.all():
        raise DataError("standard errors and gamma are implemented for polychoric correlations only", where=where,
                        fix="pass only ordered items (ordered=None) with se=True or gamma=True")
    if (se or gamma) and np.isnan(values).any():
        raise DataError("standard errors and gamma need complete data, but some answers are missing", where=where,
                        fix="use missing='listwise' with se=True or gamma=True")
    codes = np.full(values.shape, -1, dtype=np.int64)
    levels: dict[str, np.ndarray] = {}
    thresholds: dict[str, np.ndarray] = {}
    n_levels = np.zeros(p, dtype=np.int64)
    for j, name in enumerate(names):
        if is_ordered[j]:
            codes[:, j], levels[name] = _ordinal_codes(values[:, j], name, where=where,
                                                       max_categories=max_categories)
            n_levels[j] = len(levels[name])
            counts = np.bincount(codes[codes[:, j] >= 0, j], minlength=n_levels[j]).astype(float)
            thresholds[name] = _thresholds_from_counts(counts)
        else:
            column = values[:, j]
            present = column[~np.isnan(column)]
            if len(present) < 3 or np.ptp(present) == 0:
                raise DataError(f"continuous item {name!r} is constant or has fewer than 3 answers", where=where,
                                fix="drop the item from the analysis")
    present = ~np.isnan(values)
    n_pair = present.T.astype(np.int64) @ present.astype(np.int64)
    low = [(names[i], names[j]) for i in range(p) for j in range(i + 1, p) if n_pair[i, j] < 3]
    if low:
        a, b = low[0]
        raise DataError(
            f"items {a!r} and {b!r} are answered together by only {n_pair[names.index(a), names.index(b)]} "
            f"case(s){' (and ' + str(len(low) - 1) + ' more pairs)' if len(low) > 1 else ''}; a correlation "
            "needs at least 3",
            where=where,
            fix="collect more responses or leave one of the items out",
        )
    corr = np.eye(p)
    empty = np.zeros((p, p), dtype=np.int64)
    bound_pairs: list[tuple[str, str]] = []
    notes: list[str] = []

    # polychoric pairs, all at once
    ord_idx = np.flatnonzero(is_ordered)
    pairs = np.array([(i, j) for x, i in enumerate(ord_idx) for j in ord_idx[x + 1:]], dtype=np.int64)
    if len(pairs):
        k_max = int(n_levels[ord_idx].max())
        tables = _pair_tables(codes, n_levels, pairs, k_max)
        ext = np.full((p, k_max + 1), np.inf)
        ext[:, 0] = -np.inf
        for j in ord_idx:
            ext[j, 1:n_levels[j]] = thresholds[names[j]]
        ka, kb = n_levels[pairs[:, 0]], n_levels[pairs[:, 1]]
        inside = (np.arange(k_max)[None, :, None] < ka[:, None, None]) & (np.arange(k_max)[None, None, :]
                                                                         < kb[:, None, None])
        n_empty = ((tables == 0) & inside).sum(axis=(1, 2))
        empty[pairs[:, 0], pairs[:, 1]] = empty[pairs[:, 1], pairs[:, 0]] = n_empty
        counts = tables.astype(float)
        special_rho = np.full(len(pairs), np.nan)
        for x in np.flatnonzero((ka == 2) & (kb == 2) & (n_empty > 0)):
            t = counts[x, :2, :2]
            if n_empty[x] == 2:  # lavaan: +1 if the first cell is filled, else -1
                special_rho[x] = 1.0 if t[0, 0] > 0 else -1.0
            elif n_empty[x] == 1 and zero_add_2x2 > 0:
                sign = 1.0 if (t[0, 0] == 0 or t[1, 1] == 0) else -1.0
                t += zero_add_2x2 * sign * np.array([[1.0, -1.0], [-1.0, 1.0]])
        start = _table_pearson(counts)
        rho, hit, unconverged = _fit_polychoric(counts, ext[pairs[:, 0]], ext[pairs[:, 1]], start)
        fixed = ~np.isnan(special_rho)
        rho = np.where(fixed, special_rho, rho)
        hit = hit | fixed
        corr[pairs[:, 0], pairs[:, 1]] = corr[pairs[:, 1], pairs[:, 0]] = rho
        for x in np.flatnonzero(hit):
            a, b = names[pairs[x, 0]], names[pairs[x, 1]]
            bound_pairs.append((a, b))
            notes.append(f"the polychoric correlation of {a!r} and {b!r} is at the bound ({rho[x]:+.3f}): "
                         f"{n_empty[x]} empty cell(s) in their table leave no interior maximum")
        for x in np.flatnonzero(unconverged & ~fixed):
            notes.append(f"the polychoric correlation of {names[pairs[x, 0]]!r} and {names[pairs[x, 1]]!r} did not "
                         "converge in 100 iterations; its estimate is not trustworthy")
        if se or gamma:
            errors = standard_errors(names, codes, n_levels, thresholds, tables, ext, pairs, rho, fixed,
                                      k_max, with_gamma=gamma)

    # pairs with a continuous variable
    standardized = {j: _standardize(values[:, j]) for j in range(p) if not is_ordered[j]}
    for i in range(p):
        for j in range(i + 1, p):
            if is_ordered[i] and is_ordered[j]:
                continue
            both = present[:, i] & present[:, j]
            if is_ordered[i] or is_ordered[j]:
                o, c = (i, j) if is_ordered[i] else (j, i)
                ext_o = np.concatenate([[-np.inf], thresholds[names[o]], [np.inf]])
                r = _polyserial_rho(standardized[c][both], codes[both, o], ext_o)
            else:
                r = _normal_rho(standardized[i][both], standardized[j][both])
            corr[i, j] = corr[j, i] = r
    index = pd.Index(names, name="item")
    return PolychoricResult(
        correlation=pd.DataFrame(corr, index=index, columns=names),
        thresholds={n: tuple(float(v) for v in t) for n, t in thresholds.items()},
        categories={n: tuple(float(v) for v in lv) for n, lv in levels.items()},
        n=pd.DataFrame(n_pair, index=index, columns=names),
        empty_cells=pd.DataFrame(empty, index=index, columns=names),
        ordered=tuple(n for n in names if n in set(ordered_names)),
        missing=missing,
        n_rows=int(n_rows),
        n_dropped=int(n_dropped),
        at_bound=tuple(bound_pairs),
        warnings=tuple(notes),
        se=errors["se"] if se else None,
        threshold_se=errors["threshold_se"] if se else None,
        gamma=errors["gamma"] if gamma else None,
    )


def _table_pearson(tables: np.ndarray) -> np.ndarray:
    """Pearson correlation of the category codes of every table (the starting value, as lavaan)."""
    k = tables.shape[1]
    codes = np.arange(k, dtype=float)
    n = tables.sum(axis=(1, 2))
    row, col = tables.sum(axis=2), tables.sum(axis=1)
    mx, my = row @ codes / n, col @ codes / n
    vx = row @ codes**2 / n - mx**2
    vy = col @ codes**2 / n - my**2
    cxy = np.einsum("pij,i,j->p", tables, codes, codes) / n - mx * my
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cxy / np.sqrt(vx * vy)
    return np.nan_to_num(r, nan=0.0)


@dataclass(frozen=True)
class PolyserialResult:
    """Polyserial correlation of a continuous and an ordinal variable.

    Attributes
    ----------
    rho
        The correlation of the continuous variable with the ordinal one's latent response.
    thresholds
        The ordinal variable's thresholds (from its marginal proportions).
    n
        Cases with both values.
    """

    rho: float
    thresholds: tuple[float, ...]
    n: int

    def to_frame(self) -> pd.DataFrame:
        """One row: rho, n, thresholds (a tuple)."""
        return pd.DataFrame([{"rho": self.rho, "n": self.n, "thresholds": self.thresholds}])


def polyserial(continuous: Sequence[float] | pd.Series | np.ndarray,
               ordinal: Sequence[float] | pd.Series | np.ndarray, *,
               max_categories: int = DEFAULT_MAX_CATEGORIES) -> PolyserialResult:
    """Two-step polyserial correlation (Olsson, Drasgow & Dorans 1982), as lavaan's ``lavCor``.

    The continuous variable is standardized with its ML mean and variance, the ordinal
    one's thresholds come from its marginal proportions (each over its own answers),
    and :math:`\\rho` is the ML estimate over the cases with both values (see
    :func:`polychoric` for the likelihood).
    """
    x = np.asarray(continuous, dtype=float)
    y = np.asarray(ordinal, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"the two variables must be one-dimensional and of equal length, got {x.shape} and "
                        f"{y.shape}", where="polyserial", fix="pass two columns of the same frame")
    frame = pd.DataFrame({"continuous": x, "ordinal": y})
    result = polychoric(frame, ordered=["ordinal"], max_categories=max_categories)
    return PolyserialResult(float(result.correlation.loc["continuous", "ordinal"]),
                            result.thresholds["ordinal"], int(result.n.loc["continuous", "ordinal"]))
