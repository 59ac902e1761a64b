"""``decode``'s rows on real recordings (issue 18): no row written twice (a real take-off
gave 15–16 identical rows, several frames of one instant carrying one state), and the
count printed is the count written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyaccord.cli import app

DATA = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize("name", ["full_flight_takeoff.jsonl.gz",
                                  "full_flight_landing.jsonl.gz", "sample_dump1090.bin"])
def test_rows_unique_and_counted(tmp_path: Path, name: str) -> None:
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(app, ["decode", str(DATA / name), "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = out.read_text(encoding="utf-8").splitlines()[1:]
    assert len(set(lines)) == len(lines)
    printed = re.search(r"(\d+) rows\s+written", r.output)
    assert printed is not None and int(printed.group(1)) == len(lines)
