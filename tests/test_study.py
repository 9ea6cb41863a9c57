"""analysis.study: the shipped study loads; broken studies give file:line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.simulate import SERVICE_PROFIT_CHAIN
from analysis.study import StudyError, load_study, parse_study

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"
INVALID = sorted((Path(__file__).parent / "studies" / "invalid").glob("*.yaml"))


def test_shipped_study_loads_and_matches_the_demo_chain():
    study = load_study(STUDY)
    assert study.employee.audience == "employee" and study.customer.audience == "customer"
    assert study.unit_key == "unit"
    assert study.min_employees >= study.employee.min_group_size
    assert study.min_customers >= study.customer.min_group_size
    # the demo data's known chain is exactly the study's hypothesised structure
    assert {p.lhs: set(p.rhs) for p in study.paths} == {k: set(v) for k, v in SERVICE_PROFIT_CHAIN.items()}
    assert all(study.side(o) == "customer" for o in study.outcomes)
    assert all(study.side(p) == "employee" for p in study.predictors)


def test_model_syntax_labels_paths_and_defines_indirect_effects():
    study = load_study(STUDY)
    syntax = study.model_syntax()
    assert "service_climate ~ b_service_climate__job_satisfaction*job_satisfaction" in syntax
    # manager support reaches CSAT through job satisfaction and through engagement: two routes
    line = next(x for x in syntax.splitlines() if x.startswith("ind_manager_support__csat :="))
    assert line.count("+") == 1
    routes = {(s, t): r for s, t, r in study.indirect_routes()}
    assert ("service_climate", "service_quality") not in routes  # a direct path is not indirect
    assert len(routes[("manager_support", "nps")]) == 2


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_broken_study_reports_line_and_message(path):
    line, message = re.match(r"# expect: (\d+): (.*)", path.read_text().splitlines()[0]).groups()
    with pytest.raises(StudyError) as caught:
        load_study(path)
    found = [(p.line, p.format()) for p in caught.value.problems]
    assert any(ln == int(line) and message in msg for ln, msg in found), found
    assert all(p.file == str(path) for p in caught.value.problems)
    assert f"{path}:{line}:" in str(caught.value)


def test_several_problems_are_reported_together():
    text = (STUDY.read_text().replace("wave_lag: 0", "wave_lag: -2")
            .replace("engagement ~ manager_support", "engagment ~ manager_support"))
    with pytest.raises(StudyError) as caught:
        parse_study(text, source="two.yaml", base=STUDY.parent)
    rules = {p.rule for p in caught.value.problems}
    assert {"wave-lag", "node"} <= rules


def test_missing_file_and_binary_are_study_errors(tmp_path):
    with pytest.raises(StudyError, match="no such file"):
        load_study(tmp_path / "nope.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(StudyError):
        load_study(binary)
