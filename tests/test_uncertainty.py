"""One kind of uncertainty per table: intervals and p-values from the same method, and every
estimate inside its own interval, in every table of the study, the report and the pages."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.sem.results import bootstrap_pvalue, percentile_interval
from services.insight import collect_insight
from services.sources import demo_dataset


@pytest.fixture(scope="module")
def insight():
    return collect_insight(demo_dataset(), bootstrap=200, seed=3)


def _excludes_zero(table):
    return (table["ci_lower"] > 0) | (table["ci_upper"] < 0)


@pytest.mark.parametrize("name", ["paths", "indirect"])
def test_linkage_intervals_and_p_values_agree(insight, name):
    table = getattr(insight.result, name)
    assert len(table) > 5
    significant = table["pvalue"] < 0.05
    # the percentile interval excludes 0 exactly when the bootstrap p-value is below .05
    disagree = significant != _excludes_zero(table)
    assert not disagree.any(), table.loc[disagree]
    assert ((table["ci_lower"] <= table["est"]) & (table["est"] <= table["ci_upper"])).all(), table


def test_driver_shares_lie_inside_their_intervals(insight):
    tables = [insight.result.drivers] + [e["result"].table for found in insight.drivers.values()
                                         for e in found.values()]
    for table in tables:
        inside = (table["pct_ci_lower"] <= table["pct"] + 1e-9) & (table["pct"] <= table["pct_ci_upper"] + 1e-9)
        assert inside.all(), table[["predictor", "pct", "pct_ci_lower", "pct_ci_upper"]]


@pytest.mark.parametrize("draws", [37, 100, 199, 200, 1000])
def test_percentile_interval_excludes_zero_exactly_when_p_is_below_05(draws):
    """At the boundary too: exactly 2.5% of the draws at or below 0 gives p = .05 and an
    interval that touches 0 (an interpolated limit would exclude it); ties at 0 included."""
    rng = np.random.default_rng(draws)
    centres = np.linspace(-4, 4, 400)
    samples = (centres[None, :] + rng.standard_normal((draws, len(centres)))).round(1)
    boundary = np.sort(rng.standard_normal(draws)) - np.sort(rng.standard_normal(draws))[int(np.ceil(0.025 * draws))]
    samples = np.column_stack([samples, boundary])
    _, lower, upper = percentile_interval(samples)
    p = bootstrap_pvalue(samples)
    assert np.array_equal((lower > 0) | (upper < 0), p < 0.05)
