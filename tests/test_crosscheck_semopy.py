"""Cross-check of the SEM estimator against semopy (the design card's SEM package).

semopy 2.3.11 is not Tandem's estimation core (it lacks cross-group constraints, ``:=``,
a correct FIML chi-square, SRMR and lavaan's log-likelihood scale: docs/statistics.md),
but its single-group ML estimates are lavaan's. Tandem's must equal them.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

semopy = pytest.importorskip("semopy")

from analysis.sem import fit  # noqa: E402

DATA = "tests/reference/data/holzinger_swineford_1939.csv"
MODELS = {
    "three-factor CFA": "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9",
    "structural": "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
                  "speed ~ visual + textual",
}


@pytest.mark.parametrize("name", list(MODELS))
def test_single_group_ml_estimates_equal_semopy(name):
    data = pd.read_csv(DATA)[[f"x{i}" for i in range(1, 10)]]
    model = MODELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = semopy.Model(model)
        reference.fit(data)
        theirs = reference.inspect()
    ours = fit(model, data).estimates
    factors = {"visual", "textual", "speed"}
    ours = {(r.lhs, r.op, r.rhs): r.est for r in ours.itertuples()}
    checked = 0
    for row in theirs.itertuples():
        if row.op == "~" and row.rval in factors and row.lval not in factors:  # semopy writes x1 ~ visual
            key = (row.rval, "=~", row.lval)
        else:
            key = (row.lval, row.op, row.rval)
        value = ours.get(key, ours.get((key[2], key[1], key[0])) if key[1] == "~~" else None)
        assert value is not None, (name, key)
        assert float(value) == pytest.approx(float(row.Estimate), abs=2e-3), (name, key)
        checked += 1
    assert checked == len(theirs) >= 20
