"""analysis.linkage: recovery of a known chain, drivers, small and broken inputs, privacy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.linkage import LinkageError, fit_chain, run_study, unit_table
from analysis.sem import count_parameters
from analysis.simulate import simulate_service_profit_chain
from analysis.study import load_study
from reports.text import format_study

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"

# Reliable unit means (ICC(2) > .95 on both sides), so the unit-level truth is what
# the unit means estimate (see simulate_service_profit_chain's Notes).
RELIABLE = dict(employees_per_unit=(40, 60), customers_per_unit=(150, 250), icc_employee=0.3,
                icc_customer=0.3, comments=False)


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)


@pytest.fixture(scope="module")
def demo(study):
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=60, seed=5)
    return chain, run_study(study, chain.employees, chain.customers, bootstrap=200, seed=1)


def covered(result, truth) -> pd.Series:
    paths = result.paths.set_index(["lhs", "rhs"])
    true = truth.paths.set_index(["lhs", "rhs"])["std_all"]
    return (paths["ci_lower"] <= true) & (true <= paths["ci_upper"])


def test_result_tables(study, demo):
    _chain, result = demo
    assert set(zip(result.paths.lhs, result.paths.rhs, strict=True)) == {(p.lhs, r) for p in study.paths for r in p.rhs}
    assert list(result.units.columns[:3]) == ["unit", "n_employees", "n_customers"]
    assert set(study.nodes) <= set(result.units.columns)
    assert result.n_units + len(result.dropped) == 60
    assert set(result.r2.index) == {p.lhs for p in study.paths}
    assert set(result.aggregation["side"]) == {"employee", "customer"}
    assert {"icc1", "icc2", "rwg_j_mean", "verdict"} <= set(result.aggregation.columns)
    assert set(result.drivers["outcome"]) == set(study.outcomes)
    assert len(result.indirect) == len(study.indirect_routes())
    assert (result.indirect["ci_lower"] <= result.indirect["ci_upper"]).all()
    assert {"cfi", "rmsea", "srmr"} <= set(result.fit_measures)
    frame = result.to_frame()
    assert set(frame["op"]) == {"~", ":="}
    assert set(result.tables()) >= {"units", "dropped", "paths", "indirect", "drivers", "aggregation"}


def test_format_study_walks_through_the_chain(demo):
    text = format_study(demo[1])
    for heading in ("Can we aggregate", "The chain at unit level", "indirect effect", "Ranked employee drivers"):
        assert heading in text
    assert "manager_support" in text


def test_recovery_fast(study):
    """One seeded study of 200 reliable units: nearly every true path is inside its 95% interval."""
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=200, seed=21, **RELIABLE)
    result = run_study(study, chain.employees, chain.customers, bootstrap=0)
    inside = covered(result, chain.truth)
    assert inside.sum() >= len(inside) - 1, result.paths
    est = result.paths.set_index(["lhs", "rhs"])["est"]
    true = chain.truth.paths.set_index(["lhs", "rhs"])["std_all"]
    assert np.abs(est - true).max() < 0.25


@pytest.mark.slow
def test_recovery_coverage_over_seeded_replications(study):
    """With 200 units, 95% intervals cover the true unit-level paths in about 95% of replications."""
    hits = []
    for seed in range(100):
        chain = simulate_service_profit_chain(study.employee, study.customer, n_units=200, seed=1000 + seed,
                                              **RELIABLE)
        hits.append(covered(run_study(study, chain.employees, chain.customers, bootstrap=0), chain.truth))
    rate = pd.concat(hits, axis=1).mean(axis=1)
    assert rate.mean() == pytest.approx(0.95, abs=0.03), rate
    assert rate.min() >= 0.85, rate


# The study's structure with strong effects, so that even NPS (six paths down the chain)
# depends clearly on the levers: manager support >> training > tools.
STRONG = {
    "job_satisfaction": {"manager_support": 0.6, "training_development": 0.2, "tools_resources": 0.05},
    "engagement": {"manager_support": 0.55, "training_development": 0.25, "tools_resources": 0.05},
    "service_climate": {"job_satisfaction": 0.45, "engagement": 0.45},
    "service_quality": {"service_climate": 0.7},
    "csat": {"service_quality": 0.8},
    "loyalty": {"csat": 0.7},
    "nps": {"csat": 0.7},
}


def test_drivers_built_to_matter_rank_first(study):
    levers = dataclasses.replace(study, predictors=("manager_support", "training_development", "tools_resources"))
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=300, seed=8, paths=STRONG,
                                          **RELIABLE)
    result = run_study(levers, chain.employees, chain.customers, bootstrap=200, seed=2)
    for outcome in study.outcomes:
        order = [d for d in chain.truth.driver_order[outcome] if d in levers.predictors]
        assert order == ["manager_support", "training_development", "tools_resources"]
        ranked = result.drivers[result.drivers.outcome == outcome].sort_values("rank")
        assert ranked["predictor"].iloc[0] == "manager_support", ranked
        assert ranked["rank_stability"].iloc[0] > 0.8


def _small_chain(study, seed=3, n_units=40):
    return simulate_service_profit_chain(study.employee, study.customer, n_units=n_units, seed=seed,
                                         employees_per_unit=(8, 15), customers_per_unit=(15, 30), comments=False)


def test_unit_with_one_respondent_and_unit_without_counterpart_are_listed(study):
    chain = _small_chain(study)
    units = list(chain.units["unit"])
    lonely, orphan = units[0], units[1]
    employees = chain.employees
    first = employees.index[employees["unit"] == lonely][0]
    employees = employees[(employees["unit"] != lonely) | (employees.index == first)]
    employees = employees[employees["unit"] != orphan]
    result = run_study(study, employees, chain.customers, bootstrap=0)
    reasons = result.dropped.set_index("unit")["reason"]
    assert reasons[lonely] == f"fewer than {study.min_employees} employee responses"
    assert reasons[orphan].startswith("no employee responses")
    assert lonely not in set(result.units["unit"]) and orphan not in set(result.units["unit"])


def test_construct_with_no_variance_between_units(study):
    chain = _small_chain(study)
    employees = chain.employees.copy()
    # within every unit answers alternate 2, 4 (and 3 for an odd last one): every unit mean is 3
    position = employees.groupby("unit").cumcount().to_numpy()
    size = employees.groupby("unit")["unit"].transform("size").to_numpy()
    values = np.where(position % 2 == 0, 2.0, 4.0)
    values[(size % 2 == 1) & (position == size - 1)] = 3.0
    for item in study.employee.construct("service_climate").items:
        employees[item] = values
    with pytest.raises(LinkageError, match="'service_climate' has no variance between units"):
        run_study(study, employees, chain.customers, bootstrap=0)


def test_fewer_units_than_parameters(study):
    chain = _small_chain(study, n_units=8)
    with pytest.raises(LinkageError, match=r"only 8 unit\(s\).*needs at least"):
        run_study(study, chain.employees, chain.customers, bootstrap=0)


def test_missing_unit_column_is_a_clear_error(study):
    chain = _small_chain(study)
    with pytest.raises(LinkageError, match="no unit column 'unit'"):
        run_study(study, chain.employees.rename(columns={"unit": "store"}), chain.customers, bootstrap=0)


def test_wave_lag_links_employee_wave_t_with_customer_wave_t_plus_1(study):
    lagged = dataclasses.replace(study, wave_lag=1)
    chain = _small_chain(study)
    later = _small_chain(study, seed=4)
    employees = pd.concat([chain.employees.assign(wave="1"), later.employees.assign(wave="2")])
    customers = pd.concat([chain.customers.assign(wave="1"), later.customers.assign(wave="2")])
    result = run_study(lagged, employees, customers, bootstrap=0)
    assert result.waves == {"employee": ("1",), "customer": ("2",)}
    assert result.units["n_employees"].sum() == len(chain.employees[chain.employees.unit.isin(result.units.unit)])
    with pytest.raises(LinkageError, match="no customer wave comes 1 wave"):
        run_study(lagged, chain.employees, chain.customers, bootstrap=0)


def test_privacy_no_output_shows_a_unit_below_the_minimum(study):
    chain = _small_chain(study, seed=6)
    small = chain.units["unit"].iloc[2]
    employees = chain.employees
    keep = employees.index[employees["unit"] == small][: study.min_employees - 1]
    employees = employees[(employees["unit"] != small) | employees.index.isin(keep)]
    result = run_study(study, employees, chain.customers, bootstrap=50, seed=1)
    assert small in set(result.dropped["unit"])
    assert list(result.dropped.columns) == ["unit", "reason"]  # no respondent counts of dropped units
    for name, table in result.tables().items():
        if name != "dropped":
            assert not table.astype(str).isin([small]).any().any(), name
    text = format_study(result)
    lines = [ln for ln in text.splitlines() if small in ln]
    assert lines == [f"   {small}: fewer than {study.min_employees} employee responses"]


def test_too_few_units_message_states_the_sems_own_parameter_count(study):
    """The check counts parameters with the SEM's parameter table: 20 for the shipped chain
    (12 regressions, 7 residual variances, 1 residual covariance of the two final
    outcomes; the exogenous covariances are fixed.x), as the fitted model reports."""
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=40, seed=2)
    kept, dropped = unit_table(study, chain.employees, chain.customers)
    npar = int(fit_chain(study, kept, dropped).fit_measures["npar"])
    assert npar == count_parameters(study.model_syntax()).npar == 20
    small = _small_chain(study, n_units=npar)
    with pytest.raises(LinkageError, match=rf"the path model has {npar} free parameters and needs at least "
                                           rf"{npar + 1} units"):
        run_study(study, small.employees, small.customers, bootstrap=0)
