"""Benchmark of :func:`analysis.measurement.instrument_health`.

The shipped employee instrument (``instruments/employee_experience.yaml``) with
10,000 simulated responses (:func:`analysis.simulate.simulate_responses`, seeded):
scoring, alpha and item analysis per construct, the CFA of all constructs, CR/AVE,
HTMT and the cross-loading EFA. Simulation time is reported but not counted; the
figure is the median of ``--repeat`` runs.

Run::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python -m bench.bench_health [--responses 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from analysis.measurement import instrument_health
from analysis.simulate import simulate_responses
from surveys.loader import load_instrument

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = ROOT / "instruments" / "employee_experience.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    instrument = load_instrument(INSTRUMENT)
    start = time.perf_counter()
    frame = simulate_responses(instrument, n_units=args.units,
                               respondents_per_unit=max(1, args.responses // args.units), seed=args.seed)
    print(f"simulated {len(frame):,} responses to {instrument.id!r} "
          f"({len(instrument.constructs)} constructs, "
          f"{sum(len(c.items) for c in instrument.constructs)} construct items) "
          f"in {time.perf_counter() - start:.2f} s")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = instrument_health(frame, instrument)
        times.append(time.perf_counter() - start)
    print(f"instrument_health: median {statistics.median(times):.2f} s over {args.repeat} run(s) "
          f"(min {min(times):.2f} s, max {max(times):.2f} s)")
    for row in report.fit.itertuples():  # the primary CFA first (WLSMV for ordinal items: robust indices)
        print(f"CFA ({row.method}): " + ", ".join(f"{k} {getattr(row, k):.3f}" for k in ("cfi", "rmsea", "srmr")
                                                  if k in report.fit.columns))
    print(f"{len(report.flags)} flag(s)")


if __name__ == "__main__":
    main()
