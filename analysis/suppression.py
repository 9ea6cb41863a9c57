"""Suppression of small units in per-unit tables of the analysis package.

The analysis functions that show one row per unit (ICC tables, agreement, metrics by
unit) never show a number of a unit below the minimum group size, and hide further
units when a total could reveal a small one (secondary suppression). This is the
analysis package's own safeguard for standalone use; everything Tandem shows goes
through the stricter disclosure policy of :mod:`services.disclosure` first.
"""

from __future__ import annotations

import pandas as pd

from analysis.errors import DataError

__all__ = ["suppress_small_units", "suppression_label"]


def suppression_label(min_group_size: int) -> str:
    """The label shown instead of a suppressed unit's numbers."""
    return f"fewer than {min_group_size} respondents"


def suppress_small_units(
    sizes: pd.Series, min_group_size: int, *, complementary: bool = False
) -> pd.Series:
    """Which units must not be shown: a boolean Series aligned with ``sizes``.

    Parameters
    ----------
    sizes
        Respondents per unit.
    min_group_size
        Units with ``0 < n < min_group_size`` are suppressed (primary suppression).
    complementary
        Set when a total over *all* respondents is shown next to the units (an
        "overall" row). If the suppressed units hold fewer than ``min_group_size``
        respondents together, the total minus the visible units would reveal them, so
        the smallest visible units are suppressed as well until the hidden
        respondents number at least ``min_group_size`` (secondary suppression, as in
        statistical disclosure control).
    """
    if min_group_size < 1:
        raise DataError(
            f"min_group_size must be at least 1, got {min_group_size}.",
            fix="pass the instrument's anonymity.min_group_size (default 5).",
        )
    hidden = (sizes > 0) & (sizes < min_group_size)
    if complementary and hidden.any() and sizes[hidden].sum() < min_group_size:
        for unit in sizes[~hidden & (sizes > 0)].sort_values(kind="stable").index:
            hidden[unit] = True
            if sizes[hidden].sum() >= min_group_size:
                break
    return hidden
