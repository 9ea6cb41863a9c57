"""Recovery and coverage of the linkage chain: latent aggregation against observed unit means.

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.bench_recovery --units 40 --reps 200``
(and ``--units 200``); ``--out FILE.csv`` keeps every replication.

Each replication simulates the shipped study's chain (``SERVICE_PROFIT_CHAIN``) at item level,
cut to the 5-point scale (:func:`analysis.simulate.simulate_service_profit_chain`, 8-25
employees and 20-60 customers per unit, latent ICC(1) .20 and .10, which gives the
constructs' ICC(2) of about .6-.8), scores and aggregates it as ``tandem analyze study``
does, and fits
- the latent model (:func:`analysis.latent_aggregation.fit_latent_chain`: the between
  level's std_all with 95% Monte Carlo intervals of ``--draws`` draws), and
- the chain on unit means corrected for their sampling error
  (:func:`analysis.corrected_means.fit_corrected_chain`, ``--draws`` bootstrap draws over units), and
- the path model on observed unit means (:func:`analysis.linkage.fit_chain`, normal-theory
  intervals: its bias is the point).
It reports, per path and indirect effect, the truth, the mean estimate's bias with its
Monte-Carlo error (SD / sqrt(reps)) and the coverage of the 95% interval with its
Monte-Carlo error (sqrt(c (1 - c) / reps)). ``tests/test_linkage_recovery.py`` runs it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

STUDY = Path(__file__).resolve().parents[1] / "instruments" / "studies" / "service_profit_chain.yaml"


def replication(study, n_units: int, seed: int, *, draws: int = 500, icc_employee: float = 0.2,
                icc_customer: float = 0.1, robust: bool = False) -> pd.DataFrame:
    """One simulated study: per path (``kind`` "path") and indirect effect ("indirect") the
    truth and each model's estimate and interval, and the mean ICC(2) of each side's nodes.
    The survey chain only (``study.without_business()``): KPIs carry no sampling error."""
    study = study.without_business()
    from analysis import corrected_means as corrected
    from analysis import latent_aggregation as latent
    from analysis.linkage import (
        _paths_table,
        aggregation_verdicts,
        fit_chain,
        latent_unusable,
        score_side,
        unit_table,
    )
    from analysis.simulate import simulate_service_profit_chain

    chain = simulate_service_profit_chain(study.employee, study.customer, n_units=n_units, seed=seed,
                                          icc_employee=icc_employee, icc_customer=icc_customer, comments=False)
    scored = {"employee": score_side(chain.employees, study, "employee"),
              "customer": score_side(chain.customers, study, "customer")}
    units, dropped = unit_table(study, chain.employees, chain.customers)
    icc2 = aggregation_verdicts(study, scored, units).set_index("construct")["icc2"]
    truth_paths = chain.truth.paths.set_index(["lhs", "rhs"])["std_all"]
    truth_total = chain.truth.total_effects.set_index(["lhs", "rhs"])["effect"]
    stacked = latent.stacked_nodes(study, scored, units)
    fitted = latent.fit_latent_chain(study, stacked, draws=draws, seed=seed, robust=robust)
    corrected_table, _, _ = corrected.fit_corrected_chain(study, stacked, draws=draws, seed=seed)
    fits = {"latent": fitted.estimates[fitted.estimates["level"] != 1], "corrected": corrected_table,
            "observed": fit_chain(study, units, dropped).estimates}
    rows = []
    for kind, op in (("path", "~"), ("indirect", ":=")):
        tables = {}
        for name, estimates in fits.items():
            if estimates is None:  # the corrected covariance had a node without between-unit variance
                estimates = fits["observed"].assign(est=np.nan, ci_lower=np.nan, ci_upper=np.nan)
            tables[name] = _paths_table(estimates, op).set_index(["lhs", "rhs"] if op == "~" else ["lhs"])
        for key in tables["latent"].index:
            if op == "~":
                lhs, rhs = key
                truth = truth_paths[(lhs, rhs)]
            else:
                rhs, lhs = key.removeprefix("ind_").split("__")  # ind_<employee>__<customer>
                truth = truth_total[(lhs, rhs)]
            row = {"kind": kind, "lhs": lhs, "rhs": rhs, "truth": truth, "seed": seed, "n_units": len(units)}
            for name, table in tables.items():
                r = table.loc[key]
                row.update({f"{name}_est": r["est"], f"{name}_lo": r["ci_lower"], f"{name}_hi": r["ci_upper"]})
            rows.append(row)
    out = pd.DataFrame(rows)
    nodes = list(study.nodes)
    out["icc2_employee"] = icc2[[n for n in nodes if study.side(n) == "employee" and n in icc2]].mean()
    out["icc2_customer"] = icc2[[n for n in nodes if study.side(n) == "customer" and n in icc2]].mean()
    out["converged"] = not latent_unusable(fitted)  # the product's test (analysis.linkage.run_study)
    return out


def with_auto(draws: pd.DataFrame) -> pd.DataFrame:
    """Add the default procedure (``model: auto``) as ``auto_*``: the latent model where it is
    usable (:func:`analysis.linkage.latent_unusable`), else the corrected one (as
    :func:`analysis.linkage.run_study` falls back)."""
    out = draws.copy()
    use = out["converged"].astype(bool)
    for part in ("est", "lo", "hi"):
        out[f"auto_{part}"] = out[f"latent_{part}"].where(use, out[f"corrected_{part}"])
    return out


def summarise(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias and coverage per effect, with their Monte-Carlo errors."""
    if "corrected_est" in draws and "auto_est" not in draws:
        draws = with_auto(draws)
    rows = []
    for (kind, lhs, rhs), part in draws.groupby(["kind", "lhs", "rhs"], sort=False):
        reps = len(part)
        row = {"kind": kind, "effect": f"{lhs} <- {rhs}", "truth": part["truth"].iloc[0], "reps": reps}
        for name in ("auto", "latent", "corrected", "observed"):
            if f"{name}_est" not in part:
                continue
            err = part[f"{name}_est"] - part["truth"]
            covered = ((part[f"{name}_lo"] <= part["truth"]) & (part["truth"] <= part[f"{name}_hi"])).mean()
            row.update({f"{name}_bias": err.mean(), f"{name}_bias_mc": err.std(ddof=1) / np.sqrt(reps),
                        f"{name}_coverage": covered, f"{name}_coverage_mc": np.sqrt(covered * (1 - covered) / reps)})
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--robust", action="store_true",
                        help="draw the latent model's intervals with the cluster-robust (MLR) covariance, not ML's")
    args = parser.parse_args(argv)
    from analysis.study import load_study

    study = load_study(STUDY)
    t0 = time.perf_counter()
    parts = []
    for r in range(args.reps):
        parts.append(replication(study, args.units, args.seed + r, draws=args.draws, robust=args.robust))
        if args.out is not None and (r + 1) % 10 == 0:
            pd.concat(parts, ignore_index=True).to_csv(args.out, index=False)
    draws = pd.concat(parts, ignore_index=True)
    if args.out is not None:
        draws.to_csv(args.out, index=False)
    table = summarise(draws)
    print(f"{args.reps} replications at {args.units} units, {time.perf_counter() - t0:.0f} s; mean ICC(2): employee "
          f"{draws['icc2_employee'].mean():.2f}, customer {draws['icc2_customer'].mean():.2f}; latent model usable "
          f"in {draws.groupby('seed')['converged'].first().mean():.0%}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
