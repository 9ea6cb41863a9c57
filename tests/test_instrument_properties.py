"""Property test: random mutations of a valid instrument never raise anything but InstrumentError.

The example instrument is parsed to plain data, mutated (keys deleted or renamed,
values replaced by other types, values swapped, junk strings and unicode inserted,
ids renamed), dumped back to YAML and loaded. Loading must either succeed or raise
:class:`InstrumentError` whose problems all carry a position and a rule.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from surveys.instrument import Instrument, InstrumentError
from surveys.loader import parse_instrument

EXAMPLE = Path(__file__).resolve().parent / "instruments" / "valid" / "team_check_in.yaml"
BASE: Any = YAML(typ="safe", pure=True).load(EXAMPLE.read_text(encoding="utf-8"))

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "likert", "agree5", "sat_1", "enps <= 6", "__import__('os')", "en", "de", "\u202e",
                     "ünïcödé ✓", "a" * 300, "{x}", "*alias", "&anchor", "- item", "key: value", "null",
                     "2026-01-01", "0x1F", ".inf"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["en", "de", "fr", "id", "type", "text"]), st.text(max_size=8), max_size=3),
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for element in path[:-1]:
        tree = tree[element]
    return tree


def _mutate(tree: Any, data: st.DataObject) -> Any:
    paths = [p for p in _paths(tree) if p]
    if not paths:
        return data.draw(JUNK)
    action = data.draw(st.sampled_from(["delete", "replace", "swap", "rename_key", "duplicate", "junk_key",
                                        "rename_id"]))
    ids = [p for p in paths if p[-1] == "id"]
    path = data.draw(st.sampled_from(ids if action == "rename_id" and ids else paths))
    parent, key = _parent(tree, path), path[-1]
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = data.draw(JUNK)
    elif action == "swap":
        other = data.draw(st.sampled_from(paths))
        if other[: len(path)] != path and path[: len(other)] != other:  # neither contains the other
            other_parent = _parent(tree, other)
            parent[key], other_parent[other[-1]] = copy.deepcopy(other_parent[other[-1]]), copy.deepcopy(parent[key])
    elif action == "rename_key" and isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=12))] = parent.pop(key)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif action == "junk_key" and isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=12))] = data.draw(JUNK)
    elif action == "rename_id":  # to a fresh name, or to another id (a collision)
        others = [_parent(tree, p)[p[-1]] for p in ids]
        parent[key] = data.draw(st.one_of(st.text(max_size=10), st.sampled_from(others)))
    return tree


def _dump(tree: Any) -> str:
    buffer = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_unicode = True
    yaml.dump(tree, buffer)
    return buffer.getvalue()


def _check_mutant(data: st.DataObject, rounds: int) -> None:
    tree = copy.deepcopy(BASE)
    for _ in range(rounds):
        tree = _mutate(tree, data)
    text = _dump(tree)
    try:
        instrument = parse_instrument(text, source="mutant.yaml")
    except InstrumentError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.rule and problem.message
            assert problem.line >= 0 and problem.column >= 0
            assert problem.format().startswith("mutant.yaml:")
    else:
        assert isinstance(instrument, Instrument)
        assert instrument.items is not None and instrument.unit_question


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rounds=st.integers(min_value=1, max_value=4))
def test_mutated_instruments_raise_only_instrument_error(data: st.DataObject, rounds: int) -> None:
    _check_mutant(data, rounds)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rounds=st.integers(min_value=1, max_value=6))
def test_many_mutated_instruments_raise_only_instrument_error(data: st.DataObject, rounds: int) -> None:
    _check_mutant(data, rounds)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_instrument_error(text: str) -> None:
    try:
        parse_instrument(text, source="random.yaml")
    except InstrumentError as exc:
        assert exc.problems


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(EXAMPLE.read_text(encoding="utf-8"))))
def test_truncated_files_raise_only_instrument_error(cut: int) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")[:cut]
    try:
        parse_instrument(text, source="truncated.yaml")
    except InstrumentError as exc:
        assert exc.problems
