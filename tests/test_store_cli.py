"""``tandem campaign/invite/export/demo`` and the demo data in the store."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

from services import demo
from surveys import campaigns as cp
from surveys import responses
from surveys.loader import load_instrument
from tandem_cli.main import app

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"


@pytest.fixture
def cli(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("TANDEM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TANDEM_BASE_URL", "https://survey.example.org/")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_campaign_lifecycle_invitations_and_export(cli, tmp_path, sqlite_url):
    result = cli("campaign", "create", "ee1", "--instrument", SURVEY, "--wave", "2026-1", "--open")
    assert result.exit_code == 0, result.output
    assert "Created campaign ee1 (invited, open)" in result.output
    result = cli("invite", "--campaign", "ee1", "--unit", "south", "--count", 4, "--out", tmp_path / "t.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert len(rows) == 4 and {r["unit"] for r in rows} == {"south"}
    assert rows[0]["link"] == f"https://survey.example.org/?c=ee1&t={rows[0]['token']}"

    from surveys.store import open_store

    store = open_store(sqlite_url)
    cp.submit(store, "ee1", {"role": "staff", "sat": 5, "ms_1": 4, "ms_2": 2, "enps": 10}, token=rows[0]["token"])
    store.dispose()

    listing = cli("campaign", "list")
    assert "ee1" in listing.output and "store_survey" in listing.output
    result = cli("export", "--campaign", "ee1", "--format", "sav", "--out", tmp_path / "out" / "ee1.sav")
    assert result.exit_code == 1 and "no row of campaign 'ee1' can be handed out yet" in result.output  # 1 < k
    result = cli("export", "--campaign", "ee1", "--format", "sav", "--raw", "--out", tmp_path / "out" / "ee1.sav")
    assert result.exit_code == 1 and "--as" in result.output
    result = cli("export", "--campaign", "ee1", "--format", "sav", "--raw", "--as", "hr@example.org",
                 "--out", tmp_path / "out" / "ee1.sav")
    assert result.exit_code == 0, result.output
    data, meta = pyreadstat.read_sav(str(tmp_path / "out" / "ee1.sav"))
    assert data["sat"].tolist() == [5.0] and data["unit"].tolist() == ["south"]
    assert (tmp_path / "out" / "ee1-dictionary.csv").exists()
    from surveys.audit import export_log

    store = open_store(sqlite_url)
    assert export_log(store, "ee1")[["actor", "kind"]].values.tolist() == [["cli:hr@example.org", "raw-sav"]]
    store.dispose()
    assert cli("campaign", "close", "ee1").output.strip() == "Campaign ee1 is closed."


def test_cli_errors_are_one_line_with_a_fix(cli):
    cli("campaign", "create", "ee1", "--instrument", SURVEY)
    result = cli("invite", "--campaign", "ee1", "--unit", "sout", "--count", 2)
    assert result.exit_code == 1
    assert "Did you mean 'south'?" in result.output and "Traceback" not in result.output
    result = cli("campaign", "open", "ee9")
    assert result.exit_code == 1 and "Did you mean 'ee1'?" in result.output
    result = cli("campaign", "create", "x", "--instrument", SURVEY, "--opens", "soon")
    assert result.exit_code == 1 and "'soon' is not a date or time" in result.output


def test_unreachable_database_is_reported_without_password(cli, monkeypatch):
    monkeypatch.setenv("TANDEM_DATABASE_URL", "postgresql+psycopg://bob:hunter2@127.0.0.1:1/x?connect_timeout=2")
    result = cli("campaign", "list")
    assert result.exit_code == 1
    assert "hunter2" not in result.output and "bob:***@127.0.0.1:1/x" in result.output


def test_demo_stores_the_simulated_chain(sqlite_store):
    from analysis.simulate import simulate_service_profit_chain

    result = demo.seed_demo(sqlite_store, seed=7, n_units=6)
    employee = load_instrument(demo.INSTRUMENTS / "employee_experience.yaml")
    customer = load_instrument(demo.INSTRUMENTS / "customer_experience.yaml")
    chain = simulate_service_profit_chain(employee, customer, n_units=6, seed=7, wave="2026-1")
    assert (result.employees, result.customers) == (len(chain.employees), len(chain.customers))
    for campaign, truth in ((result.employee_campaign, chain.employees), (result.customer_campaign, chain.customers)):
        stored = responses.responses_frame(sqlite_store, campaign)
        assert list(stored.columns) == list(truth.columns)
        numeric = [c for c in truth.columns if c not in demo_meta() and pd.api.types.is_numeric_dtype(truth[c])]
        left = stored.groupby("unit")[numeric].agg(["mean", "count"])
        right = truth.groupby("unit")[numeric].agg(["mean", "count"])
        np.testing.assert_allclose(left.to_numpy(float), right.to_numpy(float), rtol=1e-12)
    rates = responses.response_rates(sqlite_store, result.employee_campaign).set_index("unit")
    assert 0.6 < rates.loc["(all units)", "response_rate"] <= 0.73
    assert len(result.employee_tokens) == 5
    assert all(cp.resolve_link(sqlite_store, result.employee_campaign, t).ok for t in result.employee_tokens)
    assert cp.resolve_link(sqlite_store, result.customer_campaign).ok
    with pytest.raises(cp.CampaignError, match="exists already"):
        demo.seed_demo(sqlite_store)


def demo_meta():
    return set(responses.META_COLUMNS)


def test_demo_if_empty_runs_once(cli):
    first = cli("demo", "--if-empty")
    assert first.exit_code == 0, first.output
    assert "https://survey.example.org/?c=demo-customers" in first.output
    second = cli("demo", "--if-empty")
    assert second.exit_code == 0 and "no demo data added" in second.output
