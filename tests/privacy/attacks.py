"""Shared parts of the privacy attacks (``privacy.attacks``): the small
organisation, and the observer that collects what an output channel lets out.

The observer turns every shown group into the set of responses it describes (a boolean
vector over the rows). An attacker can add and subtract shown counts and sums, so what
they can isolate is any set in the span of those vectors; the finest such sets are the
*atoms*: responses grouped by which shown groups contain them. If every atom holds at
least ``k`` counted respondents, no count, sum or mean of fewer than ``k`` people can be
recovered from any combination of the outputs. An item's values enter only the sums of
that item, over the shown groups' respondents who answered it: its atoms are formed
among those respondents (who skipped an item is not something an attacker can name).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from services.selection import SideView
from services.sources import file_dataset

HERE = Path(__file__).resolve().parent
ORG = HERE / "org.yaml"
POOLED = "\x00hidden"


def people(rows: Iterable[tuple]) -> pd.DataFrame:
    """Responses from ``(unit, tenure, role, sat_1, enps, comment)`` tuples (one wave)."""
    frame = pd.DataFrame(list(rows), columns=["unit", "tenure", "role", "sat_1", "enps", "comment"])
    frame.insert(0, "wave", "1")
    frame.insert(0, "response_id", [f"r{i}" for i in range(len(frame))])
    frame["sat_2"] = frame["sat_1"]
    frame["sup_1"] = 6 - frame["sat_1"]
    frame["sup_2"] = frame["sup_1"]
    frame["language"] = "en"
    frame["submitted_at"] = pd.Timestamp("2026-11-30 10:00", tz="UTC")
    return frame


def north_and_south() -> pd.DataFrame:
    """The issue's organisation: north has 6 (5 long tenure, 1 short: a detractor with
    sat_1 = 1), south 2, and two large units east and west."""
    rows = [("north", "long", "staff", 3, 10, "north long comment")] * 5
    rows += [("north", "short", "staff", 1, 2, "THE SHORT-TENURED PERSON'S COMMENT")]
    rows += [("south", "long", "staff", 4, 9, "south comment")] * 2
    rows += [("east", t, "staff", 4, 8, f"east {t}") for t in ["long"] * 7 + ["short"] * 6]
    rows += [("west", t, "lead" if i % 2 else "staff", 2 + i % 3, 7, f"west {i}") for i, t in
             enumerate(["long"] * 8 + ["short"] * 7)]
    return people(rows)


def dataset_of(instrument, frame: pd.DataFrame, org=None):
    return file_dataset({"data": (instrument, frame)}, name="privacy test data", org=org)


def organisation(tree: dict[str, list[str]], *, root: str = "acme",
                 levels: tuple[str, ...] = ("company", "district", "store")):
    """An organisation from ``{district: [stores]}`` below one company (three levels)."""
    from surveys.organisation import parse_organisation

    lines = ["unit_id,name,parent_id,level", f"{root},{root},,{levels[0]}"]
    for district, stores in tree.items():
        lines.append(f"{district},{district},{root},{levels[1]}")
        lines += [f"{store},{store},{district},{levels[2]}" for store in stores]
    return parse_organisation("\n".join(lines) + "\n", source="privacy test org")


def shown_sets(view: SideView, breakdowns: Iterable[str] = ()) -> dict[str, list[np.ndarray]]:
    """Every group of responses the view lets out, by what it sums: ``"rows"`` (counts: the
    selection itself and each shown row of each breakdown) and, per item, the answers
    counted in those groups."""
    frame = view.data.frame
    sets = [view.shown.copy()]
    for column in breakdowns:
        if not view.data.has_column(column):  # a frame column, or an organisation level (org:district)
            continue
        labels = view.grouped(column, POOLED)
        status = view.groups(column)
        for group, state in status.items():
            if state == "hidden":
                continue
            member = np.zeros(len(frame), dtype=bool)
            member[np.flatnonzero(view.shown)[(labels == group).to_numpy()]] = True
            sets.append(member)
    families = {"rows": sets}
    for item in (i.id for i in view.instrument.items):
        if item in view.data.masked:
            given = view.data.masked[item].notna().to_numpy()
            families[item] = [s & given for s in sets]
    return families


def merged(*families: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """The shown sets of several outputs together, family by family."""
    out: dict[str, list[np.ndarray]] = {}
    for family in families:
        for name, sets in family.items():
            out.setdefault(name, []).extend(sets)
    return out


def smallest_atom(sets: list[np.ndarray] | dict[str, list[np.ndarray]], counted: np.ndarray) -> int:
    """Counted respondents in the smallest atom of the shown sets (people in no shown set
    are ignored; a dict is checked family by family); a large number when nothing is shown."""
    if isinstance(sets, dict):
        return min((smallest_atom(family, counted) for family in sets.values()), default=10**9)
    if not sets:
        return 10**9
    matrix = np.column_stack(sets)
    inside = matrix.any(axis=1)
    if not inside.any():
        return 10**9
    patterns = pd.Series([row.tobytes() for row in matrix[inside]])
    sizes = pd.Series(counted[inside].astype(int)).groupby(patterns.to_numpy()).sum()
    return int(sizes.min())


# --------------------------------------------------------------------------- a store with an organisation
#: company acme, districts d1 (store_01 12, store_02 8, store_03 4 = k - 1, store_04 10) and
#: d2 (store_05 11, store_06 9); sm1 manages store_01, dm1 manages d1, ceo the company.
ORG_CSV = ("unit_id,name,parent_id,level,managers\n"
       "acme,ACME,,company,ceo@acme.example\n"
       "d1,District One,acme,district,dm1@acme.example\n"
       "store_01,Store 01,d1,store,sm1@acme.example\n"
       "store_02,Store 02,d1,store,\n"
       "store_03,Store 03,d1,store,\n"
       "store_04,Store 04,d1,store,\n"
       "d2,District Two,acme,district,\n"
       "store_05,Store 05,d2,store,\n"
       "store_06,Store 06,d2,store,\n")
ORG_SIZES = {"store_01": 12, "store_02": 8, "store_03": 4, "store_04": 10, "store_05": 11, "store_06": 9}
ORG_CAMPAIGN = "ee-org"


def seed_org_campaign(url: str) -> None:
    """The organisation ``ORG_CSV`` in force and the employee campaign ``ORG_CAMPAIGN`` with ``ORG_SIZES``
    respondents per store, in the store at ``url``."""
    import pandas as pd

    from analysis.simulate import simulate_responses
    from surveys import campaigns, org_store, responses
    from surveys.loader import load_instrument
    from surveys.organisation import parse_organisation
    from surveys.store import open_store

    store = open_store(url)
    org_store.import_organisation(store, parse_organisation(ORG_CSV), as_of="2020-01-01")
    instrument = load_instrument(HERE.parents[1] / "instruments" / "employee_experience.yaml")
    campaigns.create_campaign(store, instrument, campaign_id=ORG_CAMPAIGN)
    frame = simulate_responses(instrument, n_units=6, respondents_per_unit=12, seed=3)
    units = list(ORG_SIZES)
    frame["unit"] = frame["unit"].map(dict(zip(sorted(frame["unit"].unique()), units, strict=True)))
    frame = pd.concat([frame[frame["unit"] == u].head(n) for u, n in ORG_SIZES.items()], ignore_index=True)
    responses.import_frame(store, ORG_CAMPAIGN, frame)
    store.dispose()
