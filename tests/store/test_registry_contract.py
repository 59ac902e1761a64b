"""Registry behaviour on every backend: conflicts, keys, idempotency, concurrency, kills."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skyaccord.errors import IntentError
from skyaccord.protocol import default_accord
from skyaccord.store import Store
from skyaccord.strategic.intersect import place, volumes_conflict
from skyaccord.strategic.records import decode_row
from skyaccord.strategic.registry import Outcome, Registry
from skyaccord.strategic.separation import box_tuple
from skyaccord.strategic.volumes import Circle, Intent, IntentState, Volume

from ._writer import T0, random_intent

StoreFactory = Callable[[], Store]
ACCORD = default_accord()
WRITER = Path(__file__).with_name("_writer.py")


def circle(party: str, name: str, lat: float = 35.0, lon: float = 38.5,
           z: tuple[float, float] = (10000, 12000), t: tuple[float, float] = (0, 3600),
           prio: int = 0, r: float = 2000.0) -> Intent:
    return Intent(name, party, (Volume(Circle(lat, lon, r), z[0], z[1], T0 + t[0], T0 + t[1]),),
                  priority=prio)


def committed_conflicts(reg: Registry) -> list[tuple[str, str]]:
    """Brute force over every pair of stored active intents of different parties."""
    live = reg.intents(active_only=True)
    bad = []
    for a, b in itertools.combinations(live, 2):
        if a.party == b.party:
            continue
        m = ACCORD.minima(a.aircraft_class, b.aircraft_class)
        # a conflict is allowed only when one has lower priority than the other
        if a.priority == b.priority and any(
                volumes_conflict(place(va, reg.plane), place(vb, reg.plane),
                                 m.horizontal_m, m.vertical_ft)
                for va in a.volumes for vb in b.volumes):
            bad.append((a.id, b.id))
    return bad


def test_conflict_refused_and_key_rules(open_new: StoreFactory) -> None:
    reg = Registry(open_new(), ACCORD)
    assert reg.submit(circle("us", "a")).accepted
    # manned/manned minima 5 NM (9,260 m): centres 0.12° of longitude (10.95 km) apart,
    # less two 2 km radii, leave a 6.95 km gap: a conflict
    res = reg.submit(circle("ru", "b", lon=38.62))
    assert res.outcome is Outcome.CONFLICT
    assert [c.intent_id for c in res.conflicts] == ["a"] and res.conflicts[0].blocking
    assert res.missed == {"a": 1}
    # same party never conflicts
    assert reg.submit(circle("us", "a2")).accepted
    # far away: accepted with an empty key
    assert reg.submit(circle("ru", "far", lon=39.5)).accepted
    # higher priority may conflict, but must name the versions it has seen
    hi = circle("ru", "hi", prio=1)
    res = reg.submit(hi)
    assert res.outcome is Outcome.STALE and res.missed == {"a": 1, "a2": 1}
    res = reg.submit(hi, {"a": 1, "a2": 1})
    assert res.accepted and res.intent.version == 1
    assert {c.intent_id for c in res.conflicts} == {"a", "a2"}
    assert not any(c.blocking for c in res.conflicts)
    assert reg.store.check_integrity() == []


def test_versions_on_change_and_end(open_new: StoreFactory) -> None:
    reg = Registry(open_new(), ACCORD)
    a = reg.submit(circle("us", "a")).intent
    assert a.version == 1
    moved = a.shifted(dt_s=60)
    assert reg.submit(moved).intent.version == 2
    # a writer still holding version 1 is refused with the version it missed
    res = reg.submit(a.shifted(dt_s=120))
    assert res.outcome is Outcome.STALE and res.missed == {"a": 2}
    with pytest.raises(IntentError, match="belongs to party 'us'"):
        reg.submit(Intent("a", "ru", a.volumes, version=2))
    with pytest.raises(IntentError, match="version 2, not 1"):
        reg.end("a", "us", 1)
    ended = reg.end("a", "us", 2)
    assert ended.state is IntentState.ENDED and ended.version == 3
    # ended intents no longer conflict
    assert reg.submit(circle("ru", "b")).accepted
    with pytest.raises(IntentError, match="has ended"):
        reg.submit(Intent("a", "us", a.volumes, version=3))


def test_idempotent_retry_has_one_effect(open_new: StoreFactory) -> None:
    reg = Registry(open_new(), ACCORD)
    a = circle("us", "a")
    first = reg.submit(a, request_id="r1")
    again = reg.submit(a, request_id="r1")
    assert first.accepted and again.accepted and again.replayed
    assert again.intent.version == first.intent.version == 1
    assert len(reg.intents()) == 1
    with pytest.raises(IntentError, match="already used"):
        reg.submit(circle("us", "other"), request_id="r1")
    # an end retried: one effect
    e1 = reg.end("a", "us", 1, request_id="r2")
    e2 = reg.end("a", "us", 1, request_id="r2")
    assert e1.version == e2.version == 2


def test_concurrent_threads_never_commit_conflicts(open_new: StoreFactory) -> None:
    errors: list[BaseException] = []
    accepted: list[str] = []

    def worker(seed: int) -> None:
        try:
            reg = Registry(open_new(), ACCORD)
            rng = random.Random(seed)
            for i in range(25):
                it = random_intent(rng, f"t{seed}-{i}")
                res = reg.submit(it, reg.check(it).key)  # key read, then a racing write
                if res.accepted:
                    accepted.append(it.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    Registry(open_new(), ACCORD)  # create the schema once
    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    reg = Registry(open_new(), ACCORD)
    assert len(accepted) >= 10
    assert committed_conflicts(reg) == []


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).parents[2] / "src")
    root = str(Path(__file__).parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, root, env.get("PYTHONPATH", "")])
    return env


def test_concurrent_processes_never_commit_conflicts(open_new: StoreFactory,
                                                     store_url: str) -> None:
    Registry(open_new(), ACCORD)
    procs = [subprocess.Popen([sys.executable, str(WRITER), store_url, str(100 + s), "25"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
             for s in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
    reg = Registry(open_new(), ACCORD)
    assert sum(len(o.split()) for o, _ in outs) >= 10
    assert committed_conflicts(reg) == []
    assert reg.store.check_integrity() == []
    assert assert_bodies_agree_with_index(reg) >= 10


def assert_bodies_agree_with_index(reg: Registry) -> int:
    """Every stored row's index columns are its body's, and an active intent's volumes
    are indexed under its own columns at its volumes' boxes; returns the rows checked."""
    with reg.store.read() as t:
        rows = t.rows()
        for row in rows:
            intent, placed = decode_row(row, reg.plane)
            assert (row.id, row.party, row.state, row.version, row.priority) == (
                intent.id, intent.party, str(intent.state), intent.version, intent.priority)
            hits = t.search([box_tuple(p.box) for p in placed])
            mine = {r.vol_index: r for r in hits.rows if r.intent_id == row.id}
            if not intent.active:
                assert mine == {}, row.id
                continue
            assert sorted(mine) == list(range(len(placed))), row.id
            for r in mine.values():
                assert (r.party, r.version, r.priority) == (row.party, row.version,
                                                            row.priority)
    return len(rows)


def test_sigkill_mid_write_leaves_store_consistent(open_new: StoreFactory,
                                                   store_url: str) -> None:
    """A writer killed while a write is in progress (its rows put, seen from inside its
    transaction, not committed): nothing of that write is stored, every committed write
    is whole, and every body agrees with its index columns.

    Mutations caught (applied, failed, reverted): SQLite committing in the middle of a
    write (after the intent row's insert) keeps the held intent; an index state that is
    not the body's (``"accepted"`` for every row in ``records.encode_row``) fails the
    agreement check."""
    Registry(open_new(), ACCORD)
    p = subprocess.Popen([sys.executable, str(WRITER), store_url, "7", "100000", "15"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())
    assert p.stdout is not None
    # wait for 15 commits and the proof that the next write is in progress, then kill
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = p.stdout.readline().decode().strip()
        if not line or line.startswith("holding "):
            lines.append(line)
            break
        lines.append(line)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    p.stdout.close()
    assert p.returncode == -signal.SIGKILL
    assert lines[-1] == "holding hold-7", lines[-3:]
    committed = lines[:-1]
    assert len(committed) >= 15
    store = open_new()
    assert store.check_integrity() == []
    reg = Registry(store, ACCORD)
    stored = {it.id for it in reg.intents()}
    assert set(committed) <= stored
    assert "hold-7" not in stored  # the write in progress left nothing
    with store.read() as t:
        assert t.request("req-hold-7") is None
    assert assert_bodies_agree_with_index(reg) == len(stored)
    assert committed_conflicts(reg) == []
    # the store still takes writes, the killed one's locks gone with it
    assert reg.submit(circle("us", "hold-7", lat=33.0, lon=37.0, r=1000,
                             z=(1000, 2000), t=(0, 600)), request_id="req-hold-7").accepted


def test_submit_after_check_sees_commits_in_between(open_new: StoreFactory) -> None:
    """A submit may reuse its check's answer only when nothing was committed in between:
    a conflicting intent committed by another handle, or by another registry on the same
    handle, after the check still refuses the submit."""
    s1 = open_new()
    reg, other_handle, same_handle = (Registry(s1, ACCORD), Registry(open_new(), ACCORD),
                                      Registry(s1, ACCORD))
    for k, rival in enumerate((other_handle, same_handle)):
        mine = circle("us", f"mine{k}", t=(10000 * k, 10000 * k + 3600))
        key = reg.check(mine).key
        assert key == {}
        assert rival.submit(circle("ru", f"rival{k}", lon=38.62,
                                   t=(10000 * k, 10000 * k + 3600))).accepted
        res = reg.submit(mine, key)
        assert res.outcome is Outcome.CONFLICT and res.missed == {f"rival{k}": 1}
    # with nothing in between, the answer is the check's, and right
    mine = circle("us", "mine2", t=(0, 3600), prio=1)
    key = reg.check(mine).key
    assert key == {"rival0": 1}
    res = reg.submit(mine, key)
    assert res.accepted and [c.intent_id for c in res.conflicts] == ["rival0"]


def test_displacements_of_lower_priority_intents(open_new: StoreFactory) -> None:
    """An accepted higher-priority write records one displacement per lower-priority
    intent it conflicts with (the brute-force conflict set), and none for refused
    writes."""
    reg = Registry(open_new(), ACCORD)
    rng = random.Random(3)
    low = [random_intent(rng, f"low{i}") for i in range(40)]
    for it in low:
        reg.submit(it, reg.check(it).key)
    stored = {it.id: it for it in reg.intents(active_only=True)}
    assert reg.displacements() == []
    hi = Intent("hi", "tr", (Volume(Circle(35.0, 38.5, 15000), 0, 40000, T0, T0 + 4 * 3600),),
                priority=5)
    assert reg.submit(hi).outcome is Outcome.STALE  # names nothing: refused, nothing displaced
    assert reg.displacements() == []
    res = reg.submit(hi, reg.check(hi).key)
    assert res.accepted
    mine = place(hi.volumes[0], reg.plane)
    want = {}
    for it in stored.values():
        m = ACCORD.minima(hi.aircraft_class, it.aircraft_class)
        pairs = tuple((j, 0) for j, v in enumerate(it.volumes)
                      if it.party != "tr" and volumes_conflict(
                          place(v, reg.plane), mine, m.horizontal_m, m.vertical_ft))
        if pairs:
            want[it.id] = (it.party, it.version, pairs)
    notes = reg.displacements()
    assert len(want) >= 5
    assert {n.intent_id: (n.party, n.version, n.pairs) for n in notes} == want
    assert all((n.by_intent_id, n.by_party, n.by_version, n.by_priority)
               == ("hi", "tr", 1, 5) for n in notes)
    seqs = [n.seq for n in notes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    us = reg.displacements(party="us")
    assert us == [n for n in notes if n.party == "us"]
    first = notes[0]
    assert reg.displacements(intent_id=first.intent_id) == [first]
    assert reg.displacements(after=seqs[-2]) == notes[-1:]
