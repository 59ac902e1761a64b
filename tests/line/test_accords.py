"""The accord's life on the line, in process (three nodes joined by a direct transport
under one fake clock): the fold of proposals and answers into the version in force, the
switch at the effective time, refusals of what breaks the rules (each attack tried),
the difference shown to operators, debts, suspension and the distress lane."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.errors import InputError, MessageRefused
from skyaccord.line import LineStore, Message, Node, generate_key, store_debts, verify_log
from skyaccord.line.accord_diff import accord_diff, diff_text
from skyaccord.line.accords import AccordBook, distress_deadline_s
from skyaccord.line.keys import SigningKey, sign
from skyaccord.line.messages import signing_bytes
from skyaccord.line.node import transmit_bytes
from skyaccord.protocol import Accord, parse_accord
from tests.line.helpers import PARTIES, T0, Clock, Direct, accord_version

E = T0 + 600.0  # when the new versions take effect


@dataclasses.dataclass
class Trio:
    nodes: dict[str, Node]
    links: dict[tuple[str, str], Direct]
    clock: Clock
    root: Path
    keys: dict[str, SigningKey]

    def __getitem__(self, party: str) -> Node:
        return self.nodes[party]

    def deliver(self, rounds: int = 4) -> None:
        for _ in range(rounds):
            for n in self.nodes.values():
                n._backoff.clear()
                n.deliver_once()

    def reopen(self, party: str, accord: Accord) -> Node:
        old = self.nodes[party]
        old.store.close()
        node = Node(party, self.keys[party], accord,
                    LineStore(self.root / f"{party}.db", party, self.keys[party]),
                    old.peers, clock=self.clock)
        self.nodes[party] = node
        for (_, b), link in self.links.items():
            if b == party:
                link.target = node
        return node


def make_trio(tmp_path: Path, keys: dict[str, SigningKey], parties: tuple[str, ...],
              text: str) -> Trio:
    accord = parse_accord(text, "v1")
    clock = Clock()
    links = {(a, b): Direct() for a in parties for b in parties if a != b}
    nodes = {p: Node(p, keys[p], accord, LineStore(tmp_path / f"{p}.db", p, keys[p]),
                     {q: links[(p, q)] for q in parties if q != p}, clock=clock)
             for p in parties}
    for (_, b), link in links.items():
        link.target = nodes[b]
    return Trio(nodes, links, clock, tmp_path, keys)


@pytest.fixture
def duo(tmp_path: Path, keys: dict[str, SigningKey]) -> Iterator[Trio]:
    t = make_trio(tmp_path, keys, ("us", "ru"), accord_version(keys, parties=("us", "ru")))
    yield t
    for n in t.nodes.values():
        n.store.close()


@pytest.fixture
def trio(tmp_path: Path, keys: dict[str, SigningKey]) -> Iterator[Trio]:
    t = make_trio(tmp_path, keys, PARTIES, accord_version(keys))
    yield t
    for n in t.nodes.values():
        n.store.close()


def v2(keys: dict[str, SigningKey], parties: tuple[str, ...] = ("us", "ru"),
       **changes: Any) -> Accord:
    return parse_accord(accord_version(keys, parties=parties, version=2, effective_at=E,
                                       **({"unmanned": (2.0, 1000.0)} | changes)), "v2")


def envelope(key: SigningKey, m: Any, at: float) -> dict[str, Any]:
    return {"message": m.to_dict(), "transmitted_at": at,
            "transmit_sig": sign(key, transmit_bytes(m.id, m.recipient, at))}


def next_seq(node: Node, sender: str) -> int:
    rows = node.store._read("SELECT last_seq FROM line_streams WHERE sender = ? AND "
                            "recipient = ?", (sender, node.party))
    return (rows[0][0] if rows else 0) + 1


def forged(t: Trio, sender: str, to: str, kind: str, body: dict[str, Any], *,
           key: SigningKey | None = None, in_reply_to: str | None = None,
           accord: str | None = None, created_at: float | None = None) -> Any:
    """A message signed by ``key`` (default: the sender's own), posted straight to
    ``to``'s node: (status, reply)."""
    now = t.clock()
    at = now if created_at is None else created_at
    after = {"proposal": t[to].accord.response_deadline_s,
             "distress": distress_deadline_s(t[to].accord)}.get(kind)
    # signed as given, without the sender's own checks (make_message would refuse it)
    m = Message(uuid.uuid4().hex, kind, sender, to, next_seq(t[to], sender), at,
                accord or t[to].book.at(at).sha256, in_reply_to,
                None if after is None else at + after, body, "")
    m = dataclasses.replace(m, sig=sign(key or t.keys[sender], signing_bytes(m)))
    return t[to].receive(envelope(key or t.keys[sender], m, now))


# -- the fold and the switch --------------------------------------------------------------

def test_two_party_proposal_takes_effect_at_its_time_on_both(duo: Trio,
                                                             keys: dict[str, Any]) -> None:
    us, ru = duo["us"], duo["ru"]
    v1, new = us.accord, v2(keys)
    sent = us.propose(new, "unmanned minima doubled", E, ["ru"])
    duo.deliver()
    assert ru.book.status(new.sha256, duo.clock()) == "pending"
    assert ru.book.proposals[new.sha256].awaited == ("ru",)
    ru.answer(new.sha256, "accept", "agreed")
    duo.deliver()
    for n in (us, ru):
        assert n.book.status(new.sha256, duo.clock()) == "accepted"
        assert n.accord.sha256 == v1.sha256  # not before its time
        assert n.book.next_switch_after(duo.clock()) == E
    # a message made just before the switch, delivered after it: still good
    duo.clock.t = E - 1.0
    early = us.send("ru", "text", {"text": "under v1"})
    duo.clock.t = E
    for n in (us, ru):
        assert n.accord.sha256 == new.sha256
        assert n.book.status(new.sha256, E) == "in force"
    duo.deliver()
    assert ru.store.find(early.id) is not None and early.accord == v1.sha256
    late = us.send("ru", "text", {"text": "under v2"})
    assert late.accord == new.sha256
    duo.deliver()
    assert ru.store.find(late.id) is not None
    assert [h["version"] for h in ru.book.history()] == [1, 2]
    assert sent[0].due_at == sent[0].created_at + v1.response_deadline_s
    # a message under the superseded version, made after the switch: refused, both named
    status, reply = forged(duo, "us", "ru", "text", {"text": "old"}, accord=v1.sha256)
    assert status == 409 and reply["kind"] == "accord-mismatch"
    assert "v1" in reply["error"] and "superseded" in reply["error"] and "v2" in reply["error"]
    assert ru.store.refusals()[-1].kind == "accord-mismatch"
    # the logs still verify, each message with the keys of the accord it names
    for n in (us, ru):
        assert verify_log(n.store.path).ok


def test_three_party_rejection_never_takes_effect(trio: Trio, keys: dict[str, Any]) -> None:
    new = v2(keys, parties=PARTIES)
    trio["us"].propose(new, "v2", E)
    trio.deliver()
    trio["ru"].answer(new.sha256, "accept", "fine")
    trio.deliver()
    assert trio["tr"].book.proposals[new.sha256].answers["ru"].decision == "accept"
    trio["tr"].answer(new.sha256, "reject", "the border zone is missing")
    trio.deliver()
    trio.clock.t = E + 10
    for n in trio.nodes.values():
        assert n.book.status(new.sha256, trio.clock()) == "rejected"
        assert n.accord.version == 1
        assert n.book.proposals[new.sha256].answers["tr"].text == "the border zone is missing"
    with pytest.raises(MessageRefused, match="already answered"):
        trio["tr"].answer(new.sha256, "accept", "changed my mind")


def test_a_proposal_whose_time_passes_lapses(duo: Trio, keys: dict[str, Any]) -> None:
    new = v2(keys)
    duo["us"].propose(new, "v2", E)
    duo.deliver()
    debts = store_debts(duo["ru"].store, 180.0, T0 + 200)
    assert [(d.what, d.debtor, d.level) for d in debts] == [("answer", "ru", "overdue")]
    duo.clock.t = E + 1
    with pytest.raises(MessageRefused, match="too late: it never takes effect"):
        duo["ru"].answer(new.sha256, "accept", "late")
    assert duo["ru"].book.status(new.sha256, duo.clock()) == "lapsed"
    assert duo["ru"].accord.version == 1
    assert store_debts(duo["ru"].store, 180.0, E + 1) == []  # no longer owed


def test_restart_mid_negotiation_resumes_from_the_log(trio: Trio,
                                                      keys: dict[str, Any]) -> None:
    v1 = trio["ru"].accord
    new = v2(keys, parties=PARTIES)
    trio["us"].propose(new, "v2", E)
    trio.deliver()
    trio["ru"].answer(new.sha256, "accept", "ok")
    trio.deliver()
    ru = trio.reopen("ru", v1)  # started again with the old file
    assert ru.book.proposals[new.sha256].awaited == ("tr",)
    trio["tr"].answer(new.sha256, "accept", "ok")
    trio.deliver()
    trio.clock.t = E
    assert ru.accord.sha256 == new.sha256
    # started with a file the log never agreed to: refused, naming both
    other = v2(keys, parties=PARTIES, deadline_s=60.0)
    with pytest.raises(MessageRefused, match="never agreed"):
        trio.reopen("ru", other)


def test_amendment_changes_only_the_unmanned_minima(duo: Trio, keys: dict[str, Any]) -> None:
    v1, new = duo["us"].accord, v2(keys)
    changes = {c.path: (c.op, c.old, c.new) for c in accord_diff(v1, new)}
    # by hand: version 1 -> 2, an effective time added (v1's text has none),
    # unmanned/unmanned 1 NM / 500 ft -> 2 NM / 1000 ft
    assert changes == {
        "accord.version": ("changed", 1, 2),
        "accord.effective": ("added", None, "2015-10-20T00:10:00Z"),
        "separation[unmanned/unmanned].horizontal_nm": ("changed", 1.0, 2.0),
        "separation[unmanned/unmanned].vertical_ft": ("changed", 500.0, 1000.0)}
    text = diff_text(v1, new)
    assert "4 changes" in text and "unmanned/unmanned].horizontal_nm: 1 NM -> 2 NM" in text
    three = parse_accord(accord_version(keys), "x")
    removed = {c.path: c.op for c in accord_diff(three, v1)}
    assert removed == {"parties[tr].name": "removed", "parties[tr].public_key": "removed"}
    duo["us"].propose(new, "amend unmanned minima", E)
    duo.deliver()
    duo["ru"].answer(new.sha256, "accept", "ok")
    duo.deliver()
    duo.clock.t = E
    assert duo["ru"].accord.minima("unmanned", "unmanned").horizontal_nm == 2.0
    assert duo["ru"].accord.minima("manned", "manned").horizontal_nm == 5.0


# -- attacks ------------------------------------------------------------------------------

def test_forged_proposals_and_answers_are_refused(trio: Trio, keys: dict[str, Any]) -> None:
    new = v2(keys)  # us and ru only
    body = {"text": "v2", "accord_text": new.canonical_json(), "accord_sha256": new.sha256,
            "effective_at": E}
    # signed by ru's key but claiming to come from us: the signature fails
    status, reply = forged(trio, "us", "tr", "proposal", body, key=keys["ru"])
    assert status == 403 and "signature" in reply["error"]
    # a party that is no party of the accord (its own key): unknown sender
    stranger = generate_key()
    status, reply = forged(trio, "iq", "ru", "proposal", body, key=stranger)
    assert status == 403 and "unknown sender 'iq'" in reply["error"]
    status, reply = forged(trio, "iq", "us", "acceptance", {
        "text": "yes", "accord_sha256": new.sha256, "decision": "accept"}, key=stranger,
        in_reply_to="a" * 32)
    assert status == 403 and "unknown sender 'iq'" in reply["error"]
    # a proposal to a party the new version does not name
    status, reply = forged(trio, "us", "tr", "proposal", body)
    assert status == 400 and "recipient 'tr' is not a party" in reply["error"]
    # a hash that does not match the text
    status, reply = forged(trio, "us", "ru", "proposal", {**body, "accord_sha256": "f" * 64})
    assert status == 400 and "does not match the accord text" in reply["error"]
    # an oversized accord text
    big = "x" * 60_000
    status, reply = forged(trio, "us", "ru", "proposal", {
        **body, "accord_text": big, "accord_sha256": hashlib.sha256(big.encode()).hexdigest()})
    assert status == 400 and "at most" in reply["error"]
    # a valid JSON text that is not an accord's canonical form
    status, reply = forged(trio, "us", "ru", "proposal", {
        **body, "accord_text": "{}", "accord_sha256": hashlib.sha256(b"{}").hexdigest()})
    assert status == 400 and "not a valid accord" in reply["error"]
    # a version that does not increase
    same = parse_accord(accord_version(keys, parties=("us", "ru"), effective_at=E,
                                       deadline_s=60.0), "v1b")
    status, reply = forged(trio, "us", "ru", "proposal", {
        **body, "accord_text": same.canonical_json(), "accord_sha256": same.sha256})
    assert status == 400 and "versions only increase" in reply["error"]
    # an acceptance of a proposal nobody made
    status, reply = forged(trio, "ru", "us", "acceptance", {
        "text": "yes", "accord_sha256": new.sha256, "decision": "accept"}, in_reply_to="a" * 32)
    assert status == 400 and "does not know" in reply["error"]
    # now the real proposal; tr, not named by it, answers anyway
    sent = trio["us"].propose(new, "v2", E, ["ru"])
    trio.deliver()
    status, reply = forged(trio, "tr", "us", "acceptance", {
        "text": "yes", "accord_sha256": new.sha256, "decision": "accept"},
        in_reply_to=sent[0].id)
    assert status == 400 and "not a party of proposal" in reply["error"]
    # the proposer answering its own proposal
    status, reply = forged(trio, "us", "ru", "acceptance", {
        "text": "yes", "accord_sha256": new.sha256, "decision": "accept"},
        in_reply_to=sent[0].id)
    assert status == 400 and "proposing is its acceptance" in reply["error"]
    assert trio["us"].book.proposals[new.sha256].answers == {}
    # ru's real acceptance, then the same envelope replayed: answered as a duplicate,
    # counted once; a second answer with a new id is refused
    (ok,) = trio["ru"].answer(new.sha256, "accept", "agreed")
    env = trio["ru"].envelope(ok)
    assert trio["us"].receive(env)[1]["status"] == "accepted"
    assert trio["us"].receive(env)[1]["status"] == "duplicate"
    assert trio["us"].store.refusals()[-1].kind == "replay"
    assert trio["us"].book.proposals[new.sha256].answers["ru"].msg_ids == (ok.id,)
    status, reply = forged(trio, "ru", "us", "acceptance", {
        "text": "again", "accord_sha256": new.sha256, "decision": "reject"},
        in_reply_to=sent[0].id)
    assert status == 400 and "already answered" in reply["error"]
    assert trio["us"].book.status(new.sha256, trio.clock()) == "accepted"


def test_propose_refuses_what_cannot_work(duo: Trio, keys: dict[str, Any]) -> None:
    new = v2(keys)
    with pytest.raises(InputError, match="goes to ru"):
        duo["us"].propose(new, "v2", E, ["tr"])
    with pytest.raises(InputError, match="not after now"):
        duo["us"].propose(new, "v2", T0 - 1)
    with pytest.raises(MessageRefused, match="effective time"):
        duo["us"].propose(new, "v2", E + 5)  # the text says E
    assert duo["us"].store.entries() == []


# -- suspension -----------------------------------------------------------------------------

def test_suspension_of_the_accord_in_force(duo: Trio, keys: dict[str, Any]) -> None:
    (m,) = duo["ru"].suspend("Shayrat strike")
    assert m.body["accord_sha256"] == duo["ru"].accord.sha256
    duo.deliver()
    sha = duo["us"].accord.sha256
    for n in duo.nodes.values():
        assert [s.reason for s in n.book.suspended(sha)] == ["Shayrat strike"]
    # a suspension of another version is refused
    status, reply = forged(duo, "ru", "us", "suspension",
                           {"reason": "x", "accord_sha256": "e" * 64})
    assert status == 400 and "suspends the accord in force" in reply["error"]
    # resumption: a new version accepted by all; its suspensions start empty
    new = v2(keys)
    duo["us"].propose(new, "resume", E)
    duo.deliver()
    duo["ru"].answer(new.sha256, "accept", "resume")
    duo.deliver()
    duo.clock.t = E
    assert duo["us"].book.suspended(duo["us"].accord.sha256) == []


# -- distress --------------------------------------------------------------------------------

def test_distress_overtakes_the_queue_in_its_own_lane(trio: Trio) -> None:
    us, ru = trio["us"], trio["ru"]
    trio.links[("us", "ru")].down = True
    queued = [us.send("ru", "text", {"text": f"n{i}"}) for i in range(30)]
    calls = us.distress({"lat": 35.4, "lon": 35.9, "frequency_mhz": 243.0,
                         "callsign": "SHARK 21", "nature": "ejection"})
    assert [c.recipient for c in calls] == ["ru", "tr"]
    assert all(c.seq == 1 and c.due_at == c.created_at + 60.0 for c in calls)
    us._backoff.clear()
    us.deliver_once()
    assert trio["tr"].store.find(calls[1].id) is not None  # tr reached at once
    trio.links[("us", "ru")].down = False
    us._backoff.clear()
    us.deliver_once()
    kinds = [m.kind for _, _, _, m in ru.store.messages(direction="received")]
    assert kinds[0] == "distress" and kinds.count("text") == len(queued)
    # owed: an acknowledgement within the accord's tightest deadline (60 s)
    trio.clock.t += 61
    owed = store_debts(ru.store, 180.0, trio.clock())
    assert [(d.what, d.debtor, d.level) for d in owed] == [("acknowledgement", "ru", "overdue")]
    ack = ru.send("us", "response", {"text": "rescue launched", "priority": True},
                  in_reply_to=calls[0].id)
    assert ack.seq == 1  # ru's priority lane to us
    trio.deliver()
    assert store_debts(ru.store, 180.0, trio.clock()) == []
    assert store_debts(us.store, 180.0, trio.clock()) == [
        d for d in store_debts(us.store, 180.0, trio.clock()) if d.debtor == "tr"]
    with pytest.raises(MessageRefused, match="priority"):
        ru.send("us", "response", {"text": "x", "priority": True}, in_reply_to=queued[0].id)
    # a gap in the priority lane is asked again and resolved like the ordinary stream's
    trio.links[("us", "ru")].down = True
    first = us.distress({"lat": 35.0, "lon": 36.0, "frequency_mhz": 121.5})[0]
    second = us.distress({"lat": 35.1, "lon": 36.1, "frequency_mhz": 121.5})[0]
    assert (first.seq, second.seq) == (2, 3)
    status, reply = ru.receive(us.envelope(second))
    assert status == 409 and reply["expected"] == 2
    (gap,) = [i for i in ru.store.incidents(open_only=True) if i.kind == "gap"]
    assert gap.stream == "us->ru#priority"
    trio.links[("us", "ru")].down = False
    trio.deliver()
    assert [i for i in ru.store.incidents(open_only=True) if i.kind == "gap"] == []
    assert ru.store.find(second.id) is not None
    for n in (us, ru):
        report = verify_log(n.store.path)
        assert report.ok, report.problems


def test_book_fold_is_the_same_from_the_log(trio: Trio, keys: dict[str, Any]) -> None:
    new = v2(keys, parties=PARTIES)
    trio["us"].propose(new, "v2", E)
    trio.deliver()
    trio["ru"].answer(new.sha256, "accept", "ok")
    trio["tr"].answer(new.sha256, "accept", "ok")
    trio.deliver()
    for n in trio.nodes.values():
        again = AccordBook(n.book.genesis).fold(
            m for _, _, _, m in n.store.messages(kinds=("proposal", "acceptance")))
        assert again.history() == n.book.history()
        assert [h["effective_at"] for h in again.history()] == [None, E]


def test_line_send_leaves_the_accords_messages_to_the_node(files: Path) -> None:
    from typer.testing import CliRunner

    from skyaccord.cli import app

    config = files / "us.toml"
    config.write_text('[node]\nparty = "us"\nkey = "us.key"\ndb = "us.db"\n'
                      'accord = "accord.toml"\nport = 8701\n[peers]\nru = "http://127.0.0.1:1"\n')
    r = CliRunner().invoke(app, ["line", "send", "--config", str(config), "--to", "ru",
                                 "--kind", "suspension", "--body", '{"reason": "x"}'])
    assert r.exit_code == 2 and "skyaccord accord propose|answer|suspend" in r.output
    assert not (files / "us.db").exists()
