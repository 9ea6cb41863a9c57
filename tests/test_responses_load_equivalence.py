"""The fast loader of ``responses_frame`` against a plain reading of the store, on SQLite and PostgreSQL.

``surveys.responses.responses_frame`` reads the answers on the driver's cursor, parses
their JSON with orjson, decodes chunk by chunk and asks PostgreSQL for UTC wall times.
The reference here does none of that: it reads the rows through SQLAlchemy (its JSON
and DateTime types), then builds every cell one at a time. Both must give the same
frame (values, missing markers, dtypes, column order) for every question type,
answers skipped or hidden by ``show_if``, hostile texts and several chunks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from surveys import campaigns as cp
from surveys import responses
from surveys import store as db
from surveys.loader import load_instrument
from surveys.question_types import frame_columns
from tests.reference_cells import reference_cell

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"

#: Texts that break naive quoting, escaping or decoding (JSON, SQL, JSON paths, UTF-8).
HOSTILE = ['say "hi"', "back\\slash", '\\"', "\\u0041 not an escape", "it's; DROP TABLE responses; --",
           "line\nbreak\ttab\r", "Grüße ✓ 😀 עברית 中文", "e\u0301", "\u2028\u2029", '{"json": [1, 2]}', "$.comment",
           "null", "NaN", "", " ", "\u0000nul", "x" * 60]
#: Numbers as a JSON document may hold them for numeric items.
NUMBERS = [1, 5, 3, 2.5, 0.1 + 0.2, 1e-7, -4, 0, 10, 123456789012]


def _answers(survey, rng: np.random.Generator) -> dict:
    """One stored response: every question type, some skipped, team_size only for managers (show_if)."""
    answers = {}
    for q in survey.questions:
        if q.type != "unit" and rng.random() < 0.2:
            continue
        if q.id == "team_size":
            if answers.get("role") == "manager":  # hidden (absent) for everybody else
                answers[q.id] = int(rng.integers(1, 500))
        elif q.type in ("likert", "rating", "number"):
            answers[q.id] = NUMBERS[int(rng.integers(len(NUMBERS)))]
        elif q.type == "matrix":
            answers.update({row.id: NUMBERS[int(rng.integers(len(NUMBERS)))] for row in q.rows if rng.random() < 0.8})
        elif q.type in ("multi_choice", "ranking"):
            values = [o.value for o in q.options]
            answers[q.id] = [str(v) for v in rng.permutation(values)[: rng.integers(0, len(values) + 1)]]
        elif q.type in ("single_choice", "dropdown"):
            answers[q.id] = q.options[int(rng.integers(len(q.options)))].value
        elif q.type == "text":
            answers[q.id] = HOSTILE[int(rng.integers(len(HOSTILE)))]
        elif q.type == "date":
            answers[q.id] = f"2020-0{int(rng.integers(1, 10))}-01"
        elif q.type == "unit" and rng.random() < 0.9:
            answers[q.id] = survey.units[int(rng.integers(len(survey.units)))].id
    return answers


def _reference(store, campaign) -> pd.DataFrame:
    """The wide frame read the plain way: SQLAlchemy rows, then one cell at a time."""
    r = db.responses
    with store.read() as conn:
        rows = conn.execute(sa.select(r).where(r.c.campaign_id == campaign.id)).all()
    records = []
    for row in sorted(rows, key=lambda row: (db.as_utc(row.submitted_at), row.id)):
        record = {"response_id": row.id, "campaign": campaign.id, "wave": campaign.wave, "unit": row.unit,
                  "language": row.language, "submitted_at": db.as_utc(row.submitted_at)}
        for name, q, option in frame_columns(campaign.instrument):
            record[name] = reference_cell(q, option, row.answers)
        records.append(record)
    frame = pd.DataFrame(records, columns=list(responses.META_COLUMNS)
                         + [name for name, _, _ in frame_columns(campaign.instrument)])
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    for name, q, _ in frame_columns(campaign.instrument):
        text = q.type in ("single_choice", "dropdown", "text", "date")
        frame[name] = frame[name].astype(object) if text else frame[name].astype(float)
    for name in ("response_id", "campaign", "wave", "unit", "language"):
        frame[name] = frame[name].astype(object)
    return frame


def _assert_same(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    for name in frame.select_dtypes(object).columns:  # None stays None (assert_frame_equal equates None and NaN)
        assert frame[name].map(type).tolist() == expected[name].map(type).tolist(), name


@pytest.mark.parametrize("chunk", [responses.LOAD_CHUNK, 1, 13])
def test_fast_load_equals_the_plain_reading(any_store, monkeypatch, chunk):
    """Every type, skipped and hidden answers, hostile texts, ties in time: one frame, one or many chunks."""
    monkeypatch.setattr(responses, "LOAD_CHUNK", chunk)
    survey = load_instrument(SURVEY)
    cp.create_campaign(any_store, survey, campaign_id="load", wave="2026-2")
    campaign = cp.get_campaign(any_store, "load")
    empty = responses.responses_frame(any_store, "load")
    _assert_same(empty, _reference(any_store, campaign))
    rng = np.random.default_rng(11)
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    records = []
    for k in range(60):
        answers = _answers(survey, rng)
        records.append({"id": f"r{int(rng.integers(10_000)):05d}-{k:02d}", "campaign_id": "load",
                        "unit": answers.get(survey.unit_question), "language": str(rng.choice(survey.languages)),
                        "started_at": None, "submitted_at": start + dt.timedelta(hours=int(rng.integers(0, 4))),
                        "answers": answers})
    any_store.run(lambda conn: conn.execute(db.responses.insert(), records))
    frame = responses.responses_frame(any_store, "load")
    expected = _reference(any_store, campaign)
    _assert_same(frame, expected)
    assert len(frame) == 60 and frame["comment"].isin(HOSTILE).sum() > 20
    assert frame["team_size"].notna().any() and frame.loc[frame["role"] != "manager", "team_size"].isna().all()
    assert (frame["perks__gym"] == 0).any() and frame["perks__gym"].isna().any() and frame["unit"].isna().any()
    assert frame["submitted_at"].duplicated().any()  # ties are ordered by id
