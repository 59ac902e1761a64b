"""Option types shared by several commands (kept apart from ``cli.py``, which imports
the command modules, so that they can import these at module level)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["AccordOption", "LookaheadOption"]

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
