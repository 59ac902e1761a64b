"""The vectorised decoder on every real recording of raw frames in tests/data, one test
each: its kernel's fields equal rs1090's field by field, its updates equal the rs1090
reference decoder's (:class:`Rs1090Decoder`), and its surface positions equal rs1090's own
position decoding."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
import rs1090

from skyaccord.ingest import kernel as K
from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.feed import read_updates
from skyaccord.ingest.modes import BeastParser, RawFrame, Rs1090Decoder
from skyaccord.ingest.states import FeedStats, StateUpdate
from skyaccord.picture import Picture, StateBatch

from .conftest import DATA

#: aerodrome reference points (AIP France): the flight leaves Paris-CDG and lands at
#: Toulouse-Blagnac, where the Beast capture was received too
LFPG = (49.0097, 2.5478)
LFBO = (43.6293, 1.3638)
RECORDINGS = {
    "short_flights.csv": None,
    "sample_dump1090.bin": LFBO,
    "full_flight_takeoff.jsonl.gz": LFPG,
    "full_flight_landing.jsonl.gz": LFBO,
}
#: positions and tracks computed from the same integers by other float operations
TOL = 1e-9


def frames_of(name: str) -> list[RawFrame]:
    path = DATA / name
    if name.endswith(".bin"):
        return BeastParser().feed(path.read_bytes())
    if name.endswith(".csv"):
        return [RawFrame(float(t), f) for t, f in
                (ln.split(",") for ln in path.read_text(encoding="utf-8").splitlines())]
    return [RawFrame(float(r["timestamp"]), str(r["frame"])) for r in
            map(json.loads, gzip.decompress(path.read_bytes()).splitlines())]


def _eq(ref: object, ours: float, tol: float = 0.0) -> bool:
    if ref is None:
        return math.isnan(ours)
    assert isinstance(ref, int | float)
    return abs(ref - ours) <= tol


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_kernel_fields_equal_rs1090_on_the_recording(name: str) -> None:
    hexes = [f.frame for f in frames_of(name)]
    f = K.decode_fields(*K.rows_from_hex(hexes))
    ref = rs1090.decode(hexes)
    ok = np.flatnonzero(f.status == K.OK)
    # the kernel decodes nearly all the frames that are decoded at all
    assert len(ok) > 0.9 * (f.status != K.SKIP).sum()
    calls = K.callsign_text(f.chars)
    for i in ok.tolist():
        r, k = ref[i], int(f.kind[i])
        assert r is not None and r["icao24"] == f"{f.icao[i]:06x}", (i, r)
        if k in (K.AIR_POSITION, K.SURFACE):
            assert (r["lat_cpr"], r["lon_cpr"], r["parity"]) == (
                f.lat_cpr[i], f.lon_cpr[i], "odd" if f.odd[i] else "even")
        if k == K.AIR_POSITION:
            assert _eq(r.get("altitude"), f.alt_ft[i])
        if k == K.SURFACE:
            assert _eq(r.get("groundspeed"), f.gs_kt[i]) and _eq(r.get("track"), f.trk_deg[i])
        if k == K.VELOCITY:
            assert _eq(r["groundspeed"], f.gs_kt[i])
            assert _eq(r["track"], f.trk_deg[i], TOL)
            assert _eq(r.get("vertical_rate"), f.vs_fpm[i])
        if k == K.IDENTITY:
            assert r["callsign"].strip().rstrip("_#").strip() == calls[i]
        if k == K.ALTITUDE:
            assert _eq(r.get("altitude"), f.alt_ft[i])
        if k == K.SQUAWK:
            assert r["squawk"] == f"{f.squawk[i]:04o}"
    # frames whose parity fails are the ones rs1090 refuses
    assert all(ref[i] is None for i in np.flatnonzero(f.status == K.CRC).tolist())


def _airborne_view(u: StateUpdate) -> StateUpdate:
    """A ground update as the reference decoder gives it (no position, no velocity)."""
    if u.kind != "ground":
        return u
    return u._replace(lat=None, lon=None, gs_kt=None, trk_deg=None)


def _same_updates(a: list[StateUpdate], b: list[StateUpdate]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        # positions and tracks: the same integers through other float operations
        assert x._replace(lat=0.0, lon=0.0, trk_deg=0.0) == \
            y._replace(lat=0.0, lon=0.0, trk_deg=0.0), (x, y)
        for fld in ("lat", "lon", "trk_deg"):
            v, w = getattr(x, fld), getattr(y, fld)
            assert (v is None and w is None) or abs(v - w) <= TOL, (x, y)


@pytest.mark.parametrize("name", sorted(RECORDINGS))
@pytest.mark.parametrize("with_reference", [False, True])
def test_updates_equal_the_rs1090_reference_decoder(name: str,
                                                    with_reference: bool) -> None:
    frames = frames_of(name)
    ref = RECORDINGS[name] if with_reference else None
    s_ref, s_new = FeedStats(), FeedStats()
    expected = Rs1090Decoder(s_ref, ref).decode(frames)
    got = ModeSDecoder(s_new, ref).decode(frames)
    # the reference gives surface reports no position: compare the rest exactly
    _same_updates(expected, [_airborne_view(u) for u in got])
    assert s_ref.rejected == s_new.rejected and s_ref.updates == s_new.updates
    assert s_ref.read == s_new.read == len(frames)
    # chunked anywhere, the same
    d = ModeSDecoder(reference=ref)
    parts = [u for k in range(0, len(frames), 333) for u in d.decode(frames[k:k + 333])]
    assert parts == got


@pytest.mark.parametrize("name", ["full_flight_takeoff.jsonl.gz",
                                  "full_flight_landing.jsonl.gz"])
def test_surface_positions_equal_rs1090_position_decoding(name: str) -> None:
    """rs1090 decodes positions itself given times and a reference: each of our surface
    fixes equals its (the airport as the reference; Toulouse without one too, where the
    landing's airborne fixes place the surface)."""
    frames = frames_of(name)
    ref = RECORDINGS[name]
    assert ref is not None
    theirs = rs1090.decode([f.frame for f in frames], [f.t for f in frames], reference=ref)
    for reference in (ref, None):
        ups, idx = ModeSDecoder(reference=reference).decode_indexed(frames)
        ground = [(u, i) for u, i in zip(ups, idx, strict=True) if u.kind == "ground"]
        fixed = [(u, i) for u, i in ground if u.lat is not None]
        assert len(ground) == sum(1 for f in frames if int(f.frame[:2], 16) >> 3 == 17
                                  and 5 <= int(f.frame[8:10], 16) >> 3 <= 8)
        if reference is None and "takeoff" in name:
            # first heard taxiing, no receiver position: nothing to place the surface
            # reports by until the aircraft is airborne (then it is no longer on it)
            assert fixed == []
            continue
        assert len(fixed) > 0.9 * len(ground)
        for u, i in fixed:
            r = theirs[i]
            assert abs(u.lat - r["latitude"]) <= TOL and abs(u.lon - r["longitude"]) <= TOL
            assert u.gs_kt == r["groundspeed"] or (u.gs_kt is None and
                                                   r["groundspeed"] is None)
            assert u.alt_ft is None and u.vs_fpm is None
        # within the aerodrome: a few km from its reference point
        lat = np.array([u.lat for u, _ in fixed])
        lon = np.array([u.lon for u, _ in fixed])
        assert np.abs(lat - ref[0]).max() < 0.05 and np.abs(lon - ref[1]).max() < 0.05


def test_ground_updates_with_positions_stay_out_of_detection() -> None:
    """The picture takes a ground update's time, not its position: the landed aircraft
    leaves the snapshot at its first surface report and its taxi positions never move
    the track."""
    ups, _ = read_updates(DATA / "full_flight_landing.jsonl.gz")
    gnd = [u for u in ups if u.kind == "ground"]
    assert gnd and all(u.lat is not None for u in gnd[5:])
    t_gnd = gnd[0].t
    p = Picture(60.0)
    p.update_many(u for u in ups if u.t < t_gnd)
    assert len(p.snapshot(t_gnd)) == 1
    lat_air = float(p.column("lat")[0])
    p.update_many(u for u in ups if u.t >= t_gnd)
    assert len(p.snapshot(ups[-1].t)) == 0
    assert float(p.column("lat")[0]) == lat_air
    # the same through the picture's columnar batches (what the node feeds it)
    b = Picture(60.0)
    batch = StateBatch.of([u for u in ups if u.t < t_gnd])
    assert batch is not None
    b.update_batch(batch)
    assert len(b.snapshot(t_gnd)) == 1
    batch = StateBatch.of([u for u in ups if u.t >= t_gnd])
    assert batch is not None and batch.ground is not None and batch.ground.sum() == len(gnd)
    b.update_batch(batch)
    assert len(b.snapshot(ups[-1].t)) == 0 and float(b.column("lat")[0]) == lat_air


def test_workers_default_on_a_recording_dominated_by_one_aircraft(
        tmp_path: Path) -> None:
    """One aircraft sends 93 % of the frames (the flight, repeated in time, beside the
    Atlanta sample): the default decodes in this process (no worker process started)
    and gives what 2 workers give."""
    from benchmarks.ingest import build_busy, write_jsonl
    from skyaccord.ingest.feed import open_feed
    from skyaccord.ingest.parallel import auto_workers, frame_addresses

    feed = build_busy(3)
    address = frame_addresses([f for _, f in feed])
    share = np.unique(address, return_counts=True)[1].max() / len(feed)
    assert share > 0.9
    path = tmp_path / "busy.jsonl"
    write_jsonl(feed, path)
    children: set[str] = set()
    got = []
    for chunk in open_feed(path):
        children |= _children()
        got += chunk
    assert auto_workers() == 1 and children == set()
    two = [u for c in open_feed(path, workers=2) for u in c]
    assert two == got and len(got) > 0.9 * len(feed)


def _children() -> set[str]:
    """Ids of this process's child processes (Linux /proc)."""
    out: set[str] = set()
    for task in Path("/proc/self/task").iterdir():
        out |= set((task / "children").read_text().split())
    return out
