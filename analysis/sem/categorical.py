"""Sample statistics of ordinal indicators for WLSMV: thresholds, polychoric correlations,
their asymptotic covariance (NACOV, ``Gamma``) and the DWLS weights.

lavaan's ``lav_samplestats`` with ``ordered = ...`` (``estimator = "WLSMV"``), per group:

* the thresholds of every ordered variable (``qnorm`` of the cumulative proportions) and
  the polychoric correlations, by the two-step estimator of :func:`analysis.polychoric.polychoric`
  (lavaan's ``lavCor``), on the complete cases (listwise deletion, lavaan's default for
  categorical data);
* ``Gamma`` = lavaan's ``NACOV``: N times the asymptotic covariance matrix of the vector
  ``s = (thresholds, vech_offdiag(R))`` (Muthén 1984; :mod:`analysis.polychoric_se`);
* the DWLS weight matrix ``W = diag(Gamma)^-1`` (lavaan ``WLS.VD``: only the diagonal of
  ``Gamma`` is inverted, Muthén, du Toit & Spisic 1997).

Thresholds come item by item (``x1|t1, x1|t2, ..., x2|t1 ...``) in the model's order of the
observed variables, the correlations in lavaan's order (``vech`` of the lower triangle
without the diagonal: by the first variable, then the second).

References
----------
Muthén, B. (1984). A general structural equation model with dichotomous, ordered
categorical, and continuous latent variable indicators. *Psychometrika*, 49, 115-132.
Muthén, B., du Toit, S. H. C., & Spisic, D. (1997). Robust inference using weighted least
squares and quadratic estimating equations in latent variable modeling with categorical and
continuous outcomes. Unpublished technical report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import DataError, ModelSpecificationError
from analysis.polychoric import DEFAULT_MAX_CATEGORIES, polychoric
from analysis.sem.mixed_gamma import mixed_statistics
from analysis.sem.samplestats import GroupStats


@dataclass(frozen=True)
class OrdinalStats:
    """One group's WLS sample statistics of ordinal indicators.

    Attributes
    ----------
    n
        Complete cases.
    thresholds
        Variable -> its sample thresholds (ascending).
    correlation
        The polychoric correlation matrix (p x p, model order of the variables).
    s
        The statistics vector: thresholds, then ``vech_offdiag(correlation)``.
    gamma
        lavaan's NACOV of ``s`` (N times its asymptotic covariance).
    weights
        The DWLS weights ``1 / diag(gamma)``.
    n_thresholds
        Number of thresholds.
    warnings
        Notes of the polychoric step (empty cells, estimates at a bound).
    numeric
        Indices (model order) of the continuous variables.
    cov
        The correlation matrix rescaled by the continuous variables' SDs (lavaan's sample
        ``cov`` of categorical data; the correlation matrix when all are ordered).
    mean
        Means of the continuous variables (0 for the ordered ones).

    With continuous variables ``s`` is lavaan's (thresholds of an ordered variable or the
    mean of a continuous one, in variable order; the continuous variances; then
    ``vech_offdiag(cov)``), with ``gamma`` from :mod:`analysis.sem.mixed_gamma`.
    """

    n: int
    thresholds: dict[str, tuple[float, ...]]
    correlation: np.ndarray
    s: np.ndarray
    gamma: np.ndarray
    weights: np.ndarray
    n_thresholds: int
    warnings: tuple[str, ...] = ()
    numeric: tuple[int, ...] = ()
    cov: np.ndarray | None = None
    mean: np.ndarray | None = None

    @property
    def n_univariate(self) -> int:
        """Entries of ``s`` before the covariances: thresholds, means and variances."""
        return self.n_thresholds + 2 * len(self.numeric)

    @property
    def moments(self) -> GroupStats:
        """The group as :class:`GroupStats` with lavaan's sample ``cov`` (the polychoric
        matrix when all are ordered) and means (0 for ordered variables): what start values
        read."""
        p = self.correlation.shape[0]
        cov = self.correlation if self.cov is None else self.cov
        mean = np.zeros(p) if self.mean is None else self.mean
        return GroupStats(self.n, mean, cov, np.empty((0, p)))


def check_ordered(ordered: Sequence[str], ov: list[str], *, where: str = "fit(ordered=...)") -> tuple[str, ...]:
    """The ordered variables of a model (in model order), checked: every name a variable of
    the model; the others are continuous.

    Raises
    ------
    ModelSpecificationError
        An unknown name, or none.
    """
    if isinstance(ordered, str):
        ordered = (ordered,)
    names = tuple(dict.fromkeys(str(v) for v in ordered))
    unknown = [v for v in names if v not in ov]
    if unknown:
        raise ModelSpecificationError(f"ordered variable(s) {', '.join(map(repr, unknown))} are not observed "
                                      "variables of the model", where=where,
                                      fix="list in ordered= only indicators named in the model syntax")
    if not names:
        raise ModelSpecificationError("ordered= names no variable", where=where,
                                      fix="list the ordinal indicators, e.g. ordered=['x1', 'x2']")
    return tuple(v for v in ov if v in names)


def ordinal_stats(group: GroupStats, ov: list[str], *, label: str = "", ordered: Sequence[str] | None = None,
                  max_categories: int = DEFAULT_MAX_CATEGORIES) -> OrdinalStats:
    """The WLS statistics of one group's complete cases (``group.raw``); ``ordered`` (default
    all) the ordinal variables, the others continuous.

    Raises
    ------
    DataError
        From the polychoric step, with the group named: an item with one category, a
        non-integer value, more than ``max_categories`` categories (lavaan would treat such
        a variable as continuous: leave it out of ``ordered=`` once mixed models exist, or
        recode it).
    """
    frame = pd.DataFrame(group.raw, columns=ov)
    ordered = list(ov) if ordered is None else [v for v in ov if v in set(ordered)]
    mixed = len(ordered) < len(ov)
    try:
        poly = polychoric(frame, ov, ordered=ordered, missing="listwise", max_categories=max_categories,
                          gamma=not mixed)
    except DataError as err:
        where = f"fit(ordered=...), group '{label}'" if label else "fit(ordered=...)"
        raise DataError(err.what, where=f"{where} ({err.where})" if err.where else where, fix=err.fix) from None
    corr = poly.correlation.to_numpy()
    p = len(ov)
    iu = np.triu_indices(p, 1)  # (0,1), (0,2), ...: lavaan's vech order of the lower triangle
    taus = [np.asarray(poly.thresholds[v]) for v in ordered]
    numeric, cov, mean = (), None, None
    if mixed:
        is_ordered = np.array([v in poly.thresholds for v in ov])
        values = group.raw.copy()
        for j in np.flatnonzero(is_ordered):
            values[:, j] = np.unique(values[:, j], return_inverse=True)[1]
        s, gamma, cov = mixed_statistics(values, is_ordered, corr,
                                         {j: np.asarray(poly.thresholds[ov[j]]) for j in np.flatnonzero(is_ordered)})
        numeric = tuple(int(j) for j in np.flatnonzero(~is_ordered))
        mean = np.where(is_ordered, 0.0, group.raw.mean(axis=0))
        names = [f"{v}|t{k + 1}" if is_ordered[j] else f"{v}~1" for j, v in enumerate(ov)
                 for k in range(len(poly.thresholds[v]) if is_ordered[j] else 1)]
        names += [f"{ov[j]}~~{ov[j]}" for j in numeric] + [f"{ov[a]}~~{ov[b]}" for a, b in zip(*iu, strict=True)]
    else:
        s = np.concatenate([*taus, corr[iu]])
        gamma = poly.gamma.to_numpy()
        names = list(poly.gamma.index)
    diag = np.diag(gamma)
    where = f"group '{label}'" if label else "data"
    bad = np.flatnonzero(~(diag > 0))
    if len(bad):
        name = names[int(bad[0])]
        raise DataError(f"the sampling variance of '{name}' is zero, so it gets no DWLS weight (a correlation at "
                        "+-1: two items whose answers determine each other)", where=where,
                        fix="drop one of the two items, merge sparse categories, or collect more responses")
    notes = tuple(f"{w} ({where})" if label else w for w in poly.warnings)
    return OrdinalStats(group.n, {v: tuple(t) for v, t in zip(ordered, taus, strict=True)}, corr, s, gamma,
                        1.0 / diag, int(sum(len(t) for t in taus)), notes, numeric, cov, mean)


def check_categories(stats: Sequence[OrdinalStats], ordered: tuple[str, ...], labels: tuple[str, ...]) -> None:
    """Groups must share each variable's number of categories (lavaan's rule): a category
    nobody in one group chose leaves that group with a threshold less.

    Raises
    ------
    DataError
        Naming the variable, the groups and the counts.
    """
    for v in ordered:
        counts = [len(s.thresholds[v]) + 1 for s in stats]
        if len(set(counts)) > 1:
            lo = int(np.argmin(counts))
            raise DataError(
                f"ordered variable '{v}' has {max(counts)} categories in some groups but only {counts[lo]} in group "
                f"'{labels[lo]}' (a category nobody in that group chose), so its thresholds cannot be matched "
                "across groups", where=f"data column '{v}', group '{labels[lo]}'",
                fix="merge the empty category with its neighbour (recode) in all groups, or drop the variable")
