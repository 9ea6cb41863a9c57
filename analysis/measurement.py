"""The measurement model of an instrument and its health check.

:func:`measurement_model` writes the lavaan syntax of an instrument's constructs;
:func:`instrument_health` runs the whole psychometric check on a response frame
(scoring, alpha and item analysis per construct, a CFA of all constructs, composite
reliability, AVE, HTMT, an EFA for cross-loadings) and returns the numbers with a
table of flags that say what to consider.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from analysis.efa import EFAResult, efa
from analysis.reliability import alpha, ave, composite_reliability, htmt, item_analysis
from analysis.scoring import score
from analysis.sem import fit
from surveys.errors import TandemError

__all__ = [
    "FLAG_COLUMNS",
    "HealthReport",
    "HealthThresholds",
    "MeasurementWarning",
    "instrument_health",
    "measurement_model",
]

#: Columns of :attr:`HealthReport.flags`.
FLAG_COLUMNS = ("level", "target", "statistic", "value", "threshold", "message")


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
        Flag a construct whose Cronbach's alpha is below (Nunnally, 1978: .70).
    loading
        Flag an item whose standardized CFA loading is below (.40).
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
        A construct whose items all have at most this many answer categories is treated
        as ordinal: its reliability is also given as ordinal alpha (alpha on the
        polychoric correlations, Zumbo, Gadermann & Zeisser 2007), and the alpha flag
        judges that value (Cronbach's alpha stays alongside). 0 turns this off.
    """

    alpha: float = 0.70
    ordinal_max_categories: int = 5
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
        The scored frame (:func:`analysis.scoring.score`).
    constructs
        Per construct (index ``construct``): ``n_items``, ``n``, ``alpha``,
        ``std_alpha``, ``ci_lower``, ``ci_upper``, ``composite_reliability``, ``ave``.
    items
        Per item (index ``item``): ``construct``, the :func:`analysis.reliability.item_analysis`
        columns, ``loading`` (CFA ``std_all``), ``cross_loading`` (largest absolute
        EFA loading on another construct's factor) and ``cross_construct`` (that construct).
    fit_measures
        The CFA's fit measures (lavaan names), empty if the CFA could not be fitted.
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
        The :func:`analysis.sem.fit` result (None if it failed; the reason is a flag).
    efa
        The EFA used for cross-loadings (None if it failed).
    """

    scores: pd.DataFrame
    constructs: pd.DataFrame
    items: pd.DataFrame
    fit_measures: dict
    htmt: pd.DataFrame
    flags: pd.DataFrame
    thresholds: HealthThresholds
    model: str
    cfa: Any = field(default=None, repr=False)
    efa: EFAResult | None = field(default=None, repr=False)

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
    Steps, each on listwise-complete cases of the items it needs, except the CFA,
    which uses full-information ML when answers are missing (so a survey where most
    respondents skipped one item or another keeps every response):

    1. :func:`analysis.scoring.score` (reverse-keying, construct scores);
    2. per construct: :func:`analysis.reliability.alpha` and
       :func:`analysis.reliability.item_analysis`;
    3. a CFA of all constructs (:func:`measurement_model`, :func:`analysis.sem.fit`,
       ML, or FIML with missing answers), its fit measures, standardized loadings,
       :func:`analysis.reliability.composite_reliability` and
       :func:`analysis.reliability.ave`;
    4. :func:`analysis.reliability.htmt` between constructs;
    5. cross-loadings from an EFA (minres, oblimin) with as many factors as
       constructs, each factor matched to one construct by the largest summed
       absolute loadings of its items (an optimal assignment). An EFA is used rather
       than the CFA's modification indices because it shows every item's loading on
       every factor on the same standardized scale, without one test per fixed zero.

    A step that cannot be computed (for example a constant item, or a CFA that does
    not converge) becomes a flag with the reason instead of an exception.

    Flags: alpha < .70, loading < .40, cross-loading >= .30, AVE < .50,
    HTMT > .85, CFI < .90, RMSEA > .08, SRMR > .08 (see :class:`HealthThresholds`).
    """
    limits = thresholds or HealthThresholds()
    scored = score(frame, instrument)
    flags: list[dict] = []
    constructs = _model_constructs(instrument, warn=False)
    construct_table, items = _reliability_step(scored, instrument, limits, flags)
    model = measurement_model(instrument)
    cfa = _cfa_step(scored, model, constructs, limits, flags)
    if cfa is not None:
        loads = cfa.estimates[cfa.estimates["op"] == "=~"].set_index("rhs")["std_all"].astype(float)
        items["loading"] = loads[~loads.index.duplicated()].reindex(items.index)
        construct_table["composite_reliability"] = composite_reliability(cfa).reindex(construct_table.index)
        construct_table["ave"] = ave(cfa).reindex(construct_table.index)
        _validity_flags(items, construct_table, dict(cfa.fit_measures), limits, flags)
    htmt_table = _htmt_step(scored, constructs, limits, flags)
    solution = _cross_loading_step(scored, constructs, items, limits, flags)
    return HealthReport(
        scores=scored,
        constructs=construct_table,
        items=items,
        fit_measures=dict(cfa.fit_measures) if cfa is not None else {},
        htmt=htmt_table,
        flags=pd.DataFrame(flags, columns=list(FLAG_COLUMNS)),
        thresholds=limits,
        model=model,
        cfa=cfa,
        efa=solution,
    )


_CONSTRUCT_COLUMNS = ("n_items", "n", "alpha", "std_alpha", "ci_lower", "ci_upper", "ordinal_alpha",
                      "composite_reliability", "ave")


def _ordinal_alpha(items: pd.DataFrame, max_categories: int) -> float:
    """Ordinal alpha of a scale whose items all have at most ``max_categories`` integer
    categories (:func:`analysis.reliability.ordinal_alpha`), else NaN."""
    from analysis.reliability import ordinal_alpha

    complete = items.dropna()
    if max_categories < 2 or len(complete) < 10:
        return float("nan")
    values = complete.to_numpy(dtype=float)
    if not np.all(values == np.round(values)) or any(len(np.unique(values[:, j])) > max_categories
                                                      for j in range(values.shape[1])):
        return float("nan")
    try:
        return float(ordinal_alpha(complete).ordinal_alpha)
    except TandemError:
        return float("nan")
_ITEM_COLUMNS = ("construct", "mean", "sd", "missing_share", "item_rest_cor", "alpha_if_deleted", "loading",
                 "cross_loading", "cross_construct")


def _reliability_step(scored: pd.DataFrame, instrument: Any, limits: HealthThresholds,
                      flags: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpha per construct and the item analysis; tables with fixed columns."""
    construct_rows, item_frames = [], []
    for c in instrument.constructs:
        row: dict[str, Any] = {"construct": c.id, "n_items": len(c.items)}
        if len(c.items) >= 2:
            try:
                result = alpha(scored[list(c.items)])
                row.update(n=result.n, alpha=result.alpha, std_alpha=result.std_alpha,
                           ci_lower=result.ci_lower, ci_upper=result.ci_upper)
                item_frames.append(item_analysis(scored[list(c.items)]).assign(construct=c.id))
                ordinal = _ordinal_alpha(scored[list(c.items)], limits.ordinal_max_categories)
                row["ordinal_alpha"] = ordinal
                judged, name = (ordinal, "ordinal alpha (on the polychoric correlations; the items have few "
                                "categories)") if np.isfinite(ordinal) else (result.alpha, "Cronbach's alpha")
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


def _cfa_step(scored: pd.DataFrame, model: str, constructs: list[Any], limits: HealthThresholds,
              flags: list[dict]) -> Any:
    """The CFA of all constructs, or None (with a flag saying why)."""
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


def _validity_flags(items: pd.DataFrame, construct_table: pd.DataFrame, fit_measures: dict,
                    limits: HealthThresholds, flags: list[dict]) -> None:
    """Loading, AVE and global fit flags from the CFA."""
    for item, value in items["loading"].dropna().items():
        if value < limits.loading:
            _flag(flags, "item", item, "loading", value, limits.loading,
                  f"Weak standardized loading on '{items.loc[item, 'construct']}': reword the item, check "
                  "its keying, or drop it.")
    for cid, value in construct_table["ave"].dropna().items():
        if value < limits.ave:
            _flag(flags, "construct", cid, "ave", value, limits.ave,
                  "Less than half the items' variance is the construct's (Fornell-Larcker): look at the "
                  "weakest loadings.")
    for name, limit, too_bad, text in (
        ("cfi", limits.cfi, lambda v: v < limits.cfi, "CFI is low"),
        ("rmsea", limits.rmsea, lambda v: v > limits.rmsea, "RMSEA is high"),
        ("srmr", limits.srmr, lambda v: v > limits.srmr, "SRMR is high"),
    ):
        value = fit_measures.get(name)
        if value is not None and np.isfinite(value) and too_bad(value):
            _flag(flags, "model", "measurement model", name, value, limit,
                  f"{text}: the constructs do not reproduce the item correlations well; check the flagged "
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
