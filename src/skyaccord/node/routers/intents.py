"""``/intents``: this party's planned operations (4D volumes) in the registry.

Our own intents are shown whole; other parties' only as their volumes (footprint,
altitude band, time window) under an opaque reference: never their id, class, priority
or state, which belong to their mission.

When the node publishes to an ASTM F3548-21 DSS (``[dss] publish_to``; the
:class:`skyaccord.dss.uss.Publishing` on ``app.state.dss_publishing``, set by ``serve``),
an intent the registry would accept is first written there as an operational intent
reference: refused there (another manager's reference meets it and its OVN is not
known), it is refused here too (409 naming those references, ``dss_missing``) and
nothing is stored; accepted there and then refused by the registry, the reference is put
back as it was. An ended intent's reference is deleted.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from skyaccord.errors import (
    IntentConflict,
    IntentError,
    NotFound,
    PermissionDenied,
    ServiceError,
    SkyaccordError,
)
from skyaccord.node.deps import Ctx, Operator, Viewer
from skyaccord.strategic import Circle, Intent, IntentState, Polygon, Volume
from skyaccord.strategic.views import opaque_ref

__all__ = ["router"]

log = logging.getLogger("skyaccord.node.intents")

router = APIRouter(tags=["intents"])

_Num = Annotated[float, Field(allow_inf_nan=False)]


class VolumeIn(BaseModel):
    """One 4D volume: a circle ``[lat, lon, radius_m]`` or a polygon ``[[lon, lat], ...]``,
    an altitude band ``[lower_ft, upper_ft]`` and a UTC window ``[start_s, end_s]``."""

    model_config = ConfigDict(extra="forbid")

    circle: tuple[_Num, _Num, _Num] | None = None
    polygon: Annotated[list[tuple[_Num, _Num]] | None, Field(max_length=1000)] = None
    alt: tuple[_Num, _Num]
    time: tuple[_Num, _Num]


class IntentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=64)]
    aircraft_class: Annotated[str, Field(alias="class", max_length=32)] = "manned"
    priority: Annotated[int, Field(ge=0, le=1000)] = 0
    version: Annotated[int, Field(ge=0, le=2**31)] = 0
    volumes: Annotated[list[VolumeIn], Field(min_length=1, max_length=1000)]
    key: Annotated[dict[str, Annotated[int, Field(ge=0, le=2**31)]] | None,
                   Field(max_length=10_000)] = None
    request_id: Annotated[str | None, Field(max_length=64)] = None

    def intent(self, party: str) -> Intent:
        vols = []
        for k, v in enumerate(self.volumes):
            if (v.circle is None) == (v.polygon is None):
                raise ServiceError(f"volumes[{k}]: give exactly one of circle or polygon")
            fp = Circle(*v.circle) if v.circle is not None else Polygon(
                tuple((x, y) for x, y in v.polygon or ()))
            vols.append(Volume(fp, v.alt[0], v.alt[1], v.time[0], v.time[1]))
        return Intent(self.id, party, tuple(vols), self.aircraft_class, self.priority,
                      IntentState.ACCEPTED, self.version)


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[int, Field(ge=1, le=2**31)]


def _volume(v: Volume) -> dict[str, Any]:
    fp = v.footprint
    shape: dict[str, Any] = ({"circle": [fp.lat_deg, fp.lon_deg, fp.radius_m]}
                             if isinstance(fp, Circle) else
                             {"polygon": [list(p) for p in fp.lon_lat]})
    return {**shape, "alt": [v.alt_lower_ft, v.alt_upper_ft],
            "time": [v.time_start, v.time_end]}


def _own(i: Intent) -> dict[str, Any]:
    return {"id": i.id, "party": i.party, "class": i.aircraft_class, "priority": i.priority,
            "state": str(i.state), "version": i.version,
            "volumes": [_volume(v) for v in i.volumes]}


def _theirs(i: Intent, salt: str) -> dict[str, Any]:
    return {"ref": opaque_ref(i, salt), "party": i.party,
            "volumes": [_volume(v) for v in i.volumes]}


def _conflicts(cs: Any, own_party: str) -> list[dict[str, Any]]:
    return [{"party": c.party, "version": c.version, "blocking": c.blocking,
             "pairs": [list(p) for p in c.pairs]} | (
                {"intent_id": c.intent_id} if c.party == own_party else {}) for c in cs]


def _registry(ctx: Ctx) -> Any:
    if ctx.registry is None:
        raise NotFound("this node runs no registry")
    return ctx.registry


def _undo(publishing: Any, previous: Intent | None, intent: Intent) -> None:
    """Put the DSS's reference back after the registry refused (a race); a DSS that fails
    now leaves the reference to expire, and the registry's refusal stands."""
    try:
        publishing.undo(previous, intent)
    except SkyaccordError:
        log.exception("intent %s: the DSS's reference could not be put back", intent.id)


def _publishing(request: Request) -> Any:
    """The node's F3548 publishing (None when ``[dss] publish_to`` is not configured)."""
    return getattr(request.app.state, "dss_publishing", None)


@router.get("/intents", summary="Our intents whole; others' as volumes only")
def list_intents(ctx: Ctx, _: Viewer, active_only: bool = True) -> dict[str, Any]:
    reg, party = _registry(ctx), ctx.runtime.party
    mine: list[Intent] = []
    theirs: list[Intent] = []
    for i in reg.intents(active_only=active_only):
        (mine if i.party == party else theirs).append(i)
    salt = ctx.runtime.accord.sha256
    return {"own": [_own(i) for i in mine], "others": [_theirs(i, salt) for i in theirs]}


@router.get("/intents/{intent_id}", summary="One of our intents")
def get_intent(intent_id: str, ctx: Ctx, _: Viewer) -> dict[str, Any]:
    try:
        i = _registry(ctx).get(intent_id)
    except IntentError as exc:
        raise NotFound(f"no intent {intent_id!r} of ours") from exc
    if i.party != ctx.runtime.party:
        raise NotFound(f"no intent {intent_id!r} of ours")
    return _own(i)


@router.post("/intents/check", summary="Conflicts an intent would have (no write)")
def check_intent(req: IntentIn, ctx: Ctx, _: Operator) -> dict[str, Any]:
    res = _registry(ctx).check(req.intent(ctx.runtime.party))
    return {"conflicts": _conflicts(res.conflicts, ctx.runtime.party), "key": res.key}


@router.post("/intents", summary="Check and store an intent atomically",
             responses={409: {"description": "Refused: it conflicts (``conflict``) or "
                              "does not name the versions it writes over (``stale``)"}})
def submit_intent(req: IntentIn, ctx: Ctx, _: Operator, request: Request) -> Any:
    """Accepted (200), or refused (409, a problem of type ``intent-conflict`` listing the
    conflicts or the versions the write must name in ``key``). An accepted write over
    lower-priority intents tells their owners over the line."""
    reg, party = _registry(ctx), ctx.runtime.party
    intent = req.intent(party)
    publishing = _publishing(request)
    key: Any = req.key
    published, previous = None, None
    if key is None or publishing is not None:
        checked = reg.check(intent)
        key = checked.key if key is None else key
        if (publishing is not None and not checked.conflicts.any_blocking
                and not checked.conflicts.missed(key)):
            try:
                previous = reg.get(intent.id)
            except IntentError:
                previous = None
            # a write the registry will refuse anyway (its version, an ended or another
            # party's intent) goes no further than the registry
            if (intent.version == 0 if previous is None else
                    previous.version == intent.version and previous.party == party
                    and previous.state != IntentState.ENDED):
                # refused there (IntentConflict, 409) or no DSS (503): nothing stored here
                published = publishing.write(intent)
    try:
        res = reg.submit(intent, key, request_id=req.request_id)
    except SkyaccordError:
        if published is not None:
            _undo(publishing, previous, intent)
        raise
    if published is not None and not res.accepted:
        _undo(publishing, previous, intent)
    body = {"outcome": str(res.outcome), "intent": _own(res.intent),
            "conflicts": _conflicts(res.conflicts, party), "missed": dict(res.missed),
            "replayed": res.replayed}
    if published is not None and res.accepted:
        body["dss"] = publishing.done(published)
    if not res.accepted:
        raise IntentConflict(f"intent {intent.id!r} refused ({res.outcome}): "
                             f"{len(res.conflicts)} conflicting intent(s), "
                             f"{len(res.missed)} version(s) to name", details=body)
    sent: list[str] = []
    if res.conflicts and not res.replayed:
        sent = ctx.runtime.tell_displaced(res.intent, list(res.conflicts))
    return {**body, "told": sent}


@router.post("/intents/{intent_id}/end", summary="End one of our intents")
def end_intent(intent_id: str, req: EndIn, ctx: Ctx, _: Operator, request: Request
               ) -> dict[str, Any]:
    reg, party = _registry(ctx), ctx.runtime.party
    try:
        current = reg.get(intent_id)
    except IntentError as exc:
        raise NotFound(f"no intent {intent_id!r} of ours") from exc
    if current.party != party:
        raise PermissionDenied(f"intent {intent_id!r} is not {party!r}'s")
    ended = _own(reg.end(intent_id, party, req.version))
    publishing = _publishing(request)
    if publishing is not None:
        # ended here whatever the DSS says; a reference it keeps expires at its time_end
        try:
            ended["dss"] = publishing.withdraw(current)
        except SkyaccordError as exc:
            ended["dss"] = {"withdrawn": False, "error": str(exc)}
    return ended


