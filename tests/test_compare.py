"""Group comparisons: the R reference cases, simulated truth, bad input, and the disclosure policy
through the service, the page, the CLI and the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.compare import adjust_pvalues, compare, hedges_correction
from analysis.errors import DataError
from tests.conftest import REFERENCE_DIR, reference_data

ROOT = Path(__file__).resolve().parents[1]


def wave2_cases(kind: str) -> dict:
    cases = json.loads((REFERENCE_DIR / "expected_wave2.json").read_text())
    return {name: case for name, case in cases.items() if case["kind"] == kind}


GROUP_CASES = wave2_cases("group_comparison")


def case_frame(case: dict) -> pd.DataFrame:
    frame = reference_data(case["data"])
    spec = case.get("score")
    if spec:
        items = frame[spec["items"]].astype(float)
        for item in spec["reverse"]:
            items[item] = spec["reverse_sum"] - items[item]
        frame[case["dv"]] = items.mean(axis=1, skipna=False)
    return frame


class Check:
    """Collects every mismatch of one case, each naming the statistic, expected and actual value."""

    def __init__(self, name: str, tolerance: dict):
        self.name, self.tolerance, self.failures = name, tolerance, []

    def __call__(self, statistic: str, expected: float, actual: float, kind: str = "stat", *,
                 scale: float = 0.0) -> None:
        """``scale``: a magnitude the relative tolerance also applies to (an interval bound
        near 0 is checked relative to the standard error, not to itself)."""
        if expected is None:
            return
        if kind == "stat":
            ok = math.isclose(actual, expected, rel_tol=self.tolerance["stat_rel"],
                              abs_tol=max(1e-12, self.tolerance["stat_rel"] * scale))
        else:
            ok = abs(actual - expected) <= self.tolerance[{"p": "p_abs", "p_adj": "p_adj_abs",
                                                           "effect": "effect_abs"}[kind]]
        if not ok:
            self.failures.append(f"{self.name}: {statistic}: expected {expected!r}, got {actual!r}")

    def done(self) -> None:
        assert not self.failures, "\n".join(self.failures)


@pytest.mark.parametrize("name", sorted(GROUP_CASES))
def test_reference_group_comparison(name):
    case = GROUP_CASES[name]
    expected = case["expected"]
    check = Check(name, case["tolerance"])
    result = compare(case_frame(case), case["dv"], case["group"])
    check("n", expected["n"], result.n)
    assert list(result.groups["group"]) == list(expected["groups"]), f"{name}: group labels and order"
    groups = result.groups.set_index("group")
    for label, values in expected["groups"].items():
        for key in ("n", "mean", "sd"):
            check(f"groups[{label}].{key}", values[key], float(groups.at[label, key]))
    welch, anova = result.welch, result.anova
    for key, column in (("F", "F"), ("df1", "df1"), ("df2", "df2")):
        check(f"welch.{key}", expected["welch"][key], float(welch[column]))
        check(f"anova.{key}", expected["anova"][key], float(anova[column]))
    check("welch.p", expected["welch"]["p"], float(welch["pvalue"]), "p")
    check("anova.p", expected["anova"]["p"], float(anova["pvalue"]), "p")
    for key in ("ss_between", "ss_within"):
        check(f"anova.{key}", expected["anova"][key], float(anova[key]))
    for key in ("eta2", "omega2"):
        check(f"anova.{key}", expected["anova"][key], float(anova[key]), "effect")
    pairs = result.pairwise.set_index(["group1", "group2"])
    assert len(pairs) == len(expected["games_howell"]), f"{name}: number of Games-Howell pairs"
    for row in expected["games_howell"]:
        key = (row["group1"], row["group2"])
        assert key in pairs.index, f"{name}: Games-Howell pair {key} missing (order group1 < group2)"
        got = pairs.loc[key]
        for stat in ("diff", "se", "t", "q", "df", "ci_lower", "ci_upper"):
            check(f"games_howell[{key}].{stat}", row[stat], float(got[stat]), scale=row["se"])
        check(f"games_howell[{key}].p_adj", row["p_adj"], float(got["pvalue_adj"]), "p_adj")
    if "welch_t" in expected:
        tests = result.t_tests.set_index("test")
        for test, entry in (("welch", "welch_t"), ("student", "student_t")):
            check(f"{entry}.t", expected[entry]["t"], float(tests.at[test, "t"]))
            check(f"{entry}.df", expected[entry]["df"], float(tests.at[test, "df"]))
            check(f"{entry}.p", expected[entry]["p"], float(tests.at[test, "pvalue"]), "p")
        pair = result.pairwise.iloc[0]
        for key in ("cohens_d", "hedges_g", "hedges_g_exact"):
            check(key, expected[key], float(pair[key]), "effect")
    else:
        assert result.t_tests.empty
    check.done()


def test_reference_tolerances_are_tight_enough_to_catch_pingouins_conventions():
    """pingouin.ttest reports |d| and rounds its interval; a sign error must fail the case."""
    case = GROUP_CASES["salaries_by_sex"]
    result = compare(case_frame(case), case["dv"], case["group"])
    assert result.pairwise.iloc[0]["cohens_d"] < 0 and case["expected"]["cohens_d"] < 0
    welch = result.t_tests.set_index("test").loc["welch"]
    gh = result.pairwise.iloc[0]
    assert welch["ci_lower"] == pytest.approx(gh["diff"] - 2.0086 * gh["se"], rel=1e-3)  # unrounded
    assert welch["ci_lower"] != round(welch["ci_lower"], 2)


def test_to_frame_and_versus_rest():
    case = GROUP_CASES["salaries_by_rank"]
    frame = case_frame(case)
    result = compare(frame, "salary", "rank")
    table = result.to_frame()
    assert list(table.columns) == ["group", "n", "mean", "sd", "se", "diff", "hedges_g", "pvalue", "pvalue_adj"]
    prof = table.set_index("group").loc["Prof"]
    rest = frame.loc[frame["rank"] != "Prof", "salary"]
    assert prof["diff"] == pytest.approx(frame.loc[frame["rank"] == "Prof", "salary"].mean() - rest.mean())
    holm = adjust_pvalues(result.versus_rest["pvalue"], "holm")
    assert np.allclose(result.versus_rest["pvalue_adj"], holm)


def test_adjust_pvalues_matches_r_p_adjust():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # R: p.adjust(c(.01, .04, .03, .005), "holm") / "BH"
    assert np.allclose(adjust_pvalues(p, "holm")[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(adjust_pvalues(p, "fdr_bh")[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjust_pvalues(p, "holm")[4])
    with pytest.raises(DataError, match="unknown adjustment"):
        adjust_pvalues(p, "tukey")


def test_hedges_correction():
    assert hedges_correction(10) == pytest.approx(1 - 3 / 39)
    exact = math.gamma(5) / (math.sqrt(5) * math.gamma(4.5))  # R: gamma(df/2) / (sqrt(df/2) gamma((df-1)/2))
    assert hedges_correction(10, exact=True) == pytest.approx(exact, rel=1e-12)
    assert math.isnan(hedges_correction(1))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("frame", "dv", "group", "message"), [
    (pd.DataFrame({"y": [1.0, 2, 3], "g": ["a", "a", "a"]}), "y", "g", "only the group 'a'"),
    (pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "a", "a", "b"]}), "y", "g", "single response"),
    (pd.DataFrame({"y": ["x", "y", "z", "w"], "g": ["a", "a", "b", "b"]}), "y", "g", "text that is not a number"),
    (pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "a", "b", "b"]}), "score", "g", "compared column 'score'"),
    (pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "a", "b", "b"]}), "y", "region", "group column 'region'"),
    (pd.DataFrame({"y": [np.nan] * 4, "g": ["a", "a", "b", "b"]}), "y", "g", "no answers"),
])
def test_bad_input_raises_data_error_with_where_and_fix(frame, dv, group, message):
    with pytest.raises(DataError, match=message) as info:
        compare(frame, dv, group)
    assert info.value.where and info.value.fix


def test_a_constant_group_leaves_welch_undefined_not_an_exception():
    frame = pd.DataFrame({"y": [3.0, 3, 3, 1, 2, 4, 5], "g": list("aaabbbb")})
    result = compare(frame, "y", "g")
    assert np.isnan(result.welch["F"]) and np.isfinite(result.anova["F"])
    assert result.notes and "Welch" in result.notes[0]


# --------------------------------------------------------------------------- simulated truth
def _simulate(rng, shifts, n):
    return pd.DataFrame({"y": np.concatenate([rng.normal(s, 1, n) for s in shifts]),
                         "g": np.repeat([f"g{i}" for i in range(len(shifts))], n)})


def test_no_difference_gives_uniform_pvalues_and_holm_controls_the_family_error():
    rng = np.random.default_rng(20240611)
    welch, anova, any_holm, any_raw = [], [], 0, 0
    replications = 400
    for _ in range(replications):
        result = compare(_simulate(rng, [0, 0, 0, 0], 30), "y", "g")
        welch.append(result.welch["pvalue"])
        anova.append(result.anova["pvalue"])
        any_holm += bool((result.versus_rest["pvalue_adj"] < 0.05).any())
        any_raw += bool((result.versus_rest["pvalue"] < 0.05).any())
    from scipy import stats

    assert stats.kstest(welch, "uniform").pvalue > 0.01
    assert stats.kstest(anova, "uniform").pvalue > 0.01
    assert 0.02 < np.mean(np.array(welch) < 0.05) < 0.09
    assert any_holm / replications <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / replications)
    assert any_raw > any_holm  # without adjustment the family error is inflated


def test_games_howell_controls_the_family_error_under_unequal_variances():
    rng = np.random.default_rng(3)
    hits, replications = 0, 300
    for _ in range(replications):
        frame = pd.DataFrame({"y": np.concatenate([rng.normal(0, s, n) for s, n in ((1, 15), (3, 40), (0.5, 25))]),
                              "g": np.repeat(["a", "b", "c"], [15, 40, 25])})
        hits += bool((compare(frame, "y", "g").pairwise["pvalue_adj"] < 0.05).any())
    assert hits / replications <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / replications)


def test_a_known_shift_is_recovered_with_hedges_g_close_to_the_truth():
    rng = np.random.default_rng(11)
    g = []
    for _ in range(200):
        result = compare(_simulate(rng, [0.0, 0.5], 40), "y", "g")
        g.append(result.pairwise.iloc[0]["hedges_g"])
    assert np.mean(g) == pytest.approx(-0.5, abs=0.04)  # diff is g0 - g1
    big = compare(_simulate(rng, [0.0, 0.0, 0.8], 2000), "y", "g")
    shifted = big.versus_rest.set_index("group").loc["g2"]
    assert shifted["hedges_g"] == pytest.approx(0.8, abs=0.12) and shifted["pvalue_adj"] < 1e-6
    assert (big.versus_rest.set_index("group").loc[["g0", "g1"], "hedges_g"] < 0).all()
    assert big.omnibus.set_index("test")["pvalue"].max() < 1e-10


def test_games_howell_equals_pingouin_and_the_studentized_range_equals_scipy():
    import pingouin as pg
    from scipy import stats

    from analysis.compare import ptukey, qtukey

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"y": np.concatenate([rng.normal(m, s, n) for m, s, n in ((0, 1, 12), (0.6, 2, 30),
                                                                                    (0.2, 0.7, 20), (1, 1, 9))]),
                          "g": np.repeat(list("abcd"), [12, 30, 20, 9])})
    ours = compare(frame, "y", "g").pairwise
    theirs = pg.pairwise_gameshowell(data=frame, dv="y", between="g", effsize="hedges")
    assert list(ours["group1"]) == list(theirs["A"]) and list(ours["group2"]) == list(theirs["B"])
    for mine, other in (("diff", "diff"), ("se", "se"), ("t", "T"), ("df", "df"), ("hedges_g", "hedges")):
        assert np.allclose(ours[mine], theirs[other], rtol=1e-12), mine
    assert np.allclose(ours["pvalue_adj"], theirs["pval"], atol=1e-9)
    for k in (2, 3, 7, 40):
        for df in (2.5, 11.3, 87.0, 950.0, 30000.0):
            q = np.array([0.5, 2.0, 3.5, 5.0, 9.0])
            assert np.allclose(ptukey(q, k, df), stats.studentized_range.sf(q, k, df), atol=1e-9), (k, df)
            assert qtukey(0.95, k, df)[0] == pytest.approx(stats.studentized_range.ppf(0.95, k, df), rel=1e-8)
