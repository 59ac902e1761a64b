"""``skyaccord detect`` on a picture large enough for every fast path at once (the
tracks read by pyarrow where installed, numba loading on a thread beside the read, the
compiled grid with its own exact test, the compiled CSV writer): its file is the bytes
the csv module writes from records sorted by Python, and a bad row in such a file is
still refused by line, the loading thread finished first (a real process each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from skyaccord.geo import LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical.detect import COMPILED_FROM, conflict_records, detect
from skyaccord.tracks import Tracks, write_tracks_csv
from tests.tactical.test_columns import csv_module_text

ACCORD = default_accord()


def big_picture(n: int) -> Tracks:
    """Tracks over a 1,500 km box (a few conflicts each), ids in no string order."""
    rng = np.random.default_rng(5)
    lat, lon = LocalPlane(35.5, 37.5).inverse(rng.uniform(-75e4, 75e4, n),
                                              rng.uniform(-75e4, 75e4, n))
    vs = np.where(rng.random(n) < 1 / 3, rng.uniform(-2500, 2500, n), 0.0)
    return Tracks(np.array([f"T{(k * 7919) % n}" for k in range(n)]),
                  rng.choice(["us", "ru", "tr"], n), rng.choice(["manned", "civil"], n),
                  lat, lon, rng.uniform(10_000, 40_000, n), rng.uniform(200, 480, n),
                  rng.uniform(0, 360, n), vs)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skyaccord", "detect", *args],
                          capture_output=True, text=True, timeout=600)


def test_large_picture_bytes_equal_the_records_csv(tmp_path: Path) -> None:
    tracks = big_picture(COMPILED_FROM + 500)
    src = tmp_path / "tracks.csv"
    with src.open("w") as fh:
        write_tracks_csv(tracks, fh)
    out = tmp_path / "out.csv"
    done = run(str(src), "--out", str(out))
    assert done.returncode == 0, done.stderr
    # The reference: the tracks as written (17 significant digits read back), numpy's cell
    # engine (no compiled code; equal to every pair tested: test_columns), records sorted
    # by Python, written by the csv module.
    again = Tracks.from_rows(
        [(str(tracks.id[k]), str(tracks.party[k]), str(tracks.aircraft_class[k]),
          *(float(repr(float(getattr(tracks, c)[k]))) for c in
            ("lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm")))
         for k in range(len(tracks))])
    records = conflict_records(again, detect(again, ACCORD, engine="cells"), ACCORD)
    assert len(records) > 5_000
    expected = csv_module_text([tuple(r)[:8] for r in records])
    assert out.read_text() == expected


def test_bad_row_in_a_large_file_is_refused_by_line(tmp_path: Path) -> None:
    tracks = big_picture(COMPILED_FROM + 10)
    src = tmp_path / "tracks.csv"
    with src.open("w") as fh:
        write_tracks_csv(tracks, fh)
    lines = src.read_text().splitlines(keepends=True)
    lines[12_345] = lines[12_345].replace(",manned,", ",balloon,").replace(",civil,",
                                                                            ",balloon,")
    src.write_text("".join(lines))
    out = tmp_path / "out.csv"
    done = run(str(src), "--out", str(out))
    assert done.returncode == 2
    assert "line 12346" in done.stderr and "balloon" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
