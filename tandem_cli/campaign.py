"""``tandem campaign create|open|close|list``, ``tandem invite``, ``tandem export``, ``tandem demo``.

The database is ``TANDEM_DATABASE_URL`` (default: the SQLite file ``data/tandem.db``);
respondent links start with ``TANDEM_BASE_URL`` (default ``http://localhost:8501``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from surveys.errors import TandemError

DEFAULT_BASE_URL = "http://localhost:8501"

campaign_app = typer.Typer(help="Create, open, close and list survey campaigns.", no_args_is_help=True)

CampaignOpt = Annotated[str, typer.Option("--campaign", "-c", help="Campaign id.")]


def base_url() -> str:
    """Where the app answers respondents (``TANDEM_BASE_URL``)."""
    return (os.environ.get("TANDEM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def respondent_link(campaign_id: str, token: str | None = None) -> str:
    """The link a respondent opens (``?c=campaign&t=token``)."""
    return f"{base_url()}/?c={campaign_id}" + (f"&t={token}" if token else "")


@contextmanager
def _store():
    """The store of ``TANDEM_DATABASE_URL``, disposed of afterwards."""
    from surveys.store import open_store

    store = None
    try:
        store = open_store()
        yield store
    finally:
        if store is not None:
            store.dispose()


def _when(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise TandemError(f"'{value}' is not a date or time", where=option,
                          fix="Write it as 2026-03-01 or 2026-03-01T09:00 (UTC unless an offset is given).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@campaign_app.command("create")
def create(
    campaign_id: Annotated[str, typer.Argument(help="Short id used in links, e.g. ee-2026-q1.")],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument YAML path or shipped id.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the instrument title).")] = None,
    wave: Annotated[str, typer.Option(help="Wave label, e.g. 2026-1.")] = "1",
    mode: Annotated[str, typer.Option(help="invited (one token per respondent) or open (one public "
                                           "link).")] = "invited",
    opens: Annotated[str | None, typer.Option(help="Opening time (ISO 8601).")] = None,
    closes: Annotated[str | None, typer.Option(help="Closing time (ISO 8601).")] = None,
    min_group_size: Annotated[int | None, typer.Option(help="Smallest group shown (default: the "
                                                            "instrument's).")] = None,
    open_now: Annotated[bool, typer.Option("--open", help="Open the campaign right away.")] = False,
    unit_level: Annotated[str | None, typer.Option(
        "--unit-level", help="Take the units of this level of the organisation in force on the opening day "
                             "(e.g. store; default: its lowest units). Only for instruments without 'units:'.")] = None,
) -> None:
    """Create a campaign (a draft until opened) pinned to the instrument's current version.

    When the instrument lists no units and an organisation is in force on the opening day
    (today without --opens), the campaign's units are the organisation's: its lowest units,
    or those of --unit-level.
    """
    from surveys import campaigns
    from tandem_cli.data import load_instrument_arg

    with _store() as store:
        created = campaigns.create_campaign(
            store, load_instrument_arg(instrument), campaign_id=campaign_id, name=name, wave=wave, mode=mode,
            opens_at=_when(opens, "--opens"), closes_at=_when(closes, "--closes"), min_group_size=min_group_size,
            unit_level=unit_level)
        if open_now:
            created = campaigns.open_campaign(store, created.id)
        typer.echo(f"Created campaign {created.id} ({created.mode}, {campaigns.campaign_status(created)}).")
        if created.org_units:
            typer.echo(f"Units: {len(created.org_units)} {unit_level or 'lowest'} units of organisation version "
                       f"{created.org_version_id} ({', '.join(u for u, _ in created.org_units[:5])}"
                       f"{' ...' if len(created.org_units) > 5 else ''}).")
        if created.mode == "open":
            typer.echo(f"Open link: {respondent_link(created.id)}")


@campaign_app.command("open")
def open_(campaign_id: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Open a campaign now."""
    from surveys import campaigns

    with _store() as store:
        opened = campaigns.open_campaign(store, campaign_id)
        typer.echo(f"Campaign {opened.id} is {campaigns.campaign_status(opened)}.")


@campaign_app.command("close")
def close(campaign_id: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Close a campaign: no further responses."""
    from surveys import campaigns

    with _store() as store:
        closed = campaigns.close_campaign(store, campaign_id)
        typer.echo(f"Campaign {closed.id} is {campaigns.campaign_status(closed)}.")


@campaign_app.command("list")
def list_() -> None:
    """List campaigns with their state, invitations and responses."""
    from surveys import campaigns

    with _store() as store:
        listing = campaigns.list_campaigns(store)
        if listing.empty:
            typer.echo("No campaigns yet. Create one with 'tandem campaign create ID --instrument FILE'.")
            return
        columns = ["campaign", "instrument", "version", "wave", "mode", "state", "invited", "responses"]
        typer.echo(listing[columns].to_string(index=False))


def invite(
    campaign: CampaignOpt,
    unit: Annotated[str, typer.Option("--unit", "-u", help="Unit id the invitations belong to.")],
    count: Annotated[int, typer.Option("--count", "-n", help="Number of invitations.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="CSV file for mail merge (default: print).")] = None,
) -> None:
    """Issue invitation tokens for a unit; writes campaign, unit, token, link as CSV (shown only this once)."""
    from surveys import campaigns

    with _store() as store:
        tokens = campaigns.invite(store, campaign, unit=unit, count=count)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["campaign", "unit", "token", "link"])
        writer.writerows([campaign, unit, t, respondent_link(campaign, t)] for t in tokens)
        if out is None:
            typer.echo(buffer.getvalue(), nl=False)
            return
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(buffer.getvalue(), encoding="utf-8")
        except OSError as exc:
            raise TandemError(f"cannot write the file ({exc.strerror}); the {len(tokens)} invitations were issued",
                              where=str(out), fix="issue new ones into a writable file.") from None
        typer.echo(f"{len(tokens)} invitations for unit {unit} written to {out}. Keep the file safe: "
                   "the tokens are not stored and cannot be shown again.")


def export(
    campaign: CampaignOpt,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx or sav.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: CAMPAIGN.FORMAT).")] = None,
    language: Annotated[str | None, typer.Option(help="Language of labels (default: the instrument's first).")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Every stored row as answered (recorded in the audit "
                                                    "table; needs --as).")] = False,
    actor: Annotated[str | None, typer.Option("--as", help="Who takes the raw file (e-mail or name), for the "
                                                           "audit table.")] = None,
) -> None:
    """Export a campaign's responses (CSV, Excel or SPSS) and its data dictionary (CSV beside it).

    By default the safe export (small units as "other units", demographics coarsened
    where a group would be smaller, no submission times, comments only from large enough
    groups); with ``--raw --as WHO``, every stored row, and the download is recorded.
    """
    from services import exports as safe
    from surveys import exports
    from surveys.auth import Role

    with _store() as store:
        if raw and not (actor or "").strip():
            raise TandemError("the raw file is recorded with who took it", where="tandem export --raw",
                              fix="add --as YOUR-NAME-OR-EMAIL.")
        suffix = "-raw" if raw else ""
        target = out or Path(f"{campaign}{suffix}.{exports.export_format(fmt)}")
        data = (safe.raw_export_bytes(store, campaign, fmt, actor=f"cli:{actor.strip()}", role=Role.ADMIN,
                                      language=language) if raw
                else safe.safe_export_bytes(store, campaign, fmt, language=language))
        path = exports.write_bytes(target, data)
        dictionary = path.with_name(f"{path.stem}-dictionary.csv")
        dictionary.write_bytes(exports.frame_to_csv(exports.data_dictionary(store, campaign, language=language)))
        typer.echo(f"Wrote {path} ({'raw, recorded in the audit table' if raw else 'safe export'}) and "
                   f"{dictionary}.")


def import_file(
    path: Annotated[Path, typer.Argument(help="Response file: CSV (UTF-8), Excel (.xlsx) or SPSS (.sav).")],
    campaign: CampaignOpt,
    chunk: Annotated[int, typer.Option(help="Rows read and checked at a time (memory bound).")] = 50_000,
) -> None:
    """Import responses collected elsewhere: every row validated, all stored or none."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from services.imports import import_responses

    with _store() as store, Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("reading ...")
        report = import_responses(store, campaign, path, chunk_rows=chunk,
                                  progress=lambda stage, n: bar.update(task, description=f"{stage}: {n:,} rows"))
    if not report.ok:
        typer.echo(f"Nothing imported: {report.refused:,} of {report.rows:,} rows do not fit the campaign's "
                   "instrument.", err=True)
        for row in report.problems.itertuples():
            typer.echo(f"  row {row.row}: {row.problem}", err=True)
        if report.refused > len(report.problems):
            typer.echo(f"  ... and {report.refused - len(report.problems):,} more rows", err=True)
        raise typer.Exit(1)
    typer.echo(f"Imported {report.imported:,} responses into {report.campaign}.")


def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only when the database has no campaign.")] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the simulation (default: the analysis demo's).")] = None,
) -> None:
    """Create an employee and a customer campaign filled with simulated responses (about 40 units)."""
    from services import demo as demo_data
    from surveys import campaigns

    with _store() as store:
        if if_empty and not demo_data.is_empty(store):
            typer.echo("The database has campaigns, an organisation or KPIs already; no demo data added.")
            if demo_data.CUSTOMER_CAMPAIGN in set(campaigns.list_campaigns(store)["campaign"]):
                typer.echo(f"Open survey link of the demo: {base_url()}/?c={demo_data.CUSTOMER_CAMPAIGN}; a new "
                           f"invitation: tandem invite --campaign {demo_data.EMPLOYEE_CAMPAIGN} --unit store_01 "
                           "--count 1")
            return
        result = demo_data.seed_demo(store, seed=demo_data.DEMO_SEED if seed is None else seed)
        links = result.links(base_url())
        typer.echo(f"Demo data: {result.employees} employee responses ({result.employee_campaign}), "
                   f"{result.customers} customer responses ({result.customer_campaign}).")
        typer.echo(f"Answer as an employee (each link once; more: tandem invite --campaign "
                   f"{result.employee_campaign} --unit store_01 --count 5):")
        for link in links["employee"]:
            typer.echo(f"  {link}")
        typer.echo(f"Answer as a customer (as often as you like): {links['customer'][0]}")
