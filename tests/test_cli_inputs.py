"""Hostile and impossible input files get one line naming what is wrong, exit 2 (issue 18).

Each case was a traceback (exit 1) or was silently accepted; the docstrings name the
change to the readers that brings the defect back. The inputs are built here, in the
shapes a careless user or a hostile peer hands over.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from skyaccord.airspace.zones import load_zones_geojson
from skyaccord.cli import app
from skyaccord.errors import AirspaceError
from skyaccord.protocol import default_accord_text
from skyaccord.store import open_store

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def refused(result: Any, *words: str) -> None:
    """Exit 2, one error line naming each of ``words``, and no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output, (w, result.output)


# -- the accord --------------------------------------------------------------------------

def accord_with(tmp: Path, old: str, new: str) -> str:
    text = default_accord_text()
    assert old in text
    p = tmp / "a.toml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return str(p)


def test_accord_version_beyond_32_bits_is_refused(tmp_path: Path) -> None:
    """Version 10**23 was accepted and hashed (a store or peer holding 32 bits could not
    hold it): the range check on ``accord.version``."""
    refused(run("accord", "check", accord_with(tmp_path, "version = 1", "version = " +
                                               "1" + "0" * 23)), "accord.version")
    ok = run("accord", "check", accord_with(tmp_path, "version = 1", "version = 2147483647"))
    assert ok.exit_code == 0, ok.output


def test_alert_level_beyond_the_lookahead_is_refused(tmp_path: Path) -> None:
    """A level's time_s beyond the look-ahead can never fire (detection looks no
    further): the comparison of each level's ``time_s`` with ``lookahead_s``."""
    path = accord_with(tmp_path, 'name = "preventive"\ntime_s = 300.0',
                       'name = "preventive"\ntime_s = 301.0')
    refused(run("accord", "check", path), "alerting.levels[0].time_s", "look-ahead")


def test_accord_deeply_nested_or_binary_is_one_line(tmp_path: Path) -> None:
    """tomllib recursed until RecursionError on 100,000 nested arrays, and read_text
    raised UnicodeDecodeError on binary bytes: both tracebacks."""
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    refused(run("accord", "check", str(deep)), "deep.toml", "nested too deeply")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01 accord")
    refused(run("accord", "check", str(binary)), "bin.toml", "not UTF-8")


# -- intents -----------------------------------------------------------------------------

def feature(**props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "op", "party": "us", "radius_m": 2000, "alt_lower_ft": 10000,
        "alt_upper_ft": 12000, "time_start": "2025-06-01T10:00:00Z",
        "time_end": "2025-06-01T11:00:00Z"}
    base.update(props)
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [38.0, 35.0]},
            "properties": base}


def f3548(vertices: Any = None, volume: Any = None) -> dict[str, Any]:
    v3 = volume if volume is not None else {
        "outline_polygon": {"vertices": vertices},
        "altitude_lower": {"value": 3000, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": 4000, "reference": "W84", "units": "M"}}
    return {"reference": {"id": "op", "manager": "us", "version": 0, "state": "Accepted"},
            "details": {"priority": 0, "volumes": [{
                "volume": v3,
                "time_start": {"value": "2025-06-01T10:00:00Z", "format": "RFC3339"},
                "time_end": {"value": "2025-06-01T11:00:00Z", "format": "RFC3339"}}]}}


def check_intent(tmp: Path, doc: Any = None, *, raw: bytes | None = None) -> Any:
    db = tmp / "r.db"
    if not db.exists():  # `check` reads an existing registry; it creates none
        open_store(str(db)).close()
    p = tmp / "intent.json"
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text(json.dumps(doc), encoding="utf-8")
    return run("intents", "check", str(p), "--db", str(tmp / "r.db"))


@pytest.mark.parametrize("priority", [1e30, 2**31, -(2**31) - 1, 2**63])
def test_priority_out_of_the_stored_range_is_refused(tmp_path: Path, priority: Any) -> None:
    """1e30 reached SQLite as an OverflowError, 2**63 a traceback on SQLite and 2**40 a
    store failure on PostgreSQL: the 32-bit range check in ``validate_intent``."""
    refused(check_intent(tmp_path, feature(priority=priority)), "priority")


def test_priority_at_the_edges_of_the_range_is_accepted(tmp_path: Path) -> None:
    for priority in (2**31 - 1, -(2**31)):
        result = check_intent(tmp_path, feature(priority=priority))
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("raw, words", [
    (b'{"type": "Feature", "properties": {"priority": ' + b"9" * 5000 + b"}}",
     ["invalid JSON", "digits"]),
    (b"\xff\xfe\x00binary", ["not UTF-8"]),
    (b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    (b'{"type": "Feature", "properties": {"priority": NaN}}', ["NaN"]),
])
def test_unreadable_intent_files_are_one_line(tmp_path: Path, raw: bytes,
                                              words: list[str]) -> None:
    """A 5,000-digit integer (ValueError inside json), non-UTF-8 bytes and deep nesting
    were tracebacks; NaN was read as a float: the bounded reader's error branches."""
    refused(check_intent(tmp_path, raw=raw), "intent.json", *words)


def test_unclosed_polygon_ring_is_refused(tmp_path: Path) -> None:
    """RFC 7946 §3.1.6 requires closed rings; an open one was closed silently: the
    first-equals-last check of the GeoJSON reader."""
    doc = feature()
    del doc["properties"]["radius_m"]
    ring = [[38.0, 35.0], [38.1, 35.0], [38.1, 35.1], [38.0, 35.1]]
    doc["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    refused(check_intent(tmp_path, doc), "closed", "RFC 7946")
    doc["geometry"]["coordinates"] = [[*ring, ring[0]]]
    result = check_intent(tmp_path, doc)
    assert result.exit_code == 0, result.output


def test_f3548_vertex_without_lng_and_volume_of_wrong_type(tmp_path: Path) -> None:
    """``p["lng"]`` raised KeyError and ``"volume": 5`` an AttributeError: tracebacks."""
    verts = [{"lat": 35.0, "lng": 38.0}, {"lat": 35.0}, {"lat": 35.1, "lng": 38.1}]
    refused(check_intent(tmp_path, f3548(vertices=verts)), "vertices[1]", "lng")
    refused(check_intent(tmp_path, f3548(volume=5)), "volume", "expected an object")
    refused(check_intent(tmp_path, f3548(vertices="abc")), "vertices", "expected a list")


def test_huge_polygon_is_refused_before_its_vertices_are_read(tmp_path: Path) -> None:
    """A 1,000,000-vertex ring was turned into a million tuples (6.6 s, 359 MB) before
    the 1,000-vertex limit refused it: the count is checked on the raw ring first, so
    the message names the count of the raw ring, not of a built polygon."""
    n = 1_000_000
    doc = feature()
    del doc["properties"]["radius_m"]
    ring = [[38.0 + 1e-7 * i, 35.0] for i in range(n)] + [[38.0, 35.0]]
    doc["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    refused(check_intent(tmp_path, doc), f"polygon has {n} vertices", "limit of 1000")
    verts = [{"lat": 35.0, "lng": 38.0 + 1e-7 * i} for i in range(2000)]
    refused(check_intent(tmp_path, f3548(vertices=verts)), "2000 vertices")


# -- zones -------------------------------------------------------------------------------

def test_zones_file_deep_or_binary_is_an_airspace_error(tmp_path: Path) -> None:
    """``--zones`` read through json.loads unbounded: RecursionError on deep nesting."""
    p = tmp_path / "z.geojson"
    p.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(AirspaceError, match="nested too deeply"):
        load_zones_geojson(p)
    p.write_bytes(b"\x80\x81")
    with pytest.raises(AirspaceError, match="not UTF-8"):
        load_zones_geojson(p)


# -- stores ------------------------------------------------------------------------------

def test_reading_commands_create_no_store_and_leave_foreign_files_alone(
        tmp_path: Path) -> None:
    """``intents list --db typo.db`` created an empty registry, and ``--db us.db`` on a
    line's log added the registry's tables to it: reading commands open with
    ``create=False``, and no store adds tables to a file holding others."""
    typo = tmp_path / "typo.db"
    for args in (["list"], ["notices"], ["show", "x"]):
        refused(run("intents", *args, "--db", str(typo)), "typo.db", "no registry store")
    refused(check_intent_without_store(tmp_path), "no registry store")
    assert not typo.exists() and not (tmp_path / "none.db").exists()

    log = tmp_path / "us.db"
    conn = sqlite3.connect(log)
    conn.execute("CREATE TABLE log (pos INTEGER PRIMARY KEY, body TEXT)")
    conn.commit()
    conn.close()
    before = log.read_bytes()
    for args in (["list"], ["submit", write_intent(tmp_path)]):
        refused(run("intents", *args, "--db", str(log)), "holds other tables", "log")
    assert log.read_bytes() == before
    assert not (tmp_path / "us.db-wal").exists()


def write_intent(tmp: Path) -> str:
    p = tmp / "ok.json"
    p.write_text(json.dumps(feature()), encoding="utf-8")
    return str(p)


def check_intent_without_store(tmp: Path) -> Any:
    return run("intents", "check", write_intent(tmp), "--db", str(tmp / "none.db"))


def test_postgres_reading_commands_create_no_schema_and_skip_setup(
        tmp_path: Path) -> None:
    """On PostgreSQL every command reran the schema setup under the migrators' global
    lock (a write), and ``list`` on a new schema created it: a schema at this version
    is used as it is, and a reading command on a missing schema is refused."""
    url = os.environ.get("SKYACCORD_PG_URL")
    if not url:
        pytest.skip("SKYACCORD_PG_URL is not set")
    psycopg = pytest.importorskip("psycopg")

    schema = f"t18_{uuid.uuid4().hex[:10]}"
    where = f"{url}?skyaccord_schema={schema}"
    try:
        refused(run("intents", "list", "--db", where), "no registry store", schema)
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT 1 FROM information_schema.schemata"
                                " WHERE schema_name = %s", (schema,)).fetchone() is None
        assert run("intents", "submit", write_intent(tmp_path), "--db", where
                   ).exit_code == 0
        # the migrators' lock held elsewhere: a command on a current schema still runs
        with psycopg.connect(url) as holder:
            holder.execute("SELECT pg_advisory_xact_lock(0, 1)")
            listed = run("intents", "list", "--db", where)
            assert listed.exit_code == 0 and "op" in listed.output, listed.output
        # another program's tables in a schema: refused, left as they were
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}_x"')
            conn.execute(f'CREATE TABLE "{schema}_x".log (pos int)')
        refused(run("intents", "submit", write_intent(tmp_path), "--db",
                    f"{url}?skyaccord_schema={schema}_x"), "holds other tables")
        with psycopg.connect(url, autocommit=True) as conn:
            names = {r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (f"{schema}_x",))}
            assert names == {"log"}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for s in (schema, f"{schema}_x"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')


def test_accord_default_prints_or_writes_the_shipped_accord(tmp_path: Path) -> None:
    printed = run("accord", "default")
    assert printed.exit_code == 0 and printed.stdout == default_accord_text()
    out = tmp_path / "mine.toml"
    wrote = run("accord", "default", "--out", str(out))
    assert wrote.exit_code == 0 and out.read_text(encoding="utf-8") == default_accord_text()
    out.write_text("# edited\n", encoding="utf-8")
    refused(run("accord", "default", "--out", str(out)), "exists")
    assert out.read_text(encoding="utf-8") == "# edited\n"
    checked = run("accord", "check", str(tmp_path / "again.toml"))
    assert checked.exit_code == 2
    assert run("accord", "default", "--out", str(tmp_path / "again.toml")).exit_code == 0
    assert run("accord", "check", str(tmp_path / "again.toml")).stdout.startswith(
        "ok syria-2015 v1 ")


# -- tracks ------------------------------------------------------------------------------

TRACKS_HEAD = "id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"


@pytest.mark.parametrize("row, column", [
    ("a,us,manned,35,36,30000,1e300,90,0", "gs_kt"),
    ("a,us,manned,35,36,-99999,480,90,0", "alt_ft"),
    ("a,us,manned,35,36,30000,480,90,1e9", "vs_fpm"),
    ("a,us,manned,35,36,30000,480,1e20,0", "trk_deg"),
])
def test_impossible_track_values_are_refused_by_name(tmp_path: Path, row: str,
                                                     column: str) -> None:
    """1e300 kt leaked an overflow warning and the conflict was silently dropped, and
    -99,999 ft was accepted: each column's physical range (``TRACK_RANGES``), checked on
    the CSV row. With --skip-bad the row is skipped and named, the rest detected."""
    p = tmp_path / "t.csv"
    p.write_text(TRACKS_HEAD + row + "\nb,ru,manned,35,36.4,30000,480,270,0\n"
                 "c,ru,manned,35,36.2,30000,480,270,0\n", encoding="utf-8")
    refused(run("detect", str(p)), "line 2", column)
    skipped = run("detect", str(p), "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 1 bad row" in skipped.output and column in skipped.output


def test_tracks_built_in_python_are_checked_against_the_same_ranges() -> None:
    from skyaccord.errors import TrackDataError
    from skyaccord.tracks import TRACK_RANGES, Tracks

    for column, (lo, hi) in TRACK_RANGES.items():
        for value in (lo, hi):
            row = {"lat": 35.0, "lon": 36.0, "alt_ft": 30000.0, "gs_kt": 480.0,
                   "trk_deg": 90.0, "vs_fpm": 0.0, column: value}
            Tracks.from_rows([("a", "us", "manned", *row.values())])
        row[column] = hi * 1.01 + 1
        with pytest.raises(TrackDataError, match=column):
            Tracks.from_rows([("a", "us", "manned", *row.values())])


def test_zone_beyond_the_poles_is_refused() -> None:
    """A zone at latitude 95 was accepted (and projected to nonsense): the bounds check
    of ``Zone``."""
    from skyaccord.airspace.zones import zones_from_geojson

    ring = [[36, 94], [37, 94], [37, 95], [36, 94]]
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"id": "z", "kind": "sovereign", "owner": "tr"}}]}
    with pytest.raises(AirspaceError, match="latitude 94 to 95"):
        zones_from_geojson(doc, "z.geojson")
    doc["features"][0]["geometry"]["coordinates"] = [[[36, 34], [37, 34], [37, 35],
                                                      [36, 34]]]
    assert zones_from_geojson(doc, "z.geojson")[0].owner == "tr"


# -- outputs -----------------------------------------------------------------------------

ENCOUNTER = TRACKS_HEAD + ("a,us,manned,35,36,30000,480,90,0\n"
                           "b,ru,manned,35,36.4,30000,480,270,0\n")


@pytest.mark.parametrize("args", [
    ["advise", "{tracks}", "--id", "a", "--json", "{bad}"],
    ["airspace", "check", "{tracks}", "--warnings", "{bad}"],
    ["airspace", "check", "{tracks}", "--out", "{bad}"],
])
def test_unwritable_outputs_fail_before_any_work(tmp_path: Path, args: list[str]) -> None:
    """``advise --json adir`` and ``airspace check --warnings nodir/w.jsonl`` printed all
    their results, then failed (exit 1): the output paths are checked first, and nothing
    is printed or created."""
    tracks = tmp_path / "t.csv"
    tracks.write_text(ENCOUNTER, encoding="utf-8")
    (tmp_path / "adir").mkdir()
    for bad in (tmp_path / "adir", tmp_path / "nodir" / "w.jsonl"):
        before = sorted(tmp_path.rglob("*"))
        result = run(*(a.format(tracks=tracks, bad=bad) for a in args))
        refused(result, str(bad))
        assert result.stdout == ""
        assert sorted(tmp_path.rglob("*")) == before


def test_outputs_are_written_whole_and_replace_the_old_file(tmp_path: Path) -> None:
    tracks = tmp_path / "t.csv"
    tracks.write_text(ENCOUNTER, encoding="utf-8")
    out = tmp_path / "a.json"
    out.write_text("old", encoding="utf-8")
    assert run("advise", str(tracks), "--id", "a", "--json", str(out)).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["current_level"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "t.csv"]


def test_track_errors_name_values_as_written_not_numpy_reprs() -> None:
    """numpy 2 scalars print as ``np.str_('zeta')`` / ``np.float64(95.0)``: the messages
    convert them first."""
    from skyaccord.errors import TrackDataError
    from skyaccord.tracks import Tracks

    row = ("zeta", "us", "manned", 35.0, 36.0, 30000.0, 480.0, 90.0, 0.0)
    with pytest.raises(TrackDataError) as dup:
        Tracks.from_rows([row, row])
    assert str(dup.value) == "duplicate track id 'zeta'"
    with pytest.raises(TrackDataError) as far:
        Tracks.from_rows([("zeta", "us", "manned", 95.0, *row[4:])])
    assert "np." not in str(far.value) and "id 'zeta'): lat 95.0 outside" in str(far.value)


# -- feeds -------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("args, words", [
    (["replay", str(DATA / "sample_dump1090.sbs"), "--step", "1e-9"], ["--step", "0.1"]),
    (["replay", str(DATA / "sample_dump1090.sbs"), "--max-age", "0"], ["--max-age"]),
    (["replay", str(DATA / "sample_dump1090.sbs"), "--speed", "1e9"], ["--speed"]),
    (["decode", str(DATA / "sample_dump1090.bin"), "--workers", "4096"], ["--workers"]),
])
def test_options_without_limits_are_bounded(args: list[str], words: list[str]) -> None:
    """``replay --step 1e-9`` ran silently for minutes and ``decode --workers 64`` took
    25 s on a 16 KB file: each option has a stated range, checked first."""
    refused(run(*args), *words)


def test_decode_leaves_nothing_behind_when_it_fails(tmp_path: Path) -> None:
    """decode wrote OUT.part and left it on failure: the output now appears whole by
    rename, and a failing decode leaves the directory as it was."""
    bad = tmp_path / "bad.jsonl"
    bad.mkdir()  # unreadable as a feed: fails once the output is open
    out = tmp_path / "states.csv"
    before = sorted(tmp_path.iterdir())
    result = run("decode", str(bad), "--format", "modes", "--out", str(out))
    refused(result, "bad.jsonl", "cannot read")
    assert sorted(tmp_path.iterdir()) == before
    out.write_text("kept\n", encoding="utf-8")
    assert run("decode", str(bad), "--format", "modes", "--out", str(out)).exit_code == 2
    assert out.read_text(encoding="utf-8") == "kept\n"  # what existed stays
    good = run("decode", str(DATA / "sample_dump1090.bin"), "--out", str(out))
    assert good.exit_code == 0, good.output
    assert out.read_text(encoding="utf-8").startswith("t,icao24,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "states.csv"]


@pytest.mark.parametrize("content, words", [(b"\xff\xfe\x00", "not UTF-8"),
                                            (b"a = " + b"[" * 100_000, "nested too deeply")])
def test_replay_rules_file_binary_or_deep_is_one_line(tmp_path: Path, content: bytes,
                                                      words: str) -> None:
    """``--rules`` read the file with read_text and tomllib unbounded: UnicodeDecodeError
    and RecursionError tracebacks."""
    rules = tmp_path / "rules.toml"
    rules.write_bytes(content)
    refused(run("replay", str(DATA / "sample_dump1090.sbs"), "--rules", str(rules)),
            "rules.toml", words)


def test_demo_refuses_a_negative_seed(tmp_path: Path) -> None:
    """``demo --seed -1`` died in numpy's seeding (ValueError traceback)."""
    refused(run("demo", "--seed", "-1", "--out", str(tmp_path / "d")), "--seed")
    assert not (tmp_path / "d").exists()
