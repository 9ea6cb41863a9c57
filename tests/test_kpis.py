"""Business KPIs: declarations, periods, imports (all rows or none, every refusal with its line),
roll-up rules on a three-level tree, lag alignment, and ``tandem kpi``."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from surveys import kpis, org_store
from surveys.organisation import parse_organisation
from surveys.schema import kpi_values
from tandem_cli.main import app

SHIPPED = Path(__file__).resolve().parent.parent / "instruments" / "business" / "kpis.yaml"

# A three-level tree: the company, two regions, five stores.
ORG = """\
unit_id,name,parent_id,level
acme,ACME,,company
north,North,acme,region
south,South,acme,region
s1,Store 1,north,store
s2,Store 2,north,store
s3,Store 3,north,store
s4,Store 4,south,store
s5,Store 5,south,store
"""

SUM = kpis.KpiDefinition("complaints", "Complaints", False, "count", "sum")
MEAN = kpis.KpiDefinition("sales_growth", "Sales growth", True, "percent", "mean")
WEIGHTED = kpis.KpiDefinition("retention", "Retention", True, "percent", "mean", "headcount")
HEADCOUNT = kpis.KpiDefinition("headcount", "Headcount", True, "people", "sum")


@pytest.fixture
def org():
    return parse_organisation(ORG)


@pytest.fixture
def store(any_store, org):
    org_store.import_organisation(any_store, org, as_of="2026-01-01")
    kpis.declare_kpis(any_store, kpis.read_definitions(SHIPPED))
    return any_store


def values_file(tmp_path, rows, header="unit,period,kpi,value"):
    path = tmp_path / "kpis.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def stored(store):
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(kpi_values)).scalar_one()


# --------------------------------------------------------------------------- declarations


def test_the_shipped_declarations_are_valid():
    declared = {d.id: d for d in kpis.read_definitions(SHIPPED)}
    assert {"retention", "first_contact_resolution", "sales_growth", "response_time", "complaints"} <= set(declared)
    assert declared["retention"].weight == "headcount" and declared["headcount"].aggregation == "sum"
    assert declared["response_time"].higher_is_better is False
    assert declared["complaints"].aggregation == "sum"


def test_broken_declarations_are_reported_together_with_lines(tmp_path):
    path = tmp_path / "kpis.yaml"
    path.write_text("""\
kpis:
  retention:
    label: Retention
    higher_is_better: yes please
    measure: percent
    aggregation: mean
    weight: headcont
  complaints:
    label: Complaints
    higher_is_better: false
    measure: count
    aggregation: total
    colour: red
  Bad-Id:
    label: x
""", encoding="utf-8")
    with pytest.raises(kpis.KpiImportRefused) as caught:
        kpis.read_definitions(path)
    found = [(p.line, p.rule) for p in caught.value.problems]
    assert found == [(4, "bad-direction"), (7, "unknown-weight"), (12, "bad-aggregation"), (13, "unknown-key"),
                     (14, "bad-id")]
    assert "Did you mean 'sum'?" not in caught.value.message  # 'total' is not close to any rule
    assert "Did you mean 'headcount'?" not in caught.value.message  # not declared anywhere


def test_a_weight_must_be_a_sum_and_may_be_declared_before(tmp_path, store):
    path = tmp_path / "kpis.yaml"
    path.write_text("kpis:\n  nps:\n    label: NPS\n    higher_is_better: true\n    measure: points\n"
                    "    aggregation: mean\n    weight: contacts\n", encoding="utf-8")
    with pytest.raises(kpis.KpiImportRefused, match="unknown-weight"):
        kpis.read_definitions(path)
    assert kpis.read_definitions(path, known=kpis.definitions(store))[0].weight == "contacts"
    path.write_text("kpis:\n  a:\n    label: A\n    higher_is_better: true\n    measure: x\n    aggregation: mean\n"
                    "    weight: b\n  b:\n    label: B\n    higher_is_better: true\n    measure: x\n"
                    "    aggregation: mean\n", encoding="utf-8")
    with pytest.raises(kpis.KpiImportRefused, match="weight-not-sum"):
        kpis.read_definitions(path)


def test_declaring_again_replaces_a_declaration(store):
    kpis.declare_kpis(store, [kpis.KpiDefinition("complaints", "Complaints (all)", False, "count", "sum")])
    assert kpis.definitions(store)["complaints"].label == "Complaints (all)"


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(("period", "n", "expected"), [
    ("2026Q3", 1, "2026Q4"), ("2026Q4", 1, "2027Q1"), ("2026q1", -1, "2025Q4"), ("2026Q2", 0, "2026Q2"),
    ("2026-12", 1, "2027-01"), ("2026-01", -1, "2025-12"), ("2026-09", 3, "2026-12"),
])
def test_periods_shift_within_their_kind(period, n, expected):
    assert kpis.shift_period(period, n) == expected


def test_period_bounds_and_bad_periods():
    import datetime as dt

    assert kpis.period_bounds("2026Q1") == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert kpis.period_bounds("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert kpis.period_bounds("2026Q4") == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    for bad in ("2026Q5", "2026-13", "Q3 2026", "2026", "", "0000Q1", "0000-01", "٢٠٢٦Q1", "2٠٢٦Q1"):
        with pytest.raises(kpis.KpiError, match="2026Q3"):
            kpis.parse_period(bad)


# --------------------------------------------------------------------------- imports


def test_an_import_stores_every_row_and_a_second_import_replaces_values(store, tmp_path):
    path = values_file(tmp_path, ["s1,2026Q3,complaints,3", "s2,2026Q3,complaints,4", "north,2026-09,retention,0.8"])
    steps = []
    result = kpis.import_kpis(store, path, chunk_rows=2, progress=lambda stage, n: steps.append((stage, n)))
    assert result == kpis.KpiImport(3, ("complaints", "retention"), ("2026-09", "2026Q3"))
    assert steps == [("checking", 2), ("checking", 3), ("storing", 2), ("storing", 3)]
    values_file(tmp_path, ["s1,2026Q3,complaints,5"])
    kpis.import_kpis(store, path)
    frame = kpis.kpi_values(store, ["complaints"], ["2026Q3"])
    assert frame.set_index("unit")["value"].to_dict() == {"s1": 5.0, "s2": 4.0}
    assert stored(store) == 3


def test_every_refused_row_is_reported_and_nothing_is_stored(store, tmp_path):
    path = values_file(tmp_path, [
        "s1,2026Q3,complaints,3",        # 2 fine
        "s1,2026Q5,complaints,3",        # 3 bad period
        "s9,2026Q3,complaints,3",        # 4 unknown unit
        "s2,2026Q3,complaint,3",         # 5 unknown kpi
        "s2,2026Q3,complaints,three",    # 6 not a number
        "s2,2026Q3,complaints,nan",      # 7 not a finite number
        "s1,2026Q3,complaints,4",        # 8 duplicate of line 2
        "s2,2025Q4,complaints,1",        # 9 no organisation in force then
        "s 2,2026Q3,complaints,1",       # 10 not a unit id
        "",                              # 11 a blank line is skipped, and keeps the lines of the file
        "s2,2026Q3,complaints,",         # 12 no value
        "s3,2026Q3,complaints,1_000",    # 13 a separator
        "s4,2026Q3,complaints,1e999",    # 14 not finite
        "s5,2026Q3,complaints,-.5e2",    # 15 fine
    ])
    with pytest.raises(kpis.KpiImportRefused) as caught:
        kpis.import_kpis(store, path, chunk_rows=3)
    found = [(p.line, p.rule) for p in caught.value.problems]
    assert found == [(3, "bad-period"), (4, "unknown-unit"), (5, "unknown-kpi"), (6, "bad-value"),
                     (7, "bad-value"), (8, "duplicate"), (9, "unknown-unit"), (10, "bad-unit-id"), (12, "bad-value"),
                     (13, "bad-value"), (14, "bad-value")]
    message = caught.value.message
    assert "Did you mean 'complaints'?" in message and "first on line 2" in message
    assert "tandem org import FILE --as-of 2025-10-01" in message
    assert stored(store) == 0


def test_units_of_any_version_in_force_during_the_period_are_accepted(store, org, tmp_path):
    org_store.import_organisation(store, parse_organisation(ORG + "s6,Store 6,south,store\n"), as_of="2026-08-15")
    path = values_file(tmp_path, ["s6,2026Q3,complaints,1", "s6,2026Q2,complaints,1"])
    with pytest.raises(kpis.KpiImportRefused) as caught:
        kpis.import_kpis(store, path)
    assert [(p.line, p.rule) for p in caught.value.problems] == [(3, "unknown-unit")]


def test_a_file_without_the_columns_is_refused_at_its_header(store, tmp_path):
    path = values_file(tmp_path, ["s1,2026Q3,complaints,3"], header="unit,quarter,kpi,value")
    with pytest.raises(kpis.KpiImportRefused) as caught:
        kpis.import_kpis(store, path)
    assert [(p.line, p.rule) for p in caught.value.problems] == [(1, "missing-column")]
    with pytest.raises(kpis.KpiError, match="no such file"):
        kpis.import_kpis(store, tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(kpis.KpiError, match="empty"):
        kpis.import_kpis(store, tmp_path / "empty.csv")


def test_a_large_file_is_imported_in_chunks(store, tmp_path):
    rows = [f"s{u},{y}-{m:02d},complaints,{u * m}" for y in range(2026, 2030) for m in range(1, 13)
            for u in range(1, 6) for _ in range(1)]
    rows += [f"s{u},{y}Q{q},headcount,{10 * u}" for y in range(2026, 2030) for q in range(1, 5) for u in range(1, 6)]
    path = values_file(tmp_path, rows)
    result = kpis.import_kpis(store, path, chunk_rows=50)
    assert result.rows == len(rows) == stored(store)


# --------------------------------------------------------------------------- roll-up


def test_sum_rolls_up_every_level(org):
    frame = kpis.rollup(org, {"s1": 1, "s2": 2, "s3": 3, "s4": 4}, definition=SUM)
    assert frame.loc["north", "value"] == 6 and frame.loc["south", "value"] == 4 and frame.loc["acme", "value"] == 10
    assert frame.loc["acme", "n"] == 4 and frame.loc["acme", "source"] == "rolled up"
    assert math.isnan(frame.loc["s5", "value"]) and frame.loc["s5", "source"] == ""
    assert list(frame.index) == ["acme", "north", "s1", "s2", "s3", "south", "s4", "s5"]
    assert frame.loc["north", "level"] == "region"


def test_an_unweighted_mean_counts_each_unit_below_once(org):
    frame = kpis.rollup(org, {"s1": 1, "s2": 2, "s3": 6, "s4": 10, "s5": 20}, definition=MEAN)
    assert frame.loc["north", "value"] == pytest.approx(3.0)
    assert frame.loc["south", "value"] == pytest.approx(15.0)
    assert frame.loc["acme", "value"] == pytest.approx(9.0)  # mean of the regions, not of the five stores


def test_a_weighted_mean_equals_the_weighted_mean_of_the_stores(org):
    values = {"s1": 0.9, "s2": 0.7, "s3": 0.8, "s4": 0.6, "s5": 0.5}
    heads = {"s1": 10, "s2": 30, "s3": 20, "s4": 5, "s5": 15}
    weights = kpis.rollup(org, heads, definition=HEADCOUNT)["value"].to_dict()
    frame = kpis.rollup(org, values, definition=WEIGHTED, weights=weights)
    flat = sum(values[s] * heads[s] for s in values) / sum(heads.values())
    assert frame.loc["acme", "value"] == pytest.approx(flat)
    assert frame.loc["north", "value"] == pytest.approx((9 + 21 + 16) / 60)
    with pytest.raises(kpis.KpiError, match="headcount"):
        kpis.rollup(org, values, definition=WEIGHTED)


def test_units_without_a_weight_do_not_count_and_reported_values_win(org):
    weights = {"s1": 10, "s2": 0, "s3": None, "s4": 1, "s5": 1, "north": 10, "south": 2, "acme": 12}
    frame = kpis.rollup(org, {"s1": 0.9, "s2": 0.1, "s3": 0.1, "s4": 0.4, "s5": 0.6, "south": 0.2},
                        definition=WEIGHTED, weights=weights)
    assert frame.loc["north", "value"] == pytest.approx(0.9)  # s2 weighs 0, s3 has no weight
    assert frame.loc["south", "value"] == 0.2 and frame.loc["south", "source"] == "reported"
    assert frame.loc["acme", "value"] == pytest.approx((10 * 0.9 + 2 * 0.2) / 12)


def test_values_of_units_outside_the_tree_and_non_finite_values_are_ignored(org):
    frame = kpis.rollup(org, {"gone": 100, "s1": float("nan"), "s2": 2}, definition=SUM)
    assert frame.loc["acme", "value"] == 2 and "gone" not in frame.index


# --------------------------------------------------------------------------- lagged frames


def test_kpi_frame_takes_the_period_after_each_wave_rolled_up(store, tmp_path):
    rows = [f"s{u},2026Q3,headcount,{10 * u}" for u in range(1, 6)]
    rows += [f"s{u},2026Q3,retention,{0.5 + u / 10}" for u in range(1, 6)]
    rows += ["s1,2026Q2,complaints,7", "s1,2026Q3,complaints,2", "s4,2026Q3,complaints,3", "s2,2026Q4,complaints,9"]
    kpis.import_kpis(store, values_file(tmp_path, rows))
    frame = kpis.kpi_frame(store, ["retention", "complaints"], ["2026Q2", "2026Q3"], lag=1)
    assert list(frame.columns) == ["period", "kpi_period", "unit", "level", "retention", "complaints"]
    wave = frame[frame["period"] == "2026Q2"].set_index("unit")
    assert set(wave["kpi_period"]) == {"2026Q3"}
    assert wave.loc["acme", "complaints"] == 5 and wave.loc["north", "complaints"] == 2
    heads = {u: 10 * u for u in range(1, 6)}
    expected = sum((0.5 + u / 10) * h for u, h in heads.items()) / sum(heads.values())
    assert wave.loc["acme", "retention"] == pytest.approx(expected)
    nxt = frame[frame["period"] == "2026Q3"].set_index("unit")
    assert nxt.loc["acme", "complaints"] == 9 and pd.isna(nxt.loc["acme", "retention"])
    same = kpis.kpi_frame(store, ["complaints"], ["2026Q2"], lag=0, level="store").set_index("unit")
    assert list(same.index) == ["s1", "s2", "s3", "s4", "s5"] and same.loc["s1", "complaints"] == 7
    with pytest.raises(kpis.KpiError, match="Did you mean 'retention'"):
        kpis.kpi_frame(store, ["retension"], ["2026Q2"])
    with pytest.raises(kpis.KpiError, match="no organisation is in force in 2025Q2"):
        kpis.kpi_frame(store, ["complaints"], ["2025Q1"])


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cli(sqlite_url, monkeypatch, tmp_path, org):
    from surveys.store import open_store

    monkeypatch.setenv("TANDEM_DATABASE_URL", sqlite_url)
    monkeypatch.chdir(tmp_path)
    store = open_store(sqlite_url)
    org_store.import_organisation(store, org, as_of="2026-01-01")
    store.dispose()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_tandem_kpi_declare_import_and_list(cli, tmp_path):
    result = cli("kpi", "declare")
    assert result.exit_code == 0 and "Declared 7 KPIs" in result.output, result.output
    result = cli("kpi", "list")
    assert "retention: Employee retention (12 months) (percent; higher is better; mean weighted by headcount" in \
        result.output
    path = values_file(tmp_path, ["s1,2026Q3,complaints,3", "s2,2026Q3,complaints,4"])
    result = cli("kpi", "import", path)
    assert result.exit_code == 0 and "Imported 2 values of complaints for 2026Q3." in result.output, result.output
    values_file(tmp_path, ["s1,2026Q3,complaints,3", "s9,2026Q3,complaints,x"])
    result = cli("kpi", "import", path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:3:0: error [unknown-unit]" in result.output and f"{path}:3:0: error [bad-value]" in result.output


# --------------------------------------------------------------------------- ratio KPIs (recomputed from components)

RATIO_YAML = """\
kpis:
  resolved_contacts:
    label: Contacts resolved at first contact
    higher_is_better: true
    measure: count
    aggregation: sum
  fcr:
    label: First-contact resolution
    higher_is_better: true
    measure: ratio
    aggregation: ratio
    numerator: resolved_contacts
    denominator: contacts
"""
RESOLVED = {"s1": 90, "s2": 5, "s3": 40, "s4": 30, "s5": 10}
CONTACTS = {"s1": 100, "s2": 10, "s3": 50, "s4": 40, "s5": 10}
RATIO = kpis.KpiDefinition("fcr", "FCR", True, "ratio", "ratio", numerator="resolved_contacts",
                           denominator="contacts")


def test_a_ratio_kpi_is_declared_with_components_that_are_sums(tmp_path, store):
    path = tmp_path / "kpis.yaml"
    path.write_text(RATIO_YAML, encoding="utf-8")
    # 'contacts' is declared already (shipped, aggregation: sum): known as definitions, it is checked too
    declared = {d.id: d for d in kpis.read_definitions(path, known=kpis.definitions(store))}
    assert declared["fcr"].components == ("resolved_contacts", "contacts")
    kpis.declare_kpis(store, list(declared.values()))
    assert kpis.definitions(store)["fcr"] == declared["fcr"]  # numerator and denominator are stored
    with pytest.raises(kpis.KpiImportRefused, match="unknown-component"):
        kpis.read_definitions(path)  # 'contacts' declared nowhere


def test_broken_ratio_declarations_are_reported_together(tmp_path, store):
    path = tmp_path / "kpis.yaml"
    path.write_text("""\
kpis:
  rate:
    label: Rate
    higher_is_better: true
    measure: ratio
    aggregation: ratio
    numerator: growth
  growth:
    label: Growth
    higher_is_better: true
    measure: percent
    aggregation: mean
    denominator: contacts
  same:
    label: Same
    higher_is_better: true
    measure: ratio
    aggregation: ratio
    numerator: contacts
    denominator: contacts
  old:
    label: Old
    higher_is_better: true
    measure: ratio
    aggregation: ratio
    numerator: contacts
    denominator: retention
""", encoding="utf-8")
    with pytest.raises(kpis.KpiImportRefused) as caught:
        kpis.read_definitions(path, known=kpis.definitions(store))
    found = [(p.line, p.rule) for p in caught.value.problems]
    assert found == [(2, "ratio-components"), (7, "component-not-sum"), (13, "components-need-ratio"),
                     (20, "unknown-component"), (27, "component-not-sum")]
    by_rule = {p.rule: p for p in caught.value.problems}
    assert "aggregation: sum" in by_rule["component-not-sum"].fix and "denominator" in by_rule["ratio-components"].message


def test_a_ratio_rolls_up_as_the_ratio_of_summed_components_not_the_mean_of_ratios(org):
    frame = kpis.rollup(org, {}, definition=RATIO, components=(RESOLVED, CONTACTS))
    # north: (90 + 5 + 40) / (100 + 10 + 50) = 135 / 160; the mean of its stores' ratios is (.9 + .5 + .8) / 3
    assert frame.loc["north", "value"] == pytest.approx(135 / 160)
    assert frame.loc["north", "value"] != pytest.approx((0.9 + 0.5 + 0.8) / 3)
    assert frame.loc["south", "value"] == pytest.approx(40 / 50)
    assert frame.loc["acme", "value"] == pytest.approx(175 / 210)
    mean_of_ratios = kpis.rollup(org, {s: RESOLVED[s] / CONTACTS[s] for s in RESOLVED}, definition=MEAN)
    assert mean_of_ratios.loc["acme", "value"] == pytest.approx(((0.9 + 0.5 + 0.8) / 3 + (0.75 + 1.0) / 2) / 2)
    assert mean_of_ratios.loc["acme", "value"] != pytest.approx(frame.loc["acme", "value"], abs=0.01)
    assert frame.loc["s2", "value"] == pytest.approx(0.5) and frame.loc["s2", "source"] == "reported"
    assert tuple(frame.loc[["acme", "north", "south"], "n"]) == (5, 3, 2)
    assert set(frame.loc[["acme", "north"], "source"]) == {"rolled up"}


def test_a_ratio_keeps_a_reported_value_and_adds_only_complete_pairs(org):
    resolved = {k: v for k, v in RESOLVED.items() if k != "s5"}  # s5 reports its ratio, not its components
    frame = kpis.rollup(org, {"s5": 0.2, "north": 0.5}, definition=RATIO, components=(resolved, CONTACTS))
    assert frame.loc["s5", "value"] == pytest.approx(0.2) and frame.loc["s5", "source"] == "reported"
    assert frame.loc["north", "value"] == pytest.approx(0.5)  # a reported figure is never overwritten
    assert frame.loc["south", "value"] == pytest.approx(30 / 40)  # s5 has no pair: it counts nowhere above
    assert frame.loc["acme", "value"] == pytest.approx(165 / 200)
    with pytest.raises(kpis.KpiError, match="numerator and denominator") as missing:
        kpis.rollup(org, {}, definition=RATIO)
    assert missing.value.where == "KPI 'fcr'"
    zero = kpis.rollup(org, {}, definition=RATIO, components=({"s1": 0}, {"s1": 0}))
    assert zero["value"].isna().all()


def test_kpi_frame_recomputes_a_ratio_from_the_stored_components(store, tmp_path):
    path = tmp_path / "kpis.yaml"
    path.write_text(RATIO_YAML, encoding="utf-8")
    kpis.declare_kpis(store, kpis.read_definitions(path, known=kpis.definitions(store)))
    rows = [f"{s},2026Q3,resolved_contacts,{n}" for s, n in RESOLVED.items()]
    rows += [f"{s},2026Q3,contacts,{n}" for s, n in CONTACTS.items()]
    kpis.import_kpis(store, values_file(tmp_path, rows))
    frame = kpis.kpi_frame(store, ["fcr"], ["2026Q2"], lag=1).set_index("unit")
    assert list(frame.columns) == ["period", "kpi_period", "level", "fcr"]
    assert frame.loc["acme", "fcr"] == pytest.approx(175 / 210)
    assert frame.loc["north", "fcr"] == pytest.approx(135 / 160)
    assert frame.loc["s3", "fcr"] == pytest.approx(0.8)


def test_tandem_kpi_declares_and_lists_a_ratio(cli, tmp_path):
    assert cli("kpi", "declare").exit_code == 0
    path = tmp_path / "ratio.yaml"
    path.write_text(RATIO_YAML, encoding="utf-8")
    result = cli("kpi", "declare", path)
    assert result.exit_code == 0 and "Declared 2 KPIs: resolved_contacts, fcr." in result.output, result.output
    result = cli("kpi", "list")
    assert "fcr: First-contact resolution (ratio; higher is better; ratio resolved_contacts / contacts recomputed " \
           "from their sums up the organisation)" in result.output
