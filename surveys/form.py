"""The respondent's way through an instrument, page by page, without Streamlit.

A :class:`Form` binds one instrument to one respondent (a seed key: the invitation's
token hash, or a random key for an open link) and moves a :class:`FormState` through
the steps

``consent`` (only when the instrument asks for consent) -> the instrument's pages that
have at least one visible question -> ``thanks``.

Everything here is a pure function of the instrument, the seed key and the state, so
the state can be stored as JSON (partial progress) and resumed by any app process.

- **Visible questions** of a page: those whose ``show_if`` holds for the answers so far
  (questions without ``show_if`` always show). An invited respondent's unit comes from the
  invitation: unit questions do not show and are answered with it (an open link shows
  them, also those with ``source: invitation``).
- **Order**: pages with ``randomize: true`` show their questions in an order that is
  random per respondent but stable: the generator is seeded with
  ``sha256(seed_key + ":" + page_id)``, so the respondent sees the same order after a
  reload, on another server and in any language.
- **Next** keeps the page's answers, drops answers to questions hidden by ``show_if``,
  checks the page with :func:`surveys.answers.validate_page` and moves on only when it
  has no problems; on the last page it asks the caller to submit.
- **Back** keeps the page's answers as they are (also incomplete ones) and moves to the
  previous step.
- **Progress** is the fraction of steps done: ``index / number_of_steps`` of the current
  step, 1 on the thank-you step.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from surveys.answers import validate_page
from surveys.errors import TandemError
from surveys.instrument import Instrument, Page, Question
from surveys.question_types import kind_of

CONSENT = "consent"
THANKS = "thanks"


class FormError(TandemError):
    """A form state that does not fit its instrument (a stored step that no longer exists)."""


@dataclass(frozen=True)
class FormState:
    """Where a respondent is and what they answered so far.

    Attributes
    ----------
    step
        ``"consent"``, a page id of the instrument, or ``"thanks"``.
    answers
        Answers keyed by question id (matrix: by row id), in the stored answer format.
    language
        The language the respondent reads the instrument in.
    consented
        Whether the respondent agreed to the consent text.
    """

    step: str
    answers: Mapping[str, Any] = field(default_factory=dict)
    language: str = ""
    consented: bool = False

    @property
    def finished(self) -> bool:
        """Whether the response has been submitted (the thank-you step)."""
        return self.step == THANKS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored as partial progress."""
        return {
            "step": self.step,
            "answers": dict(self.answers),
            "language": self.language,
            "consented": self.consented,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormState:
        """The state stored by :meth:`to_dict`."""
        return cls(
            step=str(data["step"]),
            answers=dict(data.get("answers") or {}),
            language=str(data.get("language") or ""),
            consented=bool(data.get("consented")),
        )


@dataclass(frozen=True)
class Move:
    """The result of :meth:`Form.next`.

    Attributes
    ----------
    state
        The new state (unchanged step when there are problems).
    problems
        Messages keyed by question id (matrix: by row id or question id) to show at the
        question; empty when the page is complete.
    submit
        ``True`` when the last page was completed: the caller submits ``state.answers``
        and then calls :meth:`Form.finish`.
    """

    state: FormState
    problems: Mapping[str, str] = field(default_factory=dict)
    submit: bool = False


def seed_for(key: str, page_id: str) -> int:
    """The seed of one respondent's question order on one page: ``sha256(key:page_id)``."""
    return int.from_bytes(hashlib.sha256(f"{key}:{page_id}".encode()).digest()[:8], "big")


def resolve_language(instrument: Instrument, requested: str | None) -> str:
    """The requested language when the instrument has it, else its default language.

    The comparison ignores case and a region suffix (``"DE-ch"`` -> ``"de"``).
    """
    if requested:
        wanted = str(requested).strip().lower()
        for lang in instrument.languages:
            if lang.lower() == wanted:
                return lang
        base = wanted.split("-")[0].split("_")[0]
        for lang in instrument.languages:
            if lang.lower() == base:
                return lang
    return instrument.default_language


class Form:
    """One respondent's way through one instrument.

    Parameters
    ----------
    instrument
        The campaign's instrument.
    seed_key
        A stable per-respondent key (token hash, or a random session key for open links);
        seeds the order of randomized pages.
    invitation_unit
        The invited respondent's unit: the answer of the unit question, which then does
        not show. ``None`` for an open link.
    """

    def __init__(self, instrument: Instrument, *, seed_key: str, invitation_unit: str | None = None) -> None:
        self.instrument = instrument
        self.seed_key = seed_key
        self.invitation_unit = invitation_unit

    # -- state ------------------------------------------------------------------------
    def start(self, *, language: str | None = None) -> FormState:
        """The first state: consent when asked for, else the first page with visible questions."""
        answers: dict[str, Any] = {}
        if self.invitation_unit is not None:
            answers[self.instrument.unit_question] = self.invitation_unit
        state = FormState(step="", answers=answers, language=resolve_language(self.instrument, language))
        if self.instrument.consent is not None:
            return replace(state, step=CONSENT)
        return replace(state, step=self.steps(answers)[0])

    def restore(self, data: Mapping[str, Any]) -> FormState:
        """A stored state, checked against the instrument; a vanished page restarts the form."""
        state = FormState.from_dict(data)
        if state.step not in (CONSENT, THANKS) and state.step not in {p.id for p in self.instrument.pages}:
            raise FormError(
                f"the saved progress points to page '{state.step}', which the instrument does not have",
                where=f"instrument '{self.instrument.id}'",
                fix="Start the survey again.",
            )
        return replace(state, language=resolve_language(self.instrument, state.language))

    def with_language(self, state: FormState, language: str | None) -> FormState:
        """The same state in another language (answers are language-independent)."""
        return replace(state, language=resolve_language(self.instrument, language))

    # -- pages ------------------------------------------------------------------------
    def page(self, page_id: str) -> Page:
        """The instrument page with this id."""
        for page in self.instrument.pages:
            if page.id == page_id:
                return page
        raise FormError(f"no page '{page_id}'", where=f"instrument '{self.instrument.id}'")

    def is_shown(self, question: Question, answers: Mapping[str, Any]) -> bool:
        """Whether a question is shown for these answers (its ``show_if`` holds)."""
        if question.id == self.instrument.unit_question and self.invitation_unit is not None:
            return False  # the invitation says where the respondent belongs (and the server keeps it)
        return question.show_if is None or bool(question.show_if.evaluate(answers))

    def visible_questions(self, page: Page | str, answers: Mapping[str, Any]) -> tuple[Question, ...]:
        """The questions of a page to show for these answers, in this respondent's order."""
        page = self.page(page) if isinstance(page, str) else page
        questions = [q for q in page.questions if self.is_shown(q, answers)]
        if page.randomize:
            random.Random(seed_for(self.seed_key, page.id)).shuffle(questions)
        return tuple(questions)

    def steps(self, answers: Mapping[str, Any]) -> tuple[str, ...]:
        """The page ids with at least one visible question for these answers, in order."""
        steps = tuple(p.id for p in self.instrument.pages if self.visible_questions(p, answers))
        if not steps:
            raise FormError(
                "no page has a question to show",
                where=f"instrument '{self.instrument.id}'",
                fix="Check the show_if conditions of the instrument.",
            )
        return steps

    def progress(self, state: FormState) -> float:
        """Fraction of the way done, in [0, 1]: the current step's index over the number of steps."""
        if state.step == THANKS:
            return 1.0
        steps = ((CONSENT,) if self.instrument.consent is not None else ()) + self.steps(state.answers)
        index = steps.index(state.step) if state.step in steps else 0
        return index / len(steps)

    def page_position(self, state: FormState) -> tuple[int, int] | None:
        """``(x, y)`` for "page x of y": the current page among the pages that show for the
        answers so far (consent and the thank-you step are no page: ``None``)."""
        if state.step in (CONSENT, THANKS):
            return None
        steps = self.steps(state.answers)
        if state.step not in steps:
            return None
        return steps.index(state.step) + 1, len(steps)

    def merge(self, state: FormState, page_answers: Mapping[str, Any]) -> dict[str, Any]:
        """All answers with this page's answers merged in, hidden questions' answers dropped.

        ``None`` in ``page_answers`` removes an answer (the respondent cleared it).
        """
        answers = dict(state.answers)
        for key, value in page_answers.items():
            if value is None or value == [] or value == "":
                answers.pop(key, None)
            else:
                answers[key] = value
        return self.drop_hidden(answers)

    def drop_hidden(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """The answers without those to questions hidden by ``show_if`` (repeated to a fixed point)."""
        kept = dict(answers)
        while True:
            hidden = [
                q
                for q in self.instrument.questions
                if q.show_if is not None and not q.show_if.evaluate(kept) and any(k in kept for k in answer_keys(q))
            ]
            if not hidden:
                return kept
            for q in hidden:
                for key in answer_keys(q):
                    kept.pop(key, None)

    # -- moves ------------------------------------------------------------------------
    def consent(self, state: FormState, *, agreed: bool) -> Move:
        """Leave the consent step: agreeing moves to the first page, declining is a problem."""
        if not agreed:
            return Move(state, {CONSENT: ui_text("consent_required", state.language)})
        return Move(replace(state, consented=True, step=self.steps(state.answers)[0]))

    def next(self, state: FormState, page_answers: Mapping[str, Any]) -> Move:
        """Keep the page's answers, check them, and move to the next page (or ask to submit)."""
        if state.step == CONSENT:
            return self.consent(state, agreed=bool(page_answers.get(CONSENT)))
        answers = self.merge(state, page_answers)
        shown = self.visible_questions(state.step, answers)
        problems = validate_page(self.instrument, shown, answers, language=state.language)
        current = replace(state, answers=answers)
        if problems:
            return Move(current, dict(problems))
        steps = self.steps(answers)
        later = steps[steps.index(state.step) + 1 :] if state.step in steps else ()
        if not later:
            return Move(current, submit=True)
        return Move(replace(current, step=later[0]))

    def open_problems(
        self, step: str, answers: Mapping[str, Any], problems: Mapping[str, str], *, language: str | None = None
    ) -> dict[str, str]:
        """The earlier ``problems`` of a page that the current ``answers`` still have.

        A message shown at a question disappears as soon as the respondent fixes the
        answer, without another click on Next; the message text is the current one.
        """
        if not problems or step in (CONSENT, THANKS):
            return dict(problems) if step == CONSENT else {}
        current = validate_page(self.instrument, self.visible_questions(step, answers), answers, language=language)
        return {key: message for key, message in current.items() if key in problems}

    def back(self, state: FormState, page_answers: Mapping[str, Any]) -> FormState:
        """Keep the page's answers unchecked and move to the previous step."""
        answers = self.merge(state, page_answers)
        steps = ((CONSENT,) if self.instrument.consent is not None else ()) + self.steps(answers)
        index = steps.index(state.step) if state.step in steps else 0
        return replace(state, answers=answers, step=steps[max(index - 1, 0)])

    def finish(self, state: FormState) -> FormState:
        """The thank-you state after a successful submission."""
        return replace(state, step=THANKS)


def answer_keys(question: Question) -> tuple[str, ...]:
    """The answer keys of a question: its row ids for a matrix, else its own id
    (:meth:`surveys.question_types.QuestionType.answer_keys`)."""
    return tuple(kind_of(question).answer_keys(question))


#: The respondent interface's own words, per language; English is the fallback.
UI_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "next": "Next",
        "back": "Back",
        "submit": "Submit",
        "language": "Language",
        "progress": "Progress",
        "page_of": "Page {page} of {pages}",
        "welcome_back": "Welcome back! Your earlier answers were kept: you can continue where you stopped.",
        "consent_agree": "I agree to take part",
        "consent_required": "Please agree to take part to continue, or close this page.",
        "thanks": "Thank you! Your answers have been saved.",
        "thanks_detail": "You can close this page now.",
        "fix_problems": "Some answers need your attention (see the messages at the questions).",
        "rank_help": "Pick the options in order: the first one you pick is rank 1.",
        "choose": "Choose an option",
        "unknown_campaign": "This survey link is not valid. Please check the link you were sent.",
        "not_open": "This survey is not open yet. Please come back later.",
        "closed": "This survey is closed. Thank you for your interest.",
        "token_used": "This invitation has already been used to answer the survey. Thank you!",
        "token_unknown": "This invitation link is not valid. Please check the link you were sent.",
        "token_needed": "This survey is by invitation only. Please use the personal link you were sent.",
        "trouble": ("Something went wrong on our side. Your answers so far are saved; please reload the page "
                    "in a moment."),
    },
    "de": {
        "next": "Weiter",
        "back": "Zurück",
        "submit": "Absenden",
        "language": "Sprache",
        "progress": "Fortschritt",
        "page_of": "Seite {page} von {pages}",
        "welcome_back": ("Willkommen zurück! Ihre bisherigen Antworten sind erhalten: Sie können dort weitermachen, "
                         "wo Sie aufgehört haben."),
        "consent_agree": "Ich bin einverstanden teilzunehmen",
        "consent_required": "Bitte stimmen Sie der Teilnahme zu, um fortzufahren, oder schließen Sie diese Seite.",
        "thanks": "Vielen Dank! Ihre Antworten wurden gespeichert.",
        "thanks_detail": "Sie können diese Seite jetzt schließen.",
        "fix_problems": "Einige Antworten brauchen Ihre Aufmerksamkeit (siehe Hinweise bei den Fragen).",
        "rank_help": "Wählen Sie die Optionen der Reihe nach: die erste Wahl ist Rang 1.",
        "choose": "Bitte wählen",
        "unknown_campaign": "Dieser Umfragelink ist ungültig. Bitte prüfen Sie den Link, den Sie erhalten haben.",
        "not_open": "Diese Umfrage ist noch nicht geöffnet. Bitte kommen Sie später wieder.",
        "closed": "Diese Umfrage ist geschlossen. Vielen Dank für Ihr Interesse.",
        "token_used": "Diese Einladung wurde bereits zum Beantworten der Umfrage verwendet. Vielen Dank!",
        "token_unknown": "Dieser Einladungslink ist ungültig. Bitte prüfen Sie den Link, den Sie erhalten haben.",
        "token_needed": "Diese Umfrage ist nur mit Einladung möglich. Bitte nutzen Sie Ihren persönlichen Link.",
        "trouble": ("Bei uns ist etwas schiefgelaufen. Ihre bisherigen Antworten sind gespeichert; bitte laden "
                    "Sie die Seite gleich neu."),
    },
}


def ui_text(key: str, language: str | None) -> str:
    """One interface string in ``language`` (falls back to English)."""
    table = UI_TEXT.get((language or "en").lower().split("-")[0], UI_TEXT["en"])
    return table.get(key, UI_TEXT["en"][key])
