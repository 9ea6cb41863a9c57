"""Bulk import of responses: every row validated, all stored or none, in chunks (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.simulate import simulate_responses
from services.imports import import_responses
from surveys import campaigns, responses
from surveys.loader import load_instrument

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"


@pytest.fixture
def history(tmp_path):
    instrument = load_instrument(SURVEY)
    frame = simulate_responses(instrument, n_units=2, respondents_per_unit=6, seed=5).drop(columns=["response_id"])
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    return instrument, frame, path


def test_every_row_is_imported_in_chunks(any_store, history):
    instrument, frame, path = history
    campaigns.create_campaign(any_store, instrument, campaign_id="hist")
    seen = []
    report = import_responses(any_store, "hist", path, chunk_rows=5, progress=lambda stage, n: seen.append(stage))
    assert report.ok and report.imported == report.rows == len(frame)
    assert seen.count("checking") == 3 and seen.count("storing") == 3  # 12 rows in chunks of 5
    stored = responses.responses_frame(any_store, "hist")
    items = [i.id for i in instrument.items]
    pd.testing.assert_frame_equal(stored[items].reset_index(drop=True), frame[items].reset_index(drop=True),
                                  check_dtype=False)


def test_one_bad_row_imports_nothing_and_is_named(any_store, history, tmp_path):
    instrument, frame, _ = history
    campaigns.create_campaign(any_store, instrument, campaign_id="hist")
    bad = frame.copy()
    bad.loc[2, "sat"] = 17  # outside the 1-5 scale
    bad.loc[9, "unit"] = "atlantis"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    report = import_responses(any_store, "hist", path, chunk_rows=4)
    assert not report.ok and report.imported == 0 and report.refused == 2
    assert report.problems["row"].tolist() == [4, 11]  # CSV lines: the header is line 1
    assert "sat" in report.problems["problem"].iloc[0] and "unit" in report.problems["problem"].iloc[1]
    assert responses.response_count(any_store, "hist") == 0


def test_the_command_reports_refused_rows_and_exits_1(history, tmp_path, monkeypatch):
    from surveys.store import open_store
    from tandem_cli.main import app

    instrument, frame, path = history
    url = f"sqlite:///{tmp_path / 'import.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    store = open_store(url)
    campaigns.create_campaign(store, instrument, campaign_id="hist")
    store.dispose()
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(path), "--campaign", "hist"]).output.strip() == \
        f"Imported {len(frame)} responses into hist."
    bad = tmp_path / "bad.csv"
    frame.assign(sat=99).to_csv(bad, index=False)
    result = runner.invoke(app, ["import", str(bad), "--campaign", "hist"])
    assert result.exit_code == 1 and "Nothing imported" in result.output and "row 2:" in result.output
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--campaign", "hist"])
    assert missing.exit_code == 1 and "no such file" in missing.output and "Traceback" not in missing.output
