"""Replay of the real sample: the alerts equal detection run on independently built
snapshots; the decode and replay commands."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.errors import InputError
from skyaccord.ingest import read_updates
from skyaccord.ingest.formats import write_states_csv
from skyaccord.ingest.replay import Alert, replay
from skyaccord.ingest.states import StateUpdate
from skyaccord.picture import Picture, default_rules
from skyaccord.protocol import Accord, default_accord_text, parse_accord
from skyaccord.tactical import conflict_records, detect
from skyaccord.tracks import Tracks

from .conftest import SAMPLE

STEP = 2.0
MAX_AGE = 8.0


def wide_accord() -> Accord:
    """The default accord with minima wide enough (30 NM / 10,000 ft) that the seven
    aircraft of the sample over Atlanta are in conflict with each other in turn."""
    text = default_accord_text().replace("horizontal_nm = 5.0", "horizontal_nm = 30.0")
    text = text.replace("horizontal_nm = 3.0", "horizontal_nm = 30.0")
    return parse_accord(text.replace("vertical_ft = 1000.0", "vertical_ft = 10000.0"))


def independent_snapshot(updates: list[StateUpdate], t: float) -> Tracks:
    """Latest position and velocity per aircraft at or before ``t``, extrapolated on the
    WGS84 ellipsoid with pyproj (the picture uses a sphere): a separate path to the
    same picture."""
    geod = Geod(ellps="WGS84")
    pos: dict[str, StateUpdate] = {}
    vel: dict[str, StateUpdate] = {}
    seen: dict[str, float] = {}
    for u in updates:
        if u.t > t:
            break
        seen[u.icao24] = u.t
        if u.has_position and u.alt_ft is not None:
            pos[u.icao24] = u
        if u.has_velocity:
            vel[u.icao24] = u
    rows = []
    for icao, p in pos.items():
        v = vel.get(icao)
        if v is None or t - seen[icao] > MAX_AGE or t - p.t > MAX_AGE:
            continue
        assert p.lat is not None and p.lon is not None and p.alt_ft is not None
        assert v.gs_kt is not None and v.trk_deg is not None
        dt = t - p.t
        lon, lat, _ = geod.fwd(p.lon, p.lat, v.trk_deg, v.gs_kt * 1852 / 3600 * dt)
        party, cls = default_rules().assign(icao, None, None)
        rows.append((icao, party, cls, lat, lon, p.alt_ft + (v.vs_fpm or 0.0) / 60 * dt,
                     v.gs_kt, v.trk_deg % 360, v.vs_fpm or 0.0))
    return Tracks.from_rows(rows) if rows else Tracks.empty()


def test_replay_alerts_equal_detection_on_snapshots() -> None:
    accord = wide_accord()
    updates, stats = read_updates(SAMPLE)
    assert stats.total_rejected == 0
    alerts = list(replay([updates], accord, picture=Picture(MAX_AGE), step_s=STEP))

    t0, t1 = updates[0].t, updates[-1].t
    ticks = []
    tick = math.floor(t0 / STEP) * STEP + STEP
    while tick < t1:
        ticks.append(tick)
        tick += STEP
    ticks.append(tick)
    rank = {"none": 0, **{lv.name: k + 1 for k, lv in enumerate(accord.levels)}}
    expected: list[Alert] = []
    before: dict[tuple[str, str], int] = {}
    for tk in ticks:
        snap = independent_snapshot(updates, tk)
        now = {}
        for r in conflict_records(snap, detect(snap, accord), accord):
            now[(r.id1, r.id2)] = rank[r.level]
            if (r.id1, r.id2) not in before or before[(r.id1, r.id2)] < rank[r.level]:
                expected.append(Alert(tk, r.id1, r.id2, r.t_in_s, r.level))
        before = now
    assert len(expected) >= 5  # a busy enough picture to mean something
    assert [(a.t, a.id1, a.id2, a.level) for a in alerts] == [
        (a.t, a.id1, a.id2, a.level) for a in expected]
    assert np.allclose([a.t_in_s for a in alerts], [a.t_in_s for a in expected], atol=0.05)


def test_replay_paces_against_the_wall_clock() -> None:
    updates, _ = read_updates(SAMPLE)
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    list(replay([updates[:60]], wide_accord(), step_s=1.0, speed=4.0, sleep=sleep,
                wall=lambda: now[0]))
    span = math.ceil(updates[59].t) - updates[0].t
    assert sum(slept) == pytest.approx(span / 4.0, abs=0.26)


def test_replay_rejects_bad_step() -> None:
    with pytest.raises(InputError, match="step"):
        list(replay([], wide_accord(), step_s=0.0))


def test_decode_command(tmp_path: Path) -> None:
    out = tmp_path / "states.csv"
    res = CliRunner().invoke(app, ["decode", str(SAMPLE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    buf = io.StringIO()
    write_states_csv(read_updates(SAMPLE)[0], buf)
    assert out.read_text(encoding="utf-8") == buf.getvalue()
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0]) == ["t", "icao24", "callsign", "lat", "lon", "alt_ft", "gs_kt",
                             "trk_deg", "vs_fpm", "on_ground"]
    assert rows[0]["lat"] == ""  # not known yet: empty, never invented
    assert "335 read" in res.output


def test_replay_command(tmp_path: Path) -> None:
    accord_file = tmp_path / "wide.toml"
    text = default_accord_text().replace("horizontal_nm = 5.0", "horizontal_nm = 30.0")
    text = text.replace("horizontal_nm = 3.0", "horizontal_nm = 30.0")
    accord_file.write_text(text.replace("vertical_ft = 1000.0", "vertical_ft = 10000.0"),
                           encoding="utf-8")
    out = tmp_path / "alerts.csv"
    res = CliRunner().invoke(app, ["replay", str(SAMPLE), "--accord", str(accord_file),
                                   "--step", str(STEP), "--max-age", str(MAX_AGE),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["t", "id1", "id2", "t_in_s", "level"]
    updates, _ = read_updates(SAMPLE)
    alerts = list(replay([updates], wide_accord(), picture=Picture(MAX_AGE), step_s=STEP))
    assert [r[1:3] for r in rows[1:]] == [[a.id1, a.id2] for a in alerts]
    bad = CliRunner().invoke(app, ["replay", str(tmp_path / "nope.csv")])
    assert bad.exit_code == 2 and "cannot read" in bad.output
    bad = CliRunner().invoke(app, ["replay", str(SAMPLE), "--format", "xml"])
    assert bad.exit_code == 2 and "unknown format 'xml'" in bad.output


def test_busy_replay_equals_detection_on_snapshots() -> None:
    """A busy picture from the real frames: 24 copies of the sample, each re-addressed
    (CRC recomputed) and delayed by 1.3 s more than the last, so that the copies fly the
    same real tracks one behind the other; the default accord (5 NM / 1,000 ft)."""
    from skyaccord.ingest.decoder import ModeSDecoder
    from skyaccord.ingest.modes import RawFrame
    from skyaccord.protocol import default_accord

    from .conftest import readdress, sample_lines

    base = sample_lines()
    frames = []
    for k in range(24):
        for t, f in base:
            icao = f"{0x100000 + k * 64 + int(f[2:8], 16) % 61:06x}"
            frames.append(RawFrame(t + 1.3 * k, readdress(f, icao)))
    frames.sort(key=lambda f: f.t)
    updates = ModeSDecoder().decode(frames)
    accord = default_accord()
    alerts = list(replay([updates], accord, picture=Picture(MAX_AGE), step_s=STEP))
    rank = {"none": 0, **{lv.name: k + 1 for k, lv in enumerate(accord.levels)}}
    tick = math.floor(updates[0].t / STEP) * STEP + STEP
    expected: list[Alert] = []
    before: dict[tuple[str, str], int] = {}
    pairs_seen = 0
    while True:
        snap = independent_snapshot(updates, tick)
        now = {}
        for r in conflict_records(snap, detect(snap, accord), accord):
            now[(r.id1, r.id2)] = rank[r.level]
            if (r.id1, r.id2) not in before or before[(r.id1, r.id2)] < rank[r.level]:
                expected.append(Alert(tick, r.id1, r.id2, r.t_in_s, r.level))
        pairs_seen = max(pairs_seen, len(now))
        before = now
        if tick >= updates[-1].t:
            break
        tick += STEP
    assert pairs_seen >= 20 and len(expected) >= 50
    assert [(a.t, a.id1, a.id2, a.level) for a in alerts] == [
        (a.t, a.id1, a.id2, a.level) for a in expected]


def test_replay_of_a_tracks_file_equals_detect(tmp_path: Path) -> None:
    """One snapshot at t = 0: replay must agree with ``detect`` on the same file."""
    from skyaccord.protocol import default_accord
    from skyaccord.tracks import read_tracks_csv

    p = tmp_path / "tracks.csv"
    rng = np.random.default_rng(5)
    rows = ["id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm"]
    for i in range(60):
        rows.append(f"t{i},{'us' if i % 2 else 'ru'},manned,{35 + rng.uniform(0, 1):.5f},"
                    f"{36 + rng.uniform(0, 1):.5f},{rng.choice([20000, 21000, 22000])},"
                    f"{rng.uniform(250, 450):.1f},{rng.uniform(0, 360):.1f},0")
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    accord = default_accord()
    updates, _ = read_updates(p)
    alerts = list(replay([updates], accord, step_s=STEP))
    tracks = read_tracks_csv(p).tracks
    records = conflict_records(tracks, detect(tracks, accord), accord)
    assert len(records) >= 3
    assert all(a.t == 0.0 for a in alerts)
    assert sorted((a.id1, a.id2, a.level) for a in alerts) == sorted(
        (r.id1, r.id2, r.level) for r in records)
    assert np.allclose(sorted(a.t_in_s for a in alerts), sorted(r.t_in_s for r in records))


def _plain_centre(tracks: Tracks) -> tuple[float, float]:
    """The middle of the picture's latitude and longitude ranges (the sample, over
    Atlanta, is far from the antimeridian): the plane centre detection uses, worked out
    here without the kernel's code."""
    return (0.5 * (float(tracks.lat.min()) + float(tracks.lat.max())),
            0.5 * (float(tracks.lon.min()) + float(tracks.lon.max())))


def _reference_alerts(updates: list[StateUpdate], accord: Accord
                      ) -> list[tuple[float, str, str, int, float]]:
    """The alerts replay should raise, from snapshots built with pyproj and the plain
    per-pair reference detector (tests/tactical/_reference.py: no kernel code)."""
    from tests.tactical._reference import reference_detect

    expected: list[tuple[float, str, str, int, float]] = []
    before: dict[tuple[str, str], int] = {}
    tick = math.floor(updates[0].t / STEP) * STEP + STEP
    while True:
        snap = independent_snapshot(updates, tick)
        now: dict[tuple[str, str], int] = {}
        if len(snap) >= 2:
            for c in reference_detect(snap, accord, *_plain_centre(snap)):
                ids = sorted((str(snap.id[c.i]), str(snap.id[c.j])))
                pair = (ids[0], ids[1])
                now[pair] = c.level
                if pair not in before or before[pair] < c.level:
                    expected.append((tick, *pair, c.level, c.t_in_s))
        before = now
        if tick >= updates[-1].t:
            break
        tick += STEP
    return sorted(expected)


def _check_against_reference(updates: list[StateUpdate], accord: Accord) -> set[int]:
    alerts = list(replay([updates], accord, picture=Picture(MAX_AGE), step_s=STEP))
    rank = {"none": 0, **{lv.name: k + 1 for k, lv in enumerate(accord.levels)}}
    got = sorted((a.t, a.id1, a.id2, rank[a.level], a.t_in_s) for a in alerts)
    expected = _reference_alerts(updates, accord)
    assert len(expected) >= 5
    assert [g[:4] for g in got] == [e[:4] for e in expected]
    # the replay's picture extrapolates on a sphere, the snapshots on WGS84
    np.testing.assert_allclose([g[4] for g in got], [e[4] for e in expected], atol=0.05)
    return {e[3] for e in expected}


def test_replay_alerts_against_the_plain_reference() -> None:
    """The other replay tests compare with ``detect`` on the snapshots: the same kernel as
    the replay. Here the expected alerts (which pairs, from which tick, at which level,
    when separation is lost) come from the plain reference: the real sample under the
    wide accord, and the busy picture of its re-addressed copies under the default
    accord (several levels)."""
    from skyaccord.ingest.decoder import ModeSDecoder
    from skyaccord.ingest.modes import RawFrame
    from skyaccord.protocol import default_accord

    from .conftest import readdress, sample_lines

    updates, _ = read_updates(SAMPLE)
    _check_against_reference(updates, wide_accord())
    frames = []
    for k in range(24):
        for t, f in sample_lines():
            icao = f"{0x100000 + k * 64 + int(f[2:8], 16) % 61:06x}"
            frames.append(RawFrame(t + 1.3 * k, readdress(f, icao)))
    frames.sort(key=lambda f: f.t)
    levels = _check_against_reference(ModeSDecoder().decode(frames), default_accord())
    assert len(levels) >= 2, levels
