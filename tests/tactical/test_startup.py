"""Start-up of the command line: ``skyaccord --help`` and ``skyaccord detect`` load only
what they use (checked on ``sys.modules`` of a real interpreter, not on a timing), and
the lazy command table of :mod:`skyaccord.cli` agrees with what the modules register."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyaccord.cli import COMMANDS, app, module_commands

# Run the installed entry point's code in a fresh interpreter, then report which of the
# heavy packages it imported.
_PROBE = """
import io, json, sys, contextlib
from skyaccord.cli import app
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        app(sys.argv[1:], standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
mods = sorted({m.split('.')[0] for m in sys.modules})
print(json.dumps({"code": code, "mods": mods, "skyaccord": sorted(
    m for m in sys.modules if m.startswith('skyaccord'))}))
"""
HEAVY = ("numpy", "numba", "scipy", "fastapi", "uvicorn", "starlette", "pydantic", "shapely",
         "pyproj", "nacl", "h3", "httpx", "rs1090", "pyarrow", "websockets", "rich")


def probe(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                          text=True, timeout=120, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_help_imports_no_engine() -> None:
    got = probe("--help")
    assert got["code"] == 0
    mods = set(got["mods"])  # type: ignore[call-overload]
    assert "typer" in mods  # the probe sees imports at all
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))
    assert got["skyaccord"] == ["skyaccord", "skyaccord.cli"]


def test_detect_imports_only_detection(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("id,party,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
                   "a,us,35.0,36.0,30000,480,90,0\nb,ru,35.0,36.2,30000,480,270,0\n")
    out = tmp_path / "out.csv"
    got = probe("detect", str(src), "--out", str(out))
    assert got["code"] in (0, None)
    assert out.read_text().splitlines()[1].startswith("a,b,")  # it did detect
    mods = set(got["mods"])  # type: ignore[call-overload]
    assert "numpy" in mods
    # A small picture runs the numpy engine: numba (about a second to load) stays out.
    # (typer itself imports pydantic to convert a command's options.)
    unused = {"numba", "scipy", "fastapi", "uvicorn", "starlette", "nacl", "h3", "httpx",
              "rs1090", "pyarrow", "shapely", "websockets"}
    assert not mods & unused, sorted(mods & unused)
    loaded = set(got["skyaccord"])  # type: ignore[call-overload]
    for other in ("skyaccord.node", "skyaccord.line", "skyaccord.ingest",
                  "skyaccord.strategic", "skyaccord.airspace", "skyaccord.sim",
                  "skyaccord.tactical._grid", "skyaccord.tactical._csv_compiled"):
        assert other not in loaded, other


@pytest.mark.parametrize("module", sorted({e.module for e in COMMANDS.values()}))
def test_command_table_matches_the_modules(module: str) -> None:
    registered = module_commands(module)
    listed = {name for name, e in COMMANDS.items() if e.module == module}
    assert set(registered) == listed
    for name in listed:
        assert registered[name].get_short_help_str(limit=1000) == COMMANDS[name].help


def test_help_lists_every_command_and_unknown_fails() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for name, entry in COMMANDS.items():
        assert f"{name} {' '.join(entry.help.split())}" in text
    bad = runner.invoke(app, ["detecct"])
    assert bad.exit_code == 2 and "No such command" in bad.output
