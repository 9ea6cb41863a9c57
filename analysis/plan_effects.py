"""Did units with an action plan change more than comparable units without one? (Descriptive.)

For each driver a unit planned to work on, the **change** of the unit is its mean driver
score in the next wave minus its mean in the wave before (``t + 1`` minus ``t``). The
units that planned that driver are set beside comparable units without a plan (chosen by
:mod:`services.action_plans`: units with the same parent, else of the same level), and
this module describes both groups:

* the mean change of each group with a 95% **t interval** (``mean +- t(n - 1) s / sqrt(n)``);
* the difference of the two mean changes (planned minus comparison) with **Welch's**
  interval (unequal variances, Welch-Satterthwaite degrees of freedom; Welch 1947), the
  function :mod:`analysis.compare` uses for its group tests.

Units, not respondents, are the observations: each unit's change counts once, whatever
its size. This is a before/after comparison of self-selected groups: units chose to plan,
and a unit that scored low in wave ``t`` is expected to move up by regression to the
mean alone. **It does not show that a plan caused a change**, and :func:`describe` says
so in every sentence it writes.

Pure: frames in, frames out; no store, no disclosure policy (the services give this
module only unit means the policy shows).

References
----------
Welch, B. L. (1947). The generalization of "Student's" problem when several different
population variances are involved. *Biometrika, 34*(1-2), 28-35.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.compare import _welch_t
from analysis.errors import DataError

__all__ = ["EFFECT_COLUMNS", "NOT_CAUSAL", "PlanEffects", "compare_changes", "describe", "unit_changes"]

#: Columns of :attr:`PlanEffects.table`.
EFFECT_COLUMNS = ("driver", "n_planned", "planned_change", "planned_lower", "planned_upper", "n_comparison",
                  "comparison_change", "comparison_lower", "comparison_upper", "difference", "difference_lower",
                  "difference_upper", "df")
#: What every description of these numbers says.
NOT_CAUSAL = "this does not show that the plan caused it"


def unit_changes(before: pd.DataFrame, after: pd.DataFrame, measures: Sequence[str], *,
                 unit: str = "unit") -> pd.DataFrame:
    """Each unit's change in each measure from one wave to the next.

    Parameters
    ----------
    before, after
        One row per unit (column ``unit``) with its mean of each measure, in waves ``t``
        and ``t + 1``.
    measures
        Measure columns (driver construct ids) present in both frames.

    Returns
    -------
    pandas.DataFrame
        ``unit, driver, before, after, change``: one row per unit present in both waves
        and measure with a mean in both.
    """
    missing = [m for m in measures if m not in before or m not in after]
    if missing:
        raise DataError(f"no column '{missing[0]}' in the unit means", where="plan effects",
                        fix="pass the driver constructs scored in both waves.")
    cols = ["unit", "driver", "before", "after", "change"]
    if not len(measures):
        return pd.DataFrame(columns=cols)
    left = before.set_index(unit)[list(measures)].melt(ignore_index=False, var_name="driver", value_name="before")
    right = after.set_index(unit)[list(measures)].melt(ignore_index=False, var_name="driver", value_name="after")
    joined = left.reset_index(names="unit").merge(right.reset_index(names="unit"), on=["unit", "driver"])
    joined = joined.dropna(subset=["before", "after"])
    joined["change"] = joined["after"] - joined["before"]
    return joined[cols].sort_values(["driver", "unit"], ignore_index=True)


def _mean_interval(values: np.ndarray, ci: float) -> tuple[float, float, float]:
    n = values.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + ci / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class PlanEffects:
    """Mean changes of planned and comparison units per driver.

    Attributes
    ----------
    table
        One row per driver, columns :data:`EFFECT_COLUMNS`: the units with a plan
        (``n_planned``, mean ``planned_change`` and its t interval), the comparison units
        (``n_comparison``, ``comparison_change`` and its interval), and ``difference``
        (planned minus comparison) with Welch's interval and degrees of freedom ``df``.
        Intervals are NaN for a group of fewer than two units.
    ci
        Confidence level of the intervals.
    """

    table: pd.DataFrame
    ci: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """:attr:`table` (a copy)."""
        return self.table.copy()


def compare_changes(changes: pd.DataFrame, *, planned: str = "planned", change: str = "change",
                    driver: str = "driver", ci: float = 0.95) -> PlanEffects:
    """Describe the changes of units with a plan beside those of comparable units without one.

    Parameters
    ----------
    changes
        One row per unit and driver: the ``driver``, the unit's ``change`` (wave ``t + 1``
        minus wave ``t`` of its mean) and ``planned`` (True for a unit with a plan for
        that driver, False for a comparison unit).
    ci
        Confidence level (default 0.95).

    Returns
    -------
    PlanEffects
        Per driver (in order of first appearance): group sizes, mean changes with t
        intervals, and the difference with Welch's interval.

    Notes
    -----
    Group mean: :math:`\\bar d \\pm t_{n-1,\\,1-\\alpha/2}\\, s/\\sqrt n`. Difference:
    :math:`\\bar d_P - \\bar d_C \\pm t_{\\nu,\\,1-\\alpha/2}\\sqrt{s_P^2/n_P + s_C^2/n_C}` with
    Welch-Satterthwaite :math:`\\nu`. Descriptive only (see the module docstring).
    """
    if not 0 < ci < 1:
        raise DataError(f"ci must be between 0 and 1, got {ci}", where="plan effects", fix="use ci=0.95.")
    for column in (planned, change, driver):
        if column not in changes:
            raise DataError(f"no column '{column}'", where="plan effects",
                            fix="pass one row per unit and driver with driver, change and planned.")
    rows = []
    values = pd.to_numeric(changes[change], errors="coerce")
    flags = changes[planned].astype(bool)
    for name in pd.unique(changes[driver]):
        here = (changes[driver] == name) & values.notna()
        p = values[here & flags].to_numpy(dtype=float)
        c = values[here & ~flags].to_numpy(dtype=float)
        p_mean, p_low, p_high = _mean_interval(p, ci)
        c_mean, c_low, c_high = _mean_interval(c, ci)
        diff = {"ci_lower": math.nan, "ci_upper": math.nan, "df": math.nan}
        if p.size >= 2 and c.size >= 2:
            diff = _welch_t(p_mean, float(p.var(ddof=1)), p.size, c_mean, float(c.var(ddof=1)), c.size, ci)
        rows.append({"driver": name, "n_planned": int(p.size), "planned_change": p_mean, "planned_lower": p_low,
                     "planned_upper": p_high, "n_comparison": int(c.size), "comparison_change": c_mean,
                     "comparison_lower": c_low, "comparison_upper": c_high,
                     "difference": p_mean - c_mean if p.size and c.size else math.nan,
                     "difference_lower": diff["ci_lower"], "difference_upper": diff["ci_upper"], "df": diff["df"]})
    return PlanEffects(pd.DataFrame(rows, columns=list(EFFECT_COLUMNS)), ci)


def _interval(low: float, high: float, ci: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval: fewer than two units"
    return f"{ci:.0%} interval {low:+.2f} to {high:+.2f}"


def _moved(value: float) -> str:
    if not math.isfinite(value):
        return "not measured"
    if abs(value) < 0.005:
        return "did not change (+0.00)"
    return f"{'improved' if value > 0 else 'declined'} by {value:+.2f}"


def describe(row: pd.Series | dict, *, label: str = "", ci: float = 0.95) -> str:
    """One row of :attr:`PlanEffects.table` in plain words, always saying it is not causal.

    "Manager support: units that planned improved by +0.40 (4 units; 95% interval +0.21
    to +0.59); units without a plan improved by +0.05 (9 units; ...); difference +0.35
    (Welch 95% interval ...). This is a description, and this does not show that the plan
    caused it."
    """
    r = dict(row)
    name = label or str(r["driver"])
    text = (f"{name}: units that planned {_moved(r['planned_change'])} ({r['n_planned']} units; "
            f"{_interval(r['planned_lower'], r['planned_upper'], ci)}); units without a plan "
            f"{_moved(r['comparison_change'])} ({r['n_comparison']} units; "
            f"{_interval(r['comparison_lower'], r['comparison_upper'], ci)})")
    if math.isfinite(r["difference"]):
        welch = _interval(r["difference_lower"], r["difference_upper"], ci)
        text += f"; difference {r['difference']:+.2f} (Welch {welch})"
    return text + f". This is a description, and {NOT_CAUSAL}."
