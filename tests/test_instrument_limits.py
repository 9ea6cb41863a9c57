"""Bounded validation: size limits, the "did you mean" budget, and remote content in texts.

The hostile files are generated here (about 1 MiB and 1.8 MiB of valid YAML); each must
be refused with the right reason. How fast that is, is measured by
``bench/bench_inputs.py``, not here.
"""

from __future__ import annotations

import difflib
import time
from pathlib import Path

import pytest
from hostile_inputs import many_questions_instrument, many_units_instrument

from surveys import limits
from surveys.errors import SuggestionBudget, did_you_mean, suggestion_budget
from surveys.instrument import InstrumentError
from surveys.loader import load_instrument, parse_instrument
from surveys.validation import CONTENT_RULES, RULES, remote_markup
from surveys.yamlsource import MAX_NODES, parse_yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "instruments" / "valid" / "team_check_in.yaml"
SHIPPED = sorted((ROOT / "instruments").glob("*.yaml"))


def _problems(text: str, source: str = "hostile.yaml") -> list:
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(text, source=source)
    return caught.value.problems


# --------------------------------------------------------------------------- the two hostile files


def test_nine_thousand_questions_and_three_thousand_bad_constructs_are_refused_for_their_size():
    text = many_questions_instrument()
    assert 1_000_000 < len(text.encode()) < 2 * 1024 * 1024
    problems = _problems(text)
    assert {p.rule for p in problems} == {"size-limit"}
    messages = [p.format() for p in problems]
    assert any("9,001 questions, more than the 2,000" in m for m in messages), messages
    assert any("3,000 constructs, more than the 500" in m for m in messages), messages
    # the position is that of the first question over the limit (question 2,001 of the file)
    first = next(p for p in problems if "questions" in p.message)
    line = text.splitlines()[first.line - 1]
    assert "id: q_01999" in line and line[first.column - 1:].startswith("type:")
    assert not any("alias" in m or "Did you mean" in m for m in messages)


def test_thirty_thousand_units_without_aliases_are_refused_as_too_many_units():
    text = many_units_instrument()
    assert "*" not in text and "&" not in text
    (problem,) = _problems(text)
    assert problem.rule == "size-limit"
    assert "'units' lists 30,000 units, more than the 10,000" in problem.message
    assert "alias" not in problem.format()
    assert "id: u_10000" in text.splitlines()[problem.line - 1]


def test_the_prescan_answers_before_yaml_parsing():
    # the prescan alone finds both (the parser would need seconds for these texts)
    assert limits.prescan(many_questions_instrument(), source="q")
    assert limits.prescan(many_units_instrument(), source="u")
    started = time.process_time()
    for _ in range(3):
        limits.prescan(many_units_instrument(), source="u")
    assert time.process_time() - started < 30  # a sanity bound only; the bench has the figure


@pytest.mark.parametrize("path", [*SHIPPED, EXAMPLE], ids=lambda p: p.name)
def test_the_prescan_and_the_exact_check_pass_real_instruments(path: Path):
    text = path.read_text(encoding="utf-8")
    assert limits.prescan(text, source=str(path)) == []
    document = parse_yaml(text, source=str(path))
    assert limits.size_problems(document.data, document.locations, source=str(path)) == []


def test_a_large_document_without_aliases_is_not_called_an_alias_bomb(monkeypatch):
    # one long list under an unknown key: past MAX_NODES, no alias anywhere (a lower limit keeps it quick)
    monkeypatch.setattr("surveys.yamlsource.MAX_NODES", 2_000)
    text = "id: big\nnumbers: [" + ", ".join("1" for _ in range(2_010)) + "]\n"
    with pytest.raises(InstrumentError) as caught:
        parse_yaml(text, source="big.yaml", prescan=None)
    problem = caught.value.problems[0]
    assert problem.rule == "size-limit" and "more than 2,000 nodes" in problem.message
    assert "alias" not in problem.format()
    assert MAX_NODES == 200_000


def test_the_alias_bomb_is_still_called_one():
    path = ROOT / "tests" / "instruments" / "invalid" / "alias_bomb.yaml"
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    assert caught.value.problems[0].rule == "alias-limit"
    assert "aliases repeating aliases" in caught.value.problems[0].message


# --------------------------------------------------------------------------- exact limits on the parsed data


def _example_data() -> tuple[dict, object]:
    document = parse_yaml(EXAMPLE.read_text(encoding="utf-8"), source="example.yaml")
    return document.data, document.locations


def test_questions_repeated_through_aliases_are_counted_after_parsing():
    # 60 aliases of a page of 40 questions: 2,400 questions the prescan cannot see
    page = "\n".join(f"      - {{id: q{i}, type: rating, text: Q{i}}}" for i in range(40))
    text = ("id: x\nversion: '1'\ntitle: X\naudience: customer\nlanguages: [en]\npages:\n"
            "  - &page\n    id: p\n    questions:\n" + page.replace("      -", "      -", 1) + "\n"
            + "".join("  - *page\n" for _ in range(60)))
    assert limits.prescan(text, source="a") == []
    problems = _problems(text)
    assert any(p.rule == "size-limit" and "2,440 questions, more than the 2,000" in p.message for p in problems)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["units"].extend({"id": f"u{i}", "label": "U"} for i in range(limits.MAX_UNITS)),
     "'units' has 10,002 entries, more than the 10,000 allowed"),
    (lambda d: d["constructs"].extend({"id": f"c{i}", "label": "C", "items": ["sat_1"]}
                                      for i in range(limits.MAX_CONSTRUCTS)),
     "'constructs' has 502 entries, more than the 500 allowed"),
    (lambda d: d["constructs"][0]["items"].extend(["sat_1"] * limits.MAX_CONSTRUCT_ITEMS),
     "construct 'satisfaction': 'items' has 203 entries"),
    (lambda d: d["pages"][0]["questions"][1]["options"].extend(
        {"value": f"o{i}", "label": "O"} for i in range(limits.MAX_OPTIONS)),
     "question 'tenure': 'options' has 502 entries, more than the 500 allowed"),
    (lambda d: d["pages"][1]["questions"][3]["rows"].extend(
        {"id": f"r{i}", "text": "R"} for i in range(limits.MAX_ROWS)),
     "matrix 'support': 'rows' has 203 entries"),
    (lambda d: d["languages"].extend(f"l{i}" for i in range(limits.MAX_LANGUAGES)),
     "'languages' has 52 entries"),
    (lambda d: d.update(consent={"en": "x" * (limits.MAX_TEXT + 1), "de": "y"}),
     "a text of 20,001 characters, more than the 20,000 allowed"),
])
def test_each_exact_limit(change, expected):
    data, locations = _example_data()
    change(data)
    messages = [p.message for p in limits.size_problems(data, locations, source="x")]
    assert any(expected in m for m in messages), messages


def test_too_many_scales_and_items():
    data, locations = _example_data()
    data["scales"].update({f"s{i}": data["scales"]["agree5"] for i in range(limits.MAX_SCALES)})
    data["pages"][1]["questions"].extend({"id": f"n{i}", "type": "number", "text": "N"}
                                         for i in range(limits.MAX_QUESTIONS))
    messages = [p.message for p in limits.size_problems(data, locations, source="x")]
    assert any("201 scales, more than the 200" in m for m in messages)
    assert any("2,008 questions, more than the 2,000" in m for m in messages)


def test_an_instrument_over_a_limit_gets_no_cross_reference_problems():
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  - {id: south, label: {en: South team, de: Team Süd}}",
        "\n".join(f"  - {{id: u{i}, label: {{en: U, de: U}}}}" for i in range(limits.MAX_UNITS + 1)))
    text = text.replace("items: [sat_1, sat_2, sat_3]", "items: [sat_1, sat_2, sta_3]")
    problems = _problems(text)
    assert {p.rule for p in problems} == {"size-limit"}


# --------------------------------------------------------------------------- "did you mean" budget


def test_did_you_mean_still_suggests_as_before():
    assert did_you_mean("agre5", ["agree5", "freq5"]) == " Did you mean 'agree5'?"
    assert did_you_mean("zzz", ["agree5"]) == ""
    ids = [f"item_{i:05d}" for i in range(20_000)]
    for typo in ("iten_01234", "itemm_01234", "tem_01234", "item_01234x"):
        best = difflib.get_close_matches(typo, ids, n=1)[0]  # what the unbounded search says
        assert did_you_mean(typo, ids) == f" Did you mean '{best}'?", typo  # prefiltered, same answer
    assert did_you_mean("item_1234", ids).startswith(" Did you mean 'item_")  # a close one, if not difflib's


def test_the_budget_stops_suggestions_not_problems():
    ids = [f"q_{i:05d}" for i in range(5_000)]
    with suggestion_budget(SuggestionBudget(comparisons=2_000)) as budget:
        first = did_you_mean("q_0000x", ids)
        for _ in range(50):
            did_you_mean("q_0000x", ids)
        later = did_you_mean("q_0000x", ids)
    assert first.startswith(" Did you mean") and later == ""
    assert budget.comparisons < 2_000
    assert did_you_mean("q_0000x", ids).startswith(" Did you mean")  # outside the block: unbounded again


def test_many_unknown_construct_items_within_the_limits_are_reported_without_endless_suggestions():
    # 500 constructs (the limit), each naming 3 unknown items, against 1,900 questions
    questions = "\n".join(f"      - {{id: q_{i:05d}, type: rating, text: Q}}" for i in range(1_900))
    constructs = "\n".join(f"  - {{id: c_{c:04d}, label: C, items: [q_{c:05d}x, q_{c:05d}y, q_{c:05d}z]}}"
                           for c in range(500))
    text = ("id: x\nversion: '1'\ntitle: X\naudience: customer\nlanguages: [en]\npages:\n  - id: p\n    questions:\n"
            "      - {id: unit, type: unit, source: invitation, text: U}\n" + questions + "\nconstructs:\n"
            + constructs + "\n")
    problems = [p for p in _problems(text) if p.rule == "unknown-item"]
    assert len(problems) == 1_500
    suggested = sum("Did you mean" in p.fix for p in problems)
    assert 0 < suggested < 1_500  # the first ones carry a suggestion, the budget stops the rest


# --------------------------------------------------------------------------- remote content


@pytest.mark.parametrize(("text", "what"), [
    ("See ![logo](https://cdn.example/logo.png)", "a markdown image"),
    ("See ![logo][1]\n\n[1]: https://cdn.example/logo.png", "a markdown image"),
    ("<img src=x>", "an HTML <img> tag"),
    ("< IMG\nsrc='https://x.example/p'>", "an HTML <img> tag"),
    ("<iframe src=https://evil.example></iframe>", "an HTML <iframe> tag"),
    ("<script>fetch('https://evil.example')</script>", "an HTML <script> tag"),
    ("<link rel=stylesheet href=https://evil.example/x.css>", "an HTML <link> tag"),
    ("<style>@import 'https://evil.example/x.css'</style>", "an HTML <style> tag"),
    ("<div style=\"background: url('https://t.example/p')\">x</div>", "a CSS url(...)"),
    ("@import url(https://evil.example/x.css)", "a CSS @import"),
    ("<svg><image href='https://t.example/p'/></svg>", "an HTML <svg> tag"),
    ("<object data=https://evil.example/x.swf>", "an HTML <object> tag"),
    ("<embed src=https://evil.example/x>", "an HTML <embed> tag"),
    ("<video src=https://t.example/v.mp4>", "an HTML <video> tag"),
    ("<body background=https://t.example/p>", "an HTML <body> tag"),
    ("<td background=https://t.example/p>", "an HTML background= attribute"),
    ("[click](javascript:alert(1))", "a javascript: link"),
    ("<a href=\"javascript:alert(1)\">x</a>", "a javascript: link"),
])
def test_remote_loading_markup_is_recognised(text, what):
    found = remote_markup(text)
    assert found is not None and found[1] == what, found


@pytest.mark.parametrize("text", [
    "Our privacy policy: [privacy](https://example.org/privacy)",
    "Rate us from 1 to 10 (10 = best)! <3",
    "Use a < b and c > d; the URL is https://example.org",
    "Was ist Ihre Meinung? Bitte „ehrlich“ antworten.",
    "I image my team as successful; the source of truth",
    "Kurl (Ort) and hurl (verb); image-based questions",
])
def test_ordinary_text_and_links_are_fine(text):
    assert remote_markup(text) is None


def test_remote_content_is_reported_at_the_offending_character_in_every_text_position():
    base = EXAMPLE.read_text(encoding="utf-8")
    text = base.replace("de: Team Süd}", 'de: "Team Süd ![x](https://t.example/p.gif)"}')
    (problem,) = _problems(text, "unit.yaml")
    line = text.splitlines()[problem.line - 1]
    assert problem.rule == "remote-content" and problem.item == "south"
    assert line[problem.column - 1:].startswith("![x](")
    assert "'label' (de) contains a markdown image" in problem.message and "tracking pixel" in problem.fix


def test_a_plain_string_text_in_one_language_instrument_is_checked_too():
    text = ("id: tiny\nversion: 2\ntitle: Tiny\naudience: customer\nlanguages: [fr]\npages:\n  - id: p\n"
            "    questions:\n      - {id: shop, type: unit, source: invitation, text: Magasin}\n"
            "      - {id: note, type: rating, text: \"Note <img src='https://t.example/p'>\"}\n")
    (problem,) = _problems(text)
    assert (problem.rule, problem.line, problem.item) == ("remote-content", 10, "note")
    assert text.splitlines()[9][problem.column - 1:].startswith("<img")


def test_content_rules_are_named_and_documented_like_the_others():
    for rule in CONTENT_RULES:
        assert rule.__name__.startswith("rule_") and rule.__doc__
        assert rule not in RULES
