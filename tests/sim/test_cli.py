"""The simulator's commands refuse bad input with exit code 2 and a message naming it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app
from tests.sim.test_scenario import GOOD

runner = CliRunner()


def test_sim_run_names_the_line_of_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("type: F-16C", "type: Su-27"))
    result = runner.invoke(app, ["sim", "run", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert f"{bad}:11: missions[0].type: unknown aircraft type 'Su-27'" in result.output
    assert not (tmp_path / "r").exists()


def test_sim_run_refuses_a_used_run_directory(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("keep me")
    result = runner.invoke(app, ["sim", "run", str(good), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "not empty" in result.output
    assert (tmp_path / "r" / "x").read_text() == "keep me"


def test_unknown_theatre_and_missing_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim", "run", "atlantis", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "atlantis" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "nothing"), "--out",
                                 str(tmp_path / "rep")])
    assert result.exit_code == 2 and "not a readable run directory" in result.output


def test_sweep_refuses_a_bad_vary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim", "sweep", "syria2015", "--vary", "speed=3"])
    assert result.exit_code == 2 and "separation_nm" in result.output
