"""Airspace zones: polygon footprint, altitude band, active window, owner party, kind.

Zones come from three places, all giving the same :class:`Zone`:

- the shipped theatre borders (:func:`theatre_borders`): Natural Earth 1:10m admin-0
  countries for Turkey, Syria, Iraq, Jordan, Lebanon and Israel (``data/README.md``);
- a GeoJSON file (:func:`load_zones_geojson`): a FeatureCollection of Polygon or
  MultiPolygon features whose properties give ``id`` (or ``name``), ``owner``, and
  optionally ``kind``, ``lower_ft``, ``upper_ft``, ``active_from``, ``active_until``;
- the accord's ``[[zones]]`` (:func:`zones_from_accord`), where a zone may also be a
  circle (``centre`` + ``radius_nm``), e.g. the ~55 km deconfliction zone around the
  coalition's al-Tanf garrison (US Department of Defense statements, 2017).

Geometries are shapely 2 polygons in degrees, x = longitude, y = latitude.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from skyaccord.errors import AirspaceError
from skyaccord.geo import FT, NM
from skyaccord.protocol import ZONE_KINDS, Accord, ZoneSpec
from skyaccord.textfiles import parse_json_text, read_text_file
from skyaccord.timeutil import rfc3339_seconds

__all__ = [
    "THEATRE_PARTIES",
    "Zone",
    "circle_polygon",
    "load_zones_geojson",
    "theatre_borders",
    "zones_from_accord",
    "zones_from_geojson",
]

#: party id of each shipped country's zone (ISO 3166-1 alpha-3 -> party)
THEATRE_PARTIES = {"TUR": "tr", "SYR": "sy", "IRQ": "iq", "JOR": "jo", "LBN": "lb", "ISR": "il"}
#: vertices of the polygon standing for a circular zone; the chord error at 55 km radius
#: is R (1 - cos(pi / n)) = 4.1 m
CIRCLE_VERTICES = 256
_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class Zone:
    """A volume of airspace owned by a party, active over a time window.

    ``geometry`` is a shapely Polygon or MultiPolygon in degrees (x lon, y lat); the zone
    holds ``lower_ft <= alt < upper_ft``; it is active for ``active_from_s <= t <
    active_until_s`` (UTC seconds, infinite bounds when always active).
    """

    id: str
    owner: str
    kind: str
    geometry: BaseGeometry
    lower_ft: float = 0.0
    upper_ft: float = math.inf
    active_from_s: float = -math.inf
    active_until_s: float = math.inf
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ZONE_KINDS:
            raise AirspaceError(f"zone {self.id!r}: kind {self.kind!r} is not one of "
                                f"{', '.join(ZONE_KINDS)}")
        if not isinstance(self.geometry, shapely.Polygon | shapely.MultiPolygon):
            raise AirspaceError(f"zone {self.id!r}: geometry must be a Polygon or "
                                f"MultiPolygon, got {self.geometry.geom_type}")
        if self.geometry.is_empty or not self.geometry.is_valid:
            raise AirspaceError(f"zone {self.id!r}: geometry is empty or invalid "
                                f"({shapely.is_valid_reason(self.geometry)})")
        lon0, lat0, lon1, lat1 = self.geometry.bounds
        if max(-lat0, lat1) > 90.0 or max(-lon0, lon1) > 180.0:
            raise AirspaceError(f"zone {self.id!r}: coordinates must be [lon, lat] in "
                                f"degrees, within ±180 and ±90; the zone spans longitude "
                                f"{lon0:g} to {lon1:g}, latitude {lat0:g} to {lat1:g}")
        if not self.upper_ft > self.lower_ft:
            raise AirspaceError(f"zone {self.id!r}: upper_ft {self.upper_ft} must be above "
                                f"lower_ft {self.lower_ft}")
        if not self.active_until_s > self.active_from_s:
            raise AirspaceError(f"zone {self.id!r}: active_until must be after active_from")

    @property
    def lower_m(self) -> float:
        return self.lower_ft * FT

    @property
    def upper_m(self) -> float:
        return self.upper_ft * FT


def circle_polygon(lat_deg: float, lon_deg: float, radius_m: float,
                   n: int = CIRCLE_VERTICES) -> shapely.Polygon:
    """A geodesic circle on WGS84 as a polygon of ``n`` vertices (degrees).

    Examples
    --------
    >>> p = circle_polygon(33.5, 38.6, 55_000.0)
    >>> len(p.exterior.coords)
    257
    """
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lon, lat, _ = _GEOD.fwd(np.full(n, lon_deg), np.full(n, lat_deg), az, np.full(n, radius_m))
    return shapely.Polygon(np.column_stack([lon, lat]))


def _utc_s(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    return rfc3339_seconds(value, error=lambda what: AirspaceError(f"{where}: {what}"))


def zones_from_accord(accord: Accord) -> list[Zone]:
    """The zones named by the accord's ``[[zones]]``."""
    out = []
    for spec in accord.zones:
        out.append(_zone_from_spec(spec, accord.id))
    return out


def _zone_from_spec(spec: ZoneSpec, accord_id: str) -> Zone:
    if spec.polygon is not None:
        geom: BaseGeometry = shapely.Polygon([(lon, lat) for lat, lon in spec.polygon])
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
                raise AirspaceError(f"accord {accord_id!r}: zone {spec.id!r}: polygon does "
                                    "not enclose an area")
    else:
        assert spec.centre is not None and spec.radius_nm is not None
        geom = circle_polygon(spec.centre[0], spec.centre[1], spec.radius_nm * NM)
    t0 = _utc_s(spec.active_from, f"zone {spec.id!r}.active_from")
    t1 = _utc_s(spec.active_until, f"zone {spec.id!r}.active_until")
    return Zone(spec.id, spec.owner, spec.kind, geom, spec.lower_ft,
                math.inf if spec.upper_ft is None else spec.upper_ft,
                -math.inf if math.isnan(t0) else t0, math.inf if math.isnan(t1) else t1,
                spec.id)


def _number(props: dict[str, Any], key: str, default: float, where: str) -> float:
    value = props.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AirspaceError(f"{where}: property {key!r} must be a number, got {value!r}")
    return float(value)


def zones_from_geojson(doc: Any, source: str = "<geojson>") -> list[Zone]:
    """Zones from a parsed GeoJSON FeatureCollection (see the module docstring)."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise AirspaceError(f"{source}: not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise AirspaceError(f"{source}: 'features' must be a list")
    out: list[Zone] = []
    for k, feature in enumerate(features):
        where = f"{source}: features[{k}]"
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise AirspaceError(f"{where}: not a Feature with a geometry")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise AirspaceError(f"{where}: 'properties' must be an object")
        zid = props.get("id", props.get("name", feature.get("id")))
        if not isinstance(zid, str | int) or str(zid) == "":
            raise AirspaceError(f"{where}: property 'id' (or 'name') is missing")
        zid = str(zid)
        where = f"{source}: features[{k}] (zone {zid!r})"
        owner = props.get("owner")
        if not isinstance(owner, str) or not owner:
            raise AirspaceError(f"{where}: property 'owner' (a party id) is missing")
        kind = props.get("kind", "restricted")
        if kind not in ZONE_KINDS:
            raise AirspaceError(f"{where}: property 'kind' {kind!r} is not one of "
                                f"{', '.join(ZONE_KINDS)}")
        try:
            geom = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError,
                shapely.errors.ShapelyError) as exc:
            raise AirspaceError(f"{where}: bad geometry: {exc}") from None
        if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
            raise AirspaceError(f"{where}: geometry must be a Polygon or MultiPolygon, "
                                f"got {geom.geom_type}")
        if any(z.id == zid for z in out):
            raise AirspaceError(f"{where}: duplicate zone id")
        t0 = _utc_s(props.get("active_from"), f"{where}.active_from")
        t1 = _utc_s(props.get("active_until"), f"{where}.active_until")
        try:
            out.append(Zone(
                zid, owner, str(kind), geom, _number(props, "lower_ft", 0.0, where),
                _number(props, "upper_ft", math.inf, where),
                -math.inf if math.isnan(t0) else t0, math.inf if math.isnan(t1) else t1,
                str(props.get("name", zid))))
        except AirspaceError as exc:
            raise AirspaceError(f"{source}: features[{k}]: {exc}") from None
    return out


def load_zones_geojson(path: str | Path) -> list[Zone]:
    """Read zones from a GeoJSON file; errors name the file and the feature."""
    text = read_text_file(path, "zones", AirspaceError)
    return zones_from_geojson(parse_json_text(text, str(path), AirspaceError), str(path))


def theatre_borders() -> list[Zone]:
    """The shipped sovereign zones: one per theatre country, owned by its party id.

    Examples
    --------
    >>> sorted(z.owner for z in theatre_borders())
    ['il', 'iq', 'jo', 'lb', 'sy', 'tr']
    """
    text = (resources.files("skyaccord.airspace") / "data" / "theatre_borders.geojson"
            ).read_text("utf-8")
    return zones_from_geojson(json.loads(text), "theatre_borders.geojson")
