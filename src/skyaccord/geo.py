"""Coordinates and units: WGS84 <-> a local conformal plane, aviation units <-> SI.

SI inside (metres, seconds), aviation units at the edges (ft, kt, NM, fpm). The local
plane is an oblique stereographic projection on the WGS84 ellipsoid (pyproj ``sterea``)
centred on the picture. It is conformal, so a small neighbourhood of any point maps to the
plane by a rotation (the meridian convergence) and a uniform scale (the point scale
factor); :meth:`LocalPlane.velocity_to_plane` applies both to velocities, and kernels
divide plane distances by the scale factor. Over a 500 km box the scale factor stays
within 0.1 % of one and varies by less than 1e-4 across a pair of aircraft 20 km apart,
which is what lets one plane serve a large picture (BlueSky's flat-earth geometry, with
no meridian convergence between two aircraft, misjudges about 0.4 % of the conflict pairs
of a 10,000-aircraft picture over 500 km against aircraft flying WGS84 geodesics:
``benchmarks/README.md``, tactical detection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from skyaccord.errors import InputError

if TYPE_CHECKING:
    import pyproj

__all__ = [
    "EARTH_RADIUS_M",
    "FPM",
    "FT",
    "KT",
    "NM",
    "WGS84_A_M",
    "WGS84_E2",
    "FloatArray",
    "LocalPlane",
    "PlaneFactors",
    "great_circle_m",
    "picture_centre",
]

FloatArray = npt.NDArray[np.float64]

#: metres in one nautical mile (exact, by definition)
NM: Annotated[float, "m"] = 1852.0
#: metres in one international foot (exact)
FT: Annotated[float, "m"] = 0.3048
#: metres per second in one knot (exact)
KT: Annotated[float, "m/s"] = 1852.0 / 3600.0
#: metres per second in one foot per minute (exact)
FPM: Annotated[float, "m/s"] = 0.3048 / 60.0

#: mean Earth radius R1 = (2a + b) / 3 of the GRS 80 / WGS84 ellipsoid, m (IUGG; Moritz,
#: "Geodetic Reference System 1980", Journal of Geodesy 74, 2000)
EARTH_RADIUS_M: Annotated[float, "m"] = 6_371_008.8
#: WGS84 semi-major axis, m (NIMA TR8350.2, 3rd ed., 2000, table 3.1)
WGS84_A_M: Annotated[float, "m"] = 6_378_137.0
#: WGS84 first eccentricity squared (NIMA TR8350.2, table 3.3)
WGS84_E2: float = 6.69437999014e-3


class PlaneFactors(NamedTuple):
    """Local distortion of the plane at given points."""

    scale: FloatArray
    """point scale factor k (plane length / ground length), shape (n,)"""
    convergence_rad: FloatArray
    """meridian convergence: true north lies this angle anticlockwise of grid north, (n,)"""


@dataclass(frozen=True)
class LocalPlane:
    """An oblique stereographic plane on WGS84 centred on ``(lat0, lon0)`` (degrees).

    Examples
    --------
    >>> plane = LocalPlane(36.0, 37.0)
    >>> x, y = plane.forward(np.array([36.0]), np.array([37.0]))
    >>> float(abs(x[0])) < 1e-6 and float(abs(y[0])) < 1e-6
    True
    >>> lat, lon = plane.inverse(np.array([10_000.0]), np.array([0.0]))
    >>> round(float(lat[0]), 4), round(float(lon[0]), 4)
    (35.9999, 37.1109)
    """

    lat0: float
    lon0: float
    _proj: pyproj.Proj = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (-90.0 < self.lat0 < 90.0) or not (-180.0 <= self.lon0 <= 360.0):
            raise InputError(f"plane centre out of range: lat0={self.lat0}, lon0={self.lon0}")
        # imported here: the units and great_circle_m serve the feed readers, which
        # need no projection library (and its import time) in every decoding worker
        import pyproj

        proj = pyproj.Proj(
            f"+proj=sterea +lat_0={self.lat0!r} +lon_0={self.lon0!r} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs"
        )
        object.__setattr__(self, "_proj", proj)

    def forward(self, lat_deg: FloatArray, lon_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Plane coordinates (x east, y north, metres) of WGS84 points."""
        x, y = self._proj(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        return np.asarray(x, np.float64), np.asarray(y, np.float64)

    def inverse(self, x_m: FloatArray, y_m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """WGS84 (lat, lon) in degrees of plane points."""
        lon, lat = self._proj(np.asarray(x_m, float), np.asarray(y_m, float), inverse=True)
        return np.asarray(lat, np.float64), np.asarray(lon, np.float64)

    def factors(self, lat_deg: FloatArray, lon_deg: FloatArray) -> PlaneFactors:
        """Scale factor and meridian convergence at WGS84 points."""
        f = self._proj.get_factors(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        return PlaneFactors(
            scale=np.asarray(f.meridional_scale, np.float64),
            convergence_rad=np.radians(np.asarray(f.meridian_convergence, np.float64)),
        )

    def velocity_to_plane(
        self,
        lat_deg: FloatArray,
        lon_deg: FloatArray,
        speed_ms: FloatArray,
        track_deg: FloatArray,
        factors: PlaneFactors | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Plane velocity (vx, vy in plane metres per second) of ground velocities.

        ``track_deg`` is clockwise from true north; the plane bearing is the track less
        the convergence, and the speed is scaled by the point scale factor so that times
        computed in the plane are true times.
        """
        if factors is None:
            factors = self.factors(lat_deg, lon_deg)
        bearing = np.radians(np.asarray(track_deg, float)) - factors.convergence_rad
        speed = np.asarray(speed_ms, float) * factors.scale
        return speed * np.sin(bearing), speed * np.cos(bearing)


@overload
def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...
@overload
def great_circle_m(lat1: FloatArray, lon1: FloatArray, lat2: float,
                   lon2: float) -> FloatArray: ...
def great_circle_m(lat1: float | FloatArray, lon1: float | FloatArray, lat2: float,
                   lon2: float) -> float | FloatArray:
    """Haversine distance on the mean-radius sphere (:data:`EARTH_RADIUS_M`), metres.

    ``lat1``/``lon1`` (degrees) may be arrays, giving the distance of each point to
    ``(lat2, lon2)``; with plain floats the scalar ``math`` path runs (a decoder calls it
    once per position, where numpy's per-call cost would dominate).

    >>> round(great_circle_m(0.0, 0.0, 0.0, 1.0))
    111195
    >>> great_circle_m(np.array([0.0, 0.0]), np.array([1.0, 0.0]), 0.0, 0.0).round()
    array([111195.,      0.])
    """
    if isinstance(lat1, float | int) and isinstance(lon1, float | int):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
    q1, q2 = np.radians(lat1), math.radians(lat2)
    dq, dm = q2 - q1, np.radians(lon2 - lon1)
    hv = np.sin(dq / 2) ** 2 + np.cos(q1) * math.cos(q2) * np.sin(dm / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(hv)))
    return out


def picture_centre(lat_deg: FloatArray, lon_deg: FloatArray) -> tuple[float, float]:
    """Centre of the bounding box of points (longitudes wrapped around the densest side).

    Examples
    --------
    >>> picture_centre(np.array([35.0, 37.0]), np.array([179.0, -179.0]))
    (36.0, 180.0)
    """
    lat = np.asarray(lat_deg, float)
    lon = np.asarray(lon_deg, float)
    if lat.size == 0:
        return 0.0, 0.0
    # Shift longitudes so that the picture does not straddle the cut; a picture that
    # crosses the antimeridian gets a centre near +-180.
    ref = float(np.degrees(np.arctan2(np.sin(np.radians(lon)).mean(),
                                      np.cos(np.radians(lon)).mean())))
    rel = (lon - ref + 180.0) % 360.0 - 180.0
    centre_lon = ref + 0.5 * (float(rel.min()) + float(rel.max()))
    centre_lon = (centre_lon + 180.0) % 360.0 - 180.0
    if centre_lon == -180.0:
        centre_lon = 180.0
    return 0.5 * (float(lat.min()) + float(lat.max())), round(centre_lon, 12)
