"""What the respondent page needs from the campaign services, in one place.

:func:`open_link` turns a link's ``c`` / ``t`` parameters into a :class:`Link`: the
campaign's instrument, the invitation's unit, this respondent's seed key, saved
progress, and the two writes a respondent makes (save progress, submit). Every
refusal a respondent can cause becomes a :class:`RespondentStop` with a message kind
of ``surveys.form.UI_TEXT``, so the page shows a plain sentence.

The store is opened once per app process (``st.cache_resource``) from
``TANDEM_DATABASE_URL`` (SQLite file ``data/tandem.db`` by default); nothing a
respondent needs lives in process memory beyond one browser session, so any number of
app processes can serve one campaign from one PostgreSQL database.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from surveys import answers, campaigns, store
from surveys.instrument import Instrument


class RespondentStop(Exception):
    """A link that cannot be answered; ``kind`` names the message (``closed``, ``token_used`` ...)."""

    def __init__(self, kind: str, language: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.language = language


@st.cache_resource(show_spinner=False)
def _store(url: str | None) -> store.Store:
    return store.open_store(url)


def current_store() -> store.Store:
    """This process's store for ``TANDEM_DATABASE_URL`` (created and migrated on first use)."""
    return _store(os.environ.get("TANDEM_DATABASE_URL") or None)


@dataclass
class Link:
    """One respondent link, checked: campaign open, invitation (if any) unused.

    ``key`` is what partial progress is kept under: the invitation token, or for an open
    link a random session key of this browser session (``surveys.campaigns`` stores only
    its sha256). ``seed_key`` (the key's hash) seeds the respondent's question order.
    """

    campaign_id: str
    instrument: Instrument
    key: str
    token: str | None
    unit: str | None

    @property
    def seed_key(self) -> str:
        """The hash of the progress key: stable per respondent, never the token itself."""
        return campaigns.hash_token(self.key)

    def saved_progress(self) -> dict[str, Any] | None:
        """Progress saved under this link's key by any app process, or ``None``."""
        return campaigns.load_progress(current_store(), self.campaign_id, self.key)

    def save_progress(self, progress: Mapping[str, Any], *, page: int) -> None:
        """Keep partial progress under this link's key (in the database)."""
        campaigns.save_progress(current_store(), self.campaign_id, self.key, dict(progress), page=page)

    def submit(self, given: Mapping[str, Any], *, language: str, started_at: str | None) -> dict[str, str]:
        """Store the response; returns problems by answer key when the server refuses answers."""
        started = dt.datetime.fromisoformat(started_at) if started_at else None
        try:
            campaigns.submit(
                current_store(), self.campaign_id, dict(given), token=self.token, language=language,
                started_at=started, session=None if self.token else self.key,
            )
        except answers.AnswerError as exc:
            return exc.as_dict()
        except campaigns.TokenUsed:
            raise RespondentStop("token_used", language) from None
        except campaigns.TokenUnknown:
            raise RespondentStop("token_unknown", language) from None
        except campaigns.CampaignClosed:
            raise RespondentStop("closed", language) from None
        return {}


#: Message kind (``surveys.form.UI_TEXT``) for each refusing state of ``campaigns.resolve_link``.
STOP_MESSAGES = {
    "unknown_campaign": "unknown_campaign",
    "draft": "not_open",
    "not_open": "not_open",
    "closed": "closed",
    "token_needed": "token_needed",
    "token_unknown": "token_unknown",
    "token_used": "token_used",
}


def open_link(campaign_id: str, token: str | None, *, session_key: str) -> Link:
    """Check a link and return what the page needs, or raise :class:`RespondentStop`.

    ``session_key`` is this browser session's random key, used for open links.
    """
    resolved = campaigns.resolve_link(current_store(), campaign_id, token)
    if not resolved.ok:
        language = resolved.campaign.instrument.default_language if resolved.campaign else None
        raise RespondentStop(STOP_MESSAGES.get(resolved.state, "unknown_campaign"), language)
    campaign = resolved.campaign
    unit = resolved.invitation.unit if resolved.invitation else None
    return Link(campaign.id, campaign.instrument, token or session_key, token, unit)
