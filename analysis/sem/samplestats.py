"""Sample statistics: the data of each group as one float array, its moments, checks.

:func:`prepare_data` converts the model's columns of the frame to one float array (a
per-column conversion only for columns that are not numeric, to name a bad value),
splits it by group, applies listwise deletion or keeps incomplete cases for FIML, and
returns one :class:`GroupStats` per group: the sample mean and biased covariance
(``/N``, lavaan ``likelihood = "normal"``) of complete data, or the EM estimates of the
unrestricted model with the casewise statistics (:class:`analysis.sem.casewise.IncompleteData`)
when values are missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import DataError, ModelSpecificationError
from analysis.sem.casewise import IncompleteData, em_saturated
from surveys.errors import did_you_mean


@dataclass(frozen=True)
class GroupStats:
    """One group's data and moments.

    Attributes
    ----------
    n
        Cases.
    mean, cov
        Complete data: sample mean and covariance (divided by n). With missing values:
        the EM estimates of the unrestricted model (lavaan's ``h1``).
    raw
        The rows used (for the bootstrap).
    cases
        Casewise statistics when values are missing (FIML), else None.
    """

    n: int
    mean: np.ndarray
    cov: np.ndarray
    raw: np.ndarray
    cases: IncompleteData | None = None

    @property
    def complete(self) -> bool:
        return self.cases is None

    @classmethod
    def of_complete(cls, x: np.ndarray) -> GroupStats:
        """Complete data: sample mean and biased covariance."""
        n = x.shape[0]
        mean = x.mean(axis=0)
        xc = x - mean
        return cls(n, mean, (xc.T @ xc) / n, x)

    @classmethod
    def of_incomplete(cls, x: np.ndarray, *, tol: float = 1e-10) -> GroupStats:
        """Data with missing values: the casewise statistics and the EM (saturated) moments."""
        cases = IncompleteData(x)
        mu, sigma, _ = em_saturated(cases, tol=tol)
        return cls(x.shape[0], mu, sigma, x, cases)

    @classmethod
    def of(cls, x: np.ndarray, *, fiml: bool, tol: float = 1e-10) -> GroupStats:
        """Complete moments unless ``fiml`` and a value is missing."""
        return cls.of_incomplete(x, tol=tol) if fiml and np.isnan(x).any() else cls.of_complete(x)


def numeric_array(data: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as one float array; a non-numeric value raises :class:`DataError` naming it."""
    frame = data[columns]
    dtypes = frame.dtypes
    if all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in dtypes):
        return frame.to_numpy(dtype=float, na_value=np.nan)
    out = np.empty((len(frame), len(columns)))
    for j, col in enumerate(columns):
        series = frame.iloc[:, j]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            converted = pd.to_numeric(series, errors="coerce")
            bad = series[converted.isna() & series.notna()]
            if len(bad):
                raise DataError(f"column '{col}' holds non-numeric values such as {bad.iloc[0]!r}",
                                where=f"data column '{col}' (row {bad.index[0]!r})",
                                fix="recode it to numbers or drop it from the model")
            series = converted
        out[:, j] = series.to_numpy(dtype=float, na_value=np.nan)
    return out


def check_covariance(cov: np.ndarray, names: list[str], where: str) -> None:
    """Refuse constant variables and a singular covariance matrix, naming the culprits."""
    sd = np.sqrt(np.diag(cov))
    for name, v in zip(names, sd, strict=True):
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


def prepare_data(data: pd.DataFrame, ov: list[str], group: str | None, missing: str,
                 warnings_out: list[str], complete: Sequence[str] = ()) -> tuple[list[GroupStats], tuple[str, ...]]:
    """The groups' statistics and labels (in order of appearance); notes go to ``warnings_out``.

    Under FIML, cases with a missing value in a ``complete`` column (the fixed-x covariates)
    are dropped with a warning, as lavaan does."""
    if not isinstance(data, pd.DataFrame):
        raise DataError("data must be a pandas DataFrame", fix="pass pd.DataFrame(...)")
    columns = list(data.columns)
    present = set(columns)
    for v in ov:
        if v not in present:
            raise ModelSpecificationError(
                f"the model names variable '{v}' which is not a column of the data.{did_you_mean(v, columns)}",
                where="model syntax", fix="correct the name, or name the latent variable on the left of '=~'")
    if group is not None and group not in present:
        raise DataError(f"group column '{group}' is not in the data.{did_you_mean(group, columns)}",
                        where="fit(group=...)", fix="name an existing column")
    x_all = numeric_array(data, ov)
    empty = np.isnan(x_all).all(axis=0)
    if empty.any():
        v = ov[int(np.argmax(empty))]
        raise DataError(f"column '{v}' has no observed values", where=f"data column '{v}'",
                        fix="drop it from the model")
    if group is not None:
        gcol = data[group]
        keep = gcol.notna().to_numpy()
        if (~keep).any():
            warnings_out.append(f"{int((~keep).sum())} cases with a missing group ('{group}') were dropped")
        codes, uniques = pd.factorize(gcol[keep].astype(str))
        labels = tuple(str(v) for v in uniques)
        x_kept = x_all[keep]
        parts = [(lab, x_kept[codes == k]) for k, lab in enumerate(labels)]
    else:
        labels = ("",)
        parts = [("", x_all)]
    out = []
    total_dropped = 0
    for lab, x in parts:
        where = f"group '{lab}'" if lab else "data"
        nan = np.isnan(x)
        if missing == "listwise":
            ok = ~nan.any(axis=1)
            total_dropped += int((~ok).sum())
        else:
            ok = ~nan.all(axis=1)
            if (~ok).any():
                warnings_out.append(f"{int((~ok).sum())} cases with no observed value were dropped ({where})")
            if complete:
                x_missing = nan[:, [ov.index(v) for v in complete]].any(axis=1) & ok
                if x_missing.any():
                    warnings_out.append(f"{int(x_missing.sum())} cases with a missing covariate "
                                        f"({', '.join(complete)}) were dropped ({where}; fixed.x)")
                    ok &= ~x_missing
        if not ok.all():
            x = x[ok]
        p = x.shape[1]
        if x.shape[0] <= p:
            raise DataError(f"{x.shape[0]} complete cases for {p} observed variables", where=where,
                            fix="fit a smaller model, collect more cases, or use missing='fiml'")
        gd = GroupStats.of(x, fiml=missing == "fiml")
        check_covariance(gd.cov, ov, where)
        out.append(gd)
    if total_dropped:
        n_used = sum(g.n for g in out)
        warnings_out.append(f"listwise deletion dropped {total_dropped} of {n_used + total_dropped} cases "
                            f"with missing values; {n_used} used")
    return out, labels
