"""The Instrument: a survey as typed, immutable objects (the pydantic models and the frozen result).

The models (``extra="forbid"``, questions as a union discriminated on ``type``) and the
:class:`Instrument` they build live here; turning YAML text into one, with every
problem reported at once, is :mod:`surveys.loader` (``load_instrument``,
``parse_instrument``), which runs the rules of :mod:`surveys.validation` on these models.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from surveys.errors import did_you_mean
from surveys.expressions import Condition, ExpressionError, parse_condition
from surveys.problems import InstrumentError, Problem

__all__ = [
    "QUESTION_TYPES",
    "Condition",
    "Construct",
    "DateQuestion",
    "DropdownQuestion",
    "Instrument",
    "InstrumentError",
    "Item",
    "LangText",
    "LikertQuestion",
    "MatrixQuestion",
    "MatrixRow",
    "Metrics",
    "MultiChoiceQuestion",
    "NumberQuestion",
    "Option",
    "Page",
    "Problem",
    "Question",
    "RankingQuestion",
    "RatingQuestion",
    "Scale",
    "ScalePoint",
    "SingleChoiceQuestion",
    "TextQuestion",
    "Unit",
    "UnitQuestion",
]

#: Ids of questions, rows, constructs, pages, units, options and scales.
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"


# --------------------------------------------------------------------------- text


class LangText(Mapping[str, str]):
    """Read-only text per language (``{"en": "...", "de": "..."}``).

    In YAML a text is either a mapping language -> text or a plain string, which is
    read as the instrument's default language.
    """

    __slots__ = ("_texts",)

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = dict(texts)

    def __getitem__(self, language: str) -> str:
        return self._texts[language]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._texts.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"LangText({self._texts!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(cls._validate)

    @classmethod
    def _validate(cls, value: Any, info: ValidationInfo) -> LangText:
        if isinstance(value, LangText):
            return value
        default = (info.context or {}).get("default_language", "en")
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = {default: value}
        if not isinstance(value, Mapping) or not value:
            raise PydanticCustomError("lang_text", "a text must be a string or a mapping language -> text, "
                                      "e.g. {en: 'Hello', de: 'Hallo'}")
        texts: dict[str, str] = {}
        for language, text in value.items():
            if text is None:
                raise PydanticCustomError("lang_text", "'{language}' has no text (if a text contains a comma, put "
                                          "it in quotes: in {en: ..., de: ...} a comma ends the text)",
                                          {"language": str(language)})
            if isinstance(text, bool) or not isinstance(text, str | int | float) or not str(text).strip():
                raise PydanticCustomError("lang_text", "the text for '{language}' must be a non-empty string",
                                          {"language": str(language)})
            texts[str(language)] = str(text).strip() if not isinstance(text, str) else text.strip()
        return cls(texts)


# --------------------------------------------------------------------------- parts


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True)


Id = Annotated[str, Field(pattern=ID_PATTERN)]


class ScalePoint(_Model):
    """One response option of a scale: its numeric ``value`` and its ``label``."""

    value: int | float
    label: LangText


class Scale(_Model):
    """A named response scale shared by likert questions and matrices.

    ``ordered`` scales (the default) run from the lowest to the highest value and
    may be reverse-keyed; unordered ones (e.g. "does not apply" codes) may not.
    """

    id: Id
    points: tuple[ScalePoint, ...] = Field(min_length=2, max_length=21)
    ordered: bool = True

    @functools.cached_property
    def values(self) -> tuple[int | float, ...]:
        """The point values in the order written (computed once: answers are checked against it)."""
        return tuple(p.value for p in self.points)

    @property
    def min(self) -> int | float:
        """The smallest value."""
        return min(self.values)

    @property
    def max(self) -> int | float:
        """The largest value."""
        return max(self.values)


class Option(_Model):
    """A choice of a single_choice, dropdown, multi_choice or ranking question."""

    value: Id
    label: LangText


class Unit(_Model):
    """A unit respondents belong to (store, branch, team): the key linking surveys."""

    id: Id
    label: LangText


class MatrixRow(_Model):
    """One row of a matrix: an item of its own, answered on the matrix's scale."""

    id: Id
    text: LangText
    reverse: bool = False


def _condition(value: Any) -> Condition | None:
    """Parse a ``show_if`` text once, at load time (see :mod:`surveys.expressions`)."""
    if value is None or isinstance(value, Condition):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise PydanticCustomError("show_if_syntax", "show_if must be an expression written as text, "
                                  "e.g. \"visit_type == 'store'\"")
    try:
        return parse_condition(value)
    except ExpressionError as exc:
        raise PydanticCustomError(f"show_if_{exc.kind}", "{reason}",
                                  {"reason": str(exc), "offset": exc.offset}) from None


ShowIf = Annotated[Condition | None, PlainValidator(_condition)]


#: The choices of single_choice, dropdown, multi_choice and ranking questions (at least two).
Options = Annotated[tuple[Option, ...], Field(min_length=2)]


class _Question(_Model):
    id: Id
    text: LangText
    help: LangText | None = None
    required: bool = False
    show_if: ShowIf = None


class LikertQuestion(_Question):
    """An agreement/frequency/satisfaction item answered on a named scale."""

    type: Literal["likert"]
    scale: str
    reverse: bool = False


class RatingQuestion(_Question):
    """A 0-10 style rating (NPS, eNPS); ``min`` and ``max`` lie within 0..10."""

    type: Literal["rating"]
    min: int = Field(default=0, ge=0, le=10)
    max: int = Field(default=10, ge=0, le=10)
    low_label: LangText | None = None
    high_label: LangText | None = None


class SingleChoiceQuestion(_Question):
    """One option out of several, shown as radio buttons."""

    type: Literal["single_choice"]
    options: Options


class DropdownQuestion(_Question):
    """One option out of many, shown as a drop-down list."""

    type: Literal["dropdown"]
    options: Options


class MultiChoiceQuestion(_Question):
    """Any number of options (between ``min_selected`` and ``max_selected``)."""

    type: Literal["multi_choice"]
    options: Options
    min_selected: int = Field(default=0, ge=0)
    max_selected: int | None = Field(default=None, ge=1)


class NumberQuestion(_Question):
    """A number between ``min`` and ``max`` (whole numbers when ``integer``)."""

    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = False


class TextQuestion(_Question):
    """Free text, a single line or (``long``) a text area, at most ``max_length`` characters."""

    type: Literal["text"]
    long: bool = False
    max_length: int = Field(default=1000, ge=1, le=20000)


class MatrixQuestion(_Question):
    """Several likert rows sharing one scale; each row is an item with its own id."""

    type: Literal["matrix"]
    scale: str
    rows: tuple[MatrixRow, ...] = Field(min_length=1)


class RankingQuestion(_Question):
    """Put the options in order (first = rank 1)."""

    type: Literal["ranking"]
    options: Options


class DateQuestion(_Question):
    """A calendar date between ``min`` and ``max``."""

    type: Literal["date"]
    min: dt.date | None = None
    max: dt.date | None = None


class UnitQuestion(_Question):
    """The respondent's unit: chosen from the instrument's ``units`` (``list``), taken from the
    invitation (``invitation``), or chosen from the units the campaign takes from the
    organisation in force (``organisation``: an open link offers them, an invitation brings one)."""

    type: Literal["unit"]
    source: Literal["list", "invitation", "organisation"] = "list"


Question = Annotated[
    LikertQuestion | RatingQuestion | SingleChoiceQuestion | DropdownQuestion | MultiChoiceQuestion
    | NumberQuestion | TextQuestion | MatrixQuestion | RankingQuestion | DateQuestion | UnitQuestion,
    Field(discriminator="type"),
]

#: Question type name -> model class.
QUESTION_TYPES: Mapping[str, type[_Question]] = MappingProxyType({
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (LikertQuestion, RatingQuestion, SingleChoiceQuestion, DropdownQuestion, MultiChoiceQuestion,
                NumberQuestion, TextQuestion, MatrixQuestion, RankingQuestion, DateQuestion, UnitQuestion)
})


class Page(_Model):
    """A page of questions, shown together; ``randomize`` shuffles their order per respondent."""

    id: Id
    title: LangText | None = None
    questions: tuple[Question, ...] = Field(min_length=1)
    randomize: bool = False


class Construct(_Model):
    """A scale score built from items (for reliability, factor models and linkage).

    ``min_answered`` is the fraction of items a respondent must answer for a score;
    ``role`` tags the construct for the linkage analysis.
    """

    id: Id
    label: LangText
    items: tuple[str, ...] = Field(min_length=1)
    scoring: Literal["mean", "sum"] = "mean"
    min_answered: float = Field(default=0.5, gt=0, le=1)
    role: Literal["driver", "outcome", "kpi"] | None = None
    description: LangText | None = None


class Metrics(_Model):
    """Item ids of the standard experience metrics (``None`` when not measured)."""

    nps: str | None = None
    csat: str | None = None
    ces: str | None = None
    enps: str | None = None


class Anonymity(_Model):
    """Privacy settings: results for groups smaller than ``min_group_size`` are never shown,
    and open answers (comments) only from groups of at least ``min_comment_group_size``."""

    min_group_size: int = Field(default=5, ge=3, le=1000)
    min_comment_group_size: int | None = Field(default=None, ge=3, le=1000)

    @model_validator(mode="after")
    def _comments_not_below_results(self) -> Anonymity:
        if self.min_comment_group_size is not None and self.min_comment_group_size < self.min_group_size:
            raise ValueError(f"min_comment_group_size ({self.min_comment_group_size}) is below min_group_size "
                             f"({self.min_group_size}); comments need at least as large a group as numbers")
        return self


@dataclass(frozen=True)
class Item:
    """An analysable numeric answer: a likert question, matrix row, rating or number.

    ``question_id`` is the question it belongs to (the matrix for a row); ``type``
    is that question's type; ``min``/``max`` the possible range (``None`` when open).
    """

    id: str
    text: LangText
    question_id: str
    type: str
    scale: Scale | None
    reverse: bool
    min: float | None
    max: float | None


class Instrument(_Model):
    """A survey instrument (see the module docstring and the README's "Instrument format")."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True,
                              coerce_numbers_to_str=True)

    id: Id
    version: str
    title: LangText
    audience: Literal["employee", "customer"]
    languages: tuple[Annotated[str, Field(pattern=LANGUAGE_PATTERN)], ...] = Field(min_length=1)
    description: LangText | None = None
    consent: LangText | None = None
    anonymity: Anonymity = Anonymity()
    units: tuple[Unit, ...] = ()
    scales: Mapping[str, Scale] = Field(default_factory=dict, validate_default=True)
    pages: tuple[Page, ...] = Field(min_length=1)
    constructs: tuple[Construct, ...] = ()
    metrics: Metrics = Metrics()

    _source: str = PrivateAttr(default="<text>")
    _source_text: str = PrivateAttr(default="")
    _warnings: tuple[Problem, ...] = PrivateAttr(default=())
    _questions: tuple[Any, ...] = PrivateAttr(default=())
    _items: tuple[Item, ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _scale_ids(cls, data: Any) -> Any:
        """Scales are written as a mapping ``id: {points: ...}``; the key becomes the id."""
        if isinstance(data, dict) and isinstance(data.get("scales"), dict):
            data = {**data, "scales": {key: {**value, "id": key} if isinstance(value, dict) else value
                                       for key, value in data["scales"].items()}}
        return data

    @field_validator("scales", mode="after")
    @classmethod
    def _freeze_scales(cls, value: Mapping[str, Scale]) -> Mapping[str, Scale]:
        return MappingProxyType(dict(value))

    def model_post_init(self, context: Any) -> None:
        questions = tuple(q for page in self.pages for q in page.questions)
        self._questions = questions
        self._items = tuple(item for q in questions for item in _items_of(q, self.scales))

    def __hash__(self) -> int:
        return hash((self.id, self.version, self.sha256))

    def __repr__(self) -> str:
        return (f"Instrument(id={self.id!r}, version={self.version!r}, audience={self.audience!r}, "
                f"{len(self._questions)} questions, {len(self._items)} items, {len(self.constructs)} constructs)")

    __str__ = __repr__

    # ----------------------------------------------------------------- derived

    @property
    def default_language(self) -> str:
        """The first language: texts fall back to it."""
        return self.languages[0]

    @property
    def min_group_size(self) -> int:
        """Smallest group whose results may be shown (``anonymity.min_group_size``)."""
        return self.anonymity.min_group_size

    @property
    def min_comment_group_size(self) -> int:
        """Smallest group whose open answers may be shown: ``anonymity.min_comment_group_size``,
        by default the larger of 10 and ``min_group_size``."""
        given = self.anonymity.min_comment_group_size
        return given if given is not None else max(10, self.min_group_size)

    @property
    def questions(self) -> tuple[Any, ...]:
        """All questions, page by page, in the order written."""
        return self._questions

    @property
    def items(self) -> tuple[Item, ...]:
        """All analysable numeric items (likert, matrix rows, rating, number), in order."""
        return self._items

    @property
    def unit_question(self) -> str:
        """Id of the question of type ``unit`` (validation makes sure there is exactly one)."""
        return next(q.id for q in self._questions if q.type == "unit")

    @property
    def source_text(self) -> str:
        """The YAML text the instrument was loaded from."""
        return self._source_text

    @property
    def sha256(self) -> str:
        """SHA-256 of :attr:`source_text` (hex), to tie responses to the exact instrument."""
        return hashlib.sha256(self._source_text.encode("utf-8")).hexdigest()

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems of severity ``warning`` found when loading (the file still loads)."""
        return self._warnings

    def question(self, qid: str) -> Any:
        """The question with id ``qid``.

        Raises
        ------
        InstrumentError
            Rule ``unknown-question`` (with "did you mean") if there is none.
        """
        for q in self._questions:
            if q.id == qid:
                return q
        raise self._missing("question", qid, [q.id for q in self._questions])

    def item(self, iid: str) -> Item:
        """The item with id ``iid`` (a likert/rating/number question or a matrix row)."""
        for item in self._items:
            if item.id == iid:
                return item
        raise self._missing("item", iid, [i.id for i in self._items])

    def construct(self, cid: str) -> Construct:
        """The construct with id ``cid``."""
        for construct in self.constructs:
            if construct.id == cid:
                return construct
        raise self._missing("construct", cid, [c.id for c in self.constructs])

    def text(self, value: Mapping[str, str] | None, lang: str | None = None) -> str:
        """``value`` in ``lang``, falling back to the default language (``""`` for ``None``)."""
        if not value:
            return ""
        if lang and lang in value:
            return value[lang]
        if self.default_language in value:
            return value[self.default_language]
        return next(iter(value.values()))

    def _missing(self, kind: str, name: str, known: list[str]) -> InstrumentError:
        return InstrumentError([Problem(self._source, 0, 0, str(name), f"unknown-{kind}",
                                        f"instrument '{self.id}' has no {kind} '{name}'",
                                        (did_you_mean(name, known).strip() or f"Known: {', '.join(known[:12])}."))])


def _items_of(question: Any, scales: Mapping[str, Scale]) -> tuple[Item, ...]:
    qtype = question.type
    if qtype == "likert":
        scale = scales.get(question.scale)
        return (Item(question.id, question.text, question.id, qtype, scale, question.reverse,
                     _num(scale.min) if scale else None, _num(scale.max) if scale else None),)
    if qtype == "matrix":
        scale = scales.get(question.scale)
        return tuple(Item(row.id, row.text, question.id, qtype, scale, row.reverse,
                          _num(scale.min) if scale else None, _num(scale.max) if scale else None)
                     for row in question.rows)
    if qtype in ("rating", "number"):
        return (Item(question.id, question.text, question.id, qtype, None, False,
                     question.min, question.max),)
    return ()


def _num(value: float | None) -> float | None:
    return None if value is None else float(value)
