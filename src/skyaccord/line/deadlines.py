"""What each party owes: responses to requests past their due time, and escalation.

A request carries ``due_at`` = creation time + the accord's ``response_deadline_s``
(default 180 s: the upper end of the AIDC logical-acknowledgement time-out, "typically
between 1 and 3 minutes", ICAO Asia/Pacific AIDC end-to-end monitoring guidance v5.0,
2024); a receiver refuses any other ``due_at``, and the debt runs from the later of that
and the receipt + the deadline (see :func:`debts`). A ``response`` naming the request,
from the party it was addressed to, settles it (anyone else's is ignored here, and
refused on receipt); a response with
``decision = "standby"`` (OLDI SBY: "considering", which stops one clock and starts the
response clock) moves the due time to the standby time + the deadline. Past due, the
debt climbs :data:`ESCALATION` levels:

=============== ==================== ===================================================
level           from (past due)      meaning
=============== ==================== ===================================================
``overdue``     0 s                  operator warning that "immediately attracts
                                     attention" (EUROCONTROL OLDI Spec. Ed. 5.0, GEN-220/280)
``supervisor``  180 s                one more AIDC time-out (3 min) without answer:
                                     the watch supervisor calls the other end
``command``     900 s                15 min: the senior officer / working group (an
                                     ultimatum must not rest with a junior interpreter,
                                     as press reports of al-Tanf tell)
=============== ==================== ===================================================

Messages sent but not acknowledged after :data:`ACK_TIMEOUT_S` (10 s: OLDI MSG-10, 99.8 %
of transactions within 10 s) are listed as owed acknowledgements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from skyaccord.line.messages import Message
from skyaccord.line.store import LineStore

__all__ = ["ACK_TIMEOUT_S", "ESCALATION", "Debt", "debts", "escalation_level", "store_debts"]

ESCALATION: tuple[tuple[str, float], ...] = (
    ("overdue", 0.0), ("supervisor", 180.0), ("command", 900.0))
ACK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Debt:
    """A response (or acknowledgement) that ``debtor`` owes ``creditor``."""

    msg_id: str
    what: str
    """``response`` (a request), ``answer`` (a proposal), ``acknowledgement`` (a distress
    call) or ``ack`` (the line's receipt)"""
    debtor: str
    creditor: str
    subject: str
    due_at: float
    late_s: float
    """seconds past due (negative: not yet due)"""
    level: str
    """``pending`` before due, else an :data:`ESCALATION` name"""


def escalation_level(late_s: float,
                     levels: Sequence[tuple[str, float]] = ESCALATION) -> str:
    """The level of a debt ``late_s`` seconds past due.

    >>> [escalation_level(t) for t in (-5, 0, 179.9, 180, 1000)]
    ['pending', 'overdue', 'overdue', 'supervisor', 'command']
    """
    name = "pending"
    for level, after_s in levels:
        if late_s >= after_s:
            name = level
    return name


def _subject(m: Message) -> str:
    b = m.body
    if m.kind == "proposal":
        return f"proposal {str(b.get('accord_sha256', ''))[:12]}: {b.get('text', '')}"[:80]
    if m.kind == "distress":
        who = b.get("callsign") or "aircraft"
        return f"DISTRESS {who} {b.get('nature') or ''}".strip()[:80]
    return str(b.get("subject") or b.get("text", ""))[:80]


#: what settles a debt of each kind: the answering kinds, from the party asked
_SETTLES = {"request": ("response",), "distress": ("response",), "proposal": ("acceptance",)}
_OWED = {"request": "response", "distress": "acknowledgement", "proposal": "answer"}


def debts(messages: Iterable[Message], now: float, response_deadline_s: float, *,
          unacked: Iterable[tuple[Message, float]] = (),
          levels: Sequence[tuple[str, float]] = ESCALATION,
          include_pending: bool = True) -> list[Debt]:
    """Open debts among ``messages`` (a node's log, any order) at UTC time ``now``.

    Requests, proposals and distress calls are owed an answer (a ``response``, an
    ``acceptance`` with its decision, a ``response`` acknowledging the call) from the
    party they went to. Each is due at the later of its ``due_at`` (creation + its
    deadline) and its receipt + the same deadline, as the receiver's acknowledgement
    states (``received_at``, when ``messages`` hold the ack): one queued through an
    outage does not arrive already overdue, and both parties' logs give the same due
    time. A proposal is no longer owed once its effective time has passed (it can no
    longer take effect). ``unacked`` gives (message, time stored) of messages still in
    the outbox. Sorted most late first. ``response_deadline_s`` is kept for callers;
    each debt's deadline is its own message's (``due_at`` - ``created_at``).
    """
    ordered = sorted(messages, key=lambda m: m.created_at)
    requests = {m.id: m for m in ordered if m.kind in _SETTLES and m.due_at is not None}
    due = {rid: float(m.due_at or 0.0) for rid, m in requests.items()}
    settled: set[str] = set()
    for m in ordered:
        req = requests.get(m.in_reply_to or "") if m.kind in (
            "response", "ack", "acceptance") else None
        if req is None or m.sender != req.recipient:
            continue  # only the party asked can answer or stand by
        deadline = float(req.due_at or 0.0) - req.created_at
        if m.kind == "ack":  # the debt runs from the receiver's (signed) time of receipt
            received = m.body.get("received_at")
            if isinstance(received, int | float):
                due[req.id] = max(due[req.id], float(received) + deadline)
        elif m.kind not in _SETTLES[req.kind]:
            continue
        elif m.body.get("decision") == "standby" and req.kind == "request":
            due[req.id] = max(due[req.id], m.created_at + deadline)
        else:
            settled.add(req.id)
    out = []
    for rid, req in requests.items():
        if rid in settled:
            continue
        if req.kind == "proposal" and now >= float(req.body.get("effective_at", 0.0)):
            continue  # lapsed: nothing can make it take effect now
        late = now - due[rid]
        out.append(Debt(rid, _OWED[req.kind], req.recipient, req.sender, _subject(req),
                        due[rid], late, escalation_level(late, levels)))
    for m, stored_at in unacked:
        late = now - (stored_at + ACK_TIMEOUT_S)
        out.append(Debt(m.id, "ack", m.recipient, m.sender, f"{m.kind} seq {m.seq}",
                        stored_at + ACK_TIMEOUT_S, late, escalation_level(late, levels)))
    if not include_pending:
        out = [d for d in out if d.late_s >= 0]
    out.sort(key=lambda d: -d.late_s)
    return out


def store_debts(store: LineStore, response_deadline_s: float, now: float, *,
                include_pending: bool = True) -> list[Debt]:
    """:func:`debts` over a node's log and outbox."""
    logged = [m for _, _, _, m in store.messages(
        kinds=("request", "response", "ack", "proposal", "acceptance", "distress"))]
    stored = {e.msg_id: e.recorded_at for e in store.entries()}
    unacked = [(o.message, stored[o.msg_id]) for o in store.outbox() if o.delivered_at is None]
    return debts(logged, now, response_deadline_s, unacked=unacked,
                 include_pending=include_pending)
