"""Bulk import of responses collected elsewhere: every row validated, nothing half-imported.

``tandem import FILE --campaign C`` brings history from other tools into a campaign.
:func:`import_responses` reads the file in chunks (CSV is streamed, so millions of rows
need only one chunk in memory; Excel and SPSS files are read within the upload limits of
:mod:`analysis.uploads`), and makes two passes:

1. every row is turned back into answers and validated against the campaign's pinned
   instrument like a submission (:func:`surveys.responses.prepare_records`); refused rows
   are collected with their line and reason;
2. only if no row was refused, all rows are stored in **one** transaction, chunk by
   chunk, so an interruption or a database error leaves nothing behind.

The returned :class:`ImportReport` lists the refused rows (the first
:data:`MAX_LISTED`, and how many in all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from surveys import responses
from surveys.campaigns import get_campaign
from surveys.errors import TandemError

__all__ = ["CHUNK_ROWS", "MAX_LISTED", "ImportReport", "import_responses"]

#: Rows read, validated and stored per chunk.
CHUNK_ROWS = 50_000
#: Refused rows listed in the report (all are counted).
MAX_LISTED = 1_000


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes
    ----------
    campaign
        The campaign imported into.
    rows
        Data rows read.
    imported
        Rows stored (0 when any row was refused).
    refused
        Rows refused in all.
    problems
        ``row, problem`` of the first :data:`MAX_LISTED` refused rows (row = the line of
        a CSV file counting the header as line 1; for Excel and SPSS the row number).
    """

    campaign: str
    rows: int
    imported: int
    refused: int
    problems: pd.DataFrame

    @property
    def ok(self) -> bool:
        """Whether everything was imported."""
        return self.refused == 0


def _chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if not path.is_file():
        raise TandemError("no such file", where=str(path), fix="give the path of a CSV, Excel or SPSS file.")
    if path.suffix.lower() == ".csv":
        try:
            with pd.read_csv(path, chunksize=chunk_rows, encoding="utf-8-sig") as reader:
                yield from reader
        except UnicodeDecodeError as exc:
            raise TandemError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})", where=str(path),
                              fix="save the file as UTF-8 CSV and import again.") from None
        except pd.errors.ParserError as exc:
            raise TandemError(f"the CSV file cannot be read ({str(exc).splitlines()[0]})", where=str(path),
                              fix="check the separators and quotes of the file.") from None
        return
    from analysis.scoring import read_responses

    frame = read_responses(path)
    for start in range(0, len(frame), chunk_rows):
        yield frame.iloc[start:start + chunk_rows]


def import_responses(store: Any, campaign_id: str, path: str | Path, *, chunk_rows: int = CHUNK_ROWS,
                     language: str | None = None, progress: Callable[[str, int], None] | None = None
                     ) -> ImportReport:
    """Validate every row of a response file, then store all of them or none.

    Parameters
    ----------
    store, campaign_id
        The campaign (any state) whose pinned instrument the rows must fit.
    path
        A wide response file (one row per response, one column per item id; ``unit``,
        ``language`` and ``submitted_at`` when known).
    chunk_rows
        Rows per chunk (memory bound).
    progress
        Called as ``progress(stage, rows_done)`` with stage ``"checking"`` or ``"storing"``.

    Returns
    -------
    ImportReport
    """
    path = Path(path)
    campaign = get_campaign(store, campaign_id)
    step = progress or (lambda _stage, _rows: None)
    csv = path.suffix.lower() == ".csv"
    rows, refused, listed = 0, 0, []
    for chunk in _chunks(path, chunk_rows):
        first = rows + (2 if csv else 1)
        _, bad = responses.prepare_records(campaign, chunk, first_row=first, language=language)
        refused += len(bad)
        listed += bad[:max(0, MAX_LISTED - len(listed))]
        rows += len(chunk)
        step("checking", rows)
    problems = pd.DataFrame(listed, columns=["row", "problem"])
    if refused or rows == 0:
        return ImportReport(campaign.id, rows, 0, refused, problems)
    done = 0
    with store.write() as conn:
        for chunk in _chunks(path, chunk_rows):
            records, _ = responses.prepare_records(campaign, chunk, language=language)
            responses.insert_records(conn, records)
            done += len(records)
            step("storing", done)
    return ImportReport(campaign.id, rows, done, 0, problems)
