"""Checking and reading the columns of a response frame, shared by the unit statistics.

One row per response; the analysis modules name the columns they need and get a clear
:class:`~analysis.errors.DataError` (with "did you mean") when one is missing or not
numeric. :data:`DEFAULT_MIN_GROUP_SIZE` is Tandem's default anonymity threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.errors import DataError
from surveys.errors import did_you_mean

__all__ = ["DEFAULT_MIN_GROUP_SIZE", "group_column", "numeric_columns", "require_columns"]

DEFAULT_MIN_GROUP_SIZE = 5
"""Tandem's default anonymity threshold (``anonymity.min_group_size`` of an instrument)."""


def require_columns(data: pd.DataFrame, columns: Sequence[str], *, where: str) -> None:
    """Raise :class:`DataError` naming the first of ``columns`` missing from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, got {type(data).__name__}",
            where=where,
            fix="pass the wide response frame (one row per response).",
        )
    for column in columns:
        if column not in data.columns:
            raise DataError(
                f"column '{column}' is not in the data.{did_you_mean(column, data.columns)}",
                where=where,
                fix="name a column of the response frame.",
            )


def numeric_columns(data: pd.DataFrame, columns: Sequence[str], *, where: str) -> pd.DataFrame:
    """The ``columns`` of ``data`` as float, or :class:`DataError` for a non-numeric one."""
    require_columns(data, columns, where=where)
    out = {}
    for column in columns:
        values = data[column]
        if not (pd.api.types.is_numeric_dtype(values) or values.isna().all()):
            raise DataError(
                f"column '{column}' is not numeric (dtype {values.dtype}).",
                where=where,
                fix="recode the answers as numbers (the wide frame keeps item answers as floats).",
            )
        out[column] = values.astype(float)
    return pd.DataFrame(out, index=data.index)


def group_column(data: pd.DataFrame, group: str, *, where: str) -> pd.Series:
    """The ``group`` column of ``data`` (the unit of each response), or :class:`DataError`."""
    require_columns(data, [group], where=where)
    return data[group]
