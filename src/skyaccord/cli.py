"""The ``skyaccord`` command line (typer).

Each engine keeps its commands in its own module with a ``register(app)`` function; this
module builds the app and names, for each top-level command, the module that registers
it and its one-line help (:data:`COMMANDS`). A module is imported only when one of its
commands runs (or shows its own help): ``skyaccord --help`` and ``skyaccord detect`` do
not load the node's web stack, and ``--help`` loads neither numpy nor numba. What the
command modules share (options, ``fail``, the ``--accord`` loader) is in
:mod:`skyaccord.cli_options`; nothing imports this module but ``skyaccord.__main__`` and
the console script.
Exit codes (the README's table): 0 done, 1 the run failed, 2 bad input (the message
names file, line and field), 3 refused.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup

__all__ = ["COMMANDS", "app", "main"]


class CommandEntry(NamedTuple):
    """Where a top-level command (or command group) lives, and its line in the help."""

    module: str
    help: str


#: Every top-level command, in help order: its module's ``register(app)`` adds it. The
#: help line is the command's own (docstring's first line, or its group's ``help``): a
#: test compares the two, so that this table cannot drift from the modules.
COMMANDS: dict[str, CommandEntry] = {
    "detect": CommandEntry("skyaccord.tactical.cli",
                           "Predicted losses of separation within the look-ahead, as CSV or "
                           "Parquet."),
    "demo": CommandEntry("skyaccord.sim.cli",
                         "Run the Syria 2015 scenario through three parties' nodes, then "
                         "report it."),
    "advise": CommandEntry("skyaccord.tactical.advise_cli",
                           "Conflict-free bands (track, speed, vertical speed, altitude) for "
                           "one aircraft."),
    "decode": CommandEntry("skyaccord.ingest.cli",
                           "Decoded state updates as CSV or Parquet: "
                           "t,icao24,callsign,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm,on_ground."),
    "replay": CommandEntry("skyaccord.ingest.cli",
                           "Play a feed through the picture and detection; new alerts as CSV."),
    "serve": CommandEntry("skyaccord.node.cli",
                          "Run this party's node: picture, alerts each tick, intents, the "
                          "line, the API."),
    "accord": CommandEntry("skyaccord.protocol_cli", "Check and show accord files."),
    "distress": CommandEntry("skyaccord.protocol_cli",
                             "Call distress to every party at once, ahead of anything "
                             "queued."),
    "airspace": CommandEntry("skyaccord.airspace.cli",
                             "Sovereign and restricted airspace: incursions, warnings."),
    "keys": CommandEntry("skyaccord.line.cli", "Ed25519 keys of a party's node."),
    "line": CommandEntry("skyaccord.line.cli",
                         "The line: signed, acknowledged messages between parties."),
    "intents": CommandEntry("skyaccord.strategic.cli",
                            "Planned operations (4D intents): submit, check, list, end, "
                            "notices."),
    "node": CommandEntry("skyaccord.node.cli", "Set up a party's node."),
    "dss": CommandEntry("skyaccord.dss.cli", "The ASTM F3548-21 DSS interface (/dss/v1)."),
    "sim": CommandEntry("skyaccord.sim.cli",
                        "The theatre simulator: run a scenario, sweep an accord's parameters."),
    "report": CommandEntry("skyaccord.sim.cli",
                           "An HTML report of a recorded run: map, encounters, conduct, the "
                           "line."),
}


def module_commands(module: str) -> dict[str, Any]:
    """The click commands that ``module``'s ``register(app)`` adds, by name (imports it)."""
    register: Callable[[typer.Typer], None] = importlib.import_module(module).register
    sub = typer.Typer()
    register(sub)
    commands = dict(typer.main.get_group(sub).commands)
    for command in commands.values():
        _plain_help(command)
    return commands


def _no_type(ctx: Any) -> None:
    return None


def _plain_help(command: Any) -> None:
    """Help as plain text, in the words of the command: no console markup (brackets in a
    help text, ``'skyaccord[pg]'``, are text), and each value named in capitals
    (``--db DB``, ``TRACKS``) instead of its type (``<str>``, ``{tracks}``)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for param in getattr(command, "params", ()):
        is_flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
        if not is_flag and param.name:
            param.metavar = param.name.upper()
        # typer 0.29 adds "<type>" after each name and "{NAME}" for a required argument
        # in the usage line; the capitals say it already (methods of the instance only)
        if hasattr(param, "display_type_rich") and param.param_type_name == "argument":
            param.display_type_rich = _no_type
        if hasattr(param, "_usage_display_name") and param.name:
            shown = param.name.upper() if param.required else f"[{param.name.upper()}]"
            if param.nargs != 1:
                shown += "..."
            param._usage_display_name = functools.partial(str, shown)
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


class _LazyGroup(TyperGroup):
    """The top-level group: lists :data:`COMMANDS` (and prints their help lines) without
    importing them; imports a command's module when the command is resolved to run."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if cmd_name not in self.commands:
            self.commands.update(module_commands(entry.module))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Whole lines, wrapped (click would cut them at the terminal width).
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.help) for name, entry in COMMANDS.items()])


app = typer.Typer(
    name="skyaccord",
    help="Keep apart the aircraft of parties who share an airspace but not their plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
    # Plain help and errors at the top level: typer's rich formatting costs more start-up
    # than the rest of ``skyaccord --help`` together. Each command's own help stays rich.
    rich_markup_mode=None,
)


def _version(show: bool) -> None:
    if show:
        from skyaccord import __version__

        typer.echo(f"skyaccord {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                 help="Print the version and exit."),
) -> None:
    # A callback makes typer build a group (with no registered command it builds none).
    pass


def main() -> None:
    """Entry point that also maps a stray skyaccord error to its exit code."""
    from skyaccord.errors import SkyaccordError

    try:
        app()
    except SkyaccordError as exc:
        from skyaccord.cli_options import err_console

        err_console.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
