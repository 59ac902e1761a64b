"""The node's minimal HTTP API (FastAPI), built by :func:`create_app` — nothing at import.

=========================== ============================================================
``POST /line/messages``     a peer delivers one envelope; reply: the signed ack
``POST /line/send``         this party sends: ``{"to", "kind", "body", "in_reply_to"?}``
``GET /line/inbox``         messages received (acks left out)
``GET /line/messages/{id}`` one logged message with its replies
``GET /line/overdue``       what each party owes, with escalation levels
``GET /line/refusals``      refused deliveries and why
``GET /line/health``        party, log length and head, outbox backlog
=========================== ============================================================
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from skyaccord.errors import SkyaccordError
from skyaccord.line.deadlines import store_debts
from skyaccord.line.node import Deliverer, Node
from skyaccord.line.peer import DELIVER_PATH

__all__ = ["SendRequest", "create_app"]


class SendRequest(BaseModel):
    to: str
    kind: str
    body: dict[str, Any]
    in_reply_to: str | None = None


def create_app(node: Node, *, deliver: bool = True) -> FastAPI:
    """The HTTP app of ``node``; with ``deliver``, its outbox thread runs with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        deliverer = Deliverer(node) if deliver else None
        if deliverer is not None:
            deliverer.start()
        try:
            yield
        finally:
            if deliverer is not None:
                deliverer.stop()
            node.close()

    app = FastAPI(title=f"skyaccord line node ({node.party})", lifespan=lifespan)

    @app.post(DELIVER_PATH)
    async def deliver_envelope(request: Request) -> JSONResponse:
        raw = await request.body()
        source = request.client.host if request.client else None
        # SQLite writes (fsync) run off the event loop
        status, payload = await run_in_threadpool(
            lambda: node.receive_bytes(raw, source=source))
        return JSONResponse(payload, status_code=status)

    @app.post("/line/send")
    def send(req: SendRequest) -> JSONResponse:
        try:
            msg = node.send(req.to, req.kind, req.body, in_reply_to=req.in_reply_to)
        except SkyaccordError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(msg.to_dict())

    @app.get("/line/inbox")
    def inbox() -> list[dict[str, Any]]:
        return [m.to_dict() for _, _, _, m in node.store.messages(direction="received")
                if m.kind != "ack"]

    @app.get("/line/messages/{msg_id}")
    def show(msg_id: str) -> JSONResponse:
        found = node.store.find(msg_id)
        if found is None:
            return JSONResponse({"error": f"no message {msg_id}"}, status_code=404)
        return JSONResponse({"direction": found[0], "message": found[1].to_dict(),
                             "replies": [r.to_dict() for r in node.store.replies(msg_id)]})

    @app.get("/line/overdue")
    def overdue() -> list[dict[str, Any]]:
        return [d.__dict__ for d in store_debts(node.store, node.accord.response_deadline_s,
                                                node.clock())]

    @app.get("/line/refusals")
    def refusals() -> list[dict[str, Any]]:
        return [r._asdict() for r in node.store.refusals()]

    @app.get("/line/health")
    def health() -> dict[str, Any]:
        entries = node.store.entries()
        backlog = sum(1 for o in node.store.outbox() if o.delivered_at is None)
        return {"party": node.party, "log_entries": len(entries),
                "head": entries[-1].hash if entries else None, "outbox_pending": backlog}

    return app
