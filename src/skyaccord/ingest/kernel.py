"""Vectorised Mode S / ADS-B field decoding over a whole batch of frames (numpy only).

:func:`decode_fields` takes the frames as rows of bytes and returns, per frame, what the
picture uses: the address, whether the frame registers its aircraft, the kind of report
and its fields (altitude, squawk, callsign, velocity, raw CPR words, surface movement and
track). Frames it does not decode itself (DF18, ADS-B type codes 20-22 and 28, supersonic
or incomplete velocities, metric altitudes, Comm-B replies that may carry BDS 2,0, any
other format) are marked :data:`SLOW`: the caller hands those to rs1090.

Bit layouts (bit 1 is the first bit sent):

* all formats: DF bits 1-5; DF11/17/18 AA (address) bits 9-32; every other reply carries
  the address in AP, the last 24 bits, as CRC-24 parity XOR address (ICAO Annex 10
  Vol IV §3.1.2.3.3; Sun, *The 1090 MHz Riddle*, ch. 2);
* DF0/4/16/20: AC (altitude code) bits 20-32, ``C1 A1 C2 A2 C4 A4 M B1 Q B2 D2 B4 D4``;
  DF5/21: ID (Mode A identity) bits 20-32, ``C1 A1 C2 A2 C4 A4 X B1 D1 B2 D2 B4 D4``
  (Annex 10 Vol IV §3.1.2.6.5.4, §3.1.2.6.7.1; Riddle ch. 8);
* DF17 ME bits 33-88, type code ME 1-5 (DO-260B §2.2.3.2; Riddle ch. 3-7):
  identification (TC 1-4) 8 six-bit characters at ME 9-56; surface position (TC 5-8)
  movement ME 6-12, track status ME 13, track ME 14-20 (360/128 deg), F ME 22, CPR
  latitude ME 23-39, longitude ME 40-56; airborne position (TC 9-18) altitude ME 9-20
  (Q bit ME 16), F ME 22, CPR words as surface; airborne velocity (TC 19, subtype ME 6-8)
  east-west sign ME 14 and speed ME 15-24, north-south sign ME 25 and speed ME 26-35,
  vertical rate sign ME 37 and value ME 38-46 (64 ft/min steps, 0 = none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "AIR_POSITION",
    "ALTITUDE",
    "CRC",
    "IDENTITY",
    "NOTHING",
    "OK",
    "SKIP",
    "SLOW",
    "SQUAWK",
    "SURFACE",
    "VELOCITY",
    "Fields",
    "ac13_altitude_ft",
    "callsign_text",
    "crc24_rows",
    "decode_fields",
    "rows_from_hex",
    "squawk_text",
]

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

# frame status
OK: Final = 0     #: decoded here
CRC: Final = 1    #: DF17 whose parity does not check
SLOW: Final = 2   #: for rs1090
SKIP: Final = 3   #: an ADS-B type code the picture does not use: not decoded at all

# kind of report
NOTHING: Final = 0       #: registers the address at most (DF11, airspeed velocities)
AIR_POSITION: Final = 1  #: TC 9-18
SURFACE: Final = 2       #: TC 5-8
VELOCITY: Final = 3      #: TC 19 subtype 1
IDENTITY: Final = 4      #: TC 1-4 (callsign)
SQUAWK: Final = 5        #: DF5/21
ALTITUDE: Final = 6      #: DF0/4/16/20

_POLY: Final = 0xFFF409  # CRC-24 generator (Annex 10 Vol IV §3.1.2.3.3.1.2)


def _crc_table() -> U32:
    c = np.arange(256, dtype=np.uint32) << 16
    for _ in range(8):
        c = np.where(c & 0x800000, (c << 1) ^ _POLY, c << 1) & 0xFFFFFF
    return c.astype(np.uint32)


_TABLE: Final = _crc_table()

#: ADS-B type codes whose frames are decoded at all (the rest carry nothing the picture
#: uses: operational status, target state, reserved)
_USED_TC: Final = np.zeros(32, dtype=np.bool_)
_USED_TC[[*range(1, 23), 28]] = True


def rows_from_hex(hexes: list[str]) -> tuple[U8, npt.NDArray[np.int8]]:
    """Frames of 14 or 28 hex digits as rows of 14 bytes (a short frame in the first 7)
    and each frame's length in bytes.

    >>> rows, n = rows_from_hex(["5d4840d6a7c3e1", "8D4840D6202CC371C32CE0576098"])
    >>> rows[0, :7].tobytes().hex(), n.tolist()
    ('5d4840d6a7c3e1', [7, 14])
    """
    pad = "0" * 14
    joined = "".join([h if len(h) == 28 else h + pad for h in hexes])
    rows = np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(-1, 14)
    nbytes = np.fromiter(map(len, hexes), dtype=np.int8, count=len(hexes)) // 2
    return rows, nbytes


def _position_tables() -> U32:
    """``[j][b]``: the CRC-24 of byte ``b`` followed by ``j`` zero bytes. The CRC has no
    initial value or final XOR, so it is linear: a message's CRC is the XOR over its
    bytes of each byte's CRC at its place (one table look-up a byte, no carried state)."""
    out = np.zeros((14, 256), dtype=np.uint32)
    c = np.arange(256, dtype=np.uint32)
    for j in range(14):
        out[j] = _crc_bytes(c, j)
    return out


def _crc_bytes(first: U32, zeros: int) -> U32:
    crc: U32 = _TABLE[first & 0xFF].astype(np.uint32)  # the CRC after the first byte
    for _ in range(zeros):
        crc = ((crc << 8) & 0xFFFFFF) ^ _TABLE[(crc >> 16) & 0xFF]
    return crc


_AT: Final = _position_tables()


def crc24_rows(rows: U8, n: int) -> U32:
    """CRC-24 of the first ``n`` bytes of each row (``n`` at most 14): the XOR of each
    byte's CRC at its place (:func:`_position_tables`).

    >>> crc24_rows(np.frombuffer(bytes.fromhex("8D4840D6202CC371C32CE0"), np.uint8)
    ...            .reshape(1, -1), 11).tolist() == [0x576098]
    True
    """
    crc = np.zeros(len(rows), dtype=np.uint32)
    for k in range(n):
        crc ^= _AT[n - 1 - k][rows[:, k]]
    return crc


def _be(rows: U8, start: int, stop: int) -> npt.NDArray[np.uint64]:
    """Bytes ``start:stop`` of each row as one big-endian unsigned integer."""
    v = np.zeros(len(rows), dtype=np.uint64)
    for k in range(start, stop):
        v = (v << np.uint64(8)) | rows[:, k].astype(np.uint64)
    return v


def _gillham_table() -> npt.NDArray[np.float64]:
    """Altitude (ft) of each 11-bit Gillham (Mode C, 100 ft) code ``C1 A1 C2 A2 C4 A4 B1
    B2 D2 B4 D4`` (Q and M removed), NaN where the code is not valid: the 500 ft count is
    the reflected binary (Gray) code ``D2 D4 A1 A2 A4 B1 B2 B4``, the 100 ft count the
    Gray code ``C1 C2 C4`` (1..5), reflected when the 500 ft count is odd; altitude =
    500 n500 + 100 n100 - 1300 (Riddle ch. 8; Annex 10 Vol IV §3.1.1.7.12.2.3)."""
    code = np.arange(1 << 11, dtype=np.int64)

    def bit(k: int) -> npt.NDArray[np.int64]:  # k = 0 is C1, the first of the 11
        return (code >> (10 - k)) & 1

    c1, a1, c2, a2, c4, a4, b1, b2, d2, b4, d4 = (bit(k) for k in range(11))
    gray = (d2 << 7) | (d4 << 6) | (a1 << 5) | (a2 << 4) | (a4 << 3) | (b1 << 2) | \
        (b2 << 1) | b4
    n500 = gray.copy()
    for shift in (1, 2, 4):  # Gray to binary: XOR of all right shifts
        n500 ^= n500 >> shift
    # C1 C2 C4 Gray -> 1..5 (001, 011, 010, 110, 100); 000, 101, 111 invalid (0)
    n100 = np.array([0, 1, 3, 2, 5, 0, 4, 0])[(c1 << 2) | (c2 << 1) | c4]
    valid = n100 > 0
    n100 = np.where(n500 % 2 == 1, 6 - n100, n100)
    return np.where(valid, 500.0 * n500 + 100.0 * n100 - 1300.0, np.nan)


_GILLHAM: Final = _gillham_table()


def ac13_altitude_ft(code: npt.NDArray[np.integer]) -> tuple[F64, B]:
    """Altitude (ft, NaN = none) of 13-bit AC fields, and where it is left to rs1090
    (the M bit, metric, is set; or a Gillham code below 0 ft). Q = 1: 25 ft steps from
    -1,000 ft; Q = 0: Gillham.

    >>> alt, unsure = ac13_altitude_ft(np.array([316, 0, 0b1000000]))
    >>> alt.tolist(), unsure.tolist()
    ([1300.0, nan, nan], [False, False, True])
    """
    c = code.astype(np.int64)
    metric = (c & 0x40) != 0
    q = (c & 0x10) != 0
    # the 11 bits left with M and Q removed: a binary count of 25 ft (Q = 1) or a
    # Gillham code (Q = 0)
    eleven = ((c >> 7) << 5) | (((c >> 5) & 1) << 4) | (c & 0xF)
    gillham = _GILLHAM[eleven & 0x7FF]
    alt = np.where(q, eleven * 25.0 - 1000.0, gillham)
    # metric altitudes, and Gillham codes below 0 ft (whose validity decoders judge
    # differently), are left to rs1090
    unsure = metric | (~q & (gillham < 0.0))
    alt[(c == 0) | unsure] = np.nan
    return alt, unsure


def squawk_text(code: npt.NDArray[np.integer]) -> npt.NDArray[np.uint16]:
    """The four octal digits ``ABCD`` of 13-bit ID fields, as the integer ``0oABCD``
    (``f"{v:04o}"`` gives the squawk): A = A4 A2 A1, B = B4 B2 B1, C = C4 C2 C1,
    D = D4 D2 D1.

    >>> [f"{v:04o}" for v in squawk_text(np.array([0b0101010000000, 0b0000000000001]))]
    ['7000', '0004']
    """
    c = code.astype(np.int64)

    def b(k: int) -> npt.NDArray[np.int64]:  # bit k of 13, k = 1 the first sent
        return (c >> (13 - k)) & 1

    c1, a1, c2, a2, c4, a4 = b(1), b(2), b(3), b(4), b(5), b(6)
    b1, d1, b2, d2, b4, d4 = b(8), b(9), b(10), b(11), b(12), b(13)
    a = (a4 << 2) | (a2 << 1) | a1
    bb = (b4 << 2) | (b2 << 1) | b1
    cc = (c4 << 2) | (c2 << 1) | c1
    d = (d4 << 2) | (d2 << 1) | d1
    return ((a << 9) | (bb << 6) | (cc << 3) | d).astype(np.uint16)


#: the ADS-B 6-bit character set (DO-260B Table A-2-8 / Riddle ch. 4): 1-26 A-Z,
#: 32 space, 48-57 digits; every other code is shown as '#'
_CHARSET: Final = np.frombuffer(
    b"#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######", dtype=np.uint8)


def callsign_text(chars: U8) -> list[str]:
    """Callsigns from rows of 8 six-bit codes: spaces dropped, trailing '#' removed (the
    text rs1090 gives, stripped as the decoder keeps it)."""
    text = _CHARSET[chars]
    return [bytes(r).replace(b" ", b"").rstrip(b"#").decode("ascii") for r in text]


#: surface movement code -> ground speed (kt), NaN = not available or reserved:
#: 1 stopped, then bands of 0.125, 0.25, 0.5, 1, 2 and 5 kt from 0.125, 1, 2, 15, 70 and
#: 100 kt, 124 = 175 kt or more (DO-260B §2.2.3.2.4.2; Riddle ch. 5); each code gives the
#: lower edge of its band
def _movement_table() -> F64:
    out = np.full(128, np.nan)
    out[1] = 0.0
    bands = ((2, 8, 0.125, 0.125), (9, 12, 1.0, 0.25), (13, 38, 2.0, 0.5),
             (39, 93, 15.0, 1.0), (94, 108, 70.0, 2.0), (109, 123, 100.0, 5.0))
    for lo, hi, v0, step in bands:
        k = np.arange(lo, hi + 1)
        out[lo:hi + 1] = v0 + (k - lo) * step
    out[124] = 175.0
    return out


_MOVEMENT: Final = _movement_table()


class Fields(NamedTuple):
    """Per-frame decoded fields (one entry per input row).

    ``status`` is :data:`OK`, :data:`CRC`, :data:`SLOW` or :data:`SKIP`; the other fields
    mean something only where ``status`` is OK. ``kind`` is one of :data:`NOTHING`,
    :data:`AIR_POSITION`, :data:`SURFACE`, :data:`VELOCITY`, :data:`IDENTITY`,
    :data:`SQUAWK`, :data:`ALTITUDE`. NaN / -1 say "not in this frame".
    """

    status: npt.NDArray[np.int8]
    df: U8
    icao: U32          #: the 24-bit address the frame is about
    registers: B       #: DF11/17: the address is in the frame, the aircraft is heard
    kind: U8
    alt_ft: F64        #: altitude (airborne position, DF0/4/16/20)
    squawk: npt.NDArray[np.int32]  #: 0oABCD, -1 none
    gs_kt: F64
    trk_deg: F64
    vs_fpm: F64
    lat_cpr: npt.NDArray[np.int32]
    lon_cpr: npt.NDArray[np.int32]
    odd: B
    chars: U8          #: (n, 8) six-bit callsign codes (TC 1-4 rows)


def _me_bits(rows: U8) -> Callable[[int, int], npt.NDArray[np.int64]]:
    """``f(a, b)``: bits ``a`` to ``b`` (1-based, inclusive) of each row's ME field."""
    me = _be(rows, 4, 11)

    def f(a: int, b: int) -> npt.NDArray[np.int64]:
        return ((me >> np.uint64(56 - b)) & np.uint64((1 << (b - a + 1)) - 1)).astype(
            np.int64)

    return f


def decode_fields(rows: U8, nbytes: npt.NDArray[np.int8]) -> Fields:
    """Decode a batch of frames (``rows`` of 14 bytes, ``nbytes`` 7 or 14 each).

    >>> rows, n = rows_from_hex(["8D4840D6202CC371C32CE0576098",
    ...                          "8D40621D58C382D690C8AC2863A7"])
    >>> f = decode_fields(rows, n)
    >>> callsign_text(f.chars[:1]), f.alt_ft[1].item(), f.lat_cpr[1].item()
    (['KLM1023'], 38000.0, 93000)
    """
    n = len(rows)
    df = (rows[:, 0] >> 3).astype(np.uint8)
    long_ = nbytes == 14
    status = np.full(n, SLOW, dtype=np.int8)
    kind = np.zeros(n, dtype=np.uint8)
    alt = np.full(n, np.nan)
    gs = np.full(n, np.nan)
    trk = np.full(n, np.nan)
    vs = np.full(n, np.nan)
    squawk = np.full(n, -1, dtype=np.int32)
    lat_cpr = np.zeros(n, dtype=np.int32)
    lon_cpr = np.zeros(n, dtype=np.int32)
    odd = np.zeros(n, dtype=np.bool_)
    chars = np.zeros((n, 8), dtype=np.uint8)
    def r32(k: int) -> U32:  # byte k of each frame, widened (one column at a time)
        return rows[:, k].astype(np.uint32)

    aa = (r32(1) << 16) | (r32(2) << 8) | r32(3)

    # short replies (56 bits): address from the parity of the first 32 bits; a short
    # format sent as 112 bits is read from its first 56, as rs1090 reads it
    short = df < 16
    parity_s = (r32(4) << 16) | (r32(5) << 8) | r32(6)
    parity_l = (r32(11) << 16) | (r32(12) << 8) | r32(13)
    icao = np.where(short & (df != 11), crc24_rows(rows, 4) ^ parity_s, aa)
    crc_l = crc24_rows(rows, 11) ^ parity_l
    code13 = ((r32(2) & 0x1F) << 8) | r32(3)  # bits 20-32
    longr = long_ & (df >= 16)
    icao = np.where(longr & (df != 17) & (df != 18), crc_l, icao).astype(np.uint32)

    # DF11: the address is in AA; nothing else the picture uses
    s = short & (df == 11)
    status[s] = OK
    # DF0/4 (short) and DF16/20 (long): altitude; DF5 (short) / DF21 (long): identity
    altf = (short & ((df == 0) | (df == 4))) | (longr & ((df == 16) | (df == 20)))
    idf = (short & (df == 5)) | (longr & (df == 21))
    a, unsure = ac13_altitude_ft(code13)
    # Comm-B replies whose MB may be BDS 2,0 (aircraft identification, first byte 0x20):
    # rs1090 tells and gives the callsign
    bds20 = longr & ((df == 20) | (df == 21)) & (rows[:, 4] == 0x20)
    s = altf & ~unsure & ~bds20
    status[s], kind[s], alt[s] = OK, ALTITUDE, a[s]
    s = idf & ~bds20
    status[s], kind[s] = OK, SQUAWK
    squawk[s] = squawk_text(code13[s])

    # DF17: extended squitter
    es = longr & (df == 17)
    tc = rows[:, 4] >> 3
    status[longr & ((df == 17) | (df == 18)) & ~_USED_TC[tc]] = SKIP
    es &= _USED_TC[tc]
    status[es & (crc_l != 0)] = CRC
    es &= crc_l == 0
    # each kind of message decoded on its own rows only
    idx = np.flatnonzero(es & (tc >= 1) & (tc <= 4))
    f = _me_bits(rows[idx])
    status[idx], kind[idx] = OK, IDENTITY
    for k in range(8):
        chars[idx, k] = f(9 + 6 * k, 14 + 6 * k)
    idx = np.flatnonzero(es & (tc >= 5) & (tc <= 18))
    f = _me_bits(rows[idx])
    lat_cpr[idx], lon_cpr[idx] = f(23, 39), f(40, 56)
    odd[idx] = f(22, 22) == 1
    surface = tc[idx] <= 8
    s = idx[surface]
    status[s], kind[s] = OK, SURFACE
    gs[s] = _MOVEMENT[f(6, 12)[surface]]
    trk[s] = np.where(f(13, 13)[surface] == 1, f(14, 20)[surface] * (360.0 / 128.0),
                      np.nan)
    s = idx[~surface]
    status[s], kind[s] = OK, AIR_POSITION
    # 12-bit altitude: the 13-bit AC layout without its M bit
    c12 = f(9, 20)[~surface]
    c13 = ((c12 >> 6) << 7) | (c12 & 0x3F)
    a, unsure = ac13_altitude_ft(c13)
    # Gillham (Q = 0) altitudes in ADS-B, used only above 50,175 ft, and 25 ft codes
    # above 50,000 ft: rs1090 refuses some of those frames outright, so it decides
    unsure |= (((c12 & 0x10) == 0) & (c12 != 0)) | (a > 50_000.0)
    status[s[unsure]] = SLOW
    alt[s[~unsure]] = a[~unsure]
    # velocity: subtype 1 (subsonic ground speed) with both components available;
    # subtypes 3/4 (air speed) carry no ground velocity; the rest go to rs1090
    idx = np.flatnonzero(es & (tc == 19))
    f = _me_bits(rows[idx])
    st = f(6, 8)
    vew, vns, vr = f(15, 24), f(26, 35), f(38, 46)
    air = idx[(st == 3) | (st == 4)]
    status[air], kind[air] = OK, NOTHING
    v = (st == 1) & (vew > 0) & (vns > 0)
    vx = ((vew[v] - 1) * (1 - 2 * f(14, 14)[v])).astype(np.float64)
    vy = ((vns[v] - 1) * (1 - 2 * f(25, 25)[v])).astype(np.float64)
    s = idx[v]
    status[s], kind[s] = OK, VELOCITY
    gs[s] = np.sqrt(vx * vx + vy * vy)
    t = np.degrees(np.arctan2(vx, vy))
    trk[s] = np.where(t < 0.0, t + 360.0, t)
    # in integers: a zero rate going down is 0, not -0.0 (rs1090 gives the integer 0)
    rate = vr[v]
    vs[s] = np.where(rate > 0, ((rate - 1) * 64 * (1 - 2 * f(37, 37)[v])).astype(
        np.float64), np.nan)
    registers = (status == OK) & ((df == 11) | (df == 17))
    return Fields(status, df, icao, registers, kind, alt, squawk, gs, trk, vs, lat_cpr,
                  lon_cpr, odd, chars)
