"""Intents and their 4D volumes: the values parties post to the registry.

An *intent* (ASTM F3548-21 "operational intent") says where and when a party will operate,
never why: one or more 4D volumes, each a footprint in WGS84 (a circle or a simple
polygon), an altitude band (ft) and a UTC time window (seconds since the epoch). Windows
and bands are half-open in the sense that matters for conflicts: two windows that only
touch (one ends when the other starts) do not overlap (see :mod:`.intersect`).

Limits (:class:`Limits`) are stated and enforced on every intent before it reaches a
store: a polygon may cover at most 2,500 km² (the InterUSS DSS area cap:
``maxAllowedAreaKm2`` in interuss/dss ``pkg/geo/s2.go``), a volume lasts at most 30 days
(InterUSS's plan horizon for F3548-21 operational intents: ``OiMaxPlanHorizon`` in
interuss/monitoring's flight intent validation scenario), and so on.

Examples
--------
>>> v = Volume(Circle(35.0, 38.0, 5000.0), 10000.0, 20000.0, 0.0, 3600.0)
>>> it = Intent("op-1", "us", (v,))
>>> validate_intent(it)
>>> bad = Intent("op-2", "us", (Volume(v.footprint, 2.0, 1.0, 0.0, 1.0),))
>>> validate_intent(bad)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
skyaccord.errors.IntentError: intent 'op-2': volumes[0]: alt_lower_ft 2.0 must be below ...
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.validation import explain_validity

from skyaccord.errors import IntentError
from skyaccord.geo import LocalPlane

__all__ = [
    "ACTIVE_STATES",
    "Circle",
    "Footprint",
    "Intent",
    "IntentState",
    "Limits",
    "Polygon",
    "RouteFix",
    "Volume",
    "route_volumes",
    "validate_intent",
]


class IntentState(StrEnum):
    """Lifecycle of an intent (ASTM F3548-21 states, plus ``ended``)."""

    ACCEPTED = "accepted"
    ACTIVATED = "activated"
    NONCONFORMING = "nonconforming"
    CONTINGENT = "contingent"
    ENDED = "ended"


#: states whose volumes take part in conflict checks
ACTIVE_STATES = frozenset(
    {IntentState.ACCEPTED, IntentState.ACTIVATED, IntentState.NONCONFORMING,
     IntentState.CONTINGENT}
)


@dataclass(frozen=True)
class Circle:
    """A circular footprint: centre (degrees) and radius (metres on the ground)."""

    lat_deg: float
    lon_deg: float
    radius_m: float


@dataclass(frozen=True)
class Polygon:
    """A simple polygon footprint: the outer ring as (lon, lat) degree pairs (GeoJSON order).

    The ring may or may not repeat its first vertex at the end. Edges are straight lines in
    the registry's local conformal plane, which for polygons within the area cap differs
    from the geodesic by well under a metre.
    """

    lon_lat: tuple[tuple[float, float], ...]

    def ring(self) -> tuple[tuple[float, float], ...]:
        """The ring without a repeated closing vertex."""
        pts = self.lon_lat
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]
        return pts


Footprint = Circle | Polygon


@dataclass(frozen=True)
class Volume:
    """One 4D volume: footprint, altitude band (ft, lower < upper), UTC window (s)."""

    footprint: Footprint
    alt_lower_ft: Annotated[float, "ft"]
    alt_upper_ft: Annotated[float, "ft"]
    time_start: Annotated[float, "s UTC"]
    time_end: Annotated[float, "s UTC"]

    def shifted(self, dt_s: float = 0.0, dz_ft: float = 0.0) -> Volume:
        """The same volume moved ``dt_s`` later and ``dz_ft`` higher."""
        return replace(self, alt_lower_ft=self.alt_lower_ft + dz_ft,
                       alt_upper_ft=self.alt_upper_ft + dz_ft,
                       time_start=self.time_start + dt_s, time_end=self.time_end + dt_s)


@dataclass(frozen=True)
class Intent:
    """An operational intent of one party.

    ``version`` is the stored version this value is based on: 0 for a new intent, the
    current version when a party changes its own intent (optimistic concurrency); the
    registry returns the intent with its new version after a write.
    """

    id: str
    party: str
    volumes: tuple[Volume, ...]
    aircraft_class: str = "manned"
    priority: int = 0
    state: IntentState = IntentState.ACCEPTED
    version: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def shifted(self, dt_s: float = 0.0, dz_ft: float = 0.0) -> Intent:
        """The intent with every volume moved ``dt_s`` later and ``dz_ft`` higher."""
        return replace(self, volumes=tuple(v.shifted(dt_s, dz_ft) for v in self.volumes))


@dataclass(frozen=True)
class Limits:
    """Bounds every intent must respect; a violation raises :class:`IntentError`."""

    #: polygon or circle area cap, km² (InterUSS DSS cap, module doc)
    max_area_km2: float = 2500.0
    #: lowest allowed altitude, ft (below the Dead Sea shore, -1,400 ft, with margin)
    min_alt_ft: float = -2000.0
    #: highest allowed altitude, ft (FL600 and the military band above, with margin)
    max_alt_ft: float = 100_000.0
    #: longest window of one volume, s (InterUSS plan horizon of 30 days, module doc)
    max_duration_s: float = 30 * 86400.0
    #: vertices of one polygon
    max_vertices: int = 1000
    #: volumes in one intent (a long moving reservation has one per leg)
    max_volumes: int = 1000
    #: latest UTC time accepted (year 2100): rejects milliseconds passed as seconds
    max_time_s: float = 4_102_444_800.0
    #: distance of any footprint from the registry's theatre centre, km (plane accuracy)
    max_theatre_radius_km: float = 1500.0
    #: allowed characters of intent and party ids
    max_id_length: int = 128


#: The limits every registry applies unless given others.
DEFAULT_LIMITS = Limits()
#: Priorities and versions are signed 32-bit integers: what both stores hold (PostgreSQL
#: ``integer``) and what F3548-21 peers exchange (its ``version`` and ``priority`` are
#: ``int32``).
MAX_INT32 = 2**31 - 1


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _check_id(name: str, value: str, limits: Limits) -> None:
    if not isinstance(value, str) or not value or len(value) > limits.max_id_length \
            or not value.isprintable() or value != value.strip():
        raise IntentError(f"{name} {value!r} must be 1-{limits.max_id_length} printable "
                          "characters without surrounding spaces")


def _check_footprint(fp: Footprint, where: str, limits: Limits) -> None:
    cap_m2 = limits.max_area_km2 * 1e6
    if isinstance(fp, Circle):
        if not _finite(fp.lat_deg, fp.lon_deg, fp.radius_m):
            raise IntentError(f"{where}: circle has a non-finite coordinate or radius")
        if not -90.0 <= fp.lat_deg <= 90.0 or not -180.0 <= fp.lon_deg <= 180.0:
            raise IntentError(f"{where}: centre ({fp.lat_deg}, {fp.lon_deg}) is not a "
                              "latitude/longitude in degrees")
        if fp.radius_m <= 0:
            raise IntentError(f"{where}: radius_m {fp.radius_m} must be positive")
        if math.pi * fp.radius_m**2 > cap_m2:
            raise IntentError(f"{where}: circle of radius {fp.radius_m:.0f} m covers "
                              f"{math.pi * fp.radius_m**2 / 1e6:.0f} km², over the limit "
                              f"of {limits.max_area_km2:g} km²")
        return
    ring = fp.ring()
    if len(ring) < 3:
        raise IntentError(f"{where}: polygon needs at least 3 distinct vertices, "
                          f"got {len(ring)}")
    if len(ring) > limits.max_vertices:
        raise IntentError(f"{where}: polygon has {len(ring)} vertices, over the limit of "
                          f"{limits.max_vertices}")
    for i, (lon, lat) in enumerate(ring):
        if not _finite(lon, lat) or not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 180.0:
            raise IntentError(f"{where}: vertex {i} ({lon}, {lat}) is not a (lon, lat) "
                              "pair in degrees")
    poly = ShapelyPolygon(ring)
    if not poly.is_valid:
        raise IntentError(f"{where}: polygon is not simple ({explain_validity(poly)}); "
                          "give a ring whose edges do not cross")
    # area on the ground: a plane centred on the polygon (conformal, scale ~1 nearby)
    lon0, lat0 = poly.centroid.x, poly.centroid.y
    plane = LocalPlane(lat0, lon0)
    coords = shapely.get_coordinates(poly)
    x, y = plane.forward(coords[:, 1], coords[:, 0])
    area_m2 = ShapelyPolygon(list(zip(x.tolist(), y.tolist(), strict=True))).area
    if area_m2 <= 0:
        raise IntentError(f"{where}: polygon has no area")
    if area_m2 > cap_m2:
        raise IntentError(f"{where}: polygon covers {area_m2 / 1e6:.0f} km², over the "
                          f"limit of {limits.max_area_km2:g} km²")


def validate_intent(intent: Intent, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise :class:`IntentError` naming the field at fault when ``intent`` is invalid."""
    _check_id("intent id", intent.id, limits)
    head = f"intent {intent.id!r}"
    _check_id(f"{head}: party", intent.party, limits)
    if not intent.volumes:
        raise IntentError(f"{head}: needs at least one volume")
    if len(intent.volumes) > limits.max_volumes:
        raise IntentError(f"{head}: {len(intent.volumes)} volumes, over the limit of "
                          f"{limits.max_volumes}")
    if not 0 <= intent.version <= MAX_INT32:
        raise IntentError(f"{head}: version {intent.version} must be from 0 to {MAX_INT32}")
    if not -MAX_INT32 - 1 <= intent.priority <= MAX_INT32:
        raise IntentError(f"{head}: priority {intent.priority} must be from "
                          f"{-MAX_INT32 - 1} to {MAX_INT32} (a 32-bit integer, as stored)")
    for i, v in enumerate(intent.volumes):
        where = f"{head}: volumes[{i}]"
        if not _finite(v.alt_lower_ft, v.alt_upper_ft, v.time_start, v.time_end):
            raise IntentError(f"{where}: altitudes and times must be finite numbers")
        if not v.alt_lower_ft < v.alt_upper_ft:
            raise IntentError(f"{where}: alt_lower_ft {v.alt_lower_ft} must be below "
                              f"alt_upper_ft {v.alt_upper_ft}")
        if v.alt_lower_ft < limits.min_alt_ft or v.alt_upper_ft > limits.max_alt_ft:
            raise IntentError(f"{where}: altitudes must lie within [{limits.min_alt_ft:g}, "
                              f"{limits.max_alt_ft:g}] ft")
        if not v.time_start < v.time_end:
            raise IntentError(f"{where}: time_start {v.time_start} must be before "
                              f"time_end {v.time_end}")
        if v.time_start < 0 or v.time_end > limits.max_time_s:
            raise IntentError(f"{where}: times must be UTC seconds between 1970 and 2100")
        if v.time_end - v.time_start > limits.max_duration_s:
            raise IntentError(f"{where}: lasts {v.time_end - v.time_start:.0f} s, over the "
                              f"limit of {limits.max_duration_s:.0f} s")
        _check_footprint(v.footprint, where, limits)


@dataclass(frozen=True)
class RouteFix:
    """A fix of a moving reservation: position (degrees), altitude (ft), time (s UTC)."""

    lat_deg: float
    lon_deg: float
    alt_ft: float
    time_s: float


def route_volumes(fixes: tuple[RouteFix, ...] | list[RouteFix], lateral_m: float,
                  vertical_ft: float, *, quad_segs: int = 8) -> tuple[Volume, ...]:
    """Volumes of a moving reservation (an ALTRV-style route with a time per fix).

    Each leg between consecutive fixes becomes one volume: the leg widened by
    ``lateral_m`` on each side (a stadium, built in a plane centred on the leg), the
    altitudes of its two fixes widened by ``vertical_ft``, and the leg's time window.

    Examples
    --------
    >>> fixes = [RouteFix(35.0, 38.0, 20000, 0.0), RouteFix(35.5, 38.0, 24000, 600.0)]
    >>> (v,) = route_volumes(fixes, 2000.0, 500.0)
    >>> (v.alt_lower_ft, v.alt_upper_ft, v.time_start, v.time_end)
    (19500.0, 24500.0, 0.0, 600.0)
    """
    fixes = list(fixes)
    if len(fixes) < 2:
        raise IntentError(f"route needs at least 2 fixes, got {len(fixes)}")
    if not (math.isfinite(lateral_m) and lateral_m > 0):
        raise IntentError(f"route lateral buffer {lateral_m} m must be positive")
    if not (math.isfinite(vertical_ft) and vertical_ft >= 0):
        raise IntentError(f"route vertical buffer {vertical_ft} ft must be >= 0")
    out: list[Volume] = []
    for i, (a, b) in enumerate(itertools.pairwise(fixes)):
        if not b.time_s > a.time_s:
            raise IntentError(f"route fix {i + 1}: time {b.time_s} must be after the "
                              f"previous fix's {a.time_s}")
        plane = LocalPlane((a.lat_deg + b.lat_deg) / 2, (a.lon_deg + b.lon_deg) / 2)
        xs, ys = plane.forward(np.array([a.lat_deg, b.lat_deg]),
                               np.array([a.lon_deg, b.lon_deg]))
        k = float(plane.factors(np.array([plane.lat0]), np.array([plane.lon0])).scale[0])
        stadium = LineString(list(zip(xs.tolist(), ys.tolist(), strict=True))).buffer(
            lateral_m * k, quad_segs=quad_segs)
        px, py = shapely.get_coordinates(stadium.exterior).T
        lat, lon = plane.inverse(px, py)
        ring = tuple(zip(lon.tolist(), lat.tolist(), strict=True))
        out.append(Volume(Polygon(ring), min(a.alt_ft, b.alt_ft) - vertical_ft,
                          max(a.alt_ft, b.alt_ft) + vertical_ft, a.time_s, b.time_s))
    return tuple(out)

