"""The ``skyaccord`` command line (typer).

Each engine keeps its commands in its own module with a ``register(app)`` function; this
module builds the app and calls them, so that commands stay beside their engine. What
the command modules share (options, ``fail``, the ``--accord`` loader) is in
:mod:`skyaccord.cli_options`, which they import at the top; nothing imports this module
but ``skyaccord.__main__`` and the console script.
Exit codes: 0 success, 2 bad input (the message names file, line and field), 1 other
errors, 3 refused for conflict where a command says so.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import typer

from skyaccord.cli_options import err_console
from skyaccord.errors import SkyaccordError

__all__ = ["app", "main"]

app = typer.Typer(
    name="skyaccord",
    help="Keep apart the aircraft of parties who share an airspace but not their plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Modules whose ``register(app)`` adds commands, in help order.
_COMMAND_MODULES = (
    "skyaccord.protocol_cli",
    "skyaccord.tactical.cli",
    "skyaccord.tactical.advise_cli",
    "skyaccord.airspace.cli",
    "skyaccord.line.cli",
    "skyaccord.ingest.cli",
    "skyaccord.strategic.cli",
    "skyaccord.node.cli",
    "skyaccord.dss.cli",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        module = importlib.import_module(name)
        register: Callable[[typer.Typer], None] = module.register
        register(app)


_register_all()


def main() -> None:
    """Entry point that also maps a stray skyaccord error to its exit code."""
    try:
        app()
    except SkyaccordError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
