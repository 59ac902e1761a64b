"""F3548-21 ``Volume4D`` values: parsed, bounded, intersected and compared for coverage.

A volume is a footprint (a circle or a polygon of WGS84 points), an optional altitude
band (metres, W84) and an optional time window (UTC seconds). Two volumes meet when their
windows overlap, their bands overlap and their footprints meet; touching counts as
meeting (a DSS errs toward telling). Footprints are compared in one local plane: an
equirectangular projection about the first volume's reference point, exact enough over
the areas a DSS admits (at most :data:`MAX_AREA_KM2`, so a few tens of kilometres; the
plane's scale error there is under 0.1 %) and far cheaper than geodesics. Circles are
compared exactly in that plane (distance to the centre against the radius), never as
polygons.

Parsing refuses what the interface document forbids (``../shared/f3548/utm.yaml``,
``Volume3D``, ``Volume4D``, ``Polygon``, ``Circle``, ``Altitude``, ``Time``) with an
:class:`~skyaccord.errors.InputError` naming the field, and what is too large with
:class:`~skyaccord.errors.PayloadTooLarge`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import Point
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry.base import BaseGeometry

from skyaccord.errors import InputError, PayloadTooLarge
from skyaccord.geo import EARTH_RADIUS_M
from skyaccord.timeutil import format_rfc3339, parse_rfc3339

__all__ = [
    "MAX_AREA_KM2",
    "MAX_VERTICES",
    "MAX_VOLUMES",
    "Box",
    "Volume",
    "area_km2",
    "boxes_meet",
    "covers",
    "format_time",
    "intersects",
    "parse_time",
    "parse_volume",
    "parse_volumes",
    "volume_json",
    "volume_of_record",
    "volume_record",
]

#: Largest footprint area a DSS accepts, in km² (the InterUSS DSS's cap on a covering,
#: interuss/dss ``pkg/geo/s2.go``; the same limit as ``skyaccord.strategic.Limits``).
MAX_AREA_KM2 = 2500.0
#: Most vertices over all of an entity's polygons (F3548-21 ``OiMaxVertices``, as listed
#: by uas_standards ``astm/f3548/v21/constants.py``).
MAX_VERTICES = 10_000
#: Most volumes in one entity's extents (the registry's ``Limits``).
MAX_VOLUMES = 1000
#: Altitude bounds of the document's ``Altitude.value`` (metres).
ALT_MIN_M, ALT_MAX_M = -8000.0, 100000.0
#: Open bounds stand for a missing altitude or time (finite so every backend indexes them).
OPEN_LO, OPEN_HI = -1.0e12, 1.0e12
_DEG = math.pi / 180.0


@dataclass(frozen=True, slots=True)
class Box:
    """A 4D bounding box: latitude, longitude (degrees), altitude (m), time (UTC s)."""

    lat0: float
    lat1: float
    lng0: float
    lng1: float
    alt0: float
    alt1: float
    t0: float
    t1: float

    def coords(self) -> tuple[float, ...]:
        return (self.lat0, self.lat1, self.lng0, self.lng1, self.alt0, self.alt1,
                self.t0, self.t1)


@dataclass(frozen=True, slots=True)
class Volume:
    """One ``Volume4D``: a circle (``center``, ``radius_m``) or a polygon (``vertices``,
    (lat, lng) pairs), an altitude band and a time window; ``None`` where unbounded."""

    vertices: tuple[tuple[float, float], ...] | None
    center: tuple[float, float] | None
    radius_m: float | None
    alt_lo_m: float | None
    alt_hi_m: float | None
    t0: float | None
    t1: float | None

    def box(self) -> Box:
        if self.center is not None and self.radius_m is not None:
            lat, lng = self.center
            dlat = self.radius_m / EARTH_RADIUS_M / _DEG
            coslat = max(math.cos(lat * _DEG), 1e-6)
            dlng = min(180.0, self.radius_m / (EARTH_RADIUS_M * coslat) / _DEG)
            lat0, lat1, lng0, lng1 = lat - dlat, lat + dlat, lng - dlng, lng + dlng
        else:
            assert self.vertices is not None
            lats = [v[0] for v in self.vertices]
            lngs = [v[1] for v in self.vertices]
            lat0, lat1, lng0, lng1 = min(lats), max(lats), min(lngs), max(lngs)
        return Box(lat0, lat1, lng0, lng1,
                   OPEN_LO if self.alt_lo_m is None else self.alt_lo_m,
                   OPEN_HI if self.alt_hi_m is None else self.alt_hi_m,
                   OPEN_LO if self.t0 is None else self.t0,
                   OPEN_HI if self.t1 is None else self.t1)

    def anchor(self) -> tuple[float, float]:
        """A point of the footprint (the plane's origin when this volume leads)."""
        if self.center is not None:
            return self.center
        assert self.vertices is not None
        return self.vertices[0]

    def shape(self, origin: tuple[float, float], *, outer: bool) -> BaseGeometry:
        """The footprint in the plane about ``origin`` (metres). A circle becomes a
        64-gon, circumscribed when ``outer`` (the contained side of a coverage test) and
        inscribed otherwise, so coverage answers err toward "not covered"."""
        if self.center is not None and self.radius_m is not None:
            x, y = _plane(origin, [self.center])[0]
            r = self.radius_m / math.cos(math.pi / 64) if outer else self.radius_m
            return Point(x, y).buffer(r, quad_segs=16)
        assert self.vertices is not None
        return ShapelyPolygon(_plane(origin, list(self.vertices)))


def _plane(origin: tuple[float, float], points: Sequence[tuple[float, float]]
           ) -> list[tuple[float, float]]:
    lat0, lng0 = origin
    k = EARTH_RADIUS_M * math.cos(lat0 * _DEG) * _DEG
    out = []
    for lat, lng in points:
        dlng = (lng - lng0 + 180.0) % 360.0 - 180.0
        out.append((dlng * k, (lat - lat0) * EARTH_RADIUS_M * _DEG))
    return out


def boxes_meet(a: Box, b: Box) -> bool:
    return (a.lat0 <= b.lat1 and b.lat0 <= a.lat1 and a.lng0 <= b.lng1 and b.lng0 <= a.lng1
            and a.alt0 <= b.alt1 and b.alt0 <= a.alt1 and a.t0 <= b.t1 and b.t0 <= a.t1)


def _footprints_meet(a: Volume, b: Volume) -> bool:
    origin = a.anchor()
    if a.center is not None and a.radius_m is not None:
        if b.center is not None and b.radius_m is not None:
            (ax, ay), (bx, by) = _plane(origin, [a.center, b.center])
            return math.hypot(ax - bx, ay - by) <= a.radius_m + b.radius_m
        return bool(b.shape(origin, outer=False).distance(
            Point(_plane(origin, [a.center])[0])) <= a.radius_m)
    if b.center is not None and b.radius_m is not None:
        return bool(a.shape(origin, outer=False).distance(
            Point(_plane(origin, [b.center])[0])) <= b.radius_m)
    return bool(a.shape(origin, outer=False).intersects(b.shape(origin, outer=False)))


def intersects(a: Sequence[Volume], b: Sequence[Volume]) -> bool:
    """Whether any volume of ``a`` meets any volume of ``b`` (4D, touching included)."""
    for va in a:
        ba = va.box()
        for vb in b:
            if boxes_meet(ba, vb.box()) and _footprints_meet(va, vb):
                return True
    return False


def covers(outer: Sequence[Volume], inner: Sequence[Volume]) -> bool:
    """Whether ``outer`` covers every volume of ``inner``: each one's window and band lie
    within those of one outer volume... or of the union, for footprints. A window or
    band the outer volumes leave open covers anything."""
    if not inner:
        return True
    if not outer:
        return False
    origin = inner[0].anchor()
    for v in inner:
        vb = v.box()
        around = [o for o in outer
                  if o.box().t0 <= vb.t0 and vb.t1 <= o.box().t1
                  and o.box().alt0 <= vb.alt0 and vb.alt1 <= o.box().alt1]
        if not around:
            return False
        union = shapely.union_all([o.shape(origin, outer=False) for o in around])
        # 1 cm of slack: the document's IntersectionMinimumPrecisionCm
        if not union.buffer(0.01).covers(v.shape(origin, outer=True)):
            return False
    return True


def area_km2(v: Volume) -> float:
    if v.radius_m is not None:
        return math.pi * v.radius_m ** 2 / 1e6
    return float(v.shape(v.anchor(), outer=False).area) / 1e6


# ---------------------------------------------------------------- parsing (JSON in)

def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{where}: must be an object, got {type(value).__name__}")
    return value


def _num(value: object, where: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            float(value)):
        raise InputError(f"{where}: must be a finite number, got {value!r}")
    x = float(value)
    if not lo <= x <= hi:
        raise InputError(f"{where}: must be within [{lo:g}, {hi:g}], got {x:g}")
    return x


def _point(value: object, where: str) -> tuple[float, float]:
    p = _obj(value, where)
    if "lat" not in p or "lng" not in p:
        raise InputError(f"{where}: needs lat and lng")
    return (_num(p["lat"], f"{where}.lat", -90, 90), _num(p["lng"], f"{where}.lng", -180, 180))


def parse_time(value: object, where: str) -> float:
    """UTC seconds of a document ``Time`` (``{"value": RFC3339 with Z, "format": "RFC3339"}``)."""
    t = _obj(value, where)
    if t.get("format") != "RFC3339":
        raise InputError(f"{where}.format: must be 'RFC3339', got {t.get('format')!r}")
    text = t.get("value")
    if not isinstance(text, str) or not text.rstrip().upper().endswith("Z"):
        raise InputError(f"{where}.value: must be an RFC 3339 date-time in UTC ending in "
                         f"'Z', got {text!r}")

    def bad(msg: str) -> Exception:
        return InputError(f"{where}.value: {msg}")

    return parse_rfc3339(text.strip(), error=bad).timestamp()


def format_time(t: float) -> dict[str, str]:
    """A document ``Time`` of UTC seconds."""
    from datetime import UTC, datetime

    return {"value": format_rfc3339(datetime.fromtimestamp(t, UTC)), "format": "RFC3339"}


def _altitude(value: object, where: str) -> float | None:
    if value is None:
        return None
    a = _obj(value, where)
    if a.get("reference") != "W84":
        raise InputError(f"{where}.reference: must be 'W84', got {a.get('reference')!r}")
    if a.get("units") != "M":
        raise InputError(f"{where}.units: must be 'M', got {a.get('units')!r}")
    return _num(a.get("value"), f"{where}.value", ALT_MIN_M, ALT_MAX_M)


def parse_volume(value: object, where: str, *, need_times: bool = False,
                 need_altitudes: bool = False) -> Volume:
    """A :class:`Volume` of a document ``Volume4D``; refusals name ``where``."""
    v4 = _obj(value, where)
    v3 = _obj(v4.get("volume"), f"{where}.volume")
    circle, polygon = v3.get("outline_circle"), v3.get("outline_polygon")
    if (circle is None) == (polygon is None):
        raise InputError(f"{where}.volume: exactly one of outline_circle and "
                         "outline_polygon must be given")
    vertices: tuple[tuple[float, float], ...] | None = None
    center: tuple[float, float] | None = None
    radius: float | None = None
    if circle is not None:
        c = _obj(circle, f"{where}.volume.outline_circle")
        center = _point(c.get("center"), f"{where}.volume.outline_circle.center")
        r = _obj(c.get("radius"), f"{where}.volume.outline_circle.radius")
        if r.get("units") != "M":
            raise InputError(f"{where}.volume.outline_circle.radius.units: must be 'M'")
        radius = _num(r.get("value"), f"{where}.volume.outline_circle.radius.value", 0, 2e7)
        if radius <= 0:
            raise InputError(f"{where}.volume.outline_circle.radius.value: must be > 0")
    else:
        p = _obj(polygon, f"{where}.volume.outline_polygon")
        raw = p.get("vertices")
        if not isinstance(raw, list) or len(raw) < 3:
            raise InputError(f"{where}.volume.outline_polygon.vertices: needs at least 3 "
                             "points")
        if len(raw) > MAX_VERTICES:
            raise PayloadTooLarge(f"{where}.volume.outline_polygon.vertices: more than "
                                  f"{MAX_VERTICES} vertices")
        vertices = tuple(_point(q, f"{where}.volume.outline_polygon.vertices[{i}]")
                         for i, q in enumerate(raw))
        if len(set(vertices)) != len(vertices):
            raise InputError(f"{where}.volume.outline_polygon.vertices: vertices may not "
                             "be duplicated (nor the last repeat the first)")
        lngs = [q[1] for q in vertices]
        if max(lngs) - min(lngs) > 180.0:
            raise InputError(f"{where}.volume.outline_polygon: spans more than 180° of "
                             "longitude (polygons across the antimeridian are not served)")
    lo = _altitude(v3.get("altitude_lower"), f"{where}.volume.altitude_lower")
    hi = _altitude(v3.get("altitude_upper"), f"{where}.volume.altitude_upper")
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"{where}.volume: altitude_lower {lo:g} m is above altitude_upper "
                         f"{hi:g} m")
    t0 = None if v4.get("time_start") is None else parse_time(v4["time_start"],
                                                               f"{where}.time_start")
    t1 = None if v4.get("time_end") is None else parse_time(v4["time_end"],
                                                             f"{where}.time_end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise InputError(f"{where}: time_start is after time_end")
    if need_times and (t0 is None or t1 is None):
        raise InputError(f"{where}: time_start and time_end are required")
    if need_altitudes and (lo is None or hi is None):
        raise InputError(f"{where}.volume: altitude_lower and altitude_upper are required")
    vol = Volume(vertices, center, radius, lo, hi, t0, t1)
    if center is not None and (vol.box().lng0 < -180.0 or vol.box().lng1 > 180.0):
        raise InputError(f"{where}.volume.outline_circle: reaches across the antimeridian "
                         "or a pole (not served: its box would miss what lies across)")
    if vertices is not None and not vol.shape(vol.anchor(), outer=False).is_valid:
        raise InputError(f"{where}.volume.outline_polygon: edges may not cross")
    if area_km2(vol) > MAX_AREA_KM2:
        raise PayloadTooLarge(f"{where}: the area ({area_km2(vol):.0f} km²) is over the "
                              f"{MAX_AREA_KM2:g} km² this DSS accepts")
    return vol


def parse_volumes(value: object, where: str, *, need_times: bool = True,
                  need_altitudes: bool = True) -> list[Volume]:
    """The ``extents`` of an entity: 1 to :data:`MAX_VOLUMES` volumes."""
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: must be a non-empty list of Volume4D")
    if len(value) > MAX_VOLUMES:
        raise PayloadTooLarge(f"{where}: more than {MAX_VOLUMES} volumes")
    vols = [parse_volume(v, f"{where}[{i}]", need_times=need_times,
                         need_altitudes=need_altitudes) for i, v in enumerate(value)]
    if sum(len(v.vertices or ()) for v in vols) > MAX_VERTICES:
        raise PayloadTooLarge(f"{where}: more than {MAX_VERTICES} vertices in all")
    return vols


def volume_json(v: Volume) -> dict[str, Any]:
    """The document ``Volume4D`` of ``v`` (the stored form)."""
    v3: dict[str, Any] = {}
    if v.center is not None:
        v3["outline_circle"] = {"center": {"lat": v.center[0], "lng": v.center[1]},
                                "radius": {"value": v.radius_m, "units": "M"}}
    else:
        assert v.vertices is not None
        v3["outline_polygon"] = {"vertices": [{"lat": a, "lng": b} for a, b in v.vertices]}
    for key, alt in (("altitude_lower", v.alt_lo_m), ("altitude_upper", v.alt_hi_m)):
        if alt is not None:
            v3[key] = {"value": alt, "reference": "W84", "units": "M"}
    out: dict[str, Any] = {"volume": v3}
    if v.t0 is not None:
        out["time_start"] = format_time(v.t0)
    if v.t1 is not None:
        out["time_end"] = format_time(v.t1)
    return out


def volume_record(v: Volume) -> list[Any]:
    """The compact stored form of ``v`` (a JSON list; :func:`volume_of_record` reads it)."""
    return [None if v.vertices is None else [list(p) for p in v.vertices],
            None if v.center is None else list(v.center),
            v.radius_m, v.alt_lo_m, v.alt_hi_m, v.t0, v.t1]


def volume_of_record(r: Sequence[Any]) -> Volume:
    verts, center, radius, lo, hi, t0, t1 = r
    return Volume(None if verts is None else tuple((float(a), float(b)) for a, b in verts),
                  None if center is None else (float(center[0]), float(center[1])),
                  radius, lo, hi, t0, t1)
