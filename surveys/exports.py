"""Responses out: CSV, Excel and SPSS ``.sav`` files with a data dictionary.

This module writes files; which rows and values go into them is decided above it:
:mod:`services.exports` gives the safe export (the default for everyone) and the raw
export (admins, recorded). :func:`export_bytes` is the raw file of a campaign.

All formats hold the wide frame of :func:`surveys.responses.responses_frame` (one row
per response; item columns; multi_choice 0/1 and ranking columns ``qid__value``) with
the item values as answered (reverse-keying is applied by ``analysis.scoring``, and
marked here).

API overview
------------
``export_bytes(store, campaign_id, fmt, *, language=None) -> bytes``
    ``fmt`` is ``csv``, ``xlsx`` or ``sav`` (the staff page's download buttons).
``write_bytes(path, data) -> Path``
    An export's bytes into a file (the CLI).
``data_dictionary(store, campaign_id, *, language=None) -> DataFrame``
    ``variable, question, text, type, values, reverse, construct``: one row per column.
``dictionary_of(instrument, *, language=None) -> DataFrame``, ``frame_to_csv(frame)``,
``frame_to_xlsx(frame, dictionary)``, ``frame_to_sav(frame, instrument, path)``
    The same for a frame you already have.
``neutralise(value)``
    A text cell made safe for spreadsheets.

Formula injection
-----------------
A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula, so a respondent could plant
``=HYPERLINK(...)`` in a comment. In CSV and Excel output every *text* cell starting
with one of these characters gets a leading apostrophe (OWASP, "CSV Injection");
numbers are untouched. The ``.sav`` file is not a spreadsheet and keeps the text as
given.

SPSS
----
Variable labels are the question texts (matrix rows: ``question - row``; multi_choice
and ranking columns: ``question - option``), ending in ``(reverse-keyed)`` for
reverse-keyed items, which are also listed in the file's notes. Value labels are the
scale labels (likert, matrix), the end labels of ratings, the option labels of
single_choice/dropdown (string values) and ``0 = not chosen, 1 = chosen`` for
multi_choice. Measurement levels: ordinal for scale items, scale for numbers and
ranks, nominal for the rest.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from surveys import campaigns as cp
from surveys import responses
from surveys.errors import TandemError
from surveys.instrument import Instrument
from surveys.question_types import frame_columns, kind_of

__all__ = [
    "FORMATS",
    "ExportError",
    "data_dictionary",
    "dictionary_of",
    "export_bytes",
    "export_format",
    "frame_to_csv",
    "frame_to_sav",
    "frame_to_xlsx",
    "neutralise",
    "write_bytes",
]

#: Export formats and their file suffixes.
FORMATS = ("csv", "xlsx", "sav")

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

_META = {
    "response_id": ("Response id (random)", "text"),
    "campaign": ("Campaign", "text"),
    "wave": ("Wave", "text"),
    "unit": ("Unit", "text"),
    "language": ("Language of the answers", "text"),
    "submitted_at": ("Submitted (UTC, to the hour)", "datetime"),
}


class ExportError(TandemError):
    """An export that cannot be made as asked."""


def neutralise(value: Any) -> Any:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def _safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def dictionary_of(instrument: Instrument, *, language: str | None = None) -> pd.DataFrame:
    """The data dictionary of the wide frame of ``instrument``.

    Returns
    -------
    DataFrame
        ``variable, question, text, type, values, reverse, construct``: ``values`` reads
        ``1 = Strongly disagree; ...`` (or the allowed range), ``reverse`` is True for
        reverse-keyed items, ``construct`` the construct ids the item belongs to.
    """
    lang = language or instrument.default_language
    constructs: dict[str, list[str]] = {}
    for construct in instrument.constructs:
        for item in construct.items:
            constructs.setdefault(item, []).append(construct.id)
    rows = [[name, "", label, text_kind, "", False, ""] for name, (label, text_kind) in _META.items()]
    for name, q, option in frame_columns(instrument):
        kind = kind_of(q)
        rows.append([name, q.id, kind.label(instrument, q, option, lang), q.type, kind.values_text(instrument, q, lang),
                     kind.reverse(q, option), ", ".join(constructs.get(name, []))])
    return pd.DataFrame(rows, columns=["variable", "question", "text", "type", "values", "reverse", "construct"])


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """The frame as RFC 4180 CSV in UTF-8 (with BOM, so Excel detects the encoding), text cells neutralised."""
    return _safe_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def frame_to_xlsx(frame: pd.DataFrame, dictionary: pd.DataFrame | None = None) -> bytes:
    """An Excel workbook: sheet ``responses`` (and ``dictionary``), text cells neutralised."""
    out = _safe_frame(frame)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name="responses", index=False)
        if dictionary is not None:
            _safe_frame(dictionary).to_excel(writer, sheet_name="dictionary", index=False)
    return buffer.getvalue()


def frame_to_sav(frame: pd.DataFrame, instrument: Instrument, path: str | Path, *,
                 language: str | None = None) -> Path:
    """Write the frame as an SPSS ``.sav`` file with variable and value labels (see the module docstring)."""
    import pyreadstat

    lang = language or instrument.default_language
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    labels = {name: label for name, (label, _) in _META.items() if name in out.columns}
    value_labels: dict[str, dict[Any, str]] = {}
    measure: dict[str, str] = {name: "nominal" for name in labels if name != "submitted_at"}
    reverse: list[str] = []
    for name, q, option in frame_columns(instrument):
        if name not in out.columns:
            continue
        kind = kind_of(q)
        labels[name] = kind.label(instrument, q, option, lang)[:255]
        if found := kind.value_labels(instrument, q, lang):
            value_labels[name] = found
        measure[name] = kind.measure
        if kind.reverse(q, option):
            reverse.append(name)
    notes = [f"Instrument {instrument.id} version {instrument.version} (sha256 {instrument.sha256[:16]}...).",
             "Item values are as answered; reverse-keyed items are not reversed."]
    if reverse:
        notes.append("Reverse-keyed items: " + ", ".join(reverse) + ".")
    target = Path(path)
    try:
        pyreadstat.write_sav(out, str(target), file_label=instrument.text(instrument.title, lang)[:64],
                             column_labels=labels, variable_value_labels=value_labels,
                             variable_measure=measure, note=notes)
    except (pyreadstat.ReadstatError, ValueError, OSError) as exc:
        raise ExportError(f"the SPSS file could not be written ({exc})", where=str(target),
                          fix="Export as CSV or Excel instead, and report this problem.") from None
    return target


def data_dictionary(store: Any, campaign_id: str, *, language: str | None = None) -> pd.DataFrame:
    """The data dictionary of a campaign's export (see :func:`dictionary_of`)."""
    return dictionary_of(cp.get_campaign(store, campaign_id).instrument, language=language)


def export_bytes(store: Any, campaign_id: str, fmt: str, *, language: str | None = None) -> bytes:
    """A campaign's responses as ``csv``, ``xlsx`` (with a dictionary sheet) or ``sav`` bytes."""
    fmt = export_format(fmt)
    campaign = cp.get_campaign(store, campaign_id)
    frame = responses.responses_frame(store, campaign.id)
    if fmt == "csv":
        return frame_to_csv(frame)
    if fmt == "xlsx":
        return frame_to_xlsx(frame, dictionary_of(campaign.instrument, language=language))
    with tempfile.TemporaryDirectory(prefix="tandem-export-") as folder:
        path = frame_to_sav(frame, campaign.instrument, Path(folder) / "export.sav", language=language)
        return path.read_bytes()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write an export's bytes to ``path`` (creating its folder); return it."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise ExportError(f"cannot write the file ({exc.strerror})", where=str(target),
                          fix="Choose a writable location with --out.") from None
    return target


def export_format(fmt: str) -> str:
    """The normalised export format (``csv``, ``xlsx`` or ``sav``); :class:`ExportError` otherwise."""
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt[:20]}'", where="format",
                          fix=f"Use one of {', '.join(FORMATS)}.")
    return fmt
