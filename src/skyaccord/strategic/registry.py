"""The operations registry: checked, atomic, idempotent writes of intents over a store.

Rules (one place for every backend):

* **Conflict.** Two volumes of *different* parties' active intents conflict under the
  rule of :mod:`skyaccord.strategic.intersect`, with the accord's minima for the two
  aircraft classes as buffers. Intents of one party never conflict with each other (a
  party deconflicts its own aircraft).
* **Blocking.** A conflict with an intent of equal or higher ``priority`` refuses the
  write (outcome ``conflict``); a conflict with a lower-priority intent is allowed but
  reported, as ASTM F3548-21 lets higher priority operations conflict with lower ones.
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
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import Polygon as ShapelyPolygon

from skyaccord.errors import IntentError, ProtocolError
from skyaccord.protocol import Accord
from skyaccord.store.base import BoxTuple, IntentRow, LockKey, RequestRow, Store, Txn
from skyaccord.strategic.codec import dumps, intent_from_dict, intent_to_dict
from skyaccord.strategic.intersect import Box, PlacedVolume, place, theatre_plane, volumes_conflict
from skyaccord.strategic.volumes import Intent, IntentState, Limits, Volume, validate_intent

__all__ = [
    "DEFAULT_CENTRE",
    "CheckResult",
    "Conflict",
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
class CheckResult:
    conflicts: tuple[Conflict, ...]

    @property
    def key(self) -> dict[str, int]:
        """The versions a write must name: those of every conflicting intent."""
        return {c.intent_id: c.version for c in self.conflicts}

    @property
    def blocking(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.blocking)


@dataclass(frozen=True)
class SubmitResult:
    outcome: Outcome
    #: the stored intent (new version) when accepted, else the intent as submitted
    intent: Intent
    conflicts: tuple[Conflict, ...] = ()
    #: intent id -> current version, for every version the write should have named
    missed: Mapping[str, int] = field(default_factory=dict)
    #: True when this was a retry answered from the record of the first request
    replayed: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


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
        placed = [place(v, self.plane) for v in intent.volumes]
        r_max = self.limits.max_theatre_radius_km * 1000.0
        for i, p in enumerate(placed):
            if math.hypot(p.cx, p.cy) / p.k > r_max:
                raise IntentError(f"intent {intent.id!r}: volumes[{i}] lies over "
                                  f"{self.limits.max_theatre_radius_km:g} km from the "
                                  f"theatre centre {self.centre}")
        return placed

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

    def _conflicts(self, t: Txn, intent: Intent,
                   placed: Sequence[PlacedVolume]) -> tuple[Conflict, ...]:
        out = []
        for other, oplaced in self._nearby(t, intent, placed):
            m = self.accord.minima(intent.aircraft_class, other.aircraft_class)
            pairs = []
            for i, a in enumerate(placed):
                ga = self._grown(a)
                for j, b in enumerate(oplaced):
                    if ga.intersects(b.box) and volumes_conflict(
                            a, b, m.horizontal_m, m.vertical_ft):
                        pairs.append((i, j))
            if pairs:
                out.append(Conflict(other.id, other.party, other.version, other.priority,
                                    tuple(pairs), other.priority >= intent.priority))
        return tuple(out)

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
            return CheckResult(self._conflicts(t, intent, placed))

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
        digest = self._digest("submit", [dumps(intent), sorted(key.items())])
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
            conflicts = self._conflicts(t, intent, placed)
            missed = {c.intent_id: c.version for c in conflicts
                      if key.get(c.intent_id) != c.version}
            if any(c.blocking for c in conflicts):
                return SubmitResult(Outcome.CONFLICT, intent, conflicts, missed)
            if missed:
                return SubmitResult(Outcome.STALE, intent, conflicts, missed)
            stored = replace(intent, version=(old.version if old else 0) + 1)
            t.put(self.encode(stored, placed), [self._tuple(p.box) for p in placed])
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
        locks: list[LockKey] = [(2, _h32(intent_id))]
        if request_id is not None:
            locks.append((3, _h32(request_id)))
        with self.store.write(locks) as t:
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
            boxes = [] if state is IntentState.ENDED else [self._tuple(p.box)
                                                           for p in placed]
            t.put(self.encode(new, placed), boxes)
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
        def rows() -> Iterable[tuple[IntentRow, Sequence[BoxTuple]]]:
            for it in intents:
                placed = self._validate(it)
                s = replace(it, version=1)
                yield (self.encode(s, placed),
                       [self._tuple(p.box) for p in placed] if s.active else [])
        return self.store.bulk_load(rows())
