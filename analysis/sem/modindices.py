"""Modification indices: score tests of fixed-to-zero loadings and residual covariances,
and the score machinery the tests of equality constraints share
(:mod:`analysis.sem.score_test`).

Score test with the expected information (Sörbom 1989; lavaan ``modindices``): the model
is extended by the candidate parameters at 0; for a candidate j with score ``U_j``
(derivative of the log-likelihood) and ``V_j = I_jj - I_jf I_ff^-1 I_fj``,
``mi = U_j^2 / V_j`` and ``epc = U_j / V_j``; ``sepc_all`` standardizes the EPC like
``std_all``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import linalg

from analysis.sem.fitted import FittedModel
from analysis.sem.matrices import Model
from analysis.sem.partable import ParameterRow, ParameterTable
from analysis.threads import limit_blas_threads

MI_COLUMNS = ["lhs", "op", "rhs", "group", "mi", "epc", "sepc_all"]


def _candidates(fitted: FittedModel) -> list[ParameterRow]:
    st, rows = fitted.table.structure, fitted.rows
    ov_i = {v: i for i, v in enumerate(st.ov)}
    eta_i = {v: i for i, v in enumerate(st.eta)}
    have = {(r.lhs, r.op, r.rhs, r.group) for r in rows} | {(r.rhs, r.op, r.lhs, r.group) for r in rows}
    phantom = set(st.phantom)
    out: list[ParameterRow] = []
    for g in range(fitted.table.n_groups):
        for f in st.latent:
            for v in st.ov:
                if v in phantom or (f, "=~", v, g) in have:
                    continue
                out.append(ParameterRow(f, "=~", v, g, "lambda", ov_i[v], eta_i[f], True, 0.0, category="loadings"))
        plain = [v for v in st.ov if v not in phantom]
        for i, a in enumerate(plain):
            for b in plain[i + 1:]:
                if (a, "~~", b, g) in have:
                    continue
                out.append(ParameterRow(a, "~~", b, g, "theta", ov_i[a], ov_i[b], True, 0.0,
                                        category="residual.covariances"))
    return out


def modification_indices(fitted: FittedModel, minimum: float = 0.0) -> pd.DataFrame:
    """lhs, op, rhs, group, mi, epc, sepc_all of every candidate with ``mi >= minimum``, by ``mi``."""
    candidates = _candidates(fitted)
    if not candidates:
        return pd.DataFrame(columns=MI_COLUMNS)
    npar = fitted.npar
    for k, c in enumerate(candidates):
        c.pid = npar + k
    ext_rows = [dataclasses.replace(r) for r in fitted.rows] + candidates
    ext_table = dataclasses.replace(fitted.table, rows=ext_rows, npar=npar + len(candidates), _free_rows={})
    x_ext = np.concatenate([fitted.x, np.zeros(len(candidates))])
    score, info = extended_score(fitted, ext_table, x_ext)
    u, v_block = conditional_score(score, info, npar)
    v = np.diag(v_block)
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(v > 1e-10, u ** 2 / v, np.nan)
        epc = np.where(v > 1e-10, u / v, np.nan)
    sepc = np.full(len(candidates), np.nan)
    implied = [fitted.model.implied(fitted.x, g) for g in range(fitted.table.n_groups)]
    for k, c in enumerate(candidates):
        imp = implied[c.group]
        if c.op == "=~":
            sepc[k] = epc[k] * math.sqrt(imp.eta_cov[c.c, c.c]) / math.sqrt(imp.sigma[c.r, c.r])
        else:
            sepc[k] = epc[k] / math.sqrt(imp.theta[c.r, c.r] * imp.theta[c.c, c.c])
    frame = pd.DataFrame({"lhs": [c.lhs for c in candidates], "op": [c.op for c in candidates],
                          "rhs": [c.rhs for c in candidates],
                          "group": [fitted.groups[c.group] for c in candidates],
                          "mi": mi, "epc": epc, "sepc_all": sepc})
    frame = frame[frame["mi"].fillna(0) >= minimum]
    return frame.sort_values("mi", ascending=False, ignore_index=True)


def extended_score(fitted: FittedModel, ext_table: ParameterTable, x_ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score ``dlogL/dtheta = -N/2 dF/dtheta`` and total expected information of an
    extended parameterization ``ext_table`` of the fitted model at ``x_ext``, on the
    fitted sample (same estimator class)."""
    estimator = fitted.estimator
    ext = type(estimator)(Model(ext_table), estimator.sample)
    with limit_blas_threads():
        _, grad = ext.objective(x_ext)
        info = ext.expected_information(x_ext)
    return -ext.N / 2 * grad, info


def conditional_score(score: np.ndarray, info: np.ndarray, n_fixed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The candidates' score and information given the model's own parameters.

    Parameters are ordered ``[model (n_fixed); candidates]``; returns ``U_c`` and
    :math:`V = I_{cc} - I_{cf} I_{ff}^{-1} I_{fc}`, so that releasing candidate ``j`` alone
    has the score statistic ``U_j^2 / V_jj`` and a set ``S`` has ``U_S' V_SS^{-1} U_S``
    (Rao 1948; Sörbom 1989).
    """
    f_idx = np.arange(n_fixed)
    c_idx = np.arange(n_fixed, len(score))
    i_ff = info[np.ix_(f_idx, f_idx)]
    i_cf = info[np.ix_(c_idx, f_idx)]
    v = info[np.ix_(c_idx, c_idx)] - i_cf @ linalg.solve(i_ff, i_cf.T, assume_a="pos")
    return score[c_idx], (v + v.T) / 2
