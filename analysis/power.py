"""Power of a linkage study by simulation: how many units does a company need?

For each number of units, :func:`power` simulates the study many times from its
hypothesised paths with chosen true standardized effects
(:func:`analysis.simulate.simulate_service_profit_chain`), aggregates to units and
fits the unit-level path model exactly as :func:`analysis.linkage.run_study` does, and
counts how often each path is significant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.linkage import LinkageError, fit_chain, unit_table
from analysis.simulate import SERVICE_PROFIT_CHAIN, simulate_service_profit_chain
from analysis.study import Study

__all__ = ["PowerResult", "effects_for", "format_power", "power"]

POWER_COLUMNS = ["n_units", "lhs", "op", "rhs", "effect", "power", "mean_est", "reps", "failed"]


@dataclass(frozen=True)
class PowerResult:
    """Simulated power of every hypothesised path.

    Attributes
    ----------
    table
        ``n_units, lhs, op, rhs, effect`` (true standardized coefficient), ``power``
        (share of successful replications with p < alpha), ``mean_est`` (mean
        estimate), ``reps`` and ``failed`` (replications that could not be fitted).
    alpha, reps, seed
        The settings used.
    employees_per_unit, customers_per_unit
        Respondents simulated per unit on each side.
    """

    table: pd.DataFrame
    alpha: float
    reps: int
    seed: int | None
    employees_per_unit: tuple[int, int]
    customers_per_unit: tuple[int, int]

    def to_frame(self) -> pd.DataFrame:
        """The power table."""
        return self.table.copy()

    def units_needed(self, target: float = 0.8) -> pd.Series:
        """Smallest number of units tried that reaches ``target`` power, per path (NaN if none)."""
        ok = self.table[self.table["power"] >= target]
        key = self.table["lhs"] + " ~ " + self.table["rhs"]
        needed = ok.groupby(key[ok.index])["n_units"].min()
        return needed.reindex(pd.unique(key)).rename("units_needed")


def effects_for(study: Study, *, default: float = 0.3) -> dict[str, dict[str, float]]:
    """True effects for simulating ``study``: the demo chain's value for a path it
    shares (:data:`analysis.simulate.SERVICE_PROFIT_CHAIN`), ``default`` otherwise."""
    return {p.lhs: {r: SERVICE_PROFIT_CHAIN.get(p.lhs, {}).get(r, default) for r in p.rhs} for p in study.paths}


def power(
    study: Study,
    *,
    units: Sequence[int],
    reps: int = 200,
    seed: int | None = None,
    effects: Mapping[str, Mapping[str, float]] | None = None,
    employees_per_unit: tuple[int, int] = (8, 25),
    customers_per_unit: tuple[int, int] = (20, 60),
    icc_employee: float = 0.2,
    icc_customer: float = 0.1,
    alpha: float = 0.05,
    progress: Callable[[int], None] | None = None,
) -> PowerResult:
    """Power to detect each hypothesised unit-level path, by simulation.

    Parameters
    ----------
    study
        The study whose paths are tested.
    units
        Numbers of units to try (for example ``(50, 100, 200)``).
    reps
        Simulated studies per number of units.
    seed
        Seed; replication ``r`` at size ``n`` uses ``seed + r`` so results reproduce.
    effects
        True standardized effects ``{outcome: {predictor: beta}}`` (default
        :func:`effects_for`).
    employees_per_unit, customers_per_unit, icc_employee, icc_customer
        Passed to :func:`analysis.simulate.simulate_service_profit_chain`.
    alpha
        Significance level of the Wald test of each path.
    progress
        Called with 1 after every replication (for a progress bar).

    Returns
    -------
    PowerResult

    Notes
    -----
    Power of path ``j`` at ``n`` units is ``#{r : p_rj < alpha} / R`` over the ``R``
    replications that could be fitted; its Monte-Carlo standard error is
    ``sqrt(power (1 - power) / R)`` (about .03 at R = 200). Units below the study's
    minimum sizes are dropped as in :func:`analysis.linkage.run_study`, so
    small simulated units lower power as they would in the field.
    R: ``simsem::sim`` does the same for lavaan models.
    """
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise LinkageError(f"reps must be a whole number >= 1, got {reps!r}", fix="Use 200 for example.")
    sizes = [int(n) for n in units]
    if not sizes or min(sizes) < 2:
        raise LinkageError(f"units must be numbers of units >= 2, got {list(units)!r}", fix="For example 50,100,200.")
    effects = effects_for(study) if effects is None else effects
    hypothesised = [(p.lhs, r) for p in study.paths for r in p.rhs]
    rows = []
    for n in sizes:
        significant = np.zeros(len(hypothesised))
        estimates = np.zeros(len(hypothesised))
        fitted = 0
        for r in range(reps):
            chain = simulate_service_profit_chain(
                study.employee, study.customer, n_units=n, employees_per_unit=employees_per_unit,
                customers_per_unit=customers_per_unit, paths=effects, icc_employee=icc_employee,
                icc_customer=icc_customer, seed=None if seed is None else seed + r + 100_003 * n, comments=False,
            )
            try:
                kept, dropped = unit_table(study, chain.employees, chain.customers)
                result = fit_chain(study, kept, dropped, bootstrap=0, seed=None)
            except LinkageError:
                result = None
            if result is not None and result.converged:
                paths = result.estimates[result.estimates["op"] == "~"].set_index(["lhs", "rhs"])
                p = paths.loc[hypothesised, "pvalue"].to_numpy(dtype=float)
                significant += p < alpha
                estimates += paths.loc[hypothesised, "est"].to_numpy(dtype=float)
                fitted += 1
            if progress is not None:
                progress(1)
        for j, (lhs, rhs) in enumerate(hypothesised):
            rows.append({
                "n_units": n, "lhs": lhs, "op": "~", "rhs": rhs, "effect": float(effects[lhs][rhs]),
                "power": significant[j] / fitted if fitted else np.nan,
                "mean_est": estimates[j] / fitted if fitted else np.nan,
                "reps": fitted, "failed": reps - fitted,
            })
    return PowerResult(pd.DataFrame(rows, columns=POWER_COLUMNS), alpha, int(reps), seed,
                       tuple(employees_per_unit), tuple(customers_per_unit))


def format_power(result: PowerResult) -> str:
    """Plain-text power table: one row per path, one column per number of units."""
    table = result.table.assign(path=result.table["lhs"] + " ~ " + result.table["rhs"])
    wide = table.pivot_table(index=["path", "effect"], columns="n_units", values="power", sort=False)
    sizes = list(wide.columns)
    lines = [f"Power by simulation ({result.reps} replications per size, alpha = {result.alpha}; "
             f"{result.employees_per_unit[0]}-{result.employees_per_unit[1]} employees and "
             f"{result.customers_per_unit[0]}-{result.customers_per_unit[1]} customers per unit)",
             f"{'path':44} {'effect':>6} " + " ".join(f"{f'{n} units':>10}" for n in sizes)]
    for (path, effect), row in wide.iterrows():
        lines.append(f"{path:44} {effect:6.2f} " + " ".join(f"{v:10.2f}" for v in row.to_numpy()))
    lines += ["", "Units needed for 80% power (smallest number tried):"]
    lines += [f"  {path:42} {int(n) if np.isfinite(n) else f'more than {max(sizes)}'}"
              for path, n in result.units_needed().items()]
    return "\n".join(lines)
