"""Limit BLAS threads around estimation and resampling loops.

On a small, shared machine a multi-threaded BLAS makes the tiny matrix products of an
SEM fit slower, not faster (a 22-indicator SEM fit measured 0.05 s with one thread against 6.6 s
with the default pool while the other core was busy).

The thread pools are looked up once per process (``threadpoolctl`` scans the loaded
libraries, about 3 ms, which was a sixth of a ``fit()``); each ``with`` block then only
sets and restores the limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def limit_blas_threads(n: int = 1) -> Iterator[None]:
    """Run the ``with`` block with at most ``n`` BLAS/OpenMP threads (default one).

    Examples
    --------
    >>> with limit_blas_threads():
    ...     result = fit(model, data, bootstrap=1000)   # doctest: +SKIP
    """
    with _controller().limit(limits=n):
        yield
