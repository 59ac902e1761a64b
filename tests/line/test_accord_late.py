"""A party cut off from an answer until after the effective time (issue 21's limit):
while it cannot know whether every party accepted in time it signs no ordinary message
(held, never refused for good, so no stream stalls), its checkpoints and distress calls
go on, and the first word of the party it waits for — its answer, or any later message
in its stream — decides; a party that never answered is known to have let the proposal
lapse from its next message. Three nodes in process under one fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.errors import AccordUndecided, MessageRefused
from skyaccord.line import Node, cross_check, store_debts, verify_log
from skyaccord.line.keys import SigningKey
from skyaccord.line.messages import is_priority, lane
from skyaccord.protocol import Accord, parse_accord
from tests.line.helpers import PARTIES, accord_version
from tests.line.test_accords import E, Trio, forged, make_trio, v2

DISTRESS = {"lat": 35.4, "lon": 35.9, "frequency_mhz": 243.0, "callsign": "SHARK 21",
            "nature": "ejection"}
CONFLICT = {"source": "tactical", "id1": "us-a", "id2": "ru-b", "t_in_s": 30.0,
            "level": "warning"}


@pytest.fixture
def trio(tmp_path: Path, keys: dict[str, SigningKey]) -> Iterator[Trio]:
    t = make_trio(tmp_path, keys, PARTIES, accord_version(keys))
    yield t
    for n in t.nodes.values():
        n.store.close()


def undelivered(node: Node) -> list[Any]:
    return [o for o in node.store.outbox() if o.delivered_at is None]


def refused_from(node: Node, sender: str) -> list[Any]:
    return [r for r in node.store.refusals() if r.peer == sender]


def sent_count(node: Node) -> int:
    return len(node.store.messages(direction="sent"))


def proposed(trio: Trio, keys: dict[str, Any]) -> tuple[Node, Node, Node, Accord, Accord]:
    """us proposes v2 (effective at E) to ru and tr, delivered: (us, ru, tr, v1, v2)."""
    us, ru, tr = trio["us"], trio["ru"], trio["tr"]
    v1, new = us.accord, v2(keys, parties=PARTIES)
    us.propose(new, "v2", E)
    trio.deliver()
    return us, ru, tr, v1, new


def test_cut_off_party_holds_until_it_hears_and_no_stream_stalls(
        trio: Trio, keys: dict[str, Any]) -> None:
    us, ru, tr, v1, new = proposed(trio, keys)
    tr.answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.links[("ru", "tr")].down = True  # ru's word cannot reach tr
    ru.answer(new.sha256, "accept", "ok")
    trio.deliver()
    assert tr.book.proposals[new.sha256].awaited == ("ru",)
    # before the effective time nothing is held (the normal case)
    trio.clock.t = E - 1.0
    before = tr.send("us", "text", {"text": "still v1"})
    assert before.accord == v1.sha256 and tr.undecided() == []
    trio.clock.t = E + 5.0
    for n in (us, ru):  # they hold every answer: v2 is in force there
        assert n.accord.sha256 == new.sha256 and n.undecided() == []
    assert tr.book.status(new.sha256, trio.clock()) == "undecided"
    (got,) = tr.undecided()
    assert got[0].sha256 == new.sha256 and got[1] == ("ru",)
    # tr signs nothing ordinary under a guess: held, naming the proposal and ru
    n_sent = sent_count(tr)
    with pytest.raises(AccordUndecided) as held:
        tr.send("us", "text", {"text": "under which version?"})
    assert new.sha256[:12] in str(held.value) and "no word from ru" in str(held.value)
    assert "effective 2015-10-20T00:10:00Z" in str(held.value)  # T0 + 600 s
    assert held.value.http_status == 503
    assert held.value.details["proposals"] == [{"sha256": new.sha256, "version": 2,
                                                "effective_at": E, "awaiting": ["ru"]}]
    notice = ("us", "notice", {"start_s": E, "end_s": E + 60.0, "intent_ids": ["x"]})
    with pytest.raises(AccordUndecided, match="no word from ru"):
        tr.send_many([notice])
    with pytest.raises(AccordUndecided, match="no word from ru"):  # all or none
        tr.send_many([("us", "conflict", CONFLICT), notice])
    with pytest.raises(AccordUndecided):
        tr.suspend("which one?")
    assert sent_count(tr) == n_sent  # nothing logged, no sequence number used
    # its checkpoints (the effective time passed) and its distress call go out, under
    # the version it last knew, and both others take them
    assert tr.checkpoint_due()
    checkpoints = tr.send_checkpoints()
    calls = tr.distress(DISTRESS)
    assert {m.accord for m in checkpoints + calls} == {v1.sha256}
    # us, which knows v2 is in force, sends tr a message under v2: tr holds it (503)
    # instead of refusing it for good, and us's stream waits
    to_tr = us.send("tr", "text", {"text": "under v2"})
    assert to_tr.accord == new.sha256
    ru_to_tr = ru.send("tr", "text", {"text": "ru under v2"})  # queued behind its answer
    trio.deliver()
    for m in checkpoints + calls:
        assert trio[m.recipient].store.find(m.id) is not None
    for n in (us, ru):
        assert refused_from(n, "tr") == []
    assert undelivered(tr) == []  # tr's streams to us and ru never stalled
    assert tr.store.find(to_tr.id) is None
    assert tr.store.refusals()[-1].kind == "accord-undecided"
    # us's distress call (under v2) reaches tr in the priority lane; tr, still
    # undecided, acknowledges it, and us takes the acknowledgement
    us_call = next(c for c in us.distress({**DISTRESS, "callsign": "BEAR 05"})
                   if c.recipient == "tr")
    trio.deliver()
    assert tr.store.find(us_call.id) is not None and us_call.accord == new.sha256
    ack = tr.send("us", "response", {"text": "launching", "priority": True},
                  in_reply_to=us_call.id)
    trio.deliver()
    assert us.store.find(ack.id) is not None and ack.accord == v1.sha256
    assert [d for d in store_debts(tr.store, 180.0, trio.clock())
            if d.debtor == "tr" and d.what == "acknowledgement"] == []
    # the link comes back: ru's answer comes first in its stream, and decides
    trio.links[("ru", "tr")].down = False
    trio.deliver(6)
    assert tr.undecided() == [] and tr.accord.sha256 == new.sha256
    assert tr.book.status(new.sha256, trio.clock()) == "in force"
    assert tr.store.find(to_tr.id) is not None and tr.store.find(ru_to_tr.id) is not None
    after = tr.send("us", "text", {"text": "now under v2"})
    assert after.accord == new.sha256
    trio.deliver()
    for n in trio.nodes.values():
        assert undelivered(n) == [], n.party
        assert n.stuck_streams(min_attempts=1) == [], n.party
        report = verify_log(n.store.path)
        assert report.ok, report.problems
    assert us.store.find(after.id) is not None and us.store.find(before.id) is not None


def test_a_party_that_never_answered_decides_a_lapse_by_its_next_message(
        trio: Trio, keys: dict[str, Any]) -> None:
    us, ru, tr, v1, new = proposed(trio, keys)
    ru.answer(new.sha256, "accept", "ok")
    trio.deliver()
    assert not tr.checkpoint_due()  # a proposal whose time has not come: nothing due
    trio.clock.t = E - 10.0  # tr's checkpoint before the time is no word on it
    tr.send_checkpoints()
    trio.deliver()
    assert not tr.checkpoint_due()  # nothing new since
    trio.clock.t = E + 1.0
    # tr never answered: it knows the proposal lapsed; us and ru cannot know yet
    assert tr.book.status(new.sha256, trio.clock()) == "lapsed" and tr.undecided() == []
    for n in (us, ru):
        assert n.book.status(new.sha256, trio.clock()) == "undecided"
        with pytest.raises(AccordUndecided, match="no word from tr"):
            n.send("tr", "text", {"text": "x"})
    # tr's own ordinary message, made after the time under v1, is not held: being next
    # in tr's stream, it is the word that decides (an answer would have come first)
    note = tr.send("ru", "text", {"text": "v1 still"})
    trio.deliver()
    assert ru.store.find(note.id) is not None
    assert ru.book.status(new.sha256, trio.clock()) == "lapsed" and ru.undecided() == []
    assert ru.send("us", "text", {"text": "ok"}).accord == v1.sha256
    # a message from tr under v2 made after the time is refused for good at us: it is
    # the next of tr's stream, so v2 lapsed, and tr never accepted it
    status, reply = forged(trio, "tr", "us", "text", {"text": "v2?"}, accord=new.sha256)
    assert status == 409 and reply["kind"] == "accord-mismatch"
    assert "never took effect" in reply["error"]
    assert us.book.status(new.sha256, trio.clock()) == "undecided"  # not logged: no word
    # tr's checkpoint after the effective time (due then, with nothing new to vouch
    # for) decides it at us
    assert tr.checkpoint_due()
    tr.send_checkpoints(["us"])
    trio.deliver()
    assert us.book.status(new.sha256, trio.clock()) == "lapsed" and us.undecided() == []
    m = us.send("tr", "text", {"text": "v1 it is"})
    trio.deliver()
    assert m.accord == v1.sha256 and tr.store.find(m.id) is not None
    # a restart keeps what decided it (the word is in the log)
    us = trio.reopen("us", v1)
    assert us.book.status(new.sha256, trio.clock()) == "lapsed" and us.undecided() == []


def test_restart_while_undecided_stays_undecided(trio: Trio, keys: dict[str, Any]) -> None:
    us, ru = trio["us"], trio["ru"]
    v1, new = us.accord, v2(keys, parties=PARTIES)
    us.propose(new, "v2", E)
    trio.deliver()
    ru.answer(new.sha256, "accept", "ok")
    trio.deliver()
    before = trio["tr"].send("us", "text", {"text": "before the time"})
    trio.deliver()
    assert us.store.find(before.id) is not None  # tr's word, but from before the time
    trio.clock.t = E + 1.0
    us = trio.reopen("us", v1)
    assert us.book.status(new.sha256, trio.clock()) == "undecided"
    with pytest.raises(AccordUndecided, match="no word from tr"):
        us.send("ru", "text", {"text": "x"})


def test_two_undecided_nodes_waiting_on_each_other_do_not_deadlock(
        trio: Trio, keys: dict[str, Any]) -> None:
    """ru waits for tr's word on P, tr for ru's word on Q, and neither may sign an
    ordinary message: their checkpoints (signed while undecided, taken while undecided)
    decide both."""
    us, ru, tr = trio["us"], trio["ru"], trio["tr"]
    v1 = us.accord
    p = v2(keys, parties=PARTIES)
    e2 = E + 300.0
    q = parse_accord(accord_version(keys, version=3, effective_at=e2, deadline_s=60.0), "v3")
    us.propose(p, "P", E)
    us.propose(q, "Q", e2)
    trio.deliver()
    ru.answer(p.sha256, "accept", "P: yes")  # tr never answers P
    tr.answer(q.sha256, "accept", "Q: yes")  # ru never answers Q
    trio.deliver()
    trio.clock.t = e2 + 1.0
    assert [(x.sha256, w) for x, w in ru.undecided()] == [(p.sha256, ("tr",))]
    assert [(x.sha256, w) for x, w in tr.undecided()] == [(q.sha256, ("ru",))]
    assert {x.sha256 for x, _ in us.undecided()} == {p.sha256, q.sha256}
    for n, other in ((ru, "tr"), (tr, "ru")):
        with pytest.raises(AccordUndecided, match=f"no word from {other}"):
            n.send(other, "text", {"text": "x"})
    for n in trio.nodes.values():
        assert n.checkpoint_due()
        n.send_checkpoints()
    trio.deliver()
    for n in trio.nodes.values():
        assert n.undecided() == [], n.party
        assert n.book.status(p.sha256, trio.clock()) == "lapsed"
        assert n.book.status(q.sha256, trio.clock()) == "lapsed"
        assert n.accord.sha256 == v1.sha256
        assert undelivered(n) == [] and n.store.refusals() == []
    assert not ru.checkpoint_due()  # once per effective time, not at every check


def test_an_undecided_outcome_that_changes_nothing_holds_nothing(
        trio: Trio, keys: dict[str, Any]) -> None:
    """P (v2) is undecided at tr, but Q (v3), accepted by all, takes effect before it:
    v3 is in force whatever P's outcome (v2 is not above it), so nothing is held."""
    us, ru, tr = trio["us"], trio["ru"], trio["tr"]
    e_q = E - 100.0
    q = parse_accord(accord_version(keys, version=3, effective_at=e_q), "v3")
    p = v2(keys, parties=PARTIES)
    us.propose(p, "P", E)
    us.propose(q, "Q", e_q)
    trio.deliver()
    for n in (ru, tr):
        n.answer(q.sha256, "accept", "Q")
    tr.answer(p.sha256, "accept", "P")
    trio.deliver()
    trio.links[("ru", "tr")].down = True
    ru.answer(p.sha256, "accept", "P")
    trio.deliver()
    trio.clock.t = E + 1.0
    assert tr.book.status(p.sha256, trio.clock()) == "undecided"
    assert tr.undecided() == [] and tr.accord.sha256 == q.sha256
    m = tr.send("us", "text", {"text": "v3"})
    trio.deliver()
    assert m.accord == q.sha256 and us.store.find(m.id) is not None


def test_distress_under_the_version_last_known_is_taken_with_its_own_deadline(
        trio: Trio, keys: dict[str, Any]) -> None:
    """v2 tightens the response deadline (60 s -> 30 s, the distress deadline with it);
    tr, undecided, calls under v1 with v1's deadline: us, under v2, takes the call."""
    us, ru, tr = trio["us"], trio["ru"], trio["tr"]
    new = v2(keys, parties=PARTIES, deadline_s=30.0)
    us.propose(new, "v2", E)
    trio.deliver()
    tr.answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.links[("ru", "tr")].down = True
    ru.answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.clock.t = E + 2.0
    assert tr.undecided() and us.accord.sha256 == new.sha256
    calls = {c.recipient: c for c in tr.distress(DISTRESS)}
    to_us, to_ru = calls["us"], calls["ru"]
    assert to_us.due_at == to_us.created_at + 60.0  # v1's tightest deadline
    trio.deliver()
    assert us.store.find(to_us.id) is not None and ru.store.find(to_ru.id) is not None
    # owed by us within the deadline the call names
    trio.clock.t += 61.0
    owed = [(d.what, d.debtor) for d in store_debts(us.store, 180.0, trio.clock())
            if d.creditor == "tr"]
    assert owed == [("acknowledgement", "us")]
    # a distress call under a version no party ever proposed is still refused
    status, reply = forged(trio, "tr", "ru", "distress", DISTRESS, accord="e" * 64)
    assert status == 409 and "unknown to this node" in reply["error"]


def test_an_acceptance_logged_after_the_time_is_refused(trio: Trio,
                                                        keys: dict[str, Any]) -> None:
    """The clock passes the effective time between the answer's making and its logging
    (another writer held the log): refused, nothing logged — else a message made after
    the time could precede it in the stream and the others would decide a lapse."""
    us, ru = trio["us"], trio["ru"]
    new = v2(keys, parties=PARTIES)
    us.propose(new, "v2", E)
    trio.deliver()
    times = iter([E - 0.5, E + 0.5])
    ru.clock = lambda: next(times, E + 0.5)
    n_sent = sent_count(ru)
    with pytest.raises(MessageRefused, match="while this acceptance was being logged"):
        ru.answer(new.sha256, "accept", "just in time?")
    assert sent_count(ru) == n_sent and "ru" not in ru.book.proposals[new.sha256].answers
    ru.clock = trio.clock
    trio.clock.t = E + 1.0
    assert ru.book.status(new.sha256, trio.clock()) == "lapsed"
    m = ru.send("us", "text", {"text": "v1"})
    assert m.seq == 1  # no number was used by the refused answer


def test_a_restored_log_missing_the_answer_asks_for_it_again(
        tmp_path: Path, keys: dict[str, Any]) -> None:
    """us's log is restored from a backup taken before ru's acceptance: ru's next message,
    under v2 after the time, skips ahead of what us holds. It is refused as the gap it is
    (not as under a lapsed version), ru sends again from the gap, and the acceptance
    decides."""
    from tests.line.test_adversarial import backup, restore

    duo = make_trio(tmp_path, keys, ("us", "ru"), accord_version(keys, parties=("us", "ru")))
    try:
        us, ru = duo["us"], duo["ru"]
        new = v2(keys)
        us.propose(new, "v2", E)
        duo.deliver()
        backup(us.store.path, tmp_path / "us-backup.db")
        ru.answer(new.sha256, "accept", "ok")
        duo.deliver()
        assert us.book.status(new.sha256, duo.clock()) == "accepted"
        us.store.close()
        restore(tmp_path / "us-backup.db", us.store.path)
        us = duo.reopen("us", us.book.genesis)
        assert us.book.proposals[new.sha256].awaited == ("ru",)
        duo.clock.t = E + 5.0
        assert us.book.status(new.sha256, duo.clock()) == "undecided"
        later = ru.send("us", "text", {"text": "under v2"})
        assert later.accord == new.sha256 and later.seq == 2
        duo.deliver(6)
        assert us.accord.sha256 == new.sha256 and us.undecided() == []
        assert us.store.find(later.id) is not None
        assert [(g.expected, g.got) for g in us.store.gaps()] == [(1, 2)]
        assert undelivered(ru) == [] and ru.stuck_streams(min_attempts=1) == []
    finally:
        for n in duo.nodes.values():
            n.store.close()


# -- safety messages are never held (the conflict messages of the runtime's tick) ----------

def stream_of(node: Node, peer: str, direction: str) -> list[Any]:
    """The messages (no acks) ``node`` logged to or from ``peer``, in log order."""
    return [m for _, _, _, m in node.store.messages(direction=direction, peer=peer)
            if m.kind != "ack"]


def test_conflicts_go_in_the_priority_lane_while_undecided_and_nothing_is_lost(
        trio: Trio, keys: dict[str, Any]) -> None:
    """tr is down across the effective time with its acceptance undelivered (and it
    never got ru's): us and ru await tr, tr awaits ru. A conflict between us's and ru's
    aircraft is told at once, both ways, in the priority lane under v1; each takes it,
    acknowledges it (and ru's operator's answer to it goes in the same lane), both logs
    hold it and verify. tr's own conflict, delivered first on
    its return (its lane goes before its stream), is no word on the proposal: us still
    waits for tr's stream, whose acceptance then decides (v2). From then on conflicts go
    in the ordinary stream again, and every message sent is logged once by its receiver."""
    us, ru, tr, v1, new = proposed(trio, keys)
    for (a, b), link in trio.links.items():
        link.down = "tr" in (a, b)  # tr goes down with its answer unsent
    ru.answer(new.sha256, "accept", "ok")
    tr.answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.clock.t = E + 5.0
    for n in (us, ru):
        assert [(p.sha256, w) for p, w in n.undecided()] == [(new.sha256, ("tr",))]
    assert [(p.sha256, w) for p, w in tr.undecided()] == [(new.sha256, ("ru",))]
    with pytest.raises(AccordUndecided, match="no word from tr"):  # ordinary: held
        us.send("ru", "text", {"text": "hello"})
    # us's tick: the conflict goes now, in us's priority lane to ru, under v1
    (told,) = us.send_many([("ru", "conflict", CONFLICT)])
    assert told.body == {**CONFLICT, "priority": True} and told.accord == v1.sha256
    assert (lane(told), told.seq) == ("ru#priority", 1)
    # ru's displaced intent (send, as the runtime's tell_displaced): the same lane
    strategic = {"source": "strategic", "id1": "ru-cap-1", "id2": "us-cap-7",
                 "t_in_s": 600.0, "level": "strategic", "text": "displaced"}
    back = ru.send("us", "conflict", strategic)
    assert (lane(back), back.seq, back.body.get("priority")) == ("us#priority", 1, True)
    trio.deliver()
    for m, sender, receiver in ((told, us, ru), (back, ru, us)):
        assert receiver.store.find(m.id) == ("received", m)
        (ack,) = [a for a in sender.store.replies(m.id) if a.kind == "ack"]
        assert ack.sender == receiver.party and ack.body["digest"] == m.digest
        assert [o.delivered_at is not None for o in sender.store.outbox()
                if o.msg_id == m.id] == [True]
    # ru's operator answers us's conflict: the answer to a safety message is one too
    reply = ru.send("us", "response", {"text": "ru-b climbs"}, in_reply_to=told.id)
    assert (lane(reply), reply.seq, reply.body.get("priority")) == ("us#priority", 2, True)
    with pytest.raises(AccordUndecided):  # an answer to an ordinary message is held
        ru.send("us", "response", {"text": "v2?"},
                in_reply_to=ru.book.proposals[new.sha256].messages["ru"])
    trio.deliver()
    assert us.store.find(reply.id) == ("received", reply)
    for n in (us, ru):
        assert n.store.refusals() == [], n.party
        assert verify_log(n.store.path).ok
        # still undecided: a priority message is no word on the proposal
        assert [p.sha256 for p, _ in n.undecided()] == [new.sha256]
    assert cross_check(us.store.path, ru.store.path) == []
    # tr, undecided too, tells us of a conflict: its lane reaches us before its stream
    (tr_told,) = tr.send_many([("us", "conflict", {**CONFLICT, "id2": "tr-c"})])
    assert lane(tr_told) == "us#priority"
    trio.links[("tr", "us")].down = False
    (first,) = tr.store.pending("us#priority")
    tr._deliver(trio.links[("tr", "us")], first)
    assert us.store.find(tr_told.id) is not None
    assert [(p.sha256, w) for p, w in us.undecided()] == [(new.sha256, ("tr",))]
    # tr is back: its acceptance, first in its stream, decides everywhere
    for link in trio.links.values():
        link.down = False
    trio.deliver(6)
    for n in trio.nodes.values():
        assert n.undecided() == [] and n.accord.sha256 == new.sha256, n.party
    # decided: conflicts go in the ordinary stream again, unflagged, under v2
    later = us.send_many([("ru", "conflict", {**CONFLICT, "id1": "us-d"}),
                          ("tr", "conflict", {**CONFLICT, "id1": "us-d", "id2": "tr-c"})])
    assert [(lane(m), m.accord, "priority" in m.body) for m in later] == [
        ("ru", new.sha256, False), ("tr", new.sha256, False)]
    note = us.send("ru", "text", {"text": "v2 it is"})
    trio.deliver()
    again = ru.send("us", "response", {"text": "ru-b turns"}, in_reply_to=later[0].id)
    assert (lane(again), "priority" in again.body) == ("us", False)
    trio.deliver()
    for a in trio.nodes.values():
        assert undelivered(a) == [] and a.store.refusals() == [], a.party
        assert a.stuck_streams(min_attempts=1) == [], a.party
        assert verify_log(a.store.path).ok, a.party
        for b in trio.nodes.values():
            if a is b:
                continue
            sent = stream_of(a, b.party, "sent")
            got = stream_of(b, a.party, "received")
            # nothing lost, nothing twice, each lane numbered 1, 2, ... in order
            assert sorted(m.id for m in got) == sorted(m.id for m in sent), (a.party, b.party)
            for fast in (True, False):
                seqs = [m.seq for m in got if is_priority(m) == fast]
                assert seqs == list(range(1, len(seqs) + 1)), (a.party, b.party, fast)
            assert cross_check(a.store.path, b.store.path) == [], (a.party, b.party)
    assert [m.id for m in stream_of(ru, "us", "received") if is_priority(m)] == [told.id]
    assert ru.store.find(note.id) is not None and ru.store.find(later[0].id) is not None


def test_a_conflict_in_the_ordinary_stream_is_taken_by_an_undecided_receiver(
        trio: Trio, keys: dict[str, Any]) -> None:
    """tr is undecided (ru's answer has not reached it), us knows v2 is in force. tr's
    conflict goes in its priority lane under v1, and us takes it. us tells tr of a
    conflict in the ordinary stream, under v2: tr takes it at once, where it holds a
    text (the sender knew the version, or it would have used the priority lane). Under a
    version no party accepted it is still refused, and a conflict with a ``priority``
    flag the node did not set is refused at the sender."""
    us, ru, tr, v1, new = proposed(trio, keys)
    tr.answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.links[("ru", "tr")].down = True
    ru.answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.clock.t = E + 5.0
    assert us.undecided() == [] and [p.sha256 for p, _ in tr.undecided()] == [new.sha256]
    # tr, undecided, tells us in its priority lane under v1: us, under v2, takes it (v1
    # was in force: any version that is, was or may be in force then will do)
    (tr_told,) = tr.send_many([("us", "conflict", {**CONFLICT, "id2": "tr-c"})])
    assert (lane(tr_told), tr_told.accord) == ("us#priority", v1.sha256)
    trio.deliver()
    assert us.store.find(tr_told.id) == ("received", tr_told)
    with pytest.raises(MessageRefused, match=r"body\.priority"):
        us.send("tr", "conflict", {**CONFLICT, "priority": True})
    told = us.send("tr", "conflict", CONFLICT)
    assert (lane(told), told.accord, "priority" in told.body) == ("tr", new.sha256, False)
    trio.deliver()
    assert tr.store.find(told.id) == ("received", told)
    assert undelivered(us) == []
    assert [p.sha256 for p, _ in tr.undecided()] == [new.sha256]  # us was not awaited
    # under a version no party accepted, still refused
    status, reply = forged(trio, "us", "tr", "conflict", CONFLICT, accord="e" * 64)
    assert status == 409 and reply["kind"] == "accord-mismatch", reply
    # an ordinary text behind it is held until ru's answer arrives
    text = us.send("tr", "text", {"text": "after the conflict"})
    trio.deliver()
    assert tr.store.find(text.id) is None
    assert tr.store.refusals()[-1].kind == "accord-undecided"
    trio.links[("ru", "tr")].down = False
    trio.deliver(6)
    assert tr.undecided() == [] and tr.store.find(text.id) is not None
    for n in trio.nodes.values():
        assert undelivered(n) == [] and verify_log(n.store.path).ok, n.party
    assert cross_check(us.store.path, tr.store.path) == []
