"""Loading an instrument: YAML text through every stage to one frozen Instrument.

The stages (like pyxform): bytes -> YAML tree with positions (:mod:`surveys.yamlsource`,
with its size and alias limits) -> pydantic models (:mod:`surveys.instrument`) ->
cross-reference and content rules (:mod:`surveys.validation`) -> one frozen
:class:`~surveys.instrument.Instrument`. Every problem found on the way is collected with
its file, line, column, item id, rule and fix, and raised together as an
:class:`~surveys.problems.InstrumentError`.

Example
-------
>>> inst = load_instrument("instruments/employee_experience.yaml")  # doctest: +SKIP
>>> inst.construct("manager_support").items                            # doctest: +SKIP
('ms_1', 'ms_2', 'ms_3', 'ms_4')
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from surveys.instrument import Instrument
from surveys.problems import InstrumentError, Problem
from surveys.validation import check_instrument, schema_problems
from surveys.yamlsource import parse_yaml, read_text

__all__ = ["InstrumentError", "load_instrument", "parse_instrument"]


def load_instrument(path: str | Path) -> Instrument:
    """Load and validate an instrument file.

    Parameters
    ----------
    path
        A YAML file (``instruments/employee_experience.yaml``).

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        With every problem found (``.problems``); warnings alone do not raise and
        are kept in :attr:`Instrument.warnings`.

    Notes
    -----
    Instruments are immutable, so a file that has not changed (same resolved path,
    modification time and size) is parsed once and the same object is returned
    afterwards; Streamlit reruns its pages on every click.
    """
    try:
        stat = Path(path).resolve().stat()
    except (OSError, RuntimeError):
        return parse_instrument(read_text(path), source=str(path))  # read_text says what is wrong
    return _load_cached(str(path), str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _load_cached(source: str, resolved: str, mtime_ns: int, size: int) -> Instrument:
    return parse_instrument(read_text(resolved), source=source)


def parse_instrument(text: str, *, source: str = "<text>") -> Instrument:
    """Validate an instrument given as YAML text (see :func:`load_instrument`)."""
    document = parse_yaml(text, source=source)
    data = document.data
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {_yaml_kind(data)}"
        raise InstrumentError([Problem(source, *document.locations.value(()), "", "not-a-mapping",
                                       f"the file is {kind}, not a mapping of instrument keys",
                                       "Start the file with 'id:', 'title:', 'languages:', 'pages:' ... "
                                       "(see the README, section 'Instrument format').")])
    languages = data.get("languages")
    default = languages[0] if isinstance(languages, list) and languages and isinstance(languages[0], str) else "en"
    try:
        instrument = Instrument.model_validate(data, context={"default_language": default})
    except ValidationError as exc:
        raise InstrumentError(schema_problems(exc, document)) from None
    except (RecursionError, OverflowError, ValueError, TypeError) as exc:
        raise InstrumentError([Problem(source, 1, 1, "", "schema", f"cannot read the instrument ({exc})",
                                       "Check the file against the README's 'Instrument format'.")]) from None
    problems = check_instrument(instrument, document)
    if any(p.severity == "error" for p in problems):
        raise InstrumentError(problems)
    instrument._source = source
    instrument._source_text = text
    instrument._warnings = tuple(problems)
    return instrument


def _yaml_kind(data: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean"}.get(type(data), "scalar")

