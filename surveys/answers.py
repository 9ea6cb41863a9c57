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

Rules (one per question type, defined in :mod:`surveys.question_types`): likert and
matrix rows take a value of their scale; rating an integer in ``min..max``; number a
finite number in ``min..max`` (whole when ``integer``); single_choice/dropdown one
option value; multi_choice distinct option values, between ``min_selected`` and
``max_selected``; ranking every option exactly once (first = rank 1); text a string of
at most ``max_length`` characters, cleaned by :func:`surveys.text.clean_text` before it
is checked and stored (C0 and C1 controls, bidirectional overrides and isolates, zero-
width and other invisible format characters removed; newlines and tabs kept in ``long``
text and turned into spaces in one-line text; emoji ZWJ sequences and the joiners that
Persian and Indic words need kept; NFC; surrounding space stripped); date ``YYYY-MM-DD``
between ``min`` and ``max``; unit one of the instrument's units. Every other string
answer (option values, unit ids, dates) must match a value the instrument defines
exactly, so no other free string is stored. An empty answer (``None``, ``""``, ``[]``)
counts as not given; ``required`` questions need one. Messages are in the respondent's
language (English and German; English otherwise) and never repeat more than a few
characters of what was sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from surveys.errors import TandemError
from surveys.question_types import kind_of

__all__ = ["AnswerError", "AnswerProblem", "validate_answers", "validate_page"]


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
    """Cleaned answers and problems of one question (each answer key checked by the type's
    :meth:`surveys.question_types.QuestionType.check`)."""
    kind = kind_of(question)
    required = question.required and enforce_required
    keys = kind.answer_keys(question)
    several = len(keys) > 1 or keys != [question.id]
    values: dict[str, Any] = {}
    problems: list[AnswerProblem] = []
    for key in keys:
        value = kind.prepare(question, given.get(key))
        if _empty(value):
            if required:
                problems.append(AnswerProblem(key, msg["row_required" if several else "required"]))
            continue
        ok, result = kind.check(instrument, question, value, msg)
        if ok:
            values[key] = result
        else:
            problems.append(AnswerProblem(key, result))
    return values, problems

