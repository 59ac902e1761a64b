"""``GET /health``: is the node running, ticking and able to write?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from skyaccord.node.deps import Ctx, Viewer
from skyaccord.node.models import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", summary="Node health (503 when it cannot write or tick)",
            responses={200: {"model": HealthOut}, 503: {"model": HealthOut}})
def get_health(ctx: Ctx, _: Viewer) -> JSONResponse:
    rt = ctx.runtime
    summary: dict[str, Any] = {**ctx.line.store.summary(), **ctx.line.health()}
    writable = bool(summary["writable"])
    last = rt.last_tick
    now = rt.clock()
    ticking = last is not None and now - last.t < max(5.0, 5 * rt.tick_s)
    body: dict[str, Any] = {
        "party": rt.party, "accord": rt.accord.sha256, "tracks": len(rt.picture),
        "last_tick": None if last is None else {"t": last.t, "duration_s": last.duration_s},
        "ticking": ticking, "writable": writable, "line": summary,
        "updates_in": rt.updates_in, "refused_in": rt.refused_in}
    ok = writable and (ticking or last is None)
    return JSONResponse(body, status_code=200 if ok else 503)
