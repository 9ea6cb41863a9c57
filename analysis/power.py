"""Power of a linkage study by simulation: how many units does a company need?

For each number of units, :func:`power` simulates the study many times from its
hypothesised paths with chosen true standardized effects
(:func:`analysis.simulate.simulate_service_profit_chain`), aggregates to units and
fits the unit-level path model as :func:`analysis.linkage.run_study` does, and counts
how often each path is significant.

Three things make this fast. Units are simulated independently, so the replications of
one size are simulated and aggregated together, a chunk of replications at a time, as
one large study whose units are then split into the replications. They are simulated
straight into unit tables (:func:`analysis.unit_simulation.simulate_unit_table`: only the
items of the study's nodes, no response frames) unless a node's item is shown
conditionally, when the response frames are simulated and aggregated. And when the unit
model is an observed-variable recursive path model (every study's is, unless residual
covariances tie outcomes with different predictors), maximum likelihood is least
squares per equation: the estimates, residual variances and the expected-information
standard errors of every replication follow from its unit correlation matrix in a few
batched matrix operations (:func:`analysis.path_model.path_model_tests`), instead of a general SEM fit per
replication; other models are fitted by :func:`analysis.linkage.fit_chain`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.linkage import LinkageError, fit_chain, unit_table
from analysis.path_model import PathPlan, path_model_tests, path_plan
from analysis.simulate import BUSINESS_CHAIN, SERVICE_PROFIT_CHAIN, simulate_service_profit_chain
from analysis.study import Study
from analysis.threads import limit_blas_threads
from analysis.unit_simulation import simulate_unit_table, why_not_direct

__all__ = ["PowerResult", "effects_for", "power"]

#: Simulated units per chunk of replications (memory: about 50 respondents a unit).
CHUNK_UNITS = 4_000

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
    """True effects for simulating ``study``: the demo chain's value for a path it shares
    (:data:`analysis.simulate.SERVICE_PROFIT_CHAIN`, :data:`analysis.simulate.BUSINESS_CHAIN`),
    ``default`` otherwise."""
    known = {**SERVICE_PROFIT_CHAIN, **BUSINESS_CHAIN}
    return {p.lhs: {r: known.get(p.lhs, {}).get(r, default) for r in p.rhs} for p in study.paths}


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
        Seed; the same seed gives the same table (the replications of a size are
        simulated in chunks, chunk ``c`` at size ``n`` with seed ``seed + c + 100003 n``).
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
    small simulated units lower power as they would in the field; a replication with
    fewer units left than the model's parameters plus one, or a node without variance,
    counts as failed. The Wald test is lavaan's (``z = est / se``, two-sided normal p,
    se from the expected information; :func:`analysis.path_model.path_model_tests`).
    R: ``simsem::sim`` does the same for lavaan models.
    """
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise LinkageError(f"reps must be a whole number >= 1, got {reps!r}", fix="Use 200 for example.")
    sizes = [int(n) for n in units]
    if not sizes or min(sizes) < 2:
        raise LinkageError(f"units must be numbers of units >= 2, got {list(units)!r}", fix="For example 50,100,200.")
    effects = effects_for(study) if effects is None else effects
    hypothesised = [(p.lhs, r) for p in study.paths for r in p.rhs]
    plan = path_plan(study)
    direct = why_not_direct(study) is None
    rows = []
    for n in sizes:
        significant = np.zeros(len(hypothesised))
        estimates = np.zeros(len(hypothesised))
        fitted = 0
        per_chunk = max(1, CHUNK_UNITS // n)
        for chunk, first in enumerate(range(0, reps, per_chunk)):
            count = min(per_chunk, reps - first)
            settings = dict(n_units=n * count, employees_per_unit=employees_per_unit,
                            customers_per_unit=customers_per_unit, paths=effects, icc_employee=icc_employee,
                            icc_customer=icc_customer, seed=None if seed is None else seed + chunk + 100_003 * n)
            if direct:
                kept = simulate_unit_table(study, **settings)
                rep_of = kept["unit"].to_numpy(dtype=int) // n
            else:
                chain = simulate_service_profit_chain(study.employee, study.customer, comments=False,
                                                      business=study.business, **settings)
                kept, _ = unit_table(study, chain.employees, chain.customers, chain.kpis)
                replication = {u: i // n for i, u in enumerate(chain.units["unit"])}
                rep_of = kept["unit"].map(replication).to_numpy(dtype=int)
            est, pvalue = _replications(study, plan, kept, rep_of, count, n, hypothesised)
            ok = ~np.isnan(pvalue).any(axis=1)
            significant += (pvalue[ok] < alpha).sum(axis=0)
            estimates += est[ok].sum(axis=0)
            fitted += int(ok.sum())
            if progress is not None:
                for _ in range(count):
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


def _replications(study: Study, plan: PathPlan | None, kept: pd.DataFrame, rep_of: np.ndarray, count: int,
                  n: int, hypothesised: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """``(est, pvalue)`` of the hypothesised paths in each of ``count`` replications (NaN:
    the replication could not be fitted)."""
    est = np.full((count, len(hypothesised)), np.nan)
    pvalue = np.full_like(est, np.nan)
    if plan is None:  # a general SEM per replication
        for r in range(count):
            units = kept[rep_of == r].reset_index(drop=True)
            try:
                result = fit_chain(study, units, pd.DataFrame({"unit": range(n - len(units))}), bootstrap=0)
            except LinkageError:
                continue
            if result.converged:
                paths = result.estimates[result.estimates["op"] == "~"].set_index(["lhs", "rhs"])
                pvalue[r] = paths.loc[hypothesised, "pvalue"].to_numpy(dtype=float)
                est[r] = paths.loc[hypothesised, "est"].to_numpy(dtype=float)
        return est, pvalue
    values = kept[list(plan.nodes)].to_numpy(dtype=float)
    order = np.argsort(rep_of, kind="stable")
    values, rep_sorted = values[order], rep_of[order]
    n_r = np.bincount(rep_sorted, minlength=count)
    bounds = np.concatenate([[0], np.cumsum(n_r)])
    # the checks of analysis.linkage.check_units, for all replications at once
    usable = n_r >= plan.npar + 1
    corr = np.zeros((count, len(plan.nodes), len(plan.nodes)))
    for r in np.flatnonzero(usable):
        block = values[bounds[r]:bounds[r + 1]]
        sd = block.std(axis=0, ddof=1)
        if np.isnan(block).any() or not np.all(np.isfinite(sd) & (sd > 1e-12 * np.maximum(1.0, np.abs(block.mean(0))))):
            usable[r] = False
            continue
        corr[r] = np.corrcoef(block, rowvar=False)
    if usable.any():
        pick = [plan.paths.index(h) for h in hypothesised]
        with limit_blas_threads(), np.errstate(all="ignore"):
            try:
                b, p = path_model_tests(plan, corr[usable], n_r[usable].astype(float))
                est[usable], pvalue[usable] = b[:, pick], p[:, pick]
            except np.linalg.LinAlgError:  # a singular replication: the others one by one
                for r in np.flatnonzero(usable):
                    try:
                        b, p = path_model_tests(plan, corr[r:r + 1], n_r[r:r + 1].astype(float))
                    except np.linalg.LinAlgError:
                        continue
                    est[r], pvalue[r] = b[0, pick], p[0, pick]
    return est, pvalue
