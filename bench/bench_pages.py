"""Benchmark of the Insight pages: time to render each page on the demo data, first
visit and cached.

Each page (``views/insight_*.py``) runs under ``streamlit.testing.v1.AppTest`` in this
process, as the server runs it: the modules are imported once beforehand (a running
server has them imported), then for every page

* **first visit**: every Streamlit cache cleared (``st.cache_data`` and
  ``st.cache_resource``), so the page loads the demo data and runs its analyses;
* **cached**: the same page again (a rerun, or a second visitor), served from the
  caches keyed by the data version.

The figures are the wall time of ``AppTest.run()`` (script run, analyses, chart
building and serialisation; not the browser's drawing) and the process's CPU time over
it (all threads), which is less sensitive to other load on the machine. Targets: first
visit under 2 s, cached under 0.3 s.

With ``--campaign`` (repeat) the pages show stored campaigns (``TANDEM_DATABASE_URL``),
chosen in the session before the first run, and ``--node`` an organisation node: with a
publication of their version (``tandem analyze publish``) the first visit is rendered
from it; without one, it reads and analyses the responses (at real scale, about a
minute: ``bench.bench_scale --pages`` measures both).

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_pages [--repeat 3]
    TANDEM_DATABASE_URL=sqlite:///scale.db OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_pages \
        --campaign scale-employees --campaign scale-customers [--node district_001]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["insight_overview", "insight_instrument_health", "insight_drivers", "insight_compare", "insight_linkage",
         "insight_comments"]


def _run(page: str, campaigns: list[str] | None = None, node: str = "") -> tuple[float, float]:
    """Wall and CPU seconds of one run of a page (CPU: this process, all threads), on the
    demo or on stored campaigns chosen before the run (the kept widget values)."""
    app = AppTest.from_file(str(ROOT / "views" / f"{page}.py"), default_timeout=600)
    if campaigns:
        app.session_state["_kept:insight:source"] = "Campaigns"
        app.session_state["_kept:insight:campaigns"] = campaigns
        if node:
            app.session_state["_kept:insight:node"] = node
    start, cpu = time.perf_counter(), time.process_time()
    app.run()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if app.exception:
        raise SystemExit(f"{page} failed: {app.exception[0].value}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Cached runs per page (median reported).")
    parser.add_argument("--campaign", action="append", help="Stored campaign (repeat); default: the demo data.")
    parser.add_argument("--node", default="", help="Organisation node chosen (with --campaign).")
    parser.add_argument("--page", action="append", choices=PAGES, help="Only these pages (repeat; default: all).")
    args = parser.parse_args()
    pages = args.page or PAGES
    if not args.campaign:
        for page in pages:  # import every module a page needs, as a running server has
            _run(page)
    else:  # the same, without touching the campaigns' data
        from services import published  # noqa: F401
        from views import insight  # noqa: F401
    print(f"{'page':<28}{'first visit (s)':>16}{'cpu':>7}{'cached (s)':>12}{'cpu':>7}")
    for page in pages:
        st.cache_data.clear()
        st.cache_resource.clear()
        first, first_cpu = _run(page, args.campaign, args.node)
        runs = [_run(page, args.campaign, args.node) for _ in range(args.repeat)]
        cached, cached_cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{page:<28}{first:>16.2f}{first_cpu:>7.2f}{cached:>12.2f}{cached_cpu:>7.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    print(f"peak memory of this process (every page, caches kept): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
