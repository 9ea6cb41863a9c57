"""FIML (missing = "fiml", lavaan missing = "ml") and listwise deletion in analysis.sem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data

from analysis import sem
from analysis.sem.casewise import IncompleteData, em_saturated

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
ITEMS = [f"x{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return reference_data("holzinger_swineford_1939.csv")


@pytest.fixture(scope="module")
def hs_mcar(hs) -> pd.DataFrame:
    """HS1939 with 15% of the item values deleted completely at random (seeded)."""
    rng = np.random.default_rng(20240601)
    out = hs.copy()
    values = out[ITEMS].to_numpy()
    values[rng.random(values.shape) < 0.15] = np.nan
    out[ITEMS] = values
    return out


def test_fiml_on_complete_data_equals_ml(hs):
    ml = sem.fit(HS_MODEL, hs)
    fiml = sem.fit(HS_MODEL, hs, missing="fiml")
    for key in ("chisq", "df", "logl", "cfi", "rmsea", "srmr", "aic"):
        # the mean structure adds 9 intercepts to npar and to the moments alike, and 9 zero
        # mean residuals to the 45 (co)variance residuals of the SRMR (lavaan)
        if key == "srmr":
            assert fiml.fit_measures[key] == pytest.approx(ml.fit_measures[key] * np.sqrt(45 / 54), rel=1e-6)
        elif key == "aic":
            assert fiml.fit_measures[key] == pytest.approx(ml.fit_measures[key] + 18, rel=1e-8)
        else:
            assert fiml.fit_measures[key] == pytest.approx(ml.fit_measures[key], rel=1e-6, abs=1e-8), key
    both = ml.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"], suffixes=("_ml", "_fiml"))
    assert len(both) == len(ml.estimates)
    assert np.allclose(both.est_ml, both.est_fiml, atol=1e-4)
    # FIML uses the observed information (lavaan's default with missing = "ml"); with this
    # misfitting model it differs from the expected information by up to ~30%
    free = both.se_ml > 0
    assert np.allclose(both.se_fiml[free], both.se_ml[free], rtol=0.35)
    means = fiml.estimates[fiml.estimates.op == "~1"].set_index("lhs").est
    assert np.allclose(means[ITEMS], hs[ITEMS].mean(), atol=1e-4)


def test_fiml_standard_errors_are_the_inverse_hessian_of_the_loglik(hs_mcar):
    """Second differences of the casewise log-likelihood (not the analytic gradient)."""
    res = sem.fit("visual =~ x1 + x2 + x3 + x4", hs_mcar, missing="fiml")
    engine, x = res.fitted.estimator, res.fitted.x
    n, h = len(x), 1e-4

    def loglik(v):
        return -engine.N / 2 * engine.objective(v, gradient=False)

    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hess[i, j] = hess[j, i] = (loglik(x + ei + ej) - loglik(x + ei - ej) - loglik(x - ei + ej)
                                       + loglik(x - ei - ej)) / (4 * h * h)
    se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    assert np.allclose(np.sqrt(np.diag(res.fitted.vcov)), se, rtol=1e-3)


def test_incomplete_data_loglik_equals_casewise_sum(hs_mcar):
    x = hs_mcar[ITEMS].to_numpy()
    cases = IncompleteData(x)
    assert cases.n == len(x) and not cases.complete
    mu, sigma, _ = em_saturated(cases)
    assert cases.loglik(mu, sigma) == pytest.approx(reference_loglik(x, mu, sigma), rel=1e-10)


def test_em_saturated_is_the_unrestricted_mle(hs_mcar):
    """EM's log-likelihood equals a direct maximisation of the casewise likelihood of the
    saturated model (all covariances free, fitted by FIML with L-BFGS)."""
    items = ITEMS[:5]
    saturated = "\n".join(f"{a} ~~ {b}" for i, a in enumerate(items) for b in items[i + 1:])
    res = sem.fit(saturated, hs_mcar, missing="fiml")
    assert res.converged
    assert res.fit_measures["df"] == 0
    assert res.fit_measures["logl"] == pytest.approx(res.fit_measures["unrestricted_logl"], abs=1e-4)
    assert res.fit_measures["chisq"] == pytest.approx(0, abs=2e-4)
    # and EM's estimates are a stationary point: perturbing them lowers the likelihood
    x = hs_mcar[items].to_numpy()
    cases = IncompleteData(x)
    mu, sigma, _ = em_saturated(cases)
    top = cases.loglik(mu, sigma)
    for delta in (1e-3, -1e-3):
        assert cases.loglik(mu + delta, sigma) < top
        assert cases.loglik(mu, sigma * (1 + delta)) < top


def test_fiml_under_mcar_stays_close_to_complete_data(hs, hs_mcar):
    full = sem.fit(HS_MODEL, hs)
    fiml = sem.fit(HS_MODEL, hs_mcar, missing="fiml")
    listwise = sem.fit(HS_MODEL, hs_mcar)
    assert fiml.converged and fiml.nobs == 301
    assert listwise.nobs < 301
    assert any("listwise deletion dropped" in w for w in listwise.warnings)
    both = full.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"], suffixes=("_full", "_fiml"))
    free = both.se_full > 0
    # within three complete-data standard errors, and closer on average than listwise deletion
    z = (both.est_fiml[free] - both.est_full[free]) / both.se_full[free]
    assert np.max(np.abs(z)) < 3
    lw_full = full.estimates.merge(listwise.estimates, on=["lhs", "op", "rhs"], suffixes=("_full", "_lw"))
    z_lw = (lw_full.est_lw[free] - lw_full.est_full[free]) / lw_full.se_full[free]
    assert np.mean(np.abs(z)) < np.mean(np.abs(z_lw))
    # FIML keeps every case, so its standard errors are smaller than listwise ones
    lw = listwise.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"], suffixes=("_lw", "_fiml"))
    lw = lw[lw.se_lw > 0]
    assert (lw.se_fiml < lw.se_lw).mean() > 0.8
    fm = fiml.fit_measures
    assert fm["chisq"] == pytest.approx(2 * (fm["unrestricted_logl"] - fm["logl"]))
    assert 0 < fm["cfi"] < 1 and fm["df"] == 24


def test_fiml_bootstrap_runs(hs_mcar):
    res = sem.fit("visual =~ x1 + x2 + x3", hs_mcar, missing="fiml", bootstrap=20, seed=3)
    row = res.estimates[(res.estimates.op == "=~") & (res.estimates.rhs == "x2")].iloc[0]
    assert row.ci_lower < row.est < row.ci_upper
    assert res.bootstrap_draws.shape[0] == 20


def test_rows_without_any_value_are_dropped_under_fiml(hs_mcar):
    data = hs_mcar.copy()
    data.loc[:4, ITEMS] = np.nan
    res = sem.fit(HS_MODEL, data, missing="fiml")
    assert res.nobs == 296
    assert any("no observed value" in w for w in res.warnings)


# --------------------------------------------------------------------------- many missing-data patterns
TWO_FACTOR = "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8"
Y = [f"y{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def many_patterns() -> pd.DataFrame:
    """A seeded two-factor CFA sample (N = 400) with 20% of the values deleted at random:
    84 distinct missing-data patterns."""
    rng = np.random.default_rng(11)
    lam = np.zeros((8, 2))
    lam[:4, 0] = [1.0, 0.8, 1.2, 0.9]
    lam[4:, 1] = [1.0, 0.7, 1.1, 0.9]
    phi = np.array([[1.0, 0.4], [0.4, 0.8]])
    sigma = lam @ phi @ lam.T + np.diag(np.linspace(0.3, 0.6, 8))
    x = rng.multivariate_normal(np.linspace(2.0, 4.0, 8), sigma, size=400)
    x[rng.random(x.shape) < 0.2] = np.nan
    return pd.DataFrame(x, columns=Y)


def reference_moments(params: dict) -> tuple[np.ndarray, np.ndarray]:
    """mu = nu, Sigma = Lambda Phi Lambda' + Theta of TWO_FACTOR from (lhs, op, rhs) -> value."""
    lam, phi, theta = np.zeros((8, 2)), np.zeros((2, 2)), np.zeros((8, 8))
    factors = ["f1", "f2"]
    for (lhs, op, rhs), value in params.items():
        if op == "=~":
            lam[Y.index(rhs), factors.index(lhs)] = value
        elif op == "~~" and lhs in factors:
            phi[factors.index(lhs), factors.index(rhs)] = phi[factors.index(rhs), factors.index(lhs)] = value
        elif op == "~~":
            theta[Y.index(lhs), Y.index(rhs)] = theta[Y.index(rhs), Y.index(lhs)] = value
    nu = np.array([params[(v, "~1", "")] for v in Y])
    return nu, lam @ phi @ lam.T + theta


def reference_loglik(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """The casewise log-likelihood, one row at a time (Arbuckle 1996, eq. 3)."""
    total = 0.0
    for row in x:
        o = ~np.isnan(row)
        d = row[o] - mu[o]
        s = sigma[np.ix_(o, o)]
        total += -0.5 * (o.sum() * np.log(2 * np.pi) + np.linalg.slogdet(s)[1] + d @ np.linalg.solve(s, d))
    return total


def _free_parameters(res) -> tuple[dict, list]:
    est = {(r.lhs, r.op, r.rhs): r.est for r in res.estimates.itertuples()}
    free = [(r.lhs, r.op, r.rhs) for r in sorted(res.fitted.rows, key=lambda r: r.pid) if r.pid >= 0]
    return est, free


def _numeric_gradient(fun, v: np.ndarray, h: float = 1e-5) -> np.ndarray:
    out = np.zeros(len(v))
    for k in range(len(v)):
        e = np.zeros(len(v))
        e[k] = h
        out[k] = (fun(v + e) - fun(v - e)) / (2 * h)
    return out


def test_fiml_with_many_patterns_equals_row_by_row_reference(many_patterns):
    x = many_patterns[Y].to_numpy()
    assert len(np.unique(np.isnan(x), axis=0)) > 80
    res = sem.fit(TWO_FACTOR, many_patterns, missing="fiml")
    assert res.converged and res.nobs == 400
    est, free = _free_parameters(res)

    def loglik(values):
        return reference_loglik(x, *reference_moments({**est, **dict(zip(free, values, strict=True))}))

    v_hat = np.array([est[k] for k in free])
    # the log-likelihood at the estimate, and the unrestricted (EM) one
    assert res.fit_measures["logl"] == pytest.approx(loglik(v_hat), rel=1e-10)
    d = res.fitted.estimator.data[0]
    assert res.fit_measures["unrestricted_logl"] == pytest.approx(reference_loglik(x, d.mean, d.cov), rel=1e-10)
    # the estimate maximises the reference likelihood: its gradient there vanishes (a loading
    # off by 0.01 would leave a gradient of order 1)
    assert np.max(np.abs(_numeric_gradient(loglik, v_hat))) < 1e-3
    # away from the optimum, the engine's discrepancy and analytic (E-step) gradient are
    # -2/N times the reference log-likelihood (less its constant) and its gradient
    engine = res.fitted.estimator
    v = v_hat + np.random.default_rng(5).normal(0, 0.05, len(v_hat))
    f, grad = engine.objective(v)
    n_values = int((~np.isnan(x)).sum())
    assert -0.5 * (n_values * np.log(2 * np.pi) + engine.N * f) == pytest.approx(loglik(v), rel=1e-10)
    assert np.allclose(grad, -2 / engine.N * _numeric_gradient(loglik, v), rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_fiml_estimates_equal_a_direct_maximisation_of_the_row_by_row_reference(many_patterns):
    """Maximise the reference likelihood itself (BFGS on numerical gradients) from the
    population values and compare the estimates."""
    from scipy import optimize

    x = many_patterns[Y].to_numpy()
    res = sem.fit(TWO_FACTOR, many_patterns, missing="fiml")
    est, free = _free_parameters(res)
    truth = {("f1", "=~", "y2"): 0.8, ("f1", "=~", "y3"): 1.2, ("f1", "=~", "y4"): 0.9,
             ("f2", "=~", "y6"): 0.7, ("f2", "=~", "y7"): 1.1, ("f2", "=~", "y8"): 0.9,
             ("f1", "~~", "f1"): 1.0, ("f2", "~~", "f2"): 0.8, ("f1", "~~", "f2"): 0.4}
    truth |= {(v, "~~", v): t for v, t in zip(Y, np.linspace(0.3, 0.6, 8), strict=True)}
    truth |= {(v, "~1", ""): m for v, m in zip(Y, np.linspace(2.0, 4.0, 8), strict=True)}
    start = np.array([truth[k] for k in free])

    def minus_loglik(values):
        return -reference_loglik(x, *reference_moments({**est, **dict(zip(free, values, strict=True))})) / len(x)

    ref = optimize.minimize(minus_loglik, start, method="BFGS", options={"gtol": 1e-7})
    assert np.allclose(ref.x, [est[k] for k in free], atol=2e-4)


@pytest.mark.parametrize("n", [60, 4000])  # few cases: kept one by one; many: as pattern moments
def test_casewise_estep_equals_each_case_conditional_moments(n):
    """The E-step (both the per-case and the per-pattern form) equals, case by case, the
    observed-block log-likelihood and the conditional mean and covariance of the missing
    values (Little & Rubin 2002, ch. 11)."""
    from analysis.sem.casewise import IncompleteData

    rng = np.random.default_rng(11)
    p = 5
    sigma = np.eye(p) + 0.4
    x = rng.multivariate_normal(np.zeros(p), sigma, size=n)
    drop = rng.random((n, p)) < 0.15
    drop[drop.all(axis=1)] = False
    x[drop] = np.nan
    data = IncompleteData(x)
    assert (len(data.patterns) > 0) == (n == 4000) and (len(data.missing) > 0) == (n == 60)
    mu, at = rng.normal(size=p) * 0.2, sigma * 1.2 + 0.05
    step = data.estep(mu, at)
    deviance, dev_sum, cross = 0.0, np.zeros(p), np.zeros((p, p))
    for row in x:
        o = ~np.isnan(row)
        m = ~o
        e = row[o] - mu[o]
        s_oo = at[np.ix_(o, o)]
        deviance += np.linalg.slogdet(s_oo)[1] + e @ np.linalg.solve(s_oo, e)
        full = np.zeros(p)
        full[o] = e
        beta = at[np.ix_(m, o)] @ np.linalg.inv(s_oo)
        full[m] = beta @ e
        dev_sum += full
        cross += np.outer(full, full)
        cross[np.ix_(m, m)] += at[np.ix_(m, m)] - beta @ at[np.ix_(o, m)]
    assert step.deviance == pytest.approx(deviance, rel=1e-12)
    np.testing.assert_allclose(step.dev_sum, dev_sum, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(step.cross_sum, cross, rtol=1e-10, atol=1e-8)
