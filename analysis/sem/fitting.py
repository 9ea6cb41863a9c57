"""Fitting a model: the stages of lavaan's ``sem()`` in order.

syntax (:mod:`analysis.sem.syntax`) -> parameter table (:mod:`analysis.sem.partable`) ->
sample statistics (:mod:`analysis.sem.samplestats`) -> model matrices
(:mod:`analysis.sem.matrices`) -> estimator (:data:`ESTIMATORS`) -> start values and
optimiser (:mod:`analysis.sem.start`, :mod:`analysis.sem.optimizer`) -> variance
(:mod:`analysis.sem.variance`) -> bootstrap (:mod:`analysis.sem.bootstrap`) -> fit
measures and results (:mod:`analysis.sem.fit_measures`, :mod:`analysis.sem.results`).
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ConvergenceWarning, ModelSpecificationError
from analysis.sem import bootstrap as _bootstrap
from analysis.sem import fit_measures as _fm
from analysis.sem import optimizer
from analysis.sem import twolevel as _twolevel
from analysis.sem.categorical import check_categories, check_ordered, ordinal_stats
from analysis.sem.dwls import DeltaModel, DWLSEstimator
from analysis.sem.fiml import FIMLEstimator
from analysis.sem.fitted import FittedModel
from analysis.sem.matrices import Model
from analysis.sem.ml import MLEstimator
from analysis.sem.partable import GROUP_EQUAL, ORDINAL_GROUP_EQUAL, build_table, structure_of, uses_meanstructure
from analysis.sem.results import SEMResult, estimate_table, failed_draws
from analysis.sem.robust import sandwich_vcov, wls_pieces
from analysis.sem.samplestats import prepare_data
from analysis.sem.standardized import Standardizer, r_squared
from analysis.sem.start import start_values
from analysis.sem.syntax import parse_model
from analysis.sem.variance import vcov as _vcov
from analysis.threads import limit_blas_threads
from surveys.errors import did_you_mean

#: The estimator of each ``missing`` option. DWLS (ordinal items, ``ordered=``) is
#: :class:`analysis.sem.dwls.DWLSEstimator`, fitted by :func:`fit_wlsmv`; two-level models
#: (``cluster=``) go to :func:`analysis.sem.twolevel.fit_twolevel`.
ESTIMATORS: dict[str, type[MLEstimator]] = {"listwise": MLEstimator, "fiml": FIMLEstimator}


def fit(model: str, data: pd.DataFrame, *, group: str | None = None, group_equal: str | tuple[str, ...] = (),
        missing: str = "listwise", bootstrap: int = 0, seed: int | None = None,
        fixed_x: bool = True, cluster: str | None = None, group_partial: str | tuple[str, ...] = (),
        ordered: Sequence[str] | None = None, estimator: str | None = None,
        parameterization: str = "delta") -> SEMResult:
    """Fit a structural equation model by maximum likelihood (lavaan ``sem()``), or by
    WLSMV with ordinal indicators (``ordered=``).

    Parameters
    ----------
    model
        lavaan model syntax (see :mod:`analysis.sem.syntax`).
    data
        One row per case; every observed variable of the model is a numeric column.
    group
        Column defining groups for a multi-group model (groups in order of appearance).
    group_equal
        Parameter classes held equal across groups: any of ``"loadings"``,
        ``"intercepts"``, ``"residuals"``, ``"residual.covariances"``, ``"lv.variances"``,
        ``"lv.covariances"``, ``"regressions"``, ``"means"`` (lavaan ``group.equal``).
        With equal intercepts the latent means are free in all but the first group.
    group_partial
        Parameters exempt from ``group_equal`` (lavaan ``group.partial``), e.g.
        ``("x3 ~ 1", "visual =~ x2")``: partial invariance.
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
    fixed_x
        lavaan ``fixed.x``: with ``True`` (the default) the exogenous observed covariates
        keep their sample variances, covariances and means (not parameters, not in
        ``npar``) and ``logl``, ``aic``, ``bic`` and ``unrestricted_logl`` are conditional
        on them (the joint logl less the covariates' saturated logl
        ``-n/2 (p_x log 2 pi + log|S_x| + p_x)``); under FIML, cases with a missing covariate
        are dropped (with a warning). ``False``: the covariates' moments are free
        parameters and the logl is the joint one (same chi-square).
    cluster
        Column of the cluster ids of a two-level model (lavaan ``cluster =``); the model
        syntax then has ``level: 1`` and ``level: 2`` blocks, fitted by two-level ML
        (:mod:`analysis.sem.twolevel`, which lists what is not supported). The estimate
        table gains a ``level`` column (1 within, 2 between) and the fit measures
        ``srmr_within``, ``srmr_between``, ``nclusters``.
    ordered
        The ordinal indicators (lavaan ``ordered =``); the model is then fitted by WLSMV
        (:func:`fit_wlsmv`, which lists what is supported): thresholds
        (``x1 | t1`` rows) and polychoric correlations as the sample statistics, DWLS
        estimates, robust standard errors, the scaled-shifted test and robust fit indices.
    estimator
        ``"ML"`` (the default without ``ordered=``), ``"WLSMV"`` (the default with it) or, for
        two-level models, ``"MLR"``: ML estimates with cluster-robust (Huber-White) standard
        errors (lavaan ``estimator = "MLR"``; :func:`analysis.sem.twolevel.fit_twolevel`).
    parameterization
        ``"delta"`` (lavaan's default for ordinal indicators: latent responses of variance 1) or
        ``"theta"`` (residual variances of the ordered variables 1; the same fit).

    Returns
    -------
    SEMResult

    Notes
    -----
    Complete data: minimises ``F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p
    + (m - mu)' Sigma^-1 (m - mu)`` summed over groups with weights ``n_g / N``, S divided
    by N (lavaan ``likelihood = "normal"``; Jöreskog 1969; Bollen 1989, ch. 4) by Fisher
    scoring on the expected information with a line search, L-BFGS with the analytic
    gradient as the fallback (:mod:`analysis.sem.optimizer`); the chi-square is ``N F_ML``.
    Standard errors come from the inverse expected information ``sum_g n_g Delta' W Delta`` (lavaan
    ``information = "expected"``).

    FIML: the casewise log-likelihood ``-1/2 sum_i [p_i log 2 pi + log|Sigma_i| +
    (x_i - mu_i)' Sigma_i^-1 (x_i - mu_i)]`` over the variables observed in case i
    (Arbuckle 1996; Enders 2010), from one factorisation of the full ``Sigma`` per
    evaluation, with an analytic gradient by Fisher's identity
    (:class:`analysis.sem.casewise.IncompleteData`). The chi-square compares it with the
    unrestricted model fitted by EM (:func:`analysis.sem.casewise.em_saturated`); standard errors
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
    est_name = (estimator or ("WLSMV" if ordered else "ML")).upper()
    if est_name not in ("ML", "MLR", "WLSMV"):
        raise ModelSpecificationError(f"estimator='{estimator}' is not supported", where="fit(estimator=...)",
                                      fix="use 'ML' (continuous indicators), 'MLR' (two-level, cluster-robust "
                                          "standard errors) or 'WLSMV' (ordinal indicators)")
    if est_name == "MLR" and (ordered or cluster is None):
        raise ModelSpecificationError("estimator='MLR' is supported for two-level models (cluster=) only",
                                      where="fit(estimator=...)",
                                      fix="pass cluster= with 'level:' blocks, or use 'ML' / 'WLSMV'")
    if est_name == "WLSMV" or ordered:
        if est_name != "WLSMV":
            raise ModelSpecificationError("ordered indicators are fitted by WLSMV, not ML", where="fit(estimator=...)",
                                          fix="drop estimator= (or pass estimator='WLSMV') with ordered=")
        return fit_wlsmv(model, data, ordered=ordered, group=group, group_equal=group_equal, missing=missing,
                         bootstrap=bootstrap, cluster=cluster, group_partial=group_partial,
                         parameterization=parameterization)
    if missing not in ESTIMATORS:
        raise ModelSpecificationError(f"missing='{missing}' is not supported", where="fit(missing=...)",
                                      fix="use 'listwise' or 'fiml'")
    if isinstance(group_equal, str):
        group_equal = (group_equal,)
    group_equal = tuple(group_equal)
    for ge in group_equal:
        if ge not in GROUP_EQUAL:
            raise ModelSpecificationError(f"group_equal '{ge}' is unknown.{did_you_mean(ge, GROUP_EQUAL)}",
                                          where="fit(group_equal=...)", fix=f"use any of {GROUP_EQUAL}")
    if isinstance(group_partial, str):
        group_partial = (group_partial,)
    group_partial = tuple(group_partial)
    if group_partial and not group_equal:
        raise ModelSpecificationError("group_partial needs group_equal", where="fit(group_partial=...)",
                                      fix="pass group_equal=(...) as well")
    if group_equal and group is None:
        raise ModelSpecificationError("group_equal needs a group column", where="fit(group_equal=...)",
                                      fix="pass group='column'")
    if not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ModelSpecificationError("bootstrap must be a non-negative integer", where="fit(bootstrap=...)",
                                      fix="pass e.g. bootstrap=1000")
    if cluster is not None or _twolevel.has_levels(model):
        return _fit_twolevel(model, data, cluster, group=group, group_equal=group_equal, missing=missing,
                             bootstrap=bootstrap, fixed_x=fixed_x, robust=est_name == "MLR")
    syntax = parse_model(model)
    warnings_out: list[str] = []
    st = structure_of(syntax)
    group_data, labels = prepare_data(data, st.ov, group, missing, warnings_out,
                                      complete=st.exo_x if fixed_x else ())
    n_groups = len(labels)
    table = build_table(syntax, n_groups=n_groups, group_equal=group_equal, fixed_x=bool(fixed_x),
                        group_partial=group_partial,
                        meanstructure=uses_meanstructure(syntax, n_groups=n_groups, missing=missing))
    estimator = ESTIMATORS[missing](Model(table), group_data)
    table.check_identified()
    with limit_blas_threads():
        opt = optimizer.minimize(estimator, start_values(table, group_data))
        if not opt.converged:  # second try from lavaan's "simple" start (loadings 1, half variances)
            alt = optimizer.minimize(estimator, start_values(table, group_data, simple=True))
            better = estimator.objective(alt.x, gradient=False) < estimator.objective(opt.x, gradient=False)
            if alt.converged or better:
                opt = alt
        _warn_unconverged(opt, warnings_out)
        x = opt.x
        warnings_out.extend(_heywood(estimator, x))
        fitted = FittedModel(syntax, table, estimator, x, _vcov(estimator, x, table), labels, Standardizer(table),
                             opt.iterations, opt.method)
        boot, boot_std = (_bootstrap.bootstrap(fitted, bootstrap, seed, missing) if bootstrap else (None, None))
        estimates = estimate_table(fitted, boot, boot_std)
        measures = _fm.fit_measures(estimator, x, table)
    nobs_per_group = {lab: d.n for lab, d in zip(labels, group_data, strict=True)}
    draws = None
    if boot is not None:
        draws = pd.DataFrame(boot, columns=[r.name for r in table.rows] + [d.name for d in syntax.definitions])
        n_failed = int(failed_draws(boot, len(table.rows)).sum())
        if n_failed:
            warnings_out.append(f"{n_failed} of {bootstrap} bootstrap draws did not converge and were left out")
        if bootstrap - n_failed < 2:
            warnings_out.append("ConvergenceWarning: fewer than two bootstrap draws converged, so the "
                                "bootstrap standard errors and intervals are NaN")
    return SEMResult(estimates, measures, r_squared(estimator.model, x, labels), opt.converged,
                     tuple(warnings_out), sum(d.n for d in group_data), nobs_per_group, labels, model, missing,
                     draws, fitted)


def _fit_twolevel(model: str, data: pd.DataFrame, cluster: str | None, *, group, group_equal, missing, bootstrap,
                  fixed_x, robust) -> SEMResult:
    """A two-level model, after refusing the options it does not support."""
    where = "fit(cluster=...)"
    if cluster is None:
        raise ModelSpecificationError("the model has 'level:' blocks but no cluster column", where=where,
                                      fix="pass cluster='column of the cluster ids'")
    if not _twolevel.has_levels(model):
        raise ModelSpecificationError("cluster= needs a two-level model ('level: 1' and 'level: 2' blocks); "
                                      "cluster-robust standard errors of a one-level model are not supported",
                                      where=where, fix="add 'level: 1' / 'level: 2' blocks, or drop cluster=")
    for bad, name, fix in ((group is not None, "groups", "drop group="),
                           (bool(group_equal), "group_equal", "drop group_equal="),
                           (missing not in ("listwise", "fiml"), f"missing='{missing}'", "use missing='listwise'"),
                           (bool(bootstrap), "the bootstrap", "drop bootstrap=")):
        if bad:
            raise ModelSpecificationError(f"{name} are not supported in two-level models yet", where=where, fix=fix)
    with limit_blas_threads():
        return _twolevel.fit_twolevel(model, data, cluster, fixed_x=fixed_x, missing=missing, robust=robust)


def fit_wlsmv(model: str, data: pd.DataFrame, *, ordered: Sequence[str] | None, group: str | None = None,
              group_equal: tuple[str, ...] = (), missing: str = "listwise", bootstrap: int = 0,
              cluster: str | None = None, group_partial: tuple[str, ...] = (),
              parameterization: str = "delta") -> SEMResult:
    """Fit a model with ordinal indicators by WLSMV (lavaan ``sem(..., ordered = ..., estimator = "WLSMV")``).

    Stages: listwise deletion (lavaan's default for categorical data) -> thresholds,
    polychoric correlations, NACOV and DWLS weights per group (:mod:`analysis.sem.categorical`)
    -> parameter table with ``|`` threshold rows and the ordered variables' residual
    variances fixed (delta parameterization; ``parameterization="theta"`` fixes them at 1 and
    derives the scale factors) -> DWLS by Gauss-Newton (:mod:`analysis.sem.dwls`)
    -> sandwich standard errors, scaled-shifted test, robust fit indices
    (:mod:`analysis.sem.robust`, :func:`analysis.sem.fit_measures.wls_fit_measures`).

    Supported: ordered and continuous indicators (continuous ones with their means,
    variances and polyserial/Pearson entries, :mod:`analysis.sem.mixed_gamma`), latent
    variables with regressions and
    covariances among them, labels, ``==`` and ``:=``, and groups (every variable with the
    same categories in every group) with lavaan's defaults for categorical data: configural,
    thresholds and loadings free per group, intercepts and latent means 0, scale factors 1;
    ``group_equal`` ties any class, and ``"thresholds"`` (e.g. ``("thresholds", "loadings")``,
    scalar invariance) also frees the scale factors and latent means of the later groups;
    ``group_partial`` exempts loadings etc. or single thresholds (``"x3 | t1"``). The estimate table has
    lavaan's ``x | t1`` rows (``std_all`` = the threshold over the latent response SD, 1 in
    the delta parameterization) and the ordered variables' residual variances as fixed rows
    (``se`` 0) at ``1 - lambda^2 psi``. Refused with a :class:`ModelSpecificationError`
    naming the alternative: observed covariates or observed variables in regressions,
    FIML, two-level models and the bootstrap.
    """
    where = "fit(ordered=...)"
    for bad, what, fix in (
            (parameterization not in ("delta", "theta"), f"parameterization='{parameterization}' is unknown",
             "use parameterization='delta' (lavaan's default) or 'theta'"),
            (not ordered, "estimator='WLSMV' needs the ordinal indicators", "pass ordered=[...] (the item names)"),
            (cluster is not None or _twolevel.has_levels(model), "two-level models are not supported with WLSMV",
             "fit the two-level model by ML on the item scores, or a one-level WLSMV model"),
            (missing != "listwise", "FIML is not defined for WLSMV (there is no likelihood)",
             "use missing='listwise' (lavaan's default for categorical data), or impute first"),
            (bool(bootstrap), "the bootstrap is not supported with WLSMV",
             "drop bootstrap=; WLSMV's standard errors are robust (sandwich) already"),
            (bool(group_equal or group_partial) and group is None, "group_equal needs a group column",
             "pass group='column'"),
            (bool(group_partial) and not group_equal, "group_partial needs group_equal",
             "pass group_equal=(...) as well")):
        if bad:
            raise ModelSpecificationError(what, where=where, fix=fix)
    group_equal = (group_equal,) if isinstance(group_equal, str) else tuple(group_equal)
    group_partial = (group_partial,) if isinstance(group_partial, str) else tuple(group_partial)
    for ge in group_equal:
        if ge not in ORDINAL_GROUP_EQUAL:
            raise ModelSpecificationError(f"group_equal '{ge}' is unknown.{did_you_mean(ge, ORDINAL_GROUP_EQUAL)}",
                                          where="fit(group_equal=...)", fix=f"use any of {ORDINAL_GROUP_EQUAL}")
    syntax = parse_model(model)
    st = structure_of(syntax)
    names = check_ordered(list(ordered or ()), st.ov)
    if st.phantom:
        kind = "ordered" if any(v in names for v in st.phantom) else "continuous"
        raise ModelSpecificationError(
            f"observed variable(s) {', '.join(st.phantom)} ({kind}) appear in regressions or in covariances with "
            "latent variables; with WLSMV only indicators (=~) of latent variables are supported for now "
            "(lavaan's conditional.x treatment of observed covariates is not built)",
            where="model syntax", fix="make each observed variable an indicator of a latent variable, or fit the "
                                      "model by ML on the item scores")
    warnings_out: list[str] = []
    group_data, labels = prepare_data(data, st.ov, group, "listwise", warnings_out)
    stats = [ordinal_stats(d, st.ov, label=lab, ordered=names) for d, lab in zip(group_data, labels, strict=True)]
    check_categories(stats, names, labels)
    for s in stats:
        warnings_out.extend(s.warnings)
    table = build_table(syntax, n_groups=len(labels), group_equal=group_equal,
                        meanstructure=(len(labels) > 1 and "thresholds" in group_equal) or len(names) < len(st.ov),
                        group_partial=group_partial, thresholds=[s.thresholds for s in stats],
                        parameterization=parameterization)
    table.check_identified()
    estimator = DWLSEstimator(DeltaModel(table), stats)
    with limit_blas_threads():
        x0 = start_values(table, [s.moments for s in stats])
        for r in table.thresholds + table.scales:
            if r.pid >= 0:
                x0[r.pid] = r.value  # the sample thresholds (group 1's when tied), scale factors 1
        opt = optimizer.minimize(estimator, x0)
        _warn_unconverged(opt, warnings_out)
        x = opt.x
        warnings_out.extend(_heywood(estimator, x))
        pieces = wls_pieces(estimator, x, table)
        fitted = FittedModel(syntax, table, estimator, x, sandwich_vcov(pieces, estimator.N - len(labels)), labels,
                             Standardizer(table), opt.iterations, opt.method)
        estimates = estimate_table(fitted, None, None)
        measures = _fm.wls_fit_measures(estimator, x, table, pieces)
    return SEMResult(estimates, measures, r_squared(estimator.model, x, labels), opt.converged,
                     tuple(warnings_out), estimator.N, {lab: s.n for lab, s in zip(labels, stats, strict=True)},
                     labels, model, "listwise", None, fitted)


def _heywood(estimator: MLEstimator, x: np.ndarray) -> list[str]:
    """Warnings for improper solutions: negative variances, non-positive-definite Psi (lavaan)."""
    st = estimator.model.table.structure
    out = []
    lat = [st.eta.index(v) for v in st.latent]
    for g in range(estimator.G):
        imp = estimator.model.implied(x, g)
        where = f" (group {g + 1})" if estimator.G > 1 else ""
        neg = [v for i, v in enumerate(st.ov) if imp.theta[i, i] < 0]
        neg += [v for i, v in enumerate(st.eta) if imp.psi[i, i] < 0]
        if neg:
            out.append(f"negative variance estimates (Heywood case){where}: {', '.join(neg)}; "
                       "the solution is improper")
        if lat and not neg and np.linalg.eigvalsh(imp.psi[np.ix_(lat, lat)])[0] < 0:
            out.append(f"the covariance matrix of the latent variables is not positive definite{where}")
    return out


def _warn_unconverged(opt: optimizer.Optimum, warnings_out: list[str]) -> None:
    """Say so, in the result and as a :class:`ConvergenceWarning`, when the optimiser did not converge."""
    if not opt.converged:
        warnings_out.append(f"ConvergenceWarning: the optimiser did not converge ({opt.message}); "
                            "estimates are not trustworthy")
        _warnings.warn(ConvergenceWarning(opt.message), stacklevel=3)
