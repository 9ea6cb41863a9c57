"""Benchmark at real scale, through the real commands: organisation, KPIs, responses, study.

An organisation of ``--units`` stores in three levels under the company (about one region
per 100 stores and one district per 20), ``--employees`` employee and ``--customers``
customer responses of the shipped instruments (their unit question taking the stores from
the organisation, as the demo's do) from the simulated service-profit chain with its
business KPIs (:func:`analysis.simulate.simulate_service_profit_chain`,
:data:`analysis.simulate.BUSINESS_CHAIN`), and quarterly KPI values (the shipped
declarations; the linked ones in the quarter after the employee wave). Everything is
generated in chunks of ``--chunk-units`` stores, so the generator's memory stays bounded.

Then every step runs as its own ``tandem`` process on a fresh database (a new SQLite file,
or with ``--postgres`` a new database on the test PostgreSQL server, dropped afterwards)::

    tandem org import org.csv --as-of 2025-07-01
    tandem kpi declare
    tandem kpi import kpis.csv
    tandem campaign create scale-employees -i employee.yaml --opens 2026-01-05T00:00:00Z --open
    tandem campaign create scale-customers -i customer.yaml --mode open --opens ... --open
    tandem import employees.csv --campaign scale-employees
    tandem import customers.csv --campaign scale-customers
    tandem analyze study instruments/studies/service_profit_chain_kpis.yaml \\
        --campaign-employee scale-employees --campaign-customer scale-customers --bootstrap 1000

With ``--pages`` (or ``--pages-only`` on a kept SQLite database), the Insight pages'
results are then published (``tandem analyze publish --campaign scale-employees --campaign
scale-customers``: the whole data, the company, every region and district; then the stores of
one district with ``--level store --under district_0001``) and every page's first visit is
timed from the publication, for the whole data, that district and one of its stores
(:mod:`bench.bench_pages`).

Each step's wall time and peak resident set size (``ru_maxrss`` of that process, from
``os.wait4``) are printed with the load average (1 min) when it finished. The study step
is the goal's "full study from the store": loading the 1.1 million responses,
aggregation, the chain with the business KPIs, drivers and intervals. Goal: 60 s or less
and 4 GB or less on 2 cores.

Run::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_scale [--units 2000]
        [--employees 100000] [--customers 1000000] [--bootstrap 1000] [--postgres] [--workdir DIR]
        [--pages | --pages-only]

``--workdir`` keeps the generated files (and the SQLite database) there; they are reused
when present with the same sizes and seed (``--regenerate`` forces new ones).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = ROOT / "instruments"
STUDY = INSTRUMENTS / "studies" / "service_profit_chain_kpis.yaml"
TANDEM = Path(sys.executable).with_name("tandem")
EMPLOYEE_CAMPAIGN = "scale-employees"
CUSTOMER_CAMPAIGN = "scale-customers"
#: The organisation's first day in force, the waves' opening and the KPI quarters written
#: (the last one is the quarter after the wave, the one the study links).
AS_OF = "2025-07-01"
OPENS = "2026-01-05T00:00:00Z"
QUARTERS = ("2025Q3", "2025Q4", "2026Q1", "2026Q2")
#: Invitations per answered employee (headcount) and customer contacts per customer response.
RESPONSE_RATE = 0.72
CONTACTS_PER_CUSTOMER = 25


#: The launcher of each measured command (``python -S -c _MEASURE FIGURES ARGV...``): a small
#: process, since Linux counts the memory of the process a command is started from in the
#: command's ``ru_maxrss`` (the bench itself holds the generated frames' memory); it writes
#: the command's wall seconds and ``ru_maxrss`` (``os.wait4``) to FIGURES as JSON.
_MEASURE = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": time.perf_counter() - start, "maxrss": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Step:
    """One measured command: its name, wall seconds, peak RSS (MB) and the load average after it."""

    name: str
    seconds: float
    peak_mb: float
    load: float


def organisation_rows(units: int) -> list[list[str]]:
    """The organisation file's rows (``unit_id, name, parent_id, level``): a company, about
    one region per 100 stores, one district per 20 stores and ``units`` stores, spread evenly."""
    n_regions = max(1, round(units / 100))
    n_districts = max(n_regions, round(units / 20))
    rows = [["unit_id", "name", "parent_id", "level"], ["scale_co", "Scale Retail", "", "company"]]
    rows += [[f"region_{r + 1:03d}", f"Region {r + 1}", "scale_co", "region"] for r in range(n_regions)]
    rows += [[f"district_{d + 1:04d}", f"District {d + 1}", f"region_{d * n_regions // n_districts + 1:03d}",
              "district"] for d in range(n_districts)]
    rows += [[store_id(s), f"Store {s + 1}", f"district_{s * n_districts // units + 1:04d}", "store"]
             for s in range(units)]
    return rows


def store_id(index: int) -> str:
    """The id of store ``index`` (from 0)."""
    return f"store_{index + 1:05d}"


def organisation_instrument(path: Path) -> str:
    """A shipped instrument's text with its unit question taking the organisation's units
    (``source: organisation``) instead of its closing ``units:`` list (as the demo pins them)."""
    head, _, _ = path.read_text(encoding="utf-8").partition("\nunits:\n")
    return head.replace("source: list", "source: organisation") + "\n"


def generate(folder: Path, *, units: int, employees: int, customers: int, seed: int,
             chunk_units: int = 100) -> dict[str, int]:
    """Write ``org.csv``, ``employee.yaml``, ``customer.yaml``, ``employees.csv``,
    ``customers.csv`` and ``kpis.csv`` into ``folder``, ``chunk_units`` stores at a time.

    Parameters
    ----------
    units, employees, customers
        Stores and responses in all (responses spread evenly over the stores).
    seed
        Seed; chunk ``i`` simulates with ``seed * 100_003 + i`` (stores are independent
        draws of the same unit-level model, so chunks are one sample of it).

    Returns
    -------
    dict
        Rows written per file (``employees``, ``customers``, ``kpis``, ``units``).
    """
    from analysis.simulate import BUSINESS_CHAIN, SERVICE_PROFIT_CHAIN, simulate_service_profit_chain
    from surveys.loader import parse_instrument

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "org.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(organisation_rows(units))
    instruments = {}
    for side, name in (("employee", "employee_experience"), ("customer", "customer_experience")):
        text = organisation_instrument(INSTRUMENTS / f"{name}.yaml")
        (folder / f"{side}.yaml").write_text(text, encoding="utf-8")
        instruments[side] = parse_instrument(text, source=f"{name} (units from the organisation)")
    per_employee, per_customer = max(1, employees // units), max(1, customers // units)
    rng = np.random.default_rng([seed, 1])
    written = {"employees": 0, "customers": 0, "kpis": 0, "units": units}
    paths = {"employees": folder / "employees.csv", "customers": folder / "customers.csv",
             "kpis": folder / "kpis.csv"}
    for path in paths.values():
        path.unlink(missing_ok=True)
    for i, start in enumerate(range(0, units, chunk_units)):
        n = min(chunk_units, units - start)
        chain = simulate_service_profit_chain(
            instruments["employee"], instruments["customer"], n_units=max(n, 2), employees_per_unit=per_employee,
            customers_per_unit=per_customer, seed=seed * 100_003 + i, comments=False, wave="2026-1",
            paths={**SERVICE_PROFIT_CHAIN, **BUSINESS_CHAIN}, business=tuple(BUSINESS_CHAIN))
        names = {f"unit_{j + 1:04d}": store_id(start + j) for j in range(n)}
        for key, frame in (("employees", chain.employees), ("customers", chain.customers)):
            frame = frame[frame["unit"].isin(names)].drop(columns=["response_id", "campaign"])
            frame = frame.assign(unit=frame["unit"].map(names))
            frame.to_csv(paths[key], mode="a", header=written[key] == 0, index=False)
            written[key] += len(frame)
        kpi_rows = _kpi_rows(chain, names, rng)
        kpi_rows.to_csv(paths["kpis"], mode="a", header=written["kpis"] == 0, index=False)
        written["kpis"] += len(kpi_rows)
    return written


def _kpi_rows(chain, names: dict[str, str], rng: np.random.Generator) -> pd.DataFrame:
    """KPI values (``unit, period, kpi, value``) of one chunk's stores for every quarter of
    :data:`QUARTERS`: the simulated chain's in the last (the quarter after the wave), the
    earlier quarters those plus noise (half a standard deviation); headcount and contacts
    from the respondents (``answered / RESPONSE_RATE``, ``CONTACTS_PER_CUSTOMER`` a customer)."""
    units = chain.units.set_index("unit").loc[list(names)]
    linked = chain.kpis.set_index("unit").loc[list(names)]
    linked = linked.assign(
        headcount=[max(int(a), math.ceil(a / RESPONSE_RATE)) for a in units["n_employees"]],
        contacts=units["n_customers"].to_numpy() * CONTACTS_PER_CUSTOMER)
    frames = []
    for q, period in enumerate(QUARTERS):
        values = linked.copy()
        if q < len(QUARTERS) - 1:
            for column in ("retention", "sales_growth", "first_contact_resolution"):
                values[column] = values[column] + 0.5 * values[column].std(ddof=0) * rng.standard_normal(len(values))
            values["retention"] = values["retention"].clip(0, 100)
            values["first_contact_resolution"] = values["first_contact_resolution"].clip(0, 100)
        long = values.rename(index=names).rename_axis("unit").reset_index().melt(
            id_vars="unit", var_name="kpi", value_name="value")
        frames.append(long.assign(period=period)[["unit", "period", "kpi", "value"]])
    out = pd.concat(frames, ignore_index=True)
    return out.assign(value=out["value"].round(4))


def run_step(name: str, argv: Sequence[str], env: dict[str, str], log: Path, *, in_process: bool = False) -> Step:
    """Run one command, its output appended to ``log``; its wall time and peak RSS.

    Parameters
    ----------
    in_process
        Run the command's Typer app in this process (no start-up cost; the peak RSS is then
        this process's): for the quick test, not for the figures.

    Raises
    ------
    SystemExit
        The command failed (its output is printed).
    """
    if in_process:
        return _run_in_process(name, argv, env, log)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        with tempfile.NamedTemporaryFile("r", suffix=".json") as figures:
            process = subprocess.run([sys.executable, "-S", "-c", _MEASURE, figures.name, *argv], env=env,
                                     stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=False)
            measured = json.loads(figures.read() or '{"seconds": 0, "maxrss": 0}')
    seconds = measured["seconds"]
    peak = measured["maxrss"] / (1024 * 1024 if sys.platform == "darwin" else 1024)
    if process.returncode != 0:
        tail = log.read_text(encoding="utf-8").splitlines()[-8:]
        raise SystemExit(f"{name} failed ({process.returncode}):\n" + "\n".join(tail))
    return Step(name, seconds, peak, os.getloadavg()[0])


def _run_in_process(name: str, argv: Sequence[str], env: dict[str, str], log: Path) -> Step:
    """:func:`run_step` through ``typer.testing.CliRunner`` in this process."""
    import resource

    from typer.testing import CliRunner

    from tandem_cli.main import app

    start = time.perf_counter()
    result = CliRunner().invoke(app, list(argv[1:]), env={"TANDEM_DATABASE_URL": env["TANDEM_DATABASE_URL"]})
    seconds = time.perf_counter() - start
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(argv)}\n{result.output}")
    if result.exit_code != 0:
        raise SystemExit(f"{name} failed ({result.exit_code}):\n{result.output[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Step(name, seconds, peak, os.getloadavg()[0])


def import_and_study(folder: Path, url: str, *, bootstrap: int, seed: int, log: Path,
                     study: bool = True, in_process: bool = False) -> list[Step]:
    """Every import command, then the study, as ``tandem`` processes on the database ``url``
    (``in_process``: see :func:`run_step`)."""
    env = {**os.environ, "TANDEM_DATABASE_URL": url, "OPENBLAS_NUM_THREADS": os.environ.get(
        "OPENBLAS_NUM_THREADS", "1")}
    tandem = str(TANDEM)
    commands = [
        ("org import", [tandem, "org", "import", str(folder / "org.csv"), "--as-of", AS_OF]),
        ("kpi declare", [tandem, "kpi", "declare"]),
        ("kpi import", [tandem, "kpi", "import", str(folder / "kpis.csv")]),
        ("campaign create (employees)", [tandem, "campaign", "create", EMPLOYEE_CAMPAIGN, "-i",
                                         str(folder / "employee.yaml"), "--wave", "2026-1", "--opens", OPENS,
                                         "--open"]),
        ("campaign create (customers)", [tandem, "campaign", "create", CUSTOMER_CAMPAIGN, "-i",
                                         str(folder / "customer.yaml"), "--wave", "2026-1", "--mode", "open",
                                         "--opens", OPENS, "--open"]),
        ("import employees", [tandem, "import", str(folder / "employees.csv"), "--campaign", EMPLOYEE_CAMPAIGN]),
        ("import customers", [tandem, "import", str(folder / "customers.csv"), "--campaign", CUSTOMER_CAMPAIGN]),
    ]
    if study:
        commands.append(("analyze study", _study_argv(bootstrap, seed)))
    steps = []
    for name, argv in commands:
        steps.append(run_step(name, argv, env, log, in_process=in_process))
        print(f"  {name:<30}{steps[-1].seconds:>8.1f} s{steps[-1].peak_mb:>8.0f} MB   load {steps[-1].load:.1f}",
              flush=True)
    return steps


#: The node whose pages are timed besides the whole data (a district of the generated organisation).
PAGES_NODE = "district_0001"
#: A store of :data:`PAGES_NODE`, whose pages are timed after its district's stores are published.
PAGES_STORE = "store_00001"


def publish_and_pages(url: str, log: Path) -> list[Step]:
    """``tandem analyze publish`` of the two campaigns (every level above the stores), then
    the stores of :data:`PAGES_NODE` added (``--level store --under``), then each Insight
    page's first visit and a cached visit from the publication (:mod:`bench.bench_pages`, a
    process of its own with the modules imported first), for the whole data, for
    :data:`PAGES_NODE` and for :data:`PAGES_STORE`; the page tables are printed as they come."""
    env = {**os.environ, "TANDEM_DATABASE_URL": url, "OPENBLAS_NUM_THREADS": os.environ.get(
        "OPENBLAS_NUM_THREADS", "1")}
    publish = [str(TANDEM), "analyze", "publish", "--campaign", EMPLOYEE_CAMPAIGN, "--campaign", CUSTOMER_CAMPAIGN]
    steps = [run_step("analyze publish", publish, env, log),
             run_step(f"publish stores of {PAGES_NODE}", [*publish, "--level", "store", "--under", PAGES_NODE],
                      env, log)]
    for step in steps:
        print(f"  {step.name:<30}{step.seconds:>8.1f} s{step.peak_mb:>8.0f} MB   load {step.load:.1f}", flush=True)
    for node in ("", PAGES_NODE, PAGES_STORE):
        print(f"  Insight pages from the publication, {node or 'the whole data'} (bench.bench_pages):", flush=True)
        argv = [sys.executable, "-m", "bench.bench_pages", "--repeat", "1", "--campaign", EMPLOYEE_CAMPAIGN,
                "--campaign", CUSTOMER_CAMPAIGN, *(["--node", node] if node else [])]
        shown = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if shown.returncode != 0:
            raise SystemExit(f"bench_pages failed:\n{shown.stdout[-2000:]}{shown.stderr[-2000:]}")
        print("\n".join(f"    {line}" for line in shown.stdout.splitlines()), flush=True)
    return steps


def _study_argv(bootstrap: int, seed: int) -> list[str]:
    """The study command over the two campaigns."""
    return [str(TANDEM), "analyze", "study", str(STUDY), "--campaign-employee", EMPLOYEE_CAMPAIGN,
            "--campaign-customer", CUSTOMER_CAMPAIGN, "--bootstrap", str(bootstrap), "--seed", str(seed)]


def _postgres_database(base_url: str) -> tuple[str, object]:
    """A fresh database on the server of ``base_url`` (``bench_scale_<time>``): its URL and a
    function that drops it."""
    import sqlalchemy as sa

    name = f"bench_scale_{int(time.time())}_{os.getpid()}"
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url, drop


def _generated(folder: Path, key: dict) -> bool:
    """Whether ``folder`` holds the files of generation ``key`` already."""
    marker = folder / "generated.json"
    return marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == key


def main(argv: list[str] | None = None) -> list[Step]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-units", type=int, default=100, help="Stores simulated at a time.")
    parser.add_argument("--postgres", action="store_true",
                        help="a fresh database on TANDEM_TEST_DATABASE_URL's server (dropped afterwards)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated files here")
    parser.add_argument("--regenerate", action="store_true", help="generate even when --workdir has the files")
    parser.add_argument("--no-study", action="store_true", help="imports only")
    parser.add_argument("--study-only", action="store_true",
                        help="only the study, on the SQLite database a previous run left in --workdir")
    parser.add_argument("--pages", action="store_true",
                        help="then publish the Insight pages' results and time each page's first visit from them")
    parser.add_argument("--pages-only", action="store_true",
                        help="only --pages, on the SQLite database a previous run left in --workdir")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        folder = args.workdir or Path(scratch)
        key = {"units": args.units, "employees": args.employees, "customers": args.customers, "seed": args.seed}
        start = time.perf_counter()
        if args.regenerate or not _generated(folder, key):
            written = generate(folder, units=args.units, employees=args.employees, customers=args.customers,
                               seed=args.seed, chunk_units=args.chunk_units)
            (folder / "generated.json").write_text(json.dumps(key), encoding="utf-8")
            print(f"generated {written['units']:,} stores, {written['employees']:,} employee and "
                  f"{written['customers']:,} customer responses, {written['kpis']:,} KPI values in "
                  f"{time.perf_counter() - start:.1f} s (not counted; load {os.getloadavg()[0]:.1f})", flush=True)
        log = folder / "bench_scale.log"
        log.unlink(missing_ok=True)
        if args.pages_only:
            if args.workdir is None or args.postgres or not (folder / "scale.db").exists():
                parser.error("--pages-only needs a --workdir where a SQLite run left scale.db")
            return publish_and_pages(f"sqlite:///{folder / 'scale.db'}", log)
        if args.study_only:
            if args.workdir is None or args.postgres or not (folder / "scale.db").exists():
                parser.error("--study-only needs a --workdir where a SQLite run left scale.db")
            env = {**os.environ, "TANDEM_DATABASE_URL": f"sqlite:///{folder / 'scale.db'}"}
            step = run_step("analyze study", _study_argv(args.bootstrap, args.seed), env, log)
            print(f"  {step.name:<30}{step.seconds:>8.1f} s{step.peak_mb:>8.0f} MB   load {step.load:.1f}")
            return [step]
        drop = None
        if args.postgres:
            base = os.environ.get("TANDEM_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
            url, drop = _postgres_database(base)
            where = "PostgreSQL (a fresh database)"
        else:
            database = folder / "scale.db"
            database.unlink(missing_ok=True)
            url, where = f"sqlite:///{database}", "SQLite (a fresh file)"
        print(f"{where}, {os.cpu_count()} cores; step, wall time, peak RSS of its process, load average (1 min):")
        try:
            steps = import_and_study(folder, url, bootstrap=args.bootstrap, seed=args.seed, log=log,
                                     study=not args.no_study)
            if args.pages:
                steps += publish_and_pages(url, log)
        finally:
            if drop is not None:
                drop()
        imports = sum(s.seconds for s in steps[:7])
        print(f"  {'all imports':<30}{imports:>8.1f} s{max(s.peak_mb for s in steps[:7]):>8.0f} MB")
        if args.workdir is not None:
            print(f"output of the commands: {log}")
    return steps


if __name__ == "__main__":
    main()
