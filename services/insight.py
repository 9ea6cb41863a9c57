"""What the Insight pages, the report and the CLI show, computed once through the disclosure policy.

This module computes no statistic: it calls the analysis modules that own each one
(scoring, metrics, drivers, instrument health, EFA, linkage) on a
:class:`~services.selection.SideView`, i.e. only on the responses the disclosure policy
lets a selection describe, and it hides every breakdown row that is not a union of
disclosure blocks (:meth:`services.selection.SideView.groups`). Pages, the CLI's
``--json`` and the HTML report all render these results, so they show the same numbers
under the same protection. A step that cannot run on the data at hand becomes a note in
:attr:`Insight.problems` instead of an exception, so one failing analysis never hides
the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.metrics import UnitMetric, by_unit
from analysis.suppression import suppression_label
from services.selection import HIDDEN_LABEL, PARTIAL_LABEL, Selection, SideView, select
from services.settings import DEFAULTS
from services.sources import Dataset
from surveys.errors import TandemError
from surveys.question_types import kind_of

__all__ = [
    "METRIC_FUNCTIONS",
    "OTHER_UNITS",
    "Benchmark",
    "GroupDifferences",
    "Insight",
    "children_breakdown",
    "collect_insight",
    "comments",
    "compare",
    "compare_breakdowns",
    "construct_labels",
    "headline_metrics",
    "linkage",
    "metric_breakdowns",
    "metric_trend",
    "parent_benchmark",
    "respondent_drivers",
    "responses_by_unit",
]

#: Instrument metric name -> :mod:`analysis.metrics` metric.
METRIC_FUNCTIONS = {"nps": "nps", "enps": "enps", "csat": "csat_top2box", "ces": "ces"}
#: Most groups whose every pair is compared (Games-Howell): 50 groups are 1,225 pairs per measure.
MAX_PAIRED_GROUPS = 50
#: Group named beside open answers from units that may not be named.
OTHER_UNITS = "other units"
_POOLED = "\x00hidden"


def construct_labels(*instruments: Any) -> dict[str, str]:
    """Display label of every construct (and metric name) of the instruments."""
    labels = {"nps": "NPS", "enps": "eNPS", "csat": "CSAT", "ces": "CES"}
    for instrument in instruments:
        if instrument is None:
            continue
        for construct in instrument.constructs:
            labels[construct.id] = instrument.text(construct.label)
    return labels


def _metric_options(instrument: Any, item_id: str, metric: str) -> dict[str, Any]:
    if metric != "csat_top2box":
        return {}
    item = instrument.item(item_id)
    if item.scale is not None:
        return {"scale": item.scale}
    return {"scale_points": int(item.max)} if item.max is not None else {}


def _disclosed_metric(view: SideView, item_id: str, metric: str, group: str) -> UnitMetric:
    """:func:`analysis.metrics.by_unit` over the view's rows, groups that may not be shown
    pooled (and the pool never shown), then listed as hidden."""
    frame = view.frame.assign(**{group: view.grouped(group, _POOLED)})
    result = by_unit(frame, item_id, group, metric=metric, min_group_size=view.k,
                     **_metric_options(view.instrument, item_id, metric))
    rows = result.units[result.units["unit"] != _POOLED]
    status = view.groups(group)
    hidden = [g for g, state in status.items() if state == "hidden"]
    if hidden:
        extra = pd.DataFrame({"level": "unit", "unit": hidden, "suppressed": True, "label": HIDDEN_LABEL})
        rows = pd.concat([rows, extra], ignore_index=True).sort_values("unit", kind="stable", ignore_index=True)
    partial = rows["unit"].map(status).eq("partial") & ~rows["suppressed"].astype(bool)
    rows.loc[partial, "label"] = PARTIAL_LABEL
    rows = rows.assign(n=rows["n"].astype("Int64"))
    return dataclasses.replace(result, units=rows.reset_index(drop=True))


def headline_metrics(view: SideView, *, group: str = "unit") -> dict[str, UnitMetric]:
    """NPS, eNPS, CSAT and CES of the instrument, overall and per ``group``.

    Returns
    -------
    dict
        Instrument metric name (``nps``, ``enps``, ``csat``, ``ces``) ->
        :class:`analysis.metrics.UnitMetric`: the overall value over the view's rows,
        and one row per group, hidden where the disclosure policy says so. Metrics the
        instrument does not measure are left out; nothing when the view is empty.
    """
    out: dict[str, UnitMetric] = {}
    if view.empty or group not in view.frame:
        return out
    for name, metric in METRIC_FUNCTIONS.items():
        item_id = getattr(view.instrument.metrics, name, None)
        if item_id and item_id in view.frame:
            out[name] = _disclosed_metric(view, item_id, metric, group)
    return out


def metric_trend(view: SideView, name: str) -> pd.DataFrame:
    """One metric per wave (``wave, n, value, ci_lower, ci_upper, suppressed, label``),
    waves the policy may not show hidden."""
    columns = ["wave", "n", "value", "ci_lower", "ci_upper", "suppressed", "label"]
    item_id = getattr(view.instrument.metrics, name, None)
    if view.empty or not item_id or item_id not in view.frame or "wave" not in view.frame:
        return pd.DataFrame(columns=columns)
    result = _disclosed_metric(view, item_id, METRIC_FUNCTIONS[name], "wave")
    return result.units.rename(columns={"unit": "wave"})[columns]


def campaign_list(store: Any) -> pd.DataFrame:
    """The campaigns with their response totals as text: the number, or "fewer than k"
    below the campaign's minimum group size (with one unit, a total would tell what the
    rates by unit hide). One column type, so every table renders it as is."""
    from surveys import campaigns

    listing = campaigns.list_campaigns(store)
    small = listing["responses"] < listing["min_group_size"]
    shown = listing["responses"].astype(int).astype(str)
    listing["responses"] = shown.where(~small, "fewer than " + listing["min_group_size"].astype(str))
    return listing


def responses_by_unit(view: SideView) -> pd.DataFrame:
    """Responses (and invitations, with the response rate) per unit.

    Returns
    -------
    pandas.DataFrame
        ``unit, label, responses, invited, response_rate, suppressed, shown``: every
        unit of the instrument and any other unit in the data. ``responses`` is NA
        where the unit may not be shown (below the minimum group size, or hidden so
        that a total or another unit cannot reveal a smaller one), and ``shown`` is the
        text to display. Invitations and rates only for a selection without wave or
        demographic filters (invitations are per campaign and unit).
    """
    k, instrument = view.k, view.instrument
    labels = {u.id: instrument.text(u.label) for u in instrument.units}
    status = view.groups("unit")
    sizes = view.frame["unit"].astype("string").value_counts() if "unit" in view.frame else pd.Series(dtype=int)
    chosen_units = (view.data.frame.loc[view.chosen, "unit"].astype("string").dropna().unique()
                    if "unit" in view.data.frame else [])
    units = list(dict.fromkeys([*labels, *sorted(map(str, chosen_units)), *sorted(status)]))
    if view.selection.units:
        units = [u for u in units if u in view.selection.units]
    with_invitations = not (view.selection.waves or view.selection.where)
    records = []
    for unit in units:
        invited = view.data.invited.get(unit) if with_invitations else None
        state = status.get(unit, "hidden")
        if state != "hidden":
            n = int(sizes.get(unit, 0))
            rate = n / invited if invited and state == "whole" else None
            records.append((unit, n, invited, rate, False, str(n) if state == "whole" else f"{n} ({PARTIAL_LABEL})"))
        else:
            big = int(view.data.counted[view.chosen & (view.data.frame.get("unit") == unit).to_numpy()].sum()) >= k \
                if "unit" in view.data.frame else False
            records.append((unit, pd.NA, invited, None, True, HIDDEN_LABEL if big else suppression_label(k)))
    table = pd.DataFrame(records, columns=["unit", "responses", "invited", "response_rate", "suppressed", "shown"])
    table.insert(1, "label", [labels.get(u, u) for u in table["unit"]])
    table["responses"] = table["responses"].astype("Int64")
    table["invited"] = pd.array(table["invited"].tolist(), dtype="Int64")
    table["response_rate"] = pd.to_numeric(table["response_rate"], errors="coerce")
    return table


def respondent_drivers(view: SideView, *, bootstrap: int = DEFAULTS.bootstrap,
                       seed: int | None = DEFAULTS.seed) -> dict[str, Any]:
    """Key drivers within one survey: each outcome construct on the driver constructs.

    Uses the constructs' ``role`` (``driver`` -> predictors; ``outcome``/``kpi`` ->
    outcomes); scores come from :func:`analysis.scoring.score` and the decomposition
    from :func:`analysis.drivers.relative_weights`.

    Returns
    -------
    dict
        ``{outcome: {"result": DriverResult, "quadrant": importance-performance table,
        "recommendation": analysis.recommendation.Recommendation}}``: the quadrant is
        descriptive; only the recommendation rule says "fix first".
        Empty when the instrument has no driver or no outcome, or the view is empty.
    """
    from analysis.drivers import relative_weights
    from analysis.importance_performance import importance_performance
    from analysis.recommendation import recommend
    from analysis.scoring import score

    instrument = view.instrument
    predictors = [c.id for c in instrument.constructs if c.role == "driver"]
    outcomes = [c.id for c in instrument.constructs if c.role in ("outcome", "kpi")]
    if len(predictors) < 2 or not outcomes or view.n < view.k:
        return {}
    scored = score(view.frame, instrument)
    out = {}
    for outcome in outcomes:
        result = relative_weights(scored, outcome, predictors, bootstrap=bootstrap, seed=seed)
        out[outcome] = {"result": result, "quadrant": importance_performance(result, scored[predictors]),
                        "recommendation": recommend(result, scored[predictors], bootstrap=bootstrap, seed=seed,
                                                    unit="responses")}
    return out


def instrument_health(view: SideView) -> Any:
    """:func:`analysis.measurement.instrument_health` of the view's rows (whole disclosure
    blocks only): for items with few answer categories the ordinal numbers (WLSMV CFA,
    ordinal alpha and omega) are primary, with the continuous ones beside them."""
    from analysis.measurement import instrument_health as health

    _require(view)
    return health(view.frame, view.instrument)


def construct_items(instrument: Any) -> list[str]:
    """Items of the constructs with at least two items (for EFA and parallel analysis)."""
    return list(dict.fromkeys(i for c in instrument.constructs if len(c.items) >= 2 for i in c.items))


def parallel_analysis(view: SideView, *, seed: int | None = DEFAULTS.seed) -> Any:
    """:func:`analysis.efa.parallel_analysis` of the view's construct items."""
    from analysis.efa import parallel_analysis as parallel
    from analysis.scoring import score

    _require(view)
    items = construct_items(view.instrument)
    return parallel(score(view.frame, view.instrument)[items], n_iter=DEFAULTS.parallel_iterations, seed=seed)


def _require(view: SideView) -> None:
    if view.empty:
        raise TandemError(view.note or "nothing to show", where=f"{view.side} survey",
                          fix="widen the filters.")


def comments(view: SideView, *, search: str = "") -> pd.DataFrame:
    """Open answers from whole blocks of at least ``min_comment_group_size`` respondents.

    Returns
    -------
    pandas.DataFrame
        ``unit, question, comment``, sorted by unit, question and text (so their order
        says nothing about who answered when). ``unit`` is the unit's id where the
        unit may be named beside open answers, else :data:`OTHER_UNITS`. Containing
        ``search`` (case-insensitive) when given.
    """
    instrument, data = view.instrument, view.data
    questions = [q for q in instrument.questions if kind_of(q).free_text and q.id in data.frame]
    if not questions or not view.comment_rows.any():
        return pd.DataFrame(columns=["unit", "question", "comment"])
    rows = data.frame[view.comment_rows]
    units = view.comment_labels("unit").fillna(OTHER_UNITS)
    parts = []
    for q in questions:
        answers = rows[q.id].astype("string").str.strip()
        keep = (answers.notna() & (answers != "")).to_numpy(dtype=bool)
        parts.append(pd.DataFrame({"unit": units[keep].to_numpy(), "question": instrument.text(q.text),
                                   "comment": answers[keep].to_numpy()}))
    table = pd.concat(parts, ignore_index=True)
    if search:
        table = table[table["comment"].str.contains(search, case=False, regex=False)]
    return table.sort_values(["unit", "question", "comment"], kind="stable", ignore_index=True)


def linkage(views: Mapping[str, SideView], study: Any, *, bootstrap: int = DEFAULTS.bootstrap,
            seed: int | None = DEFAULTS.seed, model: str | None = None, kpis: pd.DataFrame | None = None) -> Any:
    """:func:`analysis.linkage.run_study` on the views' rows (``model``: the chain's model, by
    default the study's; ``kpis``: the source's business KPIs per unit, :attr:`Dataset.kpis`);
    a unit whose responses on a side may not be shown on their own joins no unit-level
    table and is listed in ``dropped`` as hidden."""
    from analysis.linkage import DROPPED_COLUMNS, run_study

    key = study.unit_key
    frames, hidden = {}, {}
    for side in ("employee", "customer"):
        view = views[side]
        _require(view)
        frame = view.frame
        if key in frame:
            units = view.grouped(key, _POOLED)
            for unit, state in view.groups(key).items():
                if state == "hidden":
                    hidden.setdefault(unit, []).append(side)
            frame = frame.assign(**{key: units.where(units != _POOLED, None)})
        frames[side] = frame
    result = run_study(study, frames["employee"], frames["customer"], bootstrap=bootstrap, seed=seed, model=model,
                       kpis=kpis)
    if hidden:
        reasons = pd.DataFrame([(u, f"hidden: its {' and '.join(s)} responses cannot be shown apart from a smaller "
                                    "group") for u, s in hidden.items()], columns=list(DROPPED_COLUMNS))
        kept = result.dropped[~result.dropped["unit"].astype(str).isin(hidden)]
        result = dataclasses.replace(result, dropped=pd.concat([kept, reasons], ignore_index=True)
                                     .sort_values("unit", ignore_index=True))
    return result


# --------------------------------------------------------------------------- group comparisons
#: Columns of :attr:`GroupDifferences.cells` (one row per measure and group shown).
COMPARE_CELL_COLUMNS = ("measure", "label", "kind", "group", "status", "n", "mean", "sd", "rest_n", "rest_mean",
                        "diff", "cohens_d", "hedges_g", "t", "df", "pvalue", "pvalue_adj", "significant")
#: Columns of :attr:`GroupDifferences.tests` (one row per measure compared).
COMPARE_TEST_COLUMNS = ("measure", "label", "kind", "n", "n_groups", "welch_F", "welch_df1", "welch_df2",
                        "welch_pvalue", "welch_pvalue_adj", "anova_F", "anova_df1", "anova_df2", "anova_pvalue",
                        "eta2", "omega2")
#: Columns of :attr:`GroupDifferences.pairwise` (Games-Howell, one row per measure and pair of groups shown).
COMPARE_PAIR_COLUMNS = ("measure", "label", "group1", "group2", "n1", "n2", "mean1", "mean2", "diff", "se", "t",
                        "q", "df", "pvalue_adj", "ci_lower", "ci_upper", "hedges_g")


@dataclass(frozen=True)
class GroupDifferences:
    """Construct scores and metric items compared across the groups of one column
    (:func:`compare`), as the disclosure policy lets them out.

    Attributes
    ----------
    side, by
        The survey side and the breakdown column (``unit``, ``wave`` or a demographic question).
    adjust, alpha
        The multiple-comparison adjustment (``holm`` or ``fdr_bh``) and the level a cell is
        marked significant at.
    min_group_size
        The side's k.
    groups
        Every group of the breakdown: ``group, status`` (``whole``, ``partial``, ``hidden``),
        ``n`` (NA where hidden) and ``label`` (what to show beside it: the hidden or part
        label, else empty).
    tests
        One row per measure (:data:`COMPARE_TEST_COLUMNS`): Welch's ANOVA (its p-value
        adjusted across the measures shown) and the one-way ANOVA with eta² and omega²,
        over the groups shown.
    cells
        One row per measure and group shown (:data:`COMPARE_CELL_COLUMNS`): the group's
        mean against the rest of the groups shown (``diff``, Cohen's d, Hedges' g, Welch's
        t), ``pvalue_adj`` adjusted across every cell of the table, ``significant``
        (``pvalue_adj < alpha``).
    pairwise
        Games-Howell pairs of the groups shown (:data:`COMPARE_PAIR_COLUMNS`); its
        ``pvalue_adj`` is adjusted for the pairs of each measure by the studentized range.
        Empty when more than :data:`MAX_PAIRED_GROUPS` groups are shown (``pairs_note`` says so).
    skipped
        ``measure, label, reason`` of measures that could not be compared.
    pairs_note
        Why ``pairwise`` is empty although groups were compared ("" otherwise).
    """

    side: str
    by: str
    adjust: str
    alpha: float
    min_group_size: int
    groups: pd.DataFrame
    tests: pd.DataFrame
    cells: pd.DataFrame
    pairwise: pd.DataFrame
    skipped: pd.DataFrame
    pairs_note: str = ""

    @property
    def hidden(self) -> list[str]:
        """The groups that may not be shown (named, never with a number)."""
        return self.groups.loc[self.groups["status"] == "hidden", "group"].tolist()

    @property
    def shown(self) -> list[str]:
        """The groups compared."""
        return self.groups.loc[self.groups["status"] != "hidden", "group"].tolist()


@dataclass(frozen=True)
class Benchmark:
    """A node's parent as a comparison for the node's manager: its overall headline metrics.

    Attributes
    ----------
    node, parent
        The manager's node and its parent (a store and its district).
    name, level
        The parent's display name and level name.
    metrics
        Side -> metric name -> the parent's overall result (:mod:`analysis.metrics`; no
        breakdown: a manager never sees a sibling's numbers).
    constructs
        Side -> ``construct, label, yours, <parent name>``: each construct's mean score over
        the node's and over the parent's responses (scores withheld per block as everywhere).
    reasons
        Side -> why that side's parent numbers are not shown ("" when they are).
    """

    node: str
    parent: str
    name: str
    level: str
    metrics: Mapping[str, Mapping[str, Any]]
    constructs: Mapping[str, pd.DataFrame]
    reasons: Mapping[str, str]


def parent_benchmark(dataset: Dataset, node: str) -> Benchmark | None:
    """The headline metrics of ``node``'s parent, for its manager's comparison (their store
    beside their district), through the disclosure policy and one rule more.

    A manager knows their own node's numbers, so the parent's total tells them the total of
    the rest of the parent. That rest must itself be fit to show to them: at least the
    side's k counted respondents, from at least two of the parent's other children (one
    sibling alone would be that sibling's numbers, outside the manager's scope). Only the
    parent's overall value is given, never a breakdown.

    Returns
    -------
    Benchmark or None
        None without an organisation, for the root, or for a node the organisation lacks.
    """
    org = dataset.org
    if org is None or not node or node not in org or org.parent(node) is None:
        return None
    parent = org.parent(node)
    own = frozenset(org.subtree(node))
    parent_views = select(dataset, Selection.of(node=parent))
    own_views = select(dataset, Selection.of(node=node))
    metrics: dict[str, dict[str, Any]] = {}
    constructs: dict[str, pd.DataFrame] = {}
    reasons: dict[str, str] = {}
    for side, view in parent_views.items():
        data = view.data
        if not data.unit_rows or view.empty:
            reasons[side] = f"nothing of {org.unit(parent).name} may be shown"
            continue
        rest = view.shown.copy()
        for unit in own & data.unit_rows.keys():
            rest[data.unit_rows[unit]] = False
        counted = int(data.counted[rest].sum())
        children = {next(x for x in (u, *org.ancestors(u)) if org.parent(x) == parent)
                    for u, rows in data.unit_rows.items() if u in org and u != parent and rest[rows].any()}
        if counted < view.k or len(children) < 2:
            reasons[side] = (f"{org.unit(parent).name} is not shown: without your units it holds "
                             + (f"fewer than {view.k} respondents" if counted < view.k else "one other unit only")
                             + ", so its total would show them")
            continue
        metrics[side] = {name: found.overall for name, found in headline_metrics(view).items()}
        instrument = view.instrument
        table = pd.DataFrame({"construct": [c.id for c in instrument.constructs],
                              "label": [instrument.text(c.label) for c in instrument.constructs]})
        if not own_views[side].empty and len(table):
            constructs[side] = table.assign(yours=_construct_means(own_views[side]).to_numpy(),
                                            **{org.unit(parent).name: _construct_means(view).to_numpy()})
        reasons[side] = ""
    return Benchmark(node, parent, org.unit(parent).name, org.level_of(parent), metrics, constructs, reasons)


def _construct_means(view: SideView) -> pd.Series:
    """Each construct's mean score over the view's rows (:func:`_block_thinned` scores)."""
    from analysis.scoring import score

    ids = [c.id for c in view.instrument.constructs]
    return _block_thinned(view, score(view.frame, view.instrument)[ids]).mean()


def children_breakdown(view: SideView) -> dict[str, str]:
    """The breakdown by the organisation's units directly below the view's node (the root
    without a node): ``{column: label}`` with :attr:`SideView.children_column` (``org:store``)
    and "Units directly below <node> (<level>)"; empty without an organisation or at a leaf."""
    column = view.children_column
    if column is None:
        return {}
    org = view.data.org
    node = view.selection.node or org.root
    return {column: f"Units directly below {org.unit(node).name} ({org.levels[org.depth(node) + 1]})"}


def metric_breakdowns(view: SideView) -> dict[str, str]:
    """Columns a side's metrics can be broken down by: ``unit``, the organisation's units
    directly below the chosen node (:func:`children_breakdown`) and the demographic questions
    (column -> label)."""
    instrument = view.instrument
    options = {"unit": "Unit", **children_breakdown(view)}
    options.update({q.id: instrument.text(q.text) for q in instrument.questions if q.id in view.data.dimensions})
    return options


def compare_breakdowns(view: SideView) -> dict[str, str]:
    """Columns a side's groups can be compared by: ``unit``, the organisation's units directly
    below the chosen node (:func:`children_breakdown`), ``wave`` (more than one in the view) and
    the demographic questions (column -> label)."""
    options = {"unit": "Unit"} if "unit" in view.data.frame else {}
    options.update(children_breakdown(view))
    if "wave" in view.frame and view.frame["wave"].nunique() > 1:
        options["wave"] = "Wave"
    instrument = view.instrument
    options.update({q.id: instrument.text(q.text) for q in instrument.questions if q.id in view.data.dimensions})
    return options


def _compare_measures(view: SideView, constructs: Any) -> list[tuple[str, str, str, str]]:
    """(measure id, column of the scored frame, label, kind) of the constructs and metric items."""
    instrument = view.instrument
    labels = construct_labels(instrument)
    measures = [(c.id, c.id, labels[c.id], "construct") for c in instrument.constructs]
    for name in METRIC_FUNCTIONS:
        item_id = getattr(instrument.metrics, name, None)
        if item_id and item_id in view.frame:
            measures.append((name, item_id, f"{labels[name]} question (mean answer)", "metric item"))
    if constructs is not None:
        wanted = [str(c) for c in constructs]
        unknown = [c for c in wanted if c not in {m[0] for m in measures}]
        if unknown:
            from surveys.errors import did_you_mean

            hint = did_you_mean(unknown[0], [m[0] for m in measures])
            raise TandemError(f"no construct or metric '{unknown[0]}'.{hint}", where="compare",
                              fix="give construct ids of the instrument or nps, enps, csat, ces.")
        measures = [m for m in measures if m[0] in wanted]
    return measures


def _block_thinned(view: SideView, scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` (rows of the view) with each column withheld in blocks where 1 to k - 1
    counted respondents have a value, the rule the policy applies to item answers, so
    that every statistic of a score pools none or at least k respondents of every block."""
    from services.disclosure import mask_items

    full = scores.reindex(pd.RangeIndex(len(view.data.frame)))
    return mask_items(full, view.data.blocks, list(scores.columns)).loc[scores.index]


def compare(view: SideView, *, by: str, constructs: Any = None, adjust: str = "holm",
            alpha: float = 0.05) -> GroupDifferences:
    """Each construct score and metric item across the groups of ``by``, through the disclosure policy.

    Parameters
    ----------
    view
        One side under a selection.
    by
        ``unit``, the node's children (``org:<level>``, :func:`children_breakdown`), ``wave``
        or a demographic question (:func:`compare_breakdowns`).
    constructs
        Construct ids (or metric names ``nps``, ``enps``, ``csat``, ``ces``) to compare;
        default every construct and metric item of the instrument.
    adjust
        ``holm`` (family-wise error) or ``fdr_bh`` (false discovery rate), applied across
        every group-against-the-rest cell shown, and separately across the measures'
        Welch tests.
    alpha
        Level at which a cell is marked significant (after adjustment).

    Returns
    -------
    GroupDifferences

    Notes
    -----
    The groups come from :meth:`SideView.grouped` / :meth:`SideView.groups`, exactly as
    for the headline metrics: a group is shown as the union of the blocks all of whose
    respondents belong to it; responses in blocks that mix groups are pooled, and the
    pool is never shown, compared or used as "the rest"; groups none of whose blocks are
    pure are listed as hidden. The same holds for the children of an organisation node:
    each child is the union of the blocks inside it (:mod:`services.hierarchy` builds them
    along the tree), so the node (shown on every page) minus its shown children is the pool
    of whole blocks, never a hidden child alone. Construct scores (:func:`analysis.scoring.score`) are
    withheld per block where fewer than k counted respondents have one. Statistics come
    from :func:`analysis.compare.compare`; the adjustment is
    :func:`analysis.compare.adjust_pvalues` over the comparisons actually shown.
    """
    from analysis.compare import ADJUSTMENTS, adjust_pvalues
    from analysis.compare import compare as compare_groups
    from analysis.scoring import score

    _require(view)
    options = compare_breakdowns(view)
    if by not in options:
        from surveys.errors import did_you_mean

        raise TandemError(f"cannot compare by '{by}'.{did_you_mean(str(by), list(options))}", where="--by",
                          fix=f"use one of: {', '.join(options)}.")
    if adjust not in ADJUSTMENTS or adjust == "none":
        raise TandemError(f"unknown adjustment '{adjust}'", where="adjust", fix="use holm or fdr_bh.")
    measures = _compare_measures(view, constructs)
    status = view.groups(by)
    labels = view.grouped(by, _POOLED)
    keep = (labels != _POOLED).to_numpy()
    scored = score(view.frame, view.instrument)
    columns = list(dict.fromkeys(column for _, column, _, _ in measures))
    values = _block_thinned(view, scored[columns])[keep].assign(**{by: labels[keep].astype(str).to_numpy()})

    groups = pd.DataFrame({"group": list(status), "status": list(status.values())})
    sizes = values[by].value_counts()
    groups["n"] = pd.array([int(sizes.get(g, 0)) if s != "hidden" else pd.NA
                            for g, s in zip(groups["group"], groups["status"], strict=True)], dtype="Int64")
    groups["label"] = groups["status"].map({"hidden": HIDDEN_LABEL, "partial": PARTIAL_LABEL}).fillna("")

    tests, cells, pairs, skipped = [], [], [], []
    shown = int((groups["status"] != "hidden").sum())
    paired = shown <= MAX_PAIRED_GROUPS
    for measure, column, label, kind in measures:
        try:
            result = compare_groups(values, column, by, adjust=adjust, pairs=paired)
        except TandemError as exc:
            skipped.append((measure, label, str(getattr(exc, "message", exc))))
            continue
        welch, anova = result.welch, result.anova
        tests.append({"measure": measure, "label": label, "kind": kind, "n": result.n, "n_groups": result.k,
                      "welch_F": welch["F"], "welch_df1": welch["df1"], "welch_df2": welch["df2"],
                      "welch_pvalue": welch["pvalue"], "anova_F": anova["F"], "anova_df1": anova["df1"],
                      "anova_df2": anova["df2"], "anova_pvalue": anova["pvalue"], "eta2": anova["eta2"],
                      "omega2": anova["omega2"]})
        rest = result.versus_rest.assign(measure=measure, label=label, kind=kind, two=result.k == 2)
        cells.append(rest.assign(sd=result.groups["sd"].to_numpy()))
        pairs.append(result.pairwise.assign(measure=measure, label=label))

    tests_table = pd.DataFrame(tests, columns=[c for c in COMPARE_TEST_COLUMNS if c != "welch_pvalue_adj"])
    tests_table["welch_pvalue_adj"] = adjust_pvalues(tests_table["welch_pvalue"], adjust)
    if cells:
        cell_table = pd.concat(cells, ignore_index=True)
        # with two groups both cells are the same test: it enters the family once
        two = cell_table["two"].astype(bool)
        enters = ~(two & cell_table.duplicated("measure"))
        cell_table["pvalue_adj"] = float("nan")
        cell_table.loc[enters, "pvalue_adj"] = adjust_pvalues(cell_table.loc[enters, "pvalue"], adjust)
        cell_table.loc[two, "pvalue_adj"] = cell_table[two].groupby("measure")["pvalue_adj"].transform("first")
        cell_table["status"] = cell_table["group"].map(status)
        cell_table["significant"] = cell_table["pvalue_adj"] < alpha
        pair_table = pd.concat(pairs, ignore_index=True)
    else:
        cell_table = pd.DataFrame(columns=list(COMPARE_CELL_COLUMNS))
        pair_table = pd.DataFrame(columns=list(COMPARE_PAIR_COLUMNS))
    return GroupDifferences(side=view.side, by=by, adjust=adjust, alpha=alpha, min_group_size=view.k,
                            groups=groups, tests=tests_table[list(COMPARE_TEST_COLUMNS)],
                            cells=cell_table[list(COMPARE_CELL_COLUMNS)].reset_index(drop=True),
                            pairwise=pair_table[list(COMPARE_PAIR_COLUMNS)].reset_index(drop=True),
                            skipped=pd.DataFrame(skipped, columns=["measure", "label", "reason"]),
                            pairs_note="" if paired else (
                                f"{shown:,} groups are {shown * (shown - 1) // 2:,} pairs per measure, more than a "
                                f"table can show; pairs are compared for at most {MAX_PAIRED_GROUPS} groups. Choose "
                                "an organisation node, or compare by the units directly below it."))


def report_comparisons(view: SideView) -> dict[str, GroupDifferences]:
    """:func:`compare` by every breakdown of :func:`compare_breakdowns` that shows at least
    two groups (for the report)."""
    out = {}
    for by in compare_breakdowns(view):
        if sum(state != "hidden" for state in view.groups(by).values()) >= 2:
            out[by] = compare(view, by=by)
    return out


def unit_recommendation(result: Any, study: Any, *, bootstrap: int = DEFAULTS.bootstrap,
                        seed: int | None = DEFAULTS.seed) -> Any:
    """The recommendation rule (:func:`analysis.recommendation.recommend`) for the main
    customer outcome (CSAT when the study has it) across the analysed units: the employee
    drivers' unit-level relative weights and their unit means as performance."""
    from analysis.drivers import relative_weights
    from analysis.recommendation import recommend

    outcomes = list(study.outcomes)
    main = "csat" if "csat" in outcomes else outcomes[0]
    predictors = list(study.predictors)
    # the same draws as the study's unit-level drivers (analysis.linkage seeds outcome k with seed + 1 + k)
    weights = relative_weights(result.units, main, predictors, bootstrap=bootstrap,
                               seed=None if seed is None else seed + 1 + outcomes.index(main))
    return recommend(weights, result.units[predictors], bootstrap=bootstrap, seed=seed, unit="units")


@dataclass(frozen=True)
class Insight:
    """Everything the report shows, for one dataset and selection.

    Attributes
    ----------
    title
        Heading of the report.
    dataset
        The :class:`~services.sources.Dataset` (its ``name`` says what the data is).
    views
        Side -> :class:`~services.selection.SideView` (what the selection may show).
    study, result
        The :class:`analysis.study.Study` and its :class:`analysis.linkage.StudyResult`
        (None for a single survey, or when the linkage could not be fitted).
    health, parallel, metrics, trends, responses, drivers
        Side -> instrument health, parallel analysis, :func:`headline_metrics`,
        metric -> :func:`metric_trend`, :func:`responses_by_unit`,
        :func:`respondent_drivers`.
    problems
        Step -> why it is not shown (plain words).
    comparisons
        Side -> breakdown column -> :func:`compare` (:func:`report_comparisons`).
    unit_recommendation
        The recommendation rule (:func:`unit_recommendation`) for the study's main
        customer outcome across units, or None.
    bootstrap, seed
        Resampling settings used.
    """

    title: str
    dataset: Dataset = field(repr=False)
    views: Mapping[str, SideView] = field(repr=False)
    study: Any = None
    result: Any = None
    health: Mapping[str, Any] = field(default_factory=dict)
    parallel: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trends: Mapping[str, Mapping[str, pd.DataFrame]] = field(default_factory=dict)
    responses: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    drivers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)
    comparisons: Mapping[str, Mapping[str, GroupDifferences]] = field(default_factory=dict)
    unit_recommendation: Any = None
    bootstrap: int = 0
    seed: int | None = None

    @property
    def instruments(self) -> dict[str, Any]:
        """Side -> instrument."""
        return {side: view.instrument for side, view in self.views.items()}

    @property
    def min_group_size(self) -> int:
        """The strictest anonymity threshold of the sides."""
        return max(view.k for view in self.views.values())

    @property
    def labels(self) -> dict[str, str]:
        """Construct labels of every instrument."""
        return construct_labels(*self.instruments.values())


def collect_insight(dataset: Dataset, selection: Selection | None = None, *, title: str | None = None,
                    bootstrap: int = DEFAULTS.bootstrap, seed: int | None = DEFAULTS.seed,
                    progress: Callable[[str], None] | None = None) -> Insight:
    """Run every analysis the report shows, through the disclosure policy.

    Parameters
    ----------
    dataset, selection
        The data (:mod:`services.sources`) and the chosen waves, units and groups.
    bootstrap, seed
        Bootstrap draws for the intervals of drivers and paths.
    progress
        Called with the name of each step before it runs (for progress bars).

    Returns
    -------
    Insight
        Failed steps are listed in ``problems`` with their reason.
    """
    step = progress or (lambda _name: None)
    views = select(dataset, selection)
    problems: dict[str, str] = {}
    health, parallel, metrics, trends, responses, drivers = {}, {}, {}, {}, {}, {}
    comparisons: dict[str, dict[str, GroupDifferences]] = {}

    def attempt(name: str, function: Callable[..., Any], *args: Any, **options: Any) -> Any:
        step(name)
        try:
            return function(*args, **options)
        except TandemError as exc:
            problems[name] = str(getattr(exc, "message", exc))
        return None

    for side, view in views.items():
        if view.empty:
            problems[f"{side} survey"] = view.note or "nothing to show"
            continue
        responses[side] = attempt(f"{side} responses", responses_by_unit, view)
        metrics[side] = attempt(f"{side} metrics", headline_metrics, view) or {}
        trends[side] = {name: metric_trend(view, name) for name in metrics[side]}
        health[side] = attempt(f"{side} instrument health", instrument_health, view)
        if len(construct_items(view.instrument)) >= 3:
            parallel[side] = attempt(f"{side} parallel analysis", parallel_analysis, view, seed=seed)
        drivers[side] = attempt(f"{side} drivers", respondent_drivers, view, bootstrap=bootstrap, seed=seed) or {}
        comparisons[side] = attempt(f"{side} group comparisons", report_comparisons, view) or {}
    study = dataset.study.study
    result = None
    if study is not None and all(not v.empty for v in views.values()):
        result = attempt("linkage", linkage, views, study, bootstrap=bootstrap, seed=seed, kpis=dataset.kpis)
    elif study is None and len(views) > 1:
        problems["linkage"] = dataset.study.reason
    recommendation = None
    if result is not None and len(result.drivers) and bootstrap:
        recommendation = attempt("unit-level recommendation", unit_recommendation, result, study,
                                 bootstrap=bootstrap, seed=seed)
    if title is None:
        title = study.title if study is not None and getattr(study, "title", "") else " and ".join(
            v.instrument.text(v.instrument.title) for v in views.values())
    return Insight(title=title, dataset=dataset, views=views, study=study, result=result,
                   unit_recommendation=recommendation,
                   health={k: v for k, v in health.items() if v is not None},
                   parallel={k: v for k, v in parallel.items() if v is not None}, metrics=metrics, trends=trends,
                   responses={k: v for k, v in responses.items() if v is not None}, drivers=drivers,
                   problems=problems, bootstrap=bootstrap, seed=seed, comparisons=comparisons)
