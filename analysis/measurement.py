"""The measurement model of an instrument and its health check.

:func:`measurement_model` writes the lavaan syntax of an instrument's constructs;
:func:`instrument_health` runs the whole psychometric check on a response frame
(scoring, alpha, omega and item analysis per construct, a CFA of all constructs,
composite reliability, AVE, HTMT, an EFA for cross-loadings) and returns the numbers
with a table of flags that say what to consider. Items with few answer categories are
treated as ordinal (a WLSMV CFA, ordinal alpha and ordinal omega), with the continuous
numbers (ML CFA, Cronbach's alpha, omega) kept alongside.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from analysis.efa import EFAResult, efa
from analysis.reliability import (
    alpha,
    ave,
    composite_reliability,
    htmt,
    item_analysis,
    omega,
    ordinal_alpha,
    ordinal_omega,
)
from analysis.scoring import score
from analysis.sem import fit
from surveys.errors import TandemError

__all__ = [
    "FIT_COLUMNS",
    "FLAG_COLUMNS",
    "ORDINAL_INDICES",
    "HealthReport",
    "HealthThresholds",
    "MeasurementWarning",
    "instrument_health",
    "measurement_model",
    "ordinal_categories",
]

#: Columns of :attr:`HealthReport.flags`.
FLAG_COLUMNS = ("level", "target", "statistic", "value", "threshold", "message")
#: Columns of :attr:`HealthReport.fit` (one row per CFA fitted, the primary one first).
FIT_COLUMNS = ("method", "estimator", "primary", "indices", "nobs", "chisq", "df", "pvalue", "cfi", "tli", "rmsea",
               "srmr")
#: The fit indices a WLSMV CFA is judged by, in order of preference: Savalei's (2021) robust
#: CFI, TLI and RMSEA, then (where those are undefined: a polychoric matrix that is not
#: positive definite, continuous indicators in the model) the scaled ones of the
#: scaled-shifted statistic; the chi-square and its p-value are the scaled ones.
ORDINAL_INDICES = {"robust": ("cfi_robust", "tli_robust", "rmsea_robust"),
                   "scaled": ("cfi_scaled", "tli_scaled", "rmsea_scaled")}
_METHOD_LABEL = {"ordinal": "ordinal (WLSMV)", "continuous": "continuous (ML)"}


class MeasurementWarning(UserWarning):
    """A construct is too short for a well-identified measurement model."""


def _model_constructs(instrument: Any, *, warn: bool) -> list[Any]:
    usable = []
    for construct in instrument.constructs:
        k = len(construct.items)
        if k >= 3:
            usable.append(construct)
        elif k == 2:
            usable.append(construct)
            if warn:
                warnings.warn(
                    f"construct {construct.id!r} has 2 items: its factor is identified only through its "
                    "correlations with the other factors; consider adding a third item",
                    MeasurementWarning, stacklevel=3)
        elif warn:
            warnings.warn(f"construct {construct.id!r} has a single item and is left out of the measurement model",
                          MeasurementWarning, stacklevel=3)
    return usable


def measurement_model(instrument: Any) -> str:
    """lavaan syntax of the instrument's constructs, one factor per construct.

    Parameters
    ----------
    instrument
        A :class:`surveys.instrument.Instrument`.

    Returns
    -------
    str
        One line per construct, ``construct_id =~ item1 + item2 + item3``, for the
        analysis of *reverse-keyed* items (:func:`analysis.scoring.score`).

    Notes
    -----
    Constructs with three or more items are included. A two-item construct is
    included with a :class:`MeasurementWarning` (it is identified only inside a
    model with other correlated factors); a single-item construct is left out with
    a warning. Factors correlate freely (lavaan's ``cfa()`` default).
    """
    constructs = _model_constructs(instrument, warn=True)
    return "\n".join(f"{c.id} =~ " + " + ".join(c.items) for c in constructs)


@dataclass(frozen=True)
class HealthThresholds:
    """Cut-offs of :func:`instrument_health` (conventional values by default).

    Attributes
    ----------
    alpha
        Flag a construct whose alpha (ordinal alpha for ordinal items, else Cronbach's) is
        below (Nunnally, 1978: .70).
    loading
        Flag an item whose standardized loading in the primary CFA is below (.40).
    cross_loading
        Flag an item whose absolute EFA pattern loading on another construct's factor
        reaches this value (.30).
    ave
        Flag a construct whose average variance extracted is below (Fornell &
        Larcker, 1981: .50).
    htmt
        Flag a pair of constructs whose HTMT exceeds (Henseler et al., 2015: .85).
    cfi, rmsea, srmr
        Model fit: flag CFI below (.90), RMSEA above (.08), SRMR above (.08)
        (Hu & Bentler, 1999, relaxed to the usual "acceptable" values).
    ordinal_max_categories
        Items with at most this many (integer) answer categories are ordinal. A construct
        whose items all are gets ordinal alpha (alpha on the polychoric correlations,
        Zumbo, Gadermann & Zeisser 2007) and ordinal omega (a one-factor WLSMV CFA), which
        the alpha flag judges; the CFA of all constructs is fitted by WLSMV with those
        items ``ordered=`` and its loadings, AVE and fit are the ones flagged (robust
        indices, :data:`ORDINAL_INDICES`). Cronbach's alpha, omega and the ML CFA stay
        alongside. 0 turns this off.
    ordinal_min_n
        Complete responses the WLSMV CFA needs (it deletes incomplete responses listwise:
        there is no full-information WLSMV); with fewer, the ML CFA (by FIML) stays primary
        and a flag says why. 200, the smallest sample at which Flora & Curran (2004) found
        WLSMV's estimates, standard errors and test acceptable for four-to-ten-indicator
        factors with five categories.
    """

    alpha: float = 0.70
    ordinal_max_categories: int = 5
    ordinal_min_n: int = 200
    loading: float = 0.40
    cross_loading: float = 0.30
    ave: float = 0.50
    htmt: float = 0.85
    cfi: float = 0.90
    rmsea: float = 0.08
    srmr: float = 0.08


@dataclass(frozen=True)
class HealthReport:
    """Everything :func:`instrument_health` found.

    Attributes
    ----------
    scores
        The scored frame (:func:`analysis.scoring.score`); one row per respondent, so it is
        not kept in published results (:mod:`services.result_codec`).
    constructs
        Per construct (index ``construct``), paired columns, continuous then ordinal:
        ``n_items``, ``n``, ``alpha`` (Cronbach's), ``std_alpha``, ``ci_lower``,
        ``ci_upper`` (Feldt), ``ordinal_alpha``, ``omega`` (one-factor ML CFA),
        ``ordinal_omega`` (one-factor WLSMV CFA), ``composite_reliability`` and ``ave``
        (from the ML CFA of all constructs), ``ordinal_composite_reliability`` and
        ``ordinal_ave`` (from the WLSMV CFA), and ``method``: which of the pair is
        primary for the construct (``ordinal`` or ``continuous``). The ordinal columns
        are NaN where the items are not ordinal or the ordinal step failed.
    items
        Per item (index ``item``): ``construct``, the :func:`analysis.reliability.item_analysis`
        columns, ``loading`` (ML CFA ``std_all``), ``ordinal_loading`` (WLSMV CFA
        ``std_all``), ``cross_loading`` (largest absolute EFA loading on another
        construct's factor) and ``cross_construct`` (that construct).
    fit_measures
        The primary CFA's fit measures (lavaan names), empty if no CFA could be fitted.
    htmt
        Constructs x constructs HTMT matrix.
    flags
        One row per finding: ``level`` (construct | item | model), ``target``,
        ``statistic``, ``value``, ``threshold``, ``message`` (what to consider).
    thresholds
        The cut-offs used.
    model
        The lavaan syntax of the CFA.
    cfa
        The primary :func:`analysis.sem.fit` result (None if both failed; the reasons
        are flags).
    efa
        The EFA used for cross-loadings (None if it failed).
    method
        The primary CFA: ``"ordinal"`` (WLSMV) or ``"continuous"`` (ML, FIML with
        missing answers).
    fit
        The fit of each CFA side by side (:data:`FIT_COLUMNS`), primary first: for WLSMV
        the scaled chi-square and p-value and the indices named in ``indices``
        (:data:`ORDINAL_INDICES`).
    continuous_cfa, ordinal_cfa
        The ML and WLSMV fits (None when not fitted).
    categories
        The most answer categories of an ordinal item of the CFA (0 when none is ordinal).
    """

    scores: pd.DataFrame = field(metadata={"stored": False})
    constructs: pd.DataFrame
    items: pd.DataFrame
    fit_measures: dict
    htmt: pd.DataFrame
    flags: pd.DataFrame
    thresholds: HealthThresholds
    model: str
    cfa: Any = field(default=None, repr=False)
    efa: EFAResult | None = field(default=None, repr=False)
    method: str = "continuous"
    fit: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FIT_COLUMNS)))
    continuous_cfa: Any = field(default=None, repr=False)
    ordinal_cfa: Any = field(default=None, repr=False)
    categories: int = 0

    @property
    def primary_sentence(self) -> str:
        """Which numbers are primary and why, in one sentence (the page and the report)."""
        if self.method == "ordinal":
            return (f"Primary: the ordinal numbers (WLSMV CFA with its {self.fit['indices'].iloc[0]} fit indices, "
                    f"ordinal alpha and ordinal omega), because the items have at most {self.categories} answer "
                    "categories and Pearson correlations of such coarse answers understate loadings and "
                    "reliability; the continuous numbers (ML CFA, Cronbach's alpha, omega) are shown beside them "
                    "for comparison.")
        reason = next((m for st, m in zip(self.flags["statistic"], self.flags["message"], strict=True)
                       if st == "method"), "")
        if reason:
            return f"Primary: the continuous numbers (ML CFA, Cronbach's alpha, omega). {reason}"
        if self.thresholds.ordinal_max_categories < 2:
            return ("Primary: the continuous numbers (ML CFA, Cronbach's alpha, omega), because the ordinal "
                    "treatment of items with few answer categories is turned off (ordinal_max_categories=0).")
        return ("Primary: the continuous numbers (ML CFA, Cronbach's alpha, omega), because the items have more "
                f"than {self.thresholds.ordinal_max_categories} answer categories, so their answers are read as "
                "continuous.")

    def to_frame(self) -> pd.DataFrame:
        """The flags table."""
        return self.flags.copy()


def _flag(flags: list[dict], level: str, target: str, statistic: str, value: float, threshold: float,
          message: str) -> None:
    flags.append({"level": level, "target": target, "statistic": statistic,
                  "value": float(value) if value is not None else np.nan,
                  "threshold": float(threshold) if threshold is not None else np.nan, "message": message})


def _cross_loadings(scored: pd.DataFrame, constructs: list[Any]) -> tuple[EFAResult, pd.DataFrame]:
    """EFA with one factor per construct; each factor is matched to the construct whose
    items load on it most (Hungarian assignment); returns per item the largest loading
    on another construct's factor."""
    items = [i for c in constructs for i in c.items]
    solution = efa(scored[items], n_factors=len(constructs), method="minres", rotation="oblimin")
    loadings = solution.loadings.abs()
    weight = np.array([[loadings.loc[list(c.items), f].sum() for f in loadings.columns] for c in constructs])
    rows, cols = linear_sum_assignment(-weight)
    factor_of = {constructs[r].id: loadings.columns[c] for r, c in zip(rows, cols, strict=True)}
    construct_of_factor = {f: cid for cid, f in factor_of.items()}
    out = []
    for c in constructs:
        for item in c.items:
            others = loadings.loc[item].drop(factor_of[c.id])
            best = others.idxmax()
            out.append({"item": item, "cross_loading": float(others.max()),
                        "cross_construct": construct_of_factor[best]})
    return solution, pd.DataFrame(out).set_index("item")


def instrument_health(frame: pd.DataFrame, instrument: Any, *,
                      thresholds: HealthThresholds | None = None) -> HealthReport:
    """Psychometric health check of an instrument on a response frame.

    Parameters
    ----------
    frame
        The wide response frame (answers as given; reverse-keying is applied here).
    instrument
        Its :class:`surveys.instrument.Instrument`.
    thresholds
        Cut-offs for the flags (default :class:`HealthThresholds`).

    Returns
    -------
    HealthReport

    Notes
    -----
    Steps, each on listwise-complete cases of the items it needs, except the ML CFA,
    which uses full-information ML when answers are missing (so a survey where most
    respondents skipped one item or another keeps every response):

    1. :func:`analysis.scoring.score` (reverse-keying, construct scores);
    2. per construct: :func:`analysis.reliability.alpha`,
       :func:`analysis.reliability.omega` and :func:`analysis.reliability.item_analysis`;
       if its items are ordinal (at most ``ordinal_max_categories`` integer categories),
       also :func:`analysis.reliability.ordinal_alpha` and
       :func:`analysis.reliability.ordinal_omega`;
    3. a CFA of all constructs (:func:`measurement_model`, :func:`analysis.sem.fit`):
       by ML (FIML with missing answers), and, when items are ordinal, by WLSMV with
       those items ``ordered=`` (complete responses); the fit measures, standardized
       loadings, :func:`analysis.reliability.composite_reliability` and
       :func:`analysis.reliability.ave` of each;
    4. :func:`analysis.reliability.htmt` between constructs;
    5. cross-loadings from an EFA (minres, oblimin) with as many factors as
       constructs, each factor matched to one construct by the largest summed
       absolute loadings of its items (an optimal assignment). An EFA is used rather
       than the CFA's modification indices because it shows every item's loading on
       every factor on the same standardized scale, without one test per fixed zero.

    Ordinal items: a five-point answer is a coarse reading of a continuous latent
    response, so Pearson correlations, and with them ML loadings, alpha and omega, are
    attenuated (Flora & Curran 2004). The WLSMV CFA (Muthén 1984) fits the polychoric
    correlations instead, and is the *primary* CFA: its loadings, AVE and fit are the
    ones flagged, the fit by the robust CFI and RMSEA of Savalei (2021) where they are
    defined, else the scaled ones (:data:`ORDINAL_INDICES`); the reliability flag judges
    ordinal alpha. A flag (statistic ``method``) says so. The ML CFA, Cronbach's alpha
    and omega stay in the tables for comparison. When the WLSMV CFA cannot be used (an
    item with one category, a model that does not converge, fewer than ``ordinal_min_n``
    complete responses ...) the ML numbers are primary and the ``method`` flag gives
    the reason.

    A step that cannot be computed (for example a constant item, or a CFA that does
    not converge) becomes a flag with the reason instead of an exception.

    Flags: alpha < .70, loading < .40, cross-loading >= .30, AVE < .50,
    HTMT > .85, CFI < .90, RMSEA > .08, SRMR > .08 (see :class:`HealthThresholds`).

    References
    ----------
    Flora, D. B., & Curran, P. J. (2004). An empirical evaluation of alternative methods
    of estimation for confirmatory factor analysis with ordinal data. *Psychological
    Methods*, 9, 466-491.

    Savalei, V. (2021). Improving fit indices in structural equation modeling with
    categorical data. *Multivariate Behavioral Research*, 56, 390-407.
    """
    limits = thresholds or HealthThresholds()
    scored = score(frame, instrument)
    flags: list[dict] = []
    constructs = _model_constructs(instrument, warn=False)
    construct_table, items = _reliability_step(scored, instrument, limits, flags)
    model = measurement_model(instrument)
    continuous = _cfa_step(scored, model, constructs, limits, flags)
    ordinal, categories = _ordinal_cfa_step(scored, model, constructs, limits, flags)
    fits = {"ordinal": ordinal, "continuous": continuous}
    for method, prefix in (("continuous", ""), ("ordinal", "ordinal_")):
        if fits[method] is not None:
            loads = fits[method].estimates
            loads = loads[loads["op"] == "=~"].set_index("rhs")["std_all"].astype(float)
            items[f"{prefix}loading"] = loads[~loads.index.duplicated()].reindex(items.index)
            construct_table[f"{prefix}composite_reliability"] = (
                composite_reliability(fits[method]).reindex(construct_table.index))
            construct_table[f"{prefix}ave"] = ave(fits[method]).reindex(construct_table.index)
    method = "ordinal" if ordinal is not None else "continuous"
    primary = fits[method]
    if primary is not None:
        prefix = "ordinal_" if method == "ordinal" else ""
        _validity_flags(items, items[f"{prefix}loading"], construct_table[f"{prefix}ave"],
                        _judged_fit(primary, method), method, limits, flags)
    order = [method] + [m for m in fits if m != method]
    fit_table = pd.DataFrame([_fit_row(fits[m], m, m == method) for m in order if fits[m] is not None],
                             columns=list(FIT_COLUMNS))
    htmt_table = _htmt_step(scored, constructs, limits, flags)
    solution = _cross_loading_step(scored, constructs, items, limits, flags)
    return HealthReport(
        scores=scored,
        constructs=construct_table,
        items=items,
        fit_measures=dict(primary.fit_measures) if primary is not None else {},
        htmt=htmt_table,
        flags=pd.DataFrame(flags, columns=list(FLAG_COLUMNS)),
        thresholds=limits,
        model=model,
        cfa=primary,
        efa=solution,
        method=method,
        fit=fit_table,
        continuous_cfa=continuous,
        ordinal_cfa=ordinal,
        categories=categories,
    )


_CONSTRUCT_COLUMNS = ("n_items", "n", "alpha", "std_alpha", "ci_lower", "ci_upper", "ordinal_alpha", "omega",
                      "ordinal_omega", "composite_reliability", "ave", "ordinal_composite_reliability", "ordinal_ave",
                      "method")
_ITEM_COLUMNS = ("construct", "mean", "sd", "missing_share", "item_rest_cor", "alpha_if_deleted", "loading",
                 "ordinal_loading", "cross_loading", "cross_construct")


def ordinal_categories(items: pd.DataFrame, max_categories: int) -> dict[str, int]:
    """The ordinal items of a frame and their numbers of categories.

    Parameters
    ----------
    items
        Item columns (answers, NaN where missing).
    max_categories
        Most distinct answers an ordinal item may have (0 or 1: none is ordinal).

    Returns
    -------
    dict
        Item -> number of distinct answers, for every item whose answers are all integers
        with at least one and at most ``max_categories`` distinct values (a constant item
        counts, so the ordinal steps refuse it with their reason rather than silently
        treating it as continuous). Items with no answer are left out.
    """
    out = {}
    if max_categories < 2:
        return out
    for name in items.columns:
        values = pd.to_numeric(items[name], errors="coerce").dropna().to_numpy(dtype=float)
        if not len(values) or not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            continue
        n = len(np.unique(values))
        if n <= max_categories:
            out[str(name)] = n
    return out


def _ordinal_reliability(items: pd.DataFrame, limits: HealthThresholds) -> tuple[float, float]:
    """Ordinal alpha and ordinal omega of a scale whose items are all ordinal
    (:func:`ordinal_categories`), else NaN; a scale the ordinal steps refuse is NaN too
    (its continuous numbers are primary)."""
    cats = ordinal_categories(items, limits.ordinal_max_categories)
    if len(cats) < items.shape[1] or len(items.dropna()) < 10:
        return float("nan"), float("nan")
    results = []
    for step in (lambda: ordinal_alpha(items).ordinal_alpha, lambda: ordinal_omega(items).omega_total):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results.append(float(step()))
        except (TandemError, np.linalg.LinAlgError):
            results.append(float("nan"))
    return results[0], results[1]


def _reliability_step(scored: pd.DataFrame, instrument: Any, limits: HealthThresholds,
                      flags: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpha, omega (continuous and ordinal) per construct and the item analysis; tables
    with fixed columns."""
    construct_rows, item_frames = [], []
    for c in instrument.constructs:
        row: dict[str, Any] = {"construct": c.id, "n_items": len(c.items), "method": "continuous"}
        if len(c.items) >= 2:
            data = scored[list(c.items)]
            try:
                result = alpha(data)
                row.update(n=result.n, alpha=result.alpha, std_alpha=result.std_alpha,
                           ci_lower=result.ci_lower, ci_upper=result.ci_upper)
                item_frames.append(item_analysis(data).assign(construct=c.id))
                row["omega"] = _quiet_omega(data)
                row["ordinal_alpha"], row["ordinal_omega"] = _ordinal_reliability(data, limits)
                ordinal = np.isfinite(row["ordinal_alpha"])
                row["method"] = "ordinal" if ordinal else "continuous"
                judged, name = (row["ordinal_alpha"], "ordinal alpha (on the polychoric correlations; the items "
                                "have few categories)") if ordinal else (result.alpha, "Cronbach's alpha")
                if judged < limits.alpha:
                    _flag(flags, "construct", c.id, "alpha", judged, limits.alpha,
                          f"{name[0].upper() + name[1:]} is low: check the item-rest correlations and "
                          f"alpha-if-deleted of '{c.id}', reverse-keying, and whether the items measure one thing.")
            except TandemError as exc:
                _flag(flags, "construct", c.id, "alpha", np.nan, limits.alpha, f"Not computed: {exc}")
        construct_rows.append(row)
    construct_table = pd.DataFrame(construct_rows).set_index("construct").reindex(columns=list(_CONSTRUCT_COLUMNS))
    items = pd.concat(item_frames) if item_frames else pd.DataFrame()
    items = items.reindex(columns=list(_ITEM_COLUMNS))
    items.index.name = "item"
    return construct_table, items


def _quiet_omega(data: pd.DataFrame) -> float:
    """Omega total of a scale of three or more items (:func:`analysis.reliability.omega`),
    NaN when it cannot be computed (the alpha step reports why)."""
    if data.shape[1] < 3:
        return float("nan")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(omega(data).omega_total)
    except (TandemError, np.linalg.LinAlgError):
        return float("nan")


def _cfa_step(scored: pd.DataFrame, model: str, constructs: list[Any], limits: HealthThresholds,
              flags: list[dict]) -> Any:
    """The ML CFA of all constructs, or None (with a flag saying why)."""
    if not constructs:
        return None
    columns = list(dict.fromkeys(i for c in constructs for i in c.items))
    data = scored[columns]
    missing = "fiml" if data.isna().to_numpy().any() else "listwise"
    try:
        cfa = fit(model, data, missing=missing)
    except TandemError as exc:
        _flag(flags, "model", "measurement model", "cfa", np.nan, np.nan, f"CFA not fitted: {exc}")
        return None
    if not cfa.converged:
        _flag(flags, "model", "measurement model", "converged", 0.0, 1.0,
              "The CFA did not converge: its numbers are not trustworthy; look for items with almost no "
              "variance or constructs with very few items.")
    return cfa


def _ordinal_cfa_step(scored: pd.DataFrame, model: str, constructs: list[Any], limits: HealthThresholds,
                      flags: list[dict]) -> tuple[Any, int]:
    """The WLSMV CFA of all constructs with the ordinal items ``ordered=``, and their most
    categories; (None, categories) with a ``method`` flag when it cannot be used, (None,
    0) without a flag when no item is ordinal."""
    if not constructs:
        return None, 0
    columns = list(dict.fromkeys(i for c in constructs for i in c.items))
    cats = ordinal_categories(scored[columns], limits.ordinal_max_categories)
    if not cats:
        return None, 0
    most = max(cats.values())

    def fallback(reason: str) -> tuple[None, int]:
        _flag(flags, "model", "measurement model", "method", np.nan, np.nan,
              f"Continuous numbers used although the items have at most {most} answer categories: the ordinal "
              f"CFA (WLSMV) {reason}. The ML CFA, Cronbach's alpha and omega are primary; read their loadings "
              "and reliabilities as somewhat understated.")
        return None, most

    complete = int(scored[columns].notna().all(axis=1).sum())
    if complete < limits.ordinal_min_n:
        return fallback(f"needs at least {limits.ordinal_min_n} responses that answer every item (it has no "
                        "full-information estimator)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cfa = fit(model, scored[columns], ordered=list(cats), estimator="WLSMV")
    except (TandemError, np.linalg.LinAlgError) as exc:
        return fallback(f"could not be fitted ({str(getattr(exc, 'what', exc)).rstrip('.')})")
    if not cfa.converged:
        return fallback("did not converge")
    judged = _judged_fit(cfa, "ordinal")
    kind = "robust" if judged["indices"] == "robust" else "scaled"
    left = len(scored) - complete
    note = (f" It uses the {complete} responses that answer every item ({left} with a missing answer are left "
            "out: WLSMV has no full-information estimator); the ML CFA uses every response by FIML."
            if left else "")
    warned = sorted({str(w.message) for w in caught})
    _flag(flags, "model", "measurement model", "method", np.nan, np.nan,
          f"Ordinal: WLSMV CFA, ordinal alpha and ordinal omega, items have {most} categories (at most "
          f"{limits.ordinal_max_categories} counts as ordinal); model fit is judged by the {kind} CFI and RMSEA"
          + (" (Savalei 2021)" if kind == "robust" else " (the robust ones are not defined here)")
          + " and SRMR. The continuous ML CFA, Cronbach's alpha and omega are kept alongside for comparison."
          + note + (" WLSMV warned: " + " ".join(warned) if warned else ""))
    return cfa, most


def _judged_fit(cfa: Any, method: str) -> dict[str, Any]:
    """The fit a CFA is judged by: chisq, df, pvalue, cfi, tli, rmsea, srmr, nobs and the
    name of the index family (``ML``, ``robust`` or ``scaled``, :data:`ORDINAL_INDICES`)."""
    fm = dict(cfa.fit_measures)
    out = {k: fm.get(k, np.nan) for k in ("chisq", "df", "pvalue", "srmr", "nobs")}
    if method != "ordinal":
        return {**out, **{k: fm.get(k, np.nan) for k in ("cfi", "tli", "rmsea")}, "indices": "ML"}
    family = next((name for name, keys in ORDINAL_INDICES.items()
                   if all(np.isfinite(fm.get(k, np.nan)) for k in keys)), "scaled")
    cfi, tli, rmsea = (fm.get(k, np.nan) for k in ORDINAL_INDICES[family])
    return {**out, "chisq": fm.get("chisq_scaled", np.nan), "pvalue": fm.get("pvalue_scaled", np.nan),
            "cfi": cfi, "tli": tli, "rmsea": rmsea, "indices": family}


def _fit_row(cfa: Any, method: str, primary: bool) -> dict[str, Any]:
    judged = _judged_fit(cfa, method)
    return {**{k: judged[k] for k in FIT_COLUMNS if k in judged}, "method": _METHOD_LABEL[method],
            "estimator": "WLSMV" if method == "ordinal" else "ML", "primary": primary}


def _validity_flags(items: pd.DataFrame, loadings: pd.Series, aves: pd.Series, judged: dict[str, Any],
                    method: str, limits: HealthThresholds, flags: list[dict]) -> None:
    """Loading, AVE and global fit flags from the primary CFA."""
    which = " (ordinal CFA, WLSMV)" if method == "ordinal" else ""
    for item, value in loadings.dropna().items():
        if value < limits.loading:
            _flag(flags, "item", item, "loading", value, limits.loading,
                  f"Weak standardized loading{which} on '{items.loc[item, 'construct']}': reword the item, check "
                  "its keying, or drop it.")
    for cid, value in aves.dropna().items():
        if value < limits.ave:
            _flag(flags, "construct", cid, "ave", value, limits.ave,
                  f"Less than half the items' variance is the construct's{which} (Fornell-Larcker): look at the "
                  "weakest loadings.")
    family = judged["indices"]
    for name, limit, too_bad, text in (
        ("cfi", limits.cfi, lambda v: v < limits.cfi, "CFI is low"),
        ("rmsea", limits.rmsea, lambda v: v > limits.rmsea, "RMSEA is high"),
        ("srmr", limits.srmr, lambda v: v > limits.srmr, "SRMR is high"),
    ):
        value = judged.get(name)
        if value is not None and np.isfinite(value) and too_bad(value):
            label = f"{name}_{family}" if method == "ordinal" and name != "srmr" else name
            _flag(flags, "model", "measurement model", label, value, limit,
                  f"{text}{which}: the constructs do not reproduce the item correlations well; check the flagged "
                  "cross-loadings, low loadings and HTMT pairs.")


def _htmt_step(scored: pd.DataFrame, constructs: list[Any], limits: HealthThresholds,
               flags: list[dict]) -> pd.DataFrame:
    """HTMT between the model's constructs, with a flag per pair above the threshold."""
    if len(constructs) < 2:
        return pd.DataFrame()
    try:
        table = htmt(scored, constructs)
    except TandemError as exc:
        _flag(flags, "model", "constructs", "htmt", np.nan, limits.htmt, f"Not computed: {exc}")
        return pd.DataFrame()
    ids = list(table.index)
    for a_ix, a in enumerate(ids):
        for b in ids[a_ix + 1:]:
            value = table.loc[a, b]
            if np.isfinite(value) and value > limits.htmt:
                _flag(flags, "construct", f"{a} / {b}", "htmt", value, limits.htmt,
                      "The two constructs may not be distinct (discriminant validity): consider merging "
                      "them or sharpening their items.")
    return table


def _cross_loading_step(scored: pd.DataFrame, constructs: list[Any], items: pd.DataFrame,
                        limits: HealthThresholds, flags: list[dict]) -> EFAResult | None:
    """Fill ``cross_loading``/``cross_construct`` of ``items`` from the EFA and flag them."""
    if len(constructs) < 2:
        return None
    try:
        solution, cross = _cross_loadings(scored, constructs)
    except TandemError as exc:
        _flag(flags, "model", "constructs", "cross_loading", np.nan, limits.cross_loading,
              f"EFA for cross-loadings not computed: {exc}")
        return None
    present = cross.index.intersection(items.index)
    items.loc[present, "cross_loading"] = cross.loc[present, "cross_loading"]
    items["cross_construct"] = items["cross_construct"].astype(object)
    items.loc[present, "cross_construct"] = cross.loc[present, "cross_construct"]
    for item, row in cross.iterrows():
        if row["cross_loading"] >= limits.cross_loading:
            _flag(flags, "item", item, "cross_loading", row["cross_loading"], limits.cross_loading,
                  f"Loads also on '{row['cross_construct']}' (EFA pattern): the item may mix two "
                  "constructs; reword or move it.")
    return solution
