"""``skyaccord accord check|show``: validate and display an accord file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from skyaccord.cli_options import fail, fail_with, out_console
from skyaccord.errors import SkyaccordError
from skyaccord.protocol import Accord, load_accord

__all__ = ["register"]

accord_app = typer.Typer(help="Check and show accord files.", no_args_is_help=True)
FileArg = Annotated[Path, typer.Argument(help="Accord TOML file.")]


def _load(path: Path) -> Accord:
    try:
        return load_accord(path)
    except SkyaccordError as exc:
        fail_with(exc)


@accord_app.command("check")
def check(file: FileArg) -> None:
    """Validate FILE; print its id, version and SHA-256 (exit 2 when invalid)."""
    accord = _load(file)
    typer.echo(f"ok {accord.id} v{accord.version} sha256:{accord.sha256}")


@accord_app.command("default")
def default(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write it to this new file instead of printing it.")] = None,
) -> None:
    """The shipped accord (the 2015 Syria model) as TOML: the one to start from."""
    from skyaccord.protocol import default_accord_text

    text = default_accord_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as fh:  # never overwrite an accord
            fh.write(text)
    except FileExistsError:
        fail(f"{out}: exists; give a new file name")
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}", 1)
    typer.echo(f"wrote {out}", err=True)


@accord_app.command("show")
def show(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the canonical JSON.")] = False,
) -> None:
    """Show FILE's parties, minima, alert levels and communications."""
    accord = _load(file)
    if as_json:
        typer.echo(json.dumps(accord.to_dict(), indent=2, sort_keys=True))
        return
    console = out_console()
    console.print(Text(accord.title, style="bold"),
                  Text(f"({accord.id} v{accord.version}, "
                       f"effective {accord.effective or 'not set'})"), sep="  ")
    console.print(f"sha256 {accord.sha256}")
    parties = Table("party", "name", "public key", title="Parties")
    for p in accord.parties:
        parties.add_row(p.id, p.name, p.public_key or "-")
    console.print(parties)
    minima = Table("classes", "horizontal (NM)", "vertical (ft)", title="Separation minima")
    for rule in accord.separation:
        minima.add_row("/".join(rule.classes), f"{rule.minima.horizontal_nm:g}",
                       f"{rule.minima.vertical_ft:g}")
    console.print(minima)
    levels = Table("level", "within (s)", "minima", title=f"Alert levels "
                   f"(look-ahead {accord.lookahead_s:g} s)")
    for level in accord.levels:
        m = level.minima
        levels.add_row(level.name, f"{level.time_s:g}",
                       f"{m.horizontal_nm:g} NM / {m.vertical_ft:g} ft" if m else "class pair")
    console.print(levels)
    console.print(
        "guard frequencies: "
        + ", ".join(f"{f:g} MHz" for f in accord.guard_frequencies_mhz)
        + f"; notice lead time {accord.notice_lead_time_s:g} s; "
        f"response deadline {accord.response_deadline_s:g} s"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(accord_app, name="accord")
