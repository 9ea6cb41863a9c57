"""Helpers of the app tests: seed campaigns in a store, drive ``app.py`` with AppTest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from surveys import campaigns, responses
from surveys.loader import load_instrument
from surveys.store import open_store

ROOT = Path(__file__).resolve().parent.parent
ALL_TYPES = ROOT / "tests" / "app_fixtures" / "all_types.yaml"


def seed_campaign(db_url: str, instrument_path: Path, *, campaign_id: str, mode: str = "invited",
                  open_now: bool = True, opens_at: dt.datetime | None = None) -> campaigns.Campaign:
    """Create (and by default open) a campaign of the instrument in the database at ``db_url``."""
    store = open_store(db_url)
    try:
        created = campaigns.create_campaign(store, load_instrument(instrument_path), campaign_id=campaign_id,
                                            mode=mode, opens_at=opens_at)
        if open_now:
            created = campaigns.open_campaign(store, campaign_id)
        return created
    finally:
        store.dispose()


def invite(db_url: str, campaign_id: str, *, unit: str, count: int) -> list[str]:
    """Fresh invitation tokens for ``unit``."""
    store = open_store(db_url)
    try:
        return campaigns.invite(store, campaign_id, unit=unit, count=count)
    finally:
        store.dispose()


def seed_invited_campaign(db_url: str, instrument_path: Path, *, count: int,
                          campaign_id: str = "e2e") -> tuple[str, list[str]]:
    """An open invited campaign with ``count`` tokens for the instrument's first unit."""
    campaign = seed_campaign(db_url, instrument_path, campaign_id=campaign_id)
    return campaign.id, invite(db_url, campaign.id, unit=campaign.instrument.units[0].id, count=count)


def responses_of(db_url: str, campaign_id: str) -> pd.DataFrame:
    """The stored responses of a campaign as the wide frame."""
    store = open_store(db_url)
    try:
        return responses.responses_frame(store, campaign_id)
    finally:
        store.dispose()


def close(db_url: str, campaign_id: str) -> None:
    """Close a campaign."""
    store = open_store(db_url)
    try:
        campaigns.close_campaign(store, campaign_id)
    finally:
        store.dispose()


def app(**query: str) -> AppTest:
    """``app.py`` run once with these query parameters."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def texts(at: AppTest) -> str:
    """Everything the page shows as text (markdown, titles, messages, widget labels), joined."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for kind in ("radio", "selectbox", "multiselect", "number_input", "text_input", "text_area", "date_input",
                 "checkbox", "button"):
        parts += [str(e.label) for e in getattr(at, kind)]
    return "\n".join(parts)


def goto(at: AppTest, url_path: str) -> AppTest:
    """Switch a signed-in AppTest to the staff page registered under ``url_path`` and run it.

    ``AppTest.switch_page`` only knows file pages; ``st.Page(callable, url_path=...)``
    registers its page under the hash of its url path, which is what this sets.
    """
    from streamlit.util import calc_hash

    at._page_hash = calc_hash(url_path)
    return at.run()
