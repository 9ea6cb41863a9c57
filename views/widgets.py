"""One Streamlit widget (or a grid of them) per question type.

Each renderer draws a question with a visible label and a stable key
(``q:<campaign>:<question id>``, matrix rows ``q:<campaign>:<question id>:<row id>``)
and returns the page answers it holds, in the stored answer format (see
``surveys.answers``): numbers for likert/rating/number/matrix rows, the option value
for single choice/dropdown/unit, lists for multi choice and ranking, ``YYYY-MM-DD`` for
dates. Widgets show option *labels* but hold option *values*, so switching language
keeps every answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from surveys.form import answer_keys, ui_text
from surveys.instrument import Instrument, Question


def widget_key(campaign: str, key: str) -> str:
    """The session-state key of the widget that holds answer ``key`` in ``campaign``."""
    return f"q:{campaign}:{key}"


def _to_widget(question: Question, answer: Any) -> Any:
    return None if answer is None else WIDGETS[question.type].to_widget(question, answer)


def _from_widget(question: Question, value: Any) -> Any:
    return None if value is None else WIDGETS[question.type].from_widget(question, value)


def _same(question: Question, value: Any) -> Any:
    return value


def _date_in(question: Question, answer: Any) -> Any:
    return dt.date.fromisoformat(str(answer))


def _date_out(question: Question, value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _as_list(question: Question, value: Any) -> Any:
    return list(value)


def _number_out(question: Question, value: Any) -> Any:
    return int(value) if getattr(question, "integer", False) and float(value).is_integer() else value


def _text_out(question: Question, value: Any) -> Any:
    return str(value).strip() or None


def held_answers(question: Question, *, campaign: str) -> dict[str, Any]:
    """The answers a question's widgets hold right now (before they are drawn in this run).

    Lets the page evaluate ``show_if`` and re-check messages against what the respondent
    has just changed, not what was stored at the last Next.
    """
    held: dict[str, Any] = {}
    for answer_key in answer_keys(question):
        key = widget_key(campaign, answer_key if answer_key == question.id else f"{question.id}:{answer_key}")
        if key in st.session_state:
            held[answer_key] = _from_widget(question, st.session_state[key])
    return held


def _seed(key: str, question: Question, answer: Any) -> None:
    """Put a kept answer into a widget that is not on screen yet (after Back or a reload)."""
    if key not in st.session_state and answer is not None:
        st.session_state[key] = _to_widget(question, answer)


def render_question(
    instrument: Instrument,
    question: Question,
    *,
    campaign: str,
    language: str,
    answers: Mapping[str, Any],
    problems: Mapping[str, str],
) -> dict[str, Any]:
    """Draw one question and return its current answers keyed by answer key."""
    label = instrument.text(question.text, language) + (" *" if question.required else "")
    help_text = instrument.text(question.help, language) if question.help is not None else None
    widget = WIDGETS[question.type]
    if widget.composite:
        return widget.draw(instrument, question, campaign, language, answers, problems, label, help_text)
    key = widget_key(campaign, question.id)
    _seed(key, question, answers.get(question.id))
    value = widget.draw(instrument, question, key, label, help_text, language)
    if question.id in problems:
        st.error(problems[question.id], icon=":material/error:")
    return {question.id: _from_widget(question, value)}


def _options(instrument: Instrument, question: Question, language: str) -> tuple[list[Any], Callable[[Any], str]]:
    labels = {o.value: instrument.text(o.label, language) for o in question.options}
    return list(labels), lambda v: labels.get(v, str(v))


def _scale(instrument: Instrument, scale_id: str, language: str) -> tuple[list[Any], Callable[[Any], str]]:
    scale = instrument.scales[scale_id]
    labels = {p.value: instrument.text(p.label, language) for p in scale.points}
    return list(labels), lambda v: labels.get(v, str(v))


def _likert(instrument, question, key, label, help_text, language):
    options, fmt = _scale(instrument, question.scale, language)
    return st.radio(label, options, format_func=fmt, index=None, horizontal=True, key=key, help=help_text)


def _rating(instrument, question, key, label, help_text, language):
    low, high = int(question.min), int(question.max)
    ends = [
        f"{low} = {instrument.text(question.low_label, language)}" if question.low_label is not None else "",
        f"{high} = {instrument.text(question.high_label, language)}" if question.high_label is not None else "",
    ]
    caption = " · ".join(e for e in ends if e)
    value = st.radio(label, list(range(low, high + 1)), index=None, horizontal=True, key=key, help=help_text)
    if caption:
        st.caption(caption)
    return value


def _single(instrument, question, key, label, help_text, language):
    options, fmt = _options(instrument, question, language)
    return st.radio(label, options, format_func=fmt, index=None, key=key, help=help_text)


def _dropdown(instrument, question, key, label, help_text, language):
    options, fmt = _options(instrument, question, language)
    return st.selectbox(
        label, options, format_func=fmt, index=None, key=key, help=help_text,
        placeholder=ui_text("choose", language),
    )


def _multi(instrument, question, key, label, help_text, language):
    options, fmt = _options(instrument, question, language)
    return st.multiselect(
        label, options, format_func=fmt, key=key, help=help_text, placeholder=ui_text("choose", language),
        max_selections=question.max_selected,
    )


def _ranking(instrument, question, key, label, help_text, language):
    options, fmt = _options(instrument, question, language)
    chosen = st.multiselect(
        label, options, format_func=fmt, key=key, help=help_text, placeholder=ui_text("choose", language),
    )
    st.caption(ui_text("rank_help", language))
    if chosen:
        st.markdown("\n".join(f"{i}. {fmt(v)}" for i, v in enumerate(chosen, start=1)))
    return chosen


def _number(instrument, question, key, label, help_text, language):
    integer = bool(getattr(question, "integer", False))
    kwargs: dict[str, Any] = {"step": 1 if integer else None}
    if integer:
        kwargs["format"] = "%d"
    if question.min is not None:
        kwargs["min_value"] = int(question.min) if integer else float(question.min)
    if question.max is not None:
        kwargs["max_value"] = int(question.max) if integer else float(question.max)
    if not integer:
        kwargs.pop("step")
    return st.number_input(label, value=None, key=key, help=help_text, **kwargs)


def _text(instrument, question, key, label, help_text, language):
    widget = st.text_area if question.long else st.text_input
    return widget(label, key=key, help=help_text, max_chars=question.max_length)


def _date(instrument, question, key, label, help_text, language):
    return st.date_input(
        label, value=None, min_value=question.min, max_value=question.max, key=key, help=help_text,
        format="YYYY-MM-DD",
    )


def _unit(instrument, question, key, label, help_text, language):
    labels = {u.id: instrument.text(u.label, language) for u in instrument.units}
    return st.selectbox(
        label, list(labels), format_func=lambda v: labels.get(v, v), index=None, key=key, help=help_text,
        placeholder=ui_text("choose", language),
    )


def _matrix(instrument, question, campaign, language, answers, problems, label, help_text):
    options, fmt = _scale(instrument, question.scale, language)
    st.markdown(f"**{label}**", help=help_text)
    values: dict[str, Any] = {}
    with st.container(border=True):
        for row in question.rows:
            key = widget_key(campaign, f"{question.id}:{row.id}")
            _seed(key, question, answers.get(row.id))
            values[row.id] = st.radio(
                instrument.text(row.text, language), options, format_func=fmt, index=None, horizontal=True, key=key
            )
            if row.id in problems:
                st.error(problems[row.id], icon=":material/error:")
    if question.id in problems:
        st.error(problems[question.id], icon=":material/error:")
    return {k: values.get(k) for k in answer_keys(question)}


@dataclass(frozen=True)
class Widget:
    """How one question type is drawn and how its widget's value maps to the stored answer.

    ``draw(instrument, question, key, label, help_text, language) -> value``; a
    ``composite`` widget (one per answer key, the matrix) is drawn with
    ``draw(instrument, question, campaign, language, answers, problems, label, help_text)``
    and returns its answers by key.
    """

    draw: Callable[..., Any]
    to_widget: Callable[[Question, Any], Any] = _same
    from_widget: Callable[[Question, Any], Any] = _same
    composite: bool = False


#: Question type -> its widget; every type of :data:`surveys.question_types.REGISTRY`
#: has one (a test checks it).
WIDGETS: dict[str, Widget] = {
    "likert": Widget(_likert),
    "matrix": Widget(_matrix, composite=True),
    "rating": Widget(_rating),
    "single_choice": Widget(_single),
    "dropdown": Widget(_dropdown),
    "multi_choice": Widget(_multi, _as_list, _as_list),
    "ranking": Widget(_ranking, _as_list, _as_list),
    "number": Widget(_number, _same, _number_out),
    "text": Widget(_text, _same, _text_out),
    "date": Widget(_date, _date_in, _date_out),
    "unit": Widget(_unit),
}
