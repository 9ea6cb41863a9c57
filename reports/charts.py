"""Plotly figure builders for Tandem's analysis results (no Streamlit).

Every builder takes a result table of :mod:`analysis` (the columns named in its
docstring), returns a :class:`plotly.graph_objects.Figure` with a readable title,
labelled axes and units, and computes no statistic itself: intervals, quadrants and
suppression come from the analysis modules. Small groups are never drawn as numbers:
builders that show units take the ``suppressed``/``label`` columns of
:mod:`analysis.metrics` or a minimum size, and show "fewer than k" instead.

Figures share one look (:data:`TEMPLATE`) so that the Streamlit pages and the HTML
report read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.suppression import suppression_label

__all__ = [
    "TEMPLATE",
    "driver_importance",
    "group_differences_heatmap",
    "htmt_heatmap",
    "importance_performance",
    "loadings_heatmap",
    "metric_by_unit",
    "metric_intervals",
    "metric_scale",
    "response_rates",
    "scree",
    "trend",
    "unit_scatter",
]

TEMPLATE = "plotly_white"
ACCENT = "#1f5f99"
MUTED = "#9aa5b1"
WARN = "#c0392b"
QUADRANT_COLOURS = {
    "concentrate here": "#c0392b",
    "keep up the good work": "#1e8449",
    "low priority": "#7f8c8d",
    "possible overkill": "#d68910",
}
METRIC_AXES = {
    "nps": ("NPS (-100 to 100)", (-100, 100)),
    "enps": ("eNPS (-100 to 100)", (-100, 100)),
    "csat_top2box": ("CSAT: share satisfied (top-two box, %)", (0, 100)),
    "ces": ("Customer effort score (mean)", None),
}
METRIC_NAMES = {"nps": "NPS", "enps": "eNPS", "csat_top2box": "CSAT (top-two box)", "ces": "CES"}


def metric_scale(instrument: object, metric: str) -> tuple[float, float, str] | None:
    """The answer scale of a mean metric (CES) of ``instrument``: ``(low, high, text)``.

    ``text`` names both ends with the instrument's labels and, where the item's wording
    says it, the direction: "1 = Strongly disagree ... 7 = Strongly agree; higher is
    better (easier)" for an agreement that something was easy, "lower is better" for a
    question about effort or difficulty. ``None`` for the share and NPS metrics (their
    axes are fixed) or when the instrument does not measure ``metric``.
    """
    if metric != "ces":
        return None
    item_id = getattr(getattr(instrument, "metrics", None), metric, None)
    if not item_id:
        return None
    try:
        item = instrument.item(item_id)  # type: ignore[attr-defined]
    except Exception:  # an instrument without that item: no scale to state
        return None
    scale = getattr(item, "scale", None)
    points = getattr(scale, "points", None)
    if points:
        low, high = points[0], points[-1]
        lo, hi = float(low.value), float(high.value)
        text = (f"{lo:g} = {instrument.text(low.label)} ... "  # type: ignore[attr-defined]
                f"{hi:g} = {instrument.text(high.label)}")  # type: ignore[attr-defined]
    else:
        lo = float(getattr(item, "min", getattr(scale, "min", 1)))
        hi = float(getattr(item, "max", getattr(scale, "max", 7)))
        text = f"{lo:g} to {hi:g}"
    wording = str(instrument.text(item.text)).lower() if getattr(item, "text", None) else ""  # type: ignore[attr-defined]
    high_words = str(text).lower()
    if any(w in wording for w in ("effort", "difficult", "hard")):
        text += "; lower is better (less effort)"
    elif "easy" in wording and "agree" in high_words:
        text += "; higher is better (easier)"
    return lo, hi, text


def _label(name: str, labels: Mapping[str, str] | None) -> str:
    return str(labels.get(name, name)) if labels else str(name)


def _layout(fig: go.Figure, title: str, *, height: int | None = None, **axes) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.0, "xanchor": "left"},
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, font={"size": 13},
                      legend={"orientation": "h", "y": -0.2}, **axes)
    if height:
        fig.update_layout(height=height)
    return fig


def _percent_scale(metric: str) -> float:
    return 100.0 if metric == "csat_top2box" else 1.0


def driver_importance(table: pd.DataFrame, *, outcome: str, r2: float | None = None,
                      labels: Mapping[str, str] | None = None) -> go.Figure:
    """Horizontal bars of each driver's share of explained variance with its interval.

    Parameters
    ----------
    table
        The per-predictor table of :class:`analysis.drivers.DriverResult`
        (``predictor, pct, pct_ci_lower, pct_ci_upper, rank``; a column ``outcome``
        is ignored). Intervals are drawn when present and finite.
    outcome
        Name (or label) of the outcome, for the title.
    r2
        R² of the outcome on all drivers, shown in the title.
    labels
        Display labels of the predictors (e.g. construct labels of the instrument).
    """
    data = table.sort_values("pct", ascending=True, kind="stable")
    names = [f"{_label(p, labels)} ({v:.0f}%)" for p, v in zip(data["predictor"], data["pct"], strict=True)]
    error = None
    if {"pct_ci_lower", "pct_ci_upper"} <= set(data.columns) and np.isfinite(data["pct_ci_upper"]).any():
        error = {"type": "data", "symmetric": False,
                 "array": (data["pct_ci_upper"] - data["pct"]).clip(lower=0).fillna(0),
                 "arrayminus": (data["pct"] - data["pct_ci_lower"]).clip(lower=0).fillna(0),
                 "color": "#333"}
    fig = go.Figure(go.Bar(x=data["pct"], y=names, orientation="h", marker_color=ACCENT, error_x=error,
                           hovertemplate="%{y}: %{x:.1f}% of explained variance<extra></extra>"))
    title = f"What drives {outcome}: share of explained variance"
    if r2 is not None and np.isfinite(r2):
        title += f" (R² = {r2:.2f})"
    return _layout(fig, title, height=max(260, 60 + 45 * len(data)),
                   xaxis_title="Share of explained variance (%, with 95% interval)", yaxis_title=None)


def importance_performance(table: pd.DataFrame, *, performance_label: str = "Performance (mean score)",
                           labels: Mapping[str, str] | None = None,
                           importance_cut: float | None = None, performance_cut: float | None = None) -> go.Figure:
    """Importance–performance quadrant chart (Martilla & James 1977).

    Parameters
    ----------
    table
        :func:`analysis.importance_performance.importance_performance` output: ``driver, importance,
        performance, quadrant``.
    performance_label
        Axis title of the performance (state the scale, e.g. "mean on 1-5").
    importance_cut, performance_cut
        The cuts the quadrants were formed with (default: the medians, as in
        :func:`analysis.importance_performance.importance_performance`).
    """
    i_cut = float(table["importance"].median()) if importance_cut is None else importance_cut
    p_cut = float(table["performance"].median()) if performance_cut is None else performance_cut
    fig = go.Figure()
    for quadrant, part in table.groupby("quadrant", sort=False):
        bars = {}
        if "performance_ci_lower" in part:
            bars["error_x"] = {"type": "data", "symmetric": False, "color": MUTED,
                               "array": part["performance_ci_upper"] - part["performance"],
                               "arrayminus": part["performance"] - part["performance_ci_lower"]}
        if "importance_ci_lower" in part:
            bars["error_y"] = {"type": "data", "symmetric": False, "color": MUTED,
                               "array": 100 * (part["importance_ci_upper"] - part["importance"]),
                               "arrayminus": 100 * (part["importance"] - part["importance_ci_lower"])}
        fig.add_trace(go.Scatter(
            x=part["performance"], y=100 * part["importance"], mode="markers+text", name=quadrant,
            text=[_label(d, labels) for d in part["driver"]], textposition="top center",
            marker={"size": 14, "color": QUADRANT_COLOURS.get(quadrant, ACCENT)}, **bars,
            hovertemplate="%{text}<br>performance %{x:.2f}<br>importance %{y:.1f}%<extra>" + quadrant + "</extra>"))
    fig.add_vline(x=p_cut, line_dash="dot", line_color=MUTED)
    fig.add_hline(y=100 * i_cut, line_dash="dot", line_color=MUTED)
    fig.add_annotation(text="concentrate here", xref="paper", yref="paper", x=0.01, y=0.99, showarrow=False,
                       font={"color": QUADRANT_COLOURS["concentrate here"]}, xanchor="left")
    fig.add_annotation(text="keep up the good work", xref="paper", yref="paper", x=0.99, y=0.99, showarrow=False,
                       font={"color": QUADRANT_COLOURS["keep up the good work"]}, xanchor="right")
    intervals = " with 95% intervals" if {"importance_ci_lower", "performance_ci_lower"} & set(table) else ""
    return _layout(fig, f"Importance and performance{intervals} (the quadrants describe; they do not recommend)",
                   height=460, xaxis_title=performance_label, yaxis_title="Importance (% of explained variance)")


def scree(table: pd.DataFrame, *, n_factors: int | None = None, quantile: float = 0.95) -> go.Figure:
    """Scree plot with Horn's parallel analysis.

    Parameters
    ----------
    table
        :attr:`analysis.efa.ParallelAnalysisResult.scree`: ``factor, observed,
        simulated_mean, simulated_quantile``.
    n_factors
        The suggested number of factors (marked).
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=table["factor"], y=table["observed"], mode="lines+markers", name="observed data",
                             line={"color": ACCENT}))
    fig.add_trace(go.Scatter(x=table["factor"], y=table["simulated_quantile"], mode="lines", name=
                             f"random data ({100 * quantile:.0f}th percentile)", line={"color": WARN, "dash": "dash"}))
    if "simulated_mean" in table:
        fig.add_trace(go.Scatter(x=table["factor"], y=table["simulated_mean"], mode="lines",
                                 name="random data (mean)", line={"color": MUTED, "dash": "dot"}))
    title = "Scree plot with parallel analysis"
    if n_factors is not None:
        title += f": {n_factors} factor{'s' if n_factors != 1 else ''} beat random data"
        fig.add_vline(x=n_factors + 0.5, line_dash="dot", line_color=MUTED)
    values = pd.concat([pd.to_numeric(table[c], errors="coerce") for c in
                        ("observed", "simulated_quantile", "simulated_mean") if c in table]).dropna()
    top = float(values.max()) if len(values) else 1.0
    bottom = min(0.0, float(values.min())) if len(values) else 0.0
    last = float(pd.to_numeric(table["factor"], errors="coerce").max()) if len(table) else 1.0
    # The x axis starts at the first factor (no 0 or -1 tick); y from 0 (or the lowest
    # eigenvalue when one is negative), so the elbow is not exaggerated.
    return _layout(fig, title, height=380, xaxis_title="Factor (component) number",
                   yaxis_title="Eigenvalue",
                   xaxis={"dtick": 1, "tick0": 1, "range": [0.8, max(last, 1.0) + 0.2]},
                   yaxis={"range": [bottom - 0.05 * (top - bottom), top + 0.08 * (top - bottom)],
                          "zeroline": True})


def loadings_heatmap(loadings: pd.DataFrame, *, title: str = "Factor loadings",
                     labels: Mapping[str, str] | None = None) -> go.Figure:
    """Heatmap of items x factors loadings (standardized, -1 to 1), values printed.

    Parameters
    ----------
    loadings
        Items (index) x factors (columns), e.g. :attr:`analysis.efa.EFAResult.loadings`
        or a CFA's ``std_all`` loadings pivoted to items x constructs (NaN where fixed to 0).
    """
    z = loadings.to_numpy(dtype=float)
    text = [["" if not np.isfinite(v) else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[_label(c, labels) for c in loadings.columns],
                               y=[str(i) for i in loadings.index], zmin=-1, zmax=1, colorscale="RdBu",
                               text=text, texttemplate="%{text}", colorbar={"title": "loading"},
                               hovertemplate="%{y} on %{x}: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=max(300, 80 + 22 * len(loadings)), xaxis_title="Factor",
                   yaxis_title="Item")


def htmt_heatmap(matrix: pd.DataFrame, *, threshold: float = 0.85,
                 labels: Mapping[str, str] | None = None) -> go.Figure:
    """Heterotrait–monotrait ratios between constructs (Henseler et al. 2015).

    Parameters
    ----------
    matrix
        :func:`analysis.reliability.htmt` output (constructs x constructs).
    threshold
        Values above it are printed with a "!" (discriminant validity in doubt).

    HTMT is defined on absolute correlations (Henseler et al. 2015), so it is never
    negative; a negative entry (constructs that correlate negatively) is drawn and
    printed as its absolute value, and the title says so.
    """
    signed = matrix.to_numpy(dtype=float).copy()
    np.fill_diagonal(signed, np.nan)
    negative = bool(np.nanmin(signed) < 0) if np.isfinite(signed).any() else False
    z = np.abs(signed)
    text = [["" if not np.isfinite(v) else f"{v:.2f}{' !' if v > threshold else ''}" for v in row] for row in z]
    names = [_label(c, labels) for c in matrix.columns]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, zmin=0, zmax=1, colorscale="Oranges", text=text,
                               texttemplate="%{text}", colorbar={"title": "HTMT"},
                               hovertemplate="%{y} / %{x}: |HTMT| %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    note = "; absolute values, negative correlations shown as positive" if negative else ""
    return _layout(fig, f"Are the constructs distinct? HTMT (above {threshold:.2f} marked !{note})",
                   height=max(320, 100 + 40 * len(matrix)))


def unit_scatter(units: pd.DataFrame, *, x: str, y: str, size: str, min_size: int,
                 x_label: str | None = None, y_label: str | None = None) -> go.Figure:
    """One point per unit: an employee construct against a customer outcome.

    Parameters
    ----------
    units
        One row per unit with columns ``unit``, ``x``, ``y`` and ``size`` (e.g. the
        ``units`` table of :class:`analysis.linkage.StudyResult`).
    size
        Column with the respondents per unit; points are sized by it.
    min_size
        Units with fewer respondents than this are left out (never drawn).
    """
    data = units[pd.to_numeric(units[size], errors="coerce") >= min_size].dropna(subset=[x, y])
    n = data[size].astype(float)
    fig = go.Figure(go.Scatter(
        x=data[x], y=data[y], mode="markers", text=data["unit"].astype(str),
        marker={"size": 8 + 22 * np.sqrt(n / n.max()) if len(n) else 10, "color": ACCENT, "opacity": 0.7,
                "line": {"width": 1, "color": "white"}},
        customdata=n, hovertemplate="unit %{text}<br>%{x:.2f}, %{y:.2f}<br>%{customdata:.0f} respondents"
                                    "<extra></extra>"))
    xl, yl = x_label or x, y_label or y
    return _layout(fig, f"Units: {xl} and {yl} ({len(data)} units with at least {min_size} respondents; "
                        "point size = respondents)", height=420, xaxis_title=f"{xl} (unit mean)",
                   yaxis_title=f"{yl} (unit value)")


def response_rates(table: pd.DataFrame, *, min_group_size: int, title: str = "Responses by unit",
                   names: Mapping[str, str] | None = None) -> go.Figure:
    """Response rate (or count) per unit; suppressed units show "fewer than k", no number.

    Parameters
    ----------
    table
        One row per unit: ``unit``, ``responses`` and optionally ``invited`` (then
        the rate is drawn), ``suppressed`` (bool) and ``shown`` (the text for a
        suppressed unit; default "fewer than k respondents"), as
        :func:`services.insight.responses_by_unit` gives. Rows with fewer than
        ``min_group_size`` responses are treated as suppressed as well.
    names
        Display names of the units (the instrument's unit labels): the bars are named
        by them, with the unit id in the hover.
    """
    data = table.copy()
    hidden = pd.to_numeric(data["responses"], errors="coerce").fillna(0) < min_group_size
    if "suppressed" in data:
        hidden |= data["suppressed"].fillna(False).astype(bool)
    has_rate = "invited" in data and pd.to_numeric(data["invited"], errors="coerce").gt(0).any()
    if has_rate:
        value = 100 * pd.to_numeric(data["responses"], errors="coerce") / pd.to_numeric(data["invited"],
                                                                                         errors="coerce")
        axis = "Response rate (%)"
    else:
        value = pd.to_numeric(data["responses"], errors="coerce")
        axis = "Responses"
    value = value.where(~hidden)
    ids = data["unit"].astype(str)
    units = pd.Series([_label(u, names) for u in ids], index=data.index, dtype=object)
    shown = ~hidden
    labels = data["shown"] if "shown" in data else pd.Series(suppression_label(min_group_size), index=data.index)
    text = [label if h else (f"{v:.0f}%" if has_rate else f"{v:.0f}")
            for h, v, label in zip(hidden, value, labels.where(hidden, suppression_label(min_group_size)), strict=True)]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=units[shown], y=value[shown], marker_color=ACCENT, name="shown",
                         text=[t for t, s in zip(text, shown, strict=True) if s], textposition="outside",
                         customdata=ids[shown], hovertemplate="%{x} (%{customdata}): %{text}<extra></extra>"))
    if hidden.any():
        fig.add_trace(go.Bar(x=units[hidden], y=[0] * int(hidden.sum()), marker_color=MUTED, name="suppressed",
                             text=[t for t, h in zip(text, hidden, strict=True) if h], textposition="outside",
                             hoverinfo="skip"))
    return _layout(fig, title + (f" (units with fewer than {min_group_size} responses are not shown)"
                                 if hidden.any() else ""), height=380, xaxis_title="Unit", yaxis_title=axis,
                   showlegend=False)


def metric_by_unit(frame: pd.DataFrame, *, metric: str, title: str | None = None,
                   group_label: str = "Unit", names: Mapping[str, str] | None = None,
                   scale: tuple[float, float, str] | None = None) -> go.Figure:
    """A metric per unit with its interval, overall as a line; suppressed units labelled.

    Parameters
    ----------
    frame
        :meth:`analysis.metrics.UnitMetric.to_frame` (``level, unit, n, value,
        ci_lower, ci_upper, suppressed, label``).
    metric
        ``nps``, ``enps``, ``csat_top2box`` or ``ces`` (axis and scale).
    group_label
        What the rows are (units, or a demographic question for a breakdown).
    names
        Display names of the rows (the instrument's unit labels); the id shows in the hover.
    scale
        ``(low, high, text)`` of a mean metric (:func:`metric_scale`): the axis spans
        the whole answer scale and its title states it.
    """
    axis, rng = _axis(metric, scale)
    k = _percent_scale(metric)
    units = frame[frame["level"] == "unit"]
    shown = units[~units["suppressed"].astype(bool)]
    hidden = units[units["suppressed"].astype(bool)]
    ids = shown["unit"].astype(str)
    fig = go.Figure(go.Scatter(
        x=[_label(u, names) for u in ids], y=k * shown["value"].astype(float), mode="markers", name="unit",
        marker={"color": ACCENT, "size": 9},
        error_y={"type": "data", "symmetric": False, "array": k * (shown["ci_upper"] - shown["value"]).astype(float),
                 "arrayminus": k * (shown["value"] - shown["ci_lower"]).astype(float), "color": MUTED},
        customdata=np.column_stack([shown["n"].astype(float), ids]) if len(shown) else None,
        hovertemplate="%{x} (%{customdata[1]}): %{y:.1f} (n = %{customdata[0]:.0f})<extra></extra>"))
    overall = frame[(frame["level"] == "overall") & ~frame["suppressed"].astype(bool)]
    if len(overall):
        fig.add_hline(y=k * float(overall["value"].iloc[0]), line_dash="dash", line_color=WARN,
                      annotation_text=f"overall {k * float(overall['value'].iloc[0]):.1f}")
    if len(hidden):
        fig.add_trace(go.Scatter(x=[_label(u, names) for u in hidden["unit"].astype(str)],
                                 y=[rng[0] if rng else 0] * len(hidden),
                                 mode="text", text=list(hidden["label"].astype(str)), name="suppressed",
                                 textposition="top center", hoverinfo="skip"))
    name = METRIC_NAMES.get(metric, metric)
    fig = _layout(fig, title or f"{name} by {group_label.lower()}, with 95% intervals", height=400,
                  xaxis_title=group_label,
                  yaxis_title=axis, showlegend=False)
    if rng:
        fig.update_yaxes(range=[rng[0] - 0.05 * (rng[1] - rng[0]), rng[1] + 0.05 * (rng[1] - rng[0])])
    return fig


def _axis(metric: str, scale: tuple[float, float, str] | None) -> tuple[str, tuple[float, float] | None]:
    """Axis title and range of a metric; a mean metric with its scale spans the whole scale."""
    axis, rng = METRIC_AXES.get(metric, (metric, None))
    if scale is not None:
        low, high, _text = scale
        axis = f"{METRIC_NAMES.get(metric, metric)} (mean on {low:g} to {high:g})"
        rng = (low, high)
    return axis, rng


def metric_intervals(results: Sequence[object], *, title: str = "Headline metrics with 95% intervals",
                     scales: Mapping[str, tuple[float, float, str]] | None = None) -> go.Figure:
    """Headline metrics (NPS, eNPS, CSAT, CES) as points with intervals, one panel each.

    Parameters
    ----------
    results
        Result objects of :mod:`analysis.metrics` (``metric, value, ci_lower, ci_upper,
        n``); ``None`` entries (suppressed) are skipped.
    scales
        Metric -> ``(low, high, text)`` (:func:`metric_scale`) for mean metrics (CES):
        their panel spans the whole answer scale (an honest axis, not one zoomed to the
        interval) and names both ends and the direction under the panel.
    """
    from plotly.subplots import make_subplots

    items = [r for r in results if r is not None]
    fig = make_subplots(rows=1, cols=max(1, len(items)),
                        subplot_titles=[f"{METRIC_NAMES.get(r.metric, r.metric)} (n = {r.n})" for r in items])
    for col, r in enumerate(items, start=1):
        k = _percent_scale(r.metric)
        fig.add_trace(go.Scatter(
            x=[METRIC_NAMES.get(r.metric, r.metric)], y=[k * r.value], mode="markers+text",
            text=[f"{k * r.value:.1f}"], textposition="middle right", marker={"size": 14, "color": ACCENT},
            error_y={"type": "data", "symmetric": False, "array": [k * (r.ci_upper - r.value)],
                     "arrayminus": [k * (r.value - r.ci_lower)], "color": "#333"}, showlegend=False), row=1, col=col)
        scale = (scales or {}).get(r.metric)
        axis, rng = _axis(r.metric, scale)
        fig.update_yaxes(title_text=axis, row=1, col=col, **({"range": list(rng)} if rng else {}))
        if scale is not None:
            fig.update_xaxes(title_text=scale[2].replace("; ", "<br>"), row=1, col=col)
    return _layout(fig, title, height=400 if scales else 360)


def trend(frame: pd.DataFrame, *, metric: str, series: str | None = None,
          title: str | None = None, scale: tuple[float, float, str] | None = None) -> go.Figure:
    """A metric across waves with intervals (one line per series, e.g. per unit).

    Parameters
    ----------
    frame
        Columns ``wave, value, ci_lower, ci_upper`` (and ``series`` when given); waves
        in order. Suppressed rows (NaN value) leave a gap.
    """
    k = _percent_scale(metric)
    axis, rng = _axis(metric, scale)
    fig = go.Figure()
    groups = frame.groupby(series, sort=False) if series else [("overall", frame)]
    for name, part in groups:
        fig.add_trace(go.Scatter(
            x=part["wave"].astype(str), y=k * part["value"].astype(float), mode="lines+markers", name=str(name),
            error_y={"type": "data", "symmetric": False,
                     "array": k * (part["ci_upper"] - part["value"]).astype(float),
                     "arrayminus": k * (part["value"] - part["ci_lower"]).astype(float)}))
    name = METRIC_NAMES.get(metric, metric)
    fig = _layout(fig, title or f"{name} across waves, with 95% intervals", height=380, xaxis_title="Wave",
                  yaxis_title=axis, xaxis={"type": "category"})
    if rng:
        fig.update_yaxes(range=list(rng))
    return fig


def group_differences_heatmap(cells: pd.DataFrame, *, show: str = "hedges_g", title: str | None = None,
                              group_label: str = "Group", alpha: float = 0.05) -> go.Figure:
    """Measures x groups: each group against the rest of the groups shown, coloured by Hedges' g.

    Parameters
    ----------
    cells
        :attr:`services.insight.GroupDifferences.cells` (``measure, label, group, status,
        n, mean, rest_mean, hedges_g, pvalue_adj, significant``): only groups the
        disclosure policy shows; a group marked ``partial`` gets "(part)" beside its name.
    show
        Printed in each cell: ``"hedges_g"`` (the standardized difference) or ``"mean"``
        (the group's mean). The colour is always Hedges' g, on a diverging scale centred on
        0 (blue above the rest, red below), so measures on different scales compare.
    alpha
        Cells significant after the adjustment (``significant``) are printed with "*".
    """
    if show not in ("hedges_g", "mean"):
        raise ValueError(f"show must be 'hedges_g' or 'mean', not {show!r}")
    measures = list(dict.fromkeys(cells["label"]))
    groups = sorted(dict.fromkeys(cells["group"].astype(str)))
    partial = set(cells.loc[cells["status"] == "partial", "group"].astype(str))
    names = [f"{g} (part)" if g in partial else g for g in groups]
    index = {(row.label, str(row.group)): row for row in cells.itertuples(index=False)}
    z, text, hover = [], [], []
    for measure in measures:
        z_row, text_row, hover_row = [], [], []
        for group in groups:
            row = index.get((measure, group))
            if row is None or not np.isfinite(float(row.hedges_g)):
                z_row.append(np.nan)
                text_row.append("")
                hover_row.append(f"{measure} / {group}: not compared")
                continue
            g = float(row.hedges_g)
            mark = " *" if bool(row.significant) else ""
            z_row.append(g)
            text_row.append((f"{g:+.2f}" if show == "hedges_g" else f"{float(row.mean):.2f}") + mark)
            hover_row.append(f"{measure} / {group}: mean {float(row.mean):.2f} (n = {int(row.n)}) against "
                             f"{float(row.rest_mean):.2f} for the rest; Hedges' g {g:+.2f}; adjusted p "
                             f"{float(row.pvalue_adj):.3g}")
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    values = np.asarray(z, dtype=float)
    top = max(0.5, float(np.nanmax(np.abs(values)))) if np.isfinite(values).any() else 0.5
    fig = go.Figure(go.Heatmap(z=values, x=names, y=measures, zmin=-top, zmax=top, zmid=0, colorscale="RdBu",
                               text=text, texttemplate="%{text}", customdata=hover,
                               colorbar={"title": "Hedges' g"}, hovertemplate="%{customdata}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(type="category")
    what = "Hedges' g" if show == "hedges_g" else "group means, coloured by Hedges' g"
    return _layout(fig, title or f"Each group against the rest ({what}; * adjusted p < {alpha:g})",
                   height=max(320, 120 + 34 * len(measures)), xaxis_title=group_label, yaxis_title="")
