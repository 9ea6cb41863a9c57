"""The generating model behind Tandem's simulated answers (:mod:`analysis.simulate` and
:mod:`analysis.unit_simulation`): a standardized recursive path model over unit and
respondent latent scores, and items that cut a loaded latent response into the categories
of their scale.

For every construct or metric node ``c``::

    unit latent        u_c  (n_units x nodes)   ~ path model B, standardized
    individual latent  w_ic (respondents x nodes) ~ same path model, standardized
    respondent score   eta_ic = mu_c + sqrt(icc) * u_{unit(i),c} + sqrt(1 - icc) * w_ic
    item response      y_ij  = lambda * eta_ic + sqrt(1 - lambda^2) * e_ij
    observed answer    x_ij  = scale value of the category of y_ij between thresholds

Thresholds cut a standard normal into the categories of the item's scale so that the
answers have the mildly favourable skew typical of workplace and customer surveys
(category probabilities from a Beta(3.2, 1.8) distribution on [0, 1]; Beta(4.5, 1.4) for
0-10 ratings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import stats

from analysis.study import METRIC_NODES, node_names, node_side
from surveys.errors import TandemError, did_you_mean

#: Mean and SD across units of the simulated business KPIs (:func:`kpi_values`), in their
#: measure (percent): where real figures of this kind usually sit.
KPI_SCALES = {"retention": (85.0, 4.0), "first_contact_resolution": (72.0, 6.0), "sales_growth": (3.0, 2.5),
              "response_time": (24.0, 6.0), "complaints": (12.0, 4.0)}

__all__ = ["KPI_SCALES", "PathModel", "SimulationError", "category_probabilities", "check_chain_settings",
           "check_fraction", "item_answers", "item_values", "kpi_values", "node_items", "node_sides",
           "shift_for_mean", "thresholds", "unit_sizes"]


class SimulationError(TandemError):
    """A simulation request that cannot be met (unknown construct, bad ICC ...)."""


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class PathModel:
    """A recursive standardized path model over ordered nodes."""

    nodes: tuple[str, ...]  # topological order
    beta: np.ndarray  # beta[i, j]: effect of nodes[j] on nodes[i]
    exogenous_correlation: float

    @classmethod
    def build(cls, paths: Mapping[str, Mapping[str, float]], extra: Sequence[str], rho: float) -> PathModel:
        edges = {(str(lhs), str(rhs)): float(b) for lhs, preds in paths.items() for rhs, b in preds.items()}
        names: list[str] = []
        for lhs, rhs in edges:
            for n in (rhs, lhs):
                if n not in names:
                    names.append(n)
        names += [n for n in extra if n not in names]
        order: list[str] = []
        pending = list(names)
        while pending:
            ready = [n for n in pending if all(rhs in order for (lhs, rhs) in edges if lhs == n)]
            if not ready:
                raise SimulationError(
                    "the paths contain a cycle: " + ", ".join(sorted(pending)),
                    fix="Give a recursive (acyclic) chain of paths.",
                )
            order += ready
            pending = [n for n in pending if n not in ready]
        index = {n: i for i, n in enumerate(order)}
        beta = np.zeros((len(order), len(order)))
        for (lhs, rhs), b in edges.items():
            beta[index[lhs], index[rhs]] = b
        return cls(tuple(order), beta, rho)

    @property
    def exogenous(self) -> np.ndarray:
        return ~self.beta.any(axis=1)

    def exogenous_corr(self, chain_nodes: frozenset[str]) -> np.ndarray:
        """Correlation of the exogenous nodes: ``rho`` among the chain's drivers, 0 otherwise."""
        exo = [n for n, e in zip(self.nodes, self.exogenous, strict=True) if e]
        corr = np.eye(len(exo))
        for a, na in enumerate(exo):
            for b, nb in enumerate(exo):
                if a != b and na in chain_nodes and nb in chain_nodes:
                    corr[a, b] = self.exogenous_correlation
        return corr

    def implied_corr(self, chain_nodes: frozenset[str]) -> np.ndarray:
        """Model-implied correlation matrix; residual variances make every node's variance 1."""
        k = len(self.nodes)
        sigma = np.zeros((k, k))
        exo = np.flatnonzero(self.exogenous)
        sigma[np.ix_(exo, exo)] = self.exogenous_corr(chain_nodes)
        for i in range(k):
            if self.exogenous[i]:
                continue
            b = self.beta[i, :i]
            cov_with_prev = sigma[:i, :i] @ b
            explained = float(b @ cov_with_prev)
            if explained >= 1:
                raise SimulationError(
                    f"the paths into '{self.nodes[i]}' explain {explained:.2f} of its variance (>= 1)",
                    fix="Use smaller standardized coefficients so that R² stays below 1.",
                )
            sigma[i, :i] = sigma[:i, i] = cov_with_prev
            sigma[i, i] = 1.0
        return sigma

    def draw(self, n: int, rng: np.random.Generator, chain_nodes: frozenset[str]) -> np.ndarray:
        """``n`` draws of all nodes, each with mean 0 and variance 1."""
        sigma = self.implied_corr(chain_nodes)
        k = len(self.nodes)
        out = np.empty((n, k))
        exo = np.flatnonzero(self.exogenous)
        chol = np.linalg.cholesky(sigma[np.ix_(exo, exo)])
        out[:, exo] = rng.standard_normal((n, exo.size)) @ chol.T
        for i in range(k):
            if self.exogenous[i]:
                continue
            b = self.beta[i, :i]
            resid = np.sqrt(1.0 - float(b @ sigma[:i, :i] @ b))
            out[:, i] = out[:, :i] @ b + resid * rng.standard_normal(n)
        return out

    def total_effects(self) -> np.ndarray:
        k = len(self.nodes)
        return np.linalg.inv(np.eye(k) - self.beta) - np.eye(k)


# --------------------------------------------------------------------------- items


def category_probabilities(k: int) -> np.ndarray:
    """Probabilities of ``k`` categories: a Beta(3.2, 1.8) (0-10 ratings: Beta(4.5, 1.4)) cut in ``k`` equal bins."""
    edges = np.linspace(0.0, 1.0, k + 1)
    a, b = (3.2, 1.8) if k < 10 else (4.5, 1.4)  # 0-10 ratings lean further to the top (NPS ~ +10)
    return np.diff(stats.beta.cdf(edges, a, b))


@cache
def thresholds(k: int) -> np.ndarray:
    """Cut points of a standard normal into ``k`` mildly favourable categories (read-only)."""
    tau = stats.norm.ppf(np.cumsum(category_probabilities(k))[:-1])
    tau.setflags(write=False)
    return tau


def shift_for_mean(values: np.ndarray, target: float, where: str) -> float:
    """Latent mean shift that gives the expected answer ``target`` on ``values``."""
    tau = thresholds(values.size)

    def expected(mu: float) -> float:
        cdf = np.concatenate([[0.0], stats.norm.cdf(tau - mu), [1.0]])
        return float(np.diff(cdf) @ values)

    lo, hi = float(values.min()), float(values.max())
    if not lo < target < hi:
        raise SimulationError(
            f"the requested mean {target} lies outside the scale ({lo:g} to {hi:g})",
            where=where,
            fix="Give a construct mean strictly inside the range of its items' scale.",
        )
    a, b = -6.0, 6.0
    for _ in range(60):
        m = (a + b) / 2
        a, b = (m, b) if expected(m) < target else (a, m)
    return (a + b) / 2


def item_values(item: Any) -> np.ndarray:
    """The ordered answer values of an analysable item (scale points or integer range)."""
    if getattr(item, "scale", None) is not None:
        return np.sort(np.asarray(item.scale.values, dtype=float))
    lo = 0.0 if item.min is None else float(item.min)
    hi = 10.0 if item.max is None else float(item.max)
    return np.arange(lo, hi + 1.0)


def item_answers(latent: np.ndarray, values: np.ndarray, loading: float, rng: np.random.Generator,
             *, reverse: bool, shift: float) -> np.ndarray:
    y = shift + loading * latent + np.sqrt(1.0 - loading**2) * rng.standard_normal(latent.size)
    idx = np.searchsorted(thresholds(values.size), y)
    if reverse:
        idx = values.size - 1 - idx
    return values[idx]


def unit_sizes(spec: int | tuple[int, int], n_units: int, rng: np.random.Generator, what: str) -> np.ndarray:
    lo, hi = (spec, spec) if isinstance(spec, (int, np.integer)) else spec
    if lo < 1 or hi < lo:
        raise SimulationError(
            f"{what} must be a positive integer or a (low, high) pair with 1 <= low <= high, got {spec!r}",
            fix="For example 20 or (5, 30).",
        )
    return rng.integers(lo, hi + 1, size=n_units)


def check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0, closed: bool = False) -> None:
    ok = low <= value <= high if closed else low < value < high
    if not ok:
        raise SimulationError(
            f"{name} must lie {'in' if closed else 'strictly between'} {low:g} and {high:g}, got {value!r}",
            fix=f"Pass a {name} such as 0.2.",
        )


def check_chain_settings(*, icc_employee: float, icc_customer: float, loading: float,
                         exogenous_correlation: float, missing_rate: float) -> None:
    """The settings of a simulated chain (:func:`check_fraction` each): ICCs and the loading
    strictly between 0 and 1, the exogenous correlation and the missing rate in [0, .99]."""
    for name, value in (("icc_employee", icc_employee), ("icc_customer", icc_customer)):
        check_fraction(name, value)
    check_fraction("loading", loading)
    check_fraction("exogenous_correlation", exogenous_correlation, closed=True, high=0.99)
    check_fraction("missing_rate", missing_rate, closed=True, high=0.99)


def node_items(instrument: Any, nodes: Sequence[str]) -> dict[str, str]:
    """Item id -> node that drives it (metric node first, then construct, else the item itself)."""
    owner: dict[str, str] = {}
    metrics = getattr(instrument, "metrics", None)
    for name in METRIC_NODES:
        item = getattr(metrics, name, None) if metrics is not None else None
        if item and name in nodes:
            owner[item] = name
    for construct in instrument.constructs:
        for item in construct.items:
            owner.setdefault(item, construct.id)
    return owner


def node_sides(employee: Any, customer: Any, nodes: Sequence[str],
               business: Sequence[str] = ()) -> dict[str, str]:
    """``node -> "employee" | "customer" | "business"`` (:func:`analysis.study.node_side`;
    ``business`` lists the KPI nodes); unknown nodes raise."""
    sides = {node: "business" if node in business else node_side(node, employee, customer) for node in nodes}
    unknown = [n for n, side in sides.items() if side is None]
    if unknown:
        candidates = sorted(node_names(employee) | node_names(customer) | set(business))
        raise SimulationError(
            f"path node '{unknown[0]}' is neither a construct of '{employee.id}' or '{customer.id}' "
            "nor a metric (csat, nps, ces, enps) they define, nor a business KPI."
            + did_you_mean(unknown[0], candidates),
            fix="Name constructs of the two instruments (or their metric items) in the paths, and KPIs in business=.",
        )
    return sides


def kpi_values(kpi: str, latent: np.ndarray) -> np.ndarray:
    """A unit's simulated KPI value from its standardized latent level: ``mean + sd * u`` with
    the KPI's :data:`KPI_SCALES` (0 and 1 for a KPI not listed there)."""
    mean, sd = KPI_SCALES.get(kpi, (0.0, 1.0))
    return mean + sd * latent
