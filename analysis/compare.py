r"""Group comparisons: does a score differ between groups (units, regions, tenure bands, waves)?

:func:`compare` runs, for one numeric variable across the groups of one column, what an
HR analyst reports every day: group means, Welch's heteroscedastic one-way ANOVA and the
classic one-way ANOVA with :math:`\eta^2` and :math:`\omega^2`, Games-Howell pairwise
tests with their simultaneous intervals, Cohen's d and Hedges' g for every pair, each
group against the rest of the respondents (Welch's t, Hedges' g) with a Holm or
Benjamini-Hochberg adjustment across the groups, and for two groups Welch's and
Student's t. :func:`adjust_pvalues` adjusts any family of p-values (the service layer
uses it across every comparison a page shows).

The omnibus tests, t-tests, effect sizes and adjustments come from pingouin
(``welch_anova``, ``anova``, ``ttest``, ``compute_effsize``, ``convert_effsize``,
``multicomp``); what pingouin leaves out or reports differently from R is computed here:
:math:`\omega^2`, the exact Hedges correction, signed Cohen's d for two groups
(``pingouin.ttest`` reports :math:`|d|`), unrounded t intervals (pingouin rounds ``CI95``
to two decimals), and Games-Howell with its q statistic and simultaneous intervals
(``qtukey``), which pingouin's ``pairwise_gameshowell`` does not give. Games-Howell uses
the same formulas as pingouin's (and equals it to 1e-10), but with the studentized range
of :func:`ptukey` / :func:`qtukey` instead of ``scipy.stats.studentized_range``, which
takes about 10 ms per p-value and 0.1 s per quantile: 40 units (780 pairs) of 11 scores
would take minutes. The numbers equal R's ``oneway.test``, ``aov``, ``t.test`` and
``ptukey``/``qtukey`` (``tests/reference/expected_wave2.json``, cases of kind
``group_comparison``).

Conventions: rows with a missing value or group are dropped; groups are compared as text
(an integral float such as ``1.0`` becomes ``"1"``) in sorted code-point order, so
``diff`` is always the earlier group minus the later one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import interpolate, special, stats

from analysis.errors import DataError
from surveys.errors import did_you_mean

__all__ = [
    "ADJUSTMENTS",
    "GROUP_COLUMNS",
    "OMNIBUS_COLUMNS",
    "PAIRWISE_COLUMNS",
    "TTEST_COLUMNS",
    "VERSUS_REST_COLUMNS",
    "GroupComparison",
    "adjust_pvalues",
    "compare",
    "group_labels",
    "hedges_correction",
    "ptukey",
    "qtukey",
]

#: Adjustment name -> pingouin.multicomp method.
ADJUSTMENTS = {"holm": "holm", "fdr_bh": "fdr_bh", "bonferroni": "bonf", "none": "none"}

GROUP_COLUMNS = ("group", "n", "mean", "sd", "se")
OMNIBUS_COLUMNS = ("test", "F", "df1", "df2", "pvalue", "ss_between", "ss_within", "eta2", "omega2")
PAIRWISE_COLUMNS = ("group1", "group2", "n1", "n2", "mean1", "mean2", "diff", "se", "t", "q", "df", "pvalue",
                    "pvalue_adj", "ci_lower", "ci_upper", "cohens_d", "hedges_g", "hedges_g_exact")
VERSUS_REST_COLUMNS = ("group", "n", "mean", "rest_n", "rest_mean", "diff", "se", "t", "df", "pvalue",
                       "pvalue_adj", "ci_lower", "ci_upper", "cohens_d", "hedges_g")
TTEST_COLUMNS = ("test", "t", "df", "pvalue", "ci_lower", "ci_upper")


@dataclass(frozen=True)
class GroupComparison:
    r"""One variable compared across the groups of a column (:func:`compare`).

    Attributes
    ----------
    dv, group
        The compared variable and the grouping column.
    n
        Rows used (value and group present).
    groups
        One row per group in sorted order: ``group, n, mean, sd, se`` (sd with n - 1).
    omnibus
        Two rows, ``test`` = ``"welch"`` (Welch 1951, ``oneway.test(var.equal = FALSE)``)
        and ``"anova"`` (classic one-way ANOVA, ``aov``): ``F, df1, df2, pvalue``; the
        ANOVA row also ``ss_between, ss_within, eta2, omega2`` (NaN in the Welch row).
    pairwise
        Games-Howell, one row per pair (group1 before group2 in sorted order):
        ``group1, group2, n1, n2, mean1, mean2, diff`` (mean1 - mean2), ``se``
        (:math:`\sqrt{s_1^2/n_1 + s_2^2/n_2}`), ``t``, ``q`` (:math:`\sqrt 2 |t|`), ``df``
        (Welch-Satterthwaite), ``pvalue`` (the pair's Welch t-test, unadjusted),
        ``pvalue_adj`` (Games-Howell: studentized range over all k groups),
        ``ci_lower, ci_upper`` (simultaneous Games-Howell interval), ``cohens_d``,
        ``hedges_g`` and ``hedges_g_exact``.
    versus_rest
        Each group against all other rows: ``group, n, mean, rest_n, rest_mean, diff``
        (group - rest), ``se, t, df, pvalue`` (Welch's t), ``pvalue_adj`` (adjusted
        across the groups with :attr:`adjust`), ``ci_lower, ci_upper`` (Welch interval of
        ``diff``, unadjusted), ``cohens_d, hedges_g`` (group against rest). With two
        groups both rows are the same test, so ``pvalue_adj`` equals ``pvalue``.
    t_tests
        Two groups only (else empty): rows ``"welch"`` (``t.test(var.equal = FALSE)``) and
        ``"student"`` (``var.equal = TRUE``): ``test, t, df, pvalue, ci_lower, ci_upper``
        (interval of mean1 - mean2).
    adjust, ci
        The adjustment of ``versus_rest`` and the interval level.
    notes
        What could not be computed, in words (e.g. Welch's ANOVA with a group whose
        answers are all equal).
    """

    dv: str
    group: str
    n: int
    groups: pd.DataFrame
    omnibus: pd.DataFrame
    pairwise: pd.DataFrame
    versus_rest: pd.DataFrame
    t_tests: pd.DataFrame
    adjust: str = "holm"
    ci: float = 0.95
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def k(self) -> int:
        """Number of groups."""
        return len(self.groups)

    @property
    def welch(self) -> pd.Series:
        """The Welch ANOVA row of :attr:`omnibus`."""
        return self.omnibus.set_index("test").loc["welch"]

    @property
    def anova(self) -> pd.Series:
        """The classic ANOVA row of :attr:`omnibus`."""
        return self.omnibus.set_index("test").loc["anova"]

    def to_frame(self) -> pd.DataFrame:
        """One row per group: ``group, n, mean, sd, se`` and, against the rest, ``diff,
        hedges_g, pvalue, pvalue_adj``."""
        rest = self.versus_rest[["group", "diff", "hedges_g", "pvalue", "pvalue_adj"]]
        return self.groups.merge(rest, on="group", how="left")


# --------------------------------------------------------------------------- helpers
def _text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def group_labels(values: pd.Series) -> pd.Series:
    """Group values as text (missing kept missing; an integral float ``1.0`` is ``"1"``)."""
    series = pd.Series(values)
    out = series.map(_text).astype(object)
    return out.where(series.notna(), None)


def hedges_correction(df: float, *, exact: bool = False) -> float:
    r"""Hedges' small-sample factor J for ``df`` degrees of freedom.

    :math:`J \approx 1 - 3 / (4\,df - 1)` (Hedges 1981, eq. 6e), or exactly
    :math:`J = \Gamma(df/2) / (\sqrt{df/2}\, \Gamma((df - 1)/2))`.
    """
    if not df > 1:
        return math.nan
    if exact:
        return float(np.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2))
    return 1 - 3 / (4 * df - 1)


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray | pd.Series, method: str = "holm") -> np.ndarray:
    r"""p-values adjusted for multiple comparisons (missing values stay missing, and do not count).

    Parameters
    ----------
    pvalues
        The family of p-values.
    method
        ``"holm"`` (Holm 1979, family-wise error): the i-th smallest of m p-values
        becomes :math:`\max_{j \le i} \min(1, (m - j + 1) p_{(j)})`;
        ``"fdr_bh"`` (Benjamini & Hochberg 1995, false discovery rate):
        :math:`\min_{j \ge i} \min(1, m\,p_{(j)} / j)`; ``"bonferroni"``; ``"none"``.
        R: ``p.adjust(p, "holm" | "BH" | "bonferroni")``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the order given.
    """
    import pingouin as pg

    if method not in ADJUSTMENTS:
        raise DataError(f"unknown adjustment '{method}'.{did_you_mean(str(method), list(ADJUSTMENTS))}",
                        where="adjust", fix=f"use one of {', '.join(ADJUSTMENTS)}.")
    values = np.asarray(pvalues, dtype=float)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if finite.any():
        _, adjusted = pg.multicomp(values[finite], method=ADJUSTMENTS[method])
        out[finite] = np.clip(adjusted, 0, 1)
    return out


# --------------------------------------------------------------------------- studentized range
_Z_NODES, _Z_WEIGHTS = np.polynomial.legendre.leggauss(200)
_Z = 9.0 * _Z_NODES
_Z_WEIGHTS = 9.0 * _Z_WEIGHTS * np.exp(-_Z**2 / 2) / math.sqrt(2 * math.pi)
_PHI_Z = special.ndtr(_Z)
_S_NODES, _S_WEIGHTS = np.polynomial.legendre.leggauss(128)
_W_TOP = 40.0


@lru_cache(maxsize=64)
def _range_of_normals(k: int) -> interpolate.CubicSpline:
    r"""Spline of :math:`W_k(w) = k \int \phi(z) [\Phi(z) - \Phi(z - w)]^{k-1} dz`, the
    distribution function of the range of k standard normals, on :math:`0 \le w \le 40`."""
    grid = np.concatenate([np.linspace(0.0, 12.0, 3001), np.linspace(12.01, _W_TOP, 200)])
    inner = np.clip(_PHI_Z - special.ndtr(_Z - grid[:, None]), 0.0, 1.0) ** (k - 1)
    return interpolate.CubicSpline(grid, np.clip(k * inner @ _Z_WEIGHTS, 0.0, 1.0))


def _chi_nodes(df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes s = sqrt(chi2_df / df) (over log s, between the 1e-16 quantiles) and
    their weights times the density, one row per df."""
    df = np.minimum(np.asarray(df, dtype=float), 1e7)
    low = 0.5 * np.log(stats.chi2.ppf(1e-16, df) / df)
    high = 0.5 * np.log(stats.chi2.isf(1e-16, df) / df)
    middle, half = (high + low) / 2, (high - low) / 2
    s = np.exp(middle[:, None] + half[:, None] * _S_NODES[None, :])
    x = df[:, None] * s * s
    return s, np.exp(stats.chi2.logpdf(x, df[:, None]) + np.log(2 * x)) * _S_WEIGHTS * half[:, None]


def _range_cdf(q: np.ndarray, k: int, nodes: tuple[np.ndarray, np.ndarray], *,
               density: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """P(Q < q) of the studentized range (and its density in q), one value per row of ``nodes``."""
    spline = _range_of_normals(int(k))
    s, weights = nodes
    w = np.asarray(q, dtype=float)[:, None] * s
    inside = w < _W_TOP
    w = np.minimum(w, _W_TOP)
    cdf = np.clip((np.where(inside, spline(w), 1.0) * weights).sum(axis=1), 0.0, 1.0)
    pdf = (np.where(inside, spline(w, 1), 0.0) * s * weights).sum(axis=1) if density else np.empty(0)
    return cdf, pdf


def ptukey(q: Any, k: int, df: Any) -> np.ndarray:
    r"""Upper tail of the studentized range, :math:`P(Q_{k,\nu} > q)` (R: ``ptukey(q, k, df,
    lower.tail = FALSE)``), vectorized over ``q`` and ``df``.

    :math:`P(Q < q) = \int_0^\infty f_s(s)\, W_k(q s)\, ds` with :math:`s^2 \sim \chi^2_\nu / \nu`
    and :math:`W_k` the distribution of the range of k standard normals: Gauss-Legendre
    quadrature over :math:`\log s` (128 nodes between the 1e-16 quantiles) and over z
    (200 nodes on [-9, 9]). Agrees with ``scipy.stats.studentized_range`` to 1e-10 and
    is about a thousand times faster, which matters for 40 units (780 pairs).
    """
    q, df = np.broadcast_arrays(np.atleast_1d(np.asarray(q, dtype=float)), np.asarray(df, dtype=float))
    return 1.0 - _range_cdf(q.ravel(), k, _chi_nodes(df.ravel()))[0].reshape(q.shape)


def qtukey(p: float, k: int, df: Any) -> np.ndarray:
    """Quantile ``p`` of the studentized range (R: ``qtukey(p, k, df)``), by Newton's method
    on :func:`ptukey`'s distribution function, vectorized over ``df``."""
    df = np.atleast_1d(np.asarray(df, dtype=float))
    nodes = _chi_nodes(df)
    x = math.sqrt(2) * stats.t.isf((1 - p) / max(k * (k - 1), 2), df)  # Bonferroni start, above the root
    for _ in range(60):
        cdf, pdf = _range_cdf(x, k, nodes, density=True)
        step = (cdf - p) / pdf
        x = np.maximum(x - step, x / 2)
        if np.all(np.abs(step) <= 1e-11 * x):
            break
    return x


def _prepare(data: pd.DataFrame, dv: str, group: str, where: str) -> pd.DataFrame:
    from analysis.scoring import numeric_items

    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}", where=where,
                        fix="pass one row per response with the compared column and the group column")
    for role, name in (("group", group), ("compared", dv)):
        if name not in data.columns:
            raise DataError(f"{role} column {name!r} not in the data.{did_you_mean(str(name), map(str, data))}",
                            where=where, fix="correct the column name or add the column to the data")
    if dv == group:
        raise DataError("the compared column and the group column are the same", where=where,
                        fix="compare a score across the groups of another column")
    values = numeric_items(data, [dv], where=where)[dv]
    frame = pd.DataFrame({"y": values.to_numpy(dtype=float), "g": group_labels(data[group]).to_numpy()})
    frame = frame[frame["y"].notna() & frame["g"].notna()].reset_index(drop=True)
    sizes = frame.groupby("g", sort=True).size()
    if len(sizes) < 2:
        found = f"only the group {sizes.index[0]!r}" if len(sizes) else "no row with both a value and a group"
        raise DataError(f"{dv!r} by {group!r}: {found}; a comparison needs at least two groups", where=where,
                        fix="choose a column with at least two groups that answered")
    single = sizes[sizes < 2]
    if len(single):
        raise DataError(f"group(s) {', '.join(map(repr, single.index))} of {group!r} have a single response "
                        f"with a value of {dv!r}; no spread, so no test", where=where,
                        fix="merge the group with a neighbour, or leave it out of the data")
    return frame


def _omnibus(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    import pingouin as pg

    k, n = frame["g"].nunique(), len(frame)
    rows = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            welch = pg.welch_anova(data=frame, dv="y", between="g").iloc[0]
        rows.append({"test": "welch", "F": float(welch["F"]), "df1": float(welch["ddof1"]),
                     "df2": float(welch["ddof2"]), "pvalue": float(welch["p_unc"])})
    except ValueError:
        notes.append("Welch's ANOVA is undefined: a group's answers are all equal (no spread to weight by).")
        rows.append({"test": "welch", "F": np.nan, "df1": float(k - 1), "df2": np.nan, "pvalue": np.nan})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = pg.anova(data=frame, dv="y", between="g", detailed=True)
    ss_between, ss_within = float(table["SS"].iloc[0]), float(table["SS"].iloc[1])
    df1, df2 = k - 1, n - k
    ms_within = ss_within / df2
    total = ss_between + ss_within
    f_value = (ss_between / df1) / ms_within if ms_within > 0 else np.nan
    rows.append({"test": "anova", "F": f_value, "df1": float(df1), "df2": float(df2),
                 "pvalue": float(stats.f.sf(f_value, df1, df2)) if np.isfinite(f_value) else np.nan,
                 "ss_between": ss_between, "ss_within": ss_within,
                 "eta2": ss_between / total if total > 0 else np.nan,
                 "omega2": (ss_between - df1 * ms_within) / (total + ms_within) if total > 0 else np.nan})
    return pd.DataFrame(rows).reindex(columns=list(OMNIBUS_COLUMNS))


def _welch_t(m1: float, v1: float, n1: int, m2: float, v2: float, n2: int, ci: float) -> dict[str, float]:
    """Welch's t of mean1 - mean2 (unequal variances) with its interval."""
    a, b = v1 / n1, v2 / n2
    se = math.sqrt(a + b)
    denominator = (a * a / (n1 - 1) if n1 > 1 else 0.0) + (b * b / (n2 - 1) if n2 > 1 else 0.0)
    if se == 0 or denominator == 0:
        return {"se": se, "t": np.nan, "df": np.nan, "pvalue": np.nan, "ci_lower": np.nan, "ci_upper": np.nan}
    df = (a + b) ** 2 / denominator
    t = (m1 - m2) / se
    half = stats.t.ppf(0.5 + ci / 2, df) * se
    return {"se": se, "t": t, "df": df, "pvalue": float(2 * stats.t.sf(abs(t), df)),
            "ci_lower": m1 - m2 - half, "ci_upper": m1 - m2 + half}


def _effect(x: np.ndarray, y: np.ndarray, eftype: str) -> float:
    import pingouin as pg

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(pg.compute_effsize(x, y, paired=False, eftype=eftype))
    return value if np.isfinite(value) else np.nan


def _pairwise(groups: pd.DataFrame, ci: float) -> pd.DataFrame:
    import pingouin as pg

    k = len(groups)
    labels = groups["group"].to_numpy(dtype=object)
    n = groups["n"].to_numpy(dtype=float)
    mean = groups["mean"].to_numpy(dtype=float)
    var = groups["sd"].to_numpy(dtype=float) ** 2
    i, j = np.triu_indices(k, k=1)
    a, b = var[i] / n[i], var[j] / n[j]
    se = np.sqrt(a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (a + b) ** 2 / (a * a / (n[i] - 1) + b * b / (n[j] - 1))
        diff = mean[i] - mean[j]
        valid = (se > 0) & np.isfinite(df)
        t = np.where(valid, diff / se, np.nan)
        df = np.where(valid, df, np.nan)
        dof = n[i] + n[j] - 2
        d = diff / np.sqrt(((n[i] - 1) * var[i] + (n[j] - 1) * var[j]) / dof)
    d = np.where(np.isfinite(d), d, np.nan)
    half = np.full(len(i), np.nan)
    p_adj = np.full(len(i), np.nan)
    if valid.any():
        q = math.sqrt(2) * np.abs(t[valid])
        p_adj[valid] = ptukey(q, k, df[valid])
        half[valid] = qtukey(ci, k, df[valid]) / math.sqrt(2) * se[valid]
    table = pd.DataFrame({
        "group1": labels[i], "group2": labels[j], "n1": n[i].astype(int), "n2": n[j].astype(int),
        "mean1": mean[i], "mean2": mean[j], "diff": diff, "se": se, "t": t, "q": math.sqrt(2) * np.abs(t),
        "df": df, "pvalue": 2 * stats.t.sf(np.abs(t), df), "pvalue_adj": p_adj,
        "ci_lower": diff - half, "ci_upper": diff + half, "cohens_d": d,
        "hedges_g": pg.convert_effsize(d, "cohen", "hedges", nx=n[i], ny=n[j]),
        "hedges_g_exact": d * np.array([hedges_correction(v, exact=True) for v in dof])})
    return table.reindex(columns=list(PAIRWISE_COLUMNS))


def _versus_rest(frame: pd.DataFrame, groups: pd.DataFrame, ci: float, adjust: str) -> pd.DataFrame:
    r"""Each group against all the others, from the groups' sufficient statistics.

    The rest of group :math:`g` has :math:`n_r = N - n_g` values with mean
    :math:`\bar y_r = (N\bar y - n_g\bar y_g)/n_r` and sum of squares about its mean
    :math:`M_r = M - M_g - \frac{n_g n_r}{N}(\bar y_g - \bar y_r)^2` (the two-sample
    decomposition of the total sum of squares :math:`M`, Chan, Golub & LeVeque 1983), so a
    thousand groups cost one pass over the data, not one per group. Cohen's d uses the
    pooled SD :math:`\sqrt{(M_g + M_r)/(N - 2)}` and Hedges' g multiplies it by
    :math:`1 - 3/(4N - 9)`, as ``pingouin.compute_effsize`` does.
    """
    y = frame["y"].to_numpy(dtype=float)
    total_n, total_mean = len(y), float(y.mean())
    total_m2 = float(((y - total_mean) ** 2).sum())
    n = groups["n"].to_numpy(dtype=float)
    mean = groups["mean"].to_numpy(dtype=float)
    deviation = frame["y"] - frame.groupby("g", sort=True)["y"].transform("mean")
    m2 = (deviation**2).groupby(frame["g"], sort=True).sum().to_numpy(dtype=float)  # the order of ``groups``
    rest_n = total_n - n
    with np.errstate(divide="ignore", invalid="ignore"):
        rest_mean = (total_n * total_mean - n * mean) / rest_n
        rest_m2 = np.maximum(total_m2 - m2 - n * rest_n / total_n * (mean - rest_mean) ** 2, 0.0)
        pooled = np.sqrt((m2 + rest_m2) / (total_n - 2))
        cohen = (mean - rest_mean) / pooled
    cohen = np.where(np.isfinite(cohen), cohen, np.nan)
    hedges = cohen * (1 - 3 / (4 * total_n - 9))
    rows = []
    for i, label in enumerate(groups["group"]):
        welch = _welch_t(mean[i], m2[i] / (n[i] - 1) if n[i] > 1 else np.nan, int(n[i]), rest_mean[i],
                         rest_m2[i] / (rest_n[i] - 1) if rest_n[i] > 1 else 0.0, int(rest_n[i]), ci)
        rows.append({"group": label, "n": int(n[i]), "mean": mean[i], "rest_n": int(rest_n[i]),
                     "rest_mean": rest_mean[i], "diff": mean[i] - rest_mean[i], **welch, "cohens_d": cohen[i],
                     "hedges_g": hedges[i]})
    table = pd.DataFrame(rows)
    if len(table) == 2:  # both rows are the same test: a family of one
        table["pvalue_adj"] = table["pvalue"]
    else:
        table["pvalue_adj"] = adjust_pvalues(table["pvalue"], adjust)
    return table.reindex(columns=list(VERSUS_REST_COLUMNS))


def _t_tests(frame: pd.DataFrame, groups: pd.DataFrame, ci: float) -> pd.DataFrame:
    import pingouin as pg

    if len(groups) != 2:
        return pd.DataFrame(columns=list(TTEST_COLUMNS))
    first, second = groups["group"]
    x = frame.loc[frame["g"] == first, "y"].to_numpy(dtype=float)
    y = frame.loc[frame["g"] == second, "y"].to_numpy(dtype=float)
    rows = []
    for name, equal in (("welch", False), ("student", True)):
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            result = pg.ttest(x, y, paired=False, correction=not equal).iloc[0]
        t, df = float(result["T"]), float(result["dof"])
        if not (np.isfinite(t) and np.isfinite(df)):
            rows.append({"test": name, "t": np.nan, "df": np.nan, "pvalue": np.nan})
            continue
        # pingouin rounds its interval to two decimals; the unrounded one is diff -/+ t(ci) se.
        nx, ny, vx, vy = len(x), len(y), x.var(ddof=1), y.var(ddof=1)
        se = (math.sqrt(((nx - 1) * vx + (ny - 1) * vy) / (nx + ny - 2) * (1 / nx + 1 / ny)) if equal
              else math.sqrt(vx / nx + vy / ny))
        half = stats.t.ppf(0.5 + ci / 2, df) * se
        diff = x.mean() - y.mean()
        rows.append({"test": name, "t": t, "df": df, "pvalue": float(2 * stats.t.sf(abs(t), df)),
                     "ci_lower": diff - half, "ci_upper": diff + half})
    return pd.DataFrame(rows).reindex(columns=list(TTEST_COLUMNS))


# --------------------------------------------------------------------------- public
def compare(data: pd.DataFrame, dv: str, group: str, *, adjust: str = "holm", ci: float = 0.95,
            pairs: bool = True) -> GroupComparison:
    r"""Compare ``dv`` across the groups of ``group``: means, omnibus tests, pairs, effect sizes.

    Parameters
    ----------
    data
        One row per response.
    dv
        The numeric column compared (a construct score, an item).
    group
        The grouping column (unit, wave, a demographic answer). Values are compared as
        text; rows with a missing ``dv`` or ``group`` are dropped.
    adjust
        Adjustment of the group-versus-rest tests across the groups: ``"holm"``
        (default), ``"fdr_bh"``, ``"bonferroni"`` or ``"none"`` (:func:`adjust_pvalues`).
    ci
        Level of the intervals.
    pairs
        Whether to compute the Games-Howell pairs (:math:`k(k-1)/2` of them; False leaves
        ``pairwise`` empty, for many groups).

    Returns
    -------
    GroupComparison

    Raises
    ------
    DataError
        ``data`` is not a DataFrame, a column is missing, ``dv`` holds text, fewer than two
        groups have a value, or a group has a single value.

    Notes
    -----
    With :math:`k` groups of sizes :math:`n_j`, means :math:`\bar y_j` and variances
    :math:`s_j^2`, :math:`N = \sum n_j`:

    *Welch's ANOVA* (Welch 1951): weights :math:`w_j = n_j / s_j^2`,
    :math:`\tilde y = \sum w_j \bar y_j / \sum w_j`,
    :math:`\Lambda = 3 \sum (1 - w_j / \sum w)^2 / (n_j - 1) / (k^2 - 1)`,
    :math:`F = \frac{\sum w_j (\bar y_j - \tilde y)^2 / (k - 1)}{1 + 2 (k - 2) \Lambda / 3}`
    on :math:`k - 1` and :math:`1 / \Lambda` degrees of freedom. R:
    ``oneway.test(y ~ g, var.equal = FALSE)``.

    *One-way ANOVA*: :math:`F = (SS_B / (k - 1)) / (SS_W / (N - k))`,
    :math:`\eta^2 = SS_B / SS_T`, :math:`\omega^2 = (SS_B - (k - 1) MS_W) / (SS_T + MS_W)`
    (Hays 1963). R: ``summary(aov(y ~ g))``.

    *Games-Howell* (Games & Howell 1976), each pair :math:`(i, j)`:
    :math:`se = \sqrt{s_i^2/n_i + s_j^2/n_j}`, :math:`t = (\bar y_i - \bar y_j) / se`,
    Welch-Satterthwaite :math:`\nu = se^4 / \sum_{l \in \{i,j\}} (s_l^2/n_l)^2 / (n_l - 1)`,
    :math:`q = \sqrt 2 |t|`, :math:`p = P(Q_{k,\nu} > q)` of the studentized range, and the
    simultaneous interval :math:`\bar y_i - \bar y_j \mp q_{1-\alpha; k, \nu}\, se / \sqrt 2`.
    R: ``ptukey(q, k, df, lower.tail = FALSE)``, ``qtukey(.95, k, df)``.

    *Effect sizes* (Hedges 1981): Cohen's :math:`d = (\bar y_i - \bar y_j) / s_p` with
    the pooled :math:`s_p^2 = ((n_i - 1) s_i^2 + (n_j - 1) s_j^2) / (n_i + n_j - 2)`; Hedges'
    :math:`g = J d` with :math:`J = 1 - 3 / (4 (n_i + n_j - 2) - 1)`, ``hedges_g_exact`` with
    the gamma-function J (:func:`hedges_correction`).

    *Group against the rest*: Welch's t of the group against all other rows, Hedges' g
    of the same split, p-values adjusted across the k groups with Holm (1979) or
    Benjamini & Hochberg (1995).

    References
    ----------
    Welch, B. L. (1951). On the comparison of several mean values: an alternative approach.
    *Biometrika* 38, 330-336. Games, P. A. & Howell, J. F. (1976). Pairwise multiple
    comparison procedures with unequal n's and/or variances. *Journal of Educational
    Statistics* 1, 113-125. Hedges, L. V. (1981). Distribution theory for Glass's estimator
    of effect size and related estimators. *Journal of Educational Statistics* 6, 107-128.
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics* 6, 65-70. Benjamini, Y. & Hochberg, Y. (1995). Controlling the
    false discovery rate. *JRSS B* 57, 289-300.
    """
    where = f"comparison of {dv!r} by {group!r}"
    if adjust not in ADJUSTMENTS:
        raise DataError(f"unknown adjustment '{adjust}'.{did_you_mean(str(adjust), list(ADJUSTMENTS))}",
                        where=where, fix=f"use one of {', '.join(ADJUSTMENTS)}.")
    if not 0 < ci < 1:
        raise DataError(f"interval level {ci!r} is not between 0 and 1", where=where, fix="use e.g. ci=0.95")
    frame = _prepare(data, dv, group, where)
    grouped = frame.groupby("g", sort=True)["y"]
    groups = pd.DataFrame({"group": [str(g) for g in grouped.groups], "n": grouped.size().to_numpy(),
                           "mean": grouped.mean().to_numpy(), "sd": grouped.std(ddof=1).to_numpy()})
    groups["se"] = groups["sd"] / np.sqrt(groups["n"])
    groups = groups.reindex(columns=list(GROUP_COLUMNS))
    notes: list[str] = []
    omnibus = _omnibus(frame, notes)
    return GroupComparison(dv=str(dv), group=str(group), n=len(frame), groups=groups, omnibus=omnibus,
                           pairwise=_pairwise(groups, ci) if pairs else pd.DataFrame(columns=list(PAIRWISE_COLUMNS)),
                           versus_rest=_versus_rest(frame, groups, ci, adjust),
                           t_tests=_t_tests(frame, groups, ci), adjust=adjust, ci=ci, notes=tuple(notes))
