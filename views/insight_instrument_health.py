"""Insight page: instrument health: reliability and item analysis, scree with parallel
analysis, CFA fit and loadings, HTMT, measurement invariance across languages and waves,
and the flags with what to consider.

Thin: :func:`services.insight.instrument_health`,
:func:`services.insight.parallel_analysis` (cached in :mod:`views.insight`) and
:func:`services.invariance.health_invariance`, on the responses the disclosure policy lets
the selection describe; charts from :mod:`reports.charts`.
"""

from __future__ import annotations

import math

import streamlit as st

from reports.html import flag_rows, format_count, format_p
from services.invariance import HEADINGS, health_invariance
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
        st.info(report.primary_sentence)
        st.subheader("Flags and what to consider")
        if len(report.flags):
            # A list, not a table: every message is shown in full (a table cell cuts it off), and
            # value and threshold carry enough decimals to differ visibly (0.498 against 0.500).
            # A note without a value (which numbers are primary) is shown as its message alone.
            for flag in flag_rows(report.flags).itertuples(index=False):
                figures = (f": {flag.statistic} = {flag.value} (threshold {flag.threshold})." if flag.value
                           else ":")
                st.markdown(f"- **{flag.level} {flag.target}**{figures} {flag.message}")
        else:
            st.success("No flags: every scale passed every check.")
        st.subheader("Confirmatory factor analysis: model fit")
        if len(report.fit):
            primary = report.fit.iloc[0]
            cols = st.columns(5)
            for col, (name, label) in zip(cols, (("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("srmr", "SRMR"),
                                                 ("chisq", "chi²")), strict=True):
                value = primary[name]
                col.metric(label, f"{value:.3f}" if math.isfinite(float(value)) else "n/a")
            p_chisq = format_p(primary["pvalue"])
            which = {"robust": "robust CFI, TLI and RMSEA (Savalei 2021) and the scaled chi²",
                     "scaled": "scaled CFI, TLI, RMSEA and chi² (the robust ones are not defined here)"}
            st.caption(f"{primary['method']}: df = {format_count(primary['df'])}"
                       + (f", p {p_chisq if p_chisq.startswith('<') else '= ' + p_chisq}" if p_chisq else "")
                       + f", N = {format_count(primary['nobs'])}"
                       + (f"; {which[primary['indices']]}" if primary["indices"] in which else "")
                       + ". Acceptable: CFI ≥ .90, RMSEA ≤ .08, SRMR ≤ .08 (Hu & Bentler 1999).")
            if len(report.fit) > 1:
                st.dataframe(report.fit, hide_index=True, width="stretch")
        else:
            st.warning("The CFA could not be fitted (see the flags).")
        st.subheader("Same meaning across languages and waves")
        with st.spinner("Comparing the measurement model across languages and waves ..."):
            invariance = insight.memo(ctx, "invariance", lambda: health_invariance(view), side)
        for by, found in invariance.items():
            st.markdown(f"**{HEADINGS[by]}**")
            for sentence in found.sentences:
                st.markdown(f"- {sentence}")
            if found.fitted:
                with st.expander(f"Invariance by {by}: models and latent mean differences"):
                    st.dataframe(found.levels, hide_index=True, width="stretch")
                    st.dataframe(found.table, hide_index=True, width="stretch")
                    if len(found.latent):
                        st.dataframe(found.latent, hide_index=True, width="stretch")
        st.caption("Each construct's one-factor CFA across the groups: configural, equal loadings (metric), equal "
                   "loadings and intercepts (scalar); a step holds when CFI drops by at most .01 (Chen 2007). "
                   "Otherwise the constraint with the largest score test is released, one at a time, keeping two "
                   "invariant items per construct (Byrne, Shavelson & Muthén 1989). Ordinal items (WLSMV) tie "
                   "thresholds at the scalar step, are judged by the scaled CFI and are not searched. Latent means "
                   "are differences from the reference group.")
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
                                           title=f"CFA standardized loadings, {report.fit['method'].iloc[0]} "
                                                 "(items on their constructs)",
                                           labels=labels), key="cfa_loadings")
        if report.efa is not None:
            st.plotly_chart(insight.figure(ctx, f"efa:{side}", "loadings_heatmap", report.efa.loadings,
                                           title="EFA pattern loadings (oblimin): an item loading on more "
                                                 "than one factor is a cross-loading"), key="efa_loadings")
            st.caption("Factors of an exploratory analysis have no names and come in no set order, so they need not "
                       "line up with the constructs; read each item's row: one large loading is clean, a second "
                       "one above about .30 is a cross-loading.")
        if len(report.htmt):
            chart = insight.figure(ctx, f"htmt:{side}", "htmt_heatmap", report.htmt,
                                   threshold=report.thresholds.htmt, labels=labels)
            st.plotly_chart(chart, key="htmt")
            st.caption("HTMT is defined on absolute correlations (Henseler, Ringle & Sarstedt 2015), so it is "
                       "shown as an absolute value: a negative correlation between two constructs shows as its "
                       "size. Above the threshold (marked !) the two constructs may not be distinct.")
