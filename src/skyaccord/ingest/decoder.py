"""The Mode S / ADS-B decoder: a whole batch of frames at a time, fields by a numpy kernel.

:class:`ModeSDecoder` screens a batch (hex, length, time order), decodes the common
messages with :func:`skyaccord.ingest.kernel.decode_fields` and hands the rest to rs1090
(:data:`~skyaccord.ingest.kernel.SLOW`), then applies each aircraft's state in frame
order: the address must have been heard in DF11/17/18 before a reply that carries it in
the parity counts (else ``unknown address``); callsign, squawk and altitude are carried
forward per aircraft (vectorised forward fill); positions are decoded from the CPR words
by the aircraft's own state machine (one Python step per position frame, the only
per-frame loop). The result is columns (:class:`Decoded`), turned into
:class:`~skyaccord.ingest.states.StateUpdate` s only when a caller wants records.

It gives the same updates as :class:`~skyaccord.ingest.modes.Rs1090Decoder` (rs1090's
fields, the reference, tested on every real recording in tests/data) and, in addition,
the positions of ADS-B surface reports (type codes 5-8) with their ground speed and
track, as ``ground`` updates (the picture keeps them out of detection).

Surface CPR (Doc 9871 C.2.6.9; Riddle ch. 5) has 90-degree zones: one even/odd pair
leaves four longitudes and two latitudes, and a reference picks one. The reference is,
the receiver position (``reference``), else the aircraft's own last fix (airborne or
surface, any age: it only has to be within 45 degrees); with neither, the surface report
is a ``ground`` update without a position (an aircraft first heard taxiing, without
``--reference``, gets surface positions only once it has had an airborne fix). A lone surface
frame is decoded locally against the aircraft's own fix (under 60 s old) or the receiver
(valid within 45 NM).
"""

from __future__ import annotations

import bisect
import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.geo import EARTH_RADIUS_M, KT, NM
from skyaccord.ingest import kernel as K
from skyaccord.ingest.columns import KINDS, StateColumns
from skyaccord.ingest.modes import RawFrame, cpr_global, cpr_local, cpr_nl
from skyaccord.ingest.states import KT_MAX, FeedStats, StateUpdate

__all__ = ["Decoded", "ModeSDecoder", "cpr_surface_global", "cpr_surface_local"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_PAIR_MAX_S: Final = 10.0   # even/odd pair for a global fix (Doc 9871 C.2.6.10: 10 s)
_LOCAL_MAX_S: Final = 60.0  # last own position still a valid local reference
_JUMP_SLACK_M: Final = 2 * NM  # position noise and CPR quantisation allowance
_CPR_SCALE: Final = float(1 << 17)
_NZ: Final = 15  # latitude zones between the equator and a pole (Doc 9871 C.2.6.2)

_POS, _GND, _VEL, _IDN, _ALT = range(5)  # KINDS' order
_HEXCHAR: Final = np.zeros(256, dtype=np.bool_)
_HEXCHAR[list(b"0123456789abcdefABCDEF")] = True


def _nl_edges() -> list[float]:
    """The latitudes where :func:`~skyaccord.ingest.modes.cpr_nl` steps down (from 59
    at the equator to 2 below 87 degrees): each from its closed form (Doc 9871 C.2.6.2,
    NL = n at lat = acos(sqrt((1 - cos(pi/30)) / (1 - cos(2 pi/n))))), then moved by
    single float steps to where the function itself steps, so that a table look-up
    gives exactly its values."""
    edges = []
    a = 1.0 - math.cos(math.pi / (2 * _NZ))
    for n in range(59, 2, -1):  # the first latitude whose NL is below n
        x = math.degrees(math.acos(math.sqrt(a / (1.0 - math.cos(2 * math.pi / n)))))
        while cpr_nl(x) < n:
            x = math.nextafter(x, 0.0)
        while cpr_nl(x) >= n:
            x = math.nextafter(x, 90.0)
        edges.append(x)
    return edges


_NL_EDGES: Final = _nl_edges()


def _nl(lat: float) -> int:
    """:func:`~skyaccord.ingest.modes.cpr_nl` by table look-up.

    >>> all(_nl(x) == cpr_nl(x) for x in (0.0, 10.47047130, 52.0, -60.0, 86.99, 87.0, 89.0))
    True
    """
    a = abs(lat)
    if a >= 87.0:
        return 2 if a == 87.0 else 1
    return 59 - bisect.bisect_right(_NL_EDGES, a)


def cpr_surface_local(lat_cpr: int, lon_cpr: int, odd: bool, ref_lat: float,
                      ref_lon: float) -> tuple[float, float]:
    """Surface position of one CPR word near a reference (valid within 45 NM): the
    airborne formulas with 90-degree zones (Doc 9871 C.2.6.9; Riddle ch. 5).

    Even frame 8C4841753AAB238733C8CD4020B1 of the Riddle's surface example, near its
    reference (51.990, 4.375):

    >>> lat, lon = cpr_surface_local(115609, 116941, False, 51.990, 4.375)
    >>> round(lat, 5), round(lon, 5)
    (52.32304, 4.73047)
    """
    i = 1 if odd else 0
    yz, xz = lat_cpr / _CPR_SCALE, lon_cpr / _CPR_SCALE
    dlat = 90.0 / (60 - i)
    j = math.floor(ref_lat / dlat) + math.floor((ref_lat % dlat) / dlat - yz + 0.5)
    lat = dlat * (j + yz)
    dlon = 90.0 / max(cpr_nl(lat) - i, 1)
    m = math.floor(ref_lon / dlon) + math.floor((ref_lon % dlon) / dlon - xz + 0.5)
    lon = dlon * (m + xz)
    return lat, (lon + 180.0) % 360.0 - 180.0


def cpr_surface_global(lat_even: int, lon_even: int, lat_odd: int, lon_odd: int,
                       odd_is_newer: bool, ref_lat: float,
                       ref_lon: float) -> tuple[float, float] | None:
    """Surface position from an even/odd pair, the solution nearest the reference among
    the two latitudes and four longitudes the 90-degree zones leave; None if the pair
    straddles a latitude zone edge.

    Worked example of *The 1090 MHz Riddle* (ch. 5; even 8C4841753AAB238733C8CD4020B1,
    odd 8C4841753A8A35323FAEBDAC702D, odd newer, reference 51.990, 4.375): 52.32061,
    4.73473.

    >>> lat, lon = cpr_surface_global(115609, 116941, 39199, 110269, True, 51.990, 4.375)
    >>> round(lat, 5), round(lon, 5)
    (52.32061, 4.73473)
    """
    le, lo = lat_even / _CPR_SCALE, lat_odd / _CPR_SCALE
    j = math.floor(59 * le - 60 * lo + 0.5)
    lat_e = 90.0 / 60 * (j % 60 + le)
    lat_o = 90.0 / 59 * (j % 59 + lo)
    # each is in [0, 90): the other hemisphere's solution is 90 degrees south
    if abs(lat_e - 90.0 - ref_lat) < abs(lat_e - ref_lat):
        lat_e -= 90.0
    if abs(lat_o - 90.0 - ref_lat) < abs(lat_o - ref_lat):
        lat_o -= 90.0
    nl = cpr_nl(lat_e)
    if nl != cpr_nl(lat_o):
        return None
    lat = lat_o if odd_is_newer else lat_e
    i = 1 if odd_is_newer else 0
    ni = max(nl - i, 1)
    m = math.floor(lon_even / _CPR_SCALE * (nl - 1) - lon_odd / _CPR_SCALE * nl + 0.5)
    xz = (lon_odd if odd_is_newer else lon_even) / _CPR_SCALE
    lon0 = 90.0 / ni * (m % ni + xz)
    best, best_d = lon0, math.inf
    for k in range(4):
        cand = (lon0 + 90.0 * k + 180.0) % 360.0 - 180.0
        d = abs((cand - ref_lon + 180.0) % 360.0 - 180.0)
        if d < best_d:
            best, best_d = cand, d
    return lat, best


# slots: thousands of aircraft in the CPR loop, read and written per position frame
@dataclass(slots=True)
class _Aircraft:
    callsign: str | None = None
    squawk: int = -1
    alt_ft: float = math.nan
    even: tuple[float, int, int] | None = None   # airborne CPR words
    odd: tuple[float, int, int] | None = None
    s_even: tuple[float, int, int] | None = None  # surface CPR words
    s_odd: tuple[float, int, int] | None = None
    pos: tuple[float, float, float] | None = None  # t, lat, lon of the last fix


class Decoded(NamedTuple):
    """Updates of a batch as columns, in frame order. ``frame`` is each update's position
    in the batch; ``kind`` indexes :data:`~skyaccord.ingest.columns.KINDS`; ``callsign``
    indexes ``callsigns`` (-1 = none); ``squawk`` is ``0oABCD`` (-1 = none); NaN = not said."""

    frame: I64
    t: F64
    icao: npt.NDArray[np.uint32]
    kind: npt.NDArray[np.uint8]
    callsign: npt.NDArray[np.int32]
    callsigns: list[str]
    lat: F64
    lon: F64
    alt_ft: F64
    gs_kt: F64
    trk_deg: F64
    vs_fpm: F64
    squawk: npt.NDArray[np.int32]

    def columns(self) -> StateColumns:
        """As :class:`~skyaccord.ingest.columns.StateColumns` (addresses as text)."""
        uniq, inv = np.unique(self.icao, return_inverse=True)
        return StateColumns(self.t, self.kind, inv.astype(np.int32).reshape(-1),
                            [f"{a:06x}" for a in uniq.tolist()], self.callsign,
                            self.callsigns, self.lat, self.lon, self.alt_ft, self.gs_kt,
                            self.trk_deg, self.vs_fpm)

    def updates(self, source: str = "") -> list[StateUpdate]:
        """The updates as records (``None`` where a column is NaN / -1)."""
        def opt(a: F64) -> list[float | None]:
            return [None if v != v else v for v in a.tolist()]

        names = [f"{a:06x}" for a in self.icao.tolist()]
        cs = [None if c < 0 else self.callsigns[c] for c in self.callsign.tolist()]
        sq = [None if s < 0 else f"{s:04o}" for s in self.squawk.tolist()]
        lat, lon, alt = opt(self.lat), opt(self.lon), opt(self.alt_ft)
        gs, trk, vs = opt(self.gs_kt), opt(self.trk_deg), opt(self.vs_fpm)
        new = tuple.__new__
        return [new(StateUpdate, (t, a, KINDS[k], c, y, x, h, g, r, v, s, None, None,
                                  source))
                for t, a, k, c, y, x, h, g, r, v, s in zip(
                    self.t.tolist(), names, self.kind.tolist(), cs, lat, lon, alt, gs, trk,
                    vs, sq, strict=True)]


def _last_event(has: npt.NDArray[np.bool_], g: I64, order: I64, start: I64) -> I64:
    """For each row, the row (same group ``g``, at or before it) of the latest event
    (``has``), or -1: a forward fill by group. ``order`` sorts the rows by group, stably;
    ``start`` is each group's first position in that order."""
    m = len(has)
    pos = np.where(has[order], np.arange(m), -1)
    run = np.maximum.accumulate(pos) if m else pos
    run[run < start[g[order]]] = -1
    out = np.full(m, -1, dtype=np.int64)
    out[order] = np.where(run >= 0, order[np.maximum(run, 0)], -1)
    return out


class ModeSDecoder:
    """Stateful Mode S / ADS-B decoder: frames in (any chunking), state updates out.

    Parameters
    ----------
    stats
        Where refusals are counted (a new one named ``modes`` by default).
    reference
        Receiver position ``(lat, lon)`` in degrees: enables local CPR decoding of an
        aircraft's first frame (airborne within ~180 NM, surface within 45 NM) and picks
        the solution of surface pairs.
    source
        Copied into each update's ``source``.
    """

    def __init__(self, stats: FeedStats | None = None,
                 reference: tuple[float, float] | None = None, source: str = "") -> None:
        self.stats = stats if stats is not None else FeedStats("modes")
        self.reference = reference
        self.source = source
        self.aircraft: dict[int, _Aircraft] = {}
        self._t_last = -math.inf

    # ------------------------------------------------------------------ record API

    def decode(self, frames: Sequence[RawFrame], *, reorder_s: float = 1.0,
               batch: int = 4096) -> list[StateUpdate]:
        """Decode a chunk of frames in time order; a frame earlier than the latest by
        more than ``reorder_s`` is refused (``time backwards``)."""
        enabled = gc.isenabled()
        gc.disable()  # many small acyclic objects: collections are pure overhead
        try:
            return self.decode_indexed(frames, reorder_s, batch)[0]
        finally:
            if enabled:
                gc.enable()

    def decode_indexed(self, frames: Sequence[RawFrame], reorder_s: float = 1.0,
                       batch: int = 4096) -> tuple[list[StateUpdate], list[int]]:
        """:meth:`decode` returning also, for each update, the position in ``frames`` of
        the frame it came from (the parallel decoder merges in frame order with it)."""
        t = np.fromiter((f.t for f in frames), dtype=np.float64, count=len(frames))
        d = self.decode_columns(t, [f.frame for f in frames], lambda i: frames[i].at,
                                reorder_s=reorder_s, batch=batch)
        return d.updates(self.source), d.frame.tolist()

    # ------------------------------------------------------------------ columns

    def decode_columns(self, t: F64, hexes: list[str], at: Callable[[int], str],
                       *, reorder_s: float = 1.0, batch: int = 4096,
                       hex_checked: bool = False) -> Decoded:
        """Decode a batch: ``t`` (UTC s) and ``hexes`` per frame, ``at(i)`` naming frame
        ``i`` in messages. ``hex_checked``: the caller has made sure every frame is hex
        digits only."""
        n = len(hexes)
        lens = np.fromiter(map(len, hexes), dtype=np.int64, count=n)
        is_hex = lens > 0 if hex_checked else self._hex_frames(hexes, lens)

        def rows_of(keep: I64) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int8]]:
            return K.rows_from_hex([hexes[i] for i in keep.tolist()])

        return self._decode(t, lens, is_hex, rows_of, hexes, at, reorder_s, batch)

    def decode_rows(self, t: F64, rows: npt.NDArray[np.uint8], lens: I64,
                    is_hex: npt.NDArray[np.bool_], texts: Sequence[str],
                    at: Callable[[int], str], *, reorder_s: float = 1.0,
                    batch: int = 4096) -> Decoded:
        """:meth:`decode_columns` on frames already as bytes: ``rows`` of 14 (a short
        frame in the first 7), each frame's length in hex digits and whether it is hex
        digits only; ``texts[i]`` gives frame ``i``'s text for messages."""
        def rows_of(keep: I64) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int8]]:
            return rows[keep], (lens[keep] // 2).astype(np.int8)

        return self._decode(t, lens, is_hex, rows_of, texts, at, reorder_s, batch)

    def _decode(self, t: F64, lens: I64, is_hex: npt.NDArray[np.bool_],
                rows_of: Callable[[I64], tuple[npt.NDArray[np.uint8],
                                               npt.NDArray[np.int8]]],
                hexes: Sequence[str], at: Callable[[int], str], reorder_s: float,
                batch: int) -> Decoded:
        stats = self.stats
        n = len(lens)
        stats.read += n
        good_len = (lens == 14) | (lens == 28)
        self._reject_where(~is_hex, "not hex", lambda i: f"{at(i)}: {hexes[i][:40]!r}")
        self._reject_where(is_hex & ~good_len, "bad length",
                           lambda i: f"{at(i)}: {hexes[i][:40]!r}")
        valid = is_hex & good_len
        # time order: the latest time of the frames accepted before each one (a refused
        # frame is older than that latest, so taking it in the running maximum changes
        # nothing)
        finite = valid & np.isfinite(t)
        run = np.maximum.accumulate(np.where(finite, t, -np.inf)) if n else t
        prev = np.empty(n)
        if n:
            prev[0] = self._t_last
            np.maximum(run[:-1], self._t_last, out=prev[1:])
        with np.errstate(invalid="ignore"):
            back = valid & ~(t >= prev - reorder_s) | (valid & (t == np.inf))
        self._reject_where(back, "time backwards",
                           lambda i: f"{at(i)}: t={t[i]} after t={prev[i]}")
        if n:
            self._t_last = max(self._t_last, float(run[-1]))
        keep = np.flatnonzero(valid & ~back)
        rows, nbytes = rows_of(keep)
        # DF19 application field 0 (military extended squitter, the DF17 layout: DO-260B
        # §2.2.3.2.7.9): checked, then decoded as its DF17 twin
        mil = np.flatnonzero((rows[:, 0] == 0x98) & (nbytes == 14))
        if len(mil):
            sub = rows[mil]
            par = (sub[:, 11].astype(np.uint32) << 16) | (sub[:, 12].astype(np.uint32)
                                                          << 8) | sub[:, 13]
            bad = K.crc24_rows(sub, 11) != par
            self._reject_where_idx(keep[mil[bad]], "crc", lambda i: f"{at(i)}: {hexes[i]}")
            ok = mil[~bad]
            rows = rows.copy()
            rows[ok, 0] = (17 << 3) | 5
            crc = K.crc24_rows(rows[ok], 11)
            rows[ok, 11], rows[ok, 12], rows[ok, 13] = crc >> 16, (crc >> 8) & 0xFF, crc & 0xFF
            drop = np.zeros(len(rows), dtype=np.bool_)
            drop[mil[bad]] = True
            keep, rows, nbytes = keep[~drop], rows[~drop], nbytes[~drop]
        f = K.decode_fields(rows, nbytes)
        self._reject_where_idx(keep[f.status == K.CRC], "crc",
                               lambda i: f"{at(i)}: {hexes[i]}")
        ok = f.status == K.OK
        slow = np.flatnonzero(f.status == K.SLOW)
        # per-frame events (OK frames from the kernel, SLOW ones from rs1090)
        # the kernel's own arrays (fresh, this call's alone): the rs1090 events go in
        # place, and _apply reads them by gathers (copies)
        icao, registers, kind = f.icao, f.registers, f.kind
        alt, gs, trk, vs = f.alt_ft, f.gs_kt, f.trk_deg, f.vs_fpm
        squawk = f.squawk
        lat_cpr, lon_cpr, odd = f.lat_cpr, f.lon_cpr, f.odd
        cs_of: dict[int, str] = {}
        ident = np.flatnonzero(ok & (kind == K.IDENTITY))
        for j, c in zip(ident.tolist(), K.callsign_text(f.chars[ident]), strict=True):
            if c:
                cs_of[j] = c
        if len(slow):
            texts = [rows[j, :nbytes[j]].tobytes().hex() for j in slow.tolist()]
            # a reply repeats word for word (an aircraft answers each interrogation with
            # the same identification): rs1090 decodes each distinct frame once, and the
            # events of the first frame with that text are copied to the others
            first: dict[str, int] = {}
            rep = np.array([first.setdefault(x, j) for x, j in zip(texts, slow.tolist(),
                                                                   strict=True)])
            distinct = list(first)
            for x, msg in zip(distinct, self._rs1090(distinct, batch), strict=True):
                j = first[x]
                reason = None
                if msg is None:
                    df = int(rows[j, 0]) >> 3
                    reason = "crc" if df in (17, 18) and nbytes[j] == 14 and \
                        K.crc24_rows(rows[j:j + 1], 11)[0] != (
                            (int(rows[j, 11]) << 16) | (int(rows[j, 12]) << 8)
                            | int(rows[j, 13])) else "undecodable"
                elif not isinstance(msg.get("icao24"), str):
                    reason = "undecodable"
                if reason is not None:
                    same = keep[slow[rep == j]]
                    self._reject_where_idx(same, reason, lambda i: f"{at(i)}: {hexes[i]}")
                    continue
                ok[j] = True
                icao[j] = int(msg["icao24"], 16)
                self._slow_event(msg, j, registers, kind, alt, gs, trk, vs, squawk,
                                 lat_cpr, lon_cpr, odd, cs_of)
            for a in (ok, icao, registers, kind, alt, gs, trk, vs, squawk, lat_cpr,
                      lon_cpr, odd):
                a[slow] = a[rep]
            for j, r in zip(slow.tolist(), rep.tolist(), strict=True):
                if j != r and r in cs_of:
                    cs_of[j] = cs_of[r]
        sel = np.flatnonzero(ok)
        return self._apply(t, keep, sel, icao, registers, kind, alt, gs, trk, vs, squawk,
                           lat_cpr, lon_cpr, odd, cs_of, hexes, at)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _hex_frames(hexes: list[str], lens: I64) -> npt.NDArray[np.bool_]:
        """Which frames are non-empty and hex digits only (vectorised over all)."""
        n = len(hexes)
        if n == 0:
            return np.zeros(0, dtype=np.bool_)
        chars = np.frombuffer("".join(hexes).encode("latin-1", errors="replace"),
                              dtype=np.uint8)
        bad_char = ~_HEXCHAR[chars]
        if not bad_char.any():
            return np.asarray(lens > 0, dtype=np.bool_)
        bad = bad_char.astype(np.int64)
        ends = np.cumsum(lens)
        cum = np.concatenate(([0], np.cumsum(bad)))
        nbad = cum[ends] - cum[ends - lens]
        return np.asarray((nbad == 0) & (lens > 0), dtype=np.bool_)

    def _reject_where(self, mask: npt.NDArray[np.bool_], reason: str,
                      example: Callable[[int], str]) -> None:
        self._reject_where_idx(np.flatnonzero(mask), reason, example)

    def _reject_where_idx(self, idx: npt.NDArray[np.intp] | I64, reason: str,
                          example: Callable[[int], str]) -> None:
        if len(idx):
            self.stats.reject(reason, example(int(idx[0])))
            self.stats.rejected[reason] += len(idx) - 1

    @staticmethod
    def _rs1090(msgs: list[str], batch: int) -> list[Any]:
        import rs1090

        try:
            return list(rs1090.decode(msgs, batch=batch))
        except BaseException as exc:  # pyo3 panics derive from BaseException
            if type(exc).__name__ != "PanicException":
                raise
        out: list[Any] = []
        for m in msgs:
            try:
                out.append(rs1090.decode(m))
            except BaseException as exc:
                if type(exc).__name__ != "PanicException":
                    raise
                out.append(None)
        return out

    @staticmethod
    def _slow_event(msg: dict[str, Any], j: int, registers: Any, kind: Any, alt: Any,
                    gs: Any, trk: Any, vs: Any, squawk: Any, lat_cpr: Any, lon_cpr: Any,
                    odd: Any, cs_of: dict[int, str]) -> None:
        """The events of one frame decoded by rs1090 (the fields the reference decoder
        reads from its dict)."""
        df = str(msg.get("df", ""))
        es = df in ("17", "18")
        registers[j] = df in ("17", "18", "11")
        kind[j] = K.NOTHING
        bds = msg.get("bds")

        def num(key: str) -> float:
            v = msg.get(key)
            return float(v) if isinstance(v, int | float) else math.nan

        if df in ("20", "21"):
            b20 = msg.get("bds20")
            if isinstance(b20, dict):
                c = str(b20.get("callsign", "")).strip().rstrip("_#").strip()
                if c:
                    cs_of[j] = c
        if bds == "05" and es and "lat_cpr" in msg:
            kind[j], alt[j] = K.AIR_POSITION, num("altitude")
            lat_cpr[j], lon_cpr[j] = int(msg["lat_cpr"]), int(msg["lon_cpr"])
            odd[j] = msg.get("parity") == "odd"
        elif bds == "06" and es:
            kind[j], gs[j], trk[j] = K.SURFACE, num("groundspeed"), num("track")
            if "lat_cpr" in msg:
                lat_cpr[j], lon_cpr[j] = int(msg["lat_cpr"]), int(msg["lon_cpr"])
                odd[j] = msg.get("parity") == "odd"
            else:
                lat_cpr[j] = -1
        elif bds == "09" and es:
            if msg.get("groundspeed") is not None and msg.get("track") is not None:
                kind[j], gs[j], trk[j], vs[j] = (K.VELOCITY, num("groundspeed"),
                                                 num("track"), num("vertical_rate"))
        elif es and bds == "08":
            kind[j] = K.IDENTITY
            c = str(msg.get("callsign", "")).strip().rstrip("_#").strip()
            if c:
                cs_of[j] = c
        elif isinstance(msg.get("squawk"), str):
            kind[j], squawk[j] = K.SQUAWK, int(msg["squawk"], 8)
        elif df in ("0", "4", "16", "20") and isinstance(msg.get("altitude"), int | float):
            kind[j], alt[j] = K.ALTITUDE, float(msg["altitude"])

    def _apply(self, t_all: F64, keep: I64, sel: I64, icao_all: Any, registers_all: Any,
               kind_all: Any, alt_all: F64, gs_all: F64, trk_all: F64, vs_all: F64,
               squawk_all: Any, lat_cpr_all: Any, lon_cpr_all: Any, odd_all: Any,
               cs_of: dict[int, str], hexes: Sequence[str], at: Callable[[int], str]
               ) -> Decoded:
        stats = self.stats
        frame = keep[sel]
        t = t_all[frame]
        icao = icao_all[sel]
        registers = registers_all[sel]
        kind = kind_all[sel]
        m = len(sel)
        # rows by aircraft (one stable sort, kept for the forward fills below)
        by_icao = np.argsort(icao, kind="stable")
        sorted_icao = icao[by_icao]
        new_ac = np.ones(m, dtype=np.bool_)
        new_ac[1:] = sorted_icao[1:] != sorted_icao[:-1]
        uniq = sorted_icao[new_ac]
        g = np.empty(m, dtype=np.int64)
        g[by_icao] = np.cumsum(new_ac) - 1
        states = [self.aircraft.get(a) for a in uniq.tolist()]
        known0 = np.array([s is not None for s in states], dtype=np.bool_)
        first = np.full(len(uniq), m, dtype=np.int64)
        reg_rows = np.flatnonzero(registers)
        np.minimum.at(first, g[reg_rows], reg_rows)
        known = known0[g] | (first[g] <= np.arange(m))
        # DF0/4/5/16/20/21 carry the address in the parity: a corrupt frame yields a
        # random address, so such replies count only for aircraft already heard
        self._reject_where_idx(frame[~known], "unknown address",
                               lambda i: f"{at(i)}: {hexes[i]}")
        for k in np.flatnonzero(~known0 & (first < m)).tolist():
            states[k] = self.aircraft[int(uniq[k])] = _Aircraft()
        live = np.flatnonzero(known)
        frame, t, g, kind = frame[live], t[live], g[live], kind[live]
        src = sel[live]  # rows of the kernel's arrays
        m = len(live)
        # the kept rows in the same sorted order, renumbered
        order = (np.cumsum(known) - 1)[by_icao[known[by_icao]]]
        start = np.zeros(len(uniq), dtype=np.int64)
        counts = np.bincount(g, minlength=len(uniq))
        start[1:] = np.cumsum(counts)[:-1]
        # carried per aircraft: callsign, squawk, altitude (the frame's own included)
        cs_names: list[str] = []
        cs_index: dict[str, int] = {}

        def cs_id(c: str | None) -> int:
            if c is None:
                return -1
            k = cs_index.get(c)
            if k is None:
                k = cs_index[c] = len(cs_names)
                cs_names.append(c)
            return k

        cs_ev = np.full(m, -1, dtype=np.int32)
        if cs_of and m:
            rs = np.fromiter(cs_of, dtype=np.int64, count=len(cs_of))
            at_ = np.minimum(np.searchsorted(src, rs), m - 1)  # src is sorted
            for r, kk, hit in zip(rs.tolist(), at_.tolist(), (src[at_] == rs).tolist(),
                                  strict=True):
                if hit:
                    cs_ev[kk] = cs_id(cs_of[r])
        sq_ev = squawk_all[src]
        alt_ev = alt_all[src]
        a_kind = kind_all[src]
        alt_ev = np.where((a_kind == K.AIR_POSITION) | (a_kind == K.ALTITUDE), alt_ev, np.nan)
        init_cs = np.array([cs_id(s.callsign) if s is not None else -1 for s in states],
                           dtype=np.int32)
        init_sq = np.array([s.squawk if s is not None else -1 for s in states],
                           dtype=np.int32)
        init_alt = np.array([s.alt_ft if s is not None else math.nan for s in states])
        last = _last_event(cs_ev >= 0, g, order, start)
        callsign = np.where(last >= 0, cs_ev[np.maximum(last, 0)], init_cs[g]).astype(np.int32)
        last = _last_event(sq_ev >= 0, g, order, start)
        squawk = np.where(last >= 0, sq_ev[np.maximum(last, 0)], init_sq[g]).astype(np.int32)
        last = _last_event(~np.isnan(alt_ev), g, order, start)
        alt = np.where(last >= 0, alt_ev[np.maximum(last, 0)], init_alt[g])
        # carry to the next batch: each aircraft's callsign, squawk and altitude as of
        # its last row
        last_row = np.full(len(uniq), -1, dtype=np.int64)
        np.maximum.at(last_row, g, np.arange(m))
        for k, r in enumerate(last_row.tolist()):
            st = states[k]
            if r < 0 or st is None:
                continue
            c = int(callsign[r])
            st.callsign = cs_names[c] if c >= 0 else None
            st.squawk = int(squawk[r])
            st.alt_ft = float(alt[r])
        alt = alt.copy()
        gs, trk, vs = gs_all[src], trk_all[src], vs_all[src]
        lat = np.full(m, np.nan)
        lon = np.full(m, np.nan)
        emit = np.zeros(m, dtype=np.bool_)
        out_kind = np.zeros(m, dtype=np.uint8)
        # velocities
        v = kind == K.VELOCITY
        with np.errstate(invalid="ignore"):
            bad = v & ~((gs >= 0.0) & (gs <= KT_MAX) & (np.nan_to_num(np.abs(vs)) <= 60_000))
        self._reject_where_idx(frame[bad], "impossible speed", lambda i: f"{at(i)}: {hexes[i]}")
        emit |= v & ~bad
        out_kind[v] = _VEL
        # identity (callsign, squawk)
        s = (kind == K.IDENTITY) | (kind == K.SQUAWK)
        emit |= s
        out_kind[s] = _IDN
        # altitude replies (the altitude is carried even when refused, as before)
        s = kind == K.ALTITUDE
        with np.errstate(invalid="ignore"):
            bad = s & ~((alt >= -2_000.0) & (alt <= 200_000.0))
        self._reject_where_idx(frame[bad], "impossible altitude",
                               lambda i: f"{at(i)}: {hexes[i]}")
        emit |= s & ~bad
        out_kind[s] = _ALT
        # positions: the CPR state machine, frame by frame
        p = np.flatnonzero((kind == K.AIR_POSITION) | (kind == K.SURFACE))
        if len(p):
            self._positions(p, t, g, kind, uniq, states, lat_cpr_all[src], lon_cpr_all[src],
                            odd_all[src], alt, lat, lon, emit, frame, hexes, at)
        out_kind[kind == K.AIR_POSITION] = _POS
        s = kind == K.SURFACE
        out_kind[s] = _GND
        alt[s] = np.nan  # on the surface: no altitude, no vertical rate
        vs[s] = np.nan
        keep_alt = (out_kind == _POS) | (out_kind == _ALT)
        alt = np.where(keep_alt, alt, np.nan)
        nopos = (out_kind != _POS) & (out_kind != _GND)
        lat[nopos] = np.nan
        lon[nopos] = np.nan
        novel = (out_kind != _VEL) & (out_kind != _GND)
        gs[novel] = np.nan
        trk[novel] = np.nan
        vs[out_kind != _VEL] = np.nan
        e = np.flatnonzero(emit)
        stats.updates += len(e)
        return Decoded(frame[e], t[e], icao_all[src][e].astype(np.uint32), out_kind[e],
                       callsign[e], cs_names, lat[e], lon[e], alt[e], gs[e], trk[e],
                       vs[e], squawk[e])

    def _positions(self, p: I64, t: F64, g: I64, kind: Any, uniq: Any,
                   states: list[_Aircraft | None], lat_cpr: Any, lon_cpr: Any, odd: Any,
                   alt: F64, lat: F64, lon: F64, emit: npt.NDArray[np.bool_], frame: I64,
                   hexes: Sequence[str], at: Callable[[int], str]) -> None:
        """The CPR state machine over the position rows ``p``, in order: the one loop
        per frame. Its common step (local decoding against the aircraft's own fix under
        60 s old, the implied-speed check) is written out inline: same formulas as
        :func:`cpr_local` / :func:`cpr_surface_local` and the haversine of
        :func:`skyaccord.geo.great_circle_m`, without the calls."""
        stats = self.stats
        ref = self.reference
        limit = KT_MAX * KT
        rad = math.pi / 180.0
        floor = math.floor
        bisect_right = bisect.bisect_right
        edges = _NL_EDGES
        local_max = _LOCAL_MAX_S
        pair_max = _PAIR_MAX_S
        slack = _JUMP_SLACK_M
        radius = EARTH_RADIUS_M
        sin, cos, asin, sqrt = math.sin, math.cos, math.asin, math.sqrt
        surface_rows = p[kind[p] == K.SURFACE]
        emit[surface_rows] = True  # on the ground, with or without a position
        # per row, ahead of the loop: the surface flag, the CPR words as fractions of a
        # zone, the zone sizes, whether the altitude is impossible
        kp = kind[p]
        is_surface = kp == K.SURFACE
        odd_p = odd[p]
        span = np.where(is_surface, 90.0, 360.0)
        dlat_p = span / (60 - odd_p.astype(np.int64))
        hp = alt[p]
        with np.errstate(invalid="ignore"):
            bad_alt = ~is_surface & ~np.isnan(hp) & ~((hp >= -2_000.0) & (hp <= 200_000.0))
        yz_p, xz_p = lat_cpr[p], lon_cpr[p]
        got_r: list[int] = []
        got_lat: list[float] = []
        got_lon: list[float] = []
        for r, tt, gg, surface, yz, xz, o, yzf, xzf, dlat, sp, high in zip(
                p.tolist(), t[p].tolist(), g[p].tolist(), is_surface.tolist(),
                yz_p.tolist(), xz_p.tolist(), odd_p.tolist(), (yz_p / _CPR_SCALE).tolist(),
                (xz_p / _CPR_SCALE).tolist(), dlat_p.tolist(), span.tolist(),
                bad_alt.tolist(), strict=True):
            ac = states[gg]
            if yz < 0 or ac is None:
                continue  # rs1090 gave no CPR words (the state exists: known rows)
            word = (tt, yz, xz)
            if surface:
                if o:
                    ac.s_odd = word
                else:
                    ac.s_even = word
            elif o:
                ac.odd = word
            else:
                ac.even = word
            pos = ac.pos
            if pos is not None and tt - pos[0] <= local_max:
                # local decoding against the aircraft's own fix (Doc 9871 C.2.6.6)
                ref_lat, ref_lon = pos[1], pos[2]
                y = dlat * (floor(ref_lat / dlat) + floor((ref_lat % dlat) / dlat - yzf + 0.5)
                            + yzf)
                # NL(y) as _nl gives it, inline (the loop's most frequent call)
                ay = y if y >= 0.0 else -y
                zones = (59 - bisect_right(edges, ay) if ay < 87.0 else
                         2 if ay == 87.0 else 1) - o
                dlon = sp / (zones if zones > 1 else 1)
                x = dlon * (floor(ref_lon / dlon) + floor((ref_lon % dlon) / dlon - xzf + 0.5)
                            + xzf)
                x = (x + 180.0) % 360.0 - 180.0
            else:
                if ref is None and (pos is None if surface else (
                        (other := ac.even if o else ac.odd) is None
                        or abs(tt - other[0]) > pair_max)):
                    # what _acquire would say, without the call: no reference to place
                    # a surface pair, or no airborne pair yet (the common waits)
                    continue
                fix = self._acquire(ac, surface, o, word, pos, ref)
                if fix is None:
                    continue
                if isinstance(fix, str):
                    stats.reject(fix, f"{at(int(frame[r]))}: {hexes[int(frame[r])]}")
                    continue
                y, x = fix
            reason = None
            if not (-90.0 <= y <= 90.0 and -180.0 <= x <= 180.0):
                reason = "impossible position"
            elif high:
                reason = "impossible altitude"
            elif pos is not None:
                since = tt - pos[0]
                allowed = limit * (since if since > 0.0 else 0.0) + slack
                dy, dx = abs(y - pos[1]) * rad, abs(x - pos[2]) * rad
                # the great-circle distance is at most R (|dlat| + |dlon|): the haversine
                # only when that bound does not already clear the allowance
                if radius * (dy + dx) > allowed:
                    p1, p2 = pos[1] * rad, y * rad
                    hv = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos(p2) * \
                        sin((x - pos[2]) * rad / 2) ** 2
                    if 2 * radius * asin(min(1.0, sqrt(hv))) > allowed:
                        reason = "position jump"
            if reason is not None:
                fr = int(frame[r])
                stats.reject(reason, f"{at(fr)}: {hexes[fr]}")
                ac.pos = None  # re-acquire with a fresh global pair
                ac.even = ac.odd = ac.s_even = ac.s_odd = None
                continue
            ac.pos = (tt, y, x)
            got_r.append(r)
            got_lat.append(y)
            got_lon.append(x)
        if got_r:
            rows = np.array(got_r, dtype=np.int64)
            lat[rows] = got_lat
            lon[rows] = got_lon
            emit[rows] = True

    @staticmethod
    def _acquire(ac: _Aircraft, surface: bool, o: bool, word: tuple[float, int, int],
                 pos: tuple[float, float, float] | None, ref: tuple[float, float] | None
                 ) -> tuple[float, float] | str | None:
        """A fix without a recent own position: from an even/odd pair within 10 s, else
        locally against the receiver; None while waiting, ``"cpr no fix"`` when the pair
        straddles a zone edge."""
        tt = word[0]
        other = (ac.s_even if o else ac.s_odd) if surface else (ac.even if o else ac.odd)
        if other is not None and abs(tt - other[0]) <= _PAIR_MAX_S:
            e_, o_ = (other, word) if o else (word, other)
            fix: tuple[float, float] | None
            if surface:
                near = ref or (None if pos is None else (pos[1], pos[2]))
                if near is None:
                    return None  # no reference yet to choose among the solutions
                fix = cpr_surface_global(e_[1], e_[2], o_[1], o_[2], o, *near)
            else:
                fix = cpr_global(e_[1], e_[2], o_[1], o_[2], odd_is_newer=o)
            return "cpr no fix" if fix is None else fix
        if ref is not None:
            return (cpr_surface_local if surface else cpr_local)(word[1], word[2], o, *ref)
        return None  # waiting for the other half of a pair
