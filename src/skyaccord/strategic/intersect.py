"""Exact 4D intersection of volumes with the accord's separation buffers.

Geometry is done in the registry's *theatre plane*, one oblique stereographic plane
(:class:`skyaccord.geo.LocalPlane`) centred on the theatre. The plane is conformal: near a
point, plane lengths are ground lengths times the point scale factor ``k``. Each placed
volume carries ``k`` at its centre, and a horizontal gap measured in the plane is divided
by the mean ``k`` of the pair to give the gap on the ground (within 1e-4 relative across a
pair 20 km apart, geo.py), so a 5 NM buffer is exact to about a metre anywhere within
the theatre radius of :class:`~skyaccord.strategic.volumes.Limits`.

The conflict rule, between volumes ``a`` and ``b`` of *different* parties, with the
accord's minima for their classes (``Accord.minima``) as horizontal radius ``H`` and
vertical half-height ``V``:

* time: the windows overlap, ``a.start < b.end and b.start < a.end`` (touching windows
  do not conflict);
* vertical: the bands come closer than ``V``, ``a.lower < b.upper + V and
  b.lower < a.upper + V`` (bands exactly ``V`` apart are separated);
* horizontal: the ground gap between the footprints is less than ``H`` (0 when they
  overlap; exactly ``H`` apart is separated).

Circles are exact (centre distance less radii; distance from a centre to a polygon less
the radius), not approximated by polygons.

Examples
--------
>>> from skyaccord.strategic.volumes import Circle, Volume
>>> plane = theatre_plane(35.0, 38.0)
>>> a = place(Volume(Circle(35.0, 38.0, 1000.0), 0, 1000, 0, 60), plane)
>>> b = place(Volume(Circle(35.0, 38.1, 1000.0), 0, 1000, 30, 90), plane)
>>> round(horizontal_gap_m(a, b))  # WGS84 geodesic (pyproj.Geod): 9128.8 m less 2 km
7129
>>> volumes_conflict(a, b, 7200.0, 300.0), volumes_conflict(a, b, 7100.0, 300.0)
(True, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point
from shapely.geometry import Polygon as ShapelyPolygon

from skyaccord.geo import FloatArray, LocalPlane
from skyaccord.strategic.volumes import Circle, Volume

__all__ = [
    "Box",
    "PlacedVolume",
    "VolumeArrays",
    "conflict_mask",
    "horizontal_gap_m",
    "place",
    "theatre_plane",
    "time_overlap",
    "vertical_conflict",
    "volume_arrays",
    "volumes_conflict",
]


@lru_cache(maxsize=8)
def theatre_plane(lat0: float, lon0: float) -> LocalPlane:
    """The (cached) theatre plane centred on ``(lat0, lon0)`` degrees."""
    return LocalPlane(lat0, lon0)


@dataclass(frozen=True)
class Box:
    """An axis-aligned 4D box: plane x, y (m), altitude (ft), time (s UTC)."""

    xmin: float
    xmax: float
    ymin: float
    ymax: float
    zmin: float
    zmax: float
    tmin: float
    tmax: float

    def grow(self, dxy_m: float = 0.0, dz_ft: float = 0.0, dt_s: float = 0.0) -> Box:
        return Box(self.xmin - dxy_m, self.xmax + dxy_m, self.ymin - dxy_m,
                   self.ymax + dxy_m, self.zmin - dz_ft, self.zmax + dz_ft,
                   self.tmin - dt_s, self.tmax + dt_s)

    def union(self, other: Box) -> Box:
        return Box(min(self.xmin, other.xmin), max(self.xmax, other.xmax),
                   min(self.ymin, other.ymin), max(self.ymax, other.ymax),
                   min(self.zmin, other.zmin), max(self.zmax, other.zmax),
                   min(self.tmin, other.tmin), max(self.tmax, other.tmax))

    def intersects(self, other: Box) -> bool:
        return (self.xmin <= other.xmax and other.xmin <= self.xmax
                and self.ymin <= other.ymax and other.ymin <= self.ymax
                and self.zmin <= other.zmax and other.zmin <= self.zmax
                and self.tmin <= other.tmax and other.tmin <= self.tmax)


@dataclass(frozen=True)
class PlacedVolume:
    """A volume in the theatre plane, ready for exact tests."""

    volume: Volume
    #: polygon footprint in plane metres (None for a circle)
    shape: ShapelyPolygon | None
    #: circle centre and radius in plane metres (radius 0 for a polygon)
    cx: float
    cy: float
    r_plane: float
    #: point scale factor at the footprint's centre (plane m per ground m)
    k: float
    box: Box


def place(volume: Volume, plane: LocalPlane) -> PlacedVolume:
    """Project a volume into ``plane`` and compute its bounding box."""
    v = volume
    fp = v.footprint
    if isinstance(fp, Circle):
        x, y = plane.forward(np.array([fp.lat_deg]), np.array([fp.lon_deg]))
        k = float(plane.factors(np.array([fp.lat_deg]), np.array([fp.lon_deg])).scale[0])
        cx, cy, r = float(x[0]), float(y[0]), fp.radius_m * k
        box = Box(cx - r, cx + r, cy - r, cy + r, v.alt_lower_ft, v.alt_upper_ft,
                  v.time_start, v.time_end)
        return PlacedVolume(v, None, cx, cy, r, k, box)
    ring = np.asarray(fp.ring(), dtype=np.float64)
    xs, ys = plane.forward(ring[:, 1], ring[:, 0])
    shape = ShapelyPolygon(np.column_stack([xs, ys]))
    c = shape.centroid
    clat, clon = plane.inverse(np.array([c.x]), np.array([c.y]))
    k = float(plane.factors(clat, clon).scale[0])
    xmin, ymin, xmax, ymax = shape.bounds
    shapely.prepare(shape)
    box = Box(xmin, xmax, ymin, ymax, v.alt_lower_ft, v.alt_upper_ft,
              v.time_start, v.time_end)
    return PlacedVolume(v, shape, c.x, c.y, 0.0, k, box)


def horizontal_gap_m(a: PlacedVolume, b: PlacedVolume) -> float:
    """Ground distance (m) between two footprints; 0 when they overlap."""
    if a.shape is None and b.shape is None:
        # sqrt of the sum of squares (not hypot): the same operations as conflict_mask
        dx, dy = a.cx - b.cx, a.cy - b.cy
        d = math.sqrt(dx * dx + dy * dy) - a.r_plane - b.r_plane
    elif a.shape is None or b.shape is None:
        circ, poly = (a, b) if a.shape is None else (b, a)
        assert poly.shape is not None
        d = float(poly.shape.distance(Point(circ.cx, circ.cy))) - circ.r_plane
    else:
        d = float(a.shape.distance(b.shape))
    return max(d, 0.0) / ((a.k + b.k) / 2.0)


def time_overlap(a: Volume, b: Volume) -> bool:
    """Whether two UTC windows overlap (touching windows do not)."""
    return a.time_start < b.time_end and b.time_start < a.time_end


def vertical_conflict(a: Volume, b: Volume, v_ft: float) -> bool:
    """Whether two altitude bands come closer than ``v_ft``."""
    return a.alt_lower_ft < b.alt_upper_ft + v_ft and b.alt_lower_ft < a.alt_upper_ft + v_ft


def volumes_conflict(a: PlacedVolume, b: PlacedVolume, h_min_m: float,
                     v_min_ft: float, *, ignore_time: bool = False,
                     ignore_vertical: bool = False) -> bool:
    """Whether two placed volumes violate minima ``h_min_m`` / ``v_min_ft`` (module doc).

    ``ignore_time`` and ``ignore_vertical`` drop one test (used by the resolvers).
    """
    if not ignore_time and not time_overlap(a.volume, b.volume):
        return False
    if not ignore_vertical and not vertical_conflict(a.volume, b.volume, v_min_ft):
        return False
    # cheap box rejection before the exact footprint distance
    slack = h_min_m * max(a.k, b.k) * 1.001
    if (a.box.xmin > b.box.xmax + slack or b.box.xmin > a.box.xmax + slack
            or a.box.ymin > b.box.ymax + slack or b.box.ymin > a.box.ymax + slack):
        return False
    return horizontal_gap_m(a, b) < h_min_m



class VolumeArrays(NamedTuple):
    """Placed volumes as columns, shape (n,) each: the input of :func:`conflict_mask`.

    ``cx, cy, r`` are the circle centre and radius in plane metres (a polygon: its
    centroid and 0), ``k`` the point scale factor, ``z0, z1`` the band (ft), ``t0, t1``
    the window (s UTC); ``shape`` holds each polygon footprint (None for a circle), or is
    None itself when every volume is a circle.
    """

    cx: FloatArray
    cy: FloatArray
    r: FloatArray
    k: FloatArray
    z0: FloatArray
    z1: FloatArray
    t0: FloatArray
    t1: FloatArray
    shape: npt.NDArray[np.object_] | None

    def take(self, idx: npt.NDArray[np.intp]) -> VolumeArrays:
        """The rows ``idx`` (with repeats), as new arrays."""
        return VolumeArrays(self.cx[idx], self.cy[idx], self.r[idx], self.k[idx],
                            self.z0[idx], self.z1[idx], self.t0[idx], self.t1[idx],
                            None if self.shape is None else self.shape[idx])


def volume_arrays(placed: Sequence[PlacedVolume]) -> VolumeArrays:
    """Columns of ``placed`` (see :class:`VolumeArrays`)."""
    cols = np.array([(p.cx, p.cy, p.r_plane, p.k, p.volume.alt_lower_ft,
                      p.volume.alt_upper_ft, p.volume.time_start, p.volume.time_end)
                     for p in placed], dtype=np.float64).reshape(-1, 8)
    shapes = None
    if any(p.shape is not None for p in placed):
        shapes = np.empty(len(placed), dtype=object)
        shapes[:] = [p.shape for p in placed]
    return VolumeArrays(*cols.T.copy(), shapes)  # type: ignore[call-arg]


def conflict_mask(a: VolumeArrays, b: VolumeArrays, h_min_m: FloatArray | float,
                  v_min_ft: FloatArray | float) -> npt.NDArray[np.bool_]:
    """Whether each pair ``(a[i], b[i])`` violates its minima: :func:`volumes_conflict`
    on columns, with the same floating-point operations (so the same answers).

    Parameters
    ----------
    a, b : VolumeArrays
        The two sides of each pair, shape (n,) each.
    h_min_m, v_min_ft : array of shape (n,) or float
        Horizontal (ground metres) and vertical (ft) minima of each pair.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)

    Examples
    --------
    >>> from skyaccord.strategic.volumes import Circle, Volume
    >>> plane = theatre_plane(35.0, 38.0)
    >>> a = place(Volume(Circle(35.0, 38.0, 1000.0), 0, 1000, 0, 60), plane)
    >>> b = place(Volume(Circle(35.0, 38.1, 1000.0), 0, 1000, 30, 90), plane)
    >>> conflict_mask(volume_arrays([a, a]), volume_arrays([b, b]),
    ...               np.array([7200.0, 7100.0]), 300.0).tolist()
    [True, False]
    """
    h = np.asarray(h_min_m, dtype=np.float64)
    v = np.asarray(v_min_ft, dtype=np.float64)
    ok = (a.t0 < b.t1) & (b.t0 < a.t1)
    ok &= (a.z0 < b.z1 + v) & (b.z0 < a.z1 + v)
    dx = a.cx - b.cx
    dy = a.cy - b.cy
    d = np.sqrt(dx * dx + dy * dy) - a.r - b.r
    if a.shape is not None or b.shape is not None:
        pa = _is_poly(a, len(ok))
        pb = _is_poly(b, len(ok))
        poly = np.flatnonzero(ok & (pa | pb))
        if len(poly):
            ga = _geoms(a, poly, pa)
            gb = _geoms(b, poly, pb)
            # a circle is its centre point less its radius; a polygon has radius 0
            d[poly] = shapely.distance(ga, gb) - a.r[poly] - b.r[poly]
    gap = np.maximum(d, 0.0) / ((a.k + b.k) / 2.0)
    return ok & (gap < h)


def _is_poly(x: VolumeArrays, n: int) -> npt.NDArray[np.bool_]:
    if x.shape is None:
        return np.zeros(n, dtype=bool)
    return np.fromiter((s is not None for s in x.shape), dtype=bool, count=len(x.shape))


def _geoms(x: VolumeArrays, idx: npt.NDArray[np.intp],
           is_poly: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
    out = np.empty(len(idx), dtype=object)
    sel = is_poly[idx]
    if sel.any():
        assert x.shape is not None
        out[sel] = x.shape[idx[sel]]
    if not sel.all():
        pts = idx[~sel]
        out[~sel] = shapely.points(x.cx[pts], x.cy[pts])
    return out
