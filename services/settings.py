"""The defaults every channel shares, so pages, the report and the CLI print the same numbers.

One :data:`DEFAULTS` object holds the resampling settings. The Insight pages, the HTML
report and ``tandem analyze``/``tandem report`` read their defaults from it (options may
still override them per run).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "Settings"]


@dataclass(frozen=True)
class Settings:
    """Analysis defaults.

    Attributes
    ----------
    bootstrap
        Bootstrap draws for the intervals of drivers, paths and indirect effects.
    seed
        Seed of every resampling, so a page, the report and the CLI agree exactly.
    parallel_iterations
        Random data sets of parallel analysis (Horn 1965).
    """

    bootstrap: int = 500
    seed: int = 1
    parallel_iterations: int = 100


DEFAULTS = Settings()
