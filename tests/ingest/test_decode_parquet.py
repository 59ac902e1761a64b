"""``skyaccord decode --out FILE.parquet`` (issue 17): the rows of ``--out FILE.csv``,
column by column, on the real recordings; numbers unrounded (each prints as the CSV's
field), nulls where the CSV is empty; the file whole or absent; without pyarrow a
clear error naming the ``parquet`` extra."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.ingest.columns import (
    STATE_COLUMNS,
    StateColumns,
    StatesCsvWriter,
    StatesParquetWriter,
)
from skyaccord.ingest.feed import open_columns

pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()
#: decimals the CSV prints for each number column
DECIMALS = {"t": 6, "lat": 6, "lon": 6, "alt_ft": 0, "gs_kt": 1, "trk_deg": 2, "vs_fpm": 0}


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == STATE_COLUMNS
    return list(reader)


def assert_same_rows(table: object, rows: list[dict[str, str]]) -> None:
    """The Parquet table holds the CSV's rows: strings equal (null for empty), each
    number printed with the CSV's decimals is the CSV's field (null for empty),
    ``on_ground`` True for "1"."""
    assert table.schema.names == list(STATE_COLUMNS)  # type: ignore[attr-defined]
    types = {f.name: f.type for f in table.schema}  # type: ignore[attr-defined]
    assert all(types[n] == pa.float64() for n in DECIMALS)
    assert types["icao24"] == types["callsign"] == pa.string()
    assert types["on_ground"] == pa.bool_()
    got = table.to_pylist()  # type: ignore[attr-defined]
    assert len(got) == len(rows)
    for k, (p, c) in enumerate(zip(got, rows, strict=True)):
        assert p["icao24"] == c["icao24"], k
        assert p["callsign"] == (c["callsign"] or None), k
        assert p["on_ground"] == {"1": True, "0": False}[c["on_ground"]], k
        for name, d in DECIMALS.items():
            if c[name] == "":
                assert p[name] is None, (k, name)
            else:  # unrounded in Parquet: within half the CSV's last digit
                assert f"{p[name]:.{d}f}" == c[name], (k, name, p[name])
                assert abs(p[name] - float(c[name])) <= 0.5 * 10.0 ** -d * (1 + 1e-9), (k, name)


@pytest.mark.parametrize("name", ["full_flight_takeoff.jsonl.gz", "full_flight_landing.jsonl.gz",
                                  "quickstart_paris_10min.json.gz", "sample_dump1090.bin",
                                  "sample_dump1090.sbs", "short_flights.csv"])
def test_parquet_holds_the_csv_rows(name: str, tmp_path: Path) -> None:
    out_csv, out_pq = tmp_path / "d.csv", tmp_path / "d.parquet"
    for out in (out_csv, out_pq):
        r = runner.invoke(app, ["decode", str(DATA / name), "--out", str(out)])
        assert r.exit_code == 0, r.output
    rows = csv_rows(out_csv.read_text(encoding="utf-8"))
    assert len(rows) >= 10
    assert_same_rows(pq.read_table(out_pq), rows)


def test_the_recordings_cover_every_kind_of_field(tmp_path: Path) -> None:
    """What the comparison above sees: ground rows, rows with no callsign and with no
    position (nulls), several aircraft in one file."""
    seen: dict[str, set[object]] = {"ground": set(), "no_call": set(), "no_lat": set()}
    aircraft = 0
    for name in ("full_flight_takeoff.jsonl.gz", "quickstart_paris_10min.json.gz"):
        out = tmp_path / f"{name}.parquet"
        assert runner.invoke(app, ["decode", str(DATA / name), "--out", str(out)]
                             ).exit_code == 0
        t = pq.read_table(out).to_pydict()
        seen["ground"] |= set(t["on_ground"])
        seen["no_call"].add(None in t["callsign"])
        seen["no_lat"].add(None in t["lat"])
        aircraft = max(aircraft, len(set(t["icao24"])))
    assert seen["ground"] == {True, False}
    assert True in seen["no_call"] and True in seen["no_lat"]
    assert aircraft > 10


def chunks(path: Path, size: int) -> Iterator[StateColumns]:
    """The recording's updates in chunks of ``size``, each with its own string tables
    (in the order its rows meet the names)."""
    updates = [u for c in open_columns(path) for u in c.updates()]
    for k in range(0, len(updates), size):
        yield StateColumns.from_updates(updates[k:k + size])


@pytest.mark.parametrize("name", ["full_flight_takeoff.jsonl.gz",
                                  "quickstart_paris_10min.json.gz"])
def test_many_chunks_and_row_groups(name: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few hundred updates (aircraft carried from chunk to chunk, string
    tables renumbered into the file's), row groups of about 1,000 rows: the rows of the
    CSV writer fed the same chunks."""
    src = DATA / name
    buf = io.BytesIO()
    w = StatesCsvWriter(buf)
    for c in chunks(src, 300):
        w.write(c)
    monkeypatch.setattr(StatesParquetWriter, "ROW_GROUP_ROWS", 1000)
    out = tmp_path / "d.parquet"
    with StatesParquetWriter(out) as pw:
        for c in chunks(src, 300):
            pw.write(c)
    assert pw.rows == w.rows > 500
    assert pq.ParquetFile(out).metadata.num_row_groups > 1 or w.rows < 1000
    assert_same_rows(pq.read_table(out), csv_rows(buf.getvalue().decode()))


def test_no_rows_is_a_file_of_the_columns(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    with StatesParquetWriter(out):
        pass
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.names == list(STATE_COLUMNS)


def test_a_failure_leaves_what_was_there(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "d.parquet"
    out.write_bytes(b"old")
    # in the command: a recording that cannot be read, once the file is open
    r = runner.invoke(app, ["decode", str(tmp_path / "missing.jsonl"), "--out", str(out)])
    assert r.exit_code == 2
    # in the writer: a failure after row groups were written to the temporary file
    monkeypatch.setattr(StatesParquetWriter, "ROW_GROUP_ROWS", 100)
    with pytest.raises(RuntimeError), StatesParquetWriter(out) as pw:
        for c in chunks(DATA / "full_flight_takeoff.jsonl.gz", 200):
            pw.write(c)
        assert len(list(tmp_path.iterdir())) == 2  # the old file and the temporary
        raise RuntimeError("disk gone")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet"]  # no temporary


def test_without_pyarrow_a_clear_error_and_no_file(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    # A real process in which pyarrow cannot be imported.
    code = ("import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
            "from skyaccord.cli import main; sys.argv = ['skyaccord'] + sys.argv[1:]; main()")
    done = subprocess.run([sys.executable, "-c", code, "decode",
                           str(DATA / "full_flight_takeoff.jsonl.gz"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "pyarrow" in done.stderr and "skyaccord[parquet]" in done.stderr
    assert list(tmp_path.iterdir()) == []
