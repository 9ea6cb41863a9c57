"""Scoring: reverse-keying and construct scores from an instrument.

A response frame (from :mod:`surveys.store` / :mod:`surveys.exports`, or a user's
CSV, Excel or SPSS file read with :func:`read_responses`) holds the answers as
given: reverse-keyed items are *not* reflected there. :func:`score` reflects them
and adds one column per construct, so that everything downstream (reliability,
EFA/CFA, aggregation to units, linkage) works on keyed values.

:func:`numeric_items` is the one place that turns "some columns of a frame" into a
float matrix for a statistic, with the messages a person needs when the columns are
missing, hold text, or are empty. Every statistic in :mod:`analysis.reliability`
and :mod:`analysis.efa` calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataError
from surveys.errors import did_you_mean

__all__ = ["META_COLUMNS", "complete_cases", "construct_score", "item_bounds", "numeric_items", "read_responses",
           "read_responses_bytes", "score"]

#: The identifying columns of the wide response frame; :func:`score` keeps those present.
META_COLUMNS = ("response_id", "campaign", "wave", "unit", "language", "submitted_at")


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in pd.unique(values)[:n].tolist())


def _suggest(name: str, columns: Sequence[str]) -> str:
    """Did-you-mean hint that also catches a column differing only in case or spaces."""
    folded = {str(c).strip().lower(): str(c) for c in columns}
    if str(name).lower() in folded:
        return f" Did you mean '{folded[str(name).lower()]}'?"
    return did_you_mean(name, columns)


def numeric_items(data: pd.DataFrame, items: Sequence[str] | None = None, *, where: str = "",
                  allow_empty: bool = False) -> pd.DataFrame:
    """The item columns of ``data`` as a float frame, checked.

    Parameters
    ----------
    data
        A frame with one row per case.
    items
        The columns to take (default: all columns of ``data``).
    where
        Names the analysis in error messages (``"alpha of 'engagement'"``).
    allow_empty
        Accept a column without any answer (scoring does: a question nobody was
        shown leaves its construct to the other items); statistics do not.

    Returns
    -------
    pandas.DataFrame
        The columns ``items`` as ``float64``, missing answers as NaN, index kept.

    Raises
    ------
    DataError
        If ``data`` is not a DataFrame, an item column is missing (with "did you
        mean"), a column holds text that is not a number, or a column has no answer
        at all (unless ``allow_empty``).
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame of item columns, got {type(data).__name__}",
            where=where,
            fix="pass a DataFrame with one column per item and one row per response",
        )
    names = list(data.columns) if items is None else list(items)
    missing = [name for name in names if name not in data.columns]
    if missing:
        hint = _suggest(missing[0], [str(c) for c in data.columns])
        raise DataError(
            f"item column(s) {', '.join(map(repr, missing))} not in the data.{hint}",
            where=where,
            fix="rename the column in the file or correct the item id",
        )
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"item(s) {', '.join(map(repr, dupes))} listed twice", where=where,
                        fix="list every item once")
    out = {}
    for name in names:
        column = data[name]
        if isinstance(column, pd.DataFrame):
            raise DataError(f"the data has more than one column named {name!r}", where=where,
                            fix="give every column a unique name")
        if pd.api.types.is_bool_dtype(column):
            column = column.astype(float)
        if not pd.api.types.is_numeric_dtype(column):
            text = column.astype("string").str.strip()
            as_number = pd.to_numeric(text.where(text != ""), errors="coerce")
            bad = column[as_number.isna() & column.notna() & (text != "")]
            if len(bad):
                raise DataError(
                    f"column {name!r} holds text that is not a number in {len(bad)} row(s) "
                    f"(e.g. {_examples(bad)})",
                    where=where,
                    fix="code the answers as numbers (scale values) and leave missing answers empty",
                )
            column = as_number
        values = column.astype(float)
        if not allow_empty and values.notna().sum() == 0:
            raise DataError(f"item {name!r} has no answers at all", where=where,
                            fix="drop the item from the analysis or check the column's contents")
        out[name] = values
    return pd.DataFrame(out, index=data.index)


def complete_cases(items: pd.DataFrame, *, min_cases: int, where: str = "") -> tuple[pd.DataFrame, int]:
    """Listwise deletion: the rows of ``items`` with every item answered.

    Returns
    -------
    tuple of (pandas.DataFrame, int)
        The complete rows and the number of rows dropped (used by the result objects
        as ``n`` and ``n_dropped``).

    Raises
    ------
    DataError
        If fewer than ``min_cases`` complete rows remain.
    """
    complete = items.dropna()
    if len(complete) < min_cases:
        raise DataError(
            f"only {len(complete)} of {len(items)} case(s) answered every item; at least "
            f"{min_cases} are needed",
            where=where,
            fix="collect more responses or drop the items with the most missing answers",
        )
    return complete, len(items) - len(complete)


def read_responses(path: str | Path) -> pd.DataFrame:
    """Read a user's response file: CSV, Excel (``.xlsx``) or SPSS (``.sav``).

    One row per response, one column per item id (the wide frame of the brief).
    SPSS value labels are *not* applied: items stay numeric codes. The size, encoding,
    row, cell and zip limits of :mod:`analysis.uploads` apply (the file's size is
    checked before it is read; ``TANDEM_MAX_UPLOAD_MB``, default 50).

    Raises
    ------
    DataError
        If the file does not exist, its type is not supported, it is over a limit or
        it cannot be read.
    """
    from analysis.uploads import read_path

    return read_path(path)


def read_responses_bytes(data: bytes, name: str) -> pd.DataFrame:
    """Read a response file held in memory (an upload), named ``name`` (its suffix decides
    the format); see :func:`analysis.uploads.read_responses_bytes`. Nothing is written to
    disk and nothing is kept once the frame is returned."""
    from analysis.uploads import read_responses_bytes as read

    return read(data, name)


def item_bounds(item: Any) -> tuple[float | None, float | None]:
    """An item's lowest and highest answer (its scale's, or ``min``/``max``; None if open)."""
    if item.scale is not None:
        return float(item.scale.min), float(item.scale.max)
    return item.min, item.max


def score(frame: pd.DataFrame, instrument: Any) -> pd.DataFrame:
    """Reverse-keyed item columns and one score column per construct.

    Parameters
    ----------
    frame
        The wide response frame (store export or :func:`read_responses`): one row per
        response, one column per item id, answers as given (not reverse-keyed).
    instrument
        The :class:`surveys.instrument.Instrument` the answers belong to.

    Returns
    -------
    pandas.DataFrame
        Same index as ``frame``: the identifying columns present (``response_id``,
        ``campaign``, ``wave``, ``unit``, ``language``, ``submitted_at``), every
        numeric item of the instrument present in ``frame`` (float, reverse-keyed),
        then one column per construct id.

    Notes
    -----
    Reverse-keying reflects an item on its scale: :math:`x' = \\min + \\max - x`
    (a 1..5 item: 1 <-> 5, 2 <-> 4).

    A construct with :math:`k` items is scored for a response that answered
    :math:`a \\geq \\lceil m k \\rceil` of them, :math:`m` being the construct's
    ``min_answered`` fraction; otherwise the score is NaN.
    ``scoring: mean`` is the mean of the answered items; ``scoring: sum`` is the
    *prorated* sum :math:`k \\cdot \\bar x_{answered}`, so a partial response is on the
    same metric as a complete one (a plain sum of the answered items would shrink
    with every skipped item).

    An item column without any answer is kept (all NaN); its construct is scored
    from the other items under the same ``min_answered`` rule. Answers are checked
    against the item's range only: a value between two scale points (``3.5`` on a
    1..5 scale, e.g. from pre-averaged data) is accepted.

    Raises
    ------
    DataError
        If a construct's item column is missing (with "did you mean"), a column holds
        text, or an answer lies outside the item's range (the message counts them and
        shows examples, and names the range).
    """
    where = f"responses for instrument {getattr(instrument, 'id', '?')!r}"
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}", where=where,
                        fix="pass the wide response frame (one row per response)")
    construct_items = [i for c in instrument.constructs for i in c.items]
    present = [item.id for item in instrument.items if item.id in frame.columns]
    needed = list(dict.fromkeys(construct_items + present))
    items = numeric_items(frame, needed, where=where, allow_empty=True)
    values = items.to_numpy(dtype=float, copy=True)
    position = {item_id: j for j, item_id in enumerate(needed)}
    for j, item_id in enumerate(needed):
        item = instrument.item(item_id)
        low, high = item_bounds(item)
        column = values[:, j]
        outside = np.zeros(len(column), dtype=bool)
        if low is not None:
            outside |= column < low
        if high is not None:
            outside |= column > high
        if outside.any():
            rng = f"{low:g}..{high:g}" if low is not None and high is not None else (
                f">= {low:g}" if low is not None else f"<= {high:g}")
            raise DataError(
                f"item {item_id!r} has {int(outside.sum())} answer(s) outside its range {rng} "
                f"(e.g. {_examples(pd.Series(column[outside]))})",
                where=where,
                fix="recode the answers to the instrument's scale values or set them to missing",
            )
        if item.reverse:
            if low is None or high is None:
                raise DataError(f"item {item_id!r} is reverse-keyed but has no bounded scale",
                                where=where, fix="give the item a scale or min and max")
            values[:, j] = low + high - column
    scores = {c.id: construct_score(values[:, [position[i] for i in c.items]], c) for c in instrument.constructs}
    meta = [c for c in META_COLUMNS if c in frame.columns]
    keyed = pd.DataFrame(values, index=frame.index, columns=needed)
    return pd.concat([frame[meta], keyed, pd.DataFrame(scores, index=frame.index)], axis=1)


def construct_score(block: np.ndarray, construct: Any) -> np.ndarray:
    """One construct's score per response from its keyed item answers ``block``
    (responses x items, NaN where unanswered): the mean (``scoring: mean``) or prorated sum
    (``scoring: sum``, :math:`k \\cdot \\bar x_{answered}`) of the answered items, NaN where
    fewer than :math:`\\lceil m k \\rceil` items were answered (:func:`score`)."""
    k = block.shape[1]
    answered = (~np.isnan(block)).sum(axis=1)
    enough = (answered >= np.ceil(construct.min_answered * k - 1e-9)) & (answered > 0)
    mean = np.nansum(block, axis=1) / np.maximum(answered, 1)
    return np.where(enough, mean * k if construct.scoring == "sum" else mean, np.nan)
