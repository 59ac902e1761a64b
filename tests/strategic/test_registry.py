"""Registry behaviour that does not depend on the backend (SQLite here; the contract
suite in tests/store runs the rest on every backend)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from skyaccord.errors import InputError, IntentError
from skyaccord.protocol import default_accord
from skyaccord.store import SQLiteStore
from skyaccord.strategic.intersect import place, volumes_conflict
from skyaccord.strategic.registry import Registry
from skyaccord.strategic.separation import box_tuple
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
        orig = txn.search

        def search(boxes, known=frozenset()):  # type: ignore[no-untyped-def]
            found = orig(boxes, known)
            seen.extend(len(v) for v in found.ids)
            return found

        txn.search = search  # type: ignore[method-assign]

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


def _mixed(rng: random.Random, name: str, party: str | None = None) -> Intent:
    """Circles and polygons, one to three volumes, two classes, three priorities, in a
    small area so that most checks find several conflicts."""
    from skyaccord.strategic.volumes import Polygon

    vols = []
    for _ in range(rng.randint(1, 3)):
        lat, lon = 35.0 + rng.uniform(-0.12, 0.12), 38.5 + rng.uniform(-0.12, 0.12)
        z, t = rng.choice(range(0, 20000, 1000)), T0 + rng.uniform(0, 6 * 3600)
        if rng.random() < 0.3:
            d = rng.uniform(0.005, 0.03)
            fp: Circle | Polygon = Polygon(((lon, lat), (lon + d, lat), (lon, lat + d)))
        else:
            fp = Circle(lat, lon, rng.uniform(200, 3000))
        vols.append(Volume(fp, z, z + rng.choice([500, 1000, 3000]), t,
                           t + rng.uniform(600, 3600)))
    return Intent(name, party or rng.choice(["us", "ru", "tr"]), tuple(vols),
                  rng.choice(["manned", "unmanned"]), rng.choice([0, 1, 2]))


def _brute(reg: Registry, probe: Intent) -> list[tuple[str, int, tuple[tuple[int, int], ...],
                                                        bool]]:
    """Every conflict of ``probe`` by the scalar rule over every stored active intent."""
    acc = default_accord()
    mine = [place(v, reg.plane) for v in probe.volumes]
    out = []
    for it in reg.intents(active_only=True):
        if it.party == probe.party or it.id == probe.id:
            continue
        m = acc.minima(probe.aircraft_class, it.aircraft_class)
        theirs = [place(v, reg.plane) for v in it.volumes]
        pairs = tuple((i, j) for i, a in enumerate(mine) for j, b in enumerate(theirs)
                      if volumes_conflict(a, b, m.horizontal_m, m.vertical_ft))
        if pairs:
            out.append((it.id, it.version, pairs, it.priority >= probe.priority))
    return out


def test_vectorised_check_equals_brute_force(tmp_path: Path) -> None:
    """Checks read compact per-volume records (cached by volume id): after loads,
    replacements and ends, a warm and a cold registry both find exactly the conflicts,
    pairs, versions and blocking flags of the scalar rule over every stored intent."""
    rng = random.Random(11)
    store = SQLiteStore(tmp_path / "r.db")
    warm = Registry(store, default_accord())
    warm.bulk_load(_mixed(rng, f"b{i}") for i in range(300))
    for i in range(6):
        probe = _mixed(rng, f"p{i}")
        warm.check(probe)  # fill the cache, then change the store under it
    for it in warm.intents()[:60]:
        if it.id < "b2":
            moved = Intent(it.id, it.party, _mixed(rng, "x").volumes, it.aircraft_class,
                           it.priority, version=it.version)
            with store.write() as t:  # unchecked replace: the cache must not hide it
                t.put(warm.encode(replace(moved, version=it.version + 1),
                                  [place(v, warm.plane) for v in moved.volumes]),
                      [box_tuple(place(v, warm.plane).box) for v in moved.volumes],
                      warm.records(moved, [place(v, warm.plane) for v in moved.volumes]))
    for it in warm.intents()[200:230]:
        warm.end(it.id, it.party, it.version)
    cold = Registry(SQLiteStore(tmp_path / "r.db"), default_accord())
    seen = 0
    for i in range(25):
        probe = _mixed(rng, f"q{i}")
        want = _brute(warm, probe)
        for reg in (warm, cold):
            got = reg.check(probe).conflicts
            assert [(c.intent_id, c.version, c.pairs, c.blocking) for c in got] == want
            assert reg.check(probe).key == {w[0]: w[1] for w in want}
        seen += len(want)
    assert seen > 50


def test_conflicts_sequence_is_a_tuple_of_conflict() -> None:
    from skyaccord.strategic.registry import Conflict, IntentConflicts

    a = Conflict("a", "ru", 2, 1, ((0, 0),), True)
    b = Conflict("b", "tr", 1, 0, ((0, 1), (1, 0)), False)
    cs = IntentConflicts(["a", "b"], ["ru", "tr"], [2, 1], [1, 0],
                         [((0, 0),), ((0, 1), (1, 0))], [True, False])
    assert cs == (a, b) and cs == [a, b] and cs == IntentConflicts.of([a, b]) and cs != (a,)
    assert len(cs) == 2 and cs[1] == b and cs[-1] == b and cs[:1] == (a,) and list(cs) == [a, b]
    assert cs.key == {"a": 2, "b": 1} and cs.any_blocking
    assert cs.missed({"a": 2}) == {"b": 1} and cs.missed({"a": 1, "b": 1}) == {"a": 2}
    none = IntentConflicts()
    assert not none and none == () and not none.any_blocking
    assert repr(cs).startswith("IntentConflicts([Conflict(intent_id='a'")
    with pytest.raises(InputError, match=r"lengths \(ids 1, parties 0,") as info:
        IntentConflicts(["a"], [], [], [], [], [])
    assert isinstance(info.value, ValueError) and info.value.exit_code == 2


def test_cold_cache_records_equal_fresh_placement(tmp_path: Path) -> None:
    """The records a cold registry reads, search by search (later searches partly from
    its cache, with the names already interned), hold each stored volume's fresh
    projection: the placement columns, band, window, class, index columns and polygon
    vertices."""
    rng = random.Random(5)
    store = SQLiteStore(tmp_path / "r.db")
    reg = Registry(store, default_accord())
    reg.bulk_load(_mixed(rng, f"b{i}") for i in range(200))
    by_id = {it.id: it for it in reg.intents()}
    cold = Registry(SQLiteStore(tmp_path / "r.db"), default_accord())
    vids: set[int] = set()
    polygons = mixed = 0
    edges = [-1e9, *np.linspace(-15e3, 15e3, 7).tolist(), 1e9]
    with store.read() as t:
        # strips across the area: later strips meet volumes that earlier ones cached
        for x0, x1 in itertools.pairwise(edges):
            found = t.search([(x0, x1, -1e9, 1e9, -1e9, 1e9, -1e12, 1e13)], cold._vols)
            for g in cold._volumes(t, found.ids[0], found.rows):
                it = by_id[g.intent_id]
                p = place(it.volumes[g.vol_index], reg.plane)
                v = p.volume
                assert (g.party, g.version, g.priority, g.aircraft_class) == (
                    it.party, it.version, it.priority, it.aircraft_class)
                assert np.frombuffer(g.geom, "<f8").tolist() == [
                    p.cx, p.cy, p.r_plane, p.k, v.alt_lower_ft, v.alt_upper_ft,
                    v.time_start, v.time_end]
                assert (g.shape is None) == (p.shape is None)
                if g.shape is not None and p.shape is not None:
                    polygons += 1
                    assert g.shape.equals_exact(p.shape, 0.0)
            vids.update(found.ids[0])
            mixed += 0 < len(found.rows) < len(found.ids[0])
    assert len(vids) == sum(len(it.volumes) for it in by_id.values()) > 300
    assert polygons > 0 and mixed > 0


def test_stored_bytes_are_those_of_earlier_versions(tmp_path: Path) -> None:
    """Intent bodies, request digests and displacement bodies keep the bytes that
    json.dumps wrote before canonical JSON had one home (``\\uXXXX`` escapes; sorted keys
    but for displacement bodies), so that stores and retried requests from earlier
    versions still match."""
    import hashlib
    import json
    import sqlite3

    from skyaccord.strategic.codec import intent_to_dict

    db = tmp_path / "r.db"
    reg = Registry(SQLiteStore(db), default_accord())
    low = Intent("höhe-1", "ru", (Volume(Circle(35.0, 38.5, 2000), 0, 1000, T0, T0 + 600),))
    hi = Intent("überflug", "us", (Volume(Circle(35.0, 38.5, 2000), 0, 1000, T0, T0 + 600),),
                priority=2)
    reg.submit(low, request_id="r-ö")
    key = reg.check(hi).key
    stored = reg.submit(hi, key, request_id="r-ü").intent
    c = sqlite3.connect(db)
    bodies = dict(c.execute("SELECT id, body FROM intents"))
    digests = dict(c.execute("SELECT key, digest FROM intent_requests"))
    (notice,) = c.execute("SELECT body FROM intent_notices").fetchall()
    c.close()
    got = json.loads(bodies["überflug"])
    assert bodies["überflug"] == json.dumps(got, sort_keys=True, separators=(",", ":"))
    assert "\\u00fc" in bodies["überflug"] and "ü" not in bodies["überflug"]
    old_text = json.dumps(["submit", [json.dumps(intent_to_dict(hi), sort_keys=True,
                                                 separators=(",", ":")),
                                      sorted(key.items())]],
                          sort_keys=True, separators=(",", ":"))
    assert digests["r-ü"] == hashlib.sha256(old_text.encode()).hexdigest()
    assert notice[0] == json.dumps({"version": 1, "by": ["überflug", "us", stored.version, 2],
                                    "pairs": [[0, 0]]}, separators=(",", ":"))
    # the retry is answered from the record: the digest matched
    assert reg.submit(hi, key, request_id="r-ü").replayed
