"""The registry's bounded memo: one cache type, one eviction policy.

:class:`Cache` is a ``dict`` with a size bound. Reads are plain ``dict`` reads (``get``,
``in``, ``[]``), so a hot loop pays nothing for the bound; only :meth:`Cache.put` and
:meth:`Cache.put_many` evict, and they evict one way: when the new entries would take the
cache over ``maxsize``, the older half of it goes first (by insertion order, which dicts
keep). A read does not refresh an entry (no LRU bookkeeping on the read path).

Every value the registry caches is exact as long as its key exists (volume ids are never
reused, an intent's ``(id, version)`` names one body, a :class:`~.volumes.Volume` is
immutable), so eviction only costs a re-read, never a wrong answer.

Examples
--------
>>> c: Cache[int, str] = Cache(4)
>>> c.put_many({1: "a", 2: "b", 3: "c"})
>>> c.put(4, "d")
>>> c.put(5, "e")  # over 4: the older half (1, 2) goes
>>> sorted(c)
[3, 4, 5]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["Cache"]

K = TypeVar("K")
V = TypeVar("V")


class Cache(dict[K, V]):
    """A dict of at most ``maxsize`` entries (module doc for the eviction policy)."""

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = max(int(maxsize), 1)

    def _make_room(self, n: int) -> None:
        if len(self) + n > self.maxsize:
            for k in list(itertools.islice(self, len(self) // 2 or len(self))):
                del self[k]

    def put(self, key: K, value: V) -> None:
        """Store one entry, evicting the older half first when the cache is full."""
        if key not in self:
            self._make_room(1)
        self[key] = value

    def put_many(self, items: Mapping[K, V]) -> None:
        """Store several entries, evicting the older half first when they do not fit."""
        self._make_room(len(items))
        self.update(items)
