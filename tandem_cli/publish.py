"""``tandem analyze publish``: compute the Insight pages' first view of campaigns ahead.

The pages then show the whole data and every published organisation node from the
store (:mod:`services.published`) without reading a response; run it after a wave
closes, or on a schedule while one is open (a new response makes a new data version,
which the pages compute live until it is published). It prints one line per node
(responses, seconds, size) and names the analyses that could not run, kept as the
refusal the page shows.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

__all__ = ["publish"]


def publish(
    campaign: Annotated[list[str], typer.Option("--campaign", help="Campaign id (repeat: waves of a survey, an "
                                                                   "employee and a customer survey).")],
    level: Annotated[list[str] | None, typer.Option(
        "--level", help="Organisation level whose every node is published (repeat; default: every level above "
                        "the leaves).")] = None,
    under: Annotated[str | None, typer.Option(
        "--under", help="Publish only the nodes in this unit's subtree, added to what is published for the same "
                        "data (e.g. --level store --under region_north).")] = None,
) -> None:
    """Compute and store what the Insight pages show first, for the whole data and each node."""
    from services.published import publish as run
    from tandem_cli.campaign import _store

    start = time.perf_counter()

    def progress(node: str, done: int, total: int) -> None:
        typer.echo(f"[{done + 1}/{total}] {node or '(everything)'} ...", err=True)

    with _store() as store:
        table = run(store, campaign, levels=level or None, under=under, progress=progress)
    for row in table.to_dict("records"):
        sizes = ", ".join(f"{row[c]:,} {c[2:]}" for c in table.columns if c.startswith("n_"))
        typer.echo(f"{row['node']}: {sizes}; {row['seconds']:.1f} s, {row['bytes'] / 1e3:,.0f} kB"
                   + (f"; not computable: {row['refused']}" if row["refused"] else ""))
    typer.echo(f"Published {len(table)} nodes of {', '.join(sorted(campaign))} in "
               f"{time.perf_counter() - start:.1f} s; the Insight pages show them without reading the responses.")
