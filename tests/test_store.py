"""Storage and campaign services on SQLite and PostgreSQL: schema, anonymity, links, resume, rates."""

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
from surveys.answers import AnswerError
from surveys.loader import load_instrument, parse_instrument
from surveys.question_types import frame_columns
from surveys.sealing import progress_key_id
from tests.reference_cells import reference_cell

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"

GOOD = {"role": "staff", "sat": 4, "bored": 2, "ms_1": 5, "ms_2": 1, "enps": 9, "perks": ["bike", "gym"],
        "priorities": ["team", "pay", "growth"], "comment": "fine", "started": "2020-03-01"}


@pytest.fixture(scope="module")
def survey():
    return load_instrument(SURVEY)


def invited_campaign(store, survey, cid="ee1"):
    cp.create_campaign(store, survey, campaign_id=cid, wave="2026-1")
    return cp.open_campaign(store, cid)


# --------------------------------------------------------------------------- schema


def test_migration_of_an_empty_database_gives_the_models_schema(any_store_url):
    """Alembic's initial migration and surveys.store.metadata describe the same tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = db.open_store(any_store_url)
    try:
        with store.read() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        assert diff == []
        assert version == "0006"
        db.open_store(any_store_url).dispose()  # opening again is a no-op upgrade
    finally:
        store.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_store):
    with sqlite_store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == db.SQLITE_BUSY_TIMEOUT_MS


def test_default_sqlite_file_is_created_under_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TANDEM_DATABASE_URL", raising=False)
    store = db.open_store()
    store.dispose()
    assert (tmp_path / "data" / "tandem.db").exists()


def test_unreachable_postgres_names_the_url_without_password_and_the_fix():
    with pytest.raises(db.StoreError) as info:
        db.open_store("postgresql+psycopg://alice:s3cret@127.0.0.1:1/nowhere?connect_timeout=2")
    message = str(info.value)
    assert "s3cret" not in message
    assert "alice:***@127.0.0.1:1/nowhere" in message
    assert "TANDEM_DATABASE_URL" in message


def test_unreadable_or_unsupported_url_is_a_store_error():
    with pytest.raises(db.StoreError, match="cannot be read"):
        db.open_store("not a url")
    with pytest.raises(db.StoreError, match="unsupported database 'mysql'"):
        db.open_store("mysql://u:p@localhost/x")


# --------------------------------------------------------------------------- anonymity


def test_responses_table_has_no_column_linking_to_invitations(any_store):
    columns = {c["name"] for c in sa.inspect(any_store.engine).get_columns("responses")}
    assert columns == {"id", "campaign_id", "unit", "language", "started_at", "submitted_at", "answers"}
    foreign = sa.inspect(any_store.engine).get_foreign_keys("responses")
    assert [f["referred_table"] for f in foreign] == ["campaigns"]
    invitation_columns = {c["name"] for c in sa.inspect(any_store.engine).get_columns("invitations")}
    assert "token" not in invitation_columns and not any("used_at" in c or "response" in c for c in invitation_columns)


def test_a_submitted_response_cannot_be_traced_to_its_token(any_store, survey):
    invited_campaign(any_store, survey)
    tokens = cp.invite(any_store, "ee1", unit="north", count=3)
    cp.save_progress(any_store, "ee1", tokens[1], {"page": 1})
    response_id = cp.submit(any_store, "ee1", GOOD, token=tokens[1], language="en",
                            started_at=dt.datetime(2026, 1, 1, 9, 41, tzinfo=dt.UTC),
                            now=dt.datetime(2026, 1, 1, 10, 17, 33, tzinfo=dt.UTC))
    with any_store.read() as conn:
        response = conn.execute(sa.select(db.responses)).one()._mapping
        dumped = " ".join(str(v) for v in response.values())
        stored = conn.execute(sa.select(db.invitations.c.token_hash, db.invitations.c.status)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(db.progress)).scalar_one() == 0
    assert response["id"] == response_id
    for token in tokens:
        assert token not in dumped and cp.hash_token(token) not in dumped
    assert db.as_utc(response["submitted_at"]) == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert db.as_utc(response["started_at"]) == dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    assert sorted(status for _, status in stored) == ["issued", "issued", "used"]
    assert all(token_hash not in {t for t in tokens} for token_hash, _ in stored)


# --------------------------------------------------------------------------- campaigns and links


def test_instrument_versions_are_registered_once_by_sha256(any_store, survey):
    first = cp.register_instrument(any_store, survey)
    assert cp.register_instrument(any_store, survey.source_text) == first
    edited = parse_instrument(survey.source_text.replace('version: "2"', 'version: "3"'))
    assert cp.register_instrument(any_store, edited) != first


def test_campaign_pins_its_instrument_version(any_store, survey):
    cp.create_campaign(any_store, survey, campaign_id="old")
    edited = parse_instrument(survey.source_text.replace("I like my work.", "I love my work."))
    cp.create_campaign(any_store, edited, campaign_id="new")
    assert cp.get_campaign(any_store, "old").instrument.question("sat").text["en"] == "I like my work."
    assert cp.get_campaign(any_store, "new").instrument.question("sat").text["en"] == "I love my work."


def test_link_states_from_unknown_to_ok(any_store, survey):
    assert cp.resolve_link(any_store, "nope").state == "unknown_campaign"
    cp.create_campaign(any_store, survey, campaign_id="ee1")
    assert cp.resolve_link(any_store, "ee1").state == "draft"
    cp.open_campaign(any_store, "ee1")
    token = cp.invite(any_store, "ee1", unit="south", count=1)[0]
    assert cp.resolve_link(any_store, "ee1").state == "token_needed"
    assert cp.resolve_link(any_store, "ee1", "forged").state == "token_unknown"
    link = cp.resolve_link(any_store, "ee1", token)
    assert link.ok and link.invitation.unit == "south"
    cp.submit(any_store, "ee1", GOOD, token=token)
    assert cp.resolve_link(any_store, "ee1", token).state == "token_used"
    cp.close_campaign(any_store, "ee1")
    assert cp.resolve_link(any_store, "ee1", token).state == "closed"


def test_scheduled_window(any_store, survey, monkeypatch):
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")
    now = db.utcnow()
    cp.create_campaign(any_store, survey, campaign_id="later", mode="open",
                       opens_at=now + dt.timedelta(days=1), closes_at=now + dt.timedelta(days=2))
    cp.open_campaign(any_store, "later")  # "open now" moves the opening time to now
    assert cp.resolve_link(any_store, "later").state == "ok"
    campaign = cp.get_campaign(any_store, "later")
    assert cp.campaign_status(campaign, now=now + dt.timedelta(days=3)) == "closed"
    with pytest.raises(cp.CampaignClosed):
        cp.submit(any_store, "later", GOOD | {"unit": "east"}, now=now + dt.timedelta(days=3))


def test_invalid_campaign_requests_say_how_to_fix(any_store, survey):
    with pytest.raises(cp.CampaignError, match="not a usable campaign id"):
        cp.create_campaign(any_store, survey, campaign_id="Bad Id!")
    with pytest.raises(cp.CampaignError, match="below the instrument's 3"):
        cp.create_campaign(any_store, survey, campaign_id="x", min_group_size=2)
    invited_campaign(any_store, survey)
    with pytest.raises(cp.CampaignError, match="exists already"):
        cp.create_campaign(any_store, survey, campaign_id="ee1")
    with pytest.raises(cp.CampaignError, match="Did you mean 'north'"):
        cp.invite(any_store, "ee1", unit="nort", count=1)
    with pytest.raises(cp.CampaignNotFound, match="Did you mean 'ee1'"):
        cp.get_campaign(any_store, "ee2")
    with pytest.raises(cp.TokenNeeded):
        cp.submit(any_store, "ee1", GOOD)


def test_tokens_are_random_and_stored_only_as_hashes(any_store, survey):
    invited_campaign(any_store, survey)
    tokens = cp.invite(any_store, "ee1", unit="north", count=50)
    assert len(set(tokens)) == 50 and all(len(t) >= 32 for t in tokens)
    with any_store.read() as conn:
        hashes = set(conn.execute(sa.select(db.invitations.c.token_hash)).scalars())
    assert hashes == {cp.hash_token(t) for t in tokens}


def test_invitation_unit_overrides_the_answer(any_store, survey):
    invited_campaign(any_store, survey)
    token = cp.invite(any_store, "ee1", unit="east", count=1)[0]
    cp.submit(any_store, "ee1", GOOD | {"unit": "north"}, token=token)
    frame = responses.responses_frame(any_store, "ee1")
    assert frame["unit"].tolist() == ["east"]


def test_invalid_answers_are_refused_and_nothing_is_stored(any_store, survey):
    invited_campaign(any_store, survey)
    token = cp.invite(any_store, "ee1", unit="east", count=1)[0]
    with pytest.raises(AnswerError) as info:
        cp.submit(any_store, "ee1", GOOD | {"sat": 9}, token=token)
    assert set(info.value.as_dict()) == {"sat"}
    assert responses.response_count(any_store, "ee1") == 0
    assert cp.resolve_link(any_store, "ee1", token).ok  # the token can still answer


# --------------------------------------------------------------------------- resume


def test_resume_across_two_store_objects(any_store_url, survey):
    """A respondent starts on one app process and finishes on another (or after a restart)."""
    first = db.open_store(any_store_url)
    invited_campaign(first, survey)
    token = cp.invite(first, "ee1", unit="north", count=1)[0]
    cp.save_progress(first, "ee1", token, {"state": {"step": 2, "answers": {"role": "staff"}}}, page=2)
    first.dispose()

    second = db.open_store(any_store_url)
    try:
        assert cp.load_progress(second, "ee1", token) == {"state": {"step": 2, "answers": {"role": "staff"}}}
        cp.save_progress(second, "ee1", token, {"state": {"step": 3}}, page=3)
        assert cp.load_progress(second, "ee1", token) == {"state": {"step": 3}}
        cp.submit(second, "ee1", GOOD, token=token)
        assert cp.load_progress(second, "ee1", token) is None
        with pytest.raises(cp.TokenUsed):
            cp.save_progress(second, "ee1", token, {"late": True})
    finally:
        second.dispose()


def test_open_link_progress_uses_a_session_key(any_store, survey, monkeypatch):
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")
    cp.create_campaign(any_store, survey, campaign_id="cx", mode="open")
    cp.open_campaign(any_store, "cx")
    session = cp.new_session_key()
    cp.save_progress(any_store, "cx", session, {"p": 1})
    assert cp.load_progress(any_store, "cx", session) == {"p": 1}
    cp.submit(any_store, "cx", GOOD | {"unit": "north"}, session=session)
    assert cp.load_progress(any_store, "cx", session) is None
    with pytest.raises(cp.CampaignError, match="open link"):
        cp.invite(any_store, "cx", unit="north", count=1)


# --------------------------------------------------------------------------- results


def test_response_rates_suppress_small_groups(any_store, survey):
    invited_campaign(any_store, survey)
    for unit, invited, answered in (("north", 5, 4), ("south", 4, 2), ("east", 2, 0)):
        tokens = cp.invite(any_store, "ee1", unit=unit, count=invited)
        for token in tokens[:answered]:
            cp.submit(any_store, "ee1", GOOD, token=token)
    rates = responses.response_rates(any_store, "ee1").set_index("unit")
    assert rates.loc["north", "responses"] == 4 and rates.loc["north", "response_rate"] == pytest.approx(0.8)
    assert rates.loc["south", "responses"] == "fewer than 3" and pd.isna(rates.loc["south", "response_rate"])
    assert rates.loc["east", "responses"] == "fewer than 3" and bool(rates.loc["east", "suppressed"])
    assert rates.loc["(all units)", "responses"] == 6
    assert rates.loc["(all units)", "invited"] == 11
    listing = cp.list_campaigns(any_store).set_index("campaign")
    assert listing.loc["ee1", "invited"] == 11 and listing.loc["ee1", "responses"] == 6


def test_responses_frame_follows_the_contract(any_store, survey):
    invited_campaign(any_store, survey)
    tokens = cp.invite(any_store, "ee1", unit="north", count=2)
    cp.submit(any_store, "ee1", GOOD, token=tokens[0], language="de")
    cp.submit(any_store, "ee1", {"role": "manager", "team_size": 12, "sat": 2, "ms_1": 3, "ms_2": 4, "enps": 0},
              token=tokens[1])
    frame = responses.responses_frame(any_store, "ee1").sort_values("sat")
    assert list(frame.columns[:6]) == ["response_id", "campaign", "wave", "unit", "language", "submitted_at"]
    assert list(frame.columns[6:]) == ["role", "team_size", "started", "sat", "bored", "ms_1", "ms_2", "enps",
                                       "perks__gym", "perks__lunch", "perks__bike", "shift", "priorities__pay",
                                       "priorities__team", "priorities__growth", "comment"]
    first, second = frame.iloc[1], frame.iloc[0]
    assert (first["sat"], first["ms_2"], first["enps"]) == (4.0, 1.0, 9.0)
    assert (first["perks__gym"], first["perks__lunch"], first["perks__bike"]) == (1.0, 0.0, 1.0)
    assert (first["priorities__team"], first["priorities__pay"], first["priorities__growth"]) == (1.0, 2.0, 3.0)
    assert first["language"] == "de" and first["wave"] == "2026-1" and first["started"] == "2020-03-01"
    assert second["team_size"] == 12.0 and np.isnan(second["perks__gym"]) and second["bored"] != second["bored"]
    assert frame["sat"].dtype == float and str(frame["submitted_at"].dt.tz) == "UTC"


def test_import_frame_round_trips_the_wide_frame(any_store, survey):
    invited_campaign(any_store, survey)
    tokens = cp.invite(any_store, "ee1", unit="south", count=3)
    for token, sat in zip(tokens, (1, 3, 5), strict=True):
        cp.submit(any_store, "ee1", GOOD | {"sat": sat}, token=token)
    frame = responses.responses_frame(any_store, "ee1")
    cp.create_campaign(any_store, survey, campaign_id="copy", wave="2026-1")
    assert responses.import_frame(any_store, "copy", frame) == 3
    copied = responses.responses_frame(any_store, "copy")
    columns = [c for c in frame.columns if c not in ("response_id", "campaign")]
    left = frame.sort_values("sat")[columns].reset_index(drop=True)
    right = copied.sort_values("sat")[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


def test_hostile_values_never_reach_the_driver_as_errors(any_store, survey):
    """NUL characters, huge ids and tokens give the documented errors, not driver tracebacks."""
    invited_campaign(any_store, survey)
    token = cp.invite(any_store, "ee1", unit="north", count=1)[0]
    cp.save_progress(any_store, "ee1", token, {"comment": "a\x00b", "k\x00": ["\x00" * 10]})
    assert cp.load_progress(any_store, "ee1", token) == {"comment": "a\x00b", "k\x00": ["\x00" * 10]}
    assert cp.resolve_link(any_store, "x" * 100_000, "t").state == "unknown_campaign"
    assert cp.resolve_link(any_store, "ee1\x00", "t").state == "unknown_campaign"
    assert cp.resolve_link(any_store, "ee1", "\x00" * 100_000).state == "token_unknown"
    cp.submit(any_store, "ee1", GOOD | {"comment": "x\x00y", "\x00": 1}, token=token, language="\x00" * 1000)
    frame = responses.responses_frame(any_store, "ee1")
    assert frame["comment"].tolist() == ["xy"] and frame["language"].tolist() == ["en"]


def test_a_respondent_starts_in_one_process_and_finishes_in_another(any_store_url, survey):
    """Progress saved by another OS process (another app server) is continued and submitted here."""
    import subprocess
    import sys

    store = db.open_store(any_store_url)
    try:
        invited_campaign(store, survey)
        token = cp.invite(store, "ee1", unit="south", count=1)[0]
        script = ("import sys; from surveys import campaigns as cp, store as db; s = db.open_store(sys.argv[1]); "
                  "cp.save_progress(s, 'ee1', sys.argv[2], {'answers': {'role': 'manager'}, 'step': 1}, page=1)")
        done = subprocess.run([sys.executable, "-c", script, any_store_url, token], capture_output=True, text=True,
                              cwd=Path(__file__).parents[1], timeout=120)
        assert done.returncode == 0, done.stderr
        saved = cp.load_progress(store, "ee1", token)
        assert saved == {"answers": {"role": "manager"}, "step": 1}
        cp.submit(store, "ee1", GOOD | saved["answers"] | {"team_size": 4}, token=token)
        assert responses.responses_frame(store, "ee1")["team_size"].tolist() == [4.0]
        assert cp.load_progress(store, "ee1", token) is None
    finally:
        store.dispose()


def test_deleted_partial_progress_leaves_no_trace_in_the_sqlite_file(sqlite_store, survey, tmp_path):
    """secure_delete: progress kept under the token hash is overwritten when the response is stored."""
    invited_campaign(sqlite_store, survey)
    token = cp.invite(sqlite_store, "ee1", unit="north", count=1)[0]
    cp.save_progress(sqlite_store, "ee1", token, {"draft": "MARKER-7f3a9c-unsubmitted"})
    cp.submit(sqlite_store, "ee1", GOOD, token=token)
    with sqlite_store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    content = b"".join(p.read_bytes() for p in tmp_path.glob("tandem.db*"))
    assert b"MARKER-7f3a9c" not in content
    assert cp.hash_token(token).encode() in content  # the invitation (used) is still there


@pytest.mark.postgres
def test_postgres_row_order_and_xmin_do_not_reveal_which_invitation_answered(postgres_store, survey):
    """Physical order (ctid) stays the issue order and xmin is shared by the whole unit."""
    import random

    invited_campaign(postgres_store, survey)
    tokens = cp.invite(postgres_store, "ee1", unit="north", count=12)
    with postgres_store.read() as conn:
        issued = conn.exec_driver_sql("SELECT token_hash FROM invitations ORDER BY ctid").scalars().all()
    used = random.Random(3).sample(tokens, 7)
    for token in used:
        cp.submit(postgres_store, "ee1", GOOD, token=token)
    with postgres_store.read() as conn:
        rows = conn.exec_driver_sql("SELECT token_hash, status, xmin::text FROM invitations ORDER BY ctid").all()
        last_response_xmin = conn.exec_driver_sql(
            "SELECT xmin::text FROM responses ORDER BY ctid DESC LIMIT 1").scalar_one()
    assert [r[0] for r in rows] == issued
    assert {r[0] for r in rows if r[1] == "used"} == {cp.hash_token(t) for t in used}
    assert {r[2] for r in rows} == {last_response_xmin}


def _reference_frame(campaign, records) -> pd.DataFrame:
    """The wide frame built the straightforward way: one response, one cell at a time."""
    rows = []
    for rec in sorted(records, key=lambda r: (r["submitted_at"], r["id"])):
        answers = rec["answers"]
        row = {"response_id": rec["id"], "campaign": campaign.id, "wave": campaign.wave, "unit": rec["unit"],
               "language": rec["language"], "submitted_at": rec["submitted_at"]}
        for name, q, option in frame_columns(campaign.instrument):
            row[name] = reference_cell(q, option, answers)
        rows.append(row)
    names = list(responses.META_COLUMNS) + [name for name, _, _ in frame_columns(campaign.instrument)]
    frame = pd.DataFrame(rows, columns=names)
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    for name, q, _ in frame_columns(campaign.instrument):
        numeric = q.type not in ("single_choice", "dropdown", "text", "date")
        frame[name] = frame[name].astype(float) if numeric else frame[name].astype(object)
    return frame


def _random_answers(survey, rng) -> dict:
    """Answers with every question type, each question skipped now and then (lists may be empty)."""
    answers = {}
    for q in survey.questions:
        if rng.random() < 0.25:
            continue
        if q.type in ("likert", "rating", "number"):
            answers[q.id] = int(rng.integers(1, 6)) if rng.random() < 0.8 else 2.5
        elif q.type == "matrix":
            answers.update({row.id: int(rng.integers(1, 6)) for row in q.rows if rng.random() < 0.8})
        elif q.type in ("multi_choice", "ranking"):
            values = [o.value for o in q.options]
            answers[q.id] = [str(v) for v in rng.permutation(values)[: rng.integers(0, len(values) + 1)]]
        elif q.type in ("single_choice", "dropdown"):
            answers[q.id] = q.options[int(rng.integers(len(q.options)))].value
        elif q.type == "text":
            answers[q.id] = rng.choice(["fine", "", "Grüße, \"quoted\"\n✓"])
        elif q.type == "date":
            answers[q.id] = f"2020-0{int(rng.integers(1, 10))}-01"
        elif q.type == "unit":
            answers[q.id] = survey.units[int(rng.integers(len(survey.units)))].id
    return answers


@pytest.mark.parametrize("chunk", [responses.LOAD_CHUNK, 7])
def test_responses_frame_equals_a_row_by_row_reference(any_store, survey, monkeypatch, chunk):
    """The column-wise, chunked loader gives exactly the frame built one cell at a time."""
    monkeypatch.setattr(responses, "LOAD_CHUNK", chunk)
    campaign = invited_campaign(any_store, survey)
    pd.testing.assert_frame_equal(responses.responses_frame(any_store, "ee1"), _reference_frame(campaign, []))
    rng = np.random.default_rng(5)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    records = []
    for k in range(30):
        answers = _random_answers(survey, rng)
        records.append({"id": f"r{k:03d}", "campaign_id": "ee1", "unit": answers.get(survey.unit_question),
                        "language": str(rng.choice(survey.languages)), "started_at": None,
                        "submitted_at": start + dt.timedelta(hours=int(rng.integers(0, 5))), "answers": answers})
    any_store.run(lambda conn: conn.execute(db.responses.insert(), records))
    frame = responses.responses_frame(any_store, "ee1")
    expected = _reference_frame(campaign, records)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert frame["perks__gym"].isna().any() and (frame["perks__gym"] == 0).any()  # skipped and empty lists
    assert frame["comment"].map(lambda v: v is None).any() and frame["priorities__pay"].isna().any()


# --------------------------------------------------------------------------- sealed progress


def test_progress_is_kept_under_a_derived_key_and_sealed(any_store, survey):
    """The progress row's id is not the invitation's hash and its content is not readable."""
    import hashlib

    invited_campaign(any_store, survey)
    token = cp.invite(any_store, "ee1", unit="north", count=1)[0]
    cp.save_progress(any_store, "ee1", token, {"comment": "SECRET-MARKER-41 my manager"}, page=2,
                     now=dt.datetime(2026, 1, 1, 10, 17, 33, 123, tzinfo=dt.UTC))
    with any_store.read() as conn:
        (row,) = conn.execute(sa.select(db.progress)).all()
        token_hash = conn.execute(sa.select(db.invitations.c.token_hash)).scalar_one()
    assert row.key_id == progress_key_id("ee1", token) != token_hash
    assert row.key_id not in {hashlib.sha256(token_hash.encode()).hexdigest(), hashlib.sha256(token.encode()).hexdigest()}
    assert b"SECRET-MARKER-41" not in bytes(row.sealed) and b"manager" not in bytes(row.sealed)
    assert len(row.sealed) >= 1024  # padded: the length says little about what was written
    assert db.as_utc(row.updated_at) == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert cp.load_progress(any_store, "ee1", token, now=dt.datetime(2026, 1, 1, 11, tzinfo=dt.UTC)) == {
        "comment": "SECRET-MARKER-41 my manager"}
    other = cp.invite(any_store, "ee1", unit="north", count=1)[0]
    assert cp.load_progress(any_store, "ee1", other) is None


def test_tampered_or_moved_progress_is_not_opened(any_store, survey):
    """AES-GCM authenticates the row: a changed byte, or a sealed value copied to another row, reads as nothing."""
    invited_campaign(any_store, survey)
    first, second = cp.invite(any_store, "ee1", unit="north", count=2)
    cp.save_progress(any_store, "ee1", first, {"a": 1})
    cp.save_progress(any_store, "ee1", second, {"b": 2})
    p = db.progress
    with any_store.write() as conn:
        sealed = conn.execute(sa.select(p.c.sealed).where(p.c.key_id == progress_key_id("ee1", first))).scalar_one()
        conn.execute(p.update().where(p.c.key_id == progress_key_id("ee1", second)).values(sealed=sealed))
        flipped = bytearray(sealed)
        flipped[-1] ^= 1
        conn.execute(p.update().where(p.c.key_id == progress_key_id("ee1", first)).values(sealed=bytes(flipped)))
    assert cp.load_progress(any_store, "ee1", first) is None
    assert cp.load_progress(any_store, "ee1", second) is None


def test_closing_a_campaign_deletes_unfinished_progress(any_store, survey):
    invited_campaign(any_store, survey)
    cp.create_campaign(any_store, survey, campaign_id="other")
    cp.open_campaign(any_store, "other")
    token = cp.invite(any_store, "ee1", unit="north", count=1)[0]
    kept = cp.invite(any_store, "other", unit="north", count=1)[0]
    cp.save_progress(any_store, "ee1", token, {"a": 1})
    cp.save_progress(any_store, "other", kept, {"b": 1})
    cp.close_campaign(any_store, "ee1")
    assert cp.load_progress(any_store, "ee1", token) is None
    assert cp.load_progress(any_store, "other", kept) == {"b": 1}
    with pytest.raises(cp.CampaignClosed):
        cp.save_progress(any_store, "ee1", token, {"a": 2})
    cp.open_campaign(any_store, "ee1")  # reopened: the link answers again, from the start
    assert cp.resolve_link(any_store, "ee1", token).ok and cp.load_progress(any_store, "ee1", token) is None


def test_progress_past_the_closing_time_is_purged(any_store, survey):
    now = db.utcnow()
    cp.create_campaign(any_store, survey, campaign_id="ee1", closes_at=now + dt.timedelta(days=1))
    cp.open_campaign(any_store, "ee1")
    token = cp.invite(any_store, "ee1", unit="north", count=1)[0]
    cp.save_progress(any_store, "ee1", token, {"a": 1})
    assert cp.purge_progress(any_store, now=now) == 0
    assert cp.purge_progress(any_store, now=now + dt.timedelta(days=2)) == 1
    assert cp.load_progress(any_store, "ee1", token) is None


def test_abandoned_progress_is_purged_after_the_retention_period(any_store, survey, monkeypatch):
    monkeypatch.setenv("TANDEM_PROGRESS_RETENTION_DAYS", "3")
    assert cp.progress_retention() == dt.timedelta(days=3)
    invited_campaign(any_store, survey)
    old, fresh = cp.invite(any_store, "ee1", unit="north", count=2)
    start = db.utcnow()
    cp.save_progress(any_store, "ee1", old, {"a": 1}, now=start)
    assert cp.load_progress(any_store, "ee1", old, now=start + dt.timedelta(days=2)) == {"a": 1}
    assert cp.load_progress(any_store, "ee1", old, now=start + dt.timedelta(days=4)) is None  # expired, not yet purged
    cp.save_progress(any_store, "ee1", fresh, {"b": 1}, now=start + dt.timedelta(days=4))  # a save purges
    with any_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.progress)).scalar_one() == 1
    assert cp.purge_progress(any_store, now=start + dt.timedelta(days=8)) == 1


@pytest.mark.parametrize("value", ["0", "-1", "thirty", "1.5", "99999"])
def test_a_bad_retention_setting_says_how_to_fix_it(monkeypatch, value):
    monkeypatch.setenv("TANDEM_PROGRESS_RETENTION_DAYS", value)
    with pytest.raises(cp.CampaignError, match="TANDEM_PROGRESS_RETENTION_DAYS"):
        cp.progress_retention()


def test_open_links_are_refused_for_employee_surveys(any_store, survey, monkeypatch):
    monkeypatch.delenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", raising=False)
    with pytest.raises(cp.CampaignError) as info:
        cp.create_campaign(any_store, survey, campaign_id="ee-open", mode="open")
    message = str(info.value)
    assert "made-up answers" in message and "TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS=1" in message and "invited" in message
    assert cp.list_campaigns(any_store).empty
    customer = parse_instrument(survey.source_text.replace("audience: employee", "audience: customer"))
    assert cp.create_campaign(any_store, customer, campaign_id="cx-open", mode="open").mode == "open"
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")
    assert cp.create_campaign(any_store, survey, campaign_id="ee-open", mode="open").mode == "open"


def test_stored_times_of_respondent_data_are_whole_hours(any_store, survey):
    invited_campaign(any_store, survey)
    token, other = cp.invite(any_store, "ee1", unit="north", count=2)
    cp.save_progress(any_store, "ee1", other, {"a": 1})
    cp.submit(any_store, "ee1", GOOD, token=token, started_at=db.utcnow())
    with any_store.read() as conn:
        times = [conn.execute(sa.select(column)).scalars().all()
                 for column in (db.instrument_versions.c.created_at, db.campaigns.c.created_at,
                                db.invitations.c.created_at, db.progress.c.updated_at,
                                db.responses.c.started_at, db.responses.c.submitted_at)]
    assert all(t.minute == t.second == t.microsecond == 0 for column in times for t in column)
