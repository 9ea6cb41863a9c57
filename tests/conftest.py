"""Shared fixtures: the reference conformance suite and its data sets."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"


@lru_cache(maxsize=None)
def reference_cases() -> dict:
    """All conformance cases of ``tests/reference/expected.json`` keyed by name."""
    return json.loads((REFERENCE_DIR / "expected.json").read_text())


def reference_cases_of(kind: str) -> dict:
    """The conformance cases of one ``kind`` (``sem``, ``reliability``, ``efa`` ...)."""
    return {name: case for name, case in reference_cases().items() if case["kind"] == kind}


@lru_cache(maxsize=None)
def _reference_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / "data" / name)


def reference_data(name: str) -> pd.DataFrame:
    """A fresh copy of one reference data set (``bfi.csv`` ...)."""
    return _reference_data(name).copy()


@pytest.fixture
def reference_dataset():
    """Fixture form of :func:`reference_data`."""
    return reference_data
