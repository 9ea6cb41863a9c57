"""``tandem analyze ...`` and ``tandem report``: tables, --json against the documented schemas, clear errors."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from analysis.scoring import score
from analysis.simulate import simulate_responses
from reports.html import SECTIONS
from surveys.loader import load_instrument
from tandem_cli.main import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "insight_fixtures" / "small_survey.yaml"
SCHEMAS = ROOT / "reports" / "schemas"
runner = CliRunner()


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    instrument = load_instrument(SMALL)
    frame = simulate_responses(instrument, n_units=8, respondents_per_unit=(15, 30), seed=7)
    path = tmp_path_factory.mktemp("cli") / "responses.csv"
    frame.to_csv(path, index=False)
    return path, frame, instrument


def run(*args: str):
    return runner.invoke(app, list(args))


def as_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def validate(document: dict) -> None:
    schema = json.loads((SCHEMAS / f"{document['command']}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema)


@pytest.mark.parametrize("command", ["reliability", "efa", "cfa", "aggregate"])
def test_json_output_validates_against_its_schema(command, data_file):
    path, frame, _ = data_file
    document = as_json("analyze", command, "--data", str(path), "--instrument", str(SMALL))
    validate(document)
    assert document["command"] == command and document["n"] == len(frame)
    assert document["instrument"] == "insight_small@1"


def test_drivers_json_matches_the_analysis(data_file):
    from analysis.drivers import relative_weights

    path, frame, instrument = data_file
    document = as_json("analyze", "drivers", "--data", str(path), "--instrument", str(SMALL), "--bootstrap", "30")
    validate(document)
    (result,) = document["results"]
    expected = relative_weights(score(frame, instrument), "engagement", ["manager_support", "training", "tools"],
                                bootstrap=30, seed=1)
    assert result["outcome"] == "engagement" and result["n"] == expected.n
    assert result["r2"] == pytest.approx(expected.r2)
    ranked = expected.ranked()
    assert [row["predictor"] for row in result["table"]] == list(ranked["predictor"])
    assert [row["pct_ci_upper"] for row in result["table"]] == pytest.approx(list(ranked["pct_ci_upper"]))


def test_reliability_numbers_are_the_analysis_numbers(data_file):
    from analysis.reliability import alpha

    path, frame, instrument = data_file
    document = as_json("analyze", "reliability", "--data", str(path), "--instrument", str(SMALL))
    by_id = {row["construct"]: row for row in document["constructs"]}
    expected = alpha(score(frame, instrument)[["manager_support_1", "manager_support_2", "manager_support_3"]])
    assert by_id["manager_support"]["alpha"] == pytest.approx(expected.alpha)
    assert by_id["manager_support"]["ci_lower"] == pytest.approx(expected.ci_lower)
    assert {row["item"] for row in document["items"]} >= {"tools_3", "engagement_1"}


def test_sem_with_a_model_file(data_file, tmp_path):
    path, _, _ = data_file
    model = tmp_path / "model.lav"
    model.write_text("support =~ manager_support_1 + manager_support_2 + manager_support_3\n"
                     "engage =~ engagement_1 + engagement_2 + engagement_3\nengage ~ support\n")
    document = as_json("analyze", "sem", "--data", str(path), "--model", str(model))
    validate(document)
    assert document["instrument"] is None
    assert any(r["op"] == "~" and r["lhs"] == "engage" for r in document["estimates"])
    assert document["fit_measures"]["df"] == 8


def test_human_readable_tables(data_file):
    path, _, _ = data_file
    result = run("analyze", "aggregate", "--data", str(path), "--instrument", str(SMALL))
    assert result.exit_code == 0, result.output
    assert "Aggregation to 'unit'" in result.output
    assert "engagement:" in result.output or "justified" in result.output  # verdicts in words


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "missing.csv", "--instrument", "employee_experience"], "file not found"),
    (["--data", "{data}", "--instrument", "employe_experience"], "Did you mean 'employee_experience'"),
    (["--data", "{data}"], "--instrument is needed"),
    ([], "exactly one of --data FILE or --campaign C"),
])
def test_errors_are_one_line_without_traceback(args, message, data_file):
    path, _, _ = data_file
    result = run("analyze", "reliability", *[a.replace("{data}", str(path)) for a in args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_command_writes_a_self_contained_file(data_file, tmp_path):
    path, _, _ = data_file
    out = tmp_path / "report.html"
    result = run("report", "--data", str(path), "--instrument", str(SMALL), "--out", str(out), "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    ids: list[str] = []

    class Ids(HTMLParser):
        def handle_starttag(self, tag, attrs):
            ids.extend(v for k, v in attrs if k == "id")

    Ids().feed(html)
    assert set(SECTIONS) <= set(ids)
    assert "Wrote" in result.output


def test_report_command_needs_data():
    result = run("report", "--out", "x.html")
    assert result.exit_code == 1 and "nothing to report on" in result.output


def test_report_and_reliability_from_stored_campaigns(tmp_path, monkeypatch):
    """``--campaign`` and ``--campaign-employee/--campaign-customer`` read the store."""
    from services.demo import CUSTOMER_CAMPAIGN, EMPLOYEE_CAMPAIGN, seed_demo
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    store = open_store(url)
    seed_demo(store)
    store.dispose()
    document = as_json("analyze", "reliability", "--campaign", EMPLOYEE_CAMPAIGN)
    validate(document)
    assert document["source"] == f"campaign {EMPLOYEE_CAMPAIGN}"
    assert document["instrument"].startswith("employee_experience@")
    out = tmp_path / "report.html"
    result = run("report", "--study", str(ROOT / "instruments" / "studies" / "service_profit_chain.yaml"),
                 "--campaign-employee", EMPLOYEE_CAMPAIGN, "--campaign-customer", CUSTOMER_CAMPAIGN,
                 "--out", str(out), "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "The service-profit chain" in html and "Is aggregating to units justified?" in html
