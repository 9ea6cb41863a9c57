"""Insight page: key drivers (importance bars with intervals) and the importance-performance chart.

Thin: :func:`reports.insight.respondent_drivers` (relative weights of
:mod:`analysis.drivers`) within a survey, and the unit-level drivers of the linkage
study (:func:`analysis.linkage.run_study`); charts from :mod:`reports.charts`.
"""

from __future__ import annotations

import streamlit as st

from views import insight
from views.errors import shown_errors

st.title("Drivers")
with shown_errors("drivers"):
    source = insight.source()
    insight.report_button(source)
    labels = insight.labels(source)
    st.caption("Relative weights (Johnson 2000): each driver's share of the explained variance, with 95% bootstrap "
               f"intervals ({insight.BOOTSTRAP} resamples) and how often it keeps its rank.")

    if source.linked and all(len(f) >= insight.instruments(source)[s].min_group_size
                             for s, f in insight.frames(source).items()):
        result = insight.linkage(source)
        st.header(f"What moves customers: unit level ({result.n_units} units)")
        outcomes = list(dict.fromkeys(result.drivers["outcome"]))
        outcome = st.selectbox("Customer outcome", outcomes, index=outcomes.index("csat") if "csat" in outcomes else 0,
                               format_func=lambda o: labels.get(o, o), key="drivers:unit")
        table = result.drivers[result.drivers["outcome"] == outcome]
        chart = insight.figure(source, f"unit_drivers:{outcome}", "driver_importance", table,
                               outcome=labels.get(outcome, outcome), labels=labels)
        st.plotly_chart(chart, key="unit_drivers")

    side = insight.side_choice(source, "Within which survey")
    if insight.enough(source, side):
        found = insight.drivers(source, side)
        if not found:
            st.info("This instrument marks no constructs as drivers and outcomes (role: driver / outcome).")
        else:
            outcome = st.selectbox("Outcome", list(found), format_func=lambda o: labels.get(o, o),
                                   key="drivers:outcome")
            entry = found[outcome]
            result = entry["result"]
            chart = insight.figure(source, f"drivers:{side}:{outcome}", "driver_importance", result.table,
                                   outcome=labels.get(outcome, outcome), r2=result.r2, labels=labels)
            st.plotly_chart(chart, key="drivers")
            chart = insight.figure(source, f"quadrant:{side}:{outcome}", "importance_performance", entry["quadrant"],
                                   labels=labels, performance_label="Performance (mean score)")
            st.plotly_chart(chart, key="quadrant")
            first = entry["quadrant"][entry["quadrant"]["quadrant"] == "concentrate here"]
            if len(first):
                st.success("Fix first (important, performing below the median): " +
                           ", ".join(labels.get(d, d) for d in first["driver"]))
            st.dataframe(result.ranked(), hide_index=True, width="stretch")
