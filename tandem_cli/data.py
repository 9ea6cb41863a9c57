"""Where ``tandem`` commands get their data: the options turned into a service-layer dataset.

``--campaign`` reads campaigns from the store with their pinned instruments, ``--data``
reads a response file with ``--instrument`` (a YAML path or a shipped id); both become a
:class:`services.sources.Dataset`, and analyses see only what the disclosure policy lets
out (:func:`services.selection.select`), exactly like the pages and the report.
``--node UNIT_ID`` narrows a campaign to an organisation node's subtree (a store, its
district, its region, the company) and ``--by-children`` names the column of the units
directly below it (:attr:`services.selection.SideView.children_column`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from surveys.errors import TandemError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INSTRUMENTS", "children_column", "load_data", "load_instrument_arg", "load_view", "open_dataset",
           "shown_view", "source_name"]

INSTRUMENTS = Path(__file__).resolve().parents[1] / "instruments"


def load_instrument_arg(value: str) -> Any:
    """An instrument from a path or a shipped id (``instruments/<id>.yaml``)."""
    from surveys.loader import load_instrument

    path = Path(value)
    if not path.is_file() and (INSTRUMENTS / f"{value}.yaml").is_file():
        path = INSTRUMENTS / f"{value}.yaml"
    if not path.is_file():
        from surveys.errors import did_you_mean

        shipped = [p.stem for p in INSTRUMENTS.glob("*.yaml")]
        raise TandemError(f"no instrument '{value}'.{did_you_mean(value, shipped)}", where="--instrument",
                          fix=f"give a YAML path or one of: {', '.join(sorted(shipped))}.")
    return load_instrument(path)


def open_dataset(*, data: Path | None = None, campaigns: list[str] | None = None,
                 instrument: str | None = None) -> Any:
    """The :class:`services.sources.Dataset` of the options: campaigns from the store (with
    their pinned instruments) or a response file with ``--instrument``."""
    from services.sources import campaign_dataset, file_dataset

    if campaigns:
        if instrument:
            raise TandemError("--instrument does not go with a campaign", where="--instrument",
                              fix="drop it: a campaign is always read with the instrument version it pinned.")
        from surveys.store import open_store

        store = open_store()
        try:
            return campaign_dataset(store, campaigns)
        finally:
            store.dispose()
    from analysis.scoring import read_responses

    if instrument is None:
        raise TandemError("--instrument is needed with --data", where="tandem analyze",
                          fix="pass --instrument PATH.yaml or a shipped id such as employee_experience.")
    return file_dataset({"data": (load_instrument_arg(instrument), read_responses(data))}, name=f"the file {data}")


def shown_view(dataset: Any, *, node: str | None = None) -> Any:
    """The one side of a single-survey dataset as the disclosure policy lets it out
    (:func:`services.selection.select`), of the subtree of ``node`` when given; a
    TandemError when nothing may be shown or the node is not in the data's organisation."""
    from services.selection import Selection, select

    views = select(dataset, Selection.of(node=node))
    if len(views) != 1:
        raise TandemError("these campaigns hold two surveys", where="--campaign",
                          fix="give campaigns of one survey (its waves); link two with `tandem analyze study`.")
    view = next(iter(views.values()))
    if view.empty:
        raise TandemError(view.note or "nothing may be shown", where=dataset.name, fix="use more responses.")
    return view


def load_data(data: Path | None, campaign: str | None, instrument: str | None, *,
              need_instrument: bool = True, node: str | None = None) -> tuple[pd.DataFrame, Any, str]:
    """Responses, instrument and a description of the source, from the options: the
    responses the disclosure policy lets out (thin item answers withheld), through
    :mod:`services`; of the subtree of ``node`` (``--node``, campaigns only) when given."""
    if (data is None) == (campaign is None):
        raise TandemError("give exactly one of --data FILE or --campaign C", where="tandem analyze",
                          fix="e.g. --data responses.csv --instrument employee_experience")
    _node_needs_campaign(node, campaign)
    if data is not None and instrument is None and not need_instrument:
        from analysis.scoring import read_responses

        return read_responses(data), None, str(data)
    view = load_view(data, campaign, instrument, node=node)
    return view.frame, view.instrument, source_name(data, campaign, node)


def load_view(data: Path | None, campaign: str | None, instrument: str | None, *, node: str | None = None) -> Any:
    """The :class:`services.selection.SideView` of the options (as :func:`load_data`, which
    returns its frame): for commands that also break it down (``--by-children``)."""
    if (data is None) == (campaign is None):
        raise TandemError("give exactly one of --data FILE or --campaign C", where="tandem analyze",
                          fix="e.g. --data responses.csv --instrument employee_experience")
    _node_needs_campaign(node, campaign)
    dataset = open_dataset(data=data, campaigns=[campaign] if campaign else None, instrument=instrument)
    return shown_view(dataset, node=node)


def _node_needs_campaign(node: str | None, campaign: str | None) -> None:
    if node and campaign is None:
        raise TandemError("--node goes with --campaign", where="--node",
                          fix="give a campaign whose units come from the organisation ('tandem org import').")


def source_name(data: Path | None, campaign: str | None, node: str | None = None) -> str:
    """The source in words: ``campaign C`` (``, unit U and below``) or the file's path."""
    if campaign is None:
        return str(data)
    return f"campaign {campaign}" + (f", unit {node} and the units below it" if node else "")


def children_column(view: Any) -> str:
    """``--by-children``: the column of the units directly below the view's node, found in the
    frame of ``view.nodes_view()`` (TandemError at a leaf or without an organisation)."""
    column = view.children_column
    if column is None:
        raise TandemError("there are no units below this node to break it down by", where="--by-children",
                          fix="give --node a unit above the lowest level (a district, region or the company), "
                              "for a campaign whose units come from the organisation.")
    return column


