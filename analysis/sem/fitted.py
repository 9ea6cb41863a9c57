"""The fitted state of a model, typed: what the estimate table, the modification indices
and the bootstrap need after :func:`analysis.sem.fit` has run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.sem.matrices import Model
from analysis.sem.ml import MLEstimator
from analysis.sem.partable import ParameterRow, ParameterTable
from analysis.sem.standardized import Standardizer
from analysis.sem.syntax import ModelSyntax


@dataclass(frozen=True)
class FittedModel:
    """A model at its estimates.

    Attributes
    ----------
    syntax, table
        The parsed model and its parameter table.
    estimator
        The estimator (:class:`~analysis.sem.ml.MLEstimator` or a subclass), with the
        model matrices and the fitted sample attached.
    x
        Estimates of the free parameters (by parameter id).
    vcov
        Their covariance matrix (inverse information).
    groups
        Group labels in order.
    iterations, method
        What the optimiser did (``"fisher"`` or ``"lbfgs"``).
    """

    syntax: ModelSyntax
    table: ParameterTable
    estimator: MLEstimator
    x: np.ndarray
    vcov: np.ndarray
    groups: tuple[str, ...]
    standardizer: Standardizer
    iterations: int = 0
    method: str = ""

    @property
    def model(self) -> Model:
        return self.estimator.model

    @property
    def rows(self) -> list[ParameterRow]:
        return self.table.rows

    @property
    def npar(self) -> int:
        return self.table.npar
