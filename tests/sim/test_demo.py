"""``skyaccord sim demo``: the busiest hours of the shipped theatre through three nodes,
a summary and the report (typer's runner, in process)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app


def test_demo_summarizes_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sim", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "north-west Syria" in out
    for level in ("preventive", "corrective", "warning", "predicted", "incursion"):
        assert level in out
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # the summary printed is the report's: incursions, the near miss, the line
    for inc in summary["incursions"]:
        assert f"incursion: {inc['id']} ({inc['party']}) into {inc['zone']}" in out
    assert {i["id"] for i in summary["incursions"]} == {"RU-FENCER-1", "RU-FENCER-2"}
    assert "near miss: RU-FLANKER-2 / US-VIPER-2" in out
    assert f"overdue responses at the end: {summary['overdue']}" in out
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "run" / "tracks.npz").is_file()
