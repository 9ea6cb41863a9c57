"""Insight page: the service-profit chain across units: aggregation verdicts, unit scatter
plots and the path diagram with standardized coefficients.

Thin: :func:`services.insight.linkage` (cached in :mod:`views.insight`) with the study
that fits the chosen instruments (:func:`services.studies.study_for`), charts from
:mod:`reports.charts`, the diagram from :mod:`reports.diagram`. Only units with at least
the study's minimum respondents on both sides, and that the disclosure policy lets be
shown on their own, appear.
"""

from __future__ import annotations

import streamlit as st

from reports.diagram import path_diagram
from reports.html import format_count, format_p
from reports.text import linkage_interval, linkage_model_text
from views import insight
from views.errors import shown_errors

st.title("Linkage")
with shown_errors("linkage"):
    ctx = insight.context()
    choice = ctx.dataset.study
    if not ctx.linked:
        st.info(choice.reason + " Choose the demo data, or one employee and one customer campaign.")
        st.stop()
    if not all(insight.shown(view) for view in ctx.views.values()):
        st.stop()
    result = insight.linkage(ctx)
    spec = choice.study
    labels = insight.labels(ctx)
    st.caption(f"Study: {choice.reason}.")
    st.caption(f"{result.n_units} units with at least {result.min_employees} employee and {result.min_customers} "
               f"customer responses; {len(result.dropped)} units left out and not shown.")

    st.subheader("Is aggregating to units justified?")
    verdicts = result.aggregation[["side", "construct", "icc1", "icc2", "rwg_j_mean", "ad_m_mean", "verdict",
                                   "reason"]]
    st.dataframe(verdicts, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("icc1", "icc2", "rwg_j_mean", "ad_m_mean")})

    st.subheader("The chain: standardized unit-level paths")
    st.graphviz_chart(path_diagram(result.paths, r2=result.r2, side=spec.side, labels=labels))
    st.caption("Solid, thick arrows: supported (p < .05, marked *); dashed: not supported. R² in each box. "
               f"Intervals: {linkage_interval(result)}s.")
    st.info(linkage_model_text(result))
    fm = result.fit_measures
    shown = {"chisq": f"{fm.get('chisq', float('nan')):.3f}", "df": format_count(fm.get("df")),
             "p": format_p(fm.get("pvalue")), **{k: f"{fm[k]:.3f}" for k in ("cfi", "rmsea", "srmr") if k in fm}}
    st.caption("Fit: " + ", ".join(f"{k} = {v}" for k, v in shown.items()))
    with st.expander("Paths and indirect effects (tables)"):
        st.dataframe(result.paths, hide_index=True, width="stretch")
        st.dataframe(result.indirect, hide_index=True, width="stretch")

    st.subheader("Units: employee construct against customer outcome")
    employee_nodes = [n for n in spec.nodes if spec.side(n) == "employee"]
    customer_nodes = [n for n in spec.nodes if spec.side(n) == "customer"]
    left, right = st.columns(2)
    x = left.selectbox("Employee construct", employee_nodes, format_func=lambda n: labels.get(n, n), key="linkage:x")
    y = right.selectbox("Customer outcome", customer_nodes, format_func=lambda n: labels.get(n, n), key="linkage:y")
    chart = insight.figure(ctx, f"scatter:{x}:{y}", "unit_scatter", result.units, x=x, y=y, size="n_employees",
                           min_size=result.min_employees, x_label=labels.get(x, x), y_label=labels.get(y, y))
    st.plotly_chart(chart, key="scatter")
    for warning in result.warnings:
        st.warning(warning)
