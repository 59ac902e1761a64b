"""Several writers on one line log at once, on each backend (SQLite file; PostgreSQL
schema when ``SKYACCORD_PG_URL`` is set): real concurrent connections, in threads of
one process and in separate processes.

What must hold, counted from the log afterwards: the same message delivered to every
writer at once is accepted by exactly one of them and answered with the same ack by
all; outgoing sequence numbers are 1..N without a gap or a repeat; the chain verifies
(every position once, every hash and signature)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from skyaccord.line import LineStore, make_message, verify_log
from skyaccord.line.keys import SigningKey, save_key
from skyaccord.line.messages import Message
from skyaccord.protocol import Accord
from tests.line import test_store_contract as contract
from tests.line.helpers import T0
from tests.line.test_store_contract import Locate, acker, genuine

backend = contract.backend  # the contract suite's backends and fresh logs
locate = contract.locate

WRITERS = 4


def test_duplicate_delivered_to_every_connection_at_once_is_accepted_once(
        locate: Locate, keys: dict[str, SigningKey], accord: Accord) -> None:
    where = locate("ru")
    stores = [LineStore(where, "ru", keys["ru"]) for _ in range(WRITERS)]
    messages = [genuine(keys, accord, seq, f"m{seq}") for seq in range(1, 16)]
    results: list[list[tuple[str, str]]] = [[] for _ in stores]
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def deliver(k: int) -> None:
        store = stores[k]
        try:
            for m in messages:
                start.wait(timeout=30)  # every connection gets each message at once
                status, ack = store.accept_incoming(m, acker(store, keys["ru"], accord, m),
                                                    T0)
                results[k].append((status, ack.id))
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=deliver, args=(k,)) for k in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        for i, m in enumerate(messages):
            statuses = Counter(results[k][i][0] for k in range(WRITERS))
            assert statuses == {"accepted": 1, "duplicate": WRITERS - 1}, (m.seq, statuses)
            assert len({results[k][i][1] for k in range(WRITERS)}) == 1  # one ack for all
        _assert_log(where, accord, received=[m.id for m in messages])
    finally:
        for s in stores:
            s.close()


def test_concurrent_senders_number_without_gaps(locate: Locate,
                                                keys: dict[str, SigningKey],
                                                accord: Accord) -> None:
    where = locate("ru")
    stores = [LineStore(where, "ru", keys["ru"]) for _ in range(WRITERS)]
    per_writer = 12
    got: list[list[Message]] = [[] for _ in stores]
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def send(k: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(per_writer):
                got[k].append(stores[k].record_outgoing("us", lambda seq, i=i: make_message(
                    keys["ru"], kind="text", sender="ru", recipient="us", seq=seq,
                    created_at=T0, accord=accord.sha256, body={"text": f"{k}.{i}"}), T0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        seqs = sorted(m.seq for ms in got for m in ms)
        assert seqs == list(range(1, WRITERS * per_writer + 1))  # no gap, no repeat
        for ms in got:  # each writer's numbers rise
            assert [m.seq for m in ms] == sorted(m.seq for m in ms)
        outbox = stores[0].outbox()
        assert [o.seq for o in outbox] == seqs and stores[0].summary()["outbox_pending"] == (
            len(seqs))
        _assert_log(where, accord, sent=len(seqs))
    finally:
        for s in stores:
            s.close()


_CHILD = """
import json, os, sys, time
from skyaccord.line import LineStore, make_message
from skyaccord.line.keys import load_key
from skyaccord.line.messages import parse_message
where, key_file, job_file, out_file, go_file = sys.argv[1:]
key = load_key(key_file)
job = json.load(open(job_file))
store = LineStore(where, "ru", key)
while not os.path.exists(go_file):
    time.sleep(0.002)
out = []
if job["mode"] == "receive":
    for d in job["messages"]:
        m = parse_message(d)
        def make_ack(pos, h, m=m):
            return make_message(key, kind="ack", sender="ru", recipient=m.sender, seq=0,
                                created_at=m.created_at, accord=m.accord, in_reply_to=m.id,
                                body={"digest": m.digest, "received_at": m.created_at,
                                      "log_pos": pos, "log_hash": h})
        status, ack = store.accept_incoming(m, make_ack, m.created_at)
        out.append([m.id, status, ack.id])
else:
    for i in range(job["count"]):
        m = store.record_outgoing("us", lambda seq: make_message(
            key, kind="text", sender="ru", recipient="us", seq=seq, created_at=job["t"],
            accord=job["accord"], body={"text": f"{os.getpid()}.{i}"}), job["t"])
        out.append([m.id, m.seq])
store.close()
json.dump(out, open(out_file, "w"))
"""


def _run_processes(tmp_path: Path, where: str, key: SigningKey, job: dict[str, object],
                   n: int) -> list[list[list[object]]]:
    """``n`` processes run ``job`` on the log at ``where``, released together."""
    save_key(key, tmp_path / "ru.key", overwrite=True)
    (tmp_path / "job.json").write_text(json.dumps(job))
    go = tmp_path / "go"
    go.unlink(missing_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, where, str(tmp_path / "ru.key"),
                               str(tmp_path / "job.json"), str(tmp_path / f"out{k}.json"),
                               str(go)], stderr=subprocess.PIPE) for k in range(n)]
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()
    return [json.loads((tmp_path / f"out{k}.json").read_text()) for k in range(n)]


def test_processes_accept_a_duplicate_once_and_number_without_gaps(
        locate: Locate, keys: dict[str, SigningKey], accord: Accord,
        tmp_path: Path) -> None:
    where = locate("ru")
    LineStore(where, "ru", keys["ru"]).close()
    messages = [genuine(keys, accord, seq, f"m{seq}") for seq in range(1, 21)]
    outs = _run_processes(tmp_path, where, keys["ru"],
                          {"mode": "receive", "messages": [m.to_dict() for m in messages]}, 2)
    for i, m in enumerate(messages):
        assert sorted(o[i][1] for o in outs) == ["accepted", "duplicate"], m.seq
        assert outs[0][i][0] == outs[1][i][0] == m.id and outs[0][i][2] == outs[1][i][2]
    outs = _run_processes(tmp_path, where, keys["ru"],
                          {"mode": "send", "count": 15, "t": T0, "accord": accord.sha256}, 2)
    seqs = sorted(int(str(s)) for o in outs for _, s in o)
    assert seqs == list(range(1, 31))
    _assert_log(where, accord, received=[m.id for m in messages], sent=30)


def _assert_log(where: str, accord: Accord, *, received: list[str] | None = None,
                sent: int = 0) -> None:
    """The log at ``where`` verifies and holds each received message once (with its
    ack) and ``sent`` messages of its own."""
    report = verify_log(where, accord)
    assert report.ok, report.problems
    with LineStore(where, "ru") as store:
        entries = store.entries()
        assert [e.pos for e in entries] == list(range(1, len(entries) + 1))
        ids = [m.id for _, _, _, m in store.messages(direction="received")]
        assert ids == (received or [])  # each once, in the sender's order
        acks = store.messages(direction="sent", kinds=("ack",))
        assert sorted(m.in_reply_to or "" for _, _, _, m in acks) == sorted(ids)
        assert len(store.messages(direction="sent", kinds=("text",))) == sent
        assert len(entries) == 2 * len(ids) + sent
