"""Raw Mode S / ADS-B frames: text lines, JSON lines, Beast binary; decoding with rs1090.

Frames come as ``(t, hex)`` pairs from one of three framings:

* text lines ``UNIX_SECONDS HEX`` (a comma also separates; ``*HEX;`` AVR lines too);
* JSON lines ``{"timestamp": ..., "frame": "..."}`` (the form rs1090/jet1090 write);
* Beast binary (dump1090/readsb port 30005): ``0x1a``, a type byte (``'1'`` Mode A/C,
  ``'2'`` 56-bit, ``'3'`` 112-bit Mode S), a 48-bit 12 MHz timestamp, a signal byte, the
  frame; every ``0x1a`` inside is doubled (dump1090 ``net_io.c``, the Beast format).

Field extraction (altitude, velocity, callsign, squawk, the raw CPR words) is done by
rs1090 (MIT), in batches. Positions are decoded here from the CPR words, per aircraft and
across batches, so a stream cut into chunks loses nothing: a global fix from an even/odd
pair received within 10 s, then local decoding against the aircraft's own last position
(formulas of ICAO Doc 9871, Appendix C, and Sun, *The 1090 MHz Riddle*, ch. 5). rs1090's
own position output is used in the tests as the independent reference.

Bad frames never stop decoding: they are counted in :class:`~skyaccord.ingest.states.
FeedStats` (``not hex``, ``bad length``, ``crc``, ``undecodable``, ``unknown address``,
``cpr no fix``, ``position jump``, ...).
"""

from __future__ import annotations

import gc
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from skyaccord.geo import KT, NM, great_circle_m
from skyaccord.ingest.states import KT_MAX, FeedStats, StateUpdate, check_update

__all__ = [
    "CRC24_TABLE",
    "BeastParser",
    "FrameBlock",
    "RawFrame",
    "Rs1090Decoder",
    "cpr_global",
    "cpr_local",
    "cpr_nl",
    "crc24",
    "frame_blocks",
    "frame_problem",
    "frames_from_lines",
    "parse_frame_line",
    "screen_frame",
]

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_POLY: Final = 0xFFF409  # Mode S CRC-24 generator (ICAO Annex 10 Vol IV §3.1.2.3.3)


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i << 16
        for _ in range(8):
            c = ((c << 1) ^ _POLY) if c & 0x800000 else (c << 1)
        table.append(c & 0xFFFFFF)
    return tuple(table)


#: CRC-24 of each byte value (the table of the byte-wise CRC; the parallel decoder's
#: vectorised CRC uses it too)
CRC24_TABLE: Final = _crc_table()


def crc24(data: bytes) -> int:
    """Mode S CRC-24 of ``data``: ``data * x^24 mod G``.

    Over a frame without its last 24 bits it is the parity field; over a whole intact
    DF17/18 frame it is 0.

    >>> frame = bytes.fromhex("8D4840D6202CC371C32CE0576098")
    >>> crc24(frame), hex(crc24(frame[:-3]))
    (0, '0x576098')
    >>> crc24(frame[:-1] + bytes([0x99])) != 0
    True
    """
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ CRC24_TABLE[((crc >> 16) ^ b) & 0xFF]
    return crc


def frame_problem(frame: str) -> str | None:
    """Why a hex frame cannot be decoded at all (``not hex``, ``bad length``), or None."""
    if not frame or not _HEX.issuperset(frame):
        return "not hex"
    if len(frame) not in (14, 28):
        return "bad length"
    return None


def screen_frame(f: RawFrame, t_last: float, reorder_s: float,
                 stats: FeedStats) -> float | None:
    """The checks that need only the frame and the feed's order (hex and length, time
    not going back by more than ``reorder_s``): the feed's new latest time when ``f``
    passes, else None, the refusal counted in ``stats``."""
    fr, t = f.frame, f.t
    if not (len(fr) in (14, 28) and _HEX.issuperset(fr)):
        stats.reject(frame_problem(fr) or "not hex", f"{f.at}: {fr[:40]!r}")
        return None
    if not t >= t_last - reorder_s or t == math.inf:
        stats.reject("time backwards", f"{f.at}: t={t} after t={t_last}")
        return None
    return max(t, t_last)


class RawFrame(NamedTuple):
    """A raw frame with its time (UTC seconds) and where it came from (for messages):
    ``where`` names the source (``"feed.txt line"``) and ``line`` the line or byte."""

    t: float
    frame: str
    where: str = ""
    line: int = 0

    @property
    def at(self) -> str:
        return f"{self.where} {self.line}" if self.line else self.where


def parse_frame_line(line: str) -> tuple[float | None, str] | None:
    """``(t, hex)`` from one text or JSON line; ``t`` is None for AVR ``*HEX;`` lines.

    Returns None when the line is not a frame line at all.

    >>> parse_frame_line("1753827785.81 8DADA5265851E6616376C2EB4463")
    (1753827785.81, '8DADA5265851E6616376C2EB4463')
    >>> parse_frame_line('{"timestamp": 1.5, "frame": "5d4840d6a7c3e1"}')
    (1.5, '5d4840d6a7c3e1')
    >>> parse_frame_line("*8D4840D6202CC371C32CE0576098;")
    (None, '8D4840D6202CC371C32CE0576098')
    """
    s = line.strip()
    if not s:
        return None
    if s[0] == "{":
        try:
            obj = json.loads(s)
            return float(obj["timestamp"]), str(obj["frame"]).strip()
        except (ValueError, KeyError, TypeError):
            return None
    if s[0] in "*@" and s.endswith(";"):
        return None, s[1:-1]
    parts = s.replace(",", " ").split()
    if len(parts) != 2:
        return None
    try:
        t = float(parts[0])
    except ValueError:
        return None
    if not math.isfinite(t):
        return None
    return t, parts[1]


# ----------------------------------------------------------------------------- Beast

_ESC: Final = 0x1A
_BEAST_LEN: Final = {0x31: 2, 0x32: 7, 0x33: 14}  # '1' Mode A/C, '2' short, '3' long
_BEAST_CLOCK_HZ: Final = 12e6  # the 48-bit timestamp counts a 12 MHz clock


class BeastParser:
    """Incremental Beast binary parser: :meth:`feed` bytes, get complete frames back.

    Times are ``t0 + counter / 12 MHz`` (the receiver's MLAT clock) unless ``clock`` is
    given to :meth:`feed` (e.g. the arrival time of a live chunk). Mode A/C frames are
    skipped; bytes that do not start a frame are skipped and counted (``beast resync``).

    >>> p = BeastParser()
    >>> msg = bytes.fromhex("5d4840d6a7c3e1")
    >>> data = b"\\x1a2" + (12_000_000).to_bytes(6, "big") + b"\\x80" + msg
    >>> [(f.t, f.frame) for f in p.feed(data[:5]) + p.feed(data[5:])]
    [(1.0, '5d4840d6a7c3e1')]
    """

    def __init__(self, t0: float = 0.0, stats: FeedStats | None = None) -> None:
        self.t0 = t0
        self.stats = stats if stats is not None else FeedStats("beast")
        self._buf = bytearray()
        self._offset = 0  # bytes consumed before the start of _buf (for messages)

    def feed(self, data: bytes, clock: float | None = None) -> list[RawFrame]:
        buf = self._buf
        buf += data
        out: list[RawFrame] = []
        i, n = 0, len(buf)
        skipped = 0
        while i < n:
            if buf[i] != _ESC:
                i += 1
                skipped += 1
                continue
            if i + 1 >= n:
                break
            kind = buf[i + 1]
            size = _BEAST_LEN.get(kind)
            if size is None:  # 0x1a 0x1a outside a frame, or an unknown type
                i += 1
                skipped += 1
                continue
            body = bytearray()
            j = i + 2
            need = 6 + 1 + size
            ok = True
            while len(body) < need and j < n:
                b = buf[j]
                if b == _ESC:
                    if j + 1 >= n:
                        break
                    if buf[j + 1] != _ESC:  # an unescaped 0x1a: a new frame starts
                        ok = False
                        break
                    j += 1
                body.append(b)
                j += 1
            if not ok:
                skipped += j - i
                i = j
                continue
            if len(body) < need:
                break  # incomplete: wait for more bytes
            i = j
            if kind == 0x31:
                continue
            counter = int.from_bytes(body[:6], "big")
            t = clock if clock is not None else self.t0 + counter / _BEAST_CLOCK_HZ
            out.append(RawFrame(t, body[7:].hex(), "byte", self._offset + i))
        if skipped:
            self.stats.reject("beast resync", f"{skipped} byte(s) near byte {self._offset + i}")
            # count each skipped run once, not each byte
        del buf[:i]
        self._offset += i
        return out


# ----------------------------------------------------------------------------- CPR

_NZ: Final = 15
_CPR_SCALE: Final = float(1 << 17)


def cpr_nl(lat: float) -> int:
    """Number of longitude zones at ``lat`` (ICAO Doc 9871 C.2.6.2).

    >>> cpr_nl(0.0), cpr_nl(52.0), cpr_nl(87.0), cpr_nl(88.0)
    (59, 36, 2, 1)
    """
    a = abs(lat)
    if a == 0.0:
        return 59
    if a == 87.0:
        return 2
    if a > 87.0:
        return 1
    c = 1.0 - (1.0 - math.cos(math.pi / (2 * _NZ))) / math.cos(math.radians(lat)) ** 2
    return math.floor(2 * math.pi / math.acos(c))


def cpr_global(lat_even: int, lon_even: int, lat_odd: int, lon_odd: int,
               odd_is_newer: bool) -> tuple[float, float] | None:
    """Airborne position from an even/odd CPR pair; None if they straddle a zone edge.

    Worked example of *The 1090 MHz Riddle* (even 8D40621D58C382D690C8AC2863A7, odd
    8D40621D58C386435CC412692AD6, even newer): lat 52.25720, lon 3.91937.

    >>> lat, lon = cpr_global(93000, 51372, 74158, 50194, odd_is_newer=False)
    >>> round(lat, 5), round(lon, 5)
    (52.2572, 3.91937)
    """
    le, lo = lat_even / _CPR_SCALE, lat_odd / _CPR_SCALE
    j = math.floor(59 * le - 60 * lo + 0.5)
    lat_e = 360.0 / 60 * (j % 60 + le)
    lat_o = 360.0 / 59 * (j % 59 + lo)
    if lat_e >= 270.0:
        lat_e -= 360.0
    if lat_o >= 270.0:
        lat_o -= 360.0
    nl = cpr_nl(lat_e)
    if nl != cpr_nl(lat_o):
        return None
    lat = lat_o if odd_is_newer else lat_e
    i = 1 if odd_is_newer else 0
    ni = max(nl - i, 1)
    m = math.floor(lon_even / _CPR_SCALE * (nl - 1) - lon_odd / _CPR_SCALE * nl + 0.5)
    lon_cpr = (lon_odd if odd_is_newer else lon_even) / _CPR_SCALE
    lon = 360.0 / ni * (m % ni + lon_cpr)
    if lon >= 180.0:
        lon -= 360.0
    return lat, lon


def cpr_local(lat_cpr: int, lon_cpr: int, odd: bool, ref_lat: float,
              ref_lon: float) -> tuple[float, float]:
    """Airborne position of one CPR word near a reference (valid within ~180 NM).

    >>> lat, lon = cpr_local(93000, 51372, False, 52.258, 3.918)
    >>> round(lat, 5), round(lon, 5)
    (52.2572, 3.91937)
    """
    i = 1 if odd else 0
    yz, xz = lat_cpr / _CPR_SCALE, lon_cpr / _CPR_SCALE
    dlat = 360.0 / (60 - i)
    j = math.floor(ref_lat / dlat) + math.floor((ref_lat % dlat) / dlat - yz + 0.5)
    lat = dlat * (j + yz)
    dlon = 360.0 / max(cpr_nl(lat) - i, 1)
    m = math.floor(ref_lon / dlon) + math.floor((ref_lon % dlon) / dlon - xz + 0.5)
    lon = dlon * (m + xz)
    return lat, (lon + 180.0) % 360.0 - 180.0


# ----------------------------------------------------------------------------- decoder

#: ADS-B type codes the picture uses: identification (1-4), surface position (5-8: only
#: that the aircraft is on the ground), airborne position (9-18, 20-22), airborne
#: velocity (19), aircraft status with the squawk (28); operational status and the rest
#: are skipped before decoding
_USED_TC: Final = frozenset((*range(1, 23), 28))
_SKIP_ME: Final = frozenset(c for b in range(256) if b >> 3 not in _USED_TC
                            for c in (f"{b:02x}", f"{b:02X}"))
_DF17_18: Final = frozenset(c for b in range(256) if b >> 3 in (17, 18)
                            for c in (f"{b:02x}", f"{b:02X}"))
#: DF19 (military extended squitter) with application field 0: an ADS-B message in the
#: DF17 layout (RTCA DO-260B §2.2.3.2.7.9; ICAO Doc 9871 Table A-2-19)
_DF19_AF0: Final = frozenset(("98",))
_PAIR_MAX_S: Final = 10.0   # even/odd pair for a global fix (Doc 9871 C.2.6.10: 10 s)
_LOCAL_MAX_S: Final = 60.0  # last own position still a valid local reference
_JUMP_SLACK_M: Final = 2 * NM  # position noise and CPR quantisation allowance


@dataclass
class _Aircraft:
    even: tuple[float, int, int] | None = None
    odd: tuple[float, int, int] | None = None
    pos: tuple[float, float, float] | None = None  # t, lat, lon of the last fix
    callsign: str | None = None
    squawk: str | None = None
    alt_ft: float | None = None


def _military_as_df17(frame: str) -> str | None:
    """A DF19 AF=0 frame as the DF17 frame with the same address and ME (CA 5, parity
    recomputed) for the decoder; None when its own CRC does not check.

    >>> body = bytes.fromhex("98" + "4840D6202CC371C32CE0")
    >>> df19 = (body + crc24(body).to_bytes(3, "big")).hex()
    >>> _military_as_df17(df19).upper()
    '8D4840D6202CC371C32CE0576098'
    """
    raw = bytes.fromhex(frame)
    if crc24(raw):
        return None
    body = bytes([(17 << 3) | 5]) + raw[1:11]
    return (body + crc24(body).to_bytes(3, "big")).hex()


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


class Rs1090Decoder:
    """Stateful Mode S / ADS-B decoder on rs1090's fields, one dict per frame: the
    reference that :class:`~skyaccord.ingest.decoder.ModeSDecoder` (the vectorised one,
    which also decodes surface positions) is tested against.

    Parameters
    ----------
    stats
        Where refusals are counted (a new one named ``modes`` by default).
    reference
        Receiver position ``(lat, lon)`` in degrees: enables local CPR decoding of an
        aircraft's first frame (valid within ~180 NM of the receiver).
    source
        Copied into each update's ``source``.
    """

    def __init__(self, stats: FeedStats | None = None,
                 reference: tuple[float, float] | None = None, source: str = "") -> None:
        self.stats = stats if stats is not None else FeedStats("modes")
        self.reference = reference
        self.source = source
        self.aircraft: dict[str, _Aircraft] = {}
        self._t_last = -math.inf

    def decode(self, frames: Sequence[RawFrame], *, reorder_s: float = 1.0,
               batch: int = 4096) -> list[StateUpdate]:
        """Decode a chunk of frames in time order; a frame earlier than the latest by
        more than ``reorder_s`` is refused (``time backwards``).

        The cyclic garbage collector is paused for the call: decoding allocates one dict
        per frame and nothing cyclic, and collections over large pictures cost ~15 % of
        the decode time (measured with benchmarks/ingest.py).
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self.decode_indexed(frames, reorder_s, batch)[0]
        finally:
            if enabled:
                gc.enable()

    def decode_indexed(self, frames: Sequence[RawFrame], reorder_s: float = 1.0,
                       batch: int = 4096) -> tuple[list[StateUpdate], list[int]]:
        """:meth:`decode` without pausing the garbage collector, returning the updates
        and, for each, the position in ``frames`` of the frame it came from (the parallel
        decoder merges workers' updates in frame order with it)."""
        import rs1090

        stats = self.stats
        stats.read += len(frames)
        t_last = self._t_last
        good: list[RawFrame] = []
        where: list[int] = []
        for i, f in enumerate(frames):
            latest = screen_frame(f, t_last, reorder_s, stats)
            if latest is None:
                continue
            t_last = latest
            fr = f.frame
            if fr[:2] in _DF19_AF0 and len(fr) == 28:
                mil = _military_as_df17(fr)
                if mil is None:
                    stats.reject("crc", f"{f.at}: {fr}")
                    continue
                fr = mil
                f = f._replace(frame=mil)
            if fr[8:10] in _SKIP_ME and fr[:2] in _DF17_18 and len(fr) == 28:
                continue  # intact or not, nothing the picture uses: not worth decoding
            good.append(f)
            where.append(i)
        self._t_last = t_last
        msgs = [f.frame for f in good]
        try:
            decoded: list[Any] = rs1090.decode(msgs, batch=batch) if msgs else []
        except BaseException as exc:  # pyo3 panics derive from BaseException
            if not _is_panic(exc):
                raise
            decoded = [self._decode_one(m) for m in msgs]
        out: list[StateUpdate] = []
        out_i: list[int] = []
        for i, f, msg in zip(where, good, decoded, strict=True):
            if msg is None:
                df = int(f.frame[:2], 16) >> 3
                if df in (17, 18) and len(f.frame) == 28 and crc24(bytes.fromhex(f.frame)):
                    self.stats.reject("crc", f"{f.at}: {f.frame}")
                else:
                    self.stats.reject("undecodable", f"{f.at}: {f.frame}")
                continue
            u = self._apply(f, msg)
            if u is not None:
                out.append(u)
                out_i.append(i)
        self.stats.updates += len(out)
        return out, out_i

    @staticmethod
    def _decode_one(frame: str) -> Any:
        import rs1090

        try:
            return rs1090.decode(frame)
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            return None

    def _apply(self, f: RawFrame, msg: dict[str, Any]) -> StateUpdate | None:
        icao = msg.get("icao24")
        if not isinstance(icao, str):
            self.stats.reject("undecodable", f"{f.at}: {f.frame}")
            return None
        df = str(msg.get("df", ""))
        ac = self.aircraft.get(icao)
        if df in ("17", "18", "11"):
            if ac is None:
                ac = self.aircraft[icao] = _Aircraft()
        elif ac is None:
            # DF0/4/5/16/20/21 carry the address in the parity: a corrupt frame yields a
            # random address, so such replies count only for aircraft already heard.
            self.stats.reject("unknown address", f"{f.at}: {f.frame}")
            return None
        bds = msg.get("bds")
        t = f.t
        if df in ("20", "21"):
            # Comm-B aircraft identification (BDS 2,0): the callsign of aircraft without
            # ADS-B, which never send the DF17 identification
            b20 = msg.get("bds20")
            if isinstance(b20, dict):
                cs = str(b20.get("callsign", "")).strip().rstrip("_#").strip()
                ac.callsign = cs or ac.callsign
        if bds == "05" and df in ("17", "18") and "lat_cpr" in msg:
            alt = msg.get("altitude")
            if isinstance(alt, int | float):
                ac.alt_ft = float(alt)
            return self._position(f, icao, ac, msg)
        if bds == "06" and df in ("17", "18"):
            # surface position (parity checked by rs1090): on the ground, out of
            # detection until an airborne position; the surface fix itself is not used
            return StateUpdate(t, icao, "ground", ac.callsign, squawk=ac.squawk,
                               source=self.source)
        if bds == "09" and df in ("17", "18"):
            gs, trk = msg.get("groundspeed"), msg.get("track")
            if gs is None or trk is None:
                return None  # airspeed subtypes 3/4: no ground velocity
            vs = msg.get("vertical_rate")
            if not (0.0 <= gs <= KT_MAX and abs(vs or 0) <= 60_000):
                self.stats.reject("impossible speed", f"{f.at}: {f.frame}")
                return None
            return StateUpdate(t, icao, "velocity", ac.callsign, None, None, None,
                               float(gs), float(trk), None if vs is None else float(vs),
                               ac.squawk, None, None, self.source)
        if df in ("17", "18") and bds == "08":
            cs = str(msg.get("callsign", "")).strip().rstrip("_#").strip()
            ac.callsign = cs or ac.callsign
            return StateUpdate(t, icao, "identity", ac.callsign, squawk=ac.squawk,
                               source=self.source)
        squawk = msg.get("squawk")
        if isinstance(squawk, str):
            ac.squawk = squawk
            return StateUpdate(t, icao, "identity", ac.callsign, squawk=squawk,
                               source=self.source)
        alt = msg.get("altitude")
        if df in ("0", "4", "16", "20") and isinstance(alt, int | float):
            ac.alt_ft = float(alt)
            u = StateUpdate(t, icao, "altitude", ac.callsign, alt_ft=float(alt),
                            squawk=ac.squawk, source=self.source)
            return self._checked(u, f)
        return None

    def _checked(self, u: StateUpdate, f: RawFrame) -> StateUpdate | None:
        reason = check_update(u)
        if reason is not None:
            self.stats.reject(reason, f"{f.at}: {f.frame}")
            return None
        return u

    def _position(self, f: RawFrame, icao: str, ac: _Aircraft,
                  msg: dict[str, Any]) -> StateUpdate | None:
        t = f.t
        odd = msg.get("parity") == "odd"
        word = (t, int(msg["lat_cpr"]), int(msg["lon_cpr"]))
        if odd:
            ac.odd = word
        else:
            ac.even = word
        fix: tuple[float, float] | None = None
        if ac.pos is not None and t - ac.pos[0] <= _LOCAL_MAX_S:
            fix = cpr_local(word[1], word[2], odd, ac.pos[1], ac.pos[2])
        else:
            other = ac.even if odd else ac.odd
            if other is not None and abs(t - other[0]) <= _PAIR_MAX_S:
                e, o = (other, word) if odd else (word, other)
                fix = cpr_global(e[1], e[2], o[1], o[2], odd_is_newer=odd)
                if fix is None:
                    self.stats.reject("cpr no fix", f"{f.at}: {f.frame}")
                    return None
            elif self.reference is not None:
                fix = cpr_local(word[1], word[2], odd, *self.reference)
            else:
                return None  # waiting for the other half of a pair
        u = StateUpdate(t, icao, "position", ac.callsign, fix[0], fix[1], ac.alt_ft,
                        squawk=ac.squawk, source=self.source)
        reason = check_update(u)
        if reason is None and ac.pos is not None:
            dt = max(t - ac.pos[0], 0.0)
            d = great_circle_m(ac.pos[1], ac.pos[2], fix[0], fix[1])
            if d > KT_MAX * KT * dt + _JUMP_SLACK_M:
                reason = "position jump"
        if reason is not None:
            self.stats.reject(reason, f"{f.at}: {f.frame}")
            ac.pos = None  # re-acquire with a fresh global pair
            ac.even = ac.odd = None
            return None
        ac.pos = (t, fix[0], fix[1])
        return u


def frames_from_lines(lines: Iterable[str], stats: FeedStats, name: str = "",
                      clock: Callable[[], float] | None = None,
                      first: int = 1) -> Iterator[RawFrame]:
    """Raw frames from text or JSON lines; bad lines counted (``bad line``).

    Lines without a time (AVR ``*HEX;``) take ``clock()`` (a live feed's arrival time);
    without a clock they are bad lines. ``first``: the number of the first line.
    """
    where = f"{name} line"
    for n, line in enumerate(lines, first):
        parsed = parse_frame_line(line)
        if parsed is not None and parsed[0] is None and clock is not None:
            parsed = (clock(), parsed[1])
        if parsed is None or parsed[0] is None:
            if line.strip():
                stats.read += 1
                stats.reject("bad line", f"{name} line {n}: {line.strip()[:80]!r}")
            continue
        yield RawFrame(parsed[0], parsed[1], where, n)


# ----------------------------------------------------------------------------- blocks

#: a JSON line whose first keys are ``timestamp`` (a number: ``float`` must read it) and
#: ``frame`` (hex digits), as rs1090/jet1090 write them, after a newline (the block is
#: searched with one prepended); the rest of the line is not parsed as JSON (the line
#: must end with ``}`` and hold one ``"timestamp"``: a line broken otherwise is read for
#: its time and frame, where the line-by-line reader counts a bad line)
_JSON_LINE: Final = re.compile(
    r'\n\{"timestamp": ?([-+.0-9eE]+), ?"frame": ?"([0-9a-fA-F]*)"')
#: a ``UNIX_SECONDS HEX`` / ``T,HEX`` line
_TEXT_LINE: Final = re.compile(
    r"^[ \t]*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)[ \t,]+([0-9a-fA-F]+)[ \t]*$", re.M)
_BLANK: Final = frozenset(b" \t\n\x0b\x0c\x1c\x1d\x1e\x1f")


def _hex_value() -> Any:
    import numpy as np

    v = np.full(256, 255, dtype=np.uint8)
    for k, c in enumerate(b"0123456789abcdef"):
        v[c] = k
    for k, c in enumerate(b"ABCDEF"):
        v[c] = 10 + k
    return v


_HEX_VALUE: Final = _hex_value()


def _pow10() -> Any:
    import numpy as np

    return 10.0 ** np.arange(23)  # each exact in float64


_POW10: Final = _pow10()
BLOCK_BYTES: Final = 16 << 20


class FrameBlock(NamedTuple):
    """Frames of a block of lines as columns: time, hex text, line number; for blocks
    read by :func:`_json_rows`, also the frames as bytes (``rows``), their lengths in
    hex digits and whether each is hex (``frame`` is then a lazy view of the text)."""

    t: Any
    frame: Sequence[str]
    line: Any
    rows: Any = None
    lens: Any = None
    is_hex: Any = None


class _Slices(Sequence[str]):
    """The text of ``data[start[i]:stop[i]]``, made only when asked (for messages)."""

    def __init__(self, data: bytes, start: Any, stop: Any) -> None:
        self.data, self.start, self.stop = data, start, stop

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self.data[int(self.start[i]):int(self.stop[i])].decode("ascii", "replace")


def _decimals(block: bytes, arr: Any, start: Any, stop: Any) -> Any:
    """``float(block[a:b])`` for each ``a, b``, vectorised: a plain decimal ``[-]D.D``
    whose digits M (at most 16) are under 2**53 is M over 10**k, both exact in float64,
    so one division gives the correctly rounded value, which is what ``float`` gives;
    anything else (exponents, 17 digits as jet1090 writes times) goes through
    ``float``."""
    import numpy as np

    lens = stop - start
    w = int(lens.max()) if len(start) else 0
    if w == 0 or w > 24 or (lens <= 0).any():
        return np.array([float(block[a:b]) for a, b in zip(start.tolist(), stop.tolist(),
                                                           strict=True)])
    win = np.lib.stride_tricks.sliding_window_view(
        np.concatenate((arr, np.zeros(w, dtype=np.uint8))), w)
    return _decimal_columns(block, np.ascontiguousarray(win[start].T), start, lens)


def _decimal_columns(block: bytes, cols: Any, start: Any, lens: Any) -> Any:
    """:func:`_decimals` of numbers given as columns of characters (``cols[j]`` is the
    j-th character of each number; ``lens`` each one's length): one pass a column over
    contiguous rows, instead of a per-row parse."""
    import numpy as np

    n = len(lens)
    w = len(cols)
    inside = np.arange(w)[:, None] < lens
    ch = np.where(inside, cols, np.uint8(0x20))  # past the end: a blank, no digit
    d = ch - np.uint8(0x30)
    digit = d < 10
    dot = ch == 0x2E
    minus = ch == 0x2D
    nd = digit.sum(axis=0)
    # plain: digits, at most one dot, a minus only first; 1 to 18 digits (in int64)
    plain = ((digit | dot | minus) == inside).all(axis=0) & ~minus[1:].any(axis=0)
    plain &= (dot.sum(axis=0) <= 1) & (nd >= 1) & (nd <= 18)
    m = np.zeros(n, dtype=np.int64)
    for j in range(w):  # in place, where this column holds a digit
        np.multiply(m, 10, out=m, where=digit[j])
        np.add(m, d[j], out=m, where=digit[j])
    neg = minus[0]
    # digits after the dot: all of them, less those before it
    k = np.minimum(np.where(dot.any(axis=0), nd - (dot.argmax(axis=0) - neg), 0), 22)
    out = m.astype(np.float64) / _POW10[k]  # exact when m < 2**53
    wide = np.flatnonzero(plain & (m >= 2**53))
    if len(wide):  # 17 or 18 digits (jet1090's times): the quotient rounded exactly
        out[wide], sure = _rounded_quotient(m[wide], _POW10[k[wide]])
        plain[wide[~sure]] = False
    out = np.where(neg, -out, out)
    for i in np.flatnonzero(~plain).tolist():
        a = int(start[i])
        out[i] = float(block[a:a + int(lens[i])])
    return out


def _split(a: Any) -> tuple[Any, Any]:
    """``a`` as ``hi + lo``, each of at most 26 significant bits (Veltkamp)."""
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def _rounded_quotient(m: Any, p: Any) -> tuple[Any, Any]:
    """The float64 nearest ``m / p`` (integers ``2**53 <= m < 2**63``, ``p`` a power of
    ten up to 1e22, exact in float64), as ``float`` gives it for the decimal text, and
    where that is sure (elsewhere the caller asks ``float``).

    ``m = hi + lo`` exactly (``hi = float(m)``); ``q = hi / p`` rounded; the remainder
    ``r = m - q p`` is exact: ``q p = P + e`` exactly (Dekker's product, T. J. Dekker,
    Numer. Math. 18, 1971), ``hi - P`` is exact (Sterbenz) and the small terms are
    multiples of ``q``'s last place times ``p``'s. Then ``m / p = q + r / p`` lies within
    a unit in the last place of ``q``: it rounds to ``q``, or to the next float either
    way when ``|r|`` passes half a unit times ``p`` (ties to even)."""
    import numpy as np

    hi = m.astype(np.float64)
    lo = (m - hi.astype(np.int64)).astype(np.float64)
    q = hi / p
    big = q * p
    qh, ql = _split(q)
    ph, pl = _split(p)
    e = ((qh * ph - big) + qh * pl + ql * ph) + ql * pl
    r = ((hi - big) - e) + lo
    up_q = np.nextafter(q, np.inf)
    down_q = np.nextafter(q, 0.0)
    half = (up_q - q) * 0.5 * p  # exact: a power of two times p
    even = (q.view(np.int64) & 1) == 0
    out = np.where((r > half) | ((r == half) & ~even), up_q, q)
    out = np.where((r < -half) | ((r == -half) & ~even), down_q, out)
    # sure unless q sits on a power of two (the unit below differs) or r is outside the
    # bound (it cannot be; checked all the same)
    mant = q.view(np.int64) & ((1 << 52) - 1)
    sure = (mant != 0) & (np.abs(r) < 3.0 * half)
    return out, sure


def _u64_view(padded: Any) -> Any:
    """Each byte offset of ``padded`` as the little-endian 64-bit word of the 8 bytes
    from there (an unaligned view, no copy): a gather of one word per line compares 8
    characters at once."""
    import numpy as np

    return np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, offset=0,
                      strides=(1,))


def _word(text: bytes) -> int:
    return int.from_bytes(text, "little")


_TS_KEY: Final = b'{"timestamp":'
_FRAME_KEY: Final = b'"frame":'
_NUM_SPAN: Final = 24  # a time longer than this many characters: the general reading


def _json_lines(block: bytes, arr: Any, starts: Any, ends: Any
                ) -> tuple[FrameBlock, bool] | None:
    """:func:`_json_rows` for its common case, with fewer passes: each line's keys
    compared as 64-bit words, the comma that ends the time and the quote that ends the
    frame looked for at the line's own offsets (within :data:`_NUM_SPAN` characters of
    the time; right after 14 or 28 hex digits), the hex turned into bytes by
    ``bytes.fromhex``. Where it gives a result, it is :func:`_json_rows`' (tested), and
    whether every line ends right after its frame (``"}``: then each holds one
    ``"timestamp"``, as the time has no quote); None (then :func:`_json_rows` reads the
    block) on anything else."""
    import numpy as np

    n = len(starts)
    if n == 0 or (ends - starts < 30).any():
        return None
    padded = np.concatenate((arr, np.zeros(64, dtype=np.uint8)))
    u = _u64_view(padded)
    if not ((u[starts] == _word(_TS_KEY[:8])).all()
            and (u[starts + 5] == _word(_TS_KEY[5:])).all()):
        return None
    t0 = starts + len(_TS_KEY)
    t0 = t0 + (arr[t0] == 0x20)
    win = np.lib.stride_tricks.sliding_window_view(padded, _NUM_SPAN)
    cols = np.ascontiguousarray(win[t0].T)
    comma = cols == 0x2C
    if not comma.any(axis=0).all():
        return None
    lens = comma.argmax(axis=0)
    c = t0 + lens  # the first comma after the time's start, as _json_rows finds it
    f0 = c + 1
    f0 = f0 + (padded[f0] == 0x20)
    if (f0 + len(_FRAME_KEY) + 2 >= ends).any() or \
            not (u[f0] == _word(_FRAME_KEY)).all():
        return None
    h = f0 + len(_FRAME_KEY)
    h = h + (arr[h] == 0x20)
    if not (arr[h] == 0x22).all():
        return None
    h = h + 1
    # the closing quote right after 14 or 28 digits (hex has no quote: it is the first)
    short = padded[h + 14] == 0x22
    e = np.where(short, h + 14, h + 28)
    if not ((padded[e] == 0x22) & (e < ends)).all():
        return None
    digits = np.lib.stride_tricks.sliding_window_view(padded, 28)[h]
    digits[short, 14:] = 0x30
    try:  # bytes.fromhex skips blanks: a frame with one comes out short
        raw = bytes.fromhex(digits.tobytes().decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if len(raw) != 14 * n:
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(n, 14)  # read-only: only read
    try:
        t = _decimal_columns(block, cols[:int(lens.max()) or 1], t0, lens)
    except ValueError:
        return None
    lens_hex = e - h
    return FrameBlock(t, _Slices(block, h, e), None, rows, lens_hex.astype(np.int64),
                      np.ones(n, dtype=np.bool_)), bool((ends == e + 2).all())


def _json_rows(block: bytes, arr: Any, starts: Any, ends: Any) -> FrameBlock | None:
    """Frames of JSON lines ``{"timestamp": T, "frame": "HEX"...}`` located with numpy:
    each line's fixed keys checked in place, the frame's hex digits turned into bytes
    by a table, the time read by :func:`_decimals`; None (read them otherwise) unless
    every line has that form and every frame is 14 or 28 hex digits."""
    import numpy as np

    n = len(starts)
    if n == 0 or (ends - starts < 30).any():
        return None
    padded = np.concatenate((arr, np.zeros(32, dtype=np.uint8)))
    win = np.lib.stride_tricks.sliding_window_view(padded, 28)
    key = np.frombuffer(b'{"timestamp":', dtype=np.uint8)
    if not (win[starts, :len(key)] == key).all():
        return None
    t0 = starts + len(key)
    t0 = t0 + (arr[t0] == 0x20)
    commas = np.flatnonzero(arr == 0x2C)
    k = np.searchsorted(commas, t0)
    if (k >= len(commas)).any():
        return None
    c = commas[k]
    f0 = c + 1
    f0 = f0 + (padded[f0] == 0x20)
    fkey = np.frombuffer(b'"frame":', dtype=np.uint8)
    if (c >= ends).any() or (f0 + len(fkey) + 2 >= ends).any():
        return None
    if not (win[f0, :len(fkey)] == fkey).all():
        return None
    h = f0 + len(fkey)
    h = h + (arr[h] == 0x20)
    if not (arr[h] == 0x22).all():
        return None
    h = h + 1
    quotes = np.flatnonzero(arr == 0x22)
    e = quotes[np.minimum(np.searchsorted(quotes, h), len(quotes) - 1)]
    lens = e - h
    if not ((e > h) & (e < ends) & ((lens == 14) | (lens == 28))).all():
        return None
    nib = _HEX_VALUE[win[h]]
    nib[lens == 14, 14:] = 0
    if (nib >= 16).any():
        return None
    rows = ((nib[:, 0::2] << 4) | nib[:, 1::2]).astype(np.uint8)
    try:
        t = _decimals(block, arr, t0, c)
    except ValueError:
        return None
    return FrameBlock(t, _Slices(block, h, e), None, rows, lens.astype(np.int64),
                      np.ones(n, dtype=np.bool_))


def frame_blocks(fh: Any, stats: FeedStats, name: str = "",
                 block_bytes: int = BLOCK_BYTES) -> Iterator[FrameBlock]:
    """The frames of a binary stream of text or JSON lines, a block of lines at a time.

    JSON lines are read with numpy (:func:`_json_lines`, else :func:`_json_rows`), or
    by one regular expression over the block (:data:`_JSON_LINE`), text lines by one
    (:data:`_TEXT_LINE`); a block with any other non-blank line (AVR, bad lines,
    carriage returns, odd spacing) is read line by line by :func:`frames_from_lines`,
    with the same results.
    """
    import numpy as np

    line_no = 1
    head = True
    blank = np.zeros(256, dtype=np.bool_)
    blank[list(_BLANK)] = True
    while True:
        block = fh.read(block_bytes)
        if not block:
            return
        if not block.endswith(b"\n"):
            block += fh.readline()
        if head:
            block = block.removeprefix(b"\xef\xbb\xbf")
            head = False
        arr = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        if not block.endswith(b"\n"):
            ends = np.append(ends, len(arr))
        n_lines = len(ends)
        got: list[tuple[str, str]] | None = None
        starts = np.concatenate(([0], ends[:-1] + 1))
        filled = np.flatnonzero(ends > starts)
        # the fast reading needs every non-empty line to start with a visible character
        # (else it may be blank, which the line-by-line reading skips); the text itself
        # is made only when a block needs it (ASCII: the bytes' tests are the text's)
        ascii_ = block.isascii()
        if b"\r" not in block and ascii_ and not blank[arr[starts[filled]]].any():
            if block[:256].lstrip(b"\n").startswith(b"{"):
                # and each JSON line to end with its closing brace, one time key a line
                s, e = starts[filled], ends[filled]
                if (arr[e - 1] == 0x7D).all():
                    parsed = _json_lines(block, arr, s, e)
                    # lines that end at their frame hold one time key each: no count
                    if (parsed is not None and parsed[1]) or \
                            block.count(b'"timestamp"') == len(filled):
                        fast = parsed[0] if parsed is not None else \
                            _json_rows(block, arr, s, e)
                        if fast is not None:
                            yield fast._replace(line=filled + line_no)
                            line_no += n_lines
                            continue
                        got = _JSON_LINE.findall("\n" + block.decode("ascii"))
            else:
                got = _TEXT_LINE.findall(block.decode("ascii"))
            if got is not None and len(got) != len(filled):
                got = None
        if got is not None:
            try:
                ts = np.array(list(map(float, [x[0] for x in got])), dtype=np.float64)
            except ValueError:
                got = None
        if got is not None:
            yield FrameBlock(ts, [x[1] for x in got], filled + line_no)
        else:
            # universal newlines, as a text file reads
            text = block.decode("utf-8", errors="replace")
            lines = io.StringIO(text, newline=None).readlines()
            n_lines = len(lines)
            frames = list(frames_from_lines(lines, stats, name, first=line_no))
            yield FrameBlock(np.array([f.t for f in frames], dtype=np.float64),
                             [f.frame for f in frames],
                             np.array([f.line for f in frames], dtype=np.int64))
        line_no += n_lines
