"""Staff page: browse the organisation in force (and earlier versions) and upload a new version.

Thin: the file is checked by ``surveys.organisation`` (every problem at once, with its line
and rule, as ``tandem org validate`` prints them) and stored by
``surveys.org_store.import_organisation`` (versioned by the day it is in force from;
importing the same content again changes nothing), exactly as ``tandem org import`` does.
Only registered in the navigation of an admin session (``app.py``), and the page checks
the role itself too (``signin.require("manage_organisation")``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from surveys import org_store
from surveys.organisation import Organisation, OrganisationError, organisation_from_bytes
from views import signin
from views.errors import shown_errors
from views.gateway import current_store
from views.staff_campaigns import problems_frame


def render() -> None:
    """The organisation page, inside an error boundary; admins only."""
    signin.require("manage_organisation")
    st.title("Organisation")
    with shown_errors("organisation"):
        listing = st.container()  # filled after the upload ran, so a new version is listed at once
        st.divider()
        _upload()
        with listing:
            _versions()


def units_frame(org: Organisation) -> pd.DataFrame:
    """The units in tree order: id (indented by depth), name, level, parent, managers, and
    how many units of the lowest level each holds."""
    lowest, below = org.levels[-1], org.lowest_below()
    rows = []
    for unit_id in org.subtree(org.root):
        unit = org.unit(unit_id)
        rows.append({"unit": "\u2003" * org.depth(unit_id) + unit.id, "name": unit.name, "level": unit.level,
                     "parent": unit.parent or "", f"{lowest} units": below[unit_id],
                     "managers": ", ".join(unit.managers)})
    return pd.DataFrame(rows)


def _versions() -> None:
    store = current_store()
    versions = org_store.list_versions(store)
    if not versions:
        st.info("No organisation yet. Upload the HRIS file below (or run `tandem org import org.csv --as-of DAY`); "
                "campaigns then take their units from it.")
        return
    today = dt.datetime.now(dt.UTC).date()
    in_force = org_store.version_at(store, today)
    st.dataframe(pd.DataFrame([{"version": v.id, "in force from": v.as_of, "units": v.units, "file": v.source,
                                "imported": v.created_at, "now": "in force" if in_force and v.id == in_force.id
                                else ""} for v in versions]), hide_index=True)
    ids = [v.id for v in versions]
    default = ids.index(in_force.id) if in_force is not None else len(ids) - 1
    chosen = st.selectbox("Show version", ids, index=default, key="org:version",
                          format_func=lambda i: next(f"{v.id} (from {v.as_of})" for v in versions if v.id == i))
    org = org_store.org_version(store, chosen)
    st.caption(f"{len(org)} units; levels {' > '.join(org.levels)}.")
    st.dataframe(units_frame(org), hide_index=True)


def _upload() -> None:
    st.subheader("Upload a new version")
    st.caption("CSV with `unit_id,name,parent_id,level` and optionally `managers` (e-mails separated by `;`) and "
               "attribute columns. It is checked in full first: nothing is stored unless every row is right.")
    with st.form("org:upload", clear_on_submit=False):
        upload = st.file_uploader("Organisation CSV", type=["csv"], key="org:file")
        as_of = st.date_input("In force from", value=dt.datetime.now(dt.UTC).date(), key="org:as_of")
        sent = st.form_submit_button("Check and import")
    if not sent:
        return
    if upload is None:
        st.warning("Choose the organisation's CSV file first.")
        return
    try:
        org = organisation_from_bytes(upload.getvalue(), source=upload.name)
    except OrganisationError as exc:
        st.error(f"{upload.name} was not imported: {len(exc.problems)} problem(s). Fix them and upload again.")
        st.dataframe(problems_frame(exc), hide_index=True)
        return
    result = org_store.import_organisation(current_store(), org, as_of=as_of, source=upload.name)
    version = result.version
    if result.new:
        st.success(f"Imported version {version.id}, in force from {version.as_of}: {len(org)} units.")
    else:
        st.info(f"Unchanged: version {version.id} (in force from {version.as_of}) has the same content.")
