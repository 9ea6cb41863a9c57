"""JSON for stored results: the tables, numbers and result records pages show, nothing executable.

Published results (:mod:`services.published`) outlive the process that computed them,
in the store, where anyone with a database backup can rewrite them. They are therefore
kept as JSON, never as pickles: decoding builds only plain values, pandas tables,
NumPy arrays and the *dataclass records* of Tandem's own packages (:data:`PACKAGES`),
filled field by field without running any of their code. A record of another package,
or a type this codec does not know, is refused with the path to the value, so a result
that cannot be kept is found when it is published, not when a page reads it.

Values that are handles rather than results (a fitted model's optimiser state, the
scored frame of every respondent inside an instrument-health report) are left out:
a dataclass field declared with ``metadata={"stored": False}`` is not written, and
reads back as its default (None when it has none).

The encoding is tagged JSON: ``{"~": tag, ...}`` for everything that is not a string,
a finite number, a boolean, None or a list, compressed with zlib. Floats round-trip
exactly (``repr``), NaN and infinities are tagged; a DataFrame keeps its index, its
column labels (tuples included) and each column's dtype (NumPy, pandas nullable,
categorical, datetime).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from surveys.errors import TandemError

__all__ = ["PACKAGES", "CodecError", "dumps", "loads"]

#: Packages whose dataclass records may be written and read back.
PACKAGES = ("analysis", "services", "surveys", "reports")
_TAG = "~"


class CodecError(TandemError):
    """A value cannot be stored as JSON, or stored data is not what this codec wrote."""


def dumps(value: Any) -> bytes:
    """``value`` as compressed tagged JSON (see the module docstring).

    Raises
    ------
    CodecError
        A value of a type the codec does not keep, with its path (``drivers.csat.table``).
    """
    text = json.dumps(_encode(value, "result"), allow_nan=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8"), 6)


def loads(data: bytes) -> Any:
    """The value :func:`dumps` wrote.

    Raises
    ------
    CodecError
        The data is not a :func:`dumps` result (corrupt, or names a class outside
        :data:`PACKAGES` or one that is not a dataclass).
    """
    try:
        tree = json.loads(zlib.decompress(data).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise CodecError("stored results cannot be read", where="published results",
                         fix="publish the results again (`tandem analyze publish`).") from exc
    return _decode(tree)


# --------------------------------------------------------------------------- encoding
def _float(value: float) -> Any:
    value = float(value)
    if math.isfinite(value):
        return value
    return {_TAG: "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _encode(value: Any, path: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float(value)
    if value is pd.NA:
        return {_TAG: "na"}
    if value is pd.NaT:
        return {_TAG: "nat"}
    if isinstance(value, list):
        return [_encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, (set, frozenset)):
        items = sorted(value, key=repr)
        return {_TAG: type(value).__name__, "v": [_encode(v, f"{path}{{}}") for v in items]}
    if isinstance(value, Mapping):
        keys = list(value)
        return {_TAG: "dict", "k": [_encode(k, f"{path} key") for k in keys],
                "v": [_encode(value[k], f"{path}.{k}") for k in keys]}
    if isinstance(value, pd.DataFrame):
        return {_TAG: "frame", "index": _encode(value.index, f"{path}.index"),
                "columns": _encode(value.columns, f"{path}.columns"),
                "data": [_column(value.iloc[:, i], f"{path}.{value.columns[i]}") for i in range(value.shape[1])]}
    if isinstance(value, pd.Series):
        return {_TAG: "series", "name": _encode(value.name, f"{path}.name"), "index": _encode(value.index, path),
                "data": _column(value, path)}
    if isinstance(value, pd.MultiIndex):
        return {_TAG: "multiindex", "names": _encode(list(value.names), path),
                "v": [_encode(t, f"{path}.index") for t in value.tolist()]}
    if isinstance(value, pd.Index):
        return {_TAG: "index", "name": _encode(value.name, path), "data": _column(value, path)}
    if isinstance(value, np.ndarray):
        return {_TAG: "array", "shape": list(value.shape), "data": _column(pd.Series(value.ravel()), path)}
    if isinstance(value, pd.Timestamp | dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _record(value, path)
    raise CodecError(f"{path} is a {type(value).__module__}.{type(value).__qualname__}, which results cannot "
                     "keep", where="published results",
                     fix="keep it out of the stored result (a dataclass field with metadata={'stored': False}).")


def _record(value: Any, path: str) -> dict:
    cls = type(value)
    if cls.__module__.split(".")[0] not in PACKAGES:
        raise CodecError(f"{path} is a {cls.__module__}.{cls.__qualname__} record, outside Tandem's packages",
                         where="published results", fix="store its tables instead.")
    fields = {f.name: _encode(getattr(value, f.name), f"{path}.{f.name}")
              for f in dataclasses.fields(value) if f.metadata.get("stored", True)}
    return {_TAG: "record", "class": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}


def _column(values: pd.Series | pd.Index, path: str) -> dict:
    """A column's values with its dtype (NaN, NA and NaT tagged)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return {"dtype": "category", "ordered": bool(dtype.ordered),
                "categories": _column(pd.Index(dtype.categories), path),
                "codes": np.asarray(values.codes if isinstance(values, pd.CategoricalIndex)
                                    else values.cat.codes).tolist()}
    if dtype.kind in "mM":
        return {"dtype": str(dtype), "v": [None if pd.isna(v) else pd.Timestamp(v).isoformat()
                                           if dtype.kind == "M" else pd.Timedelta(v).value for v in values]}
    if not isinstance(dtype, np.dtype):  # pandas nullable and string dtypes: NA per value
        return {"dtype": str(dtype), "v": [_encode(v, f"{path}[{i}]") for i, v in enumerate(values)]}
    if dtype.kind == "f":
        array = np.asarray(values, dtype=float)
        if np.isfinite(array).all():
            return {"dtype": str(dtype), "v": array.tolist()}
        return {"dtype": str(dtype), "v": [_float(v) for v in array]}
    if dtype.kind in "iub":
        return {"dtype": str(dtype), "v": np.asarray(values).tolist()}
    return {"dtype": str(dtype), "v": [_encode(v, f"{path}[{i}]") for i, v in enumerate(values)]}


# --------------------------------------------------------------------------- decoding
def _broken(what: str) -> CodecError:
    return CodecError(f"stored results hold {what}", where="published results",
                      fix="publish the results again (`tandem analyze publish`); stored data may have been altered.")


def _decode(tree: Any) -> Any:
    if isinstance(tree, list):
        return [_decode(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    tag = tree.get(_TAG)
    if tag == "float":
        return float(tree["v"])
    if tag == "na":
        return pd.NA
    if tag == "nat":
        return pd.NaT
    if tag == "tuple":
        return tuple(_decode(v) for v in tree["v"])
    if tag in ("set", "frozenset"):
        return (set if tag == "set" else frozenset)(_decode(v) for v in tree["v"])
    if tag == "dict":
        return {_hashable(_decode(k)): _decode(v) for k, v in zip(tree["k"], tree["v"], strict=True)}
    if tag == "frame":
        columns = _decode(tree["columns"])
        data = {i: _values(column) for i, column in enumerate(tree["data"])}
        frame = pd.DataFrame(data, index=_decode(tree["index"])) if data else pd.DataFrame(
            index=_decode(tree["index"]))
        frame.columns = columns
        return frame
    if tag == "series":
        return pd.Series(_values(tree["data"]), index=_decode(tree["index"]), name=_decode(tree["name"]))
    if tag == "multiindex":
        return pd.MultiIndex.from_tuples([tuple(_decode(t)) for t in tree["v"]], names=_decode(tree["names"]))
    if tag == "index":
        return pd.Index(_values(tree["data"]), name=_decode(tree["name"]))
    if tag == "array":
        return np.asarray(_values(tree["data"])).reshape(tree["shape"])
    if tag == "datetime":
        return pd.Timestamp(tree["v"])
    if tag == "date":
        return dt.date.fromisoformat(tree["v"])
    if tag == "record":
        return _build(tree)
    raise _broken(f"an unknown tag {tag!r}")


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _values(column: dict) -> Any:
    dtype = column["dtype"]
    if dtype == "category":
        categories = _values(column["categories"])
        return pd.Categorical.from_codes(column["codes"], categories=categories, ordered=column["ordered"])
    if dtype.startswith("timedelta64"):
        return pd.to_timedelta(pd.Series(column["v"], dtype=object)).astype(dtype).array
    if dtype.startswith("datetime64"):
        return pd.to_datetime(pd.Series(column["v"], dtype=object)).astype(dtype).array
    values = [_decode(v) for v in column["v"]]
    if dtype == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    try:
        resolved = pd.api.types.pandas_dtype(dtype)
        if isinstance(resolved, np.dtype):
            return np.asarray(values, dtype=resolved)
        return pd.array(values, dtype=resolved)
    except (TypeError, ValueError) as exc:
        raise _broken(f"values that are not {dtype}") from exc


def _build(tree: dict) -> Any:
    module_name, _, qualname = str(tree.get("class", "")).partition(":")
    if module_name.split(".")[0] not in PACKAGES:
        raise _broken(f"a record of {module_name!r}, outside Tandem's packages")
    try:
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise _broken(f"a record of an unknown class {module_name}:{qualname}") from exc
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise _broken(f"{module_name}:{qualname}, which is not a result record")
    stored = tree["fields"]
    record = object.__new__(cls)
    for f in dataclasses.fields(cls):
        if f.name in stored:
            value = _decode(stored[f.name])
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            value = None
        object.__setattr__(record, f.name, value)
    return record
