"""Importance-performance analysis: key drivers turned into action quadrants.

Importance is a driver's share of the explained variance (:mod:`analysis.drivers`),
performance its mean (or top-two-box share) on the scale; the quadrants at the medians
(or given cuts) describe where a driver stands, they do not recommend (that is
:mod:`analysis.recommendation`). Martilla & James (1977).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from analysis.drivers import DriverResult, ranks
from analysis.errors import DataError
from analysis.frames import numeric_columns, require_columns
from surveys.errors import did_you_mean

__all__ = ["QUADRANTS", "importance_performance"]


QUADRANTS = {
    (True, False): "concentrate here",
    (True, True): "keep up the good work",
    (False, False): "low priority",
    (False, True): "possible overkill",
}


def _performance_of(data: pd.DataFrame, drivers: Sequence[str], kind: str, scale_points: int | None) -> pd.Series:
    where = "importance_performance"
    values = numeric_columns(data, list(drivers), where=where)
    if kind == "mean":
        return values.mean()
    if kind == "top2box":
        if scale_points is None or int(scale_points) != scale_points or scale_points < 3:
            raise DataError(
                f"top-two-box performance needs the number of scale points (1..A), got {scale_points}.",
                where=where,
                fix="pass scale_points=5 (or the drivers' scale length).",
            )
        return (values >= scale_points - 1).where(values.notna()).mean()
    raise DataError(
        f"unknown performance kind '{kind}'.{did_you_mean(str(kind), ['mean', 'top2box'])}",
        where=where,
        fix="use kind='mean' or kind='top2box'.",
    )


def importance_performance(
    importance: DriverResult | Mapping[str, float] | pd.Series,
    performance: Mapping[str, float] | pd.Series | pd.DataFrame,
    *,
    kind: Literal["mean", "top2box"] = "mean",
    scale_points: int | None = None,
    importance_cut: float | None = None,
    performance_cut: float | None = None,
) -> pd.DataFrame:
    """Importance-performance table with action quadrants (Martilla & James 1977).

    Parameters
    ----------
    importance
        A :class:`DriverResult` (its share of explained variance, ``pct / 100``) or a
        mapping driver -> importance.
    performance
        Mapping driver -> performance (for the same drivers), or the respondent
        DataFrame with a column per driver, summarised by ``kind``.
    kind
        With a DataFrame: ``"mean"`` (mean score) or ``"top2box"`` (share of
        answers at or above ``scale_points - 1`` on a 1..A scale; missing answers
        left out).
    scale_points
        A of the 1..A scale, for ``kind="top2box"``.
    importance_cut, performance_cut
        Where "high" starts; default the median over the drivers. A value equal to
        the cut counts as high.

    Returns
    -------
    pandas.DataFrame
        Columns ``driver, importance, performance, importance_rank, quadrant``, most
        important first, and with a bootstrapped :class:`DriverResult` the importance's
        interval (``importance_ci_lower/upper``, BC), with a respondent frame and
        ``kind="mean"`` the performance's t interval (``performance_ci_lower/upper``);
        quadrants are "concentrate here" (important, performing below the cut), "keep up
        the good work" (important, performing well), "low priority" (less important,
        performing below the cut) and "possible overkill" (less important, performing
        well).

    References
    ----------
    Martilla, J. A., & James, J. C. (1977). Importance-performance analysis.
    *Journal of Marketing, 41*(1), 77-79.
    """
    where = "importance_performance"
    imp = importance.importance if isinstance(importance, DriverResult) else pd.Series(importance, dtype=float)
    scores = performance if isinstance(performance, pd.DataFrame) else None
    if isinstance(performance, pd.DataFrame):
        require_columns(performance, list(imp.index), where=where)
        performance = _performance_of(performance, list(imp.index), kind, scale_points)
    perf = pd.Series(performance, dtype=float)
    for name in imp.index:
        if name not in perf.index:
            raise DataError(
                f"no performance value for driver '{name}'.{did_you_mean(name, perf.index)}",
                where=where,
                fix="give a performance value for every driver.",
            )
    extra = [name for name in perf.index if name not in imp.index]
    if extra:
        raise DataError(
            f"performance given for drivers without importance: {extra}.",
            where=where,
            fix="give the same drivers to both.",
        )
    perf = perf[imp.index]
    if imp.isna().any() or perf.isna().any():
        raise DataError(
            "importance and performance must not be missing.", where=where, fix="drop drivers without values."
        )
    i_cut = float(imp.median()) if importance_cut is None else float(importance_cut)
    p_cut = float(perf.median()) if performance_cut is None else float(performance_cut)
    table = pd.DataFrame({"driver": list(imp.index), "importance": imp.to_numpy(), "performance": perf.to_numpy()})
    if isinstance(importance, DriverResult) and importance.bootstrap:
        bounds = importance.table.set_index("predictor").loc[list(imp.index), ["pct_ci_lower", "pct_ci_upper"]] / 100
        table["importance_ci_lower"] = bounds["pct_ci_lower"].to_numpy()
        table["importance_ci_upper"] = bounds["pct_ci_upper"].to_numpy()
    if scores is not None and kind == "mean":
        from scipy import stats

        answered = scores[list(imp.index)].astype(float)
        n = answered.notna().sum().to_numpy()
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * answered.std(ddof=1).to_numpy() / np.sqrt(np.maximum(n, 1))
        table["performance_ci_lower"], table["performance_ci_upper"] = perf.to_numpy() - half, perf.to_numpy() + half
    table["importance_rank"] = ranks(table["importance"].to_numpy())
    table["quadrant"] = [
        QUADRANTS[(bool(i >= i_cut), bool(q >= p_cut))]
        for i, q in zip(table["importance"], table["performance"], strict=True)
    ]
    return table.sort_values("importance_rank", kind="stable").reset_index(drop=True)
