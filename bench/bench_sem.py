"""Benchmark of analysis.sem: a 22-indicator, 6-factor structural model.

Run: ``.venv/bin/python -m bench.bench_sem`` (one BLAS thread, as the fits run inside
:func:`analysis.threads.limit_blas_threads`).

Reports
- the time of one ``fit()`` at N = 1,000 / 10,000 / 100,000 (everything: moments, optimisation,
  standard errors, fit measures, standardized solution), and of the estimation alone from
  precomputed moments (independent of N);
- a 1,000-draw bootstrap of the indirect effect ``ind := a*b`` at N = 1,000;
- FIML (``missing="fiml"``) on realistic survey data: the measurement model of
  ``instruments/employee_experience.yaml`` (9 constructs x 4 items, 36 indicators) on
  10,000 simulated responses with 3% of the answers missing at random (about 1,300
  distinct missing-data patterns).

Wall-clock and CPU time (``time.process_time``) are both printed, with the load average:
on a shared machine the CPU time is the figure that does not depend on the other jobs.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

STRUCTURAL_MODEL = """
eta1 =~ y1 + y2 + y3 + y4
eta2 =~ y5 + y6 + y7 + y8
eta3 =~ y9 + y10 + y11 + y12
eta4 =~ y13 + y14 + y15 + y16
eta5 =~ y17 + y18 + y19
eta6 =~ y20 + y21 + y22
eta4 ~ a*eta1 + eta2 + eta3
eta5 ~ b*eta4 + eta1
eta6 ~ eta5 + eta4
ind := a*b
"""

#: population values of the structural model (marker loadings 1, others below)
TRUTH = {
    "loadings": [1.0, 0.8, 1.2, 0.9, 1.0, 0.7, 1.1, 0.9, 1.0, 0.8, 0.9, 1.2, 1.0, 0.9, 1.1, 0.8,
                 1.0, 0.9, 1.1, 1.0, 0.8, 1.2],
    "a": 0.4, "b": 0.5,
}


def simulate_structural(n: int, seed: int) -> pd.DataFrame:
    """Multivariate normal data from the population version of :data:`STRUCTURAL_MODEL`."""
    sizes = [4, 4, 4, 4, 3, 3]
    lam = np.zeros((22, 6))
    k = 0
    for f, s in enumerate(sizes):
        for _ in range(s):
            lam[k, f] = TRUTH["loadings"][k]
            k += 1
    beta = np.zeros((6, 6))
    beta[3, 0], beta[3, 1], beta[3, 2] = TRUTH["a"], 0.3, -0.2
    beta[4, 3], beta[4, 0] = TRUTH["b"], 0.2
    beta[5, 4], beta[5, 3] = 0.4, 0.3
    psi = np.diag([1.0, 0.8, 0.9, 0.6, 0.5, 0.5])
    psi[0, 1] = psi[1, 0] = 0.3
    psi[0, 2] = psi[2, 0] = 0.2
    psi[1, 2] = psi[2, 1] = 0.25
    theta = np.diag(np.linspace(0.3, 0.6, 22))
    a = np.linalg.inv(np.eye(6) - beta)
    sigma = lam @ a @ psi @ a.T @ lam.T + theta
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(np.linspace(2.0, 4.0, 22), sigma, size=n, method="cholesky")
    return pd.DataFrame(x, columns=[f"y{i}" for i in range(1, 23)])


def main() -> None:
    from analysis import sem
    from analysis.threads import limit_blas_threads

    print("22-indicator, 6-factor structural model (ML), one BLAS thread; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for n in (1_000, 10_000, 100_000):
        data = simulate_structural(n, seed=1)
        sem.fit(STRUCTURAL_MODEL, data)  # warm-up
        reps = 5
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            res = sem.fit(STRUCTURAL_MODEL, data)
        full, full_cpu = (time.perf_counter() - w0) / reps, (time.process_time() - c0) / reps
        engine = res._state.engine
        x0 = sem._start_values(res._state.rows, res._state.st, engine.data, engine.npar)
        with limit_blas_threads():
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(reps):
                sem._minimize(engine, x0)
            est, est_cpu = (time.perf_counter() - w0) / reps, (time.process_time() - c0) / reps
        print(f"  N = {n:>7,}: fit() {full:.3f} s wall / {full_cpu:.3f} s CPU; estimation from moments "
              f"{est:.3f} s wall / {est_cpu:.3f} s CPU (converged={res.converged}, "
              f"chisq={res.fit_measures['chisq']:.2f}, df={res.fit_measures['df']:.0f})")
    data = simulate_structural(1_000, seed=2)
    w0, c0 = time.perf_counter(), time.process_time()
    res = sem.fit(STRUCTURAL_MODEL, data, bootstrap=1000, seed=1)
    boot, boot_cpu = time.perf_counter() - w0, time.process_time() - c0
    row = res.estimates[res.estimates["op"] == ":="].iloc[0]
    print(f"  bootstrap 1,000 draws (N = 1,000): {boot:.1f} s wall / {boot_cpu:.1f} s CPU; "
          f"ind = {row['est']:.3f} [{row['ci_lower']:.3f}, {row['ci_upper']:.3f}] "
          f"(truth {TRUTH['a'] * TRUTH['b']:.3f}); load average {os.getloadavg()[0]:.1f}")
    bench_fiml()


def bench_fiml(n: int = 10_000) -> None:
    """Time one FIML ``fit()`` of the employee-experience CFA on ``n`` simulated responses."""
    from analysis import sem
    from analysis.measurement import measurement_model
    from analysis.simulate import simulate_responses
    from surveys.instrument import load_instrument

    inst = load_instrument("instruments/employee_experience.yaml")
    model = measurement_model(inst)
    data = simulate_responses(inst, n_units=n // 100, respondents_per_unit=100, seed=1, missing_rate=0.03)
    items = [item for line in model.splitlines() for item in line.split("=~")[1].split(" + ")]
    items = [item.strip() for item in items]
    patterns = len(np.unique(data[items].isna().to_numpy(), axis=0))
    w0, c0 = time.perf_counter(), time.process_time()
    res = sem.fit(model, data, missing="fiml")
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    fm = res.fit_measures
    print(f"  FIML CFA, {len(items)} indicators, N = {res.nobs:,}, {patterns:,} missing-data patterns: "
          f"fit() {wall:.2f} s wall / {cpu:.2f} s CPU (converged={res.converged}, chisq={fm['chisq']:.2f}, "
          f"df={fm['df']:.0f}, logl={fm['logl']:.4f}); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
