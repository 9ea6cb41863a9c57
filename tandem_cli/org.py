"""``tandem org import|validate|show``: the organisation (units, levels, managers) by date.

``tandem org import org.csv --as-of 2026-07-01`` checks the HRIS file (every problem at once,
with its line and rule) and stores it as the version in force from that day; importing the
same content again changes nothing. ``tandem org show [--as-of DAY]`` prints the tree in force
with each unit's level and how many units of the lowest level it holds. The file format and
the rules: docs/organisation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from surveys.organisation import Organisation

org_app = typer.Typer(help="Import, check and show the organisation (units, levels, managers).",
                      no_args_is_help=True)

AsOf = Annotated[str | None, typer.Option("--as-of", help="Day (YYYY-MM-DD); default today.")]


def summary(org: Organisation) -> str:
    """``8 units: 1 company, 2 regions, 2 districts, 3 stores``."""
    levels = ", ".join(f"{n} {level}{'' if n == 1 else 's'}" for level, n in org.counts().items())
    return f"{len(org)} units: {levels}"


def tree_lines(org: Organisation, *, depth: int | None = None) -> list[str]:
    """The tree as text lines: ``id  name  [level]  (n lowest-level units)``, children indented."""
    lowest, below = org.levels[-1], org.lowest_below()
    lines: list[str] = []

    def walk(unit: str, prefix: str, last: bool, level: int) -> None:
        u = org.unit(unit)
        branch = "" if level == 0 else ("└─ " if last else "├─ ")
        count = f"  ({below[unit]} {lowest}{'' if below[unit] == 1 else 's'})" if u.level != lowest else ""
        lines.append(f"{prefix}{branch}{u.id}  {u.name}  [{u.level}]{count}")
        kids = org.children(unit)
        inner = prefix + ("" if level == 0 else ("   " if last else "│  "))
        if depth is not None and level >= depth:
            if kids:
                lines.append(f"{inner}   … {len(org.subtree(unit)) - 1} units below")
            return
        for i, child in enumerate(kids):
            walk(child, inner, i == len(kids) - 1, level + 1)

    walk(org.root, "", True, 0)
    return lines


def import_org(
    path: Annotated[Path, typer.Argument(help="Organisation CSV (unit_id,name,parent_id,level[,managers,...]).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Day from which this version is in force (YYYY-MM-DD).")],
) -> None:
    """Check an organisation file and store it as the version in force from --as-of (idempotent)."""
    from surveys import org_store
    from surveys.organisation import read_organisation
    from tandem_cli.campaign import _store

    day = org_store.parse_day(as_of)
    org = read_organisation(path)
    with _store() as store:
        result = org_store.import_organisation(store, org, as_of=day, source=path.name)
    v = result.version
    if result.new:
        typer.echo(f"Imported organisation version {v.id}, in force from {v.as_of}: {summary(org)}.")
    else:
        typer.echo(f"Unchanged: version {v.id} (in force from {v.as_of}) has the same content; nothing imported.")


def validate_org(path: Annotated[Path, typer.Argument(help="Organisation CSV file.")]) -> None:
    """Check an organisation file without importing it; print every problem or a summary."""
    from surveys.organisation import read_organisation

    org = read_organisation(path)
    typer.echo(f"{path}: ok - {summary(org)}; levels {' > '.join(org.levels)}")


def show(
    as_of: AsOf = None,
    depth: Annotated[int | None, typer.Option(help="Show this many levels below the root.", min=0)] = None,
) -> None:
    """Print the organisation in force on a day as a tree with levels and counts."""
    from surveys import org_store
    from surveys.errors import TandemError
    from tandem_cli.campaign import _store

    day = org_store.parse_day(as_of)
    with _store() as store:
        version = org_store.version_at(store, day)
        if version is None:
            raise TandemError(f"no organisation is in force on {day}", where="tandem org show",
                              fix="Import one with 'tandem org import org.csv --as-of YYYY-MM-DD' (or give a "
                                  "later --as-of).")
        org = org_store.org_version(store, version.id)
    typer.echo(f"Organisation in force on {day}: version {version.id} (from {version.as_of}), {summary(org)}.")
    for line in tree_lines(org, depth=depth):
        typer.echo(line)
