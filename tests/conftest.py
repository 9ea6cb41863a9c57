"""Shared fixtures: the reference conformance suite and its data sets."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"


@cache
def reference_cases() -> dict:
    """All conformance cases of ``tests/reference/expected.json`` keyed by name."""
    return json.loads((REFERENCE_DIR / "expected.json").read_text())


def reference_cases_of(kind: str) -> dict:
    """The conformance cases of one ``kind`` (``sem``, ``reliability``, ``efa`` ...)."""
    return {name: case for name, case in reference_cases().items() if case["kind"] == kind}


@cache
def _reference_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / "data" / name)


def reference_data(name: str) -> pd.DataFrame:
    """A fresh copy of one reference data set (``bfi.csv`` ...)."""
    return _reference_data(name).copy()


@pytest.fixture
def reference_dataset():
    """Fixture form of :func:`reference_data`."""
    return reference_data


# --------------------------------------------------------------------------- stores (STORE)

POSTGRES_TEST_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_test_url() -> str:
    """The PostgreSQL server of the tests (``TANDEM_TEST_DATABASE_URL`` overrides)."""
    import os

    return os.environ.get("TANDEM_TEST_DATABASE_URL") or POSTGRES_TEST_URL


def _postgres_schema_url():
    """A fresh schema on the test server and a URL whose search_path points at it; skip/fail if no server."""
    import os
    import uuid

    import sqlalchemy as sa

    base = sa.engine.make_url(postgres_test_url())
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        engine = sa.create_engine(base.set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3})
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        reason = f"no PostgreSQL server answers at {base.render_as_string(hide_password=True)}: {str(exc.orig).splitlines()[0]}"
        if os.environ.get("TANDEM_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (TANDEM_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    url = base.set(drivername="postgresql+psycopg").update_query_dict({"options": f"-csearch_path={schema}"})
    return engine, schema, url.render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a fresh SQLite file under ``tmp_path``."""
    return f"sqlite:///{tmp_path / 'tandem.db'}"


@pytest.fixture
def postgres_url():
    """URL of a fresh, empty schema on the test PostgreSQL server (dropped afterwards)."""
    engine, schema, url = _postgres_schema_url()
    yield url
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url):
    """An open, migrated :class:`surveys.store.Store` on a fresh SQLite file."""
    from surveys.store import open_store

    store = open_store(sqlite_url)
    yield store
    store.dispose()


@pytest.fixture
def postgres_store(postgres_url):
    """An open, migrated store on a fresh PostgreSQL schema (skips when no server answers)."""
    from surveys.store import open_store

    store = open_store(postgres_url)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request):
    """Each test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_url(request):
    """A fresh database URL on SQLite and on PostgreSQL (for tests that open several stores)."""
    return request.getfixturevalue(f"{request.param}_url")


class Mismatches:
    """Collects 'case / statistic: expected x, got y' lines and fails once with all of them."""

    def __init__(self, case: str, tol: float) -> None:
        self.case, self.tol, self.lines = case, tol, []

    def check(self, statistic: str, expected: float, actual: float) -> None:
        if not abs(float(actual) - float(expected)) <= self.tol:
            self.lines.append(f"{self.case} / {statistic}: expected {expected:.6f}, got {float(actual):.6f} "
                              f"(tolerance {self.tol})")

    def assert_none(self) -> None:
        if self.lines:
            pytest.fail("\n".join(self.lines))


def fit_options(case: dict) -> dict:
    """The ``analysis.sem.fit`` keyword arguments of a reference case's lavaan ``options``."""
    options = case.get("options", {})
    kwargs: dict = {}
    if "missing" in options:
        kwargs["missing"] = "fiml" if options["missing"] in ("ml", "fiml") else options["missing"]
    if "group" in options:
        kwargs["group"] = options["group"]
    if "group.equal" in options:
        kwargs["group_equal"] = tuple(options["group.equal"])
    if "group.partial" in options:
        kwargs["group_partial"] = tuple(options["group.partial"])
    if "fixed.x" in options:
        kwargs["fixed_x"] = bool(options["fixed.x"])
    if "cluster" in options:
        kwargs["cluster"] = options["cluster"]
    return kwargs
