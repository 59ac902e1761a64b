"""``/line``: peer delivery (the only route without a token) and the operators' line.

========================== ===========================================================
``POST /line/messages``    a peer delivers one signed envelope; reply: the signed ack
``POST /line/send``        operator: sign and send ``{"to", "kind", "body", "in_reply_to"?}``
``GET /line/inbox``        messages received (acks left out)
``GET /line/sent``         messages sent, with their acknowledgement state
``GET /line/messages/{id}`` one logged message with its replies
``GET /line/overdue``      what each party owes, with escalation levels
``GET /line/incidents``    gaps, re-sent messages, rollbacks; streams stuck now
``GET /line/refusals``     refused deliveries and why
========================== ===========================================================
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from skyaccord.errors import NotFound, ServiceError
from skyaccord.line.deadlines import store_debts
from skyaccord.line.peer import DELIVER_PATH
from skyaccord.node.deps import Ctx, Operator, Viewer

__all__ = ["router"]

router = APIRouter(prefix="", tags=["line"])


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, Field(min_length=1, max_length=16)]
    kind: Annotated[str, Field(min_length=1, max_length=16)]
    body: dict[str, Any]
    in_reply_to: Annotated[str | None, Field(max_length=32)] = None


@router.post(DELIVER_PATH, summary="Peer delivery of one signed envelope (no token)")
async def deliver(request: Request, ctx: Ctx) -> JSONResponse:
    raw = await request.body()
    source = request.client.host if request.client else None
    # SQLite writes (fsync) run off the event loop
    status, payload = await run_in_threadpool(ctx.line.receive_bytes, raw, source=source)
    if status >= 400:
        kind = payload.get("kind", "message-refused")
        payload = {"type": f"urn:skyaccord:problem:{kind}", "title": "Refused",
                   "status": status, "detail": payload.get("error", ""), **payload}
        return JSONResponse(payload, status_code=status,
                            media_type="application/problem+json")
    return JSONResponse(payload, status_code=status)


@router.post("/line/send", summary="Sign and send a message to a party")
def send(req: SendIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    if req.to not in ctx.line.peers:  # it would wait in the outbox for ever
        raise ServiceError(f"no peer {req.to!r} is configured on this node ([peers] has "
                           f"{', '.join(sorted(ctx.line.peers)) or 'none'})")
    msg = ctx.line.send(req.to, req.kind, req.body, in_reply_to=req.in_reply_to)
    return msg.to_dict()


@router.get("/line/inbox", summary="Messages received")
def inbox(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    return [{"received_at": t, **m.to_dict()}
            for _, _, t, m in ctx.line.store.messages(direction="received")
            if m.kind not in ("ack", "checkpoint")]


@router.get("/line/sent", summary="Messages sent, with acknowledgement state")
def sent(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    acked = {m.in_reply_to: t for _, _, t, m in
             ctx.line.store.messages(direction="received", kinds=("ack",))}
    return [{"sent_at": t, "acked_at": acked.get(m.id), **m.to_dict()}
            for _, _, t, m in ctx.line.store.messages(direction="sent") if m.kind != "ack"]


@router.get("/line/messages/{msg_id}", summary="One logged message with its replies")
def show(msg_id: str, ctx: Ctx, _: Viewer) -> dict[str, Any]:
    found = ctx.line.store.find(msg_id)
    if found is None:
        raise NotFound(f"no message {msg_id}")
    return {"direction": found[0], "message": found[1].to_dict(),
            "replies": [r.to_dict() for r in ctx.line.store.replies(msg_id)]}


@router.get("/line/overdue", summary="What each party owes")
def overdue(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    return [d.__dict__ for d in store_debts(ctx.line.store,
                                            ctx.line.accord.response_deadline_s,
                                            ctx.line.clock())]


@router.get("/line/incidents", summary="Streams that lost, re-sent or cannot progress")
def incidents(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Gaps, re-sent messages, a log behind its peer, rollbacks caught by checkpoints
    (oldest first), and the streams stuck now (also shown in ``/alerts``)."""
    return {"incidents": [i._asdict() for i in ctx.line.store.incidents()],
            "stuck": ctx.line.stuck_streams()}


@router.get("/line/refusals", summary="Refused deliveries and why")
def refusals(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    return [r._asdict() for r in ctx.line.store.refusals()]
