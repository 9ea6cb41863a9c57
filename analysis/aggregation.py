"""Aggregating individual answers to units: ICC(1), ICC(2), r_wg, r_wg(J), AD(M).

Before a construct measured on people (engagement, service climate) is averaged to
the units they share (stores, branches, teams) and used as a unit property, three
questions need an answer (Bliese 2000; LeBreton & Senter 2008):

1. Do units differ?  ICC(1) and the F test of a one-way ANOVA (:func:`icc`).
2. Are the unit means reliable?  ICC(2) (:func:`icc`).
3. Do the people inside a unit agree?  r_wg / r_wg(J) and the average deviation index
   AD(M) (:mod:`analysis.agreement`).

:func:`aggregation_table` answers all three for every construct and gives a verdict.

Privacy: every per-unit table here shows no number for a unit with fewer respondents
than ``min_group_size`` (Tandem's anonymity threshold, 5 by default; pass the
instrument's ``min_group_size``). Such units keep their row with ``suppressed=True`` and
a "fewer than k respondents" label, and they are left out of the summaries, so that a
summary and the visible units together cannot reveal a hidden unit's value
(:func:`suppress_small_units`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.agreement import Null, ad_m, rwg_j
from analysis.errors import DataError
from analysis.frames import DEFAULT_MIN_GROUP_SIZE, group_column, numeric_columns, require_columns
from analysis.scoring import score

#: Cut-offs used by :func:`aggregation_table` (see its Notes).
ICC1_CUTOFF = 0.05
ICC2_CUTOFF = 0.70
RWG_CUTOFF = 0.70
RWG_WEAK_CUTOFF = 0.50

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
    groups = group_column(data, group, where=where)
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
    # the units as sorted integer codes (NaN: no unit), once: every statistic below groups by
    # them in the same order as by the labels, without hashing the labels again
    codes, _ = pd.factorize(scored[group], sort=True)
    units = pd.Series(np.where(codes >= 0, codes, np.nan), index=scored.index)
    rows = []
    for construct, items in mapping.items():
        where = f"aggregation_table, construct '{construct}'"
        require_columns(scored, items, where=where)
        part = scored[[c for c in dict.fromkeys([construct, *items]) if c in scored]].assign(**{group: units})
        icc_problem = ""
        try:
            icc_result = icc(part, construct, group)
        except DataError as error:
            icc_result, icc_problem = None, error.what
        variance = null_variance.get(construct) if isinstance(null_variance, Mapping) else null_variance
        rwg_result = None
        if variance is not None or points.get(construct) is not None:
            rwg_result = rwg_j(
                part,
                items,
                group,
                null_variance=variance,
                scale_points=points.get(construct),
                null=null,
                min_group_size=threshold,
            )
        ad_result = ad_m(
            part, items, group, scale_points=points.get(construct), min_group_size=threshold
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
