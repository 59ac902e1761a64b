"""``WS /live``: the live stream — each tick's changes, alerts, line messages and acks.

Browsers cannot set headers on a WebSocket, so the token may also come as the
``token`` query parameter. Every event is one JSON text frame with a ``type``: ``hello``
(the accord and the full picture on connect), ``tick`` (tracks updated and removed,
alerts new, changed and cleared, messages sent), ``line`` (a message or acknowledgement
logged). A client that falls more than :data:`QUEUE_LIMIT` events behind is dropped
(close code 1013) rather than slowing the node down.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from skyaccord.errors import SkyaccordError
from skyaccord.node.auth import Role

__all__ = ["Hub", "router"]

router = APIRouter(tags=["live"])

QUEUE_LIMIT = 64


class Hub:
    """Fans each event out to the connected clients; JSON is encoded once per event."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[asyncio.Queue[str | None]] = set()

    def publish(self, event: dict[str, Any]) -> None:
        """Called from the tick thread: hands the event to the event loop."""
        if self.loop is None or not self.clients:
            return
        text = json.dumps(event, separators=(",", ":"), allow_nan=False)
        self.loop.call_soon_threadsafe(self._fan_out, text)

    def _fan_out(self, text: str) -> None:
        for q in list(self.clients):
            if q.qsize() >= QUEUE_LIMIT:
                self.clients.discard(q)
                q.put_nowait(None)  # tells the sender to close: too slow
            else:
                q.put_nowait(text)


@router.websocket("/live")
async def live(ws: WebSocket) -> None:
    ctx = ws.app.state.ctx
    hub: Hub = ws.app.state.hub
    auth = ws.headers.get("authorization")
    token = ws.query_params.get("token")
    try:
        ctx.tokens.check(auth or (f"Bearer {token}" if token else None), Role.VIEWER)
    except SkyaccordError as exc:
        await ws.close(code=1008, reason=str(exc)[:120])
        return
    await ws.accept()
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=QUEUE_LIMIT + 1)
    rt = ctx.runtime
    with rt.lock:
        snap = rt.snapshot
        hello = {"type": "hello", "party": rt.party, "accord": rt.accord.sha256,
                 "t": rt.last_tick.t if rt.last_tick else None,
                 "tracks": rt.track_columns(snap, list(range(len(snap)))),
                 "alerts": list(rt.alerts.values())}
    await ws.send_text(json.dumps(hello, separators=(",", ":"), allow_nan=False))
    hub.clients.add(queue)

    async def pump() -> None:
        while True:
            text = await queue.get()
            if text is None:
                await ws.close(code=1013, reason="too slow: fell behind the live stream")
                return
            await ws.send_text(text)

    async def drain_incoming() -> None:
        while True:
            await ws.receive_text()  # clients only listen; anything sent is ignored

    tasks = [asyncio.create_task(pump()), asyncio.create_task(drain_incoming())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        hub.clients.discard(queue)
        for t in tasks:
            t.cancel()
