"""The question-type registry: every type has one definition, a widget and a simulator, and its
two codecs are inverse to each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.simulate import SIMULATORS, simulate_responses
from surveys.instrument import QUESTION_TYPES
from surveys.loader import load_instrument
from surveys.question_types import REGISTRY, frame_columns, kind_of
from views.widgets import WIDGETS

ALL_TYPES = Path(__file__).parent / "app_fixtures" / "all_types.yaml"


def test_every_type_has_a_definition_a_widget_and_a_simulator():
    assert set(REGISTRY) == set(QUESTION_TYPES)
    assert set(WIDGETS) == set(QUESTION_TYPES), "views.widgets.WIDGETS misses a type"
    assert set(SIMULATORS) == set(QUESTION_TYPES), "analysis.simulate.SIMULATORS misses a type"
    for name, kind in REGISTRY.items():
        assert kind.name == name
        assert not (kind.numeric and (kind.demographic or kind.free_text)), name


def test_the_fixture_uses_every_type():
    instrument = load_instrument(ALL_TYPES)
    assert {q.type for q in instrument.questions} == set(QUESTION_TYPES)


def test_encode_then_decode_gives_the_frame_back():
    """A simulated wide frame of every type, encoded to stored answers row by row and decoded
    again column-wise (as responses_frame reads a campaign), equals itself."""
    instrument = load_instrument(ALL_TYPES)
    frame = simulate_responses(instrument, n_units=2, respondents_per_unit=15, seed=7)
    questions = [q for q in instrument.questions if kind_of(q).columns(q)]
    stored = pd.DataFrame([{key: value for q in questions for key, value in kind_of(q).encode(q, row).items()}
                           for row in frame.to_dict(orient="records")], index=frame.index)
    for column, q, option in frame_columns(instrument):
        kind = kind_of(q)
        key = kind.stored_key(q, option)
        source = stored[key] if key in stored else pd.Series(None, index=frame.index, dtype=object)
        decoded = kind.decode(q, option, source.astype(object).where(source.notna(), None))
        expected = frame[column]
        if kind.numeric or q.type in ("multi_choice", "ranking"):
            if q.type == "multi_choice":  # an option column is NaN only when nothing was chosen
                expected = expected.where(frame[[c for c, qq, _ in frame_columns(instrument) if qq is q]].eq(1)
                                          .any(axis=1))
            np.testing.assert_array_equal(pd.to_numeric(decoded).to_numpy(dtype=float),
                                          pd.to_numeric(expected).to_numpy(dtype=float), err_msg=column)
        else:
            assert decoded.where(decoded.notna(), None).tolist() == expected.where(expected.notna(), None).astype(
                object).tolist(), column
