"""Insight page: compare groups (units, waves, demographic groups) on every construct and metric item.

Thin: :func:`services.insight.compare` (Welch's and the one-way ANOVA, Games-Howell,
Hedges' g of each group against the rest, Holm or Benjamini-Hochberg across the cells
shown, from :mod:`analysis.compare`) through the disclosure policy; the heatmap from
:func:`reports.charts.group_differences_heatmap`. Groups the policy may not show are
named as hidden, never with a number.
"""

from __future__ import annotations

import streamlit as st

from services import insight as results
from services.selection import HIDDEN_LABEL, PARTIAL_LABEL
from views import insight
from views.errors import shown_errors

ADJUSTMENTS = {"holm": "Holm (family-wise error)", "fdr_bh": "Benjamini-Hochberg (false discovery rate)"}
SHOW = {"hedges_g": "Hedges' g against the rest", "mean": "Group means"}

st.title("Compare groups")
with shown_errors("compare"):
    ctx = insight.context()
    side = insight.side_choice(ctx)
    view = ctx.views[side]
    if insight.shown(view):
        options = insight.compare_options(ctx, side)
        left, middle, right = st.columns(3)
        by = left.selectbox("Compare the groups of", list(options), format_func=options.get, key="compare:by")
        adjust = middle.selectbox("Adjust the p-values for many comparisons with", list(ADJUSTMENTS),
                                  format_func=ADJUSTMENTS.get, key="compare:adjust")
        show = right.radio("Cells show", list(SHOW), format_func=SHOW.get, key="compare:show", horizontal=True)
        found = insight.memo(ctx, "compare", lambda: results.compare(view, by=by, adjust=adjust), side, by, adjust)
        st.caption(f"Each group's mean against the other groups shown (Welch's t), as Hedges' g: 0.2 is a small, "
                   f"0.5 a medium difference. * marks a difference significant at {found.alpha:g} after "
                   f"adjusting over all {len(found.cells)} cells ({ADJUSTMENTS[adjust]}).")
        if found.hidden:
            st.caption("Not shown, " + HIDDEN_LABEL + ": " + ", ".join(found.hidden) + ". Their responses "
                       "are in no cell and in no group's 'rest'.")
        if (found.groups["status"] == "partial").any():
            st.caption("Groups marked (part): " + PARTIAL_LABEL + ".")
        if len(found.cells):
            chart = insight.figure(ctx, f"compare:{side}:{by}:{adjust}:{show}", "group_differences_heatmap",
                                   found.cells, show=show, group_label=options[by], alpha=found.alpha)
            st.plotly_chart(chart, key="compare:heatmap")
            st.subheader("Do the groups differ at all?")
            st.dataframe(found.tests.drop(columns=["measure", "kind"]), hide_index=True, width="stretch")
            st.subheader("Each group against the rest")
            st.dataframe(found.cells.drop(columns=["measure", "kind"]), hide_index=True, width="stretch")
            with st.expander("Every pair of groups (Games-Howell)"):
                if found.pairs_note:
                    st.caption(found.pairs_note)
                else:
                    st.dataframe(found.pairwise.drop(columns=["measure"]), hide_index=True, width="stretch")
        else:
            st.info(f"Nothing to compare by {options[by].lower()}: fewer than two of its groups may be shown.")
        for _, row in found.skipped.iterrows():
            st.caption(f"{row['label']}: not compared ({row['reason']})")
