"""Recovery of known parameters from seeded simulated data, and the bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import sem

MODEL = "f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6\nf2 ~ f1"
TRUTH = {("f1", "=~", "x2"): 0.8, ("f1", "=~", "x3"): 1.2, ("f2", "=~", "x5"): 0.9, ("f2", "=~", "x6"): 1.1,
         ("f2", "~", "f1"): 0.5, ("f1", "~~", "f1"): 1.0, ("f2", "~~", "f2"): 0.6,
         **{(f"x{i}", "~~", f"x{i}"): v for i, v in zip(range(1, 7), (0.5, 0.4, 0.6, 0.5, 0.3, 0.4))}}


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
    # percentile interval = quantiles of the draws
    assert b.ci_lower == pytest.approx(np.percentile(draws.dropna(), 2.5))
    # seeded: the same draws again
    again = sem.fit(MEDIATION, data, bootstrap=400, seed=5)
    assert again.estimates.ci_lower.equals(boot.estimates.ci_lower)


def test_bootstrap_multigroup_resamples_within_groups():
    data = pd.concat([_mediation(150, 1).assign(g="a"), _mediation(120, 2).assign(g="b")], ignore_index=True)
    res = sem.fit("m ~ x\ny ~ m + x", data, group="g", bootstrap=50, seed=2)
    assert res.nobs_per_group == {"a": 150, "b": 120}
    slopes = res.estimates[(res.estimates.op == "~") & (res.estimates.rhs == "x") & (res.estimates.lhs == "m")]
    assert len(slopes) == 2 and (slopes.ci_lower < slopes.est).all() and (slopes.est < slopes.ci_upper).all()
