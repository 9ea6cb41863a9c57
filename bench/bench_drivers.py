"""Benchmark of the unit statistics: key drivers with 1,000 bootstrap draws, ICC and r_wg(J).

1. Relative weights and the exact Shapley (LMG) decomposition of 100,000 respondent
   rows x 10 predictors, each with 1,000 bootstrap draws (vectorised: resampling
   counts x cross-products in one matrix product per block, batched eigen-
   decompositions and solves on the (B, p, p) stack).
2. ICC(1)/ICC(2), r_wg(J) and AD(M) of 5 constructs x 4 five-point items over 2,000
   units with 100,000 employee rows, and the per-construct verdict table.

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_drivers [--rows 100000]
        [--predictors 10] [--bootstrap 1000] [--units 2000] [--employees 100000]

Data are simulated with a fixed seed; simulation time is not counted. Peak memory is
the process's maximum resident set size (``resource.getrusage``, data included).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.aggregation import aggregation_table, icc
from analysis.agreement import ad_m, rwg_j
from analysis.drivers import relative_weights, shapley


def _peak_rss_gb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024**3 if sys.platform == "darwin" else 1024**2)


def _driver_data(rows: int, p: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = 0.5 * rng.normal(size=(rows, 1)) + rng.normal(size=(rows, p))
    y = x @ np.linspace(0.6, 0.0, p) + rng.normal(size=rows)
    frame = pd.DataFrame(x, columns=[f"driver_{i}" for i in range(p)])
    frame["outcome"] = y
    return frame


def _unit_data(units: int, rows: int, seed: int) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    unit = np.sort(rng.integers(0, units, rows))
    frame = {"unit": unit}
    constructs = {}
    for c in range(5):
        effect = rng.normal(0, 0.2 + 0.15 * c, units)
        items = [f"c{c}_i{i}" for i in range(4)]
        person = rng.normal(0, 0.6, rows)
        for item in items:
            frame[item] = np.clip(np.round(3 + effect[unit] + person + rng.normal(0, 0.5, rows)), 1, 5)
        constructs[f"construct_{c}"] = items
    frame = pd.DataFrame(frame)
    for construct, items in constructs.items():
        frame[construct] = frame[items].mean(axis=1)
    return frame, constructs


def _timed(label: str, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    print(f"  {label:<52s} {time.perf_counter() - start:7.2f} s")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--predictors", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    drivers = _driver_data(args.rows, args.predictors, args.seed)
    predictors = [c for c in drivers.columns if c != "outcome"]
    employees, constructs = _unit_data(args.units, args.employees, args.seed)
    print(f"key drivers: {args.rows:,} rows x {args.predictors} predictors, {args.bootstrap} bootstrap draws")
    total = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        rw = _timed("relative_weights (bootstrap)", relative_weights, drivers, "outcome", predictors,
                    bootstrap=args.bootstrap, seed=1)
        lmg = _timed("shapley, exact (bootstrap)", shapley, drivers, "outcome", predictors,
                     bootstrap=args.bootstrap, seed=1)
        print(f"  R^2 {rw.r2:.4f}; top driver {rw.ranked()['predictor'][0]} (rank stability "
              f"{rw.ranked()['rank_stability'][0]:.2f}); max |RW - LMG| "
              f"{np.abs(rw.table['weight'] - lmg.table['weight']).max():.4f}")
        print(f"unit statistics: {args.employees:,} employee rows in {args.units:,} units, 5 constructs x 4 items")
        _timed("icc, one construct", icc, employees, "construct_0", "unit")
        _timed("rwg_j, one construct", rwg_j, employees, constructs["construct_0"], "unit", scale_points=5)
        _timed("ad_m, one construct", ad_m, employees, constructs["construct_0"], "unit", scale_points=5)
        table = _timed("aggregation_table, 5 constructs", aggregation_table, employees, constructs, "unit",
                       scale_points=5)
    elapsed = time.perf_counter() - total
    print(table[["construct", "icc1", "icc2", "rwg_j_mean", "verdict"]].to_string(index=False))
    print(f"total {elapsed:.2f} s; peak resident memory {_peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
