"""analysis.simulate: shapes, scales, seeds, ICC and the known chain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.aggregation import icc
from analysis.scoring import score
from analysis.simulate import (
    SERVICE_PROFIT_CHAIN,
    SimulationError,
    simulate_responses,
    simulate_service_profit_chain,
)
from surveys.loader import load_instrument

ROOT = Path(__file__).resolve().parents[1]
META = ["response_id", "campaign", "wave", "unit", "language", "submitted_at"]


@pytest.fixture(scope="module")
def employee():
    return load_instrument(ROOT / "instruments" / "employee_experience.yaml")


@pytest.fixture(scope="module")
def customer():
    return load_instrument(ROOT / "instruments" / "customer_experience.yaml")


def test_shape_meta_and_one_column_per_item(employee):
    frame = simulate_responses(employee, n_units=12, respondents_per_unit=(3, 9), seed=1)
    assert list(frame.columns[:6]) == META
    assert frame["unit"].nunique() == 12
    assert frame.groupby("unit").size().between(3, 9).all()
    assert frame["response_id"].is_unique
    assert set(frame["language"]) <= set(employee.languages)
    assert {item.id for item in employee.items} <= set(frame.columns)
    listed = [u.id for u in employee.units]
    assert set(frame["unit"]) == set(listed[:12])


def test_answers_lie_on_each_items_scale(employee, customer):
    for inst in (employee, customer):
        frame = simulate_responses(inst, n_units=10, respondents_per_unit=30, seed=2)
        for item in inst.items:
            values = frame[item.id].dropna()
            if item.scale is not None:
                assert set(values) <= set(item.scale.values), item.id
            else:
                assert values.between(item.min, item.max).all(), item.id
        question_types = {q.id: q.type for q in inst.questions}
        for qid, qtype in question_types.items():
            if qtype in ("single_choice", "dropdown"):
                allowed = {o.value for o in inst.question(qid).options}
                assert set(frame[qid].dropna()) <= allowed


def test_some_answers_are_missing_but_required_ones_never(employee):
    frame = simulate_responses(employee, n_units=10, respondents_per_unit=50, seed=3, missing_rate=0.1)
    optional = [i.id for i in employee.items if not employee.question(i.question_id).required
                and employee.question(i.question_id).show_if is None]
    required = [i.id for i in employee.items if employee.question(i.question_id).required
                and employee.question(i.question_id).show_if is None]
    assert optional and frame[optional].isna().mean().mean() == pytest.approx(0.1, abs=0.03)
    assert not frame[required].isna().any().any()


def test_same_seed_same_frame_other_seed_other_frame(employee):
    a = simulate_responses(employee, n_units=5, respondents_per_unit=10, seed=7)
    b = simulate_responses(employee, n_units=5, respondents_per_unit=10, seed=7)
    c = simulate_responses(employee, n_units=5, respondents_per_unit=10, seed=8)
    pd.testing.assert_frame_equal(a, b)
    items = [i.id for i in employee.items]
    assert not a[items].equals(c[items])


def test_reverse_keyed_items_are_generated_reversed(employee):
    frame = simulate_responses(employee, n_units=20, respondents_per_unit=50, seed=4)
    scored = score(frame, employee)
    checked = 0
    for construct in employee.constructs:
        reverse = [i for i in construct.items if employee.item(i).reverse]
        keyed = [i for i in construct.items if not employee.item(i).reverse]
        for r in reverse:
            assert frame[r].corr(frame[keyed[0]]) < -0.2, r  # raw: opposite direction
            assert scored[r].corr(scored[keyed[0]]) > 0.2, r  # after scoring: same direction
            checked += 1
    assert checked >= 1, "the shipped employee instrument has reverse-keyed items"


def test_construct_means_are_hit_on_the_scale(employee):
    target = {employee.constructs[0].id: 4.2, employee.constructs[1].id: 2.5}
    frame = simulate_responses(employee, n_units=20, respondents_per_unit=100, seed=5, construct_means=target)
    scored = score(frame, employee)
    for cid, mean in target.items():
        assert scored[cid].mean() == pytest.approx(mean, abs=0.08)


@pytest.mark.parametrize("target", [0.05, 0.2, 0.4])
def test_icc_of_simulated_scores_is_near_the_target(employee, target):
    loading = 0.9
    frame = simulate_responses(employee, n_units=150, respondents_per_unit=30, seed=6, icc=target,
                               loading=loading, missing_rate=0.0)
    scored = score(frame, employee)
    construct = max(employee.constructs, key=lambda c: len(c.items))
    k = len(construct.items)
    # the construct score's ICC is the latent ICC attenuated by item noise (loading**2 + (1 - loading**2)/k)
    expected = target * loading**2 / (loading**2 + (1 - loading**2) / k)
    observed = icc(scored, construct.id, "unit").icc1
    assert observed == pytest.approx(expected, abs=0.3 * expected + 0.02)


def test_icc_zero_gives_no_unit_differences(employee):
    frame = simulate_responses(employee, n_units=100, respondents_per_unit=20, seed=9, icc=0.0)
    scored = score(frame, employee)
    assert abs(icc(scored, employee.constructs[0].id, "unit").icc1) < 0.03


def test_bad_options_are_clear_errors(employee):
    with pytest.raises(SimulationError, match="icc"):
        simulate_responses(employee, n_units=3, respondents_per_unit=5, seed=1, icc=1.5)
    with pytest.raises(SimulationError, match="respondents_per_unit"):
        simulate_responses(employee, n_units=3, respondents_per_unit=(5, 2), seed=1)
    with pytest.raises(SimulationError, match="Did you mean"):
        simulate_responses(employee, n_units=3, respondents_per_unit=5, seed=1,
                           construct_means={employee.constructs[0].id + "x": 3.0})


def test_chain_frames_units_and_truth(employee, customer):
    chain = simulate_service_profit_chain(employee, customer, n_units=30, employees_per_unit=(4, 9),
                                          customers_per_unit=(10, 20), seed=11)
    assert chain.employees["unit"].nunique() == 30 and chain.customers["unit"].nunique() == 30
    assert list(chain.units.columns[:3]) == ["unit", "n_employees", "n_customers"]
    sizes = chain.employees.groupby("unit").size()
    assert (sizes.reindex(chain.units["unit"]).to_numpy() == chain.units["n_employees"].to_numpy()).all()
    truth = chain.truth.paths.set_index(["lhs", "rhs"])["std_all"]
    for lhs, preds in SERVICE_PROFIT_CHAIN.items():
        for rhs, beta in preds.items():
            assert truth[(lhs, rhs)] == beta
    assert set(chain.employees["campaign"]) != set(chain.customers["campaign"])


def test_chain_truth_total_effects_and_driver_order(employee, customer):
    truth = simulate_service_profit_chain(employee, customer, n_units=5, seed=1).truth
    effects = truth.total_effects.set_index(["lhs", "rhs"])["effect"]
    b = SERVICE_PROFIT_CHAIN
    expected = (b["job_satisfaction"]["manager_support"] * b["service_climate"]["job_satisfaction"]
                + b["engagement"]["manager_support"] * b["service_climate"]["engagement"]) \
        * b["service_quality"]["service_climate"] * b["csat"]["service_quality"]
    assert effects[("csat", "manager_support")] == pytest.approx(expected)
    exogenous = [d for d in truth.driver_order["csat"] if d in ("manager_support", "training_development", "tools_resources")]
    assert exogenous == ["manager_support", "training_development", "tools_resources"]
    assert truth.r2["service_quality"] == pytest.approx(0.55**2)


def test_unit_latent_means_follow_the_paths(employee, customer):
    chain = simulate_service_profit_chain(employee, customer, n_units=4000, employees_per_unit=1,
                                          customers_per_unit=1, seed=12, comments=False)
    u = chain.units
    assert u["service_quality"].corr(u["service_climate"]) == pytest.approx(0.55, abs=0.03)
    assert u["csat"].std() == pytest.approx(1.0, abs=0.03)


def test_chain_rejects_unknown_nodes_and_cycles(employee, customer):
    with pytest.raises(SimulationError, match="Did you mean 'engagement'"):
        simulate_service_profit_chain(employee, customer, paths={"engagment": {"manager_support": 0.3}}, seed=1)
    with pytest.raises(SimulationError, match="cycle"):
        simulate_service_profit_chain(employee, customer, seed=1, paths={
            "engagement": {"job_satisfaction": 0.3}, "job_satisfaction": {"engagement": 0.3}})
    with pytest.raises(SimulationError, match="R²"):
        simulate_service_profit_chain(employee, customer, seed=1, paths={"engagement": {"job_satisfaction": 1.2}})


def test_same_seed_same_chain(employee, customer):
    a = simulate_service_profit_chain(employee, customer, n_units=6, seed=3)
    b = simulate_service_profit_chain(employee, customer, n_units=6, seed=3)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    np.testing.assert_array_equal(a.units.to_numpy(), b.units.to_numpy())


def test_questions_hidden_by_show_if_are_unanswered(customer):
    frame = simulate_responses(customer, n_units=10, respondents_per_unit=40, seed=13)
    conditional = [q for q in customer.questions if q.show_if is not None]
    assert conditional, "the shipped customer instrument has show_if questions"
    for q in conditional:
        columns = [c for c in frame.columns if c == q.id or c.startswith(f"{q.id}__")]
        names = sorted(q.show_if.names)
        shown = frame[names].astype(object).where(frame[names].notna(), None).apply(
            lambda row, q=q, names=names: q.show_if.evaluate(dict(zip(names, row, strict=True))), axis=1)
        assert 0 < shown.sum() < len(frame), q.id
        assert frame.loc[~shown, columns].isna().all().all(), q.id
        assert frame.loc[shown, columns].notna().any(axis=1).mean() > 0.5, q.id
