from __future__ import annotations

import itertools

import numpy as np
import pyproj
import pytest
from shapely.geometry import Point
from shapely.geometry import Polygon as SPoly

from skyaccord.errors import IntentError
from skyaccord.geo import LocalPlane
from skyaccord.strategic.volumes import (
    Circle,
    Intent,
    Limits,
    Polygon,
    RouteFix,
    Volume,
    route_volumes,
    validate_intent,
)

SQUARE = Polygon(((38.0, 35.0), (38.1, 35.0), (38.1, 35.1), (38.0, 35.1)))


def one(fp: object = SQUARE, lo: float = 0, hi: float = 1000, t0: float = 0,
        t1: float = 60) -> Intent:
    return Intent("x", "us", (Volume(fp, lo, hi, t0, t1),))  # type: ignore[arg-type]


def test_valid_polygon_and_circle() -> None:
    validate_intent(one())
    validate_intent(one(Circle(35.0, 38.0, 1000.0)))


@pytest.mark.parametrize(("intent", "match"), [
    (one(Polygon(((38.0, 35.0), (38.1, 35.1), (38.1, 35.0), (38.0, 35.1)))),
     r"volumes\[0\]: polygon is not simple \(Self-intersection"),
    (one(lo=2000, hi=1000), "alt_lower_ft 2000 must be below alt_upper_ft 1000"),
    (one(t0=60, t1=60), "time_start 60 must be before time_end 60"),
    (one(hi=200_000), "altitudes must lie within"),
    (one(Circle(35.0, 38.0, 30_000.0)), "over the limit of 2500 km²"),
    (one(Polygon(((38.0, 35.0), (38.8, 35.0), (38.8, 35.8), (38.0, 35.8)))),
     "over the limit of 2500 km²"),
    (one(Circle(35.0, 38.0, -1.0)), "radius_m -1.0 must be positive"),
    (one(Polygon(((38.0, 35.0), (38.1, 35.0)))), "at least 3 distinct vertices"),
    (one(Polygon(((38.0, 95.0), (38.1, 35.0), (38.1, 35.1)))), "vertex 0"),
    (one(t1=40 * 86400), "over the limit of 2592000 s"),
    (one(t0=1.7e12, t1=1.7e12 + 60), "between 1970 and 2100"),
    (one(lo=float("nan")), "finite"),
    (Intent("", "us", one().volumes), "intent id ''"),
    (Intent("x", "us", ()), "at least one volume"),
])
def test_bad_input_names_the_field(intent: Intent, match: str) -> None:
    with pytest.raises(IntentError, match=match):
        validate_intent(intent)


def test_limits_are_configurable() -> None:
    with pytest.raises(IntentError, match="over the limit of 10 km²"):
        validate_intent(one(), Limits(max_area_km2=10.0))  # the square is ~100 km²


def test_route_volumes_cover_the_leg_with_the_buffer() -> None:
    fixes = [RouteFix(35.0, 38.0, 20000, 0.0), RouteFix(35.3, 38.4, 22000, 900.0),
             RouteFix(35.3, 38.9, 22000, 1800.0)]
    vols = route_volumes(fixes, 3000.0, 500.0)
    assert [(v.time_start, v.time_end) for v in vols] == [(0.0, 900.0), (900.0, 1800.0)]
    assert [(v.alt_lower_ft, v.alt_upper_ft) for v in vols] == [(19500, 22500),
                                                               (21500, 22500)]
    geod = pyproj.Geod(ellps="WGS84")
    for leg, v in zip(itertools.pairwise(fixes), vols, strict=True):
        assert isinstance(v.footprint, Polygon)
        ring = np.array(v.footprint.ring())
        # along the leg, points 2.9 km to the side are inside, 3.1 km outside
        (a, b) = leg
        az = geod.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)[0]
        plane = LocalPlane(a.lat_deg, a.lon_deg)
        x, y = plane.forward(ring[:, 1], ring[:, 0])
        shape = SPoly(np.column_stack([x, y]))
        for frac in (0.0, 0.3, 0.7, 1.0):
            lon, lat, _ = geod.fwd(a.lon_deg, a.lat_deg, az,
                                   frac * geod.inv(a.lon_deg, a.lat_deg, b.lon_deg,
                                                   b.lat_deg)[2])
            for side, inside in ((2900.0, True), (3100.0, False)):
                plon, plat, _ = geod.fwd(lon, lat, az + 90, side)
                px, py = plane.forward(np.array([plat]), np.array([plon]))
                if frac in (0.0, 1.0) and not inside:
                    continue  # the round caps extend past the fixes
                assert shape.contains(Point(px[0], py[0])) is inside
    validate_intent(Intent("r", "us", vols))


def test_route_errors() -> None:
    with pytest.raises(IntentError, match="at least 2 fixes"):
        route_volumes([RouteFix(35, 38, 0, 0)], 100, 0)
    with pytest.raises(IntentError, match=r"fix 1: time 0\.0 must be after"):
        route_volumes([RouteFix(35, 38, 0, 0), RouteFix(35, 38.1, 0, 0.0)], 100, 0)
