"""A party's node in its own process, on a simulated clock: ``python -m
skyaccord.sim.node_process CONFIG``.

``skyaccord serve`` takes its clock from the wall; a run over real processes needs the
simulator's. This entry point opens the node exactly as ``serve`` does
(:func:`skyaccord.node.service.open_node`, the node's app with all its routes), on a
:class:`SimClock`, and mounts :func:`clock_router` beside the node's own routes: the
simulator moves the clock, runs the node's tick and its outbox delivery through those
routes, each of which needs the node's **admin** token (the node's own ``Admin``
dependency: 401 without a token, 403 with a lesser one). It serves on loopback only.

CONFIG is a JSON file the simulator writes: ``settings`` (the fields of
:class:`~skyaccord.node.config.NodeSettings`), ``t0`` (the clock's first reading),
``port`` and ``parent_pid``. The process ends by itself when its parent is gone, so a
simulator killed outright leaves no node behind.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

# at module level: FastAPI reads the routes' annotations (strings here) in this
# module's namespace
from skyaccord.node.deps import Admin, Ctx

__all__ = ["SimClock", "clock_router", "main", "tick_summary"]

#: a simulated time: seconds since 1970, within what a node accepts for a report's time
_T = Field(ge=0.0, le=1e11)


class SimClock:
    """The run's clock: the nodes read it; the run moves it."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    t: float = _T


def tick_summary(rep: Any) -> dict[str, Any]:
    """A tick's report as the run records it: counts and the alerts' changes."""
    return {"t": rep.t, "conflicts": rep.conflicts, "incursions": rep.incursions,
            "new": rep.new_alerts, "changed": rep.changed_alerts,
            "cleared": rep.cleared_alerts, "told": rep.told}


def clock_router(clock: SimClock) -> APIRouter:
    """``/sim/clock`` (read, set), ``/sim/tick`` (set the clock and run the node's tick,
    what its ticker thread does), ``/sim/deliver`` (one round of the outbox, what its
    deliverer thread does, over the peers' real HTTP) and ``/sim/log`` (the line's log):
    all admin-only."""
    router = APIRouter(prefix="/sim", tags=["simulator"])

    @router.get("/clock", summary="The simulated clock (admin)")
    def get_clock(_: Admin) -> dict[str, float]:
        return {"t": clock.t}

    @router.post("/clock", summary="Set the simulated clock (admin)")
    def set_clock(req: ClockIn, _: Admin) -> dict[str, float]:
        clock.t = req.t
        return {"t": clock.t}

    @router.post("/tick", summary="Set the clock and tick now (admin)")
    def tick(req: ClockIn, ctx: Ctx, _: Admin) -> dict[str, Any]:
        clock.t = req.t
        return tick_summary(ctx.runtime.tick(req.t))

    @router.post("/deliver", summary="One round of outbox delivery now (admin)")
    def deliver(ctx: Ctx, _: Admin) -> dict[str, int]:
        return {"delivered": ctx.line.deliver_once()}

    @router.get("/log", summary="The line's whole log (admin)")
    def log(ctx: Ctx, _: Admin) -> list[dict[str, Any]]:
        return [{"pos": pos, "direction": d, "recorded_at": r, "message": m.to_dict()}
                for pos, d, r, m in ctx.line.store.messages()]

    return router


def _settings(tree: dict[str, Any]) -> Any:
    from skyaccord.node.config import NodeSettings

    paths = ("key", "db", "accord", "tokens", "zones")
    kw: dict[str, Any] = {k: (Path(v) if k in paths and v is not None else v)
                          for k, v in tree.items()}
    return NodeSettings(**kw)


def _watch_parent(parent: int) -> None:
    """End this process when the simulator that started it is gone (re-parented)."""
    while True:
        if os.getppid() != parent:
            os._exit(3)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from skyaccord.errors import SkyaccordError
    from skyaccord.node.service import open_node

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m skyaccord.sim.node_process CONFIG.json", file=sys.stderr)
        return 2
    try:
        cfg = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        t0, port = float(cfg["t0"]), int(cfg["port"])
        if not math.isfinite(t0) or not 0 < port < 65536:
            raise ValueError("t0 or port out of range")
        settings = _settings(cfg["settings"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{args[0]}: not a node process config: {exc}", file=sys.stderr)
        return 2
    parent = int(cfg.get("parent_pid") or os.getppid())
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="parent-watch").start()
    clock = SimClock(t0)
    try:
        node = open_node(settings, clock=clock)
    except SkyaccordError as exc:
        print(f"node {settings.party}: {exc}", file=sys.stderr)
        return exc.exit_code
    # the simulator ticks and delivers through /sim (no ticker, no deliverer thread)
    app = node.app(tick=False, deliver=False, routers=[clock_router(clock)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
