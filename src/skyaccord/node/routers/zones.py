"""``GET /zones``: the zones the node predicts incursions into, as GeoJSON."""

from __future__ import annotations

import math
from typing import Any

import shapely
from fastapi import APIRouter

from skyaccord.node.deps import Ctx, Viewer

__all__ = ["router"]

router = APIRouter(tags=["zones"])


@router.get("/zones", summary="Zones (GeoJSON FeatureCollection)")
def get_zones(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    feats = []
    for z in ctx.runtime.zones:
        feats.append({"type": "Feature", "id": z.id,
                      "geometry": shapely.geometry.mapping(z.geometry),
                      "properties": {"id": z.id, "kind": z.kind, "owner": z.owner,
                                     "name": z.name, "lower_ft": z.lower_ft,
                                     "upper_ft": z.upper_ft if math.isfinite(z.upper_ft)
                                     else None}})
    return {"type": "FeatureCollection", "features": feats}
