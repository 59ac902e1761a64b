"""``POST /tracks`` (a batch of track rows, JSON or the tracks CSV) and ``GET /tracks``."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Annotated, Any, Final, NotRequired

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, with_config
from starlette.concurrency import run_in_threadpool
from typing_extensions import TypedDict

from skyaccord.errors import InputError, TrackDataError
from skyaccord.node.deps import Ctx, NodeContext, Operator, Viewer
from skyaccord.node.models import TracksOut
from skyaccord.picture import StateBatch
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


_STATE: Final = itemgetter("lat", "lon", "alt_ft", "gs_kt", "trk_deg")


def _json_batch(raw: bytes, now: float, source: str) -> StateBatch:
    """The rows of a JSON batch as columns. The schema checks them (parsing is most of
    its cost: checking the rows as arrays instead saved nothing); the columns are then
    taken in a few passes, with no object per row."""
    rows = BATCH.validate_json(raw)["tracks"]
    lat, lon, alt, gs, trk = np.array(list(map(_STATE, rows)),
                                      dtype=np.float64).reshape(-1, 5).T
    t = np.array([r.get("t") for r in rows], dtype=np.float64)  # None: NaN
    return StateBatch(np.where(np.isnan(t), now, t), [r["id"] for r in rows], lat, lon,
                      alt, gs, trk,
                      np.array([r.get("vs_fpm", 0.0) for r in rows], dtype=np.float64),
                      _texts(rows, "callsign"), None, _texts(rows, "party"),
                      _texts(rows, "aircraft_class"), None, source)


def _texts(rows: Sequence[Mapping[str, Any]], key: str) -> list[str | None] | None:
    """One optional text column; None when no row has it."""
    col = [r.get(key) for r in rows]
    return None if col.count(None) == len(col) else col


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
        batch = StateBatch(np.full(len(tracks), now), tracks.id.tolist(), tracks.lat,
                           tracks.lon, tracks.alt_ft, tracks.gs_kt, tracks.trk_deg,
                           tracks.vs_fpm, None, None, tracks.party.tolist(),
                           tracks.aircraft_class.tolist(), None, source)
    elif kind == "application/json":
        batch = _json_batch(raw, now, source)
    else:
        raise InputError(f"content type {kind!r}: send application/json or text/csv")
    _check_rows(batch, now, ctx)
    ok, bad = ctx.runtime.ingest_batch(batch, associate=False)  # rows are fused tracks
    return Accepted(accepted=ok, refused=bad, tracks=len(ctx.runtime.picture))


def _check_rows(batch: StateBatch, now: float, ctx: NodeContext) -> None:
    """The first row (in order) with a class the accord does not know or a time in the
    future refuses the batch."""
    classes = ctx.runtime.accord.classes
    labels = batch.aircraft_class or ()
    unknown = set(labels) - set(classes) - {None}
    first_class = (next(k for k, c in enumerate(labels) if c in unknown) if unknown
                   else len(batch))
    ahead = batch.t > now + ctx.line.skew_s
    first_time = int(np.argmax(ahead)) if ahead.any() else len(batch)
    k = min(first_class, first_time)
    if k == len(batch):
        return
    tid = batch.icao24[k]
    if k == first_class:
        raise InputError(f"track {tid!r}: unknown class {labels[k]!r}; the accord's "
                         f"classes are {', '.join(classes)}")
    raise InputError(f"track {tid!r}: reported {batch.t[k] - now:.0f} s in the future")


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

