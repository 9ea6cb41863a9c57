"""Staff page: responses and response rates by unit, and the downloads.

Thin: rates come from ``surveys.campaigns``, files from ``surveys.exports``. Units
with fewer responses than the campaign's minimum group size show "fewer than k", never
the count. Only registered in the navigation of a signed-in staff session.
"""

from __future__ import annotations

import streamlit as st

from surveys import campaigns, exports
from views.errors import shown_errors
from views.gateway import current_store


def render() -> None:
    """The responses page, inside an error boundary."""
    st.title("Responses")
    with shown_errors("responses"):
        _render()


def _render() -> None:
    listing = campaigns.list_campaigns(current_store())
    if listing.empty:
        st.info("No campaigns yet: create one on the Campaigns page.")
        return
    campaign_id = st.selectbox("Campaign", listing["campaign"].tolist(), key="staff:responses_campaign")
    rates = campaigns.response_rates(current_store(), campaign_id)
    k = int(listing.loc[listing["campaign"] == campaign_id, "min_group_size"].iloc[0])
    st.subheader("Response rates by unit")
    st.dataframe(
        rates, hide_index=True,
        column_config={
            "response_rate": st.column_config.ProgressColumn("response rate", format="percent", min_value=0, max_value=1),
            "suppressed": st.column_config.CheckboxColumn(f"fewer than {k}"),
        },
    )
    st.subheader("Downloads")
    st.caption("One row per response; no token or invitation is stored with a response.")
    cols = st.columns(4)
    for col, fmt, label, mime in (
        (cols[0], "csv", "CSV", "text/csv"),
        (cols[1], "xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (cols[2], "sav", "SPSS .sav", "application/octet-stream"),
    ):
        col.download_button(
            label, data=lambda fmt=fmt: exports.export_bytes(current_store(), campaign_id, fmt),
            file_name=f"{campaign_id}.{fmt}", mime=mime, key=f"staff:download:{fmt}", on_click="ignore",
        )
    cols[3].download_button(
        "Data dictionary (CSV)", data=lambda: exports.frame_to_csv(exports.data_dictionary(current_store(), campaign_id)),
        file_name=f"{campaign_id}-dictionary.csv", mime="text/csv", key="staff:download:dictionary", on_click="ignore",
    )
