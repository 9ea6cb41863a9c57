"""services.invariance: invariance of one instrument across its languages and waves,
through the disclosure policy, in plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.simulate import simulate_responses
from services.invariance import MIN_GROUP_N, health_invariance, measurement_invariance
from services.selection import select
from services.sources import demo_dataset, file_dataset
from surveys.errors import TandemError
from surveys.loader import load_instrument

CONSTRUCTS = ("manager_support", "communication")


@pytest.fixture(scope="module")
def instrument():
    from pathlib import Path

    return load_instrument(Path(__file__).resolve().parents[1] / "instruments" / "employee_experience.yaml")


def _frame(instrument, *, german_every: int = 3, n_units: int = 30, waves=(("2025", 1), ("2026", 2)),
           shift: str | None = None, mixed_unit: bool = False) -> pd.DataFrame:
    """Simulated answers of two waves; every ``german_every``-th unit answers in German,
    ``shift`` (an item) is answered one point higher in German (capped at 5)."""
    frames = []
    for wave, seed in waves:
        f = simulate_responses(instrument, n_units=n_units, respondents_per_unit=(15, 25), seed=seed, wave=wave)
        units = sorted(f["unit"].unique())
        f["language"] = np.where(f["unit"].isin(set(units[::german_every])), "de", "en")
        if mixed_unit:  # one English unit where a few answered in German: its block mixes languages
            rows = f.index[f["unit"] == units[1]][:3]
            f.loc[rows, "language"] = "de"
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    if shift:
        de = frame["language"] == "de"
        frame.loc[de, shift] = np.clip(frame.loc[de, shift] + 1, 1, 5)
    return frame


def _view(instrument, frame):
    return select(file_dataset({"employee": (instrument, frame)}, name="test"))["employee"]


@pytest.fixture(scope="module")
def shifted(instrument):
    item = instrument.construct("communication").items[2]
    view = _view(instrument, _frame(instrument, shift=item))
    return item, view, health_invariance(view, constructs=CONSTRUCTS)


def test_a_translated_item_that_reads_differently_is_named(shifted):
    item, _, found = shifted
    lang = found["language"]
    assert lang.reference == "en" and set(lang.groups["status"]) == {"used"}
    levels = lang.levels.set_index("construct")
    assert levels.loc["communication", "level"] == "partial scalar"
    assert levels.loc["communication", "released"] == f"{item} ~ 1"
    assert levels.loc["manager_support", "level"] == "scalar"
    question, answer = lang.answers["de"]
    assert question == "Is the German version measuring the same thing?"
    assert answer.startswith("Partly:") and f"item {item}" in answer and "higher" in answer
    assert "compare latent means, not raw scores" in answer
    latent = lang.latent.set_index("construct")
    assert set(latent.index) == set(CONSTRUCTS) and (latent["mean_se"] > 0).all()
    assert (latent["group"] == "de").all() and (latent["reference_group"] == "en").all()


def test_waves_that_read_the_items_alike_get_a_yes_with_delta_cfi(shifted):
    _, _, found = shifted
    wave = found["wave"]
    assert wave.reference == "2025"
    question, answer = wave.answers["2026"]
    assert "wave 2026" in question and "wave 2025" in question
    assert answer.startswith("Yes: loadings and intercepts are equal across wave 2025 and wave 2026")
    assert "ΔCFI no worse than −." in answer or "ΔCFI no worse than +." in answer
    assert "can be compared" in answer
    assert set(wave.table["model"]) >= {"configural", "metric", "scalar"}


def test_a_language_that_shares_blocks_is_hidden_and_nothing_about_it_leaves(instrument):
    """The demo assigns languages at random within units: every German response shares its
    block with English ones, so German is hidden; no count, fit or mean about it is returned."""
    view = select(demo_dataset())["employee"]
    found = measurement_invariance(view, by="language")
    groups = found.groups.set_index("group")
    assert groups.loc["de", "status"] == "hidden" and pd.isna(groups.loc["de", "n"])
    assert not found.fitted and found.latent.empty and found.table.empty
    answer = found.answers["de"][1]
    assert answer.startswith("Not shown: German is hidden (protects a smaller group)")
    assert not any(ch.isdigit() for ch in answer.replace(f"fewer than {view.k}", ""))


def test_a_small_language_gets_not_yet_with_the_minimum_not_its_count(instrument):
    frame = _frame(instrument, german_every=15, n_units=15, waves=(("2026", 3),))
    view = _view(instrument, frame)
    found = measurement_invariance(view, by="language", constructs=CONSTRUCTS)
    n_de = int((frame["language"] == "de").sum())
    assert view.k <= n_de < MIN_GROUP_N
    assert found.answers["de"][1] == f"Not yet: fewer than {MIN_GROUP_N} respondents in German."
    assert not found.fitted and found.latent.empty
    assert str(n_de) not in " ".join(found.sentences)
    one = measurement_invariance(view, by="wave")
    assert one.sentences == ("Not yet: the responses shown come from one wave; the question can be answered from "
                             "the second wave on.",)


def test_only_whole_blocks_of_a_language_are_compared(instrument):
    frame = _frame(instrument, mixed_unit=True)
    view = _view(instrument, frame)
    found = measurement_invariance(view, by="language", constructs=("communication",))
    pure_german = frame["language"].eq("de") & frame.groupby(["wave", "unit"])["language"].transform(
        lambda s: (s == "de").all())
    groups = found.groups.set_index("group")
    assert int(groups.loc["de", "n"]) == int(pure_german.sum()) < int((frame["language"] == "de").sum())
    assert groups.loc["en", "status"] == "used"
    assert "some of its responses are left out" in " ".join(found.sentences)


def test_unknown_column_or_construct_says_how_to_fix(instrument, shifted):
    _, view, _ = shifted
    with pytest.raises(TandemError, match="use one of: language, wave"):
        measurement_invariance(view, by="unit")
    with pytest.raises(TandemError, match="no construct 'comunication'"):
        measurement_invariance(view, by="wave", constructs=("comunication",))


def test_the_report_answers_the_language_and_wave_questions(instrument, shifted):
    """The HTML report's invariance section carries the same sentences as the service."""
    from html import unescape

    from reports.html import SECTIONS, render_report
    from services.insight import collect_insight

    item, view, _ = shifted
    insight = collect_insight(file_dataset({"employee": (instrument, view.data.frame)}, name="test"), bootstrap=0)
    html = unescape(render_report(insight))
    section = html[html.index('<section id="invariance">'):]
    section = section[:section.index("</section>")]
    assert SECTIONS["invariance"] in section
    for sentence in health_invariance(insight.views["employee"])["language"].sentences:
        assert sentence in section
    assert f"Is the German version measuring the same thing? Partly: in Communication, item {item}" in section
    assert "Did the respondents of wave 2026 read the items as those of wave 2025 did? Yes" in section
    assert "latent mean difference" in section
