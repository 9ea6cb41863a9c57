"""Structural equation models by maximum likelihood, matching lavaan.

:func:`fit` takes lavaan model syntax (:mod:`analysis.syntax`) and a data frame and
returns an :class:`SEMResult` with lavaan's estimate table, fit measures
(:mod:`analysis.fit_measures`), standardized solution, R², modification indices and,
optionally, bootstrap percentile intervals. Multi-group models tie parameters by shared
labels or ``group_equal``; :func:`invariance` runs the configural -> metric -> scalar
sequence. ``missing="fiml"`` maximises the casewise (full-information) likelihood.

The estimator is implemented here with numpy/scipy (LISREL all-y representation);
semopy 2.3.11 gives the same single-group ML estimates (tests cross-check the two) but
lacks equality constraints across groups, defined parameters and a correct FIML
chi-square (measured on semopy 2.3.11; docs/statistics.md), so it is not the estimation core.

Model representation (lavaan's, Bollen 1989 ch. 8)::

    eta   = alpha + B eta + zeta,        Cov(zeta) = Psi
    x     = nu + Lambda eta + eps,       Cov(eps)  = Theta
    Sigma = Lambda A Psi A' Lambda' + Theta,   mu = nu + Lambda A alpha,   A = (I - B)^-1

Observed variables that take part in regressions become "phantom" latent variables
(loading 1, residual variance 0), as in lavaan.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import warnings as _warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats

from analysis import fit_measures as _fm
from analysis.errors import ConvergenceWarning, DataError, ModelSpecificationError
from analysis.fiml import IncompleteData, em_saturated
from analysis.syntax import ModelSyntax, parse_model
from analysis.threads import limit_blas_threads
from surveys.errors import did_you_mean

GROUP_EQUAL = ("loadings", "intercepts", "residuals", "residual.covariances", "lv.variances",
               "lv.covariances", "regressions", "means")
ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue",
                    "ci_lower", "ci_upper", "std_all"]
BOOTSTRAP_STD_COLUMNS = ["std_se", "std_ci_lower", "std_ci_upper"]
_MATRICES = ("lambda", "beta", "psi", "theta", "nu", "alpha")
_SYMMETRIC = {"psi", "theta"}


# --------------------------------------------------------------------------- specification
@dataclass
class _Row:
    lhs: str
    op: str
    rhs: str
    group: int
    matrix: str
    r: int
    c: int
    free: bool
    value: float            # fixed value, or start value of a free parameter
    label: str = ""
    user: bool = False
    category: str = ""
    fixed_x: str = ""       # "cov" / "mean": fixed at the sample moment (fixed.x = TRUE)
    pid: int = -1
    start_given: bool = False


@dataclass
class _Structure:
    ov: list[str]
    eta: list[str]
    latent: list[str]
    phantom: list[str]
    exo_x: list[str]
    endogenous: list[str]


def _structure(syntax: ModelSyntax) -> _Structure:
    latent = list(syntax.latent_names)
    ov = [v for v in syntax.variable_names if v not in latent]
    reg = [s for s in syntax.statements if s.op == "~" and s.rhs != "1"]
    phantom = {v for s in reg for v in (s.lhs, s.rhs) if v in ov}
    indicators = {s.rhs for s in syntax.statements if s.op == "=~"}
    changed = True
    while changed:  # a covariance between a phantom/latent and an indicator makes both phantom
        changed = False
        for s in syntax.statements:
            if s.op == "~~" and s.lhs != s.rhs:
                a, b = s.lhs, s.rhs
                eta_like = [v in phantom or v in latent for v in (a, b)]
                if any(eta_like) and not all(eta_like):
                    phantom.update(v for v in (a, b) if v in ov)
                    changed = True
    dependents = {s.lhs for s in reg}
    exo_x = [v for v in ov if v in phantom and v not in dependents and v not in indicators]
    endogenous = [v for v in latent + [o for o in ov if o in phantom]
                  if v in dependents or (v in indicators and (v in latent or v in phantom))]
    phantom_list = [v for v in ov if v in phantom]
    return _Structure(ov, latent + phantom_list, latent, phantom_list, exo_x, endogenous)


def _modifier(values: tuple, g: int, n_groups: int, stmt) -> Any:
    if len(values) == 1:
        return values[0]
    if len(values) != n_groups:
        raise ModelSpecificationError(
            f"c(...) has {len(values)} values but there are {n_groups} groups",
            where=f"model syntax line {stmt.line}: {stmt.lhs} {stmt.op} {stmt.rhs}",
            fix="give one value per group (or a single value for all groups)")
    return values[g]


def _build_rows(syntax: ModelSyntax, st: _Structure, n_groups: int, meanstructure: bool,
                group_equal: tuple[str, ...]) -> list[_Row]:
    """lavaan's parameter table (``lavaanify`` with the defaults of ``sem()``)."""
    eta_i = {v: i for i, v in enumerate(st.eta)}
    ov_i = {v: i for i, v in enumerate(st.ov)}
    rows: list[_Row] = []
    for g in range(n_groups):
        seen: set[tuple[str, str, str]] = set()
        first_indicator: dict[str, str] = {}
        for s in syntax.statements:
            fixed = _modifier(s.fixed, g, n_groups, s)
            label = _modifier(s.label, g, n_groups, s) or ""
            start = _modifier(s.start, g, n_groups, s)
            free_flag = _modifier(s.free, g, n_groups, s)
            key = (s.lhs, "~1", "") if (s.op == "~" and s.rhs == "1") else (s.lhs, s.op, s.rhs)
            if s.op == "~~" and (s.rhs, s.op, s.lhs) in seen:
                key = (s.rhs, s.op, s.lhs)
            if key in seen:
                raise ModelSpecificationError(f"'{s.lhs} {s.op} {s.rhs}' is specified twice",
                                              where=f"model syntax line {s.line}", fix="remove one of them")
            seen.add(key)
            if s.op == "=~":
                if s.rhs in st.latent or s.rhs in st.phantom:
                    mat, r, c, cat = "beta", eta_i[s.rhs], eta_i[s.lhs], "loadings"
                else:
                    mat, r, c, cat = "lambda", ov_i[s.rhs], eta_i[s.lhs], "loadings"
                default_fixed = s.lhs not in first_indicator
                first_indicator.setdefault(s.lhs, s.rhs)
                value = 1.0
            elif s.op == "~" and s.rhs == "1":
                if s.lhs in eta_i:
                    mat, r, c = "alpha", eta_i[s.lhs], 0
                    cat = "means" if s.lhs in st.latent else "intercepts"
                else:
                    mat, r, c, cat = "nu", ov_i[s.lhs], 0, "intercepts"
                default_fixed, value = False, 0.0
            elif s.op == "~":
                mat, r, c, cat = "beta", eta_i[s.lhs], eta_i[s.rhs], "regressions"
                default_fixed, value = False, 0.0
            else:  # ~~
                if s.lhs in eta_i and s.rhs in eta_i:
                    mat, r, c = "psi", eta_i[s.lhs], eta_i[s.rhs]
                    lat = s.lhs in st.latent
                    cat = ("lv.variances" if lat else "residuals") if s.lhs == s.rhs else \
                        ("lv.covariances" if lat else "residual.covariances")
                else:
                    mat, r, c = "theta", ov_i[s.lhs], ov_i[s.rhs]
                    cat = "residuals" if s.lhs == s.rhs else "residual.covariances"
                default_fixed, value = False, (0.0 if s.lhs != s.rhs else 1.0)
            is_free = free_flag or (fixed is None and not (default_fixed and s.op == "=~"))
            if fixed is not None:
                value = fixed
            if start is not None:
                value = start
            rows.append(_Row(key[0], key[1], key[2], g, mat, r, c, bool(is_free), float(value), label, True,
                             cat, start_given=start is not None))
        have = {(r.lhs, r.op, r.rhs) for r in rows if r.group == g}

        def add(lhs, op, rhs, mat, r, c, free, value, cat, fixed_x=""):
            if (lhs, op, rhs) in have or (op == "~~" and (rhs, op, lhs) in have):
                return
            have.add((lhs, op, rhs))
            rows.append(_Row(lhs, op, rhs, g, mat, r, c, free, value, "", False, cat, fixed_x))

        # residual variances of observed variables (not fixed-x covariates)
        for v in st.ov:
            if v in st.exo_x:
                continue
            if v in st.phantom:
                add(v, "~~", v, "psi", eta_i[v], eta_i[v], True, 1.0, "residuals")
            else:
                add(v, "~~", v, "theta", ov_i[v], ov_i[v], True, 1.0, "residuals")
        # latent variances and covariances among exogenous latents
        for v in st.latent:
            add(v, "~~", v, "psi", eta_i[v], eta_i[v], True, 0.05, "lv.variances")
        exo_lv = [v for v in st.latent if v not in st.endogenous]
        for i, a in enumerate(exo_lv):
            for b in exo_lv[i + 1:]:
                add(a, "~~", b, "psi", eta_i[a], eta_i[b], True, 0.0, "lv.covariances")
        # auto.cov.y: residual covariances among dependent variables that predict nothing
        predictors = {s.rhs for s in syntax.statements if s.op == "~"}
        ys = [v for v in st.endogenous if v not in predictors
              and any(s.op == "~" and s.lhs == v and s.rhs != "1" for s in syntax.statements)]
        for i, a in enumerate(ys):
            for b in ys[i + 1:]:
                add(a, "~~", b, "psi", eta_i[a], eta_i[b], True, 0.0,
                    "lv.covariances" if a in st.latent else "residual.covariances")
        # fixed.x: exogenous covariates at their sample moments
        for i, a in enumerate(st.exo_x):
            for b in st.exo_x[i:]:
                add(a, "~~", b, "psi", eta_i[a], eta_i[b], False, 0.0, "", "cov")
        if meanstructure:
            for v in st.ov:
                if v in st.exo_x:
                    add(v, "~1", "", "alpha", eta_i[v], 0, False, 0.0, "", "mean")
                elif v in st.phantom:
                    add(v, "~1", "", "alpha", eta_i[v], 0, True, 0.0, "intercepts")
                else:
                    add(v, "~1", "", "nu", ov_i[v], 0, True, 0.0, "intercepts")
            for v in st.latent:
                free = g > 0 and "intercepts" in group_equal and "means" not in group_equal
                add(v, "~1", "", "alpha", eta_i[v], 0, free, 0.0, "means")
    return rows


def _assign_parameters(rows: list[_Row], syntax: ModelSyntax, n_groups: int,
                       group_equal: tuple[str, ...]) -> int:
    """Give free rows parameter ids; shared labels, ``==`` and ``group_equal`` share one id."""
    parent: dict[int, int] = {}

    def find(i):
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_label: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if r.label:
            by_label.setdefault(r.label, []).append(i)
    for idx in by_label.values():
        for j in idx[1:]:
            union(idx[0], j)
    by_key: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        if r.group == 0:
            by_key[(r.lhs, r.op, r.rhs)] = i
    for i, r in enumerate(rows):
        if r.group > 0 and r.free and not r.label and r.category in group_equal:
            j = by_key.get((r.lhs, r.op, r.rhs))
            if j is not None and rows[j].free:
                union(j, i)
    defined = {d.name for d in syntax.definitions}
    for con in syntax.constraints:
        for side in (con.lhs, con.rhs):
            if not _is_number(side) and side not in by_label and side not in defined:
                raise ModelSpecificationError(
                    f"equality constraint uses unknown label '{side}'.{did_you_mean(side, by_label)}",
                    where=f"model syntax line {con.line}", fix="label the parameter first, e.g. 'y ~ a*x'")
        if _is_number(con.lhs) or _is_number(con.rhs):
            label, number = (con.lhs, con.rhs) if _is_number(con.rhs) else (con.rhs, con.lhs)
            for i in by_label[label]:
                rows[i].free, rows[i].value = False, float(number)
        else:
            union(by_label[con.lhs][0], by_label[con.rhs][0])
    # a tied group with a fixed member is fixed at that value
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(find(i), []).append(i)
    pid = 0
    for members in sorted(groups.values(), key=min):
        fixed = [rows[i] for i in members if not rows[i].free]
        if fixed:
            for i in members:
                rows[i].free, rows[i].value, rows[i].pid = False, fixed[0].value, -1
            continue
        for i in members:
            rows[i].pid = pid
        pid += 1
    return pid


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- data
@dataclass
class _GroupData:
    n: int
    cases: IncompleteData        # sufficient statistics of the casewise likelihood
    mean: np.ndarray             # complete data: sample mean; FIML: EM estimate
    cov: np.ndarray              # complete data: sample covariance (/N); FIML: EM estimate
    raw: np.ndarray              # the rows used (for the bootstrap)


def _complete_group(x: np.ndarray) -> _GroupData:
    """Complete data: sample mean and biased covariance (the available-case moments)."""
    cases = IncompleteData(x)
    return _GroupData(x.shape[0], cases, cases.center, cases.a0 / x.shape[0], x)


def _incomplete_group(x: np.ndarray, *, tol: float = 1e-10) -> _GroupData:
    """Data with missing values: the casewise statistics and the EM (saturated) moments."""
    cases = IncompleteData(x)
    mu, sigma, _ = em_saturated(cases, tol=tol)
    return _GroupData(x.shape[0], cases, mu, sigma, x)


def _numeric_frame(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = {}
    for col in columns:
        series = data[col]
        if pd.api.types.is_bool_dtype(series):
            out[col] = series.astype(float)
            continue
        if not pd.api.types.is_numeric_dtype(series):
            converted = pd.to_numeric(series, errors="coerce")
            bad = series[converted.isna() & series.notna()]
            if len(bad):
                raise DataError(f"column '{col}' holds non-numeric values such as {bad.iloc[0]!r}",
                                where=f"data column '{col}' (row {bad.index[0]!r})",
                                fix="recode it to numbers or drop it from the model")
            series = converted
        out[col] = series.astype(float)
    return pd.DataFrame(out, index=data.index)


def _check_covariance(cov: np.ndarray, names: list[str], where: str) -> None:
    sd = np.sqrt(np.diag(cov))
    for name, v in zip(names, sd):
        if not v > 1e-12 * max(1.0, float(np.max(sd))):
            raise DataError(f"variable '{name}' is constant", where=where,
                            fix="drop it from the model (a constant item carries no information)")
    corr = cov / np.outer(sd, sd)
    eig = np.linalg.eigvalsh(corr)
    if eig[0] < 1e-10:
        upper = np.triu(np.abs(corr), 1)
        i, j = np.unravel_index(np.argmax(upper), upper.shape)
        raise DataError(f"the sample covariance matrix is singular (e.g. '{names[i]}' and '{names[j]}' "
                        f"correlate {corr[i, j]:.4f}; smallest eigenvalue {eig[0]:.2e})", where=where,
                        fix="drop duplicated or linearly dependent items, or collect more cases")


# --------------------------------------------------------------------------- engine
class _Engine:
    """Implied moments, ML/FIML discrepancy and its analytic gradient for a parameter vector."""

    def __init__(self, rows: list[_Row], st: _Structure, n_groups: int, npar: int, meanstructure: bool):
        self.rows, self.st, self.G, self.npar, self.meanstructure = rows, st, n_groups, npar, meanstructure
        self.p, self.m = len(st.ov), len(st.eta)
        p, m = self.p, self.m
        self.shapes = {"lambda": (p, m), "beta": (m, m), "psi": (m, m), "theta": (p, p), "nu": (p, 1),
                       "alpha": (m, 1)}
        self.templates = []
        self.free = []
        self.fixed_x = []
        for g in range(n_groups):
            tmpl = {k: np.zeros(s) for k, s in self.shapes.items()}
            tmpl["lambda"][[st.ov.index(v) for v in st.phantom], [st.eta.index(v) for v in st.phantom]] = 1.0
            free: dict[str, tuple[list, list]] = {k: ([], []) for k in _MATRICES}
            fx = []
            for r in rows:
                if r.group != g:
                    continue
                pos = [(r.r, r.c)] + ([(r.c, r.r)] if r.matrix in _SYMMETRIC and r.r != r.c else [])
                for (a, b) in pos:
                    flat = a * self.shapes[r.matrix][1] + b
                    if r.free:
                        free[r.matrix][0].append(flat)
                        free[r.matrix][1].append(r.pid)
                    else:
                        tmpl[r.matrix][a, b] = r.value
                if r.fixed_x:
                    fx.append(r)
            self.templates.append(tmpl)
            self.free.append({k: (np.array(v[0], dtype=int), np.array(v[1], dtype=int)) for k, v in free.items()})
            self.fixed_x.append(fx)
        self.eye_m = np.eye(m)
        self.has_beta = any(np.any(t["beta"]) for t in self.templates) or any(
            len(f["beta"][0]) for f in self.free)
        self.data: list[_GroupData] = []
        self.N = 0
        self.const = 0.0

    def set_data(self, data: list[_GroupData]) -> None:
        """Attach group data; fixed-x (co)variances and means are set to their sample values."""
        self.data = data
        self.N = sum(d.n for d in data)
        ov_i = {v: i for i, v in enumerate(self.st.ov)}
        for g, d in enumerate(data):
            for r in self.fixed_x[g]:
                if r.fixed_x == "cov":
                    val = d.cov[ov_i[r.lhs], ov_i[r.rhs]]
                    self.templates[g]["psi"][r.r, r.c] = self.templates[g]["psi"][r.c, r.r] = val
                else:
                    val = d.mean[ov_i[r.lhs]]
                    self.templates[g]["alpha"][r.r, 0] = val
                r.value = float(val)
        # constant so that the complete-data discrepancy is lavaan's F_ML (0 at the saturated model)
        self.const = 0.0
        for d in data:
            if d.cases.complete:
                self.const += d.n * (np.linalg.slogdet(d.cov)[1] + self.p) / self.N

    def matrices(self, x: np.ndarray, g: int) -> dict[str, np.ndarray]:
        out = {}
        for k in _MATRICES:
            mat = self.templates[g][k].copy()
            flat, pid = self.free[g][k]
            if len(flat):
                mat.flat[flat] = x[pid]
            out[k] = mat
        return out

    def implied(self, x: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray, dict]:
        mats = self.matrices(x, g)
        a = np.linalg.inv(self.eye_m - mats["beta"]) if self.has_beta else self.eye_m
        la = mats["lambda"] @ a
        sigma = la @ mats["psi"] @ la.T + mats["theta"]
        mu = (mats["nu"] + la @ mats["alpha"]).ravel()
        mats["A"], mats["LA"] = a, la
        return sigma, mu, mats

    def objective(self, x: np.ndarray, gradient: bool = True):
        """Discrepancy ``F = sum_g sum_i [log|Sigma_oo,i| + e_i' Sigma_oo,i^-1 e_i] / N - const``
        and its gradient.

        Notes
        -----
        The casewise kernel and the E-step come from :meth:`IncompleteData.estep`; by
        Fisher's identity the gradient with respect to the implied moments is the
        complete-data one at the expected sufficient statistics,
        ``dF/dSigma = (n K - K S^ K) / N`` and ``dF/dmu = -2 K e^ / N`` with
        ``K = Sigma^-1``, ``S^ = sum_i E[(x_i - mu)(x_i - mu)']`` and
        ``e^ = sum_i E[x_i - mu]`` (Arbuckle 1996; Enders 2010), then chained to the
        parameters through ``Sigma = L A Psi A' L' + Theta`` and ``mu = nu + L A alpha``.
        Without a mean structure ``mu`` is the sample mean of complete data.
        """
        f = 0.0
        grad = np.zeros(self.npar)
        for g, d in enumerate(self.data):
            sigma, mu, mats = self.implied(x, g)
            step = d.cases.estep(mu if self.meanstructure else d.mean, sigma)
            if step is None:
                return (1e10, grad) if gradient else 1e10
            f += step.deviance
            if not gradient:
                continue
            kinv = step.sigma_inv
            gs = (d.n * kinv - kinv @ step.cross_sum @ kinv) / self.N
            gm = -2 * kinv @ step.dev_sum / self.N
            lam, psi, a, la = mats["lambda"], mats["psi"], mats["A"], mats["LA"]
            mmat = a @ psi @ a.T
            aal = (a @ mats["alpha"]).ravel()
            gsl = gs @ lam
            gmat = {
                "lambda": 2 * gsl @ mmat + np.outer(gm, aal),
                "psi": la.T @ gs @ la,
                "beta": 2 * la.T @ gsl @ mmat + np.outer(la.T @ gm, aal),
                "theta": gs,
                "nu": gm[:, None],
                "alpha": (la.T @ gm)[:, None],
            }
            for k, (flat, pid) in self.free[g].items():
                if len(flat):
                    grad += np.bincount(pid, weights=gmat[k].flat[flat], minlength=self.npar)
        f = f / self.N - self.const
        return (f, grad) if gradient else f

    # moment jacobian (central differences; exact up to rounding for this bilinear model)
    def moment_jacobian(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for g in range(self.G):
            ds, dm = [], []
            for k in range(self.npar):
                h = 1e-6 * max(1.0, abs(x[k]))
                xp, xm = x.copy(), x.copy()
                xp[k] += h
                xm[k] -= h
                sp, mp, _ = self.implied(xp, g)
                sm, mm, _ = self.implied(xm, g)
                ds.append((sp - sm) / (2 * h))
                dm.append((mp - mm) / (2 * h))
            out.append((np.array(ds), np.array(dm)))
        return out

    def expected_information(self, x: np.ndarray, jac=None) -> np.ndarray:
        """Total expected information sum_g n_g [1/2 tr(S^-1 dS_k S^-1 dS_l) + dmu_k' S^-1 dmu_l]."""
        jac = jac or self.moment_jacobian(x)
        info = np.zeros((self.npar, self.npar))
        for g, d in enumerate(self.data):
            sigma, _, _ = self.implied(x, g)
            sinv = linalg.inv(sigma)
            lchol = np.linalg.cholesky(sinv)
            ds, dm = jac[g]
            v = (lchol.T @ ds @ lchol).reshape(self.npar, -1)
            part = 0.5 * v @ v.T
            if self.meanstructure:
                part += dm @ sinv @ dm.T
            info += d.n * part
        return info

    def observed_information(self, x: np.ndarray) -> np.ndarray:
        """Hessian of -logl = N/2 * Hessian of the discrepancy (central differences of the gradient)."""
        h_mat = np.zeros((self.npar, self.npar))
        for k in range(self.npar):
            h = 1e-5 * max(1.0, abs(x[k]))
            xp, xm = x.copy(), x.copy()
            xp[k] += h
            xm[k] -= h
            h_mat[:, k] = (self.objective(xp)[1] - self.objective(xm)[1]) / (2 * h)
        return self.N / 2 * (h_mat + h_mat.T) / 2


def _minimize(engine: _Engine, x0: np.ndarray, *, precise: bool = True) -> tuple[np.ndarray, bool, str, int]:
    """L-BFGS with the analytic gradient; ``precise=False`` (bootstrap refits from the point
    estimate) stops earlier, at changes far below the sampling error."""
    tol = {"ftol": 1e-15, "gtol": 1e-9, "maxcor": 20} if precise else {"ftol": 1e-11, "gtol": 1e-6, "maxcor": 10}
    res = optimize.minimize(engine.objective, x0, jac=True, method="L-BFGS-B",
                            options={"maxiter": 10_000, "maxfun": 20_000, **tol})
    x = res.x
    f, g = engine.objective(x)
    converged = bool(np.isfinite(f) and np.max(np.abs(g)) < 1e-4)
    return x, converged, str(res.message), int(res.nit)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SEMResult:
    """The fitted model: estimates, fit measures, R², modification indices.

    Attributes
    ----------
    estimates
        lavaan's ``parameterEstimates`` + ``standardizedSolution`` columns: lhs, op, rhs,
        group, label, est, se, z, pvalue, ci_lower, ci_upper, std_all (95% intervals:
        Wald, or bootstrap percentile with ``bootstrap > 0``); with ``bootstrap > 0`` also
        std_se, std_ci_lower, std_ci_upper (bootstrap SD and 95% percentile interval of
        ``std_all``).
    fit_measures
        lavaan's ``fitMeasures`` names (see :func:`analysis.fit_measures.fit_measures`).
    r2
        R² of every endogenous variable (lavaan ``inspect(fit, "r2")``).
    converged, warnings, nobs
        Convergence flag, warning messages (incl. cases dropped), cases used (per group in
        ``nobs_per_group``).
    """

    estimates: pd.DataFrame
    fit_measures: dict[str, float]
    r2: pd.Series
    converged: bool
    warnings: tuple[str, ...]
    nobs: int
    nobs_per_group: dict[str, int]
    groups: tuple[str, ...]
    model: str
    missing: str
    bootstrap_draws: pd.DataFrame | None = None
    _state: Any = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The estimate table (a copy)."""
        return self.estimates.copy()

    def modification_indices(self, *, minimum: float = 0.0) -> pd.DataFrame:
        """Modification indices of fixed-to-zero loadings and residual covariances.

        Returns
        -------
        DataFrame with lhs, op, rhs, group, mi, epc, sepc_all, sorted by ``mi``.

        Notes
        -----
        Score test with the expected information (Sörbom 1989; lavaan ``modindices``):
        for a fixed parameter j with score ``U_j`` (derivative of the log-likelihood) and
        ``V_j = I_jj - I_jf I_ff^-1 I_fj``, ``mi = U_j^2 / V_j`` and ``epc = U_j / V_j``;
        ``sepc_all`` standardizes the EPC like ``std_all``. Candidates are the loadings of
        every latent variable on every observed indicator and the residual covariances
        between indicators, per group. With FIML the complete-data expected information
        at the estimates is used (an approximation; lavaan uses the same default,
        ``information = "expected"``).
        """
        return _modification_indices(self, minimum)


_FUNCTIONS = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "abs": abs}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: math.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _safe_eval(expression: str, values: dict[str, float]) -> float:
    """Value of a ``:=`` expression at the given label values.

    The expression was checked by :func:`analysis.syntax.parse_model` (labels, numbers,
    ``+ - * / **``, ``sqrt exp log abs``); it is interpreted node by node in floating
    point, never ``eval``-ed, so ``9^9^9`` overflows at once instead of building a huge
    integer.
    """

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return float(values[node.id])
        if isinstance(node, ast.BinOp):
            return float(_BINARY[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](value(node.operand))
        if isinstance(node, ast.Call):
            return float(_FUNCTIONS[node.func.id](*[value(a) for a in node.args]))
        raise ValueError(f"unsupported element in '{expression}'")

    return value(_parsed(expression))


@functools.lru_cache(maxsize=256)
def _parsed(expression: str) -> ast.Expression:
    return ast.parse(expression, mode="eval")


@dataclass
class _State:
    syntax: ModelSyntax
    st: _Structure
    rows: list[_Row]
    engine: _Engine
    x: np.ndarray
    vcov: np.ndarray
    groups: tuple[str, ...]
    group_equal: tuple[str, ...]


def _label_values(rows: list[_Row], x: np.ndarray) -> dict[str, float]:
    out = {}
    for r in rows:
        if r.label and r.label not in out:
            out[r.label] = float(x[r.pid]) if r.pid >= 0 else r.value
    return out


def _defined_values(syntax: ModelSyntax, rows: list[_Row], x: np.ndarray) -> np.ndarray:
    vals = _label_values(rows, x)
    out = []
    for d in syntax.definitions:
        try:
            v = _safe_eval(d.expression, vals)
        except (ZeroDivisionError, ValueError, OverflowError):  # e.g. a/b at b = 0, log of a negative
            v = float("nan")
        vals[d.name] = v
        out.append(v)
    return np.array(out)


def _row_values(rows: list[_Row], x: np.ndarray) -> np.ndarray:
    return np.array([x[r.pid] if r.pid >= 0 else r.value for r in rows])


def _standardized(engine: _Engine, rows: list[_Row], x: np.ndarray) -> np.ndarray:
    """lavaan's ``std.all``: loadings, regressions by total SDs; (co)variances as correlations."""
    st = engine.st
    out = np.full(len(rows), np.nan)
    cache = {}
    for g in range(engine.G):
        sigma, _, mats = engine.implied(x, g)
        a = mats["A"]
        eta_var = np.diag(a @ mats["psi"] @ a.T)
        sd = {v: math.sqrt(max(sigma[i, i], 0)) for i, v in enumerate(st.ov)}
        sd.update({v: math.sqrt(max(eta_var[i], 0)) for i, v in enumerate(st.eta) if v in st.latent})
        cache[g] = (sd, mats)
    vals = _row_values(rows, x)
    for i, r in enumerate(rows):
        sd, mats = cache[r.group]
        with np.errstate(divide="ignore", invalid="ignore"):
            if r.op == "=~":
                out[i] = vals[i] * sd[r.lhs] / sd[r.rhs]
            elif r.op == "~":
                out[i] = vals[i] * sd[r.rhs] / sd[r.lhs]
            elif r.op == "~1":
                out[i] = vals[i] / sd[r.lhs] if sd[r.lhs] > 0 else np.nan
            elif r.lhs == r.rhs:
                out[i] = vals[i] / sd[r.lhs] ** 2
            else:
                m = mats[r.matrix]
                out[i] = vals[i] / math.sqrt(m[r.r, r.r] * m[r.c, r.c]) if m[r.r, r.r] * m[r.c, r.c] > 0 else np.nan
    return out


def _standardized_defined(syntax: ModelSyntax, rows: list[_Row], std: np.ndarray) -> np.ndarray:
    vals = {}
    for r, v in zip(rows, std):
        if r.label and r.label not in vals:
            vals[r.label] = float(v)
    out = []
    for d in syntax.definitions:
        try:
            v = _safe_eval(d.expression, vals)
        except (ZeroDivisionError, ValueError, OverflowError):
            v = float("nan")
        vals[d.name] = v
        out.append(v)
    return np.array(out)


def _r2(engine: _Engine, x: np.ndarray, groups: tuple[str, ...]) -> pd.Series:
    st = engine.st
    values, index = [], []
    indicators = set()
    for r in engine.rows:
        if r.op == "=~":
            indicators.add(r.rhs)
    for g in range(engine.G):
        sigma, _, mats = engine.implied(x, g)
        a = mats["A"]
        eta_var = np.diag(a @ mats["psi"] @ a.T)
        for i, v in enumerate(st.ov):
            if v in indicators and v not in st.phantom:
                values.append(1 - mats["theta"][i, i] / sigma[i, i])
                index.append((groups[g], v))
        for i, v in enumerate(st.eta):
            if v in st.endogenous:
                values.append(1 - mats["psi"][i, i] / eta_var[i])
                index.append((groups[g], v))
    if engine.G == 1:
        return pd.Series(values, index=[v for _, v in index], name="r2", dtype=float)
    return pd.Series(values, index=pd.MultiIndex.from_tuples(index, names=["group", "variable"]),
                     name="r2", dtype=float)


# --------------------------------------------------------------------------- start values
def _start_values(rows: list[_Row], st: _Structure, data: list[_GroupData], npar: int, *,
                  simple: bool = False) -> np.ndarray:
    """Start values close to lavaan's: fabin-like loadings (``simple``: all 1), half the
    observed variances, latent variances from the marker's covariances (``simple``: 0.05)."""
    x = np.zeros(npar)
    seen = np.zeros(npar, dtype=bool)
    ov_i = {v: i for i, v in enumerate(st.ov)}
    indicators: dict[tuple[int, str], list[str]] = {}
    for r in rows:
        if r.op == "=~" and r.rhs in ov_i:
            indicators.setdefault((r.group, r.lhs), []).append(r.rhs)
    loading_start: dict[tuple[int, str, str], float] = {}
    latent_var: dict[tuple[int, str], float] = {}
    for (g, f), items in ([] if simple else indicators.items()):
        s = data[g].cov
        marker = items[0]
        lam = {marker: 1.0}
        for j in items[1:]:
            others = [ov_i[k] for k in items if k not in (marker, j)]
            if others:
                num = float(s[ov_i[j], others] @ s[ov_i[marker], others])
                den = float(s[ov_i[marker], others] @ s[ov_i[marker], others])
                lam[j] = num / den if den > 0 else 1.0
            else:
                lam[j] = 1.0
        for j in items:
            loading_start[(g, f, j)] = lam[j]
        cov_mk = [s[ov_i[marker], ov_i[k]] * lam[k] for k in items[1:]]
        l2 = sum(lam[k] ** 2 for k in items[1:])
        latent_var[(g, f)] = max(0.05, sum(cov_mk) / l2) if l2 > 0 else 0.05
    for r in rows:
        if r.pid < 0 or seen[r.pid]:
            continue
        seen[r.pid] = True
        d = data[r.group]
        if r.start_given:
            val = r.value
        elif r.op == "=~":
            val = loading_start.get((r.group, r.lhs, r.rhs), 1.0)
        elif r.op == "~~" and r.lhs == r.rhs:
            if r.lhs in ov_i:
                val = 0.5 * d.cov[ov_i[r.lhs], ov_i[r.lhs]]
            else:
                val = latent_var.get((r.group, r.lhs), 0.05)
        elif r.op == "~1" and r.lhs in ov_i:
            val = d.mean[ov_i[r.lhs]]
        else:
            val = 0.0
        x[r.pid] = val
    return x


# --------------------------------------------------------------------------- fit
def _prepare_data(data: pd.DataFrame, st: _Structure, group: str | None, missing: str,
                  warnings_out: list[str]) -> tuple[list[_GroupData], tuple[str, ...]]:
    if not isinstance(data, pd.DataFrame):
        raise DataError("data must be a pandas DataFrame", fix="pass pd.DataFrame(...)")
    columns = list(data.columns)
    for v in st.ov:
        if v not in data.columns:
            raise ModelSpecificationError(
                f"the model names variable '{v}' which is not a column of the data.{did_you_mean(v, columns)}",
                where="model syntax", fix="correct the name, or name the latent variable on the left of '=~'")
    if group is not None and group not in data.columns:
        raise DataError(f"group column '{group}' is not in the data.{did_you_mean(group, columns)}",
                        where="fit(group=...)", fix="name an existing column")
    frame = _numeric_frame(data, st.ov)
    for v in st.ov:
        if frame[v].isna().all():
            raise DataError(f"column '{v}' has no observed values", where=f"data column '{v}'",
                            fix="drop it from the model")
    if group is not None:
        gcol = data[group]
        keep = gcol.notna()
        if (~keep).any():
            warnings_out.append(f"{int((~keep).sum())} cases with a missing group ('{group}') were dropped")
        frame, gcol = frame[keep], gcol[keep]
        labels = tuple(str(v) for v in pd.unique(gcol))
        parts = [(lab, frame[gcol.astype(str) == lab]) for lab in labels]
    else:
        labels = ("",)
        parts = [("", frame)]
    out = []
    total_dropped = 0
    for lab, part in parts:
        where = f"group '{lab}'" if lab else "data"
        x = part.to_numpy(dtype=float)
        if missing == "listwise":
            ok = ~np.isnan(x).any(axis=1)
            total_dropped += int((~ok).sum())
            x = x[ok]
        else:
            ok = ~np.isnan(x).all(axis=1)
            if (~ok).any():
                warnings_out.append(f"{int((~ok).sum())} cases with no observed value were dropped ({where})")
            x = x[ok]
        p = x.shape[1]
        if x.shape[0] <= p:
            raise DataError(f"{x.shape[0]} complete cases for {p} observed variables", where=where,
                            fix="fit a smaller model, collect more cases, or use missing='fiml'")
        gd = _complete_group(x) if missing == "listwise" or not np.isnan(x).any() else _incomplete_group(x)
        _check_covariance(gd.cov, st.ov, where)
        out.append(gd)
    if total_dropped:
        n_used = sum(g.n for g in out)
        warnings_out.append(f"listwise deletion dropped {total_dropped} of {n_used + total_dropped} cases "
                            f"with missing values; {n_used} used")
    return out, labels


def _heywood(engine: _Engine, x: np.ndarray) -> list[str]:
    """Warnings for improper solutions: negative variances, non-positive-definite Psi (lavaan)."""
    out = []
    for g in range(engine.G):
        mats = engine.matrices(x, g)
        where = f" (group {g + 1})" if engine.G > 1 else ""
        neg = [v for i, v in enumerate(engine.st.ov) if mats["theta"][i, i] < 0]
        neg += [v for i, v in enumerate(engine.st.eta) if mats["psi"][i, i] < 0]
        if neg:
            out.append(f"negative variance estimates (Heywood case){where}: {', '.join(neg)}; "
                       "the solution is improper")
        lat = [engine.st.eta.index(v) for v in engine.st.latent]
        if lat and not neg and np.linalg.eigvalsh(mats["psi"][np.ix_(lat, lat)])[0] < 0:
            out.append(f"the covariance matrix of the latent variables is not positive definite{where}")
    return out


def _identification_check(info: np.ndarray, rows: list[_Row]) -> None:
    eig, vec = np.linalg.eigh(info)
    if eig[0] <= max(1e-10, 1e-12 * eig[-1]):
        pids = np.argsort(-np.abs(vec[:, 0]))[:3]
        names = []
        for pid in pids:
            r = next(r for r in rows if r.pid == pid)
            names.append(f"{r.lhs} {r.op} {r.rhs}".strip())
        raise ModelSpecificationError(
            f"the model is not identified: the information matrix is singular; parameters involved: "
            f"{', '.join(names)}",
            where="model", fix="fix a loading to 1 or a latent variance to 1 per factor, or remove parameters")


def _vcov(engine: _Engine, x: np.ndarray, missing: str, rows: list[_Row]) -> np.ndarray:
    if missing == "fiml":
        info = engine.observed_information(x)
    else:
        info = engine.expected_information(x)
    _identification_check(info, rows)
    return linalg.inv(info)


def fit(model: str, data: pd.DataFrame, *, group: str | None = None, group_equal=(),
        missing: str = "listwise", bootstrap: int = 0, seed: int | None = None) -> SEMResult:
    """Fit a structural equation model by maximum likelihood (lavaan ``sem()``).

    Parameters
    ----------
    model
        lavaan model syntax (see :mod:`analysis.syntax`).
    data
        One row per case; every observed variable of the model is a numeric column.
    group
        Column defining groups for a multi-group model (groups in order of appearance).
    group_equal
        Parameter classes held equal across groups: any of ``"loadings"``,
        ``"intercepts"``, ``"residuals"``, ``"residual.covariances"``, ``"lv.variances"``,
        ``"lv.covariances"``, ``"regressions"``, ``"means"`` (lavaan ``group.equal``).
        With equal intercepts the latent means are free in all but the first group.
    missing
        ``"listwise"`` (cases with a missing value are dropped and reported) or
        ``"fiml"`` (full-information ML; lavaan ``missing = "ml"``).
    bootstrap
        Number of nonparametric bootstrap draws (rows resampled within groups); with
        ``B > 0`` the ``se`` column is the bootstrap SD and ``ci_lower``/``ci_upper`` are
        percentile intervals, defined parameters included (lavaan ``se = "bootstrap"``,
        ``parameterEstimates(boot.ci.type = "perc")``). Each draw also standardizes its
        refit, so ``std_se`` is the bootstrap SD of ``std_all`` and ``std_ci_lower``/
        ``std_ci_upper`` its percentile interval (columns present only with ``B > 0``).
    seed
        Seed of the bootstrap.

    Returns
    -------
    SEMResult

    Notes
    -----
    Complete data: minimises ``F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p
    + (m - mu)' Sigma^-1 (m - mu)`` summed over groups with weights ``n_g / N``, S divided
    by N (lavaan ``likelihood = "normal"``; Jöreskog 1969; Bollen 1989, ch. 4) by L-BFGS with
    the analytic gradient; the chi-square is ``N F_ML``. Standard errors come from the
    inverse expected information ``sum_g n_g Delta' W Delta`` (lavaan
    ``information = "expected"``).

    FIML: the casewise log-likelihood ``-1/2 sum_i [p_i log 2 pi + log|Sigma_i| +
    (x_i - mu_i)' Sigma_i^-1 (x_i - mu_i)]`` over the variables observed in case i
    (Arbuckle 1996; Enders 2010), from one factorisation of the full ``Sigma`` per
    evaluation, with an analytic gradient by Fisher's identity
    (:class:`analysis.fiml.IncompleteData`). The chi-square compares it with the
    unrestricted model fitted by EM (:func:`analysis.fiml.em_saturated`); standard errors
    use the observed information (lavaan's default with ``missing = "ml"``), central
    differences of the analytic gradient.

    Bootstrap (Efron & Tibshirani 1993; Bollen & Stine 1990): rows are resampled within
    groups and the model is refitted from the estimates. The standardized solution of a
    draw is ``std_all`` of its refit, from the refit's own implied variances (a data set
    z-scored once on the full sample does not have unit variances in a resample, so the
    unstandardized intervals of such data are not intervals of the standardized
    coefficients); a defined parameter's ``std_all`` is its expression evaluated at the
    standardized parameters, as in lavaan's ``standardizedSolution``. R:
    ``bootstrapLavaan(fit, R = B, FUN = function(x) standardizedSolution(x)$est.std)``
    and the 2.5% and 97.5% quantiles of the result.

    Defaults follow lavaan ``sem()``: first loading of each factor fixed to 1, residual
    and latent variances free, exogenous latent covariances free, residual covariances
    among dependent variables that predict nothing free, exogenous observed covariates
    at their sample moments (``fixed.x = TRUE``); a mean structure with ``~ 1`` terms,
    groups, or FIML.

    Examples
    --------
    >>> res = fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)   # doctest: +SKIP
    >>> res.fit_measures["cfi"]                                            # doctest: +SKIP
    """
    if missing not in ("listwise", "fiml"):
        raise ModelSpecificationError(f"missing='{missing}' is not supported", where="fit(missing=...)",
                                      fix="use 'listwise' or 'fiml'")
    if isinstance(group_equal, str):
        group_equal = (group_equal,)
    group_equal = tuple(group_equal)
    for ge in group_equal:
        if ge not in GROUP_EQUAL:
            raise ModelSpecificationError(f"group_equal '{ge}' is unknown.{did_you_mean(ge, GROUP_EQUAL)}",
                                          where="fit(group_equal=...)", fix=f"use any of {GROUP_EQUAL}")
    if group_equal and group is None:
        raise ModelSpecificationError("group_equal needs a group column", where="fit(group_equal=...)",
                                      fix="pass group='column'")
    if not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ModelSpecificationError("bootstrap must be a non-negative integer", where="fit(bootstrap=...)",
                                      fix="pass e.g. bootstrap=1000")
    syntax = parse_model(model)
    st = _structure(syntax)
    warnings_out: list[str] = []
    group_data, labels = _prepare_data(data, st, group, missing, warnings_out)
    n_groups = len(labels)
    meanstructure = (missing == "fiml" or n_groups > 1
                     or any(s.op == "~" and s.rhs == "1" for s in syntax.statements))
    rows = _build_rows(syntax, st, n_groups, meanstructure, group_equal)
    npar = _assign_parameters(rows, syntax, n_groups, group_equal)
    for d in syntax.definitions:
        known = {r.label for r in rows if r.label} | {dd.name for dd in syntax.definitions}
        for name in d.names:
            if name not in known:
                raise ModelSpecificationError(
                    f"defined parameter '{d.name}' uses unknown label '{name}'.{did_you_mean(name, known)}",
                    where=f"model syntax line {d.line}", fix="label the parameter first, e.g. 'y ~ a*x'")
    engine = _Engine(rows, st, n_groups, npar, meanstructure)
    engine.set_data(group_data)
    ndat = _fm.data_moments(len(st.ov), len(st.exo_x), meanstructure) * n_groups
    if npar > ndat:
        raise ModelSpecificationError(
            f"the model is not identified: {npar} free parameters but only {ndat} sample moments",
            where="model", fix="remove parameters or add constraints")
    with limit_blas_threads():
        x0 = _start_values(rows, st, group_data, npar)
        x, converged, message, _ = _minimize(engine, x0)
        if not converged:  # second try from lavaan's "simple" start (loadings 1, half variances)
            x1 = _start_values(rows, st, group_data, npar, simple=True)
            x_alt, conv_alt, message_alt, _ = _minimize(engine, x1)
            if conv_alt or engine.objective(x_alt, gradient=False) < engine.objective(x, gradient=False):
                x, converged, message = x_alt, conv_alt, message_alt
        if not converged:
            warnings_out.append(f"ConvergenceWarning: the optimiser did not converge ({message}); "
                                "estimates are not trustworthy")
            _warnings.warn(ConvergenceWarning(message), stacklevel=2)
        warnings_out.extend(_heywood(engine, x))
        vcov = _vcov(engine, x, missing, rows)
        boot, boot_std = (_bootstrap(engine, syntax, rows, x, group_data, bootstrap, seed, missing)
                          if bootstrap else (None, None))
    state = _State(syntax, st, rows, engine, x, vcov, labels, group_equal)
    estimates = _estimate_table(state, boot, boot_std)
    measures = _fm.fit_measures(engine, x, st, npar, missing=missing, meanstructure=meanstructure)
    nobs_per_group = {lab: d.n for lab, d in zip(labels, group_data)}
    draws = None
    if boot is not None:
        draws = pd.DataFrame(boot, columns=[_row_name(r) for r in rows] + [d.name for d in syntax.definitions])
        n_failed = int(_failed_draws(boot, len(rows)).sum())
        if n_failed:
            warnings_out.append(f"{n_failed} of {bootstrap} bootstrap draws did not converge and were left out")
        if bootstrap - n_failed < 2:
            warnings_out.append("ConvergenceWarning: fewer than two bootstrap draws converged, so the "
                                "bootstrap standard errors and intervals are NaN")
    return SEMResult(estimates, measures, _r2(engine, x, labels), converged, tuple(warnings_out),
                     sum(d.n for d in group_data), nobs_per_group, labels, model, missing, draws, state)


def _row_name(r: _Row) -> str:
    return f"{r.lhs}{r.op}{r.rhs}" + (f".g{r.group + 1}" if r.group else "")


def _bootstrap(engine: _Engine, syntax: ModelSyntax, rows: list[_Row], x_hat: np.ndarray,
               group_data: list[_GroupData], draws: int, seed: int | None, missing: str
               ) -> tuple[np.ndarray, np.ndarray]:
    """Refit on ``draws`` resamples of rows within groups; ``(est, std_all)`` of every row and
    defined parameter per draw (NaN rows: the refit did not converge)."""
    rng = np.random.default_rng(seed)
    n_def = len(syntax.definitions)
    out = np.full((draws, len(rows) + n_def), np.nan)
    out_std = np.full_like(out, np.nan)
    fiml = missing == "fiml"
    for b in range(draws):
        sample = []
        for d in group_data:
            idx = rng.integers(0, d.n, d.n)
            x = d.raw[idx]
            sample.append(_incomplete_group(x, tol=1e-6) if fiml and np.isnan(x).any() else _complete_group(x))
        engine.set_data(sample)
        xb, ok, _, _ = _minimize(engine, x_hat, precise=False)
        if not ok:
            continue
        out[b, :len(rows)] = _row_values(rows, xb)
        std = _standardized(engine, rows, xb)  # the draw's data are attached: its own implied SDs
        out_std[b, :len(rows)] = std
        if n_def:
            out[b, len(rows):] = _defined_values(syntax, rows, xb)
            out_std[b, len(rows):] = _standardized_defined(syntax, rows, std)
    engine.set_data(group_data)
    return out, out_std


def _estimate_table(state: _State, boot: np.ndarray | None, boot_std: np.ndarray | None) -> pd.DataFrame:
    rows, x, vcov, engine, syntax = state.rows, state.x, state.vcov, state.engine, state.syntax
    est = _row_values(rows, x)
    se = np.array([math.sqrt(max(vcov[r.pid, r.pid], 0)) if r.pid >= 0 else 0.0 for r in rows])
    std = _standardized(engine, rows, x)
    records = [{"lhs": r.lhs, "op": r.op, "rhs": r.rhs, "group": state.groups[r.group], "label": r.label}
               for r in rows]
    if syntax.definitions:
        dvals = _defined_values(syntax, rows, x)
        jac = np.zeros((len(dvals), len(x)))
        for k in range(len(x)):
            h = 1e-6 * max(1.0, abs(x[k]))
            xp, xm = x.copy(), x.copy()
            xp[k] += h
            xm[k] -= h
            jac[:, k] = (_defined_values(syntax, rows, xp) - _defined_values(syntax, rows, xm)) / (2 * h)
        dse = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac, vcov, jac), 0))
        est = np.concatenate([est, dvals])
        se = np.concatenate([se, dse])
        std = np.concatenate([std, _standardized_defined(syntax, rows, std)])
        records += [{"lhs": d.name, "op": ":=", "rhs": d.expression.replace("**", "^"), "group": "",
                     "label": d.name} for d in syntax.definitions]
    frame = pd.DataFrame.from_records(records)
    frame["est"] = est
    free = np.array([r.pid >= 0 for r in rows] + [True] * len(syntax.definitions))
    if boot is not None:
        converged = ~_failed_draws(boot, len(rows))
        ok, ok_std = boot[converged], boot_std[converged]
        se_b, lower_b, upper_b = _percentile_interval(ok)
        se = np.where(free, se_b, 0.0)
        lower = np.where(free, lower_b, est)
        upper = np.where(free, upper_b, est)
    else:
        q = stats.norm.ppf(0.975)
        lower, upper = est - q * se, est + q * se
    frame["se"] = se
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(free & (se > 0), est / se, np.nan)
    frame["z"] = z
    frame["pvalue"] = 2 * stats.norm.sf(np.abs(z))
    frame["ci_lower"] = lower
    frame["ci_upper"] = upper
    frame["std_all"] = std
    if boot is None:
        return frame[ESTIMATE_COLUMNS]
    # a fixed parameter's std_all still varies over draws (e.g. a marker loading), so every row gets its interval
    frame["std_se"], frame["std_ci_lower"], frame["std_ci_upper"] = _percentile_interval(ok_std)
    return frame[ESTIMATE_COLUMNS + BOOTSTRAP_STD_COLUMNS]


def _failed_draws(boot: np.ndarray, n_params: int) -> np.ndarray:
    """Draws whose refit did not converge (NaN in a model parameter). A defined
    parameter that is undefined in one draw (``log`` of a negative value) is left out of
    its own column only."""
    return np.isnan(boot[:, :n_params]).any(axis=1)


def _percentile_interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap SD and 95% percentile interval per column, NaN where fewer than two
    draws have a value."""
    enough = (~np.isnan(draws)).sum(axis=0) >= 2
    out = np.full((3, draws.shape[1]), np.nan)
    if enough.any():
        kept = draws[:, enough]
        with np.errstate(invalid="ignore"), _warnings.catch_warnings():
            _warnings.simplefilter("ignore", RuntimeWarning)
            out[0, enough] = np.nanstd(kept, axis=0, ddof=1)
            out[1, enough] = np.nanpercentile(kept, 2.5, axis=0)
            out[2, enough] = np.nanpercentile(kept, 97.5, axis=0)
    return out[0], out[1], out[2]


# --------------------------------------------------------------------------- modification indices
def _modification_indices(result: SEMResult, minimum: float) -> pd.DataFrame:
    state: _State = result._state
    st, rows = state.st, state.rows
    ov_i = {v: i for i, v in enumerate(st.ov)}
    eta_i = {v: i for i, v in enumerate(st.eta)}
    have = {(r.lhs, r.op, r.rhs, r.group) for r in rows} | {(r.rhs, r.op, r.lhs, r.group) for r in rows}
    candidates: list[_Row] = []
    npar = state.engine.npar
    for g in range(state.engine.G):
        for f in st.latent:
            for v in st.ov:
                if v in st.phantom or (f, "=~", v, g) in have:
                    continue
                candidates.append(_Row(f, "=~", v, g, "lambda", ov_i[v], eta_i[f], True, 0.0, category="loadings"))
        plain = [v for v in st.ov if v not in st.phantom]
        for i, a in enumerate(plain):
            for b in plain[i + 1:]:
                if (a, "~~", b, g) in have:
                    continue
                candidates.append(_Row(a, "~~", b, g, "theta", ov_i[a], ov_i[b], True, 0.0,
                                       category="residual.covariances"))
    if not candidates:
        return pd.DataFrame(columns=["lhs", "op", "rhs", "group", "mi", "epc", "sepc_all"])
    ext_rows = [_Row(**{**r.__dict__}) for r in rows]
    for k, c in enumerate(candidates):
        c.pid = npar + k
    ext_rows += candidates
    ext = _Engine(ext_rows, st, state.engine.G, npar + len(candidates), state.engine.meanstructure)
    ext.set_data(state.engine.data)
    x_ext = np.concatenate([state.x, np.zeros(len(candidates))])
    with limit_blas_threads():
        _, grad = ext.objective(x_ext)
        info = ext.expected_information(x_ext)
    score = -ext.N / 2 * grad           # derivative of the log-likelihood
    f_idx = np.arange(npar)
    c_idx = np.arange(npar, npar + len(candidates))
    i_ff = info[np.ix_(f_idx, f_idx)]
    i_cf = info[np.ix_(c_idx, f_idx)]
    v = np.diag(info[np.ix_(c_idx, c_idx)]) - np.einsum("ij,ji->i", i_cf, linalg.solve(i_ff, i_cf.T,
                                                                                         assume_a="pos"))
    u = score[c_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(v > 1e-10, u ** 2 / v, np.nan)
        epc = np.where(v > 1e-10, u / v, np.nan)
    sepc = np.full(len(candidates), np.nan)
    for k, c in enumerate(candidates):
        sigma, _, mats = state.engine.implied(state.x, c.group)
        a = mats["A"]
        eta_var = np.diag(a @ mats["psi"] @ a.T)
        if c.op == "=~":
            sepc[k] = epc[k] * math.sqrt(eta_var[c.c]) / math.sqrt(sigma[c.r, c.r])
        else:
            th = mats["theta"]
            sepc[k] = epc[k] / math.sqrt(th[c.r, c.r] * th[c.c, c.c])
    frame = pd.DataFrame({"lhs": [c.lhs for c in candidates], "op": [c.op for c in candidates],
                          "rhs": [c.rhs for c in candidates],
                          "group": [state.groups[c.group] for c in candidates],
                          "mi": mi, "epc": epc, "sepc_all": sepc})
    frame = frame[frame["mi"].fillna(0) >= minimum]
    return frame.sort_values("mi", ascending=False, ignore_index=True)


# --------------------------------------------------------------------------- invariance
@dataclass(frozen=True)
class InvarianceResult:
    """Configural, metric and scalar fits with their comparison table."""

    table: pd.DataFrame
    fits: dict[str, SEMResult]

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def invariance(model: str, data: pd.DataFrame, group: str, *, missing: str = "listwise") -> InvarianceResult:
    """Measurement invariance: configural -> metric -> scalar.

    Returns
    -------
    InvarianceResult
        ``table`` has one row per model (configural, metric, scalar) with chisq, df, cfi,
        rmsea, srmr and, against the previous model, delta_chisq, delta_df, pvalue
        (plain likelihood-ratio difference test), delta_cfi and delta_rmsea.

    Notes
    -----
    metric = ``group_equal=("loadings",)``; scalar = ``("loadings", "intercepts")``
    (Meredith 1993; Vandenberg & Lance 2000). Common guidance (Chen 2007; Cheung &
    Rensvold 2002): ΔCFI ≥ -0.01 and ΔRMSEA ≤ 0.015 support invariance. R:
    ``semTools::measurementInvariance`` / ``lavTestLRT``.
    """
    specs = {"configural": (), "metric": ("loadings",), "scalar": ("loadings", "intercepts")}
    fits = {name: fit(model, data, group=group, group_equal=ge, missing=missing) for name, ge in specs.items()}
    records = []
    prev = None
    for name, res in fits.items():
        fm = res.fit_measures
        rec = {"model": name, "chisq": fm["chisq"], "df": fm["df"], "cfi": fm["cfi"], "rmsea": fm["rmsea"],
               "srmr": fm["srmr"], "delta_chisq": np.nan, "delta_df": np.nan, "pvalue": np.nan,
               "delta_cfi": np.nan, "delta_rmsea": np.nan}
        if prev is not None:
            dchi = fm["chisq"] - prev["chisq"]
            ddf = fm["df"] - prev["df"]
            rec.update(delta_chisq=dchi, delta_df=ddf, pvalue=float(stats.chi2.sf(dchi, ddf)) if ddf > 0 else np.nan,
                       delta_cfi=fm["cfi"] - prev["cfi"], delta_rmsea=fm["rmsea"] - prev["rmsea"])
        records.append(rec)
        prev = fm
    return InvarianceResult(pd.DataFrame.from_records(records), fits)


# --------------------------------------------------------------------------- summary
def summary(result: SEMResult, *, digits: int = 3) -> str:
    """A lavaan-like text summary (fit measures, then estimates by operator)."""
    fm = result.fit_measures
    lines = [f"Tandem SEM (ML{', FIML' if result.missing == 'fiml' else ''})  "
             f"{'converged' if result.converged else 'NOT converged'}",
             f"  Number of observations {result.nobs:>28d}"]
    if len(result.groups) > 1:
        for g, n in result.nobs_per_group.items():
            lines.append(f"    {g:<28s}{n:>14d}")
    lines += ["", "Model Test User Model:",
              f"  Test statistic {fm['chisq']:>36.{digits}f}",
              f"  Degrees of freedom {fm['df']:>32.0f}",
              f"  P-value (Chi-square) {fm['pvalue']:>30.{digits}f}", ""]
    for key, name in (("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("rmsea_ci_lower", "RMSEA 90% lower"),
                      ("rmsea_ci_upper", "RMSEA 90% upper"), ("srmr", "SRMR"), ("logl", "Loglikelihood"),
                      ("aic", "AIC"), ("bic", "BIC")):
        lines.append(f"  {name:<30s}{fm[key]:>20.{digits}f}")
    for w in result.warnings:
        lines.append(f"  Warning: {w}")
    titles = {"=~": "Latent Variables", "~": "Regressions", "~~": "Covariances / Variances",
              "~1": "Intercepts", ":=": "Defined Parameters"}
    est = result.estimates
    for group in result.groups:
        if len(result.groups) > 1:
            lines += ["", f"Group [{group}]:"]
        for op, title in titles.items():
            part = est[(est["op"] == op) & ((est["group"] == group) | (op == ":="))]
            if op == ":=" and group != result.groups[-1]:
                continue
            if part.empty:
                continue
            lines += ["", f"{title}:", f"{'':24s}{'Estimate':>10s}{'Std.Err':>10s}{'z-value':>10s}"
                      f"{'P(>|z|)':>10s}{'Std.all':>10s}"]
            for _, r in part.iterrows():
                name = f"{r['lhs']} {op} {r['rhs']}".strip() + (f" ({r['label']})" if r["label"] and op != ":=" else "")

                def fmt(v):
                    return f"{v:>10.{digits}f}" if np.isfinite(v) else " " * 10
                lines.append(f"  {name:<22s}{fmt(r['est'])}{fmt(r['se']) if r['se'] > 0 else ' ' * 10}"
                             f"{fmt(r['z'])}{fmt(r['pvalue'])}{fmt(r['std_all'])}")
    return "\n".join(lines)
