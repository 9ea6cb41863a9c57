"""The lavaan model syntax parser (analysis.sem.syntax)."""

from __future__ import annotations

import pytest

from analysis.errors import ModelSpecificationError
from analysis.sem.syntax import parse_model


def test_operators_modifiers_comments_and_continuation():
    model = parse_model("""
    # measurement
    ind60 =~ x1 + x2 + x3        ! another comment style
    dem60 =~ y1 + a*y2 +
             start(1.5)*y3 + 0.5*y4
    dem60 ~ NA*ind60; y1 ~~ y5
    y1 ~ 1
    ab := a*b^2
    a == b
    """)
    by = {(s.lhs, s.op, s.rhs): s for s in model.statements}
    assert model.latent_names == ("ind60", "dem60")
    assert by[("dem60", "=~", "y2")].label == ("a",)
    assert by[("dem60", "=~", "y3")].start == (1.5,)
    assert by[("dem60", "=~", "y4")].fixed == (0.5,)
    assert by[("dem60", "~", "ind60")].free == (True,)
    assert ("y1", "~~", "y5") in by and ("y1", "~", "1") in by
    assert by[("dem60", "=~", "y2")].line == 4
    assert model.definitions[0].name == "ab" and model.definitions[0].expression == "a*b**2"
    assert model.definitions[0].names == ("a", "b")
    assert (model.constraints[0].lhs, model.constraints[0].rhs) == ("a", "b")


def test_per_group_modifiers_and_multiple_lhs():
    model = parse_model("f =~ x1 + c(l1, l2)*x2 + c(1, NA)*x3\ny1 + y2 ~ x")
    x2 = next(s for s in model.statements if s.rhs == "x2")
    x3 = next(s for s in model.statements if s.rhs == "x3")
    assert x2.label == ("l1", "l2")
    assert x3.fixed == (1.0, None) and x3.free == (False, True)
    assert {(s.lhs, s.rhs) for s in model.statements if s.op == "~"} == {("y1", "x"), ("y2", "x")}


@pytest.mark.parametrize("text, message, where", [
    ("f =~ x1 + + x2", "empty term", "line 1"),
    ("f =~ x1 + x2\ng =~ ", "nothing on the right", "line 2"),
    ("f x1 x2", "no operator", "line 1, column 1"),
    ("f <~ x1 + x2", "'<~' is not supported", "line 1"),
    ("f =~ x1 + 2bad", "not a valid variable name", "line 1"),
    ("f =~ x1 + foo(1)*x2", "neither a number, NA, nor a label", "line 1"),
    ("f =~ x1\nab := a*import", "", "line 2"),
    ("ab := __import__('os')", "not supported", "line 1"),
    ("", "empty", ""),
])
def test_bad_syntax_names_line_and_column(text, message, where):
    with pytest.raises(ModelSpecificationError) as info:
        parse_model(text)
    assert message in str(info.value)
    assert where in str(info.value)


def test_error_column_points_at_the_bad_term():
    assert parse_model("f =~ x1 +  x2").statements[1].column == 12
    with pytest.raises(ModelSpecificationError, match="column 11"):  # the doubled "+"
        parse_model("f =~ x1 + + x2")
