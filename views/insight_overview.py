"""Insight page: responses by unit, headline NPS / eNPS / CSAT with intervals, trends across waves.

Thin: every number comes from :mod:`services.insight` (through the disclosure policy),
charts from :mod:`reports.charts`. Units that may not be shown say "fewer than k" or
"hidden", never a number.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from reports import charts
from views import insight
from views.errors import shown_errors


def formatted(unit_metric: Any, overall: Any) -> tuple[str, str]:
    """A metric's value and its 95% interval as text (CSAT as a percentage)."""
    scale, unit = (100, "%") if unit_metric.metric == "csat_top2box" else (1, "")
    return (f"{scale * overall.value:.1f}{unit}",
            f"95% interval {scale * overall.ci_lower:.1f} to {scale * overall.ci_upper:.1f}{unit}")


st.title("Overview")
with shown_errors("overview"):
    ctx = insight.context()
    listing = insight.campaign_table(ctx)
    if listing is not None:
        st.dataframe(listing, hide_index=True, width="stretch")

    for side, view in ctx.views.items():
        instrument, k = view.instrument, view.k
        st.header(f"{side.capitalize()} survey: {instrument.text(instrument.title)}")
        if not insight.shown(view):
            continue
        metrics = insight.metrics(ctx, side)
        unit_names = {u.id: instrument.text(u.label) for u in instrument.units}
        scales = {m.metric: sc for m in metrics.values() if (sc := charts.metric_scale(instrument, m.metric))}
        columns = st.columns(max(1, len(metrics) + 1))
        columns[0].metric("Responses", f"{view.n:,}")
        for column, (name, unit_metric) in zip(columns[1:], metrics.items(), strict=False):
            overall = unit_metric.overall
            if overall is None:
                column.metric(charts.METRIC_NAMES.get(unit_metric.metric, name), f"fewer than {k}")
            else:
                value, interval = formatted(unit_metric, overall)
                column.metric(charts.METRIC_NAMES.get(unit_metric.metric, name), value,
                              help=f"{interval}, n = {overall.n}")
                column.caption(interval)
                if unit_metric.metric in scales:
                    column.caption(f"Mean on {scales[unit_metric.metric][2]}")
        compared = insight.benchmark(ctx)
        if compared is not None and compared.reasons.get(side):
            st.caption(f"Compared with {compared.name} ({compared.level}): {compared.reasons[side]}.")
        elif compared is not None and side in compared.metrics:
            parts = []
            for name, overall in compared.metrics[side].items():
                if overall is not None and name in metrics:
                    value, interval = formatted(metrics[name], overall)
                    parts.append(f"{charts.METRIC_NAMES.get(metrics[name].metric, name)} {value} ({interval})")
            st.markdown(f"**Compared with {compared.name} ({compared.level}), your {compared.level}:** "
                        + ("; ".join(parts) + "." if parts else "its scale means below."))
            if side in compared.constructs:
                st.dataframe(compared.constructs[side].round(2), hide_index=True)
                st.caption(f"Mean scores of your units and of all of {compared.name}; the {compared.level} is "
                           f"shown only when its other units hold at least {k} respondents from two units or more.")
        table = insight.responses(ctx, side)
        st.plotly_chart(insight.figure(ctx, f"rates:{side}", "response_rates", table, min_group_size=k,
                                       names=unit_names, title=f"{side.capitalize()} responses by unit"),
                        key=f"rates:{side}")
        with st.expander("Responses by unit (table)"):
            columns = ["unit", "label", "shown"] + (["invited"] if table["invited"].notna().any() else [])
            # One type per column (Arrow): the responses column is text ("12", "fewer than 5").
            st.dataframe(table[columns].rename(columns={"shown": "responses"}).astype({"responses": "string"}),
                         hide_index=True)
        if metrics:
            chart = insight.figure(ctx, f"headline:{side}", "metric_intervals",
                                   [m.overall for m in metrics.values()], scales=scales,
                                   title=f"{side.capitalize()} headline metrics with 95% intervals")
            st.plotly_chart(chart, key=f"headline:{side}")
        options = insight.breakdowns(ctx, side)
        group = st.selectbox("Break the metrics down by", list(options), format_func=options.get,
                             key=f"overview:breakdown:{side}") if metrics else "unit"
        grouped = metrics if group == "unit" else insight.metrics(ctx, side, group)
        for name, unit_metric in grouped.items():
            chart = insight.figure(ctx, f"by_group:{side}:{group}:{name}", "metric_by_unit", unit_metric.to_frame(),
                                   metric=unit_metric.metric, group_label=options[group],
                                   names=unit_names if group == "unit" else None,
                                   scale=scales.get(unit_metric.metric))
            st.plotly_chart(chart, key=f"by_unit:{side}:{name}")
        for name, unit_metric in metrics.items():
            waves = insight.trend(ctx, side, name)
            if len(waves) > 1:
                chart = insight.figure(ctx, f"trend:{side}:{name}", "trend", waves, metric=unit_metric.metric,
                                       scale=scales.get(unit_metric.metric))
                st.plotly_chart(chart, key=f"trend:{side}:{name}")
            else:
                st.caption(f"{charts.METRIC_NAMES.get(unit_metric.metric, name)}: one wave so far; trends appear "
                           "from the second wave on.")
