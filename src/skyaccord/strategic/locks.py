"""The lock keys a registry write holds: what it excludes while it checks and writes.

A write takes, in one store transaction (:meth:`skyaccord.store.Store.write`), a key for
every cell of a coarse grid in the theatre plane under its volumes' search boxes (the
boxes grown by the largest minima, :meth:`~.separation.Separation.search_box`), plus a
key for the intent id and one for the request id. Two writes that could conflict share
a cell, so they run one after the other; writes far apart run in parallel (on a backend
that can: PostgreSQL's advisory locks; SQLite serialises every writer). A write over more
than :data:`MAX_LOCK_CELLS` cells takes the store's global lock exclusively instead.

A key is ``(namespace, crc32(text) - 2**31)``, two signed 32-bit integers; namespace 0
is the store's own global key.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable

from skyaccord.store.base import LockKey
from skyaccord.strategic.intersect import Box

__all__ = [
    "CELL",
    "INTENT",
    "LOCK_CELL_M",
    "MAX_LOCK_CELLS",
    "REQUEST",
    "SETUP_LOCK",
    "lock_keys",
]

#: side of the grid cells that writers lock, metres in the theatre plane
LOCK_CELL_M = 50_000.0
#: above this many cells a writer takes the global lock exclusively
MAX_LOCK_CELLS = 256

#: key namespaces: a grid cell, an intent id, a request id
CELL, INTENT, REQUEST = 1, 2, 3
#: the key a registry holds while it records or reads the theatre centre on first use
SETUP_LOCK: LockKey = (CELL, 0)


def _h32(text: str) -> int:
    return zlib.crc32(text.encode()) - 2**31


def lock_keys(search_boxes: Iterable[Box], intent_id: str,
              request_id: str | None) -> tuple[list[LockKey], bool]:
    """The keys a write of ``intent_id`` holds, and whether it must hold the global lock
    exclusively instead of cells (too many of them).

    >>> keys, exclusive = lock_keys([Box(0, 1, 0, 1, 0, 1, 0, 1)], "a", None)
    >>> exclusive, len(keys), keys[-1][0] == INTENT
    (False, 2, True)
    """
    cells: set[LockKey] = set()
    for g in search_boxes:
        ix0, ix1 = math.floor(g.xmin / LOCK_CELL_M), math.floor(g.xmax / LOCK_CELL_M)
        iy0, iy1 = math.floor(g.ymin / LOCK_CELL_M), math.floor(g.ymax / LOCK_CELL_M)
        if (ix1 - ix0 + 1) * (iy1 - iy0 + 1) + len(cells) > MAX_LOCK_CELLS:
            return [], True
        cells.update((CELL, _h32(f"{ix},{iy}")) for ix in range(ix0, ix1 + 1)
                     for iy in range(iy0, iy1 + 1))
    keys = [*cells, (INTENT, _h32(intent_id))]
    if request_id is not None:
        keys.append((REQUEST, _h32(request_id)))
    return keys, False
