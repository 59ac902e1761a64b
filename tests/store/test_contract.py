"""The store contract: every backend must pass every test here (conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from skyaccord.errors import StoreError
from skyaccord.store import IntentRow, RequestRow, Store, VolumeHits

StoreFactory = Callable[[], Store]

BOX = (0.0, 10.0, 0.0, 10.0, 0.0, 1000.0, 0.0, 60.0)


def row(i: str, party: str = "us", version: int = 1, state: str = "accepted") -> IntentRow:
    return IntentRow(i, party, state, version, 0, json.dumps({"id": i}))


def test_put_get_and_replace(open_new: StoreFactory) -> None:
    s = open_new()
    with s.write() as t:
        t.put(row("a"), [BOX])
        assert t.get("a") == row("a")
        assert t.get("missing") is None
    with s.write() as t:
        t.put(row("a", version=2), [(100, 110, 100, 110, 0, 10, 0, 1)])
    with s.read() as t:
        assert t.get("a") == row("a", version=2)
        # the old box is gone, the new one is indexed
        assert t.search([BOX]) == VolumeHits([[]], [])
        found = t.search([(105, 106, 105, 106, 5, 6, 0.5, 0.6)])
        assert [r.intent_id for r in found.rows] == ["a"]
        assert found.ids == [[found.rows[0].vid]]
    assert s.check_integrity() == []


def test_search_matches_brute_force(open_new: StoreFactory) -> None:
    """Random boxes, searched one at a time and all at once (more than a backend's
    statement chunk): every volume whose box meets a query box is found, ended intents'
    volumes never are, and the answer is at most a little more (SQLite rounds outward)."""
    import random

    rng = random.Random(7)
    s = open_new()
    boxes: dict[str, list[tuple[float, ...]]] = {}
    with s.write() as t:
        for i in range(300):
            bs = []
            for _ in range(rng.randint(1, 3)):
                x, y = rng.uniform(-1e5, 1e5), rng.uniform(-1e5, 1e5)
                z, tt = rng.uniform(0, 3e4), rng.uniform(1.7e9, 1.7e9 + 86400)
                w, h = rng.uniform(10, 5e3), rng.uniform(100, 5e3)
                bs.append((x, x + w, y, y + w, z, z + h, tt, tt + 1800))
            boxes[f"i{i:03d}"] = bs
            t.put(row(f"i{i:03d}"), bs, [f"i{i:03d}/{k}".encode() for k in range(len(bs))])  # type: ignore[arg-type]
        t.put(row("ended", state="ended"), [])
    queries = []
    for _ in range(250):
        x, y = rng.uniform(-1e5, 1e5), rng.uniform(-1e5, 1e5)
        z, tt = rng.uniform(0, 3e4), rng.uniform(1.7e9, 1.7e9 + 86400)
        queries.append((x, x + 5e4, y, y + 5e4, z, z + 8000, tt, tt + 4 * 3600))
    with s.read() as t:
        together = t.search(queries)
        one_by_one = [t.search([q]) for q in queries[:50]]
    # each volume's record names it: intent id / volume index
    rec_of = {r.vid: r.record.decode() for r in together.rows}
    assert len(together.ids) == len(queries)
    assert len(rec_of) == len(together.rows)  # each row once
    for k, q in enumerate(queries):
        want = {f"{i}/{n}" for i, bs in boxes.items() for n, b in enumerate(bs)
                if all(b[2 * d] <= q[2 * d + 1] and q[2 * d] <= b[2 * d + 1]
                       for d in range(4))}
        got = {rec_of[v] for v in together.ids[k]}
        # a superset is allowed (SQLite rounds boxes outward), never a miss
        assert want <= got
        assert len(got - want) <= max(2, len(want) // 5)
        if k < 50:
            alone = one_by_one[k]
            assert sorted(alone.ids[0]) == sorted(together.ids[k])
            assert sorted(alone.rows) == sorted(r for r in together.rows
                                                if r.vid in set(alone.ids[0]))
    assert not any(r.intent_id == "ended" for r in together.rows)
    assert sum(map(len, together.ids)) > 300


def test_search_leaves_out_known_rows(open_new: StoreFactory) -> None:
    s = open_new()
    with s.write() as t:
        t.put(row("a"), [BOX, BOX], [b"a0", b"a1"])
        t.put(row("b", "ru"), [BOX], [b"b0"])
    with s.read() as t:
        full = t.search([BOX, BOX])
        assert len(full.ids[0]) == 3 and sorted(full.ids[0]) == sorted(full.ids[1])
        assert sorted(r.record for r in full.rows) == [b"a0", b"a1", b"b0"]
        known = {r.vid for r in full.rows if r.record != b"a1"}
        part = t.search([BOX, BOX], known)
        assert part.ids == full.ids and [r.record for r in part.rows] == [b"a1"]
        assert t.search([BOX], set(full.ids[0])) == VolumeHits(full.ids[:1], [])
        assert t.search([]) == VolumeHits([], [])


def test_rows_filters(open_new: StoreFactory) -> None:
    s = open_new()
    with s.write() as t:
        t.put(row("b", "ru"), [BOX])
        t.put(row("a", "us"), [BOX])
        t.put(row("c", "us", state="ended"), [])
    with s.read() as t:
        assert [r.id for r in t.rows()] == ["a", "b", "c"]
        assert [r.id for r in t.rows("us")] == ["a", "c"]
        assert [r.id for r in t.rows(active_only=True)] == ["a", "b"]
        assert [r.id for r in t.rows(ids={"c", "a", "zz"})] == ["a", "c"]
        assert [r.id for r in t.rows("us", True, ids=["a", "b"])] == ["a"]
        assert t.rows(ids=[]) == []
        many = [f"x{i}" for i in range(1200)] + ["b"]  # over a backend's chunk
        assert [r.id for r in t.rows(ids=many)] == ["b"]


def test_requests_and_meta(open_new: StoreFactory) -> None:
    s = open_new()
    with s.write() as t:
        t.put_request(RequestRow("k1", "d", "a", 3))
        t.set_meta("x", "1")
        t.set_meta("x", "2")
    with s.read() as t:
        assert t.request("k1") == RequestRow("k1", "d", "a", 3)
        assert t.request("k2") is None
        assert t.meta("x") == "2"
    with pytest.raises(StoreError), s.write() as t:
        t.put_request(RequestRow("k1", "other", "b", 1))


def test_failed_transaction_leaves_nothing(open_new: StoreFactory) -> None:
    s = open_new()
    with s.write() as t:
        t.put(row("a"), [BOX])
    with pytest.raises(RuntimeError), s.write() as t:
        t.put(row("a", version=2), [])
        t.put(row("b"), [BOX])
        raise RuntimeError("crash inside the transaction")
    with s.read() as t:
        assert t.get("a") == row("a")
        assert t.get("b") is None
        assert [r.intent_id for r in t.search([BOX]).rows] == ["a"]
    assert s.check_integrity() == []


def test_second_handle_sees_commits(open_new: StoreFactory) -> None:
    s1, s2 = open_new(), open_new()
    with s1.write() as t:
        t.put(row("a"), [BOX])
    with s2.read() as t:
        assert t.get("a") == row("a")


def test_bulk_load(open_new: StoreFactory) -> None:
    s = open_new()
    n = s.bulk_load((row(f"b{i}"), [(i, i + 1.0, 0, 1, 0, 1, 0, 1)]) for i in range(1000))
    assert n == 1000
    with s.write() as t:  # normal writes still work after a bulk load
        t.put(row("after"), [BOX])
    with s.read() as t:
        assert len(t.rows()) == 1001
        found = t.search([(10.5, 11.5, 0, 1, 0, 1, 0, 1)])
        assert {r.intent_id for r in found.rows} >= {"b10", "b11"}
    assert s.check_integrity() == []


def test_search_records_and_no_reuse(open_new: StoreFactory) -> None:
    s = open_new()
    far = (1e6, 1e6 + 1, 1e6, 1e6 + 1, 0, 1, 0, 1)
    with s.write() as t:
        t.put(row("a"), [BOX, far], [b"a0", b"a1"])
        t.put(row("b", "ru"), [BOX])  # no records: b"" each
    with s.read() as t:
        found = t.search([BOX, (5e5, 5e5 + 1, 0, 1, 0, 1, 0, 1)])
        near, none = found.ids
        assert none == [] and len(near) == 2
        got = sorted(found.rows, key=lambda v: v.intent_id)
        assert [(v.intent_id, v.party, v.version, v.priority, v.vol_index, v.record)
                for v in got] == [("a", "us", 1, 0, 0, b"a0"), ("b", "ru", 1, 0, 0, b"")]
        a1 = t.search([far])
        assert [v.record for v in a1.rows] == [b"a1"] and a1.ids == [[a1.rows[0].vid]]
    old = set(near) | set(a1.ids[0])
    # replacing or ending gives fresh ids; the old ones are gone for good
    with s.write() as t:
        t.put(row("a", version=2), [BOX], [b"a0v2"])
        t.put(row("b", "ru", version=2, state="ended"), [])
    with s.read() as t:
        found = t.search([BOX, far])
        (ids, gone) = found.ids
        assert len(ids) == 1 and not set(ids) & old and gone == []
        assert [(v.version, v.record) for v in found.rows] == [(2, b"a0v2")]
    with s.write() as t:
        t.put(row("c"), [BOX, BOX, BOX], [b"", b"", b""])
    with s.read() as t:
        (ids2,) = t.search([BOX]).ids
        assert len(ids2) == 4 and not set(ids2) & old
    with pytest.raises(StoreError, match="records for"), s.write() as t:
        t.put(row("d"), [BOX], [b"x", b"y"])
    assert s.check_integrity() == []
