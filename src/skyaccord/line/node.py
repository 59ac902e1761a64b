"""A party's node: signs and stores what it sends, checks and acknowledges what it gets,
and delivers its outbox to peers in order, with back-off while a peer is down.

No HTTP here: :mod:`skyaccord.line.app` exposes :meth:`Node.receive` and friends, and
:class:`~skyaccord.line.peer.Transport` reaches peers. Time comes from ``clock``.

Refusal order on receipt (each refusal is recorded with its reason, see
:meth:`LineStore.refusals`): malformed (400) → not addressed to this node (400) → unknown
sender or no key (403) → bad message or transmission signature (403) → not under the
accord in force at its ``created_at`` (409, naming both versions; 503 held while this
node does not know which version is in force then; but a gap before it first, 409, see
:meth:`Node._gap_first`) → transmitted outside the clock-skew window (403) → a due time
other than the accord's, an answer to what this node did not send, an accord message
that breaks the accord's rules (:meth:`~skyaccord.line.accords.AccordBook.check`, 400) →
id known with other content, sequence already used (replay) or a gap (409). The very
same message again is answered with the original acknowledgement (200, ``duplicate``)
and recorded as a replay.

The accord in force is not fixed: :attr:`Node.accord` is the version the log's
proposals and answers put in force now (:class:`~skyaccord.line.accords.AccordBook`).
While a proposal's outcome is undecided here (its time passed, an answer is missing
and its party has not been heard from since), ordinary messages made after that time
are neither signed nor accepted but held (:class:`~skyaccord.errors.AccordUndecided`,
503); checkpoints and the priority lane go on, and conflict messages (safety) are never
held: made then, they go in the priority lane (see the accords module).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from skyaccord.errors import (
    AccordMismatch,
    AccordUndecided,
    InputError,
    LineError,
    MessageRefused,
    NotFound,
    ProtocolError,
    SequenceError,
    SignatureError,
    SkyaccordError,
)
from skyaccord.line.accords import (
    ACCORD_KINDS,
    SAFETY_KINDS,
    AccordBook,
    Proposal,
    due_after_s,
)
from skyaccord.line.keys import SigningKey, public_key_b64, sign, verify
from skyaccord.line.messages import (
    DUE_KINDS,
    MAX_SEQ,
    PRIORITY_SUFFIX,
    Message,
    canonical,
    is_priority,
    lane,
    make_message,
    parse_envelope_bytes,
    parse_message,
)
from skyaccord.line.peer import Transport
from skyaccord.line.store import LineStore
from skyaccord.protocol import Accord, accord_from_dict

__all__ = ["BACKOFF_INITIAL_S", "BACKOFF_MAX_S", "DEFAULT_SKEW_S", "Deliverer", "Node",
           "RefusalLimiter", "resync_bytes", "transmit_bytes"]

#: a node signs its log's head to its peers at most this often (when it has news)
CHECKPOINT_INTERVAL_S = 600.0
#: failed attempts after which a stream is listed as stuck (and logged once)
STUCK_AFTER_ATTEMPTS = 10
#: kinds that answer another party's message (acks are the node's own, see receive)
ANSWER_KINDS = frozenset({"response", "acceptance"})
# Clocks of the nodes must agree within this window (AIDC asks for 1 s of UTC; the window
# also covers network and queueing delay of one transmission, not the message's age).
DEFAULT_SKEW_S = 30.0
# Outbox retry back-off per peer: doubles from 0.1 s up to 5 s while a peer is down.
BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 5.0

_log = logging.getLogger(__name__)


#: refusals recorded per second per source address, and the burst allowed (token bucket)
REFUSAL_RATE_PER_S = 1.0
REFUSAL_BURST = 20
#: refusals recorded per second from all sources together (many addresses, one disk)
REFUSAL_TOTAL_RATE_PER_S = 10.0
REFUSAL_TOTAL_BURST = 100


class RefusalLimiter:
    """Token buckets that decide which refusals are recorded: ``burst`` at once, then
    ``rate_per_s``, per source address and for all sources together. A refusal over the
    rate is still answered (4xx), only counted: the next one recorded from that source
    carries the count (``suppressed``). At most ``max_sources`` addresses are tracked
    (the least recently seen forgotten first), so memory stays bounded too.
    """

    def __init__(self, rate_per_s: float = REFUSAL_RATE_PER_S, burst: int = REFUSAL_BURST,
                 total_rate_per_s: float = REFUSAL_TOTAL_RATE_PER_S,
                 total_burst: int = REFUSAL_TOTAL_BURST, max_sources: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s, self.burst = rate_per_s, float(burst)
        self.total_rate_per_s, self.total_burst = total_rate_per_s, float(total_burst)
        self.max_sources, self.clock = max_sources, clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # tokens, t, skipped
        self._total = [self.total_burst, clock()]
        self._lock = threading.Lock()
        self.suppressed = 0
        """refusals not recorded since this node started"""

    def admit(self, source: str | None) -> int | None:
        """None when this refusal is over the rate (counted), else how many refusals of
        this source were not recorded before it."""
        key = source or "-"
        with self._lock:
            now = self.clock()
            b = self._buckets.pop(key, None) or [self.burst, now, 0.0]
            self._buckets[key] = b
            while len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
            b[0] = min(self.burst, b[0] + (now - b[1]) * self.rate_per_s)
            b[1] = now
            t = self._total
            t[0] = min(self.total_burst, t[0] + (now - t[1]) * self.total_rate_per_s)
            t[1] = now
            if b[0] < 1.0 or t[0] < 1.0:
                b[2] += 1
                self.suppressed += 1
                return None
            b[0] -= 1.0
            t[0] -= 1.0
            skipped, b[2] = int(b[2]), 0.0
            return skipped


def resync_bytes(sender: str, recipient: str, expected: int, at: float) -> bytes:
    """What a receiver signs when it tells ``sender`` where its stream stands."""
    return b"skyaccord-resync/1\n" + canonical([sender, recipient, expected, at]).encode()


class _Resent(LineError):
    """Messages were queued again at the peer's request: deliver from there now."""


def transmit_bytes(msg_id: str, recipient: str, transmitted_at: float) -> bytes:
    """What the sender signs for one transmission attempt (the envelope)."""
    return b"skyaccord-transmit/1\n" + canonical([msg_id, recipient,
                                                  transmitted_at]).encode()


class Node:
    """The node of ``party`` under ``accord``, with its store and its peers' transports."""

    def __init__(self, party: str, key: SigningKey, accord: Accord, store: LineStore,
                 peers: Mapping[str, Transport] | None = None, *,
                 clock: Callable[[], float] = time.time, skew_s: float = DEFAULT_SKEW_S
                 ) -> None:
        own = accord.party(party)
        if own.public_key is not None and own.public_key != public_key_b64(key):
            raise SignatureError(f"the key given is not party {party!r}'s key in accord "
                                 f"{accord.id!r}")
        for peer in peers or {}:
            accord.party(peer)
        self.party, self.key, self.store = party, key, store
        self.peers: dict[str, Transport] = dict(peers or {})
        self.clock, self.skew_s = clock, skew_s
        self.checkpoint_interval_s = CHECKPOINT_INTERVAL_S
        self._accord_lock = threading.RLock()
        self.book = self._open_book(accord)
        """the accords of this node's log: the version in force at any time"""
        self.listeners: list[Callable[[Message, float], None]] = []
        """called with each message accepted from a peer (after it is logged)"""
        self._priority = threading.Event()  # a priority message waits: deliver it first
        self._backoff: dict[str, tuple[float, float]] = {}  # peer -> (next try, delay)
        self.wake = threading.Event()
        self.refusal_limiter = RefusalLimiter()
        self.refusal_write_failures = 0
        """refusals that could not be recorded (store failing: disk full, read-only)"""
        self.internal_errors = 0
        """envelopes that hit a bug (answered 500, never raised)"""

    # -- the accord ------------------------------------------------------------------
    def _open_book(self, accord: Accord) -> AccordBook:
        """The accord's state from this log: the accord it began under (recorded at its
        first opening), folded with the proposals, answers and suspensions logged since.
        An accord given now that the log never agreed to is refused: a node runs only
        versions its parties accepted."""
        store = self.store
        meta = store.meta("accord")
        first = meta.get("accord_genesis")
        genesis = accord
        if first is not None and f"accord:{first}" in meta and first != accord.sha256:
            try:
                genesis = accord_from_dict(json.loads(meta[f"accord:{first}"]),
                                           f"the accord recorded in {store.where}")
            except (ValueError, ProtocolError) as exc:
                raise AccordMismatch(f"{store.where}: the accord this log began under is "
                                     f"unreadable: {exc}") from None
        book = self._fold_log(genesis)
        if accord.sha256 not in book.accords:
            raise AccordMismatch(
                f"{store.where}: this log runs {book.describe(book.at(self.clock()).sha256)}"
                f" (it began under {book.describe(genesis.sha256)}); the accord given, "
                f"{accord.id} v{accord.version} ({accord.sha256[:12]}), was never agreed on "
                "this line: a new version takes effect through a proposal all its parties "
                "accept (skyaccord accord propose)")
        if not store.readonly:
            if first is None:
                store.set_meta("accord_genesis", genesis.sha256)
            store.record_accord(genesis.sha256, genesis.canonical_json())
        return book

    def _fold_log(self, genesis: Accord) -> AccordBook:
        """The book of this log from ``genesis``: its accord messages folded, and, for
        the proposals whose outcome the answers do not settle, the last message each
        awaited party sent in its ordinary stream here (:meth:`AccordBook.hear`)."""
        book = AccordBook(genesis, self.party)
        first: dict[str, int] = {}
        for pos, _, _, m in self.store.messages(kinds=ACCORD_KINDS):
            book.apply(m)
            if m.kind == "proposal":
                first.setdefault(str(m.body["accord_sha256"]), pos)
        since: dict[str, int] = {}  # party -> log position from which to look
        for p in book.proposals.values():
            if not p.accepted and not p.rejected_by:
                for x in p.awaited:
                    if x != self.party:
                        since[x] = min(since.get(x, first[p.sha256]), first[p.sha256])
        for x, pos in since.items():
            # its word after an effective time follows the proposal in this log (this
            # node answered it, so it held it before that time)
            for _, _, _, m in self.store.messages(direction="received", peer=x, after=pos):
                if m.kind != "ack" and not is_priority(m):
                    book.hear(x, m.created_at)
        return book

    def _fold(self, message: Message) -> None:
        """Apply a logged accord message to the book; a version now accepted by all is
        recorded (``line_meta``), so that ``line verify`` knows its keys."""
        self.book.apply(message)
        p = self.book.proposals.get(str(message.body.get("accord_sha256")))
        if message.kind == "acceptance" and p is not None and p.accepted:
            self.store.record_accord(p.sha256, p.accord.canonical_json())

    @property
    def accord(self) -> Accord:
        """The accord in force now (:meth:`AccordBook.at` of this node's clock)."""
        return self.book.at(self.clock())

    @accord.setter
    def accord(self, value: Accord) -> None:
        # run ``value`` from now on, as if this log had begun under it (tests, tools)
        with self._accord_lock:
            self.book = self._fold_log(value)

    def record_switch(self, old: Accord, new: Accord, at: float) -> None:
        """Record in this node's log database that ``new`` replaced ``old`` at ``at``
        (``line_meta`` ``switch:...``; the accord itself as ``accord:<sha256>``, which
        ``line verify`` reads). Idempotent: a switch is recorded once."""
        if self.store.readonly:
            return
        self.store.record_accord(new.sha256, new.canonical_json())
        self.store.set_meta(f"switch:{new.sha256}", canonical(
            {"from": old.sha256, "from_version": old.version, "to": new.sha256,
             "version": new.version, "effective_at": self.book.history()[-1]["effective_at"]
             if self.book.history()[-1]["sha256"] == new.sha256 else None,
             "switched_at": at}))

    def undecided(self, now: float | None = None) -> list[tuple[Proposal, tuple[str, ...]]]:
        """The proposals whose outcome this node does not know yet and on which the
        version in force now depends, each with the parties not heard from since its
        effective time (:meth:`AccordBook.undecided`); empty in the normal case."""
        return self.book.undecided(self.clock() if now is None else now)

    def switches(self) -> list[dict[str, Any]]:
        """The switches this node recorded, oldest first."""
        out = [json.loads(v) for v in self.store.meta("switch:").values()]
        return sorted(out, key=lambda d: float(d.get("switched_at") or 0.0))

    # -- sending ---------------------------------------------------------------------
    def send(self, to: str, kind: str, body: Mapping[str, Any], *,
             in_reply_to: str | None = None) -> Message:
        """Sign, log and queue a message to party ``to``; requests, proposals and
        distress calls get their due time; accord messages are checked against the
        accord's state (:class:`~skyaccord.line.accords.AccordBook`) first."""
        return self.send_group([(to, kind, body, in_reply_to)])[0]

    def send_group(self, items: Sequence[tuple[str, str, Mapping[str, Any], str | None]]
                   ) -> list[Message]:
        """:meth:`send` of several ``(to, kind, body, in_reply_to)`` in one transaction:
        all or none (a proposal to each party, an answer to each, a distress call to
        everyone)."""
        now = self.clock()
        accord = self.book.at(now)
        open_ = self.book.undecided(now)
        builds = []
        priority = False
        for to, kind, body, in_reply_to in items:
            if kind == "ack":
                raise MessageRefused("acknowledgements are made by the receiving node only")
            accord.party(to)
            body = self._safety_lane(kind, body, open_)
            if kind in ANSWER_KINDS and kind != "acceptance" and in_reply_to is not None:
                found = self.store.find(in_reply_to)
                if found is None or found[0] != "received" or found[1].sender != to:
                    raise MessageRefused(f"a {kind} to {to!r} must answer a message "
                                         f"received from {to!r}; {in_reply_to} is not one")
                if body.get("priority") is True and found[1].kind != "distress":
                    raise MessageRefused("body.priority: only the acknowledgement of a "
                                         f"distress call is a priority response; "
                                         f"{in_reply_to} is a {found[1].kind}")
                if open_ and found[1].kind in SAFETY_KINDS:
                    # the answer to a safety message is safety too: not held either
                    body = {**body, "priority": True}
            fast = kind == "distress" or (kind in ("response", "conflict")
                                          and body.get("priority") is True)
            if not fast and open_:  # the priority lane is never held (see accords)
                raise self.book.undecided_error(open_, f"a {kind} to {to}")
            after = due_after_s(kind, accord)
            due = None if after is None else now + after

            def build(seq: int, to: str = to, kind: str = kind,
                      body: Mapping[str, Any] = body, in_reply_to: str | None = in_reply_to,
                      due: float | None = due) -> Message:
                m = make_message(self.key, kind=kind, sender=self.party, recipient=to,
                                 seq=seq, created_at=now, accord=accord.sha256, body=body,
                                 in_reply_to=in_reply_to, due_at=due)
                if kind in ACCORD_KINDS:
                    self.book.check(m, own_party=self.party)
                if kind == "acceptance" and body.get("decision") == "accept":
                    # inside the log's write lock: an acceptance is logged only while its
                    # proposal's time has not passed, so every message made after that
                    # time is logged after it and follows it in each stream (what lets
                    # the others decide a lapse from a party's later messages)
                    p = self.book.proposals.get(str(body.get("accord_sha256")))
                    if p is not None and self.clock() > p.effective_at:
                        raise MessageRefused(f"proposal {p.sha256[:12]} took effect at "
                                             f"{p.effective_at:.3f} while this acceptance "
                                             "was being logged: too late, it never takes "
                                             "effect")
                return m

            priority |= fast
            builds.append((to + PRIORITY_SUFFIX if fast else to, build))
        with self._accord_lock:
            messages = self.store.record_outgoing_many(builds, now)
            for m in messages:
                if m.kind in ACCORD_KINDS:
                    self._fold(m)
        if priority:
            self._priority.set()
        self.wake.set()
        return messages

    # -- the accord's life: propose, answer, suspend; distress ----------------------
    def _reachable(self, parties: Sequence[str], what: str) -> None:
        missing = [p for p in parties if p not in self.peers]
        if missing:
            raise InputError(f"{what} goes to {', '.join(parties)}, but no peer is "
                             f"configured for {', '.join(missing)} ([peers] has "
                             f"{', '.join(sorted(self.peers)) or 'none'})")

    def propose(self, new: Accord, text: str, effective_at: float,
                to: Sequence[str] | None = None) -> list[Message]:
        """Propose ``new`` to every other party it names, to take effect at
        ``effective_at`` (UTC s) once all have accepted; ``to``, when given, must be
        exactly those parties. Proposing is this party's acceptance."""
        now = self.clock()
        current = self.book.at(now)
        names = [p.id for p in new.parties]
        if self.party not in names:
            raise InputError(f"the proposed accord does not name this party {self.party!r}")
        others = [p for p in names if p != self.party]
        if to is not None and sorted(set(to)) != others:
            raise InputError(f"--to: the proposed accord names {', '.join(names)}; every "
                             f"other party must accept it, so it goes to {', '.join(others)}"
                             f" (given {', '.join(to) or 'none'})")
        strangers = [p for p in others if p not in {q.id for q in current.parties}]
        if strangers:
            raise InputError(f"{', '.join(strangers)} not a party of the accord in force "
                             f"({current.id} v{current.version}): the line cannot reach a "
                             "new party before it joins")
        self._reachable(others, "the proposal")
        if not math.isfinite(effective_at) or effective_at <= now:
            raise InputError(f"effective: {effective_at:.3f} is not after now ({now:.3f})")
        body = {"text": text, "accord_text": new.canonical_json(),
                "accord_sha256": new.sha256, "effective_at": float(effective_at)}
        return self.send_group([(p, "proposal", body, None) for p in others])

    def answer(self, sha256: str, decision: str, text: str) -> list[Message]:
        """Accept or reject proposal ``sha256`` with a reason: the signed answer goes to
        the proposer and to every other party of the proposed version."""
        p = self.book.proposals.get(sha256)
        if p is None:
            raise NotFound(f"no proposal {sha256[:12]} is known to this node")
        if p.proposer == self.party:
            raise InputError(f"this party proposed {sha256[:12]}: proposing was its "
                             "acceptance")
        if decision not in ("accept", "reject"):
            raise InputError(f"decision: accept or reject, not {decision!r}")
        others = [q for q in p.parties if q != self.party]
        self._reachable(others, "the answer")
        body = {"text": text, "accord_sha256": sha256, "decision": decision}
        return self.send_group([(q, "acceptance", body, p.messages.get(self.party))
                                for q in others])

    def suspend(self, reason: str) -> list[Message]:
        """Suspend the accord in force, with a reason, to every other party (its
        automatic messages stop on every node until a new version takes effect)."""
        accord = self.accord
        others = [p.id for p in accord.parties if p.id != self.party]
        self._reachable(others, "the suspension")
        body = {"reason": reason, "accord_sha256": accord.sha256}
        return self.send_group([(p, "suspension", body, None) for p in others])

    def distress(self, body: Mapping[str, Any]) -> list[Message]:
        """A distress call to every party with a configured peer at once, in the
        priority lane, due within the accord's tightest deadline."""
        others = [p.id for p in self.accord.parties if p.id != self.party
                  and p.id in self.peers]
        if not others:
            raise InputError("no other party's peer is configured: nobody to call")
        return self.send_group([(p, "distress", body, None) for p in others])

    def send_many(self, items: Sequence[tuple[str, str, Mapping[str, Any]]]
                  ) -> list[Message]:
        """Sign, log and queue ``(to, kind, body)`` messages in one transaction: the
        automatic messages of one tick. Kinds that answer or carry a due time go through
        :meth:`send`. While the version in force is undecided here, conflict messages go
        in the priority lane (:meth:`_safety_lane`); any other kind holds the whole
        group (:class:`AccordUndecided`, nothing logged)."""
        now = self.clock()
        builds = []
        open_ = self.book.undecided(now) if items else []
        if open_ and any(kind not in SAFETY_KINDS for _, kind, _ in items):
            raise self.book.undecided_error(open_, f"{len(items)} automatic message(s)")
        priority = False
        for to, kind, body in items:
            if (kind in ANSWER_KINDS or kind in DUE_KINDS or kind in ACCORD_KINDS
                    or kind == "ack"):
                raise MessageRefused(f"send_many is for notices; send a {kind} with send()")
            body = self._safety_lane(kind, body, open_)
            accord = self.book.at(now)
            accord.party(to)

            def build(seq: int, to: str = to, kind: str = kind,
                      body: Mapping[str, Any] = body, sha: str = accord.sha256) -> Message:
                return make_message(self.key, kind=kind, sender=self.party, recipient=to,
                                    seq=seq, created_at=now, accord=sha,
                                    body=body, in_reply_to=None, due_at=None)

            fast = bool(open_)  # (then every item is a safety message)
            priority |= fast
            builds.append((to + PRIORITY_SUFFIX if fast else to, build))
        messages = self.store.record_outgoing_many(builds, now)
        if priority:
            self._priority.set()
        if messages:
            self.wake.set()
        return messages

    @staticmethod
    def _safety_lane(kind: str, body: Mapping[str, Any],
                     open_: Sequence[tuple[Proposal, tuple[str, ...]]]) -> Mapping[str, Any]:
        """The body a message of ``kind`` is signed with: a safety message (a conflict)
        made while the version in force is undecided here (``open_``) is flagged
        ``priority`` and travels in the priority lane, under the version this node last
        knew, which every receiver takes under any version that is, was or may be in
        force (:meth:`AccordBook.plausible`): safety does not wait on a negotiation.
        Otherwise the body is unchanged (the ordinary stream). The flag is the node's,
        never the caller's."""
        if kind not in SAFETY_KINDS:
            return body
        if "priority" in body:
            raise MessageRefused(f"body.priority: the node puts a {kind} message in the "
                                 "priority lane itself, only while the accord in force is "
                                 "undecided here")
        return {**body, "priority": True} if open_ else body

    # -- checkpoints -----------------------------------------------------------------
    def checkpoint_due(self, now: float | None = None) -> bool:
        """Whether :meth:`send_checkpoints` should run: the log has new messages since
        the last checkpoint (not only checkpoints and acks), and
        :attr:`checkpoint_interval_s` has passed since that checkpoint (or, before the
        first, since the first message); or a proposal's effective time has passed since
        the last checkpoint (checkpoints are signed even while the outcome is undecided
        here, and settle it for the others)."""
        now = self.clock() if now is None else now
        last = self.store.last_checkpoint()
        if any(p.effective_at < now and (last is None or last[1] <= p.effective_at)
               for p in list(self.book.proposals.values())):
            # a proposal's time has passed since this node last wrote to every peer:
            # its word made after that time decides a lapse for whoever still awaits
            # its answer (see AccordBook.outcome), at once, even with nothing new
            return True
        first_news = self.store.activity_after(0 if last is None else last[0])
        if first_news is None:
            return False
        since = first_news if last is None else last[1]
        return now - since >= self.checkpoint_interval_s

    def send_checkpoints(self, peers: Sequence[str] | None = None) -> list[Message]:
        """Sign this log's current length and head hash to each peer (a ``checkpoint``
        message in its stream, which the peer keeps in its own log): a later rewrite or
        rollback of this log contradicts what it signed, without the peer needing this
        node's database (see :meth:`receive` and :func:`~skyaccord.line.log.cross_check`).
        The node's tick loop calls it when :meth:`checkpoint_due`."""
        targets = list(self.peers if peers is None else peers)
        now = self.clock()
        # the version in force as far as this node knows (never held: a checkpoint
        # governs nothing and is accepted under any version that may be in force)
        accord = self.book.at(now)
        for peer in targets:
            accord.party(peer)

        def build(peer: str, seq: int, count: int, head: str) -> Message:
            return make_message(self.key, kind="checkpoint", sender=self.party,
                                recipient=peer, seq=seq, created_at=now,
                                accord=accord.sha256,
                                body={"log_count": count, "log_head": head})

        out = self.store.record_checkpoints(targets, build, now) if targets else []
        self.wake.set()
        return out

    def _check_checkpoint(self, message: Message, now: float) -> None:
        """Compare a peer's new checkpoint with what it signed before (its earlier
        checkpoints, and the positions its acks gave our messages): a log that shrank,
        or holds another entry where it signed one, is recorded as a ``rollback``
        incident (the checkpoint itself is kept: it is the evidence). Never raises."""
        count, head = int(message.body["log_count"]), str(message.body["log_head"])
        found = []
        try:
            for prev in self.store.checkpoints_of(message.sender):
                if prev.seq >= message.seq:
                    continue
                pc, ph = int(prev.body["log_count"]), str(prev.body["log_head"])
                if pc > count or (pc == count and ph != head):
                    found.append((pc, f"checkpoint {prev.id} signed {pc} entries ending "
                                      f"{ph[:12]}"))
            for _, _, _, ack in self.store.messages(direction="received", kinds=("ack",),
                                                    peer=message.sender):
                pos, h = ack.body.get("log_pos"), ack.body.get("log_hash")
                if not isinstance(pos, int) or ack.created_at > message.created_at:
                    continue
                if pos > count or (pos == count and h != head):
                    found.append((pos, f"ack {ack.id} put our message {ack.in_reply_to} at "
                                       f"entry {pos} ({str(h)[:12]})"))
            if found:
                top = max(n for n, _ in found)
                self.store.record_incident(
                    "rollback", message.sender, f"{message.sender}->{self.party}",
                    expected=top, got=count, now=now,
                    detail=f"{message.sender}'s checkpoint {message.id} signs {count} "
                    f"entries ending {head[:12]}, but earlier it signed: "
                    + "; ".join(d for _, d in found[:5]) + " (its log was rolled back or "
                    "rewritten)")
        except Exception:
            self.refusal_write_failures += 1

    def envelope(self, message: Message) -> dict[str, Any]:
        now = float(self.clock())
        return {"message": message.to_dict(), "transmitted_at": now,
                "transmit_sig": sign(self.key, transmit_bytes(message.id, message.recipient,
                                                              now))}

    def deliver_once(self) -> int:
        """Try each peer whose back-off has expired; returns how many were delivered."""
        delivered = 0
        self._priority.clear()
        # every peer's priority lane first (distress calls), then the ordinary streams; a
        # priority message queued meanwhile ends the round, so the next begins with it
        for fast in (True, False):
            for peer, transport in self.peers.items():
                next_try, delay = self._backoff.get(peer, (0.0, 0.0))
                if time.monotonic() < next_try:
                    continue
                for message in self.store.pending(peer + PRIORITY_SUFFIX if fast else peer):
                    if not fast and self._priority.is_set():
                        self.wake.set()
                        return delivered
                    try:
                        self._deliver(transport, message)
                    except _Resent:
                        self.wake.set()  # the peer asked for earlier messages: go again
                        break
                    except Exception as exc:  # a peer's reply must not stop the deliverer
                        reason = str(exc) if isinstance(exc, SkyaccordError) else (
                            f"{peer}: unusable reply ({type(exc).__name__})")
                        self.store.delivery_failed(message.id, reason, self.clock())
                        delay = min(max(delay * 2, BACKOFF_INITIAL_S), BACKOFF_MAX_S)
                        self._backoff[peer] = (time.monotonic() + delay, delay)
                        self._warn_if_stuck(lane(message), message)
                        break
                    delivered += 1
                    self._backoff.pop(peer, None)
        return delivered

    def next_retry_in(self) -> float | None:
        if not self._backoff:
            return None
        return max(0.0, min(t for t, _ in self._backoff.values()) - time.monotonic())

    def _warn_if_stuck(self, peer: str, message: Message) -> None:
        item = next((o for o in self.store.stuck_outgoing() if o[0] == peer), None)
        if item is not None and item[3] == STUCK_AFTER_ATTEMPTS:
            _log.warning("line: stream %s->%s stuck at seq %d since %.0f: %s", self.party,
                         peer, message.seq, item[2], item[4])

    def stuck_streams(self, *, min_attempts: int = STUCK_AFTER_ATTEMPTS
                      ) -> list[dict[str, Any]]:
        """Streams that cannot progress, for operators (an alert, not silent retries).

        Outgoing: a peer whose next message failed ``min_attempts`` times or more (with
        since when and the last reason: peer down, refusing, or this log behind it).
        Incoming: open gaps (a peer's messages skip ahead of what this log holds: it
        lost some) and other open incidents (:meth:`LineStore.incidents`).
        """
        out: list[dict[str, Any]] = []
        for peer, seq, since, attempts, error in self.store.stuck_outgoing():
            if attempts >= min_attempts:
                out.append({"direction": "outgoing", "peer": peer,
                            "stream": f"{self.party}->{peer}", "seq": seq, "since": since,
                            "attempts": attempts, "reason": error})
        now = self.clock()
        for peer in self.peers:
            unvouched = self.store.unvouched_since(peer)
            if unvouched is not None and now - unvouched > 3 * self.checkpoint_interval_s:
                out.append({"direction": "incoming", "peer": peer,
                            "stream": f"{peer}->{self.party}", "seq": None,
                            "since": unvouched, "attempts": 0,
                            "reason": f"checkpoint overdue: {peer} has not signed its log's "
                                      f"head since messages it sent at {unvouched:.0f} (more "
                                      f"than {3 * self.checkpoint_interval_s:g} s)"})
        for inc in self.store.incidents(open_only=True):
            out.append({"direction": "outgoing" if inc.kind == "behind" else "incoming",
                        "peer": inc.peer, "stream": inc.stream, "seq": inc.expected,
                        "since": inc.first_at, "attempts": inc.times,
                        "reason": f"{inc.kind}: {inc.detail}"})
        return out

    def _deliver(self, transport: Transport, message: Message) -> None:
        status, reply = transport.deliver(self.envelope(message))
        if status != 200 or not isinstance(reply, dict) or "ack" not in reply:
            error = reply.get("error") if isinstance(reply, dict) else reply
            if status == 409 and isinstance(reply, dict) and "resync" in reply:
                self._resync(message, reply["resync"], str(error))
            raise LineError(f"{message.recipient} refused {message.id}: {status} {error}")
        ack = parse_message(reply["ack"])
        key = self.accord.party(message.recipient).public_key
        if key is None:
            raise SignatureError(f"no public key for {message.recipient!r} in the accord")
        ack.verify(key)
        if (ack.kind != "ack" or ack.sender != message.recipient
                or ack.in_reply_to != message.id or ack.body.get("digest") != message.digest):
            raise SignatureError(f"acknowledgement from {message.recipient} does not match "
                                 f"message {message.id}")
        now = self.clock()
        if float(ack.body["received_at"]) > now + self.skew_s:
            raise SignatureError(f"acknowledgement from {message.recipient} of {message.id} "
                                 "says it was received in this node's future")
        self.store.record_ack(ack, now)

    def _resync(self, message: Message, statement: Any, error: str) -> None:
        """The peer's signed word on where its copy of our stream stands: re-send from
        there when it lost messages (raises :class:`_Resent`), or record that this log
        is behind the peer (it cannot progress: an operator must act)."""
        peer = message.recipient
        try:
            expected, at, sig = statement["expected"], statement["at"], statement["sig"]
            ok = (isinstance(expected, int) and not isinstance(expected, bool)
                  and 1 <= expected <= MAX_SEQ and _finite(at) and isinstance(sig, str))
        except (TypeError, KeyError):
            ok = False
        if not ok:
            raise LineError(f"{peer}: malformed resync statement")
        now = self.clock()
        if abs(now - at) > self.skew_s:
            raise SignatureError(f"{peer}: resync statement outside the clock-skew window")
        stream = lane(message)  # the peer, or its priority lane
        verify(self._key_of(peer), resync_bytes(self.party, stream, expected, at), sig,
               who=f"resync statement of {peer!r}")
        if expected < message.seq:
            if self.store.rewind(stream, expected, now, why=error):
                raise _Resent(f"{peer} asked again from seq {expected}")
        elif expected > message.seq:
            self.store.record_incident(
                "behind", peer, f"{self.party}->{peer}", expected=expected, got=message.seq,
                now=now, detail=f"{peer} has {self.party}->{peer} up to seq {expected - 1} "
                f"but this log's next message is seq {message.seq}: this log lost messages "
                "it had sent (restored from an older backup?); the stream cannot progress "
                f"until an operator acts ({error})")

    # -- receiving -------------------------------------------------------------------
    def receive_bytes(self, raw: bytes, *, source: str | None = None
                      ) -> tuple[int, dict[str, Any]]:
        """:meth:`receive` of the raw body a peer posted (what the HTTP layer calls).

        The bytes are read by :func:`~skyaccord.line.messages.parse_envelope_bytes`: a
        key twice, NaN, over-deep nesting or any non-canonical spelling is refused (400)
        and recorded like every other refusal. ``source`` is the peer's network address.
        """
        try:
            envelope = parse_envelope_bytes(raw)
        except MessageRefused as exc:
            return self._refused(exc, source=source, raw=raw)
        return self.receive(envelope, source=source, raw=raw)

    def receive(self, envelope: Any, *, source: str | None = None,
                raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
        """Check, log and acknowledge one envelope: (HTTP status, reply body).

        Never raises: any value at all (NaN, huge integers, deep nesting, wrong types)
        is refused with a 4xx status and recorded; a store that cannot write answers 503
        (the refusal is then counted in memory, see :attr:`refusal_write_failures`).
        """
        now = self.clock()
        msg_id = sender = None
        try:
            if not isinstance(envelope, Mapping) or set(envelope) != {
                    "message", "transmitted_at", "transmit_sig"}:
                raise MessageRefused("envelope must be an object with exactly message, "
                                     "transmitted_at and transmit_sig")
            message = parse_message(envelope["message"])
            msg_id = message.id
            if message.recipient != self.party:
                raise MessageRefused(f"addressed to {message.recipient!r}; this node is "
                                     f"{self.party!r}")
            if message.kind == "ack":
                raise MessageRefused("acknowledgements come back in delivery replies only")
            key = self._key_of(message.sender)
            message.verify(key)
            sent_at = envelope["transmitted_at"]
            if not _finite(sent_at):
                raise MessageRefused("envelope field 'transmitted_at' must be a finite "
                                     "number (UTC seconds)")
            transmit_sig = envelope["transmit_sig"]
            if not isinstance(transmit_sig, str):
                raise MessageRefused("envelope field 'transmit_sig' must be a base64 string")
            verify(key, transmit_bytes(message.id, message.recipient, sent_at), transmit_sig,
                   who=f"transmission by {message.sender!r}")
            sender = message.sender  # authenticated from here on
            # under the accord in force when it was made (one made before a switch is
            # still good after it); else refused naming both versions, or held while
            # this node does not know which version is in force then
            try:
                self.book.check_accord_hash(message)
            except (AccordMismatch, AccordUndecided) as exc:
                self._gap_first(message, held=isinstance(exc, AccordUndecided))
                raise
            if abs(now - sent_at) > self.skew_s:
                raise SignatureError(f"outside the clock-skew window: transmitted "
                                     f"{now - sent_at:+.1f} s from this node's clock, window "
                                     f"±{self.skew_s:g} s")
            self._check_times(message, now)
            self._check_answer(message)

            def make_ack(pos: int, log_hash: str) -> Message:
                return make_message(self.key, kind="ack", sender=self.party,
                                    recipient=message.sender, seq=0, created_at=now,
                                    accord=self.accord.sha256, in_reply_to=message.id,
                                    body={"digest": message.digest, "received_at": now,
                                          "log_pos": pos, "log_hash": log_hash})

            if message.kind in ACCORD_KINDS:
                with self._accord_lock:  # checked against the book, logged, then folded
                    if self.store.find(message.id) is None:  # (a duplicate: its old ack)
                        self.book.check(message, own_party=self.party)
                    status, ack = self.store.accept_incoming(message, make_ack, now)
                    if status == "accepted":
                        self._fold(message)
            else:
                status, ack = self.store.accept_incoming(message, make_ack, now)
            if status == "accepted" and not is_priority(message):
                with self._accord_lock:  # the stream is whole up to it: its sender's word
                    self.book.hear(message.sender, message.created_at)
        except SequenceError as exc:
            code, reply = self._refused(exc, source=source, raw=raw, envelope=envelope,
                                        sender=sender, msg_id=msg_id)
            if exc.expected is not None and sender is not None:
                reply.update(self._resync_reply(message, exc.expected, now, str(exc)))
            return code, reply
        except SkyaccordError as exc:
            return self._refused(exc, source=source, raw=raw, envelope=envelope,
                                 sender=sender, msg_id=msg_id)
        except Exception as exc:  # a bug: answered and counted, never a crash
            self.internal_errors += 1
            _log.exception("line: internal error on receipt from %s", source)
            return self._refused(LineError(f"internal error ({type(exc).__name__})"),
                                 source=source, raw=raw, envelope=envelope, sender=sender,
                                 msg_id=msg_id, status=500)
        if status == "accepted" and message.kind == "checkpoint":
            self._check_checkpoint(message, now)
        if status == "accepted":
            for listener in list(self.listeners):
                try:
                    listener(message, now)
                except Exception:  # a listener's failure is not the sender's
                    _log.exception("line: listener failed on %s", message.id)
        if status == "duplicate":
            self._record_refusal(now, f"replay of accepted message {message.id} (seq "
                                 f"{message.seq}): answered with the original "
                                 "acknowledgement", source=source, sender=sender,
                                 msg_id=msg_id, raw=raw, envelope=envelope, kind="replay")
        return 200, {"status": status, "ack": ack.to_dict()}

    def _gap_first(self, message: Message, *, held: bool) -> None:
        """A message refused for its accord that skips ahead of its stream is refused as
        the gap it is (:class:`SequenceError`, so its sender sends again from the gap)
        when the messages missing here may decide its accord (this log restored from an
        older backup lost a proposal or its answers): it is held, or under a version
        that never took effect here or that this node does not know. A version that was
        in force here and is superseded, nothing missing can change: refused as such."""
        if not held and any(h["sha256"] == message.accord for h in self.book.history()):
            return
        rows = self.store._read("SELECT last_seq FROM line_streams WHERE sender = ? AND "
                                "recipient = ?", (message.sender, lane(message)))
        expected = (int(rows[0][0]) if rows else 0) + 1
        if message.seq > expected:
            raise SequenceError(f"out of order: {message.sender} seq {message.seq}, "
                                f"expected {expected} (the messages before it may hold what "
                                "decides the accord it is under)", expected=expected)

    def _resync_reply(self, message: Message, expected: int, now: float, reason: str
                      ) -> dict[str, Any]:
        """Tell the sender, signed, which sequence number its stream waits for; a gap
        (messages lost here) is recorded for operators. Never raises."""
        if message.seq < expected:  # it signed another message with a used number
            kind = "rollback"
            detail = (f"{message.sender} signed {message.id} as seq {message.seq}, a number "
                      f"it had already used for another message (this log holds its stream "
                      f"up to seq {expected - 1}): its log was rolled back")
        else:
            kind = "gap"
            detail = (f"{message.sender} sent seq {message.seq}, this log holds its stream "
                      f"up to seq {expected - 1}: messages {expected}..{message.seq - 1} are "
                      f"missing here (asked again from {message.sender})")
        if message.seq != expected:
            try:
                self.store.record_incident(kind, message.sender,
                                           f"{message.sender}->{lane(message)}",
                                           expected=expected, got=message.seq, now=now,
                                           detail=detail)
            except Exception:
                self.refusal_write_failures += 1
        sig = sign(self.key, resync_bytes(message.sender, lane(message), expected, now))
        return {"expected": expected, "resync": {"expected": expected, "at": now, "sig": sig}}

    def _refused(self, exc: SkyaccordError, *, source: str | None, raw: bytes | None = None,
                 envelope: Any = None, sender: str | None = None, msg_id: str | None = None,
                 status: int | None = None) -> tuple[int, dict[str, Any]]:
        self._record_refusal(self.clock(), str(exc), source=source, sender=sender,
                             msg_id=msg_id, raw=raw, envelope=envelope, kind=exc.kind)
        return (exc.http_status if status is None else status,
                {"error": str(exc), "kind": exc.kind})

    def _record_refusal(self, now: float, reason: str, *, source: str | None,
                        sender: str | None, msg_id: str | None, raw: bytes | None,
                        envelope: Any, kind: str) -> None:
        """Record a refusal within the rate (:class:`RefusalLimiter`); never raises (a
        failed write is counted in memory, :attr:`refusal_write_failures`)."""
        try:
            skipped = self.refusal_limiter.admit(source)
            if skipped is None:
                return
            self.store.refuse(now, reason, peer=sender, msg_id=msg_id,
                              raw=_raw_bytes(raw, envelope), source=source, kind=kind,
                              suppressed=skipped)
        except Exception:
            self.refusal_write_failures += 1

    # -- health ----------------------------------------------------------------------
    def writable(self) -> bool:
        """Can the node still commit to its log? (A probe write; see :meth:`health`.)"""
        return self.store.write_problem() is None

    def health(self) -> dict[str, Any]:
        """What an operator's health check shows: the log's summary, whether it can
        write (and why not), and the refusals not recorded (rate limit, failed writes)."""
        problem = self.store.write_problem()
        return {"party": self.party, "writable": problem is None, "write_problem": problem,
                "refusals_suppressed": self.refusal_limiter.suppressed,
                "refusal_write_failures": self.refusal_write_failures,
                "internal_errors": self.internal_errors}

    def _check_times(self, message: Message, now: float) -> None:
        """A message is not created in the future (beyond the skew window), and a
        request is due exactly the accord's ``response_deadline_s`` after its creation:
        the sender does not choose the deadline. Old messages are fine (queued through
        an outage): the receiver's debt runs from its own time of receipt, which its
        signed ack states (:func:`~skyaccord.line.deadlines.debts`)."""
        if message.created_at > now + self.skew_s:
            raise MessageRefused(f"message field 'created_at': {message.created_at:.3f} is "
                                 f"{message.created_at - now:.0f} s in this node's future "
                                 f"(window ±{self.skew_s:g} s)")
        accord = self.book.at(message.created_at)
        if is_priority(message):  # accepted under any version that may be in force
            accord = self.book.known(message.accord) or accord
        after = due_after_s(message.kind, accord)
        if after is not None:
            due = message.created_at + after
            what = ("response_deadline_s" if message.kind != "distress"
                    else "tightest deadline")
            if message.due_at is None or abs(message.due_at - due) > 1e-3:
                raise MessageRefused(
                    f"message field 'due_at': a {message.kind} is due the accord's "
                    f"{what} ({after:g} s) after created_at, {due:.3f}, not "
                    f"{message.due_at}")

    def _check_answer(self, message: Message) -> None:
        """A response or acceptance must answer a message this node sent to its sender:
        only the party a request was addressed to can settle it or stand by."""
        if message.kind not in ANSWER_KINDS or message.in_reply_to is None:
            return
        if message.kind == "acceptance":  # answers a proposal: the book checks it
            return
        found = self.store.find(message.in_reply_to)
        if found is None or found[0] != "sent":
            raise MessageRefused(f"{message.kind} from {message.sender!r} answers "
                                 f"{message.in_reply_to}, which this node never sent")
        if found[1].recipient != message.sender:
            raise MessageRefused(f"{message.kind} from {message.sender!r} answers "
                                 f"{message.in_reply_to}, which was addressed to "
                                 f"{found[1].recipient!r}: only {found[1].recipient!r} may "
                                 "answer it or stand by")
        if is_priority(message) and found[1].kind not in ("distress", *SAFETY_KINDS):
            # (the answer to a conflict message made while its sender was undecided)
            raise MessageRefused(f"body.priority: {message.in_reply_to} is a "
                                 f"{found[1].kind}, not a distress call or a conflict")

    def _key_of(self, party: str) -> str:
        for p in self.accord.parties:
            if p.id == party:
                if p.public_key is None:
                    raise SignatureError(f"unknown key: the accord lists no public key for "
                                         f"{party!r}")
                return p.public_key
        raise SignatureError(f"unknown sender {party!r}: not a party of accord "
                             f"{self.accord.id!r}")

    def close(self) -> None:
        for t in self.peers.values():
            t.close()


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _raw_bytes(raw: bytes | None, envelope: Any) -> bytes | None:
    """The body refused (its digest and size are recorded), or the value's JSON."""
    if raw is not None:
        return raw
    try:
        return canonical(envelope).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return None


class Deliverer:
    """A background thread that empties the node's outbox; ``poll_s`` also picks up
    messages that another process (the CLI) queued in the same database. Every
    ``checkpoint_check_s`` it also sends checkpoints to the peers when
    :meth:`Node.checkpoint_due` (so a serving node signs its head without more wiring)."""

    def __init__(self, node: Node, poll_s: float = 0.25,
                 checkpoint_check_s: float = 10.0) -> None:
        self.node, self.poll_s = node, poll_s
        self.checkpoint_check_s = checkpoint_check_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="line-deliverer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.node.wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        next_check = 0.0
        while not self._stop.is_set():
            self.node.wake.clear()
            try:
                if self.node.peers and time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.checkpoint_check_s
                    if self.node.checkpoint_due():
                        self.node.send_checkpoints()
                if self.node.deliver_once():
                    continue  # more may be waiting: go on without sleeping
            except Exception:  # a store error (or a bug): retried on the next round
                _log.exception("line: delivery round failed")
            retry = self.node.next_retry_in()
            self.node.wake.wait(self.poll_s if retry is None else min(self.poll_s, retry))
