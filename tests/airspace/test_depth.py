"""Incursion depth against independent truth: hand-computed cases and a brute force.

The brute force knows nothing of edges, envelopes or medial axes: it samples the path,
measures each sample's distance to the zone's boundary with ``shapely.distance``, and
bounds the maximum between samples by Lipschitz continuity (the distance to a set changes
no faster than the point moves), halving every interval that could still hide a larger
value until the bound is within ``tol`` of the best sample. So the true maximum lies in
``[best, best + tol]``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from skyaccord.airspace import (
    Incursions,
    Zone,
    predict_incursions,
    project_geometry,
    theatre_borders,
)
from skyaccord.geo import LocalPlane, picture_centre
from skyaccord.protocol import default_accord
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

ACCORD = default_accord()
PLANE = LocalPlane(35.0, 38.0)
TOL_M = 0.01


def brute_depth(boundary: shapely.Geometry, x0: float, y0: float, vx: float, vy: float,
                t0: float, t1: float, tol: float = TOL_M) -> tuple[float, float]:
    """Bounds ``(lo, hi)`` of the largest distance to ``boundary`` along ``p0 + v t``, t in
    [t0, t1] (plane metres), by branch and bound on the distance's Lipschitz constant
    (the speed): ``lo`` the best sample, ``hi`` at most ``tol`` above it. Where the
    distance is flat at its maximum (a track along an edge at the greatest depth) the
    intervals cannot all close; past 200,000 of them the bounds stand as they are,
    ``hi`` the largest bound still open, which is as rigorous and only wider."""
    speed = math.hypot(vx, vy)

    def f(t: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.distance(boundary, shapely.points(x0 + vx * t, y0 + vy * t)))

    t = np.linspace(t0, t1, 257)
    d = f(t)
    best = float(d.max())
    a, b, fa, fb = t[:-1], t[1:], d[:-1], d[1:]
    for _ in range(200):
        bound = 0.5 * (fa + fb + speed * (b - a))
        open_ = bound > best + tol
        if not open_.any():
            return best, best + tol
        if open_.sum() >= 200_000:
            return best, float(bound.max())
        a, b, fa, fb = a[open_], b[open_], fa[open_], fb[open_]
        m = 0.5 * (a + b)
        fm = f(m)
        best = max(best, float(fm.max()))
        a, b = np.concatenate([a, m]), np.concatenate([m, b])
        fa, fb = np.concatenate([fa, fm]), np.concatenate([fm, fb])
    raise AssertionError("brute force did not converge")


def check_against_brute_force(tracks: Tracks, zones: list[Zone], inc: Incursions,
                              horizon: float, plane: LocalPlane) -> None:
    s = plane_state(tracks, ACCORD, plane)
    boundaries = [project_geometry(z.geometry, plane).boundary for z in zones]
    for k in range(len(inc)):
        i, z = int(inc.track[k]), int(inc.zone[k])
        t1 = horizon if math.isnan(inc.t_exit_s[k]) else float(inc.t_exit_s[k])
        lo, hi = brute_depth(boundaries[z], s.x[i], s.y[i], s.vx[i], s.vy[i],
                             float(inc.t_entry_s[k]), t1)
        got = float(inc.depth_m[k]) * s.scale[i]
        assert lo - 1e-6 <= got <= hi + 1e-6, (k, got, lo, hi)


def plane_zone(rings: list[np.ndarray], zone_id: str = "z") -> Zone:
    """A zone from rings given in PLANE metres (first the shell, then holes)."""
    lonlat = []
    for r in rings:
        lat, lon = PLANE.inverse(r[:, 0], r[:, 1])
        lonlat.append(np.column_stack([lon, lat]))
    return Zone(zone_id, "sy", "restricted", shapely.Polygon(lonlat[0], lonlat[1:]))


def plane_track(x: float, y: float, trk_deg: float, speed_ms: float) -> Tracks:
    """A level track at plane (x, y) m flying plane bearing ``trk_deg`` at ``speed_ms``."""
    lat, lon = PLANE.inverse(np.array([x]), np.array([y]))
    conv = math.degrees(float(PLANE.factors(lat, lon).convergence_rad[0]))
    return Tracks.from_rows([("a", "ru", "manned", lat[0], lon[0], 20000.0,
                              speed_ms * 3600 / 1852, (trk_deg + conv) % 360, 0.0)])


def box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def test_right_triangle_through_its_incentre() -> None:
    """Legs 30 and 40 km: inradius (30 + 40 - 50) / 2 = 10 km, incentre (10, 10) km; a
    path through the incentre reaches exactly the inradius, the deepest point of all."""
    zone = plane_zone([np.array([[0.0, 0.0], [40e3, 0.0], [0.0, 30e3]])])
    tracks = plane_track(-5e3, 10e3, 90.0, 250.0)
    inc = predict_incursions(tracks, [zone], ACCORD, lookahead_s=300.0, plane=PLANE)
    assert len(inc) == 1
    s = plane_state(tracks, ACCORD, PLANE)
    assert inc.depth_m[0] * s.scale[0] == pytest.approx(10e3, abs=1e-3)


def test_hole_vertex_against_outer_edge() -> None:
    """A 40 km square with a 10 km square hole, crossed along y = 8 km. Away from the
    hole the depth would be 12 km (to the outer top edge); the hole's corner (5, 5) km
    brings it down: the maximum is where |x| = u with (u - 5)^2 + 3^2 = (20 - u)^2, i.e.
    u = 12.2 km, at a distance of 7.8 km (a crossing of the medial axis between a vertex
    and an edge)."""
    zone = plane_zone([box(-20e3, -20e3, 20e3, 20e3), box(-5e3, -5e3, 5e3, 5e3)])
    tracks = plane_track(-25e3, 8e3, 90.0, 250.0)
    inc = predict_incursions(tracks, [zone], ACCORD, lookahead_s=300.0, plane=PLANE)
    assert len(inc) == 1
    # (ground speed 250 m/s; the plane's scale factor, 1 + 4e-6 there, shortens times)
    assert inc.t_entry_s[0] == pytest.approx(20.0, abs=1e-3)
    assert inc.t_exit_s[0] == pytest.approx(180.0, abs=1e-3)
    s = plane_state(tracks, ACCORD, PLANE)
    assert inc.depth_m[0] * s.scale[0] == pytest.approx(7.8e3, abs=1e-3)


def test_clipped_by_the_lookahead_and_inside_now() -> None:
    """Inside now at the centre of a 20 km square flying east: deepest at once (10 km);
    the same track started 8 km west of the centre reaches the centre after 32 s."""
    zone = plane_zone([box(-10e3, -10e3, 10e3, 10e3)])
    inc = predict_incursions(plane_track(0.0, 0.0, 90.0, 250.0), [zone], ACCORD,
                             lookahead_s=10.0, plane=PLANE)
    assert inc.inside_now[0] and inc.depth_m[0] == pytest.approx(10e3, abs=0.1)
    west = plane_track(-8e3, 0.0, 90.0, 250.0)
    short = predict_incursions(west, [zone], ACCORD, lookahead_s=20.0, plane=PLANE)
    assert short.depth_m[0] == pytest.approx(7e3, abs=0.1)  # at x = -3 km after 20 s
    full = predict_incursions(west, [zone], ACCORD, lookahead_s=60.0, plane=PLANE)
    assert full.depth_m[0] == pytest.approx(10e3, abs=0.1)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(-30_000, 30_000), st.floats(-30_000, 30_000), st.floats(0, 360),
    st.floats(50, 600), st.floats(3_000, 20_000), st.floats(0.0, 0.9),
    st.integers(3, 12),
)
def test_star_polygons_against_brute_force(x0: float, y0: float, trk: float, gs_kt: float,
                                           radius: float, dent: float, points: int) -> None:
    """Concave stars: several incursions along one line, maxima at vertex-vertex,
    vertex-edge and edge-edge equidistant points and at the ends of the pieces."""
    k = np.arange(2 * points)
    r = radius * np.where(k % 2 == 0, 1.0, 1.0 - dent)
    ring = np.column_stack([r * np.sin(k * np.pi / points), r * np.cos(k * np.pi / points)])
    zone = plane_zone([ring])
    tracks = plane_track(x0, y0, trk, gs_kt * 1852 / 3600)
    inc = predict_incursions(tracks, [zone], ACCORD, lookahead_s=300.0, plane=PLANE)
    check_against_brute_force(tracks, [zone], inc, 300.0, PLANE)


def test_real_borders_against_brute_force() -> None:
    """Random tracks over the Turkey-Syria-Iraq border region: every incursion's depth
    against the brute force on the shipped borders (thousands of edges, holes none)."""
    zones = [z for z in theatre_borders() if z.owner in ("tr", "sy", "iq")]
    rng = np.random.default_rng(5)
    n = 150
    tracks = Tracks(np.array([f"t{k}" for k in range(n)]), np.array(["ru"] * n),
                    np.array(["manned"] * n), rng.uniform(36.0, 37.6, n),
                    rng.uniform(36.0, 43.0, n), np.full(n, 20000.0),
                    rng.uniform(150, 600, n), rng.uniform(0, 360, n), np.zeros(n))
    horizon = 300.0
    inc = predict_incursions(tracks, zones, ACCORD, lookahead_s=horizon)
    assert len(inc) > 100 and (~inc.inside_now).sum() > 5
    plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    check_against_brute_force(tracks, zones, inc, horizon, plane)


def test_depth_off_gives_nan() -> None:
    zone = plane_zone([box(-10e3, -10e3, 10e3, 10e3)])
    inc = predict_incursions(plane_track(0.0, 0.0, 90.0, 250.0), [zone], ACCORD,
                             plane=PLANE, depth=False)
    assert len(inc) == 1 and math.isnan(inc.depth_m[0])


def test_a_depth_method_can_be_passed() -> None:
    """``depth`` takes a method: here the length flown inside (plane metres), which
    divided by the scale factor is 200 m/s x 100 s = 20 km across a 20 km square."""
    lat, lon = PLANE.inverse(np.array([-1e4, 1e4, 1e4, -1e4]), np.array([0, 0, 2e4, 2e4]))
    square = Zone("box", "sy", "restricted", shapely.Polygon(np.column_stack([lon, lat])))
    la, lo = PLANE.inverse(np.array([0.0]), np.array([-1e4]))
    tracks = Tracks.from_rows([("a", "us", "manned", la[0], lo[0], 20000, 200 * 3600 / 1852,
                                0, 0)])
    calls = []

    def flown(tree: object, edges: np.ndarray, x0: np.ndarray, y0: np.ndarray,
              vx: np.ndarray, vy: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        calls.append(len(x0))
        return np.asarray(np.hypot(vx, vy) * (t1 - t0))

    inc = predict_incursions(tracks, [square], ACCORD, plane=PLANE, depth=flown)
    assert calls == [1]
    assert inc.depth_m[0] == pytest.approx(20_000.0, rel=1e-6)
    assert math.isnan(predict_incursions(tracks, [square], ACCORD, plane=PLANE,
                                         depth=False).depth_m[0])
