"""Server-side answer validation: every question type, show_if, hostile input, page checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys.answers import AnswerError, validate_answers, validate_page
from surveys.instrument import load_instrument

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"
GOOD = {"unit": "north", "role": "staff", "sat": 4, "ms_1": 5, "ms_2": 1, "enps": 9, "perks": ["gym"]}


@pytest.fixture(scope="module")
def survey():
    return load_instrument(SURVEY)


def problems(survey, answers, language="en"):
    with pytest.raises(AnswerError) as info:
        validate_answers(survey, answers, language=language)
    return info.value.as_dict()


def test_a_complete_response_is_cleaned_to_canonical_form(survey):
    cleaned = validate_answers(survey, GOOD | {"sat": "4", "enps": 9.0, "perks": ["bike", "gym"],
                                               "priorities": ["growth", "pay", "team"], "comment": "  ok\r\n  ",
                                               "started": "2021-02-03", "shift": "late", "stray": 1})
    assert cleaned == GOOD | {"sat": 4, "enps": 9, "perks": ["gym", "bike"], "priorities": ["growth", "pay", "team"],
                              "comment": "ok", "started": "2021-02-03", "shift": "late"}
    assert type(cleaned["enps"]) is int


def test_required_questions_and_matrix_rows(survey):
    found = problems(survey, {"unit": "north", "ms_1": 3})
    assert found == {"role": "This question needs an answer.", "sat": "This question needs an answer.",
                     "ms_2": "Please answer this row.", "enps": "This question needs an answer."}
    # perks (min_selected 1) is optional: an empty selection counts as not answered
    assert "perks" not in validate_answers(survey, GOOD | {"perks": []})


@pytest.mark.parametrize(("key", "value", "message"), [
    ("sat", 6, "one of the answers offered"),
    ("sat", True, "one of the answers offered"),
    ("sat", "nan", "one of the answers offered"),
    ("ms_1", 0, "one of the answers offered"),
    ("enps", 11, "at most 10"),
    ("enps", -1, "at least 0"),
    ("enps", 7.5, "whole number"),
    ("enps", "seven", "enter a number"),
    ("role", "boss", "options offered"),
    ("role", ["staff"], "options offered"),
    ("perks", ["gym", "lunch", "bike"], "at most 2"),
    ("perks", ["gym", "gym"], "only once"),
    ("perks", ["sauna"], "only among the options"),
    ("perks", "gym", "from the list"),
    ("priorities", ["pay", "team"], "every option in order"),
    ("priorities", ["pay", "team", "team"], "every option in order"),
    ("started", "1999-12-31", "on or after 2000-01-01"),
    ("started", "2031-01-01", "on or before 2030-12-31"),
    ("started", "2021-02-30", "enter a date"),
    ("started", "03.02.2021", "enter a date"),
    ("comment", "x" * 61, "at most 60 characters (now 61)"),
    ("comment", 42, "enter text"),
    ("unit", "west", "units offered"),
    ("shift", "night", "options offered"),
])
def test_each_rule_refuses_with_a_message_at_the_question(survey, key, value, message):
    found = problems(survey, GOOD | {key: value})
    assert list(found) == [key]
    assert message in found[key]


def test_number_range_and_integer(survey):
    manager = GOOD | {"role": "manager"}
    assert problems(survey, manager) == {"team_size": "This question needs an answer."}
    assert "at most 500" in problems(survey, manager | {"team_size": 501})["team_size"]
    assert "whole number" in problems(survey, manager | {"team_size": 2.5})["team_size"]
    assert "at least 1" in problems(survey, manager | {"team_size": 0})["team_size"]
    assert validate_answers(survey, manager | {"team_size": "12"})["team_size"] == 12


def test_answers_to_hidden_questions_are_dropped(survey):
    cleaned = validate_answers(survey, GOOD | {"team_size": 9999})  # role staff: team_size hidden
    assert "team_size" not in cleaned


def test_messages_follow_the_language(survey):
    assert problems(survey, GOOD | {"sat": None}, "de") == {"sat": "Diese Frage braucht eine Antwort."}
    assert problems(survey, GOOD | {"sat": None}, "fr") == {"sat": "This question needs an answer."}


def test_hostile_strings(survey):
    huge = "A" * 5_000_000
    found = problems(survey, GOOD | {"role": huge, "unit": huge, "comment": huge, "started": huge,
                                     "perks": [huge], "enps": huge})
    assert set(found) == {"role", "unit", "comment", "started", "perks", "enps"}
    assert all(len(m) < 200 for m in found.values())  # messages never echo the input
    cleaned = validate_answers(survey, GOOD | {"comment": "a\x00b\x1b[31mc\u2028d\te\nf\x7f"})
    assert cleaned["comment"] == "ab[31mcd\te\nf"
    assert "comment" not in validate_answers(survey, GOOD | {"comment": "\x00\x01  "})
    with pytest.raises(AnswerError, match="mapping"):
        validate_answers(survey, ["not", "a", "mapping"])
    assert "perks" in problems(survey, GOOD | {"perks": ["gym"] * 10_000})


def test_validate_page_checks_only_the_given_questions(survey):
    page = survey.pages[1].questions
    assert validate_page(survey, page, {"sat": 4, "ms_1": 2, "ms_2": 2, "enps": 3}) == {}
    assert validate_page(survey, page, {"sat": 9, "ms_1": 2}) == {
        "sat": "Please choose one of the answers offered.", "ms_2": "Please answer this row.",
        "enps": "This question needs an answer."}
    assert validate_page(survey, page, {}, language="de")["sat"] == "Diese Frage braucht eine Antwort."
