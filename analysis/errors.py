"""Exceptions and warnings of the analysis package.

Every error names where (line and column of the model syntax, a column of the data,
a parameter), what went wrong and how to fix it, through :class:`surveys.errors.TandemError`.
"""

from __future__ import annotations

from surveys.errors import TandemError


class AnalysisError(TandemError):
    """Base class of the errors the analysis package raises on purpose."""


class ModelSpecificationError(AnalysisError):
    """The model syntax is malformed, names unknown variables, or is not identified."""


class DataError(AnalysisError):
    """The data cannot be analysed as given (non-numeric, constant or collinear columns ...)."""


class ConvergenceWarning(UserWarning):
    """The optimiser stopped before reaching a minimum; estimates are not trustworthy.

    Carried in ``SEMResult.warnings`` (with ``converged=False``) rather than raised.
    """
