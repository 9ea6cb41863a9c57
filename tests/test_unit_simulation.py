"""analysis.unit_simulation: unit tables drawn straight from the answer model equal, in
distribution, the unit tables of simulated response frames."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from analysis.answer_model import SimulationError
from analysis.linkage import unit_table
from analysis.power import effects_for, power
from analysis.simulate import simulate_service_profit_chain
from analysis.study import load_study
from analysis.unit_simulation import simulate_unit_table, why_not_direct
from surveys.loader import parse_instrument

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"
UNITS = 1500


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)


@pytest.fixture(scope="module")
def both(study):
    """The same study simulated both ways at the demo's settings, on different seeds."""
    settings = dict(n_units=UNITS, paths=effects_for(study), employees_per_unit=(4, 25), customers_per_unit=(8, 60))
    direct = simulate_unit_table(study, seed=11, **settings)
    chain = simulate_service_profit_chain(study.employee, study.customer, seed=12, comments=False, **settings)
    framed, _ = unit_table(study, chain.employees, chain.customers)
    return direct, framed


def test_the_direct_table_has_the_columns_and_units_of_unit_table(study, both):
    direct, framed = both
    assert set(framed.columns) - {"unit"} == set(direct.columns) - {"unit"}
    assert direct["unit"].is_monotonic_increasing and direct["unit"].between(0, UNITS - 1).all()
    assert (direct["n_employees"] >= study.min_employees).all() and (direct["n_customers"] >= study.min_customers).all()
    # units below a minimum are left out as unit_table leaves them out: about the same share
    assert abs(len(direct) - len(framed)) < 4 * np.sqrt(UNITS * 0.25)


def test_every_node_has_the_same_distribution_both_ways(study, both):
    direct, framed = both
    for node in study.nodes:
        a, b = direct[node].to_numpy(), framed[node].to_numpy()
        se = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 4.5 * se, node
        assert a.std() / b.std() == pytest.approx(1.0, abs=0.07), node  # seeded: a 0.65 loading gives .87-.94
    nodes = list(study.nodes)
    gap = np.abs(np.corrcoef(direct[nodes].to_numpy(), rowvar=False) - np.corrcoef(framed[nodes].to_numpy(), rowvar=False))
    assert gap.max() < 0.11  # the correlation's sampling SD at 1,500 units is about .025


def test_power_is_the_same_either_way(study, monkeypatch):
    direct = power(study, units=[60], reps=60, seed=2).to_frame()
    monkeypatch.setattr("analysis.power.why_not_direct", lambda s: "forced for the test")
    framed = power(study, units=[60], reps=60, seed=2).to_frame()
    assert (direct["reps"] + direct["failed"] == 60).all()
    gap = np.abs(direct["power"].to_numpy() - framed["power"].to_numpy())
    assert gap.max() < 0.3 and gap.mean() < 0.1  # Monte-Carlo SE of each power about .06


def test_a_conditional_node_item_needs_the_response_frames(study):
    text = (ROOT / "instruments" / "customer_experience.yaml").read_text(encoding="utf-8")
    text = text.replace("      - id: sq_1\n        type: likert\n",
                        "      - id: sq_1\n        type: likert\n        show_if: csat >= 2\n")
    customer = parse_instrument(text)
    conditional = dataclasses.replace(study, customer=customer)
    assert "sq_1" in why_not_direct(conditional) and "csat >= 2" in why_not_direct(conditional)
    with pytest.raises(SimulationError, match="response frames"):
        simulate_unit_table(conditional, n_units=10, paths=effects_for(conditional), seed=1)
    assert why_not_direct(study) is None
    result = power(conditional, units=[40], reps=2, seed=1).to_frame()  # the frames are simulated instead
    assert (result["reps"] + result["failed"] == 2).all()


def test_seeded_tables_repeat(study):
    a = simulate_unit_table(study, n_units=50, paths=effects_for(study), seed=4)
    b = simulate_unit_table(study, n_units=50, paths=effects_for(study), seed=4)
    assert a.equals(b)
