"""Benchmark of ``tandem import``: rows per second and peak memory of a large bulk import.

A CSV of simulated employee responses (the shipped employee instrument, 40 units) is
written once, then :func:`services.imports.import_responses` checks every row and stores
all of them into a fresh SQLite database (``--postgres``: the test PostgreSQL server).
Reports the two passes' time, rows per second, and the process's peak resident set size
(``ru_maxrss``), which stays bounded by the chunk size, not the file.

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_import [--rows 200000] [--chunk 50000]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--postgres", action="store_true", help="import into TANDEM_TEST_DATABASE_URL")
    args = parser.parse_args(argv)

    from analysis.simulate import simulate_responses
    from services.imports import import_responses
    from surveys import campaigns
    from surveys.loader import load_instrument
    from surveys.store import open_store

    instrument = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        written = 0
        seed = 0
        while written < args.rows:
            n = min(50_000, args.rows - written)
            frame = simulate_responses(instrument, n_units=40, respondents_per_unit=max(1, n // 40), seed=seed)
            frame = frame.drop(columns=["response_id"]).head(n)
            frame.to_csv(path, mode="a", header=written == 0, index=False)
            written += len(frame)
            seed += 1
        size = path.stat().st_size / 1e6
        if args.postgres:
            url = os.environ.get("TANDEM_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
            store = open_store(url)
            campaign_id = f"bench-import-{int(time.time())}"
        else:
            store = open_store(f"sqlite:///{folder}/import.db")
            campaign_id = "bench-import"
        campaigns.create_campaign(store, instrument, campaign_id=campaign_id)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start, cpu = time.perf_counter(), time.process_time()
        report = import_responses(store, campaign_id, path, chunk_rows=args.chunk)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.dispose()
    load = os.getloadavg()[0]
    print(f"tandem import: {written:,} rows ({size:.0f} MB CSV), chunks of {args.chunk:,}, "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}, load average {load:.1f}")
    print(f"  imported {report.imported:,} rows in {wall:.1f} s wall ({cpu:.1f} s CPU): "
          f"{report.imported / wall:,.0f} rows/s (checking and storing: two passes)")
    print(f"  peak RSS {peak:.0f} MB (before the import {before:.0f} MB)")


if __name__ == "__main__":
    main()
