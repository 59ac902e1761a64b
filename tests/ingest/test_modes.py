"""Raw Mode S decoding: CPR against published figures, the real sample against two other
decoders (rs1090's own positions, pyModeS when installed), bad frames counted."""

from __future__ import annotations

import json
import math
import random

import pytest
import rs1090
from hypothesis import given, settings
from hypothesis import strategies as st

from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.modes import (
    BeastParser,
    RawFrame,
    cpr_global,
    cpr_local,
    cpr_nl,
    crc24,
    frames_from_lines,
    parse_frame_line,
)
from skyaccord.ingest.states import FeedStats, StateUpdate

from .conftest import ATLANTA, beast_frame, readdress

# Published worked examples, Sun, "The 1090 MHz Riddle" (2nd ed.), ch. 5 and 6.
EVEN = "8D40621D58C382D690C8AC2863A7"
ODD = "8D40621D58C386435CC412692AD6"
VELOCITY = "8D485020994409940838175B284F"  # 159.20 kt, 182.88 deg, -832 ft/min
IDENT = "8D4840D6202CC371C32CE0576098"  # KLM1023


def _frames(sample: list[tuple[float, str]]) -> list[RawFrame]:
    return [RawFrame(t, f, f"line {i}") for i, (t, f) in enumerate(sample, 1)]


def test_cpr_published_examples() -> None:
    lat, lon = cpr_global(93000, 51372, 74158, 50194, odd_is_newer=False)
    assert (round(lat, 5), round(lon, 5)) == (52.25720, 3.91937)
    lat, lon = cpr_global(93000, 51372, 74158, 50194, odd_is_newer=True)
    assert (round(lat, 5), round(lon, 5)) == (52.26578, 3.93891)
    lat, lon = cpr_local(93000, 51372, False, 52.258, 3.918)
    assert (round(lat, 5), round(lon, 5)) == (52.25720, 3.91937)


def _nl_formula(lat: float) -> int:
    nz = 15
    return math.floor(2 * math.pi / math.acos(
        1 - (1 - math.cos(math.pi / (2 * nz))) / math.cos(math.pi / 180 * abs(lat)) ** 2))


def test_nl_zone_edges() -> None:
    # transition latitudes of the NL table (ICAO Doc 9871, Table C-7)
    assert cpr_nl(10.47047129) == 59 and cpr_nl(10.47047131) == 58
    assert cpr_nl(86.9) == 2 and cpr_nl(87.0) == 2 and cpr_nl(87.01) == 1
    assert cpr_nl(-10.47047131) == 58 and cpr_nl(0.0) == 59


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-86.9, 86.9), lon=st.floats(-179.99, 179.99), odd=st.booleans())
def test_cpr_encode_then_local_and_global_decode(lat: float, lon: float, odd: bool) -> None:
    """Encode a position with the CPR formulas (Doc 9871 C.2.6.7), decode it back."""
    def encode(i: int) -> tuple[int, int]:
        dlat = 360.0 / (60 - i)
        yz = math.floor(2**17 * (lat % dlat) / dlat + 0.5)
        rlat = dlat * (yz / 2**17 + math.floor(lat / dlat))
        nl = _nl_formula(rlat) if abs(rlat) < 87 else 1
        dlon = 360.0 / max(nl - i, 1)
        xz = math.floor(2**17 * (lon % dlon) / dlon + 0.5)
        return yz % 2**17, xz % 2**17

    (ye, xe), (yo, xo) = encode(0), encode(1)
    if _nl_formula(lat) != _nl_formula(lat + 0.01) or _nl_formula(lat) != _nl_formula(
            lat - 0.01):
        return  # pairs straddling a zone edge have no global fix, by design
    fix = cpr_global(ye, xe, yo, xo, odd_is_newer=odd)
    assert fix is not None
    tol = 360.0 / 60 / 2**17 * 2  # two quantisation steps (~5 m in latitude)
    assert abs(fix[0] - lat) < tol
    assert abs((fix[1] - lon + 180) % 360 - 180) < tol / max(math.cos(math.radians(lat)), 0.05)
    loc = cpr_local(*(encode(1) if odd else encode(0)), odd, lat + 0.3, lon - 0.3)
    assert abs(loc[0] - lat) < tol
    assert abs((loc[1] - lon + 180) % 360 - 180) < tol / max(math.cos(math.radians(lat)), 0.05)


def test_decoder_on_published_frames() -> None:
    d = ModeSDecoder()
    out = d.decode([RawFrame(0.0, IDENT), RawFrame(1.0, ODD), RawFrame(2.0, EVEN),
                    RawFrame(3.0, VELOCITY)])
    kinds = [(u.icao24, u.kind) for u in out]
    assert kinds == [("4840d6", "identity"), ("40621d", "position"), ("485020", "velocity")]
    assert out[0].callsign == "KLM1023"
    pos = out[1]
    assert (round(pos.lat or 0, 5), round(pos.lon or 0, 5), pos.alt_ft) == (
        52.25720, 3.91937, 38000.0)
    vel = out[2]
    assert vel.gs_kt == pytest.approx(159.20, abs=0.01)
    assert vel.trk_deg == pytest.approx(182.88, abs=0.01)
    assert vel.vs_fpm == -832.0


def test_real_sample_positions_equal_rs1090_global_decoding(sample) -> None:
    """Our CPR state machine vs rs1090's own (independent) position decoding."""
    stats = FeedStats()
    d = ModeSDecoder(stats)
    ours = {(u.t, u.icao24): u for u in d.decode(_frames(sample)) if u.kind == "position"}
    ref = rs1090.decode([f for _, f in sample], [t for t, _ in sample])
    theirs = {(m["timestamp"], m["icao24"]): m for m in ref if "latitude" in m}
    assert stats.total_rejected == 0
    assert len(ours) >= 100
    assert set(ours) == set(theirs)
    for key, u in ours.items():
        assert u.lat == pytest.approx(theirs[key]["latitude"], abs=1e-9)
        assert u.lon == pytest.approx(theirs[key]["longitude"], abs=1e-9)
        assert u.alt_ft == theirs[key]["altitude"]


def test_real_sample_against_pymodes(sample) -> None:
    """Second decoder (pyModeS, GPL: an optional test dependency only)."""
    pms = pytest.importorskip("pyModeS")
    d = ModeSDecoder()
    ups = d.decode(_frames(sample))
    frames = {(t, f[2:8].lower()): f for t, f in sample}
    n_pos = n_vel = 0
    for u in ups:
        frame = frames[(u.t, u.icao24)]
        if u.kind == "position":
            m = pms.decode(frame, reference=ATLANTA)
            assert u.lat == pytest.approx(m["latitude"], abs=1e-6)
            assert u.lon == pytest.approx(m["longitude"], abs=1e-6)
            assert u.alt_ft == m["altitude"]
            n_pos += 1
        elif u.kind == "velocity":
            m = pms.decode(frame)
            assert u.gs_kt == pytest.approx(m["groundspeed"], abs=1.0)
            assert u.trk_deg == pytest.approx(m["track"], abs=0.01)
            assert u.vs_fpm == m["vertical_rate"]
            n_vel += 1
        elif u.kind == "identity":
            m = pms.decode(frame)
            if "callsign" in m:
                assert u.callsign == m["callsign"].strip("_ ")
            else:
                assert u.squawk == m["squawk"]
    assert n_pos >= 100 and n_vel >= 100


@pytest.mark.parametrize("size", [1, 7, 100])
def test_chunking_does_not_change_the_output(sample, size: int) -> None:
    whole = ModeSDecoder().decode(_frames(sample))
    d = ModeSDecoder()
    frames = _frames(sample)
    parts: list[StateUpdate] = []
    for i in range(0, len(frames), size):
        parts.extend(d.decode(frames[i:i + size]))
    assert parts == whole


def test_bad_frames_are_counted_not_fatal(sample) -> None:
    frames = _frames(sample[:60])
    good = frames[10].frame
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    bad = [
        RawFrame(frames[5].t, "zz" + good[2:], "bad hex"),
        RawFrame(frames[5].t, good[:20], "short"),
        RawFrame(frames[5].t, flipped, "flipped"),
        RawFrame(frames[5].t - 30.0, good, "backwards"),
        RawFrame(frames[5].t, "20001838CA3E51", "df4 of an unknown aircraft"),
    ]
    stats = FeedStats()
    d = ModeSDecoder(stats)
    out = d.decode(frames[:6] + bad + frames[6:])
    clean = ModeSDecoder().decode(frames)
    assert out == clean  # nothing lost, nothing spurious
    assert dict(stats.rejected) == {"not hex": 1, "bad length": 1, "crc": 1,
                                    "time backwards": 1, "unknown address": 1}
    assert "flipped" in stats.examples["crc"]
    assert stats.read == len(frames) + len(bad)


def test_rs1090_panic_on_junk_never_escapes() -> None:
    assert ModeSDecoder._rs1090(["zz" * 14, "8D4840D6202CC371C32CE0576098"], 4096)[0] \
        is None


def test_position_jump_is_refused(sample) -> None:
    """Another aircraft's position frames re-addressed to a tracked aircraft: the
    implied speed (tens of km in a second) is impossible."""
    d = ModeSDecoder()
    frames = _frames(sample)
    out = d.decode(frames[:40])
    a = next(u for u in out if u.kind == "position")
    pos_a = [u for u in out if u.kind == "position" and u.icao24 == a.icao24][-1]
    other = [f for f in frames[40:] if f.frame[2:8].lower() != a.icao24
             and (int(f.frame[8:10], 16) >> 3) in range(9, 19)]
    far = None
    for f in other:
        probe = ModeSDecoder(reference=ATLANTA).decode([f])
        if probe and probe[0].lat is not None and abs(probe[0].lat - (pos_a.lat or 0)) > 0.2:
            far = f
            break
    assert far is not None
    stats = d.stats
    t = pos_a.t + 1.0
    assert d.decode([RawFrame(t, readdress(far.frame, a.icao24), "spoof")]) == []
    assert stats.rejected["position jump"] == 1


def test_text_and_json_lines() -> None:
    assert parse_frame_line("1.5 8d4840d6202cc371c32ce0576098") == (
        1.5, "8d4840d6202cc371c32ce0576098")
    assert parse_frame_line("not a frame") is None
    assert parse_frame_line('{"timestamp": "x", "frame": 1}') is None
    stats = FeedStats()
    lines = [json.dumps({"timestamp": 1.0, "frame": IDENT}), "garbage here now",
             "", "*" + IDENT + ";"]
    frames = list(frames_from_lines(lines, stats, "f"))
    assert [f.t for f in frames] == [1.0]
    assert stats.rejected["bad line"] == 2  # the garbage and the AVR line without a clock
    assert "f line 2" in stats.examples["bad line"]
    frames = list(frames_from_lines(lines[3:], FeedStats(), "f", clock=lambda: 9.0))
    assert frames == [RawFrame(9.0, IDENT, "f line", 1)]


def test_beast_stream_split_anywhere_with_escapes_and_garbage(sample) -> None:
    frames = [f for _, f in sample[:80]]
    # counters that contain 0x1a bytes exercise the escaping
    counters = [0x1A1A00000000 + 12_000_000 * i for i in range(len(frames))]
    records = [beast_frame(f, c) for f, c in zip(frames, counters, strict=True)]
    assert any(b"\x1a\x1a" in r for r in records)
    # Mode A/C record (skipped) and junk bytes (resync) in the middle
    blob = b"".join(records[:40]) + b"\x1a1" + b"\x00" * 9 + b"\xff\xfe" + b"".join(
        records[40:])
    rng = random.Random(7)
    stats = FeedStats()
    p = BeastParser(t0=100.0, stats=stats)
    got: list[RawFrame] = []
    i = 0
    while i < len(blob):
        step = rng.randint(1, 40)
        got.extend(p.feed(blob[i:i + step]))
        i += step
    assert [f.frame.upper() for f in got] == frames
    assert [f.t for f in got] == pytest.approx([100.0 + c / 12e6 for c in counters])
    assert stats.rejected["beast resync"] >= 1


def test_crc_matches_transmitted_parity(sample) -> None:
    for _, f in sample:
        b = bytes.fromhex(f)
        assert crc24(b[:-3]) == int.from_bytes(b[-3:], "big")


def _encode_cpr(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """CPR words of an airborne position (ICAO Doc 9871 C.2.6.7), written for the tests."""
    i = 1 if odd else 0
    dlat = 360.0 / (60 - i)
    yz = math.floor(2**17 * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / 2**17 + math.floor(lat / dlat))
    dlon = 360.0 / max(_nl_formula(rlat) - i, 1)
    xz = math.floor(2**17 * (lon % dlon) / dlon + 0.5)
    return yz % 2**17, xz % 2**17


def _with_position(frame: str, lat: float, lon: float, odd: bool) -> str:
    """A real DF17 airborne-position frame moved to (lat, lon) with parity ``odd``."""
    v = int(frame, 16) >> 24  # the 88 bits before the parity; ME is the low 56
    yz, xz = _encode_cpr(lat, lon, odd)
    m17 = (1 << 17) - 1
    v = (v & ~((1 << 34) | (m17 << 17) | m17)) | (int(odd) << 34) | (yz << 17) | xz
    body = v.to_bytes(11, "big")
    return (body + crc24(body).to_bytes(3, "big")).hex()


def test_remaining_refusal_reasons(sample) -> None:
    """``cpr no fix``, ``undecodable`` and ``impossible altitude`` (the other reasons are
    covered above and in test_formats / test_tcp)."""
    from skyaccord.ingest.formats import read_sbs

    pos = next(f for _, f in sample if (int(f[8:10], 16) >> 3) in range(9, 19))
    # an even/odd pair either side of the NL 59/58 zone edge (10.47047 deg): no fix
    even = _with_position(pos, 10.4700, 20.0, odd=False)
    odd = _with_position(pos, 10.4710, 20.0, odd=True)
    ok_even = _with_position(pos, 35.0, 36.0, odd=False)
    ok_odd = _with_position(pos, 35.001, 36.0, odd=True)
    stats = FeedStats()
    d = ModeSDecoder(stats)
    assert d.decode([RawFrame(0.0, even), RawFrame(1.0, odd)]) == []
    assert stats.rejected["cpr no fix"] == 1
    fix = ModeSDecoder().decode([RawFrame(0.0, ok_even), RawFrame(1.0, ok_odd)])
    assert fix[0].lat == pytest.approx(35.001, abs=1e-4)
    assert fix[0].lon == pytest.approx(36.0, abs=1e-4)
    # a 112-bit frame of a downlink format that carries nothing (DF1): undecodable
    body = bytes([1 << 3]) + bytes(10)
    d.decode([RawFrame(2.0, (body + crc24(body).to_bytes(3, "big")).hex())])
    assert stats.rejected["undecodable"] == 1
    line = ("MSG,3,1,1,4CA2D6,1,2015/10/20,12:00:00.000,2015/10/20,12:00:00.000,,"
            "300000,,,34.5,36.25,,,0,0,0,0")
    s2 = FeedStats()
    assert list(read_sbs([line], s2)) == []
    assert dict(s2.rejected) == {"impossible altitude": 1}


def test_military_extended_squitter_df19(sample) -> None:
    """DF19 AF=0 frames (military ADS-B, DF17 layout) decode like their DF17 twins; a
    corrupt one is a CRC failure."""
    def as_df19(frame: str) -> str:
        body = bytes([19 << 3]) + bytes.fromhex(frame)[1:11]
        return (body + crc24(body).to_bytes(3, "big")).hex().upper()

    frames = _frames(sample[:120])
    mil = [f._replace(frame=as_df19(f.frame)) for f in frames]
    assert all(f.frame.startswith("98") for f in mil)
    assert ModeSDecoder().decode(mil) == ModeSDecoder().decode(frames)
    stats = FeedStats()
    bad = mil[3].frame[:-1] + ("0" if mil[3].frame[-1] != "0" else "1")
    assert ModeSDecoder(stats).decode([mil[3]._replace(frame=bad)]) == []
    assert dict(stats.rejected) == {"crc": 1}
