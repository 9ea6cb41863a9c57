"""Published results: the Insight pages' first view, computed ahead and read without a response.

* The JSON codec keeps every value the pages show exactly and builds nothing else: a
  payload naming a class outside Tandem's packages, or a class that is not a result
  record, is refused (an attacker with a database backup could otherwise plant code).
* The store keeps one publication per campaign set and version, on SQLite and PostgreSQL.
* Every Insight page rendered from a publication, with reading responses made to fail,
  shows exactly what the same page shows computed from the responses.
* A publication answers only its own version (a new response: the pages compute), and a
  manager's own node comes from it while a sibling's node is still refused.
"""

from __future__ import annotations

import dataclasses
import json
import zlib

import numpy as np
import pandas as pd
import pytest
from app_support import ROOT, texts
from privacy.attacks import ORG_CAMPAIGN, seed_org_campaign
from streamlit.testing.v1 import AppTest

from services import published
from services.result_codec import CodecError, dumps, loads
from services.selection import select
from surveys import published as stored
from surveys.errors import TandemError

PAGES = ["insight_overview", "insight_instrument_health", "insight_drivers", "insight_compare", "insight_linkage",
         "insight_comments"]
PUBLISHED = "Shown from the results published"


def same(a, b, path="result"):
    """Exact equality of decoded results (frames with dtypes, records field by field)."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=path)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=path)
    elif isinstance(a, pd.Index):
        pd.testing.assert_index_equal(a, b, exact=True, obj=path)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
        assert a.dtype == b.dtype, path
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            if f.metadata.get("stored", True):
                same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


# --------------------------------------------------------------------------- codec
def test_values_round_trip_exactly():
    frame = pd.DataFrame({"x": [0.1, np.nan, np.inf], "n": pd.array([1, None, 3], dtype="Int64"),
                          "g": pd.Categorical(["b", "a", "b"], categories=["b", "a"], ordered=True),
                          "s": ["a", None, "c"], "ok": [True, False, True],
                          "t": pd.to_datetime(["2026-01-01", None, "2026-03-01"]).tz_localize("UTC")},
                         index=pd.Index(["u1", "u2", "u3"], name="unit"))
    frame.columns = pd.Index(["x", "n", "g", "s", "ok", "t"])
    wide = pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "l"]))
    value = {"frame": frame, "wide": wide, ("key", 1): (1, 2.5, None), "set": frozenset({"a", "b"}),
             "array": np.arange(6, dtype=np.int32).reshape(2, 3), "series": pd.Series([1.5, -0.0], name="s"),
             "refused": published.Refused("too few units", where="linkage", fix="add units")}
    same(value, loads(dumps(value)))


def test_every_page_result_of_linked_data_round_trips():
    """What the pages show (metrics, health with its CFA, drivers, comparisons, the linkage ...)."""
    from services.sources import demo_dataset

    dataset = demo_dataset(n_units=34)  # the chain needs 32 units
    found = published.page_results(dataset, select(dataset))
    assert {"metrics", "health", "drivers", "compare", "responses", "parallel", "linkage"} <= {key[0] for key in found}
    assert not any(isinstance(v, published.Refused) for v in found.values())
    same(found, loads(dumps(found)))
    # the per-respondent scored frame and the fitted model are left out of what is kept
    health = loads(dumps(found["health", "employee"]))
    assert health.scores is None and health.cfa.fitted is None and len(health.cfa.estimates)


def _payload(tree: object) -> bytes:
    return zlib.compress(json.dumps(tree).encode())


@pytest.mark.parametrize(("tree", "what"), [
    ({"~": "record", "class": "os:system", "fields": {}}, "outside Tandem's packages"),
    ({"~": "record", "class": "subprocess:Popen", "fields": {"args": "touch /tmp/x"}}, "outside Tandem's packages"),
    ({"~": "record", "class": "surveys.store:Store", "fields": {}}, "not a result record"),
    ({"~": "record", "class": "surveys.store:open_store", "fields": {}}, "not a result record"),
    ({"~": "record", "class": "analysis.nothing:Here", "fields": {}}, "unknown class"),
    ({"~": "eval", "v": "1"}, "unknown tag"),
])
def test_a_planted_payload_builds_nothing(tree, what):
    """Someone who can write the store (a backup restored by hand) cannot make a page run code."""
    with pytest.raises(CodecError, match=what):
        loads(_payload(tree))


def test_corrupt_data_and_unknown_values_are_refused_with_where():
    with pytest.raises(CodecError, match="cannot be read"):
        loads(b"not zlib at all")

    class Handle:
        pass

    with pytest.raises(CodecError, match=r"result\.drivers\[0\] is a .*Handle"):
        dumps({"drivers": [Handle()]})


# --------------------------------------------------------------------------- store
def test_a_new_version_replaces_the_old_publication(any_store):
    old = ("campaigns", ("ee", 10, "open"), ("cx", 20, "open"))
    new = ("campaigns", ("ee", 11, "open"), ("cx", 20, "open"))
    stored.save(any_store, old, {"": b"old", "d1": b"old d1"})
    assert stored.load(any_store, old, "d1") == b"old d1"
    stored.save(any_store, new, {"": b"new"})
    assert stored.load(any_store, old, "") is None and stored.load(any_store, old, "d1") is None
    assert stored.load(any_store, new, "") == b"new" and stored.load(any_store, new, "d1") is None
    assert stored.nodes(any_store, new)["node"].tolist() == [""]
    stored.save(any_store, new, {"d1": b"new d1", "": b"newer"})  # more nodes of the same version: added
    assert stored.load(any_store, new, "") == b"newer" and stored.load(any_store, new, "d1") == b"new d1"
    assert stored.node_names(any_store, new) == ("", "d1")
    stored.withdraw(any_store, new)
    assert stored.nodes(any_store, new).empty


# --------------------------------------------------------------------------- pages
def _campaign_page(name: str, campaigns: list[str]) -> AppTest:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=300)
    at.run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value(campaigns).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at: AppTest) -> dict:
    """What a page shows: its texts (less the line naming the publication), metrics, tables."""
    lines = [line for line in texts(at).splitlines() if PUBLISHED not in line]
    return {"texts": lines, "metrics": [(m.label, m.value) for m in at.metric],
            "tables": [d.value.reset_index(drop=True) for d in at.dataframe]}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """The stored demo (employees and customers of 40 stores, linked) with the whole data published."""
    from services.demo import CUSTOMER_CAMPAIGN, EMPLOYEE_CAMPAIGN, seed_demo
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path_factory.mktemp('published') / 'demo.db'}"
    store = open_store(url)
    seed_demo(store)
    table = published.publish(store, [EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN], levels=[])
    store.dispose()
    assert table["node"].tolist() == ["(everything)"] and not table["refused"].iloc[0]
    return url, [EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN]


#: Pages compared with their live rendering in the fast suite (all of them with ``-m slow``); the
#: linkage, health and drivers results are compared exactly by the round trip of ``page_results``.
FAST_COMPARED = ["insight_overview", "insight_compare", "insight_comments"]


@pytest.mark.parametrize("compared", [FAST_COMPARED, pytest.param(PAGES, marks=pytest.mark.slow)],
                         ids=["three-pages", "every-page"])
def test_every_page_from_a_publication_shows_what_it_computes(demo_store, monkeypatch, compared):
    """Each Insight page renders with reading responses made to fail, and shows exactly
    what it shows computed from the responses once the publication is withdrawn."""
    from surveys import responses
    from surveys.store import open_store

    url, campaigns = demo_store
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)

    def no_reading(*_args, **_kwargs):
        raise AssertionError("a page read the responses although they are published")

    with monkeypatch.context() as patch:
        patch.setattr(responses, "responses_frame", no_reading)
        from_publication = {}
        for name in PAGES:
            at = _campaign_page(name, campaigns)
            assert PUBLISHED in texts(at), name
            from_publication[name] = _shown(at)
    store = open_store(url)
    version = published.sorted_version(store, campaigns)
    kept = {node: stored.load(store, version, node) for node in stored.nodes(store, version)["node"]}
    stored.withdraw(store, version)
    try:
        for name in compared:
            at = _campaign_page(name, campaigns)
            assert PUBLISHED not in texts(at), name
            live = _shown(at)
            assert from_publication[name]["texts"] == live["texts"], name
            assert from_publication[name]["metrics"] == live["metrics"], name
            assert len(from_publication[name]["tables"]) == len(live["tables"]), name
            for shown, computed in zip(from_publication[name]["tables"], live["tables"], strict=True):
                pd.testing.assert_frame_equal(shown, computed, obj=name)
    finally:
        stored.save(store, version, kept)  # for the next test of the module
        store.dispose()


@pytest.fixture
def org_store(tmp_path, monkeypatch):
    """The organisation store of the privacy attacks (two districts, six stores), published
    for the company and both districts."""
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'scoped.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_EMAILS", "boss@acme.example")
    seed_org_campaign(url)
    store = open_store(url)
    table = published.publish(store, [ORG_CAMPAIGN])
    store.dispose()
    assert table["node"].tolist() == ["(everything)", "acme", "d1", "d2"]
    return url


def test_stores_published_under_a_district_are_added_and_a_store_manager_reads_them(org_store, monkeypatch):
    """``--level store --under d1`` adds d1's stores to the publication of the same version
    (the districts stay), and the manager of store_01 then reads their pages from it."""
    from test_app_scoped import signed_in

    from surveys import responses
    from surveys.store import open_store

    store = open_store(org_store)
    table = published.publish(store, [ORG_CAMPAIGN], levels=["store"], under="d1")
    assert table["node"].tolist() == ["store_01", "store_02", "store_03", "store_04"]
    version = published.sorted_version(store, [ORG_CAMPAIGN])
    assert sorted(stored.nodes(store, version)["node"]) == sorted(
        [published.DATA_NODE, "", "acme", "d1", "d2", "store_01", "store_02", "store_03", "store_04"])
    assert published.published_data(store, version).nodes == ("", "acme", "d1", "d2", "store_01", "store_02",
                                                              "store_03", "store_04")
    with pytest.raises(TandemError, match="no unit 'd9'"):
        published.publish(store, [ORG_CAMPAIGN], levels=["store"], under="d9")
    store.dispose()

    reads = []
    original = responses.responses_frame
    monkeypatch.setattr(responses, "responses_frame", lambda *a, **k: reads.append(a) or original(*a, **k))
    at = signed_in("sm1@acme.example")  # manager of store_01
    assert PUBLISHED in texts(at) and not reads
    assert next(m.value for m in at.metric if m.label == "Responses") == "12"


def test_a_new_response_makes_the_pages_compute(org_store):
    from analysis.simulate import simulate_responses
    from surveys import campaigns, responses
    from surveys.store import open_store

    assert PUBLISHED in texts(_campaign_page("insight_overview", [ORG_CAMPAIGN]))
    store = open_store(org_store)
    instrument = campaigns.get_campaign(store, ORG_CAMPAIGN).instrument
    extra = simulate_responses(instrument, n_units=1, respondents_per_unit=1, seed=9).assign(unit="store_05")
    responses.import_frame(store, ORG_CAMPAIGN, extra)
    store.dispose()
    at = _campaign_page("insight_overview", [ORG_CAMPAIGN])
    assert PUBLISHED not in texts(at)
    assert next(m.value for m in at.metric if m.label == "Responses") == "55"


def test_a_manager_sees_their_node_from_the_publication_and_never_a_sibling(org_store, monkeypatch):
    from test_app_scoped import signed_in

    from surveys import responses

    reads = []
    original = responses.responses_frame
    monkeypatch.setattr(responses, "responses_frame", lambda *a, **k: reads.append(a) or original(*a, **k))
    at = signed_in("dm1@acme.example")  # manager of district d1 (stores 01-04)
    assert PUBLISHED in texts(at) and not reads
    assert next(m.value for m in at.metric if m.label == "Responses") == "34"  # 12 + 8 + 4 + 10, all of d1
    shown = texts(at) + " ".join(str(d.value) for d in at.dataframe)
    assert "store_05" not in shown and "store_06" not in shown
    at.session_state["_kept:insight:node"] = "d2"  # a tampered state: the sibling district
    at.run()
    assert "store_05" not in " ".join(str(d.value) for d in at.dataframe)
    assert next(m.value for m in at.metric if m.label == "Responses") == "34"


def test_an_altered_publication_is_not_used_and_the_pages_compute(org_store):
    """A payload rewritten in the store (not what the codec wrote) is refused with a warning,
    and the page shows what it computes from the responses."""
    import sqlalchemy as sa

    from surveys.schema import published_results
    from surveys.store import open_store

    store = open_store(org_store)
    with store.write() as conn:
        conn.execute(sa.update(published_results).where(published_results.c.node == published.DATA_NODE)
                     .values(payload=_payload({"~": "record", "class": "os:system", "fields": {}})))
    store.dispose()
    at = _campaign_page("insight_overview", [ORG_CAMPAIGN])
    assert PUBLISHED not in texts(at)
    assert any("published results cannot be used" in w.value for w in at.sidebar.warning)
    assert next(m.value for m in at.metric if m.label == "Responses") == "54"


def test_the_command_publishes_and_names_what_it_could_not_compute(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from surveys.store import open_store
    from tandem_cli.main import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    seed_org_campaign(url)
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["analyze", "publish", "--campaign", ORG_CAMPAIGN, "--level", "district"])
    assert result.exit_code == 0, result.output
    assert "(everything): 54 employee" in result.output and "d2: 20 employee" in result.output
    assert "Published 3 nodes of ee-org" in result.output
    store = open_store(url)
    version = published.sorted_version(store, [ORG_CAMPAIGN])
    assert sorted(stored.nodes(store, version)["node"]) == sorted([published.DATA_NODE, "", "d1", "d2"])
    store.dispose()
    bad = CliRunner().invoke(app, ["analyze", "publish", "--campaign", ORG_CAMPAIGN, "--level", "shop"])
    assert bad.exit_code == 1 and "no level 'shop'" in bad.output and "Traceback" not in bad.output


def test_a_published_view_reads_the_data_once_whatever_a_page_asks_of_it():
    from types import SimpleNamespace

    from views.insight import PublishedView

    loads = []
    summary = published.SideSummary("employee", 54, False, None, 5, 10)
    view = PublishedView(summary, instrument=None,
                         load=lambda: loads.append(1) or SimpleNamespace(frame="rows", comment_rows="mask"))
    assert (view.n, view.k, view.min_comment_group_size) == (54, 5, 10) and not loads  # from the summary
    assert (view.frame, view.comment_rows, view.frame) == ("rows", "mask", "rows")
    assert loads == [1]
