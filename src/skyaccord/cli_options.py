"""What the command modules share: option types, the error console, ``fail`` and the
``--accord`` loader.

This is the command line's leaf module: it imports no command module, so that every
command module (``skyaccord.*.cli``, ``skyaccord.*_cli``) imports it at the top, and
:mod:`skyaccord.cli` only builds the app and registers the commands.

Exit codes: 0 success; an error's own :attr:`~skyaccord.errors.SkyaccordError.exit_code`
(2 bad input, 3 refused for conflict: the table in :mod:`skyaccord.errors`), through
:func:`fail_with`; 1 where a command cannot write its output or a check failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from skyaccord.errors import SkyaccordError
from skyaccord.protocol import Accord, default_accord, load_accord

__all__ = [
    "AccordOption",
    "LookaheadOption",
    "err_console",
    "fail",
    "fail_with",
    "load_accord_option",
]

#: ``--accord FILE``
AccordOption = Annotated[
    Path | None,
    typer.Option("--accord", help="Accord TOML (default: the shipped 2015 Syria model)."),
]
#: ``--lookahead S``
LookaheadOption = Annotated[
    float | None,
    typer.Option("--lookahead", help="Look-ahead in seconds (default: the accord's)."),
]

#: Where commands print errors, warnings and summaries (stdout is for their output).
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error to stderr and exit with ``code`` (default 2: bad input)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True,
                      soft_wrap=True)
    raise typer.Exit(code)


def fail_with(exc: SkyaccordError, code: int | None = None) -> NoReturn:
    """Print ``exc`` to stderr and exit with its class's ``exit_code``, or with ``code``
    where a command documents another (``intents``: 1 for a store failure)."""
    fail(str(exc), exc.exit_code if code is None else code)


def load_accord_option(path: Path | None, lookahead_s: float | None = None) -> Accord:
    """The accord named by ``--accord`` (or the default), with ``--lookahead`` applied;
    exits with the error's code (2) when either is invalid."""
    try:
        accord = default_accord() if path is None else load_accord(path)
        return accord if lookahead_s is None else accord.with_lookahead(lookahead_s)
    except SkyaccordError as exc:
        fail_with(exc)
