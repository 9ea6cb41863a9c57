"""Structural equation models by maximum likelihood, matching lavaan.

:func:`fit` takes lavaan model syntax (:mod:`analysis.sem.syntax`) and a data frame and
returns an :class:`SEMResult` with lavaan's estimate table, fit measures
(:mod:`analysis.sem.fit_measures`), standardized solution, R², modification indices and,
optionally, bootstrap percentile intervals. Multi-group models tie parameters by shared
labels or ``group_equal``; :func:`invariance` runs the configural -> metric -> scalar
sequence. ``missing="fiml"`` maximises the casewise (full-information) likelihood;
``cluster=`` with ``level:`` blocks fits a two-level model (:mod:`analysis.sem.twolevel`);
``ordered=`` fits ordinal indicators by WLSMV (:func:`analysis.sem.fitting.fit_wlsmv`).

The estimator is implemented here with numpy/scipy; semopy 2.3.11 gives the same
single-group ML estimates (tests cross-check the two) but lacks equality constraints
across groups, defined parameters and a correct FIML chi-square (measured on semopy
2.3.11; docs/statistics.md), so it is not the estimation core.

The package follows lavaan's stages, one module per concept:

=====================  ===============================================================
``syntax``             the model syntax parser and the ``:=`` function whitelist
``partable``           the parameter table: the only source of ``npar``, ``ndat``, ``df``
``samplestats``        data to one float array per group, moments, checks
``categorical``        thresholds, polychoric correlations, NACOV and DWLS weights (WLSMV)
``mixed_gamma``        the NACOV with continuous indicators among ordered ones (Muthén 1984)
``casewise``           casewise likelihood of incomplete data, E-step, EM (h1)
``matrices``           LISREL matrices, implied moments, their analytic Jacobian
``ml``, ``fiml``       the estimators
``dwls``               DWLS of ordinal indicators, delta parameterization (WLSMV)
``robust``             sandwich SEs, scaled-shifted test, robust CFI/TLI/RMSEA (WLSMV)
``start``              start values
``optimizer``          Fisher scoring with a line search; L-BFGS as the safeguard
``variance``           information, standard errors, delta method
``standardized``       ``std.all`` and R²
``bootstrap``          resampling within groups
``modindices``         score tests
``fit_measures``       chi-square, CFI, TLI, RMSEA (+ interval), SRMR, logl, AIC, BIC; WLSMV's
``fitted``, ``results``  the typed fitted state, the estimate table, :class:`SEMResult`, :class:`Summary`
``fitting``            :func:`fit`, the stages in order
``invariance``         configural -> metric -> scalar
``twolevel``           two-level ML (``level: 1`` / ``level: 2`` with ``cluster=``)
=====================  ===============================================================
"""

from analysis.sem.fitted import FittedModel
from analysis.sem.fitting import ESTIMATORS, fit
from analysis.sem.invariance import InvarianceResult, invariance
from analysis.sem.partable import GROUP_EQUAL, ParameterTable, count_parameters
from analysis.sem.results import BOOTSTRAP_STD_COLUMNS, ESTIMATE_COLUMNS, SEMResult, Summary, summary
from analysis.sem.syntax import ModelSyntax, parse_model

__all__ = ["BOOTSTRAP_STD_COLUMNS", "ESTIMATE_COLUMNS", "ESTIMATORS", "GROUP_EQUAL", "FittedModel",
           "InvarianceResult", "ModelSyntax", "ParameterTable", "SEMResult", "Summary", "count_parameters",
           "fit", "invariance", "parse_model", "summary"]
