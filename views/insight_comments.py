"""Insight page: open answers, searchable, only from groups at or above the comment threshold.

Thin: :func:`services.insight.comments` keeps only whole groups of at least the
instrument's ``min_comment_group_size`` respondents (higher than the threshold for
numbers) and names a unit only where that is safe.
"""

from __future__ import annotations

import streamlit as st

from views import insight
from views.errors import shown_errors

st.title("Comments")
with shown_errors("comments"):
    ctx = insight.context()
    side = insight.side_choice(ctx)
    view = ctx.views[side]
    kc = view.min_comment_group_size
    if not insight.has_comments(ctx, side):
        st.warning(f"No comments can be shown for this choice: open answers are shown only from groups of at least "
                   f"{kc} respondents that no other choice or total could single out. Widen the filters.")
    else:
        search = st.text_input("Search the comments", key="comments:search", placeholder="e.g. wait, staff, price")
        table = insight.comments(ctx, side, search)
        st.caption(f"{len(table)} comments{' matching' if search else ''}, sorted by unit and text. Only groups of "
                   f"at least {kc} respondents are included, and a unit is named only where that is safe "
                   "(otherwise: \"other units\"), to protect anonymity.")
        st.dataframe(table, hide_index=True, width="stretch")
