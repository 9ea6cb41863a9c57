"""Benchmark of ``tandem power`` (:func:`analysis.power.power`), side by side with a lavaan loop.

Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python -m bench.bench_power``
(``--reps 1000 --units 50,100,200`` by default).

Reports
- ``power()`` of the shipped study (``instruments/studies/service_profit_chain.yaml``)
  end to end: simulating respondents, scoring, aggregating to units, fitting every
  replication, counting;
- the fitting stage alone on the same unit-level data sets: Tandem's batched least-squares
  ML (:func:`analysis.path_model.path_model_tests`) against lavaan 0.6 ``sem()`` in an R loop
  over the same data (a temporary CSV; ``system.time`` inside R, so R's start-up and the
  CSV reading are not counted), with the largest difference in p-values.

Without ``Rscript`` and lavaan the comparison is skipped with a note (CI need not have R).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.bench_sem import lavaan_available, r_string, run_r

STUDY = Path(__file__).resolve().parents[1] / "instruments" / "studies" / "service_profit_chain.yaml"


def unit_data_sets(study, n: int, reps: int, seed: int) -> pd.DataFrame:
    """The z-scored unit tables of ``reps`` simulated replications at ``n`` units (column
    ``rep``), simulated and aggregated as :func:`analysis.power.power` does."""
    from analysis.linkage import unit_table
    from analysis.power import CHUNK_UNITS, effects_for
    from analysis.simulate import simulate_service_profit_chain

    frames = []
    per_chunk = max(1, CHUNK_UNITS // n)
    for chunk, first in enumerate(range(0, reps, per_chunk)):
        count = min(per_chunk, reps - first)
        chain = simulate_service_profit_chain(study.employee, study.customer, n_units=n * count,
                                              paths=effects_for(study), seed=seed + chunk + 100_003 * n,
                                              comments=False)
        kept, _ = unit_table(study, chain.employees, chain.customers)
        replication = {u: first + i // n for i, u in enumerate(chain.units["unit"])}
        part = kept[list(study.nodes)].astype(float)
        part.insert(0, "rep", kept["unit"].map(replication).to_numpy())
        frames.append(part)
    data = pd.concat(frames, ignore_index=True)
    nodes = list(study.nodes)
    grouped = data.groupby("rep")[nodes]
    data[nodes] = (data[nodes] - grouped.transform("mean")) / grouped.transform(lambda v: v.std(ddof=0))
    return data


def lavaan_loop(csv: Path, model: str) -> tuple[float, pd.DataFrame]:
    out = run_r(f"""
suppressMessages(library(lavaan))
d <- read.csv({r_string(str(csv))})
m <- {r_string(model)}
reps <- split(d, d$rep)
p <- NULL
t <- system.time(for (r in reps) {{
  f <- sem(m, r)
  pe <- parameterEstimates(f)
  p <- rbind(p, pe$pvalue[pe$op == "~"])
}})[["elapsed"]]
cat("seconds", t, "\\n")
cat("pvalues", as.vector(t(p)), "\\n")
cat("npaths", sum(pe$op == "~"), "\\n")
""", timeout=7200)
    k = int(out["npaths"])
    return float(out["seconds"]), pd.DataFrame(np.array(out["pvalues"].split(), dtype=float).reshape(-1, k))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--units", default="50,100,200")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from analysis.path_model import path_model_tests, path_plan
    from analysis.power import power
    from analysis.study import load_study

    study = load_study(STUDY)
    sizes = [int(v) for v in args.units.split(",")]
    why_not = lavaan_available()
    print(f"tandem power: {args.reps} replications at {sizes} units, one BLAS thread; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"lavaan comparison: {'skipped: ' + why_not if why_not else 'on (Rscript, system.time inside R)'}")
    w0, c0 = time.perf_counter(), time.process_time()
    result = power(study, units=sizes, reps=args.reps, seed=args.seed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    print(f"  power() end to end: {wall:.1f} s wall / {cpu:.1f} s CPU "
          f"({wall / (args.reps * len(sizes)) * 1e3:.1f} ms a replication); load average {os.getloadavg()[0]:.1f}")
    strong = result.table[(result.table.lhs == "csat") & (result.table.rhs == "service_quality")]
    print("  power of csat ~ service_quality by size: " + ", ".join(
        f"{int(r.n_units)}: {r.power:.3f}" for r in strong.itertuples()), flush=True)
    plan = path_plan(study)
    model = study.model_syntax()
    total_ours = total_lavaan = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            data = unit_data_sets(study, n, args.reps, args.seed)
            reps = [g for _, g in data.groupby("rep")]
            t0 = time.perf_counter()
            corr = np.stack([np.corrcoef(g[list(plan.nodes)].to_numpy(), rowvar=False) for g in reps])
            _, p = path_model_tests(plan, corr, np.array([len(g) for g in reps], dtype=float))
            ours = time.perf_counter() - t0
            total_ours += ours
            line = f"  fitting {len(reps)} replications at {n} units: Tandem {ours:.3f} s"
            if not why_not:
                csv = Path(tmp) / f"units_{n}.csv"
                data.to_csv(csv, index=False)
                theirs, p_lavaan = lavaan_loop(csv, model)
                total_lavaan += theirs
                order = [plan.paths.index((pp.lhs, r)) for pp in study.paths for r in pp.rhs]
                diff = np.nanmax(np.abs(p[:, order] - p_lavaan.to_numpy()))
                line += f", lavaan loop {theirs:.2f} s ({ours / theirs:.4f}x); largest p-value difference {diff:.1e}"
            print(line, flush=True)
    if total_lavaan:
        print(f"\n  {'case':44} {'Tandem':>9} {'lavaan':>9} {'ratio':>8}   (load average {os.getloadavg()[0]:.1f})")
        print(f"  {'fitting ' + str(args.reps) + ' reps x ' + str(len(sizes)) + ' sizes':44} {total_ours:8.2f}s "
              f"{total_lavaan:8.2f}s {total_ours / total_lavaan:7.4f}x")
        print(f"  {'power() end to end vs the lavaan loop':44} {wall:8.2f}s {total_lavaan:8.2f}s "
              f"{wall / total_lavaan:7.4f}x")


if __name__ == "__main__":
    main()
