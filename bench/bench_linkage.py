"""Benchmark of the linkage study at scale.

100,000 employee and 1,000,000 customer responses over 2,000 units: score, aggregate,
ICC(1)/ICC(2) and r_wg(J) for every construct, the chain (by default the latent model: a
two-level SEM of the 1.1 million stacked respondents with 1,000 Monte Carlo draws;
``--model observed`` for the path model on unit means with a 1,000-draw bootstrap over
units) and unit-level drivers with 1,000 bootstrap draws
(:func:`analysis.linkage.run_study`). Target: under 60 s and 4 GB peak on 2 cores. The
demo's size: ``--units 40 --employees 660 --customers 1600``.

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_linkage [--units 2000]
        [--employees 100000] [--customers 1000000] [--bootstrap 1000] [--tracemalloc]

The responses are simulated (:func:`analysis.simulate.simulate_service_profit_chain`)
and analysed **from the frames**; simulation time is reported but not counted. The
store is not in the timed path because the shipped instruments list 40 units (answers
for other units are refused on import). ``--store-sample N`` measures the loading rate
instead: it imports ``N`` customer responses over the 40 listed units into a temporary
SQLite store, times :func:`surveys.responses.responses_frame` and extrapolates to the
benchmark's 1.1 million responses (about 20-32 s at 35,000-60,000 responses/s).

Peak memory is the process's maximum resident set size (``resource.getrusage``), which
includes the simulated frames; ``--tracemalloc`` adds the traced peak of the analysis
alone (slower).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from analysis.linkage import run_study
from analysis.simulate import simulate_service_profit_chain
from analysis.study import load_study

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"


def _peak_rss_gb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024**3 if sys.platform == "darwin" else 1024**2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--model", default=None, help="latent, corrected, observed or auto (the study's: auto)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true", help="also report the traced peak (slower)")
    parser.add_argument("--store-sample", type=int, default=0,
                        help="also time loading N stored customer responses (SQLite) and extrapolate")
    args = parser.parse_args(argv)

    study = load_study(STUDY)
    per_employee = args.employees // args.units
    per_customer = args.customers // args.units
    start = time.perf_counter()
    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=args.units,
                                          employees_per_unit=per_employee, customers_per_unit=per_customer,
                                          seed=args.seed, comments=False)
    simulated = time.perf_counter() - start
    print(f"simulated {len(chain.employees):,} employee and {len(chain.customers):,} customer responses "
          f"over {args.units:,} units in {simulated:.1f} s (not counted; data analysed from the frames)")

    if args.tracemalloc:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    result = run_study(study, chain.employees, chain.customers, bootstrap=args.bootstrap, seed=args.seed,
                       model=args.model)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    load = os.getloadavg()[0]
    traced = tracemalloc.get_traced_memory()[1] / 1024**3 if args.tracemalloc else float("nan")
    print(f"run_study: {result.n_units:,} units, {len(result.paths)} paths, {len(result.indirect)} indirect effects, "
          f"{result.drivers['outcome'].nunique()} driver analyses, bootstrap {args.bootstrap}; "
          f"chain model: {result.model} ({result.model_reason})")
    print(f"time {elapsed:.1f} s wall, {cpu:.1f} s CPU (target < 60 s; load average {load:.1f} on "
          f"{os.cpu_count()} cores); peak RSS {_peak_rss_gb():.2f} GB (target < 4 GB)"
          + (f"; traced peak of the analysis {traced:.2f} GB" if args.tracemalloc else ""))


    if args.store_sample:
        _store_rate(study, args.store_sample, args.employees + args.customers, args.seed)


def _store_rate(study, sample: int, total: int, seed: int) -> None:
    """Import ``sample`` customer responses into a temporary SQLite store and time loading them."""
    import tempfile

    from surveys import campaigns, responses, store

    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=40, employees_per_unit=1,
                                          customers_per_unit=max(sample // 40, 1), seed=seed, comments=False)
    with tempfile.TemporaryDirectory() as folder:
        db = store.open_store(f"sqlite:///{folder}/bench.db")
        try:
            campaigns.create_campaign(db, study.customer, campaign_id="bench-customers", mode="open")
            start = time.perf_counter()
            n = responses.import_frame(db, "bench-customers", chain.customers)
            imported = time.perf_counter() - start
            start = time.perf_counter()
            frame = responses.responses_frame(db, "bench-customers")
            loaded = time.perf_counter() - start
        finally:
            db.dispose()
    print(f"store (SQLite): import {n:,} responses {imported:.1f} s, load {len(frame):,} {loaded:.1f} s "
          f"({len(frame) / loaded:,.0f} responses/s; {total:,} responses would take "
          f"~{total * loaded / len(frame):.0f} s)")


if __name__ == "__main__":
    main()
