"""Real recordings from the ``traffic`` library's samples (tests/data/README.md): a
dump1090 Beast capture checked against CRC parity, rs1090 and pyModeS; gzip input; a
busy real traffic sample read as recorded and replayed against independent detection."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import rs1090
from pyproj import Geod

from skyaccord.errors import FeedError
from skyaccord.ingest import open_feed, read_updates
from skyaccord.ingest.modes import BeastParser
from skyaccord.ingest.replay import Alert, replay
from skyaccord.ingest.states import FeedStats, StateUpdate
from skyaccord.picture import Picture, default_rules
from skyaccord.protocol import default_accord
from skyaccord.tactical import conflict_records, detect
from skyaccord.tracks import Tracks

from .conftest import DATA, SAMPLE

BEAST = DATA / "sample_dump1090.bin"
#: the capture was received near Toulouse-Blagnac (traffic's own test decodes it with
#: the reference "LFBO"); aerodrome reference point, AIP France
LFBO = (43.6293, 1.3638)


def _crc24(body: bytes) -> int:
    """Mode S parity, bit by bit (ICAO Annex 10 Vol IV §3.1.2.3.3): kept separate from
    skyaccord's table-driven CRC so that the framing check does not use the code under
    test."""
    poly, reg = 0x1FFF409, 0
    for byte in body + b"\0\0\0":
        for k in range(7, -1, -1):
            reg = (reg << 1) | ((byte >> k) & 1)
            if reg & 0x1000000:
                reg ^= poly
    return reg


def _beast_frames_by_hand(data: bytes) -> list[str]:
    """The Mode S frames of a Beast stream, unescaped byte by byte without skyaccord's
    parser: ``0x1a``, a type (``'2'`` short, ``'3'`` long, ``'1'`` Mode A/C), a 6-byte
    timestamp, a signal byte and the frame, every ``0x1a`` inside doubled."""
    sizes = {0x31: 2, 0x32: 7, 0x33: 14}
    out, k = [], 0
    while k < len(data):
        assert data[k] == 0x1A, k
        kind = data[k + 1]
        k += 2
        body = bytearray()
        while len(body) < 7 + sizes[kind]:
            byte = data[k]
            k += 1
            if byte == 0x1A:
                assert data[k] == 0x1A, k  # an escaped 0x1a: the second one is dropped
                k += 1
            body.append(byte)
        if kind != 0x31:
            out.append(body[7:].hex())
    return out


def _beast_frames() -> list[tuple[float, str]]:
    stats = FeedStats()
    frames = list(BeastParser(stats=stats).feed(BEAST.read_bytes()))
    assert stats.total_rejected == 0
    return [(f.t, f.frame.lower()) for f in frames]


def _update_kinds_by_hand(frames: list[tuple[float, str]]) -> dict[str, int]:
    """How many updates of each kind the capture must give, read from the frames' bits
    (ICAO Annex 10 Vol IV: downlink format = the first 5 bits; an extended squitter's type
    code = the first 5 bits of its ME field, byte 4), without the decoder:

    * DF11 (all-call) and DF17 name their aircraft; other replies overlay the address on
      the parity, and count only once the aircraft has been named (``unknown address``);
    * altitude: DF0, DF4, DF16, DF20 (``bds20``: those whose MB field is a BDS 2,0
      identification, first byte 0x20);
    * identity: DF5, DF21 (squawk), DF17 type codes 1-4 (callsign) and 28 (emergency or
      priority status, with the squawk);
    * velocity: DF17 type code 19;
    * position: DF17 type codes 9-18, from the first frame at which both CPR formats (the
      F bit, bit 22 of ME) of that aircraft have been heard (a global decode needs a pair;
      the capture's pairs are seconds apart).
    """
    known: set[str] = set()
    formats: dict[str, set[int]] = {}
    kinds: dict[str, int] = {}

    def add(kind: str) -> None:
        kinds[kind] = kinds.get(kind, 0) + 1

    for _, f in frames:
        b = bytes.fromhex(f)
        df = b[0] >> 3
        if df in (11, 17):
            icao = f[2:8]
            known.add(icao)
        else:
            icao = f"{_crc24(b[:-3]) ^ int.from_bytes(b[-3:], 'big'):06x}"
            if icao not in known:
                add("unknown address")
                continue
        if df in (0, 4, 16, 20):
            add("altitude")
            if df == 20 and b[4] == 0x20:
                add("bds20")
        elif df in (5, 21):
            add("identity")
        elif df == 17:
            tc = b[4] >> 3
            if 1 <= tc <= 4 or tc == 28:
                add("identity")
            elif tc == 19:
                add("velocity")
            elif 9 <= tc <= 18:
                seen = formats.setdefault(icao, set())
                seen.add((b[6] >> 2) & 1)
                if len(seen) == 2:
                    add("position")
    return kinds


def test_beast_capture_update_kinds_by_hand() -> None:
    """The decoder's updates of each kind, and the replies it cannot attribute, number
    what a plain reading of the frames' format bits gives."""
    ours, stats = read_updates(BEAST)
    want = _update_kinds_by_hand(_beast_frames())
    got: dict[str, int] = {}
    for u in ours:
        got[u.kind] = got.get(u.kind, 0) + 1
    assert got == {k: v for k, v in want.items() if k not in ("bds20", "unknown address")}
    assert dict(stats.rejected) == {"unknown address": want["unknown address"]}
    assert all(want.get(k, 0) > 0 for k in ("altitude", "identity", "velocity", "position"))


def test_beast_capture_framing_against_parity() -> None:
    """Every frame of the real capture carries a valid parity: exact CRC for DF17, CRC
    overlaid with the interrogator code (< 128) for DF11 all-call replies, and for the
    replies that overlay the address, the address of an aircraft heard in DF11/17. An
    escaping or framing error would break all three."""
    frames = _beast_frames()
    # the frames are the ones a plain unescaping finds, in order (no count copied from
    # the program's output)
    assert [f for _, f in frames] == _beast_frames_by_hand(BEAST.read_bytes())
    times = [t for t, _ in frames]
    assert times == sorted(times) and 23.0 < times[-1] - times[0] < 25.0
    addresses: set[str] = set()
    overlaid = []
    for _, f in frames:
        b = bytes.fromhex(f)
        df = b[0] >> 3
        parity = int.from_bytes(b[-3:], "big")
        if df == 17:
            assert _crc24(b[:-3]) == parity, f
            addresses.add(f[2:8])
        elif df == 11:
            assert _crc24(b[:-3]) ^ parity < 128, f
            addresses.add(f[2:8])
        else:
            overlaid.append(f"{_crc24(b[:-3]) ^ parity:06x}")
    # two aircraft heard throughout, two others in a single all-call reply each
    assert addresses == {"3981e4", "48520a", "44ce69", "440062"}
    assert set(overlaid) <= addresses and overlaid


def test_beast_capture_positions_equal_rs1090() -> None:
    """Our CPR state over the Beast reader vs rs1090's own batch position decoding."""
    ours, stats = read_updates(BEAST)
    frames = _beast_frames()
    ref = rs1090.decode([f for _, f in frames], [t for t, _ in frames])
    # rs1090's messages as plain dicts: its TypedDicts tell the position keys per kind
    theirs: dict[tuple[Any, Any], dict[str, Any]] = {
        (m["timestamp"], m["icao24"]): cast(dict[str, Any], m) for m in ref
        if "latitude" in m}
    pos = {(u.t, u.icao24): u for u in ours if u.kind == "position"}
    assert stats.read == len(_beast_frames_by_hand(BEAST.read_bytes()))
    # six DF0/4/5 replies of 3981e4 come before its first DF11: not yet attributable
    assert dict(stats.rejected) == {"unknown address": 6}
    assert len(pos) == 3 and set(pos) == set(theirs)
    for key, u in pos.items():
        assert u.lat == pytest.approx(theirs[key]["latitude"], abs=1e-9)
        assert u.lon == pytest.approx(theirs[key]["longitude"], abs=1e-9)
        assert u.alt_ft == theirs[key]["altitude"] == 38000
    # east-north-east of the receiver, ~11 km: a plausible fix for a ground station
    assert all(43.6 < (u.lat or 0) < 43.7 and 1.2 < (u.lon or 0) < 1.25
               for u in pos.values())


def test_beast_capture_against_pymodes() -> None:
    """Second decoder (pyModeS, GPL: an optional test dependency only): every
    position, velocity, altitude, squawk and callsign we decode from the capture."""
    pms = pytest.importorskip("pyModeS", reason="pyModeS (GPL-3, extra 'crosscheck') "
                              "is the optional second decoder")
    ours, _ = read_updates(BEAST)
    by_time = {t: f for t, f in _beast_frames()}
    seen: dict[str, int] = {}
    for u in ours:
        m = pms.decode(by_time[u.t], reference=LFBO)
        assert m["icao"].lower() == u.icao24
        if u.kind == "position":
            assert u.lat == pytest.approx(m["latitude"], abs=1e-6)
            assert u.lon == pytest.approx(m["longitude"], abs=1e-6)
            assert u.alt_ft == m["altitude"]
        elif u.kind == "velocity":
            assert u.gs_kt == pytest.approx(m["groundspeed"], abs=1.0)
            assert u.trk_deg == pytest.approx(m["track"], abs=0.01)
            assert u.vs_fpm == m["vertical_rate"]
        elif u.kind == "altitude":
            assert u.alt_ft == m["altitude"]
            if m.get("bds") == "2,0":  # Comm-B identification in a DF20 reply
                assert u.callsign == m["callsign"].strip("_ ")
                seen["bds20"] = seen.get("bds20", 0) + 1
        elif u.kind == "identity":
            if "callsign" in m:
                assert u.callsign == m["callsign"].strip("_ ")
            else:
                assert u.squawk == m["squawk"]
        seen[u.kind] = seen.get(u.kind, 0) + 1
    want = _update_kinds_by_hand(_beast_frames())
    assert seen == {k: v for k, v in want.items() if k != "unknown address"}
    assert seen["bds20"] >= 1
    # 3981e4 sends no ADS-B: its callsign comes only from Comm-B (BDS 2,0)
    assert {(u.icao24, u.callsign) for u in ours if u.callsign} == {
        ("48520a", "TRA89M"), ("3981e4", "TJT62CB")}


def test_comm_b_identification_gives_the_callsign() -> None:
    """Found on the real capture: 3981e4 (FL250, squawk 1000) has no ADS-B; its
    callsign is in one DF20 reply (BDS 2,0), which rs1090, pyModeS and dump1090 all
    decode as TJT62CB. Later reports of the aircraft carry it."""
    ours, _ = read_updates(BEAST)
    mine = [u for u in ours if u.icao24 == "3981e4"]
    first = next(k for k, u in enumerate(mine) if u.callsign)
    assert mine[first].t == pytest.approx(52.811998)
    assert all(u.callsign == "TJT62CB" for u in mine[first:])
    assert not any(u.callsign for u in mine[:first])


SBS = DATA / "sample_dump1090.sbs"


def test_dump1090_sbs_output_agrees_with_our_beast_decoding() -> None:
    """The SBS-1 lines dump1090 (dump1090-mutability 1.15, Debian 12) wrote when fed the
    real Beast capture: our SBS reader takes every line, and dump1090's own decoding
    (positions to 5 decimals, altitudes, squawks, callsigns, speeds) equals ours from
    the Beast frames."""
    sbs, stats = read_updates(SBS)
    beast, _ = read_updates(BEAST)
    # every line of dump1090's file is an SBS "MSG" record
    lines = SBS.read_text(encoding="utf-8").splitlines()
    assert all(line.startswith("MSG,") for line in lines)
    assert stats.read == len(lines) and stats.total_rejected == 0
    kinds = _update_kinds_by_hand(_beast_frames())

    def pos(ups: list[StateUpdate]) -> list[tuple[str, float, float, float | None]]:
        return [(u.icao24, round(u.lat, 5), round(u.lon, 5), u.alt_ft) for u in ups
                if u.lat is not None and u.lon is not None]

    assert pos(sbs) == pos(beast) and len(pos(sbs)) == kinds["position"]
    alt = [(u.icao24, u.alt_ft) for u in sbs if u.kind == "altitude"]
    assert alt == [(u.icao24, u.alt_ft) for u in beast if u.kind == "altitude"]
    assert len(alt) == kinds["altitude"]

    def idents(ups: list[StateUpdate]) -> set[tuple[str, str | None, str | None]]:
        return {(u.icao24, u.callsign, u.squawk) for u in ups if u.callsign or u.squawk}

    assert {(i, s) for i, _, s in idents(sbs) if s} == {(i, s) for i, _, s in
                                                      idents(beast) if s}
    assert {(i, c) for i, c, _ in idents(sbs) if c} == {(i, c) for i, c, _ in
                                                      idents(beast) if c}
    vs = [u for u in sbs if u.kind == "velocity"]
    vb = [u for u in beast if u.kind == "velocity"]
    assert len(vs) == len(vb) == kinds["velocity"]
    for a, b in zip(vs, vb, strict=True):
        assert a.gs_kt == round(b.gs_kt or 0) and a.vs_fpm == b.vs_fpm
        # dump1090 writes 355 deg where rs1090, pyModeS and the formula (components
        # W 43, N 393 kt) give 353.76 deg from the same frames; not traced further, so
        # only the difference is bounded
        assert abs((a.trk_deg or 0) - (b.trk_deg or 0)) < 1.5


def test_gzip_files_read_like_plain_ones(tmp_path: Path) -> None:
    """``.gz`` recordings (as traffic ships its samples) read transparently, in every
    format path: text frames, Beast, and a truncated archive is a FeedError."""
    for src in (SAMPLE, BEAST):
        packed = tmp_path / (src.name + ".gz")
        packed.write_bytes(gzip.compress(src.read_bytes()))
        got, stats = read_updates(packed)
        want, want_stats = read_updates(src)
        assert [u._replace(source="") for u in got] == [
            u._replace(source="") for u in want]
        assert (stats.read, stats.rejected) == (want_stats.read, want_stats.rejected)
        assert len(got) > 100
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(gzip.compress(SAMPLE.read_bytes())[:2000])
    with pytest.raises(FeedError, match="cannot read"):
        read_updates(bad)


# ----------------------------------------------------------------------------- busy

BUSY = DATA / "quickstart_paris_10min.json.gz"
BUSY_STEP = 2.0
BUSY_AGE = 60.0


def _busy_records() -> list[dict[str, Any]]:
    """The sample's records with the standard json module, in time order."""
    recs: list[dict[str, Any]] = json.loads(gzip.decompress(BUSY.read_bytes()))
    return sorted(recs, key=lambda r: r["timestamp"])


def test_traffic_reader_gives_the_recorded_values() -> None:
    """Every record of the real traffic sample, through the reader, carries the values
    written in the file (ft, kt, deg, ft/min: traffic's own units); on-ground rows
    become ``ground`` updates."""
    recs = _busy_records()
    ups, stats = read_updates(BUSY)
    assert stats.read == len(recs) == 16307 and stats.total_rejected == 0  # as shipped
    assert len(ups) == len(recs)
    for r, u in zip(recs, ups, strict=True):
        assert (u.t, u.icao24, u.callsign, u.squawk) == (
            r["timestamp"] / 1000, r["icao24"], r["callsign"], r["squawk"])
        assert (u.lat, u.lon, u.alt_ft) == (r["latitude"], r["longitude"], r["altitude"])
        assert (u.gs_kt, u.trk_deg, u.vs_fpm) == (
            r["groundspeed"], r["track"], r["vertical_rate"])
        assert u.kind == ("ground" if r["onground"] else "state")
    # the file's distinct addresses and on-ground rows, counted in the raw JSON
    assert len({u.icao24 for u in ups}) == len({r["icao24"] for r in recs}) > 30
    assert sum(u.kind == "ground" for u in ups) == sum(bool(r["onground"]) for r in recs) > 0


def _independent_snapshot(track: dict[str, dict[str, Any]], t: float) -> Tracks:
    """Each aircraft's last airborne position and velocity, extrapolated on the WGS84
    ellipsoid with pyproj (the picture uses its own flat step), built from the raw
    records without skyaccord's reader or picture."""
    geod = Geod(ellps="WGS84")
    rules = default_rules()
    rows = []
    for icao, s in track.items():
        if "t_pos" not in s or "gs" not in s or "alt" not in s:
            continue
        if t - s["t_seen"] > BUSY_AGE or t - s["t_pos"] > BUSY_AGE:
            continue
        if s.get("t_gnd", -math.inf) >= s["t_pos"]:
            continue  # on the ground since its last airborne position
        dt = t - s["t_pos"]
        lon, lat, _ = geod.fwd(s["lon"], s["lat"], s["trk"], s["gs"] * 1852 / 3600 * dt)
        party, cls = rules.assign(icao, s.get("callsign"), s.get("squawk"))
        rows.append((icao, party, cls, lat, lon, s["alt"] + s["vs"] / 60 * dt, s["gs"],
                     s["trk"] % 360, s["vs"]))
    return Tracks.from_rows(rows) if rows else Tracks.empty()


def test_busy_real_replay_equals_detection_on_snapshots() -> None:
    """Ten minutes of real traffic around Paris (39 aircraft, OpenSky data shipped with
    traffic), the default accord (5 NM / 1,000 ft): the replay's alerts equal
    ``detect`` run tick by tick on snapshots built independently from the records."""
    accord = default_accord()
    alerts = list(replay(open_feed(BUSY), accord, picture=Picture(BUSY_AGE),
                         step_s=BUSY_STEP))
    recs = _busy_records()
    # every aircraft reports each second: no track goes stale and comes back
    assert max(b["timestamp"] - a["timestamp"] for a, b in itertools.pairwise(
        sorted(recs, key=lambda r: (r["icao24"], r["timestamp"])))
        if a["icao24"] == b["icao24"]) == 1000
    rank = {"none": 0, **{lv.name: k + 1 for k, lv in enumerate(accord.levels)}}
    track: dict[str, dict[str, Any]] = {}
    expected: list[Alert] = []
    before: dict[tuple[str, str], int] = {}
    tick = math.ceil(recs[0]["timestamp"] / 1000 / BUSY_STEP) * BUSY_STEP
    k = 0
    pairs_max = 0
    while True:
        while k < len(recs) and recs[k]["timestamp"] / 1000 <= tick:
            r = recs[k]
            k += 1
            s = track.setdefault(r["icao24"], {})
            t = r["timestamp"] / 1000
            s["t_seen"] = t
            s["callsign"] = r["callsign"] or s.get("callsign")
            s["squawk"] = r["squawk"] or s.get("squawk")
            if r["onground"]:
                s["t_gnd"] = t
                continue
            s.update(t_pos=t, lat=r["latitude"], lon=r["longitude"])
            if r["altitude"] is not None:
                s["alt"] = r["altitude"]
            if r["groundspeed"] is not None and r["track"] is not None:
                s.update(gs=r["groundspeed"], trk=r["track"], vs=r["vertical_rate"] or 0.0)
        snap = _independent_snapshot(track, tick)
        now = {}
        for c in conflict_records(snap, detect(snap, accord), accord):
            now[(c.id1, c.id2)] = rank[c.level]
            if (c.id1, c.id2) not in before or before[(c.id1, c.id2)] < rank[c.level]:
                expected.append(Alert(tick, c.id1, c.id2, c.t_in_s, c.level))
        pairs_max = max(pairs_max, len(now))
        before = now
        if k == len(recs):
            break
        tick += BUSY_STEP
    # genuine alerts under the default minima: real approach streams into CDG and Orly
    assert len(expected) >= 100 and pairs_max >= 5
    assert any(a.t_in_s == 0.0 for a in expected)  # losses of separation, not only CPAs
    assert [(a.t, a.id1, a.id2, a.level) for a in alerts] == [
        (a.t, a.id1, a.id2, a.level) for a in expected]
    assert np.allclose([a.t_in_s for a in alerts], [a.t_in_s for a in expected],
                       atol=0.05)


# ----------------------------------------------------------------------------- one flight

TAKEOFF = DATA / "full_flight_takeoff.jsonl.gz"
LANDING = DATA / "full_flight_landing.jsonl.gz"


@pytest.mark.parametrize(("path", "lines", "unfixed", "fixed", "surface"), [
    (TAKEOFF, 2500, 6, 169, 264), (LANDING, 2000, 2, 282, 147)])
def test_flight_against_the_fields_published_with_the_sample(
        path: Path, lines: int, unfixed: int, fixed: int, surface: int) -> None:
    """rs1090/jet1090 JSON lines of a real flight (393322, CDG to Toulouse): each line
    carries the frame and the fields jet1090 decoded from it. Our positions (own CPR
    state) equal the published ones; altitudes, squawks and callsigns too; surface
    position frames become ``ground`` updates."""
    recs = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    ups, stats = read_updates(path)
    assert stats.read == len(recs) == lines and stats.total_rejected == 0
    by_t: dict[float, list[dict[str, Any]]] = {}
    for r in recs:  # a frame heard twice at one time appears on two lines
        by_t.setdefault(r["timestamp"], []).append(r)
    pub = {r["timestamp"]: r for r in recs if r.get("bds") == "05" and "latitude" in r}
    ours = {u.t: u for u in ups if u.kind == "position"}
    # jet1090 fixes the first airborne frames of each file locally (from the surface
    # fix, or the flight before the cut); we wait for an even/odd pair, then agree on
    # every frame
    assert set(ours) <= set(pub) and len(pub) - len(ours) == unfixed
    assert len(ours) == fixed
    for t, u in ours.items():
        assert u.lat == pytest.approx(pub[t]["latitude"], abs=1e-9)
        assert u.lon == pytest.approx(pub[t]["longitude"], abs=1e-9)
        assert u.alt_ft == pub[t]["altitude"]
    n = {"altitude": 0, "ground": 0, "squawk": 0, "callsign": 0}
    for u in ups:
        rs = by_t[u.t]
        if u.kind == "altitude":
            assert any(u.alt_ft == r.get("altitude") for r in rs)
            n["altitude"] += 1
        elif u.kind == "ground":
            assert any(r.get("bds") == "06" for r in rs)
            n["ground"] += 1
        elif u.kind == "identity" and any("squawk" in r for r in rs):
            assert any(u.squawk == r.get("squawk") for r in rs)
            n["squawk"] += 1
        elif u.kind == "identity":
            assert any(u.callsign == str(r.get("callsign")).strip("_ ") for r in rs)
            n["callsign"] += 1
    assert n["ground"] == surface == sum(r.get("bds") == "06" for r in recs)
    assert min(n.values()) > 10


def test_takeoff_enters_detection_only_when_airborne() -> None:
    """The picture leaves 393322 out while it taxies, and takes it in from its first
    airborne position with a velocity."""
    ups, _ = read_updates(TAKEOFF)
    t_air = min(u.t for u in ups if u.kind == "position")
    assert max(u.t for u in ups if u.kind == "ground") < t_air
    p = Picture(60.0)
    for u in ups:
        p.update(u)
        if u.t < t_air:
            assert len(p.snapshot(u.t)) == 0
    snap = p.snapshot(ups[-1].t)
    assert snap.id.tolist() == ["393322"] and float(snap.alt_ft[0]) > 3000.0


def test_landing_leaves_detection_at_the_first_surface_position() -> None:
    """On landing at Toulouse the aircraft stops sending airborne positions and
    velocities and sends surface positions: it leaves the snapshot at the first one,
    instead of flying on, extrapolated, for ``max_age_s``."""
    ups, _ = read_updates(LANDING)
    t_gnd = min(u.t for u in ups if u.kind == "ground")
    assert max(u.t for u in ups if u.kind == "position") < t_gnd
    p = Picture(60.0)
    p.update_many(u for u in ups if u.t < t_gnd)
    assert p.snapshot(t_gnd).id.tolist() == ["393322"]
    p.update_many(u for u in ups if u.t == t_gnd)
    assert len(p.snapshot(t_gnd)) == 0
    p.update_many(u for u in ups if u.t > t_gnd)
    assert all(u.kind != "position" for u in ups if u.t > t_gnd)
    assert len(p.snapshot(ups[-1].t)) == 0
