"""The one place where ``tandem`` turns Tandem's errors into a message and an exit code.

Every command raises :class:`surveys.errors.TandemError` (or a subclass) for anything the
user can fix; :class:`HandledGroup`, the command group of the whole ``tandem`` app,
catches it around every command, prints it as one line on standard error
(``Error: where: what Fix: how``) and exits with status 1. No command catches errors
itself, and no traceback ever reaches the user for an expected problem.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from surveys.errors import TandemError

__all__ = ["EXIT_ERROR", "HandledGroup"]

#: Exit status of a command that stopped with a TandemError.
EXIT_ERROR = 1


class HandledGroup(TyperGroup):
    """The ``tandem`` command group: runs a command and reports its TandemError."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TandemError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
