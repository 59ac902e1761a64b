"""``POST /tracks`` (a batch of track rows, JSON or the tracks CSV) and ``GET /tracks``."""

from __future__ import annotations

import io
from typing import Annotated, Any, NotRequired

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, with_config
from starlette.concurrency import run_in_threadpool
from typing_extensions import TypedDict

from skyaccord.errors import InputError, TrackDataError
from skyaccord.ingest.states import StateUpdate
from skyaccord.node.deps import Ctx, NodeContext, Operator, Viewer
from skyaccord.node.models import TracksOut
from skyaccord.tracks import read_tracks_csv

__all__ = ["router"]

router = APIRouter(tags=["tracks"])

#: rows in one batch: 100,000 (a theatre is a few thousand aircraft)
MAX_ROWS = 100_000

_Id = Annotated[str, Field(min_length=1, max_length=64)]


# TypedDicts, not models: a batch of 10,000 rows validates in a third of the time.
@with_config(ConfigDict(extra="forbid"))
class TrackRow(TypedDict):
    """One aircraft's state: aviation units, as the tracks CSV."""

    id: _Id
    party: NotRequired[Annotated[str | None, Field(max_length=16)]]
    aircraft_class: NotRequired[Annotated[str | None, Field(alias="class", max_length=32)]]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    alt_ft: Annotated[float, Field(ge=-2000, le=200_000)]
    gs_kt: Annotated[float, Field(ge=0, le=2500)]
    trk_deg: Annotated[float, Field(ge=-360, le=360)]
    vs_fpm: NotRequired[Annotated[float, Field(ge=-60_000, le=60_000)]]
    t: NotRequired[Annotated[float | None, Field(ge=0, le=1e11)]]
    callsign: NotRequired[Annotated[str | None, Field(max_length=16)]]


@with_config(ConfigDict(extra="forbid"))
class TrackBatch(TypedDict):
    tracks: Annotated[list[TrackRow], Field(max_length=MAX_ROWS)]


BATCH = TypeAdapter(TrackBatch)


class Accepted(BaseModel):
    accepted: int
    refused: int
    tracks: int


def _updates(rows: list[TrackRow], now: float, source: str) -> list[StateUpdate]:
    out = []
    for r in rows:
        t = r.get("t")
        out.append(StateUpdate(now if t is None else t, r["id"], "state", r.get("callsign"),
                               r["lat"], r["lon"], r["alt_ft"], r["gs_kt"], r["trk_deg"],
                               r.get("vs_fpm", 0.0), None, r.get("party"),
                               r.get("aircraft_class"), source))
    return out


@router.post("/tracks", response_model=Accepted, summary="Update the live picture",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": BATCH.json_schema()},
                 "text/csv": {"schema": {"type": "string"}}}, "required": True}})
async def post_tracks(request: Request, ctx: Ctx, who: Operator) -> Accepted:
    """A batch of track rows (JSON ``{"tracks": [...]}`` or the tracks CSV with header
    ``id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm``), reported now unless a row
    says its time ``t``. Rows are tracks already fused: each id is one aircraft."""
    raw = await request.body()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    # parsing and the picture's lock run off the event loop (the live stream goes on)
    return await run_in_threadpool(_post_tracks, raw, kind, ctx, who.name)


def _post_tracks(raw: bytes, kind: str, ctx: NodeContext, who: str) -> Accepted:
    now = ctx.runtime.clock()
    source = f"api:{who}"
    if kind == "text/csv":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the tracks CSV must be UTF-8 text") from None
        try:
            tracks = read_tracks_csv(io.StringIO(text)).tracks
        except TrackDataError as exc:
            raise InputError(str(exc)) from None
        if len(tracks) > MAX_ROWS:
            raise InputError(f"at most {MAX_ROWS} rows in one batch")
        updates = [StateUpdate(now, str(tracks.id[k]), "state", None, float(tracks.lat[k]),
                               float(tracks.lon[k]), float(tracks.alt_ft[k]),
                               float(tracks.gs_kt[k]), float(tracks.trk_deg[k]),
                               float(tracks.vs_fpm[k]), None, str(tracks.party[k]),
                               str(tracks.aircraft_class[k]), source)
                   for k in range(len(tracks))]
    elif kind == "application/json":
        updates = _updates(BATCH.validate_json(raw)["tracks"], now, source)
    else:
        raise InputError(f"content type {kind!r}: send application/json or text/csv")
    for u in updates:
        if u.aircraft_class is not None and u.aircraft_class not in ctx.runtime.accord.classes:
            raise InputError(f"track {u.icao24!r}: unknown class {u.aircraft_class!r}; the "
                             f"accord's classes are {', '.join(ctx.runtime.accord.classes)}")
        if u.t > now + ctx.line.skew_s:
            raise InputError(f"track {u.icao24!r}: reported {u.t - now:.0f} s in the future")
    ok, bad = ctx.runtime.ingest(updates, associate=False)  # rows are fused tracks
    return Accepted(accepted=ok, refused=bad, tracks=len(ctx.runtime.picture))


@router.get("/tracks", summary="The live picture, extrapolated to now (columns)",
            response_model=TracksOut)
def get_tracks(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Every live track at the last tick, column by column."""
    rt = ctx.runtime
    with rt.lock:
        snap = rt.snapshot
        t = rt.last_tick.t if rt.last_tick else None
        cols = rt.track_columns(snap, list(range(len(snap))))
    return {"t": t, "count": len(snap), "tracks": cols,
            "note": None if t is not None else "no tick yet"}

