"""analysis.power: power by simulation of every hypothesised path."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.linkage import LinkageError
from analysis.power import effects_for, format_power, power
from analysis.simulate import SERVICE_PROFIT_CHAIN
from analysis.study import load_study

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
