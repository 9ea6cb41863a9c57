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
    """Five-point items: every construct is ordinal (WLSMV), so the scalar step ties thresholds."""
    _, _, found = shifted
    wave = found["wave"]
    assert wave.reference == "2025"
    question, answer = wave.answers["2026"]
    assert "wave 2026" in question and "wave 2025" in question
    assert answer.startswith("Yes: loadings and thresholds are equal across wave 2025 and wave 2026 (scalar "
                             "invariance in 2 constructs; ordinal items by WLSMV, scaled CFI; ΔCFI no worse than ")
    assert "ΔCFI no worse than −." in answer or "ΔCFI no worse than +." in answer
    assert "can be compared" in answer
    assert set(wave.table["model"]) >= {"configural", "metric", "scalar"}
    assert set(wave.levels["method"]) == {"ordinal (WLSMV)"}


def test_an_item_whose_category_is_empty_in_one_group_is_fitted_as_continuous(shifted):
    """The shifted item (one point higher in German, capped) has no answer 1 in German: the
    ordinal model needs every category in every group, so Communication is fitted by ML with
    the search, which names the item; the sentence says so. Manager support stays ordinal."""
    _, _, found = shifted
    lang = found["language"]
    methods = lang.levels.set_index("construct")["method"]
    assert methods.to_dict() == {"manager_support": "ordinal (WLSMV)", "communication": "continuous (ML)"}
    assert ("Fitted as continuous (ML) instead: Communication, because an answer category is not chosen in every "
            "group, which the ordinal model needs.") in lang.sentences
    assert any(s.startswith("Ordinal items (at most 5 answer categories): Manager support fitted by WLSMV")
               for s in lang.sentences)


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


def _ordinal_shift(instrument, item, seed=5):
    """German answers to ``item`` one point higher for 60% of the German respondents (capped
    at 5): every category stays chosen in both languages, the thresholds differ."""
    frame = _frame(instrument)
    rng = np.random.default_rng(seed)
    up = (frame["language"] == "de") & (rng.random(len(frame)) < 0.6)
    frame.loc[up, item] = np.clip(frame.loc[up, item] + 1, 1, 5)
    return frame


@pytest.fixture(scope="module")
def ordinal_shifted(instrument):
    item = instrument.construct("communication").items[2]
    view = _view(instrument, _ordinal_shift(instrument, item))
    return item, view, measurement_invariance(view, by="language", constructs=CONSTRUCTS)


def test_ordinal_items_are_fitted_by_wlsmv_with_thresholds_tied_at_the_scalar_step(instrument, ordinal_shifted):
    """The service's ordinal fits are analysis.sem.invariance with ordered= (WLSMV): the same
    scaled CFIs as by hand, thresholds tied at scalar, no search; a shifted threshold makes
    Communication metric (not scalar) and the answer says thresholds, without naming an item."""
    from analysis.scoring import score
    from analysis.sem import invariance

    item, view, found = ordinal_shifted
    levels = found.levels.set_index("construct")
    assert set(levels["method"]) == {"ordinal (WLSMV)"}
    assert levels.loc["communication", "level"] == "metric" and levels.loc["communication", "released"] == ""
    assert levels.loc["manager_support", "level"] == "scalar"
    assert "thresholds differ" in levels.loc["communication", "reason"]
    # the same as analysis.sem.invariance with ordered= on the view's rows
    items = list(instrument.construct("communication").items)
    data = score(view.frame, instrument)[items].assign(g=view.frame["language"].to_numpy())
    data = data.iloc[np.argsort((data["g"] != "en").to_numpy(), kind="stable")]
    by_hand = invariance("communication =~ " + " + ".join(items), data, "g", ordered=items, missing="listwise")
    mine = found.table[found.table["construct"] == "communication"].set_index("model")["cfi"]
    assert mine.to_dict() == pytest.approx(by_hand.table.set_index("model")["cfi"].to_dict(), abs=1e-10)
    scalar = by_hand.fits["scalar"].fit_measures
    assert mine["scalar"] == pytest.approx(scalar["cfi_scaled"], abs=1e-12)
    assert by_hand.released.empty and found.table["released"].eq("").all()
    _, answer = found.answers["de"]
    assert answer.startswith("Not for all: in Communication the thresholds differ (the items mean the same, but "
                             "equal construct levels give different answers; ordinal items, by WLSMV and the scaled "
                             "CFI, so no single item is named) between English and German")
    assert f"item {item}" not in answer
    assert "The other constructs (Manager support) are fully invariant." in answer
    method = [s for s in found.sentences if s.startswith("Ordinal items")]
    assert method == ["Ordinal items (at most 5 answer categories): every construct fitted by WLSMV on the "
                      "polychoric correlations, with the thresholds tied at the scalar step and each step judged by "
                      "the scaled CFI; the search for single items that read differently is off for them (its "
                      "score tests need a likelihood), so where scalar invariance fails no item is named."]
    assert found.latent["construct"].tolist() == ["manager_support"]


def test_ordinal_can_be_turned_off_or_overridden(instrument, ordinal_shifted):
    """ordinal_max_categories=0 (or an explicit estimator) fits the items as continuous, with the
    search, which then names the shifted item."""
    item, view, _ = ordinal_shifted
    off = measurement_invariance(view, by="language", constructs=("communication",), ordinal_max_categories=0)
    assert off.levels["method"].tolist() == ["continuous (ML)"]
    assert off.levels["released"].tolist() == [f"{item} ~ 1"]
    assert not any(s.startswith("Ordinal items") for s in off.sentences)
    explicit = measurement_invariance(view, by="language", constructs=("communication",), estimator="ML")
    assert explicit.levels["method"].tolist() == ["continuous (ML)"]
