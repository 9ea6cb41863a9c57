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


# --------------------------------------------------------------------------- size limits


def _layered_instrument(audience: str, prefix: str, layers: range, width: int):
    from surveys.loader import parse_instrument

    constructs = "\n".join(f"  - {{id: {prefix}{layer}_{k}, label: C, items: [i1, i2, i3]}}"
                            for layer in layers for k in range(width))
    text = (f"id: {audience}_layers\nversion: '1'\ntitle: T\naudience: {audience}\nlanguages: [en]\n"
            "scales:\n  s5: {points: [{value: 1, label: a}, {value: 5, label: b}]}\n"
            "pages:\n  - id: p\n    questions:\n      - {id: unit, type: unit, source: invitation, text: U}\n"
            + "".join(f"      - {{id: i{j}, type: likert, scale: s5, text: Q}}\n" for j in (1, 2, 3))
            + "constructs:\n" + constructs + "\n")
    return parse_instrument(text, source=f"{audience}.yaml")


def _layered_study(layers: int = 8, width: int = 6, employee_layers: int = 6):
    employee = _layered_instrument("employee", "e", range(employee_layers), width)
    customer = _layered_instrument("customer", "c", range(employee_layers, layers), width)

    def name(layer: int, k: int) -> str:
        return f"{'e' if layer < employee_layers else 'c'}{layer}_{k}"

    paths = [f"{name(layer, k)} ~ " + " + ".join(name(layer - 1, j) for j in range(width))
             for layer in range(1, layers) for k in range(width)]
    text = "id: layered\nunit_key: unit\npaths:\n" + "".join(f"  - {p}\n" for p in paths)
    return text, {"employee": employee, "customer": customer}


def test_a_layered_model_with_millions_of_indirect_routes_is_refused_quickly():
    from analysis.study import count_routes

    text, instruments = _layered_study()
    with pytest.raises(StudyError) as caught:
        parse_study(text, source="layered.yaml", instruments=instruments)
    (problem,) = [p for p in caught.value.problems if p.rule == "size-limit"]
    assert "indirect routes from employee to customer nodes, more than the 1,000" in problem.message
    assert problem.line == 3  # the "paths" key
    # the count is the number of routes indirect_routes would list
    small_text, small = _layered_study(layers=4, width=2, employee_layers=2)
    study = parse_study(small_text, source="small.yaml", instruments=small)
    listed = sum(len(routes) for _, _, routes in study.indirect_routes())
    assert count_routes(study.paths, study.side) == listed == 32  # 2 x (4 + 8) from layer 0, 2 x 4 from layer 1


def test_cycles_in_a_large_model_are_found_in_linear_time():
    text, instruments = _layered_study(layers=10, width=8, employee_layers=9)
    text = text.replace("  - e1_0 ~ ", "  - e1_0 ~ c9_0 + ")
    with pytest.raises(StudyError) as caught:
        parse_study(text, source="cycle.yaml", instruments=instruments)
    cycle = next(p for p in caught.value.problems if p.rule == "path-cycle")
    assert "e1_0" in cycle.message and "c9_0" in cycle.message


def test_too_many_paths_long_paths_and_a_huge_text_are_refused():
    text, instruments = _layered_study(layers=3, width=2, employee_layers=2)
    many = text + "".join(f"  - e0_0 ~ e1_{i}\n" for i in range(250))
    with pytest.raises(StudyError, match="'paths' has 254 entries, more than the 200"):
        parse_study(many, source="many.yaml", instruments=instruments)
    wide = text + "  - c2_0 ~ " + " + ".join(["e0_0"] * 60) + "\n"
    with pytest.raises(StudyError, match="60 predictors; a path may have at most"):
        parse_study(wide, source="wide.yaml", instruments=instruments)
    with pytest.raises(StudyError, match="more than the 256 KiB a study file may have"):
        parse_study(text + "#" * 300_000, source="huge.yaml", instruments=instruments)
