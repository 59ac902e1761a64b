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
    store = ctx.line.store
    summary: dict[str, Any] = (store.summary() if hasattr(store, "summary") else {
        "log_entries": store.last_pos(),
        "outbox_pending": sum(1 for o in store.outbox() if o.delivered_at is None)})
    writable = ctx.line.writable() if hasattr(ctx.line, "writable") else True
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
