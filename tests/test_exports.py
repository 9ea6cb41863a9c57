"""Exports: SPSS labels survive a round trip; CSV and Excel cells cannot run formulas."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from surveys import campaigns as cp
from surveys import exports
from surveys.loader import load_instrument

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"
ANSWERS = {"role": "staff", "sat": 4, "bored": 2, "ms_1": 5, "ms_2": 1, "enps": 9, "perks": ["bike"],
           "priorities": ["team", "pay", "growth"], "shift": "late"}
HOSTILE = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "safe - text"]


@pytest.fixture
def filled(sqlite_store, monkeypatch):
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")  # raw rows are under test, not the link mode
    cp.create_campaign(sqlite_store, load_instrument(SURVEY), campaign_id="ex", mode="open")
    cp.open_campaign(sqlite_store, "ex")
    for i, comment in enumerate(HOSTILE):
        cp.submit(sqlite_store, "ex", ANSWERS | {"unit": "north", "comment": comment, "sat": 1 + i % 5},
                  language="en")
    return sqlite_store


def test_sav_keeps_variable_and_value_labels(filled, tmp_path):
    path = tmp_path / "ex.sav"
    path.write_bytes(exports.export_bytes(filled, "ex", "sav"))
    data, meta = pyreadstat.read_sav(str(path))
    labels = meta.column_names_to_labels
    assert labels["sat"] == "I like my work."
    assert labels["bored"] == "My work bores me. (reverse-keyed)"
    assert labels["ms_2"] == "My manager ... - ignores me (reverse-keyed)"
    assert labels["perks__bike"] == "Perks used - Bike"
    assert meta.variable_value_labels["sat"] == {1.0: "Strongly disagree", 2.0: "Disagree", 3.0: "Neutral",
                                                  4.0: "Agree", 5.0: "Strongly agree"}
    assert meta.variable_value_labels["role"] == {"staff": "Staff", "manager": "Manager"}
    assert meta.variable_value_labels["perks__bike"] == {0.0: "not chosen", 1.0: "chosen"}
    assert any("Reverse-keyed items: bored, ms_2." in note for note in meta.notes)
    assert meta.variable_measure["sat"] == "ordinal" and meta.variable_measure["role"] == "nominal"
    assert len(data) == len(HOSTILE) and sorted(data["sat"]) == sorted(1.0 + i % 5 for i in range(len(HOSTILE)))
    assert set(data["comment"]) == set(HOSTILE)  # not a spreadsheet: text kept as given


def test_sav_in_another_language(filled, tmp_path):
    path = tmp_path / "de.sav"
    path.write_bytes(exports.export_bytes(filled, "ex", "sav", language="de"))
    _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    assert meta.column_names_to_labels["sat"] == "Ich mag meine Arbeit."
    assert meta.variable_value_labels["sat"][5.0] == "Stimme voll zu"


def test_csv_neutralises_formula_cells(filled):
    frame = pd.read_csv(io.BytesIO(exports.export_bytes(filled, "ex", "csv")), encoding="utf-8-sig",
                        keep_default_na=False)
    comments = set(frame["comment"])
    assert comments == {"'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "safe - text"}
    assert not any(str(v).startswith(("=", "+", "-", "@", "\t", "\r")) for v in frame.to_numpy().ravel())
    assert set(frame["sat"]) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_excel_neutralises_formula_cells_and_has_a_dictionary(filled):
    book = openpyxl.load_workbook(io.BytesIO(exports.export_bytes(filled, "ex", "xlsx")))
    sheet = book["responses"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert "'=HYPERLINK(\"http://x\")" in texts and "'@SUM(A1)" in texts
    assert not any(t.startswith(("=", "+", "-", "@", "\t", "\r")) for t in texts)
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["response_id", "campaign", "wave", "unit", "language", "submitted_at"]
    dictionary = pd.DataFrame(book["dictionary"].values)
    assert "bored" in set(dictionary[0])


def test_data_dictionary(filled):
    dictionary = exports.data_dictionary(filled, "ex").set_index("variable")
    assert list(dictionary.columns) == ["question", "text", "type", "values", "reverse", "construct"]
    assert dictionary.loc["sat", "values"].startswith("1 = Strongly disagree; 2 = Disagree")
    assert bool(dictionary.loc["ms_2", "reverse"]) and dictionary.loc["ms_2", "construct"] == "support"
    assert dictionary.loc["ms_2", "question"] == "grid"
    assert dictionary.loc["team_size", "values"] == "1 to 500 (whole numbers)"
    assert dictionary.loc["priorities__pay", "values"] == "rank 1 (first) to 3"
    assert dictionary.loc["enps", "values"] == "0 to 10"


def test_unknown_format_is_refused(filled):
    with pytest.raises(exports.ExportError, match="Use one of csv, xlsx, sav"):
        exports.export_bytes(filled, "ex", "pdf")


def test_tab_and_carriage_return_prefixes_are_neutralised_in_any_frame():
    """Stored answers are stripped of leading space, but frames from elsewhere may carry it."""
    frame = pd.DataFrame({"=cmd": ["\tTAB", "\rCR", "ok"], "n": [-1.0, 2.0, 3.0]})
    back = pd.read_csv(io.BytesIO(exports.frame_to_csv(frame)), encoding="utf-8-sig")
    assert list(back.columns) == ["'=cmd", "n"]
    assert list(back["'=cmd"]) == ["'\tTAB", "'\rCR", "ok"] and list(back["n"]) == [-1.0, 2.0, 3.0]
    book = openpyxl.load_workbook(io.BytesIO(exports.frame_to_xlsx(frame)))
    column = [c.value for c in book["responses"]["A"]]
    assert column[:2] == ["'=cmd", "'\tTAB"] and column[2] in ("'\rCR", "'\nCR") and column[3] == "ok"  # XML keeps \n


def test_neutralise_leaves_numbers_and_plain_text():
    assert exports.neutralise(-3) == -3
    assert exports.neutralise("plain") == "plain"
    assert exports.neutralise("=1") == "'=1"
