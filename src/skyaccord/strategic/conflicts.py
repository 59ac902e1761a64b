"""What a registry check or write answers: conflicts, outcomes, results.

:class:`IntentConflicts` holds the conflicts of one check as columns (a check in a dense area
finds hundreds; no :class:`Conflict` object is built until one is read), and answers the
questions a write asks of them: the versions a write must name (``key``), those a given
key misses (``missed``) and whether any refuses the write (``any_blocking``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import overload

from skyaccord.errors import InputError
from skyaccord.strategic.volumes import Intent

__all__ = [
    "CheckResult",
    "Conflict",
    "IntentConflicts",
    "Outcome",
    "SubmitResult",
]


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


class IntentConflicts(Sequence[Conflict]):
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
            raise InputError(f"IntentConflicts: columns of different lengths (ids {n}, parties "
                             f"{len(parties)}, versions {len(versions)}, priorities "
                             f"{len(priorities)}, pairs {len(pairs)}, blocking "
                             f"{len(blocking)})")
        self.ids = tuple(ids)
        self.parties = tuple(parties)
        self.versions = tuple(versions)
        self.priorities = tuple(priorities)
        self.pairs = tuple(pairs)
        self.blocking_flags = tuple(blocking)
        self._items: tuple[Conflict, ...] | None = None

    @classmethod
    def of(cls, conflicts: Iterable[Conflict]) -> IntentConflicts:
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
        if isinstance(other, IntentConflicts):
            return (self.ids, self.parties, self.versions, self.priorities, self.pairs,
                    self.blocking_flags) == (other.ids, other.parties, other.versions,
                                             other.priorities, other.pairs,
                                             other.blocking_flags)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._all() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"IntentConflicts({list(self._all())!r})"

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


def _as_conflicts(cs: Sequence[Conflict]) -> IntentConflicts:
    return cs if isinstance(cs, IntentConflicts) else IntentConflicts.of(cs)


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
