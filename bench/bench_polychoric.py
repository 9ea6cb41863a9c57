"""Benchmark of the polychoric matrix: 36 five-point items x 10,000 responses, beside lavaan.

Times :func:`analysis.polychoric.polychoric` (thresholds and all 630 pairwise polychoric
correlations) and, in the same run on the same data, lavaan's
``lavCor(x, ordered = names(x))`` timed inside R with ``system.time`` (R's start-up and
``library(lavaan)`` excluded). Without ``Rscript`` or lavaan the comparison is skipped,
never failed. Also prints the largest difference between the two matrices.

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_polychoric [--rows 10000]
        [--constructs 9] [--items-per-construct 4] [--missing 0.0] [--repeat 3] [--r-repeat 1]
        [--se] [--no-r]

Data are simulated with a fixed seed (one factor per construct, loading .75, factors
correlated .3, thresholds skewed towards agreement); with ``--missing`` that share of
answers is deleted at random and both sides use pairwise deletion. Simulation time is
not counted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.polychoric import polychoric

#: Cut points of the latent responses into five categories (skewed: most answers agree).
CUTS = (-1.9, -1.1, -0.4, 0.7)

R_SCRIPT = """
suppressMessages(library(lavaan))
x <- read.csv("{data}")
times <- numeric(0)
for (i in seq_len({repeat})) {{
  t <- system.time(r <- lavCor(x, ordered = names(x), missing = "{missing}", se = "{se}",
                                output = if ("{se}" == "none") "cor" else "fit"))
  times <- c(times, t[["elapsed"]])
}}
if ("{se}" != "none") r <- lavInspect(r, "sampstat")$cov
write.csv(unclass(r), "{out}")
cat("LAVAAN_VERSION", as.character(packageVersion("lavaan")), "\\n")
cat("ELAPSED", times, "\\n")
"""


def simulate(rows: int, constructs: int, per_construct: int, missing: float, seed: int) -> pd.DataFrame:
    """Five-point answers of ``constructs`` x ``per_construct`` items (see the module docstring)."""
    rng = np.random.default_rng(seed)
    phi = np.full((constructs, constructs), 0.3) + 0.7 * np.eye(constructs)
    factors = rng.normal(size=(rows, constructs)) @ np.linalg.cholesky(phi).T
    columns = {}
    for c in range(constructs):
        for i in range(per_construct):
            latent = 0.75 * factors[:, c] + np.sqrt(1 - 0.75**2) * rng.normal(size=rows)
            columns[f"c{c + 1}_{i + 1}"] = np.digitize(latent, CUTS) + 1.0
    frame = pd.DataFrame(columns)
    if missing > 0:
        frame = frame.mask(rng.random(frame.shape) < missing)
    return frame


def run_lavaan(frame: pd.DataFrame, missing: str, repeat: int, se: bool = False
               ) -> tuple[list[float], pd.DataFrame, str] | str:
    """lavaan's elapsed times, matrix and version; or the reason the comparison is skipped."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found (install r-base-core and r-cran-lavaan to compare)"
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "x.csv", Path(tmp) / "r.csv"
        frame.to_csv(data, index=False, na_rep="")
        script = R_SCRIPT.format(data=data, out=out, repeat=repeat, se="standard" if se else "none",
                                 missing="pairwise" if missing == "pairwise" else "listwise")
        try:
            done = subprocess.run([rscript, "-e", script], capture_output=True, text=True, timeout=3600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Rscript failed: {exc}"
        if done.returncode != 0 or not out.exists():
            return f"lavaan run failed: {done.stderr.strip()[-300:]}"
        fields = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.strip()}
        times = [float(v) for v in fields.get("ELAPSED", [])]
        version = " ".join(fields.get("LAVAAN_VERSION", ["?"]))
        return times, pd.read_csv(out, index_col=0), version


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--constructs", type=int, default=9)
    parser.add_argument("--items-per-construct", type=int, default=4)
    parser.add_argument("--missing", type=float, default=0.0, help="share of answers deleted at random")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of Tandem's polychoric()")
    parser.add_argument("--r-repeat", type=int, default=1, help="timed runs of lavCor inside R")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--se", action="store_true",
                        help="with standard errors (se=True; lavCor(..., se = 'standard')); complete data only")
    parser.add_argument("--no-r", action="store_true", help="skip the lavaan comparison")
    args = parser.parse_args(argv)

    frame = simulate(args.rows, args.constructs, args.items_per_construct, args.missing, args.seed)
    missing = "pairwise" if args.missing > 0 else "listwise"
    p = frame.shape[1]
    if args.se and args.missing > 0:
        parser.error("--se needs complete data (--missing 0)")
    print(f"polychoric matrix: {p} five-point items x {args.rows:,} rows ({p * (p - 1) // 2} pairs), "
          f"{args.missing:.0%} of answers missing, missing={missing!r}{', with standard errors' if args.se else ''}")
    times = []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = polychoric(frame, missing=missing, se=args.se)
            times.append(time.perf_counter() - start)
    ours = statistics.median(times)
    print(f"  {'Tandem polychoric()':<28s} median {ours:7.3f} s  (min {min(times):.3f} s, {args.repeat} runs)")
    if args.no_r:
        print("  lavaan comparison skipped (--no-r)")
        return
    lavaan = run_lavaan(frame, missing, args.r_repeat, se=args.se)
    if isinstance(lavaan, str):
        print(f"  lavaan comparison skipped: {lavaan}")
        return
    r_times, r_matrix, version = lavaan
    if not r_times:
        print("  lavaan comparison skipped: no timing reported")
        return
    theirs = statistics.median(r_times)
    diff = np.abs(result.correlation.loc[r_matrix.index, r_matrix.columns].to_numpy() - r_matrix.to_numpy()).max()
    print(f"  {'lavaan ' + version + ' lavCor()':<28s} median {theirs:7.3f} s  (min {min(r_times):.3f} s, "
          f"{len(r_times)} runs, system.time inside R)")
    print(f"  {'Tandem / lavaan time':<28s} {ours / theirs:.3f}  (goal <= 0.5)")
    print(f"  max |Tandem - lavaan| over the matrix: {diff:.2e}")


if __name__ == "__main__":
    main()
