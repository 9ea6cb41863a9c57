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


@pytest.fixture(scope="module")
def ordinal_report(employee, responses):
    return instrument_health(responses, employee)


def test_five_point_items_take_the_ordinal_path_with_the_continuous_numbers_alongside(employee, responses,
                                                                                       ordinal_report):
    """Five-point items: the WLSMV CFA (with the ordinal items ordered=) is primary, its robust
    indices are the judged fit, ordinal omega is analysis.reliability.ordinal_omega, and the ML
    CFA, Cronbach's alpha and omega stay in the tables; a flag says which is primary and why."""
    from analysis.reliability import omega, ordinal_omega
    from analysis.scoring import score
    from analysis.sem import fit

    report = ordinal_report
    assert report.method == "ordinal" and report.categories == 5
    assert report.cfa is report.ordinal_cfa and report.continuous_cfa is not None
    assert "chisq_scaled" in report.cfa.fit_measures and "chisq_scaled" not in report.continuous_cfa.fit_measures
    fit_table = report.fit.set_index("method")
    assert list(report.fit["method"]) == ["ordinal (WLSMV)", "continuous (ML)"]
    assert list(report.fit["primary"]) == [True, False]
    ordinal_fm, ml_fm = report.ordinal_cfa.fit_measures, report.continuous_cfa.fit_measures
    row = fit_table.loc["ordinal (WLSMV)"]
    assert row["indices"] == "robust"
    assert (row["cfi"], row["rmsea"], row["chisq"]) == (ordinal_fm["cfi_robust"], ordinal_fm["rmsea_robust"],
                                                        ordinal_fm["chisq_scaled"])
    assert fit_table.loc["continuous (ML)", "cfi"] == ml_fm["cfi"]
    assert report.fit_measures == dict(ordinal_fm)
    # the same WLSMV fit as by hand
    scored = score(responses, employee)
    items = [i for c in employee.constructs if len(c.items) >= 2 for i in c.items]
    by_hand = fit(report.model, scored[items], ordered=items, estimator="WLSMV")
    assert ordinal_fm["chisq_scaled"] == pytest.approx(by_hand.fit_measures["chisq_scaled"], rel=1e-10)
    table = report.constructs
    assert set(table["method"]) == {"ordinal"}
    c = employee.constructs[0]
    data = scored[list(c.items)]
    assert table.loc[c.id, "ordinal_omega"] == pytest.approx(ordinal_omega(data).omega_total, abs=1e-12)
    assert table.loc[c.id, "omega"] == pytest.approx(omega(data).omega_total, abs=1e-12)
    for pair in (("alpha", "ordinal_alpha"), ("omega", "ordinal_omega"),
                 ("composite_reliability", "ordinal_composite_reliability"), ("ave", "ordinal_ave")):
        assert table[list(pair)].notna().all().all(), pair
        assert (table[pair[1]] > table[pair[0]] - 0.02).all(), pair  # coarse items attenuate the continuous ones
    assert report.items[["loading", "ordinal_loading"]].notna().all().all()
    note = report.flags[report.flags["statistic"] == "method"]
    assert len(note) == 1 and note["message"].iloc[0].startswith(
        "Ordinal: WLSMV CFA, ordinal alpha and ordinal omega, items have 5 categories")
    assert "robust CFI and RMSEA" in note["message"].iloc[0]
    assert "Primary: the ordinal numbers" in report.primary_sentence


def test_ordinal_flags_judge_the_wlsmv_numbers(employee, responses):
    """With strict thresholds the fit flags name the robust indices and the AVE flags are the
    ordinal CFA's values."""
    strict = HealthThresholds(cfi=0.9999, ave=0.99)
    report = instrument_health(responses, employee, thresholds=strict)
    flags = report.flags
    assert "cfi_robust" in set(flags["statistic"])
    ave_flags = flags[flags["statistic"] == "ave"].set_index("target")["value"]
    assert ave_flags.to_dict() == pytest.approx(report.constructs.loc[ave_flags.index, "ordinal_ave"].to_dict())
    assert flags.loc[flags["statistic"] == "ave", "message"].str.contains("ordinal CFA, WLSMV").all()


def test_continuous_items_and_turning_ordinal_off_keep_the_ml_path(employee, responses):
    off = instrument_health(responses, employee, thresholds=HealthThresholds(ordinal_max_categories=0))
    assert off.method == "continuous" and off.ordinal_cfa is None and list(off.fit["method"]) == ["continuous (ML)"]
    assert off.constructs[["ordinal_alpha", "ordinal_omega", "ordinal_ave"]].isna().all().all()
    assert set(off.constructs["method"]) == {"continuous"} and off.fit_measures["cfi"] > 0.95
    assert "method" not in set(off.flags["statistic"])
    assert "turned off (ordinal_max_categories=0)" in off.primary_sentence


def _method_note(report) -> str:
    notes = report.flags.loc[report.flags["statistic"] == "method", "message"]
    assert len(notes) == 1, report.flags
    return notes.iloc[0]


def test_a_one_category_item_falls_back_to_ml_with_the_reason(employee, responses):
    construct = employee.constructs[0]
    data = responses.assign(**{construct.items[0]: 3.0})
    report = instrument_health(data, employee)
    assert report.method == "continuous" and report.ordinal_cfa is None and report.cfa is report.continuous_cfa
    note = _method_note(report)
    assert note.startswith("Continuous numbers used although the items have at most 5 answer categories")
    assert f"'{construct.items[0]}' is constant" in note
    assert np.isnan(report.constructs.loc[construct.id, "ordinal_alpha"])
    assert report.primary_sentence.startswith("Primary: the continuous numbers") and note in report.primary_sentence


def test_an_empty_category_keeps_the_ordinal_path_with_fewer_thresholds(employee, responses):
    """Nobody chose the middle answer of one item: it has four categories (three thresholds, as
    lavaan), the others five; the ordinal CFA still runs."""
    item = employee.constructs[1].items[0]
    data = responses.assign(**{item: responses[item].replace(3, 4)})
    report = instrument_health(data, employee)
    assert report.method == "ordinal"
    est = report.ordinal_cfa.estimates
    assert (est[est["op"] == "|"]["lhs"] == item).sum() == 3
    assert (est[est["op"] == "|"]["lhs"] == employee.constructs[0].items[0]).sum() == 4


def test_too_few_complete_responses_fall_back_to_ml(employee, responses):
    report = instrument_health(responses.iloc[:150], employee)
    assert report.method == "continuous"
    assert "needs at least 200 responses that answer every item" in _method_note(report)


def test_wlsmv_fit_is_judged_by_scaled_indices_where_robust_ones_are_undefined():
    from analysis.measurement import _judged_fit

    fm = {"chisq": 10.0, "df": 5.0, "pvalue": 0.1, "srmr": 0.03, "nobs": 300, "chisq_scaled": 9.0,
          "pvalue_scaled": 0.11, "cfi_robust": np.nan, "tli_robust": np.nan, "rmsea_robust": np.nan,
          "cfi_scaled": 0.97, "tli_scaled": 0.96, "rmsea_scaled": 0.04}
    judged = _judged_fit(SimpleNamespace(fit_measures=fm), "ordinal")
    assert judged["indices"] == "scaled" and (judged["cfi"], judged["rmsea"], judged["chisq"]) == (0.97, 0.04, 9.0)


def test_a_singular_polychoric_matrix_falls_back_to_ml_with_the_reason(employee, responses):
    """Two identical items: the polychoric matrix is singular, WLSMV cannot be fitted, and the
    reason is in the method flag, not a traceback."""
    first = employee.constructs[0].items
    report = instrument_health(responses.assign(**{first[1]: responses[first[0]]}), employee)
    assert report.method == "continuous" and report.ordinal_cfa is None
    note = _method_note(report)
    assert "the ordinal CFA (WLSMV) could not be fitted (" in note and "singular" in note
