"""Predicted conflicts as GeoJSON (RFC 7946), to open in QGIS or geojson.io.

One Feature per conflict: a LineString from the first aircraft's position at the closest
point of approach to the second's (both flown straight, as detection flies them; its
length is the miss distance), with ``detect``'s CSV fields as properties. Coordinates are
``[lon, lat]`` degrees (WGS 84).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from skyaccord.geo import LocalPlane, picture_centre
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import ConflictTable
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

__all__ = ["conflicts_geojson"]


def _or_none(x: float) -> float | None:
    return None if math.isinf(x) or math.isnan(x) else x


def conflicts_geojson(tracks: Tracks, table: ConflictTable, accord: Accord
                      ) -> dict[str, Any]:
    """A FeatureCollection of ``table``'s conflicts between ``tracks`` (module doc)."""
    if len(table) == 0:
        return {"type": "FeatureCollection", "features": []}
    plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    s = plane_state(tracks, accord, plane)
    t = table.tcpa_s
    lat1, lon1 = plane.inverse(s.x[table.id1] + s.vx[table.id1] * t,
                               s.y[table.id1] + s.vy[table.id1] * t)
    lat2, lon2 = plane.inverse(s.x[table.id2] + s.vx[table.id2] * t,
                               s.y[table.id2] + s.vy[table.id2] * t)
    coords = np.stack([lon1, lat1, lon2, lat2], axis=1).tolist()
    names = table.level_names
    features = []
    for k, (a, b, t_in, t_out, tcpa, dcpa, dz, lv, same) in enumerate(zip(
            table.ids[table.id1].tolist(), table.ids[table.id2].tolist(),
            table.t_in_s.tolist(), table.t_out_s.tolist(), table.tcpa_s.tolist(),
            table.dcpa_nm.tolist(), table.dz_ft.tolist(), table.level.tolist(),
            table.same_party.tolist(), strict=True)):
        x1, y1, x2, y2 = coords[k]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[x1, y1], [x2, y2]]},
            "properties": {"id1": a, "id2": b, "level": names[lv], "t_in_s": t_in,
                           "t_out_s": _or_none(t_out), "tcpa_s": tcpa, "dcpa_nm": dcpa,
                           "dz_ft": dz, "same_party": same}})
    return {"type": "FeatureCollection", "features": features}
