"""A writer process for the concurrency and kill tests: ``python _writer.py URL SEED N``.

Submits N intents of random parties in a small, dense area, each with its conflict key
read just before, and prints one line per accepted write.
"""

from __future__ import annotations

import random
import sys

from skyaccord.protocol import default_accord
from skyaccord.store import open_store
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


def main() -> None:
    url, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    reg = Registry(open_store(url), default_accord())
    for i in range(n):
        it = random_intent(rng, f"w{seed}-{i}")
        res = reg.submit(it, reg.check(it).key, request_id=f"req-{seed}-{i}")
        if res.accepted:
            print(it.id, flush=True)
        if res.accepted and rng.random() < 0.3:  # some changes and ends, too
            cur = res.intent
            moved = cur.shifted(dt_s=rng.uniform(-600, 600))
            res2 = reg.submit(moved, reg.check(moved).key)
            if res2.accepted and rng.random() < 0.5:
                reg.end(cur.id, cur.party, res2.intent.version)


if __name__ == "__main__":
    main()
