"""The show_if expression language: whitelist, evaluation rules, None handling."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.expressions import MAX_LENGTH, Condition, ExpressionError, parse_condition


def holds(expression: str, **answers: object) -> bool:
    return parse_condition(expression).evaluate(answers)


# --------------------------------------------------------------------------- parsing


def test_names_are_collected() -> None:
    condition = parse_condition("a > 1 and (b in ['x', 'y'] or not c) and d + e * 2 == f")
    assert condition.names == frozenset("abcdef")
    assert isinstance(condition, Condition)
    assert str(condition) == "a > 1 and (b in ['x', 'y'] or not c) and d + e * 2 == f"


@pytest.mark.parametrize("expression", [
    "q == 1", "q != 'x'", "q < 1.5", "q <= -2", "q > +3", "q >= 0", "q in [1, 2, -3]", "q not in ('a', 'b')",
    "1 < q < 5", "q == True", "q == None", "q != None", "not q", "q and r or s", "(q - r) / 2 >= 1",
    "-q < 0", "'x' in q", "q == 1e3",
])
def test_allowed_expressions_parse(expression: str) -> None:
    parse_condition(expression)


@pytest.mark.parametrize(("expression", "phrase"), [
    ("len(q) > 1", "a function call"),
    ("__import__('os').system('true')", "a function call"),
    ("q.real > 1", "attribute access"),
    ("q[0] == 1", "a subscript"),
    ("(lambda: 1) == q", "lambda"),
    ("q ** 2 > 1", "'**'"),
    ("q // 2 > 1", "'//'"),
    ("q % 2 == 1", "'%'"),
    ("q & 1", "'&'"),
    ("~q", "'~'"),
    ("q is None", "'is'"),
    ("q is not None", "'is not'"),
    ("[x for x in q]", "a comprehension"),
    ("{1: 2} == q", "a dictionary"),
    ("{1, 2} == q", "a set"),
    ("f'{q}' == 'x'", "an f-string"),
    ("q if r else s", "'x if c else y'"),
    ("(q := 1)", "':='"),
    ("_q == 1", "names may not start with '_'"),
    ("q in [r, 1]", "a list element that is not a constant"),
    ("q == b'x'", "a bytes constant"),
    ("q == ...", "a ellipsis constant"),
    ("q == 1j", "a complex constant"),
])
def test_forbidden_constructs_are_refused(expression: str, phrase: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition(expression)
    assert caught.value.kind == "forbidden"
    assert phrase in str(caught.value)
    assert "not allowed in show_if" in str(caught.value)


@pytest.mark.parametrize("expression", ["", "   ", "q ==", "q = 1", "(q", "q == 1)", "import os", "x" * (MAX_LENGTH + 1)])
def test_syntax_errors_are_refused(expression: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition(expression)
    assert caught.value.kind == "syntax"


def test_syntax_error_names_the_position() -> None:
    with pytest.raises(ExpressionError, match=r"at character 3"):
        parse_condition("q r == 1")


def test_the_longest_nesting_evaluates_without_recursion_errors() -> None:
    deepest = "-" * (MAX_LENGTH - 6) + "q > 0"
    assert parse_condition(deepest).evaluate({"q": 1}) is True  # an even number of minus signs
    with pytest.raises(ExpressionError, match="too many nested parentheses"):
        parse_condition("(" * 240 + "q" + ")" * 240)


# --------------------------------------------------------------------------- evaluation


def test_comparisons_and_logic() -> None:
    assert holds("q == 3", q=3)
    assert not holds("q == 3", q=4)
    assert holds("q in ['a', 'b']", q="b")
    assert holds("q not in ['a', 'b']", q="c")
    assert holds("1 < q < 5", q=3)
    assert not holds("1 < q < 5", q=5)
    assert holds("q >= 7 and r == 'yes'", q=8, r="yes")
    assert holds("q >= 7 or r == 'yes'", q=1, r="yes")
    assert holds("not (q == 1)", q=2)
    assert holds("'pay' in reasons", reasons=["pay", "manager"])


def test_arithmetic() -> None:
    assert holds("(a + b) / 2 >= 4", a=3, b=5)
    assert holds("a * 2 - 1 == 9", a=5)
    assert holds("-a == -5", a=5)


def test_unanswered_questions_are_none_and_compare_false() -> None:
    for expression in ("q == 1", "q != 1", "q < 1", "q > 1", "q in [1]", "q not in [1]", "q + 1 > 0", "-q < 0"):
        assert holds(expression) is False, expression
    assert holds("not (q == 1)") is True
    assert holds("q == None") is True
    assert holds("q != None", q=0) is True
    assert holds("q != None") is False
    assert holds("q") is False


def test_division_by_zero_is_false() -> None:
    assert holds("a / b > 1", a=1, b=0) is False
    assert holds("a / b < 1", a=1, b=0) is False
    assert holds("not (a / b > 1)", a=1, b=0) is True


def test_type_mismatches_are_false() -> None:
    assert holds("q < 3", q="text") is False
    assert holds("q + 1 > 0", q="text") is False
    assert holds("q * 3 == 'aaa'", q="a") is False  # no string repetition
    assert holds("q in 5", q=1) is False
    assert holds("q == 1", q=[1]) is False
    assert holds("q > 0", q=True) is True  # booleans compare as numbers, as in Python
    assert holds("q + 1 > 0", q=True) is False  # but arithmetic is for numbers only


def test_huge_arithmetic_does_not_overflow() -> None:
    assert holds("q * q * q * q > 0", q=1e300) is False  # inf is not a number answer
    assert holds("q * 2 > 1", q=10**400) is True


answers = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5), st.booleans(),
              st.lists(st.integers(), max_size=3)),
)


@settings(max_examples=200, deadline=None)
@given(answers=answers)
def test_evaluation_never_raises_and_returns_bool(answers: dict[str, object]) -> None:
    for expression in ("a + b / c > 1", "a in [1, 'x'] or not b", "-a < b - c", "a == None and b != 2",
                       "c not in a", "1 < a < b"):
        assert parse_condition(expression).evaluate(answers) in (True, False)
