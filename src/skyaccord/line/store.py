"""A node's line database: the hash-chained log, the outbox, streams and refusals.

The line's rules live here once; the database under them is a SQLite file (the default)
or a PostgreSQL schema (``postgresql://`` URL), through :mod:`skyaccord.line.logstore`.
Every write runs in one transaction that excludes the log's other writers (SQLite
``BEGIN IMMEDIATE``, PostgreSQL a table lock), so that a message is in the log and the
outbox together or not at all, and a received message, its acknowledgement and the
stream's new sequence number are committed at once: a node killed at any instant
neither loses nor repeats a message, and two processes writing one log never give one
position or sequence number twice nor accept one message twice. Driver errors become
:class:`~skyaccord.errors.StoreError`. The tables belong to the line alone (``line_*``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from skyaccord.errors import SequenceError, StoreError
from skyaccord.line.keys import SigningKey, sign
from skyaccord.line.log import GENESIS, LogEntry, entry_hash, head_bytes
from skyaccord.line.logstore import LogDB, LogTxn, SQLiteLogDB, open_log_db
from skyaccord.line.messages import Message, lane, parse_message

__all__ = ["Incident", "LineStore", "OutboxItem", "Refusal"]

#: refusal rows kept: older ones are deleted and counted (``refusals_dropped``)
MAX_REFUSALS = 10_000
#: free bytes under which :meth:`LineStore.write_problem` reports the disk as full
MIN_FREE_BYTES = 8 * 1024 * 1024
#: a failed write keeps the store unhealthy this long unless a real write succeeds
WRITE_FAILURE_MEMORY_S = 60.0


class OutboxItem(NamedTuple):
    msg_id: str
    peer: str
    seq: int
    attempts: int
    last_error: str | None
    delivered_at: float | None
    message: Message


class Incident(NamedTuple):
    """Something operators must see about a stream (:meth:`LineStore.incidents`).

    ========== ===========================================================================
    kind       meaning
    ========== ===========================================================================
    gap        (receiver) a sender's message skipped ahead of ``expected``: messages lost
               here (a log restored from a backup); resolved when ``expected`` arrives
    resent     (sender) the peer asked again from ``expected`` (it had acknowledged up to
               ``got`` - 1): those messages were queued again from this log
    behind     (sender) the peer already used ``got``'s sequence numbers up to
               ``expected`` - 1: this log lost messages it had sent; the stream cannot
               progress until an operator acts
    rollback   (from a checkpoint or ack) the peer's log shrank or changed under what it
               had signed: ``expected`` entries signed before, ``got`` now
    ========== ===========================================================================
    """

    id: int
    kind: str
    peer: str
    stream: str
    """``sender->recipient``"""
    expected: int | None
    got: int | None
    first_at: float
    last_at: float
    times: int
    """how often it was seen while open"""
    resolved_at: float | None
    detail: str


class Refusal(NamedTuple):
    """A refused delivery: what was refused and why, never the refused bytes."""

    at: float
    peer: str | None
    """the sender, when its signatures verified (else None: anyone could claim a name)"""
    msg_id: str | None
    reason: str
    source: str | None = None
    """the network address it came from, as the HTTP layer saw it"""
    kind: str | None = None
    """the error's kind (``message-refused``, ``bad-signature``, ... or ``replay``)"""
    raw_sha256: str | None = None
    """sha256 of the raw body (to match it with a capture), not the body itself"""
    raw_size: int | None = None
    suppressed: int = 0
    """refusals from the same source not recorded just before this one (rate limit)"""


class LineStore:
    """The line's tables for the node of ``party``, at ``location``: a SQLite file
    (path, or ``sqlite:///PATH``) or a PostgreSQL schema (``postgresql://...``, the
    schema from ``?skyaccord_schema=NAME``, default ``skyaccord_line``).

    ``key`` signs the log head; a store opened without it is read-only: it creates
    nothing and never writes (SQLite: :func:`~skyaccord.line.log.open_readonly`,
    ``mode=ro`` or ``immutable`` on read-only media; PostgreSQL: a read-only session).
    A log is bound to the first party that opened it: another party's is refused with
    StoreError. Safe to share between threads of one process and between processes.
    """

    def __init__(self, location: str | Path, party: str, key: SigningKey | None = None,
                 *, max_refusals: int = MAX_REFUSALS) -> None:
        self.location = location
        """where the log is, as given (a path, or a URL with its password)"""
        self.party = party
        self._key = key
        self.max_refusals = max_refusals
        self.last_write_failure: tuple[float, str] | None = None
        """(when, why) of the last failed write, until a write succeeds again"""
        self._probing = False
        self._db: LogDB = open_log_db(location, writable=key is not None)
        self.where = self._db.where
        """the location as messages name it (a URL without its password)"""
        try:
            if key is None:  # reading never writes: no schema, no set-up, no probe
                self._check_party()
            else:
                self._db.prepare(party)
        except BaseException:
            self._db.close()
            raise

    @property
    def path(self) -> Path:
        """The SQLite file of the log (StoreError for a log on PostgreSQL)."""
        if isinstance(self._db, SQLiteLogDB):
            return self._db.path
        raise StoreError(f"{self.where}: a log on PostgreSQL has no file")

    @property
    def _conn(self) -> Any:
        # the driver's connection, for tests that reach below the line (PRAGMAs)
        return self._db.conn

    def _check_party(self) -> None:
        try:
            rows = self._db.read("SELECT value FROM line_meta WHERE key='party'")
        except StoreError as exc:
            raise StoreError(f"not a line log: {exc}") from None
        have = rows[0][0] if rows else None
        if have != self.party:
            raise StoreError(f"{self.where}: this log belongs to party {have!r}, "
                             f"not {self.party!r}")

    @property
    def readonly(self) -> bool:
        """Opened without the node's key: it reads, and any write raises StoreError."""
        return self._key is None

    def record_accord(self, sha256: str, canonical_json: str) -> None:
        """Keep the accord the node works under (``line_meta`` ``accord:<sha256>``), so
        that ``line verify`` can check signatures without being given it; written once."""
        key = f"accord:{sha256}"
        if self._read("SELECT 1 FROM line_meta WHERE key = ?", (key,)):
            return
        with self.transaction() as c:
            c.execute("INSERT INTO line_meta VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                      (key, canonical_json))

    def meta(self, prefix: str) -> dict[str, str]:
        """``line_meta`` rows whose key starts with ``prefix`` (key -> value)."""
        rows = self._read("SELECT key, value FROM line_meta WHERE substr(key, 1, ?) = ?",
                          (len(prefix), prefix))
        return {str(k): str(v) for k, v in rows}

    def set_meta(self, key: str, value: str, *, overwrite: bool = False) -> None:
        """Write one ``line_meta`` row (kept as it is unless ``overwrite``)."""
        conflict = "DO UPDATE SET value = excluded.value" if overwrite else "DO NOTHING"
        with self.transaction() as c:
            c.execute(f"INSERT INTO line_meta VALUES (?, ?) ON CONFLICT (key) {conflict}",
                      (key, value))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[LogTxn]:
        """One write transaction that excludes the log's other writers until it
        commits; the database's errors become StoreError (also one raised while
        rolling back after a failed write: a full disk), remembered for
        :meth:`write_problem`."""
        if self._key is None:
            raise StoreError(f"{self.where}: opened readonly (without the node's key); "
                             "cannot write")
        try:
            with self._db.transaction() as txn:
                yield txn
        except StoreError as exc:
            self.last_write_failure = (time.time(), str(exc))
            raise
        if not self._probing:
            self.last_write_failure = None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self._db.read(sql, args)

    # -- the chain -------------------------------------------------------------------
    def _append(self, c: LogTxn, direction: str, peer: str, message: Message,
                recorded_at: float) -> tuple[int, str]:
        if self._key is None:
            raise StoreError(f"{self.where}: opened without the node's key; cannot append")
        last = c.execute("SELECT pos, hash FROM line_log ORDER BY pos DESC LIMIT 1").fetchone()
        pos, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        text = message.to_json()
        h = entry_hash(prev, pos, direction, peer, recorded_at, text)
        c.execute("INSERT INTO line_log (pos, msg_id, direction, peer, recorded_at, message, "
                  "prev_hash, hash, kind, sender, seq, in_reply_to) "
                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                  (pos, message.id, direction, peer, recorded_at, text, prev, h, message.kind,
                   message.sender, message.seq, message.in_reply_to))
        c.execute("INSERT INTO line_head (id, count, hash, sig) VALUES (1, ?, ?, ?) "
                  "ON CONFLICT (id) DO UPDATE SET count = excluded.count, "
                  "hash = excluded.hash, sig = excluded.sig",
                  (pos, h, sign(self._key, head_bytes(self.party, pos, h))))
        return pos, h

    def summary(self) -> dict[str, Any]:
        """What a health check shows, without reading the log: its length and head hash
        (the signed head row), and the outbox backlog per peer (a partial index over the
        undelivered rows only). The cost does not grow with the log. A JSON-ready dict::

            {"party": "us", "log_entries": 1204, "head": "<sha256>", "outbox_pending": 2,
             "pending_by_peer": {"ru": {"count": 2, "first_seq": 41, "attempts": 7,
                                        "last_error": "..."}}}
        """
        head = self._read("SELECT count, hash FROM line_head WHERE id = 1")
        rows = self._read(
            f"SELECT peer, count(*), min(seq) FROM line_outbox {self._db.pending_hint} "
            "WHERE delivered_at IS NULL GROUP BY peer")
        by_peer: dict[str, Any] = {}
        for peer, n, first in rows:
            att = self._read("SELECT attempts, last_error FROM line_outbox WHERE peer = ? "
                             "AND seq = ? AND delivered_at IS NULL", (peer, first))
            by_peer[peer] = {"count": n, "first_seq": first,
                             "attempts": att[0][0] if att else 0,
                             "last_error": att[0][1] if att else None}
        return {"party": self.party, "log_entries": int(head[0][0]) if head else 0,
                "head": head[0][1] if head else None,
                "outbox_pending": sum(v["count"] for v in by_peer.values()),
                "pending_by_peer": by_peer}

    def entries(self) -> list[LogEntry]:
        rows = self._read("SELECT pos, msg_id, direction, peer, recorded_at, message, "
                          "prev_hash, hash FROM line_log ORDER BY pos")
        return [LogEntry(*r) for r in rows]

    def find(self, msg_id: str) -> tuple[str, Message] | None:
        """(direction, message) of a logged message, or None."""
        rows = self._read("SELECT direction, message FROM line_log WHERE msg_id = ?", (msg_id,))
        return (rows[0][0], parse_message(json.loads(rows[0][1]))) if rows else None

    def replies(self, msg_id: str) -> list[Message]:
        """Logged messages that answer ``msg_id`` (acks, responses), in log order."""
        rows = self._read("SELECT message FROM line_log WHERE in_reply_to = ? ORDER BY pos",
                          (msg_id,))
        return [parse_message(json.loads(r[0])) for r in rows]

    def messages(self, *, direction: str | None = None, kinds: tuple[str, ...] = (),
                 peer: str | None = None, after: int = 0
                 ) -> list[tuple[int, str, float, Message]]:
        """(pos, direction, recorded_at, message) of logged messages, filtered; only
        those logged after position ``after``."""
        sql = "SELECT pos, direction, recorded_at, message FROM line_log WHERE pos > ?"
        args: list[Any] = [after]
        if direction is not None:
            sql += " AND direction = ?"
            args.append(direction)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        if peer is not None:
            sql += " AND peer = ?"
            args.append(peer)
        rows = self._read(sql + " ORDER BY pos", tuple(args))
        return [(p, d, t, parse_message(json.loads(m))) for p, d, t, m in rows]

    def last_pos(self) -> int:
        """Position of the newest log entry (0 for an empty log)."""
        row = self._read("SELECT MAX(pos) FROM line_log")
        return int(row[0][0] or 0)

    # -- sending ---------------------------------------------------------------------
    def record_outgoing(self, recipient: str, build: Callable[[int], Message],
                        now: float) -> Message:
        """Give the next sequence number to ``build``, then log and queue its message."""
        return self.record_outgoing_many([(recipient, build)], now)[0]

    def record_checkpoints(self, peers: Sequence[str],
                           build: Callable[[str, int, int, str], Message], now: float
                           ) -> list[Message]:
        """Log and queue a checkpoint to each of ``peers`` in one transaction:
        ``build(peer, seq, log_count, log_head)`` gets the log's length and head hash as
        they were before this round."""
        out = []
        with self.transaction() as c:
            last = c.execute("SELECT pos, hash FROM line_log ORDER BY pos DESC LIMIT 1"
                             ).fetchone()
            count, head = (last[0], last[1]) if last else (0, GENESIS)
            for peer in peers:
                def for_peer(seq: int, peer: str = peer) -> Message:
                    return build(peer, seq, count, head)

                out.append(self._enqueue(c, peer, for_peer, now))
        return out

    def last_checkpoint(self) -> tuple[int, float] | None:
        """(log position, time) of the last checkpoint this node sent, or None."""
        rows = self._read("SELECT pos, recorded_at FROM line_log WHERE kind = 'checkpoint' "
                          "AND direction = 'sent' ORDER BY pos DESC LIMIT 1")
        return (int(rows[0][0]), float(rows[0][1])) if rows else None

    def activity_after(self, pos: int) -> float | None:
        """When the first message after log position ``pos`` other than checkpoints and
        acks was logged (None: there is none)."""
        rows = self._read("SELECT recorded_at FROM line_log WHERE pos > ? AND kind NOT IN "
                          "('checkpoint', 'ack') ORDER BY pos LIMIT 1", (pos,))
        return float(rows[0][0]) if rows else None

    def unvouched_since(self, party: str) -> float | None:
        """When this node logged the oldest message from ``party`` that no checkpoint of
        ``party`` has followed yet (None: all vouched for, or none)."""
        rows = self._read(
            "SELECT min(recorded_at) FROM line_log WHERE direction = 'received' AND peer = ? "
            "AND kind NOT IN ('checkpoint', 'ack') AND pos > (SELECT coalesce(max(pos), 0) "
            "FROM line_log WHERE direction = 'received' AND peer = ? AND "
            "kind = 'checkpoint')", (party, party))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def checkpoints_of(self, party: str) -> list[Message]:
        """The checkpoints ``party`` sent this node (its signed log states), in order."""
        return [m for _, _, _, m in self.messages(direction="received",
                                                  kinds=("checkpoint",), peer=party)]

    def record_outgoing_many(self, items: Sequence[tuple[str, Callable[[int], Message]]],
                             now: float) -> list[Message]:
        """:meth:`record_outgoing` of many messages in one transaction (one fsync): what
        a node's tick tells all at once."""
        with self.transaction() as c:
            return [self._enqueue(c, recipient, build, now) for recipient, build in items]

    def _enqueue(self, c: LogTxn, recipient: str,
                 build: Callable[[int], Message], now: float) -> Message:
        """Inside a transaction: the stream's next sequence number to ``build``, then the
        message logged and queued for ``recipient``. ``recipient`` may name the party's
        priority lane (``ru#priority``: its own sequence numbers and outbox queue)."""
        row = c.execute("SELECT last_seq FROM line_streams WHERE sender=? AND recipient=?",
                        (self.party, recipient)).fetchone()
        seq = (row[0] if row else 0) + 1
        message = build(seq)
        if lane(message) != recipient:
            raise StoreError(f"message {message.id} ({message.kind}) belongs to stream "
                             f"{lane(message)!r}, not {recipient!r}")
        self._append(c, "sent", message.recipient, message, now)
        self._set_last_seq(c, self.party, recipient, seq)
        c.execute("INSERT INTO line_outbox (msg_id, peer, seq) VALUES (?,?,?)",
                  (message.id, recipient, seq))
        return message

    @staticmethod
    def _set_last_seq(c: LogTxn, sender: str, recipient: str, seq: int) -> None:
        c.execute("INSERT INTO line_streams (sender, recipient, last_seq) VALUES (?,?,?) "
                  "ON CONFLICT (sender, recipient) DO UPDATE SET last_seq = excluded.last_seq",
                  (sender, recipient, seq))

    def pending(self, peer: str, limit: int = 100) -> list[Message]:
        """Undelivered messages to ``peer``, oldest first (by sequence number)."""
        rows = self._read(
            "SELECT l.message FROM line_outbox o JOIN line_log l ON l.msg_id = o.msg_id "
            "WHERE o.peer = ? AND o.delivered_at IS NULL ORDER BY o.seq LIMIT ?",
            (peer, limit))
        return [parse_message(json.loads(r[0])) for r in rows]

    def outbox(self) -> list[OutboxItem]:
        rows = self._read(
            "SELECT o.msg_id, o.peer, o.seq, o.attempts, o.last_error, o.delivered_at, "
            "l.message FROM line_outbox o JOIN line_log l ON l.msg_id = o.msg_id "
            "ORDER BY o.peer, o.seq")
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], parse_message(json.loads(r[6])))
                for r in rows]

    def delivery_failed(self, msg_id: str, error: str, now: float | None = None) -> None:
        with self.transaction() as c:
            c.execute("UPDATE line_outbox SET attempts = attempts + 1, last_error = ?, "
                      "failed_since = coalesce(failed_since, ?) WHERE msg_id = ?",
                      (error[:500], time.time() if now is None else now, msg_id))

    def rewind(self, peer: str, from_seq: int, now: float, why: str) -> int:
        """Queue again this node's messages to ``peer`` from sequence number
        ``from_seq`` on (the peer lost them); records a ``resent`` incident. Returns how
        many delivered messages were queued again."""
        stream = f"{self.party}->{peer}"
        with self.transaction() as c:
            top = c.execute("SELECT max(seq) FROM line_outbox WHERE peer = ? AND "
                            "delivered_at IS NOT NULL", (peer,)).fetchone()[0] or 0
            n = c.execute("UPDATE line_outbox SET delivered_at = NULL, ack_id = NULL "
                          "WHERE peer = ? AND seq >= ? AND delivered_at IS NOT NULL",
                          (peer, from_seq)).rowcount
            if n:
                self._incident(c, "resent", peer, stream, from_seq, top + 1, now,
                               f"{peer} asked for {stream} from seq {from_seq} again (it had "
                               f"acknowledged up to {top}): {n} message(s) queued again "
                               f"from this log; {why}", resolve=True)
            return n

    def _incident(self, c: LogTxn, kind: str, peer: str, stream: str,
                  expected: int | None, got: int | None, now: float, detail: str, *,
                  resolve: bool = False) -> None:
        is_ = self._db.is_op
        row = c.execute("SELECT id FROM line_incidents WHERE kind = ? AND peer = ? AND "
                        f"stream = ? AND resolved_at IS NULL AND expected {is_} ? AND "
                        f"got {is_} ?", (kind, peer, stream, expected, got)).fetchone()
        if row is not None:
            c.execute("UPDATE line_incidents SET last_at = ?, count = count + 1, detail = ? "
                      "WHERE id = ?", (now, detail[:1000], row[0]))
            return
        c.execute("INSERT INTO line_incidents (kind, peer, stream, expected, got, first_at, "
                  "last_at, resolved_at, detail) VALUES (?,?,?,?,?,?,?,?,?)",
                  (kind, peer, stream, expected, got, now, now, now if resolve else None,
                   detail[:1000]))

    def record_incident(self, kind: str, peer: str, stream: str, *, expected: int | None,
                        got: int | None, now: float, detail: str) -> None:
        """Record (or count again, while open) an incident of a stream."""
        with self.transaction() as c:
            self._incident(c, kind, peer, stream, expected, got, now, detail)

    def resolve_incidents(self, kind: str, peer: str, now: float) -> None:
        with self.transaction() as c:
            c.execute("UPDATE line_incidents SET resolved_at = ? WHERE kind = ? AND "
                      "peer = ? AND resolved_at IS NULL", (now, kind, peer))

    def incidents(self, *, open_only: bool = False, kind: str | None = None
                  ) -> list[Incident]:
        """Stream incidents (gaps, re-sent messages, a log behind its peer, rollbacks),
        oldest first: what the node's API shows operators."""
        sql = ("SELECT id, kind, peer, stream, expected, got, first_at, last_at, count, "
               "resolved_at, detail FROM line_incidents WHERE 1=1")
        args: list[Any] = []
        if open_only:
            sql += " AND resolved_at IS NULL"
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        return [Incident(*r) for r in self._read(sql + " ORDER BY id", tuple(args))]

    def gaps(self) -> list[Incident]:
        """Gaps found in incoming streams (open and resolved)."""
        return self.incidents(kind="gap")

    def stuck_outgoing(self) -> list[tuple[str, int, float, int, str | None]]:
        """(peer, seq, failing since, attempts, last error) of each peer whose next
        message has failed at least once and is still undelivered."""
        rows = self._read(
            "SELECT peer, seq, failed_since, attempts, last_error FROM line_outbox o "
            "WHERE delivered_at IS NULL AND failed_since IS NOT NULL AND seq = (SELECT "
            "min(seq) FROM line_outbox WHERE peer = o.peer AND delivered_at IS NULL)")
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def record_ack(self, ack: Message, now: float) -> None:
        """Log the peer's acknowledgement and mark the acked message delivered."""
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM line_log WHERE msg_id = ?", (ack.id,)).fetchone():
                # logged once already: the peer's answer to a message queued again after
                # a rewind, which it had ("duplicate", with its original ack). Delivered.
                c.execute("UPDATE line_outbox SET delivered_at = ?, ack_id = ?, "
                          "attempts = attempts + 1, last_error = NULL, failed_since = NULL "
                          "WHERE msg_id = ? AND delivered_at IS NULL",
                          (now, ack.id, ack.in_reply_to))
                return
            self._append(c, "received", ack.sender, ack, now)
            c.execute("UPDATE line_outbox SET delivered_at = ?, ack_id = ?, "
                      "attempts = attempts + 1, last_error = NULL, failed_since = NULL "
                      "WHERE msg_id = ?", (now, ack.id, ack.in_reply_to))
            c.execute("UPDATE line_incidents SET resolved_at = ? WHERE kind = 'behind' AND "
                      "peer = ? AND resolved_at IS NULL", (now, ack.sender))

    # -- receiving -------------------------------------------------------------------
    def accept_incoming(self, message: Message, make_ack: Callable[[int, str], Message],
                        now: float) -> tuple[str, Message]:
        """Log ``message`` and its acknowledgement exactly once, in the sender's order.

        ``make_ack(pos, hash)`` gets the log position and chained hash of the message's
        entry, so that the acknowledgement is also a signed checkpoint of this log.
        Returns ``("accepted", ack)``, or ``("duplicate", original ack)`` when the very
        same message was accepted before. Raises :class:`SequenceError` for a known id
        with other content, a sequence number already used (replay) or a gap.
        """
        with self.transaction() as c:
            row = c.execute("SELECT direction, message FROM line_log WHERE msg_id = ?",
                            (message.id,)).fetchone()
            if row is not None:
                if row[0] != "received" or row[1] != message.to_json():
                    raise SequenceError(f"message id {message.id} is already logged with "
                                         "other content")
                ack = c.execute("SELECT message FROM line_log WHERE kind = 'ack' AND "
                                "in_reply_to = ?", (message.id,)).fetchone()
                return "duplicate", parse_message(json.loads(ack[0]))
            stream = lane(message)  # the recipient, or its priority lane
            last = c.execute("SELECT last_seq FROM line_streams WHERE sender=? AND recipient=?",
                             (message.sender, stream)).fetchone()
            expected = (last[0] if last else 0) + 1
            if message.seq < expected:
                raise SequenceError(f"replay: {message.sender} seq {message.seq} was already "
                                     f"used by another message (next expected {expected})",
                                     expected=expected)
            if message.seq > expected:
                raise SequenceError(f"out of order: {message.sender} seq {message.seq}, "
                                     f"expected {expected}", expected=expected)
            pos, h = self._append(c, "received", message.sender, message, now)
            ack = make_ack(pos, h)
            self._append(c, "sent", message.sender, ack, now)
            self._set_last_seq(c, message.sender, stream, message.seq)
            c.execute("UPDATE line_incidents SET resolved_at = ? WHERE kind = 'gap' AND "
                      "peer = ? AND stream = ? AND resolved_at IS NULL AND expected <= ?",
                      (now, message.sender, f"{message.sender}->{stream}", message.seq))
            return "accepted", ack

    def refuse(self, now: float, reason: str, *, peer: str | None = None,
               msg_id: str | None = None, raw: bytes | str | None = None,
               source: str | None = None, kind: str | None = None,
               suppressed: int = 0) -> None:
        """Record why a message was refused (kept apart from the chained log).

        Bounded: the reason (cut to 500 characters), the sha256 and size of ``raw``, not
        its bytes; at most :attr:`max_refusals` rows, the oldest deleted and counted
        (:meth:`refusal_stats`). Rate limiting is the caller's
        (:class:`~skyaccord.line.node.RefusalLimiter`).
        """
        data = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
        digest = None if data is None else hashlib.sha256(data).hexdigest()
        with self.transaction() as c:
            newest = c.insert(
                "INSERT INTO line_refusals (at, peer, msg_id, reason, source, kind, "
                "raw_sha256, raw_size, suppressed) VALUES (?,?,?,?,?,?,?,?,?)",
                (now, peer, msg_id, reason[:500], None if source is None else source[:100],
                 kind, digest, None if data is None else len(data), suppressed))
            dropped = c.execute("DELETE FROM line_refusals WHERE id <= ?",
                                (newest - self.max_refusals,)).rowcount
            if dropped > 0:
                c.execute("INSERT INTO line_meta VALUES ('refusals_dropped', ?) ON CONFLICT "
                          "(key) DO UPDATE SET value = CAST(CAST(line_meta.value AS INTEGER)"
                          " + ? AS TEXT)", (str(dropped), dropped))

    def refusals(self, limit: int | None = None) -> list[Refusal]:
        """Recorded refusals, oldest first (the newest ``limit`` when given)."""
        sql = ("SELECT at, peer, msg_id, reason, source, kind, raw_sha256, raw_size, "
               "suppressed FROM line_refusals")
        if limit is None:
            rows = self._read(sql + " ORDER BY id")
        else:
            rows = self._read(sql + " ORDER BY id DESC LIMIT ?", (limit,))[::-1]
        return [Refusal(*r) for r in rows]

    def refusal_stats(self) -> dict[str, int]:
        """``recorded`` (rows kept), ``dropped`` (deleted by retention), ``suppressed``
        (not recorded by the rate limit, as counted in the recorded rows)."""
        kept, suppressed = self._read("SELECT count(*), coalesce(sum(suppressed), 0) "
                                      "FROM line_refusals")[0]
        dropped = self._read("SELECT value FROM line_meta WHERE key = 'refusals_dropped'")
        return {"recorded": int(kept), "dropped": int(dropped[0][0]) if dropped else 0,
                "suppressed": int(suppressed)}

    # -- health ----------------------------------------------------------------------
    def write_problem(self) -> str | None:
        """Why this store cannot commit a write now (a full disk, a read-only file, a
        lost lock), or None when it can.

        Commits a one-row probe (``line_meta``); a real write that failed counts until a
        real write succeeds again, or the probe has succeeded for
        :data:`WRITE_FAILURE_MEMORY_S` after it (a small probe may fit where a message
        does not).
        """
        failed = self.last_write_failure
        space = self._db.space_problem(MIN_FREE_BYTES)
        if space is not None:
            return space
        self._probing = True
        try:
            with self.transaction() as c:
                c.execute("INSERT INTO line_meta VALUES ('probe_at', ?) ON CONFLICT (key) "
                          "DO UPDATE SET value = excluded.value", (repr(time.time()),))
        except StoreError as exc:
            return str(exc)
        finally:
            self._probing = False
        if failed is not None and time.time() - failed[0] < WRITE_FAILURE_MEMORY_S:
            return failed[1]
        return None
