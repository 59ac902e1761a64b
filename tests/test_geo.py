"""The local plane against independent geodesic truth (pyproj.Geod on WGS84)."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyaccord.geo import FPM, FT, KT, NM, LocalPlane, great_circle_m, picture_centre

GEOD = pyproj.Geod(ellps="WGS84")


def test_units_are_exact_definitions() -> None:
    assert NM == 1852.0
    assert FT == 0.3048
    assert pytest.approx(1852.0, rel=1e-15) == KT * 3600
    assert FPM * 60 == 0.3048


def test_forward_inverse_roundtrip() -> None:
    plane = LocalPlane(35.8, 36.4)
    rng = np.random.default_rng(0)
    lat = rng.uniform(33.5, 38.0, 500)
    lon = rng.uniform(33.5, 39.5, 500)
    x, y = plane.forward(lat, lon)
    lat2, lon2 = plane.inverse(x, y)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(lat=st.floats(33.5, 38.0), lon=st.floats(34.0, 39.0), track=st.floats(0, 360))
def test_short_geodesic_step_matches_scaled_rotated_velocity(lat: float, lon: float,
                                                           track: float) -> None:
    """A 100 m step along a true track lands where the plane velocity says (to 1 mm)."""
    plane = LocalPlane(35.8, 36.4)
    lon2, lat2, _ = GEOD.fwd(lon, lat, track, 100.0)
    x0, y0 = plane.forward(np.array([lat]), np.array([lon]))
    x1, y1 = plane.forward(np.array([lat2]), np.array([lon2]))
    vx, vy = plane.velocity_to_plane(np.array([lat]), np.array([lon]), np.array([1.0]),
                                     np.array([track]))
    # Velocity 1 m/s for 100 s: the same 100 m step in plane metres.
    assert abs(x1[0] - x0[0] - 100 * vx[0]) < 2e-3
    assert abs(y1[0] - y0[0] - 100 * vy[0]) < 2e-3


def test_plane_distances_divided_by_scale_are_ground_distances() -> None:
    """Across the 500 km benchmark box, pair distances of ~10 km are right to 1e-5."""
    plane = LocalPlane(35.5, 37.5)
    rng = np.random.default_rng(1)
    lat = rng.uniform(33.3, 37.7, 300)
    lon = rng.uniform(34.7, 40.3, 300)
    az = rng.uniform(0, 360, 300)
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, np.full(300, 10_000.0))
    x1, y1 = plane.forward(lat, lon)
    x2, y2 = plane.forward(lat2, lon2)
    scale = 0.5 * (plane.factors(lat, lon).scale + plane.factors(lat2, lon2).scale)
    ground = np.hypot(x2 - x1, y2 - y1) / scale
    np.testing.assert_allclose(ground, 10_000.0, rtol=1e-5)


def test_picture_centre() -> None:
    assert picture_centre(np.array([35.0, 37.0]), np.array([36.0, 38.0])) == (36.0, 37.0)
    lat, lon = picture_centre(np.array([10.0, 10.0]), np.array([179.5, -179.5]))
    assert lat == 10.0 and abs(abs(lon) - 180.0) < 1e-9


def test_great_circle_scalar_and_array_agree_with_the_sphere() -> None:
    """Arcs of the mean-radius sphere: a quarter meridian is pi R / 2; an equatorial
    degree is pi R / 180; the array path gives the scalar path's numbers."""
    r = 6_371_008.8
    assert great_circle_m(0.0, 0.0, 90.0, 0.0) == pytest.approx(np.pi * r / 2, rel=1e-12)
    assert great_circle_m(0.0, 10.0, 0.0, 11.0) == pytest.approx(np.pi * r / 180, rel=1e-12)
    rng = np.random.default_rng(3)
    lat = rng.uniform(-80.0, 80.0, 200)
    lon = rng.uniform(-180.0, 180.0, 200)
    d = great_circle_m(lat, lon, 35.0, 36.0)
    want = [great_circle_m(float(a), float(o), 35.0, 36.0) for a, o in zip(lat, lon, strict=True)]
    np.testing.assert_allclose(d, want, rtol=1e-12)
    # against the WGS84 geodesic, a sphere errs by well under 1 %
    _, _, geod = GEOD.inv(lon, lat, np.full(200, 36.0), np.full(200, 35.0))
    np.testing.assert_allclose(d, geod, rtol=6e-3)


def test_a_plane_centre_off_the_globe_is_an_input_error() -> None:
    from skyaccord.errors import InputError, SkyaccordError

    with pytest.raises(InputError, match="plane centre out of range") as info:
        LocalPlane(91.0, 0.0)
    assert isinstance(info.value, SkyaccordError) and isinstance(info.value, ValueError)
