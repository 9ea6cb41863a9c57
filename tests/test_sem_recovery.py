"""Recovery of known parameters from seeded simulated data, and the bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import sem

MODEL = "f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6\nf2 ~ f1"
TRUTH = {("f1", "=~", "x2"): 0.8, ("f1", "=~", "x3"): 1.2, ("f2", "=~", "x5"): 0.9, ("f2", "=~", "x6"): 1.1,
         ("f2", "~", "f1"): 0.5, ("f1", "~~", "f1"): 1.0, ("f2", "~~", "f2"): 0.6,
         **{(f"x{i}", "~~", f"x{i}"): v for i, v in zip(range(1, 7), (0.5, 0.4, 0.6, 0.5, 0.3, 0.4), strict=True)}}


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f1 = rng.normal(0, 1.0, n)
    f2 = TRUTH[("f2", "~", "f1")] * f1 + rng.normal(0, np.sqrt(0.6), n)
    loadings = [1.0, 0.8, 1.2, 1.0, 0.9, 1.1]
    columns = {}
    for i, lam in enumerate(loadings, start=1):
        factor = f1 if i <= 3 else f2
        columns[f"x{i}"] = 2.0 + lam * factor + rng.normal(0, np.sqrt(TRUTH[(f"x{i}", "~~", f"x{i}")]), n)
    return pd.DataFrame(columns)


def coverage(reps: int, n: int = 300) -> float:
    hits = total = 0
    for seed in range(reps):
        est = sem.fit(MODEL, simulate(n, seed)).estimates
        for (lhs, op, rhs), value in TRUTH.items():
            row = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs)].iloc[0]
            hits += row.ci_lower <= value <= row.ci_upper
            total += 1
    return hits / total


def test_wald_intervals_cover_truth_fast():
    """30 replications x 13 parameters: a wrong SE (halved or doubled) falls outside."""
    assert 0.88 <= coverage(30) <= 0.99


@pytest.mark.slow
def test_wald_intervals_cover_truth_at_nominal_rate():
    """200 replications x 13 parameters (2,600 intervals): 95% within Monte Carlo error."""
    assert 0.93 <= coverage(200) <= 0.97


def test_estimates_converge_to_truth_in_large_samples():
    est = sem.fit(MODEL, simulate(50_000, 1)).estimates
    for (lhs, op, rhs), value in TRUTH.items():
        row = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs)].iloc[0]
        assert row.est == pytest.approx(value, abs=0.03), (lhs, op, rhs)


def _mediation(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    m = 0.5 * x + rng.normal(size=n)
    y = 0.4 * m + 0.2 * x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m": m, "y": y})


MEDIATION = "m ~ a*x\ny ~ b*m + c*x\nind := a*b\ntotal := c + a*b"


def test_bootstrap_percentile_interval_of_indirect_effect():
    data = _mediation(300, 11)
    delta = sem.fit(MEDIATION, data)
    boot = sem.fit(MEDIATION, data, bootstrap=400, seed=5)
    d = delta.estimates.set_index("lhs").loc["ind"]
    b = boot.estimates.set_index("lhs").loc["ind"]
    assert b.est == pytest.approx(d.est)                     # point estimate unchanged
    assert b.ci_lower < d.est < b.ci_upper
    assert b.se == pytest.approx(d.se, rel=0.2)              # bootstrap SD ~ delta-method SE
    draws = boot.bootstrap_draws["ind"]
    assert abs(draws.median() - d.est) < 0.25 * d.se
    # percentile interval = order statistics of the draws (results.percentile_interval)
    assert b.ci_lower == pytest.approx(np.percentile(draws.dropna(), 2.5, method="inverted_cdf"))
    # seeded: the same draws again
    again = sem.fit(MEDIATION, data, bootstrap=400, seed=5)
    assert again.estimates.ci_lower.equals(boot.estimates.ci_lower)


def test_bootstrap_multigroup_resamples_within_groups():
    data = pd.concat([_mediation(150, 1).assign(g="a"), _mediation(120, 2).assign(g="b")], ignore_index=True)
    res = sem.fit("m ~ x\ny ~ m + x", data, group="g", bootstrap=50, seed=2)
    assert res.nobs_per_group == {"a": 150, "b": 120}
    slopes = res.estimates[(res.estimates.op == "~") & (res.estimates.rhs == "x") & (res.estimates.lhs == "m")]
    assert len(slopes) == 2 and (slopes.ci_lower < slopes.est).all() and (slopes.est < slopes.ci_upper).all()


def test_bootstrap_intervals_of_the_standardized_solution():
    """Data z-scored once: each draw is standardized anew (lavaan standardizedSolution per draw)."""
    rng = np.random.default_rng(8)
    n = 200
    x = rng.normal(size=n)
    m = 0.8 * x + 0.6 * rng.normal(size=n)
    y = 0.7 * m + 0.7 * rng.normal(size=n)
    data = pd.DataFrame({"x": x, "m": m, "y": y})
    data = (data - data.mean()) / data.std(ddof=0)
    model = "m ~ a*x\ny ~ b*m + c*x\nind := a*b"
    assert list(sem.fit(model, data).estimates.columns) == sem.ESTIMATE_COLUMNS   # no bootstrap, no std intervals
    res = sem.fit(model, data, bootstrap=300, seed=4)
    est = res.estimates.set_index("label")
    assert list(res.estimates.columns) == sem.ESTIMATE_COLUMNS + sem.BOOTSTRAP_STD_COLUMNS
    a, b, ind = est.loc["a"], est.loc["b"], est.loc["ind"]
    assert ind.std_all == pytest.approx(a.std_all * b.std_all, rel=1e-10)
    rows = res.estimates[res.estimates.op.isin(["~", ":="])]
    assert ((rows.std_ci_lower <= rows.std_all) & (rows.std_all <= rows.std_ci_upper)).all()
    assert (rows.std_ci_upper - rows.std_ci_lower <= rows.ci_upper - rows.ci_lower).all()
    # strong path (r about .8): the correlation varies less over draws than the raw slope, by about sqrt(1 - r^2)
    assert (a.std_ci_upper - a.std_ci_lower) < 0.75 * (a.ci_upper - a.ci_lower)
    # the same draws by hand: m ~ x standardized is the resample's r(x, m); the indirect effect's
    # std_all is r(x, m) times the standardized partial slope of y on m
    draw = np.random.default_rng(4)
    r_xm, r_ind = [], []
    for _ in range(300):
        r = np.corrcoef(data.to_numpy()[draw.integers(0, n, n)], rowvar=False)
        r_xm.append(r[0, 1])
        r_ind.append(r[0, 1] * (r[1, 2] - r[0, 1] * r[0, 2]) / (1 - r[0, 1] ** 2))
    assert a.std_ci_lower == pytest.approx(np.percentile(r_xm, 2.5, method="inverted_cdf"), abs=1e-3)
    assert a.std_ci_upper == pytest.approx(-np.percentile(-np.array(r_xm), 2.5, method="inverted_cdf"), abs=1e-3)
    assert a.std_se == pytest.approx(np.std(r_xm, ddof=1), rel=1e-2)
    assert ind.std_ci_lower == pytest.approx(np.percentile(r_ind, 2.5, method="inverted_cdf"), abs=1e-3)
    assert ind.std_ci_upper == pytest.approx(-np.percentile(-np.array(r_ind), 2.5, method="inverted_cdf"), abs=1e-3)
