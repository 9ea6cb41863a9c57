"""Aggregating individual answers to units: ICC(1), ICC(2), r_wg, r_wg(J), AD(M).

Before a construct measured on people (engagement, service climate) is averaged to
the units they share (stores, branches, teams) and used as a unit property, three
questions need an answer (Bliese 2000; LeBreton & Senter 2008):

1. Do units differ?  ICC(1) and the F test of a one-way ANOVA (:func:`icc`).
2. Are the unit means reliable?  ICC(2) (:func:`icc`).
3. Do the people inside a unit agree?  r_wg / r_wg(J) (:func:`rwg`, :func:`rwg_j`) and
   the average deviation index AD(M) (:func:`ad_m`).

:func:`aggregation_table` answers all three for every construct and gives a verdict.

Privacy: every per-unit table here shows no number for a unit with fewer respondents
than ``min_group_size`` (Tandem's anonymity threshold, 5 by default; pass the
instrument's ``min_group_size``). Such units keep their row with ``suppressed=True`` and
a "fewer than k respondents" label, and they are left out of the summaries, so that a
summary and the visible units together cannot reveal a hidden unit's value
(:func:`suppress_small_units`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import DataError
from analysis.scoring import score
from surveys.errors import did_you_mean

DEFAULT_MIN_GROUP_SIZE = 5
"""Tandem's default anonymity threshold (``anonymity.min_group_size`` of an instrument)."""

SLIGHT_SKEW_NULL_VARIANCE: Mapping[int, float] = {5: 1.34, 7: 2.90}
"""Variance of the slightly skewed null response distribution, by number of scale points.

5 points: the distribution with proportions .05, .15, .20, .35, .25 (James, Demaree &
Wolf 1984), variance 1.34; 7 points: 2.90 (LeBreton & Senter 2008, Table 2).
"""

#: Cut-offs used by :func:`aggregation_table` (see its Notes).
ICC1_CUTOFF = 0.05
ICC2_CUTOFF = 0.70
RWG_CUTOFF = 0.70
RWG_WEAK_CUTOFF = 0.50

Null = Literal["uniform", "slight_skew"]


# --------------------------------------------------------------------------- helpers
def require_columns(data: pd.DataFrame, columns: Sequence[str], *, where: str) -> None:
    """Raise :class:`DataError` naming the first of ``columns`` missing from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, got {type(data).__name__}",
            where=where,
            fix="pass the wide response frame (one row per response).",
        )
    for column in columns:
        if column not in data.columns:
            raise DataError(
                f"column '{column}' is not in the data.{did_you_mean(column, data.columns)}",
                where=where,
                fix="name a column of the response frame.",
            )


def numeric_columns(data: pd.DataFrame, columns: Sequence[str], *, where: str) -> pd.DataFrame:
    """The ``columns`` of ``data`` as float, or :class:`DataError` for a non-numeric one."""
    require_columns(data, columns, where=where)
    out = {}
    for column in columns:
        values = data[column]
        if not (pd.api.types.is_numeric_dtype(values) or values.isna().all()):
            raise DataError(
                f"column '{column}' is not numeric (dtype {values.dtype}).",
                where=where,
                fix="recode the answers as numbers (the wide frame keeps item answers as floats).",
            )
        out[column] = values.astype(float)
    return pd.DataFrame(out, index=data.index)


def suppression_label(min_group_size: int) -> str:
    """The label shown instead of a suppressed unit's numbers."""
    return f"fewer than {min_group_size} respondents"


def suppress_small_units(
    sizes: pd.Series, min_group_size: int, *, complementary: bool = False
) -> pd.Series:
    """Which units must not be shown: a boolean Series aligned with ``sizes``.

    Parameters
    ----------
    sizes
        Respondents per unit.
    min_group_size
        Units with ``0 < n < min_group_size`` are suppressed (primary suppression).
    complementary
        Set when a total over *all* respondents is shown next to the units (an
        "overall" row). If the suppressed units hold fewer than ``min_group_size``
        respondents together, the total minus the visible units would reveal them, so
        the smallest visible units are suppressed as well until the hidden
        respondents number at least ``min_group_size`` (secondary suppression, as in
        statistical disclosure control).
    """
    if min_group_size < 1:
        raise DataError(
            f"min_group_size must be at least 1, got {min_group_size}.",
            fix="pass the instrument's anonymity.min_group_size (default 5).",
        )
    hidden = (sizes > 0) & (sizes < min_group_size)
    if complementary and hidden.any() and sizes[hidden].sum() < min_group_size:
        for unit in sizes[~hidden & (sizes > 0)].sort_values(kind="stable").index:
            hidden[unit] = True
            if sizes[hidden].sum() >= min_group_size:
                break
    return hidden


def _groups(data: pd.DataFrame, group: str, *, where: str) -> pd.Series:
    require_columns(data, [group], where=where)
    return data[group]


# --------------------------------------------------------------------------- ICC
@dataclass(frozen=True)
class ICCResult:
    """ICC(1) and ICC(2) of one variable from a one-way random-effects ANOVA.

    Attributes
    ----------
    variable
        The column analysed.
    icc1, icc2
        ICC(1) (share of variance between units) and ICC(2) (reliability of unit
        means); ``icc2`` is NaN when the unit means are all equal (see ``note``).
    f, df_between, df_within, pvalue
        The ANOVA F test of "no differences between units".
    ms_between, ms_within
        Mean squares between and within units.
    n, n_groups, mean_group_size
        Respondents used, units, and ``n / n_groups`` (the k in ICC(1)).
    note
        Empty, or why a number is missing or degenerate.
    """

    variable: str
    icc1: float
    icc2: float
    f: float
    df_between: int
    df_within: int
    pvalue: float
    ms_between: float
    ms_within: float
    n: int
    n_groups: int
    mean_group_size: float
    note: str = ""

    def to_frame(self) -> pd.DataFrame:
        """One row with every field as a column."""
        return pd.DataFrame([asdict(self)])


def icc(data: pd.DataFrame, value: str, group: str) -> ICCResult:
    """ICC(1) and ICC(2) for units of unequal size (Bliese 2000).

    Parameters
    ----------
    data
        One row per respondent.
    value
        Numeric column (an item or a construct score).
    group
        Column with the unit of each respondent. Rows missing either column are
        dropped.

    Returns
    -------
    ICCResult

    Raises
    ------
    DataError
        Missing or non-numeric columns, fewer than two units, no unit with two or
        more respondents, or a variable without any variance.

    Notes
    -----
    From the one-way ANOVA of ``value`` on ``group`` with ``J`` units and ``N``
    respondents (``n_j`` in unit ``j``)::

        MSB = sum_j n_j (mean_j - mean)^2 / (J - 1)
        MSW = sum_j sum_i (x_ij - mean_j)^2 / (N - J)
        ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW),   k = N / J
        ICC(2) = (MSB - MSW) / MSB
        F = MSB / MSW on (J - 1, N - J) degrees of freedom

    ``k`` is the mean group size, as in R's ``multilevel::ICC1`` (its ``GSIZE``); the
    ANOVA-unbiased alternative ``(N - sum n_j^2 / N) / (J - 1)`` differs little
    unless unit sizes vary a lot. ICC(1) can be negative (less variance between
    units than chance gives). Units with one respondent add to MSB but not to MSW.
    If all unit means are equal, MSB = 0: ICC(1) = -1 / (k - 1), F = 0, p = 1 and
    ICC(2) is undefined (NaN). If everybody within each unit answers alike, MSW = 0:
    ICC(1) = ICC(2) = 1 and F is infinite.

    R: ``multilevel::ICC1(aov(value ~ as.factor(group)))`` and ``ICC2``.

    References
    ----------
    Bliese, P. D. (2000). Within-group agreement, non-independence, and reliability.
    In K. J. Klein & S. W. J. Kozlowski (Eds.), *Multilevel theory, research, and
    methods in organizations* (pp. 349-381). Jossey-Bass.
    """
    where = f"icc of '{value}' by '{group}'"
    groups = _groups(data, group, where=where)
    x = numeric_columns(data, [value], where=where)[value]
    keep = x.notna() & groups.notna()
    x, groups = x[keep].to_numpy(), groups[keep]
    codes, _ = pd.factorize(groups, sort=True)
    n_total, n_groups = x.size, int(codes.max()) + 1 if x.size else 0
    if n_groups < 2:
        raise DataError(
            f"needs at least two units with an answer, found {n_groups}.",
            where=where,
            fix=f"check the unit column '{group}' and that '{value}' has answers in several units.",
        )
    if n_total == n_groups:
        raise DataError(
            "every unit has a single respondent, so the variance within units cannot be estimated.",
            where=where,
            fix="aggregate only units with two or more respondents.",
        )
    sizes = np.bincount(codes)
    centred = x - x.mean()
    means = np.bincount(codes, weights=centred) / sizes
    ss_between = float(np.sum(sizes * means**2))
    ss_within = float(np.sum((centred - means[codes]) ** 2))
    df_between, df_within = n_groups - 1, n_total - n_groups
    msb, msw = ss_between / df_between, ss_within / df_within
    scale = float(np.mean(centred**2)) or 1.0
    tiny = 1e-12 * scale
    k = n_total / n_groups
    note = ""
    if msb <= tiny and msw <= tiny:
        raise DataError(
            "has no variance: every respondent gave the same value.",
            where=where,
            fix="leave constant variables out of the aggregation analysis.",
        )
    if msw <= tiny:
        icc1 = icc2 = 1.0
        f_value, pvalue = np.inf, 0.0
        note = "no variance within units: everyone in a unit gave the same value."
    elif msb <= tiny:
        icc1, icc2 = -1.0 / (k - 1.0), np.nan
        f_value, pvalue = 0.0, 1.0
        note = "no variance between units: all unit means are equal, ICC(2) is undefined."
    else:
        icc1 = (msb - msw) / (msb + (k - 1.0) * msw)
        icc2 = (msb - msw) / msb
        f_value = msb / msw
        pvalue = float(stats.f.sf(f_value, df_between, df_within))
    return ICCResult(
        variable=value,
        icc1=float(icc1),
        icc2=float(icc2),
        f=float(f_value),
        df_between=df_between,
        df_within=df_within,
        pvalue=float(pvalue),
        ms_between=msb,
        ms_within=msw,
        n=n_total,
        n_groups=n_groups,
        mean_group_size=k,
        note=note,
    )


# --------------------------------------------------------------------------- agreement
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
    groups = _groups(data, group, where=where)
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


# --------------------------------------------------------------------------- table
AGGREGATION_COLUMNS = (
    "construct",
    "n",
    "n_units",
    "icc1",
    "icc2",
    "f",
    "pvalue",
    "rwg_j_mean",
    "rwg_j_median",
    "rwg_j_share_70",
    "ad_m_mean",
    "ad_m_cutoff",
    "n_units_shown",
    "verdict",
    "reason",
)


def _verdict(
    icc_result: ICCResult | None, rwg_mean: float, *, alpha: float, icc_problem: str = ""
) -> tuple[str, str]:
    if icc_result is None:
        return "not justified", f"the ICC could not be computed: {icc_problem}"
    failed_hard, failed_soft = [], []
    significant = icc_result.pvalue < alpha
    if not significant:
        failed_hard.append(f"units do not differ (F test p = {icc_result.pvalue:.3g} >= {alpha})")
    if not np.isfinite(icc_result.icc1) or icc_result.icc1 <= 0:
        failed_hard.append(f"ICC(1) = {icc_result.icc1:.3f} <= 0")
    elif icc_result.icc1 <= ICC1_CUTOFF:
        failed_soft.append(f"ICC(1) = {icc_result.icc1:.3f} <= {ICC1_CUTOFF}")
    if not np.isfinite(icc_result.icc2) or icc_result.icc2 < ICC2_CUTOFF:
        failed_soft.append(f"unit means unreliable (ICC(2) = {icc_result.icc2:.3f} < {ICC2_CUTOFF})")
    if np.isnan(rwg_mean):
        failed_soft.append("r_wg(J) not available (scale points unknown or no unit shown)")
    elif rwg_mean < RWG_WEAK_CUTOFF:
        failed_hard.append(f"no agreement within units (mean r_wg(J) = {rwg_mean:.2f} < {RWG_WEAK_CUTOFF})")
    elif rwg_mean < RWG_CUTOFF:
        failed_soft.append(f"moderate agreement (mean r_wg(J) = {rwg_mean:.2f} < {RWG_CUTOFF})")
    if failed_hard:
        return "not justified", "; ".join(failed_hard + failed_soft)
    if failed_soft:
        return "weak", "; ".join(failed_soft)
    return "justified", "all criteria met"


def construct_scale_points(instrument: Any, construct: Any) -> int | None:
    """The number of answer options a construct's items share (the A of the r_wg(J)
    null variance and of the AD(M) cut-off), or None when its items differ or are not
    on a scale of whole steps."""
    counts = set()
    for item_id in construct.items:
        item = instrument.item(item_id)
        if item.scale is not None:
            counts.add(len(item.scale.values))
        elif item.min is not None and item.max is not None and float(item.max - item.min).is_integer():
            counts.add(int(item.max - item.min) + 1)
        else:
            counts.add(None)
    return counts.pop() if len(counts) == 1 else None


def _instrument_constructs(frame: pd.DataFrame, instrument: Any) -> tuple[pd.DataFrame, dict, dict]:
    scored = score(frame, instrument)
    constructs = {c.id: list(c.items) for c in instrument.constructs}
    points = {c.id: construct_scale_points(instrument, c) for c in instrument.constructs}
    for column in frame.columns:
        if column not in scored.columns:
            scored[column] = frame[column]
    return scored, constructs, points


def aggregation_table(
    frame: pd.DataFrame,
    constructs: Any,
    group: str,
    *,
    scale_points: int | Mapping[str, int] | None = None,
    null_variance: float | Mapping[str, float] | None = None,
    null: Null = "uniform",
    min_group_size: int | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Is aggregating each construct to units justified?  One row per construct.

    Parameters
    ----------
    frame
        One row per respondent: the wide response frame with the unit column.
    constructs
        An :class:`~surveys.instrument.Instrument` (its constructs are scored with
        :func:`analysis.scoring.score`; scale points come from the items' scales; its
        ``min_group_size`` is the default threshold) or a mapping ``construct id ->
        item ids`` for a frame that already holds a score column per construct.
    group
        The unit column.
    scale_points, null_variance, null
        For r_wg(J) and AD(M) when ``constructs`` is a mapping (a number for all
        constructs or a mapping per construct); see :func:`null_variance_for`.
    min_group_size
        Units below it show no per-unit number and are left out of the agreement
        summaries (default: the instrument's, else 5).
    alpha
        Significance level of the ICC(1) F test.

    Returns
    -------
    pandas.DataFrame
        Columns ``construct, n, n_units, icc1, icc2, f, pvalue, rwg_j_mean,
        rwg_j_median, rwg_j_share_70, ad_m_mean, ad_m_cutoff, n_units_shown, verdict,
        reason``.

    Notes
    -----
    ``verdict`` is

    * ``"justified"``: units differ (F test p < alpha) with ICC(1) > .05, unit means
      are reliable (ICC(2) >= .70) and members agree (mean r_wg(J) >= .70);
    * ``"not justified"``: units do not differ (p >= alpha or ICC(1) <= 0) or there is
      no agreement within units (mean r_wg(J) < .50);
    * ``"weak"``: otherwise (e.g. ICC(1) <= .05, ICC(2) < .70, .50 <= r_wg(J) < .70,
      or r_wg(J) unknown); unit means are usable with care.

    ``reason`` lists the criteria that failed. Cut-offs: ICC(1) > .05 and a
    significant F (Bliese 2000); ICC(2) >= .70 for reliable unit means (Bliese 2000;
    Klein et al. 2000); r_wg(J) >= .70 strong, .51-.70 moderate agreement (LeBreton
    & Senter 2008); AD(M) <= c / 6 (Burke & Dunlap 2002). ICC uses every respondent;
    agreement summaries use only units with at least ``min_group_size`` respondents.

    References
    ----------
    Bliese (2000); James, Demaree & Wolf (1984); LeBreton & Senter (2008); Burke,
    Finkelstein & Dusig (1999).
    """
    if isinstance(constructs, Mapping):
        mapping = {str(k): list(v) for k, v in constructs.items()}
        scored = frame
        require_columns(frame, list(mapping), where="aggregation_table")
        if isinstance(scale_points, Mapping):
            points = {c: scale_points.get(c) for c in mapping}
        else:
            points = {c: scale_points for c in mapping}
        threshold = DEFAULT_MIN_GROUP_SIZE if min_group_size is None else min_group_size
    else:
        scored, mapping, points = _instrument_constructs(frame, constructs)
        if scale_points is not None:
            override = scale_points if isinstance(scale_points, Mapping) else dict.fromkeys(mapping, scale_points)
            points.update({c: v for c, v in override.items() if v is not None})
        threshold = constructs.min_group_size if min_group_size is None else min_group_size
    require_columns(scored, [group], where="aggregation_table")
    rows = []
    for construct, items in mapping.items():
        where = f"aggregation_table, construct '{construct}'"
        require_columns(scored, items, where=where)
        icc_problem = ""
        try:
            icc_result = icc(scored, construct, group)
        except DataError as error:
            icc_result, icc_problem = None, error.what
        variance = null_variance.get(construct) if isinstance(null_variance, Mapping) else null_variance
        rwg_result = None
        if variance is not None or points.get(construct) is not None:
            rwg_result = rwg_j(
                scored,
                items,
                group,
                null_variance=variance,
                scale_points=points.get(construct),
                null=null,
                min_group_size=threshold,
            )
        ad_result = ad_m(
            scored, items, group, scale_points=points.get(construct), min_group_size=threshold
        )
        rwg_mean = rwg_result.mean if rwg_result is not None else float("nan")
        verdict, reason = _verdict(icc_result, rwg_mean, alpha=alpha, icc_problem=icc_problem)
        rows.append(
            {
                "construct": construct,
                "n": icc_result.n if icc_result else int(scored[construct].notna().sum()),
                "n_units": icc_result.n_groups if icc_result else int(scored[group].nunique()),
                "icc1": icc_result.icc1 if icc_result else np.nan,
                "icc2": icc_result.icc2 if icc_result else np.nan,
                "f": icc_result.f if icc_result else np.nan,
                "pvalue": icc_result.pvalue if icc_result else np.nan,
                "rwg_j_mean": rwg_mean,
                "rwg_j_median": rwg_result.median if rwg_result else np.nan,
                "rwg_j_share_70": rwg_result.share_at_least(RWG_CUTOFF) if rwg_result else np.nan,
                "ad_m_mean": ad_result.mean,
                "ad_m_cutoff": ad_result.cutoff,
                "n_units_shown": ad_result.n_groups,
                "verdict": verdict,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=list(AGGREGATION_COLUMNS))
