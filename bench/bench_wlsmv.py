"""Benchmark of WLSMV: the employee instrument's CFA with every item ordered, beside lavaan.

Fits the measurement model of ``instruments/employee_experience.yaml`` (9 constructs x 4
five-point items, 36 ordinal indicators, 144 thresholds, 630 polychoric correlations) to
10,000 simulated complete responses by :func:`analysis.sem.fit` with ``ordered=`` (WLSMV:
thresholds, polychoric correlations and their NACOV, DWLS, robust standard errors,
scaled-shifted test, robust fit indices), and, in the same run on the same data (a
temporary CSV), lavaan's ``cfa(model, data, ordered = TRUE)`` (estimator WLSMV) timed with
``system.time`` inside R (R's start-up and the CSV reading not counted). Without
``Rscript`` or lavaan the comparison is skipped with a note, never failed. Also prints the
largest differences of the estimates, standard errors and scaled chi-square.

Run::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python -m bench.bench_wlsmv [--rows 10000]
        [--repeat 3] [--r-repeat 1] [--no-r]

Simulation time is not counted (:func:`analysis.simulate.simulate_responses`, seed 1,
no missing answers).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_sem import lavaan_available, r_string, run_r

R_SCRIPT = """
suppressMessages(library(lavaan))
d <- read.csv({data})
m <- {model}
times <- numeric(0)
for (i in seq_len({repeat})) {{
  t <- system.time(f <- cfa(m, d, ordered = TRUE))
  times <- c(times, t[["elapsed"]])
}}
pe <- parameterEstimates(f)
pe <- pe[pe$op %in% c("=~", "|"), ]
write.csv(pe[, c("lhs", "op", "rhs", "est", "se")], {out}, row.names = FALSE)
cat("version", as.character(packageVersion("lavaan")), "\\n")
cat("elapsed", times, "\\n")
cat("chisq_scaled", fitMeasures(f, "chisq.scaled"), "\\n")
cat("cfi_robust", fitMeasures(f, "cfi.robust"), "\\n")
"""


def employee_data(rows: int, seed: int):
    """The employee instrument's measurement model and ``rows`` simulated complete responses."""
    from analysis.measurement import measurement_model
    from analysis.simulate import simulate_responses
    from surveys.loader import load_instrument

    inst = load_instrument("instruments/employee_experience.yaml")
    model = measurement_model(inst)
    items = [item.strip() for line in model.splitlines() if "=~" in line for item in line.split("=~")[1].split("+")]
    data = simulate_responses(inst, n_units=max(1, rows // 100), respondents_per_unit=100, seed=seed,
                              missing_rate=0.0)
    return model, items, data[items].astype(float).head(rows).reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of Tandem's fit()")
    parser.add_argument("--r-repeat", type=int, default=1, help="timed runs of lavaan's cfa() inside R")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-r", action="store_true", help="skip the lavaan comparison")
    args = parser.parse_args(argv)

    from analysis import sem

    model, items, data = employee_data(args.rows, args.seed)
    print(f"WLSMV CFA of the employee instrument: {len(items)} ordinal items x {len(data):,} responses "
          f"(load average {os.getloadavg()[0]:.1f})")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        res = sem.fit(model, data, ordered=items)
        times.append(time.perf_counter() - start)
    ours = statistics.median(times)
    fm = res.fit_measures
    print(f"  {'Tandem fit(ordered=...)':<28s} median {ours:7.3f} s  (min {min(times):.3f} s, {args.repeat} runs; "
          f"converged={res.converged}, chisq_scaled={fm['chisq_scaled']:.3f}, df={fm['df']:.0f}, "
          f"cfi_robust={fm['cfi_robust']:.4f})")
    if args.no_r:
        print("  lavaan comparison skipped (--no-r)")
        return
    why = lavaan_available()
    if why is not None:
        print(f"  lavaan comparison skipped: {why}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "x.csv", Path(tmp) / "pe.csv"
        data.to_csv(csv, index=False)
        try:
            fields = run_r(R_SCRIPT.format(data=r_string(str(csv)), model=r_string(model), repeat=args.r_repeat,
                                           out=r_string(str(out))))
        except RuntimeError as exc:
            print(f"  lavaan comparison skipped: {exc}")
            return
        import pandas as pd

        pe = pd.read_csv(out)
    r_times = [float(v) for v in fields["elapsed"].split()]
    theirs = statistics.median(r_times)
    est = res.estimates.set_index(["lhs", "op", "rhs"])
    mine = est.loc[list(zip(pe.lhs, pe.op, pe.rhs, strict=True))]
    d_est = float(np.max(np.abs(mine.est.to_numpy() - pe.est.to_numpy())))
    free = pe.se.to_numpy() > 0
    d_se = float(np.max(np.abs(mine.se.to_numpy()[free] / pe.se.to_numpy()[free] - 1)))
    chisq_r = float(fields["chisq_scaled"])
    print(f"  {'lavaan ' + fields['version'].strip() + ' cfa(ordered=TRUE)':<28s} median {theirs:7.3f} s  "
          f"(min {min(r_times):.3f} s, {len(r_times)} runs, system.time inside R; chisq_scaled={chisq_r:.3f}, "
          f"cfi_robust={float(fields['cfi_robust']):.4f})")
    print(f"  {'Tandem / lavaan time':<28s} {ours / theirs:.3f}  (goal <= 0.5)")
    print(f"  max |est diff| {d_est:.2e}, max relative se diff {d_se:.2e}, "
          f"chisq_scaled relative diff {abs(fm['chisq_scaled'] / chisq_r - 1):.2e} "
          f"({len(pe)} loadings and thresholds compared)")


if __name__ == "__main__":
    main()
