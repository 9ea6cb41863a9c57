"""The standardized solution (lavaan ``standardizedSolution``, ``std.all``) and R².

:class:`Standardizer` maps the parameter table once to index arrays, so standardizing a
solution (once per fit, and once per bootstrap draw) is a few vector operations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.sem.matrices import Implied, Model
from analysis.sem.partable import ParameterTable
from analysis.sem.syntax import ModelSyntax
from analysis.sem.variance import defined_values, label_values

_SCALE, _MEAN, _VARIANCE, _COVARIANCE = 0, 1, 2, 3


class Standardizer:
    """``std.all`` of every row: loadings and regressions scaled by total SDs, (co)variances
    as correlations (a residual covariance over ``sqrt(|theta_ii theta_jj|)``, as lavaan, so
    improper solutions keep a number), intercepts and means divided by the SD."""

    def __init__(self, table: ParameterTable):
        st = table.structure
        p = len(st.ov)
        self.table, self.p = table, p
        ov_i = {v: i for i, v in enumerate(st.ov)}
        eta_i = {v: p + i for i, v in enumerate(st.eta)}
        latent = set(st.latent)

        def sd_index(name: str) -> int:
            return eta_i[name] if name in latent else ov_i[name]

        kind, a, b = [], [], []
        for r in table.rows:
            if r.op == "=~":
                kind.append(_SCALE), a.append(sd_index(r.lhs)), b.append(sd_index(r.rhs))
            elif r.op == "~":
                kind.append(_SCALE), a.append(sd_index(r.rhs)), b.append(sd_index(r.lhs))
            elif r.op == "~1":
                kind.append(_MEAN), a.append(sd_index(r.lhs)), b.append(0)
            elif r.lhs == r.rhs:
                kind.append(_VARIANCE), a.append(sd_index(r.lhs)), b.append(0)
            else:  # residual diagonal of the row's own matrix: theta first, then psi
                off = 0 if r.matrix == "theta" else p
                kind.append(_COVARIANCE), a.append(off + r.r), b.append(off + r.c)
        self.kind, self.a, self.b = np.array(kind, dtype=int), np.array(a, dtype=int), np.array(b, dtype=int)
        self.group = np.array([r.group for r in table.rows], dtype=int)

    def __call__(self, model: Model, x: np.ndarray, implied: list[Implied] | None = None) -> np.ndarray:
        """``std_all`` of every row at ``x`` (with the model's currently attached sample)."""
        imps = implied or [model.implied(x, g) for g in range(model.G)]
        sd = np.array([np.sqrt(np.maximum(np.concatenate([np.diag(i.sigma), np.diag(i.eta_cov)]), 0))
                       for i in imps])
        resid = np.array([np.concatenate([np.diag(i.theta), np.diag(i.psi)]) for i in imps])
        vals = model.row_values(x)
        g = self.group
        sa, sb = sd[g, self.a], sd[g, self.b]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(self.kind == _SCALE, vals * sa / sb, np.nan)
            out = np.where(self.kind == _MEAN, np.where(sa > 0, vals / sa, np.nan), out)
            out = np.where(self.kind == _VARIANCE, vals / sa ** 2, out)
            prod = resid[g, self.a] * resid[g, self.b]
            # lavaan divides by sqrt(|theta_ii| |theta_jj|): a number also beside a negative variance
            out = np.where(self.kind == _COVARIANCE, np.where(prod != 0, vals / np.sqrt(np.abs(prod)), np.nan), out)
        return out

    def defined(self, syntax: ModelSyntax, std: np.ndarray) -> np.ndarray:
        """A defined parameter's ``std_all``: its expression at the standardized labels (lavaan)."""
        return defined_values(syntax, label_values(self.table, std))


def r_squared(model: Model, x: np.ndarray, groups: tuple[str, ...]) -> pd.Series:
    """R² of every indicator and endogenous variable (lavaan ``inspect(fit, "r2")``)."""
    st = model.table.structure
    indicators = {r.rhs for r in model.table.rows if r.op == "=~"}
    endogenous = set(st.endogenous)
    phantom = set(st.phantom)
    values, index = [], []
    for g in range(model.G):
        imp = model.implied(x, g)
        eta_var = np.diag(imp.eta_cov)
        for i, v in enumerate(st.ov):
            if v in indicators and v not in phantom:
                values.append(1 - imp.theta[i, i] / imp.sigma[i, i])
                index.append((groups[g], v))
        for i, v in enumerate(st.eta):
            if v in endogenous:
                values.append(1 - imp.psi[i, i] / eta_var[i])
                index.append((groups[g], v))
    if model.G == 1:
        return pd.Series(values, index=[v for _, v in index], name="r2", dtype=float)
    return pd.Series(values, index=pd.MultiIndex.from_tuples(index, names=["group", "variable"]),
                     name="r2", dtype=float)
