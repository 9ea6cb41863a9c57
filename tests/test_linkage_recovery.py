"""Recovery and coverage of the linkage chain over many simulated studies (slow; the fast
twin is ``tests/test_linkage_models.py::test_one_replication_of_the_recovery_study``).

The default procedure (``linkage_model: auto``: the latent model where it converges, else
unit means corrected for their sampling error) against the truth of the simulated chain,
at 40 and 200 units with ICC(2) about .75 on both sides (``bench/bench_recovery.py``, whose
figures are in the README). The observed unit means are shown to be biased in the same
replications, so the check can fail the other way too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.study import load_study
from bench.bench_recovery import replication, summarise

STUDY = Path(__file__).resolve().parents[1] / "instruments" / "studies" / "service_profit_chain.yaml"
REPS = 100


@pytest.mark.slow
@pytest.mark.parametrize("n_units", [40, 200])
def test_the_default_chain_is_unbiased_and_its_intervals_cover(n_units):
    study = load_study(STUDY)
    draws = pd.concat([replication(study, n_units, 5000 + r, draws=300) for r in range(REPS)], ignore_index=True)
    table = summarise(draws)
    mc = np.sqrt(0.93 * 0.07 / REPS)
    assert (table["auto_coverage"] >= 0.93 - 3 * mc).all(), table.loc[table["auto_coverage"].idxmin()].to_dict()
    assert table["auto_coverage"].mean() >= 0.92
    assert (table["auto_bias"].abs() <= 0.02 + 3 * table["auto_bias_mc"]).all(), \
        table.loc[table["auto_bias"].abs().idxmax()].to_dict()
    cross = table.set_index("effect").loc["service_quality <- service_climate"]
    assert cross["observed_bias"] < -0.08  # the observed means shrink the cross-survey path
