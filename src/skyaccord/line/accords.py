"""The accord's life on the line: which version is in force, when, and why.

Versions are proposed, answered and suspended in signed messages (``proposal``,
``acceptance`` with a ``decision``, ``suspension``: :mod:`skyaccord.line.messages`), so
the state of the accord is a fold over a node's own log — :class:`AccordBook` — and not
whatever file a node was started with. The rules, the same on every node:

- A **proposal** carries the new accord's canonical JSON, its sha256 and the time it
  would take effect (``effective_at``). Its proposer and each recipient must be parties
  of the new version, its version must be above the one in force, and it must take
  effect after it is made. Its proposer has accepted it by proposing.
- Every other party the new version names **answers** it once (``accept`` or ``reject``,
  with a reason), to the proposer (``in_reply_to`` its proposal) and to every other party
  of the new version, so that each node learns every answer. An acceptance made after
  ``effective_at`` is refused: a proposal whose effective time passes before all
  accepted never takes effect (status ``lapsed``); one rejection ends it (``rejected``).
- A proposal accepted by all takes effect **at its effective time**, on every node the
  same (each has the same signed answers, made before that time); a version not above
  the one then in force never does (``superseded``). A message is checked against the
  accord in force at its ``created_at`` (:meth:`AccordBook.at`), so one made just before
  a switch is still good when it arrives after it.
- A **suspension** by any party of the accord in force stops the automatic messages that
  accord governs; a new version taking effect ends it (resumption is a new proposal).
- **Undecided** (a node cut off from an answer until after the effective time): once a
  proposal's time has passed, a node that holds neither every acceptance nor a rejection
  does not know which version is in force — unless it knows some missing party did not
  accept in time: it is that party itself (it never answered), or it has received, on
  that party's ordinary stream to it, a message made after ``effective_at``. Answers go to
  every party in the same ordered stream as everything else, and a party's acceptance is
  made (and logged, :meth:`~skyaccord.line.node.Node.send_group`) before its time, so
  it would have come first: none came, so the proposal ``lapsed``. While a proposal is
  undecided (:meth:`AccordBook.undecided`) and its outcome changes the version in force,
  a node neither signs nor accepts ordinary messages made after its time
  (:class:`~skyaccord.errors.AccordUndecided`, held and tried again); ``checkpoint``
  messages and the priority lane (distress calls and their acknowledgements, and
  conflict messages made while undecided), are signed under the version in force as far
  as the node knows and accepted under any version that is, was or may be in force when
  they were made (:meth:`AccordBook.plausible`) — so the checkpoints every node sends
  after an effective time (:meth:`~skyaccord.line.node.Node.checkpoint_due`) decide the
  others, and neither a distress call nor a conflict message (:data:`SAFETY_KINDS`) is
  ever held. A conflict message in the ordinary stream made after the time under a
  version that may be in force is taken too: its sender knew the version (else it would
  have used the priority lane).

Pure: no I/O, no clock. :class:`~skyaccord.line.node.Node` keeps a book, checks each
accord message against it before it is logged (sent or received) and applies it after.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skyaccord.errors import AccordMismatch, AccordUndecided, MessageRefused, ProtocolError
from skyaccord.line.messages import Message, is_priority
from skyaccord.protocol import Accord, accord_from_dict

__all__ = ["ACCORD_KINDS", "SAFETY_KINDS", "AccordBook", "Answer", "Proposal", "Suspension",
           "distress_deadline_s", "due_after_s", "parse_accord_text"]

#: the kinds an :class:`AccordBook` folds
ACCORD_KINDS = ("proposal", "acceptance", "suspension")
#: safety messages: never held while the version in force is undecided (a sender puts
#: them in the priority lane then; a receiver takes them under any version that may be
#: in force)
SAFETY_KINDS = frozenset({"conflict"})


def parse_accord_text(text: str, sha256: str | None = None) -> Accord:
    """The accord in a proposal's ``accord_text`` (its canonical JSON), or
    :class:`MessageRefused` naming what is wrong: not JSON, not a valid accord, not in
    canonical form, or another sha256 than ``sha256``."""
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MessageRefused(f"body.accord_text: not JSON: {str(exc)[:100]}") from None
    if not isinstance(tree, Mapping):
        raise MessageRefused("body.accord_text: must be a JSON object (an accord)")
    try:
        accord = accord_from_dict(tree, "proposed accord")
    except ProtocolError as exc:
        raise MessageRefused(f"body.accord_text: not a valid accord: {exc}") from None
    if accord.canonical_json() != text:
        raise MessageRefused("body.accord_text: not the accord's canonical JSON (sorted "
                             "keys, no spaces, numbers as the schema types them)")
    if sha256 is not None and accord.sha256 != sha256:
        raise MessageRefused(f"body.accord_sha256: {sha256[:12]}... is not the accord's "
                             f"sha256 ({accord.sha256[:12]}...)")
    return accord


def distress_deadline_s(accord: Accord) -> float:
    """The tightest deadline the accord sets: a distress call's acknowledgement is due
    within it (the response deadline, or the shortest alert level's time if shorter)."""
    return min([accord.response_deadline_s, *(lv.time_s for lv in accord.levels)])


def due_after_s(kind: str, accord: Accord) -> float | None:
    """How long after its creation a message of ``kind`` is due (None: not due)."""
    if kind in ("request", "proposal"):
        return accord.response_deadline_s
    if kind == "distress":
        return distress_deadline_s(accord)
    return None


@dataclass(frozen=True)
class Answer:
    """A party's signed answer to a proposal."""

    party: str
    decision: str
    """``accept`` or ``reject``"""
    text: str
    at: float
    """the answer's ``created_at``"""
    msg_ids: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    """who was sent this answer (one message each)"""


@dataclass
class Proposal:
    """A proposed version and the answers this node knows of."""

    sha256: str
    accord: Accord
    proposer: str
    proposed_at: float
    effective_at: float
    text: str
    base_sha256: str
    """the accord in force when it was proposed (the message's ``accord``)"""
    messages: dict[str, str] = field(default_factory=dict)
    """recipient -> the id of the proposal message sent to it"""
    answers: dict[str, Answer] = field(default_factory=dict)

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.accord.parties)

    @property
    def awaited(self) -> tuple[str, ...]:
        """Parties whose answer is still missing."""
        return tuple(p for p in self.parties if p != self.proposer and p not in self.answers)

    @property
    def rejected_by(self) -> tuple[str, ...]:
        return tuple(p for p, a in self.answers.items() if a.decision == "reject")

    @property
    def accepted(self) -> bool:
        """Every party the new version names has accepted (before its effective time)."""
        return not self.awaited and not self.rejected_by

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "id": self.accord.id, "version": self.accord.version,
                "title": self.accord.title, "proposer": self.proposer,
                "proposed_at": self.proposed_at, "effective_at": self.effective_at,
                "text": self.text, "base_sha256": self.base_sha256,
                "parties": list(self.parties), "messages": dict(self.messages),
                "answers": {p: {"decision": a.decision, "text": a.text, "at": a.at,
                                "msg_ids": list(a.msg_ids)}
                            for p, a in sorted(self.answers.items())},
                "awaited": list(self.awaited)}


@dataclass(frozen=True)
class Suspension:
    party: str
    sha256: str
    reason: str
    at: float
    msg_id: str


class AccordBook:
    """The accords a node knows: the one it began under (``genesis``), the proposals,
    answers and suspensions in its log, and so the version in force at any time."""

    def __init__(self, genesis: Accord, party: str | None = None) -> None:
        self.genesis = genesis
        self.party = party
        """the node's own party (it knows its own answers), None for a reader"""
        self.heard: dict[str, float] = {}
        """party -> the latest ``created_at`` of a message received from it in its
        ordinary stream to this node (:meth:`hear`): what decides a lapsed proposal"""
        self.accords: dict[str, Accord] = {genesis.sha256: genesis}
        """every accord text seen (genesis and proposed), by sha256"""
        self.proposals: dict[str, Proposal] = {}
        self.suspensions: list[Suspension] = []
        self._times: list[float] = [-math.inf]
        self._in_force: list[Accord] = [genesis]
        self._taken: list[tuple[float, Proposal]] = []

    # -- the version in force ----------------------------------------------------------
    def _timeline(self, accepted: Iterable[Proposal]
                  ) -> tuple[list[float], list[Accord], list[tuple[float, Proposal]]]:
        """The switches if ``accepted`` are the proposals accepted by all, in
        effective-time order (ties by version): each takes effect if its version is above
        the one then in force."""
        times, in_force, taken = [-math.inf], [self.genesis], []
        for p in sorted(accepted, key=lambda p: (p.effective_at, p.accord.version, p.sha256)):
            if p.accord.version > in_force[-1].version:
                times.append(p.effective_at)
                in_force.append(p.accord)
                taken.append((p.effective_at, p))
        return times, in_force, taken

    def _rebuild(self) -> None:
        self._times, self._in_force, self._taken = self._timeline(
            p for p in self.proposals.values() if p.accepted)

    def at(self, t: float) -> Accord:
        """The accord in force at UTC time ``t`` (a version takes effect at its time)."""
        return self._in_force[bisect.bisect_right(self._times, t) - 1]

    def next_switch_after(self, t: float) -> float | None:
        """When the next accepted version takes effect after ``t`` (None: none is due)."""
        k = bisect.bisect_right(self._times, t)
        return self._times[k] if k < len(self._times) else None

    def history(self) -> list[dict[str, Any]]:
        """Every version that takes or took effect: genesis first, with its time."""
        out = [{"sha256": self.genesis.sha256, "version": self.genesis.version,
                "id": self.genesis.id, "effective_at": None, "proposer": None}]
        for t, p in self._taken:
            out.append({"sha256": p.sha256, "version": p.accord.version, "id": p.accord.id,
                        "effective_at": t, "proposer": p.proposer})
        return out

    def status(self, sha256: str, now: float) -> str:
        """``pending``, ``accepted`` (takes effect later), ``in force``, ``replaced``,
        ``rejected``, ``lapsed`` (its time passed before all accepted), ``undecided``
        (its time passed and this node does not know yet whether all accepted in time:
        :meth:`outcome`) or ``superseded`` (accepted, but its version was not above the
        one in force at its time)."""
        p = self.proposals[sha256]
        if p.rejected_by:
            return "rejected"
        if not p.accepted:
            return self.outcome(p, now)[0]
        if all(q is not p for _, q in self._taken):
            return "superseded"
        if now < p.effective_at:
            return "accepted"
        return "in force" if self.at(now).sha256 == sha256 else "replaced"

    # -- undecided proposals -------------------------------------------------------------
    def hear(self, party: str, created_at: float) -> None:
        """A message ``party`` made at ``created_at`` was logged from its ordinary stream
        to this node (every earlier message of that stream is logged before it)."""
        if created_at > self.heard.get(party, -math.inf):
            self.heard[party] = created_at

    def outcome(self, p: Proposal, t: float, extra: tuple[str, float] | None = None
                ) -> tuple[str, tuple[str, ...]]:
        """(state, parties awaited) of ``p`` as this node knows it at ``t``: ``pending``
        (its time has not come), ``accepted``, ``rejected``, ``lapsed`` (a missing party
        is this node's own, or was heard from after its time without its answer) or
        ``undecided`` (the parties not heard from since). ``extra``: a message of
        (party, created_at) counted as heard (the one being received)."""
        if p.rejected_by:
            return "rejected", ()
        if p.accepted:
            return "accepted", ()
        if t < p.effective_at:
            return "pending", p.awaited
        missing = p.awaited
        if self.party is not None and self.party in missing:
            return "lapsed", ()  # this node never answered: it cannot have accepted
        for x in missing:
            last = self.heard.get(x, -math.inf)
            if extra is not None and extra[0] == x:
                last = max(last, extra[1])
            if last > p.effective_at:
                # x's acceptance, made before that time, would have come first in x's
                # stream: x did not accept in time
                return "lapsed", ()
        return "undecided", missing

    def _possible(self, t: float, extra: tuple[str, float] | None
                  ) -> tuple[list[tuple[Proposal, tuple[str, ...]]], set[str]]:
        """The undecided proposals that took effect by ``t`` (if accepted), and the
        versions that may be in force at ``t`` (one when it is known)."""
        proposals = list(self.proposals.values())  # a snapshot: receipts fold meanwhile
        open_ = [(p, w) for p in proposals if p.effective_at <= t
                 for state, w in [self.outcome(p, t, extra)] if state == "undecided"]
        if not open_:
            return [], {self.at(t).sha256}
        if len(open_) > 6:  # 2**k outcomes: beyond a handful, assume each matters
            return open_, {self.at(t).sha256, *(p.sha256 for p, _ in open_)}
        base = [p for p in proposals if p.accepted]
        seen: set[str] = set()
        for mask in range(1 << len(open_)):
            times, in_force, _ = self._timeline(
                base + [p for i, (p, _) in enumerate(open_) if mask >> i & 1])
            seen.add(in_force[bisect.bisect_right(times, t) - 1].sha256)
        return open_, seen

    def undecided(self, t: float, extra: tuple[str, float] | None = None
                  ) -> list[tuple[Proposal, tuple[str, ...]]]:
        """The proposals whose outcome this node does not know yet and on which the
        version in force at ``t`` depends, each with the parties not heard from since
        its effective time (empty: :meth:`at` is the version in force, for certain)."""
        open_, possible = self._possible(t, extra)
        return open_ if len(possible) > 1 else []

    def plausible(self, t: float, extra: tuple[str, float] | None = None) -> set[str]:
        """The versions that are, were or may be in force by ``t``: the one this log
        began under, and every proposal taken effect by then that is accepted by all or
        undecided. What a checkpoint or a priority message may be made under."""
        return {self.genesis.sha256} | {
            p.sha256 for p in list(self.proposals.values()) if p.effective_at <= t
            and self.outcome(p, t, extra)[0] in ("accepted", "undecided")}

    def undecided_error(self, open_: list[tuple[Proposal, tuple[str, ...]]], what: str
                        ) -> AccordUndecided:
        """The :class:`AccordUndecided` that holds ``what``, naming each proposal and the
        parties not heard from since its effective time."""
        def when(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace(
                "+00:00", "Z")

        parts = [f"proposal {p.accord.id} v{p.accord.version} [{p.sha256[:12]}] by "
                 f"{p.proposer}, effective {when(p.effective_at)}: no word from "
                 f"{', '.join(w)} since then" for p, w in open_]
        return AccordUndecided(
            f"{what} is held: the accord in force is not known here yet ("
            + "; ".join(parts) + "). Their answer, or any later message of theirs, "
            "decides whether every party accepted in time; try again then",
            details={"proposals": [{"sha256": p.sha256, "version": p.accord.version,
                                    "effective_at": p.effective_at, "awaiting": list(w)}
                                   for p, w in open_]})

    def suspended(self, sha256: str) -> list[Suspension]:
        """The suspensions of the accord ``sha256`` (it is suspended while any stands)."""
        return [s for s in self.suspensions if s.sha256 == sha256]

    def known(self, sha256: str) -> Accord | None:
        return self.accords.get(sha256)

    def describe(self, sha256: str) -> str:
        a = self.accords.get(sha256)
        return f"{a.id} v{a.version} ({sha256[:12]})" if a else f"unknown accord {sha256[:12]}"

    # -- checks ------------------------------------------------------------------------
    def check_accord_hash(self, message: Message) -> None:
        """:class:`AccordMismatch` unless ``message`` names the accord in force at its
        ``created_at`` (the reason names both versions). A checkpoint or a priority
        message (distress call, its acknowledgement, a conflict made while its sender was
        undecided): any version that is, was or may be in force then will do
        (:meth:`plausible`). An ordinary message made while the version in force is
        undecided here (:meth:`undecided`) is held, :class:`AccordUndecided`, when it is
        under a version that may be in force then — unless it is a safety message
        (:data:`SAFETY_KINDS`), which is taken.

        The message itself counts as heard from its sender (in its ordinary stream): it
        is logged only if it is the next of that stream, so all before it are here."""
        t = message.created_at
        extra = None if is_priority(message) else (message.sender, t)
        if message.kind == "checkpoint" or is_priority(message):
            if message.accord in self.plausible(t, extra):
                return
        else:
            open_, possible = self._possible(t, extra)
            if len(possible) > 1:
                if message.accord in possible and message.kind in SAFETY_KINDS:
                    # a conflict message is safety: never held. Its sender signed it in
                    # the ordinary stream, so it knew the version in force (else it
                    # would have used the priority lane); logged in order, it is its
                    # sender's word like any other
                    return
                if message.accord in possible:
                    raise self.undecided_error(
                        open_, f"{message.kind} {message.id} from {message.sender} made "
                        f"at {t:.3f} under {self.describe(message.accord)}")
            elif message.accord == self.at(t).sha256:
                return
        want = self.at(t)
        have = self.accords.get(message.accord)
        if have is None:
            why = "a version no party has accepted (unknown to this node)"
        elif any(p.sha256 == message.accord for _, p in self._taken) or (
                message.accord == self.genesis.sha256):
            why = (f"{self.describe(message.accord)}, superseded"
                   if have.version < want.version else f"{self.describe(message.accord)}, "
                   "not yet in force then")
        else:
            why = f"{self.describe(message.accord)}, a version that never took effect"
        raise AccordMismatch(f"{message.kind} {message.id} from {message.sender} made at "
                             f"{t:.3f} is under {why} "
                             f"[{message.accord[:12]}]; the accord in force then is "
                             f"{want.id} v{want.version} [{want.sha256[:12]}]")

    def check(self, message: Message, *, own_party: str) -> None:
        """Raise :class:`MessageRefused` unless ``message`` (an accord kind, sent or
        received by ``own_party``'s node) follows the rules of the module docstring."""
        kind, body, sender = message.kind, message.body, message.sender
        if kind == "proposal":
            sha = str(body["accord_sha256"])
            accord = parse_accord_text(str(body["accord_text"]), sha)
            names = {p.id for p in accord.parties}
            for who, role in ((sender, "proposer"), (message.recipient, "recipient")):
                if who not in names:
                    raise MessageRefused(f"proposal {sha[:12]}: its {role} {who!r} is not a "
                                         "party of the proposed accord "
                                         f"({', '.join(sorted(names))})")
            effective = float(body["effective_at"])
            if accord.effective is not None:
                # the accord's own time, RFC 3339 normalised by skyaccord.protocol
                own = datetime.fromisoformat(accord.effective).timestamp()
                if abs(own - effective) > 1e-3:
                    raise MessageRefused(f"body.effective_at: {effective:.3f} is not the "
                                         f"accord's own effective time {accord.effective}")
            if effective <= message.created_at:
                raise MessageRefused(f"body.effective_at: a version takes effect after it "
                                     f"is proposed ({effective:.3f} <= created_at "
                                     f"{message.created_at:.3f})")
            base = self.at(message.created_at)
            if accord.version <= base.version:
                raise MessageRefused(f"proposal {sha[:12]}: version {accord.version} is not "
                                     f"above the version in force, {base.id} "
                                     f"v{base.version}: versions only increase")
            if sha in self.accords and sha not in self.proposals:
                raise MessageRefused(f"proposal {sha[:12]}: that accord is already known "
                                     "here (it is in force or was)")
            old = self.proposals.get(sha)
            if old is not None and (old.proposer != sender or old.effective_at != effective
                                    or message.recipient in old.messages):
                raise MessageRefused(f"proposal {sha[:12]} was already made by "
                                     f"{old.proposer} (to {', '.join(sorted(old.messages))}, "
                                     f"effective {old.effective_at:.3f})")
        elif kind == "acceptance":
            sha = str(body["accord_sha256"])
            p = self.proposals.get(sha)
            if p is None:
                raise MessageRefused(f"{sender}'s answer names proposal {sha[:12]}, which "
                                     "this node does not know")
            if sender not in p.parties:
                raise MessageRefused(f"{sender} is not a party of proposal {sha[:12]} "
                                     f"({', '.join(p.parties)}): its answer does not count")
            if sender == p.proposer:
                raise MessageRefused(f"{sender} proposed {sha[:12]}: proposing is its "
                                     "acceptance")
            if message.recipient not in p.parties:
                raise MessageRefused(f"an answer to proposal {sha[:12]} goes to its parties, "
                                     f"not to {message.recipient!r}")
            prev = p.answers.get(sender)
            if prev is not None and message.id not in prev.msg_ids and (
                    prev.decision != body["decision"] or prev.at != message.created_at
                    or message.recipient in prev.recipients):
                raise MessageRefused(f"{sender} already answered proposal {sha[:12]} "
                                     f"({prev.decision} at {prev.at:.3f}): one answer each")
            if body["decision"] == "accept" and message.created_at > p.effective_at:
                raise MessageRefused(f"proposal {sha[:12]} was to take effect at "
                                     f"{p.effective_at:.3f}; an acceptance made at "
                                     f"{message.created_at:.3f} is too late: it never takes "
                                     "effect")
            if message.recipient == p.proposer and message.in_reply_to != p.messages.get(sender):
                raise MessageRefused(f"{sender}'s answer to {p.proposer} must reply to the "
                                     f"proposal {p.proposer} sent it "
                                     f"({p.messages.get(sender)}), not {message.in_reply_to}")
        elif kind == "suspension":
            sha = str(body["accord_sha256"])
            want = self.at(message.created_at)
            if sha != want.sha256:
                raise MessageRefused(f"a suspension suspends the accord in force "
                                     f"({want.id} v{want.version} [{want.sha256[:12]}]), not "
                                     f"{self.describe(sha)}")
            if sender not in {p.id for p in want.parties}:
                raise MessageRefused(f"{sender!r} is not a party of {want.id} v{want.version}")

    # -- applying ------------------------------------------------------------------------
    def apply(self, message: Message) -> None:
        """Fold one logged accord message (already checked) into the book."""
        body = message.body
        if message.kind == "proposal":
            sha = str(body["accord_sha256"])
            p = self.proposals.get(sha)
            if p is None:
                accord = parse_accord_text(str(body["accord_text"]), sha)
                self.accords[sha] = accord
                p = Proposal(sha, accord, message.sender, message.created_at,
                             float(body["effective_at"]), str(body["text"]), message.accord)
                self.proposals[sha] = p
            p.messages[message.recipient] = message.id
        elif message.kind == "acceptance":
            p = self.proposals.get(str(body["accord_sha256"]))
            if p is None:
                return
            prev = p.answers.get(message.sender)
            if prev is not None and message.id in prev.msg_ids:
                return
            ids = (() if prev is None else prev.msg_ids) + (message.id,)
            to = (() if prev is None else prev.recipients) + (message.recipient,)
            p.answers[message.sender] = Answer(message.sender, str(body["decision"]),
                                               str(body["text"]), message.created_at,
                                               ids, to)
            self._rebuild()
        elif message.kind == "suspension":
            self.suspensions.append(Suspension(message.sender, str(body["accord_sha256"]),
                                               str(body["reason"]), message.created_at,
                                               message.id))

    def fold(self, messages: Iterable[Message]) -> AccordBook:
        """Apply ``messages`` (a log's accord messages, in log order); returns self."""
        for m in messages:
            if m.kind in ACCORD_KINDS:
                self.apply(m)
        return self
