"""``GET /advisories/{track_id}``: conflict-free bands for one of our own aircraft."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Query

from skyaccord.node.deps import Ctx, Viewer
from skyaccord.tactical.bands import band_names

__all__ = ["router"]

router = APIRouter(tags=["advisories"])


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@router.get("/advisories/{track_id}", summary="Bands and preferred resolutions")
def get_advisory(ctx: Ctx, _: Viewer, track_id: str,
                 turn_rate: Annotated[float | None, Query(gt=0, le=30)] = None
                 ) -> dict[str, Any]:
    """Track, ground speed, vertical speed and altitude bands (each value's alert level)
    for ``track_id`` in the last tick's picture, and the nearest conflict-free value of
    each, as DAIDALUS shows them; ``turn_rate`` (deg/s) gives kinematic track bands."""
    advice, snap, row = ctx.runtime.advise(track_id, turn_rate_deg_s=turn_rate)
    names = band_names(ctx.runtime.accord)
    return {
        "id": advice.id, "level": names[advice.level],
        "state": {"lat": float(snap.lat[row]), "lon": float(snap.lon[row]),
                  "alt_ft": float(snap.alt_ft[row]), "gs_kt": float(snap.gs_kt[row]),
                  "trk_deg": float(snap.trk_deg[row]), "vs_fpm": float(snap.vs_fpm[row])},
        "bands": {str(dim): {"unit": b.unit, "current": float(b.current),
                             "current_level": names[b.current_code],
                             "ranges": [{"lo": r.lo, "hi": r.hi, "level": r.name}
                                        for r in b.ranges(names)]}
                  for dim, b in advice.bands.items()},
        "resolutions": {str(dim): {"value": _num(r.value), "delta": _num(r.delta),
                                   "direction": r.direction}
                        for dim, r in advice.resolutions.items()},
    }
