"""The numpy field kernel against rs1090 (the reference), field by field: every altitude
and identity code exhaustively, every surface movement code, random velocities and
callsigns, the published worked examples, and the parity check."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import rs1090

from skyaccord.ingest import kernel as K

from .test_recordings import _crc24

#: velocity track: the kernel takes atan2 in degrees as numpy computes it; rs1090's
#: differs in the last bit or so (a tolerance far below any use)
TRACK_TOL_DEG = 1e-9


def _short(df: int, code13: int) -> str:
    """A 56-bit DF0/4/5 reply with the 13-bit field ``code13`` in bits 20-32."""
    return f"{(df << 51) | (code13 << 24) | 0x3C6DD1:014x}"


def _es(me: int, icao: int = 0x4840D6, df: int = 17) -> str:
    """A DF17 frame with the 56-bit ME field ``me`` and a correct parity (computed by the
    bit-wise CRC of test_recordings, not the code under test)."""
    body = (((df << 3) | 5) << 80 | icao << 56 | me).to_bytes(11, "big")
    return (body + _crc24(body).to_bytes(3, "big")).hex()


def _fields(frames: list[str]) -> K.Fields:
    return K.decode_fields(*K.rows_from_hex(frames))


def _same(a: object, b: float) -> bool:
    return (a is None and math.isnan(b)) or a == b


@pytest.mark.parametrize("df", [0, 4])
def test_every_altitude_code_equals_rs1090(df: int) -> None:
    frames = [_short(df, c) for c in range(1 << 13)]
    f = _fields(frames)
    ref = rs1090.decode(frames)
    ok = np.flatnonzero(f.status == K.OK)
    # the M bit (metric) and Gillham codes below 0 ft go to rs1090: 4096 + 12 codes
    assert len(ok) == (1 << 13) - (1 << 12) - 12
    for i in ok.tolist():
        assert f.kind[i] == K.ALTITUDE
        assert f"{f.icao[i]:06x}" == ref[i]["icao24"]
        assert _same(ref[i]["altitude"], f.alt_ft[i]), (i, ref[i], f.alt_ft[i])
    # a Gillham code worked by hand (Riddle ch. 8): 1,300 ft = 500 n500 + 100 n100 -
    # 1,300 with n500 = 5 (Gray 00000111: B1 B2 B4) and n100 = 1, reflected as n500 is
    # odd: C = 6 - 1 = 5 (Gray 100: C1): C1 A1 C2 A2 C4 A4 M B1 Q B2 D2 B4 D4 =
    # 1 0 0 0 0 0 0 1 0 1 0 1 0
    assert K.ac13_altitude_ft(np.array([0b1000000101010]))[0].tolist() == [1300.0]


def test_every_identity_code_equals_rs1090() -> None:
    frames = [_short(5, c) for c in range(1 << 13)]
    f = _fields(frames)
    ref = rs1090.decode(frames)
    assert (f.status == K.OK).all() and (f.kind == K.SQUAWK).all()
    assert [f"{v:04o}" for v in f.squawk.tolist()] == [r["squawk"] for r in ref]
    assert [f"{v:06x}" for v in f.icao.tolist()] == [r["icao24"] for r in ref]


def test_every_airborne_altitude_code_equals_rs1090() -> None:
    # TC 11, each 12-bit altitude code, CPR words 1234 / 5678
    frames = [_es((11 << 51) | (c << 36) | (1 << 34) | (1234 << 17) | 5678)
              for c in range(1 << 12)]
    f = _fields(frames)
    ref = rs1090.decode(frames)
    ok = np.flatnonzero(f.status == K.OK)
    # Q = 1 (25 ft) codes up to 50,000 ft and code 0 here; Gillham ones (above
    # 50,175 ft) and the 7 codes above 50,000 ft go to rs1090, which refuses some
    assert len(ok) == (1 << 11) + 1 - 7
    assert sum(r is None for r in ref) > 0
    for i in ok.tolist():
        r = ref[i]
        assert f.kind[i] == K.AIR_POSITION
        assert _same(r["altitude"], f.alt_ft[i]), (i, r, f.alt_ft[i])
        assert (r["lat_cpr"], r["lon_cpr"], r["parity"]) == (
            f.lat_cpr[i], f.lon_cpr[i], "odd" if f.odd[i] else "even")


def test_every_surface_movement_and_track_equals_rs1090() -> None:
    frames = [_es((6 << 51) | (mov << 44) | (st << 43) | (trk << 36) | (o << 34)
                  | (98765 << 17) | 4321)
              for mov in range(128) for st in (0, 1) for trk in (0, 37, 127) for o in (0, 1)]
    f = _fields(frames)
    ref = rs1090.decode(frames)
    assert (f.status == K.OK).all() and (f.kind == K.SURFACE).all()
    for i, r in enumerate(ref):
        assert _same(r["groundspeed"], f.gs_kt[i]), (i, r, f.gs_kt[i])
        assert _same(r["track"], f.trk_deg[i]), (i, r, f.trk_deg[i])
        assert (r["lat_cpr"], r["lon_cpr"], r["parity"]) == (
            f.lat_cpr[i], f.lon_cpr[i], "odd" if f.odd[i] else "even")


def test_random_velocities_equal_rs1090() -> None:
    rng = random.Random(7)
    frames = []
    for _ in range(3000):
        st = rng.choice([1, 1, 1, 2, 3, 4])
        me = (19 << 51) | (st << 48) | (rng.getrandbits(1) << 42) | \
            (rng.randrange(1024) << 32) | (rng.getrandbits(1) << 31) | \
            (rng.randrange(1024) << 21) | (rng.getrandbits(1) << 19) | \
            (rng.randrange(512) << 10)
        frames.append(_es(me))
    # a zero vertical rate sent going down (sign 1, value 1)
    frames.append(_es((19 << 51) | (1 << 48) | (11 << 32) | (21 << 21) | (1 << 19) | (1 << 10)))
    f = _fields(frames)
    ref = rs1090.decode(frames)
    assert ref[-1]["vertical_rate"] == 0 and f.vs_fpm[-1] == 0.0
    n = 0
    for i, r in enumerate(ref):
        if f.status[i] != K.OK:
            continue  # supersonic, or a component not available: rs1090 decodes those
        if f.kind[i] == K.NOTHING:  # air speed subtypes: no ground velocity
            assert r.get("groundspeed") is None
            continue
        assert f.kind[i] == K.VELOCITY
        assert r["groundspeed"] == f.gs_kt[i]
        assert abs(r["track"] - f.trk_deg[i]) < TRACK_TOL_DEG
        assert _same(r.get("vertical_rate"), f.vs_fpm[i])
        # and its sign: rs1090's integer 0 is written "0", never "-0"
        assert not np.signbit(f.vs_fpm[i]) or f.vs_fpm[i] < 0
        n += 1
    assert n > 1000


def test_random_callsigns_equal_rs1090() -> None:
    rng = random.Random(11)
    frames = []
    for _ in range(2000):
        chars = [rng.choice([32, 48, 57, 1, 26, 13, 0, 40]) for _ in range(8)]
        me = (rng.randint(1, 4) << 51) | (rng.randrange(8) << 48)
        for k, c in enumerate(chars):
            me |= c << (42 - 6 * k)
        frames.append(_es(me))
    f = _fields(frames)
    ref = rs1090.decode(frames)
    assert (f.kind == K.IDENTITY).all()
    ours = K.callsign_text(f.chars)
    assert ours == [r["callsign"].strip().rstrip("_#").strip() for r in ref]


def test_published_examples() -> None:
    """The Riddle's worked examples (ch. 4-6): KLM1023; even/odd airborne pair at
    38,000 ft; velocity 159.20 kt at 182.88 deg, -832 ft/min."""
    f = _fields(["8D4840D6202CC371C32CE0576098", "8D40621D58C382D690C8AC2863A7",
                 "8D485020994409940838175B284F"])
    assert K.callsign_text(f.chars[:1]) == ["KLM1023"]
    assert f.alt_ft[1] == 38000.0 and (f.lat_cpr[1], f.lon_cpr[1]) == (93000, 51372)
    assert round(float(f.gs_kt[2]), 2) == 159.2 and round(float(f.trk_deg[2]), 2) == 182.88
    assert f.vs_fpm[2] == -832.0


def test_parity_checked_and_short_frames_in_long_records() -> None:
    good = "8D4840D6202CC371C32CE0576098"
    bad = good[:-1] + "9"
    df4_long = _short(4, 316) + "00000000000000"  # a short reply sent as 112 bits
    f = _fields([good, bad, df4_long])
    assert f.status.tolist() == [K.OK, K.CRC, K.OK]
    assert rs1090.decode(bad) is None
    assert f.alt_ft[2] == rs1090.decode(df4_long)["altitude"] == 1300.0
    # a type code the picture does not use is skipped, whatever its parity
    assert _fields([_es(31 << 51)]).status.tolist() == [K.SKIP]


def test_nl_table_gives_the_formula_everywhere() -> None:
    """The CPR loop's NL look-up equals the formula (``cpr_nl``) at random latitudes and
    at each float on either side of every step."""
    from skyaccord.ingest.decoder import _NL_EDGES, _nl
    from skyaccord.ingest.modes import cpr_nl

    rng = random.Random(3)
    lats = [rng.uniform(-90.0, 90.0) for _ in range(50_000)] + [0.0, 87.0, -87.0, 90.0]
    for e in _NL_EDGES:
        for toward in (0.0, 90.0):
            x = e
            for _ in range(4):
                lats += [x, -x]
                x = math.nextafter(x, toward)
    assert len(_NL_EDGES) == 57
    assert [_nl(x) for x in lats] == [cpr_nl(x) for x in lats]
