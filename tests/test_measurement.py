"""Measurement model syntax and instrument_health flags on simulated responses."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.measurement import (
    FLAG_COLUMNS,
    HealthThresholds,
    MeasurementWarning,
    instrument_health,
    measurement_model,
)
from analysis.simulate import simulate_responses
from surveys.loader import load_instrument

ROOT = Path(__file__).resolve().parents[1]
EMPLOYEE = ROOT / "instruments" / "employee_experience.yaml"


def short_instrument() -> SimpleNamespace:
    constructs = (
        SimpleNamespace(id="a", items=("a1", "a2", "a3"), scoring="mean", min_answered=0.5),
        SimpleNamespace(id="b", items=("b1", "b2"), scoring="mean", min_answered=0.5),
        SimpleNamespace(id="c", items=("c1",), scoring="mean", min_answered=0.5),
    )
    return SimpleNamespace(id="short", constructs=constructs)


def test_measurement_model_syntax_and_warnings():
    with pytest.warns(MeasurementWarning) as record:
        model = measurement_model(short_instrument())
    assert model == "a =~ a1 + a2 + a3\nb =~ b1 + b2"
    messages = [str(w.message) for w in record]
    assert any("'b' has 2 items" in m for m in messages)
    assert any("'c' has a single item" in m for m in messages)


def test_thresholds_are_frozen_and_configurable():
    limits = HealthThresholds(alpha=0.8)
    assert (limits.alpha, limits.htmt, limits.rmsea) == (0.8, 0.85, 0.08)
    with pytest.raises(FrozenInstanceError):
        limits.alpha = 0.5  # type: ignore[misc]


@pytest.fixture(scope="module")
def employee():
    return load_instrument(EMPLOYEE)


@pytest.fixture(scope="module")
def responses(employee):
    return simulate_responses(employee, n_units=20, respondents_per_unit=40, seed=7, construct_correlation=0.3,
                              loading=0.85)


def test_employee_model_has_every_multi_item_construct(employee):
    model = measurement_model(employee)
    for construct in employee.constructs:
        if len(construct.items) >= 3:
            assert f"{construct.id} =~ " + " + ".join(construct.items) in model.splitlines()


def test_health_of_well_behaved_data_has_no_construct_flags(employee, responses):
    report = instrument_health(responses, employee)
    assert list(report.flags.columns) == list(FLAG_COLUMNS)
    assert report.to_frame().equals(report.flags)
    multi = [c.id for c in employee.constructs if len(c.items) >= 3]
    assert report.constructs.loc[multi, "alpha"].min() > 0.70
    assert report.constructs.loc[multi, "composite_reliability"].min() > 0.70
    assert report.constructs.loc[multi, "ave"].min() > 0.50
    assert report.items.loc[report.items["construct"].isin(multi), "loading"].min() > 0.55
    assert not report.flags["statistic"].isin(["alpha", "loading", "htmt", "cross_loading"]).any(), report.flags
    assert report.fit_measures["cfi"] > 0.95
    assert report.htmt.shape == (len(multi), len(multi))


def test_health_flags_a_noise_item_a_mixed_item_and_strict_thresholds(employee, responses):
    constructs = [c for c in employee.constructs if len(c.items) >= 3]
    first, second = constructs[0], constructs[1]
    data = responses.copy()
    rng = np.random.default_rng(3)
    noise_item = first.items[-1]
    item = employee.item(noise_item)
    low, high = item.scale.min, item.scale.max
    data[noise_item] = rng.integers(int(low), int(high) + 1, size=len(data)).astype(float)
    # an item answering half to its own construct and half to another one
    mixed, other = first.items[0], second.items[0]
    keyed = lambda name: (employee.item(name).scale.min + employee.item(name).scale.max - data[name]  # noqa: E731
                          if employee.item(name).reverse else data[name])
    mix = np.round((keyed(mixed) + keyed(other)) / 2 + rng.uniform(-0.01, 0.01, len(data)))
    data[mixed] = (low + high - mix) if employee.item(mixed).reverse else mix
    report = instrument_health(data, employee, thresholds=HealthThresholds(alpha=0.99))
    flags = report.flags
    loading = flags[(flags["statistic"] == "loading") & (flags["target"] == noise_item)]
    assert len(loading) == 1 and loading["value"].iloc[0] < 0.40
    assert loading["message"].iloc[0]
    alpha_flags = set(flags.loc[flags["statistic"] == "alpha", "target"])
    assert {c.id for c in constructs} <= alpha_flags
    assert (flags["threshold"][flags["statistic"] == "alpha"] == 0.99).all()
    assert set(flags["level"]) <= {"construct", "item", "model"}
    cross = flags[(flags["statistic"] == "cross_loading") & (flags["target"] == mixed)]
    assert len(cross) == 1, flags
    assert f"'{second.id}'" in cross["message"].iloc[0]


def test_health_flags_constructs_that_are_not_distinct(employee):
    data = simulate_responses(employee, n_units=20, respondents_per_unit=40, seed=8, construct_correlation=0.97)
    report = instrument_health(data, employee)
    htmt_flags = report.flags[report.flags["statistic"] == "htmt"]
    assert len(htmt_flags) > 0
    assert (htmt_flags["value"] > 0.85).all()


def test_health_turns_a_constant_item_into_a_flag(employee, responses):
    construct = next(c for c in employee.constructs if len(c.items) >= 3)
    data = responses.copy()
    item = employee.item(construct.items[0])
    data[construct.items[0]] = float(item.scale.max)
    report = instrument_health(data, employee)
    alpha_flag = report.flags[(report.flags["statistic"] == "alpha") & (report.flags["target"] == construct.id)]
    assert alpha_flag["message"].str.contains("Not computed").all() and len(alpha_flag) == 1
    assert isinstance(report.constructs, pd.DataFrame)


def test_health_with_an_unanswered_item_reports_instead_of_crashing(employee, responses):
    construct = next(c for c in employee.constructs if len(c.items) >= 3)
    data = responses.assign(**{construct.items[1]: np.nan})
    report = instrument_health(data, employee)
    reasons = report.flags[report.flags["message"].str.contains(f"'{construct.items[1]}'")]
    assert {"alpha", "cfa", "htmt", "cross_loading"} <= set(reasons["statistic"]), report.flags
    assert report.cfa is None and report.fit_measures == {}


def test_health_names_a_missing_column(employee, responses):
    from analysis.errors import DataError

    with pytest.raises(DataError, match="Did you mean 'MS_1'"):
        instrument_health(responses.rename(columns={"ms_1": "MS_1"}), employee)


def test_health_cfa_keeps_respondents_who_skipped_items(employee, responses):
    """With scattered missing answers the CFA uses FIML: every response counts."""
    items = [i for c in employee.constructs if len(c.items) >= 3 for i in c.items]
    holes = responses.copy()
    rng = np.random.default_rng(3)
    mask = rng.random((len(holes), len(items))) < 0.05
    holes[items] = holes[items].mask(mask)
    complete = int((~mask).all(axis=1).sum())
    report = instrument_health(holes, employee)
    assert complete < 0.3 * len(holes)  # listwise deletion would lose most responses
    assert report.fit_measures["nobs"] == len(holes)
    assert report.fit_measures["cfi"] > 0.9


def test_five_point_scales_get_ordinal_alpha_beside_cronbachs():
    """Likert items with at most five categories: ordinal alpha (on the polychoric matrix) is
    reported beside Cronbach's alpha, equals analysis.reliability.ordinal_alpha, and is higher
    (Pearson correlations of coarse items are attenuated)."""
    from analysis.reliability import ordinal_alpha
    from analysis.scoring import score
    from analysis.simulate import simulate_responses

    instrument = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    frame = simulate_responses(instrument, n_units=10, respondents_per_unit=40, seed=2)
    report = instrument_health(frame, instrument)
    table = report.constructs
    assert table["ordinal_alpha"].notna().all()
    assert (table["ordinal_alpha"] > table["alpha"]).all()
    c = instrument.constructs[0]
    expected = ordinal_alpha(score(frame, instrument)[list(c.items)].dropna()).ordinal_alpha
    assert table.loc[c.id, "ordinal_alpha"] == pytest.approx(expected, abs=1e-12)
    off = instrument_health(frame, instrument, thresholds=HealthThresholds(ordinal_max_categories=0))
    assert off.constructs["ordinal_alpha"].isna().all()
