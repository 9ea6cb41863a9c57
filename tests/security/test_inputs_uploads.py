"""Bounded uploads: size, encodings, Excel cell limits and zip bombs, reading from memory.

Every hostile file is generated here (a 6-million-cell workbook of about 0.5 MB, a
300 MB zip bomb of 0.3 MB, Latin-1 and UTF-16 CSV files, an oversized file) and must
be refused with the right reason, as a :class:`analysis.errors.DataError`.
"""

from __future__ import annotations

import codecs
import io
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared hostile-file generators

from hostile_inputs import big_xlsx, zip_bomb_xlsx

from analysis import uploads
from analysis.errors import DataError
from analysis.scoring import read_responses, read_responses_bytes
from surveys.errors import TandemError

FRAME = pd.DataFrame({"unit": ["north", "süd", "ost"], "ms_1": [1, 5, 3], "comment": ["Grüße", "naïve café", "ok"]})


def _refused(data: bytes, name: str, **kwargs) -> DataError:
    with pytest.raises(DataError) as caught:
        read_responses_bytes(data, name) if not kwargs else uploads.read_responses_bytes(data, name, **kwargs)
    assert isinstance(caught.value, TandemError) and caught.value.fix
    return caught.value


# --------------------------------------------------------------------------- size


def test_an_oversized_upload_is_refused_before_parsing(monkeypatch):
    monkeypatch.setenv("TANDEM_MAX_UPLOAD_MB", "1")
    data = b"a,b\n" + b"1,2\n" * 300_000  # 1.2 MB
    error = _refused(data, "big.csv")
    assert "is 1.1 MB, more than the 1.0 MB an upload may have" in error.message
    assert "TANDEM_MAX_UPLOAD_MB" in error.fix


def test_an_oversized_file_on_disk_is_refused_from_its_size_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_MAX_UPLOAD_MB", "0.5")
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:  # a sparse file: 2 GB that is never read
        handle.truncate(2 * 1024 ** 3)
    with pytest.raises(DataError, match=r"is 2048.0 MB, more than the 0.5 MB"):
        read_responses(path)


def test_the_default_limit_and_a_bad_setting(monkeypatch):
    monkeypatch.delenv("TANDEM_MAX_UPLOAD_MB", raising=False)
    assert uploads.max_upload_bytes() == 50 * 1024 * 1024
    monkeypatch.setenv("TANDEM_MAX_UPLOAD_MB", "lots")
    with pytest.raises(DataError, match="TANDEM_MAX_UPLOAD_MB is 'lots', not a positive number"):
        read_responses_bytes(b"a\n1\n", "x.csv")


# --------------------------------------------------------------------------- CSV encodings


def _csv(frame: pd.DataFrame = FRAME, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep)


@pytest.mark.parametrize(("encoding", "prefix"), [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE),
])
def test_utf8_and_utf16_csv_files_read_the_same(encoding, prefix):
    data = prefix + _csv().encode(encoding)
    back = read_responses_bytes(data, "responses.csv")
    pd.testing.assert_frame_equal(back, FRAME)
    assert "\ufffd" not in "".join(back["comment"])


def test_a_latin1_csv_is_refused_with_line_and_byte_not_loaded_with_replacement_characters():
    data = _csv().encode("cp1252")
    error = _refused(data, "excel_export.csv")
    assert "not UTF-8 text: byte 0xfc on line 2" in error.message  # the ü of "Grüße"
    assert "'ü'" in error.message and "Windows-1252 or Latin-1" in error.message
    assert "CSV UTF-8" in error.fix
    assert error.where == "excel_export.csv"


def test_utf16_without_a_byte_order_mark_is_named():
    error = _refused(_csv().encode("utf-16-le"), "no_bom.csv")
    assert "UTF-16 or UTF-32 text without a byte-order mark" in error.message


def test_a_broken_utf8_sequence_late_in_a_big_file_is_found():
    data = _csv().encode("utf-8") * 1 + b"north,1,ok\n" * 200_000 + b"ost,2,caf\xe9\n"
    error = _refused(data, "late.csv")
    assert "byte 0xe9 on line 200005" in error.message


def test_semicolon_csv_as_excel_writes_it_in_german():
    back = read_responses_bytes(_csv(sep=";").encode("utf-8-sig"), "antworten.csv")
    pd.testing.assert_frame_equal(back, FRAME)


def test_too_many_columns_are_refused_from_the_header_line():
    header = ",".join(f"c{i}" for i in range(uploads.MAX_COLUMNS + 1))
    error = _refused((header + "\n" + "1," * uploads.MAX_COLUMNS + "1\n").encode(), "wide.csv")
    assert "16,385 columns, more than the 16,384" in error.message


# --------------------------------------------------------------------------- Excel


def test_a_six_million_cell_workbook_is_refused_from_its_dimension():
    data = big_xlsx()  # about 0.5 MB
    assert len(data) < 1_000_000
    error = _refused(data, "big.xlsx")
    assert "declares A1:BH100000" in error.message and "5,999,940 cells, more than the 2,000,000" in error.message


@pytest.mark.parametrize("dimension", [None, "A1"])
def test_a_workbook_that_hides_or_lies_about_its_size_is_refused_by_counting(dimension):
    error = _refused(big_xlsx(dimension=dimension), "liar.xlsx")
    assert "holds more than 2,000,000 cells" in error.message
    if dimension:
        assert "claims only A1" in error.message


def test_a_zip_bomb_is_refused_from_the_zip_directory():
    data = zip_bomb_xlsx(300)
    assert len(data) < 1_000_000
    error = _refused(data, "bomb.xlsx")
    assert "unpacks to 300.0 MB" in error.message and "zip bomb" in error.message


def test_a_small_workbook_reads_like_pandas_reads_it(tmp_path):
    buffer = io.BytesIO()
    FRAME.to_excel(buffer, index=False)
    data = buffer.getvalue()
    ours = read_responses_bytes(data, "ok.xlsx")
    pd.testing.assert_frame_equal(ours, pd.read_excel(io.BytesIO(data)))
    path = tmp_path / "ok.xlsx"
    path.write_bytes(data)
    pd.testing.assert_frame_equal(read_responses(path), ours)


def test_a_generated_workbook_within_the_limits_reads():
    frame = read_responses_bytes(big_xlsx(rows=500, columns=8), "fine.xlsx")
    assert frame.shape == (499, 8) and list(frame.columns[:2]) == ["v0", "v1"]
    assert frame["v1"].tolist()[:2] == [2, 2]


def test_legacy_xls_and_garbage_are_refused_clearly():
    assert ".xlsx" in _refused(b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old.xls").fix
    assert "cannot read the file" in _refused(b"not a zip", "broken.xlsx").message


# --------------------------------------------------------------------------- SPSS


def test_spss_from_memory(tmp_path):
    import pyreadstat

    path = tmp_path / "r.sav"
    pyreadstat.write_sav(FRAME, str(path))
    back = read_responses_bytes(path.read_bytes(), "r.sav")
    assert back["ms_1"].tolist() == [1, 5, 3] and back["comment"].tolist() == FRAME["comment"].tolist()


def test_spss_over_the_cell_limit_is_refused_from_its_header(tmp_path, monkeypatch):
    import pyreadstat

    monkeypatch.setattr(uploads, "MAX_CELLS", 10)
    path = tmp_path / "r.sav"
    pyreadstat.write_sav(pd.DataFrame({"a": range(20)}), str(path))
    error = _refused(path.read_bytes(), "r.sav")
    assert "20 rows x 1 columns = 20 cells, more than the 10" in error.message


# --------------------------------------------------------------------------- nothing kept


def test_reading_from_bytes_writes_nothing_and_keeps_no_reference(tmp_path, monkeypatch):
    import gc
    import tempfile
    import weakref

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = bytearray(_csv().encode("utf-8"))
    frame = read_responses_bytes(bytes(data), "r.csv")
    assert list(tmp_path.iterdir()) == []
    ref = weakref.ref(frame)
    del frame
    gc.collect()
    assert ref() is None
