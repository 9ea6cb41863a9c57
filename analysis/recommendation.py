"""Whether the evidence supports "fix this first": the recommendation rule of the driver analysis.

An importance-performance chart always has a driver in its "concentrate here" corner
(the median split guarantees it), even when no driver truly matters more or performs
worse than the others. A recommendation therefore needs three things to hold at once,
each judged with its interval:

1. **The outcome model explains enough**: the lower bound of the R² interval is at
   least ``r2_floor`` (default .10). Otherwise the drivers explain too little for any
   ranking of them to matter.
2. **The driver clearly leads on importance**: it ranks first, it keeps rank 1 in at
   least ``stability`` (default 80%) of the bootstrap draws, and the lower bound of its
   share of R² lies above the median share of the other drivers.
3. **Its performance gap is real**: the interval of its mean minus the median of the
   other drivers' means (or minus a ``target`` set in the study) lies entirely below 0.

When any of them fails, there is no recommendation, and :attr:`Recommendation.reasons`
says which and what would settle it (more responses or units, another wave).

References
----------
Martilla, J. A. & James, J. C. (1977). Importance-performance analysis. *Journal of
Marketing*, 41(1), 77-79. Johnson, J. W. (2000). A heuristic method for estimating the
relative weight of predictor variables in multiple regression. *Multivariate Behavioral
Research*, 35, 1-19. Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the
Bootstrap*, ch. 14 (the BC interval of the gap, :func:`analysis.drivers.bias_corrected_interval`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.drivers import DriverResult, bias_corrected_interval
from analysis.errors import DataError

__all__ = ["Recommendation", "recommend"]

#: Resamples per chunk of the performance-gap bootstrap (bounds memory for large n).
_CHUNK = 100


@dataclass(frozen=True)
class Recommendation:
    """The outcome of the rule for one outcome's drivers.

    Attributes
    ----------
    driver
        The recommended driver, or None ("no driver stands out yet").
    checks
        One row per check: ``check, passed, value, threshold, detail``.
    reasons
        Plain sentences: why (or why not), and what would settle it.
    gap, gap_ci_lower, gap_ci_upper
        The leading driver's performance gap (its mean minus the comparison) with its
        BC bootstrap interval.
    """

    driver: str | None
    checks: pd.DataFrame = field(repr=False)
    reasons: tuple[str, ...]
    gap: float
    gap_ci_lower: float
    gap_ci_upper: float


def _gap_draws(values: np.ndarray, lead: int, target: float | None, bootstrap: int,
               rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of mean(lead) - comparison, resampling respondents."""
    n = values.shape[0]
    others = [j for j in range(values.shape[1]) if j != lead]
    out = []
    for start in range(0, bootstrap, _CHUNK):
        size = min(_CHUNK, bootstrap - start)
        rows = rng.integers(0, n, size=(size, n))
        means = np.stack([np.nanmean(values[r], axis=0) for r in rows])
        comparison = np.full(size, target) if target is not None else np.median(means[:, others], axis=1)
        out.append(means[:, lead] - comparison)
    return np.concatenate(out)


def recommend(result: DriverResult, scores: pd.DataFrame, *, r2_floor: float = 0.10, stability: float = 0.80,
              target: float | None = None, bootstrap: int = 1000, seed: int | None = 1,
              unit: str = "responses") -> Recommendation:
    """Apply the recommendation rule (module docstring) to a driver analysis.

    Parameters
    ----------
    result
        A :func:`analysis.drivers.relative_weights` or :func:`analysis.drivers.shapley`
        result with a bootstrap (``result.bootstrap > 0``).
    scores
        The drivers' scores, one row per respondent (or unit), a column per driver:
        the performance side.
    r2_floor, stability
        Thresholds of checks 1 and 2.
    target
        A performance target set in the study; default: the other drivers' median.
    bootstrap, seed
        Resamples of the performance-gap interval.
    unit
        What more of would narrow the intervals (``"responses"`` or ``"units"``), for
        the reasons.

    Returns
    -------
    Recommendation
    """
    drivers: Sequence[str] = list(result.predictors)
    missing = [d for d in drivers if d not in scores]
    if missing:
        raise DataError(f"no scores for driver(s) {', '.join(missing)}", where="recommend",
                        fix="pass the scored frame with a column per driver.")
    table = result.table.set_index("predictor")
    lead = str(table["rank"].idxmin())
    ci = round(100 * result.ci)
    rows, reasons = [], []
    no_interval = result.bootstrap == 0 or not np.isfinite(result.r2_ci_lower)
    r2_ok = (not no_interval) and result.r2_ci_lower >= r2_floor
    rows.append(("the model explains enough", r2_ok, result.r2_ci_lower, r2_floor,
                 f"R² {result.r2:.2f}, {ci}% interval {result.r2_ci_lower:.2f} to {result.r2_ci_upper:.2f}"))
    others = table.drop(index=lead)
    median_share = float(others["pct"].median())
    stable = float(table.loc[lead, "rank_stability"])
    lead_ok = (not no_interval) and stable >= stability and float(table.loc[lead, "pct_ci_lower"]) > median_share
    rows.append(("the driver clearly leads", lead_ok, stable, stability,
                 f"{lead} holds rank 1 in {100 * stable:.0f}% of resamples; its share {table.loc[lead, 'pct']:.0f}% "
                 f"({ci}% interval {table.loc[lead, 'pct_ci_lower']:.0f}% to {table.loc[lead, 'pct_ci_upper']:.0f}%) "
                 f"against a median of {median_share:.0f}% for the others"))
    values = scores[list(drivers)].to_numpy(dtype=float)
    j = drivers.index(lead)
    means = np.nanmean(values, axis=0)
    comparison = target if target is not None else float(np.median(np.delete(means, j)))
    gap = float(means[j] - comparison)
    if bootstrap > 0:
        draws = _gap_draws(values, j, target, bootstrap, np.random.default_rng(seed))
        low, high = bias_corrected_interval(draws[:, None], np.array([gap]), result.ci)
    else:
        low, high = np.array([np.nan]), np.array([np.nan])
    gap_ok = bool(high[0] < 0)
    against = "the target" if target is not None else "the other drivers' median"
    rows.append(("its performance gap is real", gap_ok, float(high[0]), 0.0,
                 f"{lead} scores {gap:+.2f} against {against} ({ci}% interval {low[0]:+.2f} to {high[0]:+.2f})"))
    checks = pd.DataFrame(rows, columns=["check", "passed", "value", "threshold", "detail"])
    if checks["passed"].all():
        reasons.append(f"Fix first: {lead}. It clearly leads the drivers of {result.outcome} and performs below "
                       f"{against}; " + "; ".join(checks["detail"]) + ".")
        return Recommendation(lead, checks, tuple(reasons), gap, float(low[0]), float(high[0]))
    reasons.append(f"No driver of {result.outcome} stands out yet.")
    if no_interval:
        reasons.append("No bootstrap was run, so nothing can be judged with an interval.")
    for _, row in checks[~checks["passed"]].iterrows():
        reasons.append(f"Not established that {row['check']}: {row['detail']}.")
    reasons.append(f"What would settle it: more {unit} (narrower intervals; for units, `tandem power` says how "
                   "many), or the next wave showing the same pattern.")
    return Recommendation(None, checks, tuple(reasons), gap, float(low[0]), float(high[0]))
