"""A SQLite store of schema version 1 (boxes only, R*Tree ids pk * 4096 + i) opens as
version 2 and the registry's checks on it equal brute force."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from skyaccord.protocol import default_accord
from skyaccord.store import SQLiteStore
from skyaccord.strategic.intersect import place, volumes_conflict
from skyaccord.strategic.registry import Registry

from ._writer import random_intent

_V1 = """
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE intents (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, party TEXT NOT NULL,
    state TEXT NOT NULL, version INTEGER NOT NULL, priority INTEGER NOT NULL,
    body TEXT NOT NULL, nvol INTEGER NOT NULL);
CREATE INDEX intents_party ON intents (party, id);
CREATE VIRTUAL TABLE intent_volumes USING rtree(id, xmin, xmax, ymin, ymax, zmin, zmax,
    tmin, tmax);
CREATE TABLE intent_requests (key TEXT PRIMARY KEY, digest TEXT NOT NULL,
    intent_id TEXT NOT NULL, version INTEGER NOT NULL);
"""


def test_v1_store_migrates(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    # encode intents with today's registry on a scratch store, write them in v1 layout
    scratch = Registry(SQLiteStore(tmp_path / "scratch.db"), default_accord())
    rng = random.Random(5)
    intents = [random_intent(rng, f"i{k}") for k in range(120)]
    c = sqlite3.connect(path)
    c.executescript(_V1)
    c.execute("INSERT INTO store_meta VALUES ('schema_version', '1')")
    c.execute("INSERT INTO store_meta VALUES ('theatre_centre', ?)",
              (json.dumps(list(scratch.centre)),))
    for pk, it in enumerate(intents, 1):
        placed = [place(v, scratch.plane) for v in it.volumes]
        r = scratch.encode(it.__class__(**{**it.__dict__, "version": 1}), placed)
        c.execute("INSERT INTO intents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (pk, r.id, r.party, r.state, 1, r.priority, r.body, len(placed)))
        for i, p in enumerate(placed):
            b = p.box
            c.execute("INSERT INTO intent_volumes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (pk * 4096 + i, b.xmin, b.xmax, b.ymin, b.ymax, b.zmin, b.zmax,
                       b.tmin, b.tmax))
    c.commit()
    c.close()
    store = SQLiteStore(path)
    assert store.check_integrity() == []
    reg = Registry(store, default_accord())
    acc = default_accord()
    found = 0
    for k in range(25):
        probe = random_intent(rng, f"p{k}")
        got = {c.intent_id for c in reg.check(probe).conflicts}
        mine = [place(v, reg.plane) for v in probe.volumes]
        want = set()
        for it in reg.intents(active_only=True):
            m = acc.minima(probe.aircraft_class, it.aircraft_class)
            if it.party != probe.party and any(
                    volumes_conflict(a, place(v, reg.plane), m.horizontal_m, m.vertical_ft)
                    for a in mine for v in it.volumes):
                want.add(it.id)
        assert got == want
        found += len(want)
        # new writes on the migrated store get ids above every old one
        reg.submit(probe, reg.check(probe).key)
    assert found > 5
    assert store.check_integrity() == []
