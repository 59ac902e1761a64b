"""``GET /alerts``: predicted conflicts and incursions, what peers told us, what is owed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from skyaccord.line.deadlines import store_debts
from skyaccord.node.deps import Ctx, Viewer
from skyaccord.node.models import AlertsOut

__all__ = ["router"]

router = APIRouter(tags=["alerts"])


@router.get("/alerts", summary="Current alerts", response_model=AlertsOut)
def get_alerts(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """The last tick's conflicts (most severe, then soonest first) and incursions
    (soonest first), messages received from peers that need attention, the overdue
    list (what each party owes, with its escalation level), and the line's streams that
    cannot progress."""
    rt = ctx.runtime
    with rt.lock:
        alerts = list(rt.alerts.values())
        t = rt.last_tick.t if rt.last_tick else None
    conflicts = sorted((a for a in alerts if a["type"] == "conflict"),
                       key=lambda a: (-a["rank"], a["t_in_s"], a["id1"], a["id2"]))
    incursions = sorted((a for a in alerts if a["type"] == "incursion"),
                        key=lambda a: (a["t_entry_s"], a["id"], a["zone"]))
    now = rt.clock()
    overdue = [d.__dict__ for d in store_debts(ctx.line.store,
                                               ctx.line.accord.response_deadline_s, now)]
    in_force = ctx.line.book.at(now)
    accord = [{"type": "suspension", **s.__dict__}
              for s in ctx.line.book.suspended(in_force.sha256)]
    accord += [{"type": "refused", "at": r.at, "peer": r.peer, "msg_id": r.msg_id,
                "reason": r.reason}
               for r in ctx.line.store.refusals(limit=200)
               if r.kind == "accord-mismatch" and r.at >= now - 3600.0]
    return {"t": t, "conflicts": conflicts, "incursions": incursions,
            "line": rt.line_alerts(now), "overdue": overdue,
            "stuck": ctx.line.stuck_streams(), "accord": accord}
