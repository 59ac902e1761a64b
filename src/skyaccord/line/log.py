"""The hash chain of a node's log, its verification, and the cross-check of two logs.

Each entry ``pos`` (1, 2, ...) records one message sent or received, with the time it was
recorded, and its hash::

    hash[pos] = sha256( hash[pos-1] (hex) || "\\n" || canonical([pos, direction, peer,
                                                                 recorded_at, message]) )

with ``hash[0]`` = 64 zeros, as Secure Scuttlebutt chains a feed by the hash of the
previous message (Scuttlebutt Protocol Guide, "Feeds"). The head (count, last hash) is
signed by the node's key on every append. :func:`verify_log` recomputes the chain and
reports every entry that was altered, removed, inserted or moved, a truncated or
rewritten head, a stream whose sequence numbers are not consecutive, and (given the
accord) any signature that does not verify. Someone holding the node's own key can
rewrite the whole chain and re-sign its head; :func:`cross_check` against the other
party's log then shows the difference: that log holds the same signed messages, and the
node's own signed acknowledgements, each of which names the position and chained hash
that the acknowledged message got in the node's log — a signed checkpoint. A log
rewritten before a checkpoint contradicts a signature of its own key: equivocation,
proven.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from skyaccord.errors import InputError, SkyaccordError, StoreError
from skyaccord.line.keys import verify
from skyaccord.line.messages import Message, canonical, lane, parse_message
from skyaccord.protocol import Accord, accord_from_dict

if TYPE_CHECKING:
    from skyaccord.line.logstore import LogDB

__all__ = [
    "GENESIS",
    "LogEntry",
    "VerifyReport",
    "cross_check",
    "entry_hash",
    "head_bytes",
    "open_readonly",
    "read_entries",
    "read_meta",
    "verify_log",
]

GENESIS = "0" * 64


class LogEntry(NamedTuple):
    """One row of a node's log."""

    pos: int
    msg_id: str
    direction: str
    """``sent`` or ``received``"""
    peer: str
    recorded_at: float
    message: str
    """the message's canonical JSON, signature included"""
    prev_hash: str
    hash: str


def entry_hash(prev_hash: str, pos: int, direction: str, peer: str, recorded_at: float,
               message: str) -> str:
    """The chained hash of one entry (hex).

    >>> entry_hash(GENESIS, 1, "sent", "ru", 0.0, "{}")[:12]
    '24b5f953d565'
    """
    payload = canonical([pos, direction, peer, recorded_at, message])
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def head_bytes(party: str, count: int, head_hash: str) -> bytes:
    """What a node signs as its log head."""
    return f"skyaccord-head/1\n{party}\n{count}\n{head_hash}".encode()


@dataclass
class VerifyReport:
    """What :func:`verify_log` found; ``ok`` when ``problems`` is empty."""

    path: str
    party: str | None
    count: int
    head: str
    problems: list[str] = field(default_factory=list)
    signatures_checked: int = 0
    """message signatures and the head's that verified"""
    accords: dict[str, str] = field(default_factory=dict)
    """sha256 -> where its keys came from: ``given`` or ``recorded in the log``"""

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """What was verified, in plain words (the CLI prints it)."""
        sources = "; ".join(f"accord {sha} ({src})" for sha, src in self.accords.items())
        text = (f"{self.path} party {self.party}: {self.count} entries, hash chain intact "
                f"up to head {self.head}; {self.signatures_checked} signatures verified "
                f"(every message and the signed head) with the keys of {sources}")
        if any(src != "given" for src in self.accords.values()):
            text += (". Keys recorded in the log prove only that the log agrees with "
                     "itself: compare that sha256 with your copy of the accord, or pass "
                     "--accord")
        return text


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A connection that never writes to the log at ``path``, even on read-only media.

    First ``mode=ro`` (a consistent snapshot beside a running node, through its WAL
    index); where that cannot work (a read-only directory without the ``-shm`` file),
    ``immutable=1``, which reads the database file alone: refused with a
    :class:`StoreError` when a non-empty ``-wal`` file lies beside it, whose entries
    would be missed.
    """
    p = Path(path)
    if not p.is_file():  # the path given is wrong: bad input (exit 2), not a failed run
        raise InputError(f"{p}: no such log database")
    uri = "file:" + urllib.parse.quote(str(p.resolve()))
    try:
        conn = sqlite3.connect(uri + "?mode=ro", uri=True, check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
        wal = p.with_name(p.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(f"{p}: cannot read it where it is without writing, and {wal} "
                             "holds entries not yet in the database file: copy the log "
                             "with its -wal and -shm files, or after its node stopped")
        conn = sqlite3.connect(uri + "?immutable=1", uri=True, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as exc:
        raise StoreError(f"{p}: cannot open log database: {exc}") from None


def read_entries(path: str | Path) -> Iterator[LogEntry]:
    """Every log entry of the log at ``path`` (a SQLite file or a ``postgresql://`` URL,
    :mod:`skyaccord.line.logstore`), in stored order (by ``pos``), read without writing."""
    db = _open_reader(path)
    try:
        rows = db.read("SELECT pos, msg_id, direction, peer, recorded_at, message, "
                       "prev_hash, hash FROM line_log ORDER BY pos")
    finally:
        db.close()
    for row in rows:
        yield LogEntry(*row)


def read_meta(path: str | Path) -> dict[str, Any]:
    """A node log's ``line_meta`` (``party``, ...) and, under ``"head"``, its log head
    ``(count, hash, sig)``, read without writing; :class:`StoreError` if ``path`` holds
    no line log."""
    db = _open_reader(path)
    try:
        meta = dict(db.read("SELECT key, value FROM line_meta"))
        head = db.read("SELECT count, hash, sig FROM line_head WHERE id = 1")
    finally:
        db.close()
    meta["head"] = tuple(head[0]) if head else None
    return meta


def _open_reader(path: str | Path) -> LogDB:
    # imported here, not at the top: the backends build on this module (open_readonly)
    from skyaccord.line.logstore import open_log_db

    return open_log_db(path, writable=False)


def _describe(path: str | Path) -> str:
    from skyaccord.line.logstore import describe

    return describe(path)


def recorded_accords(meta: dict[str, Any]) -> tuple[dict[str, Accord], list[str]]:
    """The accords a node recorded in its log (``line_meta`` ``accord:<sha256>``), by
    sha256, and the problems found reading them (altered: its hash differs)."""
    out: dict[str, Accord] = {}
    problems = []
    for k, v in meta.items():
        if not (isinstance(k, str) and k.startswith("accord:")):
            continue
        sha = k.removeprefix("accord:")
        try:
            a = accord_from_dict(json.loads(v), f"the accord recorded in the log ({sha[:12]})")
        except Exception as exc:  # the file is not trusted: any content is a finding
            problems.append(f"the accord recorded as {sha[:12]} is unreadable: {exc}")
            continue
        if a.sha256 != sha:
            problems.append(f"the accord recorded as {sha[:12]} hashes to {a.sha256[:12]} "
                            "(altered)")
            continue
        out[sha] = a
    return out, problems


def verify_log(path: str | Path, accord: Accord | None = None) -> VerifyReport:
    """Recompute the chain of the log at ``path`` and check every signature.

    Each message is checked with the keys of the accord it names: ``accord`` when its
    sha256 matches, else the accord the node recorded in its log (``line_meta``, written
    by :class:`~skyaccord.line.node.Node`). With neither, :class:`InputError`: a log is
    never called sound without its signatures. :attr:`VerifyReport.accords` says where
    the keys came from (keys recorded in the log can be replaced along with it; only a
    given accord, or the other party's log, is independent).
    """
    meta = read_meta(path)
    party = meta.get("party")
    report = VerifyReport(_describe(path), party, 0, GENESIS)
    problems = report.problems
    accords, bad = recorded_accords(meta)
    problems.extend(bad)
    sources = dict.fromkeys(accords, "recorded in the log")
    if accord is not None:
        accords[accord.sha256] = accord
        sources[accord.sha256] = "given"
    if not accords:
        why = f" ({'; '.join(bad)})" if bad else ""
        raise InputError(f"{report.path}: no accord recorded in this log{why}: give the "
                         "accord (--accord) so that its signatures can be checked")
    keys = {sha: {p.id: p.public_key for p in a.parties} for sha, a in accords.items()}
    prev_hash = GENESIS
    expected_pos = 1
    streams: dict[tuple[str, str], int] = {}
    seen: set[str] = set()
    for e in read_entries(path):
        if e.pos != expected_pos:
            problems.append(f"entries {expected_pos}..{e.pos - 1} missing (removed)"
                            if e.pos > expected_pos else f"entry {e.pos}: out of place")
        if e.prev_hash != prev_hash:
            problems.append(f"entry {e.pos}: does not follow the entry before it "
                            "(an entry was removed, inserted or moved)")
        if entry_hash(e.prev_hash, e.pos, e.direction, e.peer, e.recorded_at,
                      e.message) != e.hash:
            problems.append(f"entry {e.pos}: altered (hash does not match its content)")
        prev_hash, expected_pos = e.hash, e.pos + 1
        report.count += 1
        try:
            msg = parse_message(json.loads(e.message))
        except (ValueError, RecursionError, SkyaccordError) as exc:
            problems.append(f"entry {e.pos}: message unreadable: {exc}")
            continue
        if msg.id != e.msg_id:
            problems.append(f"entry {e.pos}: id column {e.msg_id} != message id {msg.id}")
        if msg.id in seen:
            problems.append(f"entry {e.pos}: message {msg.id} logged twice")
        seen.add(msg.id)
        if e.direction not in ("sent", "received") or (
                (msg.sender if e.direction == "received" else msg.recipient) != e.peer):
            problems.append(f"entry {e.pos}: direction/peer do not match the message")
        if msg.seq > 0:
            stream = (msg.sender, lane(msg))  # the priority lane counts apart
            last = streams.get(stream, 0)
            if msg.seq != last + 1:
                problems.append(f"entry {e.pos}: {msg.sender}->{msg.recipient} seq {msg.seq} "
                                f"follows seq {last} (missing or reordered messages)")
            streams[stream] = msg.seq
        if msg.accord not in keys:
            problems.append(f"entry {e.pos}: under accord {msg.accord[:12]}, which is "
                            "neither given nor recorded in the log: signature not checked")
            continue
        report.accords.setdefault(msg.accord, sources[msg.accord])
        key = keys[msg.accord].get(msg.sender)
        if key is None:
            problems.append(f"entry {e.pos}: no public key for {msg.sender!r} in accord "
                            f"{msg.accord[:12]}")
        else:
            try:
                msg.verify(key)
                report.signatures_checked += 1
            except SkyaccordError as exc:
                problems.append(f"entry {e.pos}: {exc}")
    report.head = prev_hash
    head = meta["head"]
    if head is None:
        if report.count:
            problems.append("log head missing")
    else:
        count, head_hash, sig = head
        if (count, head_hash) != (report.count, prev_hash):
            problems.append(f"signed head says {count} entries ending {head_hash[:12]}, the "
                            f"log holds {report.count} ending {prev_hash[:12]} "
                            "(entries removed at the end, or head altered)")
        head_accord = accord.sha256 if accord is not None else next(
            reversed(report.accords or sources))
        own_key = keys[head_accord].get(str(party))
        report.accords.setdefault(head_accord, sources[head_accord])
        if own_key is None:
            problems.append(f"no public key for this log's party {party!r} in accord "
                            f"{head_accord[:12]}: its head signature not checked")
        else:
            try:
                verify(own_key, head_bytes(str(party), count, head_hash), sig,
                       who=f"log head of {party!r}")
                report.signatures_checked += 1
            except (SkyaccordError, TypeError, ValueError) as exc:
                problems.append(str(exc))
    if not report.accords:
        report.accords[next(iter(sources))] = next(iter(sources.values()))
    return report


def cross_check(path_a: str | Path, path_b: str | Path, accord: Accord | None = None
                ) -> list[str]:
    """Differences between two parties' logs over the messages they share.

    Every message between the two parties that one log holds must be in the other,
    byte for byte, with opposite direction, once acknowledged; and the order of each
    sender's stream must agree. Each log must hold, at the positions they name, the
    entries that its party's signed acknowledgements and checkpoints (kept in the other
    log) vouched for. Messages still in an outbox (sent, not acknowledged)
    may be missing from the receiver: they are reported only when acknowledged.

    Evidence against a party counts only when that party signed it: its key comes from
    ``accord`` or from the accords recorded in its own log, never from the accuser's.
    Entries that do not parse are reported, never raised on (the other log is the other
    party's file).
    """
    a_party, b_party = read_meta(path_a).get("party"), read_meta(path_b).get("party")
    problems: list[str] = []
    a = _shared(path_a, b_party, problems)
    b = _shared(path_b, a_party, problems)
    acked_a = {m.in_reply_to for _, m in a.values() if m.kind == "ack"}
    acked_b = {m.in_reply_to for _, m in b.values() if m.kind == "ack"}
    for mine, theirs, acked, name, other in ((a, b, acked_a, a_party, b_party),
                                            (b, a, acked_b, b_party, a_party)):
        for msg_id, (e, _) in mine.items():
            t = theirs.get(msg_id)
            if t is None:
                if e.direction == "received" or msg_id in acked:
                    problems.append(f"{name} holds {e.direction} message {msg_id} that "
                                    f"{other}'s log lacks")
            elif t[0].message != e.message:
                problems.append(f"message {msg_id} differs between {name} and {other}")
            elif t[0].direction == e.direction:
                problems.append(f"message {msg_id} is {e.direction} in both logs")
    for holder, other, other_path in ((a, b_party, path_b), (b, a_party, path_a)):
        keys = _keys_of(str(other), other_path, accord)
        evidence = [(e, m) for e, m in holder.values()
                    if e.direction == "received" and m.sender == other
                    and m.kind in ("ack", "checkpoint")]
        signed = []
        for e, m in evidence:
            key = keys.get(m.accord)
            if key is None:
                problems.append(f"cannot check {other}'s signature on {m.kind} {m.id}: no "
                                f"key of {other!r} for accord {m.accord[:12]} (give --accord)")
                continue
            try:
                m.verify(key)
            except SkyaccordError:
                problems.append(f"{m.kind} {m.id} claims to be {other}'s but its signature "
                                f"does not verify with {other}'s key (forged evidence)")
                continue
            signed.append((e, m))
        entries = {x.pos: x for x in read_entries(other_path)}
        for _, m in signed:
            if m.kind != "ack" or "log_pos" not in m.body:
                continue
            pos, claimed = m.body["log_pos"], m.body.get("log_hash")
            at = entries.get(pos)
            if at is None or at.hash != claimed or at.msg_id != m.in_reply_to:
                problems.append(f"{other}'s log contradicts its own signed acknowledgement "
                                f"{m.id}: entry {pos} should hold message "
                                f"{m.in_reply_to} with hash {str(claimed)[:12]} "
                                "(log rewritten: equivocation)")
        problems += _checkpoint_problems([m for _, m in signed if m.kind == "checkpoint"],
                                         str(other), entries)
    for sender in (a_party, b_party):  # each sender's streams (acks travel outside them;
        # its priority lane is a stream apart, which may overtake the other): a stable
        # sort by lane keeps each stream's order
        order_a = [(lane(m), i) for i, (_, m) in a.items() if m.seq > 0 and m.sender == sender]
        order_b = [(lane(m), i) for i, (_, m) in b.items() if m.seq > 0 and m.sender == sender]
        common = set(order_a) & set(order_b)
        if (sorted([x for x in order_a if x in common], key=lambda x: x[0])
                != sorted([x for x in order_b if x in common], key=lambda x: x[0])):
            problems.append(f"the two logs order {sender}'s messages differently")
    return sorted(set(problems), key=problems.index)


def _shared(path: str | Path, peer: Any, problems: list[str]
            ) -> dict[str, tuple[LogEntry, Message]]:
    """The entries of the log at ``path`` exchanged with ``peer``, parsed, in log order;
    an entry that does not parse is a problem."""
    out: dict[str, tuple[LogEntry, Message]] = {}
    for e in read_entries(path):
        if e.peer != peer:
            continue
        try:
            out[e.msg_id] = (e, parse_message(json.loads(e.message)))
        except (ValueError, RecursionError, SkyaccordError) as exc:
            problems.append(f"{_describe(path)}: entry {e.pos} unreadable: "
                            f"{str(exc)[:120]}")
    return out


def _keys_of(party: str, own_path: str | Path, accord: Accord | None) -> dict[str, str]:
    """accord sha256 -> ``party``'s public key, from ``accord`` and the accords recorded
    in ``party``'s own log."""
    accords, _ = recorded_accords(read_meta(own_path))
    if accord is not None:
        accords[accord.sha256] = accord
    out = {}
    for sha, a in accords.items():
        key = next((p.public_key for p in a.parties if p.id == party), None)
        if key is not None:
            out[sha] = key
    return out


def _checkpoint_problems(checkpoints: list[Message], signer: str,
                         entries: dict[int, LogEntry]) -> list[str]:
    """``signer``'s (verified) checkpoints, checked against its log's entries."""
    out = []
    for m in checkpoints:
        count, head = int(m.body["log_count"]), str(m.body["log_head"])
        at = entries.get(count)
        have = GENESIS if count == 0 else (None if at is None else at.hash)
        if have is None:
            out.append(f"{signer}'s log holds {len(entries)} entries, but its signed "
                       f"checkpoint {m.id} says it held {count} ending {head[:12]} "
                       "(log rolled back)")
        elif have != head:
            out.append(f"{signer}'s log contradicts its signed checkpoint {m.id}: entry "
                       f"{count} should end with hash {head[:12]}, it ends with {have[:12]} "
                       "(log rewritten: equivocation)")
    return out
