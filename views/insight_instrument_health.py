"""Insight page: instrument health: reliability and item analysis, scree with parallel
analysis, CFA fit and loadings, HTMT, and the flags with what to consider.

Thin: :func:`services.insight.instrument_health` and
:func:`services.insight.parallel_analysis` (cached in :mod:`views.insight`), on the
responses the disclosure policy lets the selection describe; charts from
:mod:`reports.charts`.
"""

from __future__ import annotations

import streamlit as st

from views import insight
from views.errors import shown_errors

st.title("Instrument health")
with shown_errors("instrument health"):
    ctx = insight.context()
    side = insight.side_choice(ctx)
    view = ctx.views[side]
    instrument = view.instrument
    st.caption(f"{instrument.text(instrument.title)} ({instrument.id} {instrument.version}); {view.n} responses.")
    if insight.shown(view):
        report = insight.health(ctx, side)
        labels = insight.labels(ctx)
        fm = report.fit_measures
        st.subheader("Flags and what to consider")
        if len(report.flags):
            st.dataframe(report.flags, hide_index=True, width="stretch",
                         column_config={"value": st.column_config.NumberColumn(format="%.3f"),
                                        "threshold": st.column_config.NumberColumn(format="%.2f")})
        else:
            st.success("No flags: every scale passed every check.")
        st.subheader("Confirmatory factor analysis: model fit")
        if fm:
            cols = st.columns(5)
            for col, (name, label) in zip(cols, (("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("srmr", "SRMR"),
                                                 ("chisq", "chi²")), strict=True):
                value = fm.get(name)
                col.metric(label, "n/a" if value is None else f"{value:.3f}")
            st.caption(f"df = {fm.get('df', float('nan')):.0f}, N = {report.cfa.nobs if report.cfa else 'n/a'}. "
                       "Acceptable: CFI ≥ .90, RMSEA ≤ .08, SRMR ≤ .08 (Hu & Bentler 1999).")
        else:
            st.warning("The CFA could not be fitted (see the flags).")
        st.subheader("Reliability per scale")
        constructs = report.constructs.reset_index()
        constructs.insert(1, "label", [labels.get(c, c) for c in constructs["construct"]])
        st.dataframe(constructs, hide_index=True, width="stretch")
        st.subheader("Item analysis")
        st.dataframe(report.items.reset_index(), hide_index=True, width="stretch")
        st.subheader("How many factors? Scree with parallel analysis")
        pa = insight.parallel(ctx, side)
        chart = insight.figure(ctx, f"scree:{side}", "scree", pa.scree, n_factors=pa.n_factors, quantile=pa.quantile)
        st.plotly_chart(chart, key="scree")
        st.caption(f"The instrument defines {len(instrument.constructs)} constructs; parallel analysis suggests "
                   f"{pa.n_factors} factors beat random data (Horn 1965).")
        if report.cfa is not None:
            est = report.cfa.estimates
            loads = est[est["op"] == "=~"].pivot_table(index="rhs", columns="lhs", values="std_all", sort=False)
            st.plotly_chart(insight.figure(ctx, f"cfa:{side}", "loadings_heatmap", loads,
                                           title="CFA standardized loadings (items on their constructs)",
                                           labels=labels), key="cfa_loadings")
        if report.efa is not None:
            st.plotly_chart(insight.figure(ctx, f"efa:{side}", "loadings_heatmap", report.efa.loadings,
                                           title="EFA pattern loadings (oblimin): cross-loadings show up off the "
                                                 "diagonal blocks"), key="efa_loadings")
        if len(report.htmt):
            chart = insight.figure(ctx, f"htmt:{side}", "htmt_heatmap", report.htmt,
                                   threshold=report.thresholds.htmt, labels=labels)
            st.plotly_chart(chart, key="htmt")
