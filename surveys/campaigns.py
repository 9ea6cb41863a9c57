"""Campaign services: what the app, the CLI and the demo do with the store.

Every function takes the :class:`surveys.store.Store` first; writes run in one
transaction each (retried on transient conflicts), so any number of app processes can
share one database. Nothing here keeps state in memory except a cache of parsed
instruments keyed by their sha256.

API overview
------------
Instruments and campaigns
    ``register_instrument(store, instrument) -> int`` (idempotent by sha256; an
    :class:`~surveys.instrument.Instrument` or its YAML text);
    ``create_campaign(store, instrument, *, campaign_id, name=None, wave="1", mode="invited",
    opens_at=None, closes_at=None, min_group_size=None, unit_level=None) -> Campaign`` (status
    ``draft``; an instrument that lists no units takes them from the organisation in force,
    :mod:`surveys.org_store`);
    ``open_campaign(store, campaign_id)``, ``close_campaign(store, campaign_id)`` -> Campaign;
    ``get_campaign(store, campaign_id) -> Campaign`` (``.instrument`` is the pinned version);
    ``list_campaigns(store) -> DataFrame`` (``campaign, name, instrument, version, audience,
    wave, mode, status, state, opens_at, closes_at, min_group_size, invited, responses``);
    ``campaign_status(campaign, *, now=None) -> "draft" | "scheduled" | "open" | "closed"``.
Invitations and links
    ``invite(store, campaign_id, *, unit, count) -> list[str]``: new tokens, returned once
    (only their sha256 is stored); ``check_invitation(store, campaign_id, token) -> Invitation``
    (raises :class:`TokenUnknown`/:class:`TokenUsed`); ``resolve_link(store, campaign_id,
    token=None) -> LinkState`` with ``state`` one of :data:`LINK_STATES`;
    ``new_session_key()`` for the partial progress of an open (token-less) link.
Respondents
    ``save_progress(store, campaign_id, key, progress, *, page=0)`` and
    ``load_progress(store, campaign_id, key) -> dict | None`` (``key`` = the token, or the
    session key of an open link; stored under :func:`progress_key_id`, an HMAC of the
    key, never its sha256, and sealed with AES-256-GCM under a second key derived from
    it); ``purge_progress(store, now=None) -> int`` deletes progress of closed campaigns
    and progress older than ``TANDEM_PROGRESS_RETENTION_DAYS`` (default 30; also run by
    every save and by ``close_campaign``);
    ``submit(store, campaign_id, answers, *, token=None, language=None, started_at=None,
    session=None) -> str`` (the new response id): validates with
    :func:`surveys.answers.validate_answers`, then inserts the response, marks the
    invitation used and deletes the partial progress in ONE transaction. Raises
    :class:`~surveys.answers.AnswerError`, :class:`CampaignClosed` (also not yet open),
    :class:`TokenUsed`, :class:`TokenUnknown`, :class:`TokenNeeded`.
Results
    Counts, rates, the wide frame and imports are in :mod:`surveys.responses`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from surveys import org_store
from surveys import store as db
from surveys.answers import validate_answers
from surveys.campaign_records import (
    LINK_STATES,
    Campaign,
    CampaignClosed,
    CampaignError,
    CampaignNotFound,
    Invitation,
    LinkState,
    TokenNeeded,
    TokenUnknown,
    TokenUsed,
)
from surveys.errors import did_you_mean
from surveys.instrument import Instrument
from surveys.loader import parse_instrument
from surveys.question_types import UNIT_ID
from surveys.schema import campaign_units
from surveys.sealing import open_seal, progress_key_id, seal
from surveys.tokens import hash_token, new_session_key, new_token

__all__ = [
    "LINK_STATES",
    "Campaign",
    "CampaignClosed",
    "CampaignError",
    "CampaignNotFound",
    "Invitation",
    "LinkState",
    "TokenNeeded",
    "TokenUnknown",
    "TokenUsed",
    "campaign_status",
    "check_invitation",
    "close_campaign",
    "create_campaign",
    "get_campaign",
    "hash_token",
    "invite",
    "list_campaigns",
    "load_progress",
    "new_session_key",
    "new_token",
    "open_campaign",
    "open_employee_links_allowed",
    "progress_key_id",
    "progress_retention",
    "purge_progress",
    "register_instrument",
    "resolve_link",
    "save_progress",
    "submit",
]


CAMPAIGN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
#: Largest partial progress kept per respondent (JSON characters).
MAX_PROGRESS = 1_000_000
#: Most invitations issued in one call.
MAX_INVITATIONS = 100_000


def _org_units(store: db.Store, instrument: Instrument, day: dt.date, level: str | None,
               campaign_id: str, mode: str = "invited") -> tuple[int, list[list[str]]] | None:
    """The organisation's units for a new campaign: its leaves, or the units of ``level``.

    An instrument without units needs them from the organisation when its unit question has
    ``source: organisation`` or the campaign is an open link (respondents pick their unit):
    then no organisation in force on ``day`` is refused (:class:`CampaignError`).
    """
    if instrument.units:
        if level is not None:
            raise CampaignError("the instrument lists its own units, so no organisation level applies",
                                where=f"campaign '{campaign_id}'",
                                fix="Leave out the unit level, or remove 'units:' from the instrument.")
        return None
    version = org_store.version_at(store, day)
    if version is None:
        source = instrument.question(instrument.unit_question).source
        if source == "organisation" or mode == "open":
            why = ("its unit question takes the units from the organisation" if source == "organisation"
                   else "respondents of an open link pick their unit, and the instrument lists none")
            raise CampaignError(f"no organisation is in force on {day}, but {why}",
                                where=f"campaign '{campaign_id}'",
                                fix=f"Import the organisation first ('tandem org import org.csv --as-of {day}'), "
                                    "or list 'units:' in the instrument.")
        if level is not None:
            raise CampaignError(f"no organisation is in force on {day} to take the '{level}' units from",
                                where=f"campaign '{campaign_id}'",
                                fix=f"Import one first ('tandem org import org.csv --as-of {day}').")
        return None
    org = org_store.org_version(store, version.id)
    if level is not None and level not in org.levels:
        raise CampaignError(f"the organisation in force on {day} has no level '{str(level)[:40]}'",
                            where=f"campaign '{campaign_id}'",
                            fix=did_you_mean(str(level), org.levels).strip()
                            or f"Levels: {', '.join(org.levels)}.")
    chosen = org.at_level(level) if level is not None else org.leaves()
    return version.id, [[u, org.unit(u).name] for u in chosen]


# --------------------------------------------------------------------------- campaigns


def register_instrument(store: db.Store, instrument: Instrument | str) -> int:
    """Store an instrument version (its YAML text) once; return its id.

    Idempotent: the same text (same sha256) gives the same id, so campaigns created from
    an unchanged file share a version, and an edited file becomes a new version while
    old campaigns keep theirs.
    """
    if isinstance(instrument, str):
        instrument = parse_instrument(instrument)
    sha = instrument.sha256
    text = instrument.source_text
    if not text:
        raise CampaignError("the instrument has no source text to store",
                            where=f"instrument '{instrument.id}'",
                            fix="Load it with load_instrument() or parse_instrument().")
    table = db.instrument_versions

    def find(conn: Connection) -> int | None:
        return conn.execute(sa.select(table.c.id).where(table.c.sha256 == sha)).scalar_one_or_none()

    def tx(conn: Connection) -> int:
        found = find(conn)
        if found is not None:
            return found
        return conn.execute(table.insert().values(
            instrument_id=instrument.id, version=str(instrument.version), yaml=text, sha256=sha,
            created_at=db.coarse_time(db.utcnow())).returning(table.c.id)).scalar_one()

    return store.run(tx)  # a simultaneous registration elsewhere makes the retry find it


OPEN_EMPLOYEE_LINKS_VARIABLE = "TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS"


def open_employee_links_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS=1`` lets employee surveys use an open link."""
    return (os.environ if environ is None else environ).get(OPEN_EMPLOYEE_LINKS_VARIABLE, "").strip() == "1"


def create_campaign(
    store: db.Store,
    instrument: Instrument | str,
    *,
    campaign_id: str,
    name: str | None = None,
    wave: str = "1",
    mode: str = "invited",
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    min_group_size: int | None = None,
    unit_level: str | None = None,
) -> Campaign:
    """Create a campaign (status ``draft``) pinned to this instrument version.

    Parameters
    ----------
    campaign_id
        Short id used in links (``?c=...``): lower-case letters, digits, ``-`` and ``_``.
    mode
        ``invited`` (one token per respondent) or ``open`` (anyone with the link). An
        employee instrument is refused ``open`` (:class:`CampaignError`) unless
        ``TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS=1``: with one public link anyone could fill a
        small unit with made-up answers up to the anonymity threshold.
    opens_at, closes_at
        Optional window (timezone-aware; naive means UTC) in which an opened campaign
        takes responses.
    min_group_size
        Smallest group whose counts are shown; default the instrument's
        ``anonymity.min_group_size``; never below it.
    unit_level
        When the instrument lists no units and an organisation is in force on the opening
        day (today without ``opens_at``), the campaign takes its units from it: the leaf
        units, or the units of this level. They are stored with the campaign, so a later
        organisation never changes it. An open link offers them to respondents to pick
        from; an instrument whose unit question has ``source: organisation``, or an open
        link of an instrument without units, is refused when no organisation is in force.
    """
    if isinstance(instrument, str):
        instrument = parse_instrument(instrument)
    campaign_id = str(campaign_id).strip()
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise CampaignError(f"'{campaign_id[:70]}' is not a usable campaign id", where="campaign id",
                            fix="Use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or "
                                "digit (e.g. 'ee-2026-q1').")
    if mode not in ("open", "invited"):
        raise CampaignError(f"unknown mode '{str(mode)[:30]}'", where=f"campaign '{campaign_id}'",
                            fix="Use mode 'invited' (tokens) or 'open' (one public link).")
    if mode == "open" and instrument.audience == "employee" and not open_employee_links_allowed():
        raise CampaignError(
            "an employee survey cannot use an open link: anyone who has the link could answer many times "
            "and pad a small unit with made-up answers until it reaches the minimum group size, after "
            "which its results (and the few real people in it) are shown",
            where=f"campaign '{campaign_id}'",
            fix=f"Use mode 'invited' (one personal link per employee). If you accept the risk, set "
                f"{OPEN_EMPLOYEE_LINKS_VARIABLE}=1 in the environment of the app and the CLI.")
    k = instrument.min_group_size if min_group_size is None else int(min_group_size)
    if k < instrument.min_group_size:
        raise CampaignError(f"min_group_size {k} is below the instrument's {instrument.min_group_size}",
                            where=f"campaign '{campaign_id}'",
                            fix=f"Use at least {instrument.min_group_size} (anonymity.min_group_size).")
    opens = db.as_utc(opens_at) if opens_at else None
    closes = db.as_utc(closes_at) if closes_at else None
    if opens and closes and closes <= opens:
        raise CampaignError("the campaign closes before it opens", where=f"campaign '{campaign_id}'",
                            fix="Choose a closing time after the opening time.")
    from_org = _org_units(store, instrument, (opens or db.utcnow()).date(), unit_level, campaign_id, mode)
    version_id = register_instrument(store, instrument)

    def tx(conn: Connection) -> None:
        exists = conn.execute(sa.select(db.campaigns.c.id).where(db.campaigns.c.id == campaign_id)).first()
        if exists:
            raise CampaignError(f"a campaign '{campaign_id}' exists already", where=f"campaign '{campaign_id}'",
                                fix="Choose another id (e.g. with the wave: 'ee-2026-q2').")
        conn.execute(db.campaigns.insert().values(
            id=campaign_id, name=(name or instrument.text(instrument.title) or campaign_id)[:200],
            instrument_version_id=version_id, audience=instrument.audience, wave=str(wave)[:100],
            opens_at=opens, closes_at=closes, status="draft", mode=mode, min_group_size=k,
            created_at=db.coarse_time(db.utcnow())))
        if from_org is not None:
            conn.execute(campaign_units.insert().values(campaign_id=campaign_id, org_version_id=from_org[0],
                                                        level=unit_level, units=from_org[1]))

    store.run(tx)
    return get_campaign(store, campaign_id)


def _campaign_query() -> sa.Select:
    c, v, cu = db.campaigns, db.instrument_versions, campaign_units
    return (sa.select(c, v.c.sha256, v.c.yaml, cu.c.org_version_id, cu.c.units.label("org_units"))
            .join(v, v.c.id == c.c.instrument_version_id).outerjoin(cu, cu.c.campaign_id == c.c.id))


def _campaign_of(row: Any) -> Campaign:
    m = row._mapping
    return Campaign(
        id=m["id"], name=m["name"], instrument_version_id=m["instrument_version_id"],
        instrument_sha256=m["sha256"], instrument_yaml=m["yaml"], audience=m["audience"], wave=m["wave"],
        opens_at=db.as_utc(m["opens_at"]) if m["opens_at"] else None,
        closes_at=db.as_utc(m["closes_at"]) if m["closes_at"] else None,
        status=m["status"], mode=m["mode"], min_group_size=m["min_group_size"],
        created_at=db.as_utc(m["created_at"]), org_version_id=m.get("org_version_id"),
        org_units=tuple((str(u), str(n)) for u, n in (m.get("org_units") or ())))


def _load_campaign(conn: Connection, campaign_id: str) -> Campaign:
    wellformed = isinstance(campaign_id, str) and CAMPAIGN_ID.fullmatch(campaign_id)
    row = conn.execute(_campaign_query().where(db.campaigns.c.id == campaign_id)).first() if wellformed else None
    if row is None:
        known = conn.execute(sa.select(db.campaigns.c.id)).scalars().all()
        raise CampaignNotFound(f"no campaign '{str(campaign_id)[:70]}'", where="campaign",
                               fix=(did_you_mean(str(campaign_id), known).strip()
                                    or "List campaigns with 'tandem campaign list'."))
    return _campaign_of(row)


def get_campaign(store: db.Store, campaign_id: str) -> Campaign:
    """The campaign with this id; :class:`CampaignNotFound` (with "did you mean") otherwise."""
    return store.run(lambda conn: _load_campaign(conn, campaign_id), write=False)


def campaign_status(campaign: Campaign, *, now: dt.datetime | None = None) -> str:
    """``draft``, ``scheduled`` (opened, before ``opens_at``), ``open`` or ``closed`` (also after ``closes_at``)."""
    now = db.as_utc(now) if now else db.utcnow()
    if campaign.status == "draft":
        return "draft"
    if campaign.status == "closed" or (campaign.closes_at and now >= campaign.closes_at):
        return "closed"
    if campaign.opens_at and now < campaign.opens_at:
        return "scheduled"
    return "open"


def open_campaign(store: db.Store, campaign_id: str) -> Campaign:
    """Open now: status ``open``; an opening time in the future or a past closing time is cleared."""
    now = db.utcnow()

    def tx(conn: Connection) -> None:
        campaign = _load_campaign(conn, campaign_id)
        values: dict[str, Any] = {"status": "open"}
        if campaign.opens_at and campaign.opens_at > now:
            values["opens_at"] = db.coarse_time(now)
        if campaign.closes_at and campaign.closes_at <= now:
            values["closes_at"] = None
        conn.execute(db.campaigns.update().where(db.campaigns.c.id == campaign.id).values(**values))

    store.run(tx)
    return get_campaign(store, campaign_id)


def close_campaign(store: db.Store, campaign_id: str) -> Campaign:
    """Close: no further responses, and every unfinished respondent's progress is deleted.

    Reopening a closed campaign lets unused links answer again, from the start.
    """
    def tx(conn: Connection) -> None:
        campaign = _load_campaign(conn, campaign_id)
        conn.execute(db.campaigns.update().where(db.campaigns.c.id == campaign.id).values(status="closed"))
        _purge(conn, db.utcnow())

    store.run(tx)
    return get_campaign(store, campaign_id)


def list_campaigns(store: db.Store) -> pd.DataFrame:
    """All campaigns, newest first, with their state and counts of invitations and responses."""
    c, v, i, r = db.campaigns, db.instrument_versions, db.invitations, db.responses
    invited = sa.select(i.c.campaign_id, sa.func.count().label("n")).group_by(i.c.campaign_id).subquery()
    answered = sa.select(r.c.campaign_id, sa.func.count().label("n")).group_by(r.c.campaign_id).subquery()
    query = (
        sa.select(c, v.c.instrument_id, v.c.version, v.c.sha256, v.c.yaml,
                  sa.func.coalesce(invited.c.n, 0).label("invited"),
                  sa.func.coalesce(answered.c.n, 0).label("responses"))
        .join(v, v.c.id == c.c.instrument_version_id)
        .outerjoin(invited, invited.c.campaign_id == c.c.id)
        .outerjoin(answered, answered.c.campaign_id == c.c.id)
        .order_by(c.c.created_at.desc(), c.c.id)
    )
    rows = store.run(lambda conn: conn.execute(query).all(), write=False)
    columns = ["campaign", "name", "instrument", "version", "audience", "wave", "mode", "status", "state",
               "opens_at", "closes_at", "min_group_size", "invited", "responses"]
    records = []
    for row in rows:
        campaign = _campaign_of(row)
        m = row._mapping
        records.append([campaign.id, campaign.name, m["instrument_id"], m["version"], campaign.audience,
                        campaign.wave, campaign.mode, campaign.status, campaign_status(campaign),
                        campaign.opens_at, campaign.closes_at, campaign.min_group_size, int(m["invited"]),
                        int(m["responses"])])
    return pd.DataFrame(records, columns=columns)


# --------------------------------------------------------------------------- invitations


def invite(store: db.Store, campaign_id: str, *, unit: str, count: int) -> list[str]:
    """Issue ``count`` invitations for ``unit``; return the tokens (shown once, never stored).

    Raises
    ------
    CampaignError
        Open-link campaign, closed campaign, unknown unit (with "did you mean") or a
        count outside 1..100,000.
    """
    count = int(count)
    if not 1 <= count <= MAX_INVITATIONS:
        raise CampaignError(f"cannot issue {count} invitations", where=f"campaign '{campaign_id}'",
                            fix=f"Ask for 1 to {MAX_INVITATIONS:,} at a time.")
    unit = str(unit).strip()
    campaign = get_campaign(store, campaign_id)
    if campaign.mode != "invited":
        raise CampaignError("this campaign uses one open link, not invitations", where=f"campaign '{campaign.id}'",
                            fix="Share the open link, or create an invited campaign.")
    if campaign.status == "closed":
        raise CampaignClosed("the campaign is closed", where=f"campaign '{campaign.id}'",
                             fix="Open it again first ('tandem campaign open').")
    known = [u.id for u in campaign.instrument.units]
    if known and unit not in known:
        raise CampaignError(f"unit '{unit[:70]}' is not one of the instrument's units",
                            where=f"campaign '{campaign.id}'",
                            fix=did_you_mean(unit, known).strip() or f"Known units: {', '.join(known[:12])}.")
    if not UNIT_ID.fullmatch(unit):
        raise CampaignError("the unit id is empty, too long or has unusual characters",
                            where=f"campaign '{campaign.id}'",
                            fix="Give the id of the store, branch or team: letters, digits, '.', '-', '_' "
                                "(up to 200 characters).")
    tokens = [new_token() for _ in range(count)]
    now = db.coarse_time(db.utcnow())
    rows = [{"id": str(uuid.uuid4()), "campaign_id": campaign.id, "unit": unit, "token_hash": hash_token(t),
             "status": "issued", "created_at": now} for t in tokens]
    store.run(lambda conn: conn.execute(db.invitations.insert(), rows))
    return tokens


def _invitation(conn: Connection, campaign_id: str, token: str) -> Invitation:
    i = db.invitations
    row = conn.execute(sa.select(i).where(i.c.campaign_id == campaign_id, i.c.token_hash == hash_token(token))).first()
    if row is None:
        raise TokenUnknown("this link's token is not known for this campaign", where=f"campaign '{campaign_id}'",
                           fix="Use the complete link from your invitation.")
    m = row._mapping
    if m["status"] == "used":
        raise TokenUsed("this link has already been used to answer", where=f"campaign '{campaign_id}'",
                        fix="Each invitation answers once; ask the survey team for a new link if needed.")
    return Invitation(m["id"], m["campaign_id"], m["unit"], m["token_hash"], m["status"])


def check_invitation(store: db.Store, campaign_id: str, token: str) -> Invitation:
    """The unused invitation of ``token`` in this campaign; :class:`TokenUnknown` / :class:`TokenUsed` otherwise."""
    return store.run(lambda conn: _invitation(conn, _load_campaign(conn, campaign_id).id, token), write=False)


def resolve_link(store: db.Store, campaign_id: str, token: str | None = None, *,
                 now: dt.datetime | None = None) -> LinkState:
    """What the link ``?c=campaign_id&t=token`` leads to (see :data:`LINK_STATES`).

    ``ok`` means the respondent may answer; every other state names the plain message
    to show (unknown campaign, draft/not yet open/closed, token needed/unknown/used).
    """
    try:
        campaign = get_campaign(store, campaign_id)
    except CampaignNotFound:
        return LinkState("unknown_campaign")
    state = campaign_status(campaign, now=now)
    if state != "open":
        return LinkState({"scheduled": "not_open"}.get(state, state), campaign)
    if token is None or token == "":
        return LinkState("token_needed" if campaign.mode == "invited" else "ok", campaign)
    try:
        invitation = check_invitation(store, campaign.id, token)
    except TokenUsed:
        return LinkState("token_used", campaign)
    except TokenUnknown:
        return LinkState("token_unknown", campaign)
    return LinkState("ok", campaign, invitation)


# --------------------------------------------------------------------------- progress

RETENTION_VARIABLE = "TANDEM_PROGRESS_RETENTION_DAYS"
#: Days unfinished progress is kept after its last save (``TANDEM_PROGRESS_RETENTION_DAYS``).
DEFAULT_RETENTION_DAYS = 30


def progress_retention(environ: Mapping[str, str] | None = None) -> dt.timedelta:
    """How long unfinished progress is kept after its last save (``TANDEM_PROGRESS_RETENTION_DAYS``)."""
    raw = (os.environ if environ is None else environ).get(RETENTION_VARIABLE, "").strip()
    if not raw:
        return dt.timedelta(days=DEFAULT_RETENTION_DAYS)
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise CampaignError(f"{RETENTION_VARIABLE}={raw[:30]!r} is not a number of days from 1 to 3650",
                            where=RETENTION_VARIABLE,
                            fix=f"Set it to whole days (default {DEFAULT_RETENTION_DAYS}) or unset it.")
    return dt.timedelta(days=days)


def _purge(conn: Connection, now: dt.datetime) -> int:
    """Delete progress older than the retention period and progress of closed campaigns."""
    p, c = db.progress, db.campaigns
    cutoff = db.coarse_time(now) - progress_retention()
    closed = sa.select(c.c.id).where((c.c.status == "closed") | (c.c.closes_at.is_not(None) & (c.c.closes_at <= now)))
    done = conn.execute(p.delete().where((p.c.updated_at < cutoff) | p.c.campaign_id.in_(closed)))
    return int(done.rowcount or 0)


def purge_progress(store: db.Store, now: dt.datetime | None = None) -> int:
    """Delete abandoned progress: older than ``TANDEM_PROGRESS_RETENTION_DAYS`` or of a closed campaign.

    Also runs with every :func:`save_progress` and :func:`close_campaign`; call it from
    a scheduled job when respondents stay away for long. Returns the rows deleted.
    """
    moment = db.as_utc(now) if now else db.utcnow()
    return store.run(lambda conn: _purge(conn, moment))


def save_progress(store: db.Store, campaign_id: str, key: str, progress: Mapping[str, Any], *,
                  page: int = 0, now: dt.datetime | None = None) -> None:
    """Keep a respondent's partial progress (any JSON mapping), sealed, under a key derived from ``key``.

    ``key`` is the invitation token (invited campaigns: it must be issued and unused) or a
    :func:`new_session_key` (open campaigns). The row's id is
    :func:`progress_key_id` (HMAC-SHA256 of the token under :data:`surveys.sealing.PROGRESS_KEY_LABEL`),
    its content the JSON of ``{"page", "progress"}`` sealed with AES-256-GCM under a key
    derived with :data:`PROGRESS_SEAL_LABEL`, and its time is the hour
    (:func:`surveys.store.coarse_time`). Stored in the database, so it survives a
    restart and is visible to every app process holding the token. Abandoned progress
    is purged in the same transaction (:func:`purge_progress`).
    """
    text = json.dumps({"page": int(page), "progress": dict(progress)}, default=str, allow_nan=False)
    if len(text) > MAX_PROGRESS:
        raise CampaignError("the saved progress is too large", where=f"campaign '{campaign_id}'",
                            fix="Shorten the long text answers.")
    moment = db.as_utc(now) if now else db.utcnow()
    progress_retention()  # a bad setting fails here, before anything is written

    def tx(conn: Connection) -> None:
        campaign = _load_campaign(conn, campaign_id)
        if campaign_status(campaign, now=moment) == "closed":
            raise CampaignClosed("the campaign is closed", where=f"campaign '{campaign.id}'",
                                 fix="Answer while the campaign is open.")
        if campaign.mode == "invited":
            _invitation(conn, campaign.id, key)
        key_id = progress_key_id(campaign.id, key)
        p = db.progress
        values = {"sealed": seal(campaign.id, key, key_id, text.encode("ascii")),
                  "updated_at": db.coarse_time(moment)}
        _purge(conn, moment)
        done = conn.execute(p.update().where(p.c.campaign_id == campaign.id, p.c.key_id == key_id).values(**values))
        if done.rowcount == 0:
            conn.execute(p.insert().values(campaign_id=campaign.id, key_id=key_id, **values))

    store.run(tx)


def load_progress(store: db.Store, campaign_id: str, key: str, *,
                  now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The progress saved under ``key`` (token or session key), or ``None``; :class:`CampaignNotFound`.

    Progress older than the retention period counts as gone even before it is purged.
    """
    p = db.progress
    moment = db.as_utc(now) if now else db.utcnow()

    def tx(conn: Connection) -> tuple[str, bytes | None]:
        campaign = _load_campaign(conn, campaign_id)
        key_id = progress_key_id(campaign.id, key)
        query = sa.select(p.c.sealed).where(p.c.campaign_id == campaign.id, p.c.key_id == key_id,
                                            p.c.updated_at >= db.coarse_time(moment) - progress_retention())
        return campaign.id, conn.execute(query).scalar_one_or_none()

    cid, sealed = store.run(tx, write=False)
    if sealed is None:
        return None
    payload = open_seal(cid, key, progress_key_id(cid, key), sealed)
    if payload is None:
        return None
    return json.loads(payload.decode("ascii"))["progress"]


# --------------------------------------------------------------------------- submit


def submit(
    store: db.Store,
    campaign_id: str,
    answers: Mapping[str, Any],
    *,
    token: str | None = None,
    language: str | None = None,
    started_at: dt.datetime | None = None,
    session: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Validate and store one response; return its (random) id.

    In one transaction: the campaign and the invitation are checked, the answers
    validated, the invitation of ``token`` goes from ``issued`` to ``used``
    (under row locks, so of two simultaneous submits with one token exactly one wins;
    see :func:`_use_invitation` for why the whole unit's rows are rewritten), the response
    is inserted without any reference to the invitation, and the sealed progress of the
    token (or of the open link's ``session`` key) is deleted.
    Times are stored truncated to the hour (:func:`surveys.store.coarse_time`).

    Raises
    ------
    AnswerError
        Answers that do not fit the instrument (per question).
    CampaignClosed, TokenNeeded, TokenUnknown, TokenUsed
        The link may not answer (now).
    """
    submitted = db.coarse_time(now or db.utcnow())
    started = min(db.coarse_time(started_at), submitted) if started_at else None
    response_id = str(uuid.uuid4())
    progress_key = token or session or None

    def tx(conn: Connection) -> None:
        campaign = _load_campaign(conn, campaign_id)
        state = campaign_status(campaign, now=now)
        if state != "open":
            raise CampaignClosed(
                {"draft": "the campaign has not been opened yet", "scheduled": "the campaign is not open yet"}
                .get(state, "the campaign is closed"), where=f"campaign '{campaign.id}'",
                fix="Answer while the campaign is open.")
        instrument = campaign.instrument
        unit = None
        if token:
            unit = _invitation(conn, campaign.id, token).unit
        elif campaign.mode == "invited":
            raise TokenNeeded("this campaign answers by invitation only", where=f"campaign '{campaign.id}'",
                              fix="Use the personal link from your invitation.")
        lang = language if language in instrument.languages else instrument.default_language
        cleaned = validate_answers(instrument, answers, language=lang, unit=unit)
        if token:
            _use_invitation(conn, campaign.id, unit, hash_token(token))
        conn.execute(db.responses.insert().values(
            id=response_id, campaign_id=campaign.id, unit=unit or cleaned.get(instrument.unit_question),
            language=lang, started_at=started, submitted_at=submitted, answers=cleaned))
        if progress_key:
            p = db.progress
            conn.execute(p.delete().where(p.c.campaign_id == campaign.id,
                                          p.c.key_id == progress_key_id(campaign.id, progress_key)))

    store.run(tx)
    return response_id


def _use_invitation(conn: Connection, campaign_id: str, unit: str, key_hash: str) -> None:
    """Mark one invitation used so that neither row order nor row versions show which one.

    Every invitation of the unit is locked (in id order, so simultaneous submits cannot
    deadlock) and rewritten by one UPDATE. On PostgreSQL an UPDATE writes new row
    versions: were only the used row rewritten, the physical order of the table (and
    the transaction id ``xmin`` it carries) would list used invitations in the order of
    use, matching the order of the responses. Rewriting the whole unit keeps the rows in
    their issue order and gives them all the same ``xmin``, which says no more than the
    response's unit. The status is read again under the locks, so of two simultaneous
    submits with one token the second finds it used.
    """
    i = db.invitations
    in_unit = (i.c.campaign_id == campaign_id) & (i.c.unit == unit)
    conn.execute(sa.select(i.c.id).where(in_unit).order_by(i.c.id).with_for_update()).all()
    status = conn.execute(sa.select(i.c.status).where(i.c.campaign_id == campaign_id,
                                                      i.c.token_hash == key_hash)).scalar_one()
    if status != "issued":
        raise TokenUsed("this link has already been used to answer", where=f"campaign '{campaign_id}'",
                        fix="Each invitation answers once; ask the survey team for a new link if needed.")
    conn.execute(i.update().where(in_unit).values(
        status=sa.case((i.c.token_hash == key_hash, "used"), else_=i.c.status)))
