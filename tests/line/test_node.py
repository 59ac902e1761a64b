"""A node's send and receive paths, in process: acknowledgement, order, exactly once,
forged, replayed, stale and malformed messages refused with recorded reasons."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from skyaccord.errors import MessageRefused, SignatureError
from skyaccord.line import Node, generate_key, make_message, verify_log
from skyaccord.line.keys import sign
from skyaccord.line.node import transmit_bytes
from tests.line.helpers import T0, Pair, keyless


def inbox(node: Node) -> list[Any]:
    return [m for _, _, _, m in node.store.messages(direction="received") if m.kind != "ack"]


def test_send_deliver_ack_in_order(pair: Pair) -> None:
    sent = [pair.us.send("ru", "text", {"text": f"m{i}"}) for i in range(5)]
    assert [m.seq for m in sent] == [1, 2, 3, 4, 5]
    assert len(pair.us.store.pending("ru")) == 5
    assert pair.us.deliver_once() == 5
    assert pair.us.store.pending("ru") == []
    assert [m.id for m in inbox(pair.ru)] == [m.id for m in sent]
    # each sent message has the receiver's ack in the sender's log, naming its digest
    for m in sent:
        (ack,) = pair.us.store.replies(m.id)
        assert ack.kind == "ack" and ack.sender == "ru" and ack.body["digest"] == m.digest
        ack.verify(pair.ru.accord.party("ru").public_key or "")
    for node in (pair.us, pair.ru):
        report = verify_log(node.store.path, node.accord)
        assert report.ok, report.problems
        assert report.count == 10  # 5 messages + 5 acks on each side


def test_outbox_retries_while_peer_down_then_delivers_once(pair: Pair) -> None:
    pair.to_ru.down = True
    ids = [pair.us.send("ru", "text", {"text": str(i)}).id for i in range(3)]
    assert pair.us.deliver_once() == 0
    (item, *_) = pair.us.store.outbox()
    assert item.attempts == 1 and "connection refused" in (item.last_error or "")
    assert pair.us.next_retry_in() is not None  # backing off
    pair.to_ru.down = False
    pair.us._backoff.clear()
    assert pair.us.deliver_once() == 3
    assert [m.id for m in inbox(pair.ru)] == ids
    assert pair.us.deliver_once() == 0


def test_lost_reply_retry_is_idempotent(pair: Pair) -> None:
    """The receiver stored the message but the ack never came back: the retry gets the
    original ack; the message is logged once; the replay is recorded."""
    msg = pair.us.send("ru", "text", {"text": "hello"})
    status, first = pair.ru.receive(pair.us.envelope(msg))
    assert status == 200 and first["status"] == "accepted"
    assert pair.us.deliver_once() == 1  # the outbox retries the same message
    assert len(inbox(pair.ru)) == 1
    (ack,) = pair.us.store.replies(msg.id)
    assert ack.to_dict() == first["ack"]
    assert any("replay of accepted message" in r.reason for r in pair.ru.store.refusals())
    assert verify_log(pair.ru.store.path, pair.ru.accord).ok


def refused(pair: Pair, envelope: Any, status: int, words: str) -> None:
    before = len(inbox(pair.ru))
    code, reply = pair.ru.receive(envelope)
    assert code == status, reply
    assert words in reply["error"]
    assert len(inbox(pair.ru)) == before
    assert words in pair.ru.store.refusals()[-1].reason


def test_bad_signature_refused(pair: Pair) -> None:
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "genuine"}))
    env["message"]["body"]["text"] = "forged"
    refused(pair, env, 403, "bad signature from party 'us'")


def test_signed_by_another_key_refused(pair: Pair, keys: Any) -> None:
    forger = generate_key()
    m = make_message(forger, kind="text", sender="us", recipient="ru", seq=1,
                     created_at=T0, accord=pair.ru.accord.sha256, body={"text": "x"})
    env = {"message": m.to_dict(), "transmitted_at": T0,
           "transmit_sig": sign(forger, transmit_bytes(m.id, "ru", T0))}
    refused(pair, env, 403, "bad signature")


def test_unknown_sender_and_unknown_key_refused(pair: Pair, keys: Any) -> None:
    m = make_message(keys["tr"], kind="text", sender="xx", recipient="ru", seq=1,
                     created_at=T0, accord=pair.ru.accord.sha256, body={"text": "x"})
    env = {"message": m.to_dict(), "transmitted_at": T0,
           "transmit_sig": sign(keys["tr"], transmit_bytes(m.id, "ru", T0))}
    refused(pair, env, 403, "unknown sender 'xx'")
    # a party of the accord whose key is not listed
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))
    pair.ru.accord = dataclasses.replace(keyless(pair.ru.accord))
    code, reply = pair.ru.receive(env)
    assert code == 403 and "unknown key" in reply["error"]


def test_transmission_signature_checked(pair: Pair) -> None:
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))
    env["transmitted_at"] += 1.0  # a replayer refreshing the time cannot re-sign it
    refused(pair, env, 403, "bad signature from transmission by 'us'")


@pytest.mark.parametrize("offset_s", [-31.0, 31.0, 3600.0])
def test_outside_clock_skew_window_refused(pair: Pair, offset_s: float) -> None:
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))
    pair.clock.t += offset_s
    refused(pair, env, 403, "outside the clock-skew window")


def test_within_skew_window_and_old_message_accepted(pair: Pair) -> None:
    """The window applies to the transmission, not the message's age: a message queued
    during an hour-long outage is accepted once the peer is back."""
    pair.to_ru.down = True
    m = pair.us.send("ru", "text", {"text": "queued"})
    pair.us.deliver_once()
    pair.clock.t += 3600.0
    pair.to_ru.down = False
    pair.us._backoff.clear()
    assert pair.us.deliver_once() == 1
    assert inbox(pair.ru)[0].id == m.id
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "skewed"}))
    pair.clock.t += 29.0
    assert pair.ru.receive(env)[0] == 200


def test_replayed_sequence_and_gap_refused(pair: Pair, keys: Any) -> None:
    first = pair.us.send("ru", "text", {"text": "one"})
    assert pair.us.deliver_once() == 1
    # same sequence number, new id: a replay with altered content, correctly signed
    again = make_message(keys["us"], kind="text", sender="us", recipient="ru", seq=1,
                         created_at=T0, accord=pair.ru.accord.sha256, body={"text": "two"})
    refused(pair, pair.us.envelope(again), 409, "replay: us seq 1")
    # a gap: seq 3 before seq 2
    skip = make_message(keys["us"], kind="text", sender="us", recipient="ru", seq=3,
                        created_at=T0, accord=pair.ru.accord.sha256, body={"text": "three"})
    refused(pair, pair.us.envelope(skip), 409, "out of order: us seq 3, expected 2")
    # a known id with other content
    tampered = make_message(keys["us"], kind="text", sender="us", recipient="ru", seq=2,
                            created_at=T0, accord=pair.ru.accord.sha256,
                            body={"text": "other"}, msg_id=first.id)
    refused(pair, pair.us.envelope(tampered), 409, "already logged with other content")


@pytest.mark.parametrize(("mutate", "words"), [
    (lambda e: e.pop("transmit_sig"), "envelope must be an object"),
    (lambda e: e["message"].pop("body"), "missing field(s) body"),
    (lambda e: e["message"].update(kind="shout"), "unknown kind 'shout'"),
    (lambda e: e["message"].update(seq=-1), "'seq'"),
    (lambda e: e["message"].update(to="tr"), "addressed to 'tr'"),
    (lambda e: e["message"].update(id="xyz"), "'id'"),
    (lambda e: e["message"]["body"].update(colour="red"), "body.colour"),
    (lambda e: e.update(transmitted_at="now"), "'transmitted_at' must be a finite number"),
])
def test_malformed_envelopes_name_the_fault(pair: Pair, mutate: Any, words: str) -> None:
    env = json.loads(json.dumps(pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))))
    mutate(env)
    code, reply = pair.ru.receive(env)
    assert code in (400, 403) and words in reply["error"], reply
    assert inbox(pair.ru) == []


def test_not_json_object_refused(pair: Pair) -> None:
    assert pair.ru.receive(None)[0] == 400
    assert pair.ru.receive([1, 2])[0] == 400
    assert len(pair.ru.store.refusals()) == 2


def test_wrong_key_for_own_party_refused(pair: Pair) -> None:
    with pytest.raises(SignatureError, match="not party 'us'"):
        Node("us", generate_key(), pair.us.accord, pair.us.store)


def test_send_validates_before_storing(pair: Pair) -> None:
    with pytest.raises(MessageRefused, match=r"body\.lat"):
        pair.us.send("ru", "distress", {"lat": 95.0, "lon": 36.0, "frequency_mhz": 121.5})
    with pytest.raises(MessageRefused, match="acknowledgements are made"):
        pair.us.send("ru", "ack", {})
    assert pair.us.store.entries() == []


def test_ack_that_does_not_match_is_not_recorded(pair: Pair, keys: Any) -> None:
    m = pair.us.send("ru", "text", {"text": "x"})

    class Liar:
        def deliver(self, envelope: Any) -> tuple[int, Any]:
            ack = make_message(keys["ru"], kind="ack", sender="ru", recipient="us", seq=0,
                               created_at=T0, accord=pair.us.accord.sha256, in_reply_to=m.id,
                               body={"digest": "0" * 64, "received_at": T0})
            return 200, {"status": "accepted", "ack": ack.to_dict()}

        def close(self) -> None:
            pass

    pair.us.peers["ru"] = Liar()
    assert pair.us.deliver_once() == 0
    assert [x.id for x in pair.us.store.pending("ru")] == [m.id]
    assert "does not match" in (pair.us.store.outbox()[0].last_error or "")


def test_status_comes_from_the_error_not_its_words(pair: Pair) -> None:
    """Before the error table, a malformed message whose error text mentioned the accord
    got 409: the status was chosen by searching the text for "accord", "replay" or
    "order". A malformed field is 400 whatever its words."""
    env = json.loads(json.dumps(pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))))
    env["message"]["accord"] = "not-an-accord-hash"
    code, reply = pair.ru.receive(env)
    assert "accord" in reply["error"]
    assert (code, reply["kind"]) == (400, "message-refused"), reply
