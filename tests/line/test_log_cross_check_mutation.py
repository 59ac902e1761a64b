"""``cross_check`` of two parties' logs and the checkpoint test, problem by problem: the
tests the mutation run of the line (``line-units``, tests/mutation/README.md) found
missing. Each test names the mutants (mutmut numbers in ``skyaccord.line.log``) it kills.

Two nodes exchange real signed messages in process (``filled``: us sends two texts, ru
two requests, each delivered and acknowledged); then one party rewrites its own log with
its own key (``rechain_signed``), or the file is edited. The layout the expected
problems are worked from (positions in each log; every ack names the acked message's
position and chained hash in the acker's log, a signed checkpoint)::

    us.db  1 sent text us1    2 sent text us2    3 recv ack(ru) of us1   4 recv ack of us2
           5 recv request r1  6 sent ack(us) r1  7 recv request r2       8 sent ack r2
    ru.db  1 sent r1  2 sent r2  3 recv us1  4 sent ack us1  5 recv us2  6 sent ack us2
           7 recv ack(us) r1  8 recv ack(us) r2

The expected problems are written out by hand, in the order the docstring of
``cross_check`` gives them (first seen first), so a problem missing, extra, reworded or
out of order fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from skyaccord.line import cross_check, make_message
from skyaccord.line.keys import SigningKey
from skyaccord.line.log import GENESIS, LogEntry, _checkpoint_problems, read_entries
from skyaccord.line.messages import Message
from skyaccord.protocol import Accord
from tests.line.helpers import Pair, rechain_signed
from tests.line.test_log import filled, sql


def entries(db: Path) -> list[LogEntry]:
    return list(read_entries(db))


def kinds(db: Path) -> list[tuple[str, str, str]]:
    """(direction, kind, sender) of each entry: the layout the tests rely on."""
    return [(e.direction, json.loads(e.message)["kind"], json.loads(e.message)["from"])
            for e in read_entries(db)]


def close(pair: Pair) -> tuple[Path, Path]:
    pair.us.store.close()
    pair.ru.store.close()
    return pair.us.store.path, pair.ru.store.path


def layout(pair: Pair) -> tuple[Path, Path]:
    us_db, ru_db = filled(pair, 2)
    assert kinds(us_db) == [("sent", "text", "us"), ("sent", "text", "us"),
                            ("received", "ack", "ru"), ("received", "ack", "ru"),
                            ("received", "request", "ru"), ("sent", "ack", "us"),
                            ("received", "request", "ru"), ("sent", "ack", "us")]
    assert kinds(ru_db) == [("sent", "request", "ru"), ("sent", "request", "ru"),
                            ("received", "text", "us"), ("sent", "ack", "ru"),
                            ("received", "text", "us"), ("sent", "ack", "ru"),
                            ("received", "ack", "us"), ("received", "ack", "us")]
    return us_db, ru_db


def test_unacknowledged_sent_message_may_be_missing(pair: Pair, keys: dict[str, SigningKey]
                                                    ) -> None:
    """us sends a third text; then neither log keeps ru's receipt of it, nor us's log
    ru's ack: a message sent and not acknowledged may still be in an outbox, no problem.
    Kills cross_check 37 (every missing message reported)."""
    layout(pair)
    pair.us.send("ru", "text", {"text": "third"})
    pair.us.deliver_once()
    us_db, ru_db = close(pair)
    rechain_signed(us_db, entries(us_db)[:9], keys["us"], "us")  # without ru's ack
    rechain_signed(ru_db, entries(ru_db)[:8], keys["ru"], "ru")  # without the text, ack
    assert cross_check(us_db, ru_db) == []


def test_received_message_the_sender_does_not_hold(pair: Pair, keys: dict[str, SigningKey]
                                                   ) -> None:
    """ru sends a third request and drops it (and us's ack) from its log; us's log keeps
    the request but not its own ack: a message received must have been sent, reported
    though no ack names it. Kills cross_check 37-39."""
    layout(pair)
    r3 = pair.ru.send("us", "request", {"text": "third"})
    pair.ru.deliver_once()
    us_db, ru_db = close(pair)
    rechain_signed(us_db, entries(us_db)[:9], keys["us"], "us")
    rechain_signed(ru_db, entries(ru_db)[:8], keys["ru"], "ru")
    assert cross_check(us_db, ru_db) == [
        f"us holds received message {r3.id} that ru's log lacks"]


def test_receiver_drops_an_acknowledged_message(pair: Pair, keys: dict[str, SigningKey]
                                                ) -> None:
    """us drops ru's third request and its own ack of it (its last two entries) and
    re-signs its log. ru holds the request, sent, with us's signed ack naming entry 9 of
    us's log: reported as missing (acknowledged, so not in an outbox), the ack itself
    missing, and us's log contradicting what us signed. Kills cross_check 29-32 (the
    acks ru's log holds), 103-106, 130 (the order check over messages one log lacks),
    138, 140 (problems sorted by their text, not in the order found)."""
    layout(pair)
    r3 = pair.ru.send("us", "request", {"text": "third"})
    pair.ru.deliver_once()
    us_db, ru_db = close(pair)
    e9 = entries(us_db)[8]
    ack = next(e for e in entries(ru_db) if e.pos == 10)
    assert e9.msg_id == r3.id and json.loads(ack.message)["in_reply_to"] == r3.id
    rechain_signed(us_db, entries(us_db)[:8], keys["us"], "us")
    assert cross_check(us_db, ru_db) == [
        f"ru holds sent message {r3.id} that us's log lacks",
        f"ru holds received message {ack.msg_id} that us's log lacks",
        f"us's log contradicts its own signed acknowledgement {ack.msg_id}: entry 9 should "
        f"hold message {r3.id} with hash {e9.hash[:12]} (log rewritten: equivocation)"]


def test_entry_rewritten_in_place_contradicts_the_ack(pair: Pair,
                                                      keys: dict[str, SigningKey]) -> None:
    """ru changes the time it recorded us2 (entry 5) and re-signs: the same message at
    the same position, another chained hash; ru's signed ack of us2, held by us, names
    the old hash. Kills cross_check 97, 98 (a contradiction needing both the hash and
    the message to differ)."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    ru = entries(ru_db)
    old5 = ru[4]
    ack2 = next(e for e in entries(us_db) if e.pos == 4)
    ru[4] = old5._replace(recorded_at=old5.recorded_at + 1.0)
    rechain_signed(ru_db, ru, keys["ru"], "ru")
    assert cross_check(us_db, ru_db) == [
        f"ru's log contradicts its own signed acknowledgement {ack2.msg_id}: entry 5 "
        f"should hold message {old5.msg_id} with hash {old5.hash[:12]} (log rewritten: "
        "equivocation)"]


def test_keys_of_the_accused_from_the_given_accord(pair: Pair, accord: Accord) -> None:
    """ru's log without its recorded accord: ru's acks held by us cannot be checked,
    each one reported, unless the accord is given. Kills cross_check 51, 72-74."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    acks = [e.msg_id for e in entries(us_db) if e.pos in (3, 4)]
    sql(ru_db, "DELETE FROM line_meta WHERE key LIKE 'accord:%'")
    assert cross_check(us_db, ru_db) == [
        f"cannot check ru's signature on ack {i}: no key of 'ru' for accord "
        f"{accord.sha256[:12]} (give --accord)" for i in acks]
    assert cross_check(us_db, ru_db, accord) == []


def test_forged_acks_each_reported(pair: Pair, keys: dict[str, SigningKey]) -> None:
    """us alters the receipt time inside both of ru's acks it holds (entries 3 and 4) and
    re-signs its own log: the acks differ from ru's copies (seen from each side) and no
    longer verify with ru's key, each one reported; and the hashes of us's entries 5 and
    7, which us's own acks held by ru name, have changed. Kills cross_check 76, 77."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    us = entries(us_db)
    old = list(us)
    for i in (2, 3):
        d = json.loads(us[i].message)
        d["body"]["received_at"] += 1
        us[i] = us[i]._replace(message=json.dumps(d, sort_keys=True, separators=(",", ":")))
    rechain_signed(us_db, us, keys["us"], "us")
    ids = [us[2].msg_id, us[3].msg_id]
    us_acks = [e.msg_id for e in entries(ru_db)[6:8]]
    assert cross_check(us_db, ru_db) == [
        *(f"message {i} differs between us and ru" for i in ids),
        *(f"message {i} differs between ru and us" for i in ids),
        *(f"ack {i} claims to be ru's but its signature does not verify with ru's key "
          "(forged evidence)" for i in ids),
        *(f"us's log contradicts its own signed acknowledgement {a}: entry {p} should hold "
          f"message {old[p - 1].msg_id} with hash {old[p - 1].hash[:12]} (log rewritten: "
          "equivocation)" for a, p in zip(us_acks, (5, 7), strict=True))]


def test_unreadable_entries_in_either_log(pair: Pair) -> None:
    """An entry of each log made unparseable (one not JSON, one a JSON object with an
    unknown field, whose long refusal is cut at 120 characters): each reported under its
    file and position, and the messages they held reported missing. Kills cross_check
    14, 21; _shared 8-11."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    us, ru = entries(us_db), entries(ru_db)
    sql(us_db, "UPDATE line_log SET message = 'garbage' WHERE pos = 5")
    sql(ru_db, "UPDATE line_log SET message = '{\"x_an_unknown_field_name\":1}' "
               "WHERE pos = 3")
    refusal = ("message: unknown field(s) x_an_unknown_field_name; allowed: v, id, kind, "
               "from, to, seq, created_at, accord, in_reply_to, due_at, body, sig")
    assert len(refusal) > 120
    assert cross_check(us_db, ru_db) == [
        f"{us_db}: entry 5 unreadable: Expecting value: line 1 column 1 (char 0)",
        f"{ru_db}: entry 3 unreadable: {refusal[:120]}",
        f"us holds sent message {us[0].msg_id} that ru's log lacks",
        f"ru holds sent message {ru[0].msg_id} that us's log lacks"]


def test_same_direction_in_both_logs(pair: Pair) -> None:
    """ru's copy of us1 marked sent: "sent in both logs", once. Kills cross_check 47."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    us1 = entries(us_db)[0].msg_id
    sql(ru_db, "UPDATE line_log SET direction = 'sent' WHERE pos = 3")
    assert cross_check(us_db, ru_db) == [f"message {us1} is sent in both logs"]


def test_stream_order_differs(pair: Pair, keys: dict[str, SigningKey]) -> None:
    """ru swaps us1 and us2 (entries 3 and 5) and re-signs its log: its signed acks
    contradict it, and us's stream is in another order (us1 is seq 1: a filter on seq >
    1 misses it). Kills cross_check 122, 123, 127, 128, 136."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    ru, us = entries(ru_db), entries(us_db)
    old = {e.pos: e for e in ru}
    ru[2], ru[4] = ru[4], ru[2]
    rechain_signed(ru_db, ru, keys["ru"], "ru")
    assert cross_check(us_db, ru_db) == [
        f"ru's log contradicts its own signed acknowledgement {us[2].msg_id}: entry 3 "
        f"should hold message {us[0].msg_id} with hash {old[3].hash[:12]} (log rewritten: "
        "equivocation)",
        f"ru's log contradicts its own signed acknowledgement {us[3].msg_id}: entry 5 "
        f"should hold message {us[1].msg_id} with hash {old[5].hash[:12]} (log rewritten: "
        "equivocation)",
        "the two logs order us's messages differently"]


def test_checkpoint_contradicted_by_the_rewritten_log(pair: Pair,
                                                      keys: dict[str, SigningKey]) -> None:
    """us signs a checkpoint of its 8 entries, which ru keeps; us then changes the time
    of its entry 8 and re-signs its log. Kills cross_check 66, 67, 110, 111, 116-118."""
    layout(pair)
    (cp,) = pair.us.send_checkpoints(["ru"])
    assert cp.body["log_count"] == 8
    pair.us.deliver_once()
    us_db, ru_db = close(pair)
    us = entries(us_db)
    old8 = us[7]
    assert cp.body["log_head"] == old8.hash
    us[7] = old8._replace(recorded_at=old8.recorded_at + 1.0)
    rechain_signed(us_db, us, keys["us"], "us")
    new8 = entries(us_db)[7]
    assert cross_check(us_db, ru_db) == [
        f"us's log contradicts its signed checkpoint {cp.id}: entry 8 should end with hash "
        f"{old8.hash[:12]}, it ends with {new8.hash[:12]} (log rewritten: equivocation)"]


# -- _checkpoint_problems on its own -------------------------------------------------------

def checkpoint(key: SigningKey, count: int, head: str, seq: int) -> Message:
    return make_message(key, kind="checkpoint", sender="us", recipient="ru", seq=seq,
                        created_at=1.0e9, accord="c" * 64,
                        body={"log_count": count, "log_head": head})


def entry(pos: int, h: str) -> LogEntry:
    return LogEntry(pos, f"{pos:032x}", "sent", "ru", 1.0e9, "{}", "", h)


def test_checkpoint_problems_by_hand(keys: dict[str, SigningKey]) -> None:
    """Checkpoints against a log of two entries: the empty log's (count 0 ends with the
    genesis hash), one that matches, one that claims a third entry (rolled back), one
    whose hash differs (rewritten), one of count 0 with another head; every problem
    found, in order, in full. Kills _checkpoint_problems 2-29."""
    k = keys["us"]
    log = {1: entry(1, "1" * 64), 2: entry(2, "2" * 64)}
    ok0, ok2 = checkpoint(k, 0, GENESIS, 1), checkpoint(k, 2, "2" * 64, 2)
    assert _checkpoint_problems([ok0, ok2], "us", log) == []
    ahead = checkpoint(k, 3, "3" * 64, 3)
    other = checkpoint(k, 1, "9" * 64, 4)
    zero = checkpoint(k, 0, "a" * 64, 5)
    assert _checkpoint_problems([ok0, ahead, other, ok2, zero], "us", log) == [
        f"us's log holds 2 entries, but its signed checkpoint {ahead.id} says it held 3 "
        "ending 333333333333 (log rolled back)",
        f"us's log contradicts its signed checkpoint {other.id}: entry 1 should end with "
        "hash 999999999999, it ends with 111111111111 (log rewritten: equivocation)",
        f"us's log contradicts its signed checkpoint {zero.id}: entry 0 should end with "
        "hash aaaaaaaaaaaa, it ends with 000000000000 (log rewritten: equivocation)"]


def test_other_peers_entries_and_acks_without_a_position(
        pair: Pair, keys: dict[str, SigningKey], accord: Accord) -> None:
    """us rewrites its log with two entries first: a text from tr (another peer: skipped
    by the cross-check of us and ru, not the end of it) and an ack genuinely signed by
    ru that names no log position (nothing to check it against: skipped, not the end of
    the checks); and ru re-records us2 (its entry 5) at another time. So: the ack is
    missing from ru's log; ru's ack of us2, after it in us's log, contradicts ru's log;
    and us's own acks held by ru name positions 5 and 7 of us's log, which moved two
    places down. Kills _shared 4, cross_check 81 (an ack without ``log_pos`` read as
    one with it), 88 (``break``)."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    us, ru = entries(us_db), entries(ru_db)
    us1 = json.loads(us[0].message)
    tr_text = make_message(keys["tr"], kind="text", sender="tr", recipient="us", seq=1,
                           created_at=pair.clock(), accord=accord.sha256, body={"text": "hi"})
    bare_ack = make_message(keys["ru"], kind="ack", sender="ru", recipient="us", seq=0,
                            created_at=pair.clock(), accord=accord.sha256,
                            in_reply_to=us1["id"],
                            body={"digest": "d" * 64, "received_at": pair.clock()})
    first = [LogEntry(0, m.id, "received", m.sender, pair.clock(), m.to_json(), "", "")
             for m in (tr_text, bare_ack)]
    rechain_signed(us_db, [*first, *us], keys["us"], "us")
    ru[4] = ru[4]._replace(recorded_at=ru[4].recorded_at + 1.0)
    rechain_signed(ru_db, ru, keys["ru"], "ru")
    ru_acks = {json.loads(e.message)["in_reply_to"]: e.msg_id for e in ru[6:8]}
    r1, r2 = us[4], us[6]
    assert cross_check(us_db, ru_db) == [
        f"us holds received message {bare_ack.id} that ru's log lacks",
        f"ru's log contradicts its own signed acknowledgement {us[3].msg_id}: entry 5 "
        f"should hold message {us[1].msg_id} with hash {ru_hash5(us)} (log rewritten: "
        "equivocation)",
        *(f"us's log contradicts its own signed acknowledgement {ru_acks[e.msg_id]}: entry "
          f"{e.pos} should hold message {e.msg_id} with hash {e.hash[:12]} (log rewritten: "
          "equivocation)" for e in (r1, r2))]


def ru_hash5(us: list[LogEntry]) -> str:
    """The hash ru's signed ack of us2 (us's entry 4) names: ru's entry 5 before."""
    return str(json.loads(us[3].message)["body"]["log_hash"])[:12]


def test_accord_without_the_accused_is_skipped(pair: Pair, keys: dict[str, SigningKey]
                                               ) -> None:
    """ru's log also records an accord that does not list ru: no key of ru there, and
    nothing else changes. Kills _keys_of 10 (``next`` without its default)."""
    from skyaccord.protocol import parse_accord
    from tests.line.helpers import accord_version

    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    other = parse_accord(accord_version(keys, parties=("us", "tr"), version=3), "other")
    text = other.canonical_json().replace("'", "''")
    sql(ru_db, f"INSERT INTO line_meta VALUES ('accord:{other.sha256}', '{text}')")
    assert cross_check(us_db, ru_db) == []


def test_an_ack_in_one_log_a_text_in_the_other_is_no_stream_order(
        pair: Pair, keys: dict[str, SigningKey]) -> None:
    """ru replaces its entry 4, its ack of us1 (seq 0: outside every stream, acks travel
    outside them), by a text of its own under the same id with seq 3, and re-signs its
    log. The id is reported as differing (both ways) and ru's signed ack of us2 as
    contradicted (entry 5's hash changed with the chain); the order check compares each
    sender's sequenced messages only, so the ack that us's log holds before r1 and r2 is
    no order difference, though ru's log has the text after them. Checked from both
    sides (each log as ``path_a``). Kills cross_check 121, 122, 127, 128 at HEAD (commit
    d975a8c: ``or`` for ``and``, ``seq >= 0`` in either log's stream filter: the ack let
    into that log's stream list and compared with the other's text)."""
    us_db, ru_db = layout(pair)
    us_db, ru_db = close(pair)
    ru, us = entries(ru_db), entries(us_db)
    old5 = ru[4]
    ack = json.loads(ru[3].message)
    assert (ack["kind"], ack["from"], ack["seq"], ack["in_reply_to"]) == (
        "ack", "ru", 0, us[0].msg_id)
    assert us[2].msg_id == ru[3].msg_id  # us's entry 3: the same ack, received
    text = make_message(keys["ru"], kind="text", sender="ru", recipient="us", seq=3,
                        created_at=ack["created_at"], accord=ack["accord"],
                        body={"text": "not an ack"}, msg_id=ack["id"])
    ru[3] = ru[3]._replace(message=text.to_json())
    rechain_signed(ru_db, ru, keys["ru"], "ru")
    a_id, r1, r2 = ack["id"], ru[0].msg_id, ru[1].msg_id
    assert [e.msg_id for e in entries(us_db)[2:7:2]] == [a_id, r1, r2]  # us: ack first
    assert [e.msg_id for e in entries(ru_db)[:4]] == [r1, r2, us[0].msg_id, a_id]
    contradicted = (f"ru's log contradicts its own signed acknowledgement {us[3].msg_id}: "
                    f"entry 5 should hold message {us[1].msg_id} with hash "
                    f"{old5.hash[:12]} (log rewritten: equivocation)")
    assert cross_check(us_db, ru_db) == [f"message {a_id} differs between us and ru",
                                         f"message {a_id} differs between ru and us",
                                         contradicted]
    assert cross_check(ru_db, us_db) == [f"message {a_id} differs between ru and us",
                                         f"message {a_id} differs between us and ru",
                                         contradicted]
