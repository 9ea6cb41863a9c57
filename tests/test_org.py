"""The organisation as data: the file rules (line and rule of every problem), versions by date,
idempotent imports, campaigns taking their units from the organisation, and ``tandem org``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surveys import campaigns as cp
from surveys import org_store
from surveys.loader import parse_instrument
from surveys.organisation import (
    MAX_FIELD,
    Organisation,
    OrganisationError,
    parse_organisation,
    read_organisation,
)
from surveys.question_types import UNIT_ID
from tandem_cli.main import app

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"

HEADER = "unit_id,name,parent_id,level,managers,format\n"
ORG = HEADER + """\
acme,ACME Retail,,company,ceo@acme.example,
north,North,acme,region,ann@acme.example;BOB@acme.example,
south,South,acme,region,,
n1,District N1,north,district,ann@acme.example,
s1,District S1,south,district,,
store_01,Store 01 Lyon,n1,store,,large
store_02,"Store 02, Paris",n1,store,,small
store_03,Store 03,s1,store,,large
"""


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(OrganisationError) as caught:
        parse_organisation(text, source="org.csv")
    return [(p.line, p.rule) for p in caught.value.problems]


def without_units_survey():
    """The store test survey without its own units (the unit comes with the invitation)."""
    text = SURVEY.read_text(encoding="utf-8")
    start, end = text.index("\nunits:\n") + 1, text.index("\nscales:\n") + 1
    text = text[:start] + text[end:]
    text = text.replace("{id: unit, type: unit,", "{id: unit, type: unit, source: invitation,")
    instrument = parse_instrument(text, source="no-units.yaml")
    assert instrument.units == ()
    return instrument


# --------------------------------------------------------------------------- the model


def test_the_model_answers_tree_questions():
    org = parse_organisation(ORG)
    assert org.root == "acme"
    assert org.levels == ("company", "region", "district", "store")
    assert org.children("n1") == ("store_01", "store_02")
    assert org.parent("store_01") == "n1"
    assert org.ancestors("store_01") == ("n1", "north", "acme")
    assert org.subtree("north") == ("north", "n1", "store_01", "store_02")
    assert org.leaves() == ("store_01", "store_02", "store_03")
    assert org.at_level("district") == ("n1", "s1")
    assert org.level_of("s1") == "district" and org.depth("s1") == 2
    assert org.unit("store_02").name == "Store 02, Paris"
    assert org.unit("store_01").attributes == {"format": "large"}
    assert org.managers_of("north") == ("ann@acme.example", "bob@acme.example")
    assert org.units_managed_by("Ann@ACME.example") == ("north", "n1")
    assert org.counts() == {"company": 1, "region": 2, "district": 2, "store": 3}


def test_the_content_hash_ignores_row_order_and_sees_changes():
    lines = ORG.splitlines(keepends=True)
    shuffled = lines[0] + "".join(reversed(lines[1:]))
    assert parse_organisation(shuffled).sha256 == parse_organisation(ORG).sha256
    assert parse_organisation(ORG.replace("Store 03", "Store 3")).sha256 != parse_organisation(ORG).sha256


# --------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(("text", "expected"), [
    ("", [(1, "empty-file")]),
    (HEADER, [(1, "empty-file")]),
    ("unit_id,name,parnt,level\nacme,A,,company\n", [(1, "missing-column")]),
    ("unit_id,name,parent_id,level,name\nacme,A,,company,x\n", [(1, "duplicate-column")]),
    (HEADER + "acme,A,,company,,\nx,X,acme,region,,\nx,X again,acme,region,,\n", [(4, "duplicate-id")]),
    (HEADER + "acme,A,,company,,\nx,X,acme,,,\n", [(3, "missing-level")]),
    (HEADER + "acme,A,,company,,\nx,,acme,region,,\n", [(3, "missing-name")]),
    (HEADER + "acme,A,,company,,\nx,X,acme,region,ann@,\n", [(3, "bad-email")]),
    (HEADER + "acme,A,,company,,\nx,X,acme,region,ann@example.org;not an address,\n", [(3, "bad-email")]),
    (HEADER + "acme,A,,company,,\nx y,X,acme,region,,\n", [(3, "bad-unit-id")]),
    (HEADER + "acme,A,,company,,\nx,X,nowhere,region,,\n", [(3, "unknown-parent")]),
    (HEADER + "acme,A,,company,,\nother,B,,company,,\n", [(3, "several-roots")]),
    (HEADER + "a,A,b,company,,\nb,B,a,company,,\n", [(1, "no-root"), (2, "cycle")]),
    (HEADER + "acme,A,,company,,\nx,X,x,region,,\n", [(3, "cycle")]),
    (HEADER + "acme,A,,company,,\nr,R,acme,region,,\ns,S,r,store,,\nt,T,acme,store,,\n", [(5, "level-depth")]),
    (HEADER + "acme,A,,company,,\nr,R,acme,region,,\nq,Q,acme,area,,\nz,Z,acme,region,,\n", [(4, "level-depth")]),
    (HEADER + 'acme,A,,company,,\n"x,X,acme,region,,\n', [(3, "csv-syntax")]),
])
def test_each_broken_file_names_its_line_and_rule(text, expected):
    assert problems_of(text) == expected


def test_every_problem_is_reported_at_once_in_file_order():
    text = HEADER + """\
acme,ACME,,company,,
x,X,acme,region,not-an-email,
a,A,b,district,,
b,B,a,district,,
store_01,S1,nrth,store,,
store_01,S1 again,acme,,,
zz,Z,,company,,
"""
    assert problems_of(text) == [(3, "bad-email"), (4, "cycle"), (6, "unknown-parent"), (7, "duplicate-id"),
                                 (7, "missing-level"), (8, "several-roots")]


def test_a_long_cycle_is_reported_once_with_its_path():
    rows = [f"u{i},U{i},u{(i + 1) % 4},district,," for i in range(4)]
    with pytest.raises(OrganisationError) as caught:
        parse_organisation(HEADER + "acme,A,,company,,\n" + "\n".join(rows) + "\n", source="org.csv")
    cycles = [p for p in caught.value.problems if p.rule == "cycle"]
    assert len(cycles) == 1 and cycles[0].line == 3
    assert "u0 -> u1 -> u2 -> u3 -> u0" in cycles[0].message


def test_misspelt_parents_and_columns_get_a_suggestion():
    with pytest.raises(OrganisationError) as caught:
        parse_organisation(ORG.replace("store_03,Store 03,s1", "store_03,Store 03,s11"), source="org.csv")
    assert "Did you mean 's1'?" in caught.value.message
    with pytest.raises(OrganisationError) as caught:
        parse_organisation("unit_id,name,parent_idd,level\nacme,A,,company\n", source="org.csv")
    assert "Did you mean 'parent_idd'?" in caught.value.message


def test_hostile_strings_are_cleaned_or_refused(tmp_path):
    org = parse_organisation(HEADER + "acme,\u202eACME\x1b[31m,,company,,\u200bbig\n")
    assert org.unit("acme").name == "ACME[31m"
    assert org.unit("acme").attributes == {"format": "big"}
    assert problems_of(HEADER + f"acme,{'A' * (MAX_FIELD + 1)},,company,,\n") == [(2, "size-limit")]
    assert problems_of(HEADER + "acme,A,,company,,\n../../etc,X,acme,region,,\n") == [(3, "bad-unit-id")]
    binary = tmp_path / "org.csv"
    binary.write_bytes(b"unit_id,name,parent_id,level\nacme,\xff\xfe,,company\n")
    with pytest.raises(OrganisationError, match=r"org.csv:2:0: error \[encoding\]"):
        read_organisation(binary)
    with pytest.raises(OrganisationError, match=r"\[file\]"):
        read_organisation(tmp_path / "missing.csv")


def test_too_many_problems_are_counted_not_all_listed():
    rows = "".join(f"x{i},X,acme,region,bad,\n" for i in range(1_200))
    with pytest.raises(OrganisationError) as caught:
        parse_organisation(HEADER + "acme,A,,company,,\n" + rows, source="org.csv")
    assert len(caught.value.problems) == 1_001
    assert caught.value.problems[-1].rule == "more-problems"


def test_a_large_organisation_is_read_in_a_moment(tmp_path):
    rows = ["acme,A,,company,,"] + [f"r{r},R{r},acme,region,," for r in range(20)]
    rows += [f"d{r}_{d},D,r{r},district,," for r in range(20) for d in range(50)]
    rows += [f"s{r}_{d}_{s},S,d{r}_{d},store,,small" for r in range(20) for d in range(50) for s in range(20)]
    path = tmp_path / "org.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    org = read_organisation(path)
    assert len(org) == 1 + 20 + 1_000 + 20_000
    assert len(org.subtree("r3")) == 1 + 50 + 1_000
    assert all(UNIT_ID.fullmatch(u) for u in org.leaves())


# --------------------------------------------------------------------------- versions in the store


def test_versions_are_in_force_from_their_date(any_store):
    first = parse_organisation(ORG)
    second = parse_organisation(ORG + "store_04,Store 04,s1,store,,small\n")
    v1 = org_store.import_organisation(any_store, first, as_of="2026-01-01").version
    v2 = org_store.import_organisation(any_store, second, as_of=dt.date(2026, 7, 1)).version
    assert org_store.org_at(any_store, "2025-12-31") is None
    assert org_store.version_at(any_store, "2026-01-01").id == v1.id
    assert org_store.version_at(any_store, "2026-06-30").id == v1.id
    assert org_store.version_at(any_store, "2026-07-01").id == v2.id
    assert "store_04" not in org_store.org_at(any_store, "2026-03-01")
    assert "store_04" in org_store.org_at(any_store, "2027-01-01")
    restored = org_store.org_at(any_store, "2026-08-01")
    assert restored.sha256 == second.sha256
    assert restored.managers_of("north") == ("ann@acme.example", "bob@acme.example")
    assert restored.unit("store_01").attributes == {"format": "large"}
    assert org_store.units_during(any_store, dt.date(2026, 4, 1), dt.date(2026, 9, 30)) == set(second.units)
    assert org_store.units_during(any_store, dt.date(2026, 1, 1), dt.date(2026, 3, 31)) == set(first.units)


def test_importing_the_same_content_twice_is_idempotent(any_store):
    org = parse_organisation(ORG)
    first = org_store.import_organisation(any_store, org, as_of="2026-01-01")
    again = org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    later = org_store.import_organisation(any_store, org, as_of="2026-03-01")  # same content still in force
    assert first.new and not again.new and not later.new
    assert again.version == first.version == later.version
    assert len(org_store.list_versions(any_store)) == 1


def test_a_corrected_file_of_the_same_day_replaces_the_version_in_force(any_store):
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    fixed = org_store.import_organisation(any_store, parse_organisation(ORG.replace("Store 03", "Store 3")),
                                          as_of="2026-01-01")
    assert fixed.new
    assert org_store.org_at(any_store, "2026-01-01").unit("store_03").name == "Store 3"
    assert org_store.units_during(any_store, dt.date(2025, 12, 1), dt.date(2026, 1, 31)) == set(
        parse_organisation(ORG).units)


def test_a_bad_date_says_how_to_write_it(any_store):
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        org_store.import_organisation(any_store, parse_organisation(ORG), as_of="01/07/2026")


# --------------------------------------------------------------------------- campaigns from the organisation


def test_a_campaign_without_units_takes_the_leaves_of_the_organisation_in_force(any_store):
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    instrument = without_units_survey()
    campaign = cp.open_campaign(any_store, cp.create_campaign(any_store, instrument, campaign_id="ee1").id)
    assert [u.id for u in campaign.instrument.units] == ["store_01", "store_02", "store_03"]
    assert campaign.instrument.text(campaign.instrument.units[1].label, "de") == "Store 02, Paris"
    assert campaign.instrument.sha256 == instrument.sha256  # still the pinned version
    assert len(cp.invite(any_store, "ee1", unit="store_02", count=2)) == 2
    with pytest.raises(cp.CampaignError, match="Did you mean 'store_03'"):
        cp.invite(any_store, "ee1", unit="store_3", count=1)
    with pytest.raises(cp.CampaignError):
        cp.invite(any_store, "ee1", unit="north", count=1)
    # a later organisation does not change the campaign
    org_store.import_organisation(any_store, parse_organisation(ORG + "store_04,S4,s1,store,,\n"), as_of="2026-02-01")
    assert [u.id for u in cp.get_campaign(any_store, "ee1").instrument.units] == ["store_01", "store_02", "store_03"]


def test_answers_and_imports_of_an_org_campaign_are_checked_against_its_units(any_store):
    import pandas as pd

    from surveys import responses

    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    cp.create_campaign(any_store, without_units_survey(), campaign_id="ee1")
    cp.open_campaign(any_store, "ee1")
    token = cp.invite(any_store, "ee1", unit="store_02", count=1)[0]
    answers = {"role": "staff", "sat": 4, "bored": 2, "ms_1": 5, "ms_2": 1, "enps": 9}
    cp.submit(any_store, "ee1", answers, token=token, language="en")
    assert responses.responses_frame(any_store, "ee1")["unit"].tolist() == ["store_02"]
    with pytest.raises(responses.ImportRefused, match="row 1: unit"):
        responses.import_frame(any_store, "ee1", pd.DataFrame([{**answers, "unit": "north"}]))
    assert responses.import_frame(any_store, "ee1", pd.DataFrame([{**answers, "unit": "store_03"}])) == 1


def test_a_campaign_can_take_the_units_of_a_chosen_level(any_store):
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    campaign = cp.create_campaign(any_store, without_units_survey(), campaign_id="ee1", unit_level="district")
    assert campaign.org_units == (("n1", "District N1"), ("s1", "District S1"))
    assert campaign.org_version_id == org_store.version_at(any_store).id
    with pytest.raises(cp.CampaignError, match="Did you mean 'region'"):
        cp.create_campaign(any_store, without_units_survey(), campaign_id="ee2", unit_level="regoin")


def test_the_organisation_in_force_on_the_opening_day_is_used(any_store):
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    org_store.import_organisation(any_store, parse_organisation(ORG + "store_04,S4,s1,store,,\n"), as_of="2027-01-01")
    early = cp.create_campaign(any_store, without_units_survey(), campaign_id="ee1",
                               opens_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    late = cp.create_campaign(any_store, without_units_survey(), campaign_id="ee2",
                              opens_at=dt.datetime(2027, 2, 1, tzinfo=dt.UTC))
    assert "store_04" not in dict(early.org_units) and "store_04" in dict(late.org_units)


def test_instruments_with_their_own_units_and_stores_without_an_organisation_are_unchanged(any_store):
    from surveys.loader import load_instrument

    standalone = cp.create_campaign(any_store, without_units_survey(), campaign_id="free")
    assert standalone.org_units == () and standalone.instrument.units == ()
    with pytest.raises(cp.CampaignError, match="tandem org import"):
        cp.create_campaign(any_store, without_units_survey(), campaign_id="lvl", unit_level="store")
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    own = cp.create_campaign(any_store, load_instrument(SURVEY), campaign_id="own")
    assert [u.id for u in own.instrument.units] == ["north", "south", "east"]
    assert own.org_units == ()


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cli(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("TANDEM_DATABASE_URL", sqlite_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_tandem_org_validate_import_and_show(cli, tmp_path):
    path = tmp_path / "org.csv"
    path.write_text(ORG, encoding="utf-8")
    result = cli("org", "validate", path)
    assert result.exit_code == 0, result.output
    assert "8 units: 1 company, 2 regions, 2 districts, 3 stores" in result.output
    result = cli("org", "import", path, "--as-of", "2026-01-01")
    assert result.exit_code == 0 and "Imported organisation version 1" in result.output, result.output
    result = cli("org", "import", path, "--as-of", "2026-01-01")
    assert result.exit_code == 0 and "Unchanged" in result.output
    result = cli("org", "show", "--as-of", "2026-05-01")
    assert result.exit_code == 0, result.output
    assert "acme  ACME Retail  [company]  (3 stores)" in result.output
    assert "│  └─ n1  District N1  [district]  (2 stores)" in result.output
    assert "      └─ store_03  Store 03  [store]" in result.output
    result = cli("org", "show", "--as-of", "2025-05-01")
    assert result.exit_code == 1 and "no organisation is in force on 2025-05-01" in result.output


def test_tandem_org_refusals_list_every_problem_without_a_traceback(cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "acme,A,,company,,\nx,X,nowhere,region,,\ny,Y,acme,,x@,\n", encoding="utf-8")
    for command in (("org", "validate", path), ("org", "import", path, "--as-of", "2026-01-01")):
        result = cli(*command)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert f"{path}:3:0: error [unknown-parent]" in result.output
        assert f"{path}:4:4: error [missing-level]" in result.output
        assert f"{path}:4:5: error [bad-email]" in result.output
    result = cli("org", "import", path.with_name("org.csv"), "--as-of", "2026-13-01")
    assert result.exit_code == 1 and "YYYY-MM-DD" in result.output


def test_organisation_is_a_plain_model():
    org = Organisation(parse_organisation(ORG).units.values())
    assert repr(org) == "Organisation(8 units, levels ['company', 'region', 'district', 'store'])"


def test_tandem_campaign_create_takes_the_units_of_a_level(cli, tmp_path):
    instrument = tmp_path / "no-units.yaml"
    instrument.write_text(without_units_survey().source_text, encoding="utf-8")
    result = cli("campaign", "create", "ee1", "--instrument", instrument, "--unit-level", "district")
    assert result.exit_code == 1 and "no organisation is in force" in result.output
    assert "tandem org import org.csv --as-of" in result.output and "Traceback" not in result.output
    path = tmp_path / "org.csv"
    path.write_text(ORG, encoding="utf-8")
    assert cli("org", "import", path, "--as-of", "2026-01-01").exit_code == 0
    result = cli("campaign", "create", "ee1", "--instrument", instrument, "--unit-level", "distrct")
    assert result.exit_code == 1 and "has no level 'distrct'" in result.output
    assert "Did you mean 'district'" in result.output and "campaign 'ee1'" in result.output
    result = cli("campaign", "create", "ee1", "--instrument", instrument, "--unit-level", "district",
                 "--opens", "2026-03-01")
    assert result.exit_code == 0, result.output
    assert "Units: 2 district units of organisation version 1 (n1, s1)" in result.output
    result = cli("invite", "--campaign", "ee1", "--unit", "store_01", "--count", "1")
    assert result.exit_code == 1 and "store_01" in result.output
    result = cli("campaign", "create", "ee2", "--instrument", SURVEY, "--unit-level", "store")
    assert result.exit_code == 1 and "lists its own units" in result.output


def organisation_survey(audience: str = "customer"):
    """The store test survey without units, its unit question taking them from the organisation."""
    text = without_units_survey().source_text.replace("source: invitation", "source: organisation")
    return parse_instrument(text.replace("audience: employee", f"audience: {audience}"), source="org-units.yaml")


def test_an_open_link_offers_the_organisations_units_of_the_campaigns_level(any_store):
    from surveys import responses
    from surveys.answers import AnswerError

    instrument = organisation_survey()
    assert instrument.units == () and instrument.question("unit").source == "organisation"
    for mode in ("open", "invited"):  # respondents pick from nothing, or the question needs the organisation
        with pytest.raises(cp.CampaignError, match="no organisation is in force") as refused:
            cp.create_campaign(any_store, instrument, campaign_id=f"cx-{mode}", mode=mode)
        assert "tandem org import" in refused.value.fix and refused.value.where == f"campaign 'cx-{mode}'"
    with pytest.raises(cp.CampaignError, match="pick their unit"):
        cp.create_campaign(any_store, without_units_survey().source_text.replace(
            "audience: employee", "audience: customer"), campaign_id="cx", mode="open")
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    campaign = cp.create_campaign(any_store, instrument, campaign_id="cx", mode="open", unit_level="district")
    cp.open_campaign(any_store, "cx")
    offered = cp.get_campaign(any_store, "cx").instrument
    assert [u.id for u in offered.units] == ["n1", "s1"] and campaign.org_units == (("n1", "District N1"),
                                                                                     ("s1", "District S1"))
    answers = {"role": "staff", "sat": 4, "bored": 2, "ms_1": 5, "ms_2": 1, "enps": 9}
    cp.submit(any_store, "cx", {**answers, "unit": "s1"}, session=cp.new_session_key(), language="en")
    with pytest.raises(AnswerError, match="unit"):
        cp.submit(any_store, "cx", {**answers, "unit": "store_01"}, session=cp.new_session_key(), language="en")
    assert responses.responses_frame(any_store, "cx")["unit"].tolist() == ["s1"]
    leaves = cp.create_campaign(any_store, instrument, campaign_id="cx2", mode="open")
    assert [u for u, _ in leaves.org_units] == ["store_01", "store_02", "store_03"]


def test_open_employee_links_from_the_organisation_keep_the_privacy_rule(any_store, monkeypatch):
    org_store.import_organisation(any_store, parse_organisation(ORG), as_of="2026-01-01")
    employee = organisation_survey("employee")
    monkeypatch.delenv(cp.OPEN_EMPLOYEE_LINKS_VARIABLE, raising=False)
    with pytest.raises(cp.CampaignError, match="cannot use an open link") as refused:
        cp.create_campaign(any_store, employee, campaign_id="ee-open", mode="open", unit_level="store")
    assert cp.OPEN_EMPLOYEE_LINKS_VARIABLE in refused.value.fix
    invited = cp.create_campaign(any_store, employee, campaign_id="ee", unit_level="store")
    assert [u for u, _ in invited.org_units] == ["store_01", "store_02", "store_03"]
    monkeypatch.setenv(cp.OPEN_EMPLOYEE_LINKS_VARIABLE, "1")
    opened = cp.create_campaign(any_store, employee, campaign_id="ee-open", mode="open", unit_level="store")
    assert [u.id for u in opened.instrument.units] == ["store_01", "store_02", "store_03"]
