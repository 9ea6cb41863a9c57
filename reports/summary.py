"""The report's executive summary in plain words, from an :class:`services.insight.Insight`.

Rendering only: every number comes from the insight, which the disclosure policy has
already applied (:mod:`services.disclosure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from services.insight import Insight

__all__ = ["summary_points"]


def _pct(value: float) -> str:
    return f"{value:.0f}%" if np.isfinite(value) else "n/a"


def _driver_sentence(table: pd.DataFrame, outcome: str, labels: Mapping[str, str], where: str) -> str:
    ranked = table.sort_values("rank", kind="stable").head(3)
    parts = []
    for _, row in ranked.iterrows():
        text = f"{labels.get(row['predictor'], row['predictor'])} ({_pct(row['pct'])}"
        if np.isfinite(row.get("pct_ci_lower", np.nan)):
            text += f", 95% interval {_pct(row['pct_ci_lower'])} to {_pct(row['pct_ci_upper'])}"
        if np.isfinite(row.get("rank_stability", np.nan)):
            text += f"; holds its rank in {100 * row['rank_stability']:.0f}% of resamples"
        parts.append(text + ")")
    return (f"The strongest drivers of {labels.get(outcome, outcome)} {where} are " + "; ".join(parts) +
            ". Shares are of the explained variance.")


def _recommendation_sentence(found: Any, side: str, outcome: str, labels: Mapping[str, str]) -> str:
    """The recommendation rule's verdict in words (:mod:`analysis.recommendation`)."""
    name = labels.get(outcome, outcome)
    if found.driver is not None:
        where = "across units" if side == "unit-level" else f"in the {side} survey"
        return (f"Fix first {where}: {labels.get(found.driver, found.driver)}: it clearly leads the "
                f"drivers of {name} and performs below the others ({found.gap:+.2f} points, 95% interval "
                f"{found.gap_ci_lower:+.2f} to {found.gap_ci_upper:+.2f}).")
    failed = [row["check"] for _, row in found.checks.iterrows() if not row["passed"]]
    why = "; ".join(f"not established that {c}" for c in failed) or "no bootstrap was run"
    if side == "unit-level":
        return (f"No employee driver of {name} stands out yet across units ({why}). More units (`tandem power` "
                "says how many), or the next wave showing the same pattern, would settle it.")
    return (f"No driver of {name} in the {side} survey stands out yet ({why}). More responses, or the next wave "
            "showing the same pattern, would settle it.")


def summary_points(insight: Insight) -> list[str]:
    """The executive summary in plain words: top drivers and how sure we are, whether
    aggregation to units holds, which scales need work, and what could not be shown."""
    labels = insight.labels
    points: list[str] = []
    result = insight.result
    if result is not None and len(result.drivers):
        outcomes = list(dict.fromkeys(result.drivers["outcome"]))
        main = "csat" if "csat" in outcomes else outcomes[0]
        table = result.drivers[result.drivers["outcome"] == main]
        points.append(_driver_sentence(table, main, labels, f"across {result.n_units} units"))
        if insight.unit_recommendation is not None:
            points.append(_recommendation_sentence(insight.unit_recommendation, "unit-level", main, labels))
        if result.bootstrap == 0:
            points.append("No bootstrap was run, so the driver ranking carries no interval: treat it as a first look.")
    else:
        for side, found in insight.drivers.items():
            for outcome, entry in found.items():
                points.append(_driver_sentence(entry["result"].table, outcome, labels,
                                               f"among {side}s (n = {entry['result'].n})"))
                break
    for side, found in insight.drivers.items():
        for outcome, entry in found.items():
            points.append(_recommendation_sentence(entry["recommendation"], side, outcome, labels))
            break
    if result is not None:
        verdicts = result.aggregation["verdict"].value_counts()
        n = len(result.aggregation)
        bad = result.aggregation[result.aggregation["verdict"] == "not justified"]
        text = (f"Aggregating to units: {verdicts.get('justified', 0)} of {n} constructs justified, "
                f"{verdicts.get('weak', 0)} weak, {verdicts.get('not justified', 0)} not justified")
        if len(bad):
            text += " (" + ", ".join(labels.get(c, c) for c in bad["construct"]) + ": unit means mostly noise)"
        points.append(text + ".")
        strong = result.paths[result.paths["pvalue"] < 0.05] if "pvalue" in result.paths else result.paths.iloc[:0]
        points.append(f"{len(strong)} of {len(result.paths)} hypothesised links of the chain are supported "
                      f"(p < .05) with {result.n_units} units; {len(result.dropped)} units were left out "
                      f"(below {result.min_employees} employees or {result.min_customers} customers).")
    for side, report in insight.health.items():
        flags = report.flags
        scales = sorted({t for t in flags.loc[flags["level"] == "construct", "target"]})
        items = sorted({t for t in flags.loc[flags["level"] == "item", "target"]})
        if scales or items:
            text = f"{side.capitalize()} survey scales that need work: "
            text += ", ".join(labels.get(s, s) for s in scales) if scales else "none at scale level"
            if items:
                text += f"; weak or cross-loading items: {', '.join(items)}"
            points.append(text + ".")
        else:
            points.append(f"The {side} survey's scales are reliable and distinct (no flags).")
    for step, reason in insight.problems.items():
        points.append(f"Not shown: {step} ({reason}).")
    return points
