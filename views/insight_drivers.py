"""Insight page: key drivers (importance bars with intervals) and the importance-performance chart.

Thin: :func:`services.insight.respondent_drivers` (relative weights of
:mod:`analysis.drivers`) within a survey, and the unit-level drivers of the linkage
study (:func:`services.insight.linkage`), both through the disclosure policy; charts
from :mod:`reports.charts`.
"""

from __future__ import annotations

import streamlit as st

from views import insight
from views.errors import shown_errors

st.title("Drivers")
with shown_errors("drivers"):
    ctx = insight.context()
    labels = insight.labels(ctx)
    st.caption("Relative weights (Johnson 2000): each driver's share of the explained variance, with 95% bootstrap "
               f"intervals ({insight.BOOTSTRAP} resamples) and how often it keeps its rank.")

    if ctx.linked and not any(view.empty for view in ctx.views.values()):
        result = insight.linkage(ctx)
        st.header(f"What moves customers: unit level ({result.n_units} units)")
        outcomes = list(dict.fromkeys(result.drivers["outcome"]))
        outcome = st.selectbox("Customer outcome", outcomes, index=outcomes.index("csat") if "csat" in outcomes else 0,
                               format_func=lambda o: labels.get(o, o), key="drivers:unit")
        table = result.drivers[result.drivers["outcome"] == outcome]
        chart = insight.figure(ctx, f"unit_drivers:{outcome}", "driver_importance", table,
                               outcome=labels.get(outcome, outcome), labels=labels)
        st.plotly_chart(chart, key="unit_drivers")

    side = insight.side_choice(ctx, "Within which survey")
    if insight.shown(ctx.views[side]):
        found = insight.drivers(ctx, side)
        if not found:
            st.info("This instrument marks no constructs as drivers and outcomes (role: driver / outcome).")
        else:
            outcome = st.selectbox("Outcome", list(found), format_func=lambda o: labels.get(o, o),
                                   key="drivers:outcome")
            entry = found[outcome]
            result = entry["result"]
            chart = insight.figure(ctx, f"drivers:{side}:{outcome}", "driver_importance", result.table,
                                   outcome=labels.get(outcome, outcome), r2=result.r2, labels=labels)
            st.plotly_chart(chart, key="drivers")
            chart = insight.figure(ctx, f"quadrant:{side}:{outcome}", "importance_performance", entry["quadrant"],
                                   labels=labels, performance_label="Performance (mean score)")
            st.plotly_chart(chart, key="quadrant")
            found = entry["recommendation"]
            if found.driver is not None:
                st.success(" ".join(found.reasons))
            else:
                st.info(" ".join(found.reasons))
            st.caption("The quadrants describe where each driver sits against the medians; only the rule above "
                       "recommends an action, and only when the intervals support it.")
            st.dataframe(result.ranked(), hide_index=True, width="stretch")
            with st.expander("The recommendation rule, check by check"):
                st.dataframe(found.checks, hide_index=True, width="stretch")
