"""The operations registry: checked, atomic, idempotent writes of intents over a store.

Rules (one place for every backend):

* **Conflict.** Two volumes of *different* parties' active intents conflict under the
  rule of :mod:`skyaccord.strategic.intersect`, with the accord's minima for the two
  aircraft classes as buffers. Intents of one party never conflict with each other (a
  party deconflicts its own aircraft).
* **Blocking.** A conflict with an intent of equal or higher ``priority`` refuses the
  write (outcome ``conflict``); a conflict with a lower-priority intent is allowed but
  reported, as ASTM F3548-21 lets higher priority operations conflict with lower ones.
* **Notices.** When a write is accepted over lower-priority intents, each of them gets a
  :class:`Notice` in the same transaction (the intent that now conflicts with it, both
  versions, the volume pairs): its owner must replan. ``Registry.notices`` lists them.
* **Key.** Every write must name, in ``key``, the current version of every intent it
  conflicts with (the F3548 OVN rule: you may only write over what you have seen);
  otherwise it is refused (outcome ``stale``) with the versions it missed. A change to
  one's own intent must carry that intent's current version in ``Intent.version``.
* **Idempotency.** A write with a ``request_id`` is recorded with a digest of the
  request; a retry with the same id and request has no second effect and returns the
  first result; the same id with another request is an error.
* **Atomicity.** Checks and the write happen in one store transaction that excludes every
  writer whose area could conflict (lock keys: the grid cells of a coarse grid under the
  volumes grown by the largest buffer, plus the intent id and request id), so two
  committed intents never conflict, whatever the number of nodes and writers.

How a check runs: the store's index gives the ids of stored volumes near the grown
volumes; their compact records (:meth:`Registry.records`) are cached by volume id, which
the store never reuses, so the cache is exact; one vectorised exact test
(:func:`~skyaccord.strategic.intersect.conflict_mask`) runs over all pairs. A ``submit``
of the intent just checked reuses the check's :class:`Conflicts` when the store's
generation (``Txn.generation``) shows that nothing was committed in between.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import struct
import sys
import zlib
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NamedTuple, overload

import numpy as np
import shapely
from shapely.geometry import Polygon as ShapelyPolygon

from skyaccord.errors import IntentError, ProtocolError
from skyaccord.protocol import Accord
from skyaccord.store.base import (
    BoxTuple,
    IntentRow,
    LockKey,
    NoticeRow,
    RequestRow,
    Store,
    Txn,
    VolumeRow,
)
from skyaccord.strategic.codec import dumps, intent_from_dict, intent_to_dict
from skyaccord.strategic.intersect import (
    Box,
    PlacedVolume,
    VolumeArrays,
    conflict_mask,
    place,
    theatre_plane,
    volume_arrays,
)
from skyaccord.strategic.volumes import Intent, IntentState, Limits, Volume, validate_intent

__all__ = [
    "DEFAULT_CENTRE",
    "CheckResult",
    "Conflict",
    "Conflicts",
    "Notice",
    "Outcome",
    "Registry",
    "SubmitResult",
]

#: theatre centre used when a store is first opened: Syria, the 2015 accord's airspace
DEFAULT_CENTRE = (35.0, 38.5)
#: side of the grid cells that writers lock, metres in the theatre plane
LOCK_CELL_M = 50_000.0
#: above this many cells a writer takes the global lock exclusively
MAX_LOCK_CELLS = 256


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    CONFLICT = "conflict"
    STALE = "stale"


@dataclass(frozen=True)
class Conflict:
    """A conflict of the checked intent with another party's active intent."""

    intent_id: str
    party: str
    version: int
    priority: int
    #: (own volume index, other volume index) of each conflicting pair
    pairs: tuple[tuple[int, int], ...]
    #: whether it refuses the write (the other's priority is equal or higher)
    blocking: bool


@dataclass(frozen=True)
class Notice:
    """A lower-priority intent that a higher-priority write now conflicts with.

    ``intent_id`` (of ``party``, at ``version``) is the affected intent; ``by_*`` name
    the accepted write; ``pairs`` are (affected volume, accepted volume) index pairs.
    ``seq`` orders notices (poll with ``after=`` the last one seen).
    """

    seq: int
    intent_id: str
    party: str
    version: int
    by_intent_id: str
    by_party: str
    by_version: int
    by_priority: int
    pairs: tuple[tuple[int, int], ...]


class Conflicts(Sequence[Conflict]):
    """The conflicts of one check, by intent id: a sequence of :class:`Conflict` kept as
    columns, so that a check with hundreds of conflicts builds no object per conflict
    until one is read (``key``, ``missed`` and ``any_blocking`` read the columns)."""

    __slots__ = ("_items", "blocking_flags", "ids", "pairs", "parties", "priorities",
                 "versions")

    def __init__(self, ids: Sequence[str] = (), parties: Sequence[str] = (),
                 versions: Sequence[int] = (), priorities: Sequence[int] = (),
                 pairs: Sequence[tuple[tuple[int, int], ...]] = (),
                 blocking: Sequence[bool] = ()) -> None:
        n = len(ids)
        if not (len(parties) == len(versions) == len(priorities) == len(pairs)
                == len(blocking) == n):
            raise ValueError("Conflicts: columns of different lengths")
        self.ids = tuple(ids)
        self.parties = tuple(parties)
        self.versions = tuple(versions)
        self.priorities = tuple(priorities)
        self.pairs = tuple(pairs)
        self.blocking_flags = tuple(blocking)
        self._items: tuple[Conflict, ...] | None = None

    @classmethod
    def of(cls, conflicts: Iterable[Conflict]) -> Conflicts:
        cs = list(conflicts)
        return cls([c.intent_id for c in cs], [c.party for c in cs],
                   [c.version for c in cs], [c.priority for c in cs],
                   [c.pairs for c in cs], [c.blocking for c in cs])

    def _all(self) -> tuple[Conflict, ...]:
        if self._items is None:
            self._items = tuple(map(Conflict, self.ids, self.parties, self.versions,
                                    self.priorities, self.pairs, self.blocking_flags))
        return self._items

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> Conflict: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Conflict, ...]: ...
    def __getitem__(self, i: int | slice) -> Conflict | tuple[Conflict, ...]:
        return self._all()[i]

    def __iter__(self) -> Iterator[Conflict]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Conflicts):
            return (self.ids, self.parties, self.versions, self.priorities, self.pairs,
                    self.blocking_flags) == (other.ids, other.parties, other.versions,
                                             other.priorities, other.pairs,
                                             other.blocking_flags)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._all() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Conflicts({list(self._all())!r})"

    @property
    def key(self) -> dict[str, int]:
        """The versions a write must name: those of every conflicting intent."""
        return dict(zip(self.ids, self.versions, strict=True))

    @property
    def any_blocking(self) -> bool:
        return any(self.blocking_flags)

    def missed(self, key: Mapping[str, int]) -> dict[str, int]:
        """intent id -> current version, for each conflict ``key`` does not name at its
        current version."""
        return {i: v for i, v in zip(self.ids, self.versions, strict=True)
                if key.get(i) != v}


def _as_conflicts(cs: Sequence[Conflict]) -> Conflicts:
    return cs if isinstance(cs, Conflicts) else Conflicts.of(cs)


@dataclass(frozen=True)
class CheckResult:
    conflicts: Sequence[Conflict]

    @property
    def key(self) -> dict[str, int]:
        """The versions a write must name: those of every conflicting intent."""
        return _as_conflicts(self.conflicts).key

    @property
    def blocking(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.blocking)


@dataclass(frozen=True)
class SubmitResult:
    outcome: Outcome
    #: the stored intent (new version) when accepted, else the intent as submitted
    intent: Intent
    conflicts: Sequence[Conflict] = ()
    #: intent id -> current version, for every version the write should have named
    missed: Mapping[str, int] = field(default_factory=dict)
    #: True when this was a retry answered from the record of the first request
    replayed: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


#: a volume's record (see ``Registry.records``): the placement columns of
#: ``VolumeArrays`` (8 float64), the volume's index and polygon vertex count (2 uint32),
#: then the vertices (float64 x, y pairs) and the aircraft class (UTF-8)
_REC = struct.Struct("<8d2I")
_GEOM = 64


class _Vol(NamedTuple):
    """A cached volume row: placement columns (64 bytes of ``_REC``), index columns."""

    geom: bytes
    intent_id: str
    party: str
    version: int
    priority: int
    aircraft_class: str
    vol_index: int
    shape: ShapelyPolygon | None


def _placed_from(v: Volume, pv: list[Any]) -> PlacedVolume:
    """A placed volume from its stored plane data (see ``Registry.encode``)."""
    cx, cy, r, k = float(pv[0]), float(pv[1]), float(pv[2]), float(pv[3])
    if len(pv) == 4:
        box = Box(cx - r, cx + r, cy - r, cy + r, v.alt_lower_ft, v.alt_upper_ft,
                  v.time_start, v.time_end)
        return PlacedVolume(v, None, cx, cy, r, k, box)
    shape = ShapelyPolygon(pv[4])
    shapely.prepare(shape)
    xmin, ymin, xmax, ymax = shape.bounds
    return PlacedVolume(v, shape, cx, cy, 0.0, k, Box(xmin, xmax, ymin, ymax, v.alt_lower_ft,
                                                      v.alt_upper_ft, v.time_start,
                                                      v.time_end))


def _h32(text: str) -> int:
    return zlib.crc32(text.encode()) - 2**31


class Registry:
    """Intents of all parties over one :class:`~skyaccord.store.Store`.

    ``centre`` is the theatre plane's centre (degrees); it is recorded in the store on
    first use, and a later registry on the same store must agree with it (or pass None).
    """

    def __init__(self, store: Store, accord: Accord, *, limits: Limits | None = None,
                 centre: tuple[float, float] | None = None, cache_size: int = 65536) -> None:
        self.store = store
        self.accord = accord
        self.limits = limits or Limits()
        with store.write([(1, 0)]) as t:
            recorded = t.meta("theatre_centre")
            if recorded is None:
                lat, lon = centre or DEFAULT_CENTRE
                t.set_meta("theatre_centre", json.dumps([lat, lon]))
            else:
                lat, lon = json.loads(recorded)
                if centre is not None and (abs(centre[0] - lat) > 1e-9
                                           or abs(centre[1] - lon) > 1e-9):
                    raise IntentError(f"{store.url}: theatre centre is {lat}, {lon}; "
                                      f"not {centre[0]}, {centre[1]}")
        self.centre = (float(lat), float(lon))
        self.plane = theatre_plane(*self.centre)
        h = [r.minima.horizontal_m for r in accord.separation]
        v = [r.minima.vertical_ft for r in accord.separation]
        self.max_h_m = max(h) if h else 0.0
        self.max_v_ft = max(v) if v else 0.0
        self._cache: OrderedDict[tuple[str, int], tuple[Intent, list[PlacedVolume]]] = \
            OrderedDict()
        self._cache_size = cache_size
        # volume id -> row: exact forever, as the store never reuses a volume id
        self._vols: dict[int, _Vol] = {}
        self._vols_size = max(4 * cache_size, 1024)
        self._placed: dict[Volume, PlacedVolume] = {}
        self._minima: dict[tuple[str, str], tuple[float, float]] = {}
        # interned class names (by their record bytes) and party names
        self._names: dict[bytes | str, str] = {}
        # the last check: (intent, store generation, conflicts), reused by a submit of
        # the same intent that sees the same generation (nothing committed in between)
        self._last: tuple[Intent, Hashable, Conflicts] | None = None

    # -- helpers ---------------------------------------------------------------------
    def _validate(self, intent: Intent) -> list[PlacedVolume]:
        validate_intent(intent, self.limits)
        try:
            self.accord.party(intent.party)
        except ProtocolError as exc:
            raise IntentError(f"intent {intent.id!r}: party: {exc}") from None
        try:
            self.accord.class_code(intent.aircraft_class)
        except ProtocolError as exc:
            raise IntentError(f"intent {intent.id!r}: class: {exc}") from None
        placed = [self._place(v) for v in intent.volumes]
        r_max = self.limits.max_theatre_radius_km * 1000.0
        for i, p in enumerate(placed):
            if math.hypot(p.cx, p.cy) / p.k > r_max:
                raise IntentError(f"intent {intent.id!r}: volumes[{i}] lies over "
                                  f"{self.limits.max_theatre_radius_km:g} km from the "
                                  f"theatre centre {self.centre}")
        return placed

    def _place(self, v: Volume) -> PlacedVolume:
        """``place(v, self.plane)``, remembered (a check and its write place it once)."""
        p = self._placed.get(v)
        if p is None:
            p = place(v, self.plane)
            if len(self._placed) >= 4096:
                self._placed.clear()
            self._placed[v] = p
        return p

    def _grown(self, p: PlacedVolume, dt_s: float = 0.0, dz_ft: float = 0.0) -> Box:
        return p.box.grow(self.max_h_m * p.k * 1.01, self.max_v_ft + dz_ft, dt_s)

    @staticmethod
    def _tuple(b: Box) -> BoxTuple:
        return (b.xmin, b.xmax, b.ymin, b.ymax, b.zmin, b.zmax, b.tmin, b.tmax)

    def encode(self, intent: Intent, placed: Sequence[PlacedVolume]) -> IntentRow:
        """The stored row of ``intent``: its JSON body carries the volumes' placement in
        the theatre plane (``plane``), so that readers need no projection."""
        d = intent_to_dict(intent)
        d["plane"] = [[p.cx, p.cy, p.r_plane, p.k] if p.shape is None else
                      [p.cx, p.cy, 0.0, p.k, shapely.get_coordinates(p.shape).tolist()]
                      for p in placed]
        body = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return IntentRow(intent.id, intent.party, str(intent.state), intent.version,
                         intent.priority, body)

    def _decode(self, row: IntentRow) -> tuple[Intent, list[PlacedVolume]]:
        k = (row.id, row.version)
        hit = self._cache.get(k)
        if hit is not None:
            self._cache.move_to_end(k)
            return hit
        d = json.loads(row.body)
        intent = intent_from_dict(d)
        plane = d.get("plane")
        if plane is None or len(plane) != len(intent.volumes):
            placed = [place(v, self.plane) for v in intent.volumes]
        else:
            placed = [_placed_from(v, pv) for v, pv in zip(intent.volumes, plane,
                                                           strict=True)]
        val = (intent, placed)
        self._cache[k] = val
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return val

    def _nearby(self, t: Txn, intent: Intent, placed: Sequence[PlacedVolume],
                dt_s: float = 0.0, dz_ft: float = 0.0
                ) -> list[tuple[Intent, list[PlacedVolume]]]:
        """Other parties' active intents with a box near one of ``placed``."""
        seen: dict[str, IntentRow] = {}
        for p in placed:
            for row in t.candidates(self._tuple(self._grown(p, dt_s, dz_ft))):
                if row.party != intent.party and row.id != intent.id:
                    seen[row.id] = row
        return [self._decode(r) for r in sorted(seen.values(), key=lambda r: r.id)]

    @staticmethod
    def records(intent: Intent, placed: Sequence[PlacedVolume]) -> list[bytes]:
        """The store's per-volume records of ``intent``: what the exact check reads,
        without decoding the intent's body."""
        cls = intent.aircraft_class.encode()
        out = []
        for i, p in enumerate(placed):
            v = p.volume
            coords = b"" if p.shape is None else \
                np.ascontiguousarray(shapely.get_coordinates(p.shape), "<f8").tobytes()
            out.append(_REC.pack(p.cx, p.cy, p.r_plane, p.k, v.alt_lower_ft,
                                 v.alt_upper_ft, v.time_start, v.time_end, i,
                                 len(coords) // 16) + coords + cls)
        return out

    def _vol(self, t: Txn, row: VolumeRow) -> _Vol:
        rec = row.record
        if not rec:  # written without a record (older store): decode the body
            full = t.get(row.intent_id)
            assert full is not None
            intent, placed = self._decode(full)
            rec = self.records(intent, placed)[row.vol_index]
        n = int.from_bytes(rec[_REC.size - 4:_REC.size], "little")
        shape = None
        if n:
            xy = np.frombuffer(rec, "<f8", 2 * n, _REC.size).reshape(n, 2)
            shape = ShapelyPolygon(xy)
            shapely.prepare(shape)
        cls = sys.intern(rec[_REC.size + 16 * n:].decode())
        return _Vol(rec[:_GEOM], row.intent_id, sys.intern(row.party), row.version,
                    row.priority, cls, row.vol_index, shape)

    def _volumes(self, t: Txn, vids: Sequence[int]) -> list[_Vol]:
        cache = self._vols
        vols = list(map(cache.get, vids))
        if all(vols):  # every _Vol is a non-empty tuple; a miss is None
            return vols  # type: ignore[return-value]
        need = list({v for v, x in zip(vids, vols, strict=True) if x is None})
        # the ids came from the index in this transaction: their rows are there
        got: dict[int, _Vol] = {}
        names = self._names
        new = tuple.__new__
        for row in t.volumes(need):
            rec = row[6]
            if rec[_REC.size - 4:_REC.size] == b"\0\0\0\0":  # a circle: no vertices
                cls = names.get(rec[_REC.size:])
                party = names.get(row[3])
                if cls is not None and party is not None:
                    got[row[0]] = new(_Vol, (rec[:_GEOM], row[2], party, row[4], row[5],
                                             cls, row[1], None))
                    continue
                names.setdefault(rec[_REC.size:], sys.intern(rec[_REC.size:].decode()))
                names.setdefault(row[3], sys.intern(row[3]))
            got[row[0]] = self._vol(t, row)
        if len(cache) + len(got) > self._vols_size:
            # drop the older half (dicts keep insertion order)
            for v in list(itertools.islice(cache, len(cache) // 2)):
                del cache[v]
        cache.update(got)
        return [x if x is not None else got[v] for v, x in zip(vids, vols, strict=True)]

    def _minima_of(self, a: str, b: str) -> tuple[float, float]:
        m = self._minima.get((a, b))
        if m is None:
            mm = self.accord.minima(a, b)
            m = self._minima[(a, b)] = (mm.horizontal_m, mm.vertical_ft)
        return m

    def _conflicts(self, t: Txn, intent: Intent,
                   placed: Sequence[PlacedVolume]) -> Conflicts:
        """Every conflict of ``intent`` with the stored active intents of other parties:
        the index gives volume ids, the cached (or fetched) records give their placement,
        and one vectorised exact test runs over all (own volume, stored volume) pairs."""
        per_box = t.volume_ids([self._tuple(self._grown(p)) for p in placed])
        if len(per_box) == 1:
            own_idx = None
            vids = per_box[0]
        else:
            own_list = [i for i, ids in enumerate(per_box) for _ in ids]
            vids = [v for ids in per_box for v in ids]
            own_idx = np.array(own_list, dtype=np.intp)
        if not vids:
            return Conflicts()
        vols = self._volumes(t, vids)
        party, iid = intent.party, intent.id
        if own_idx is None:
            kept = [v for v in vols if v.party != party and v.intent_id != iid]
            own_at = np.zeros(len(kept), dtype=np.intp)
        else:
            keep = [k for k, v in enumerate(vols) if v.party != party and v.intent_id != iid]
            kept = [vols[k] for k in keep]
            own_at = own_idx[np.array(keep, dtype=np.intp)]
        if not kept:
            return Conflicts()
        geom = np.frombuffer(b"".join([v.geom for v in kept]), "<f8").reshape(-1, 8)
        shapes = None
        if any(v.shape is not None for v in kept):
            shapes = np.empty(len(kept), dtype=object)
            shapes[:] = [v.shape for v in kept]
        other = VolumeArrays(*geom.T, shapes)  # type: ignore[call-arg]
        own = volume_arrays(placed)
        cls = intent.aircraft_class
        mins = {c: self._minima_of(cls, c) for c in {v.aircraft_class for v in kept}}
        if len(mins) == 1:
            h, vft = next(iter(mins.values()))
            hm: Any = h
            vm: Any = vft
        else:
            hv = np.array([mins[v.aircraft_class] for v in kept], dtype=np.float64)
            hm, vm = hv[:, 0], hv[:, 1]
        hit = np.flatnonzero(conflict_mask(own.take(own_at), other, hm, vm)).tolist()
        if not hit:
            return Conflicts()
        groups: dict[str, tuple[_Vol, list[tuple[int, int]]]] = {}
        own_l = own_at.tolist()
        for k in hit:
            v = kept[k]
            g = groups.get(v.intent_id)
            if g is None:
                g = groups[v.intent_id] = (v, [])
            g[1].append((own_l[k], v.vol_index))
        ids = sorted(groups)
        rows = [groups[i] for i in ids]
        prio = intent.priority
        return Conflicts(ids, [g[0].party for g in rows], [g[0].version for g in rows],
                         [g[0].priority for g in rows],
                         [(g[1][0],) if len(g[1]) == 1 else tuple(sorted(set(g[1])))
                          for g in rows],
                         [g[0].priority >= prio for g in rows])

    def _locks(self, intent_id: str, request_id: str | None,
               placed: Sequence[PlacedVolume]) -> tuple[list[LockKey], bool]:
        cells: set[LockKey] = set()
        for p in placed:
            g = self._grown(p)
            ix0, ix1 = math.floor(g.xmin / LOCK_CELL_M), math.floor(g.xmax / LOCK_CELL_M)
            iy0, iy1 = math.floor(g.ymin / LOCK_CELL_M), math.floor(g.ymax / LOCK_CELL_M)
            if (ix1 - ix0 + 1) * (iy1 - iy0 + 1) + len(cells) > MAX_LOCK_CELLS:
                return [], True
            cells.update((1, _h32(f"{ix},{iy}")) for ix in range(ix0, ix1 + 1)
                         for iy in range(iy0, iy1 + 1))
        locks = [*cells, (2, _h32(intent_id))]
        if request_id is not None:
            locks.append((3, _h32(request_id)))
        return locks, False

    @staticmethod
    def _digest(kind: str, payload: object) -> str:
        text = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _replay(self, t: Txn, request_id: str | None, digest: str) -> Intent | None:
        if request_id is None:
            return None
        rec = t.request(request_id)
        if rec is None:
            return None
        if rec.digest != digest:
            raise IntentError(f"request id {request_id!r} was already used for another "
                              "request; use a new id for a new request")
        row = t.get(rec.intent_id)
        assert row is not None
        intent = intent_from_dict(json.loads(row.body))
        return replace(intent, version=rec.version) if intent.version != rec.version \
            else intent

    # -- reads -----------------------------------------------------------------------
    def check(self, intent: Intent) -> CheckResult:
        """Conflicts ``intent`` would have with other parties' active intents (no write)."""
        placed = self._validate(intent)
        with self.store.read() as t:
            conflicts = self._conflicts(t, intent, placed)
            gen = t.generation()
        self._last = None if gen is None else (intent, gen, conflicts)
        return CheckResult(conflicts)

    def get(self, intent_id: str) -> Intent:
        with self.store.read() as t:
            row = t.get(intent_id)
        if row is None:
            raise IntentError(f"no intent {intent_id!r}")
        return intent_from_dict(json.loads(row.body))

    def intents(self, party: str | None = None, active_only: bool = False) -> list[Intent]:
        """Stored intents, by id; optionally one party's, or only active ones."""
        with self.store.read() as t:
            rows = t.rows(party, active_only)
        return [intent_from_dict(json.loads(r.body)) for r in rows]

    def notices(self, party: str | None = None, intent_id: str | None = None,
                after: int = 0) -> list[Notice]:
        """Notices to the owners of lower-priority intents (module doc), by ``seq``;
        optionally one party's or one intent's, and only those after ``seq`` ``after``."""
        with self.store.read() as t:
            rows = t.notices(party, intent_id, after)
        out = []
        for r in rows:
            d = json.loads(r.body)
            by_id, by_party, by_version, by_priority = d["by"]
            out.append(Notice(r.seq, r.intent_id, r.party, int(d["version"]), by_id,
                              by_party, int(by_version), int(by_priority),
                              tuple((int(a), int(b)) for a, b in d["pairs"])))
        return out

    def nearby(self, intent: Intent, dt_s: float, dz_ft: float
               ) -> list[tuple[Intent, list[PlacedVolume]]]:
        """Other parties' active intents within ``dt_s`` and ``dz_ft`` of ``intent``'s
        volumes grown by the largest buffer (for the resolvers)."""
        placed = self._validate(intent)
        with self.store.read() as t:
            return self._nearby(t, intent, placed, dt_s, dz_ft)

    # -- writes ----------------------------------------------------------------------
    def submit(self, intent: Intent, key: Mapping[str, int] | None = None, *,
               request_id: str | None = None) -> SubmitResult:
        """Check and write ``intent`` atomically (module doc for the rules)."""
        placed = self._validate(intent)
        if intent.state is IntentState.ENDED:
            raise IntentError(f"intent {intent.id!r}: cannot submit an ended intent; "
                              "use end()")
        key = dict(key or {})
        # the digest only serves idempotent requests
        digest = "" if request_id is None else \
            self._digest("submit", [dumps(intent), sorted(key.items())])
        locks, exclusive = self._locks(intent.id, request_id, placed)
        with self.store.write(locks, exclusive=exclusive) as t:
            replayed = self._replay(t, request_id, digest)
            if replayed is not None:
                return SubmitResult(Outcome.ACCEPTED, replayed, replayed=True)
            old = t.get(intent.id)
            if old is not None and old.party != intent.party:
                raise IntentError(f"intent {intent.id!r} belongs to party {old.party!r}, "
                                  f"not {intent.party!r}")
            if old is None and intent.version != 0:
                raise IntentError(f"intent {intent.id!r} does not exist; a new intent "
                                  "has version 0")
            if old is not None and old.state == IntentState.ENDED:
                raise IntentError(f"intent {intent.id!r} has ended; submit a new id")
            if old is not None and old.version != intent.version:
                return SubmitResult(Outcome.STALE, intent, (),
                                    {intent.id: old.version})
            last, self._last = self._last, None
            gen = t.generation() if last is not None else None
            if last is not None and gen is not None and last[1] == gen \
                    and last[0] == intent:
                conflicts = last[2]  # checked on this very data: the same answer
            else:
                conflicts = self._conflicts(t, intent, placed)
            missed = conflicts.missed(key)
            if conflicts.any_blocking:
                return SubmitResult(Outcome.CONFLICT, intent, conflicts, missed)
            if missed:
                return SubmitResult(Outcome.STALE, intent, conflicts, missed)
            stored = replace(intent, version=(old.version if old else 0) + 1)
            t.put(self.encode(stored, placed), [self._tuple(p.box) for p in placed],
                  self.records(stored, placed))
            if len(conflicts):  # accepted: every conflict is with a lower priority
                t.put_notices([NoticeRow(0, c.intent_id, c.party, json.dumps(
                    {"version": c.version, "by": [stored.id, stored.party, stored.version,
                                                  stored.priority],
                     "pairs": [[b, a] for a, b in c.pairs]}, separators=(",", ":")))
                    for c in conflicts])
            if request_id is not None:
                t.put_request(RequestRow(request_id, digest, stored.id, stored.version))
        return SubmitResult(Outcome.ACCEPTED, stored, conflicts)

    def set_state(self, intent_id: str, party: str, state: IntentState, version: int, *,
                  request_id: str | None = None) -> Intent:
        """Move an intent to ``state`` (``ended`` removes it from conflict checks).

        ``version`` must be the current version; raises :class:`IntentError` otherwise.
        """
        state = IntentState(state)
        digest = self._digest("state", [intent_id, party, str(state), version])
        # A state change bumps the version that writers in the intent's area must name:
        # take the same area locks as a write there, so that no concurrent write commits
        # on the version this change retires. The area comes from a read before the
        # locks; if the intent changed in between, the version check below refuses.
        with self.store.read() as t:
            before = t.get(intent_id)
        placed_before = self._decode(before)[1] if before is not None else []
        locks, exclusive = self._locks(intent_id, request_id, placed_before)
        with self.store.write(locks, exclusive=exclusive) as t:
            replayed = self._replay(t, request_id, digest)
            if replayed is not None:
                return replayed
            row = t.get(intent_id)
            if row is None:
                raise IntentError(f"no intent {intent_id!r}")
            if row.party != party:
                raise IntentError(f"intent {intent_id!r} belongs to party {row.party!r}, "
                                  f"not {party!r}")
            if row.version != version:
                raise IntentError(f"intent {intent_id!r} is at version {row.version}, "
                                  f"not {version}: read it again")
            if row.state == IntentState.ENDED:
                raise IntentError(f"intent {intent_id!r} has already ended")
            intent, placed = self._decode(row)
            new = replace(intent, state=state, version=row.version + 1)
            ended = state is IntentState.ENDED
            boxes = [] if ended else [self._tuple(p.box) for p in placed]
            t.put(self.encode(new, placed), boxes, [] if ended else self.records(new, placed))
            if request_id is not None:
                t.put_request(RequestRow(request_id, digest, new.id, new.version))
        return new

    def end(self, intent_id: str, party: str, version: int, *,
            request_id: str | None = None) -> Intent:
        """End an intent: it no longer takes part in conflict checks."""
        return self.set_state(intent_id, party, IntentState.ENDED, version,
                              request_id=request_id)

    def bulk_load(self, intents: Iterable[Intent]) -> int:
        """Store many intents WITHOUT conflict checks (benchmarks and trusted imports);
        each is validated and stored at version 1."""
        def rows() -> Iterable[tuple[IntentRow, Sequence[BoxTuple], Sequence[bytes]]]:
            for it in intents:
                placed = self._validate(it)
                s = replace(it, version=1)
                active = s.active
                yield (self.encode(s, placed),
                       [self._tuple(p.box) for p in placed] if active else [],
                       self.records(s, placed) if active else [])
        return self.store.bulk_load(rows())
