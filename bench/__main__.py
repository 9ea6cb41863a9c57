"""Run every benchmark whose figures the docs quote: ``.venv/bin/python -m bench`` (``make bench``).

Each benchmark also runs on its own, with its options: ``.venv/bin/python -m bench.bench_NAME --help``.
``python -m bench NAME ...`` runs only the named ones. The figures depend on the machine and
its load; every benchmark prints what it measured, so compare within one run.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

#: The benchmarks in the order the docs present them.
BENCHMARKS = ("store", "sem", "health", "drivers", "linkage", "pages", "inputs", "polychoric", "wlsmv", "power",
              "import")


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        importlib.import_module(f"bench.bench_{name}")  # fail fast on an import error
        print(f"\n=== bench.bench_{name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.bench_{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
