"""What the Insight pages and the HTML report show, gathered from :mod:`analysis`.

This module computes no statistic: it calls the analysis modules that own each one
(scoring, metrics, drivers, instrument health, EFA, linkage) on a response frame and
an instrument, applies the instrument's anonymity threshold, and keeps the labelled
results together so that the Streamlit pages, the CLI and the report render the same
numbers. A step that cannot run on the data at hand (too few responses, a model that
does not fit, a module not yet available) becomes a note in :attr:`Insight.problems`
instead of an exception, so one failing analysis never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.aggregation import suppress_small_units, suppression_label
from analysis.metrics import by_unit
from surveys.errors import TandemError

__all__ = [
    "METRIC_FUNCTIONS",
    "Insight",
    "collect_insight",
    "comments",
    "construct_labels",
    "filter_responses",
    "headline_metrics",
    "metric_trend",
    "respondent_drivers",
    "responses_by_unit",
    "summary_points",
]

#: Shown for a unit hidden only so that a smaller unit cannot be recovered from the total.
SECONDARY_LABEL = "hidden (protects a smaller unit)"

#: Instrument metric name -> :mod:`analysis.metrics` metric.
METRIC_FUNCTIONS = {"nps": "nps", "enps": "enps", "csat": "csat_top2box", "ces": "ces"}


def construct_labels(*instruments: Any) -> dict[str, str]:
    """Display label of every construct (and metric name) of the instruments."""
    labels = {"nps": "NPS", "enps": "eNPS", "csat": "CSAT", "ces": "CES"}
    for instrument in instruments:
        if instrument is None:
            continue
        for construct in instrument.constructs:
            labels[construct.id] = instrument.text(construct.label)
    return labels


def filter_responses(frame: pd.DataFrame, *, waves: Sequence[Any] | None = None, units: Sequence[Any] | None = None,
                     where: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """Rows of a wide response frame in the chosen waves, units and demographic groups.

    ``where`` maps a column (e.g. a single-choice question) to the values kept. Empty
    selections keep everything. Suppression is applied later, by whatever shows the rows.
    """
    keep = pd.Series(True, index=frame.index)
    if waves and "wave" in frame:
        keep &= frame["wave"].astype(str).isin([str(w) for w in waves])
    if units and "unit" in frame:
        keep &= frame["unit"].astype(str).isin([str(u) for u in units])
    for column, values in (where or {}).items():
        if values and column in frame:
            keep &= frame[column].astype(str).isin([str(v) for v in values])
    return frame[keep]


def _metric_options(instrument: Any, item_id: str, metric: str) -> dict[str, Any]:
    if metric != "csat_top2box":
        return {}
    item = instrument.item(item_id)
    if item.scale is not None:
        return {"scale": item.scale}
    return {"scale_points": int(item.max)} if item.max is not None else {}


def headline_metrics(frame: pd.DataFrame, instrument: Any, *, group: str = "unit") -> dict[str, Any]:
    """NPS, eNPS, CSAT and CES of the instrument, overall and per ``group``.

    Returns
    -------
    dict
        Instrument metric name (``nps``, ``enps``, ``csat``, ``ces``) ->
        :class:`analysis.metrics.UnitMetric` (small groups suppressed with the
        instrument's ``min_group_size``). Metrics the instrument does not measure, or
        whose item is not in the frame, are left out.
    """
    out = {}
    for name, metric in METRIC_FUNCTIONS.items():
        item_id = getattr(instrument.metrics, name, None)
        if not item_id or item_id not in frame or group not in frame:
            continue
        out[name] = by_unit(frame, item_id, group, metric=metric, min_group_size=instrument.min_group_size,
                            **_metric_options(instrument, item_id, metric))
    return out


def metric_trend(frame: pd.DataFrame, instrument: Any, name: str) -> pd.DataFrame:
    """One metric per wave (``wave, n, value, ci_lower, ci_upper, suppressed, label``).

    Waves with fewer answers than the instrument's ``min_group_size`` are suppressed
    (NaN), through :func:`analysis.metrics.by_unit` grouped by wave.
    """
    item_id = getattr(instrument.metrics, name, None)
    if not item_id or item_id not in frame or "wave" not in frame:
        return pd.DataFrame(columns=["wave", "n", "value", "ci_lower", "ci_upper", "suppressed", "label"])
    metric = METRIC_FUNCTIONS[name]
    result = by_unit(frame.assign(wave=frame["wave"].astype(str)), item_id, "wave", metric=metric,
                     min_group_size=instrument.min_group_size, **_metric_options(instrument, item_id, metric))
    return result.units.rename(columns={"unit": "wave"}).drop(columns="level")


def responses_by_unit(frame: pd.DataFrame, instrument: Any, *, group: str = "unit",
                      invited: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Responses (and invitations) per unit, small units suppressed.

    Returns
    -------
    pandas.DataFrame
        ``unit, label, responses, invited, suppressed, shown``: every unit of the
        instrument (and any other unit in the data); ``responses`` is NA where
        suppressed (fewer than ``min_group_size``, or hidden so a total cannot reveal
        a small unit, :func:`analysis.aggregation.suppress_small_units`), and ``shown``
        is the text to display ("fewer than k respondents" for small units,
        :data:`SECONDARY_LABEL` for units hidden to protect them).
    """
    k = instrument.min_group_size
    labels = {u.id: instrument.text(u.label) for u in instrument.units}
    sizes = frame[group].astype(str).value_counts() if group in frame else pd.Series(dtype=int)
    units = list(dict.fromkeys([*labels, *sorted(sizes.index)]))
    sizes = sizes.reindex(units, fill_value=0)
    hidden = suppress_small_units(sizes, k, complementary=True)
    table = pd.DataFrame({"unit": units, "label": [labels.get(u, u) for u in units]})
    table["responses"] = pd.array([pd.NA if hidden[u] else int(sizes[u]) for u in units], dtype="Int64")
    table["invited"] = pd.array([(invited or {}).get(u, pd.NA) for u in units], dtype="Int64")
    table["suppressed"] = [bool(hidden[u]) for u in units]
    table["shown"] = [(suppression_label(k) if sizes[u] < k else SECONDARY_LABEL) if hidden[u] else str(int(sizes[u]))
                      for u in units]
    return table


def respondent_drivers(frame: pd.DataFrame, instrument: Any, *, bootstrap: int = 200,
                       seed: int | None = 1) -> dict[str, Any]:
    """Key drivers within one survey: each outcome construct on the driver constructs.

    Uses the constructs' ``role`` (``driver`` -> predictors; ``outcome``/``kpi`` ->
    outcomes); scores come from :func:`analysis.scoring.score` and the decomposition
    from :func:`analysis.drivers.relative_weights`.

    Returns
    -------
    dict
        ``{outcome: {"result": DriverResult, "quadrant": importance-performance table}}``.
        Empty when the instrument has no driver or no outcome, or fewer respondents than
        its ``min_group_size``.
    """
    from analysis.drivers import importance_performance, relative_weights
    from analysis.scoring import score

    predictors = [c.id for c in instrument.constructs if c.role == "driver"]
    outcomes = [c.id for c in instrument.constructs if c.role in ("outcome", "kpi")]
    if len(predictors) < 2 or not outcomes or len(frame) < instrument.min_group_size:
        return {}
    scored = score(frame, instrument)
    out = {}
    for outcome in outcomes:
        result = relative_weights(scored, outcome, predictors, bootstrap=bootstrap, seed=seed)
        out[outcome] = {"result": result, "quadrant": importance_performance(result, scored[predictors])}
    return out


def comments(frame: pd.DataFrame, instrument: Any, *, group: str = "unit", search: str = "") -> pd.DataFrame:
    """Open answers, only from groups with at least ``min_group_size`` respondents.

    Returns
    -------
    pandas.DataFrame
        ``unit, question, comment`` (the question's text in the default language),
        containing ``search`` (case-insensitive) when given. Groups below the threshold
        contribute nothing, and their number is not shown either.
    """
    questions = [q for q in instrument.questions if q.type == "text" and q.id in frame]
    if not questions or group not in frame:
        return pd.DataFrame(columns=["unit", "question", "comment"])
    sizes = frame[group].astype(str).value_counts()
    big = set(sizes[sizes >= instrument.min_group_size].index)
    rows = frame[frame[group].astype(str).isin(big)]
    parts = []
    for q in questions:
        answers = rows[q.id].astype("string").str.strip()
        keep = answers.notna() & (answers != "")
        parts.append(pd.DataFrame({"unit": rows.loc[keep, group].astype(str).to_numpy(),
                                   "question": instrument.text(q.text), "comment": answers[keep].to_numpy()}))
    table = pd.concat(parts, ignore_index=True)
    if search:
        table = table[table["comment"].str.contains(search, case=False, regex=False)]
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class Insight:
    """Everything the report shows, for one study or one instrument.

    Attributes
    ----------
    title
        Heading of the report.
    instruments
        ``{"employee": Instrument, "customer": Instrument}`` (one of them for a
        single-survey report).
    frames
        The response frames by side.
    study, result
        The :class:`analysis.study.Study` and its :class:`analysis.linkage.StudyResult`
        (None for a single survey, or when the linkage could not be fitted).
    health
        Side -> :class:`analysis.measurement.HealthReport`.
    parallel
        Side -> :class:`analysis.efa.ParallelAnalysisResult` of the instrument's
        construct items.
    metrics
        Side -> :func:`headline_metrics`.
    responses
        Side -> :func:`responses_by_unit`.
    drivers
        Side -> :func:`respondent_drivers`.
    problems
        Step -> why it is not shown (plain words).
    bootstrap, seed
        Resampling settings used.
    """

    title: str
    instruments: Mapping[str, Any]
    frames: Mapping[str, pd.DataFrame] = field(repr=False)
    study: Any = None
    result: Any = None
    health: Mapping[str, Any] = field(default_factory=dict)
    parallel: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    responses: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    drivers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)
    bootstrap: int = 0
    seed: int | None = None

    @property
    def min_group_size(self) -> int:
        """The strictest anonymity threshold of the instruments."""
        return max(i.min_group_size for i in self.instruments.values())

    @property
    def labels(self) -> dict[str, str]:
        """Construct labels of every instrument."""
        return construct_labels(*self.instruments.values())


def _construct_items(instrument: Any) -> list[str]:
    return list(dict.fromkeys(i for c in instrument.constructs if len(c.items) >= 2 for i in c.items))


def collect_insight(instruments: Mapping[str, Any], frames: Mapping[str, pd.DataFrame], *, study: Any = None,
                    title: str | None = None, bootstrap: int = 500, seed: int | None = 1,
                    progress: Callable[[str], None] | None = None) -> Insight:
    """Run every analysis the report shows.

    Parameters
    ----------
    instruments, frames
        By side (``"employee"``, ``"customer"``): the instruments and their wide
        response frames.
    study
        A :class:`analysis.study.Study` linking the two sides (runs
        :func:`analysis.linkage.run_study`); None for one survey.
    bootstrap, seed
        Bootstrap draws for the intervals of drivers and paths.
    progress
        Called with the name of each step before it runs (for progress bars).

    Returns
    -------
    Insight
        Failed steps are listed in ``problems`` with their reason.
    """
    from analysis.efa import parallel_analysis
    from analysis.measurement import instrument_health

    step = progress or (lambda _name: None)
    problems: dict[str, str] = {}
    health, parallel, metrics, responses, drivers = {}, {}, {}, {}, {}

    def attempt(name: str, function: Callable[[], Any]) -> Any:
        step(name)
        try:
            return function()
        except TandemError as exc:
            problems[name] = str(getattr(exc, "message", exc))
        except ImportError as exc:  # a module of the analysis package not installed yet
            problems[name] = f"not available in this installation ({exc})"
        return None

    for side, instrument in instruments.items():
        frame = frames[side]
        responses[side] = attempt(f"{side} responses", lambda: responses_by_unit(frame, instrument))
        metrics[side] = attempt(f"{side} metrics", lambda: headline_metrics(frame, instrument)) or {}
        health[side] = attempt(f"{side} instrument health", lambda: instrument_health(frame, instrument))
        items = _construct_items(instrument)
        if len(items) >= 3:
            from analysis.scoring import score

            parallel[side] = attempt(f"{side} parallel analysis",
                                     lambda: parallel_analysis(score(frame, instrument)[items], n_iter=100, seed=seed))
        drivers[side] = attempt(f"{side} drivers",
                                lambda: respondent_drivers(frame, instrument, bootstrap=bootstrap, seed=seed)) or {}
    result = None
    if study is not None:
        from analysis.linkage import run_study

        result = attempt("linkage", lambda: run_study(study, frames["employee"], frames["customer"],
                                                       bootstrap=bootstrap, seed=seed))
    if title is None:
        title = study.title if study is not None and getattr(study, "title", "") else " and ".join(
            i.text(i.title) for i in instruments.values())
    return Insight(title=title, instruments=dict(instruments), frames=dict(frames), study=study, result=result,
                   health={k: v for k, v in health.items() if v is not None},
                   parallel={k: v for k, v in parallel.items() if v is not None}, metrics=metrics,
                   responses={k: v for k, v in responses.items() if v is not None}, drivers=drivers,
                   problems=problems, bootstrap=bootstrap, seed=seed)


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
            first = entry["quadrant"][entry["quadrant"]["quadrant"] == "concentrate here"]
            if len(first):
                points.append(f"Fix first in the {side} survey: " + ", ".join(labels.get(d, d) for d in first["driver"])
                              + f" (important for {labels.get(outcome, outcome)} and scoring below the median of "
                                "the drivers).")
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
