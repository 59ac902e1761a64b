"""The operations registry: checked, atomic, idempotent writes of intents over a store.

Rules (one place for every backend):

* **Conflict.** Two volumes of *different* parties' active intents conflict under the
  rule of :mod:`skyaccord.strategic.intersect`, with the accord's minima for the two
  aircraft classes as buffers (:mod:`~skyaccord.strategic.separation`). Intents of one
  party never conflict with each other (a party deconflicts its own aircraft).
* **Blocking.** A conflict with an intent of equal or higher ``priority`` refuses the
  write (outcome ``conflict``); a conflict with a lower-priority intent is allowed but
  reported, as ASTM F3548-21 lets higher priority operations conflict with lower ones.
* **Displacements.** When a write is accepted over lower-priority intents, the registry
  records for each of them a :class:`~skyaccord.strategic.displacements.Displacement`
  in the same transaction: its owner must replan. ``Registry.displacements`` lists them
  (the CLI's ``skyaccord intents notices``).
* **Key.** Every write must name, in ``key``, the current version of every intent it
  conflicts with (the F3548-21 OVN rule: you may only write over what you have seen);
  otherwise it is refused (outcome ``stale``) with the versions it missed. A change to
  one's own intent must carry that intent's current version in ``Intent.version``.
* **Idempotency.** A write with a ``request_id`` has one effect however often it is
  retried (:mod:`~skyaccord.strategic.idempotency`).
* **Atomicity.** Checks and the write happen in one store transaction that excludes every
  writer whose area could conflict (:mod:`~skyaccord.strategic.locks`), so two committed
  intents never conflict, whatever the number of nodes and writers.

How a check runs: the store's index is searched with each volume's box grown by the
largest minima (``Txn.search``); the stored volumes it finds are read as compact records
(:mod:`~skyaccord.strategic.records`), cached by volume id, which the store never reuses,
so the cache is exact; one vectorised exact test
(:func:`~skyaccord.strategic.intersect.conflict_mask`) runs over all pairs. A ``submit``
of the intent just checked reuses the check's :class:`IntentConflicts` when the store's
generation (``Txn.generation``) shows that nothing was committed in between.

Caches (:class:`~skyaccord.strategic.cache.Cache`, one eviction policy): decoded intents
by ``(id, version)``, volume records by volume id, placements by volume, interned names
(in the record reader). The last check's answer is not one of them: it is one slot,
valid only for the same intent on the same store generation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast

import numpy as np

from skyaccord.errors import IntentError, ProtocolError
from skyaccord.protocol import Accord
from skyaccord.store.base import (
    BoxTuple,
    IntentRow,
    LockKey,
    RequestRow,
    Store,
    Txn,
    VolumeRow,
)
from skyaccord.strategic.cache import Cache
from skyaccord.strategic.codec import dumps, intent_from_dict
from skyaccord.strategic.conflicts import (
    CheckResult,
    Conflict,
    IntentConflicts,
    Outcome,
    SubmitResult,
)
from skyaccord.strategic.displacements import (
    Displacement,
    displacement_from_row,
    displacement_rows,
)
from skyaccord.strategic.idempotency import replay, request_digest
from skyaccord.strategic.intersect import (
    PlacedVolume,
    conflict_mask,
    place,
    theatre_plane,
    volume_arrays,
)
from skyaccord.strategic.locks import SETUP_LOCK, lock_keys
from skyaccord.strategic.records import (
    RecordReader,
    StoredVolume,
    decode_row,
    encode_row,
    pack_records,
    record_arrays,
)
from skyaccord.strategic.separation import Separation, box_tuple
from skyaccord.strategic.volumes import Intent, IntentState, Limits, Volume, validate_intent

__all__ = [
    "DEFAULT_CENTRE",
    "CheckResult",
    "Conflict",
    "Displacement",
    "IntentConflicts",
    "Outcome",
    "Registry",
    "SubmitResult",
]

#: theatre centre used when a store is first opened: Syria, the 2015 accord's airspace
DEFAULT_CENTRE = (35.0, 38.5)


class Registry:
    """Intents of all parties over one :class:`~skyaccord.store.Store`.

    ``centre`` is the theatre plane's centre (degrees); it is recorded in the store on
    first use, and a later registry on the same store must agree with it (or pass None).
    ``cache_size`` bounds the decoded intents kept (and, four times over, the volume
    records).
    """

    def __init__(self, store: Store, accord: Accord, *, limits: Limits | None = None,
                 centre: tuple[float, float] | None = None, cache_size: int = 65536) -> None:
        self.store = store
        self.accord = accord
        self.limits = limits or Limits()
        with store.write([SETUP_LOCK]) as t:
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
        self.separation = Separation(accord)
        # (intent id, version) -> decoded intent and placed volumes
        self._intents: Cache[tuple[str, int], tuple[Intent, list[PlacedVolume]]] = \
            Cache(cache_size)
        # volume id -> record: exact forever, as the store never reuses a volume id
        self._vols: Cache[int, StoredVolume] = Cache(max(4 * cache_size, 1024))
        # volume -> its placement (a check and its write place it once)
        self._placed: Cache[Volume, PlacedVolume] = Cache(4096)
        self._reader = RecordReader()
        # the last check: (intent, store generation, conflicts), reused by a submit of
        # the same intent that sees the same generation (nothing committed in between)
        self._last: tuple[Intent, Hashable, IntentConflicts] | None = None

    # -- stored forms ----------------------------------------------------------------
    @staticmethod
    def encode(intent: Intent, placed: Sequence[PlacedVolume]) -> IntentRow:
        """The stored row of ``intent`` (:func:`~skyaccord.strategic.records.encode_row`)."""
        return encode_row(intent, placed)

    @staticmethod
    def records(intent: Intent, placed: Sequence[PlacedVolume]) -> list[bytes]:
        """The store's per-volume records of ``intent``: what the exact check reads,
        without decoding the intent's body
        (:func:`~skyaccord.strategic.records.pack_records`)."""
        return pack_records(intent, placed)

    def _decode(self, row: IntentRow) -> tuple[Intent, list[PlacedVolume]]:
        k = (row.id, row.version)
        hit = self._intents.get(k)
        if hit is None:
            hit = decode_row(row, self.plane)
            self._intents.put(k, hit)
        return hit

    def _unpack(self, t: Txn, row: VolumeRow) -> StoredVolume:
        """A volume row's record, unpacked; a row written without one (a store migrated
        from schema version 1) gets it from its intent's body."""
        if row.record:
            return self._reader.unpack(row)
        full = t.get(row.intent_id)
        assert full is not None
        intent, placed = self._decode(full)
        return self._reader.unpack(row, pack_records(intent, placed)[row.vol_index])

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
            self._placed.put(v, p)
        return p

    def _locks(self, intent_id: str, request_id: str | None,
               placed: Sequence[PlacedVolume]) -> tuple[list[LockKey], bool]:
        return lock_keys((self.separation.search_box(p) for p in placed), intent_id,
                         request_id)

    def _nearby(self, t: Txn, intent: Intent, placed: Sequence[PlacedVolume],
                dt_s: float = 0.0, dz_ft: float = 0.0
                ) -> list[tuple[Intent, list[PlacedVolume]]]:
        """Other parties' active intents with a volume near one of ``placed``, by id."""
        boxes = [box_tuple(self.separation.search_box(p, dt_s, dz_ft)) for p in placed]
        ids = {r.intent_id for r in t.search(boxes).rows
               if r.party != intent.party and r.intent_id != intent.id}
        if not ids:
            return []
        return [self._decode(r) for r in sorted(t.rows(ids=ids), key=lambda r: r.id)]

    def _volumes(self, t: Txn, vids: Sequence[int], rows: Sequence[VolumeRow]
                 ) -> list[StoredVolume]:
        """The records of ``vids``: cached, or unpacked from ``rows`` (the rows of the
        ids the cache lacks, as the search that found ``vids`` returned them)."""
        cache = self._vols
        vols = list(map(cache.get, vids))
        if not rows:
            return vols  # type: ignore[return-value]  # every id was cached
        got = {r.vid: self._unpack(t, r) for r in rows}
        cache.put_many(got)
        return [x if x is not None else got[v] for v, x in zip(vids, vols, strict=True)]

    def _conflicts(self, t: Txn, intent: Intent,
                   placed: Sequence[PlacedVolume]) -> IntentConflicts:
        """Every conflict of ``intent`` with the stored active intents of other parties:
        the index gives volume ids, the cached (or fetched) records give their placement,
        and one vectorised exact test runs over all (own volume, stored volume) pairs."""
        found = t.search([box_tuple(self.separation.search_box(p)) for p in placed],
                         known=self._vols)
        per_box = found.ids
        if len(per_box) == 1:
            own_idx = None
            vids = per_box[0]
        else:
            own_list = [i for i, ids in enumerate(per_box) for _ in ids]
            vids = [v for ids in per_box for v in ids]
            own_idx = np.array(own_list, dtype=np.intp)
        if not vids:
            return IntentConflicts()
        vols = self._volumes(t, vids, found.rows)
        party, iid = intent.party, intent.id
        if own_idx is None:
            kept = [v for v in vols if v.party != party and v.intent_id != iid]
            own_at = np.zeros(len(kept), dtype=np.intp)
        else:
            keep = [k for k, v in enumerate(vols) if v.party != party and v.intent_id != iid]
            kept = [vols[k] for k in keep]
            own_at = own_idx[np.array(keep, dtype=np.intp)]
        if not kept:
            return IntentConflicts()
        other = record_arrays(kept)
        own = volume_arrays(placed)
        cls = intent.aircraft_class
        mins = {c: self.separation.minima(cls, c) for c in {v.aircraft_class for v in kept}}
        if len(mins) == 1:
            h, vft = next(iter(mins.values()))
            hm: Any = h
            vm: Any = vft
        else:
            hv = np.array([mins[v.aircraft_class] for v in kept], dtype=np.float64)
            hm, vm = hv[:, 0], hv[:, 1]
        hit = np.flatnonzero(conflict_mask(own.take(own_at), other, hm, vm)).tolist()
        if not hit:
            return IntentConflicts()
        groups: dict[str, tuple[StoredVolume, list[tuple[int, int]]]] = {}
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
        return IntentConflicts(ids, [g[0].party for g in rows], [g[0].version for g in rows],
                         [g[0].priority for g in rows],
                         [(g[1][0],) if len(g[1]) == 1 else tuple(sorted(set(g[1])))
                          for g in rows],
                         [g[0].priority >= prio for g in rows])

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

    def displacements(self, party: str | None = None, intent_id: str | None = None,
                      after: int = 0) -> list[Displacement]:
        """Lower-priority intents that accepted writes now conflict with (module doc), by
        ``seq``; optionally one party's or one intent's, and only those after ``seq``
        ``after``."""
        with self.store.read() as t:
            rows = t.displacements(party, intent_id, after)
        return [displacement_from_row(r) for r in rows]

    def nearby(self, intent: Intent, dt_s: float, dz_ft: float
               ) -> list[tuple[Intent, list[PlacedVolume]]]:
        """Other parties' active intents within ``dt_s`` and ``dz_ft`` of ``intent``'s
        volumes grown by the largest buffer (for the resolvers), by id."""
        placed = self._validate(intent)
        with self.store.read() as t:
            return self._nearby(t, intent, placed, dt_s, dz_ft)

    # -- writes ----------------------------------------------------------------------
    def submit(self, intent: Intent, key: Mapping[str, int] | Literal["current"] | None
               = None, *, request_id: str | None = None) -> SubmitResult:
        """Check and write ``intent`` atomically (module doc for the rules).

        ``key`` names the versions of the intents the submitter has seen in the area;
        ``"current"`` stands for all that are there when the write runs (the command
        line's "read, then write" done in one transaction). A retry with the same
        ``request_id`` gets the first answer: with ``"current"`` the request is the
        intent alone, so versions changed since do not make the retry another request.
        """
        placed = self._validate(intent)
        if intent.state is IntentState.ENDED:
            raise IntentError(f"intent {intent.id!r}: cannot submit an ended intent; "
                              "use end()")
        current = key == "current"
        given = {} if current or key is None else dict(cast(Mapping[str, int], key))
        # the digest only serves idempotent requests
        digest = "" if request_id is None else request_digest(
            "submit", [dumps(intent), "current" if current else sorted(given.items())])
        locks, exclusive = self._locks(intent.id, request_id, placed)
        with self.store.write(locks, exclusive=exclusive) as t:
            replayed = replay(t, request_id, digest)
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
            missed = {} if current else conflicts.missed(given)
            if conflicts.any_blocking:
                return SubmitResult(Outcome.CONFLICT, intent, conflicts, missed)
            if missed:
                return SubmitResult(Outcome.STALE, intent, conflicts, missed)
            stored = replace(intent, version=(old.version if old else 0) + 1)
            t.put(encode_row(stored, placed), [box_tuple(p.box) for p in placed],
                  pack_records(stored, placed))
            if len(conflicts):  # accepted: every conflict is with a lower priority
                t.put_displacements(displacement_rows(stored, conflicts))
            if request_id is not None:
                t.put_request(RequestRow(request_id, digest, stored.id, stored.version))
        return SubmitResult(Outcome.ACCEPTED, stored, conflicts)

    def set_state(self, intent_id: str, party: str, state: IntentState, version: int, *,
                  request_id: str | None = None) -> Intent:
        """Move an intent to ``state`` (``ended`` removes it from conflict checks).

        ``version`` must be the current version; raises :class:`IntentError` otherwise.
        """
        state = IntentState(state)
        digest = request_digest("state", [intent_id, party, str(state), version])
        # A state change bumps the version that writers in the intent's area must name:
        # take the same area locks as a write there, so that no concurrent write commits
        # on the version this change retires. The area comes from a read before the
        # locks; if the intent changed in between, the version check below refuses.
        with self.store.read() as t:
            before = t.get(intent_id)
        placed_before = self._decode(before)[1] if before is not None else []
        locks, exclusive = self._locks(intent_id, request_id, placed_before)
        with self.store.write(locks, exclusive=exclusive) as t:
            replayed = replay(t, request_id, digest)
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
            boxes = [] if ended else [box_tuple(p.box) for p in placed]
            t.put(encode_row(new, placed), boxes, [] if ended else pack_records(new, placed))
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
                yield (encode_row(s, placed),
                       [box_tuple(p.box) for p in placed] if active else [],
                       pack_records(s, placed) if active else [])
        return self.store.bulk_load(rows())
