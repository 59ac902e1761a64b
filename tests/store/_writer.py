"""A writer process for the concurrency and kill tests:
``python _writer.py URL SEED N [HOLD_AT]``.

Submits N intents of random parties in a small, dense area, each with its conflict key
read just before, and prints one line per accepted write. With ``HOLD_AT``, after that
many accepted writes it submits one more intent (``hold-SEED``, far from the others, so
its write is accepted and puts its rows) and, inside that write's transaction with its
rows put but not committed, prints ``holding hold-SEED`` and sleeps: a kill then lands
in the middle of a write, provably.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from skyaccord.protocol import default_accord
from skyaccord.store import Store, open_store
from skyaccord.store.base import LockKey, Txn
from skyaccord.strategic.registry import Registry
from skyaccord.strategic.volumes import Circle, Intent, Volume

T0 = 1_750_000_000.0


def random_intent(rng: random.Random, name: str) -> Intent:
    party = rng.choice(["us", "ru", "tr"])
    lat = 35.0 + rng.uniform(-0.15, 0.15)
    lon = 38.5 + rng.uniform(-0.15, 0.15)
    z = rng.choice(range(5000, 30000, 1000))
    t = T0 + rng.uniform(0, 4 * 3600)
    vol = Volume(Circle(lat, lon, rng.uniform(500, 3000)), z, z + rng.uniform(500, 3000), t,
                 t + rng.uniform(600, 3600))
    return Intent(name, party, (vol,), rng.choice(["manned", "unmanned"]))


class _Holding:
    """A store whose next write stops before its commit, saying so."""

    def __init__(self, store: Store, what: str) -> None:
        self._store, self._what = store, what

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)

    @contextmanager
    def write(self, locks: Sequence[LockKey] = (), *,
              exclusive: bool = False) -> Iterator[Txn]:
        with self._store.write(locks, exclusive=exclusive) as t:
            yield t
            # a read in the transaction: its rows are put (and visible to it alone)
            if t.get(self._what) is not None:
                print(f"holding {self._what}", flush=True)
            time.sleep(600)


def main() -> None:
    url, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hold_at = int(sys.argv[4]) if len(sys.argv) > 4 else None
    rng = random.Random(seed)
    reg = Registry(open_store(url), default_accord())
    accepted = 0
    for i in range(n):
        if hold_at is not None and accepted >= hold_at:
            held = Intent(f"hold-{seed}", "us", (Volume(Circle(33.0, 37.0, 1000), 1000, 2000,
                                                        T0, T0 + 600),))
            reg.store = _Holding(reg.store, held.id)
            reg.submit(held, request_id=f"req-hold-{seed}")
            raise AssertionError("the held write went on")  # pragma: no cover
        it = random_intent(rng, f"w{seed}-{i}")
        res = reg.submit(it, reg.check(it).key, request_id=f"req-{seed}-{i}")
        if res.accepted:
            accepted += 1
            print(it.id, flush=True)
        if res.accepted and rng.random() < 0.3:  # some changes and ends, too
            cur = res.intent
            moved = cur.shifted(dt_s=rng.uniform(-600, 600))
            res2 = reg.submit(moved, reg.check(moved).key)
            if res2.accepted and rng.random() < 0.5:
                reg.end(cur.id, cur.party, res2.intent.version)


if __name__ == "__main__":
    main()
