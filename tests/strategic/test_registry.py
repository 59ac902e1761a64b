"""Registry behaviour that does not depend on the backend (SQLite here; the contract
suite in tests/store runs the rest on every backend)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from skyaccord.errors import IntentError
from skyaccord.protocol import default_accord
from skyaccord.store import SQLiteStore
from skyaccord.strategic.intersect import place, volumes_conflict
from skyaccord.strategic.registry import Registry
from skyaccord.strategic.volumes import Circle, Intent, Volume

T0 = 1_750_000_000.0


def spread(n: int, seed: int) -> list[Intent]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lat, lon = 35.0 + rng.uniform(-2, 2), 38.5 + rng.uniform(-2, 2)
        z, t = rng.uniform(0, 30000), T0 + rng.uniform(0, 86400)
        out.append(Intent(f"s{i}", rng.choice(["us", "ru"]),
                          (Volume(Circle(lat, lon, 1000), z, z + 1000, t, t + 1800),)))
    return out


def test_check_uses_the_index_not_a_scan(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    reg = Registry(store, default_accord())
    reg.bulk_load(spread(3000, 1))
    seen: list[int] = []
    real = store.read

    def counting_read():  # type: ignore[no-untyped-def]
        cm = real()
        txn = cm.__enter__()
        orig = txn.volume_ids

        def volume_ids(boxes):  # type: ignore[no-untyped-def]
            ids = orig(boxes)
            seen.extend(len(v) for v in ids)
            return ids

        txn.volume_ids = volume_ids  # type: ignore[method-assign]

        class Wrap:
            def __enter__(self):  # type: ignore[no-untyped-def]
                return txn

            def __exit__(self, *a):  # type: ignore[no-untyped-def]
                return cm.__exit__(*a)

        return Wrap()

    store.read = counting_read  # type: ignore[method-assign]
    probe = Intent("probe", "us", (Volume(Circle(35.0, 38.5, 20000), 0, 30000, T0,
                                          T0 + 86400),))
    res = reg.check(probe)
    # brute force: the exact test against every stored intent of the other party
    m = default_accord().minima("manned", "manned")
    mine = place(probe.volumes[0], reg.plane)
    brute = {it.id for it in reg.intents() if it.party != probe.party
             and volumes_conflict(mine, place(it.volumes[0], reg.plane), m.horizontal_m,
                                  m.vertical_ft)}
    assert brute and {c.intent_id for c in res.conflicts} == brute
    # ... while the index handed the exact test a small fraction of the 3,000
    assert len(seen) == 1 and seen[0] < 300


def test_theatre_centre_is_recorded(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    Registry(store, default_accord(), centre=(36.0, 37.0))
    assert Registry(store, default_accord()).centre == (36.0, 37.0)
    with pytest.raises(IntentError, match=r"theatre centre is 36\.0, 37\.0"):
        Registry(store, default_accord(), centre=(35.0, 38.0))
    far = Intent("far", "us", (Volume(Circle(60.0, 10.0, 1000), 0, 1000, T0, T0 + 60),))
    with pytest.raises(IntentError, match="over 1500 km from the theatre centre"):
        Registry(store, default_accord()).check(far)


def test_stored_placement_equals_fresh_projection(tmp_path: Path) -> None:
    from skyaccord.strategic.volumes import Polygon

    reg = Registry(SQLiteStore(tmp_path / "r.db"), default_accord())
    poly = Polygon(((38.0, 35.0), (38.2, 35.0), (38.1, 35.2)))
    it = Intent("p", "us", (Volume(poly, 0, 1000, T0, T0 + 60),
                            Volume(Circle(35.5, 39.0, 3000), 0, 1000, T0, T0 + 60)))
    stored = reg.submit(it).intent
    with reg.store.read() as t:
        row = t.get("p")
    assert row is not None
    got = reg._decode(row)[1]
    want = [place(v, reg.plane) for v in stored.volumes]
    for g, w in zip(got, want, strict=True):
        assert g.box == w.box and g.k == w.k and g.r_plane == w.r_plane
        assert (g.shape is None) == (w.shape is None)
        if g.shape is not None and w.shape is not None:
            assert g.shape.equals_exact(w.shape, 0.0)
