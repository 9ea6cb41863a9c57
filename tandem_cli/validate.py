"""``tandem validate PATH...``: check instrument files and print every problem.

Each problem is printed as ``file:line:col: error [rule] item 'x': message. Fix: ...``
(the format compilers use, so editors can jump to it). The command exits 1 if any
file has an error; warnings alone exit 0. For each valid file it prints a summary.
"""

from __future__ import annotations

from pathlib import Path

import typer

from surveys.instrument import Instrument, InstrumentError
from surveys.loader import load_instrument


def summary(instrument: Instrument) -> str:
    """One line describing a valid instrument (pages, questions, items, constructs, units, languages)."""
    counts = ", ".join(_count(len(things), name) for things, name in (
        (instrument.pages, "page"), (instrument.questions, "question"), (instrument.items, "item"),
        (instrument.constructs, "construct"), (instrument.units, "unit")))
    return (f"{instrument.id} {instrument.version} ({instrument.audience}): {counts}, "
            f"languages {', '.join(instrument.languages)}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def validate(
    paths: list[Path] = typer.Argument(..., help="Instrument YAML files to check.", show_default=False),  # noqa: B008
) -> None:
    """Check instrument files; print every problem, or a summary of each valid file."""
    failed = False
    for path in paths:
        try:
            instrument = load_instrument(path)
        except InstrumentError as exc:
            failed = failed or any(p.severity == "error" for p in exc.problems)
            for problem in exc.problems:
                typer.echo(problem.format())
            continue
        for problem in instrument.warnings:
            typer.echo(problem.format())
        typer.echo(f"{path}: ok - {summary(instrument)}")
    raise typer.Exit(1 if failed else 0)
