"""Columnar results of ``detect``: the numpy cell engine against the all-pairs reference,
the table's order against a sort of Python records, the CSV writers (Python and
compiled) against Python's own formatting and the csv module, Parquet out."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.geo import FT, NM
from skyaccord.protocol import default_accord
from skyaccord.tactical import _csv, detect, detect_all_pairs, level_names
from skyaccord.tactical.detect import (
    CONFLICT_COLUMNS,
    conflict_table,
    write_conflicts_csv,
)
from skyaccord.tracks import Tracks, write_tracks_csv
from tests.tactical.test_detect import random_picture

ACCORD = default_accord()
runner = CliRunner()


@pytest.mark.parametrize(("n", "seed", "box_km", "mixed", "classes"), [
    (60, 11, 20.0, True, True),
    (800, 12, 80.0, True, True),
    (2500, 13, 500.0, True, False),
    (2000, 14, 120.0, False, True),
])
def test_cell_engine_equals_all_pairs(n: int, seed: int, box_km: float, mixed: bool,
                                      classes: bool) -> None:
    tracks = random_picture(n, seed, box_km, mixed, classes)
    cells = detect(tracks, ACCORD, engine="cells")
    slow = detect_all_pairs(tracks, ACCORD, block=256)
    assert len(slow) > 0
    assert np.array_equal(cells.pairs, slow.pairs)
    for field in ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "dz_m", "level", "same_party"):
        np.testing.assert_array_equal(getattr(cells, field), getattr(slow, field))


def python_rows(tracks: Tracks, accord: object = ACCORD) -> list[tuple[object, ...]]:
    """The CSV rows as the record-by-record code built them: one tuple per pair, ids
    ordered as strings, sorted by (t_in, id1, id2) with Python's sort."""
    c = detect_all_pairs(tracks, ACCORD)
    names = level_names(ACCORD)
    rows = []
    for k in range(len(c)):
        a, b = str(tracks.id[c.pairs[0, k]]), str(tracks.id[c.pairs[1, k]])
        rows.append((*sorted((a, b)), float(c.t_in_s[k]), float(c.t_out_s[k]),
                     float(c.tcpa_s[k]), float(c.dcpa_m[k]) / NM, float(c.dz_m[k]) / FT,
                     names[int(c.level[k])]))
    rows.sort(key=lambda r: (r[2], r[0], r[1]))
    return rows


def awkward_ids(tracks: Tracks) -> Tracks:
    """The same picture with ids the CSV must quote, non-ASCII ids, and ids whose string
    order differs from their order in the picture."""
    ids = [f"{chr(0x3b1 + k % 20)}{k}" if k % 7 == 0 else
           f'A,{k}' if k % 7 == 1 else f'B"{k}' if k % 7 == 2 else f"z{(9999 - k)}"
           for k in range(len(tracks))]
    return tracks.with_columns(id=np.array(ids))


def test_table_order_and_records_match_python_sort() -> None:
    tracks = awkward_ids(random_picture(700, 31, 60.0, mixed=True, classes=True))
    table = conflict_table(tracks, detect(tracks, ACCORD), ACCORD)
    expected = python_rows(tracks)
    assert len(table) == len(expected) > 100
    got = [(r.id1, r.id2, r.t_in_s, r.t_out_s, r.tcpa_s, r.dcpa_nm, r.dz_ft, r.level)
           for r in table.records()]
    assert got == expected


def csv_module_text(rows: list[tuple[object, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CONFLICT_COLUMNS)
    for r in rows:
        t_out = r[3]
        assert isinstance(t_out, float)
        w.writerow([r[0], r[1], f"{r[2]:.3f}", "inf" if t_out == float("inf") else
                    f"{t_out:.3f}", f"{r[4]:.3f}", f"{r[5]:.4f}", f"{r[6]:.2f}", r[7]])
    return buf.getvalue()


@pytest.mark.parametrize("compiled", [False, True])
def test_csv_bytes_equal_the_csv_module(compiled: bool, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    # Includes parallel pairs (t_out inf) and ids that need quoting.
    tracks = awkward_ids(random_picture(700, 32, 60.0, mixed=False, classes=True))
    # two hovering drones 550 m apart: a loss that never ends
    rows = [("a", "us", "unmanned", 35.5, 37.5, 2000.0, 0.0, 0.0, 0.0),
            ("b", "us", "unmanned", 35.505, 37.5, 2000.0, 0.0, 0.0, 0.0)]
    tracks = Tracks(*(np.concatenate([getattr(tracks, f), np.array([r[k] for r in rows])])
                      for k, f in enumerate(("id", "party", "aircraft_class", "lat", "lon",
                                             "alt_ft", "gs_kt", "trk_deg", "vs_fpm"))))
    expected = csv_module_text(python_rows(tracks))
    assert ",inf," in expected and '"A,' in expected and '""' in expected
    if compiled:
        monkeypatch.setattr(_csv, "COMPILED_ROWS", 0)
        monkeypatch.setattr(_csv, "_ROWS", 97)  # many blocks, on the two threads
    table = conflict_table(tracks, detect(tracks, ACCORD), ACCORD)
    binary = io.BytesIO()
    write_conflicts_csv(table, binary)
    assert binary.getvalue().decode("utf-8") == expected
    text = io.StringIO()
    write_conflicts_csv(table, text)
    assert text.getvalue() == expected
    records = io.StringIO()
    write_conflicts_csv(table.records(), records)
    assert records.getvalue() == expected


EDGES = [0.0, -0.0, 5e-4, 0.0015, 0.0025, 0.125, 0.375, 2.5, 1e-320, -1e-5, 999.9995,
         1000000.5, float("inf"), float("-inf"), float("nan"), 1e300, 2.0 ** 51 / 1e4,
         123456789.0005, 0.1 + 0.2]


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("digits", [0, 2, 3, 4])
def test_numbers_print_as_python_does(digits: int, compiled: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Ties of the decimal grid (k + 0.5) / 10**digits as doubles: their exact values lie
    # either side of the tie, which only the exact product error decides.
    rng = np.random.default_rng(digits)
    ties = (rng.integers(0, 10 ** 6, 5000) + 0.5) / 10 ** digits
    values = np.concatenate([EDGES, ties, -ties, rng.uniform(-1e6, 1e6, 5000),
                             rng.integers(0, 10 ** 7, 3000) / 2.0 ** rng.integers(0, 12, 3000)])
    if compiled:
        monkeypatch.setattr(_csv, "COMPILED_ROWS", 0)
    out = io.BytesIO()
    _csv.write_rows(out, [(values, digits)], len(values))
    assert out.getvalue().decode().split("\n")[:-1] == [f"{v:.{digits}f}" for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1,
                max_size=50), st.integers(0, 6))
def test_compiled_numbers_any_float(values: list[float], digits: int) -> None:
    _csv.COMPILED_ROWS, saved = 0, _csv.COMPILED_ROWS
    try:
        out = io.BytesIO()
        _csv.write_rows(out, [(np.array(values), digits)], len(values))
    finally:
        _csv.COMPILED_ROWS = saved
    assert out.getvalue().decode().split("\n")[:-1] == [f"{v:.{digits}f}" for v in values]


def picture_file(tmp_path: Path) -> tuple[Path, Tracks]:
    tracks = random_picture(400, 33, 50.0, mixed=True, classes=True)
    src = tmp_path / "tracks.csv"
    with src.open("w") as fh:
        write_tracks_csv(tracks, fh)
    return src, tracks


def test_detect_parquet_out(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    src, tracks = picture_file(tmp_path)
    out = tmp_path / "conflicts.parquet"
    result = runner.invoke(app, ["detect", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = pq.read_table(out).to_pydict()
    expected = python_rows(tracks)
    assert list(got)[:8] == list(CONFLICT_COLUMNS) and list(got)[8] == "same_party"
    assert len(expected) > 50
    for k, name in enumerate(CONFLICT_COLUMNS):
        assert got[name] == [r[k] for r in expected], name  # unrounded: equal floats
    party = dict(zip(tracks.id.tolist(), tracks.party.tolist(), strict=True))
    assert got["same_party"] == [party[str(r[0])] == party[str(r[1])] for r in expected]


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path) -> None:
    src, _ = picture_file(tmp_path)
    out = tmp_path / "conflicts.parquet"
    # A real process in which pyarrow cannot be imported.
    code = ("import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
            "from skyaccord.cli import main; sys.argv = ['skyaccord'] + sys.argv[1:]; main()")
    done = subprocess.run([sys.executable, "-c", code, "detect", str(src), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "pyarrow" in done.stderr and "skyaccord[parquet]" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("n", [0, 1, 2, 7, 5000])
def test_order_by_time_then_key_is_lexsort(n: int) -> None:
    from skyaccord.tactical.detect import _order_by

    rng = np.random.default_rng(n)
    t = np.round(rng.uniform(0, 30, n), 0)  # many shared times
    t[: n // 3] = 0.0  # pairs already in loss share t_in = 0
    key = rng.permutation(4 * n)[:n].astype(np.int64)
    np.testing.assert_array_equal(_order_by(t, key), np.lexsort((key, t)))
