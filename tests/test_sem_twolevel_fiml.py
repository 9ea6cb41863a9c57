"""Two-level FIML of arbitrary missing values (``fit(..., cluster=, missing="fiml")``).

The reference is lavaan 0.6.14 ``sem(model, data, cluster = "cluster", missing = "ml",
fixed.x = FALSE)`` on lavaan's ``Demo.twolevel`` with values deleted at random
(``tests/reference/twolevel_fiml/lavaan.R`` writes the data, ``estimates.csv`` and ``fit.csv``):
10% of each of y1..y6, 5% of x1 and x2 (within-only covariates of "covariates"), and the
between-only w1 of 8% of the clusters. And the stacked employee and customer samples of
``tests/reference/linked`` with 8% of each side's rows missing one of their side's two values
(``linked``: FIML of the design and of the scattered values at once; lavaan's chi-square of
sides is not comparable, see ``tests/test_sem_linked.py``, so logl, estimates and SEs only:
estimates 1e-4 absolute, SEs 1e-4 relative, logl 1e-6; they agree to 1.7e-5, 8e-6, 2e-9).

Tolerances (:data:`TOLERANCE`): estimates 2e-4 absolute and SEs 5e-4 relative, logl 1e-4
absolute. lavaan's optimiser stops a little short of the maximum: our logl is never lower
than lavaan's (up to 4e-6 higher in "cfa6" and "covariates"). In "cfa" (a flat within part)
nlminb stops 4.3e-4 short in logl (and warns that its Hessian is not symmetric; a tighter
``rel.tol`` makes it report non-convergence): there the estimates agree to 2e-3 and the SEs
to 2e-3 relative, and :func:`test_loglik_at_lavaans_estimates_is_lavaans` shows that the
likelihoods are the same (1e-6 at lavaan's estimates for all three models). lavaan's
saturated model (h1; with missing values nlminb on Cholesky factors at ``rel.tol = 1e-7``,
``lav_h1_implied_logl``) stops 3e-4 to 2.5e-3 short in logl of the ML that Tandem fits, so
chisq agrees to 1e-3 relative (5e-3 absolute) and the indices that follow from it to 5e-4
absolute (RMSEA 1e-4), the SRMRs, which use h1's matrices, to 5e-4 absolute.

Also: the general likelihood against each cluster's normal density written out, its
derivatives against central differences, and against the closed form on complete and on
stacked-by-design data (1e-8), which keep the closed-form path.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import sem
from analysis.errors import ModelSpecificationError
from analysis.sem import twolevel
from analysis.sem.cluster_likelihood import ClusterStats, loglik
from analysis.sem.twolevel_missing import ClusterMissing

HERE = Path(__file__).resolve().parent / "reference"
MODELS = {
    "cfa": "level: 1\n fw =~ y1 + y2 + y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1",
    "cfa6": "level: 1\n fw1 =~ y1 + y2 + y3\n fw2 =~ y4 + y5 + y6\nlevel: 2\n fb1 =~ y1 + y2 + y3\n"
            " fb2 =~ y4 + y5 + y6",
    "covariates": "level: 1\n fw =~ y1 + y2 + y3\n fw ~ x1 + x2\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1 + w2"}
#: (estimate absolute, SE relative) per model; "cfa": lavaan stops 4.3e-4 short in logl (module docstring).
TOLERANCE = {"cfa": (2e-3, 2e-3), "cfa6": (2e-4, 5e-4), "covariates": (2e-4, 5e-4)}
#: fit measure: (absolute tolerance, relative tolerance), both must fail for a failure.
FIT_TOLERANCE = {"npar": (0, 0), "df": (0, 0), "baseline.df": (0, 0), "ntotal": (0, 0),
                 "logl": (1e-4, 0), "aic": (2e-4, 0), "bic": (2e-4, 0),
                 "unrestricted.logl": (5e-3, 0), "chisq": (5e-3, 1e-3), "baseline.chisq": (5e-3, 1e-5),
                 "cfi": (5e-4, 0), "tli": (5e-4, 0), "rmsea": (1e-4, 0),
                 "srmr_within": (5e-4, 0), "srmr_between": (5e-4, 0)}
#: "cfa": lavaan stops 4.3e-4 short of the maximum logl (the module docstring).
FIT_TOLERANCE_CFA = {**FIT_TOLERANCE, "logl": (1e-3, 0), "aic": (2e-3, 0), "bic": (2e-3, 0)}


#: Each reference model's fitting time (filled by the ``results`` fixture).
SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(HERE / "twolevel_fiml" / "demo_twolevel_missing.csv")


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(HERE / "twolevel_fiml" / "estimates.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def lavaan_fit() -> pd.DataFrame:
    return pd.read_csv(HERE / "twolevel_fiml" / "fit.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def results(data) -> dict:
    out = {}
    for name, model in MODELS.items():
        start = time.perf_counter()
        out[name] = sem.fit(model, data, cluster="cluster", missing="fiml", fixed_x=False)
        SECONDS[name] = time.perf_counter() - start
    return out


def test_the_reference_has_scattered_missing_values(data):
    ys = data[[f"y{i}" for i in range(1, 7)]]
    assert 0.08 < ys.isna().mean().min() and ys.isna().mean().max() < 0.12
    assert data.groupby("cluster")["w1"].apply(lambda w: w.isna().all() or w.notna().all()).all()
    assert data["w1"].isna().any()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_estimates_and_standard_errors_equal_lavaan(name, results, expected):
    res = results[name]
    assert res.converged, f"{name}: {res.warnings}"
    got = res.estimates.set_index(["lhs", "op", "rhs", "level"])
    tol_est, tol_se = TOLERANCE[name]
    rows = expected[expected["model"] == name]
    assert len(rows) == int((got["se"] > 0).sum()), f"{name}: free parameters differ from lavaan's"
    failures = []
    for row in rows.itertuples():
        key = (row.lhs, row.op, row.rhs, row.level)
        est, se = got.loc[key, "est"], got.loc[key, "se"]
        if abs(est - row.est) > tol_est:
            failures.append(f"{name} {key} est: expected {row.est:.7f}, got {est:.7f}")
        if abs(se - row.se) > tol_se * row.se:
            failures.append(f"{name} {key} se: expected {row.se:.7f}, got {se:.7f}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_measures_equal_lavaan(name, results, lavaan_fit):
    got = dict(results[name].fit_measures)
    got["ntotal"] = results[name].nobs
    got["unrestricted.logl"] = got["unrestricted_logl"]
    got["baseline.chisq"], got["baseline.df"] = got["baseline_chisq"], got["baseline_df"]
    ref = lavaan_fit[lavaan_fit["model"] == name].set_index("measure")["value"]
    assert ref["lavaan.version"] == "0.6.14" and ref["information"] == "observed"
    failures = []
    for measure, (tol_abs, tol_rel) in (FIT_TOLERANCE_CFA if name == "cfa" else FIT_TOLERANCE).items():
        if ref[measure] == "NA":   # lavaan's baseline of "cfa" did not converge
            continue
        want, have = float(ref[measure]), float(got[measure])
        if abs(have - want) > max(tol_abs, tol_rel * abs(want)):
            failures.append(f"{name} {measure}: expected {want:.10g}, got {have:.10g}")
    assert not failures, "\n".join(failures)
    assert float(got["logl"]) >= float(ref["logl"]) - 1e-6, f"{name}: logl below lavaan's"


def _estimator(model: str, data: pd.DataFrame, cluster: str, *, general: bool):
    """The estimator :func:`twolevel.fit_twolevel` builds (no between-only covariate fixed), on
    the closed-form statistics or (``general``) on the general two-level FIML data."""
    table_w, table_b, ov, p_y, _, _, tie = twolevel._tables(model, False)
    y = data[ov].to_numpy(float)
    keep = ~np.isnan(y[:, :p_y]).all(axis=1)
    y, cl = y[keep], data[cluster].to_numpy()[keep]
    if general:
        cs = ClusterMissing.of(y[:, :p_y], y[:, p_y:], cl)
    else:
        side, side_of = twolevel.data_sides(y[:, :p_y], ov[:p_y])
        cs = ClusterStats.of(y[:, :p_y], y[:, p_y:], cl, side, side_of)
    st_w, st_b = table_w.structure, table_b.structure
    est = twolevel.TwoLevelEstimator(table_w, table_b, cs, [list(st_w.ov).index(v) for v in ov[:p_y]],
                                     [ov.index(v) for v in st_b.ov],
                                     [i for i in range(p_y) if ov[i] not in st_b.ov], tie)
    return est


def _parameters(est, estimates: pd.DataFrame) -> np.ndarray:
    """The joint parameter vector from an estimate table (lhs, op, rhs, level, est)."""
    table = estimates.set_index(["lhs", "op", "rhs", "level"])["est"]
    x = np.zeros(est.npar)
    for level, (tab, mapping) in enumerate(((est.table_w, est.map_w), (est.table_b, est.map_b)), start=1):
        for r in tab.rows:
            if r.pid >= 0:
                x[mapping[r.pid]] = table[(r.lhs, r.op, "" if r.op == "~1" else r.rhs, level)]
    return x


def test_stacked_samples_with_scattered_missing_values_equal_lavaan():
    data = pd.read_csv(HERE / "twolevel_fiml" / "stacked_units_missing.csv")
    model = (HERE / "linked" / "model.lav").read_text(encoding="utf-8")
    assert data[["ms", "sq"]].notna().sum(axis=1).max() == 1          # stacked by design
    assert (data[["ms", "sc"]].notna().sum(axis=1) == 1).sum() > 50  # and scattered values besides
    res = sem.fit(model, data, cluster="unit", missing="fiml", fixed_x=False)
    assert res.converged and res.fit_measures["nsides"] == 2 and res.fit_measures["df"] == 3
    ref = pd.read_csv(HERE / "twolevel_fiml" / "fit_linked.csv").set_index("measure")["value"]
    failures = [f"linked {m}: expected {ref[m]:.10g}, got {res.fit_measures[m]:.10g}"
                for m, tol in (("npar", 0), ("logl", 1e-6), ("aic", 2e-6), ("bic", 2e-6))
                if abs(res.fit_measures[m] - ref[m]) > tol]
    assert res.nobs == ref["ntotal"]
    got = res.estimates.set_index(["lhs", "op", "rhs", "level"])
    for row in pd.read_csv(HERE / "twolevel_fiml" / "estimates_linked.csv", keep_default_na=False).itertuples():
        key = (row.lhs, row.op, row.rhs, row.level)
        est, se = got.loc[key, "est"], got.loc[key, "se"]
        if abs(est - row.est) > 1e-4:
            failures.append(f"linked {key} est: expected {row.est:.7f}, got {est:.7f}")
        if abs(se - row.se) > 1e-4 * row.se:
            failures.append(f"linked {key} se: expected {row.se:.7f}, got {se:.7f}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loglik_at_lavaans_estimates_is_lavaans(name, data, expected, lavaan_fit):
    """The likelihood itself, apart from where each optimiser stops: Tandem's logl at lavaan's
    estimates is lavaan's logl."""
    est = _estimator(MODELS[name], data, "cluster", general=True)
    x = _parameters(est, expected[expected["model"] == name])
    ref = lavaan_fit[lavaan_fit["model"] == name].set_index("measure")["value"]
    got = est.loglik(x)
    assert got == pytest.approx(float(ref["logl"]), abs=1e-6), f"{name} logl: expected {ref['logl']}, got {got:.10f}"


def _brute_loglik(y, z, cl, s_w, s_b, mu) -> float:
    """Each cluster's observed values as one normal vector, its covariance written out."""
    from scipy.stats import multivariate_normal

    p_y, total = y.shape[1], 0.0
    for c in np.unique(cl):
        rows = np.flatnonzero(cl == c)
        where = [(r, v, y[r, v]) for r in rows for v in range(p_y) if not np.isnan(y[r, v])]
        for k in range(z.shape[1]):
            seen = z[rows, k][~np.isnan(z[rows, k])]
            if len(seen):
                where.append((-1, p_y + k, seen[0]))
        var = np.array([v for _, v, _ in where])
        row = np.array([r for r, _, _ in where])
        cov = s_b[np.ix_(var, var)].copy()
        same = (row[:, None] == row[None, :]) & (row[:, None] >= 0)
        within = np.zeros_like(cov)
        w_var = np.minimum(var, p_y - 1)
        within[:] = s_w[np.ix_(w_var, w_var)]
        cov += np.where(same, within, 0.0)
        total += multivariate_normal.logpdf(np.array([x for *_, x in where]), mu[var], cov)
    return total


@pytest.fixture(scope="module")
def small():
    """A small random problem: 3 level-1 variables (the last within-only: zero rows of S_B), 2
    between-only; 30% of the level-1 values and some clusters' between-only values missing."""
    rng = np.random.default_rng(7)
    p_y, p_z, J = 3, 2, 14
    cl = np.repeat(np.arange(J), rng.integers(1, 6, J))
    y = rng.normal(size=(len(cl), p_y))
    z = rng.normal(size=(J, p_z))[cl]
    a = rng.normal(size=(p_y, p_y))
    b = rng.normal(size=(p_y + p_z, p_y + p_z))
    s_w, s_b = a @ a.T + np.eye(p_y), b @ b.T + 0.5 * np.eye(p_y + p_z)
    s_b[2, :] = s_b[:, 2] = 0.0
    mu = rng.normal(size=p_y + p_z)
    y[rng.random(y.shape) < 0.3] = np.nan
    for k, share in enumerate((0.3, 0.2)):
        z[np.isin(cl, np.flatnonzero(rng.random(J) < share)), k] = np.nan
    keep = ~np.isnan(y).all(axis=1)
    return y[keep], z[keep], cl[keep], s_w, s_b, mu


def test_general_loglik_is_the_normal_loglik_of_each_clusters_values(small):
    y, z, cl, s_w, s_b, mu = small
    got = ClusterMissing.of(y, z, cl).loglik(s_w, s_b, mu)
    assert got == pytest.approx(_brute_loglik(y, z, cl, s_w, s_b, mu), abs=1e-9)


def test_general_loglik_derivatives_equal_central_differences(small):
    y, z, cl, s_w, s_b, mu = small
    cm = ClusterMissing.of(y, z, cl)
    _, g_w, g_b, g_mu = cm.loglik(s_w, s_b, mu, derivatives=True)
    h = 1e-6

    def diff(which: str, i: int, j: int) -> float:
        out = []
        for sign in (1, -1):
            sw, sb, m = s_w.copy(), s_b.copy(), mu.copy()
            target = {"w": sw, "b": sb}.get(which)
            if target is None:
                m[i] += sign * h
            else:  # a symmetric step: the entries (i, j) and (j, i) together
                target[i, j] += sign * h
                if i != j:
                    target[j, i] += sign * h
            out.append(cm.loglik(sw, sb, m))
        return (out[0] - out[1]) / (2 * h)

    for i in range(3):
        for j in range(i + 1):
            want = g_w[i, j] + (g_w[j, i] if i != j else 0.0)
            assert diff("w", i, j) == pytest.approx(want, abs=1e-6), f"dL/dS_W[{i},{j}]"
    for i in range(5):
        assert diff("m", i, 0) == pytest.approx(g_mu[i], abs=1e-6), f"dL/dmu[{i}]"
        for j in range(i + 1):
            want = g_b[i, j] + (g_b[j, i] if i != j else 0.0)
            assert diff("b", i, j) == pytest.approx(want, abs=1e-6), f"dL/dS_B[{i},{j}]"


def test_complete_data_general_loglik_equals_the_closed_form(small):
    _, _, cl, s_w, s_b, mu = small
    rng = np.random.default_rng(3)
    y, z = rng.normal(size=(len(cl), 3)), rng.normal(size=(cl.max() + 1, 2))[cl]
    closed = loglik(ClusterStats.of(y, z, cl), s_w, s_b, mu, derivatives=True)
    general = ClusterMissing.of(y, z, cl).loglik(s_w, s_b, mu, derivatives=True)
    assert general[0] == pytest.approx(closed[0], abs=1e-8)
    for a, b, what in zip(closed[1:], general[1:], ("S_W", "S_B", "mu"), strict=True):
        sym_a, sym_b = (a + a.T, b + b.T) if a.ndim == 2 else (a, b)
        np.testing.assert_allclose(sym_b, sym_a, atol=1e-8, err_msg=f"dL/d{what}")


def test_stacked_by_design_keeps_the_closed_form_which_the_general_likelihood_equals():
    """Stacked samples (employees and customers of the same units) still take the closed form
    (``nsides``, df of the moments the data have); at its estimates the general likelihood
    gives the same logl (1e-8)."""
    data = pd.read_csv(HERE / "linked" / "stacked_units.csv")
    model = (HERE / "linked" / "model.lav").read_text(encoding="utf-8")
    res = sem.fit(model, data, cluster="unit", missing="fiml", fixed_x=False)
    assert res.fit_measures["nsides"] == 2 and res.fit_measures["df"] == 3
    closed = _estimator(model, data, "unit", general=False)
    general = _estimator(model, data, "unit", general=True)
    x = _parameters(closed, res.estimates[res.estimates["op"] != ":="])
    assert closed.loglik(x) == pytest.approx(res.fit_measures["logl"], abs=1e-8)
    assert general.loglik(x) == pytest.approx(closed.loglik(x), abs=1e-8)
    np.testing.assert_allclose(general.objective(x)[1], closed.objective(x)[1], atol=1e-10)


def test_complete_data_keeps_the_closed_form(data):
    complete = data.dropna(subset=["y1", "y2", "y3", "w1"])
    a = sem.fit(MODELS["cfa"], complete, cluster="cluster", missing="fiml", fixed_x=False)
    b = sem.fit(MODELS["cfa"], complete, cluster="cluster", fixed_x=False)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    assert a.fit_measures["logl"] == b.fit_measures["logl"]
    general = _estimator(MODELS["cfa"], complete, "cluster", general=True)
    assert general.loglik(_parameters(general, a.estimates)) == pytest.approx(a.fit_measures["logl"], abs=1e-8)


def test_unsupported_cases_are_refused_clearly(data):
    with pytest.raises(ModelSpecificationError, match="MLR .* not supported with two-level FIML"):
        sem.fit(MODELS["cfa"], data, cluster="cluster", missing="fiml", estimator="MLR", fixed_x=False)
    with pytest.raises(ModelSpecificationError, match="between-only covariate 'w1' has missing values"):
        sem.fit(MODELS["cfa"], data, cluster="cluster", missing="fiml", fixed_x=True)


def test_one_fit_takes_about_a_second(results):
    assert all(math.isfinite(r.fit_measures["logl"]) for r in results.values())
    assert max(SECONDS.values()) < 10, SECONDS
