"""``skyaccord airspace check --out FILE.parquet`` (issue 17): the rows of ``--out
FILE.csv``, column by column; numbers unrounded (each prints as the CSV's field),
``t_exit_s`` null where the CSV is empty; without pyarrow a clear error naming the
``parquet`` extra and no file."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from skyaccord.airspace.warning import INCURSION_COLUMNS
from skyaccord.cli import app
from skyaccord.tracks import Tracks, write_tracks_csv

pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

runner = CliRunner()
DECIMALS = {"t_entry_s": 3, "t_exit_s": 3, "depth_nm": 4}


def picture(tmp: Path, n: int = 400) -> Path:
    """Aircraft of four parties around the Syria-Turkey-Iraq borders (the shipped
    zones), ids that the CSV must quote among them; and the three of the existing
    check test (one inside Iraq now, one crossing from Syria into Turkey)."""
    rng = np.random.default_rng(17)
    ids = [f"a{k}" for k in range(n)]
    ids[3], ids[5] = 'quo"te', "com,ma"
    rows = [(ids[k], str(rng.choice(["ru", "tr", "us", "sy"])), "manned",
             float(rng.uniform(35.0, 38.0)), float(rng.uniform(36.0, 43.0)),
             float(rng.uniform(1000, 40000)), float(rng.uniform(200, 600)),
             float(rng.uniform(0, 360)), float(rng.choice([0.0, 2000.0, -2000.0])))
            for k in range(n)]
    rows += [("RF1", "ru", "manned", 36.62, 37.10, 19000, 480, 0, 0),
             ("TK1", "tr", "manned", 39.00, 35.00, 25000, 420, 90, 0),
             ("US1", "us", "manned", 33.30, 44.40, 25000, 400, 270, 0)]
    p = tmp / "tracks.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        write_tracks_csv(Tracks.from_rows(rows), fh)
    return p


def check(tracks: Path, out: Path, *more: str) -> None:
    r = runner.invoke(app, ["airspace", "check", str(tracks), "--out", str(out), *more])
    assert r.exit_code == 0, r.output


def test_parquet_holds_the_csv_rows(tmp_path: Path) -> None:
    tracks = picture(tmp_path)
    out_csv, out_pq = tmp_path / "i.csv", tmp_path / "i.parquet"
    check(tracks, out_csv)
    check(tracks, out_pq)
    with out_csv.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == INCURSION_COLUMNS
        rows = list(reader)
    table = pq.read_table(out_pq)
    assert table.schema.names == list(INCURSION_COLUMNS)
    types = {f.name: f.type for f in table.schema}
    assert types["id"] == types["zone"] == types["owner"] == pa.string()
    assert all(types[n] == pa.float64() for n in DECIMALS)
    got = table.to_pylist()
    assert len(got) == len(rows) > 100
    # what the comparison sees: quoted ids, open-ended incursions, several zones
    assert {'quo"te', "com,ma"} & {r["id"] for r in rows}
    assert any(r["t_exit_s"] == "" for r in rows) and any(r["t_exit_s"] for r in rows)
    assert len({r["zone"] for r in rows}) >= 3
    for k, (p, c) in enumerate(zip(got, rows, strict=True)):
        assert (p["id"], p["zone"], p["owner"]) == (c["id"], c["zone"], c["owner"]), k
        for name, d in DECIMALS.items():
            if c[name] == "":
                assert p[name] is None, (k, name)
            else:  # unrounded in Parquet: within half the CSV's last digit
                assert f"{p[name]:.{d}f}" == c[name], (k, name, p[name])
                assert abs(p[name] - float(c[name])) <= 0.5 * 10.0 ** -d * (1 + 1e-9)


def test_no_incursions_is_a_file_of_the_columns(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:  # a Turkish jet over Turkey
        write_tracks_csv(Tracks.from_rows(
            [("TK1", "tr", "manned", 39.0, 35.0, 25000, 420, 90, 0)]), fh)
    out = tmp_path / "i.parquet"
    check(p, out)
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.names == list(INCURSION_COLUMNS)


def test_geojson_is_not_written_to_a_parquet_name(tmp_path: Path) -> None:
    out = tmp_path / "i.parquet"
    r = runner.invoke(app, ["airspace", "check", str(picture(tmp_path, 10)), "--out",
                            str(out), "--format", "geojson"])
    assert r.exit_code == 2 and not out.exists()


def test_without_pyarrow_a_clear_error_and_no_file(tmp_path: Path) -> None:
    tracks = picture(tmp_path, 20)
    out = tmp_path / "i.parquet"
    # A real process in which pyarrow cannot be imported.
    code = ("import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
            "from skyaccord.cli import main; sys.argv = ['skyaccord'] + sys.argv[1:]; main()")
    done = subprocess.run([sys.executable, "-c", code, "airspace", "check", str(tracks),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "pyarrow" in done.stderr and "skyaccord[parquet]" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracks.csv"]
