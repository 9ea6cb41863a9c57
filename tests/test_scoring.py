"""Scoring: reverse-keying, mean/sum scores with min_answered, user files, clear errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DataError
from analysis.scoring import numeric_items, read_responses, score
from analysis.simulate import simulate_responses
from surveys.loader import load_instrument


def toy_instrument() -> SimpleNamespace:
    """A stand-in following the Instrument contract: two 1..5 constructs and a 0..10 rating."""
    five = SimpleNamespace(min=1, max=5)
    items = {
        "q1": SimpleNamespace(id="q1", scale=five, reverse=False, min=None, max=None),
        "q2": SimpleNamespace(id="q2", scale=five, reverse=True, min=None, max=None),
        "q3": SimpleNamespace(id="q3", scale=five, reverse=False, min=None, max=None),
        "q4": SimpleNamespace(id="q4", scale=five, reverse=False, min=None, max=None),
        "q5": SimpleNamespace(id="q5", scale=five, reverse=False, min=None, max=None),
        "q6": SimpleNamespace(id="q6", scale=five, reverse=True, min=None, max=None),
        "nps": SimpleNamespace(id="nps", scale=None, reverse=False, min=0.0, max=10.0),
    }
    constructs = (
        SimpleNamespace(id="support", items=("q1", "q2", "q3"), scoring="mean", min_answered=0.5),
        SimpleNamespace(id="tools", items=("q4", "q5", "q6"), scoring="sum", min_answered=1.0),
    )
    return SimpleNamespace(id="toy", items=tuple(items.values()), constructs=constructs, item=items.__getitem__)


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "response_id": ["r1", "r2", "r3"],
        "unit": ["a", "a", "b"],
        "q1": [5, 4, np.nan],
        "q2": [1, 2, np.nan],
        "q3": [4, np.nan, 3],
        "q4": [2, 3, 4],
        "q5": [2, np.nan, 4],
        "q6": [5, 1, 2],
        "nps": [9, 10, 0],
        "comment": ["fine", "", None],
    })


def test_reverse_keying_and_mean_scores():
    scored = score(frame(), toy_instrument())
    assert scored["q2"].tolist()[:2] == [5.0, 4.0]  # 1 -> 5, 2 -> 4 on 1..5
    assert scored["q6"].tolist() == [1.0, 5.0, 4.0]
    assert scored["support"].tolist()[:2] == [pytest.approx(14 / 3), 4.0]
    # r3 answered 1 of 3 support items (< ceil(0.5 * 3) = 2): no score
    assert np.isnan(scored.loc[2, "support"])
    assert scored.columns.tolist() == ["response_id", "unit", "q1", "q2", "q3", "q4", "q5", "q6", "nps",
                                       "support", "tools"]
    assert "comment" not in scored


def test_sum_scoring_and_min_answered_one():
    scored = score(frame(), toy_instrument())
    assert scored.loc[0, "tools"] == 2 + 2 + 1
    assert np.isnan(scored.loc[1, "tools"])  # min_answered 1.0 and q5 missing
    assert scored.loc[2, "tools"] == 4 + 4 + 4


def test_prorated_sum_for_partial_answers():
    instrument = toy_instrument()
    instrument.constructs[1].min_answered = 0.5
    scored = score(frame(), instrument)
    assert scored.loc[1, "tools"] == pytest.approx(3 * (3 + 5) / 2)  # mean of answered x k


def test_missing_item_column_says_did_you_mean():
    with pytest.raises(DataError, match="'q5' not in the data. Did you mean 'Q5'"):
        score(frame().rename(columns={"q5": "Q5"}), toy_instrument())


def test_strings_in_numeric_columns():
    data = frame().astype({"q3": object})
    data.loc[1, "q3"] = "strongly agree"
    with pytest.raises(DataError, match="'q3' holds text .*'strongly agree'"):
        score(data, toy_instrument())


def test_out_of_range_values():
    data = frame()
    data.loc[0, "q4"] = 7
    with pytest.raises(DataError, match="'q4' has 1 answer\\(s\\) outside its range 1..5 \\(e.g. 7.0\\)"):
        score(data, toy_instrument())
    data = frame()
    data.loc[0, "nps"] = 11
    with pytest.raises(DataError, match="'nps'.*0..10"):
        score(data, toy_instrument())


def test_numeric_items_numbers_as_text_and_blank_cells():
    data = pd.DataFrame({"a": ["1", " 2 ", "", None], "b": [1, 2, 3, 4]})
    out = numeric_items(data)
    assert out["a"].tolist()[:2] == [1.0, 2.0]
    assert out["a"].isna().tolist() == [False, False, True, True]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".sav"])
def test_read_responses_round_trip(tmp_path, suffix):
    data = frame().drop(columns=["comment"])
    path = tmp_path / f"responses{suffix}"
    if suffix == ".csv":
        data.to_csv(path, index=False)
    elif suffix == ".xlsx":
        data.to_excel(path, index=False)
    else:
        import pyreadstat

        pyreadstat.write_sav(data, str(path))
    back = read_responses(path)
    scored = score(back, toy_instrument())
    assert scored["support"].iloc[0] == pytest.approx(14 / 3)


def test_read_responses_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_responses(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="unsupported file type '.json'"):
        read_responses(tmp_path / "x.json")
    (tmp_path / "broken.xlsx").write_text("not a workbook")
    with pytest.raises(DataError, match="cannot read the file"):
        read_responses(tmp_path / "broken.xlsx")


def test_employee_instrument_reverse_keyed_items_agree_with_their_construct():
    path = Path(__file__).resolve().parents[1] / "instruments" / "employee_experience.yaml"
    instrument = load_instrument(path)
    raw = simulate_responses(instrument, n_units=10, respondents_per_unit=50, seed=4)
    scored = score(raw, instrument)
    reversed_items = [item for item in instrument.items if item.reverse]
    assert reversed_items, "the employee instrument should have reverse-keyed items"
    for item in reversed_items:
        construct = next(c for c in instrument.constructs if item.id in c.items)
        mate = next(i for i in construct.items if not instrument.item(i).reverse)
        assert raw[item.id].corr(raw[mate]) < 0 < scored[item.id].corr(scored[mate])
        assert (scored[item.id] + raw[item.id]).dropna().eq(item.scale.min + item.scale.max).all()
    for construct in instrument.constructs:
        by_hand = scored[list(construct.items)].mean(axis=1)
        enough = scored[list(construct.items)].notna().sum(axis=1) >= np.ceil(construct.min_answered * len(construct.items))
        pd.testing.assert_series_equal(scored[construct.id], by_hand.where(enough), check_names=False)


def test_an_item_nobody_answered_is_scored_from_the_others():
    data = frame().assign(q3=np.nan)
    scored = score(data, toy_instrument())
    assert scored["q3"].isna().all()
    assert scored.loc[0, "support"] == pytest.approx(5.0)  # q1 = 5, q2 = 1 -> 5
    with pytest.raises(DataError, match="'q3' has no answers"):
        numeric_items(data, ["q1", "q3"])
