"""The ``skyaccord`` command line (typer).

Each engine keeps its commands in its own module with a ``register(app)`` function; this
module builds the app and calls them, so that commands stay beside their engine.
Exit codes: 0 success, 2 bad input (the message names file, line and field), 1 other
errors, 3 refused for conflict where a command says so.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from skyaccord.errors import SkyaccordError
from skyaccord.protocol import Accord, default_accord, load_accord

__all__ = ["app", "fail", "load_accord_option", "main"]

app = typer.Typer(
    name="skyaccord",
    help="Keep apart the aircraft of parties who share an airspace but not their plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err_console = Console(stderr=True)



def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True,
                      soft_wrap=True)
    raise typer.Exit(code)


def load_accord_option(path: Path | None, lookahead_s: float | None = None) -> Accord:
    """The accord named by ``--accord`` (or the default), with ``--lookahead`` applied;
    exits 2 when either is invalid."""
    try:
        accord = default_accord() if path is None else load_accord(path)
        return accord if lookahead_s is None else accord.with_lookahead(lookahead_s)
    except SkyaccordError as exc:
        fail(str(exc))


# Modules whose ``register(app)`` adds commands, in help order.
_COMMAND_MODULES = (
    "skyaccord.protocol_cli",
    "skyaccord.tactical.cli",
    "skyaccord.tactical.advise_cli",
    "skyaccord.airspace.cli",
    "skyaccord.line.cli",
    "skyaccord.ingest.cli",
    "skyaccord.strategic.cli",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        module = importlib.import_module(name)
        register: Callable[[typer.Typer], None] = module.register
        register(app)


_register_all()


def main() -> None:
    """Entry point that also maps stray skyaccord errors to exit code 2."""
    try:
        app()
    except SkyaccordError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
