"""Loading instruments: the shipped files, the contract others code against, and the broken corpus.

Every file in ``tests/instruments/invalid/`` starts with a header line::

    # expect: line 42 rule unknown-scale "Did you mean 'agree5'?"

(optionally ``severity warning`` after the rule) naming the line, the rule and a
piece of the message or fix that loading the file must report.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from surveys.errors import TandemError
from surveys.instrument import QUESTION_TYPES, Instrument, InstrumentError
from surveys.loader import load_instrument, parse_instrument
from surveys.validation import CONTENT_RULES, RULES
from surveys.yamlsource import MAX_BYTES, MAX_DEPTH

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "instruments").glob("*.yaml"))
INVALID = sorted((ROOT / "tests" / "instruments" / "invalid").glob("*.yaml"))
EXAMPLE = ROOT / "tests" / "instruments" / "valid" / "team_check_in.yaml"
EXPECT = re.compile(rb'^# expect: line (\d+) rule ([a-z-]+)(?: severity (error|warning))? "(.*)"$')


def _expectation(path: Path) -> tuple[int, str, str, str]:
    header = path.read_bytes().split(b"\n", 1)[0]
    match = EXPECT.match(header)
    assert match, f"{path.name}: first line must be '# expect: line N rule R \"text\"'"
    line, rule, severity, text = match.groups()
    return int(line), rule.decode(), (severity or b"error").decode(), text.decode()


# --------------------------------------------------------------------------- shipped instruments


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_instrument_loads_without_problems(path: Path) -> None:
    instrument = load_instrument(path)
    assert instrument.warnings == ()
    assert instrument.languages == ("en", "de")
    assert instrument.unit_question
    # every text exists in both languages (the rule guarantees it; this pins the files)
    for question in instrument.questions:
        assert set(question.text) == {"en", "de"}, question.id


def test_the_three_shipped_instruments_are_there() -> None:
    assert {p.stem for p in SHIPPED} >= {"employee_experience", "customer_experience", "employee_pulse"}


def test_employee_and_customer_instruments_share_their_units() -> None:
    ids = {p.stem: [u.id for u in load_instrument(p).units] for p in SHIPPED}
    assert len(ids["employee_experience"]) == 40
    assert ids["employee_experience"] == ids["customer_experience"] == ids["employee_pulse"]


def test_employee_experience_has_the_agreed_constructs_and_roles() -> None:
    inst = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    roles = {c.id: c.role for c in inst.constructs}
    assert roles == {
        "manager_support": "driver", "communication": "driver", "training_development": "driver",
        "tools_resources": "driver", "recognition": "driver", "job_satisfaction": "outcome",
        "engagement": "outcome", "service_climate": "outcome", "intent_to_stay": "outcome",
    }
    assert all(len(c.items) >= 4 for c in inst.constructs)
    assert sum(item.reverse for item in inst.items) >= 4
    assert inst.item(inst.metrics.enps).type == "rating"
    assert inst.min_group_size == 5
    assert inst.consent is not None
    assert any(q.type == "matrix" for q in inst.questions)


def test_customer_experience_metrics_point_at_the_right_items() -> None:
    inst = load_instrument(ROOT / "instruments" / "customer_experience.yaml")
    assert inst.audience == "customer"
    nps, csat, ces = (inst.item(getattr(inst.metrics, m)) for m in ("nps", "csat", "ces"))
    assert (nps.type, nps.min, nps.max) == ("rating", 0, 10)
    assert (csat.scale.id, len(csat.scale.points)) == ("satisfied5", 5)
    assert (ces.scale.id, len(ces.scale.points)) == ("agree7", 7)
    assert {c.id for c in inst.constructs} >= {
        "reliability", "responsiveness", "assurance", "empathy", "tangibles", "trust", "loyalty"}


def test_pulse_has_about_ten_questions() -> None:
    inst = load_instrument(ROOT / "instruments" / "employee_pulse.yaml")
    assert 8 <= len(inst.questions) <= 12
    assert inst.question(inst.unit_question).source == "invitation"


# --------------------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def example() -> Instrument:
    return load_instrument(EXAMPLE)


def test_contract_attributes(example: Instrument) -> None:
    assert (example.id, example.version, example.audience) == ("team_check_in", "1.0", "employee")
    assert example.default_language == example.languages[0] == "en"
    assert example.title == {"en": "Team check-in", "de": "Team-Check-in"}
    assert example.unit_question == "team"
    assert [u.id for u in example.units] == ["north", "south"]
    scale = example.scales["agree5"]
    assert (scale.min, scale.max, scale.values, scale.ordered) == (1, 5, (1, 2, 3, 4, 5), True)
    assert [p.id for p in example.pages] == ["start", "work"]
    assert [q.id for q in example.questions] == ["team", "tenure", "sat_1", "sat_2", "sat_3", "support",
                                                 "enps", "why_low"]
    assert [i.id for i in example.items] == ["sat_1", "sat_2", "sat_3", "sup_1", "sup_2", "sup_3", "enps"]
    assert example.metrics.enps == "enps" and example.metrics.nps is None
    construct = example.construct("satisfaction")
    assert (construct.items, construct.scoring, construct.min_answered, construct.role) == (
        ("sat_1", "sat_2", "sat_3"), "mean", 0.5, "outcome")
    assert example.min_group_size == 5
    assert example.source_text == EXAMPLE.read_text(encoding="utf-8")
    assert len(example.sha256) == 64


def test_items_carry_scale_range_and_keying(example: Instrument) -> None:
    sat_2 = example.item("sat_2")
    assert (sat_2.question_id, sat_2.type, sat_2.reverse, sat_2.min, sat_2.max) == ("sat_2", "likert", True, 1, 5)
    row = example.item("sup_2")
    assert (row.question_id, row.type, row.scale.id) == ("support", "matrix", "agree5")
    enps = example.item("enps")
    assert (enps.scale, enps.min, enps.max) == (None, 0, 10)


def test_instrument_is_immutable_and_hashable(example: Instrument) -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        example.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        example.scales["x"] = example.scales["agree5"]  # type: ignore[index]
    with pytest.raises(TypeError):
        example.title["fr"] = "x"  # type: ignore[index]
    assert hash(example) == hash(load_instrument(EXAMPLE))


def test_text_falls_back_to_the_default_language(example: Instrument) -> None:
    assert example.text(example.title, "de") == "Team-Check-in"
    assert example.text(example.title, "fr") == "Team check-in"
    assert example.text(example.title) == "Team check-in"
    assert example.text(None) == ""


ONE_LANGUAGE = """
id: tiny
version: 2
title: Tiny
audience: customer
languages: [fr]
pages:
  - id: p
    questions:
      - {id: shop, type: unit, source: invitation, text: Magasin}
      - {id: note, type: rating, text: Note ?}
"""


def test_plain_strings_are_read_in_the_default_language() -> None:
    tiny = parse_instrument(ONE_LANGUAGE, source="tiny.yaml")
    assert dict(tiny.title) == {"fr": "Tiny"}
    assert dict(tiny.question("note").text) == {"fr": "Note ?"}
    assert tiny.version == "2"  # numbers are read as version text
    assert (tiny.units, tiny.constructs, dict(tiny.scales)) == ((), (), {})


@pytest.mark.parametrize(("method", "name", "hint"), [
    ("question", "suport", "Did you mean 'support'?"),
    ("item", "enp", "Did you mean 'enps'?"),
    ("construct", "satisfacton", "Did you mean 'satisfaction'?"),
])
def test_lookups_suggest_close_names(example: Instrument, method: str, name: str, hint: str) -> None:
    with pytest.raises(InstrumentError) as caught:
        getattr(example, method)(name)
    assert hint in str(caught.value)
    assert isinstance(caught.value, TandemError)


def test_show_if_is_parsed_at_load_time(example: Instrument) -> None:
    condition = example.question("why_low").show_if
    assert condition.names == frozenset({"enps", "tenure"})
    assert condition.evaluate({"enps": 3, "tenure": "long"}) is True
    assert condition.evaluate({"enps": 9, "tenure": "long"}) is False
    assert condition.evaluate({}) is False


def test_every_rule_has_a_docstring_and_a_name() -> None:
    for rule in RULES:
        assert rule.__name__.startswith("rule_") and rule.__doc__


# --------------------------------------------------------------------------- the broken corpus


def test_the_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 30


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_broken_instrument_reports_line_rule_and_hint(path: Path) -> None:
    line, rule, severity, text = _expectation(path)
    if severity == "warning":
        problems = list(load_instrument(path).warnings)
    else:
        with pytest.raises(InstrumentError) as caught:
            load_instrument(path)
        problems = caught.value.problems
    matching = [p for p in problems if p.rule == rule and p.line == line]
    found = "\n".join(p.format() for p in problems)
    assert matching, f"expected [{rule}] at line {line}, got:\n{found}"
    assert any(text in p.format() for p in matching), f"expected {text!r} in:\n{found}"
    assert all(p.file == str(path) and p.severity == severity for p in matching)
    assert all(p.format().startswith(f"{path}:{line}:") for p in matching)


def test_all_problems_are_reported_together() -> None:
    text = (EXAMPLE.read_text(encoding="utf-8")
            .replace("scale: agree5\n        text: {en: I enjoy", "scale: agre5\n        text: {en: I enjoy")
            .replace("items: [sat_1, sat_2, sat_3]", "items: [sat_1, sat_2, sta_3]")
            .replace("show_if: enps <= 6", "show_if: enpss <= 6"))
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(text, source="three.yaml")
    assert {p.rule for p in caught.value.problems} == {"unknown-scale", "unknown-item", "unknown-name"}
    assert str(caught.value).count("three.yaml:") == 3


# --------------------------------------------------------------------------- hostile input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match="no such file"):
        load_instrument(tmp_path / "nope.yaml")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match="directory"):
        load_instrument(tmp_path)


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("id: x\n" + "# padding\n" * (20 * 1024 * 1024 // 10), encoding="utf-8")
    assert path.stat().st_size > MAX_BYTES
    with pytest.raises(InstrumentError, match="more than the 2 MiB") as caught:
        load_instrument(path)
    assert caught.value.problems[0].rule == "file"


def test_huge_text_is_refused() -> None:
    with pytest.raises(InstrumentError, match="larger than 2 MiB"):
        parse_instrument("a: b\n" * (MAX_BYTES // 4), source="big")


def test_deep_nesting_is_refused() -> None:
    text = "id: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(text, source="deep")
    assert caught.value.problems[0].rule == "nesting-limit"


def test_many_plain_aliases_are_refused() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 150) + "]\n"
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(text, source="aliases")
    assert caught.value.problems[0].rule == "alias-limit"


def test_a_few_aliases_are_fine() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "title: {en: Team check-in, de: Team-Check-in}", "title: &t {en: Team check-in, de: Team-Check-in}"
    ).replace("title: {en: Your work, de: Ihre Arbeit}", "title: *t")
    assert parse_instrument(text, source="alias").pages[1].title == {"en": "Team check-in", "de": "Team-Check-in"}


@pytest.mark.parametrize("text", [
    "", "   \n", "# only a comment\n", "42", "[1, 2]", "~", "!!binary aGVsbG8=", "? [a, b]\n: c\n",
    "id: !custom tag\n", "a: 1\na: 2\n", "x: {y: [1, {z: *nope}]}\n", "\ufeffid: x\n", "id: x\n\x85",
    '!!python/object/apply:os.system ["true"]', "a: !!python/name:os.system", "a: !!int abc", "a: !!float x",
    "a: !!timestamp nope", "a: {<<: 5}", "a: !!set {x, y}", "--- a\n--- b", "a: &x 1\nb: &x 2", "a: b: c",
])
def test_odd_yaml_gives_instrument_error_only(text: str) -> None:
    with pytest.raises(InstrumentError):
        parse_instrument(text, source="odd")


def test_documented_example_is_the_example_file_and_loads() -> None:
    readme = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8")
    section = readme.split("# Instrument format", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block == EXAMPLE.read_text(encoding="utf-8").split("\n", 1)[1]
    assert parse_instrument(block, source="docs/instruments.md").id == "team_check_in"


def test_documentation_lists_every_rule_and_question_type() -> None:
    readme = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8").split("# Instrument format", 1)[1]
    for rule in (*RULES, *CONTENT_RULES):
        assert f"`{rule.__name__.removeprefix('rule_').replace('_', '-')}`" in readme, rule.__name__
    for qtype in QUESTION_TYPES:
        assert f"| `{qtype}` |" in readme, qtype


def test_unchanged_files_are_parsed_once_and_changed_files_again(tmp_path: Path) -> None:
    path = tmp_path / "check_in.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_instrument(path)
    assert load_instrument(path) is first
    path.write_text(text.replace("Team check-in, de:", "Team check-in today, de:"), encoding="utf-8")
    changed = load_instrument(path)
    assert changed is not first
    assert changed.title["en"] == "Team check-in today"


def test_show_if_problems_point_at_the_offending_character() -> None:
    path = ROOT / "tests" / "instruments" / "invalid" / "show_if_lambda.yaml"
    line = path.read_text(encoding="utf-8").splitlines()[71]
    assert line == "        show_if: 'enps == (lambda: 6)'"
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (72, line.index("lambda") + 1)


def test_utf16_files_are_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(InstrumentError, match="UTF-16 text, not UTF-8"):
        load_instrument(path)


def test_error_summary_counts_the_other_errors() -> None:
    with pytest.raises(InstrumentError) as caught:
        load_instrument(ROOT / "tests" / "instruments" / "invalid" / "duplicate_question_id.yaml")
    assert caught.value.what.endswith("(and 1 more error)")
    assert len(str(caught.value).splitlines()) == len(caught.value.problems) == 2
