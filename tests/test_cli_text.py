"""Data and user text are never read as console markup (issue 18).

Each case was a crash (``rich.errors.MarkupError``) or silently lost brackets before the
CLI's consoles stopped interpreting markup: the mutation that brings one back is printing
through a console with ``markup=True`` (rich's default), named in each test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from skyaccord.cli import app

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def intent(id_: str, party: str, lon: float) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
            "properties": {"id": id_, "party": party, "radius_m": 2000,
                           "alt_lower_ft": 10000, "alt_upper_ft": 12000,
                           "time_start": "2025-06-01T10:00:00Z",
                           "time_end": "2025-06-01T11:00:00Z"}}


def test_error_naming_a_bracketed_file_keeps_its_name(tmp_path: Path) -> None:
    """``fail`` printed the message as markup: ``[/x]`` was a closing tag with no opening
    one, and the CLI died with a MarkupError traceback (exit 1) instead of exit 2."""
    result = run("accord", "check", str(tmp_path / "[/x].toml"))
    assert result.exit_code == 2, result.output
    assert "[/x].toml" in result.output and "cannot read accord" in result.output


def test_bracketed_intent_ids_are_listed_as_written(tmp_path: Path) -> None:
    """``intents list`` printed ids through a markup console: ``[/x]op`` crashed the
    listing for every user of the registry, and ``[red]op2`` was shown as ``op2``."""
    db = str(tmp_path / "r.db")
    for n, (id_, lon) in enumerate((("[/x]op", 38.0), ("[red]op2", 39.0))):
        f = tmp_path / f"i{n}.json"
        f.write_text(json.dumps(intent(id_, "us", lon)), encoding="utf-8")
        submitted = run("intents", "submit", str(f), "--db", db)
        assert submitted.exit_code == 0, submitted.output
        assert id_ in submitted.output
    listed = run("intents", "list", "--db", db)
    assert listed.exit_code == 0, listed.output
    assert "[/x]op" in listed.output and "[red]op2" in listed.output


def test_advise_prints_a_bracketed_aircraft_id(tmp_path: Path) -> None:
    """``advise`` printed the ownship id in its heading through markup: ``--id "[/x]"``
    crashed after the bands were computed."""
    tracks = tmp_path / "t.csv"
    tracks.write_text(
        "id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
        "[/x],us,manned,35.0,36.0,30000,480,90,0\n"
        "[b]y,ru,manned,35.0,36.4,30000,480,270,0\n", encoding="utf-8")
    result = run("advise", str(tracks), "--id", "[/x]")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("[/x]: now ")
    assert "corrective" in result.stdout
