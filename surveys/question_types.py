"""The question types, one definition each: answer keys, frame columns, codecs, validation, labels.

Every module that treats questions differently by type asks :data:`REGISTRY` (or
:func:`kind_of`) instead of branching on ``question.type``:

* answer keys: where a question's answers live in a stored response (a matrix: one key
  per row; every other type: the question id);
* frame columns: the wide-frame columns of a question (:meth:`QuestionType.columns`),
  and the two inverse codecs between stored answers and those columns
  (:meth:`QuestionType.decode`, vectorised over a campaign's responses, and
  :meth:`QuestionType.encode`, one frame row back to answers);
* server-side validation of one answer (:meth:`QuestionType.check`), used by
  :mod:`surveys.answers`;
* export labels: the variable label, value labels, the dictionary's value description,
  reverse keying and the SPSS measurement level;
* what a type *is* for the rest of Tandem: a numeric item (scored, analysed), a
  demographic (offered as a filter and breakdown, part of the disclosure blocks), free
  text (an open answer under the comment threshold).

Two behaviours live above this layer, keyed by the same names, and tests check they
cover every type: the Streamlit widget (``views.widgets.WIDGETS``) and the simulated
answers (``analysis.simulate.SIMULATORS``). A new type therefore means: its pydantic
model in :mod:`surveys.instrument`, its definition here, its widget and its simulator
(docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from surveys.text import clean_text

__all__ = ["MAX_CODE", "MAX_LIST", "REGISTRY", "UNIT_ID", "QuestionType", "frame_columns", "kind_of"]

#: Longest list accepted for multi_choice/ranking answers (hostile input guard).
MAX_LIST = 500
#: Longest text accepted for a unit id, option value or date.
MAX_CODE = 200
#: A unit id when the instrument lists no units (invitations name them).
UNIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")

Msg = Mapping[str, str]


# --------------------------------------------------------------------------- shared helpers
def _number(value: Any) -> float | None:
    """A finite number from an int/float (not bool) or a short numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 1e15 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _whole(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _fmt(number: float) -> str:
    return str(_whole(float(number)))


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _scale_value(value: Any, allowed: tuple[int | float, ...]) -> tuple[bool, Any]:
    number = _number(value)
    if number is None:
        return False, None
    for point in allowed:
        if math.isclose(float(point), number, rel_tol=0, abs_tol=1e-9):
            return True, point
    return False, None


def _values_list(value: Any) -> list[str] | None:
    if not isinstance(value, list | tuple) or len(value) > MAX_LIST:
        return None
    if not all(isinstance(v, str) and len(v) <= MAX_CODE for v in value):
        return None
    return list(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _scale_labels(instrument: Any, scale_id: str, lang: str) -> dict[Any, str]:
    return {float(p.value): instrument.text(p.label, lang) for p in instrument.scales[scale_id].points}


# --------------------------------------------------------------------------- the base definition
@dataclass(frozen=True)
class QuestionType:
    """What one question type is and how it is stored, read, checked and labelled.

    Attributes
    ----------
    name
        The ``type`` value in the YAML.
    numeric
        Its frame columns are numbers that are items (scored and analysed).
    demographic
        Offered as a filter and breakdown, and part of the disclosure blocks.
    free_text
        An open answer (shown only under the comment threshold).
    identifying
        An answer that can single a person out on its own (a date: of birth, of joining),
        left out of the safe export.
    measure
        SPSS measurement level of its columns.
    """

    name: str
    numeric: bool = False
    demographic: bool = False
    free_text: bool = False
    identifying: bool = False
    measure: str = "nominal"

    # ---- where answers live
    def answer_keys(self, question: Any) -> list[str]:
        """Keys of the question's answers in a stored response."""
        return [question.id]

    def columns(self, question: Any) -> list[tuple[str, str | None]]:
        """The question's wide-frame columns: ``(column, option or row id or None)``."""
        return [(question.id, None)]

    def stored_key(self, question: Any, option: str | None) -> str:
        """The stored answer key a frame column is read from."""
        return question.id

    # ---- codecs
    def decode(self, question: Any, option: str | None, stored: pd.Series) -> pd.Series:
        """Stored answers (one per response, None when not given) -> the frame column."""
        return stored.astype(object).where(stored.notna(), None)

    def encode(self, question: Any, row: Mapping[str, Any]) -> dict[str, Any]:
        """One wide-frame row -> this question's stored answers (the inverse of :meth:`decode`)."""
        value = row.get(question.id)
        return {} if _missing(value) else {question.id: str(value)}

    # ---- validation
    def check(self, instrument: Any, question: Any, value: Any, msg: Msg) -> tuple[bool, Any]:
        """Validate one non-empty answer: ``(True, cleaned)`` or ``(False, message)``."""
        raise NotImplementedError

    def prepare(self, question: Any, value: Any) -> Any:
        """The answer as received, before the empty test and :meth:`check` (text is cleaned here)."""
        return value

    # ---- labels
    def label(self, instrument: Any, question: Any, option: str | None, lang: str) -> str:
        """The variable label of a column (exports, the data dictionary)."""
        text = instrument.text(question.text, lang)
        if self.reverse(question, option):
            text += " (reverse-keyed)"
        return text

    def reverse(self, question: Any, option: str | None) -> bool:
        """Whether a column is reverse-keyed."""
        return bool(getattr(question, "reverse", False))

    def value_labels(self, instrument: Any, question: Any, lang: str) -> dict[Any, str]:
        """SPSS value labels of the question's columns."""
        return {}

    def values_text(self, instrument: Any, question: Any, lang: str) -> str:
        """What the columns hold, in words (the data dictionary's ``values``)."""
        return "; ".join(f"{_num(v)} = {t}" for v, t in self.value_labels(instrument, question, lang).items())


# --------------------------------------------------------------------------- numeric items
@dataclass(frozen=True)
class _Item(QuestionType):
    numeric: bool = True
    measure: str = "ordinal"

    def decode(self, question: Any, option: str | None, stored: pd.Series) -> pd.Series:
        try:  # stored numbers and None: one conversion (a tenth of to_numeric's time on objects)
            return pd.Series(np.asarray(stored.to_numpy(), dtype=float), index=stored.index, name=stored.name)
        except (TypeError, ValueError):  # anything else, parsed or NaN as before
            return pd.to_numeric(stored, errors="coerce").astype(float)

    def encode(self, question: Any, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for column, _ in self.columns(question):
            value = row.get(column)
            if not _missing(value):
                out[column] = _whole(float(value))
        return out


@dataclass(frozen=True)
class _Likert(_Item):
    def check(self, instrument, question, value, msg):
        ok, result = _scale_value(value, instrument.scales[question.scale].values)
        return (True, result) if ok else (False, msg["scale"])

    def value_labels(self, instrument, question, lang):
        return _scale_labels(instrument, question.scale, lang)


@dataclass(frozen=True)
class _Matrix(_Likert):
    def answer_keys(self, question):
        return [row.id for row in question.rows]

    def columns(self, question):
        return [(row.id, row.id) for row in question.rows]

    def stored_key(self, question, option):
        return option

    def label(self, instrument, question, option, lang):
        row = next(r for r in question.rows if r.id == option)
        text = f"{instrument.text(question.text, lang)} - {instrument.text(row.text, lang)}"
        return text + (" (reverse-keyed)" if row.reverse else "")

    def reverse(self, question, option):
        return bool(next(row.reverse for row in question.rows if row.id == option))


@dataclass(frozen=True)
class _Rating(_Item):
    def check(self, instrument, question, value, msg):
        number = _number(value)
        if number is None:
            return False, msg["number"]
        if not number.is_integer():
            return False, msg["integer"]
        if number < question.min:
            return False, msg["min"].format(min=question.min)
        if number > question.max:
            return False, msg["max"].format(max=question.max)
        return True, int(number)

    def value_labels(self, instrument, question, lang):
        labels = {}
        if question.low_label:
            labels[float(question.min)] = instrument.text(question.low_label, lang)
        if question.high_label:
            labels[float(question.max)] = instrument.text(question.high_label, lang)
        return labels

    def values_text(self, instrument, question, lang):
        ends = "; ".join(f"{_num(v)} = {t}" for v, t in self.value_labels(instrument, question, lang).items())
        return f"{question.min} to {question.max}" + (f" ({ends})" if ends else "")


@dataclass(frozen=True)
class _Number(_Item):
    measure: str = "scale"

    def check(self, instrument, question, value, msg):
        number = _number(value)
        if number is None:
            return False, msg["number"]
        if question.integer and not number.is_integer():
            return False, msg["integer"]
        if question.min is not None and number < question.min:
            return False, msg["min"].format(min=_fmt(question.min))
        if question.max is not None and number > question.max:
            return False, msg["max"].format(max=_fmt(question.max))
        return True, int(number) if question.integer else _whole(number)

    def values_text(self, instrument, question, lang):
        low = "" if question.min is None else _num(question.min)
        high = "" if question.max is None else _num(question.max)
        return f"{low} to {high}" + (" (whole numbers)" if question.integer else "")


# --------------------------------------------------------------------------- choices
@dataclass(frozen=True)
class _Choice(QuestionType):
    demographic: bool = True

    def check(self, instrument, question, value, msg):
        if isinstance(value, str) and len(value) <= MAX_CODE:
            for option in question.options:
                if option.value == value:
                    return True, value
        return False, msg["option"]

    def value_labels(self, instrument, question, lang):
        return {o.value: instrument.text(o.label, lang) for o in question.options}


@dataclass(frozen=True)
class _PerOption(QuestionType):
    """Types with one column per option (``qid__value``)."""

    def columns(self, question):
        return [(f"{question.id}__{o.value}", o.value) for o in question.options]

    def label(self, instrument, question, option, lang):
        chosen = next(o for o in question.options if o.value == option)
        return f"{instrument.text(question.text, lang)} - {instrument.text(chosen.label, lang)}"


@dataclass(frozen=True)
class _Multi(_PerOption):
    def decode(self, question, option, stored):
        chosen = stored.dropna().explode()
        hit = (chosen == option).groupby(level=0).any()
        return hit.astype(float).reindex(stored.index)

    def encode(self, question, row):
        cells = {o.value: row.get(f"{question.id}__{o.value}") for o in question.options}
        chosen = [value for value, cell in cells.items() if not _missing(cell) and float(cell) == 1]
        return {question.id: chosen} if chosen else {}

    def check(self, instrument, question, value, msg):
        chosen = _values_list(value)
        if chosen is None:
            return False, msg["list"]
        known = [o.value for o in question.options]
        if any(v not in known for v in chosen):
            return False, msg["options"]
        if len(set(chosen)) != len(chosen):
            return False, msg["duplicate"]
        if len(chosen) < max(question.min_selected, 1 if question.required else 0):
            return False, msg["min_selected"].format(n=max(question.min_selected, 1))
        if question.max_selected is not None and len(chosen) > question.max_selected:
            return False, msg["max_selected"].format(n=question.max_selected)
        return True, [v for v in known if v in chosen]

    def value_labels(self, instrument, question, lang):
        return {0.0: "not chosen", 1.0: "chosen"}


@dataclass(frozen=True)
class _Ranking(_PerOption):
    measure: str = "ordinal"

    def decode(self, question, option, stored):
        ranked = stored.dropna().explode()
        rank = (ranked.groupby(level=0).cumcount() + 1)[ranked == option]
        return rank.groupby(level=0).first().astype(float).reindex(stored.index)

    def encode(self, question, row):
        ranks = [(float(row[f"{question.id}__{o.value}"]), o.value) for o in question.options
                 if not _missing(row.get(f"{question.id}__{o.value}"))]
        return {question.id: [o for _, o in sorted(ranks)]} if ranks else {}

    def check(self, instrument, question, value, msg):
        order = _values_list(value)
        known = [o.value for o in question.options]
        if order is None or sorted(order) != sorted(known):
            return False, msg["ranking"]
        return True, order

    def values_text(self, instrument, question, lang):
        return f"rank 1 (first) to {len(question.options)}"


# --------------------------------------------------------------------------- text, date, unit
@dataclass(frozen=True)
class _Text(QuestionType):
    free_text: bool = True

    def prepare(self, question, value):
        if isinstance(value, str) and len(value) <= 4 * question.max_length:  # longer: refused by check
            return clean_text(value, multiline=question.long)
        return value

    def check(self, instrument, question, value, msg):
        if not isinstance(value, str):
            return False, msg["text"]
        if len(value) > question.max_length:
            return False, msg["too_long"].format(n=question.max_length, k=len(value))
        return True, value

    def values_text(self, instrument, question, lang):
        return f"text, up to {question.max_length} characters"


@dataclass(frozen=True)
class _Date(QuestionType):
    identifying: bool = True

    def check(self, instrument, question, value, msg):
        if isinstance(value, dt.datetime):
            day = value.date()
        elif isinstance(value, dt.date):
            day = value
        elif isinstance(value, str) and len(value) <= 10 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                return False, msg["date"]
        else:
            return False, msg["date"]
        if question.min is not None and day < question.min:
            return False, msg["date_min"].format(d=question.min.isoformat())
        if question.max is not None and day > question.max:
            return False, msg["date_max"].format(d=question.max.isoformat())
        return True, day.isoformat()

    def values_text(self, instrument, question, lang):
        return f"YYYY-MM-DD{f' from {question.min}' if question.min else ''}" \
               f"{f' to {question.max}' if question.max else ''}"


@dataclass(frozen=True)
class _Unit(QuestionType):
    def columns(self, question):
        return []  # the frame's ``unit`` column carries it

    def check(self, instrument, question, value, msg):
        if not isinstance(value, str) or len(value) > MAX_CODE:
            return False, msg["unit"]
        if instrument.units:
            return (True, value) if any(u.id == value for u in instrument.units) else (False, msg["unit"])
        return (True, value) if UNIT_ID.fullmatch(value) else (False, msg["unit"])


#: Question type name -> its definition.
REGISTRY: Mapping[str, QuestionType] = {t.name: t for t in (
    _Likert("likert"), _Matrix("matrix"), _Rating("rating"), _Number("number"),
    _Choice("single_choice"), _Choice("dropdown"), _Multi("multi_choice"), _Ranking("ranking"),
    _Text("text"), _Date("date"), _Unit("unit"),
)}


def kind_of(question: Any) -> QuestionType:
    """The definition of a question's type."""
    return REGISTRY[question.type]


def frame_columns(instrument: Any) -> list[tuple[str, Any, str | None]]:
    """The answer columns of the wide frame: ``(column, question, option or row id or None)``.

    Matrix rows and likert/rating/number questions give one numeric column each
    (``row``/question id); multi_choice and ranking one column per option
    (``qid__value``); single_choice, dropdown, text and date one text column; the unit
    question none (the ``unit`` column carries it).
    """
    return [(column, q, option) for q in instrument.questions for column, option in kind_of(q).columns(q)]
