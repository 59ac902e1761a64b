"""The storage Protocol shared by every backend, and the values it stores.

The store knows rows and 4D boxes, not geometry: the strategic registry
(:mod:`skyaccord.strategic.registry`) serialises an intent to a JSON ``body``, computes
one box per volume in its theatre plane, and keeps all rules (conflicts, versions,
idempotency) in one place. A backend only has to offer atomic transactions, a 4D box
index over the volumes of *active* intents, and exclusion between writers:

* :meth:`Store.write` opens a transaction that excludes every other writer holding one of
  the same lock keys (SQLite: the database-wide ``BEGIN IMMEDIATE`` lock; PostgreSQL:
  transaction-scoped advisory locks on the keys, taken in sorted order, plus a shared
  lock on a global key that ``exclusive=True`` takes exclusively);
* everything written inside commits at once or not at all; a process killed mid-write
  leaves the store as it was before that transaction.

A box is ``(xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax)``: plane metres, feet, UTC
seconds.

Each indexed volume has a *volume id* and a *record*: ``put`` takes one opaque ``bytes``
record per box (the registry's compact geometry for the exact test; the store never
reads it) and gives the volumes fresh ids. **Volume ids are never reused**: a replaced or
ended intent's volumes disappear with their ids, and its new volumes get new ones, so
``(vid) -> VolumeRow`` never changes while the vid exists and a caller may cache it (the
registry does).

One query finds volumes: :meth:`Txn.search` takes 4D boxes and answers, for each box,
the ids of the active volumes whose boxes meet it, with the rows (records) of those
volumes, less the rows of ids the caller says it already holds. It may answer a superset
(SQLite's R*Tree rounds boxes outward to 32-bit floats); callers run the exact test.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Hashable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = [
    "SCHEMA_VERSION",
    "BoxTuple",
    "DisplacementRow",
    "IntentRow",
    "LockKey",
    "RequestRow",
    "Store",
    "Txn",
    "VolumeHits",
    "VolumeRow",
    "search_volumes",
]

#: (xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax)
BoxTuple = tuple[float, float, float, float, float, float, float, float]
#: (namespace, key) of an exclusion lock; both fit in a signed 32-bit integer
LockKey = tuple[int, int]

#: version of the table layout written in the ``schema_version`` meta key
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class IntentRow:
    """One stored intent: index columns and the registry's JSON body."""

    id: str
    party: str
    state: str
    version: int
    priority: int
    body: str


@dataclass(frozen=True)
class RequestRow:
    """The recorded effect of an idempotent request."""

    key: str
    digest: str
    intent_id: str
    version: int


@dataclass(frozen=True)
class DisplacementRow:
    """The registry's record that ``intent_id`` (of party ``party``) was displaced by a
    higher-priority intent; ``seq`` rises with each one written (0 in a row to write: the
    store numbers it); ``body`` is the
    registry's JSON."""

    seq: int
    intent_id: str
    party: str
    body: str


class VolumeRow(NamedTuple):
    """One indexed volume: its id, its intent's index columns, the caller's record."""

    vid: int
    #: position of the volume in its intent (the index of its box in ``put``)
    vol_index: int
    intent_id: str
    party: str
    version: int
    priority: int
    #: the record given to ``put`` for this volume (``b""``: none; read the body)
    record: bytes


class VolumeHits(NamedTuple):
    """What :meth:`Txn.search` found."""

    #: for each box searched, the ids of the active volumes whose boxes meet it
    ids: list[list[int]]
    #: the rows of the volumes found, each once, in any order; none for ``known`` ids
    rows: list[VolumeRow]


def search_volumes(volume_ids: Callable[[Sequence[BoxTuple]], list[list[int]]],
                   volume_rows: Callable[[list[int]], list[VolumeRow]],
                   boxes: Sequence[BoxTuple], known: Container[int]) -> VolumeHits:
    """:meth:`Txn.search` from a backend's two queries: the ids per box, then the rows of
    the ids found that the caller does not know yet (each once)."""
    ids = volume_ids(boxes)
    need = list({v for per in ids for v in per if v not in known})
    return VolumeHits(ids, volume_rows(need) if need else [])


class Txn(Protocol):
    """Operations inside one transaction."""

    def get(self, intent_id: str) -> IntentRow | None:
        """The row of ``intent_id``, or None."""
        ...

    def search(self, boxes: Sequence[BoxTuple],
               known: Container[int] = frozenset()) -> VolumeHits:
        """The active volumes whose boxes meet each of ``boxes`` (a superset: module doc):
        their ids, box by box, and the rows of those whose ids are not in ``known``."""
        ...

    def put(self, row: IntentRow, boxes: Sequence[BoxTuple],
            records: Sequence[bytes] | None = None) -> None:
        """Insert or replace ``row``; its volume boxes become ``boxes`` (empty: unindexed)
        with fresh volume ids and ``records`` (one per box; None: ``b""`` each)."""
        ...

    def rows(self, party: str | None = None, active_only: bool = False,
             ids: Collection[str] | None = None) -> list[IntentRow]:
        """All rows, optionally of one party, only indexed (active) ones and/or only
        those of ``ids``, by id."""
        ...

    def request(self, key: str) -> RequestRow | None:
        """The recorded request ``key``, or None."""
        ...

    def generation(self) -> Hashable | None:
        """A token naming this transaction's view of the store: two transactions on one
        store handle with equal tokens saw the same data (no commit by anyone between
        them; SQLite: data_version and own commits; PostgreSQL: the snapshot). None when
        the backend cannot tell (then no result is ever reused)."""
        ...

    def put_request(self, row: RequestRow) -> None:
        """Record an idempotent request (the key must be new)."""
        ...

    def put_displacements(self, rows: Sequence[DisplacementRow]) -> None:
        """Record displacements (their ``seq`` is ignored: the store numbers them in
        order; table ``intent_notices``)."""
        ...

    def displacements(self, party: str | None = None, intent_id: str | None = None,
                      after: int = 0) -> list[DisplacementRow]:
        """Displacements with ``seq`` above ``after``, optionally of one party and/or intent,
        by ``seq``."""
        ...

    def meta(self, key: str) -> str | None:
        ...

    def set_meta(self, key: str, value: str) -> None:
        ...


class Store(Protocol):
    """A registry store. One instance serves one thread; open one per thread or process."""

    url: str

    def read(self) -> AbstractContextManager[Txn]:
        """A read-only transaction over a consistent snapshot."""
        ...

    def write(self, locks: Sequence[LockKey] = (), *,
              exclusive: bool = False) -> AbstractContextManager[Txn]:
        """A write transaction excluding writers that share a lock key (module doc)."""
        ...

    def bulk_load(self, rows: Iterable[tuple[IntentRow, Sequence[BoxTuple]]
                                       | tuple[IntentRow, Sequence[BoxTuple], Sequence[bytes]]]
                  ) -> int:
        """Insert many new rows fast, without checks (benchmarks, imports); the count.
        Each item is ``(row, boxes)`` or ``(row, boxes, records)``."""
        ...

    def check_integrity(self) -> list[str]:
        """Problems found by the backend's own consistency checks (empty when sound)."""
        ...

    def close(self) -> None:
        ...


def displacements_query(party: str | None, intent_id: str | None, after: int,
                        mark: str) -> tuple[str, list[object]]:
    """The SQL (with ``mark`` as the driver's placeholder: ``?`` or ``%s``) and arguments
    that list displacements (table ``intent_notices``) after ``after``, optionally of one
    party and one intent: one query for both backends."""
    sql = f"SELECT seq, intent_id, party, body FROM intent_notices WHERE seq > {mark}"
    args: list[object] = [after]
    if party is not None:
        sql += f" AND party = {mark}"
        args.append(party)
    if intent_id is not None:
        sql += f" AND intent_id = {mark}"
        args.append(intent_id)
    return sql + " ORDER BY seq", args
