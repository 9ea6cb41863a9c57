"""Staff page: responses by unit, the safe downloads, and for admins the raw file with its audit trail.

Thin: counts come from :func:`services.insight.responses_by_unit` and files from
:mod:`services.exports`, both through the disclosure policy. Units that may not be shown
say "fewer than k" or "hidden", never the count. Every signed-in role that may download
(``safe_export``) gets the safe export; only an admin (``raw_export``) sees the raw file,
and each raw download is recorded (who, when, which campaign).
"""

from __future__ import annotations

import streamlit as st

from services import exports as safe
from services.insight import responses_by_unit
from services.selection import select
from services.sources import campaign_dataset
from surveys import audit, auth, campaigns, exports
from views import signin
from views.errors import shown_errors
from views.gateway import current_store

#: This page checks the role itself (``app.py`` registers it for analysts too).
CHECKS_ROLES = True

_FILES = (("csv", "CSV", "text/csv"),
          ("xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
          ("sav", "SPSS .sav", "application/octet-stream"))


def render() -> None:
    """The responses page, inside an error boundary."""
    st.title("Responses")
    with shown_errors("responses"):
        signin.require("safe_export")
        _render()


def _render() -> None:
    store = current_store()
    listing = campaigns.list_campaigns(store)
    if listing.empty:
        st.info("No campaigns yet: create one on the Campaigns page.")
        return
    campaign_id = st.selectbox("Campaign", listing["campaign"].tolist(), key="staff:responses_campaign")
    (view,) = select(campaign_dataset(store, [campaign_id])).values()
    st.info(f"**Data:** campaign {campaign_id} ({view.instrument.id} {view.instrument.version}); "
            f"minimum group size {view.k}, comments from groups of {view.data.min_comment_group_size}.",
            icon=":material/database:")
    st.subheader("Responses by unit")
    table = responses_by_unit(view)
    st.dataframe(
        table[["unit", "label", "shown", "invited", "response_rate"]].rename(columns={"shown": "responses"}),
        hide_index=True,
        column_config={"response_rate": st.column_config.ProgressColumn("response rate", format="percent",
                                                                        min_value=0, max_value=1)})
    if view.note:
        st.caption(view.note)

    st.subheader("Downloads")
    st.caption("The safe export: one row per response, in groups of at least "
               f"{view.k} that no column combination can split (small units become \"other units\", "
               "demographics are coarsened where a group would be smaller, no submission time, comments only from "
               f"groups of at least {view.data.min_comment_group_size}). No token or invitation is ever stored "
               "with a response.")
    cols = st.columns(4)
    for col, (fmt, label, mime) in zip(cols, _FILES, strict=False):
        col.download_button(label, data=lambda fmt=fmt: safe.safe_export_bytes(store, campaign_id, fmt),
                            file_name=f"{campaign_id}.{fmt}", mime=mime, key=f"staff:download:{fmt}",
                            on_click="ignore", disabled=view.empty)
    cols[3].download_button(
        "Data dictionary (CSV)", data=lambda: exports.frame_to_csv(exports.data_dictionary(store, campaign_id)),
        file_name=f"{campaign_id}-dictionary.csv", mime="text/csv", key="staff:download:dictionary",
        on_click="ignore")
    if auth.allowed(signin.current_role(), "raw_export"):
        _raw(store, campaign_id)


def _raw(store: object, campaign_id: str) -> None:
    st.subheader("Raw file (admins only, recorded)")
    st.caption("Every stored row as answered, including small units, exact demographics, the hour of each "
               "submission and every comment. Each download is written to the audit log below with your "
               "identity. Handle it as personal data.")
    role, actor = signin.current_role(), signin.current_identity()
    cols = st.columns(3)
    for col, (fmt, label, mime) in zip(cols, _FILES, strict=True):
        col.download_button(f"Raw {label}", key=f"staff:raw:{fmt}", mime=mime, file_name=f"{campaign_id}-raw.{fmt}",
                            data=lambda fmt=fmt: safe.raw_export_bytes(store, campaign_id, fmt, actor=actor,
                                                                       role=role),
                            on_click="ignore")
    with st.expander("Audit log of raw downloads"):
        st.dataframe(audit.export_log(store, campaign_id), hide_index=True, width="stretch")
