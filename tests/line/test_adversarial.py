"""Issue 14: the line against a hostile network, peer and operator — one test per
finding, real node processes on loopback where the finding is about a running node,
the Node/LineStore API otherwise. The threat model in src/skyaccord/line/README.md
names the test that shows each defence."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.line import LineStore, make_message
from skyaccord.line.keys import SigningKey, sign
from skyaccord.line.messages import Message
from skyaccord.line.node import transmit_bytes
from skyaccord.line.peer import envelope_bytes
from skyaccord.protocol import Accord, load_accord
from tests.line.helpers import Pair
from tests.line.test_processes import Nodes


@pytest.fixture
def ru_alone(files: Path) -> Iterator[Nodes]:
    """ru's node running alone (us's node is not started: the tests play us)."""
    n = Nodes(files, ("us", "ru"))
    n.start("ru")
    yield n
    n.stop_all()


def envelope(key: SigningKey, message: Message, at: float | None = None) -> dict[str, Any]:
    t = time.time() if at is None else at
    return {"message": message.to_dict(), "transmitted_at": t,
            "transmit_sig": sign(key, transmit_bytes(message.id, message.recipient, t))}


def genuine(keys: dict[str, SigningKey], accord: Accord, seq: int = 1, kind: str = "text",
            body: dict[str, Any] | None = None, sender: str = "us", to: str = "ru",
            created_at: float | None = None, **extra: Any) -> Message:
    return make_message(keys[sender], kind=kind, sender=sender, recipient=to, seq=seq,
                        created_at=time.time() if created_at is None else created_at,
                        accord=accord.sha256, body=body or {"text": "genuine"}, **extra)


def post(nodes: Nodes, raw: bytes, party: str = "ru") -> Any:
    return nodes.client.post(nodes.url(party) + "/line/messages", content=raw,
                             headers={"content-type": "application/json"})


def stored(nodes: Nodes, party: str = "ru") -> LineStore:
    """The node's log, opened beside the running node to read its state."""
    return LineStore(nodes.db(party), party)


# -- 10. every bad envelope: a 4xx and a recorded refusal, never a 500 ---------------------

def test_10_nan_deep_nesting_huge_ints_get_4xx_and_are_recorded(
        ru_alone: Nodes, keys: dict[str, SigningKey]) -> None:
    accord = load_accord(ru_alone.root / "accord.toml")
    good = envelope_bytes(envelope(keys["us"], genuine(keys, accord)))
    nan = good.replace(b'"transmitted_at":', b'"transmitted_at":NaN,"x":', 1)
    bodies = {
        "NaN transmitted_at": nan,
        "deep nesting": b'{"message":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "deep but small": b'{"message":' + b"[" * 2_000 + b"]" * 2_000 + b"}",
        "huge integer": good.replace(b'"seq":1', b'"seq":' + b"9" * 4000, 1),
        "integer past 2**53": good.replace(b'"seq":1', b'"seq":' + str(2**63).encode(), 1),
        "infinity": good.replace(b'"seq":1', b'"seq":Infinity', 1),
        "not UTF-8": b'{"message":"\xff"}',
        "not JSON": b"not json",
        "empty": b"",
    }
    for name, raw in bodies.items():
        r = post(ru_alone, raw)
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/"), name
        assert r.json()["error"], name
    with stored(ru_alone) as store:
        assert len(store.refusals()) == len(bodies)
        assert store.messages() == []
    assert post(ru_alone, good).status_code == 200  # the node still works


def test_10_receive_survives_any_python_value(pair: Pair) -> None:
    """The API under the HTTP layer: Node.receive on values no JSON parser makes."""
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    values: list[Any] = [
        None, 1, "x", [1], deep, {"message": deep, "transmitted_at": 1.0, "transmit_sig": ""},
        {**env, "transmitted_at": float("nan")}, {**env, "transmitted_at": float("inf")},
        {**env, "transmitted_at": 10**400}, {**env, "transmit_sig": deep},
        {**env, "message": {**env["message"], "seq": 10**400}},
        {**env, "message": {**env["message"], "created_at": 10**400}},
        {**env, "message": {**env["message"], "body": {"text": deep}}},
        {**env, "message": {**env["message"], 1: "x"}},
        {**env, "message": {**env["message"], "kind": deep}},
    ]
    for v in values:
        code, reply = pair.ru.receive(v)
        assert 400 <= code < 500 and reply["error"], reply
    assert pair.ru.internal_errors == 0
    assert pair.ru.receive(env)[0] == 200


# -- 11. what was signed is what every parser reads ----------------------------------------

def test_11_duplicate_keys_and_other_spellings_refused_over_http(
        ru_alone: Nodes, keys: dict[str, SigningKey]) -> None:
    accord = load_accord(ru_alone.root / "accord.toml")
    good = envelope_bytes(envelope(keys["us"], genuine(keys, accord)))
    twice = good.replace(b'"body":{"text":"genuine"}',
                         b'"body":{"text":"genuine","text":"evil"}', 1)
    assert twice != good
    r = post(ru_alone, twice)
    assert r.status_code == 400 and "appears twice" in r.json()["error"]
    spaced = good.replace(b'","', b'", "')  # the same JSON value, other bytes
    r = post(ru_alone, spaced)
    assert r.status_code == 400 and "canonical" in r.json()["error"]
    escaped = good.replace(b'"genuine"', b'"genuin\\u0065"', 1)
    assert post(ru_alone, escaped).status_code == 400
    with stored(ru_alone) as store:
        assert store.messages() == []
        assert len(store.refusals()) == 3
    r = post(ru_alone, good)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
