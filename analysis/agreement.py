"""Within-unit agreement: r_wg, r_wg(J) and the average deviation index AD(M).

Do the people inside a unit agree enough for the unit mean to describe the unit?
r_wg compares the observed variance of one item within a unit with the variance
expected if answers were random (the null distribution); r_wg(J) does the same for a
scale of J items (James, Demaree & Wolf 1984); AD(M) is the mean absolute deviation
from the unit's mean (Burke, Finkelstein & Dusig 1999). Units below the minimum group
size show no number. :func:`analysis.aggregation.aggregation_table` combines these with
ICC(1) and ICC(2) into a verdict per construct.

References
----------
James, L. R., Demaree, R. G. & Wolf, G. (1984). Estimating within-group interrater
reliability with and without response bias. *Journal of Applied Psychology*, 69, 85-98.
LeBreton, J. M. & Senter, J. L. (2008). Answers to 20 questions about interrater
reliability and interrater agreement. *Organizational Research Methods*, 11, 815-852.
Burke, M. J., Finkelstein, L. M. & Dusig, M. S. (1999). On average deviation indices
for estimating interrater agreement. *Organizational Research Methods*, 2, 49-68.
R: ``multilevel::rwg``, ``multilevel::rwg.j``, ``multilevel::ad.m``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analysis.errors import DataError
from analysis.frames import DEFAULT_MIN_GROUP_SIZE, group_column, numeric_columns
from analysis.suppression import suppress_small_units, suppression_label
from surveys.errors import did_you_mean

__all__ = ["SLIGHT_SKEW_NULL_VARIANCE", "AgreementResult", "ad_m", "null_variance_for", "rwg", "rwg_j"]

Null = Literal["uniform", "slight_skew"]

SLIGHT_SKEW_NULL_VARIANCE: Mapping[int, float] = {5: 1.34, 7: 2.90}
"""Variance of the slightly skewed null response distribution, by number of scale points.

5 points: the distribution with proportions .05, .15, .20, .35, .25 (James, Demaree &
Wolf 1984), variance 1.34; 7 points: 2.90 (LeBreton & Senter 2008, Table 2).
"""


def _scale_points(scale_points: float) -> int:
    if int(scale_points) != scale_points or scale_points < 2:
        raise DataError(
            f"scale_points must be a whole number of at least 2, got {scale_points}.",
            fix="pass the number of response options of the items' scale.",
        )
    return int(scale_points)


def null_variance_for(
    *, null_variance: float | None = None, scale_points: int | None = None, null: Null = "uniform"
) -> float:
    """The expected variance of answers under "no agreement" (sigma^2_E).

    Parameters
    ----------
    null_variance
        Give it directly (wins over the other two).
    scale_points
        Number of response options A of an equally spaced scale.
    null
        ``"uniform"``: every option equally likely, ``(A^2 - 1) / 12``;
        ``"slight_skew"``: the slightly skewed distribution of James, Demaree & Wolf
        (1984) tabled by LeBreton & Senter (2008), for 5 (1.34) and 7 (2.90) points.
    """
    if null_variance is not None:
        if not np.isfinite(null_variance) or null_variance <= 0:
            raise DataError(
                f"null_variance must be a positive number, got {null_variance}.",
                fix="for a uniform null on A options use (A^2 - 1) / 12, e.g. 2 for 5 options.",
            )
        return float(null_variance)
    if scale_points is None:
        raise DataError(
            "r_wg needs the null variance or the number of scale points.",
            fix="pass scale_points=A (e.g. 5) or null_variance=...",
        )
    a = _scale_points(scale_points)
    if null == "uniform":
        return (a * a - 1) / 12.0
    if null == "slight_skew":
        if a not in SLIGHT_SKEW_NULL_VARIANCE:
            raise DataError(
                f"no slightly skewed null distribution is tabled for {a} scale points.",
                fix=f"use null='uniform' or pass null_variance; tabled: {sorted(SLIGHT_SKEW_NULL_VARIANCE)}.",
            )
        return SLIGHT_SKEW_NULL_VARIANCE[a]
    raise DataError(
        f"unknown null distribution '{null}'.{did_you_mean(str(null), ['uniform', 'slight_skew'])}",
        fix="use null='uniform' or null='slight_skew'.",
    )


@dataclass(frozen=True)
class AgreementResult:
    """Within-unit agreement per unit and summarised over units.

    Attributes
    ----------
    statistic
        ``"rwg"``, ``"rwg_j"`` or ``"ad_m"``.
    items
        The item columns.
    by_unit
        One row per unit: ``unit``, ``n`` (respondents; NA when suppressed), the
        statistic's column (NaN when suppressed or with one respondent), ``suppressed``,
        ``label`` (empty, or why there is no value) and, for AD(M) with a known scale,
        ``agreement`` (AD(M) <= c / 6).
    mean, median
        Over the units that have a value and are shown.
    n_groups
        Units with a value that are shown.
    n_suppressed
        Units below ``min_group_size`` (no number shown).
    null_variance
        sigma^2_E used by r_wg / r_wg(J) (NaN for AD(M)).
    cutoff
        AD(M): c / 6 for c scale points (NaN if unknown); r_wg: NaN.
    min_group_size
        The anonymity threshold applied.
    """

    statistic: str
    items: tuple[str, ...]
    by_unit: pd.DataFrame
    mean: float
    median: float
    n_groups: int
    n_suppressed: int
    null_variance: float
    cutoff: float
    min_group_size: int

    def share_at_least(self, threshold: float) -> float:
        """Share of the shown units whose value is at least ``threshold``."""
        values = self.by_unit[self.statistic].dropna()
        return float((values >= threshold).mean()) if len(values) else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """The per-unit table (suppressed units carry no number)."""
        return self.by_unit.copy()


def _agreement_result(
    statistic: str,
    items: Sequence[str],
    values: pd.Series,
    sizes: pd.Series,
    *,
    min_group_size: int,
    null_variance: float = float("nan"),
    cutoff: float = float("nan"),
) -> AgreementResult:
    hidden = suppress_small_units(sizes, min_group_size)
    values = values.where(~hidden & (sizes > 1))
    table = pd.DataFrame(
        {
            "unit": sizes.index,
            "n": pd.array(sizes.where(~hidden).to_numpy(), dtype="Int64"),
            statistic: values.to_numpy(dtype=float),
            "suppressed": hidden.to_numpy(),
        }
    )
    table["label"] = np.where(
        table["suppressed"],
        suppression_label(min_group_size),
        np.where(sizes.to_numpy() < 2, "one respondent: agreement undefined", ""),
    )
    if statistic == "ad_m" and np.isfinite(cutoff):
        table["agreement"] = pd.array(
            np.where(table[statistic].notna(), table[statistic] <= cutoff, None), dtype="boolean"
        )
    shown = table[statistic].dropna()
    return AgreementResult(
        statistic=statistic,
        items=tuple(items),
        by_unit=table,
        mean=float(shown.mean()) if len(shown) else float("nan"),
        median=float(shown.median()) if len(shown) else float("nan"),
        n_groups=len(shown),
        n_suppressed=int(hidden.sum()),
        null_variance=float(null_variance),
        cutoff=float(cutoff),
        min_group_size=int(min_group_size),
    )


def _item_frame(
    data: pd.DataFrame, items: str | Sequence[str], group: str, *, where: str, listwise: bool
) -> tuple[pd.DataFrame, list[str]]:
    items = [items] if isinstance(items, str) else list(items)
    if not items:
        raise DataError("no items given.", where=where, fix="name at least one item column.")
    groups = group_column(data, group, where=where)
    frame = numeric_columns(data, items, where=where)
    frame["__unit__"] = groups
    frame = frame[frame["__unit__"].notna()]
    frame = frame.dropna(subset=items, how="any" if listwise else "all")
    if frame.empty:
        raise DataError(
            "no respondent has both a unit and an answer.",
            where=where,
            fix=f"check the unit column '{group}' and the items {items}.",
        )
    return frame, items


def rwg(
    data: pd.DataFrame,
    item: str,
    group: str,
    *,
    null_variance: float | None = None,
    scale_points: int | None = None,
    null: Null = "uniform",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> AgreementResult:
    """Single-item within-unit agreement r_wg (James, Demaree & Wolf 1984).

    Parameters
    ----------
    data
        One row per respondent.
    item
        Numeric item column.
    group
        Unit column.
    null_variance, scale_points, null
        The no-agreement variance sigma^2_E, see :func:`null_variance_for`.
    min_group_size
        Units with fewer respondents show no value (privacy).

    Returns
    -------
    AgreementResult
        ``statistic="rwg"``.

    Notes
    -----
    ``r_wg = 1 - s^2 / sigma^2_E`` with ``s^2`` the unit's variance of the item
    (n - 1 denominator). A unit whose variance exceeds the null variance would get a
    negative value; like ``multilevel::rwg`` it is truncated to 0. Units with one
    respondent have no value. R: ``multilevel::rwg(x, grpid, ranvar)``.

    References
    ----------
    James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating within-group interrater
    reliability with and without response bias. *Journal of Applied Psychology, 69*,
    85-98.
    """
    sigma2 = null_variance_for(null_variance=null_variance, scale_points=scale_points, null=null)
    frame, items = _item_frame(data, item, group, where=f"rwg of '{item}'", listwise=True)
    grouped = frame.groupby("__unit__", sort=True)[items[0]]
    variance = grouped.var(ddof=1)
    values = 1.0 - np.minimum(variance, sigma2) / sigma2
    return _agreement_result(
        "rwg", items, values, grouped.size(), min_group_size=min_group_size, null_variance=sigma2
    )


def rwg_j(
    data: pd.DataFrame,
    items: Sequence[str],
    group: str,
    *,
    null_variance: float | None = None,
    scale_points: int | None = None,
    null: Null = "uniform",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    listwise: bool = True,
) -> AgreementResult:
    """Multi-item within-unit agreement r_wg(J) (James, Demaree & Wolf 1984).

    Parameters
    ----------
    data
        One row per respondent.
    items
        The J item columns of one construct (same response scale).
    group
        Unit column.
    null_variance, scale_points, null
        The no-agreement variance sigma^2_E, see :func:`null_variance_for`.
    min_group_size
        Units with fewer respondents show no value and are left out of the summary.
    listwise
        Drop respondents with any item missing (as ``multilevel`` 2.7 does); with
        ``False`` each item's variance uses the answers it has.

    Returns
    -------
    AgreementResult
        ``statistic="rwg_j"``; ``mean``, ``median`` and ``n_groups`` summarise the
        shown units.

    Notes
    -----
    With ``s̄^2`` the mean over the J items of the unit's item variances::

        r_wg(J) = J (1 - s̄^2 / sigma^2_E) / (J (1 - s̄^2 / sigma^2_E) + s̄^2 / sigma^2_E)

    If ``s̄^2 > sigma^2_E`` the value would fall outside [0, 1]; as in
    ``multilevel::rwg.j``, ``s̄^2`` is then set to ``sigma^2_E`` so r_wg(J) = 0.
    Units with one respondent have no value. Values of .70 and above are read as
    strong agreement, .51-.70 moderate, .31-.50 weak (LeBreton & Senter 2008).
    R: ``multilevel::rwg.j(x, grpid, ranvar)``.

    References
    ----------
    James, L. R., Demaree, R. G., & Wolf, G. (1984). *Journal of Applied Psychology,
    69*, 85-98.
    LeBreton, J. M., & Senter, J. L. (2008). Answers to 20 questions about interrater
    reliability and interrater agreement. *Organizational Research Methods, 11*,
    815-852.
    """
    sigma2 = null_variance_for(null_variance=null_variance, scale_points=scale_points, null=null)
    frame, items = _item_frame(
        data, items, group, where=f"rwg_j of {list(items)}", listwise=listwise
    )
    grouped = frame.groupby("__unit__", sort=True)
    mean_variance = grouped[items].var(ddof=1).mean(axis=1, skipna=True)
    ratio = np.minimum(mean_variance, sigma2) / sigma2
    j = len(items)
    values = j * (1.0 - ratio) / (j * (1.0 - ratio) + ratio)
    return _agreement_result(
        "rwg_j", items, values, grouped.size(), min_group_size=min_group_size, null_variance=sigma2
    )


def ad_m(
    data: pd.DataFrame,
    items: str | Sequence[str],
    group: str,
    *,
    scale_points: int | None = None,
    center: Literal["mean", "median"] = "mean",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> AgreementResult:
    """Average deviation index AD(M) of within-unit agreement (Burke et al. 1999).

    Parameters
    ----------
    data
        One row per respondent.
    items
        One item column or the items of one construct.
    group
        Unit column.
    scale_points
        Number of response options c; gives the cut-off c / 6 and the ``agreement``
        column.
    center
        Deviations from the unit's item ``"mean"`` (AD(M)) or ``"median"`` (AD(Md)).
    min_group_size
        Units with fewer respondents show no value.

    Returns
    -------
    AgreementResult
        ``statistic="ad_m"``; lower is more agreement.

    Notes
    -----
    For item k of unit j with n_j respondents::

        AD_jk = sum_i |x_ijk - mean_jk| / n_j

    and AD(M) of a multi-item scale is the mean of AD_jk over its items. Agreement is
    practically significant when AD(M) <= c / 6 (Burke & Dunlap 2002), e.g. 0.83 on a
    5-point scale. Respondents missing any item are dropped. R:
    ``multilevel::ad.m(x, grpid, type = "mean")``.

    References
    ----------
    Burke, M. J., Finkelstein, L. M., & Dusig, M. S. (1999). On average deviation
    indices for estimating interrater agreement. *Organizational Research Methods,
    2*, 49-68.
    Burke, M. J., & Dunlap, W. P. (2002). Estimating interrater agreement with the
    average deviation index: A user's guide. *Organizational Research Methods, 5*,
    159-172.
    """
    if center not in ("mean", "median"):
        raise DataError(
            f"center must be 'mean' or 'median', got '{center}'.", fix="use center='mean'."
        )
    names = [items] if isinstance(items, str) else list(items)
    frame, names = _item_frame(data, names, group, where=f"ad_m of {names}", listwise=True)
    grouped = frame.groupby("__unit__", sort=True)
    centres = grouped[names].transform(center)
    deviation = (frame[names] - centres).abs()
    deviation["__unit__"] = frame["__unit__"]
    values = deviation.groupby("__unit__", sort=True)[names].mean().mean(axis=1)
    cutoff = float("nan")
    if scale_points is not None:
        cutoff = _scale_points(scale_points) / 6.0
    return _agreement_result(
        "ad_m", names, values, grouped.size(), min_group_size=min_group_size, cutoff=cutoff
    )
