"""``skyaccord detect`` end to end (typer's runner)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.protocol import default_accord
from skyaccord.tactical import conflict_records, detect
from skyaccord.tracks import read_tracks_csv, write_tracks_csv
from tests.tactical.test_detect import ac, random_picture

HEADER = "id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm"
runner = CliRunner()


def write(path: Path, rows: list[tuple[object, ...]], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_detect_csv_matches_api_and_format(tmp_path: Path) -> None:
    tracks = random_picture(300, 21, 50.0, mixed=True, classes=True)
    src = tmp_path / "tracks.csv"
    with src.open("w") as fh:
        write_tracks_csv(tracks, fh)
    result = runner.invoke(app, ["detect", str(src)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "id1,id2,t_in_s,t_out_s,tcpa_s,dcpa_nm,dz_ft,level"
    rows = parse(result.stdout)
    expected = conflict_records(tracks, detect(tracks, default_accord()), default_accord())
    assert len(rows) == len(expected) > 10
    for row, rec in zip(rows, expected, strict=True):
        assert (row["id1"], row["id2"], row["level"]) == (rec.id1, rec.id2, rec.level)
        assert float(row["t_in_s"]) == pytest.approx(rec.t_in_s, abs=1e-3)
        assert float(row["dcpa_nm"]) == pytest.approx(rec.dcpa_nm, abs=1e-4)
        assert row["id1"] < row["id2"]
    t_in = [float(r["t_in_s"]) for r in rows]
    assert t_in == sorted(t_in)


def test_detect_out_lookahead_and_default_class(tmp_path: Path) -> None:
    # No class column: both manned. Head-on, 5 NM lost after 56.25 s.
    src = write(tmp_path / "t.csv",
                [r[:2] + r[3:] for r in (ac("b", 0, 20 * 1852, 30000, 480, 180),
                                         ac("a", 0, 0, 30000, 480, 0))],
                header="id,party,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = parse(out.read_text())
    assert [(r["id1"], r["id2"]) for r in rows] == [("a", "b")]
    assert float(rows[0]["t_in_s"]) == pytest.approx(56.25, abs=0.02)
    result = runner.invoke(app, ["detect", str(src), "--lookahead", "50"])
    assert result.exit_code == 0
    assert parse(result.stdout) == []


def test_parallel_pair_prints_inf(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", [ac("a", 0, 0, 20000, 450, 0),
                                     ac("b", 0, 3 * 1852, 20000, 450, 0)])
    result = runner.invoke(app, ["detect", str(src)])
    rows = parse(result.stdout)
    assert rows[0]["t_out_s"] == "inf" and math.isinf(float(rows[0]["t_out_s"]))


GOOD = "A1,us,manned,35.0,36.0,30000,450,90,0"


@pytest.mark.parametrize(("bad_line", "line", "column"), [
    ("A2,us,manned,35.0,36.0,30000,fast,90,0", 3, "gs_kt"),
    ("A2,us,manned,91.0,36.0,30000,450,90,0", 3, "lat"),
    ("A2,us,manned,35.0,36.0,nan,450,90,0", 3, "alt_ft"),
    ("A2,us,manned,35.0,36.0,30000,-5,90,0", 3, "gs_kt"),
    ("A1,us,manned,35.1,36.0,30000,450,90,0", 3, "id"),
    ("A2,us,jet,35.0,36.0,30000,450,90,0", 3, "class"),
    ("A2,us,manned,35.0,36.0", 3, "alt_ft"),
    ("A2,us,manned,35.0,,30000,450,90,0", 3, "lon"),
    ("A2,us,manned,35.0,36.0,30000,450,90,0,7", 3, "(end)"),
])
def test_bad_rows_exit_2_naming_line_and_column(tmp_path: Path, bad_line: str, line: int,
                                                column: str) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(f"{HEADER}\n{GOOD}\n{bad_line}\nA3,ru,manned,35.0,36.05,30000,450,270,0\n")
    result = runner.invoke(app, ["detect", str(src)])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"line {line}" in message and f"column '{column}'" in message, message
    skipped = runner.invoke(app, ["detect", str(src), "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 1 bad row" in " ".join(skipped.stderr.split())
    rows = parse(skipped.stdout)
    assert [(r["id1"], r["id2"]) for r in rows] == [("A1", "A3")]


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("id,party,lat,lon,gs_kt,trk_deg,vs_fpm\nA,us,1,2,3,4,5\n")
    result = runner.invoke(app, ["detect", str(src), "--skip-bad"])
    assert result.exit_code == 2
    assert "alt_ft" in result.output
    result = runner.invoke(app, ["detect", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_tracks_csv_roundtrip(tmp_path: Path) -> None:
    tracks = random_picture(50, 3, 30.0, mixed=True, classes=True)
    buf = io.StringIO()
    write_tracks_csv(tracks, buf)
    back = read_tracks_csv(io.StringIO(buf.getvalue())).tracks
    assert np.array_equal(back.id, tracks.id)
    np.testing.assert_array_equal(back.lat, tracks.lat)
    np.testing.assert_array_equal(back.vs_fpm, tracks.vs_fpm)
    assert np.array_equal(back.aircraft_class, tracks.aircraft_class)


