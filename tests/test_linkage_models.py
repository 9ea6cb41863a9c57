"""The linkage chain's three models: latent aggregation (the default), unit means corrected
for their sampling error, observed unit means; which runs, why, and what each recovers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.corrected_means import between_correlation, unit_moments
from analysis.latent_aggregation import between_parameters, latent_model_syntax, stacked_nodes
from analysis.linkage import LinkageError, run_study, score_side, unit_table
from analysis.simulate import BUSINESS_CHAIN, SERVICE_PROFIT_CHAIN, simulate_service_profit_chain
from analysis.study import StudyError, load_study, parse_study
from bench.bench_recovery import replication
from reports.text import format_study, linkage_model_text

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"
BUSINESS = ROOT / "instruments" / "studies" / "service_profit_chain_kpis.yaml"


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)


@pytest.fixture(scope="module")
def demo(study):
    return simulate_service_profit_chain(study.employee, study.customer, n_units=40, seed=1, comments=False)


def test_the_latent_model_runs_by_default_and_says_so(study, demo):
    result = run_study(study, demo.employees, demo.customers, bootstrap=200, seed=1)
    assert result.model == "latent"
    assert "40 units support its 36 between-level parameters" in result.model_reason
    text = format_study(result)
    assert "Model: latent aggregation" in text and "95% Monte Carlo interval" in text
    # one uncertainty method per table: an interval excludes 0 exactly when p < .05
    for table in (result.paths, result.indirect):
        excludes = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
        assert (excludes == (table["pvalue"] < 0.05)).all()
    assert any("relative weights on observed unit means" in w for w in result.warnings)


def test_too_few_units_for_the_latent_model_fall_back_with_the_reason(study, demo):
    units = sorted(demo.employees["unit"].unique())[:30]
    employees = demo.employees[demo.employees["unit"].isin(units)]
    customers = demo.customers[demo.customers["unit"].isin(units)]
    result = run_study(study, employees, customers, bootstrap=100, seed=1)
    assert result.model == "corrected"
    assert "30 units cannot support its 36 between-level parameters" in result.model_reason
    assert "corrected for their noise" in linkage_model_text(result)
    with pytest.raises(LinkageError, match="latent linkage model cannot be used: 30 units"):
        run_study(study, employees, customers, bootstrap=0, model="latent")
    observed = run_study(study, employees, customers, bootstrap=0, model="observed")
    assert observed.model == "observed" and observed.model_reason == "chosen in the study or the command"


def test_the_demo_with_kpis_takes_the_business_study():
    from services.sources import demo_dataset

    dataset = demo_dataset()
    assert dataset.study.study.id == "service_profit_chain_kpis" and set(dataset.kpis.columns) >= {"retention"}


def test_the_study_file_names_the_model(study):
    text = STUDY.read_text(encoding="utf-8")
    assert load_study(STUDY).linkage_model == "auto"
    with pytest.raises(StudyError, match="linkage_model"):
        parse_study(text.replace("linkage_model: auto", "linkage_model: magic"), base=STUDY.parent)
    with pytest.raises(LinkageError, match="unknown linkage model 'magic'"):
        run_study(study, *_small(study), model="magic")


def _small(study):
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=20, seed=2, comments=False)
    return chain.employees, chain.customers


def test_the_latent_syntax_keeps_the_sides_apart(study):
    syntax = latent_model_syntax(study)
    within, between = syntax.split("level: 2")
    assert "manager_support ~~ 0*service_quality" in within and "manager_support ~~ engagement" in within
    assert "service_quality ~~ csat" in within and "0*" not in between
    assert between_parameters(study) == 36
    business = load_study(BUSINESS)
    within, between = latent_model_syntax(business).split("level: 2")
    assert "retention" not in within and "retention ~ b_retention__loyalty*loyalty" in between  # a unit figure
    assert between_parameters(business) == 50 and between_parameters(business.without_business()) == 36


def test_business_kpis_are_the_chains_last_link():
    """KPIs simulated from a known chain (retention ~ loyalty .45, sales_growth ~ csat .40,
    first_contact_resolution ~ service_climate .40): the latent model recovers the business
    paths within their intervals, and employee -> customer -> business effects are defined."""
    study = load_study(BUSINESS)
    paths = {**SERVICE_PROFIT_CHAIN, **BUSINESS_CHAIN}
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=150, seed=5, comments=False,
                                          paths=paths, business=study.business)
    result = run_study(study, chain.employees, chain.customers, bootstrap=200, seed=1, kpis=chain.kpis)
    assert result.model == "latent" and "150 units support its 50" in result.model_reason
    table = result.paths.set_index(["lhs", "rhs"])
    for kpi, predictors in BUSINESS_CHAIN.items():
        for predictor, beta in predictors.items():
            row = table.loc[(kpi, predictor)]
            assert row.ci_lower < beta < row.ci_upper, (kpi, row.est)
    indirect = result.indirect.set_index(["lhs", "rhs"])
    assert indirect.loc[("manager_support", "retention"), "ci_lower"] > 0
    without = run_study(study, chain.employees, chain.customers, bootstrap=0, model="observed")
    assert "retention" not in set(without.paths["lhs"]) and any("no business KPIs" in w for w in without.warnings)
    missing = chain.kpis.assign(retention=lambda k: k["retention"].where(k.index >= 3))
    dropped = run_study(study, chain.employees, chain.customers, bootstrap=0, model="observed", kpis=missing)
    assert (dropped.dropped["reason"] == "no retention value").sum() == 3


def test_corrected_correlations_remove_the_sampling_error(study):
    """With the unit means' sampling error removed, the corrected between-unit correlation
    of two linked nodes is the true one; the observed means' is attenuated."""
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=600, seed=4,
                                          employees_per_unit=(6, 10), customers_per_unit=(10, 16), comments=False)
    scored = {side: score_side(getattr(chain, f"{side}s"), study, side) for side in ("employee", "customer")}
    units, _ = unit_table(study, chain.employees, chain.customers)
    moments = unit_moments(study, stacked_nodes(study, scored, units))
    corrected = between_correlation(moments)
    nodes = list(study.nodes)
    i, j = nodes.index("service_climate"), nodes.index("service_quality")
    observed = np.corrcoef(units[nodes].to_numpy(dtype=float), rowvar=False)[i, j]
    truth = 0.55  # service_quality ~ service_climate, its only predictor
    assert abs(corrected[i, j] - truth) < 0.08
    assert observed < truth - 0.15  # ICC(2) about .5 on each side: strongly attenuated


def test_one_replication_of_the_recovery_study(study):
    """The fast twin of tests/test_linkage_recovery.py: the latent model's cross-side paths
    lie near the truth where the observed means' fall short."""
    out = replication(study, 200, seed=11, draws=200)
    paths = out[out["kind"] == "path"].set_index(["lhs", "rhs"])
    for key in (("service_quality", "service_climate"), ("loyalty", "csat")):
        row = paths.loc[key]
        assert abs(row.latent_est - row.truth) < 0.15
        assert row.observed_est < row.latent_est
        assert row.latent_lo < row.latent_est < row.latent_hi
    assert out["converged"].all() and 0.6 < out["icc2_employee"].iloc[0] < 0.85

