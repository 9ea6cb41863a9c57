"""WLSMV (ordinal indicators) in analysis.sem: simulated truth, lavaan 0.6.14 beyond the
wave-2 cases (groups), hostile input and the options WLSMV refuses.

The wave-2 reference cases (``bfi_AC_wlsmv``, ``hs1939_ordinal_wlsmv``) are in
``tests/test_sem_wave2.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import Mismatches, reference_data

from analysis import sem
from analysis.errors import DataError, ModelSpecificationError
from analysis.polychoric import polychoric

ONE_FACTOR = "f =~ y1 + y2 + y3 + y4 + y5 + y6"
ITEMS = [f"y{i}" for i in range(1, 7)]
#: standardized loadings of the latent responses, and skewed thresholds giving 3, 4 or 5 categories
LOADINGS = np.array([0.8, 0.7, 0.75, 0.6, 0.65, 0.5])
THRESHOLDS = [(0.5, 1.3), (0.3, 1.0, 1.6), (-0.2, 0.6, 1.2, 1.8), (0.8, 1.5), (0.0, 0.9, 1.6), (0.4, 1.1, 1.7, 2.2)]
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
HS_ORDERED = [f"x{i}" for i in range(1, 10)]


def simulate_ordinal(n: int, seed: int) -> pd.DataFrame:
    """One factor, latent responses with unit variance cut at skewed thresholds (1 = lowest)."""
    rng = np.random.default_rng(seed)
    eta = rng.standard_normal(n)
    ystar = eta[:, None] * LOADINGS + rng.standard_normal((n, 6)) * np.sqrt(1 - LOADINGS ** 2)
    cols = {name: 1 + np.searchsorted(np.array(t), ystar[:, j]) for j, (name, t) in
            enumerate(zip(ITEMS, THRESHOLDS, strict=True))}
    return pd.DataFrame(cols).astype(float)


def std_loadings(res) -> np.ndarray:
    est = res.estimates
    return est[est.op == "=~"].set_index("rhs").loc[ITEMS, "std_all"].to_numpy()


# ------------------------------------------------------------------ simulated truth
def test_wlsmv_recovers_the_latent_loadings_where_ml_on_the_items_is_biased():
    data = simulate_ordinal(4000, seed=11)
    wlsmv = sem.fit(ONE_FACTOR, data, ordered=ITEMS)
    ml = sem.fit(ONE_FACTOR, data)
    assert wlsmv.converged and ml.converged
    bias_wlsmv = std_loadings(wlsmv) - LOADINGS
    bias_ml = std_loadings(ml) - LOADINGS
    # sampling SD of a standardized loading here is about 0.015-0.02 (seeds 0-7: |bias| <= 0.037)
    assert np.max(np.abs(bias_wlsmv)) < 0.05, bias_wlsmv
    assert np.mean(np.abs(bias_wlsmv)) < 0.02, bias_wlsmv
    # ML treats the categories as interval scores: the coarse, skewed items attenuate every loading
    assert np.all(bias_ml < -0.02), bias_ml
    assert bias_ml.mean() < -0.06, bias_ml
    # the thresholds of the estimate table are the population thresholds (delta parameterization)
    est = wlsmv.estimates
    t = est[(est.lhs == "y3") & (est.op == "|")]
    assert t.rhs.tolist() == ["t1", "t2", "t3", "t4"]
    np.testing.assert_allclose(t.est, THRESHOLDS[2], atol=0.06)
    assert np.all(t.se > 0) and np.all(t.std_all == t.est)
    # residual variances are fixed at 1 - lambda^2 psi, reported with se 0
    resid = est[(est.op == "~~") & (est.lhs == est.rhs) & est.lhs.isin(ITEMS)].set_index("lhs").loc[ITEMS]
    np.testing.assert_allclose(resid.est, 1 - std_loadings(wlsmv) ** 2, atol=1e-10)
    assert np.all(resid.se == 0)
    fm = wlsmv.fit_measures
    assert np.isnan(fm["logl"]) and np.isnan(fm["aic"]) and np.isnan(fm["bic"])
    assert fm["df"] == 9 and fm["cfi_robust"] > 0.99 and fm["rmsea_robust"] < 0.03


@pytest.mark.slow
def test_wlsmv_loadings_are_unbiased_and_its_robust_ses_calibrated_over_replications():
    reps, n = 100, 800
    wl, ml, se = [], [], []
    for seed in range(reps):
        data = simulate_ordinal(n, seed=1000 + seed)
        res = sem.fit(ONE_FACTOR, data, ordered=ITEMS)
        wl.append(std_loadings(res))
        est = res.estimates
        se.append(est[est.op == "=~"].set_index("rhs").loc[ITEMS[1:], ["est", "se"]].to_numpy())
        ml.append(std_loadings(sem.fit(ONE_FACTOR, data)))
    bias_wl = np.mean(wl, axis=0) - LOADINGS
    bias_ml = np.mean(ml, axis=0) - LOADINGS
    assert np.max(np.abs(bias_wl)) < 0.01, bias_wl
    assert np.all(bias_ml < -0.03), bias_ml
    se = np.array(se)
    ratio = se[:, :, 1].mean(axis=0) / se[:, :, 0].std(axis=0, ddof=1)
    assert np.all(np.abs(ratio - 1) < 0.2), ratio


# ------------------------------------------------------------------ lavaan beyond the wave-2 cases
def test_two_groups_match_lavaan_configural_defaults():
    """lavaan 0.6.14: sem(model, hs_ordinal, ordered = x1..x9, estimator = "WLSMV", group = "school")
    (thresholds and loadings free per group, scale factors 1; Rscript output, pinned)."""
    res = sem.fit(HS_MODEL, reference_data("holzinger_swineford_1939_ordinal.csv"), ordered=HS_ORDERED,
                  group="school")
    assert res.converged
    m = Mismatches("hs1939 ordinal by school", 0.0)
    lavaan = {"chisq": 59.03573132, "df": 48, "npar": 72, "baseline_chisq": 1554.38652433,
              "chisq_scaled": 86.97380159, "chisq_scaling_factor": 0.75817737, "baseline_chisq_scaled": 1032.48619233,
              "cfi_scaled": 0.95942284, "tli_scaled": 0.93913426, "cfi_robust": 0.91557955, "tli_robust": 0.87336932,
              "rmsea": 0.03921564, "rmsea_scaled": 0.07369621, "rmsea_robust": 0.09882562, "srmr": 0.07071868}
    for key, value in lavaan.items():
        m.tol = 1e-3 * abs(value)
        m.check(key, value, res.fit_measures[key])
    est = res.estimates
    for lhs, rhs, group, value, se in [("visual", "x2", "Pasteur", 0.576704, 0.168305),
                                       ("textual", "x5", "Pasteur", 1.093406, 0.102375),
                                       ("speed", "x9", "Pasteur", 2.038102, 0.691948),
                                       ("visual", "x2", "Grant-White", 0.666942, 0.131045),
                                       ("textual", "x5", "Grant-White", 0.982675, 0.083943),
                                       ("speed", "x9", "Grant-White", 1.528234, 0.246539)]:
        row = est[(est.lhs == lhs) & (est.op == "=~") & (est.rhs == rhs) & (est.group == group)].iloc[0]
        m.tol = 2e-3
        m.check(f"{lhs} =~ {rhs} ({group}) est", value, row.est)
        m.tol = 0.02 * se
        m.check(f"{lhs} =~ {rhs} ({group}) se", se, row.se)
    m.assert_none()


#: lavaan 0.6.14 sem(..., group = "school", group.equal = ...) on hs_ordinal (Rscript output, pinned):
#: fit measures, then (lhs, op, rhs, group, est, se, std_all); robust CFI/TLI/RMSEA are NA in lavaan
#: once the thresholds are equal (free scale factors), and NaN here.
INVARIANCE = {
    ("loadings",): (
        {"chisq": 62.33456710, "df": 54, "npar": 66, "chisq_scaled": 84.03923257, "chisq_scaling_factor": 0.85937177,
         "cfi_scaled": 0.96872497, "tli_scaled": 0.95829996, "cfi_robust": 0.92090678, "tli_robust": 0.89454237,
         "rmsea": 0.03213099, "rmsea_scaled": 0.06099959, "rmsea_robust": 0.09018599, "srmr": 0.07240203},
        [("visual", "=~", "x2", "Grant-White", 0.631270, 0.103512, 0.505135),
         ("speed", "=~", "x9", "Pasteur", 1.667343, 0.251680, 0.758988),
         ("x3", "|", "t1", "Grant-White", -0.362148, 0.106957, -0.362148),
         ("x1", "~~", "x1", "Grant-White", 0.359700, 0.0, 0.359700),
         ("speed", "~~", "speed", "Grant-White", 0.298284, 0.075048, 1.0)]),
    ("thresholds", "loadings"): (
        {"chisq": 113.03728004, "df": 66, "npar": 54, "chisq_scaled": 148.04695274, "chisq_scaling_factor": 0.84342244,
         "baseline_chisq_scaled": 1032.48619233, "cfi_scaled": 0.91457769, "tli_scaled": 0.90681202,
         "rmsea": 0.06904441, "rmsea_scaled": 0.09118820, "srmr": 0.07147427},
        [("visual", "=~", "x2", "Pasteur", 0.586020, 0.123110, 0.446612),
         ("speed", "=~", "x9", "Grant-White", 1.767870, 0.363362, 0.850917),
         ("x3", "|", "t2", "Grant-White", 0.095350, 0.079034, 0.109804),
         ("x1", "~~", "x1", "Grant-White", 0.456257, 0.0, 0.404231),
         ("x1", "~*~", "x1", "Grant-White", 0.941261, 0.129469, 1.0),
         ("x9", "~*~", "x9", "Grant-White", 0.877805, 0.116316, 1.0),
         ("visual", "~1", "", "Grant-White", -0.069622, 0.119105, -0.084902),
         ("speed", "~1", "", "Grant-White", -0.116061, 0.074236, -0.211665)]),
}


def test_partial_invariance_of_a_threshold_and_a_loading_matches_lavaan():
    """lavaan 0.6.14 group.equal = c("thresholds", "loadings"), group.partial = c("x3|t1", "visual=~x2")
    (Rscript output, pinned)."""
    res = sem.fit(HS_MODEL, reference_data("holzinger_swineford_1939_ordinal.csv"), ordered=HS_ORDERED,
                  group="school", group_equal=("thresholds", "loadings"), group_partial=("x3 | t1", "visual =~ x2"))
    assert res.converged
    m = Mismatches("hs1939 ordinal partial", 0.0)
    for key, value in {"chisq": 92.98376888, "df": 64, "npar": 56, "chisq_scaled": 126.67533638,
                       "srmr": 0.07237665}.items():
        m.tol = 1e-3 * abs(value)
        m.check(key, value, res.fit_measures[key])
    est = res.estimates
    for lhs, op, rhs, group, value, se in [("visual", "=~", "x2", "Pasteur", 0.484374, 0.149941),
                                           ("visual", "=~", "x2", "Grant-White", 0.836056, 0.227025),
                                           ("x3", "|", "t1", "Grant-White", -0.125039, 0.070966),
                                           ("x3", "|", "t2", "Grant-White", 0.152663, 0.060685),
                                           ("x3", "~*~", "x3", "Grant-White", 2.140590, 0.462881)]:
        row = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs) & (est.group == group)].iloc[0]
        m.tol = 2e-3
        m.check(f"{lhs} {op} {rhs} ({group}) est", value, row.est)
        m.tol = 0.02 * se
        m.check(f"{lhs} {op} {rhs} ({group}) se", se, row.se)
    m.assert_none()


@pytest.mark.parametrize("group_equal", sorted(INVARIANCE))
def test_equal_loadings_and_thresholds_across_groups_match_lavaan(group_equal):
    res = sem.fit(HS_MODEL, reference_data("holzinger_swineford_1939_ordinal.csv"), ordered=HS_ORDERED,
                  group="school", group_equal=group_equal)
    assert res.converged
    fit_expected, rows = INVARIANCE[group_equal]
    m = Mismatches(f"hs1939 ordinal, group_equal={group_equal}", 0.0)
    for key, value in fit_expected.items():
        m.tol = 1e-3 * abs(value)
        m.check(key, value, res.fit_measures[key])
    if "thresholds" in group_equal:
        assert np.isnan(res.fit_measures["cfi_robust"]) and np.isnan(res.fit_measures["rmsea_robust"])
    est = res.estimates
    for lhs, op, rhs, group, value, se, std in rows:
        hit = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs) & (est.group == group)]
        assert len(hit) == 1, (lhs, op, rhs, group)
        row = hit.iloc[0]
        m.tol = 2e-3
        m.check(f"{lhs} {op} {rhs} ({group}) est", value, row.est)
        m.check(f"{lhs} {op} {rhs} ({group}) std_all", std, row.std_all)
        m.tol = 0.02 * se
        m.check(f"{lhs} {op} {rhs} ({group}) se", se, row.se)
    m.assert_none()


def test_latent_regressions_a_residual_covariance_and_a_defined_parameter_match_lavaan():
    """lavaan 0.6.14 sem(model, hs_ordinal, ordered = x1..x9, estimator = "WLSMV") (Rscript output, pinned)."""
    model = HS_MODEL + "\nspeed ~ a*visual + b*textual\nx4 ~~ x7\nab := a*b"
    res = sem.fit(model, reference_data("holzinger_swineford_1939_ordinal.csv"), ordered=HS_ORDERED)
    assert res.converged
    m = Mismatches("hs1939 ordinal structural", 0.0)
    for key, value in {"chisq": 49.74315416, "df": 23, "chisq_scaled": 70.48099396, "cfi_robust": 0.92320375,
                       "rmsea_robust": 0.10072861, "srmr": 0.06576032}.items():
        m.tol = 1e-3 * abs(value)
        m.check(key, value, res.fit_measures[key])
    est = res.estimates
    for lhs, op, rhs, value, se, std in [("speed", "~", "visual", 0.318432, 0.093916, 0.536863),
                                         ("speed", "~", "textual", -0.032514, 0.059255, -0.057902),
                                         ("x4", "~~", "x7", 0.075674, 0.060866, 0.146793),
                                         ("speed", "~~", "speed", 0.155372, 0.045921, 0.742194),
                                         ("ab", ":=", "a*b", -0.010354, 0.020887, -0.031086)]:
        row = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs)].iloc[0]
        m.tol = 1e-4
        m.check(f"{lhs} {op} {rhs} est", value, row.est)
        m.check(f"{lhs} {op} {rhs} std_all", std, row.std_all)
        m.tol = 1e-3 * se
        m.check(f"{lhs} {op} {rhs} se", se, row.se)
    m.assert_none()


#: lavaan 0.6.14 sem(..., parameterization = "theta") on hs_ordinal, one group and by school with
#: equal thresholds and loadings (Rscript output, pinned): (lhs, op, rhs, group, est, se, std_all)
THETA = {
    (): ({"chisq": 50.79675110, "df": 24, "npar": 36, "chisq_scaled": 71.49796850, "cfi_robust": 0.91568923,
          "rmsea_robust": 0.10331959, "srmr": 0.06680165},
         [("visual", "=~", "x2", "", 0.452811, 0.137896, 0.481507),
          ("speed", "=~", "x9", "", 3.431129, 1.428520, 0.874653),
          ("x3", "|", "t1", "", -0.667802, 0.088949, -0.585607),
          ("x1", "~~", "x1", "", 1.0, 0.0, 0.404522),
          ("x9", "~*~", "x9", "", 0.484749, 0.0, 1.0)]),
    ("thresholds", "loadings"): (
        {"chisq": 113.03728007, "df": 66, "npar": 54, "chisq_scaled": 148.04693746, "srmr": 0.07147430},
        [("speed", "=~", "x9", "Pasteur", 2.622932, 1.018025, 0.799091),
         ("x3", "|", "t1", "Grant-White", -0.622848, 0.113357, -0.626549),
         ("x1", "~~", "x1", "Grant-White", 1.088453, 0.538661, 0.404229),
         ("x1", "~*~", "x1", "Grant-White", 0.609409, 0.0, 1.0),
         ("speed", "~1", "", "Grant-White", -0.130115, 0.084670, -0.211665)]),
}


@pytest.mark.parametrize("group_equal", sorted(THETA))
def test_the_theta_parameterization_matches_lavaan(group_equal):
    options = {"group": "school", "group_equal": group_equal} if group_equal else {}
    res = sem.fit(HS_MODEL, reference_data("holzinger_swineford_1939_ordinal.csv"), ordered=HS_ORDERED,
                  parameterization="theta", **options)
    assert res.converged
    fit_expected, rows = THETA[group_equal]
    m = Mismatches(f"hs1939 ordinal theta {group_equal}", 0.0)
    for key, value in fit_expected.items():
        m.tol = 1e-3 * abs(value)
        m.check(key, value, res.fit_measures[key])
    est = res.estimates
    for lhs, op, rhs, group, value, se, std in rows:
        hit = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs) & ((est.group == group) | (group == ""))]
        assert len(hit) == 1, (lhs, op, rhs, group)
        row = hit.iloc[0]
        m.tol = 2e-3
        m.check(f"{lhs} {op} {rhs} ({group}) est", value, row.est)
        m.check(f"{lhs} {op} {rhs} ({group}) std_all", std, row.std_all)
        m.tol = 0.02 * se
        m.check(f"{lhs} {op} {rhs} ({group}) se", se, row.se)
    m.assert_none()


@pytest.mark.parametrize("case", ["scalar", "mixed", "theta"])
def test_dwls_gradient_and_jacobian_equal_finite_differences(case):
    """The analytic gradient and Delta (scale factors, latent means, continuous means and
    variances included) against central differences at a point off the optimum."""
    data = reference_data("holzinger_swineford_1939_ordinal.csv")
    if case in ("scalar", "theta"):
        res = sem.fit(HS_MODEL, data, ordered=HS_ORDERED, group="school", group_equal=("thresholds", "loadings"),
                      parameterization="delta" if case == "scalar" else "theta")
    else:
        continuous = reference_data("holzinger_swineford_1939.csv")
        for v in ("x7", "x8", "x9"):
            data[v] = continuous[v].to_numpy()
        res = sem.fit(HS_MODEL, data, ordered=HS_ORDERED[:6])
    est = res.fitted.estimator
    x = res.fitted.x + np.random.default_rng(1).normal(0, 0.05, len(res.fitted.x))
    _, grad = est.objective(x)
    h = 1e-6
    numeric = np.array([(est.objective(x + h * e, gradient=False) - est.objective(x - h * e, gradient=False)) / (2 * h)
                        for e in np.eye(len(x))])
    np.testing.assert_allclose(grad, numeric, atol=1e-6)
    for g in range(est.G):
        jac = np.column_stack([(est.implied_statistics(x + h * e, g) - est.implied_statistics(x - h * e, g)) / (2 * h)
                               for e in np.eye(len(x))])
        np.testing.assert_allclose(est.delta(x, g), jac, atol=1e-6)


def test_summary_names_the_estimator_and_the_robust_test():
    res = sem.fit(HS_MODEL, reference_data("holzinger_swineford_1939_ordinal.csv"), ordered=HS_ORDERED)
    s = res.summary()
    assert s.estimator == "WLSMV"
    names = [name for name, _ in s.measures]
    assert "Test statistic (scaled-shifted)" in names and "Robust CFI" in names and "Loglikelihood" not in names
    assert any(title == "Thresholds" for _, title, _ in s.sections)


# ------------------------------------------------------------------ hostile input
def test_an_item_with_one_category_is_refused_naming_it():
    data = simulate_ordinal(500, seed=1)
    data["y4"] = 2.0
    with pytest.raises(DataError, match="'y4' is constant") as err:
        sem.fit(ONE_FACTOR, data, ordered=ITEMS)
    assert err.value.fix


def test_an_empty_cell_of_a_bivariate_table_is_kept_uncorrected_as_in_lavaan():
    data = simulate_ordinal(1500, seed=2)
    drop = (data.y1 == 3) & (data.y4 == 1)  # an empty cell in the 3x3 table of y1 and y4
    data = data[~drop].reset_index(drop=True)
    assert polychoric(data[ITEMS]).empty_cells.loc["y1", "y4"] == 1
    res = sem.fit(ONE_FACTOR, data, ordered=ITEMS)
    assert res.converged
    stats = res.fitted.estimator.stats[0]
    # the sample statistic is lavaan's two-step polychoric correlation of the table as it is
    assert stats.correlation[0, 3] == pytest.approx(polychoric(data[ITEMS]).correlation.loc["y1", "y4"], abs=1e-12)
    assert np.all(np.isfinite(res.estimates.se))


def test_a_variable_with_30_distinct_values_declared_ordered_is_refused():
    data = simulate_ordinal(600, seed=3)
    data["y6"] = np.random.default_rng(3).integers(1, 31, len(data)).astype(float)
    with pytest.raises(DataError, match="'y6' is declared ordered but has 30 distinct values") as err:
        sem.fit(ONE_FACTOR, data, ordered=ITEMS)
    assert "fit(ordered=...)" in err.value.where
    assert "continuous" in err.value.fix


def test_a_category_nobody_chose_in_one_group_is_refused_naming_variable_and_group():
    data = simulate_ordinal(1200, seed=4)
    data["team"] = np.where(np.arange(len(data)) % 2 == 0, "north", "south")
    data.loc[(data.team == "south") & (data.y2 == 4), "y2"] = 3.0  # category 4 of y2 empty in 'south'
    with pytest.raises(DataError, match="'y2' has 4 categories in some groups but only 3 in group 'south'") as err:
        sem.fit(ONE_FACTOR, data, ordered=ITEMS, group="team")
    assert "recode" in err.value.fix


@pytest.mark.parametrize(("options", "message"), [
    ({"parameterization": "Theta"}, "parameterization='Theta' is unknown"),
    ({"missing": "fiml"}, "FIML is not defined for WLSMV"),
    ({"bootstrap": 100}, "the bootstrap is not supported with WLSMV"),
    ({"group": "team", "group_partial": ("y2 | t1",)}, "group_partial needs group_equal"),
    ({"group": "team", "group_equal": ("thresholds",), "group_partial": ("z2 | t1",)},
     "'z2 | t1' is not a threshold of an ordered variable"),
    ({"group": "team", "group_equal": ("threshold",)}, "group_equal 'threshold' is unknown"),
    ({"group_equal": ("loadings",)}, "group_equal needs a group column"),
    ({"cluster": "team"}, "two-level models are not supported with WLSMV"),
    ({"estimator": "ML"}, "ordered indicators are fitted by WLSMV"),
    ({"estimator": "GLS"}, "estimator='GLS' is not supported"),
])
def test_unsupported_options_are_refused_with_where_and_how(options, message):
    data = simulate_ordinal(400, seed=5).assign(team=lambda d: np.arange(len(d)) % 2)
    with pytest.raises(ModelSpecificationError, match=message) as err:
        sem.fit(ONE_FACTOR, data, ordered=ITEMS, **options)
    assert err.value.where and err.value.fix


def test_mixed_ordered_and_continuous_indicators_match_lavaan():
    """lavaan 0.6.14 sem(model, d, ordered = x1..x6, estimator = "WLSMV") with x7-x9 the continuous
    HS1939 scores (polyserial and Pearson entries, means and variances; Rscript output, pinned;
    its NACOV agreed to 6e-8). lavaan gives no robust CFI/RMSEA with continuous variables (NA)."""
    data = reference_data("holzinger_swineford_1939_ordinal.csv")
    continuous = reference_data("holzinger_swineford_1939.csv")
    for v in ("x7", "x8", "x9"):
        data[v] = continuous[v].to_numpy()
    res = sem.fit(HS_MODEL, data, ordered=HS_ORDERED[:6])
    assert res.converged
    m = Mismatches("hs1939 mixed", 0.0)
    for key, value in {"chisq": 44.36340606, "df": 24, "npar": 33, "baseline_chisq": 1519.71865560,
                       "chisq_scaled": 67.75390861, "chisq_scaling_factor": 0.69896436,
                       "baseline_chisq_scaled": 966.90417808, "cfi_scaled": 0.95299848, "tli_scaled": 0.92949772,
                       "rmsea": 0.05318130, "rmsea_scaled": 0.07795468, "srmr": 0.06268229}.items():
        m.tol = 1e-3 * abs(value)
        m.check(key, value, res.fit_measures[key])
    assert np.isnan(res.fit_measures["cfi_robust"]) and np.isnan(res.fit_measures["rmsea_robust"])
    est = res.estimates
    for lhs, op, rhs, value, se, std in [("visual", "=~", "x2", 0.613267, 0.110501, 0.477368),
                                         ("speed", "=~", "x9", 1.702206, 0.312304, 0.851325),
                                         ("x1", "|", "t2", 0.112661, 0.072527, 0.112661),
                                         ("x1", "~~", "x1", 0.394089, 0.0, 0.394089),
                                         ("x7", "~~", "x7", 0.929258, 0.093831, 0.785416),
                                         ("x9", "~~", "x9", 0.279375, 0.120246, 0.275246),
                                         ("x8", "~1", "", 5.527076, 0.061087, 5.467311),
                                         ("speed", "~~", "speed", 0.253883, 0.074842, 1.0)]:
        row = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs)].iloc[0]
        m.tol = 1e-4
        m.check(f"{lhs} {op} {rhs} est", value, row.est)
        m.check(f"{lhs} {op} {rhs} std_all", std, row.std_all)
        m.tol = 1e-3 * se
        m.check(f"{lhs} {op} {rhs} se", se, row.se)
    m.assert_none()


def test_ordered_names_outside_the_model_are_refused():
    data = simulate_ordinal(400, seed=6)
    with pytest.raises(ModelSpecificationError, match="'z9' are not observed variables of the model") as err:
        sem.fit(ONE_FACTOR, data, ordered=[*ITEMS, "z9"])
    assert err.value.fix


def test_a_free_residual_variance_of_an_ordered_item_is_refused():
    data = simulate_ordinal(400, seed=7)
    with pytest.raises(ModelSpecificationError, match="residual variance of ordered variable 'y2'") as err:
        sem.fit(ONE_FACTOR + "\ny2 ~~ y2", data, ordered=ITEMS)
    assert "line 2" in err.value.where


@pytest.mark.parametrize("extra", ["f ~ age", "y1 ~ age", "f ~~ age"])
def test_observed_variables_in_regressions_are_refused(extra):
    data = simulate_ordinal(400, seed=9).assign(age=lambda d: np.arange(len(d)) % 40 + 20.0)
    with pytest.raises(ModelSpecificationError, match="appear in regressions or in covariances") as err:
        sem.fit(ONE_FACTOR + "\n" + extra, data, ordered=ITEMS)
    assert "conditional.x" in err.value.what and err.value.fix


def test_modification_indices_of_a_wlsmv_fit_are_refused():
    res = sem.fit(ONE_FACTOR, simulate_ordinal(400, seed=8), ordered=ITEMS)
    with pytest.raises(ModelSpecificationError, match="modification indices of a WLSMV fit"):
        res.modification_indices()
