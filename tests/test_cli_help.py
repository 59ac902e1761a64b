"""Every command's ``--help`` (issue 18): plain text that names values in capitals
(``--db DB``, ``TRACKS``), with no type placeholders (``<bool>``, ``<str>``, ``{tracks}``)
and no console markup eating brackets; ``skyaccord --version``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer.testing import CliRunner

from skyaccord import __version__
from skyaccord.cli import COMMANDS, app, module_commands

runner = CliRunner(env={"COLUMNS": "100"})
PLACEHOLDER = re.compile(r"<[a-z_|\[\], ]+>|\{[A-Za-z_]+\}")


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(prefix: list[str], command: Any) -> None:
        paths.append(prefix)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk([*prefix, name], sub)

    seen: set[str] = set()
    for entry in COMMANDS.values():
        if entry.module not in seen:
            seen.add(entry.module)
            for cname, command in module_commands(entry.module).items():
                walk([cname], command)
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_is_plain_and_names_values(path: list[str]) -> None:
    r = runner.invoke(app, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"Usage: skyaccord {' '.join(path)}")
    assert not PLACEHOLDER.search(r.output), PLACEHOLDER.findall(r.output)
    assert "─" not in r.output  # no rich panels


def test_brackets_in_help_text_are_kept() -> None:
    """Rich markup made ``'skyaccord[pg]'``-like text vanish from help."""
    line = runner.invoke(app, ["line", "inbox", "--help"]).output
    assert "postgresql://...?skyaccord_schema=NAME" in line


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output == f"skyaccord {__version__}\n"
