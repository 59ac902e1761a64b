"""Real node processes on loopback (`python -m skyaccord serve`): two and three nodes,
SIGKILL mid-stream and restart, forged messages over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.line import cross_check, verify_log
from skyaccord.line.log import read_entries
from skyaccord.protocol import load_accord
from tests.support.local_nodes import LocalNodes

Nodes = LocalNodes


@pytest.fixture
def nodes2(files: Path) -> Iterator[Nodes]:
    n = Nodes(files, ("us", "ru"))
    yield n
    n.stop_all()


def received_from(nodes: Nodes, party: str, sender: str) -> list[str]:
    return [m["id"] for m in nodes.get(party, "/line/inbox") if m["from"] == sender]


def check_logs(nodes: Nodes, parties: tuple[str, ...]) -> None:
    accord = load_accord(nodes.root / "accord.toml")
    for p in parties:
        report = verify_log(nodes.db(p), accord)
        assert report.ok, report.problems
    for i, a in enumerate(parties):
        for b in parties[i + 1:]:
            assert cross_check(nodes.db(a), nodes.db(b)) == []


def test_receiver_killed_mid_stream_and_restarted(nodes2: Nodes) -> None:
    nodes2.start("us")
    nodes2.start("ru")
    sent = [nodes2.send("us", "ru", f"before {i}") for i in range(15)]
    nodes2.kill("ru")  # SIGKILL, probably while us is delivering
    sent += [nodes2.send("us", "ru", f"while down {i}") for i in range(15)]
    assert nodes2.get("us", "/health")["line"]["outbox_pending"] > 0
    nodes2.start("ru")
    sent += [nodes2.send("us", "ru", f"after {i}") for i in range(10)]
    back = [nodes2.send("ru", "us", f"reply {i}") for i in range(5)]
    nodes2.drain()
    assert received_from(nodes2, "ru", "us") == sent  # none lost, none twice, in order
    assert received_from(nodes2, "us", "ru") == back
    seqs = [m["seq"] for m in nodes2.get("ru", "/line/inbox") if m["from"] == "us"]
    assert seqs == list(range(1, 41))
    nodes2.stop_all()
    check_logs(nodes2, ("us", "ru"))


def test_sender_killed_mid_stream_and_restarted(nodes2: Nodes) -> None:
    nodes2.start("us")
    nodes2.start("ru")
    sent = [nodes2.send("us", "ru", f"burst {i}") for i in range(40)]
    nodes2.kill("us")  # the outbox is being emptied: some delivered, some not
    nodes2.start("us")
    sent += [nodes2.send("us", "ru", f"after restart {i}") for i in range(5)]
    nodes2.drain()
    assert received_from(nodes2, "ru", "us") == sent
    nodes2.stop_all()
    check_logs(nodes2, ("us", "ru"))
    # every sent message is acknowledged in us's log exactly once
    acks = [e for e in read_entries(nodes2.db("us")) if e.direction == "received"]
    assert len(acks) == len(sent)


def test_three_nodes(files: Path) -> None:
    parties = ("us", "ru", "tr")
    nodes = Nodes(files, parties)
    try:
        for p in parties:
            nodes.start(p, config=(p == "tr"))
        sent: dict[tuple[str, str], list[str]] = {}
        for i in range(8):
            for a in parties:
                for b in parties:
                    if a != b:
                        sent.setdefault((a, b), []).append(nodes.send(a, b, f"{a}>{b} {i}"))
        nodes.kill("tr")
        down = [nodes.send("us", "tr", f"us>tr while down {i}") for i in range(5)]
        nodes.start("tr", config=True)
        sent[("us", "tr")] += down
        nodes.drain()
        for (a, b), ids in sent.items():
            assert received_from(nodes, b, a) == ids
    finally:
        nodes.stop_all()
    check_logs(nodes, parties)


def test_forged_and_replayed_over_http(nodes2: Nodes, keys: Any) -> None:
    from skyaccord.line import generate_key, make_message
    from skyaccord.line.keys import sign
    from skyaccord.line.node import transmit_bytes
    from skyaccord.line.peer import envelope_bytes

    nodes2.start("ru")
    accord = load_accord(nodes2.root / "accord.toml")
    forger = generate_key()
    now = time.time()
    m = make_message(forger, kind="text", sender="us", recipient="ru", seq=1, created_at=now,
                     accord=accord.sha256, body={"text": "forged"})
    env = {"message": m.to_dict(), "transmitted_at": now,
           "transmit_sig": sign(forger, transmit_bytes(m.id, "ru", now))}
    r = nodes2.client.post(nodes2.url("ru") + "/line/messages",
                            content=envelope_bytes(env))
    assert r.status_code == 403 and "bad signature" in r.json()["error"]
    genuine = make_message(keys["us"], kind="text", sender="us", recipient="ru", seq=1,
                           created_at=now, accord=accord.sha256, body={"text": "genuine"})
    env = {"message": genuine.to_dict(), "transmitted_at": now,
           "transmit_sig": sign(keys["us"], transmit_bytes(genuine.id, "ru", now))}
    first = nodes2.client.post(nodes2.url("ru") + "/line/messages",
                            content=envelope_bytes(env))
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    again = nodes2.client.post(nodes2.url("ru") + "/line/messages",
                            content=envelope_bytes(env))
    assert again.json() == {**first.json(), "status": "duplicate"}
    r = nodes2.client.post(nodes2.url("ru") + "/line/messages", content=b"not json")
    assert r.status_code == 400
    reasons = [x["reason"] for x in nodes2.get("ru", "/line/refusals")]
    assert any("bad signature" in x for x in reasons)
    assert any("replay of accepted message" in x for x in reasons)
    assert [x["id"] for x in nodes2.get("ru", "/line/inbox")] == [genuine.id]
