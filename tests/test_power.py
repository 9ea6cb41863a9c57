"""analysis.power: power by simulation of every hypothesised path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from analysis.linkage import LinkageError, fit_chain, unit_table
from analysis.path_model import path_model_tests, path_plan
from analysis.power import effects_for, power
from analysis.sem import count_parameters
from analysis.simulate import SERVICE_PROFIT_CHAIN, simulate_service_profit_chain
from analysis.study import load_study
from reports.text import format_power

STUDY = Path(__file__).resolve().parents[1] / "instruments" / "studies" / "service_profit_chain.yaml"


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)


def test_effects_default_to_the_demo_chain(study):
    effects = effects_for(study)
    assert effects == {k: dict(v) for k, v in SERVICE_PROFIT_CHAIN.items()}


def test_power_table_and_more_units_more_power(study):
    calls = []
    result = power(study, units=[30, 150], reps=6, seed=3, progress=calls.append)
    assert len(calls) == 12
    table = result.to_frame()
    assert len(table) == 2 * sum(len(p.rhs) for p in study.paths)
    assert table["power"].between(0, 1).all()
    assert (table["reps"] + table["failed"] == 6).all()
    strong = table[(table.lhs == "csat") & (table.rhs == "service_quality")].set_index("n_units")["power"]
    assert strong[150] == 1.0  # beta = .65 with 150 units: always detected
    weak = table[(table.lhs == "engagement") & (table.rhs == "tools_resources")].set_index("n_units")["power"]
    assert weak[30] < 1.0  # beta = .10 with 30 units: often missed
    text = format_power(result)
    assert "csat ~ service_quality" in text and "Units needed for 80% power" in text


def test_power_is_reproducible(study):
    a = power(study, units=[40], reps=2, seed=5).to_frame()
    b = power(study, units=[40], reps=2, seed=5).to_frame()
    assert a.equals(b)


def test_power_rejects_bad_options(study):
    with pytest.raises(LinkageError, match="reps"):
        power(study, units=[50], reps=0)
    with pytest.raises(LinkageError, match="units"):
        power(study, units=[1])


def test_least_squares_tests_equal_the_sem_fit(study):
    """For the recursive unit model, per-equation least squares with expected-information
    standard errors gives the SEM's (lavaan's) estimates and p-values."""
    plan = path_plan(study)
    assert plan is not None and plan.npar == count_parameters(study.model_syntax()).npar == 20
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=60, seed=2, comments=False)
    kept, dropped = unit_table(study, chain.employees, chain.customers)
    paths = fit_chain(study, kept, dropped).estimates.set_index(["lhs", "op", "rhs"])
    values = kept[list(plan.nodes)].to_numpy(dtype=float)
    est, p = path_model_tests(plan, np.corrcoef(values, rowvar=False)[None], np.array([len(values)], dtype=float))
    reference = paths.loc[[(lhs, "~", rhs) for lhs, rhs in plan.paths]]
    assert np.allclose(est[0], reference["est"], atol=1e-7)
    assert np.allclose(p[0], reference["pvalue"], atol=1e-7)


def test_a_model_least_squares_cannot_fit_falls_back_to_the_sem(study):
    """A residual covariance between outcomes with different predictors (seemingly
    unrelated regressions) is not per-equation least squares: no plan."""
    paths = (*study.paths, dataclasses.replace(study.paths[-1], lhs="loyalty", rhs=("csat", "service_quality")))
    changed = dataclasses.replace(study, paths=tuple(p for p in paths if p.lhs != "loyalty" or len(p.rhs) == 2))
    assert path_plan(changed) is None
    table = power(changed, units=[40], reps=2, seed=1).to_frame()
    assert (table["reps"] + table["failed"] == 2).all() and table["power"].between(0, 1).all()
