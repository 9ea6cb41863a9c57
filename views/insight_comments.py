"""Insight page: open answers, searchable, only from groups at or above the minimum size.

Thin: :func:`reports.insight.comments` drops units with fewer respondents than the
instrument's ``min_group_size`` (and does not say how many they have).
"""

from __future__ import annotations

import streamlit as st

from reports.insight import comments
from views import insight
from views.errors import shown_errors

st.title("Comments")
with shown_errors("comments"):
    source = insight.source()
    insight.report_button(source)
    side = insight.side_choice(source)
    instrument = insight.instruments(source)[side]
    if insight.enough(source, side):
        search = st.text_input("Search the comments", key="comments:search", placeholder="e.g. wait, staff, price")
        table = comments(insight.frames(source)[side], instrument, search=search)
        st.caption(f"{len(table)} comments{' matching' if search else ''}. Only units with at least "
                   f"{instrument.min_group_size} respondents are included, to protect anonymity.")
        st.dataframe(table, hide_index=True, width="stretch")
