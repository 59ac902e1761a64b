"""State updates as columns, and ``skyaccord decode``'s CSV written from them vectorised.

:class:`StateColumns` holds a chunk of updates as arrays (strings as small tables plus an
index per row). :class:`StatesCsvWriter` writes :data:`STATE_COLUMNS` rows with numpy:
each number is formatted into a block of characters (digits from integer arithmetic,
correctly rounded half-even like Python's ``f"{v:.6f}"``: the few values within 1e-9 of
a rounding tie are rounded from the exact product, see :func:`_round_half_even`), the
blocks are laid side by side and the unused cells dropped in one pass. It writes byte for byte what
:func:`skyaccord.ingest.formats.write_states_csv` writes (tested).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.ingest.states import StateUpdate

__all__ = ["KINDS", "STATE_COLUMNS", "StateColumns", "StateRowMaker", "StateRows",
           "StatesCsvWriter", "StatesParquetWriter", "forward_fill"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]
B = npt.NDArray[np.bool_]

#: header of ``skyaccord decode``'s output: one row per position, velocity or state
#: update (airborne: fields it does not carry are the aircraft's last airborne values)
#: and per ground report (``on_ground`` 1: its own fields only, no carrying over)
STATE_COLUMNS: Final = ("t", "icao24", "callsign", "lat", "lon", "alt_ft", "gs_kt",
                        "trk_deg", "vs_fpm", "on_ground")
#: update kinds (:attr:`StateColumns.kind` indexes this)
KINDS: Final = ("position", "ground", "velocity", "identity", "altitude", "state")
_POS, _GND, _VEL, _IDN, _ALT, _STATE = range(6)
_CODE: Final = {k: i for i, k in enumerate(KINDS)}
_CSV_SPECIAL: Final = frozenset(',"\r\n')


class StateColumns(NamedTuple):
    """A chunk of state updates as columns, in order. ``ident`` indexes ``idents`` (the
    track keys), ``callsign`` indexes ``callsigns`` (-1 = none), ``kind`` indexes
    :data:`KINDS`; NaN = not said."""

    t: F64
    kind: U8
    ident: I32
    idents: list[str]
    callsign: I32
    callsigns: list[str]
    lat: F64
    lon: F64
    alt_ft: F64
    gs_kt: F64
    trk_deg: F64
    vs_fpm: F64

    @classmethod
    def from_updates(cls, updates: Iterable[StateUpdate]) -> StateColumns:
        """Columns of records (any reader's)."""
        ups = list(updates)
        names: dict[str, int] = {}
        calls: dict[str, int] = {}
        ident = np.fromiter((names.setdefault(u.icao24, len(names)) for u in ups),
                            dtype=np.int32, count=len(ups))
        cs = np.fromiter((-1 if not u.callsign else calls.setdefault(u.callsign, len(calls))
                          for u in ups), dtype=np.int32, count=len(ups))

        def col(name: str) -> F64:
            return np.array([np.nan if (v := getattr(u, name)) is None else v for u in ups],
                            dtype=np.float64)

        return cls(np.array([u.t for u in ups], dtype=np.float64),
                   np.array([_CODE.get(u.kind, _IDN) for u in ups], dtype=np.uint8),
                   ident, list(names), cs, list(calls), col("lat"), col("lon"),
                   col("alt_ft"), col("gs_kt"), col("trk_deg"), col("vs_fpm"))

    def updates(self, source: str = "") -> list[StateUpdate]:
        """The columns as records."""
        def opt(a: F64) -> list[float | None]:
            return [None if v != v else v for v in a.tolist()]

        names = [self.idents[i] for i in self.ident.tolist()]
        cs = [None if c < 0 else self.callsigns[c] for c in self.callsign.tolist()]
        new = tuple.__new__
        return [new(StateUpdate, (t, a, KINDS[k], c, y, x, h, g, r, v, None, None, None,
                                  source))
                for t, a, k, c, y, x, h, g, r, v in zip(
                    self.t.tolist(), names, self.kind.tolist(), cs, opt(self.lat),
                    opt(self.lon), opt(self.alt_ft), opt(self.gs_kt), opt(self.trk_deg),
                    opt(self.vs_fpm), strict=True)]


def forward_fill(has: B, group: I64) -> I64:
    """For each row, the latest row at or before it of the same ``group`` where ``has``
    is true, or -1.

    >>> forward_fill(np.array([True, False, False, True, False]),
    ...              np.array([0, 1, 0, 1, 1])).tolist()
    [0, -1, 0, 3, 3]
    """
    return _Groups(group).last(has)


class _Groups:
    """Rows sorted by group once (stably), for several forward fills over the same
    groups (each fill is then a running maximum, no sort)."""

    def __init__(self, group: I64) -> None:
        m = len(group)
        self.m = m
        self.order = np.argsort(group, kind="stable")
        gs = group[self.order]
        first = np.ones(m, dtype=np.bool_)
        first[1:] = gs[1:] != gs[:-1]
        self.start = np.maximum.accumulate(np.where(first, np.arange(m), 0)) if m else \
            np.zeros(0, dtype=np.int64)
        self.arange = np.arange(m)

    def last(self, has: B) -> I64:
        """:func:`forward_fill` of ``has`` over these groups."""
        if self.m == 0:
            return np.zeros(0, dtype=np.int64)
        order = self.order
        pos = np.where(has[order], self.arange, -1)
        run = np.maximum.accumulate(pos)
        run[run < self.start] = -1
        out = np.empty(self.m, dtype=np.int64)
        out[order] = np.where(run >= 0, order[np.maximum(run, 0)], -1)
        return out


# ----------------------------------------------------------------------------- text

def _digits_needed(v: I64) -> I64:
    n = np.ones(len(v), dtype=np.int64)
    p = 10
    while p <= (int(v.max()) if len(v) else 0):
        n += v >= p
        p *= 10
    return n


_SPLIT: Final = 134217729.0  # 2**27 + 1: Veltkamp's split into halves of 26 bits


def _round_half_even(ip: F64, fp: F64, scale: int, y: F64, r: F64,
                     near: npt.NDArray[np.intp]) -> None:
    """Correct ``r`` (``rint(y)``, ``y = fp * scale`` rounded) at ``near``, the rows where
    ``y`` is close to a tie, to the half-even rounding of the exact ``(ip + fp) * scale``
    (``ip`` the integer part, whose last digit decides a tie when ``scale`` is 1).

    The exact product is ``hi * scale + lo * scale`` with ``fp = hi + lo`` split in
    halves of 26 bits (Veltkamp; T. J. Dekker, Numer. Math. 18, 1971): each part is
    exact, as ``scale`` (at most 10**6) has at most 14 significant bits. Its difference
    from the tie ``k + 0.5`` is then ``(hi * scale - (k + 0.5)) + lo * scale``, whose
    first term is exact (Sterbenz: two close numbers), so the sum's sign, which
    rounding keeps, says on which side the exact product lies."""
    x = fp[near]
    t = _SPLIT * x
    hi = t - (t - x)
    lo = x - hi
    k = np.floor(y[near])
    side = (hi * scale - (k + 0.5)) + lo * scale
    last = k + ip[near] if scale == 1 else k  # the digit a tie rounds to even
    up = (side > 0.0) | ((side == 0.0) & (np.fmod(last, 2.0) == 1.0))
    r[near] = np.where(up, k + 1.0, k)


def _fixed(v: F64, d: int) -> tuple[U8, B]:
    """``f"{x:.{d}f}"`` of each value as a block of characters and the cells used
    (none for NaN)."""
    n = len(v)
    nan = np.isnan(v)
    a = np.abs(np.where(nan, 0.0, v))
    if n and not (a < 2.0**53).all():
        x = float(a[~(a < 2.0**53)][0])
        raise ValueError(f"cannot write {x!r} to the CSV")
    ip = np.floor(a)
    fp = a - ip  # exact
    scale = 10 ** d
    y = fp * scale
    r = np.rint(y)  # half to even, as Python formats an exact tie
    # within 1e-9 of a tie the product's rounding may decide: round the exact product
    near = np.flatnonzero(np.abs(y - np.floor(y) - 0.5) < 1e-9)
    if len(near):
        _round_half_even(ip, fp, scale, y, r, near)
    ipi = ip.astype(np.int64)
    ri = r.astype(np.int64)
    carry = ri >= scale
    ipi[carry] += 1
    ri[carry] -= scale
    nd = _digits_needed(ipi)
    w = int(nd.max()) if n else 1
    width = 1 + w + (1 + d if d else 0)
    chars = np.empty((n, width), dtype=np.uint8)
    keep = np.zeros((n, width), dtype=np.bool_)
    chars[:, 0] = ord("-")
    keep[:, 0] = np.signbit(v) & ~nan
    # digits last first: one division by 10 a digit (in 32 bits where the values fit)
    q = ipi.astype(np.uint32) if w <= 9 else ipi
    for k in range(w - 1, -1, -1):
        nxt = q // 10
        chars[:, 1 + k] = q - nxt * 10
        q = nxt
        keep[:, 1 + k] = nd > w - 1 - k
    chars[:, 1:1 + w] += 48
    if d:
        chars[:, 1 + w] = ord(".")
        keep[:, 1 + w:] = True
        q = ri.astype(np.uint32)
        for k in range(d - 1, -1, -1):
            nxt = q // 10
            chars[:, 2 + w + k] = q - nxt * 10
            q = nxt
        chars[:, 2 + w:] += 48
    keep[nan] = False
    return chars, keep


def _strings(table: list[str], index: I32) -> tuple[U8, B]:
    """Characters of ``table[index]`` per row (empty for -1)."""
    enc = [s.encode("utf-8") for s in table] + [b""]
    w = max(1, max(map(len, enc)))
    mat = np.zeros((len(enc), w), dtype=np.uint8)
    used = np.zeros((len(enc), w), dtype=np.bool_)
    for k, e in enumerate(enc):
        mat[k, :len(e)] = np.frombuffer(e, dtype=np.uint8)
        used[k, :len(e)] = True
    idx = np.where(index < 0, len(enc) - 1, index)
    return mat[idx], used[idx]


def _const(n: int, text: bytes) -> tuple[U8, B]:
    row = np.frombuffer(text, dtype=np.uint8)
    return np.broadcast_to(row, (n, len(row))), np.ones((n, len(row)), dtype=np.bool_)


class StateRows(NamedTuple):
    """Rows of ``decode``'s output (:data:`STATE_COLUMNS`) as columns: ``ident`` indexes
    ``idents``, ``callsign`` indexes ``callsigns`` (-1 = none); NaN = empty."""

    t: F64
    ident: I32
    idents: list[str]
    callsign: I32
    callsigns: list[str]
    lat: F64
    lon: F64
    alt_ft: F64
    gs_kt: F64
    trk_deg: F64
    vs_fpm: F64
    on_ground: B

    @property
    def values(self) -> list[F64]:
        """The number columns from ``lat`` to ``vs_fpm``."""
        return [self.lat, self.lon, self.alt_ft, self.gs_kt, self.trk_deg, self.vs_fpm]


class StateRowMaker:
    """The output rows of successive :class:`StateColumns` chunks (what ``decode``
    writes, as CSV or Parquet), carrying each aircraft's last airborne values from
    chunk to chunk and dropping a row that repeats the aircraft's previous one."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str | None, float, float, float, float, float,
                                    float]] = {}
        #: each aircraft's last written row (its values, for dropping a repeat of it)
        self._written: dict[str, tuple[object, ...]] = {}

    def rows(self, c: StateColumns) -> StateRows | None:
        """The rows of one chunk (None: none)."""
        m = len(c.t)
        if m == 0:
            return None
        g = c.ident.astype(np.int64)
        ground = c.kind == _GND
        air = ~ground
        # what each aircraft had before this chunk
        prev = [self._last.get(name) for name in c.idents]
        calls = list(c.callsigns)
        call_id = {s: k for k, s in enumerate(calls)}

        def cid(s: str | None) -> int:
            if s is None:
                return -1
            if s not in call_id:
                call_id[s] = len(calls)
                calls.append(s)
            return call_id[s]

        p_cs = np.array([-1 if p is None else cid(p[0]) for p in prev], dtype=np.int32)
        p_num = np.array([[np.nan] * 6 if p is None else p[1:] for p in prev],
                         dtype=np.float64).reshape(-1, 6)
        groups = _Groups(g)
        last = groups.last(c.callsign >= 0)
        cs = np.where(last >= 0, c.callsign[np.maximum(last, 0)], p_cs[g]).astype(np.int32)
        has_pos = air & ~np.isnan(c.lat) & ~np.isnan(c.lon)
        has_alt = air & ~np.isnan(c.alt_ft)
        has_vel = air & ~np.isnan(c.gs_kt) & ~np.isnan(c.trk_deg)
        filled: list[F64] = []
        for has, cols, k in ((has_pos, (c.lat, c.lon), 0), (has_alt, (c.alt_ft,), 2),
                             (has_vel, (c.gs_kt, c.trk_deg, c.vs_fpm), 3)):
            last = groups.last(has)  # one fill for the fields each kind of report sets
            got = last >= 0
            at = np.maximum(last, 0)
            filled += [np.where(got, col[at], p_num[g, k + i]) for i, col in enumerate(cols)]
        # carry: each aircraft's values after its last row of this chunk
        last_row = np.full(len(c.idents), -1, dtype=np.int64)
        np.maximum.at(last_row, g, np.arange(m))
        for k, r in enumerate(last_row.tolist()):
            if r >= 0:
                ci = int(cs[r])
                y, x, h, v, tr, vs = (float(f[r]) for f in filled)
                self._last[c.idents[k]] = (calls[ci] if ci >= 0 else None, y, x, h, v, tr,
                                           vs)
        rows = np.flatnonzero(np.isin(c.kind, (_POS, _VEL, _STATE, _GND)))
        if len(rows) == 0:
            return None
        gr = ground[rows]
        own = (c.lat, c.lon, c.alt_ft, c.gs_kt, c.trk_deg, c.vs_fpm)
        vals = [np.where(gr, o[rows], f[rows]) for o, f in zip(own, filled, strict=True)]
        keep = self._not_repeated(c, calls, rows, g[rows], cs[rows], vals, gr)
        if not keep.all():
            rows, gr = rows[keep], gr[keep]
            vals = [v[keep] for v in vals]
        return StateRows(c.t[rows], c.ident[rows], c.idents, cs[rows], calls, vals[0],
                         vals[1], vals[2], vals[3], vals[4], vals[5], gr)

    def _not_repeated(self, c: StateColumns, calls: list[str], rows: npt.NDArray[np.intp],
                      ident: npt.NDArray[np.int64], cs: npt.NDArray[np.int32],
                      vals: list[F64], ground: B) -> B:
        """False for each row identical to the aircraft's previous row (same time and
        every value: several frames of one instant, such as a position and a velocity
        decoded at the same timestamp, carry the same state), here or in an earlier
        chunk."""
        cols = [c.t[rows], *vals, ground.astype(np.float64), cs.astype(np.float64)]

        def row(k: int) -> tuple[object, ...]:  # comparable across chunks: names, values
            return (calls[int(cs[k])] if cs[k] >= 0 else None,
                    *(float(col[k]) for col in cols[:-1]))

        # rows are in time order: a stable sort by aircraft puts each aircraft's rows one
        # after the other, so each row meets its predecessor
        order = np.argsort(ident, kind="stable")
        same = np.zeros(len(rows), dtype=np.bool_)
        first = np.ones(len(rows), dtype=np.bool_)
        if len(rows) > 1:
            a, b = order[:-1], order[1:]
            first[b] = ident[a] != ident[b]
            eq = ~first[b]
            for col in cols:
                x, y = col[a], col[b]
                eq &= (x == y) | (np.isnan(x) & np.isnan(y))
            same[b] = eq
        for k in np.flatnonzero(first).tolist():  # against the last row written before
            if self._written.get(c.idents[int(ident[k])]) == row(k):
                same[k] = True
        last = np.full(len(c.idents), -1, dtype=np.int64)
        np.maximum.at(last, ident, np.arange(len(rows)))
        for i, k in enumerate(last.tolist()):
            if k >= 0:
                self._written[c.idents[i]] = row(k)
        return ~same


class StatesCsvWriter:
    """Writes :data:`STATE_COLUMNS` rows of successive :class:`StateColumns` chunks to a
    binary stream (:class:`StateRowMaker`'s rows, formatted by columns)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.rows = 0
        self._maker = StateRowMaker()
        out.write((",".join(STATE_COLUMNS) + "\n").encode())

    def write(self, c: StateColumns) -> int:
        """Write the rows of one chunk; how many."""
        r = self._maker.rows(c)
        if r is None:
            return 0
        vals, gr = r.values, r.on_ground
        calls = r.callsigns
        if any(_CSV_SPECIAL & set(s) for s in (*r.idents, *calls)):
            self._write_csv(r.t, [r.idents[i] for i in r.ident.tolist()],
                            [calls[i] if i >= 0 else "" for i in r.callsign.tolist()],
                            vals, gr)
        else:
            n = len(r.t)
            parts = [_fixed(r.t, 6), _const(n, b","),
                     _strings(r.idents, r.ident), _const(n, b","),
                     _strings(calls, r.callsign)]
            for col, d in zip(vals, (6, 6, 0, 1, 2, 0), strict=True):
                parts += [_const(n, b","), _fixed(col, d)]
            parts += [_const(n, b","), (np.where(gr, 49, 48).astype(np.uint8)[:, None],
                                        np.ones((n, 1), dtype=np.bool_)),
                      _const(n, b"\n")]
            chars = np.concatenate([p[0] for p in parts], axis=1)
            keep = np.concatenate([p[1] for p in parts], axis=1)
            self.out.write(chars[keep].tobytes())
        self.rows += len(r.t)
        return len(r.t)

    def _write_csv(self, t: F64, ids: list[str], cs: list[str], vals: list[F64],
                   ground: B) -> None:
        """Rows with names that need CSV quoting: through the csv module."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")

        def cell(v: float, d: int) -> str:
            return "" if v != v else f"{v:.{d}f}"

        cols = [v.tolist() for v in vals]
        for k, (tt, i, c) in enumerate(zip(t.tolist(), ids, cs, strict=True)):
            w.writerow([f"{tt:.6f}", i, c, cell(cols[0][k], 6), cell(cols[1][k], 6),
                        cell(cols[2][k], 0), cell(cols[3][k], 1), cell(cols[4][k], 2),
                        cell(cols[5][k], 0), "1" if ground[k] else "0"])
        self.out.write(buf.getvalue().encode("utf-8"))


class StatesParquetWriter:
    """Writes the rows :class:`StatesCsvWriter` writes to a Parquet file (pyarrow: the
    ``parquet`` extra), whole or not at all: a ``with`` block puts it at ``path`` when
    it ends without error. The CSV's columns, names and units: numbers as float64,
    unrounded, null where the CSV is empty; ``icao24`` and ``callsign`` strings
    (``callsign`` null where none); ``on_ground`` bool.

    Rows are gathered into row groups of :data:`ROW_GROUP_ROWS`; the strings go in as
    one dictionary of every aircraft (and callsign) met so far."""

    #: rows gathered before a row group is written (a decode chunk gives fewer)
    ROW_GROUP_ROWS: Final = 1 << 20

    def __init__(self, path: str | Path) -> None:
        from skyaccord.parquetfile import ParquetColumnsWriter

        self.rows = 0
        self._maker = StateRowMaker()
        self._file = ParquetColumnsWriter(
            path, {name: _PARQUET_KINDS.get(name, "float") for name in STATE_COLUMNS})
        self._idents: dict[str, int] = {}
        self._calls: dict[str, int] = {}
        self._held: list[StateRows] = []
        self._held_rows = 0

    def write(self, c: StateColumns) -> int:
        """Add the rows of one chunk; how many."""
        r = self._maker.rows(c)
        if r is None or len(r.t) == 0:
            return 0
        # the chunk's string tables renumbered into the file's (-1, the last entry of
        # the callsigns' map, stays -1)
        ident = _codes(self._idents, r.idents)[r.ident]
        call = np.append(_codes(self._calls, r.callsigns), np.int32(-1))[r.callsign]
        self._held.append(r._replace(ident=ident, callsign=call))
        self._held_rows += len(r.t)
        self.rows += len(r.t)
        if self._held_rows >= self.ROW_GROUP_ROWS:
            self._flush()
        return len(r.t)

    def _flush(self) -> None:
        from skyaccord.parquetfile import Strings

        if not self._held:
            return
        held, self._held, self._held_rows = self._held, [], 0

        def cat(name: str) -> Any:
            return np.concatenate([getattr(h, name) for h in held])

        idents, calls = list(self._idents), list(self._calls)
        self._file.write({
            "t": cat("t"), "icao24": Strings(idents, cat("ident")),
            "callsign": Strings(calls, cat("callsign")),
            **{name: cat(name) for name in STATE_COLUMNS[3:-1]},
            "on_ground": cat("on_ground")})

    def close(self) -> None:
        """Write what is held and put the file at its path."""
        try:
            self._flush()
        except BaseException:
            self._file.abort()
            raise
        self._file.close()

    def abort(self) -> None:
        """Drop the file (nothing appears at the path)."""
        self._file.abort()

    def __enter__(self) -> StatesParquetWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


_PARQUET_KINDS: Final = {"icao24": "string", "callsign": "string", "on_ground": "bool"}


def _codes(table: dict[str, int], names: list[str]) -> I32:
    """The codes of ``names`` in ``table``, new names added at its end."""
    return np.array([table.setdefault(s, len(table)) for s in names], dtype=np.int32)
