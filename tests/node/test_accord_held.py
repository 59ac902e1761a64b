"""A node that cannot know which version is in force (a proposal's time passed, ru's
answer missing and no word from ru since) holds what it would sign under a guess: the
API answers 503 ``accord-undecided`` with Retry-After and what it waits on, ``GET
/accord`` shows it, the tick's automatic conflict messages go at once in the priority
lane (safety does not wait; told once), and a distress call still goes out; once ru's
word decides, conflicts go in the ordinary stream again. In process (FastAPI's TestClient),
under a fake clock; ru is a key, not a node: its word is posted as a peer would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from skyaccord.line import generate_key
from skyaccord.line.keys import SigningKey, save_key, sign
from skyaccord.line.log import GENESIS
from skyaccord.line.messages import lane, make_message
from skyaccord.line.node import transmit_bytes
from skyaccord.line.peer import envelope_bytes
from skyaccord.node.auth import Role
from skyaccord.node.service import OpenNode, init_node
from skyaccord.protocol import Accord, parse_accord
from skyaccord.protocol_cli import status_lines
from skyaccord.timeutil import format_rfc3339
from tests.line.helpers import accord_version
from tests.node.conftest import T0, Clock, start
from tests.node.test_api import head_on

E = T0 + 600.0
PROBLEM = "application/problem+json"


@dataclass
class Us:
    node: OpenNode
    client: TestClient
    clock: Clock
    keys: dict[str, SigningKey]
    v1: Accord
    v2: Accord
    operator: dict[str, str]

    def conflicts_sent(self) -> list[Any]:
        return [m for _, _, _, m in self.node.runtime.line.store.messages(
            direction="sent", kinds=("conflict",))]

    def from_ru(self, kind: str, body: dict[str, Any], seq: int) -> Any:
        """ru's message, signed with ru's key, posted as ru's node would."""
        now = self.clock()
        m = make_message(self.keys["ru"], kind=kind, sender="ru", recipient="us", seq=seq,
                         created_at=now, accord=self.v1.sha256, body=body)
        env = {"message": m.to_dict(), "transmitted_at": now,
               "transmit_sig": sign(self.keys["ru"], transmit_bytes(m.id, "us", now))}
        return self.client.post("/line/messages", content=envelope_bytes(env),
                                headers={"content-type": "application/json"})


@pytest.fixture
def us(tmp_path: Path) -> Iterator[Us]:
    keys = {p: generate_key() for p in ("us", "ru")}
    root = tmp_path / "us"
    root.mkdir()
    save_key(keys["us"], root / "us.key")
    (tmp_path / "accord.toml").write_text(accord_version(keys, parties=("us", "ru")),
                                          encoding="utf-8")
    init_node(root, "us", accord_file=tmp_path / "accord.toml", key_file=root / "us.key",
              port=8701, peers=[("ru", "http://127.0.0.1:9")])  # never reached here
    clock = Clock()
    node, client = start(root, clock)
    token, _ = node.tokens.create("operator", Role.parse("operator"))
    v1 = node.runtime.line.accord
    v2 = parse_accord(accord_version(keys, parties=("us", "ru"), version=2, effective_at=E),
                      "v2")
    yield Us(node, client, clock, keys, v1, v2, {"Authorization": f"Bearer {token}"})
    client.__exit__(None, None, None)


def test_undecided_node_tells_conflicts_at_once_and_holds_the_rest(us: Us) -> None:
    line, runtime = us.node.runtime.line, us.node.runtime
    line.propose(us.v2, "v2", E)  # ru's answer never comes
    us.clock.t = E + 1.0
    (p,) = us.client.get("/accord/proposals", headers=us.operator).json()
    assert p["status"] == "undecided" and p["awaited"] == ["ru"]
    # GET /accord shows what waits and on whom
    doc = us.client.get("/accord", headers=us.operator).json()
    assert doc["sha256"] == us.v1.sha256 and (doc["held"], doc["expedited"]) == (0, 0)
    assert doc["undecided"] == [{"sha256": us.v2.sha256, "id": us.v2.id, "version": 2,
                                 "proposer": "us", "effective_at": E,
                                 "awaiting": ["ru"]}]
    assert "ordinary message is held" in doc["held_reason"]
    assert "no word from ru" in doc["held_reason"]
    # `skyaccord accord status` prints it from that same document
    text = "\n".join(status_lines(doc))
    assert (f"UNDECIDED: v2 {us.v2.sha256[:12]} by us, effective {format_rfc3339(E)}: "
            "no word from ru since then") in text
    assert "why: an ordinary message is held" in text and "automatic messages" not in text
    # the tick finds the head-on pair and tells ru at once, in the priority lane, under
    # the version last known (safety does not wait on the negotiation)
    r = us.client.post("/tracks", json={"tracks": head_on()}, headers=us.operator)
    assert r.status_code == 200, r.text
    runtime.tick()
    (told,) = us.conflicts_sent()
    assert told.recipient == "ru" and told.body["level"] == "corrective"
    assert told.body["priority"] is True and told.accord == us.v1.sha256
    assert (lane(told), told.seq) == ("ru#priority", 1)
    assert [m.id for m in line.store.pending("ru#priority")] == [told.id]
    assert (runtime.held, runtime.expedited) == (0, 1)
    assert [a["level"] for a in runtime.alerts.values()] == ["corrective"]
    # an operator's message: 503, why, what it waits on, and when to try again
    r = us.client.post("/line/send", json={"to": "ru", "kind": "text",
                                           "body": {"text": "hello"}}, headers=us.operator)
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
    assert r.headers["Retry-After"] == "5"
    doc = r.json()
    assert doc["type"] == "urn:skyaccord:problem:accord-undecided"
    assert "no word from ru" in doc["detail"] and us.v2.sha256[:12] in doc["detail"]
    assert doc["proposals"] == [{"sha256": us.v2.sha256, "version": 2, "effective_at": E,
                                 "awaiting": ["ru"]}]
    # an operator cannot flag a conflict for the priority lane: the node does that
    r = us.client.post("/line/send", json={"to": "ru", "kind": "conflict", "body": {
        "source": "tactical", "id1": "us1", "id2": "x1", "t_in_s": 10.0,
        "level": "corrective", "priority": True}}, headers=us.operator)
    assert r.status_code == 400 and "body.priority" in r.json()["detail"]
    # a distress call is never held
    r = us.client.post("/distress", json={"lat": 35.0, "lon": 38.0, "frequency_mhz": 243.0},
                       headers=us.operator)
    assert r.status_code == 200 and r.json()["sent"][0]["accord"] == us.v1.sha256
    us.clock.t = E + 2.0
    runtime.tick()  # the same episode: told once, not again
    assert len(us.conflicts_sent()) == 1 and runtime.expedited == 1
    # ru's checkpoint, made after the effective time, is its word: v2 lapsed
    r = us.from_ru("checkpoint", {"log_count": 0, "log_head": GENESIS}, seq=1)
    assert r.status_code == 200, r.text
    (p,) = us.client.get("/accord/proposals", headers=us.operator).json()
    assert p["status"] == "lapsed"
    doc = us.client.get("/accord", headers=us.operator).json()
    assert doc["undecided"] == [] and doc["held_reason"] is None
    assert doc["expedited"] == 1
    text = "\n".join(status_lines(doc))
    assert "UNDECIDED" not in text and "why:" not in text
    assert "automatic messages: 1 sent in the priority lane while undecided" in text
    us.clock.t = E + 3.0
    runtime.tick()
    assert len(us.conflicts_sent()) == 1  # decided: nothing told twice
    # a new pair, decided: the ordinary stream, unflagged
    r = us.client.post("/tracks", json={"tracks": [
        {**t, "id": t["id"] + "b", "lon": 38.5} for t in head_on()]}, headers=us.operator)
    assert r.status_code == 200, r.text
    us.clock.t = E + 4.0
    runtime.tick()
    first, second = us.conflicts_sent()
    assert first.id == told.id and second.body["id1"] == "us1b"
    assert "priority" not in second.body and (lane(second), second.accord) == ("ru",
                                                                               us.v1.sha256)
    assert runtime.expedited == 1 and runtime.held_reason is None
    r = us.client.post("/line/send", json={"to": "ru", "kind": "text",
                                           "body": {"text": "hello"}}, headers=us.operator)
    assert r.status_code == 200
    # (nothing is delivered here: ru is a key, not a node)
    assert [(m.seq, m.kind) for m in line.store.pending("ru")] == [
        (1, "proposal"), (2, "conflict"), (3, "text")]
    assert [(m.seq, m.kind) for m in line.store.pending("ru#priority")] == [
        (1, "conflict"), (2, "distress")]
