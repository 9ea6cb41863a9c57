"""The Organisation staff page: admins browse the versions in force and upload a new one.

AppTest cannot send a file to ``st.file_uploader``; the upload itself runs in Chromium
(``tests/browser/test_organisation_browser.py``), and the bytes it sends are checked by
``surveys.organisation.organisation_from_bytes``, tested here.
"""

from __future__ import annotations

import pytest
from app_support import app, goto, texts

from surveys import org_store
from surveys.organisation import MAX_ORG_BYTES, OrganisationError, organisation_from_bytes, parse_organisation
from surveys.store import open_store

PASSWORD = "correct horse battery"
VIEWER_PASSWORD = "viewer horse battery"
ORG_CSV = ("unit_id,name,parent_id,level,managers\n"
           "acme,Acme,,company,ceo@acme.example\n"
           "north,North,acme,district,dm@acme.example\n"
           "s1,Store 1,north,store,sm1@acme.example\n"
           "s2,Store 2,north,store,\n"
           "south,South,acme,district,\n"
           "s3,Store 3,south,store,\n")


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'org.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setenv("TANDEM_VIEWER_PASSWORD", VIEWER_PASSWORD)
    return url


def signed_in(password: str = PASSWORD):
    at = app()
    at.text_input(key="staff:password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_an_admin_sees_each_version_and_the_units_of_the_one_in_force(db_url):
    at = goto(signed_in(), "organisation")
    assert [t.value for t in at.title] == ["Organisation"]
    assert "No organisation yet" in texts(at)
    store = open_store(db_url)
    try:
        org_store.import_organisation(store, parse_organisation(ORG_CSV), as_of="2020-01-01", source="hris.csv")
        org_store.import_organisation(store, parse_organisation(ORG_CSV.replace("Store 3", "Store Three")),
                                      as_of="2099-01-01", source="next.csv")
    finally:
        store.dispose()
    at.run()
    versions, units = (d.value for d in at.dataframe)
    assert list(versions["file"]) == ["hris.csv", "next.csv"]
    assert list(versions["now"]) == ["in force", ""]  # the later one is not in force yet
    assert [u.strip("\u2003") for u in units["unit"]] == ["acme", "north", "s1", "s2", "south", "s3"]
    assert units.set_index("name").loc["North", "store units"] == 2 and "Store 3" in set(units["name"])
    assert units.set_index("name").loc["Store 1", "managers"] == "sm1@acme.example"
    at.selectbox(key="org:version").set_value(2).run()
    assert "Store Three" in set(at.dataframe[1].value["name"])


def test_only_admins_have_the_page(db_url):
    at = goto(signed_in(VIEWER_PASSWORD), "organisation")  # not registered for a viewer
    assert "Organisation" not in [t.value for t in at.title] and "Upload a new version" not in texts(at)


def test_uploaded_bytes_are_checked_like_a_file():
    assert len(organisation_from_bytes(("\ufeff" + ORG_CSV).encode())) == 6  # a byte-order mark is fine
    with pytest.raises(OrganisationError) as caught:
        organisation_from_bytes((ORG_CSV + "s4,Store 4,west,store,\ns1,Again,north,store,\n").encode(),
                                source="upload.csv")
    found = {(p.line, p.rule) for p in caught.value.problems}
    assert {8, 9} <= {line for line, _ in found} and len(found) >= 2  # every problem at once, with its line
    with pytest.raises(OrganisationError, match="not UTF-8") as caught:
        organisation_from_bytes(ORG_CSV.encode() + b"s4,\xff,north,store,\n")
    assert caught.value.problems[0].line == 8
    with pytest.raises(OrganisationError, match="more than"):
        organisation_from_bytes(b"x" * (MAX_ORG_BYTES + 1))
