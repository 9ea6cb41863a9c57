"""Entry point of the ``tandem`` command (Typer).

Each command group lives in its own module and is registered here. Errors derived
from :class:`surveys.errors.TandemError` are printed without a traceback and exit 1, by
the one handler of :mod:`tandem_cli.errors`.
"""

from __future__ import annotations

import typer

from tandem_cli.errors import HandledGroup

app = typer.Typer(
    cls=HandledGroup,
    name="tandem",
    help="Tandem: employee and customer surveys, psychometrics and linkage analysis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)



@app.callback()
def main() -> None:
    """Tandem: employee and customer surveys, psychometrics and linkage analysis."""


# Command groups register themselves below (one import per module).
from tandem_cli import validate  # noqa: E402

app.command("validate")(validate.validate)

from tandem_cli.analyze import analyze_app, report_command  # noqa: E402

app.add_typer(analyze_app, name="analyze")

from tandem_cli import study as study_cli  # noqa: E402

analyze_app.command("study")(study_cli.analyze_study)

from tandem_cli import publish as publish_cli  # noqa: E402

analyze_app.command("publish")(publish_cli.publish)
app.command("power")(study_cli.power_command)
app.command("report")(report_command)

from tandem_cli import campaign as campaign_cli  # noqa: E402

app.add_typer(campaign_cli.campaign_app, name="campaign")
app.command("invite")(campaign_cli.invite)
app.command("export")(campaign_cli.export)
app.command("import")(campaign_cli.import_file)
app.command("demo")(campaign_cli.demo)

from tandem_cli import org as org_cli  # noqa: E402

app.add_typer(org_cli.org_app, name="org")
org_cli.org_app.command("import")(org_cli.import_org)
org_cli.org_app.command("validate")(org_cli.validate_org)
org_cli.org_app.command("show")(org_cli.show)

from tandem_cli import kpi as kpi_cli  # noqa: E402

app.add_typer(kpi_cli.kpi_app, name="kpi")
kpi_cli.kpi_app.command("declare")(kpi_cli.declare)
kpi_cli.kpi_app.command("import")(kpi_cli.import_values)
kpi_cli.kpi_app.command("list")(kpi_cli.list_kpis)
