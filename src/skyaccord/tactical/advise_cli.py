"""``skyaccord advise``: resolution bands for one aircraft (placeholder, filled below)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    pass
