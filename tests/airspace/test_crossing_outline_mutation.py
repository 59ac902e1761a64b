"""Incursion prediction's zone outlines (kept per geometry and plane) and its box test
of paths against a zone, written for survivors of the airspace mutation run at commit
1552ef7 (``tests/mutation/run.py airspace``, the functions changed since f2b1e33; mutmut
names in tests/mutation/README.md).

Expected values are worked by hand, or taken ring by ring from shapely's own rings,
projected point by point: no code shared with the outline's vertex indexing.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skyaccord.airspace import Zone, predict_incursions
from skyaccord.airspace.crossing import _Outline
from skyaccord.protocol import default_accord

from .test_crossing_mutation import PLANE, SQUARE, plane_tracks, plane_zone

ACCORD = default_accord()


def test_a_zone_far_from_every_track_does_not_end_the_search() -> None:
    """Two zones: the first 500 km north of every track (no path's box meets its box),
    the second crossed by a track flying east at 200 m/s from 5 km west of it (in at
    25 s, out at 125 s: 20 km across).

    Mutant killed: ``predict_incursions`` 113 (``continue`` made ``break`` after the box
    test: the zones after the far one never checked)."""
    far = Zone("far", "sy", "restricted", plane_zone(SQUARE + np.array([0.0, 5e5])).geometry)
    near = Zone("near", "sy", "restricted", plane_zone(SQUARE).geometry)
    track = plane_tracks([(-5e3, 0.0, 90.0, 200.0)])
    inc = predict_incursions(track, [far, near], ACCORD, plane=PLANE, depth=False)
    assert inc.zone.tolist() == [1]
    assert inc.t_entry_s[0] == pytest.approx(25.0, rel=1e-5)
    assert inc.t_exit_s[0] == pytest.approx(125.0, rel=1e-5)


def _ring(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _degrees(ring: np.ndarray) -> np.ndarray:
    lat, lon = PLANE.inverse(ring[:, 0], ring[:, 1])
    return np.column_stack([lon, lat])


def _expected_edges(geom: shapely.Geometry) -> np.ndarray:
    """Each ring's consecutive vertices, projected: (m, 4) x_a, y_a, x_b, y_b."""
    rows = []
    for poly in shapely.get_parts(geom):
        for ring in (poly.exterior, *poly.interiors):
            lonlat = np.asarray(ring.coords)
            x, y = PLANE.forward(lonlat[:, 1], lonlat[:, 0])
            rows.append(np.column_stack([x[:-1], y[:-1], x[1:], y[1:]]))
    return np.concatenate(rows)


def test_edges_of_zones_with_several_rings() -> None:
    """A square with two square holes (three rings) and three separate squares (a
    multipolygon): the outline's edges are each ring's consecutive vertices, ring after
    ring; a track flying east through both holes leaves the zone in each of them.

    Mutant killed: ``_Shape.__init__`` 23 (``at = k`` for ``at += k``: the third ring's
    edges taken from the vertices of the rings before it)."""
    outer = _degrees(_ring(0.0, -1e4, 5e4, 1e4))
    holes = [_degrees(_ring(1e4, -2e3, 2e4, 2e3)), _degrees(_ring(3e4, -2e3, 4e4, 2e3))]
    holed = Zone("holed", "sy", "restricted", shapely.Polygon(outer, holes))
    parts = Zone("parts", "sy", "restricted", shapely.MultiPolygon([
        shapely.Polygon(_degrees(_ring(1e5 * k, -1e4, 1e5 * k + 2e4, 1e4)))
        for k in range(3)]))
    for zone in (holed, parts):
        got = _Outline.of(zone, PLANE).edges
        np.testing.assert_allclose(got, _expected_edges(zone.geometry), rtol=0, atol=1e-6)
    # east at 200 m/s from 5 km west: in at 25 s, out of the zone into the first hole at
    # 75 s, back at 125 s, into the second at 175 s, back at 225 s, out at 275 s
    track = plane_tracks([(-5e3, 0.0, 90.0, 200.0)])
    inc = predict_incursions(track, [holed], ACCORD, plane=PLANE, lookahead_s=300.0,
                             depth=False)
    np.testing.assert_allclose(inc.t_entry_s, [25.0, 125.0, 225.0], rtol=1e-5)
    np.testing.assert_allclose(inc.t_exit_s, [75.0, 175.0, 275.0], rtol=1e-5)


def test_outlines_are_kept_per_geometry_for_the_last_planes_and_forgotten_with_it() -> None:
    """The documented cache: a geometry's shape is built once while the geometry lives
    and forgotten when it dies; its outline in a plane is built once and kept for the
    last four planes asked for (the least recently used dropped first).

    Mutants killed: ``_shape`` 1-4, 8, 22 (the shape cache keyed on nothing, never read,
    or stored empty: a new shape each call), 12, 14-16 and ``_forget`` 1-3 (a dead
    geometry's entry never dropped), ``_Outline.of`` 3, 4, 12 (the plane's outline never
    found), 13 (three planes kept), 14, 15 (the newest dropped)."""
    from skyaccord.airspace import crossing
    from skyaccord.geo import LocalPlane

    geom = shapely.Polygon(_degrees(_ring(0.0, 0.0, 1e4, 1e4)))
    zone = Zone("z", "sy", "restricted", geom)
    assert crossing._shape(geom) is crossing._shape(geom)
    planes = [LocalPlane(35.0 + 0.1 * k, 38.0) for k in range(6)]
    first = [_Outline.of(zone, p) for p in planes[:4]]
    assert [_Outline.of(zone, p) for p in planes[:4]] == first  # all four kept
    assert all(a is b for a, b in zip(first, [_Outline.of(zone, p) for p in planes[:4]],
                                      strict=True))
    _Outline.of(zone, planes[0])  # the most recently used now; planes[1] the least
    _Outline.of(zone, planes[4])  # a fifth plane: planes[1] dropped
    assert _Outline.of(zone, planes[0]) is first[0]
    assert _Outline.of(zone, planes[2]) is first[2]
    assert _Outline.of(zone, planes[3]) is first[3]
    assert _Outline.of(zone, planes[1]) is not first[1]
    key = id(geom)
    assert key in crossing._SHAPES
    del zone, geom, first
    import gc

    gc.collect()
    assert key not in crossing._SHAPES
