"""Resolution bands: hand-computed encounters and brute force by re-running detect."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.errors import InputError, ProtocolError, TrackDataError
from skyaccord.geo import LocalPlane, picture_centre
from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tactical.bands import (
    BandDimension,
    BandSettings,
    advise,
    band_names,
    bands_for,
    kinematic_track_bands,
)
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tactical.levels import LevelCode
from skyaccord.tracks import Tracks, write_tracks_csv

ACCORD = default_accord()
NAMES = band_names(ACCORD)
DEG_LON_35 = 91_287.8  # metres per degree of longitude at 35 N (WGS84)


def head_on(d_nm: float = 20.0) -> Tracks:
    return Tracks.from_rows([
        ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
        ("b", "ru", "manned", 35.0, 36.0 + d_nm * 1852 / DEG_LON_35, 30000, 480, 270, 0),
    ])


def detect_colour(tracks: Tracks, index: int, lookahead_s: float | None = None) -> int:
    """The brute-force colour: detect re-run, the ownship's most severe conflict."""
    c = detect(tracks, ACCORD, lookahead_s=lookahead_s)
    mine = (c.pairs[0] == index) | (c.pairs[1] == index)
    return int(c.level[mine].max()) if mine.any() else LevelCode.FREE


def test_head_on_track_bands_by_hand() -> None:
    # Own and intruder at v, head-on at D: turning by theta gives a miss distance
    # D sin(theta / 2), so the turn is free from 2 asin(5 / 20) = 28.955 degrees.
    adv = bands_for(head_on(), ACCORD, 0)
    track = adv.bands["track"]
    conflict = track.values[track.codes != LevelCode.FREE]
    assert conflict.min() == 90 - 28 and conflict.max() == 90 + 28
    assert len(conflict) == 57
    ranges = track.ranges(NAMES)
    assert (ranges[0].lo, ranges[0].hi, ranges[0].name) == (0.0, 61.0, "NONE")
    assert (ranges[-1].lo, ranges[-1].hi, ranges[-1].name) == (119.0, 359.0, "NONE")
    res = adv.resolutions["track"]
    assert (res.value, res.delta, res.direction) == (119.0, 29.0, "right")
    assert math.degrees(2 * math.asin(5 / 20)) == pytest.approx(28.955, abs=1e-3)


def test_head_on_vertical_speed_altitude_and_speed_by_hand() -> None:
    adv = bands_for(head_on(), ACCORD, 0)
    # Separation lost at 15 NM / 960 kt = 56.25 s; climbing w fpm gives 1,000 ft by
    # then when w >= 1000 / (56.25 / 60) = 1066.7 fpm.
    vs = adv.bands["vs"]
    conflict = vs.values[vs.codes != LevelCode.FREE]
    assert (conflict.min(), conflict.max()) == (-1000.0, 1000.0)
    assert adv.resolutions["vs"][1:] == (1100.0, 1100.0, "up")
    # Altitude: only the intruder's own flight level conflicts (1,000 ft apart is
    # separated: the strict boundary rule); ties go up.
    alt = adv.bands["alt"]
    assert list(alt.values[alt.codes != LevelCode.FREE]) == [30000.0]
    assert adv.resolutions["alt"][1:] == (31000.0, 1000.0, "up")
    # Speed cannot resolve a head-on encounter.
    assert (adv.bands["gs"].codes != LevelCode.FREE).all()
    assert adv.resolutions["gs"].direction == "none"
    assert math.isnan(adv.resolutions["gs"].value)


def _picture(seed: int, n: int = 40) -> Tracks:
    rng = np.random.default_rng(seed)
    return Tracks(
        np.array([f"t{k}" for k in range(n)]), rng.choice(["us", "ru", "tr"], n),
        rng.choice(["manned", "unmanned"], n, p=[0.8, 0.2]),
        35.5 + rng.uniform(-0.3, 0.3, n), 37.0 + rng.uniform(-0.35, 0.35, n),
        rng.uniform(24000, 30000, n), rng.uniform(150, 550, n), rng.uniform(0, 360, n),
        rng.choice([0.0, 0.0, 1500.0, -1500.0], n))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_band_colours_match_detect_rerun(seed: int) -> None:
    tracks = _picture(seed)
    own = int(np.argmax(np.bincount(detect(tracks, ACCORD).pairs.reshape(-1),
                                    minlength=len(tracks))))
    adv = bands_for(tracks, ACCORD, own)
    assert adv.level == detect_colour(tracks, own) != LevelCode.FREE
    column = {"track": "trk_deg", "gs": "gs_kt", "vs": "vs_fpm", "alt": "alt_ft"}
    rng = np.random.default_rng(seed)
    seen: set[int] = set()
    for dim, b in adv.bands.items():
        picks = rng.choice(len(b.values), size=min(12, len(b.values)), replace=False)
        for k in picks:
            values = getattr(tracks, column[dim]).copy()
            values[own] = b.values[k]
            changed = tracks.with_columns(**{column[dim]: values})
            if dim == "alt":
                vs = changed.vs_fpm.copy()
                vs[own] = 0.0
                changed = changed.with_columns(vs_fpm=vs)
            assert b.codes[k] == detect_colour(changed, own), (dim, b.values[k])
            seen.add(int(b.codes[k]))
    assert LevelCode.FREE in seen and len(seen) >= 2


def test_every_heading_matches_detect_on_a_small_picture() -> None:
    tracks = _picture(5, n=12)
    adv = bands_for(tracks, ACCORD, 0, dimensions=("track",),
                    settings=BandSettings(track_step_deg=5.0))
    b = adv.bands["track"]
    for value, code in zip(b.values, b.codes, strict=True):
        trk = tracks.trk_deg.copy()
        trk[0] = value
        assert code == detect_colour(tracks.with_columns(trk_deg=trk), 0)


@settings(max_examples=30, deadline=None)
@given(st.floats(5.0, 40.0), st.floats(0.0, 360.0), st.floats(150.0, 600.0),
       st.floats(-2000.0, 2000.0))
def test_pair_geometry_property(d_nm: float, bearing: float, gs: float,
                                dz_ft: float) -> None:
    """Any two-aircraft encounter: the colour of every 9th heading equals detect's."""
    lat = 35.0 + d_nm * 1852 * math.cos(math.radians(bearing)) / 110_950.0
    lon = 36.0 + d_nm * 1852 * math.sin(math.radians(bearing)) / DEG_LON_35
    tracks = Tracks.from_rows([
        ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
        ("b", "ru", "manned", lat, lon, 30000 + dz_ft, gs, (bearing + 180) % 360, 0),
    ])
    adv = bands_for(tracks, ACCORD, 0, dimensions=("track",),
                    settings=BandSettings(track_step_deg=9.0))
    b = adv.bands["track"]
    for value, code in zip(b.values, b.codes, strict=True):
        trk = tracks.trk_deg.copy()
        trk[0] = value
        assert code == detect_colour(tracks.with_columns(trk_deg=trk), 0)


def test_advise_picks_aircraft_at_or_above_the_level() -> None:
    tracks = _picture(1)
    c = detect(tracks, ACCORD)
    top = int(c.level.max())
    advice = advise(tracks, ACCORD, min_level=top, dimensions=("alt",))
    expected = sorted(set(c.pairs[:, c.level >= top].reshape(-1).tolist()))
    assert [a.row for a in advice] == expected
    assert all(a.level >= top for a in advice)
    assert advise(tracks, ACCORD, min_level=len(ACCORD.levels) + 1) == []


def test_lone_aircraft_is_free_everywhere_and_bad_index() -> None:
    tracks = head_on().take([0])
    adv = bands_for(tracks, ACCORD, 0)
    assert all((b.codes == LevelCode.FREE).all() for b in adv.bands.values())
    assert all(r.direction == "none" and r.delta == 0 for r in adv.resolutions.values())
    with pytest.raises(TrackDataError, match="no track at row 3"):
        bands_for(tracks, ACCORD, 3)


def test_advise_cli_table_and_json(tmp_path: Path) -> None:
    csv_path = tmp_path / "tracks.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        write_tracks_csv(head_on(), fh)
    out = tmp_path / "a.json"
    result = CliRunner().invoke(app, ["advise", str(csv_path), "--id", "a", "--json",
                                      str(out)])
    assert result.exit_code == 0, result.output
    assert "preferred resolution" in result.stdout and "right" in result.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["current_level"] == "corrective"
    track = doc["bands"]["track"]["ranges"]
    assert [(r["lo"], r["hi"], r["name"]) for r in track] == [
        (0.0, 61.0, "NONE"), (62.0, 118.0, "corrective"), (119.0, 359.0, "NONE")]
    assert doc["resolutions"]["alt"] == {"value": 31000.0, "delta": 1000.0, "direction": "up"}
    assert doc["resolutions"]["gs"]["value"] is None
    missing = CliRunner().invoke(app, ["advise", str(csv_path), "--id", "zz"])
    assert missing.exit_code == 2 and "no track with id 'zz'" in missing.output


def test_kinematic_bands_with_unlimited_turn_rate_are_the_instantaneous_ones() -> None:
    for seed in (1, 4):
        tracks = _picture(seed, n=25)
        inst = bands_for(tracks, ACCORD, 0, dimensions=("track",)).bands["track"]
        kin = kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=1e7)
        assert (kin.codes == inst.codes).mean() > 0.99
        assert kin.current_code == inst.current_code


def _turn_path(tracks: Tracks, heading: float, rate: float, t: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The ownship's exact plane path (arc, then straight) turning to ``heading``."""
    plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    s = plane_state(tracks, ACCORD, plane)
    speed = math.hypot(s.vx[0], s.vy[0])
    b0 = math.atan2(s.vx[0], s.vy[0])
    conv = float(plane.factors(tracks.lat[:1], tracks.lon[:1]).convergence_rad[0])
    target = math.radians(heading) - conv
    turn = (target - b0 + math.pi) % (2 * math.pi) - math.pi
    omega = math.radians(rate)
    tau = abs(turn) / omega
    sign = 1.0 if turn >= 0 else -1.0
    r = speed / omega
    tt = np.minimum(t, tau)
    b = b0 + sign * omega * tt
    x = s.x[0] + sign * r * (math.cos(b0) - np.cos(b)) + speed * math.sin(target) * (t - tt)
    y = s.y[0] + sign * r * (np.sin(b) - math.sin(b0)) + speed * math.cos(target) * (t - tt)
    return x, y


def _first_loss(tracks: Tracks, x: np.ndarray, y: np.ndarray, t: np.ndarray,
                level_minima: tuple[float, float] | None) -> tuple[float, float]:
    """Earliest sampled time of a loss of the class minima (or of the tighter of them and
    ``level_minima``, metres) against anyone, and how near 1 the closest approach of any
    intruder came (normalised distance: 1 is on the boundary)."""
    plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    s = plane_state(tracks, ACCORD, plane)
    radius, half = ACCORD.minima_table_m()
    first, closest = math.inf, math.inf
    for j in range(1, len(tracks)):
        rad = radius[s.class_code[0], s.class_code[j]]
        hh = half[s.class_code[0], s.class_code[j]]
        if level_minima is not None:
            rad, hh = min(rad, level_minima[0]), min(hh, level_minima[1])
        rad *= 0.5 * (s.scale[0] + s.scale[j])
        d = np.hypot(s.x[j] + s.vx[j] * t - x, s.y[j] + s.vy[j] * t - y) / rad
        dz = np.abs(s.z[j] + s.vz[j] * t - s.z[0] - s.vz[0] * t) / hh
        norm = np.maximum(d, dz)
        closest = min(closest, abs(float(norm.min()) - 1))
        lost = np.flatnonzero(norm < 1)
        if len(lost):
            first = min(first, float(t[lost[0]]))
    return first, closest


def _simulated_conflict(tracks: Tracks, heading: float, rate: float,
                        horizon: float) -> tuple[bool, float]:
    """Fly the turn exactly (arc in the plane) and everyone else straight, sampled every
    0.05 s; return whether separation is lost and how close the closest sample came to
    the boundary (normalised: 1 is on it)."""
    t = np.arange(0.0, horizon, 0.05)
    x, y = _turn_path(tracks, heading, rate, t)
    first, closest = _first_loss(tracks, x, y, t, None)
    return first < horizon, closest


def _simulated_code(tracks: Tracks, heading: float, rate: float,
                    horizon: float) -> int | None:
    """The colour code of a simulated turn by the level rules (a loss of the class
    minima within the look-ahead: 0; level k when a loss of its minima comes before its
    time), or None when a sample is too near a boundary in distance or time to decide."""
    t = np.arange(0.0, horizon, 0.05)
    x, y = _turn_path(tracks, heading, rate, t)
    first, closest = _first_loss(tracks, x, y, t, None)
    if closest < 0.01:
        return None
    code = LevelCode.FREE if first >= horizon else 0
    for k, level in enumerate(ACCORD.levels, start=1):
        minima = (None if level.minima is None
                  else (level.minima.horizontal_m, level.minima.vertical_m))
        first_k, closest_k = _first_loss(tracks, x, y, t, minima)
        limit = min(level.time_s, horizon)
        if closest_k < 0.01 or abs(first_k - limit) < 0.2:
            return None
        if first_k < limit:
            code = max(code, k)
    return code


def test_kinematic_bands_against_a_simulated_turn() -> None:
    cases = [(head_on(), 9), (_picture(6, n=15), 17)]
    checked = 0
    in_conflict = 0
    for tracks, stride in cases:
        kin = kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=3.0)
        for k in range(0, 360, stride):
            lost, margin = _simulated_conflict(tracks, float(kin.values[k]), 3.0, 300.0)
            if margin < 0.01:
                continue  # too close to the boundary for 0.05 s sampling to decide
            assert (kin.codes[k] != LevelCode.FREE) == lost, (k, margin)
            checked += 1
            in_conflict += lost
    assert checked > 40 and in_conflict >= 5
    # Turning takes time: the standard-rate turn needs more than the instantaneous 29°.
    kin = kinematic_track_bands(head_on(), ACCORD, 0)
    free_right = next(int(v) for v, c in zip(kin.values, kin.codes, strict=True)
                      if v > 90 and c == LevelCode.FREE)
    assert free_right > 119


def test_kinematic_band_levels_against_a_simulated_turn() -> None:
    """Alert levels too (not only conflict or free), turning at 3 and 1.5 deg/s in a
    crowded picture: the shared chords must give each candidate its own arc."""
    tracks = _picture(9, n=20)
    checked: dict[int, int] = {}
    for rate in (3.0, 1.5):
        kin = kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=rate)
        for k in range(3, 360, 13):
            code = _simulated_code(tracks, float(kin.values[k]), rate, 300.0)
            if code is None:
                continue
            assert int(kin.codes[k]) == code, (rate, k)
            checked[code] = checked.get(code, 0) + 1
    assert sum(checked.values()) > 30 and len(checked) >= 2, checked


def test_advise_cli_turn_rate(tmp_path: Path) -> None:
    csv_path = tmp_path / "tracks.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        write_tracks_csv(head_on(), fh)
    out = tmp_path / "k.json"
    result = CliRunner().invoke(app, ["advise", str(csv_path), "--id", "a", "--turn-rate",
                                      "3", "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    kin = kinematic_track_bands(head_on(), ACCORD, 0)
    assert doc["resolutions"]["track"]["value"] == next(
        float(v) for v, c in zip(kin.values, kin.codes, strict=True)
        if v > 90 and c == LevelCode.FREE)


@pytest.mark.parametrize("bad", [0.0, -60.0, math.nan, math.inf, 3601.0])
def test_bands_refuse_the_look_ahead_detect_refuses(bad: float) -> None:
    """One check of a look-ahead serves detect and bands (bands once took any number)."""
    with pytest.raises(ProtocolError, match="look-ahead must be in"):
        bands_for(head_on(), ACCORD, 0, lookahead_s=bad)
    with pytest.raises(ProtocolError, match="look-ahead must be in"):
        kinematic_track_bands(head_on(), ACCORD, 0, lookahead_s=bad)


def test_dimensions_are_one_enum_with_one_table() -> None:
    """Names, columns, units and printed values of each dimension, written out by hand;
    an unknown name is an InputError naming the four."""
    assert [str(d) for d in BandDimension] == ["track", "gs", "vs", "alt"]
    assert [d.column for d in BandDimension] == ["trk_deg", "gs_kt", "vs_fpm", "alt_ft"]
    assert [d.unit for d in BandDimension] == ["deg", "kt", "fpm", "ft"]
    assert [d.display(v) for d, v in zip(BandDimension, (5.0, 480.0, -1500.0, 31000.0),
                                         strict=True)] == ["005", "480", "-1500", "FL310"]
    assert BandDimension.ALT.display(math.nan) == "-"
    with pytest.raises(InputError, match="unknown dimension 'hdg'; one of track, gs, vs, alt"):
        bands_for(head_on(), ACCORD, 0, dimensions=("hdg",))
    # the keys of the advice are the dimensions and still equal their names
    adv = bands_for(head_on(), ACCORD, 0, dimensions=("gs",))
    assert list(adv.bands) == ["gs"] and adv.bands["gs"].dimension is BandDimension.GS


def test_level_codes_mean_the_same_in_detect_and_bands() -> None:
    """Code 0 is a loss of separation meeting no level in both; -1 is free (bands only).
    Their output names are unchanged: detect says 'none', the bands 'conflict'/'NONE'."""
    assert (LevelCode.FREE, LevelCode.NO_LEVEL) == (-1, 0)
    assert NAMES[LevelCode.FREE] == "NONE" and NAMES[LevelCode.NO_LEVEL] == "conflict"
    assert [NAMES[k] for k in range(1, len(ACCORD.levels) + 1)] == [
        lv.name for lv in ACCORD.levels]
    # a head-on pair that loses 5 NM at 330 s, beyond every level's time (at most 300 s)
    # but inside a 600 s look-ahead: detect gives code 0, and so does the ownship's
    # current band colour
    assert max(lv.time_s for lv in ACCORD.levels) <= 300.0
    closing_nm_s = 2 * 480 / 3600
    far = head_on(330.0 * closing_nm_s + 5.0)
    c = detect(far, ACCORD, lookahead_s=600.0)
    assert c.level.tolist() == [LevelCode.NO_LEVEL]
    assert c.t_in_s[0] == pytest.approx(330.0, abs=1.0)
    adv = bands_for(far, ACCORD, 0, dimensions=("track",), lookahead_s=600.0)
    assert adv.level == LevelCode.NO_LEVEL
    assert detect_colour(far, 0, lookahead_s=600.0) == LevelCode.NO_LEVEL
