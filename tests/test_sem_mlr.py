"""Cluster-robust (MLR) standard errors, scaled test and scaled/robust fit indices of two-level models.

The reference is lavaan 0.6.14 ``sem(model, data, cluster = "cluster", estimator = "MLR",
fixed.x = FALSE)`` on lavaan's ``Demo.twolevel`` (``tests/reference/mlr/lavaan.R`` writes
the data, ``estimates.csv`` and ``fit.csv``); ``equal_loadings`` misfits on purpose (CFI .97,
RMSEA .06), so its indices are away from their bounds, and ``equal_loadings_fixed_x`` is the same
with the between-only covariate fixed (``fixed.x = TRUE``). One known difference: the means of
within-only covariates (``x1 ~ 1``, ``x2 ~ 1``), whose robust SE lavaan 0.6.14 gives 1.5-2.3%
larger; their ML SEs and every other robust SE agree to 5e-4 relative (most to 1e-5); so do
the scaled test and the scaled/robust indices but for the model with within-only covariates
(``covariates``: its scaling factor .976 against lavaan's .966, and the indices that follow from
it, under the looser tolerances of :data:`INDEX_TOLERANCE`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import sem
from analysis.errors import ModelSpecificationError
from analysis.sem import twolevel
from analysis.sem.cluster_likelihood import ClusterStats, loglik

HERE = Path(__file__).resolve().parent / "reference"
MODELS = {"cfa": "level: 1\n fw =~ y1 + y2 + y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1",
          "covariates": "level: 1\n fw =~ y1 + y2 + y3\n fw ~ x1 + x2\nlevel: 2\n fb =~ y1 + y2 + y3\n"
                        " fb ~ w1 + w2",
          "equal_loadings": "level: 1\n fw =~ 1*y1 + 1*y2 + 1*y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1"}
MODELS["equal_loadings_fixed_x"] = MODELS["equal_loadings"]
#: The models fitted with ``fixed_x=True`` (the between-only covariate w1 fixed, lavaan ``fixed.x = TRUE``).
FIXED_X = {"equal_loadings_fixed_x"}
WITHIN_ONLY_MEANS = {("x1", "~1", ""), ("x2", "~1", "")}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(HERE / "mlr" / "demo_twolevel.csv")


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(HERE / "mlr" / "estimates.csv", keep_default_na=False)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_robust_standard_errors_equal_lavaan_mlr(name, data, expected):
    res = sem.fit(MODELS[name], data, cluster="cluster", estimator="MLR", fixed_x=name in FIXED_X)
    got = res.estimates.set_index(["lhs", "op", "rhs", "level"])
    failures = []
    for row in expected[expected["model"] == name].itertuples():
        key = (row.lhs, row.op, row.rhs, row.level)
        est, se = got.loc[key, "est"], got.loc[key, "se"]
        if abs(est - row.est) > 2e-4 * max(1.0, abs(row.est)):
            failures.append(f"{name} {key} est: expected {row.est:.6f}, got {est:.6f}")
        tol = 0.03 if (row.lhs, row.op, row.rhs) in WITHIN_ONLY_MEANS else 5e-4
        if abs(se - row.se) > tol * row.se:
            failures.append(f"{name} {key} se: expected {row.se:.6f}, got {se:.6f}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_yuan_bentler_scaled_test_equals_lavaan_mlr(name, data):
    """lavaan's MLR test (``yuan.bentler.mplus``). With within-only covariates its scaling
    factor differs (.976 against lavaan's .966), as their means' robust SEs do."""
    fit = pd.read_csv(HERE / "mlr" / "fit.csv")
    expected = fit[fit["model"] == name].set_index("measure")["value"]
    got = sem.fit(MODELS[name], data, cluster="cluster", estimator="MLR", fixed_x=name in FIXED_X).fit_measures
    tol = 0.025 if name == "covariates" else 1e-4
    for measure in ("chisq_scaled", "chisq_scaling_factor", "pvalue_scaled"):
        assert got[measure] == pytest.approx(expected[measure.replace("_", ".")], rel=tol), measure
    assert got["chisq"] == pytest.approx(expected["chisq"], rel=1e-4)


#: The baseline's scaled test (lavaan's independence model at both levels, fitted with MLR) and
#: the scaled and robust indices, with lavaan's names (dots for underscores).
SCALED_INDICES = ("baseline.chisq.scaled", "baseline.df.scaled", "baseline.pvalue.scaled",
                  "baseline.chisq.scaling.factor", "df.scaled", "cfi.scaled", "tli.scaled", "cfi.robust",
                  "tli.robust", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.robust",
                  "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")

#: ``(absolute, relative)`` tolerance per model and kind of measure. Measured (this machine):
#: cfa, equal_loadings: baseline statistic and scaling factor 3.7e-6 relative, every index within
#: 5.1e-7 absolute. covariates: the baseline's scaling factor 8.5e-5 relative (its within-only
#: covariates' means, as the model's SEs), the model's scaling factor 1% off (.976 vs .966,
#: docs/statistics.md), and so CFI/TLI 9.1e-5 absolute, the RMSEAs 7.0e-4 absolute (0.0025 vs
#: lavaan's 0.0032: near zero, sqrt((T - c df) / (c df N)) magnifies the 1% of c) and their
#: upper bounds 2.3e-4.
INDEX_TOLERANCE = {
    "cfa": {"statistic": (0.0, 2e-5), "pvalue": (1e-6, 0.0), "index": (2e-6, 0.0), "rmsea": (2e-6, 0.0)},
    "equal_loadings": {"statistic": (0.0, 2e-5), "pvalue": (1e-6, 0.0), "index": (2e-6, 0.0), "rmsea": (2e-6, 0.0)},
    "equal_loadings_fixed_x": {"statistic": (0.0, 2e-5), "pvalue": (1e-6, 0.0), "index": (2e-6, 0.0), "rmsea": (2e-6, 0.0)},
    "covariates": {"statistic": (0.0, 2e-4), "pvalue": (1e-6, 0.0), "index": (2e-4, 0.0), "rmsea": (1e-3, 0.0)},
}


def _kind(measure: str) -> str:
    if "pvalue" in measure:
        return "pvalue"
    if measure.startswith(("baseline.chisq", "df.", "baseline.df")):
        return "statistic"
    return "rmsea" if measure.startswith("rmsea") else "index"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_scaled_and_robust_fit_indices_equal_lavaan_mlr(name, data):
    """lavaan's ``cfi.scaled``, ``tli.scaled``, ``rmsea.scaled`` (+ interval), ``cfi.robust``,
    ``tli.robust``, ``rmsea.robust`` (+ interval) and the baseline's scaled test of a two-level MLR
    fit, within :data:`INDEX_TOLERANCE`; lavaan 0.6.14 reports all of them (none NA) here."""
    fit = pd.read_csv(HERE / "mlr" / "fit.csv")
    expected = fit[fit["model"] == name].set_index("measure")["value"]
    got = sem.fit(MODELS[name], data, cluster="cluster", estimator="MLR", fixed_x=name in FIXED_X).fit_measures
    failures = []
    for measure in SCALED_INDICES:
        want, have = float(expected[measure]), got[measure.replace(".", "_")]
        atol, rtol = INDEX_TOLERANCE[name][_kind(measure)]
        if not abs(have - want) <= atol + rtol * abs(want):
            failures.append(f"{name} {measure}: expected {want:.10g} (lavaan), got {have:.10g} "
                            f"(tolerance {atol:g} absolute + {rtol:g} relative)")
    assert not failures, "\n".join(failures)


def test_fiml_leaves_baseline_and_robust_indices_nan(data):
    """With ``missing="fiml"`` lavaan 0.6.14 (``missing = "ml"``) has no scaled baseline test for
    a two-level model (NA scaling factor) and NA robust indices (``lav_fit_fiml_corrected``):
    NaN here, while the model's scaled test and scaled RMSEA stay those of the complete data."""
    full = sem.fit(MODELS["equal_loadings"], data, cluster="cluster", estimator="MLR", fixed_x=False).fit_measures
    fiml = sem.fit(MODELS["equal_loadings"], data, cluster="cluster", estimator="MLR", fixed_x=False,
                   missing="fiml").fit_measures
    for measure in ("baseline_chisq_scaled", "baseline_chisq_scaling_factor", "baseline_pvalue_scaled", "cfi_scaled",
                    "tli_scaled", "cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
                    "rmsea_ci_upper_robust"):
        assert np.isnan(fiml[measure]), f"equal_loadings (fiml) {measure}: expected NaN, got {fiml[measure]}"
    for measure in ("chisq_scaled", "chisq_scaling_factor", "rmsea_scaled", "rmsea_ci_upper_scaled"):
        assert fiml[measure] == pytest.approx(full[measure], rel=1e-8), f"equal_loadings (fiml) {measure}"


def test_robust_and_ml_share_estimates_and_fit(data):
    ml = sem.fit(MODELS["cfa"], data, cluster="cluster", fixed_x=False)
    mlr = sem.fit(MODELS["cfa"], data, cluster="cluster", estimator="MLR", fixed_x=False)
    np.testing.assert_allclose(mlr.estimates["est"], ml.estimates["est"], atol=1e-8)
    assert mlr.fit_measures["logl"] == pytest.approx(ml.fit_measures["logl"], abs=1e-8)
    assert not np.allclose(mlr.estimates["se"], ml.estimates["se"])


def _stacked(seed: int = 3, units: int = 30) -> pd.DataFrame:
    """Two sides (employees: a, b; customers: c) of the same units, skewed answers."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        level = rng.normal(size=2)
        for _ in range(rng.integers(4, 12)):
            f = level[0] + rng.normal()
            rows.append({"unit": u, "a": f + rng.exponential(), "b": 0.8 * f + rng.exponential(), "c": np.nan})
        for _ in range(rng.integers(6, 15)):
            rows.append({"unit": u, "a": np.nan, "b": np.nan, "c": 0.5 * level[0] + level[1] + rng.exponential()})
    return pd.DataFrame(rows)


def test_cluster_scores_are_each_clusters_own_gradient():
    """Cluster j's score is the gradient of the log-likelihood of its rows alone (one-cluster
    statistics), by central differences, and the scores sum to the whole gradient."""
    data = _stacked()
    model = "level: 1\n a ~~ b\n c ~~ c\nlevel: 2\n c ~ a + b"
    ov = ["a", "b", "c"]
    table_w, table_b, ov_t, p_y, *_ = twolevel._tables(model, False)
    assert ov_t == ov and p_y == 3
    y = data[ov].to_numpy()
    side, side_of = twolevel.data_sides(y, ov)
    cs = ClusterStats.of(y, np.zeros((len(y), 0)), data["unit"].to_numpy(), side, side_of)
    st_w, st_b = table_w.structure, table_b.structure
    est = twolevel.TwoLevelEstimator(table_w, table_b, cs, [list(st_w.ov).index(v) for v in ov],
                                     [ov.index(v) for v in st_b.ov], [], None)
    x = np.zeros(est.npar)  # a point away from the optimum: variances 1, covariances .3, paths .4, means .1
    for table, mapping in ((table_w, est.map_w), (table_b, est.map_b)):
        for r in table.rows:
            if r.pid >= 0:
                x[mapping[r.pid]] = {"~~": 1.0 if r.lhs == r.rhs else 0.3, "~": 0.4}.get(r.op, 0.1)
    scores = est.scores(x)
    np.testing.assert_allclose(scores.sum(axis=0), -est.objective(x)[1] * cs.n, rtol=1e-8, atol=1e-8)
    for j in (0, 7, 29):
        rows = (data["unit"] == j).to_numpy()
        one = ClusterStats.of(y[rows], np.zeros((rows.sum(), 0)), data["unit"].to_numpy()[rows], side[rows], side_of)

        def ll(xx, one=one):
            _, _, s_w, s_b, mu = est.moments(xx)
            return loglik(one, s_w, s_b, mu)

        numeric = np.array([(ll(x + h) - ll(x - h)) / 2e-6 for h in np.eye(est.npar) * 1e-6])
        np.testing.assert_allclose(scores[j], numeric, rtol=1e-5, atol=1e-6)


def test_mlr_without_clusters_is_refused(data):
    with pytest.raises(ModelSpecificationError, match="two-level"):
        sem.fit("f =~ y1 + y2 + y3", data, estimator="MLR")
