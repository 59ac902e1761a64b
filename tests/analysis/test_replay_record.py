"""``skyaccord replay --record RUN`` then ``skyaccord report RUN``, as real processes, on
a real recording: 10 minutes of ADS-B traffic around Paris (39 aircraft, traffic's
sample, ``tests/data/README.md``).

Truth is computed here, not by the program: the closest approach of every pair by brute
force on the recorded ``tracks.csv`` (WGS84 geodesic distances with ``pyproj.Geod`` at
every sample time, and densely between samples on the straight-line interpolation the
analysis assumes), party and class by the ICAO address blocks of Annex 10, the time span
and positions from the feed file itself. A hand-made feed across the Syrian-Turkish
border checks the incursions; bad command lines exit 2 (1 for a failed write), leaving
nothing behind.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from skyaccord.geo import NM

DATA = Path(__file__).resolve().parents[1] / "data"
PARIS = DATA / "quickstart_paris_10min.json.gz"
BORDERS = (Path(__file__).resolve().parents[2] / "src" / "skyaccord" / "airspace" / "data"
           / "theatre_borders.geojson")
GEOD = Geod(ellps="WGS84")
SCREEN_M = 10 * NM  # the report's encounters: closest approach within 10 NM
#: the analysis measures on a stereographic plane centred on the recording; within
#: 200 km of its centre the plane's scale is within (200 / 2R)^2 = 2.5e-4 of 1 (the
#: recording spans less); 1 m for the CSV's rounding and the interpolation's step
REL_TOL, ABS_TOL_M = 2.5e-4, 1.0


def skyaccord(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skyaccord", *map(str, args)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def paris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("paris")
    run, report, alerts = root / "run", root / "report", root / "alerts.csv"
    r = skyaccord("replay", PARIS, "--record", run, "--out", alerts)
    assert r.returncode == 0, r.stderr
    r = skyaccord("report", run, "--out", report)
    assert r.returncode == 0, r.stderr
    return run, report, alerts


def read_tracks(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """tracks.csv by aircraft: t, lat, lon, alt_ft arrays, and the labels."""
    rows: dict[str, list[list[str]]] = defaultdict(list)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            rows[row["id"]].append([row["t"], row["lat"], row["lon"], row["alt_ft"],
                                    row["party"], row["class"]])
    out = {}
    for ident, rs in rows.items():
        a = np.array([[float(x) for x in r[:4]] for r in rs])
        out[ident] = {"t": a[:, 0], "lat": a[:, 1], "lon": a[:, 2], "alt": a[:, 3],
                      "labels": {(r[4], r[5]) for r in rs}}
    return out


def feed_records() -> list[dict]:
    with gzip.open(PARIS, "rt") as f:
        return json.load(f)


def test_the_report_is_written_and_says_there_is_no_line(
        paris: tuple[Path, Path, Path]) -> None:
    _, report, _ = paris
    assert (report / "index.html").is_file() and (report / "map.png").is_file()
    page = (report / "index.html").read_text()
    assert "No line in a replay" in page and "n/a" in page
    assert "quickstart_paris_10min.json.gz" in page
    summary = json.loads((report / "summary.json").read_text())
    assert summary["kind"] == "replay" and summary["has_line"] is False
    assert summary["seed"] is None and summary["overdue"] is None
    assert summary["line"] == [] and summary["messages"] == {}
    for c in summary["conduct"].values():  # not applicable, not zero
        for name in ("requests_received", "responses_on_time", "responses_late",
                     "responses_never", "responses_overdue", "notices_sent",
                     "intents_filed", "warnings_received", "warnings_ignored"):
            assert c[name] is None, name
    assert summary["encounters"], "the approach streams meet"


def test_run_json_says_what_was_replayed(paris: tuple[Path, Path, Path]) -> None:
    from skyaccord.protocol import default_accord, load_accord

    run, _, _ = paris
    meta = json.loads((run / "run.json").read_text())
    assert meta["kind"] == "replay" and meta["line"] is False
    assert meta["source"] == str(PARIS) and meta["format"] == "traffic"
    # the accord written is the one replayed, and the hash says so
    assert meta["accord"]["sha256"] == load_accord(run / "accord.toml").sha256 \
        == default_accord().sha256
    # ticks every second from the first report to the last (whole seconds in the file)
    stamps = [r["timestamp"] / 1000 for r in feed_records()]
    assert meta["t0"] == math.ceil(min(stamps)) and meta["t1"] == math.ceil(max(stamps))
    assert meta["steps"] == meta["t1"] - meta["t0"] + 1


def _annex10(icao: str) -> tuple[str, str]:
    """Party and class by the state address blocks (ICAO Annex 10 Vol III Table 9-1),
    as the default rules state them: US A00000-AFFFFF (AE-AF military: manned),
    Russia 100000-1FFFFF, Turkey 4B8000-4BFFFF; anything else of no party, civil."""
    a = int(icao, 16)
    if 0xAE0000 <= a <= 0xAFFFFF:
        return "us", "manned"
    for lo, hi, party in ((0xA00000, 0xADFFFF, "us"), (0x100000, 0x1FFFFF, "ru"),
                          (0x4B8000, 0x4BFFFF, "tr")):
        if lo <= a <= hi:
            return party, "civil"
    return "unknown", "civil"


def test_tracks_are_the_feed_played_with_their_labels(paris: tuple[Path, Path, Path]) -> None:
    run, _, _ = paris
    tracks = read_tracks(run / "tracks.csv")
    feed: dict[tuple[str, float], dict] = {}
    for r in feed_records():
        feed[(r["icao24"], r["timestamp"] / 1000)] = r
    assert len(tracks) >= 30
    assert {"us", "tr", "unknown"} <= {p for tr in tracks.values() for p, _ in tr["labels"]}
    matched = 0
    for ident, tr in tracks.items():
        assert tr["labels"] == {_annex10(ident)}, ident
        for k, t in enumerate(tr["t"]):
            r = feed.get((ident, t))
            if r is None or r["latitude"] is None or r["altitude"] is None:
                continue
            # a report at the tick's own time: the picture holds it as reported
            assert tr["lat"][k] == pytest.approx(r["latitude"], abs=1e-6)
            assert tr["lon"][k] == pytest.approx(r["longitude"], abs=1e-6)
            assert tr["alt"][k] == pytest.approx(r["altitude"], abs=0.05)
            matched += 1
    assert matched > 10_000


def _brute_force(tracks: dict[str, dict[str, np.ndarray]]
                 ) -> dict[tuple[str, str], tuple[float, float]]:
    """Each pair's closest horizontal approach (metres, time): geodesic distances at
    every common sample time, then, on the intervals where the minimum may lie (an
    interval's distance cannot fall below its ends' less half of both aircraft's moves,
    by the triangle inequality), at 101 points of the straight-line interpolation.
    Pairs apart (never both recorded at two successive ticks) are left out."""
    times = np.unique(np.concatenate([tr["t"] for tr in tracks.values()]))
    ids = sorted(tracks)
    lat = np.full((len(times), len(ids)), np.nan)
    lon = np.full_like(lat, np.nan)
    for j, ident in enumerate(ids):
        k = np.searchsorted(times, tracks[ident]["t"])
        lat[k, j], lon[k, j] = tracks[ident]["lat"], tracks[ident]["lon"]
    here = np.isfinite(lat)
    # each aircraft's move over each interval (geodesic), NaN where it is missing
    move = np.full((len(times) - 1, len(ids)), np.nan)
    for j in range(len(ids)):
        ok = here[:-1, j] & here[1:, j]
        if ok.any():
            move[ok, j] = GEOD.inv(lon[:-1, j][ok], lat[:-1, j][ok], lon[1:, j][ok],
                                   lat[1:, j][ok])[2]
    s = np.linspace(0.0, 1.0, 101)
    out = {}
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            both = here[:, a] & here[:, b]
            seg = np.flatnonzero(both[:-1] & both[1:])
            if seg.size == 0:
                continue
            d = np.full(len(times), np.inf)
            d[both] = GEOD.inv(lon[both, a], lat[both, a], lon[both, b], lat[both, b])[2]
            k0 = int(np.argmin(d))
            best_d, best_t = float(d[k0]), float(times[k0])
            floor = np.minimum(d[seg], d[seg + 1]) - (move[seg, a] + move[seg, b]) / 2
            ks = seg[floor < best_d][:, None]  # (m, 1) intervals, times s (1, 101)
            if ks.size:
                la = [lat[ks, c] + (lat[ks + 1, c] - lat[ks, c]) * s for c in (a, b)]
                lo = [lon[ks, c] + (lon[ks + 1, c] - lon[ks, c]) * s for c in (a, b)]
                dd = GEOD.inv(lo[0].ravel(), la[0].ravel(), lo[1].ravel(),
                              la[1].ravel())[2].reshape(la[0].shape)
                m, i = np.unravel_index(int(np.argmin(dd)), dd.shape)
                if dd[m, i] < best_d:
                    k = int(ks[m, 0])
                    best_d = float(dd[m, i])
                    best_t = float(times[k] + s[i] * (times[k + 1] - times[k]))
            out[(ids[a], ids[b])] = (best_d, best_t)
    return out


def test_encounter_minima_equal_brute_force(paris: tuple[Path, Path, Path]) -> None:
    run, report, _ = paris
    truth = _brute_force(read_tracks(run / "tracks.csv"))
    summary = json.loads((report / "summary.json").read_text())
    found = {tuple(sorted((e["id1"], e["id2"]))): e for e in summary["encounters"]}
    assert len(found) == len(summary["encounters"])
    # every pair the brute force finds within the screen is an encounter, and back
    inside = {p for p, (d, _) in truth.items() if d <= SCREEN_M * (1 - REL_TOL)}
    assert inside <= set(found), sorted(inside - set(found))
    assert len(inside) >= 50
    for pair, e in found.items():
        d, _ = truth[pair]
        assert d <= SCREEN_M * (1 + REL_TOL)
        assert e["h_miss_nm"] * NM == pytest.approx(d, rel=REL_TOL, abs=ABS_TOL_M), pair
        assert e["h_miss_nm"] * NM <= d * (1 + REL_TOL) + ABS_TOL_M
    close = [p for p, e in found.items() if e["h_miss_nm"] < 1.0]
    assert close, "some pairs come within 1 NM (arrivals into CDG and Orly)"


def test_alerts_recorded_are_those_replay_prints(paris: tuple[Path, Path, Path]) -> None:
    """Every row of the alerts CSV (a new conflict or a higher level) is a conflict
    that appeared or rose at that tick in the run's alerts.jsonl, and nothing else."""
    run, _, alerts_csv = paris
    with alerts_csv.open(newline="") as f:
        printed = sorted((float(r["t"]), r["id1"], r["id2"], r["level"])
                         for r in csv.DictReader(f))
    rank: dict[str, int] = {}
    recorded = []
    for line in (run / "alerts.jsonl").read_text().splitlines():
        al = json.loads(line)
        assert al["node"] == "replay"
        if al["change"] == "cleared":
            rank.pop(al["key"], None)
            continue
        if al["type"] != "conflict":
            continue
        if al["change"] == "new" or al["rank"] > rank[al["key"]]:
            recorded.append((al["t"], al["id1"], al["id2"], al["level"]))
        rank[al["key"]] = al["rank"]
    assert printed and sorted(recorded) == printed


def test_an_incursion_into_turkey_is_found_and_timed(tmp_path: Path) -> None:
    """A ru track flying north across the Syrian-Turkish border south of Yayladağı at
    400 kt: the replay's observer finds the incursion; its time inside equals the
    recorded positions' time inside the shipped border (shapely, every 0.1 s)."""
    doc = json.loads(BORDERS.read_text())
    turkey = shapely.geometry.shape(next(f for f in doc["features"]
                                         if f["properties"]["owner"] == "tr")["geometry"])
    lon0 = 36.10
    cut = shapely.intersection(turkey.boundary,
                               shapely.LineString([(lon0, 35.6), (lon0, 36.2)]))
    lat_border = min(p.y for p in getattr(cut, "geoms", [cut]))
    speed = 400 * 1852 / 3600
    # from 6 km short of the border, 90 s north then gone: about 60 s inside
    lats = [GEOD.fwd(lon0, lat_border, 0.0, -6000.0 + speed * t)[1] for t in range(91)]
    assert turkey.contains(shapely.Point(lon0, lats[-1]))
    feed = tmp_path / "fencer.csv"
    feed.write_text("t,id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n" + "".join(
        f"{1448348400 + t},RU-1,ru,manned,{la:.7f},{lon0},19000,400,0,0\n"
        for t, la in enumerate(lats)))
    run, report = tmp_path / "run", tmp_path / "report"
    r = skyaccord("replay", feed, "--format", "tracks", "--record", run, "--out",
                  tmp_path / "a.csv")
    assert r.returncode == 0, r.stderr
    r = skyaccord("report", run, "--out", report)
    assert r.returncode == 0, r.stderr
    summary = json.loads((report / "summary.json").read_text())
    (inc,) = summary["incursions"]
    assert (inc["id"], inc["party"], inc["owner"]) == ("RU-1", "ru", "tr")
    t, la, lo = [], [], []
    with (run / "tracks.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            t.append(float(row["t"]))
            la.append(float(row["lat"]))
            lo.append(float(row["lon"]))
    tf = np.arange(t[0], t[-1], 0.1)
    inside = shapely.contains_xy(turkey, np.full_like(tf, lon0), np.interp(tf, t, la))
    assert inc["inside_s"] == pytest.approx(inside.sum() * 0.1, abs=1.5)
    assert 50 <= inc["inside_s"] <= 65
    assert summary["conduct"]["ru"]["incursions"] == 1
    assert summary["conduct"]["ru"]["warnings_ignored"] is None  # no operators: n/a
    assert "warnings_before" not in inc
    page = (report / "index.html").read_text()
    row = page[page.index(f"<td>RU-1</td><td>ru</td><td>{inc['zone']}</td><td>tr</td>"):]
    assert row[:row.index("</tr>")].endswith("<td>n/a</td>")  # warnings before: n/a
    levels = [json.loads(x)["level"] for x in (run / "alerts.jsonl").read_text().split()]
    assert levels[:2] == ["predicted", "incursion"]


# -- bad command lines --------------------------------------------------------------

def _left(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_a_missing_source_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    r = skyaccord("replay", tmp_path / "nope.sbs", "--record", tmp_path / "run")
    assert r.returncode == 2 and "nope.sbs" in r.stderr
    assert _left(tmp_path) == []


def test_a_run_directory_in_use_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    r = skyaccord("replay", DATA / "sample_dump1090.sbs", "--record", run)
    assert r.returncode == 2 and "not empty" in r.stderr
    assert _left(tmp_path) == ["run"] and _left(run) == ["keep.txt"]
    (tmp_path / "file").write_text("x")
    r = skyaccord("replay", DATA / "sample_dump1090.sbs", "--record", tmp_path / "file")
    assert r.returncode == 2 and "not a directory" in r.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_a_missing_or_unwritable_place_is_refused(tmp_path: Path) -> None:
    r = skyaccord("replay", DATA / "sample_dump1090.sbs", "--record",
                  tmp_path / "no" / "run")
    assert r.returncode == 2 and "no directory" in r.stderr
    assert _left(tmp_path) == []
    if os.geteuid() == 0:
        return  # root writes anywhere: the permission check cannot be seen here
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        r = skyaccord("replay", DATA / "sample_dump1090.sbs", "--record", locked / "run")
        assert r.returncode == 2 and "not writable" in r.stderr
        assert _left(locked) == []
    finally:
        locked.chmod(0o700)


def test_an_empty_directory_is_filled(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    r = skyaccord("replay", DATA / "sample_dump1090.sbs", "--record", run)
    assert r.returncode == 0, r.stderr
    assert {"run.json", "tracks.csv", "tracks.npz", "alerts.jsonl", "accord.toml",
            "zones.geojson"} <= set(_left(run))
    assert _left(tmp_path) == ["run"]


def test_a_failed_write_exits_1_and_leaves_nothing(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import skyaccord.ingest.record_cli as record_cli
    from skyaccord.cli import app

    def full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record_cli, "write_tracks", full)
    result = CliRunner().invoke(app, ["replay", str(DATA / "sample_dump1090.sbs"),
                                      "--record", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output
    assert _left(tmp_path) == []


def test_report_of_a_missing_run_exits_2(tmp_path: Path) -> None:
    r = skyaccord("report", tmp_path / "nothing", "--out", tmp_path / "rep")
    assert r.returncode == 2 and "not a readable run directory" in r.stderr


def test_a_live_feed_is_recorded_as_its_file_is(tmp_path: Path) -> None:
    """``replay tcp://...`` of the real frames served by a local socket that then hangs
    up (exit 1: the feed is lost): the run directory is still made, whole, with the
    tracks the same file gives replayed from disk (up to the tick the feed ended in)."""
    from typer.testing import CliRunner

    from skyaccord.cli import app
    from tests.ingest.test_tcp import serve

    sample = DATA / "short_flights.csv"
    data = "".join(f"{t} {f}\n" for t, f in (line.split(",") for line in
                                              sample.read_text().splitlines())).encode()
    live, disk = tmp_path / "live", tmp_path / "disk"
    with serve([data], hold_last=False) as port:
        res = CliRunner().invoke(app, ["replay", f"tcp://127.0.0.1:{port}", "--format",
                                       "modes", "--max-retries", "0", "--record", str(live)])
    assert res.exit_code == 1, res.output
    r = skyaccord("replay", sample, "--record", disk)
    assert r.returncode == 0, r.stderr
    meta = json.loads((live / "run.json").read_text())
    assert meta["kind"] == "replay" and meta["format"] == "raw"
    assert meta["feed"]["end"].startswith("feed lost: ")
    assert meta["source"] == f"tcp://127.0.0.1:{port}"
    assert json.loads((disk / "run.json").read_text())["format"] == "modes"
    live_rows = (live / "tracks.csv").read_text().splitlines()
    disk_rows = (disk / "tracks.csv").read_text().splitlines()
    last = disk_rows[-1].split(",")[0]
    assert len(live_rows) > 100
    assert live_rows in (disk_rows, [r for r in disk_rows if not r.startswith(last + ",")])
    assert _left(tmp_path) == ["disk", "live"]
    r = skyaccord("report", live, "--out", tmp_path / "report")
    assert r.returncode == 0, r.stderr


def test_an_interrupted_file_replay_records_nothing(tmp_path: Path) -> None:
    """Ctrl-C half-way through a recording (played at real time): exit 1, no run
    directory, no temporary left (a recording stopped half-way is not its replay)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "skyaccord", "replay", str(PARIS),
                             "--speed", "1", "--record", str(tmp_path / "run")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(10)  # started and reading (the replay itself lasts 10 minutes)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "interrupted" in err
    assert _left(tmp_path) == []
