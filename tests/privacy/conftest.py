"""Fixtures of the privacy attacks: the small organisation's instrument."""

from __future__ import annotations

import pytest

from privacy.attacks import ORG
from surveys.loader import load_instrument


@pytest.fixture(scope="session")
def org():
    return load_instrument(ORG)
