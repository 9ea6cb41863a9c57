"""The scale benchmark (:mod:`bench.bench_scale`) at a tiny size, so it does not rot:
generation, every import command and the study, run in this process."""

from __future__ import annotations

import csv

from bench import bench_scale


def test_generate_import_and_study_at_40_units(tmp_path):
    written = bench_scale.generate(tmp_path, units=40, employees=280, customers=560, seed=3, chunk_units=25)
    assert written == {"employees": 280, "customers": 560, "kpis": 40 * 5 * len(bench_scale.QUARTERS), "units": 40}
    with (tmp_path / "org.csv").open(encoding="utf-8") as handle:
        levels = [row["level"] for row in csv.DictReader(handle)]
    assert levels.count("store") == 40 and {"company", "region", "district"} <= set(levels)

    log = tmp_path / "commands.log"
    steps = bench_scale.import_and_study(tmp_path, f"sqlite:///{tmp_path / 'scale.db'}", bootstrap=20, seed=1,
                                         log=log, in_process=True)
    assert [s.name for s in steps][-1] == "analyze study"
    output = log.read_text(encoding="utf-8")
    assert "Imported 280 responses into scale-employees" in output
    assert "Imported 560 responses into scale-customers" in output
    assert "retention" in output.split("analyze study", 1)[1]  # the chain reaches the business KPIs
