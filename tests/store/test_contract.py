"""The store contract: every backend must pass every test here (conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from skyaccord.errors import StoreError
from skyaccord.store import IntentRow, RequestRow, Store

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
        assert t.candidates(BOX) == []
        assert [r.id for r in t.candidates((105, 106, 105, 106, 5, 6, 0.5, 0.6))] == ["a"]
    assert s.check_integrity() == []


def test_candidates_match_brute_force(open_new: StoreFactory) -> None:
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
            t.put(row(f"i{i:03d}"), bs)  # type: ignore[arg-type]
        t.put(row("ended", state="ended"), [])
    for _ in range(50):
        x, y = rng.uniform(-1e5, 1e5), rng.uniform(-1e5, 1e5)
        z, tt = rng.uniform(0, 3e4), rng.uniform(1.7e9, 1.7e9 + 86400)
        q = (x, x + 2e4, y, y + 2e4, z, z + 3000, tt, tt + 3600)
        want = {k for k, bs in boxes.items() for b in bs
                if all(b[2 * d] <= q[2 * d + 1] and q[2 * d] <= b[2 * d + 1]
                       for d in range(4))}
        with s.read() as t:
            got = {r.id for r in t.candidates(q)}
        # a superset is allowed (SQLite rounds boxes outward), never a miss
        assert want <= got
        assert "ended" not in got
        assert len(got - want) <= max(2, len(want) // 5)


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
        assert [r.id for r in t.candidates(BOX)] == ["a"]
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
        assert {r.id for r in t.candidates((10.5, 11.5, 0, 1, 0, 1, 0, 1))} >= {"b10", "b11"}
    assert s.check_integrity() == []


def test_volume_ids_records_and_no_reuse(open_new: StoreFactory) -> None:
    s = open_new()
    far = (1e6, 1e6 + 1, 1e6, 1e6 + 1, 0, 1, 0, 1)
    with s.write() as t:
        t.put(row("a"), [BOX, far], [b"a0", b"a1"])
        t.put(row("b", "ru"), [BOX])  # no records: b"" each
    with s.read() as t:
        near, none = t.volume_ids([BOX, (5e5, 5e5 + 1, 0, 1, 0, 1, 0, 1)])
        assert none == [] and len(near) == 2
        got = sorted(t.volumes(near), key=lambda v: v.intent_id)
        assert [(v.intent_id, v.party, v.version, v.priority, v.vol_index, v.record)
                for v in got] == [("a", "us", 1, 0, 0, b"a0"), ("b", "ru", 1, 0, 0, b"")]
        (a1,) = t.volume_ids([far])[0:1]
        assert [v.record for v in t.volumes(a1)] == [b"a1"]
    old = set(near) | set(a1)
    # replacing or ending gives fresh ids; the old ones are gone for good
    with s.write() as t:
        t.put(row("a", version=2), [BOX], [b"a0v2"])
        t.put(row("b", "ru", version=2, state="ended"), [])
    with s.read() as t:
        (ids,) = t.volume_ids([BOX])
        assert len(ids) == 1 and not set(ids) & old
        assert t.volumes(sorted(old)) == []
        assert [(v.version, v.record) for v in t.volumes(ids)] == [(2, b"a0v2")]
    with s.write() as t:
        t.put(row("c"), [BOX, BOX, BOX], [b"", b"", b""])
    with s.read() as t:
        (ids2,) = t.volume_ids([BOX])
        assert len(ids2) == 4 and not set(ids2) & old
    with pytest.raises(StoreError, match="records for"), s.write() as t:
        t.put(row("d"), [BOX], [b"x", b"y"])
    assert s.check_integrity() == []
