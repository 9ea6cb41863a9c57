"""Responses read and written in bulk: counts and rates by unit, the wide frame, imports.

The wide frame is the contract between collection and analysis: one row per response,
the fixed columns :data:`META_COLUMNS`, then the answer columns of
:func:`surveys.question_types.frame_columns`. :func:`responses_frame` builds it from a
campaign's stored answers column-wise (each question type decodes its own columns);
:func:`import_frame` stores a frame as responses, each row validated like a submission.
Single submissions go through :func:`surveys.campaigns.submit`.

API overview
------------
``response_count(store, campaign_id) -> int``;
``response_rates(store, campaign_id) -> DataFrame`` (``unit, invited, responses,
response_rate, suppressed``; units with fewer responses than the campaign's
``min_group_size`` show ``"fewer than k"`` and no rate);
``responses_frame(store, campaign_id) -> DataFrame``;
``import_frame(store, campaign_id, frame) -> int``.
"""

from __future__ import annotations

import gc
import math
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from surveys import store as db
from surveys.answers import AnswerError, validate_answers
from surveys.campaigns import CampaignError, _load_campaign, get_campaign
from surveys.question_types import frame_columns, kind_of

__all__ = ["LOAD_CHUNK", "META_COLUMNS", "ImportRefused", "import_frame", "insert_records", "prepare_records",
           "response_count", "response_rates", "responses_frame"]

META_COLUMNS = ("response_id", "campaign", "wave", "unit", "language", "submitted_at")


def response_count(store: db.Store, campaign_id: str) -> int:
    """Number of stored responses of a campaign."""
    r = db.responses

    def tx(conn: Connection) -> int:
        campaign = _load_campaign(conn, campaign_id)
        query = sa.select(sa.func.count()).select_from(r).where(r.c.campaign_id == campaign.id)
        return conn.execute(query).scalar_one()

    return int(store.run(tx, write=False))


def response_rates(store: db.Store, campaign_id: str) -> pd.DataFrame:
    """Responses and response rate by unit, small groups suppressed.

    Returns
    -------
    DataFrame
        ``unit, invited, responses, response_rate, suppressed`` - one row per unit with
        invitations or responses, then ``(all units)``. A unit with fewer responses than
        the campaign's ``min_group_size`` k shows ``responses = "fewer than k"`` and no
        rate, so nobody learns from the table whether one or two people answered.
        ``invited`` is missing for open-link campaigns.

    Notes
    -----
    response_rate = responses / invited (Bethlehem, 2009, *Applied Survey Methods*: the
    simple response rate RR of invited units).
    """
    campaign = get_campaign(store, campaign_id)
    i, r = db.invitations, db.responses

    def tx(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
        invited = conn.execute(sa.select(i.c.unit, sa.func.count()).where(i.c.campaign_id == campaign.id)
                               .group_by(i.c.unit)).all()
        answered = conn.execute(sa.select(r.c.unit, sa.func.count()).where(r.c.campaign_id == campaign.id)
                                .group_by(r.c.unit)).all()
        return {u: n for u, n in invited}, {(u or ""): n for u, n in answered}

    invited, answered = store.run(tx, write=False)
    k = campaign.min_group_size
    records = []
    for unit in sorted(set(invited) | set(answered)):
        records.append(_rate_row(unit or "(no unit)", invited.get(unit), answered.get(unit, 0), k,
                                 campaign.mode == "invited"))
    records.append(_rate_row("(all units)", sum(invited.values()), sum(answered.values()), k,
                             campaign.mode == "invited"))
    return pd.DataFrame(records, columns=["unit", "invited", "responses", "response_rate", "suppressed"])


def _rate_row(unit: str, invited: int | None, answered: int, k: int, has_invitations: bool) -> list[Any]:
    n_invited = (invited or 0) if has_invitations else None
    if answered < k:
        return [unit, n_invited, f"fewer than {k}", None, True]
    rate = answered / n_invited if n_invited else None
    return [unit, n_invited, answered, rate, False]


#: Responses read, parsed and decoded per chunk by :func:`responses_frame` (bounds the
#: memory of the parsed answer dicts; on PostgreSQL a server-side cursor streams the chunks).
LOAD_CHUNK = 50_000


def responses_frame(store: db.Store, campaign_id: str) -> pd.DataFrame:
    """The campaign's responses as the wide frame of the contract (one row per response).

    Columns ``response_id, campaign, wave, unit, language, submitted_at`` (UTC, to the
    hour), then :func:`frame_columns`: numbers as float (NaN when missing),
    single_choice/dropdown/date/text as strings, multi_choice as 0/1 (NaN in every
    option column when nothing was chosen: skipped, or hidden by ``show_if``), ranking
    as ranks (1 = first). Reverse-keyed
    items are as answered (``analysis.scoring`` reverses them).

    Notes
    -----
    Built column-wise, in submit order, one chunk of :data:`LOAD_CHUNK` responses at a
    time (:func:`_driver_rows`): each answers JSON text is parsed by ``orjson.loads``,
    the chunk's answer dicts become one object frame (pandas' C loop over the dicts;
    lists of ``dict.get`` per key are slower) and each question type decodes its
    columns vectorised (numbers as one float conversion, multi_choice and ranking by
    exploding their lists); no Python code runs per cell. Only the decoded columns of
    a chunk are kept, so parsed dicts and object frames never exceed one chunk; each
    column's chunks are concatenated once at the end (dropped as they are used: at the
    peak the decoded columns and the frame's own copy). PostgreSQL is asked for
    ``submitted_at`` as UTC wall time, which pandas converts in one step (time
    zone-aware datetimes are converted one by one). The cyclic garbage collector is
    paused meanwhile: the millions of parsed objects hold no cycles, and its passes
    over them were a tenth of the load. Letting the database extract the answers
    instead (SQLite ``json_extract``, PostgreSQL ``->>``) was measured several times
    slower than parsing the text. ``bench.bench_store --load N`` measures the rate.
    """
    campaign = get_campaign(store, campaign_id)
    columns = [(name, q, option, kind_of(q)) for name, q, option in frame_columns(campaign.instrument)]
    keys = list(dict.fromkeys(kind.stored_key(q, option) for _, q, option, kind in columns))
    r = db.responses
    submitted = r.c.submitted_at if store.dialect == "sqlite" else sa.func.timezone("UTC", r.c.submitted_at)
    query = (sa.select(r.c.id, r.c.unit, r.c.language, submitted, sa.cast(r.c.answers, sa.Text))
             .where(r.c.campaign_id == campaign.id).order_by(r.c.submitted_at, r.c.id))

    def chunk(rows: list[tuple[Any, ...]]) -> dict[str, pd.Series]:
        ids, units, languages, times, texts = zip(*rows, strict=True) if rows else ((),) * 5
        answers = pd.DataFrame(list(map(orjson.loads, texts)), columns=keys, index=pd.RangeIndex(len(rows)),
                               dtype=object)
        data = {"response_id": pd.Series(ids, dtype=object), "unit": pd.Series(units, dtype=object),
                "language": pd.Series(languages, dtype=object),
                "submitted_at": pd.to_datetime(pd.Series(times, dtype=object), utc=True, format="ISO8601")}
        for name, q, option, kind in columns:
            data[name] = kind.decode(q, option, answers[kind.stored_key(q, option)])
        return data

    collecting = gc.isenabled()
    gc.disable()
    try:
        chunks = store.run(lambda conn: [chunk(rows) for rows in _driver_rows(conn, query)] or [chunk([])],
                           write=False)
        data = {name: pd.concat([part.pop(name) for part in chunks], ignore_index=True) for name in list(chunks[0])}
    finally:
        if collecting:
            gc.enable()
    return pd.DataFrame({"response_id": data.pop("response_id"), "campaign": campaign.id, "wave": campaign.wave,
                         **data})


def _driver_rows(conn: Connection, query: sa.Select[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """The query's rows as the driver's tuples, :data:`LOAD_CHUNK` at a time.

    The query is compiled by SQLAlchemy and run on the driver's own cursor (a named,
    server-side one on PostgreSQL, which streams), because building SQLAlchemy rows
    and transposing them took longer than SQLite reading them. Values are the driver's:
    no result processing, so SQLite's datetimes arrive as their ISO text.
    """
    compiled = query.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in compiled.positiontup or ()] if conn.dialect.positional \
        else compiled.params
    driver = conn.connection.driver_connection
    cursor = driver.cursor(name="tandem_responses_load") if conn.dialect.name == "postgresql" else driver.cursor()
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(LOAD_CHUNK):
            yield rows
    finally:
        cursor.close()


def prepare_records(campaign: Any, frame: pd.DataFrame, *, first_row: int = 1,
                    language: str | None = None) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Rows of a wide frame as response records, each validated like a submission.

    Required questions may be unanswered (item nonresponse in data collected elsewhere);
    ``unit``, ``language`` and ``submitted_at`` come from the frame when present (times
    truncated to the hour).

    Returns
    -------
    records, refused
        The records of the valid rows, and ``(row number, reason)`` for every refused
        row (rows counted from ``first_row``).
    """
    instrument = campaign.instrument
    questions = [q for q in instrument.questions if kind_of(q).columns(q)]
    records: list[dict[str, Any]] = []
    refused: list[tuple[int, str]] = []
    for number, row in enumerate(frame.to_dict(orient="records"), start=first_row):
        answers = {key: value for q in questions for key, value in kind_of(q).encode(q, row).items()}
        unit = row.get("unit")
        if unit is not None and not _missing(unit):
            answers[instrument.unit_question] = str(unit)
        lang = row.get("language") if row.get("language") in instrument.languages else (
            language or instrument.default_language)
        try:
            cleaned = validate_answers(instrument, answers, language=lang, enforce_required=False)
            submitted = row.get("submitted_at")
            moment = pd.Timestamp(submitted).to_pydatetime() if not _missing(submitted) else db.utcnow()
        except AnswerError as exc:
            refused.append((number, "; ".join(f"{p.key}: {p.message}" for p in exc.problems)))
            continue
        except (ValueError, TypeError):
            refused.append((number, f"submitted_at: '{str(row.get('submitted_at'))[:40]}' is not a date and time"))
            continue
        records.append({"id": str(uuid.uuid4()), "campaign_id": campaign.id,
                        "unit": cleaned.get(instrument.unit_question), "language": lang, "started_at": None,
                        "submitted_at": db.coarse_time(moment), "answers": cleaned})
    return records, refused


def insert_records(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Insert prepared records inside the caller's transaction."""
    if records:
        conn.execute(db.responses.insert(), records)


def import_frame(store: db.Store, campaign_id: str, frame: pd.DataFrame, *, language: str | None = None) -> int:
    """Store the rows of a wide frame (the contract's columns) as responses; return how many.

    Every row is validated (:func:`prepare_records`); if any is refused, nothing is
    stored and :class:`ImportRefused` lists them. All rows go in one transaction. Used by
    the demo; works on any campaign state and does not touch invitations. Files of any
    size: :func:`services.imports.import_responses`.
    """
    campaign = get_campaign(store, campaign_id)
    records, refused = prepare_records(campaign, frame, language=language)
    if refused:
        raise ImportRefused(refused, where=f"campaign '{campaign_id}'")
    store.run(lambda conn: insert_records(conn, records))
    return len(records)


class ImportRefused(CampaignError):
    """Rows that do not fit the instrument; ``refused`` lists ``(row, reason)``; nothing was stored."""

    def __init__(self, refused: list[tuple[int, str]], *, where: str = "") -> None:
        self.refused = tuple(refused)
        shown = "; ".join(f"row {n}: {reason}" for n, reason in self.refused[:5])
        more = f" (and {len(self.refused) - 5} more)" if len(self.refused) > 5 else ""
        super().__init__(f"{len(self.refused)} row(s) refused, nothing imported: {shown}{more}", where=where,
                         fix="correct the rows named (or leave them out) and import again.")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT
