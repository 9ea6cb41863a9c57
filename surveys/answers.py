"""Server-side validation of a respondent's answers against the instrument.

Nothing reaches the database without passing :func:`validate_answers`; the form calls
:func:`validate_page` for the messages it shows at the questions.

API overview
------------
``validate_answers(instrument, answers, *, language=None, unit=None) -> dict``
    The cleaned answers of a whole response (stored form of the wide-frame contract:
    keyed by question id, matrix rows by row id). Questions hidden by ``show_if`` (their
    conditions evaluated in page order against the cleaned answers) lose their answers;
    keys that belong to no question are dropped. Raises :class:`AnswerError` listing
    every problem.
``validate_page(instrument, questions, answers, *, language=None) -> dict[str, str]``
    Problems of the given (visible) questions only: ``{question or matrix row id: message}``,
    empty when the page is fine.
``AnswerError.problems``
    A tuple of :class:`AnswerProblem` ``(key, message)``; ``AnswerError.as_dict()``.

Rules (one per question type): likert and matrix rows take a value of their scale;
rating an integer in ``min..max``; number a finite number in ``min..max`` (whole when
``integer``); single_choice/dropdown one option value; multi_choice distinct option
values, between ``min_selected`` and ``max_selected``; ranking every option exactly
once (first = rank 1); text a string of at most ``max_length`` characters, cleaned by
:func:`surveys.text.clean_text` before it is checked and stored (C0 and C1 controls,
bidirectional overrides and isolates, zero-width and other invisible format characters
removed; newlines and tabs kept in ``long`` text and turned into spaces in one-line
text; emoji ZWJ sequences and the joiners that Persian and Indic words need kept; NFC;
surrounding space stripped); date ``YYYY-MM-DD`` between ``min`` and ``max``; unit one
of the instrument's units. Every other string answer (option values, unit ids, dates)
must match a value the instrument defines exactly, so no other free string is stored.
An empty answer (``None``, ``""``, ``[]``) counts as not given; ``required`` questions
need one. Messages are in the respondent's language (English and German; English
otherwise) and never repeat more than a few characters of what was sent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from surveys.errors import TandemError
from surveys.text import clean_text

__all__ = ["AnswerError", "AnswerProblem", "validate_answers", "validate_page"]

#: Longest list accepted for multi_choice/ranking answers (hostile input guard).
MAX_LIST = 500
#: Longest text accepted for a unit id, option value or date.
MAX_CODE = 200
#: A unit id when the instrument lists no units (invitations name them).
UNIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")

_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "required": "This question needs an answer.",
        "row_required": "Please answer this row.",
        "number": "Please enter a number.",
        "integer": "Please enter a whole number.",
        "min": "Please enter a number of at least {min}.",
        "max": "Please enter a number of at most {max}.",
        "scale": "Please choose one of the answers offered.",
        "option": "Please choose one of the options offered.",
        "options": "Please choose only among the options offered.",
        "duplicate": "Each option can be chosen only once.",
        "min_selected": "Please choose at least {n}.",
        "max_selected": "Please choose at most {n}.",
        "ranking": "Please put every option in order, each once.",
        "text": "Please enter text.",
        "too_long": "Please shorten your answer to at most {n} characters (now {k}).",
        "date": "Please enter a date (YYYY-MM-DD).",
        "date_min": "Please enter a date on or after {d}.",
        "date_max": "Please enter a date on or before {d}.",
        "unit": "Please choose one of the units offered.",
        "list": "Please choose from the list.",
    },
    "de": {
        "required": "Diese Frage braucht eine Antwort.",
        "row_required": "Bitte beantworten Sie diese Zeile.",
        "number": "Bitte geben Sie eine Zahl ein.",
        "integer": "Bitte geben Sie eine ganze Zahl ein.",
        "min": "Bitte geben Sie eine Zahl von mindestens {min} ein.",
        "max": "Bitte geben Sie eine Zahl von höchstens {max} ein.",
        "scale": "Bitte wählen Sie eine der angebotenen Antworten.",
        "option": "Bitte wählen Sie eine der angebotenen Optionen.",
        "options": "Bitte wählen Sie nur unter den angebotenen Optionen.",
        "duplicate": "Jede Option kann nur einmal gewählt werden.",
        "min_selected": "Bitte wählen Sie mindestens {n}.",
        "max_selected": "Bitte wählen Sie höchstens {n}.",
        "ranking": "Bitte bringen Sie jede Option genau einmal in eine Reihenfolge.",
        "text": "Bitte geben Sie einen Text ein.",
        "too_long": "Bitte kürzen Sie Ihre Antwort auf höchstens {n} Zeichen (jetzt {k}).",
        "date": "Bitte geben Sie ein Datum ein (JJJJ-MM-TT).",
        "date_min": "Bitte geben Sie ein Datum ab dem {d} ein.",
        "date_max": "Bitte geben Sie ein Datum bis zum {d} ein.",
        "unit": "Bitte wählen Sie eine der angebotenen Einheiten.",
        "list": "Bitte wählen Sie aus der Liste.",
    },
}

@dataclass(frozen=True)
class AnswerProblem:
    """One refused answer: ``key`` is the question id (or matrix row id), ``message`` what to do."""

    key: str
    message: str


class AnswerError(TandemError):
    """Answers that do not fit the instrument; ``problems`` says which and why."""

    def __init__(self, problems: Iterable[AnswerProblem], *, where: str = "") -> None:
        self.problems = tuple(problems)
        listing = "; ".join(f"{p.key}: {p.message}" for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"{len(self.problems)} answer(s) refused: {listing}{more}", where=where,
                         fix="Correct the answers named and submit again.")

    def as_dict(self) -> dict[str, str]:
        """``{key: message}`` (the first message per key)."""
        out: dict[str, str] = {}
        for p in self.problems:
            out.setdefault(p.key, p.message)
        return out


def validate_answers(
    instrument: Any,
    answers: Mapping[str, Any],
    *,
    language: str | None = None,
    unit: str | None = None,
    enforce_required: bool = True,
) -> dict[str, Any]:
    """Check a whole response and return its cleaned answers.

    Parameters
    ----------
    instrument
        The campaign's :class:`surveys.instrument.Instrument`.
    answers
        ``{question id (matrix: row id): answer}`` as the form collected them.
    language
        Language of the messages (the respondent's).
    unit
        The invitation's unit: fills the unit question (and overrides an answer to it),
        so an invited respondent is counted where the invitation was issued.
    enforce_required
        ``False`` lets required questions be unanswered (importing data collected
        elsewhere, where item nonresponse happened); every given answer is still checked.

    Returns
    -------
    dict
        Only answers to visible questions, in canonical form (numbers as int/float,
        multi_choice in option order, text cleaned, dates as ``YYYY-MM-DD``).

    Raises
    ------
    AnswerError
        One :class:`AnswerProblem` per refused question or matrix row.
    """
    msg = _messages(language)
    if not isinstance(answers, Mapping):
        raise AnswerError([AnswerProblem("", "answers must be a mapping of question ids to answers")])
    given = dict(answers)
    if unit is not None:
        given[instrument.unit_question] = unit
    cleaned: dict[str, Any] = {}
    problems: list[AnswerProblem] = []
    for question in instrument.questions:
        if question.show_if is not None and not question.show_if.evaluate(cleaned):
            continue
        values, found = _check(instrument, question, given, msg, enforce_required=enforce_required)
        cleaned.update(values)
        problems.extend(found)
    if problems:
        raise AnswerError(problems, where=f"instrument '{instrument.id}'")
    return cleaned


def validate_page(
    instrument: Any,
    questions: Iterable[Any],
    answers: Mapping[str, Any],
    *,
    language: str | None = None,
) -> dict[str, str]:
    """Problems of the given questions (those visible on a page): ``{key: message}``.

    The caller decides visibility (``show_if``); every question passed is checked with the
    rules of :func:`validate_answers`.
    """
    msg = _messages(language)
    given = dict(answers) if isinstance(answers, Mapping) else {}
    out: dict[str, str] = {}
    for question in questions:
        for problem in _check(instrument, question, given, msg)[1]:
            out.setdefault(problem.key, problem.message)
    return out


# --------------------------------------------------------------------------- rules


def _messages(language: str | None) -> dict[str, str]:
    return _MESSAGES.get((language or "en").split("-")[0].lower(), _MESSAGES["en"])


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | tuple) and len(value) == 0)


def _check(instrument: Any, question: Any, given: Mapping[str, Any], msg: dict[str, str], *,
           enforce_required: bool = True) -> tuple[dict[str, Any], list[AnswerProblem]]:
    """Cleaned answers and problems of one question."""
    qid, qtype = question.id, question.type
    required = question.required and enforce_required
    if qtype == "matrix":
        scale = instrument.scales[question.scale]
        values: dict[str, Any] = {}
        problems: list[AnswerProblem] = []
        for row in question.rows:
            value = given.get(row.id)
            if _empty(value):
                if required:
                    problems.append(AnswerProblem(row.id, msg["row_required"]))
                continue
            ok, result = _scale_value(value, scale.values)
            if ok:
                values[row.id] = result
            else:
                problems.append(AnswerProblem(row.id, msg["scale"]))
        return values, problems
    value = given.get(qid)
    if qtype == "text" and isinstance(value, str):
        if len(value) > 4 * question.max_length:  # refused before the work of cleaning it
            return {}, [AnswerProblem(qid, msg["too_long"].format(n=question.max_length, k=len(value)))]
        value = clean_text(value, multiline=question.long)
    if _empty(value):
        return {}, ([AnswerProblem(qid, msg["required"])] if required else [])
    ok, result = _RULES[qtype](instrument, question, value, msg)
    if ok:
        return {qid: result}, []
    return {}, [AnswerProblem(qid, result)]


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


def _as_int_if_whole(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _scale_value(value: Any, allowed: tuple[int | float, ...]) -> tuple[bool, Any]:
    number = _number(value)
    if number is None:
        return False, None
    for point in allowed:
        if math.isclose(float(point), number, rel_tol=0, abs_tol=1e-9):
            return True, point
    return False, None


def _likert(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
    ok, result = _scale_value(value, instrument.scales[question.scale].values)
    return (True, result) if ok else (False, msg["scale"])


def _rating(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
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


def _numeric(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
    number = _number(value)
    if number is None:
        return False, msg["number"]
    if question.integer and not number.is_integer():
        return False, msg["integer"]
    if question.min is not None and number < question.min:
        return False, msg["min"].format(min=_fmt(question.min))
    if question.max is not None and number > question.max:
        return False, msg["max"].format(max=_fmt(question.max))
    return True, int(number) if question.integer else _as_int_if_whole(number)


def _fmt(number: float) -> str:
    return str(_as_int_if_whole(float(number)))


def _choice(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
    if isinstance(value, str) and len(value) <= MAX_CODE:
        for option in question.options:
            if option.value == value:
                return True, value
    return False, msg["option"]


def _values_list(value: Any) -> list[str] | None:
    if not isinstance(value, list | tuple) or len(value) > MAX_LIST:
        return None
    if not all(isinstance(v, str) and len(v) <= MAX_CODE for v in value):
        return None
    return list(value)


def _multi(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
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


def _ranking(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
    order = _values_list(value)
    known = [o.value for o in question.options]
    if order is None or sorted(order) != sorted(known):
        return False, msg["ranking"]
    return True, order


def _text(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
    if not isinstance(value, str):
        return False, msg["text"]
    if len(value) > question.max_length:
        return False, msg["too_long"].format(n=question.max_length, k=len(value))
    return True, value


def _date(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
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


def _unit(instrument: Any, question: Any, value: Any, msg: dict[str, str]) -> tuple[bool, Any]:
    if not isinstance(value, str) or len(value) > MAX_CODE:
        return False, msg["unit"]
    if instrument.units:
        return (True, value) if any(u.id == value for u in instrument.units) else (False, msg["unit"])
    return (True, value) if UNIT_ID.fullmatch(value) else (False, msg["unit"])


_RULES = {
    "likert": _likert,
    "rating": _rating,
    "number": _numeric,
    "single_choice": _choice,
    "dropdown": _choice,
    "multi_choice": _multi,
    "ranking": _ranking,
    "text": _text,
    "date": _date,
    "unit": _unit,
}
