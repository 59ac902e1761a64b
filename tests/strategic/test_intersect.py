from __future__ import annotations

import numpy as np
import pyproj
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point
from shapely.geometry import Polygon as SPoly

from skyaccord.geo import LocalPlane
from skyaccord.strategic.intersect import (
    horizontal_gap_m,
    place,
    theatre_plane,
    volumes_conflict,
)
from skyaccord.strategic.volumes import Circle, Polygon, Volume

GEOD = pyproj.Geod(ellps="WGS84")
PLANE = theatre_plane(35.0, 38.5)


def vol(fp: Circle | Polygon, z: tuple[float, float] = (0, 1000),
        t: tuple[float, float] = (0, 60)) -> Volume:
    return Volume(fp, z[0], z[1], t[0], t[1])


@settings(max_examples=60, deadline=None)
@given(st.floats(33.0, 37.0), st.floats(36.0, 41.0), st.floats(0, 360),
       st.floats(2000, 60000), st.floats(100, 20000), st.floats(100, 20000))
def test_circle_gap_matches_geodesic(lat: float, lon: float, az: float, d: float,
                                     r1: float, r2: float) -> None:
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, d)
    a = place(vol(Circle(lat, lon, r1)), PLANE)
    b = place(vol(Circle(lat2, lon2, r2)), PLANE)
    want = max(d - r1 - r2, 0.0)
    # conformal plane with the pair's mean scale: metre-level over hundreds of km
    assert abs(horizontal_gap_m(a, b) - want) < 1.0 + 2e-5 * d


@settings(max_examples=40, deadline=None)
@given(st.floats(34.0, 36.0), st.floats(37.5, 39.5), st.floats(0, 360),
       st.floats(500, 30000), st.floats(200, 5000))
def test_polygon_circle_gap_matches_brute_force(lat: float, lon: float, az: float,
                                                d: float, r: float) -> None:
    # a 4 km square centred on (lat, lon); a circle centred d metres away
    local = LocalPlane(lat, lon)
    sq = np.array([(-2000, -2000), (2000, -2000), (2000, 2000), (-2000, 2000)], float)
    qlat, qlon = local.inverse(sq[:, 0], sq[:, 1])
    poly = Polygon(tuple(zip(qlon.tolist(), qlat.tolist(), strict=True)))
    clon, clat, _ = GEOD.fwd(lon, lat, az, d)
    got = horizontal_gap_m(place(vol(poly), PLANE), place(vol(Circle(clat, clon, r)), PLANE))
    # brute force in a plane centred on the pair: distance from the centre to the square
    x, y = local.forward(np.array([clat]), np.array([clon]))
    want = max(SPoly(sq).distance(Point(x[0], y[0])) - r, 0.0)
    assert abs(got - want) < 1.0 + 1e-4 * d


def test_boundaries_are_separated() -> None:
    c = Circle(35.0, 38.5, 1000.0)
    a = place(vol(c, (0, 1000), (0, 60)), PLANE)
    # windows that only touch: no conflict; overlapping by 1 s: conflict
    assert not volumes_conflict(a, place(vol(c, (0, 1000), (60, 120)), PLANE), 5000, 1000)
    assert volumes_conflict(a, place(vol(c, (0, 1000), (59, 120)), PLANE), 5000, 1000)
    # bands exactly V apart: separated; 1 ft closer: conflict
    assert not volumes_conflict(a, place(vol(c, (2000, 3000)), PLANE), 5000, 1000)
    assert volumes_conflict(a, place(vol(c, (1999, 3000)), PLANE), 5000, 1000)
    # horizontal: gap just over and just under H
    lon2, lat2, _ = GEOD.fwd(38.5, 35.0, 90, 2000 + 5000 + 2.0)
    far = place(vol(Circle(lat2, lon2, 1000.0)), PLANE)
    assert not volumes_conflict(a, far, 5000, 1000)
    assert volumes_conflict(a, far, 5004, 1000)


def test_overlapping_polygons_have_zero_gap() -> None:
    p1 = Polygon(((38.0, 35.0), (38.2, 35.0), (38.2, 35.2), (38.0, 35.2)))
    p2 = Polygon(((38.1, 35.1), (38.3, 35.1), (38.3, 35.3), (38.1, 35.3)))
    assert horizontal_gap_m(place(vol(p1), PLANE), place(vol(p2), PLANE)) == 0.0


def _random_placed(rng: np.random.Generator, n: int) -> list:  # type: ignore[type-arg]
    """Circles and polygons near one another, some bands and windows exactly touching."""
    out = []
    for _ in range(n):
        lat, lon = 35.0 + rng.uniform(-0.1, 0.1), 38.5 + rng.uniform(-0.1, 0.1)
        z = float(rng.choice([0.0, 1000.0, 2000.0, 3000.0]))
        t = float(rng.choice([0.0, 60.0, 120.0]))
        if rng.random() < 0.4:
            dx, dy = rng.uniform(0.005, 0.03, 2)
            fp: Circle | Polygon = Polygon(((lon, lat), (lon + dx, lat), (lon, lat + dy)))
        else:
            fp = Circle(lat, lon, float(rng.uniform(100, 3000)))
        out.append(place(vol(fp, (z, z + 1000), (t, t + 60)), PLANE))
    return out


def test_conflict_mask_equals_scalar_rule() -> None:
    from skyaccord.strategic.intersect import conflict_mask, volume_arrays

    rng = np.random.default_rng(3)
    a = _random_placed(rng, 400)
    b = _random_placed(rng, 400)
    h = rng.choice([1852.0, 5556.0, 9260.0], 400)
    v = rng.choice([500.0, 1000.0], 400)
    got = conflict_mask(volume_arrays(a), volume_arrays(b), h, v)
    want = [volumes_conflict(x, y, float(hh), float(vv))
            for x, y, hh, vv in zip(a, b, h, v, strict=True)]
    assert got.tolist() == want
    assert 20 < sum(want) < 380  # both answers are exercised
    # exactly at the minimum is separated, on both paths
    c1 = place(vol(Circle(35.0, 38.5, 1000.0)), PLANE)
    c2 = place(vol(Circle(35.0, 38.6, 1000.0)), PLANE)
    gap = horizontal_gap_m(c1, c2)
    for hh in (gap, np.nextafter(gap, np.inf)):
        m = conflict_mask(volume_arrays([c1]), volume_arrays([c2]), hh, 300.0)
        assert bool(m[0]) == volumes_conflict(c1, c2, float(hh), 300.0) == (hh > gap)
    # empty in, empty out
    e = volume_arrays([])
    assert conflict_mask(e, e, 1.0, 1.0).shape == (0,)


def test_boundary_far_from_the_theatre_centre() -> None:
    """700 km from the theatre's centre (scale factor 1 + 3e-3): two circles whose
    geodesic gap is the 5 NM minimum less 0.5 m conflict, plus 0.5 m they do not, in
    every direction; the quick box rejection never throws out a conflict.

    Mutation caught (mutmut found it alive): the box pre-filter's slack divided by the
    scale factor instead of multiplied (``h_min_m / max(a.k, b.k)``) rejects them."""
    h = 9260.0
    for bearing in (0.0, 90.0, 180.0, 270.0, 45.0):
        lon_a, lat_a, _ = GEOD.fwd(38.5, 35.0, bearing, 700_000.0)
        for az in (bearing, bearing + 90.0):
            for eps, conflict in ((-0.5, True), (0.5, False)):
                lon_b, lat_b, _ = GEOD.fwd(lon_a, lat_a, az, 3000.0 + 1000.0 + h + eps)
                a = place(vol(Circle(lat_a, lon_a, 3000.0)), PLANE)
                b = place(vol(Circle(lat_b, lon_b, 1000.0)), PLANE)
                assert a.k > 1.002
                assert volumes_conflict(a, b, h, 1000.0) is conflict, (bearing, az, eps)
                assert volumes_conflict(b, a, h, 1000.0) is conflict
