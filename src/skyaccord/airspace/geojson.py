"""Zones and incursions as GeoJSON (RFC 7946), to open in QGIS or geojson.io.

Coordinates are ``[lon, lat]`` degrees (WGS 84), as RFC 7946 §3.1.1 requires; times are
seconds from the picture's time, as in the CSV. An incursion is a Point at its entry
(where the aircraft crosses into the zone, or where it is now when already inside), with
the CSV's fields as properties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely

from skyaccord.airspace.warning import IncursionRecord
from skyaccord.airspace.zones import Zone

__all__ = ["incursions_geojson", "zones_geojson"]


def _finite_or_none(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else x


def incursions_geojson(records: Sequence[IncursionRecord]) -> dict[str, Any]:
    """A FeatureCollection of the incursions' entry points."""
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [r.entry_lon, r.entry_lat]},
        "properties": {"id": r.id, "zone": r.zone, "owner": r.owner,
                       "t_entry_s": r.t_entry_s, "t_exit_s": _finite_or_none(r.t_exit_s),
                       "depth_nm": r.depth_nm}} for r in records]}


def zones_geojson(zones: Sequence[Zone]) -> dict[str, Any]:
    """A FeatureCollection of the zones: their polygons with id, name, kind, owner, band
    (``upper_ft`` null when unbounded) and active window (null when always)."""
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": shapely.geometry.mapping(z.geometry),
        "properties": {"id": z.id, "name": z.name, "kind": z.kind, "owner": z.owner,
                       "lower_ft": z.lower_ft, "upper_ft": _finite_or_none(z.upper_ft),
                       "active_from_s": _finite_or_none(z.active_from_s),
                       "active_until_s": _finite_or_none(z.active_until_s)}}
        for z in zones]}
