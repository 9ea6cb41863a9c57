"""Two-level SEM by maximum likelihood (lavaan ``sem(..., cluster = )`` with ``level:`` blocks).

The model syntax has a ``level: 1`` (or ``level: within``) block and a ``level: 2`` (or
``level: between``) block; every observed variable is split into a within part (mean 0)
and a between part (the cluster means' structure, with the intercepts), each with its
own LISREL model (:mod:`analysis.sem.matrices`). The log-likelihood is lavaan's
``lav_mvnorm_cluster`` one for unbalanced clusters (Muthén 1990; McDonald & Goldstein
1989), summed over clusters j of size n_j::

    -n_j p/2 log 2 pi - (n_j - 1)/2 log|S_W| - tr(S_W^-1 W_j)/2
    - log|S_W + n_j S_B|/2 - n_j/2 (ybar_j - mu)' (S_W + n_j S_B)^-1 (ybar_j - mu)

with ``S_W``, ``S_B`` the model-implied within and between covariance matrices, ``mu``
the between means and ``W_j`` the within-cluster SSCP. Clusters of the same size share
one factorisation of ``S_W + n S_B``. A variable named at level 2 only is between-only
(constant within a cluster, e.g. a unit's outcome or size): it enters the cluster vector
``u_j = (ybar_j, z_j)`` whose covariance is ``S_B + S_W / n_j`` on the split block (see
:func:`loglik`). A variable named at level 1 only is within-only: no between part (zero
rows of ``S_B``), its mean a level-1 intercept. The saturated (h1) model has free ``S_W``,
``S_B``, ``mu``; the baseline is independence at both levels (the exogenous covariates
keep their covariances among themselves). The total means add the within model's implied
means (non-zero where within-only covariates have means) to the between model's, as lavaan.
Standard errors use the observed information (the Hessian of the log-likelihood, central
differences of the analytic gradient), lavaan's default for two-level models, or with
``robust=True`` (``fit(estimator="MLR")``) the cluster-robust sandwich on it.

``missing="fiml"``: samples stacked by design (each row answers one side's variables) keep
the closed form of :mod:`analysis.sem.cluster_likelihood`; any other missing values (level-1
values row by row, between-only values cluster by cluster) use the general two-level FIML
likelihood of :mod:`analysis.sem.twolevel_missing` (lavaan ``missing = "ml"``), with its
analytic gradient and the same observed-information standard errors; MLR is refused there.

Not supported (a :class:`~analysis.errors.ModelSpecificationError` says so): random
slopes, MLR with missing values not stacked by design, groups, the bootstrap, and ``fixed_x=True`` with
exogenous covariates at level 1 (lavaan's fixed.x treatment of covariates that vary at both
levels is not ML; between-only covariates may stay fixed, the logl then conditional on
them). Supported besides the two blocks: labels shared by the levels and ``a == b`` tie
parameters across levels, ``a == 0.7`` fixes them; ``:=`` parameters may use the labels of
both levels (level 0 in the estimate table, delta-method SEs, as lavaan).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.errors import DataError, ModelSpecificationError
from analysis.sem.casewise import missing_patterns
from analysis.sem.cluster_likelihood import (
    ClusterStats,
    cluster_scores,
    em_saturated,
    fit_blocks,
    loglik,
    robust_trace,
)
from analysis.sem.fit_measures import likelihood_measures, mlr_fit_measures, saturated_loglik
from analysis.sem.matrices import Model
from analysis.sem.optimizer import CONVERGED_GRADIENT
from analysis.sem.partable import DisjointSets, ParameterTable, _is_number, build_table, structure_of
from analysis.sem.results import ESTIMATE_COLUMNS, SEMResult, bootstrap_pvalue, percentile_interval
from analysis.sem.samplestats import GroupStats, numeric_array
from analysis.sem.standardized import Standardizer, r_squared
from analysis.sem.start import start_values
from analysis.sem.syntax import ModelSyntax, parse_model
from analysis.sem.twolevel_missing import ClusterMissing
from analysis.sem.variance import defined_values, delta_method, label_values
from surveys.errors import did_you_mean

_LEVEL = re.compile(r"^\s*level\s*:\s*([A-Za-z0-9_]+)\s*$", re.IGNORECASE)
_LEVEL_NAMES = {"1": 1, "within": 1, "2": 2, "between": 2}
_Z975 = float(stats.norm.ppf(0.975))


def has_levels(model: str) -> bool:
    """Whether model syntax has ``level:`` lines."""
    return any(_LEVEL.match(line.split("#")[0].split("!")[0]) for line in model.splitlines())


def split_levels(model: str) -> tuple[str, str]:
    """The within and between blocks of two-level syntax, other lines blanked (line numbers kept)."""
    lines = model.splitlines()
    parts = {1: [""] * len(lines), 2: [""] * len(lines)}
    level = None
    seen = []
    for i, line in enumerate(lines):
        code = line.split("#")[0].split("!")[0]
        m = _LEVEL.match(code)
        if m:
            name = m.group(1).lower()
            if name not in _LEVEL_NAMES:
                raise ModelSpecificationError(
                    f"unknown level '{m.group(1)}'", where=f"model syntax line {i + 1}",
                    fix="use 'level: 1' (or 'level: within') and 'level: 2' (or 'level: between')")
            level = _LEVEL_NAMES[name]
            if level in seen:
                raise ModelSpecificationError(f"level {level} is given twice", where=f"model syntax line {i + 1}",
                                              fix="put all statements of a level in one block")
            seen.append(level)
            continue
        if code.strip() and level is None:
            raise ModelSpecificationError("a statement comes before the first 'level:' line",
                                          where=f"model syntax line {i + 1}",
                                          fix="start the model with 'level: 1'")
        if level is not None:
            parts[level][i] = line
    if sorted(seen) != [1, 2]:
        raise ModelSpecificationError("a two-level model needs a 'level: 1' and a 'level: 2' block",
                                      where="model syntax",
                                      fix="add the missing level (three levels are not supported)")
    return "\n".join(parts[1]), "\n".join(parts[2])


# ----------------------------------------------------------------------------- the model
class TwoLevelEstimator:
    """The two-level discrepancy ``-logl / N`` of the within and between models, and its gradient.

    The sample statistics order the variables split, within-only, between-only. ``w_own[i]``
    is the within model's index of statistic variable ``i`` (the first ``p_y``), ``b_stat[j]``
    the statistics' index of the between model's variable ``j``; ``wo_stat`` are the
    within-only variables (no between part: zero rows of ``S_B``; their means are the level-1
    intercepts)."""

    def __init__(self, table_w: ParameterTable, table_b: ParameterTable, cs: ClusterStats,
                 w_own: list[int], b_stat: list[int], wo_stat: list[int], tie: JointParameters | None = None):
        self.table_w, self.table_b, self.cs = table_w, table_b, cs
        self.model_w, self.model_b = Model(table_w), Model(table_b)
        self.w_own, self.b_stat = np.array(w_own, dtype=int), np.array(b_stat, dtype=int)
        self.wo_stat = np.array(wo_stat, dtype=int)
        self.wo_own = self.w_own[self.wo_stat] if len(wo_stat) else np.array([], dtype=int)
        self.q = len(cs.grand_mean)
        tie = tie or JointParameters.untied(table_w.npar, table_b.npar)
        self.map_w, self.map_b, self.npar = tie.map_w, tie.map_b, tie.npar

    def parts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The within and between models' parameter vectors from the joint one."""
        return x[self.map_w], x[self.map_b]

    def join(self, g_w: np.ndarray, g_b: np.ndarray) -> np.ndarray:
        """Per-level gradients to the joint parameters (tied parameters add up)."""
        return (np.bincount(self.map_w, weights=g_w, minlength=self.npar)
                + np.bincount(self.map_b, weights=g_b, minlength=self.npar))

    def moments(self, x: np.ndarray):
        """``(imp_w, imp_b, S_W, S_B, mu)`` with ``S_W``, ``S_B`` and ``mu`` in the statistics' order."""
        xw, xb = self.parts(x)
        imp_w, imp_b = self.model_w.implied(xw, 0), self.model_b.implied(xb, 0)
        wo, bs = self.w_own, self.b_stat
        s_b = np.zeros((self.q, self.q))
        s_b[np.ix_(bs, bs)] = imp_b.sigma
        mu = np.zeros(self.q)
        mu[bs] = imp_b.mu
        mu[:len(wo)] += imp_w.mu[wo]  # lavaan: the total means add the within means (covariates' means)
        return imp_w, imp_b, imp_w.sigma[np.ix_(wo, wo)], s_b, mu

    def loglik(self, x: np.ndarray) -> float:
        _, _, s_w, s_b, mu = self.moments(x)
        return loglik(self.cs, s_w, s_b, mu)

    def objective(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        imp_w, imp_b, s_w, s_b, mu = self.moments(x)
        ll, g_w, g_b, g_mu = loglik(self.cs, s_w, s_b, mu, derivatives=True)
        if not np.isfinite(ll):
            return 1e10, np.zeros_like(x)
        wo, bs = self.w_own, self.b_stat
        g_w_own = np.zeros_like(g_w)
        g_w_own[np.ix_(wo, wo)] = g_w
        d_mu_w = np.zeros(len(wo))
        d_mu_w[wo] = g_mu[:len(wo)]
        grad = self.join(self.model_w.gradient(imp_w, 0, g_w_own, d_mu_w),
                         self.model_b.gradient(imp_b, 0, g_b[np.ix_(bs, bs)], g_mu[bs]))
        return -ll / self.cs.n, -grad / self.cs.n

    def scores(self, x: np.ndarray) -> np.ndarray:
        """``J x npar``: each cluster's gradient of its log-likelihood term by the joint parameters
        (:func:`analysis.sem.cluster_likelihood.cluster_scores` through the models' Jacobians);
        the rows sum to the gradient of ``logl``."""
        imp_w, imp_b, s_w, s_b, mu = self.moments(x)
        g_w, g_b, g_mu = cluster_scores(self.cs, s_w, s_b, mu)
        wo, bs = self.w_own, self.b_stat
        dsw, dmw = self.model_w.jacobian(imp_w, 0)
        dsb, dmb = self.model_b.jacobian(imp_b, 0)
        s_w_own = np.einsum("jab,kab->jk", g_w, dsw[:, wo][:, :, wo])
        s_w_own += g_mu[:, :len(wo)] @ dmw[:, wo].T
        s_b_own = np.einsum("jab,kab->jk", g_b[:, bs][:, :, bs], dsb) + g_mu[:, bs] @ dmb.T
        out = np.zeros((self.cs.J, self.npar))
        np.add.at(out.T, self.map_w, s_w_own.T)
        np.add.at(out.T, self.map_b, s_b_own.T)
        return out

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """The Hessian of ``-logl`` (central differences of the analytic gradient)."""
        h = np.zeros((self.npar, self.npar))
        for i in range(self.npar):
            step = 1e-5 * max(1.0, abs(x[i]))
            e = np.zeros(self.npar)
            e[i] = step
            h[:, i] = (self.objective(x + e)[1] - self.objective(x - e)[1]) / (2 * step)
        return (h + h.T) / 2 * self.cs.n


def _check_supported(syntax_w: ModelSyntax, syntax_b: ModelSyntax) -> None:
    for syn in (syntax_w, syntax_b):
        for s in syn.statements:
            if s.op not in ("=~", "~", "~~"):
                raise ModelSpecificationError(f"operator '{s.op}' is not supported in two-level models",
                                              where=f"model syntax line {s.line}", fix="remove it")
    between = set(syntax_b.variable_names)
    for s in syntax_w.statements:
        if s.op == "~" and s.rhs == "1" and s.lhs in between:
            raise ModelSpecificationError("intercepts of variables at both levels live at level 2",
                                          where=f"model syntax line {s.line}", fix="move 'y ~ 1' to 'level: 2'")


@dataclass(frozen=True)
class TwoLevelCount:
    """The counts of a two-level model without data (:func:`count_parameters`).

    ``npar_between`` (the between model's parameters not tied to a within one) is what the
    clusters must support (the linkage "too few units" check of a two-level model compares it
    with the number of clusters)."""

    npar_within: int
    npar_between: int
    ndat: int

    @property
    def npar(self) -> int:
        return self.npar_within + self.npar_between

    @property
    def df(self) -> int:
        return self.ndat - self.npar


def _tables(model: str, fixed_x: bool):
    text_w, text_b = split_levels(model)
    for i, line in enumerate(model.splitlines()):
        if "|" in line.split("#")[0].split("!")[0]:
            raise ModelSpecificationError("random slopes ('s | y ~ x') are not supported in two-level models",
                                          where=f"model syntax line {i + 1}",
                                          fix="fit a random-intercept model (fixed slopes at level 1)")
    syntax_w, syntax_b = parse_model(text_w), parse_model(text_b)
    _check_supported(syntax_w, syntax_b)
    # ':=' may use the labels of both levels: kept apart from the levels' tables
    definitions = ModelSyntax((), syntax_w.definitions + syntax_b.definitions, (), model)
    known = set(syntax_w.labels) | set(syntax_b.labels) | {d.name for d in definitions.definitions}
    for d in definitions.definitions:
        for name in d.names:
            if name not in known:
                raise ModelSpecificationError(
                    f"defined parameter '{d.name}' uses unknown label '{name}'.{did_you_mean(name, known)}",
                    where=f"model syntax line {d.line}", fix="label the parameter first, e.g. 'y ~ a*x'")
    constraints = syntax_w.constraints + syntax_b.constraints
    labels = set(syntax_w.labels) | set(syntax_b.labels)
    for con in constraints:
        for side in (con.lhs, con.rhs):
            if not _is_number(side) and side not in labels:
                raise ModelSpecificationError(
                    f"equality constraint uses unknown label '{side}'.{did_you_mean(side, labels)}",
                    where=f"model syntax line {con.line}", fix="label the parameter first, e.g. 'y ~ a*x'")
    syntax_w = replace(syntax_w, definitions=(), constraints=())
    syntax_b = replace(syntax_b, definitions=(), constraints=())
    st_w, st_b = structure_of(syntax_w), structure_of(syntax_b)
    split = [v for v in st_w.ov if v in st_b.ov]
    w_only = [v for v in st_w.ov if v not in st_b.ov]
    if fixed_x and (st_w.exo_x or any(v in st_w.ov for v in st_b.exo_x)):
        raise ModelSpecificationError(
            "two-level models with exogenous covariates at level 1 need fixed_x=False (lavaan's fixed.x "
            "treatment of covariates that vary at both levels is not ML); between-only covariates may stay "
            "fixed", where="fit(fixed_x=...)", fix="pass fixed_x=False")
    table_w = build_table(syntax_w, meanstructure=bool(w_only), fixed_x=fixed_x)
    if w_only:  # level 1 carries only the within-only variables' intercepts
        _fix_rows(table_w, lambda r: r.op == "~1" and r.lhs not in w_only)
    table_b = build_table(syntax_b, meanstructure=True, fixed_x=fixed_x)
    for con in constraints:  # label == number: fixed at it in both levels
        if _is_number(con.lhs) or _is_number(con.rhs):
            label, number = (con.lhs, con.rhs) if _is_number(con.rhs) else (con.rhs, con.lhs)
            for t in (table_w, table_b):
                _fix_rows(t, lambda r, label=label: r.label == label, float(number))
    tie = JointParameters.of(table_w, table_b, [(c.lhs, c.rhs) for c in constraints
                                                if not (_is_number(c.lhs) or _is_number(c.rhs))])
    ov = split + w_only + [v for v in st_b.ov if v not in st_w.ov]   # split, within-only, between-only
    p_y, q_b, k = len(st_w.ov), len(st_b.ov), len(table_b.fixed_exo)
    ndat = p_y * (p_y + 1) // 2 + q_b * (q_b + 1) // 2 + q_b + len(w_only) - k * (k + 3) // 2
    return table_w, table_b, ov, p_y, ndat, definitions, tie


@dataclass(frozen=True)
class JointParameters:
    """The joint parameter vector of the two levels: ``map_w[k]`` / ``map_b[k]`` is the joint
    index of the within / between model's parameter ``k``; labels shared by the levels and
    ``a == b`` constraints give one joint parameter."""

    map_w: np.ndarray
    map_b: np.ndarray
    npar: int

    @classmethod
    def untied(cls, npar_w: int, npar_b: int) -> JointParameters:
        return cls(np.arange(npar_w), npar_w + np.arange(npar_b), npar_w + npar_b)

    @classmethod
    def of(cls, table_w: ParameterTable, table_b: ParameterTable,
           equal: list[tuple[str, str]]) -> JointParameters:
        nodes = [(0, k) for k in range(table_w.npar)] + [(1, k) for k in range(table_b.npar)]
        tied = DisjointSets()
        find, union = tied.find, tied.union
        by_label: dict[str, list[tuple[int, int]]] = {}
        for level, table in ((0, table_w), (1, table_b)):
            for r in table.rows:
                if r.label and r.pid >= 0:
                    by_label.setdefault(r.label, []).append((level, r.pid))
        for members in by_label.values():
            for m in members[1:]:
                union(members[0], m)
        for a, b in equal:
            if by_label.get(a) and by_label.get(b):
                union(by_label[a][0], by_label[b][0])
        roots = {}
        for n in nodes:
            roots.setdefault(find(n), len(roots))
        joint = {n: roots[find(n)] for n in nodes}
        return cls(np.array([joint[(0, k)] for k in range(table_w.npar)], dtype=int),
                   np.array([joint[(1, k)] for k in range(table_b.npar)], dtype=int), len(roots))


def _fix_rows(table: ParameterTable, which, value: float = 0.0) -> None:
    """Fix the rows ``which(row)`` at ``value`` and renumber the parameter ids."""
    for r in table.rows:
        if r.pid >= 0 and which(r):
            r.free, r.value, r.pid = False, value, -1
    remap = {old: new for new, old in enumerate(sorted({r.pid for r in table.rows if r.pid >= 0}))}
    for r in table.rows:
        if r.pid >= 0:
            r.pid = remap[r.pid]
    table.npar = len(remap)
    table._free_rows.clear()


def count_parameters(model: str, *, fixed_x: bool = True) -> TwoLevelCount:
    """Free parameters per level and sample moments of two-level syntax, without data
    (what :func:`fit_twolevel` will estimate; refuses what it refuses)."""
    table_w, _, _, _, ndat, _, tie = _tables(model, fixed_x)
    return TwoLevelCount(table_w.npar, tie.npar - table_w.npar, ndat)


def fit_twolevel(model: str, data: pd.DataFrame, cluster: str, *, fixed_x: bool = True, missing: str = "listwise",
                 monte_carlo: int = 0, seed: int | None = None, robust: bool = False,
                 warnings_out: list[str] | None = None) -> SEMResult:
    """A two-level model by ML (see the module docstring); called by :func:`analysis.sem.fit`.

    ``missing="fiml"`` fits samples stacked with missing values by design: the level-1
    variables fall into sides that no row shares (:func:`data_sides`), such as the employees
    and the customers of the same units; the likelihood is then the FIML one in closed form
    (:mod:`analysis.sem.cluster_likelihood`). Any other missing values (level-1 values
    missing row by row, also within one side of stacked samples, or between-only values
    missing for some clusters) are fitted by the general two-level FIML likelihood
    (:class:`analysis.sem.twolevel_missing.ClusterMissing`, lavaan ``missing = "ml"``): rows
    without a level-1 value are left out (lavaan's empty cases), the gradient is analytic and
    the standard errors come from the observed information, as lavaan's; ``robust=True`` and a
    fixed between-only covariate with missing values are refused there.

    ``monte_carlo > 0`` adds the uncertainty of the standardized solution from that many
    draws of the parameters from their estimated sampling distribution ``N(x, vcov)``
    (:func:`monte_carlo_std`): columns ``std_se`` (SD of the draws), ``std_ci_lower``,
    ``std_ci_upper`` (2.5% and 97.5% quantiles) and ``std_pvalue`` (the p-value of the same
    draws, :func:`analysis.sem.results.bootstrap_pvalue`).

    ``robust=True`` gives cluster-robust (Huber-White) standard errors, lavaan ``estimator =
    "MLR"``: ``vcov = H^-1 B H^-1`` with ``H`` the observed information and ``B = sum_j s_j s_j'``
    the outer products of the clusters' scores (:meth:`TwoLevelEstimator.scores`); they hold
    when the answers are not normal (5-point items, skewed unit means), and the Monte Carlo
    draws then use them too. Estimates and fit measures are ML's; MLR adds the Yuan-Bentler
    scaled test and the scaled and robust CFI/TLI/RMSEA (:func:`_fit_measures`)."""
    warnings_out = [] if warnings_out is None else warnings_out
    trace_h0 = None
    table_w, table_b, ov, p_y, ndat, definitions, tie = _tables(model, fixed_x)
    st_b = table_b.structure
    if not isinstance(data, pd.DataFrame):
        raise DataError("data must be a pandas DataFrame", fix="pass pd.DataFrame(...)")
    columns = list(data.columns)
    if cluster not in columns:
        raise DataError(f"cluster column '{cluster}' is not in the data.{did_you_mean(cluster, columns)}",
                        where="fit(cluster=...)", fix="name an existing column")
    for v in ov:
        if v not in columns:
            raise ModelSpecificationError(
                f"the model names variable '{v}' which is not a column of the data.{did_you_mean(v, columns)}",
                where="model syntax", fix="correct the name, or name the latent variable on the left of '=~'")
    y = numeric_array(data, ov)
    cl = data[cluster].to_numpy()
    side = side_of = None
    scattered = False  # missing values not stacked by design: the general two-level FIML
    if missing == "fiml":
        side, side_of = data_sides(y[:, :p_y], ov[:p_y], scattered=True)
        some = ~np.isnan(y[:, :p_y]).all(axis=1)
        # beyond the design: values missing in one side's rows, or between-only values missing
        scattered = side is None or bool(((side < 0) & some).any()) or bool(np.isnan(y[:, p_y:]).any())
        if scattered:
            _check_scattered_supported(robust, table_b, ov, y, p_y)
            # lavaan leaves out the rows without a level-1 value ("empty cases") only
            ok = ~np.isnan(y[:, :p_y]).all(axis=1) & pd.notna(cl)
        else:
            ok = (side >= 0) & ~np.isnan(y[:, p_y:]).any(axis=1) & pd.notna(cl)
    elif missing == "listwise":
        ok = ~np.isnan(y).any(axis=1) & pd.notna(cl)
    else:
        raise ModelSpecificationError(f"missing='{missing}' is not a two-level option", where="fit(missing=...)",
                                      fix="use 'listwise', or 'fiml' for samples stacked by design")
    if (~ok).any():
        what = "cases without a level-1 value" if scattered else "cases with missing values"
        warnings_out.append(f"listwise deletion dropped {int((~ok).sum())} of {len(ok)} {what} "
                            f"(or no cluster); {int(ok.sum())} used")
    y, cl = y[ok], cl[ok]
    _check_between_only(y[:, p_y:], cl, ov[p_y:])
    if scattered:
        cs = ClusterMissing.of(y[:, :p_y], y[:, p_y:], cl, side_of)
        if cs.n_sides > 1:
            _check_every_side(cl, cs.row_side(), [", ".join(ov[i] for i in np.flatnonzero(side_of == s))
                                                  for s in range(side_of.max() + 1)])
    else:
        if side is not None:
            side = side[ok]
            _check_every_side(cl, side, [", ".join(ov[i] for i in np.flatnonzero(side_of == s))
                                         for s in range(side_of.max() + 1)])
        cs = ClusterStats.of(y[:, :p_y], y[:, p_y:], cl, side, side_of)
    if cs.n_sides > 1:
        ndat -= p_y * (p_y + 1) // 2 - sum(len(b) * (len(b) + 1) // 2 for b in cs.side_blocks())
    if cs.J < 2 or cs.n <= cs.J:
        raise DataError(f"{cs.n} cases in {cs.J} clusters: too few for a two-level model", where="data",
                        fix="collect more clusters")
    st_w = table_w.structure
    w_own = [list(st_w.ov).index(v) for v in ov[:p_y]]
    own = [ov.index(v) for v in st_b.ov]
    wo_stat = [i for i in range(p_y) if ov[i] not in st_b.ov]
    est = TwoLevelEstimator(table_w, table_b, cs, w_own, own, wo_stat, tie)
    if table_b.fixed_exo:  # fixed.x: between-only covariates at their moments over the clusters
        est.model_b.set_sample([GroupStats(cs.J, cs.grand_mean[own], cs.between_cov[np.ix_(own, own)], y)])
    npar = est.npar
    if npar > ndat:
        raise ModelSpecificationError(f"the model is not identified: {npar} free parameters but only {ndat} "
                                      "sample moments", where="model", fix="remove parameters or add constraints")
    if cs.n_sides > 1:
        _check_sides_apart(est, cs, ov)
    s_w0 = cs.within / np.minimum.outer(cs.within_df(), cs.within_df())
    var_b = np.diag(cs.between_cov).copy()
    var_b[:p_y] = np.maximum(var_b[:p_y] - np.diag(s_w0) * cs.J / cs.n_side[cs.side_of], 0.05 * var_b[:p_y])
    w_stat = [ov.index(v) for v in st_w.ov]   # the within model's variables in the statistics' order
    g_w = GroupStats(cs.n, cs.grand_mean[w_stat], s_w0[np.ix_(w_stat, w_stat)], y)
    g_b = GroupStats(cs.J, cs.grand_mean[own], np.diag(var_b[own]), y)
    x0 = np.zeros(est.npar)  # tied parameters start at the between model's start value
    x0[est.map_w] = start_values(table_w, [g_w])
    x0[est.map_b] = start_values(table_b, [g_b])
    # L-BFGS to the neighbourhood of the optimum, then Newton steps on the observed information
    # (quadratic convergence); where those stall, L-BFGS again from the best point so far (a
    # fresh memory: its line search can stop early next to a region where the model's
    # matrices are not positive definite) and Newton again, up to RESTARTS times
    loose = {"maxiter": 3_000, "maxfun": 6_000, "ftol": 1e-12, "gtol": 1e-5, "maxcor": 30}
    tight = {"maxiter": 20_000, "maxfun": 40_000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 30}
    res = optimize.minimize(est.objective, x0, jac=True, method="L-BFGS-B", options=loose)
    x, hess = _newton(est, res.x, 15)
    for attempt in range(RESTARTS):
        if np.max(np.abs(est.objective(x)[1])) < NEWTON_GRADIENT:
            break
        res = optimize.minimize(est.objective, x, jac=True, method="L-BFGS-B",
                                options=tight if attempt == RESTARTS - 1 else loose)
        if res.fun < est.objective(x)[0]:
            x, hess = _newton(est, res.x, 15)
    f, g = est.objective(x)
    # the one-level criterion (gradient of F_ML ~ 2 logl / N below CONVERGED_GRADIENT) on -logl / N
    converged = bool(f < 1e9 and np.max(np.abs(g)) < CONVERGED_GRADIENT / 2)
    if not converged:
        warnings_out.append(f"ConvergenceWarning: the optimiser did not converge ({res.message}); "
                            "estimates are not trustworthy")
    try:
        vcov = np.linalg.inv(hess)
        if np.any(np.diag(vcov) < 0):
            raise np.linalg.LinAlgError
        if robust:
            scores = est.scores(x)
            first_order = scores.T @ scores
            trace_h0 = float(np.trace(vcov @ first_order))
            vcov = vcov @ first_order @ vcov
    except np.linalg.LinAlgError:
        vcov = np.full((npar, npar), np.nan)
        warnings_out.append("the observed information is singular: the model may not be identified; "
                            "no standard errors")
    # fixed.x: conditional on the between-only covariates, less their saturated logl over the clusters
    fixed = [ov.index(v) for v in table_b.fixed_exo]
    logl_x = saturated_loglik(cs.J, cs.between_cov[np.ix_(fixed, fixed)]) if fixed else 0.0
    logl = est.loglik(x) - logl_x
    measures = _fit_measures(est, cs, x, logl, npar, ndat, ov, table_w, table_b, logl_x, trace_h0,
                             fiml=missing == "fiml")
    estimates = _estimate_table(est, x, vcov, definitions)
    if monte_carlo:
        draws = monte_carlo_std(est, x, vcov, definitions, monte_carlo, seed)
        estimates = _with_std_intervals(estimates, draws)
        improper = int(np.isnan(draws).any(axis=1).sum())
        if improper:
            warnings_out.append(f"{improper} of {monte_carlo} Monte Carlo draws gave a negative variance; their "
                                "standardized values there are left out of the intervals")
    warnings_out.extend(_heywood(est, x))
    r2 = pd.concat([r_squared(est.model_w, est.parts(x)[0], ("",)), r_squared(est.model_b, est.parts(x)[1], ("",))],
                   keys=["within", "between"], names=["level", "variable"])
    measures["nclusters"] = float(cs.J)
    if cs.n_sides > 1:
        measures["nsides"] = float(cs.n_sides)
    return SEMResult(estimates, measures, r2, converged, tuple(warnings_out), cs.n, {"": cs.n}, ("",), model,
                     missing, None, None)


#: Restarts of L-BFGS (each followed by Newton steps) when the Newton steps stall.
RESTARTS = 4

#: Largest gradient element of ``-logl / N`` at which the Newton steps stop.
NEWTON_GRADIENT = 1e-11


def _newton(est: TwoLevelEstimator, x: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``steps`` Newton steps ``-H^-1 g`` on the observed information, each halved until
    it improves the likelihood; stops at a gradient below :data:`NEWTON_GRADIENT` or a step
    that no halving makes better. Where ``H`` is not positive definite (away from the
    optimum) the step uses ``H`` with its eigenvalues replaced by their absolute values
    (floored at 1e-8 of the largest), a descent direction that also leaves saddle regions
    (Nocedal & Wright 2006, sec. 3.4). Returns ``(x, H)``."""
    hess = est.hessian(x)
    for _ in range(steps):
        f, g = est.objective(x)
        if np.max(np.abs(g)) < NEWTON_GRADIENT:
            break
        try:
            ev, vec = np.linalg.eigh((hess + hess.T) / (2 * est.cs.n))
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(ev)) or ev.max() <= 0:
            break
        ev = np.maximum(np.abs(ev), 1e-8 * ev.max())
        step = -(vec / ev) @ (vec.T @ g)
        for _ in range(12):
            if est.objective(x + step)[0] <= f + 1e-14:
                break
            step /= 2
        else:
            break
        x = x + step
        hess = est.hessian(x)
    return x, hess


def data_sides(y: np.ndarray, names: list[str], *, scattered: bool = False) -> tuple[np.ndarray | None, np.ndarray]:
    """The sides of stacked level-1 data: ``(side of each row, side of each variable)``.

    Two variables are on the same side when some row has both; a row belongs to the side of
    its values (-1: no value, or some of its side's values missing, so left out). Raises
    :class:`ModelSpecificationError` when the variables form one side while values are
    missing (not stacked by design), or with ``scattered`` returns ``(None, side_of)`` then:
    :func:`fit_twolevel` fits those data by the general two-level FIML
    (:mod:`analysis.sem.twolevel_missing`)."""
    observed = ~np.isnan(y)
    p = y.shape[1]
    together = DisjointSets()
    for pattern in missing_patterns(observed):
        cols = np.flatnonzero(pattern)
        for c in cols[1:]:
            together.union(int(cols[0]), int(c))
    roots: dict[int, int] = {}
    side_of = np.array([roots.setdefault(together.find(i), len(roots)) for i in range(p)], dtype=int)
    if len(roots) == 1:
        if observed.all():
            return np.zeros(len(y), dtype=int), side_of
        if scattered:
            return None, side_of
        raise ModelSpecificationError(
            "two-level FIML is supported for samples stacked by design only (each row answers its own set of "
            f"variables, e.g. employees and customers of the same units); here {int((~observed.all(axis=1)).sum())} "
            "rows miss some values of variables that other rows have together",
            where="fit(missing='fiml', cluster=...)", fix="use missing='listwise', or impute the missing values")
    side = np.full(len(y), -1, dtype=int)
    for s in range(len(roots)):
        mine = side_of == s
        complete = observed[:, mine].all(axis=1) & ~observed[:, ~mine].any(axis=1)
        side[complete] = s
    return side, side_of


def _check_scattered_supported(robust: bool, table_b: ParameterTable, ov: list[str], y: np.ndarray,
                               p_y: int) -> None:
    """What the general two-level FIML (missing values not stacked by design) refuses: MLR
    (no cluster scores of that likelihood yet) and fixed between-only covariates with missing
    values (lavaan's fixed.x needs them observed)."""
    if robust:
        raise ModelSpecificationError(
            "MLR (cluster-robust standard errors) is not supported with two-level FIML of missing values that are "
            "not stacked by design", where="fit(estimator='MLR', missing='fiml', cluster=...)",
            fix="use estimator='ML' (observed-information standard errors), or missing='listwise'")
    for v in table_b.fixed_exo:
        if np.isnan(y[:, ov.index(v)]).any():
            raise ModelSpecificationError(
                f"the between-only covariate '{v}' has missing values and is fixed (fixed_x=True)",
                where="fit(fixed_x=..., missing='fiml', cluster=...)",
                fix="pass fixed_x=False to model it (its missing values then enter the likelihood)")


def _check_every_side(cluster: np.ndarray, side: np.ndarray, names: list[str]) -> None:
    """Every cluster needs a row on every side (its side means are part of the cluster vector)."""
    codes, labels = pd.factorize(cluster)
    present = np.zeros((len(labels), len(names)), dtype=bool)
    present[codes, side] = True
    for s, name in enumerate(names):
        if not present[:, s].all():
            lacking = [str(c) for c in labels[~present[:, s]]]
            raise DataError(f"{len(lacking)} cluster(s) have no row with {name} (e.g. {', '.join(lacking[:3])})",
                            where="fit(missing='fiml', cluster=...)",
                            fix="leave out the clusters without both samples")


def _check_sides_apart(est: TwoLevelEstimator, cs: ClusterStats, ov: list[str]) -> None:
    """A within parameter that acts only between sides (a covariance of variables that no row
    has together) is not identified: refuse it, naming the parameter."""
    p = est.table_w.structure.ov
    xw = start_values(est.table_w, [GroupStats(cs.n, np.zeros(len(p)), np.eye(len(p)), np.zeros((1, len(p))))])
    base = est.model_w.implied(xw, 0).sigma[np.ix_(est.w_own, est.w_own)]
    same = np.equal.outer(cs.side_of, cs.side_of)
    for row in est.table_w.rows:
        if row.pid < 0:
            continue
        step = np.zeros_like(xw)
        step[row.pid] = 0.1
        change = np.abs(est.model_w.implied(xw + step, 0).sigma[np.ix_(est.w_own, est.w_own)] - base)
        if change[~same].max(initial=0.0) > 1e-12 and change[same].max(initial=0.0) <= 1e-12:
            raise ModelSpecificationError(
                f"'{row.lhs} {row.op} {row.rhs}' at level 1 links variables that no row has together",
                where="model syntax, level 1",
                fix=f"fix it at zero ('{row.lhs} {row.op} 0*{row.rhs}'): the sides are different respondents")


def _check_between_only(z: np.ndarray, cluster: np.ndarray, names: list[str]) -> None:
    """A between-only variable must be constant within each cluster."""
    if not names:
        return
    codes, _ = pd.factorize(cluster)
    first = np.zeros((codes.max() + 1, z.shape[1]))
    first[codes[::-1]] = z[::-1]
    if np.isnan(z).any():  # the first observed value (two-level FIML: missing values are left alone)
        for k in range(z.shape[1]):
            seen = ~np.isnan(z[:, k])
            first[codes[seen][::-1], k] = z[seen, k][::-1]
    varies = np.abs(z - first[codes]) > 1e-9 * np.maximum(1.0, np.abs(z))
    for j, name in enumerate(names):
        if varies[:, j].any():
            raise DataError(f"'{name}' is named at level 2 only but varies within clusters",
                            where=f"data column '{name}'",
                            fix="name it at level 1 as well, or give it one value per cluster")


def _force_pd(s: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """lavaan's ``lav_matrix_symmetric_force_pd``: eigenvalues below ``tol`` times the largest raised to it."""
    if s.shape[0] == 1:
        return np.maximum(s, tol)
    ev, vec = np.linalg.eigh(s)
    top = abs(ev[-1])
    ev = np.where(ev / top < tol, tol * top, ev)
    return (vec * ev) @ vec.T


def _cor(s: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(s))
    return s / np.outer(d, d)


def _srmr_level(sample: np.ndarray, implied: np.ndarray, observed: np.ndarray | None = None) -> float:
    """lavaan's two-level SRMR of one level: residual correlations, no means, over p(p+1)/2
    (with sides: over the entries of variables some row has together)."""
    p = sample.shape[0]
    if not np.all(np.diag(implied) > 0):
        return float("nan")
    r = _cor(sample) - _cor(implied)
    keep = np.tril(np.ones((p, p), dtype=bool) if observed is None else observed)
    return math.sqrt(float(np.sum(r[keep] ** 2)) / keep.sum())


def _fit_measures(est: TwoLevelEstimator, cs: ClusterStats, x: np.ndarray, logl: float, npar: int, ndat: int,
                  ov: list[str], table_w: ParameterTable, table_b: ParameterTable,
                  logl_x: float = 0.0, trace_h0: float | None = None, fiml: bool = False) -> dict[str, float]:
    """lavaan's ``fitMeasures`` of a two-level model (see the module docstring); with
    ``trace_h0 = tr(A_0^-1 B_0)`` of the model (MLR) also the Yuan-Bentler scaled test
    (lavaan ``test = "yuan.bentler.mplus"``, MLR's default): ``c = [tr(A_1^-1 B_1) -
    tr(A_0^-1 B_0)] / df`` with ``A_1``, ``B_1`` the unrestricted model's observed and
    first-order information at its estimates (:func:`robust_trace`), ``chisq_scaled =
    chisq / c`` (Yuan & Bentler 2000; Asparouhov & Muthén 2005); the baseline's the same way,
    ``c_0 = [tr(A_1^-1 B_1) - tr(A_b^-1 B_b)] / df_0`` with ``A_b``, ``B_b`` the independence
    model's (free variances at both levels, the exogenous covariates' covariances, the means;
    lavaan ``lav_object_independence``) at its ML estimates, and from both the scaled and
    robust CFI, TLI and RMSEA (:func:`analysis.sem.fit_measures.mlr_fit_measures`). With
    ``fiml`` (``missing="fiml"``) the baseline's scaled test, the scaled CFI/TLI and the robust
    indices are NaN, as lavaan 0.6.14 with ``missing = "ml"`` leaves the baseline's scaling
    factor and the robust indices NA for two-level models (its ``cfi.scaled`` there puts the
    unscaled baseline statistic against the scaled one of the model: not copied)."""
    p_y, q = cs.p_y, len(ov)
    bs = sorted(int(i) for i in est.b_stat)   # the variables with a between part
    h1_blocks = [list(b) for b in cs.side_blocks()], [bs]
    if len(est.wo_stat) or cs.n_sides > 1 or isinstance(cs, ClusterMissing):
        # within-only variables, sides, or scattered missing values: the ML of the saturated model
        logl_h1, sw_h1, sb_h1, mu_h1 = fit_blocks(cs, *h1_blocks)
    else:  # lavaan's EM, with its stopping rule
        logl_h1, sw_h1, sb_h1, mu_h1 = em_saturated(cs)
    logl_h1 -= logl_x

    def independence(indices: list[int], exo_names: list[str]) -> list[list[int]]:
        exo = [i for i in indices if ov[i] in exo_names]
        return [[i] for i in indices if i not in exo] + ([exo] if exo else [])

    blocks_w = independence(list(range(p_y)), table_w.structure.exo_x)
    blocks_b = independence(bs, table_b.structure.exo_x)
    logl_b, sw_b, sb_b, mu_b = fit_blocks(cs, blocks_w, blocks_b)
    logl_b -= logl_x
    k = len(table_b.fixed_exo)
    base_npar = sum(len(b) * (len(b) + 1) // 2 for b in blocks_w + blocks_b) + q - k * (k + 3) // 2
    df, base_df = ndat - npar, ndat - base_npar
    chisq = max(2 * (logl_h1 - logl), 0.0)
    base_chisq = max(2 * (logl_h1 - logl_b), 0.0)
    _, _, s_w, s_b, _ = est.moments(x)
    # lavaan forces the implied between matrix positive definite first (a Heywood case changes it)
    srmr_w = _srmr_level(sw_h1, s_w, np.equal.outer(cs.side_of, cs.side_of))
    srmr_b = _srmr_level(sb_h1[np.ix_(bs, bs)], _force_pd(s_b[np.ix_(bs, bs)]))
    out = {**likelihood_measures(chisq=chisq, df=df, baseline_chisq=base_chisq, baseline_df=base_df, logl=logl,
                                 logl_h1=logl_h1, npar=npar, n=cs.n),
           "srmr": srmr_w + srmr_b, "srmr_within": srmr_w, "srmr_between": srmr_b}
    if trace_h0 is not None and df > 0:
        fixed = [ov.index(v) for v in table_b.fixed_exo]  # fixed.x: the between-only covariates' moments
        trace_h1 = robust_trace(cs, sw_h1, sb_h1, mu_h1, *h1_blocks, fixed)
        # lavaan 0.6.14 with missing = "ml" (two-level FIML) has no scaled baseline test (NA scaling
        # factor): NaN here too, and so the baseline-based scaled and robust indices
        trace_b = float("nan") if fiml else robust_trace(cs, sw_b, sb_b, mu_b, blocks_w, blocks_b, fixed)
        out.update(mlr_fit_measures(chisq=chisq, df=df, trace_ugamma=trace_h1 - trace_h0, baseline_chisq=base_chisq,
                                    baseline_df=base_df, baseline_trace_ugamma=trace_h1 - trace_b, n=cs.n,
                                    robust=not fiml))
    return out


def _labels(est: TwoLevelEstimator, values_w: np.ndarray, values_b: np.ndarray) -> dict[str, float]:
    return {**label_values(est.table_w, values_w), **label_values(est.table_b, values_b)}


def _defined_rows(est: TwoLevelEstimator, x: np.ndarray, vcov: np.ndarray, definitions: ModelSyntax) -> pd.DataFrame:
    """The ``:=`` rows (level 0, as lavaan): values, delta-method SEs over both levels' parameters
    (numeric Jacobian), std_all at the standardized labels."""

    def values(xx: np.ndarray) -> np.ndarray:
        xw, xb = est.parts(xx)
        return defined_values(definitions, _labels(est, est.model_w.row_values(xw), est.model_b.row_values(xb)))

    labelled = sorted({r.pid for r in est.table_w.rows if r.label and r.pid >= 0}
                      | {int(est.map_b[r.pid]) for r in est.table_b.rows if r.label and r.pid >= 0})
    dvals, se = delta_method(values, x, labelled, vcov)
    xw, xb = est.parts(x)
    std = defined_values(definitions, _labels(est, Standardizer(est.table_w)(est.model_w, xw),
                                              Standardizer(est.table_b)(est.model_b, xb)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, dvals / se, np.nan)
    defs = definitions.definitions
    return pd.DataFrame({"lhs": [d.name for d in defs], "op": ":=",
                         "rhs": [d.expression.replace("**", "^") for d in defs], "group": "",
                         "label": [d.name for d in defs], "est": dvals, "se": se, "z": z,
                         "pvalue": 2 * stats.norm.sf(np.abs(z)), "ci_lower": dvals - _Z975 * se,
                         "ci_upper": dvals + _Z975 * se, "std_all": std, "level": 0})


def _estimate_table(est: TwoLevelEstimator, x: np.ndarray, vcov: np.ndarray,
                    definitions: ModelSyntax | None = None) -> pd.DataFrame:
    """The estimate table with a ``level`` column (1 within, 2 between; 0 for ``:=``), std_all per level."""
    frames = []
    se_all = np.sqrt(np.maximum(np.diag(vcov), 0)) if np.all(np.isfinite(vcov)) else np.full(len(x), np.nan)
    for level, (table, model, xl, sel) in enumerate(
            ((est.table_w, est.model_w, x[est.map_w], est.map_w),
             (est.table_b, est.model_b, x[est.map_b], est.map_b)), start=1):
        rows = table.rows
        values = model.row_values(xl)
        se_l = se_all[sel]
        se = np.array([se_l[r.pid] if r.pid >= 0 else 0.0 for r in rows])
        std = Standardizer(table)(model, xl)
        free = np.array([r.pid >= 0 for r in rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(free & (se > 0), values / se, np.nan)
        frames.append(pd.DataFrame({
            "lhs": [r.lhs for r in rows], "op": [r.op for r in rows], "rhs": [r.rhs for r in rows],
            "group": "", "label": [r.label for r in rows], "est": values, "se": se, "z": z,
            "pvalue": 2 * stats.norm.sf(np.abs(z)), "ci_lower": values - _Z975 * se, "ci_upper": values + _Z975 * se,
            "std_all": std, "level": level}))
    if definitions is not None and definitions.definitions:
        frames.append(_defined_rows(est, x, vcov, definitions))
    return pd.concat(frames, ignore_index=True)[[*ESTIMATE_COLUMNS, "level"]]


def _heywood(est: TwoLevelEstimator, x: np.ndarray) -> list[str]:
    out = []
    for name, model, xl in (("within", est.model_w, x[est.map_w]), ("between", est.model_b, x[est.map_b])):
        imp = model.implied(xl, 0)
        st = model.table.structure
        neg = [v for i, v in enumerate(st.ov) if imp.theta[i, i] < 0]
        neg += [v for i, v in enumerate(st.eta) if imp.psi[i, i] < 0]
        if neg:
            out.append(f"negative variance estimates (Heywood case) at the {name} level: {', '.join(neg)}; "
                       "the solution is improper")
    return out


def monte_carlo_std(est: TwoLevelEstimator, x: np.ndarray, vcov: np.ndarray, definitions: ModelSyntax,
                    draws: int, seed: int | None) -> np.ndarray:
    """Monte Carlo draws of the standardized solution: ``draws x rows`` (rows as the estimate
    table: level 1, level 2, then ``:=``), each computed from parameters drawn from
    ``N(x, vcov)`` (the Monte Carlo method for functions of parameters such as indirect
    effects: MacKinnon, Lockwood & Williams 2004; Preacher & Selig 2012). NaN rows if
    ``vcov`` is unavailable.

    Std_all is a function of the parameters, ``b * sd(x) / sd(y)`` at each level, and an
    indirect effect the product of its paths' std_all; their draws are those functions of
    the drawn parameters, whose percentiles are the interval.

    Positive variances are drawn on the log scale, ``log v ~ N(log v_hat, se^2 / v_hat^2)``
    (the delta method, with their covariances with the other parameters scaled alike), so a
    drawn variance is positive and right-skewed like its sampling distribution, rather than
    symmetric about the estimate (the log-scale interval for variance components:
    Raudenbush & Bryk 2002, ch. 3; Pinheiro & Bates 2000, sec. 2.4.3). With few clusters the
    symmetric draw understates how small a between-level standardized path can be."""
    std_w, std_b = Standardizer(est.table_w), Standardizer(est.table_b)
    n_rows = len(est.table_w.rows) + len(est.table_b.rows) + len(definitions.definitions)
    if not np.all(np.isfinite(vcov)):
        return np.full((max(draws, 1), n_rows), np.nan)
    out = np.empty((draws, n_rows))
    for d, xx in enumerate(draw_parameters(x, vcov, _variance_parameters(est), draws, np.random.default_rng(seed))):
        xw, xb = est.parts(xx)
        sw, sb = std_w(est.model_w, xw), std_b(est.model_b, xb)
        defined = defined_values(definitions, _labels(est, sw, sb)) if definitions.definitions else []
        out[d] = np.concatenate([sw, sb, defined])
    out[~np.isfinite(out)] = np.nan  # a draw with a negative variance has no standardized value there
    return out


def draw_parameters(x: np.ndarray, vcov: np.ndarray, variances: np.ndarray, draws: int,
                    rng: np.random.Generator) -> np.ndarray:
    """``draws x len(x)`` parameter vectors from the estimates' sampling distribution, the
    positive variances among ``variances`` (indices) on the log scale.

    With ``D = diag(d)``, ``d_i = x_i`` for a logged variance and 1 otherwise, the draws are
    ``z ~ N(c, D^-1 V D^-1)`` with ``c_i = log x_i`` where logged (else ``x_i``), and
    ``exp(z_i)`` where logged: by the delta method ``se(log v) = se(v) / v``, and every
    covariance scaled alike (Raudenbush & Bryk 2002, ch. 3)."""
    logged = variances[x[variances] > 0]
    scale = np.ones(len(x))
    scale[logged] = x[logged]
    centre = x.copy()
    centre[logged] = np.log(x[logged])
    scaled = vcov / np.outer(scale, scale)
    ev, vec = np.linalg.eigh((scaled + scaled.T) / 2)
    root = vec * np.sqrt(np.maximum(ev, 0.0))
    out = centre + rng.standard_normal((draws, len(x))) @ root.T
    out[:, logged] = np.exp(out[:, logged])
    return out


def _variance_parameters(est: TwoLevelEstimator) -> np.ndarray:
    """Joint indices of the free variances (``x ~~ x``) of either level."""
    found = {int(mapping[row.pid]) for table, mapping in ((est.table_w, est.map_w), (est.table_b, est.map_b))
             for row in table.rows if row.free and row.op == "~~" and row.lhs == row.rhs and row.pid >= 0}
    return np.array(sorted(found), dtype=int)


def _with_std_intervals(estimates: pd.DataFrame, draws: np.ndarray) -> pd.DataFrame:
    """The estimate table with the standardized solution's Monte Carlo SD, interval and p-value."""
    sd, lower, upper = percentile_interval(draws)
    return estimates.assign(std_se=sd, std_ci_lower=lower, std_ci_upper=upper, std_pvalue=bootstrap_pvalue(draws))
