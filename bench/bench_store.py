"""Benchmark of response storage: submissions per second and submit latency.

For each backend (SQLite file in WAL mode, PostgreSQL) and each number of concurrent
writers (1, 8, 64 threads), a fresh database gets an open invited campaign of the
shipped employee survey and ``--submissions`` invitations spread over 40 units (each
submit rewrites its unit's invitation rows, see ``surveys.campaigns._use_invitation``),
submitted in random order; the writers then submit
complete, valid responses as fast as they can through :func:`surveys.campaigns.submit`
(link check, server-side validation, then one transaction: invitation used, response
inserted, partial deleted). Latency is per ``submit`` call, wall clock.

``--load N`` measures reading instead: ``N`` complete employee responses (over the 40
units, 500 submit hours) are inserted in one transaction, then
:func:`surveys.responses.responses_frame` builds their wide frame; reported as
responses per second of wall clock and of process CPU time (best of ``--repeat`` runs).

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_store [--submissions 600]
        [--writers 1,8,64] [--backends sqlite,postgres]
    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_store --load 50000 [--repeat 3]

PostgreSQL: ``TANDEM_TEST_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each run uses its own schema,
dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import queue
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from surveys import campaigns as cp
from surveys import responses
from surveys import store as db
from surveys.loader import load_instrument

INSTRUMENT = Path(__file__).resolve().parents[1] / "instruments" / "employee_experience.yaml"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Units the invitations are spread over (like the demo's 40 stores).
UNITS = 40


def _answers(instrument, rng: np.random.Generator) -> dict:
    """A complete valid response: every scale item and rating answered, choices picked."""
    answers: dict = {}
    for q in instrument.questions:
        if q.type in ("likert",):
            answers[q.id] = int(rng.choice(instrument.scales[q.scale].values))
        elif q.type == "matrix":
            for row in q.rows:
                answers[row.id] = int(rng.choice(instrument.scales[q.scale].values))
        elif q.type == "rating":
            answers[q.id] = int(rng.integers(q.min, q.max + 1))
        elif q.type in ("single_choice", "dropdown"):
            answers[q.id] = q.options[0].value
    return answers


def _postgres_url() -> tuple[str, str, sa.Engine]:
    base = sa.engine.make_url(os.environ.get("TANDEM_TEST_DATABASE_URL") or PG_URL).set(drivername="postgresql+psycopg")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    return url, schema, engine


def run(url: str, writers: int, submissions: int) -> dict:
    """One measurement: ``submissions`` submits by ``writers`` threads into a fresh campaign."""
    store = db.open_store(url)
    instrument = load_instrument(INSTRUMENT)
    cp.create_campaign(store, instrument, campaign_id="bench")
    cp.open_campaign(store, "bench")
    units = [u.id for u in instrument.units][:UNITS]
    issued = [t for k, unit in enumerate(units)
              for t in cp.invite(store, "bench", unit=unit, count=len(range(k, submissions, len(units))))]
    np.random.default_rng(2).shuffle(issued)
    tokens: queue.Queue[str] = queue.Queue()
    for token in issued:
        tokens.put(token)
    rng = np.random.default_rng(1)
    payloads = [_answers(instrument, rng) for _ in range(submissions)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers + 1)

    def writer() -> None:
        barrier.wait()
        mine = []
        while True:
            try:
                token = tokens.get_nowait()
            except queue.Empty:
                break
            start = time.perf_counter()
            try:
                cp.submit(store, "bench", payloads[len(mine) % submissions], token=token, language="en")
            except Exception as exc:
                with lock:
                    errors.append(repr(exc)[:200])
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    stored = responses.response_count(store, "bench")
    store.dispose()
    lat = np.asarray(latencies) * 1000
    return {"writers": writers, "submissions": submissions, "stored": stored, "errors": len(errors),
            "per_s": submissions / wall, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "first_error": errors[0] if errors else ""}


def load(url: str, count: int, repeat: int) -> dict:
    """Insert ``count`` complete responses into a fresh campaign; time ``responses_frame``."""
    store = db.open_store(url)
    instrument = load_instrument(INSTRUMENT)
    cp.create_campaign(store, instrument, campaign_id="bench")
    units = [u.id for u in instrument.units][:UNITS]
    rng = np.random.default_rng(1)
    payloads = [_answers(instrument, rng) for _ in range(500)]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    records = [{"id": str(uuid.uuid4()), "campaign_id": "bench", "unit": units[k % UNITS], "language": "en",
                "started_at": None, "submitted_at": start + dt.timedelta(hours=k % 500),
                "answers": payloads[k % 500] | {instrument.unit_question: units[k % UNITS]}}
               for k in range(count)]
    store.run(lambda conn, rows=records: conn.execute(db.responses.insert(), rows))
    del records
    wall, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        frame = responses.responses_frame(store, "bench")
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    store.dispose()
    return {"rows": len(frame), "columns": frame.shape[1], "wall_s": min(wall), "cpu_s": min(cpu)}


def _on_backend(backend: str, measure) -> dict:
    """``measure(url)`` on a fresh SQLite file or a fresh PostgreSQL schema (dropped afterwards)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tandem-bench-") as folder:
            return measure(f"sqlite:///{folder}/bench.db")
    url, schema, engine = _postgres_url()
    try:
        return measure(url)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=600)
    parser.add_argument("--writers", default="1,8,64")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="time responses_frame on N stored responses instead of submitting")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.load:
        print(f"{'backend':<10} {'responses':>9} {'columns':>7} {'wall s':>7} {'per s (wall)':>12} {'per s (CPU)':>11}")
        for backend in args.backends.split(","):
            r = _on_backend(backend, lambda url: load(url, args.load, args.repeat))
            print(f"{backend:<10} {r['rows']:>9} {r['columns']:>7} {r['wall_s']:>7.2f} "
                  f"{r['rows'] / r['wall_s']:>12,.0f} {r['rows'] / r['cpu_s']:>11,.0f}", flush=True)
        return 0
    writers = [int(w) for w in args.writers.split(",")]
    print(f"{'backend':<10} {'writers':>7} {'stored':>7} {'errors':>6} {'submits/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    failed = False
    for backend in args.backends.split(","):
        for n in writers:
            result = _on_backend(backend, lambda url, n=n: run(url, n, args.submissions))
            failed = failed or result["errors"] > 0 or result["stored"] != args.submissions
            print(f"{backend:<10} {n:>7} {result['stored']:>7} {result['errors']:>6} {result['per_s']:>10.1f} "
                  f"{result['p50_ms']:>8.1f} {result['p99_ms']:>8.1f}", flush=True)
            if result["first_error"]:
                print(f"  first error: {result['first_error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
