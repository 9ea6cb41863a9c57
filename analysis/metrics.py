"""Customer and employee experience metrics: NPS, eNPS, CSAT top-two-box, CES.

Each metric is one function taking the answers (a Series or array; missing answers
are dropped) and returning a frozen result with ``to_frame()``; :func:`by_unit` gives
any of them per unit and overall while suppressing units smaller than the anonymity
threshold (their rows say "fewer than k respondents" and carry no number, not even
their count), with secondary suppression so that the overall row cannot be used to
recover a hidden unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import DataError
from analysis.frames import DEFAULT_MIN_GROUP_SIZE, numeric_columns, require_columns
from analysis.suppression import suppress_small_units, suppression_label
from surveys.errors import did_you_mean

NPS_ADJUSTMENT = 3.0
"""Pseudo-observations of the adjusted Wald NPS interval (Rocks 2016): 3/4 promoter,
3/4 detractor, 3/2 passive."""


def _z(ci: float) -> float:
    if not 0 < ci < 1:
        raise DataError(f"ci must lie between 0 and 1, got {ci}.", fix="e.g. ci=0.95.")
    return float(stats.norm.ppf(0.5 + ci / 2))


def _answers(scores: Any, *, where: str) -> np.ndarray:
    values = pd.Series(scores).dropna() if not isinstance(scores, pd.Series) else scores.dropna()
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(
            f"answers must be numbers, got dtype {values.dtype}.",
            where=where,
            fix="pass the item column of the wide frame (answers as floats).",
        )
    return values.to_numpy(dtype=float)


# --------------------------------------------------------------------------- NPS
@dataclass(frozen=True)
class NPSResult:
    """Net Promoter Score (or eNPS) with its interval.

    Attributes
    ----------
    metric
        ``"nps"`` or ``"enps"``.
    value
        NPS = 100 (p_promoters - p_detractors), from -100 to 100.
    se
        Standard error of ``value`` (multinomial).
    ci_lower, ci_upper, ci, method
        The interval, its level and ``"wald"`` or ``"adjusted"``.
    n, n_promoters, n_passives, n_detractors
        Counts (answers 9-10, 7-8, 0-6).
    pct_promoters, pct_detractors
        Percentages of n.
    """

    metric: str
    value: float
    se: float
    ci_lower: float
    ci_upper: float
    ci: float
    method: str
    n: int
    n_promoters: int
    n_passives: int
    n_detractors: int
    pct_promoters: float
    pct_detractors: float

    def to_frame(self) -> pd.DataFrame:
        """One row with every field as a column."""
        return pd.DataFrame([asdict(self)])


def nps(
    scores: Any, *, ci: float = 0.95, method: Literal["wald", "adjusted"] = "wald", metric: str = "nps"
) -> NPSResult:
    """Net Promoter Score with a multinomial confidence interval (Reichheld 2003).

    Parameters
    ----------
    scores
        Answers to "How likely are you to recommend ...?" on 0-10; missing answers
        are dropped. Other values raise :class:`DataError`.
    ci
        Confidence level.
    method
        ``"wald"`` (default) or ``"adjusted"``: the adjusted Wald interval of Rocks
        (2016), which adds 3 pseudo-answers (3/4 promoter, 3/4 detractor, 3/2
        passive) before the Wald formula and keeps its coverage near the nominal
        level for small n and extreme scores.
    metric
        Label of the result (:func:`enps` passes ``"enps"``).

    Returns
    -------
    NPSResult

    Notes
    -----
    Promoters answer 9-10, passives 7-8, detractors 0-6. With proportions p_P and
    p_D of n answers, NPS = 100 (p_P - p_D); as a difference of two multinomial
    proportions its variance is::

        Var(p_P - p_D) = (p_P + p_D - (p_P - p_D)^2) / n

    and the Wald interval is NPS +- z 100 sqrt(Var), cut to [-100, 100]. The point
    estimate is always the unadjusted NPS.

    References
    ----------
    Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business
    Review, 81*(12), 46-54.
    Rocks, B. (2016). Interval estimation for the "net promoter score". *The American
    Statistician, 70*(4), 365-372.
    """
    where = metric
    z = _z(ci)
    if method not in ("wald", "adjusted"):
        raise DataError(
            f"unknown interval method '{method}'.{did_you_mean(str(method), ['wald', 'adjusted'])}",
            where=where,
            fix="use method='wald' or method='adjusted'.",
        )
    x = _answers(scores, where=where)
    bad = x[(x < 0) | (x > 10) | (x != np.round(x))]
    if bad.size:
        raise DataError(
            f"{bad.size} answers are not whole numbers from 0 to 10 (e.g. {bad[0]:g}).",
            where=where,
            fix="pass the 0-10 likelihood-to-recommend item.",
        )
    n = int(x.size)
    if n == 0:
        raise DataError("no answers.", where=where, fix="check the item column and the filter.")
    promoters, detractors = int((x >= 9).sum()), int((x <= 6).sum())
    p_p, p_d = promoters / n, detractors / n
    if method == "adjusted":
        total = n + NPS_ADJUSTMENT
        a_p, a_d = (promoters + NPS_ADJUSTMENT / 4) / total, (detractors + NPS_ADJUSTMENT / 4) / total
    else:
        total, a_p, a_d = n, p_p, p_d
    se = 100.0 * np.sqrt(max(a_p + a_d - (a_p - a_d) ** 2, 0.0) / total)
    centre = 100.0 * (a_p - a_d)
    return NPSResult(
        metric=metric,
        value=100.0 * (p_p - p_d),
        se=float(se),
        ci_lower=float(max(-100.0, centre - z * se)),
        ci_upper=float(min(100.0, centre + z * se)),
        ci=ci,
        method=method,
        n=n,
        n_promoters=promoters,
        n_passives=n - promoters - detractors,
        n_detractors=detractors,
        pct_promoters=100.0 * p_p,
        pct_detractors=100.0 * p_d,
    )


def enps(scores: Any, *, ci: float = 0.95, method: Literal["wald", "adjusted"] = "wald") -> NPSResult:
    """Employee Net Promoter Score: :func:`nps` on "How likely are you to recommend
    this organisation as a place to work?" (0-10); ``metric="enps"``."""
    return nps(scores, ci=ci, method=method, metric="enps")


# --------------------------------------------------------------------------- CSAT
@dataclass(frozen=True)
class ProportionResult:
    """A top-box share with its Wilson interval.

    Attributes
    ----------
    metric
        ``"csat_top2box"``.
    value
        Share (0-1) of answers in the top ``top`` scale values.
    ci_lower, ci_upper, ci
        Wilson score interval and its level.
    n, n_top
        Answers and answers in the top box.
    top_values
        The scale values counted as top box.
    """

    metric: str
    value: float
    ci_lower: float
    ci_upper: float
    ci: float
    n: int
    n_top: int
    top_values: tuple[float, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row with every field as a column."""
        row = asdict(self)
        row["top_values"] = ", ".join(f"{v:g}" for v in self.top_values)
        return pd.DataFrame([row])


def _scale_values(scale: Any, scale_points: int | None, where: str) -> np.ndarray:
    if scale is not None:
        values = getattr(scale, "values", scale)
        return np.sort(np.asarray(list(values), dtype=float))
    if scale_points is None:
        raise DataError(
            "the response scale is unknown.",
            where=where,
            fix="pass scale=instrument.scales[...] (or the item's scale) or scale_points=A for answers 1..A.",
        )
    if int(scale_points) != scale_points or scale_points < 3:
        raise DataError(
            f"scale_points must be a whole number of at least 3, got {scale_points}.", where=where, fix="e.g. 5."
        )
    return np.arange(1.0, scale_points + 1.0)


def wilson_interval(successes: int, n: int, *, ci: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval of a proportion ``successes / n``.

    Notes
    -----
    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``.
    """
    z = _z(ci)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def csat_top2box(
    scores: Any,
    *,
    scale: Any = None,
    scale_points: int | None = None,
    top: int = 2,
    ci: float = 0.95,
) -> ProportionResult:
    """CSAT as the top-two-box share with a Wilson interval.

    Parameters
    ----------
    scores
        Satisfaction answers; missing answers are dropped.
    scale
        The item's :class:`~surveys.instrument.Scale` (or any sequence of its values);
        the top box is its ``top`` highest values.
    scale_points
        Instead of ``scale``: answers are 1..scale_points.
    top
        Size of the top box (2: "satisfied" and "very satisfied").
    ci
        Confidence level.

    Returns
    -------
    ProportionResult

    Notes
    -----
    CSAT = n_top / n. The Wilson score interval (Wilson 1927) keeps its coverage
    for shares near 0 or 1, where the Wald interval fails (Agresti & Coull 1998).
    Answers that are not scale values raise :class:`DataError`.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *JASA, 22*, 209-212.
    """
    where = "csat_top2box"
    z_values = _scale_values(scale, scale_points, where)
    if not 1 <= top < z_values.size:
        raise DataError(
            f"top must be between 1 and {z_values.size - 1}, got {top}.", where=where, fix="use top=2."
        )
    x = _answers(scores, where=where)
    outside = x[~np.isin(x, z_values)]
    if outside.size:
        raise DataError(
            f"{outside.size} answers are not values of the scale {z_values.tolist()} (e.g. {outside[0]:g}).",
            where=where,
            fix="pass the scale the item was asked on.",
        )
    if x.size == 0:
        raise DataError("no answers.", where=where, fix="check the item column and the filter.")
    top_values = z_values[-top:]
    n_top = int(np.isin(x, top_values).sum())
    lower, upper = wilson_interval(n_top, int(x.size), ci=ci)
    return ProportionResult(
        metric="csat_top2box",
        value=n_top / x.size,
        ci_lower=lower,
        ci_upper=upper,
        ci=ci,
        n=int(x.size),
        n_top=n_top,
        top_values=tuple(float(v) for v in top_values),
    )


# --------------------------------------------------------------------------- CES
@dataclass(frozen=True)
class MeanResult:
    """A mean score with its t interval.

    Attributes
    ----------
    metric
        ``"ces"``.
    value, sd, se
        Mean, standard deviation (n - 1) and standard error.
    ci_lower, ci_upper, ci
        t interval on n - 1 degrees of freedom and its level.
    n
        Answers.
    """

    metric: str
    value: float
    sd: float
    se: float
    ci_lower: float
    ci_upper: float
    ci: float
    n: int

    def to_frame(self) -> pd.DataFrame:
        """One row with every field as a column."""
        return pd.DataFrame([asdict(self)])


def ces(scores: Any, *, ci: float = 0.95) -> MeanResult:
    """Customer Effort Score: the mean effort rating with a t interval.

    Parameters
    ----------
    scores
        Answers to the effort item (e.g. 1-7 "The company made it easy to handle my
        issue"); missing answers are dropped.
    ci
        Confidence level.

    Returns
    -------
    MeanResult

    Notes
    -----
    mean +- t_{n-1, (1+ci)/2} sd / sqrt(n); with one answer sd, se and the interval
    are NaN.

    References
    ----------
    Dixon, M., Freeman, K., & Toman, N. (2010). Stop trying to delight your
    customers. *Harvard Business Review, 88*(7/8), 116-122.
    """
    _z(ci)
    x = _answers(scores, where="ces")
    n = int(x.size)
    if n == 0:
        raise DataError("no answers.", where="ces", fix="check the item column and the filter.")
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if n > 1 else float("nan")
    se = sd / np.sqrt(n)
    half = float(stats.t.ppf(0.5 + ci / 2, n - 1) * se) if n > 1 else float("nan")
    return MeanResult(
        metric="ces", value=mean, sd=sd, se=se, ci_lower=mean - half, ci_upper=mean + half, ci=ci, n=n
    )


# --------------------------------------------------------------------------- by unit
METRICS = {"nps": nps, "enps": enps, "csat_top2box": csat_top2box, "ces": ces}

UNIT_COLUMNS = ("level", "unit", "n", "value", "ci_lower", "ci_upper", "suppressed", "label")


@dataclass(frozen=True)
class UnitMetric:
    """A metric per unit and overall.

    Attributes
    ----------
    metric
        Name of the metric (``nps``, ``enps``, ``csat_top2box``, ``ces``).
    units
        One row per unit: ``level`` ("unit"), ``unit``, ``n``, ``value``,
        ``ci_lower``, ``ci_upper``, ``suppressed``, ``label``. Suppressed units have
        NA in every number (``n`` included) and ``label`` says why.
    overall
        The metric over all respondents with an answer (the metric's result object),
        or None when fewer than ``min_group_size`` answered.
    min_group_size
        The anonymity threshold applied.
    """

    metric: str
    units: pd.DataFrame
    overall: Any
    min_group_size: int

    def to_frame(self) -> pd.DataFrame:
        """The unit rows followed by one ``level="overall"`` row."""
        overall = {
            "level": "overall",
            "unit": None,
            "suppressed": self.overall is None,
            "label": "" if self.overall is not None else suppression_label(self.min_group_size),
        }
        if self.overall is not None:
            overall.update(
                n=self.overall.n,
                value=self.overall.value,
                ci_lower=self.overall.ci_lower,
                ci_upper=self.overall.ci_upper,
            )
        frame = pd.concat([self.units, pd.DataFrame([overall])], ignore_index=True)
        frame["n"] = frame["n"].astype("Int64")
        return frame[list(UNIT_COLUMNS)]


def by_unit(
    data: pd.DataFrame,
    item: str,
    group: str,
    *,
    metric: str,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    **options: Any,
) -> UnitMetric:
    """A metric per unit and overall, suppressing units below the anonymity threshold.

    Parameters
    ----------
    data
        One row per response.
    item
        The metric's item column.
    group
        The unit column.
    metric
        ``"nps"``, ``"enps"``, ``"csat_top2box"`` or ``"ces"``.
    min_group_size
        Units with fewer answers than this show no number (pass the instrument's
        ``min_group_size``).
    **options
        Passed to the metric (``ci``, ``method``, ``scale``, ``scale_points``, ``top``).

    Returns
    -------
    UnitMetric

    Notes
    -----
    A unit with 0 < n < min_group_size answers is suppressed. The overall row uses
    every answer, so if the suppressed units together hold fewer than
    ``min_group_size`` answers the smallest shown units are suppressed as well
    (secondary suppression, :func:`analysis.suppression.suppress_small_units`);
    otherwise the overall minus the shown units would reveal them.
    """
    if metric not in METRICS:
        raise DataError(
            f"unknown metric '{metric}'.{did_you_mean(str(metric), METRICS)}",
            where="by_unit",
            fix=f"use one of {sorted(METRICS)}.",
        )
    function = METRICS[metric]
    where = f"{metric} by '{group}'"
    require_columns(data, [group], where=where)
    answers = numeric_columns(data, [item], where=where)[item]
    frame = pd.DataFrame({"unit": data[group], "x": answers}).dropna()
    sizes = frame.groupby("unit", sort=True).size()
    hidden = suppress_small_units(sizes, min_group_size, complementary=True)
    rows = []
    primary = (sizes < min_group_size)
    for unit, x in frame.groupby("unit", sort=True)["x"]:
        if hidden[unit]:
            label = (
                suppression_label(min_group_size)
                if primary[unit]
                else "hidden so that a smaller unit cannot be recovered from the overall"
            )
            rows.append({"level": "unit", "unit": unit, "n": pd.NA, "value": np.nan, "ci_lower": np.nan,
                         "ci_upper": np.nan, "suppressed": True, "label": label})
            continue
        result = function(x, **options)
        rows.append({"level": "unit", "unit": unit, "n": result.n, "value": result.value,
                     "ci_lower": result.ci_lower, "ci_upper": result.ci_upper, "suppressed": False, "label": ""})
    units = pd.DataFrame(rows, columns=list(UNIT_COLUMNS))
    units["n"] = units["n"].astype("Int64")
    overall = function(frame["x"], **options) if len(frame) >= min_group_size else None
    return UnitMetric(metric=metric, units=units, overall=overall, min_group_size=int(min_group_size))



def unit_values(data: pd.DataFrame, item: str, group: str, *, metric: str, scale: Any = None,
                scale_points: int | None = None, top: int = 2) -> pd.Series:
    """The metric's point value per group, vectorised, for model inputs (never displayed).

    The same values as ``by_unit(...).units["value"]`` with ``min_group_size=1`` (NPS and
    eNPS in points, CSAT as the top-``top``-box share, CES as the mean), without intervals
    or suppression, in one grouped pass: the linkage chain and ``tandem power`` need only
    the values, for thousands of simulated units. Groups without an answer are left out.
    Answers outside the metric's range raise :class:`DataError` as in the metric functions.
    """
    if metric not in METRICS:
        raise DataError(f"unknown metric '{metric}'.{did_you_mean(str(metric), METRICS)}", where="unit_values",
                        fix=f"use one of {sorted(METRICS)}.")
    where = f"{metric} by '{group}'"
    require_columns(data, [group], where=where)
    x = numeric_columns(data, [item], where=where)[item]
    keep = x.notna() & data[group].notna()
    x, groups = x[keep].to_numpy(dtype=float), data.loc[keep, group]
    values = answer_points(x, metric, scale=scale, scale_points=scale_points, top=top, where=where)
    return pd.Series(values, index=groups.index).groupby(groups.to_numpy(), sort=True).mean().rename(metric)


def answer_points(x: np.ndarray, metric: str, *, scale: Any = None, scale_points: int | None = None, top: int = 2,
                  where: str = "answers") -> np.ndarray:
    """Each answer's contribution to the metric, whose mean over a group is the group's
    value (:func:`unit_values`): NPS/eNPS ``100 (1[x >= 9] - 1[x <= 6])`` points, CSAT
    ``1[x`` in the top ``top`` scale points``]``, CES the answer itself. ``x`` holds no NaN;
    answers outside the metric's range raise :class:`DataError`."""
    if metric in ("nps", "enps"):
        bad = x[(x < 0) | (x > 10) | (x != np.round(x))]
        if bad.size:
            raise DataError(f"{bad.size} answers are not whole numbers from 0 to 10 (e.g. {bad[0]:g}).",
                            where=where, fix="pass the 0-10 likelihood-to-recommend item.")
        return 100.0 * ((x >= 9).astype(float) - (x <= 6).astype(float))
    if metric == "csat_top2box":
        points = _scale_values(scale, scale_points, where)
        if not 1 <= top < points.size:
            raise DataError(f"top must be between 1 and {points.size - 1}, got {top}.", where=where, fix="use top=2.")
        outside = x[~np.isin(x, points)]
        if outside.size:
            raise DataError(f"{outside.size} answers are not values of the scale {points.tolist()} "
                            f"(e.g. {outside[0]:g}).", where=where, fix="pass the scale the item was asked on.")
        return (x >= points[-top]).astype(float)
    return x
