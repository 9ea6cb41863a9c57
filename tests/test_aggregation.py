"""ICC(1)/ICC(2), r_wg, r_wg(J), AD(M) and the aggregation verdicts.

Pinned to R's multilevel 2.7 (tests/reference), checked against hand computations
and recovered from seeded simulations with a known ICC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import reference_cases_of, reference_data

from analysis.aggregation import aggregation_table, icc
from analysis.agreement import ad_m, null_variance_for, rwg, rwg_j
from analysis.errors import DataError
from analysis.scoring import score
from analysis.simulate import simulate_responses
from analysis.suppression import suppress_small_units
from surveys.loader import load_instrument

ROOT = Path(__file__).resolve().parents[1]

ICC_CASES = [
    (name, variable, statistic)
    for name, case in reference_cases_of("icc").items()
    for variable in case["variables"]
    for statistic in ("icc1", "icc2")
]


def _close(case: str, statistic: str, expected: float, actual: float, tol: float) -> None:
    assert abs(actual - expected) <= tol, (
        f"case {case}, {statistic}: expected {expected!r}, actual {actual!r} (tolerance {tol})"
    )


@pytest.mark.parametrize(("name", "variable", "statistic"), ICC_CASES)
def test_icc_matches_multilevel(name, variable, statistic):
    case = reference_cases_of("icc")[name]
    result = icc(reference_data(case["data"]), variable, case["group"])
    _close(name, f"{variable}.{statistic}", case["expected"][variable][statistic],
           getattr(result, statistic), case["tolerance"]["abs"])


@pytest.mark.parametrize("name", sorted(reference_cases_of("rwg_j")))
def test_rwg_j_matches_multilevel(name):
    case = reference_cases_of("rwg_j")[name]
    result = rwg_j(reference_data(case["data"]), case["items"], case["group"],
                   null_variance=case["null_variance"])
    tol = case["tolerance"]["abs"]
    expected = case["expected"]
    _close(name, "mean", expected["mean"], result.mean, tol)
    _close(name, "median", expected["median"], result.median, tol)
    assert result.n_groups == expected["n_groups"], (
        f"case {name}, n_groups: expected {expected['n_groups']}, actual {result.n_groups}"
    )
    by_unit = result.by_unit.set_index("unit")["rwg_j"]
    for unit, value in expected["by_group"].items():
        _close(name, f"by_group[{unit}]", value, by_unit[int(unit)], tol)


def test_rwg_j_reference_with_scale_points_gives_the_uniform_null():
    case = reference_cases_of("rwg_j")["bhr2000_rwg_j"]
    data = reference_data(case["data"])
    by_variance = rwg_j(data, case["items"], case["group"], null_variance=2)
    by_points = rwg_j(data, case["items"], case["group"], scale_points=5)
    assert by_points.null_variance == 2.0
    assert by_points.mean == pytest.approx(by_variance.mean)


# --------------------------------------------------------------------------- ICC by hand
def test_icc_hand_computed_anova():
    data = pd.DataFrame({"unit": ["a"] * 3 + ["b"] * 3, "x": [1, 2, 3, 4, 5, 6.0]})
    result = icc(data, "x", "unit")
    # means 2 and 5, grand mean 3.5: SSB = 3 * 1.5^2 * 2 = 13.5 on 1 df; SSW = 4 on 4 df
    assert result.ms_between == pytest.approx(13.5)
    assert result.ms_within == pytest.approx(1.0)
    assert result.f == pytest.approx(13.5)
    assert result.icc1 == pytest.approx(12.5 / 15.5)
    assert result.icc2 == pytest.approx(12.5 / 13.5)
    assert result.pvalue == pytest.approx(0.021312, abs=1e-5)  # pf(13.5, 1, 4, lower = FALSE)
    assert (result.n, result.n_groups, result.df_between, result.df_within) == (6, 2, 1, 4)


def test_icc_uses_the_mean_group_size_like_multilevel():
    data = pd.DataFrame({"unit": ["a"] * 2 + ["b"] * 6, "x": [1, 3, 4, 5, 6, 7, 5, 6.0]})
    result = icc(data, "x", "unit")
    k = 8 / 2
    expected = (result.ms_between - result.ms_within) / (result.ms_between + (k - 1) * result.ms_within)
    assert result.mean_group_size == k
    assert result.icc1 == pytest.approx(expected)


def _simulate_nested(seed: int, n_units: int, true_icc: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 40, n_units)  # unequal unit sizes
    unit = np.repeat(np.arange(n_units), sizes)
    effect = rng.normal(0, np.sqrt(true_icc), n_units)
    x = 3 + effect[unit] + rng.normal(0, np.sqrt(1 - true_icc), unit.size)
    return pd.DataFrame({"unit": unit, "x": x})


@pytest.mark.parametrize("true_icc", [0.05, 0.2])
def test_icc_recovers_a_known_icc(true_icc):
    result = icc(_simulate_nested(7, 400, true_icc), "x", "unit")
    assert abs(result.icc1 - true_icc) < 0.03, f"ICC(1) {result.icc1:.4f} vs true {true_icc}"
    k = result.mean_group_size
    assert result.icc2 == pytest.approx(k * result.icc1 / (1 + (k - 1) * result.icc1), abs=0.03)
    assert result.pvalue < 1e-6


@pytest.mark.slow
def test_icc_is_unbiased_over_seeded_replications():
    estimates = [icc(_simulate_nested(seed, 200, 0.1), "x", "unit").icc1 for seed in range(200)]
    assert abs(np.mean(estimates) - 0.1) < 0.005


def test_icc_without_unit_effect_is_near_zero_and_not_significant():
    result = icc(_simulate_nested(3, 200, 0.0), "x", "unit")
    assert abs(result.icc1) < 0.02
    assert result.pvalue > 0.01


# --------------------------------------------------------------------------- hostile input
def test_icc_unit_with_one_respondent_counts_between_but_not_within():
    data = pd.DataFrame({"unit": ["a", "a", "b", "b", "c"], "x": [1, 2, 3, 4, 9.0]})
    result = icc(data, "x", "unit")
    assert (result.df_between, result.df_within) == (2, 2)


def test_icc_every_unit_with_one_respondent_is_a_clear_error():
    data = pd.DataFrame({"unit": ["a", "b", "c"], "x": [1, 2, 3.0]})
    with pytest.raises(DataError, match="single respondent"):
        icc(data, "x", "unit")


def test_icc_one_unit_is_a_clear_error():
    data = pd.DataFrame({"unit": ["a"] * 4, "x": [1, 2, 3, 4.0]})
    with pytest.raises(DataError, match="at least two units"):
        icc(data, "x", "unit")


def test_icc_no_variance_between_units_is_documented_not_an_error():
    data = pd.DataFrame({"unit": ["a"] * 3 + ["b"] * 3, "x": [1, 2, 3, 3, 2, 1.0]})
    result = icc(data, "x", "unit")
    assert np.isnan(result.icc2)
    assert result.icc1 == pytest.approx(-1 / (3 - 1))
    assert result.pvalue == 1.0
    assert "no variance between units" in result.note


def test_icc_constant_variable_is_a_clear_error():
    data = pd.DataFrame({"unit": ["a", "a", "b", "b"], "x": [2.0] * 4})
    with pytest.raises(DataError, match="no variance"):
        icc(data, "x", "unit")


def test_icc_misspelt_column_suggests_the_right_one():
    data = pd.DataFrame({"unit": ["a", "a", "b", "b"], "engagement": [1, 2, 3, 4.0]})
    with pytest.raises(DataError, match="Did you mean 'engagement'"):
        icc(data, "engagment", "unit")


def test_icc_text_column_is_a_clear_error():
    data = pd.DataFrame({"unit": ["a", "a", "b", "b"], "x": ["1", "2", "3", "4"]})
    with pytest.raises(DataError, match="not numeric"):
        icc(data, "x", "unit")


# --------------------------------------------------------------------------- agreement
def test_null_variances():
    assert null_variance_for(scale_points=5) == 2.0
    assert null_variance_for(scale_points=7) == 4.0
    # slightly skewed 5-point null of James et al. (1984): proportions .05 .15 .20 .35 .25
    p = np.array([0.05, 0.15, 0.20, 0.35, 0.25])
    x = np.arange(1, 6)
    assert null_variance_for(scale_points=5, null="slight_skew") == pytest.approx(p @ x**2 - (p @ x) ** 2)
    assert null_variance_for(scale_points=7, null="slight_skew") == 2.90
    assert null_variance_for(null_variance=1.5, scale_points=5) == 1.5
    with pytest.raises(DataError, match="no slightly skewed"):
        null_variance_for(scale_points=4, null="slight_skew")
    with pytest.raises(DataError, match="scale points"):
        null_variance_for()
    with pytest.raises(DataError, match="Did you mean 'uniform'"):
        null_variance_for(scale_points=5, null="unifrom")


def _agreement_data() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": ["a"] * 5 + ["b"] * 5 + ["c"] * 2,
            "i1": [3, 3, 3, 4, 3, 1, 5, 1, 5, 3, 4, 4],
        }
    ).assign(i2=[4.0, 4, 3, 4, 4, 1, 5, 5, 1, 3, 4, 5]).astype({"i1": float})


def test_rwg_by_hand_with_truncation_to_zero():
    data = _agreement_data()
    result = rwg(data, "i1", "unit", scale_points=5, min_group_size=1)
    table = result.by_unit.set_index("unit")
    assert table.loc["a", "rwg"] == pytest.approx(1 - np.var([3, 3, 3, 4, 3], ddof=1) / 2)
    assert table.loc["b", "rwg"] == 0.0  # variance 4 > 2: truncated to 0 as multilevel does
    assert table.loc["c", "rwg"] == 1.0


def test_rwg_j_by_hand():
    data = _agreement_data()
    result = rwg_j(data, ["i1", "i2"], "unit", scale_points=5, min_group_size=1)
    s2 = (np.var([3, 3, 3, 4, 3], ddof=1) + np.var([4, 4, 3, 4, 4], ddof=1)) / 2
    expected = 2 * (1 - s2 / 2) / (2 * (1 - s2 / 2) + s2 / 2)
    table = result.by_unit.set_index("unit")
    assert table.loc["a", "rwg_j"] == pytest.approx(expected)
    assert table.loc["b", "rwg_j"] == 0.0
    assert result.n_groups == 3


def test_ad_m_by_hand_with_the_c_over_6_cutoff():
    data = _agreement_data()
    result = ad_m(data, ["i1", "i2"], "unit", scale_points=5, min_group_size=1)
    table = result.by_unit.set_index("unit")
    ad_i1 = np.mean(np.abs(np.array([3, 3, 3, 4, 3]) - 3.2))
    ad_i2 = np.mean(np.abs(np.array([4, 4, 3, 4, 4]) - 3.8))
    assert table.loc["a", "ad_m"] == pytest.approx((ad_i1 + ad_i2) / 2)
    assert result.cutoff == pytest.approx(5 / 6)
    assert bool(table.loc["a", "agreement"]) is True
    assert bool(table.loc["b", "agreement"]) is False
    median = ad_m(data, "i1", "unit", center="median", min_group_size=1).by_unit.set_index("unit")
    assert median.loc["a", "ad_m"] == pytest.approx(0.2)


def test_agreement_unit_with_one_respondent_has_no_value():
    data = pd.concat([_agreement_data(), pd.DataFrame({"unit": ["d"], "i1": [2.0], "i2": [2.0]})])
    for result in (
        rwg(data, "i1", "unit", scale_points=5, min_group_size=1),
        rwg_j(data, ["i1", "i2"], "unit", scale_points=5, min_group_size=1),
        ad_m(data, ["i1", "i2"], "unit", min_group_size=1),
    ):
        row = result.by_unit.set_index("unit").loc["d"]
        assert np.isnan(row[result.statistic])
        assert "one respondent" in row["label"]


# --------------------------------------------------------------------------- privacy
@pytest.mark.parametrize("statistic", ["rwg", "rwg_j", "ad_m"])
def test_agreement_tables_suppress_small_units(statistic):
    data = _agreement_data()  # unit c has 2 respondents
    items = "i1" if statistic == "rwg" else ["i1", "i2"]
    function = {"rwg": rwg, "rwg_j": rwg_j, "ad_m": ad_m}[statistic]
    options = {} if statistic == "ad_m" else {"scale_points": 5}
    shown = function(data, items, "unit", min_group_size=5, **options)
    everything = function(data, items, "unit", min_group_size=1, **options)
    row = shown.to_frame().set_index("unit").loc["c"]
    assert bool(row["suppressed"]) and row["label"] == "fewer than 5 respondents"
    assert np.isnan(row[statistic]) and pd.isna(row["n"])
    assert shown.n_suppressed == 1 and shown.n_groups == 2
    visible = everything.by_unit.set_index("unit").loc[["a", "b"], statistic]
    assert shown.mean == pytest.approx(visible.mean())  # the summary leaves the hidden unit out
    hidden_value = everything.by_unit.set_index("unit").loc["c", statistic]
    assert not np.isclose(shown.to_frame()[statistic].dropna(), hidden_value).any()


def test_complementary_suppression_protects_a_lone_small_unit():
    sizes = pd.Series({"a": 3, "b": 40, "c": 6, "d": 12})
    assert list(suppress_small_units(sizes, 5)[lambda s: s].index) == ["a"]
    hidden = suppress_small_units(sizes, 5, complementary=True)
    assert list(hidden[hidden].index) == ["a", "c"]  # 3 respondents alone could be recovered
    enough = suppress_small_units(pd.Series({"a": 3, "b": 4, "c": 9}), 5, complementary=True)
    assert list(enough[enough].index) == ["a", "b"]  # 7 hidden together: nothing more needed


# --------------------------------------------------------------------------- verdict table
def _construct_frame(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_units, size = 60, 12
    unit = np.repeat(np.arange(n_units), size)
    frame = {"unit": unit}
    # climate: strong unit effect, people agree; noise: no unit effect, no agreement
    climate_unit = rng.normal(0, 0.8, n_units)
    for item in ("c1", "c2", "c3"):
        frame[item] = np.clip(np.round(3.5 + climate_unit[unit] + rng.normal(0, 0.45, unit.size)), 1, 5)
    for item in ("n1", "n2", "n3"):
        frame[item] = rng.integers(1, 6, unit.size).astype(float)
    frame = pd.DataFrame(frame)
    frame["climate"] = frame[["c1", "c2", "c3"]].mean(axis=1)
    frame["noise"] = frame[["n1", "n2", "n3"]].mean(axis=1)
    return frame


def test_aggregation_table_verdicts():
    frame = _construct_frame()
    table = aggregation_table(
        frame, {"climate": ["c1", "c2", "c3"], "noise": ["n1", "n2", "n3"]}, "unit", scale_points=5
    ).set_index("construct")
    assert table.loc["climate", "verdict"] == "justified", table.loc["climate", "reason"]
    assert table.loc["climate", "icc1"] > 0.3 and table.loc["climate", "icc2"] > 0.8
    assert table.loc["climate", "rwg_j_mean"] >= 0.7
    assert table.loc["noise", "verdict"] == "not justified"
    assert "units do not differ" in table.loc["noise", "reason"] or "ICC(1)" in table.loc["noise", "reason"]
    assert table.loc["noise", "rwg_j_mean"] < 0.5
    assert table.loc["climate", "ad_m_cutoff"] == pytest.approx(5 / 6)
    assert list(table.reset_index().columns)[:4] == ["construct", "n", "n_units", "icc1"]


def test_aggregation_table_construct_without_between_unit_variance():
    frame = pd.DataFrame({"unit": np.repeat([1, 2, 3], 6), "a": np.tile([1, 2, 3, 4, 5, 3.0], 3)})
    frame["flat"] = frame["a"]
    table = aggregation_table(frame, {"flat": ["a"]}, "unit", scale_points=5)
    assert table.loc[0, "verdict"] == "not justified"
    assert np.isnan(table.loc[0, "icc2"])


def test_aggregation_table_without_scale_gives_weak_at_best():
    frame = _construct_frame()
    table = aggregation_table(frame, {"climate": ["c1", "c2", "c3"]}, "unit")
    assert table.loc[0, "verdict"] == "weak"
    assert "not available" in table.loc[0, "reason"]


def test_aggregation_table_needs_the_construct_score_column():
    frame = _construct_frame().drop(columns="climate")
    with pytest.raises(DataError, match="climate"):
        aggregation_table(frame, {"climate": ["c1", "c2", "c3"]}, "unit", scale_points=5)


def test_aggregation_table_summaries_leave_small_units_out():
    frame = _construct_frame()
    small = frame[frame["unit"] == 0].head(3).assign(unit=999)
    table = aggregation_table(
        pd.concat([frame, small]), {"climate": ["c1", "c2", "c3"]}, "unit", scale_points=5
    )
    assert table.loc[0, "n_units"] == 61 and table.loc[0, "n_units_shown"] == 60



@pytest.fixture(scope="module")
def employee_survey():
    instrument = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    frame = simulate_responses(instrument, n_units=40, respondents_per_unit=(2, 20), seed=1, icc=0.3)
    return instrument, frame


def test_aggregation_table_from_the_instrument(employee_survey):
    instrument, frame = employee_survey
    table = aggregation_table(frame, instrument, "unit")
    assert list(table["construct"]) == [c.id for c in instrument.constructs]
    assert np.allclose(table["ad_m_cutoff"], 5 / 6)  # five-point items, read from the instrument
    assert (table["pvalue"] < 0.05).all() and (table["icc1"] > 0.05).all()
    sizes = frame.groupby("unit").size()
    assert (table["n_units_shown"] <= int((sizes >= instrument.min_group_size).sum())).all()
    assert set(table["verdict"]) <= {"justified", "weak", "not justified"}
    # the same numbers as the mapping form on the scored frame
    scored = score(frame, instrument)
    mapping = {c.id: list(c.items) for c in instrument.constructs}
    by_mapping = aggregation_table(scored, mapping, "unit", scale_points=5, min_group_size=instrument.min_group_size)
    pd.testing.assert_frame_equal(table, by_mapping)


def test_aggregation_table_uses_the_instruments_anonymity_threshold(employee_survey):
    instrument, frame = employee_survey
    largest = int(frame.groupby("unit").size().max())
    default = aggregation_table(frame, instrument, "unit")
    hidden = aggregation_table(frame, instrument, "unit", min_group_size=largest + 1)
    assert (default["n_units_shown"] > 0).all()
    assert (hidden["n_units_shown"] == 0).all() and hidden["rwg_j_mean"].isna().all()
