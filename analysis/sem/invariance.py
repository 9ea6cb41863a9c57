"""Measurement invariance across groups: configural -> metric -> scalar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.sem.fitting import fit
from analysis.sem.results import SEMResult


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


