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

import math
import uuid
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


#: Responses read and parsed per chunk by :func:`responses_frame` (bounds the memory of
#: the parsed answer dicts; on PostgreSQL a server-side cursor streams the chunks).
LOAD_CHUNK = 50_000


def _stored_responses(store: db.Store, campaign_id: str, keys: list[str]) -> pd.DataFrame:
    """The campaign's responses in submit order, read in chunks of :data:`LOAD_CHUNK`.

    Columns ``("meta", name)`` for ``id, unit, language, submitted_at`` and
    ``("answer", key)`` per answer key in ``keys`` (the parsed JSON value, NaN when
    absent), all of dtype object.
    """
    r = db.responses
    query = (sa.select(r.c.id, r.c.unit, r.c.language, r.c.submitted_at, sa.cast(r.c.answers, sa.Text))
             .where(r.c.campaign_id == campaign_id).order_by(r.c.submitted_at, r.c.id))

    def chunk(rows: list[Any]) -> pd.DataFrame:
        answers = pd.DataFrame(orjson.loads("[" + ",".join(row[4] for row in rows) + "]"), columns=keys,
                               index=pd.RangeIndex(len(rows)), dtype=object)
        meta = pd.DataFrame([row[:4] for row in rows], columns=["id", "unit", "language", "submitted_at"],
                            dtype=object)
        return pd.concat([meta, answers], axis=1, keys=["meta", "answer"])

    def read(conn: Connection) -> list[pd.DataFrame]:
        result = conn.execution_options(yield_per=LOAD_CHUNK).execute(query)
        return [chunk(rows) for rows in result.partitions()] or [chunk([])]

    return pd.concat(store.run(read, write=False), ignore_index=True)


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
    Built column-wise: the answers' JSON texts are parsed with one ``orjson.loads`` call
    per chunk of :data:`LOAD_CHUNK` responses, the answer dicts become one object frame
    (no per-column type inference), and each question type is converted vectorised
    (multi_choice and ranking by exploding their lists); no Python code runs per cell.
    ``bench.bench_store --load N`` measures the rate.
    """
    campaign = get_campaign(store, campaign_id)
    columns = frame_columns(campaign.instrument)
    stored = _stored_responses(store, campaign.id, list(dict.fromkeys(
        kind_of(q).stored_key(q, option) for _, q, option in columns)))
    meta, answers = stored["meta"], stored["answer"]
    data: dict[str, Any] = {
        "response_id": meta["id"], "campaign": campaign.id, "wave": campaign.wave,
        "unit": meta["unit"], "language": meta["language"],
        "submitted_at": pd.to_datetime(meta["submitted_at"], utc=True),
    }
    for name, q, option in columns:
        kind = kind_of(q)
        data[name] = kind.decode(q, option, answers[kind.stored_key(q, option)])
    return pd.DataFrame(data, index=answers.index)


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
