"""Reading a user's response file (CSV, Excel .xlsx, SPSS .sav) with bounds on size and work.

The "bring your own data" page and the CLI read files that anybody may have made.
Every limit is checked before the expensive step it protects, and every refusal is a
:class:`analysis.errors.DataError` saying where (the file name), what and how to fix it:

=============================  ==========================================================
check                          when
=============================  ==========================================================
file size                      before anything is read: at most ``TANDEM_MAX_UPLOAD_MB``
                               MB (2^20 bytes, like Streamlit's ``server.maxUploadSize``),
                               default :data:`DEFAULT_MAX_UPLOAD_MB`
CSV text encoding              before parsing: UTF-8 (with or without byte-order mark),
                               UTF-16 or UTF-32 with a byte-order mark; anything else
                               (Windows-1252, Latin-1, UTF-16 without a mark) is refused
                               with the line and byte, never decoded with replacement
                               characters or guessed
CSV columns                    the header line, before parsing: at most :data:`MAX_COLUMNS`
rows and cells                 CSV and SPSS: at most :data:`MAX_ROWS` rows and
                               :data:`MAX_CELLS` cells (SPSS from the file's header,
                               before reading the data)
Excel zip container            before opening the workbook: at most :data:`MAX_ZIP_MEMBERS`
                               parts, :data:`MAX_XLSX_UNCOMPRESSED` bytes once unpacked
                               (zip bombs)
Excel sheet size               before openpyxl reads a cell: the number of shared texts,
                               the sheet's ``<dimension>``, then the ``<c>`` elements of the
                               sheet XML counted at C speed (a file may lie about its
                               dimension or leave it out); then every row as it streams
                               (openpyxl read-only fills gaps in sparse rows): at most
                               :data:`MAX_ROWS` rows and :data:`MAX_XLSX_CELLS` cells
                               (openpyxl reads about 250,000 cells a second, so this
                               bounds a read to about 10 s)
=============================  ==========================================================

:func:`read_responses_bytes` reads from memory, so an upload never has to be written
to disk; nothing it creates outlives the call (the frame is the only result). Legacy
``.xls`` files are refused (their reader cannot be bounded; save as ``.xlsx``).
"""

from __future__ import annotations

import codecs
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import DataError

__all__ = [
    "DEFAULT_MAX_UPLOAD_MB",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "MAX_XLSX_CELLS",
    "MAX_XLSX_PART",
    "MAX_XLSX_UNCOMPRESSED",
    "MAX_ZIP_MEMBERS",
    "SUFFIXES",
    "max_upload_bytes",
    "read_path",
    "read_responses_bytes",
]

#: Default largest upload, in MB (``TANDEM_MAX_UPLOAD_MB`` overrides it).
DEFAULT_MAX_UPLOAD_MB = 50
#: Most data rows of a response file (one row per response).
MAX_ROWS = 1_000_000
#: Most columns (Excel's own maximum; the wide frame has one per item).
MAX_COLUMNS = 16_384
#: Most cells (rows x columns) of a CSV or SPSS file (a 50 MB CSV has at most 25 million).
MAX_CELLS = 50_000_000
#: Most cells of an Excel sheet (reading a cell costs about 10 microseconds).
MAX_XLSX_CELLS = 2_000_000
#: Most bytes the parts of an .xlsx file may unpack to.
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024
#: Largest part of an .xlsx other than its sheets and shared texts (styles, themes: kilobytes).
MAX_XLSX_PART = 16 * 1024 * 1024
#: Most parts (files) in an .xlsx zip.
MAX_ZIP_MEMBERS = 1_000

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".sav", ".zsav")
_FIX_CSV = ("save the file as 'CSV UTF-8' (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)'; LibreOffice: "
            "character set 'Unicode (UTF-8)'), or upload it as .xlsx")
_FIX_SMALLER = "split the data (for example by wave or by unit) or keep only the item columns"
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?"')


def max_upload_bytes() -> int:
    """The largest upload accepted, in bytes, from ``TANDEM_MAX_UPLOAD_MB`` (default 50 MB).

    Raises
    ------
    DataError
        If the variable is set to something that is not a positive number.
    """
    raw = os.environ.get("TANDEM_MAX_UPLOAD_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise DataError(f"TANDEM_MAX_UPLOAD_MB is {raw!r}, not a positive number of megabytes",
                        where="configuration", fix=f"set it to a number such as {DEFAULT_MAX_UPLOAD_MB}, or unset it")
    return int(value * 1024 * 1024)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _check_size(size: int, limit: int, where: str) -> None:
    if size > limit:
        raise DataError(f"the file is {_mb(size)}, more than the {_mb(limit)} an upload may have",
                        where=where, fix=f"{_FIX_SMALLER}; or raise TANDEM_MAX_UPLOAD_MB")


def read_path(path: str | Path, *, max_bytes: int | None = None) -> pd.DataFrame:
    """Read a response file from disk (see :func:`read_responses_bytes` for the rules).

    The size is checked from the file system before a byte is read.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataError("file not found", where=where, fix="check the path")
    _check_type(path.name, where)
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    try:
        _check_size(path.stat().st_size, limit, where)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror or exc})", where=where,
                        fix="check the file's permissions") from None
    try:
        return read_responses_bytes(data, path.name, where=where, max_bytes=limit)
    finally:
        del data


def _check_type(name: str, where: str) -> str:
    suffix = _suffix(name)
    if suffix == ".xls":
        raise DataError("legacy Excel 97-2003 files (.xls) are not read", where=where,
                        fix="save the workbook as .xlsx (Excel: File > Save As > 'Excel Workbook') or as CSV UTF-8")
    if suffix not in SUFFIXES:
        raise DataError(f"unsupported file type {suffix or '(none)'!r}", where=where,
                        fix="use .csv, .tsv, .xlsx or .sav")
    return suffix


def read_responses_bytes(data: bytes, name: str, *, where: str | None = None,
                         max_bytes: int | None = None) -> pd.DataFrame:
    """Read a response file held in memory (an upload): CSV, TSV, Excel .xlsx or SPSS .sav.

    Parameters
    ----------
    data
        The file's bytes.
    name
        Its file name; the suffix decides the format (``.csv``/``.txt``, ``.tsv``,
        ``.xlsx``/``.xlsm``, ``.sav``/``.zsav``).
    where
        How to name the file in errors (default ``name``).
    max_bytes
        Largest size accepted (default: :func:`max_upload_bytes`).

    Returns
    -------
    pandas.DataFrame
        One row per response, one column per item id. SPSS value labels are not
        applied: items stay numeric codes.

    Raises
    ------
    DataError
        For every limit of the module docstring, an unsupported type, and a file that
        cannot be parsed.
    """
    where = where or name
    suffix = _check_type(name, where)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DataError(f"expected the file's bytes, got {type(data).__name__}", where=where,
                        fix="pass the uploaded file's content (bytes)")
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    _check_size(len(data), limit, where)
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(bytes(data), where, sep="\t" if suffix == ".tsv" else None)
        if suffix in (".xlsx", ".xlsm"):
            return _read_xlsx(bytes(data), where)
        return _read_sav(bytes(data), where)
    except DataError:
        raise
    except (ValueError, OSError, ImportError, UnicodeDecodeError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"cannot read the file ({_short(exc)})", where=where,
                        fix="save it again as CSV (UTF-8), Excel .xlsx or SPSS .sav") from None
    except Exception as exc:  # parser errors of pandas/openpyxl/pyreadstat have no common base
        raise DataError(f"cannot read the file ({type(exc).__name__}: {_short(exc)})", where=where,
                        fix="save it again as CSV (UTF-8), Excel .xlsx or SPSS .sav") from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------- CSV


def _encoding(data: bytes, where: str) -> str:
    """The encoding of CSV bytes, by byte-order mark or strict UTF-8; refuses anything else."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    if b"\x00" in data[:4096]:
        raise DataError("the file looks like UTF-16 or UTF-32 text without a byte-order mark (it has NUL bytes)",
                        where=where, fix=_FIX_CSV)
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    for start in range(0, len(data), step):  # validate without keeping a decoded copy
        chunk = data[start:start + step]
        try:
            decoder.decode(chunk, final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            offset = start + exc.start
            raise DataError(_not_utf8(data, offset), where=where, fix=_FIX_CSV) from None
    return encoding


def _not_utf8(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    byte = data[offset]
    guess = bytes([byte]).decode("cp1252", errors="replace")
    looks = f" (in Windows-1252/Latin-1 that byte is {guess!r})" if guess != "\ufffd" and byte >= 0x80 else ""
    return (f"the file is not UTF-8 text: byte 0x{byte:02x} on line {line} (offset {offset}) is not valid UTF-8"
            f"{looks}; it was probably saved as Windows-1252 or Latin-1, which Tandem does not guess")


def _read_csv(data: bytes, where: str, *, sep: str | None) -> pd.DataFrame:
    """CSV (``sep=None``: comma, or semicolon/tab when the header line has those and no comma,
    as Excel writes CSV in German and French settings) or TSV."""
    encoding = _encoding(data, where)
    head = data[:1 << 20].decode(encoding, errors="ignore")
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    if sep is None:
        counts = {mark: first.count(mark) for mark in (",", ";", "\t")}
        sep = "," if counts[","] or not any(counts.values()) else max(counts, key=counts.get)
    columns = first.count(sep) + 1
    if columns > MAX_COLUMNS:
        raise DataError(f"the header line has {columns:,} columns, more than the {MAX_COLUMNS:,} a response file "
                        "may have", where=where, fix=_FIX_SMALLER)
    buffer = io.BytesIO(data)
    try:
        frame = pd.read_csv(buffer, sep=sep, encoding=encoding, encoding_errors="strict", nrows=MAX_ROWS + 1,
                            low_memory=False)
    finally:
        buffer.close()
    _check_shape(len(frame), len(frame.columns), where, cells=MAX_CELLS)
    return frame


def _check_shape(rows: int, columns: int, where: str, *, cells: int, declared: str = "") -> None:
    what = f"the sheet declares {declared}: " if declared else "the file has "
    if rows > MAX_ROWS:
        raise DataError(f"{what}more than {MAX_ROWS:,} rows, the most a response file may have", where=where,
                        fix=_FIX_SMALLER)
    if columns > MAX_COLUMNS:
        raise DataError(f"{what}{columns:,} columns, more than the {MAX_COLUMNS:,} a response file may have",
                        where=where, fix=_FIX_SMALLER)
    if rows * columns > cells:
        raise DataError(f"{what}{rows:,} rows x {columns:,} columns = {rows * columns:,} cells, more than the "
                        f"{cells:,} a {'workbook' if cells == MAX_XLSX_CELLS else 'response file'} may have",
                        where=where, fix=_FIX_SMALLER + ("; or save it as CSV UTF-8, which reads much faster"
                                                         if cells == MAX_XLSX_CELLS else ""))


# --------------------------------------------------------------------------- Excel


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ch - 64)
    return number


def _check_zip(archive: zipfile.ZipFile, where: str) -> None:
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise DataError(f"the workbook has {len(members):,} parts, more than the {MAX_ZIP_MEMBERS:,} a workbook "
                        "may have", where=where, fix="save it again from Excel or LibreOffice as .xlsx")
    unpacked = sum(max(info.file_size, 0) for info in members)
    if unpacked > MAX_XLSX_UNCOMPRESSED:
        packed = sum(info.compress_size for info in members)
        raise DataError(f"the workbook unpacks to {_mb(unpacked)} (from {_mb(packed)}), more than the "
                        f"{_mb(MAX_XLSX_UNCOMPRESSED)} a workbook may hold (a 'zip bomb', or far more data than "
                        "a survey has)", where=where, fix=_FIX_SMALLER + "; or save it as CSV UTF-8")


def _declared_size(archive: zipfile.ZipFile, part: str) -> tuple[int, int, str] | None:
    """(rows, columns, ref) from the sheet's ``<dimension>`` element, if it has one near the start."""
    try:
        with archive.open(part) as member:
            head = member.read(64 * 1024)
    except KeyError:
        return None
    match = _DIMENSION.search(head)
    if not match:
        return None
    first_col, first_row, last_col, last_row = match.groups()
    last_col, last_row = last_col or first_col, last_row or first_row
    rows = int(last_row) - int(first_row) + 1
    columns = _column_number(last_col) - _column_number(first_col) + 1
    ref = (first_col + first_row + (b":" + last_col + last_row if match.group(3) else b"")).decode()
    return max(rows, 0), max(columns, 0), ref


def _count_tags(archive: zipfile.ZipFile, part: str, tags: tuple[bytes, ...], stop: int) -> int:
    """How often the element names ``tags`` start in a zip part (any namespace prefix),
    counted at C speed over the decompressed stream; stops counting past ``stop``."""
    patterns = [p for tag in tags for p in (b"<" + tag + b" ", b"<" + tag + b">", b"<" + tag + b"/",
                                            b":" + tag + b" ", b":" + tag + b">", b":" + tag + b"/")]
    overlap = max(len(p) for p in patterns) - 1
    count = 0
    tail = b""
    with archive.open(part) as member:
        while count <= stop:
            chunk = member.read(1 << 20)
            if not chunk:
                break
            window = tail + chunk
            count += sum(window.count(p) for p in patterns) - sum(tail.count(p) for p in patterns)
            tail = window[-overlap:]
    return count


def _is_sheet(part: str) -> bool:
    return "worksheets/" in part.lower() and part.lower().endswith(".xml")


def _check_parts(archive: zipfile.ZipFile, where: str) -> None:
    """Before openpyxl opens the workbook (it reads every shared text, and every sheet without a
    ``<dimension>`` in full, as it opens): each sheet's declared size, then the cells and shared
    texts actually there, counted at C speed; other parts at most :data:`MAX_XLSX_PART` bytes."""
    sheets = [info for info in archive.infolist() if _is_sheet(info.filename)]
    for info in sheets:
        declared = _declared_size(archive, info.filename)
        if declared:
            rows, columns, ref = declared
            _check_shape(max(rows - 1, 0), columns, where, cells=MAX_XLSX_CELLS, declared=ref)
    cells = 0
    for info in sheets:
        cells += _count_tags(archive, info.filename, (b"c",), MAX_XLSX_CELLS - cells)
        if cells > MAX_XLSX_CELLS:
            claim = _declared_size(archive, info.filename)
            raise DataError(f"the workbook holds more than {MAX_XLSX_CELLS:,} cells, the most a workbook may have"
                            + (f" (the <dimension> of {info.filename} claims only {claim[2]})" if claim else ""),
                            where=where, fix=_FIX_SMALLER + "; or save it as CSV UTF-8, which reads much faster")
    for info in archive.infolist():
        name = info.filename.lower()
        if name.endswith("sharedstrings.xml"):
            if _count_tags(archive, info.filename, (b"si",), MAX_XLSX_CELLS) > MAX_XLSX_CELLS:
                raise DataError(f"the workbook has more than {MAX_XLSX_CELLS:,} different texts, more than the "
                                f"{MAX_XLSX_CELLS:,} cells a workbook may have", where=where,
                                fix=_FIX_SMALLER + "; or save it as CSV UTF-8")
        elif not _is_sheet(info.filename) and info.file_size > MAX_XLSX_PART:
            raise DataError(f"the workbook's part {info.filename} is {_mb(info.file_size)}, more than the "
                            f"{_mb(MAX_XLSX_PART)} such a part has", where=where,
                            fix="save the workbook again from Excel or LibreOffice, or as CSV UTF-8")


def _convert_cell(cell: Any) -> Any:
    """A cell's value as pandas' openpyxl reader gives it (errors -> NaN, whole floats -> int)."""
    value = cell.value
    if value is None:
        return ""
    kind = getattr(cell, "data_type", None)
    if kind == "e":
        return float("nan")
    if kind == "n" and isinstance(value, float):
        whole = int(value) if value == value and abs(value) != float("inf") else None
        return whole if whole is not None and whole == value else value
    return value


def _read_xlsx(data: bytes, where: str) -> pd.DataFrame:
    from openpyxl import load_workbook
    from pandas.io.parsers import TextParser

    buffer = io.BytesIO(data)
    try:
        with zipfile.ZipFile(buffer) as archive:
            _check_zip(archive, where)
            _check_parts(archive, where)
        book = load_workbook(buffer, read_only=True, data_only=True, keep_links=False)
        try:
            if not book.worksheets:
                raise DataError("the workbook has no sheet", where=where, fix="put the responses on the first sheet")
            sheet = book.worksheets[0]
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # read what is there, not what the header claims (as pandas does)
            table: list[list[Any]] = []
            cells = 0
            last = -1
            for number, row in enumerate(sheet.rows):
                converted = [_convert_cell(cell) for cell in row]
                while converted and converted[-1] == "":
                    converted.pop()
                cells += len(row)
                if number > MAX_ROWS or cells > MAX_XLSX_CELLS or len(row) > MAX_COLUMNS:
                    _refuse_streamed(number, len(row), cells, where)
                if converted:
                    last = number
                table.append(converted)
        finally:
            book.close()
    finally:
        buffer.close()
    table = table[:last + 1]
    if not table:
        return pd.DataFrame()
    width = max(len(row) for row in table)
    table = [row + [""] * (width - len(row)) for row in table]
    parser = TextParser(table, header=0, skip_blank_lines=False)
    try:
        return parser.read()
    finally:
        parser.close()


def _refuse_streamed(number: int, width: int, cells: int, where: str) -> None:
    if number > MAX_ROWS:
        what = f"more than {MAX_ROWS:,} rows"
    elif width > MAX_COLUMNS:
        what = f"a row of {width:,} columns, more than the {MAX_COLUMNS:,} allowed"
    else:
        what = f"more than {MAX_XLSX_CELLS:,} cells, the most a workbook may have"
    raise DataError(f"the sheet holds {what} (reading stopped at row {number + 1:,}; its <dimension> did not say so)",
                    where=where, fix=_FIX_SMALLER + "; or save it as CSV UTF-8, which reads much faster")


# --------------------------------------------------------------------------- SPSS


def _read_sav(data: bytes, where: str) -> pd.DataFrame:
    import pyreadstat

    buffer = io.BytesIO(data)
    try:
        _frame, meta = pyreadstat.read_sav(buffer, metadataonly=True)
        rows = meta.number_rows if meta.number_rows is not None and meta.number_rows >= 0 else 0
        _check_shape(rows, meta.number_columns or 0, where, cells=MAX_CELLS)
        buffer.seek(0)
        frame, _meta = pyreadstat.read_sav(buffer, apply_value_formats=False, row_limit=MAX_ROWS + 1)
    finally:
        buffer.close()
    _check_shape(len(frame), len(frame.columns), where, cells=MAX_CELLS)
    return frame
