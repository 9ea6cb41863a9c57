"""Staff page: create campaigns, open and close them, and generate invitation links.

Thin: instruments are loaded and validated by ``surveys.instrument``; campaigns and
invitations are created by ``surveys.campaigns``. Only registered in the navigation
of a signed-in admin session (``app.py``), and the page checks the role itself too
(``signin.require("manage_campaigns")``), so running it any other way stops at once.

Invitation links: the tokens are made when the form is sent and live only in this
session's memory, inside the download button's callable (``data=`` callable: nothing
is written to Streamlit's media store until the button is clicked). The CSV made by a
click sits in the media store under an unguessable URL (a hash of its content) for
:data:`DOWNLOAD_LIFETIME_SECONDS`, long enough for the browser to fetch it; then
Tandem deletes it, so the URL answers 404 although Streamlit alone would keep it until
later script runs. Links start with ``TANDEM_BASE_URL`` when it is set.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from services.insight import campaign_list
from surveys import auth, campaigns
from surveys.instrument import InstrumentError
from surveys.loader import load_instrument, parse_instrument
from surveys.yamlsource import decode
from views import signin
from views.errors import shown_errors
from views.gateway import current_store

log = logging.getLogger("tandem.app")

INSTRUMENTS_DIR = Path(__file__).resolve().parent.parent / "instruments"


def render() -> None:
    """The campaigns page, inside an error boundary; admins only."""
    signin.require("manage_campaigns")
    st.title("Campaigns")
    with shown_errors("campaigns"):
        _campaign_table()
        st.divider()
        _new_campaign()
        st.divider()
        _invitations()


def problems_frame(error: InstrumentError) -> pd.DataFrame:
    """An instrument's problems as a table (line numbers first), for display."""
    return pd.DataFrame(
        [
            {"line": p.line, "column": p.column, "severity": p.severity, "item": p.item, "rule": p.rule,
             "problem": p.message, "fix": p.fix}
            for p in error.problems
        ]
    )


def _campaign_table() -> None:
    listing = campaigns.list_campaigns(current_store())
    if listing.empty:
        st.info("No campaigns yet. Create one below from a shipped instrument or your own YAML file.")
        return
    st.dataframe(campaign_list(current_store()), hide_index=True)
    ids = list(listing["campaign"])
    chosen = st.selectbox("Campaign", ids, key="staff:campaign_state")
    open_col, close_col, _ = st.columns([1, 1, 4])
    if open_col.button("Open now", key="staff:open"):
        campaigns.open_campaign(current_store(), chosen)
        st.toast(f"Campaign {chosen} is open.")
        st.rerun()
    if close_col.button("Close now", key="staff:close"):
        campaigns.close_campaign(current_store(), chosen)
        st.toast(f"Campaign {chosen} is closed.")
        st.rerun()
    row = listing.loc[listing["campaign"] == chosen].iloc[0]
    if row.get("mode") == "open":
        st.caption("Open link (anyone with it can answer):")
        st.code(f"{_base_url()}?c={chosen}", language=None)


def _new_campaign() -> None:
    st.subheader("New campaign")
    shipped = sorted(INSTRUMENTS_DIR.glob("*.yaml"))
    source = st.radio("Instrument", ["Shipped instrument", "Upload YAML"], horizontal=True, key="staff:source")
    instrument = None
    try:
        if source == "Shipped instrument":
            if not shipped:
                st.info("No instruments are shipped in instruments/.")
                return
            path = st.selectbox("Shipped instrument", shipped, format_func=lambda p: p.name, key="staff:shipped")
            instrument = load_instrument(path)
        else:
            upload = st.file_uploader("Instrument YAML", type=["yaml", "yml"], key="staff:upload")
            if upload is None:
                return
            instrument = parse_instrument(decode(upload.getvalue(), source=upload.name), source=upload.name)
    except InstrumentError as exc:
        errors = sum(p.severity == "error" for p in exc.problems)
        st.error(f"The instrument has {errors} error(s); fix them and upload it again. Nothing was created.")
        st.dataframe(problems_frame(exc), hide_index=True)
        return
    st.caption(f"{instrument.text(instrument.title)} · version {instrument.version} · {instrument.audience} · "
               f"{len(instrument.questions)} questions · languages {', '.join(instrument.languages)}")
    modes = ["invited", "open"]
    if instrument.audience == "employee" and not campaigns.open_employee_links_allowed():
        modes = ["invited"]
        st.caption("Employee surveys are by invitation only: with one open link anyone could pad a small unit "
                   "with made-up answers until its results are shown (TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS=1 "
                   "allows it).")
    with st.form("staff:new_campaign"):
        name = st.text_input("Campaign id (used in links)", value=f"{instrument.id}-{dt.date.today():%Y%m}")
        wave = st.text_input("Wave label", value=f"{dt.date.today():%Y-%m}")
        mode = st.radio("Who may answer", modes, horizontal=True,
                        format_func=lambda m: {"invited": "Invited (one token per person)",
                                               "open": "Anyone with the link"}[m])
        opens = st.date_input("Opens on", value=dt.date.today())
        closes = st.date_input("Closes on", value=dt.date.today() + dt.timedelta(days=21))
        k = st.number_input("Minimum group size shown in results", min_value=3, value=int(instrument.min_group_size),
                            step=1)
        submitted = st.form_submit_button("Create campaign", type="primary")
    if submitted:
        campaigns.create_campaign(
            current_store(), instrument, campaign_id=name.strip(), wave=wave.strip(), mode=mode,
            opens_at=dt.datetime.combine(opens, dt.time.min, tzinfo=dt.UTC),
            closes_at=dt.datetime.combine(closes, dt.time.max, tzinfo=dt.UTC),
            min_group_size=int(k),
        )
        st.success(f"Campaign {name} created.")
        st.rerun()


#: Seconds a generated invitation CSV stays in Streamlit's media store after the click.
DOWNLOAD_LIFETIME_SECONDS = 15.0


def _invitations() -> None:
    st.subheader("Invitations")
    if not auth.allowed(signin.current_role(), "invite"):
        return
    listing = campaigns.list_campaigns(current_store())
    invited = listing.loc[listing["mode"] == "invited", "campaign"].tolist() if not listing.empty else []
    if not invited:
        st.info("Create an invited campaign first.")
        return
    campaign_id = st.selectbox("Campaign", invited, key="staff:invite_campaign")
    campaign = campaigns.get_campaign(current_store(), campaign_id)
    with st.form("staff:invite"):
        units = {u.id: campaign.instrument.text(u.label) for u in campaign.instrument.units}
        unit = (st.selectbox("Unit", list(units), format_func=lambda u: f"{units[u]} ({u})") if units
                else st.text_input("Unit id"))
        count = st.number_input("Number of invitations", min_value=1, max_value=10_000, value=10, step=1)
        submitted = st.form_submit_button("Generate links")
    base = _base_url()
    if not os.environ.get("TANDEM_BASE_URL", "").strip():
        st.caption(f"Links start with {base} (this browser's address). Set TANDEM_BASE_URL to the address "
                   "respondents use.")
    if submitted:
        signin.require("invite")
        tokens = campaigns.invite(current_store(), campaign_id, unit=unit, count=int(count))
        links = [f"{base}?c={campaign_id}&t={t}" for t in tokens]
        frame = pd.DataFrame({"campaign": campaign_id, "unit": unit, "link": links})
        content = frame.to_csv(index=False).encode("utf-8")
        del tokens, links, frame
        st.success(f"{int(count)} invitation links for unit {unit}. Download them now: the tokens are not stored "
                   "and cannot be shown again (the file is generated when you click, for this session only).")
        st.download_button("Download links (CSV for mail merge)", data=_one_download(content),
                           file_name=f"invitations-{campaign_id}-{unit}.csv", mime="text/csv", key="staff:invite_csv",
                           on_click="ignore")


def _one_download(content: bytes):
    """The ``data=`` callable of the invitation download: the CSV, and its removal from the media store soon after."""
    def generate() -> bytes:
        timer = threading.Timer(DOWNLOAD_LIFETIME_SECONDS, _drop_generated_downloads)
        timer.daemon = True
        timer.start()
        return content

    return generate


def _drop_generated_downloads() -> None:
    """Delete downloadable files no session references any more (the CSV just fetched among them).

    Streamlit's media manager deletes such a file on the second clean-up after it is no
    longer shown (clean-ups run when some session's script finishes); a file made by a
    ``data=`` callable is never referenced by a session, so two clean-ups remove it.
    """
    try:
        from streamlit import runtime

        if runtime.exists():
            manager = runtime.get_instance().media_file_mgr
            manager.remove_orphaned_files()
            manager.remove_orphaned_files()
    except Exception:  # never let a clean-up thread crash the server; the file then waits for Streamlit's own
        log.exception("could not remove generated invitation files from the media store")


def _base_url() -> str:
    """The address respondents open: ``TANDEM_BASE_URL`` when set, else this server's URL as the browser sees it."""
    configured = os.environ.get("TANDEM_BASE_URL", "").strip()
    if configured:
        return configured.rstrip("/") + "/"
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    base_path = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}/" + (f"{base_path}/" if base_path else "")
