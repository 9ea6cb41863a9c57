"""Partial measurement invariance: score tests of equality constraints against lavaan,
against the likelihood-ratio test, and the search on simulated data with known
non-invariance (analysis.sem.invariance, analysis.sem.score_test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ModelSpecificationError
from analysis.sem import fit, invariance
from analysis.sem.score_test import score_test
from tests.conftest import reference_data

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"

# lavaan 0.6.14 (R 4.2, Rscript in this repository's environment, pinned here):
#   fit <- sem(HS_MODEL, data = hs, group = "school", group.equal = ...); lavTestScore(fit)
# univariate X2 of each constraint (Grant-White's row tied to Pasteur's) and the total test.
LAVAAN_SCORE = {
    ("loadings",): ({"visual =~ x2": 0.667819, "visual =~ x3": 0.515807, "textual =~ x5": 4.649007,
                     "textual =~ x6": 2.712217, "speed =~ x8": 0.016403, "speed =~ x9": 0.059043}, 7.255862, 6),
    ("loadings", "intercepts"): ({"visual =~ x2": 0.305658, "visual =~ x3": 1.636480, "textual =~ x5": 2.743513,
                                  "textual =~ x6": 2.627289, "speed =~ x8": 0.026550, "speed =~ x9": 0.003649,
                                  "x1 ~ 1": 5.847258, "x2 ~ 1": 6.863266, "x3 ~ 1": 19.192500, "x4 ~ 1": 2.138796,
                                  "x5 ~ 1": 1.562735, "x6 ~ 1": 0.032493, "x7 ~ 1": 15.021446,
                                  "x8 ~ 1": 4.709542, "x9 ~ 1": 1.497903}, 46.956029, 15),
}
# the same with group.partial = "x3 ~ 1" (chisq 144.578999 on 59 df)
LAVAAN_PARTIAL_X3 = ({"x7 ~ 1": 15.023395, "x8 ~ 1": 4.727249, "x1 ~ 1": 2.832765, "x2 ~ 1": 2.832765,
                      "textual =~ x5": 2.760487, "visual =~ x2": 0.733962, "x6 ~ 1": 0.032288,
                      "speed =~ x9": 0.002497}, 27.528051, 14)


@pytest.fixture(scope="module")
def hs():
    return reference_data("holzinger_swineford_1939.csv")


def _by_term(test) -> dict[str, float]:
    return dict(zip(test.by_parameter["term"], test.by_parameter["X2"], strict=True))


@pytest.mark.parametrize("group_equal", list(LAVAAN_SCORE))
def test_score_tests_equal_lavaan_lavtestscore(hs, group_equal):
    expected, total, df = LAVAAN_SCORE[group_equal]
    test = score_test(fit(HS_MODEL, hs, group="school", group_equal=group_equal).fitted)
    got = _by_term(test)
    misses = [f"lavTestScore {group_equal} {term}: expected {x2}, actual {got[term]:.6f}"
              for term, x2 in expected.items() if abs(got[term] - x2) > 1e-4 * max(1, x2)]
    assert not misses, "\n".join(misses)
    assert test.total["X2"] == pytest.approx(total, rel=1e-5) and test.total["df"] == df
    assert len(test.univariate) == df and (test.univariate["df"] == 1).all()
    assert set(test.univariate["group"]) == {"Grant-White"} and set(test.univariate["reference_group"]) == {"Pasteur"}


def test_score_tests_of_a_partial_model_equal_lavaan(hs):
    res = fit(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts"), group_partial=("x3 ~ 1",))
    assert res.fit_measures["chisq"] == pytest.approx(144.578999, abs=1e-4)
    expected, total, df = LAVAAN_PARTIAL_X3
    test = score_test(res.fitted)
    got = _by_term(test)
    assert "x3 ~ 1" not in got
    for term, x2 in expected.items():
        assert got[term] == pytest.approx(x2, rel=1e-4, abs=1e-5), term
    assert (test.total["X2"], test.total["df"]) == (pytest.approx(total, rel=1e-5), df)


def test_score_test_is_close_to_the_likelihood_ratio_of_releasing_the_constraint(hs):
    """Releasing x3 ~ 1: the score statistic (19.19) against the LR chi-square difference of
    the refit (19.52), and the expected parameter change against the refit's difference."""
    scalar = fit(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts"))
    released = fit(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts"), group_partial="x3 ~ 1")
    lr = scalar.fit_measures["chisq"] - released.fit_measures["chisq"]
    uni = score_test(scalar.fitted, categories=("intercepts",)).univariate.set_index("lhs")
    assert uni.loc["x3", "X2"] == pytest.approx(lr, rel=0.03)
    est = released.estimates
    x3 = est[(est.lhs == "x3") & (est.op == "~1")].set_index("group")["est"]
    assert uni.loc["x3", "epc"] == pytest.approx(x3["Grant-White"] - x3["Pasteur"], rel=0.15)
    assert set(uni["category"]) == {"intercepts"}


def test_search_finds_lavaans_partial_scalar_model_and_its_latent_means(hs):
    """HS1939 by school: scalar fails (ΔCFI -.038); the search releases x3 ~ 1, then x7 ~ 1 (the
    wave-2 reference case hs1939_partial_scalar_latent_means) and stops within ΔCFI .01."""
    from tests.test_sem_wave2 import wave2_cases

    inv = invariance(HS_MODEL, hs, "school")
    assert inv.level == "partial scalar" and inv.group_partial == ("x3 ~ 1", "x7 ~ 1")
    assert list(inv.released["term"]) == ["x3 ~ 1", "x7 ~ 1"]
    # after x3 is released, visual keeps only x1 and x2: neither may go (two invariant intercepts)
    assert list(inv.released["n_tested"]) == [9, 6]
    table = inv.table.set_index("model")
    assert list(table.index) == ["configural", "metric", "scalar", "partial scalar"]
    assert not table.loc["scalar", "holds"] and table.loc["partial scalar", "holds"]
    assert table.loc["partial scalar", "compared_with"] == "metric"
    assert table.loc["partial scalar", "delta_cfi"] >= -0.01
    expected = wave2_cases()["hs1939_partial_scalar_latent_means"]["expected"]["latent_mean_differences"]
    latent = inv.latent.set_index("factor")
    for factor, exp in expected.items():
        assert latent.loc[factor, "group"] == exp["group"] and latent.loc[factor, "reference_group"] == "Pasteur"
        assert latent.loc[factor, "mean"] == pytest.approx(exp["est"], abs=2e-3)
        assert latent.loc[factor, "mean_se"] == pytest.approx(exp["se"], rel=0.02)
        assert latent.loc[factor, "mean_pvalue"] == pytest.approx(exp["pvalue"], abs=5e-3)
    est = inv.fits["partial scalar"].estimates
    psi = est[(est.lhs == "speed") & (est.op == "~~") & (est.rhs == "speed")].set_index("group")["est"]
    assert latent.loc["speed", "variance_diff"] == pytest.approx(psi["Grant-White"] - psi["Pasteur"])
    assert latent.loc["speed", "variance_ratio"] == pytest.approx(psi["Grant-White"] / psi["Pasteur"])
    assert latent.loc["speed", "variance_diff_se"] > 0


def _simulate(seed: int, n: int = 500, *, intercept_shift: dict[str, float] | None = None,
              loading_shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Two factors x four items in two groups; group B's latent means 0.3 and 0, variances
    1.3 and 1 (A: 0 and 1), the given item intercepts and loadings shifted in B."""
    rng = np.random.default_rng(seed)
    loadings = {"a1": 1.0, "a2": 0.8, "a3": 0.9, "a4": 0.7, "b1": 1.0, "b2": 0.9, "b3": 0.8, "b4": 0.6}
    frames = []
    for group, means, sds in (("A", (0.0, 0.0), (1.0, 1.0)), ("B", (0.3, 0.0), (1.3 ** 0.5, 1.0))):
        f = rng.multivariate_normal(means, [[sds[0] ** 2, 0.3 * sds[0] * sds[1]], [0.3 * sds[0] * sds[1], sds[1] ** 2]],
                                    size=n)
        cols = {}
        for item, lam in loadings.items():
            lam = lam + (loading_shift or {}).get(item, 0.0) * (group == "B")
            nu = 3.0 + (intercept_shift or {}).get(item, 0.0) * (group == "B")
            cols[item] = nu + lam * f[:, 0 if item[0] == "a" else 1] + rng.normal(0, 0.6, n)
        frames.append(pd.DataFrame(cols).assign(group=group))
    return pd.concat(frames, ignore_index=True)


SIM_MODEL = "fa =~ a1 + a2 + a3 + a4\nfb =~ b1 + b2 + b3 + b4"


def test_search_finds_the_one_non_invariant_intercept_and_no_other():
    """a3's intercept is 0.4 higher in group B: over 20 data sets the score-rule search
    releases it every time and an invariant constraint at most 3 times (Holm at .05 per
    step: about one expected). The latent mean difference it reports equals, on average,
    the full scalar model's on the same draws without the shift (paired), and recovers the
    truth (0.3) within 3 standard errors of the 20-set mean; the variance ratio is 1.3."""
    found, false, means, paired, ratios = 0, 0, [], [], []
    for seed in range(20):
        inv = invariance(SIM_MODEL, _simulate(seed, intercept_shift={"a3": 0.4}), "group", rule="score")
        terms = set(inv.group_partial)
        found += "a3 ~ 1" in terms
        false += bool(terms - {"a3 ~ 1"})
        latent = inv.latent.set_index("factor")
        means.append(latent.loc["fa", "mean"])
        ratios.append(latent.loc["fa", "variance_ratio"])
        clean = fit(SIM_MODEL, _simulate(seed), group="group", group_equal=("loadings", "intercepts")).estimates
        paired.append(clean[(clean.lhs == "fa") & (clean.op == "~1") & (clean.group == "B")]["est"].iloc[0])
    assert found == 20
    assert false <= 3
    assert np.mean(means) == pytest.approx(np.mean(paired), abs=0.01)
    assert abs(np.mean(means) - 0.3) < 3 * np.std(means, ddof=1) / np.sqrt(len(means))
    assert np.mean(ratios) == pytest.approx(1.3, abs=0.08)


def test_invariant_data_hold_scalar_invariance_without_releases():
    inv = invariance(SIM_MODEL, _simulate(3), "group")
    assert inv.level == "scalar" and inv.group_partial == () and inv.released.empty
    assert inv.comparable and inv.reason == ""
    assert list(inv.table["model"]) == ["configural", "metric", "scalar"]
    assert inv.latent.set_index("factor").loc["fb", "mean"] == pytest.approx(0.0, abs=0.15)


def test_a_factor_keeps_two_invariant_intercepts_so_means_may_not_be_compared():
    """Three of fa's four intercepts differ: two may be released, not the third (at least two
    invariant indicators per factor), so scalar invariance fails and latent means are not comparable."""
    data = _simulate(5, intercept_shift={"a2": 0.8, "a3": -0.8, "a4": 0.9})
    inv = invariance(SIM_MODEL, data, "group", rule="score")
    released = [t for t in inv.released["term"] if t.startswith("a")]
    assert len(released) == 2 and set(inv.released["stage"]) == {"scalar"}
    assert inv.level == "metric" and not inv.comparable and inv.latent is None
    assert inv.group_partial == () and inv.final == "metric"
    assert "intercepts differ" in inv.reason and inv.table.iloc[-1]["model"] == "partial scalar"


def test_non_invariant_loading_is_released_at_metric_and_stays_released_at_scalar():
    data = _simulate(7, loading_shift={"b3": 0.6})
    inv = invariance(SIM_MODEL, data, "group", rule="score")
    assert inv.released.iloc[0]["term"] == "fb =~ b3" and inv.released.iloc[0]["stage"] == "metric"
    assert "fb =~ b3" in inv.group_partial and inv.level == "partial scalar"
    assert inv.final == "scalar" and inv.table.set_index("model").loc["scalar", "released"] == "fb =~ b3"
    scalar = inv.fits[inv.final].estimates
    b3 = scalar[(scalar.lhs == "fb") & (scalar.rhs == "b3") & (scalar.op == "=~")]["est"]
    assert b3.nunique() == 2   # free in both groups in the final model


def test_group_partial_by_hand_and_without_search(hs):
    inv = invariance(HS_MODEL, hs, "school", group_partial=("x3 ~ 1", "x7 ~ 1"), search=False)
    assert inv.level == "partial scalar" and inv.released.empty
    assert inv.fits["scalar"].fit_measures["chisq"] == pytest.approx(129.42248, abs=1e-3)
    assert inv.latent is not None


def test_bad_options_say_how_to_fix():
    with pytest.raises(ModelSpecificationError, match="rule"):
        invariance(SIM_MODEL, _simulate(1, n=50), "group", rule="bic")
    with pytest.raises(ModelSpecificationError, match="not a loading or an intercept"):
        invariance(SIM_MODEL, _simulate(1, n=50), "group", group_partial="a1 ~~ a1")
    with pytest.raises(ModelSpecificationError, match="no equality constraints"):
        score_test(fit(SIM_MODEL, _simulate(1, n=50), group="group").fitted)


def test_fiml_and_extra_fit_options_pass_through():
    data = _simulate(11, n=300, intercept_shift={"b2": 0.6})
    data.loc[data.sample(frac=0.05, random_state=1).index, "a2"] = np.nan
    inv = invariance(SIM_MODEL, data, "group", missing="fiml", rule="score", fixed_x=True)
    assert "b2 ~ 1" in inv.group_partial
    assert inv.fits["configural"].missing == "fiml"


def test_ordinal_items_tie_thresholds_at_the_scalar_step_without_a_search():
    """With ordered= the options pass through to fit (WLSMV): the scalar step ties thresholds and
    loadings (the same fit as by hand), ΔCFI uses the scaled CFI, the plain Δχ² p-value is left out
    (WLSMV needs the scaled difference test) and no score-test search runs (no likelihood)."""
    data = reference_data("holzinger_swineford_1939_ordinal.csv")
    ordered = [f"x{i}" for i in range(1, 10)]
    inv = invariance(HS_MODEL, data, "school", ordered=ordered)
    table = inv.table.set_index("model")
    by_hand = fit(HS_MODEL, data, group="school", group_equal=("loadings", "thresholds"), ordered=ordered)
    assert table.loc["scalar", "chisq"] == pytest.approx(by_hand.fit_measures["chisq"], rel=1e-8)
    assert table.loc["scalar", "cfi"] == pytest.approx(by_hand.fit_measures["cfi_scaled"], rel=1e-8)
    assert table["pvalue"].isna().all() and inv.released.empty
    if not inv.comparable:
        assert "thresholds differ" in inv.reason
    with pytest.raises(ModelSpecificationError, match="need a likelihood"):
        invariance(HS_MODEL, data, "school", ordered=ordered, search=True)
