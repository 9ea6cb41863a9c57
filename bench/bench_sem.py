"""Benchmark of analysis.sem: a 22-indicator, 6-factor structural model, side by side with lavaan.

Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python -m bench.bench_sem``
(one BLAS thread, as the fits run inside :func:`analysis.threads.limit_blas_threads`).

Reports
- the time of one ``fit()`` at N = 1,000 / 10,000 / 100,000 (everything: data
  conversion, moments, optimisation, standard errors, fit measures, standardized
  solution), and of the estimation alone from the moments (independent of N);
- at N = 10,000, lavaan 0.6 ``sem()`` on the same data (a temporary CSV), timed with
  ``system.time`` inside R, so R's start-up and the CSV reading are not counted;
- a 1,000-draw bootstrap of the indirect effect ``ind := a*b`` at N = 1,000, and lavaan's
  ``sem(..., se = "bootstrap", bootstrap = 1000)`` on the same data;
- FIML (``missing="fiml"``) on realistic survey data: the measurement model of
  ``instruments/employee_experience.yaml`` (9 constructs x 4 items, 36 indicators) on
  10,000 simulated responses with 3% of the answers missing at random (about 1,300
  distinct missing-data patterns).

lavaan needs ``Rscript`` with the lavaan package (Debian: ``apt-get install r-base-core
r-cran-lavaan``); without it the comparison is skipped with a note, never an error (CI
need not have R). Wall-clock and CPU time (``time.process_time``) are printed, with the
load average: on a shared machine compare within one run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

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


def lavaan_available() -> str | None:
    """None if ``Rscript`` with lavaan can run, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core r-cran-lavaan)"
    probe = subprocess.run(["Rscript", "-e", "suppressMessages(library(lavaan))"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return "the R package lavaan is not installed (apt-get install r-cran-lavaan)"
    return None


def run_r(script: str, timeout: float = 3600) -> dict[str, str]:
    """Run an R script; its ``KEY value`` output lines as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["Rscript", fh.name], capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    finally:
        os.unlink(fh.name)
    if out.returncode != 0:
        raise RuntimeError(f"Rscript failed: {out.stderr[-2000:]}")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)


def r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lavaan_fit_time(csv: Path, model: str, reps: int) -> dict[str, str]:
    return run_r(f"""
suppressMessages(library(lavaan))
d <- read.csv({r_string(str(csv))})
m <- {r_string(model)}
f <- sem(m, d)
t <- system.time(for (i in 1:{reps}) f <- sem(m, d))[["elapsed"]] / {reps}
cat("version", as.character(packageVersion("lavaan")), "\\n")
cat("seconds", t, "\\n")
cat("chisq", fitMeasures(f, "chisq"), "\\n")
cat("iterations", lavInspect(f, "iterations"), "\\n")
""")


def lavaan_bootstrap_time(csv: Path, model: str, draws: int) -> dict[str, str]:
    return run_r(f"""
suppressMessages(library(lavaan))
d <- read.csv({r_string(str(csv))})
m <- {r_string(model)}
set.seed(1)
t <- system.time(f <- sem(m, d, se = "bootstrap", bootstrap = {draws}))[["elapsed"]]
pe <- parameterEstimates(f, boot.ci.type = "perc")
ind <- pe[pe$op == ":=", ]
cat("seconds", t, "\\n")
cat("ind", ind$est, ind$ci.lower, ind$ci.upper, "\\n")
""")


def _time(fun, reps: int) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fun()
    return (time.perf_counter() - w0) / reps, (time.process_time() - c0) / reps


def main() -> None:
    from analysis import sem
    from analysis.sem import optimizer
    from analysis.sem.start import start_values
    from analysis.threads import limit_blas_threads

    why_not = lavaan_available()
    print("22-indicator, 6-factor structural model (ML), one BLAS thread; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"lavaan comparison: {'skipped: ' + why_not if why_not else 'on (Rscript, system.time inside R)'}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1_000, 10_000, 100_000):
            data = simulate_structural(n, seed=1)
            res = sem.fit(STRUCTURAL_MODEL, data)  # warm-up
            reps = 20 if n < 100_000 else 5
            full, full_cpu = _time(lambda data=data: sem.fit(STRUCTURAL_MODEL, data), reps)
            fitted = res.fitted
            x0 = start_values(fitted.table, fitted.estimator.sample)
            with limit_blas_threads():
                est, _ = _time(lambda x0=x0, fitted=fitted: optimizer.minimize(fitted.estimator, x0), reps)
            line = (f"  N = {n:>7,}: fit() {full:.4f} s wall / {full_cpu:.4f} s CPU; estimation from moments "
                    f"{est:.4f} s ({fitted.iterations} Fisher-scoring iterations, {fitted.method}; "
                    f"chisq={res.fit_measures['chisq']:.4f}, df={res.fit_measures['df']:.0f})")
            if n == 10_000 and not why_not:
                csv = Path(tmp) / "structural.csv"
                data.to_csv(csv, index=False)
                lav = lavaan_fit_time(csv, STRUCTURAL_MODEL, reps=10)
                t_lav = float(lav["seconds"])
                line += (f"\n      lavaan {lav['version'].strip()} sem(): {t_lav:.4f} s ({lav['iterations'].strip()} "
                         f"iterations, chisq={float(lav['chisq']):.4f}); Tandem/lavaan = {full / t_lav:.2f}x")
                rows.append(("fit(), N = 10,000", full, t_lav))
            print(line, flush=True)
        data = simulate_structural(1_000, seed=2)
        w0, c0 = time.perf_counter(), time.process_time()
        res = sem.fit(STRUCTURAL_MODEL, data, bootstrap=1000, seed=1)
        boot, boot_cpu = time.perf_counter() - w0, time.process_time() - c0
        row = res.estimates[res.estimates["op"] == ":="].iloc[0]
        print(f"  bootstrap 1,000 draws (N = 1,000): {boot:.2f} s wall / {boot_cpu:.2f} s CPU; "
              f"ind = {row['est']:.3f} [{row['ci_lower']:.3f}, {row['ci_upper']:.3f}] "
              f"(truth {TRUTH['a'] * TRUTH['b']:.3f}); load average {os.getloadavg()[0]:.1f}", flush=True)
        if not why_not:
            csv = Path(tmp) / "bootstrap.csv"
            data.to_csv(csv, index=False)
            lav = lavaan_bootstrap_time(csv, STRUCTURAL_MODEL, 1000)
            t_lav = float(lav["seconds"])
            est_l, lo_l, up_l = (float(v) for v in lav["ind"].split())
            print(f"      lavaan se = \"bootstrap\", 1,000 draws: {t_lav:.2f} s; ind = {est_l:.3f} "
                  f"[{lo_l:.3f}, {up_l:.3f}]; Tandem/lavaan = {boot / t_lav:.3f}x", flush=True)
            rows.append(("bootstrap 1,000 draws, N = 1,000", boot, t_lav))
    if rows:
        print(f"\n  {'case':36} {'Tandem':>10} {'lavaan':>10} {'ratio':>7}   (load average {os.getloadavg()[0]:.1f})")
        for name, ours, theirs in rows:
            print(f"  {name:36} {ours:9.4f}s {theirs:9.4f}s {ours / theirs:6.3f}x")
    bench_fiml()


def bench_fiml(n: int = 10_000) -> None:
    """Time one FIML ``fit()`` of the employee-experience CFA on ``n`` simulated responses."""
    from analysis import sem
    from analysis.measurement import measurement_model
    from analysis.simulate import simulate_responses
    from surveys.loader import load_instrument

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
