"""The error boundary every staff page renders inside."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from surveys.errors import TandemError

log = logging.getLogger("tandem.app")


@contextmanager
def shown_errors(page: str) -> Iterator[None]:
    """Show a :class:`TandemError` (data that does not fit the instrument, a model that
    cannot be fitted, a closed campaign ...) as its message; log anything else with its
    traceback and show one sentence, never the traceback."""
    try:
        yield
    except TandemError as exc:
        st.error(exc.message)
    except Exception:
        log.exception("%s page failed", page)
        st.error("Something went wrong on this page; the details are in the server log.")
