"""Turning (kinematic) track bands against a reference that shares no code with the
bands or the tactical kernel: the ownship flown around its turn on the WGS84 ellipsoid
(pyproj geodesic steps of 0.25 s, heading changed at the turn rate until the turn is
done, then a geodesic), every intruder on its own geodesic at its ground speed,
altitudes changing at the vertical speeds, and the separation measured between the
sampled positions (ground distance as the chord between the points on the ellipsoid,
from a geodetic-to-ECEF conversion written here; vertical distance in metres).

A candidate heading's reference colour follows the accord's rules as written: free when
the class minima are kept over the look-ahead, else the most severe alert level whose
minima (the tighter of the class's and the level's) are lost before the level's time.
Candidates too near a boundary for the reference's sampling and for the plane's
straight lines against geodesics (closest approach within 150 m or the minima's 1 %,
a loss within 3 s of a level's time) are left undecided.

Written for the survivors of the bands mutation run in the turn (mutmut names in
tests/mutation/README.md); the tests name the mutations they kill.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest

from skyaccord.geo import LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical.bands import kinematic_track_bands
from skyaccord.tracks import Tracks

GEOD = pyproj.Geod(ellps="WGS84")
ACCORD = default_accord()
FREE = -1
DT = 0.25  # the reference's time step, s
FT, KT, FPM = 0.3048, 1852 / 3600, 0.3048 / 60
A_WGS84, F_WGS84 = 6378137.0, 1 / 298.257223563


def ecef(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the WGS84 ellipsoid (height 0) in Earth-centred metres, (..., 3)."""
    e2 = F_WGS84 * (2 - F_WGS84)
    la, lo = np.radians(lat), np.radians(lon)
    n = A_WGS84 / np.sqrt(1 - e2 * np.sin(la) ** 2)
    return np.stack([n * np.cos(la) * np.cos(lo), n * np.cos(la) * np.sin(lo),
                     n * (1 - e2) * np.sin(la)], axis=-1)


def fly_turns(lat0: float, lon0: float, trk0: float, gs_ms: float, targets: np.ndarray,
              rate_deg_s: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (candidates, steps + 1) of the ownship turning from ``trk0`` to each
    target heading the short way (right when exactly opposite) at ``rate_deg_s``, then
    flying straight: each step turns by half its share of the turn, flies a geodesic of
    ``gs DT``, and turns by the other half (the heading carried along the geodesic)."""
    turn = (targets - trk0 + 180.0) % 360.0 - 180.0
    turn = np.where(np.isclose(turn, -180.0), 180.0, turn)
    sign, left = np.sign(turn), np.abs(turn)
    n = len(targets)
    lat, lon, az = np.full(n, lat0), np.full(n, lon0), np.full(n, trk0)
    out_lat, out_lon = np.empty((n, steps + 1)), np.empty((n, steps + 1))
    out_lat[:, 0], out_lon[:, 0] = lat, lon
    for s in range(1, steps + 1):
        share = np.minimum(rate_deg_s * DT, left)
        left = left - share
        lon, lat, back = GEOD.fwd(lon, lat, az + sign * share / 2, np.full(n, gs_ms * DT))
        az = np.asarray(back) + 180.0 + sign * share / 2
        out_lat[:, s], out_lon[:, s] = lat, lon
    return out_lat, out_lon


def reference_codes(tracks: Tracks, targets: np.ndarray, rate_deg_s: float,
                    horizon: float = 300.0) -> list[int | None]:
    """The reference colour of each target heading for track 0 (None: undecided)."""
    steps = round(horizon / DT)
    t = np.arange(steps + 1) * DT
    own_lat, own_lon = fly_turns(float(tracks.lat[0]), float(tracks.lon[0]),
                                 float(tracks.trk_deg[0]), float(tracks.gs_kt[0]) * KT,
                                 targets, rate_deg_s, steps)
    own_p = ecef(own_lat, own_lon)
    own_z = (float(tracks.alt_ft[0]) + float(tracks.vs_fpm[0]) * t / 60) * FT
    # per intruder: ground distance and height difference over time, (candidates, steps)
    seps = []
    for j in range(1, len(tracks)):
        lon_j, lat_j, _ = GEOD.fwd(np.full(len(t), tracks.lon[j]), np.full(len(t), tracks.lat[j]),
                                   np.full(len(t), tracks.trk_deg[j]), tracks.gs_kt[j] * KT * t)
        dh = np.linalg.norm(own_p - ecef(np.asarray(lat_j), np.asarray(lon_j))[None], axis=-1)
        dz = np.abs((float(tracks.alt_ft[j]) + float(tracks.vs_fpm[j]) * t / 60) * FT - own_z)
        cls = ACCORD.minima(str(tracks.aircraft_class[0]), str(tracks.aircraft_class[j]))
        seps.append((dh, dz[None], cls.horizontal_m, cls.vertical_m))
    codes: list[int | None] = []
    for k in range(len(targets)):
        code: int | None = FREE
        for level_no, (limit, minima) in enumerate(
                [(horizon, None)] + [(min(lv.time_s, horizon), lv.minima)
                                     for lv in ACCORD.levels], start=0):
            lost_before = False
            for dh, dz, rad, half in seps:
                if minima is not None:
                    rad, half = min(rad, minima.horizontal_m), min(half, minima.vertical_m)
                norm = np.maximum(dh[k] / rad, dz[0] / half)
                margin = max(150.0 / rad, 0.01)
                if abs(float(norm.min()) - 1.0) < margin:
                    return_undecided = True
                    break
                lost = np.flatnonzero(norm < 1.0)
                if len(lost):
                    first = float(t[lost[0]])
                    if abs(first - limit) < 3.0:
                        return_undecided = True
                        break
                    lost_before |= first < limit
            else:
                return_undecided = False
            if return_undecided:
                code = None
                break
            if lost_before:
                assert code is not None
                code = max(code, level_no)
        codes.append(code)
    return codes


def converging(seed: int, lat0: float, lon0: float, trk0: float, n: int = 8) -> Tracks:
    """The ownship at (lat0, lon0) on ``trk0`` at 420 kt, FL300 level; ``n - 1`` manned
    and unmanned intruders 10 to 45 km away, heading back towards it give or take 30
    degrees, 250 to 480 kt, within 1,500 ft of its level, some climbing or descending."""
    rng = np.random.default_rng(seed)
    az = rng.uniform(0, 360, n - 1)
    lon, lat, back = GEOD.fwd(np.full(n - 1, lon0), np.full(n - 1, lat0), az,
                              rng.uniform(10e3, 45e3, n - 1))
    trk = (np.asarray(back) + rng.uniform(-30, 30, n - 1)) % 360
    return Tracks(np.array([f"T{i:02d}" for i in range(n)]), np.array(["us"] + ["ru"] * (n - 1)),
                  np.r_[["manned"], rng.choice(["manned", "unmanned"], n - 1, p=[0.8, 0.2])],
                  np.r_[lat0, lat], np.r_[lon0, lon], 30000.0 + np.r_[0, rng.choice(
                      [-1500, -800, 0, 0, 400, 900], n - 1)],
                  np.r_[420.0, rng.uniform(250, 480, n - 1)], np.r_[trk0, trk],
                  np.r_[0.0, rng.choice([0.0, 0.0, 1500.0, -1500.0], n - 1)])


def close_quarters(seed: int, trk0: float = 90.0, n: int = 3) -> Tracks:
    """The ownship at 35.2 N 37.9 E on ``trk0`` at 420 kt, FL300; ``n - 1`` manned
    intruders 10.5 to 16 km away (just outside 5 NM), heading back towards it give or
    take 40 degrees, within 600 ft of its level: losses begin during the turns."""
    lat0, lon0 = 35.2, 37.9
    rng = np.random.default_rng(seed)
    az = rng.uniform(0, 360, n - 1)
    lon, lat, back = GEOD.fwd(np.full(n - 1, lon0), np.full(n - 1, lat0), az,
                              rng.uniform(10.5e3, 16e3, n - 1))
    trk = (np.asarray(back) + rng.uniform(-40, 40, n - 1)) % 360
    return Tracks(np.array([f"T{i:02d}" for i in range(n)]), np.array(["us"] + ["ru"] * (n - 1)),
                  np.array(["manned"] * n), np.r_[lat0, lat], np.r_[lon0, lon],
                  np.r_[30000.0, 30000.0 + rng.choice([-600, 0, 0, 500], n - 1)],
                  np.r_[420.0, rng.uniform(250, 480, n - 1)], np.r_[trk0, trk], np.zeros(n))


def compare(tracks: Tracks, rate: float, stride: int = 3,
            plane: LocalPlane | None = None) -> dict[int, int]:
    """Every ``stride``-th candidate heading from the current one (so whole multiples of
    the 2 s chord's 6 degrees at 3 deg/s are among them), and the heading exactly
    opposite, against the reference; returns how many were decided, per code."""
    kin = kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=rate, plane=plane)
    current = float(tracks.trk_deg[0])
    idx = np.flatnonzero(((kin.values - current) % stride) == 0)
    want = reference_codes(tracks, kin.values[idx], rate)
    decided: dict[int, int] = {}
    for k, w in zip(idx.tolist(), want, strict=True):
        if w is None:
            continue
        assert int(kin.codes[k]) == w, (float(kin.values[k]), int(kin.codes[k]), w)
        decided[w] = decided.get(w, 0) + 1
    return decided


@pytest.mark.parametrize(("seed", "rate"), [(4, 3.0), (11, 3.0), (14, 1.5)])
def test_turning_bands_against_geodesic_flight(seed: int, rate: float) -> None:
    """Crowded pictures, standard and half-standard rate: every decided candidate's
    colour, conflicts on both sides of the turn and at several levels.

    Mutations killed (bands group): the chords' velocities wrong (``_Arc.chords``:
    ``span = end + start``, ``(xb - xa) * span``, ``(yb - ya) * span``: mutmut_12, 14,
    16), one chord too many before the turn's end (``_turn_plan``: ``tau / dt_s +
    1.000000001``, mutmut_49), the last, shorter chord started at ``n_full / dt_s``
    (mutmut_83), the alert levels of left turns not looked for along their shared chords
    (``_raise_to_levels``: ``(1.0, +1.0)``, ``(1.0, -2.0)``: mutmut_75, 76)."""
    tracks = converging(seed, 35.2, 37.9, 90.0)
    decided = compare(tracks, rate)
    assert sum(decided.values()) > 60
    assert decided.get(FREE, 0) > 5 and sum(v for c, v in decided.items() if c >= 0) > 10


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_turning_bands_at_close_quarters(seed: int) -> None:
    """An intruder just outside 5 NM: whether and when separation is lost is decided
    during the turn itself, along the chords that stand for the arc.

    Written for the chords' velocities (``_Arc.chords``: ``span = end + start``,
    ``(xb - xa) * span``, ``(yb - ya) * span``: mutmut_12, 14, 16)."""
    decided = compare(close_quarters(seed), 3.0, stride=2)
    assert sum(decided.values()) > 90
    assert decided.get(FREE, 0) > 10 and sum(v for c, v in decided.items() if c >= 0) > 10


def test_alert_levels_of_left_turns_at_close_quarters() -> None:
    """Two intruders just outside 5 NM; turning left towards one of them loses 3 NM
    within a minute (the warning level) during the turn itself.

    Mutations killed: ``_raise_to_levels`` looking for the levels' tighter minima along
    the right turn's shared chords twice and never along the left turn's (``(1.0,
    +1.0)``, ``(1.0, -2.0)``: mutmut_75, 76)."""
    tracks = close_quarters(2)
    decided = compare(tracks, 3.0, stride=1)
    assert decided.get(3, 0) > 90
    kin = kinematic_track_bands(tracks, ACCORD, 0)
    left = (kin.values > 180.0) & (kin.values < 270.0)  # 90 to 180 degrees left
    assert (kin.codes[left] == 3).all()


@pytest.mark.parametrize("trk0", [0.0, 37.0, 90.0, 143.0, 200.0, 271.0, 315.0, 352.0])
def test_exactly_opposite_turns_right(trk0: float) -> None:
    """The candidate exactly opposite the current track is reached by turning right.
    The ownship flies ``trk0`` at 420 kt with an intruder 14 km off its right wing (100
    degrees right of its track) flying the same track at 300 kt: turning right brings
    it within 5 NM of the intruder, turning left takes it away. Whether the plane's
    turn of 180 degrees comes out of the arithmetic as +pi or -pi depends on the
    headings' rounding, hence several headings.

    Mutations killed: ``_turn_plan``'s ``np.where(None, ...)`` and ``np.isclose(turn,
    +math.pi)`` (mutmut_14, 24: a turn of exactly -180 degrees left as it is, so the
    ownship turns left)."""
    lat0, lon0 = 35.0, 38.0
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, trk0 + 100.0, 14e3)
    tracks = Tracks(np.array(["own", "b"]), np.array(["us", "ru"]), np.array(["manned"] * 2),
                    np.array([lat0, lat1]), np.array([lon0, lon1]), np.array([30000.0] * 2),
                    np.array([420.0, 300.0]), np.array([trk0, trk0]), np.zeros(2))
    kin = kinematic_track_bands(tracks, ACCORD, 0)
    back, right, left = (trk0 + 180.0) % 360, (trk0 + 179.0) % 360, (trk0 + 181.0) % 360
    want = reference_codes(tracks, np.array([back, right, left]), 3.0)
    code = {float(v): int(c) for v, c in zip(kin.values, kin.codes, strict=True)}
    assert want[0] is not None and want[0] != FREE and code[back] == want[0]
    # 179 degrees to the right is in conflict; 179 to the left (181 right) free
    assert want[1] is not None and want[1] != FREE and code[right] == want[1]
    assert want[2] == FREE and code[left] == FREE


def test_slow_turn_lasting_the_whole_look_ahead() -> None:
    """At 0.5 deg/s a turn of more than 150 degrees outlasts the 300 s look-ahead: those
    candidates fly their turn only (no straight leg, and no own leg at all where the
    turn's 150 chords end exactly at the look-ahead); the last candidate, 359 degrees,
    is exactly opposite the current 179.

    Mutations killed: ``_raise_to_levels``' ``np.bincount(own_k)`` without
    ``minlength`` (mutmut_22: an index error when the last candidate has no leg of its
    own and is in conflict)."""
    tracks = converging(21, 35.2, 37.9, 179.0)
    decided = compare(tracks, 0.5)
    assert sum(decided.values()) > 60 and sum(v for c, v in decided.items() if c >= 0) > 5
    kin = kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=0.5)
    assert kin.values[-1] == 359.0 and kin.codes[-1] != FREE


def test_turning_bands_on_a_plane_far_from_the_picture() -> None:
    """The bands on a plane centred 1,500 km away are those of the picture's own plane
    (against the reference: the plane is a means, not an input).

    Mutations killed: ``kinematic_track_bands`` projecting the tracks on the picture's
    plane instead of the one passed (``plane_state(tracks, accord, None)`` and without
    the argument: mutmut_30, 33; the candidates' velocities then come from another plane
    than the positions)."""
    tracks = converging(4, 35.2, 37.9, 90.0)
    decided = compare(tracks, 3.0, stride=5, plane=LocalPlane(47.0, 52.0))
    assert sum(decided.values()) > 40 and sum(v for c, v in decided.items() if c >= 0) > 5


def test_the_reference_turns_at_the_rate_and_radius_of_a_circle() -> None:
    """The reference itself, by hand: 400 kt at 3 deg/s turns on a circle of radius
    v / omega = 205.8 m/s / 0.05236 rad/s = 3,930 m, so a full 180-degree turn ends
    2 r = 7,860 m abeam of where it began (geodesic distance), after 60 s."""
    lat0, lon0 = 35.0, 38.0
    lat, lon = fly_turns(lat0, lon0, 0.0, 400 * KT, np.array([180.0]), 3.0, int(60 / DT))
    _, _, d = GEOD.inv(lon0, lat0, float(lon[0, -1]), float(lat[0, -1]))
    r = 400 * KT / math.radians(3.0)
    assert d == pytest.approx(2 * r, rel=1e-4)
    az, _, _ = GEOD.inv(lon0, lat0, float(lon[0, -1]), float(lat[0, -1]))
    assert az == pytest.approx(90.0, abs=0.05)  # abeam to the right (east)
