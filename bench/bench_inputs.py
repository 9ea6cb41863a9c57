"""Benchmark of hostile inputs: instrument validation, hostile workbooks, upload memory.

Measures, on files generated on the fly (``tests/hostile_inputs.py``; nothing is
committed):

* ``tandem validate`` (a subprocess, so start-up included) and the validation alone
  (``parse_instrument`` in this process) on the two hostile instruments of issue 10:
  1 MiB with 9,000 questions and 3,000 constructs naming unknown items (before the
  limits: more than 3 minutes), and 1.8 MiB with 30,000 units and no alias (before:
  refused after 28 s, as an "alias bomb"); for scale, an instrument just inside the
  limits (2,000 questions, 10,000 units);
* reading hostile .xlsx files: 6 million cells in 0.5 MB (with a true, a missing and a
  lying ``<dimension>``) and a 300 MB zip bomb, against a workbook of 100,000 cells;
* memory: the resident set size (``/proc/self/statm``) before, with two 60 MB CSV
  uploads in memory, after reading both, and after releasing them (``gc.collect``,
  then glibc's ``malloc_trim(0)``: glibc keeps freed memory in its heap unless asked
  to give it back).

Run::

    .venv/bin/python -m bench.bench_inputs [--skip-memory] [--csv-mb 60]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the hostile-file generators live with the tests

from hostile_inputs import big_xlsx, many_questions_instrument, many_units_instrument, zip_bomb_xlsx  # noqa: E402

from analysis.errors import DataError  # noqa: E402
from analysis.uploads import read_responses_bytes  # noqa: E402
from surveys.instrument import InstrumentError  # noqa: E402
from surveys.loader import parse_instrument  # noqa: E402

TANDEM = ROOT / ".venv" / "bin" / "tandem"


def rss_mb() -> float:
    """Resident set size of this process in MB, from /proc/self/statm."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def _at_the_limits() -> str:
    text = many_questions_instrument(questions=1_999, constructs=0).replace("constructs:\n", "")
    units = "\n".join(f"  - {{id: u_{i:05d}, label: {{en: Unit {i}, de: Einheit {i}}}}}" for i in range(10_000))
    return text.replace("languages: [en, de]\n", "languages: [en, de]\nunits:\n" + units + "\n")


def _first_line(error: Exception) -> str:
    text = str(error).splitlines()[0]
    return text if len(text) <= 110 else text[:107] + "..."


def bench_validate(rows: list[tuple[str, str, str]]) -> None:
    cases = [("9,000 questions + 3,000 bad constructs (1.1 MB)", many_questions_instrument()),
             ("30,000 units, no alias (1.8 MB)", many_units_instrument()),
             ("at the limits: 1,999 questions + 10,000 units (0.9 MB)", _at_the_limits())]
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in cases:
            path = Path(tmp) / "hostile.yaml"
            path.write_text(text, encoding="utf-8")
            start = time.perf_counter()
            try:
                parse_instrument(text, source=str(path))
                reason = "loads"
            except InstrumentError as exc:
                reason = _first_line(exc).split(": error ", 1)[-1]
            inside = time.perf_counter() - start
            start = time.perf_counter()
            done = subprocess.run([str(TANDEM), "validate", str(path)], capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            rows.append((f"validate: {label}", f"{inside:.2f} s / {wall:.2f} s", reason))
            if done.returncode not in (0, 1):
                print(done.stderr, file=sys.stderr)
    start = time.perf_counter()
    subprocess.run([str(TANDEM), "--help"], capture_output=True, check=False)
    rows.append(("  (tandem --help: start-up alone)", f"{time.perf_counter() - start:.2f} s", ""))


def bench_xlsx(rows: list[tuple[str, str, str]]) -> None:
    cases = [("xlsx 6M cells, true <dimension>", big_xlsx()),
             ("xlsx 6M cells, no <dimension>", big_xlsx(dimension=None)),
             ("xlsx 6M cells, <dimension> says A1", big_xlsx(dimension="A1")),
             ("xlsx zip bomb, 300 MB unpacked", zip_bomb_xlsx(300)),
             ("xlsx 100,000 cells (2,000 x 50), fine", big_xlsx(rows=2_001, columns=50))]
    for label, data in cases:
        start = time.perf_counter()
        try:
            frame = read_responses_bytes(data, "upload.xlsx")
            reason = f"read: {frame.shape[0]:,} x {frame.shape[1]}"
        except DataError as exc:
            reason = exc.what if len(exc.what) <= 100 else exc.what[:97] + "..."
        rows.append((f"{label} ({len(data) / 1e6:.2f} MB file)", f"{time.perf_counter() - start:.2f} s", reason))


def _csv_upload(megabytes: int, seed: int) -> bytes:
    header = b"response_id,unit," + b",".join(b"i%d" % j for j in range(40)) + b",comment\n"
    lines = []
    size = len(header)
    n = 0
    while size < megabytes * 1_000_000:
        line = (b"r%09d,store_%02d," % (seed * 10_000_000 + n, n % 40)
                + b",".join(b"%d" % ((n + j) % 5 + 1) for j in range(40)) + b",Gr\xc3\xbc\xc3\x9fe aus der Filiale\n")
        lines.append(line)
        size += len(line)
        n += 1
    return header + b"".join(lines)


def bench_memory(rows: list[tuple[str, str, str]], megabytes: int) -> None:
    trim = None
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except OSError:
        pass
    gc.collect()
    rows.append(("RSS before", f"{rss_mb():.0f} MB", ""))
    uploads = [_csv_upload(megabytes, seed) for seed in (1, 2)]
    rows.append((f"RSS with two {megabytes} MB CSV uploads in memory", f"{rss_mb():.0f} MB",
                 f"{sum(map(len, uploads)) / 1e6:.0f} MB of bytes"))
    start = time.perf_counter()
    frames = [read_responses_bytes(data, f"upload{k}.csv", max_bytes=200 * 1024 * 1024)
              for k, data in enumerate(uploads)]
    elapsed = time.perf_counter() - start
    rows.append(("RSS after reading both", f"{rss_mb():.0f} MB",
                 f"{sum(len(f) for f in frames):,} rows in {elapsed:.1f} s"))
    del frames, uploads
    gc.collect()
    rows.append(("RSS after releasing them (gc.collect)", f"{rss_mb():.0f} MB", ""))
    if trim is not None:
        trim(0)
        rows.append(("RSS after malloc_trim(0)", f"{rss_mb():.0f} MB", "glibc returns its freed heap"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--csv-mb", type=int, default=60)
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str]] = []
    bench_validate(rows)
    bench_xlsx(rows)
    if not args.skip_memory:
        bench_memory(rows, args.csv_mb)
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'time / RSS':>15}  result")
    print(f"{'':-<{width}}  {'':->15}  {'':-<40}")
    for label, figure, note in rows:
        print(f"{label:<{width}}  {figure:>15}  {note}")
    print("\nvalidate: in-process parse_instrument / `tandem validate` subprocess (start-up included)")


if __name__ == "__main__":
    main()
