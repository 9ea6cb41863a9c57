"""The campaign records and errors of :mod:`surveys.campaigns`: what a stored campaign,
an invitation and a respondent link are, and the errors campaign operations raise."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from surveys.errors import TandemError
from surveys.instrument import Instrument, LangText, Unit
from surveys.loader import parse_instrument

__all__ = ["LINK_STATES", "Campaign", "CampaignClosed", "CampaignError", "CampaignNotFound", "Invitation",
           "LinkState", "TokenNeeded", "TokenUnknown", "TokenUsed"]

#: What :func:`surveys.campaigns.resolve_link` can say about a respondent link.
LINK_STATES = ("ok", "unknown_campaign", "draft", "not_open", "closed", "token_needed", "token_unknown", "token_used")


class CampaignError(TandemError):
    """A campaign operation that cannot be done as asked."""


class CampaignNotFound(CampaignError):
    """No campaign with this id."""


class CampaignClosed(CampaignError):
    """The campaign does not take responses now (draft, not yet open, or closed)."""


class TokenNeeded(CampaignError):
    """An invited campaign was answered without a token."""


class TokenUnknown(CampaignError):
    """The token belongs to no invitation of this campaign."""


class TokenUsed(CampaignError):
    """The token has already been used to answer."""


@dataclass(frozen=True)
class Campaign:
    """A campaign as stored; :attr:`instrument` is the exact instrument version it pins.

    ``org_version_id`` and ``org_units`` (``(id, name)`` pairs) are set when the instrument
    lists no units and the campaign took them from the organisation in force when it was
    created; :attr:`instrument` then offers those units.
    """

    id: str
    name: str
    instrument_version_id: int
    instrument_sha256: str
    instrument_yaml: str
    audience: str
    wave: str
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    status: str
    mode: str
    min_group_size: int
    created_at: dt.datetime
    org_version_id: int | None = None
    org_units: tuple[tuple[str, str], ...] = ()

    @property
    def instrument(self) -> Instrument:
        """The pinned instrument (parsed once per process and version), with the campaign's org units."""
        if self.org_units:
            return _with_units(self.instrument_sha256, self.instrument_yaml, self.org_units)
        return _parse(self.instrument_sha256, self.instrument_yaml)

    def to_dict(self) -> dict[str, Any]:
        """The campaign's fields without the YAML text."""
        return {k: v for k, v in self.__dict__.items() if k != "instrument_yaml"}


@dataclass(frozen=True)
class Invitation:
    """An invitation: its unit and status, known by the token's hash only."""

    id: str
    campaign_id: str
    unit: str
    token_hash: str
    status: str


@dataclass(frozen=True)
class LinkState:
    """What a respondent link leads to: ``state`` (one of :data:`LINK_STATES`) and the records."""

    state: str
    campaign: Campaign | None = None
    invitation: Invitation | None = None

    @property
    def ok(self) -> bool:
        """True when the respondent may answer."""
        return self.state == "ok"


@lru_cache(maxsize=64)
def _parse(sha256: str, text: str) -> Instrument:
    return parse_instrument(text, source=f"instrument version {sha256[:12]}")


@lru_cache(maxsize=16)
def _with_units(sha256: str, text: str, units: tuple[tuple[str, str], ...]) -> Instrument:
    """The pinned instrument offering the campaign's units (org names in every language of it)."""
    instrument = _parse(sha256, text)
    if instrument.units:
        return instrument
    return instrument.model_copy(update={"units": tuple(
        Unit(id=unit_id, label=LangText(dict.fromkeys(instrument.languages, name))) for unit_id, name in units)})
