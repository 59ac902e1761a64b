"""Detection against references that share no code with the kernel.

* :mod:`._reference`: a plain per-pair detector (its own projection, velocities and scale
  factors from geodesic steps, textbook roots): every field of every conflict, on pictures
  at mid latitudes, far out in a continent-wide plane, around the North Pole and across
  the antimeridian.
* Geodesic truth: aircraft flown on their WGS84 geodesics (pyproj.Geod), measured with the
  geodesic inverse, far from the picture's centre where the plane's scale factor is far
  from 1: the separation boundary to centimetres.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyproj
import pytest

from skyaccord.geo import NM, LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tracks import Tracks

from ._reference import KT_MS, reference_detect

GEOD = pyproj.Geod(ellps="WGS84")
ACCORD = default_accord()


def cluster_picture(seed: int, centres: list[tuple[float, float]], n_each: int,
                    radius_km: float) -> Tracks:
    """``n_each`` aircraft around each centre, placed by geodesic offsets (no plane)."""
    rng = np.random.default_rng(seed)
    lat, lon = [], []
    for clat, clon in centres:
        az = rng.uniform(0, 360, n_each)
        dist = radius_km * 1000.0 * np.sqrt(rng.uniform(0, 1, n_each))
        lo, la, _ = GEOD.fwd(np.full(n_each, clon), np.full(n_each, clat), az, dist)
        lat.append(la)
        lon.append(lo)
    n = n_each * len(centres)
    vs = np.where(rng.random(n) < 0.3, rng.uniform(-2500, 2500, n), 0.0)
    return Tracks(np.array([f"T{i:04d}" for i in range(n)]), rng.choice(["us", "ru", "tr"], n),
                  rng.choice(["manned", "unmanned", "civil"], n),
                  np.concatenate(lat), np.concatenate(lon), rng.uniform(10000, 14000, n),
                  rng.uniform(100, 250, n) / KT_MS, rng.uniform(0, 360, n), vs)


PICTURES = {
    # name: (plane centre, cluster centres, aircraft per cluster, cluster radius km)
    "mid-latitude": ((35.5, 37.5), [(35.5, 37.5)], 160, 40.0),
    # clusters 600-700 km from the plane's centre: scale factor 1 + 2.5e-3
    "far-corners": ((45.0, 10.0), [(51.0, 10.0), (45.0, 19.0), (39.5, 4.0)], 70, 25.0),
    # across the pole (a track may fly over it) and at the antimeridian
    "north-pole": ((89.6, 0.0), [(89.6, 0.0), (89.8, 120.0)], 80, 30.0),
    "antimeridian": ((-12.0, 180.0), [(-12.0, 179.85), (-12.3, -179.8)], 80, 30.0),
}


def assert_equals_reference(got: Any, want: list[Any]) -> None:
    """``detect``'s conflicts equal the plain reference's, pair for pair, field for
    field."""
    assert [tuple(p) for p in got.pairs.T.tolist()] == [(w.i, w.j) for w in want]
    # rounding: the reference's velocities come from 1 m geodesic steps (direction to
    # about 1e-9 rad, a tenth of a millimetre over a long flight)
    for field, atol in (("t_in_s", 1e-5), ("t_out_s", 1e-5), ("tcpa_s", 1e-5),
                        ("dcpa_m", 1e-3), ("dz_m", 1e-3)):
        np.testing.assert_allclose(getattr(got, field), [getattr(w, field) for w in want],
                                   rtol=1e-7, atol=atol, err_msg=field)
    assert got.level.tolist() == [w.level for w in want] and got.level.dtype == np.int8
    assert got.same_party.tolist() == [w.same_party for w in want]


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_every_field_against_the_plain_reference(name: str) -> None:
    """Mutations caught (each applied by hand, the test failed, reverted): the map-scale
    correction of the radius removed in ``interval_for_minima``; ``dcpa`` not divided by
    the scale; the stable root pair swapped; a level's tighter minima ignored;
    ``t_in`` not clipped at 0; ``same_party`` negated."""
    (lat0, lon0), centres, n_each, radius_km = PICTURES[name]
    tracks = cluster_picture(len(name), centres, n_each, radius_km)
    got = detect(tracks, ACCORD, plane=LocalPlane(lat0, lon0))
    want = reference_detect(tracks, ACCORD, lat0, lon0)
    assert len(want) >= 15, len(want)
    assert_equals_reference(got, want)
    assert len({w.level for w in want}) >= 3  # the levels are exercised, not all alike
    # the other pair search finds the same conflicts, field for field
    kd = detect(tracks, ACCORD, plane=LocalPlane(lat0, lon0), engine="kdtree")
    assert np.array_equal(kd.pairs, got.pairs)
    for field in ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "dz_m", "level", "same_party"):
        np.testing.assert_array_equal(getattr(kd, field), getattr(got, field))
    if name == "antimeridian":
        assert (tracks.lon > 0).any() and (tracks.lon < 0).any()


# -- geodesic truth far from the picture's centre --------------------------------------

def _far_picture(bearing: float, far_km: float, rows: list[tuple[float, float, float, float]],
                 ) -> tuple[Tracks, float, float]:
    """A picture whose centre lies ``far_km`` from the test aircraft: ``rows`` (lat, lon,
    gs kt, trk) at 30,000 ft, plus a still anchor at ``2 far_km`` on the other side."""
    lat = [r[0] for r in rows]
    lon = [r[1] for r in rows]
    alon, alat, _ = GEOD.fwd(lon[0], lat[0], bearing + 180.0, 2 * far_km * 1000.0)
    n = len(rows) + 1
    tracks = Tracks(np.array([f"a{i}" for i in range(n)]), np.array(["us"] * (n - 1) + ["tr"]),
                    np.full(n, "manned"), np.array([*lat, alat]), np.array([*lon, alon]),
                    np.array([30000.0] * (n - 1) + [1000.0]),
                    np.array([r[2] for r in rows] + [0.0]),
                    np.array([r[3] for r in rows] + [0.0]), np.zeros(n))
    return tracks, alat, alon


@pytest.mark.parametrize("bearing", [0.0, 90.0, 200.0, 315.0])
@pytest.mark.parametrize("far_km", [400.0, 800.0])
def test_exact_boundary_far_from_the_centre(bearing: float, far_km: float) -> None:
    """Two still aircraft ``far_km`` from the picture's centre (scale factor up to
    1 + 4e-3): 5 NM less 2 cm apart on the geodesic is a loss, 5 NM plus 2 cm is not.

    Mutation caught: removing the map-scale correction of the radius
    (``radius_plane = radius - tol`` without ``* g.scale`` in ``interval_for_minima``)
    moves the boundary by 9 to 37 m here; every case fails."""
    lat0, lon0 = 20.0, 60.0
    for eps, lost in ((-0.02, True), (0.02, False)):
        d = 5 * NM + eps
        lon_b, lat_b, _ = GEOD.fwd(lon0, lat0, bearing + 70.0, d)
        tracks, alat, alon = _far_picture(bearing, far_km,
                                          [(lat0, lon0, 0.0, 0.0), (lat_b, lon_b, 0.0, 0.0)])
        c = detect(tracks, ACCORD)
        assert (len(c) == 1) is lost, (eps, len(c))
        if lost:
            assert c.t_in_s[0] == 0.0
            assert c.dcpa_m[0] == pytest.approx(d, abs=0.01)
        # the picture's centre is indeed far away: midway to the anchor
        _, _, to_anchor = GEOD.inv(lon0, lat0, alon, alat)
        assert to_anchor == pytest.approx(2 * far_km * 1000.0, rel=1e-9)


@pytest.mark.parametrize("bearing", [45.0, 160.0, 270.0])
def test_loss_times_against_geodesic_flight_far_from_the_centre(bearing: float) -> None:
    """Pairs 700 km from the picture's centre converging from 6-8 NM: flown on their
    geodesics to the predicted start and end of the loss, they are 5 NM apart within
    0.5 m, and at the predicted closest approach the distance is the reported one.

    Mutation caught: removing the map-scale correction of the radius (as above) puts
    them 30 m off at both ends."""
    rng = np.random.default_rng(int(bearing))
    lat0, lon0 = -30.0, 140.0
    rows = []
    for _ in range(6):  # six pairs, each on a random converging course
        la, lo = lat0 + rng.uniform(-0.3, 0.3), lon0 + rng.uniform(-0.3, 0.3)
        az = rng.uniform(0, 360)
        lo_b, la_b, _ = GEOD.fwd(lo, la, az, rng.uniform(6, 8) * NM)
        miss = rng.uniform(-20, 20)
        rows.append((la, lo, rng.uniform(300, 480), (az + miss) % 360))
        rows.append((la_b, lo_b, rng.uniform(300, 480), (az + 180 + miss) % 360))
    tracks, _, _ = _far_picture(bearing, 700.0, rows)
    c = detect(tracks, ACCORD)
    checked = 0
    for k in range(len(c)):
        i, j = (int(x) for x in c.pairs[:, k])
        if j == len(tracks) - 1 or i // 2 != j // 2:
            continue

        def apart(t: float, i: int = i, j: int = j) -> float:
            pts = [GEOD.fwd(tracks.lon[m], tracks.lat[m], tracks.trk_deg[m],
                            tracks.gs_kt[m] * KT_MS * t) for m in (i, j)]
            return float(GEOD.inv(pts[0][0], pts[0][1], pts[1][0], pts[1][1])[2])

        t_in, t_out = float(c.t_in_s[k]), float(c.t_out_s[k])
        if t_in > 0.0:
            assert apart(t_in) == pytest.approx(5 * NM, abs=0.5)
        assert math.isfinite(t_out) and t_out < 300.0
        assert apart(t_out) == pytest.approx(5 * NM, abs=0.5)
        assert apart(float(c.tcpa_s[k])) == pytest.approx(float(c.dcpa_m[k]), abs=0.5)
        checked += 1
    assert checked >= 4
