"""One kind of uncertainty per table: intervals and p-values from the same method, and every
estimate inside its own interval, in every table of the study, the report and the pages."""

from __future__ import annotations

import pytest

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
    # (up to the interpolation of the interval's quantiles: allow p within 1/B of .05)
    disagree = significant != _excludes_zero(table)
    assert (table.loc[disagree, "pvalue"] - 0.05).abs().max() <= 1 / 200 if disagree.any() else True, \
        table.loc[disagree]
    assert ((table["ci_lower"] <= table["est"]) & (table["est"] <= table["ci_upper"])).all(), table


def test_driver_shares_lie_inside_their_intervals(insight):
    tables = [insight.result.drivers] + [e["result"].table for found in insight.drivers.values()
                                         for e in found.values()]
    for table in tables:
        inside = (table["pct_ci_lower"] <= table["pct"] + 1e-9) & (table["pct"] <= table["pct_ci_upper"] + 1e-9)
        assert inside.all(), table[["predictor", "pct", "pct_ci_lower", "pct_ci_upper"]]
