"""``tandem analyze study`` and ``tandem power`` from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tandem_cli.main import app

ROOT = Path(__file__).resolve().parents[1]
STUDY = str(ROOT / "instruments" / "studies" / "service_profit_chain.yaml")
runner = CliRunner()


def test_analyze_study_on_the_demo_data():
    result = runner.invoke(app, ["analyze", "study", STUDY, "--bootstrap", "30"])
    assert result.exit_code == 0, result.output
    assert "Data: the demo data" in result.output
    for heading in ("Can we aggregate", "The chain at unit level", "Ranked employee drivers"):
        assert heading in result.output


def test_analyze_study_from_files(tmp_path):
    from analysis.simulate import simulate_service_profit_chain
    from analysis.study import load_study

    study = load_study(STUDY)
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=40, seed=2, comments=False)
    chain.employees.to_csv(tmp_path / "e.csv", index=False)
    chain.customers.to_csv(tmp_path / "c.csv", index=False)
    result = runner.invoke(app, ["analyze", "study", STUDY, "--employees", str(tmp_path / "e.csv"),
                                 "--customers", str(tmp_path / "c.csv"), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "Units analysed: 40" in result.output


def test_broken_study_exits_1_with_file_and_line():
    broken = str(ROOT / "tests" / "studies" / "invalid" / "misspelt_construct.yaml")
    result = runner.invoke(app, ["analyze", "study", broken])
    assert result.exit_code == 1
    assert "misspelt_construct.yaml:7:5" in result.output and "Did you mean 'engagement'" in result.output
    assert "Traceback" not in result.output


def test_only_one_side_given_is_an_error():
    result = runner.invoke(app, ["analyze", "study", STUDY, "--campaign-employee", "x"])
    assert result.exit_code == 1 and "give both sides" in result.output


def test_power_command():
    result = runner.invoke(app, ["power", "--study", STUDY, "--units", "30,60", "--reps", "2", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "30 units" in result.output and "60 units" in result.output
    assert "csat ~ service_quality" in result.output
    bad = runner.invoke(app, ["power", "--study", STUDY, "--units", "a,b"])
    assert bad.exit_code == 1 and "--units must be whole numbers" in bad.output


def test_analyze_study_from_the_stored_demo_campaigns(tmp_path, monkeypatch):
    """The stored demo (``tandem demo``) and the analysis demo are the same data."""
    from services.demo import CUSTOMER_CAMPAIGN, EMPLOYEE_CAMPAIGN, seed_demo
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path}/demo.db"
    store = open_store(url)
    try:
        seed_demo(store)
    finally:
        store.dispose()
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    stored = runner.invoke(app, ["analyze", "study", STUDY, "--campaign-employee", EMPLOYEE_CAMPAIGN,
                                 "--campaign-customer", CUSTOMER_CAMPAIGN, "--bootstrap", "0"])
    assert stored.exit_code == 0, stored.output
    demo = runner.invoke(app, ["analyze", "study", STUDY, "--demo", "--bootstrap", "0"])
    chain = lambda text: [ln for ln in text.splitlines() if " <- " in ln]  # noqa: E731
    assert chain(stored.output) and chain(stored.output) == chain(demo.output)
    swapped = runner.invoke(app, ["analyze", "study", STUDY, "--campaign-employee", CUSTOMER_CAMPAIGN,
                                  "--campaign-customer", EMPLOYEE_CAMPAIGN])
    assert swapped.exit_code == 1 and "is a customer campaign (instrument 'customer_experience')" in swapped.output
