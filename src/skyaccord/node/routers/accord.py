"""``/accord``: the accord in force and its life on the line; ``/distress``.

=================================== ====================================================
``GET /accord``                     the accord in force now, its suspensions, history,
                                    and what is held while its version is undecided
``GET /accord/proposals``           every proposal with its status, answers and the
                                    difference from the version in force
``GET /accord/proposals/{sha256}``  one proposal, with the proposed accord
``POST /accord/proposals``          operator: propose a new version (TOML text)
``POST /accord/proposals/{sha256}/answer`` operator: accept or reject, with a reason
``POST /accord/suspend``            operator: suspend the accord in force, with a reason
``POST /distress``                  operator: a distress call to every party at once
``GET /distress``                   distress calls sent and received, and who answered
``POST /distress/{id}/ack``         operator: acknowledge a distress call received
=================================== ====================================================

What the node signs here is checked by the line first
(:class:`~skyaccord.line.accords.AccordBook`); a refusal is a 400/404/409 problem that
says why, and nothing is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from skyaccord.errors import InputError, NotFound
from skyaccord.line.accord_diff import accord_diff, diff_text
from skyaccord.line.messages import MAX_ACCORD_BYTES
from skyaccord.node.deps import Ctx, Operator, Viewer
from skyaccord.node.models import AccordOut
from skyaccord.protocol import parse_accord


def rfc3339_seconds(text: str) -> float:
    """UTC seconds of an RFC 3339 date-time with its offset (``2026-12-03T06:00:00Z``)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"effective: {text[:64]!r} is not an RFC 3339 date-time "
                         "(2026-12-03T06:00:00Z)") from None
    if when.tzinfo is None:
        raise InputError(f"effective: {text[:64]!r} has no UTC offset (end it with Z)")
    return when.timestamp()

__all__ = ["router"]

router = APIRouter(tags=["accord"])

_Reason = Annotated[str, Field(min_length=1, max_length=200)]


class ProposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accord_toml: Annotated[str, Field(min_length=1, max_length=MAX_ACCORD_BYTES,
                                      description="the new version, as an accord TOML file")]
    to: Annotated[list[Annotated[str, Field(max_length=16)]] | None,
                  Field(max_length=64, description="every other party the new version "
                        "names (default: those)")] = None
    effective: Annotated[str | None, Field(
        max_length=64, description="RFC 3339 UTC time it takes effect (default: the "
        "accord's own [accord] effective)")] = None
    text: Annotated[str, Field(min_length=1, max_length=2000)] = "proposed"


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Annotated[str, Field(pattern="^(accept|reject)$")]
    text: Annotated[str, Field(min_length=1, max_length=2000,
                               description="the reason, signed with the answer")]


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: _Reason


class DistressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    frequency_mhz: Annotated[float, Field(ge=0.001, le=100_000)]
    callsign: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    nature: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    alt_ft: Annotated[float | None, Field(ge=-2000, le=200_000)] = None
    text: Annotated[str | None, Field(min_length=1, max_length=2000)] = None


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=2000)] = "received, acting"


def _accord_view(a: Any) -> dict[str, Any]:
    return {"id": a.id, "version": a.version, "title": a.title, "sha256": a.sha256,
            "effective": a.effective, "accord": a.to_dict()}


@router.get("/accord", summary="The accord in force", response_model=AccordOut)
def get_accord(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    line = ctx.line
    now = line.clock()
    a = line.book.at(now)
    open_ = line.undecided(now)
    runtime = ctx.runtime
    return {**_accord_view(a),
            "suspended": [s.__dict__ for s in line.book.suspended(a.sha256)],
            "withheld": runtime.withheld,
            "undecided": [{"sha256": p.sha256, "id": p.accord.id,
                           "version": p.accord.version, "proposer": p.proposer,
                           "effective_at": p.effective_at, "awaiting": list(w)}
                          for p, w in open_],
            "held": runtime.held,
            "held_reason": (str(line.book.undecided_error(open_, "an ordinary message"))
                            if open_ else runtime.held_reason),
            "expedited": runtime.expedited,
            "history": line.book.history(),
            "switches": line.switches(),
            "next_switch_at": line.book.next_switch_after(now)}


def _proposal(ctx: Ctx, sha: str, *, full: bool) -> dict[str, Any]:
    line = ctx.line
    book = line.book
    now = line.clock()
    p = book.proposals[sha]
    current = book.at(now)
    base = current if current.sha256 != sha else (book.accords.get(p.base_sha256) or current)
    out = {**p.to_dict(), "status": book.status(sha, now),
           "diff_against": {"sha256": base.sha256, "version": base.version},
           "diff": [c.to_dict() for c in accord_diff(base, p.accord)],
           "diff_text": diff_text(base, p.accord)}
    if full:
        out["accord"] = p.accord.to_dict()
    return out


@router.get("/accord/proposals", summary="Proposed versions, their answers and status")
def list_proposals(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    props = sorted(ctx.line.book.proposals.values(), key=lambda p: -p.proposed_at)
    return [_proposal(ctx, p.sha256, full=False) for p in props]


@router.get("/accord/proposals/{sha256}", summary="One proposal with the proposed accord")
def get_proposal(sha256: str, ctx: Ctx, _: Viewer) -> dict[str, Any]:
    if sha256 not in ctx.line.book.proposals:
        raise NotFound(f"no proposal {sha256[:64]}")
    return _proposal(ctx, sha256, full=True)


@router.post("/accord/proposals", summary="Propose a new version to the other parties")
def propose(req: ProposeIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    new = parse_accord(req.accord_toml, "proposed accord")
    if req.effective is not None:
        at = rfc3339_seconds(req.effective)
        if new.effective is not None and abs(rfc3339_seconds(new.effective) - at) > 1e-3:
            raise InputError(f"effective: {req.effective} differs from the accord's own "
                             f"[accord] effective = {new.effective}")
    elif new.effective is not None:
        at = rfc3339_seconds(new.effective)
    else:
        raise InputError("effective: give the time the new version takes effect "
                         "(--effective, or [accord] effective in the file)")
    sent = ctx.line.propose(new, req.text, at, req.to)
    if sent:  # this node's other operators see it at once
        ctx.runtime.publish_accord(sent[0], ctx.line.clock())
    return {**_proposal(ctx, new.sha256, full=False), "sent": [m.id for m in sent]}


@router.post("/accord/proposals/{sha256}/answer", summary="Accept or reject a proposal")
def answer(sha256: str, req: AnswerIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    sent = ctx.line.answer(sha256[:64], req.decision, req.text)
    if sent:
        ctx.runtime.publish_accord(sent[0], ctx.line.clock())
    return {**_proposal(ctx, sha256, full=False), "sent": [m.id for m in sent]}


@router.post("/accord/suspend", summary="Suspend the accord in force")
def suspend(req: SuspendIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    sent = ctx.line.suspend(req.reason)
    ctx.runtime.refresh_suspensions()
    if sent:
        ctx.runtime.publish_accord(sent[0], ctx.line.clock())
    return {"suspended": sent[0].body["accord_sha256"], "sent": [m.id for m in sent]}


def _distress_view(ctx: Ctx) -> list[dict[str, Any]]:
    store = ctx.line.store
    answers: dict[str, list[dict[str, Any]]] = {}
    for _, d, t, m in store.messages(kinds=("response",)):
        if m.body.get("priority") is True and m.in_reply_to:
            answers.setdefault(m.in_reply_to, []).append(
                {"from": m.sender, "at": t, "direction": d, "text": m.body.get("text")})
    acked = {m.in_reply_to: t for _, _, t, m in store.messages(kinds=("ack",))}
    out: list[dict[str, Any]] = []
    for _, d, t, m in store.messages(kinds=("distress",)):
        out.append({"direction": d, "logged_at": t, "delivered_at": acked.get(m.id),
                    "answers": answers.get(m.id, []), "message": m.to_dict()})
    out.sort(key=lambda x: -float(x["logged_at"]))
    return out


@router.post("/distress", summary="Call distress to every party at once (priority lane)")
def distress(req: DistressIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    body = {k: v for k, v in req.model_dump().items() if v is not None}
    sent = ctx.line.distress(body)
    ctx.runtime.publish_distress(sent[0])
    return {"sent": [m.to_dict() for m in sent]}


@router.get("/distress", summary="Distress calls sent and received, and their answers")
def list_distress(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    return _distress_view(ctx)


@router.post("/distress/{msg_id}/ack", summary="Acknowledge a distress call received")
def ack_distress(msg_id: str, req: AckIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    found = ctx.line.store.find(msg_id[:32])
    if found is None or found[0] != "received" or found[1].kind != "distress":
        raise NotFound(f"no distress call {msg_id[:32]} received by this node")
    m = ctx.line.send(found[1].sender, "response",
                      {"text": req.text, "decision": "accept", "priority": True},
                      in_reply_to=found[1].id)
    return m.to_dict()
