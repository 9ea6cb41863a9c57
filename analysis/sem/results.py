"""Results: the estimate table, :class:`SEMResult` and its :class:`Summary`.

The estimate table has lavaan's ``parameterEstimates`` + ``standardizedSolution``
columns. :class:`Summary` holds what lavaan's ``summary()`` prints, as data; it is
rendered by ``reports`` (``reports.text.format_sem`` for the lavaan-like text).
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ModelSpecificationError
from analysis.sem.fitted import FittedModel
from analysis.sem.modindices import modification_indices
from analysis.sem.variance import defined_se, parameter_se

ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue",
                    "ci_lower", "ci_upper", "std_all"]
BOOTSTRAP_STD_COLUMNS = ["std_se", "std_ci_lower", "std_ci_upper", "std_pvalue"]
_Z975 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class SEMResult:
    """The fitted model: estimates, fit measures, R², modification indices.

    Attributes
    ----------
    estimates
        lavaan's ``parameterEstimates`` + ``standardizedSolution`` columns: lhs, op, rhs,
        group, label, est, se, z, pvalue, ci_lower, ci_upper, std_all (95% intervals:
        Wald, or bootstrap percentile with ``bootstrap > 0``); with ``bootstrap > 0`` also
        std_se, std_ci_lower, std_ci_upper, std_pvalue (bootstrap SD, 95% percentile interval
        and the bootstrap p-value that goes with that interval, :func:`bootstrap_pvalue`, of
        ``std_all``).
    fit_measures
        lavaan's ``fitMeasures`` names (see :func:`analysis.sem.fit_measures.fit_measures`).
    r2
        R² of every endogenous variable (lavaan ``inspect(fit, "r2")``).
    converged, warnings, nobs
        Convergence flag, warning messages (incl. cases dropped), cases used (per group in
        ``nobs_per_group``).
    fitted
        The typed fitted state (:class:`~analysis.sem.fitted.FittedModel`): parameter
        table, estimator, estimates and their covariance matrix (not kept in published
        results, :mod:`services.result_codec`).
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
    fitted: FittedModel | None = field(default=None, repr=False, compare=False, metadata={"stored": False})

    def to_frame(self) -> pd.DataFrame:
        """The estimate table (a copy)."""
        return self.estimates.copy()

    def summary(self, *, digits: int = 3) -> Summary:
        """What lavaan's ``summary(fit)`` shows, as data (``reports.text.format_sem`` renders it)."""
        return summary(self, digits=digits)

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
        if self.fitted is None:
            if "level" in self.estimates.columns:
                raise ValueError("modification indices are not available for two-level models yet")
            raise ValueError("this result carries no fitted model")
        if self.fitted.estimator.name == "dwls":
            raise ModelSpecificationError(
                "modification indices of a WLSMV fit are not supported yet (the score test needs the robust "
                "DWLS information)", where="SEMResult.modification_indices()",
                fix="inspect the residual polychoric correlations, or compute modification indices by ML on the "
                    "item scores")
        return modification_indices(self.fitted, minimum)


def estimate_table(fitted: FittedModel, boot: np.ndarray | None, boot_std: np.ndarray | None) -> pd.DataFrame:
    """The estimate table of a fitted model (with bootstrap draws: bootstrap SEs and intervals)."""
    table, syntax, model, x, cov = fitted.table, fitted.syntax, fitted.model, fitted.x, fitted.vcov
    rows = table.rows
    est = model.row_values(x)
    se = parameter_se(table, cov)
    std = fitted.standardizer(model, x)
    free = model.pid >= 0
    std_core = std
    if table.thresholds:  # ordinal indicators: lavaan's `x | t1` and `x ~*~ x` (scale factor) rows
        thr, scl = table.thresholds, table.scales
        rows = rows + thr + scl
        pid = np.array([r.pid for r in thr + scl], dtype=int)
        value = np.where(pid >= 0, x[np.maximum(pid, 0)], [r.value for r in thr + scl])
        if table.parameterization == "theta":  # derived scale factors 1 / sqrt(Sigma*_ii)
            value[len(thr):] = [model.scales(x, r.group)[r.r] for r in scl]
        sd = np.sqrt(np.array([np.diag(model.implied(x, g).sigma) for g in range(model.G)]))
        se_extra = np.where(pid >= 0, np.sqrt(np.maximum(np.diag(cov)[np.maximum(pid, 0)], 0)), 0.0)
        sd_rows = sd[[r.group for r in thr + scl], [r.r for r in thr + scl]]
        # std_all: tau / sd(y*) for a threshold, Delta sd(y*) = 1 for a scale factor (as lavaan)
        std_extra = np.concatenate([value[:len(thr)] / sd_rows[:len(thr)], value[len(thr):] * sd_rows[len(thr):]])
        est = np.concatenate([est, value])
        se = np.concatenate([se, se_extra])
        std = np.concatenate([std, std_extra])
        free = np.concatenate([free, pid >= 0])
    columns = {"lhs": [r.lhs for r in rows], "op": [r.op for r in rows], "rhs": [r.rhs for r in rows],
               "group": [fitted.groups[r.group] for r in rows], "label": [r.label for r in rows]}
    n_def = len(syntax.definitions)
    if n_def:
        dvals, dse = defined_se(syntax, table, model.row_values, x, cov)
        est = np.concatenate([est, dvals])
        se = np.concatenate([se, dse])
        std = np.concatenate([std, fitted.standardizer.defined(syntax, std_core)])
        columns["lhs"] += [d.name for d in syntax.definitions]
        columns["op"] += [":="] * n_def
        columns["rhs"] += [d.expression.replace("**", "^") for d in syntax.definitions]
        columns["group"] += [""] * n_def
        columns["label"] += [d.name for d in syntax.definitions]
    free = np.concatenate([free, np.ones(n_def, dtype=bool)])
    if boot is not None and boot_std is not None:
        converged = ~failed_draws(boot, len(rows))
        ok, ok_std = boot[converged], boot_std[converged]
        se_b, lower_b, upper_b = percentile_interval(ok)
        se = np.where(free, se_b, 0.0)
        lower = np.where(free, lower_b, est)
        upper = np.where(free, upper_b, est)
    else:
        lower, upper = est - _Z975 * se, est + _Z975 * se
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(free & (se > 0), est / se, np.nan)
    columns.update(est=est, se=se, z=z, pvalue=2 * stats.norm.sf(np.abs(z)), ci_lower=lower, ci_upper=upper,
                   std_all=std)
    if boot is not None and boot_std is not None:
        # a fixed parameter's std_all still varies over draws (e.g. a marker loading), so every row gets its interval
        columns["std_se"], columns["std_ci_lower"], columns["std_ci_upper"] = percentile_interval(ok_std)
        columns["std_pvalue"] = bootstrap_pvalue(ok_std)
    return pd.DataFrame(columns)


def bootstrap_pvalue(draws: np.ndarray) -> np.ndarray:
    r"""Two-sided bootstrap p-value of each column against 0, the one that goes with the
    percentile interval: :math:`p = 2 \min(\Pr^*(\theta^* \le 0), \Pr^*(\theta^* \ge 0))`,
    so the 95% percentile interval excludes 0 exactly when p < .05 (the test inverted from
    the interval; Efron & Tibshirani 1993, ch. 16). NaN where fewer than two draws have a value."""
    out = np.full(draws.shape[1], np.nan)
    counted = (~np.isnan(draws)).sum(axis=0)
    enough = counted >= 2
    if enough.any():
        kept = draws[:, enough]
        below = np.nansum(kept <= 0, axis=0) / counted[enough]
        above = np.nansum(kept >= 0, axis=0) / counted[enough]
        out[enough] = np.minimum(1.0, 2 * np.minimum(below, above))
    return out


def failed_draws(boot: np.ndarray, n_params: int) -> np.ndarray:
    """Draws whose refit did not converge (NaN in a model parameter). A defined
    parameter that is undefined in one draw (``log`` of a negative value) is left out of
    its own column only."""
    return np.isnan(boot[:, :n_params]).any(axis=1)


def percentile_interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap SD and 95% percentile interval per column, NaN where fewer than two
    draws have a value.

    The limits are order statistics, not interpolated: the lower the ``ceil(.025 B)``-th
    smallest of the ``B`` draws, the upper the ``ceil(.025 B)``-th largest, so the interval
    excludes 0 exactly when :func:`bootstrap_pvalue` is below .05 (an interpolated limit can
    exclude 0 at p = .05 itself)."""
    enough = (~np.isnan(draws)).sum(axis=0) >= 2
    out = np.full((3, draws.shape[1]), np.nan)
    if enough.any():
        kept = draws[:, enough]
        with np.errstate(invalid="ignore"), _warnings.catch_warnings():
            _warnings.simplefilter("ignore", RuntimeWarning)
            out[0, enough] = np.nanstd(kept, axis=0, ddof=1)
            out[1, enough] = np.nanpercentile(kept, 2.5, axis=0, method="inverted_cdf")
            out[2, enough] = -np.nanpercentile(-kept, 2.5, axis=0, method="inverted_cdf")
    return out[0], out[1], out[2]


# --------------------------------------------------------------------------- summary
_FIT_LINES = (("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("rmsea_ci_lower", "RMSEA 90% lower"),
              ("rmsea_ci_upper", "RMSEA 90% upper"), ("srmr", "SRMR"), ("logl", "Loglikelihood"),
              ("aic", "AIC"), ("bic", "BIC"))
_WLSMV_FIT_LINES = (("chisq_scaled", "Test statistic (scaled-shifted)"), ("pvalue_scaled", "P-value (scaled-shifted)"),
                    ("chisq_scaling_factor", "Scaling correction factor"), ("chisq_shift_parameter", "Shift parameter"),
                    ("cfi", "CFI"), ("tli", "TLI"), ("cfi_robust", "Robust CFI"), ("tli_robust", "Robust TLI"),
                    ("rmsea", "RMSEA"), ("rmsea_robust", "Robust RMSEA"),
                    ("rmsea_ci_lower_robust", "Robust RMSEA 90% lower"),
                    ("rmsea_ci_upper_robust", "Robust RMSEA 90% upper"), ("srmr", "SRMR"))
_TITLES = {"=~": "Latent Variables", "~": "Regressions", "~~": "Covariances / Variances",
           "~1": "Intercepts", "|": "Thresholds", ":=": "Defined Parameters"}


@dataclass(frozen=True)
class Summary:
    """lavaan's ``summary(fit)`` as data: the header, the model test, fit measures and
    the estimates by group and operator; ``reports.text.format_sem`` renders it as text.

    Attributes
    ----------
    estimator, converged, nobs, nobs_per_group
        The header.
    test
        ``chisq, df, pvalue``.
    measures
        ``(name, value)`` of the fit measures shown.
    sections
        ``(group, title, rows)`` with ``rows`` the estimate-table rows of one operator.
    warnings
        As in the result.
    """

    estimator: str
    converged: bool
    nobs: int
    nobs_per_group: dict[str, int]
    test: dict[str, float]
    measures: tuple[tuple[str, float], ...]
    sections: tuple[tuple[str, str, pd.DataFrame], ...]
    warnings: tuple[str, ...]
    multigroup: bool
    digits: int = 3
    levels: bool = False


def summary(result: SEMResult, *, digits: int = 3) -> Summary:
    """A lavaan-like summary as data (fit measures, then estimates by operator)."""
    fm = result.fit_measures
    est = result.estimates
    sections = []
    levels = "level" in est.columns
    if levels:  # two-level: sections per level (analysis.sem.twolevel)
        for level, name in ((1, "Level 1 [within]"), (2, "Level 2 [between]")):
            for op, title in _TITLES.items():
                part = est[(est["op"] == op) & (est["level"] == level)]
                if not part.empty:
                    sections.append((name, title, part))
        defined = est[est["op"] == ":="]
        if not defined.empty:
            sections.append(("Defined parameters (both levels)", _TITLES[":="], defined))
    for group in ([] if levels else result.groups):
        for op, title in _TITLES.items():
            if op == ":=" and group != result.groups[-1]:
                continue
            part = est[(est["op"] == op) & ((est["group"] == group) | (op == ":="))]
            if not part.empty:
                sections.append((group, title, part))
    wlsmv = result.fitted is not None and result.fitted.estimator.name == "dwls"
    measures = [(name, fm[key]) for key, name in (_WLSMV_FIT_LINES if wlsmv else _FIT_LINES)]
    if levels:
        measures += [("SRMR (within)", fm["srmr_within"]), ("SRMR (between)", fm["srmr_between"])]
    return Summary(
        estimator="WLSMV" if wlsmv else f"ML{', FIML' if result.missing == 'fiml' else ''}",
        converged=result.converged,
        nobs=result.nobs, nobs_per_group=dict(result.nobs_per_group),
        test={k: fm[k] for k in ("chisq", "df", "pvalue")},
        measures=tuple(measures), sections=tuple(sections),
        warnings=result.warnings, multigroup=len(result.groups) > 1, digits=digits, levels=levels)
