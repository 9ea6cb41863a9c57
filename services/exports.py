"""Response files that keep the disclosure promise, and the raw file for admins with an audit trail.

A row-level file is the strongest differencing tool there is: a spreadsheet filter on
unit and tenure finds the one short-tenured employee of a small unit. The **safe
export** (:func:`safe_frame`, :func:`safe_export_bytes`), the default for every role
allowed to download, therefore hands out rows only in groups of at least ``k`` counted
respondents that no column combination can split:

* rows of waves below ``k`` are left out;
* ``unit`` is the unit's id where the row's disclosure block lies within that unit, else
  ``"other units"`` (small units, and the larger unit pooled with them so that the
  file's total cannot reveal them);
* every demographic column (single-choice and drop-down questions) and the answer
  language keep their value only where the row's block shares it, else
  ``"(not shown)"``; so every combination of ``unit``, ``wave``, ``language`` and the
  demographic columns in the file describes whole blocks, at least ``k`` respondents;
* item answers withheld by the policy (an item answered by 1 to ``k - 1`` counted
  respondents of a block) are empty;
* the submission time is dropped (the hour of answering singles people out), and so
  are ``date`` answers;
* open answers are kept only in rows whose group (that combination of columns) holds
  at least ``min_comment_group_size`` counted respondents.

The **raw export** (:func:`raw_export_bytes`) is every stored row as answered, for an
admin only, and each use is written to the audit table (:mod:`surveys.audit`): who,
when, which campaign.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.selection import select
from services.sources import campaign_dataset
from surveys import audit, auth, exports
from surveys.errors import TandemError
from surveys.question_types import kind_of

__all__ = ["NOT_SHOWN", "OTHER_UNITS", "raw_export_bytes", "safe_export_bytes", "safe_frame"]

OTHER_UNITS = "other units"
NOT_SHOWN = "(not shown)"


def safe_frame(view: Any) -> pd.DataFrame:
    """The rows of a :class:`~services.selection.SideView` as the safe export gives them
    (see the module docstring)."""
    data = view.data
    blocks = data.blocks
    frame = view.frame.copy()
    generalised = {"unit": OTHER_UNITS}
    generalised.update({column: NOT_SHOWN for column in (*data.dimensions, "language")})
    for column, fallback in generalised.items():
        if column in frame:
            labels, _ = blocks.breakdown(view.shown, data.frame[column])
            frame[column] = pd.Series(labels, index=frame.index, dtype=object).fillna(fallback)
    identifying = [q.id for q in view.instrument.questions if kind_of(q).identifying and q.id in frame]
    frame = frame.drop(columns=["submitted_at", *identifying], errors="ignore")
    texts = [q.id for q in view.instrument.questions if kind_of(q).free_text and q.id in frame]
    if texts:
        keys = [c for c in ("wave", *generalised) if c in frame]
        counted = pd.Series(data.counted[view.shown], index=frame.index)
        group_size = (counted.groupby([frame[c] for c in keys], dropna=False).transform("sum") if keys
                      else counted.sum())
        thin = np.asarray(group_size < data.min_comment_group_size)
        frame.loc[thin, texts] = None
    return frame.reset_index(drop=True)


def _bytes(frame: pd.DataFrame, instrument: Any, fmt: str, *, language: str | None = None) -> bytes:
    fmt = exports.export_format(fmt)
    if fmt == "csv":
        return exports.frame_to_csv(frame)
    if fmt == "xlsx":
        return exports.frame_to_xlsx(frame, exports.dictionary_of(instrument, language=language))
    with tempfile.TemporaryDirectory(prefix="tandem-export-") as folder:
        return exports.frame_to_sav(frame, instrument, Path(folder) / "export.sav", language=language).read_bytes()


def safe_export_bytes(store: Any, campaign_id: str, fmt: str, *, language: str | None = None) -> bytes:
    """A campaign's safe export as ``csv``, ``xlsx`` (with a dictionary sheet) or ``sav`` bytes.

    Raises
    ------
    TandemError
        The campaign has too few responses for any row to be handed out.
    """
    dataset = campaign_dataset(store, [campaign_id])
    (view,) = select(dataset).values()
    if view.empty:
        raise TandemError(f"no row of campaign '{campaign_id}' can be handed out yet", where="safe export",
                          fix=f"wait for at least {view.k} responses; an admin may take the raw file.")
    return _bytes(safe_frame(view), view.instrument, fmt, language=language)


def raw_export_bytes(store: Any, campaign_id: str, fmt: str, *, actor: str, role: Any,
                     language: str | None = None) -> bytes:
    """Every stored row of a campaign as answered (``csv``, ``xlsx`` or ``sav``), written
    to the audit table first (who, when, which campaign, which format)."""
    exports.export_format(fmt)
    if not auth.allowed(role, "raw_export"):
        raise TandemError(f"the role '{getattr(role, 'value', role)}' may not take the raw file", where="raw export",
                          fix="ask an admin; everyone else downloads the safe export.")
    audit.record_export(store, actor=actor, role=role, campaign_id=campaign_id, kind=f"raw-{fmt}")
    return exports.export_bytes(store, campaign_id, fmt, language=language)
