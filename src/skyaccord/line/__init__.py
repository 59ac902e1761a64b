"""The line: signed, acknowledged, hash-chained messages between parties' nodes.

Public API: messages (:class:`Message`, :func:`make_message`, :func:`parse_message`),
keys (:func:`generate_key`, :func:`load_key`, :func:`public_key_b64`), the node's store
(:class:`LineStore`), the log (:func:`verify_log`, :func:`cross_check`), the node
(:class:`Node`, :class:`Deliverer`), deadlines (:func:`debts`, :data:`ESCALATION`) and
conflict messages (:func:`tactical_conflict_bodies`). The HTTP API is the node's
(:mod:`skyaccord.node`), which composes the line with the other engines.
"""

from skyaccord.line.conflict_messages import strategic_conflict_bodies, tactical_conflict_bodies
from skyaccord.line.deadlines import ACK_TIMEOUT_S, ESCALATION, Debt, debts, store_debts
from skyaccord.line.keys import generate_key, load_key, public_key_b64, save_key
from skyaccord.line.log import LogEntry, VerifyReport, cross_check, verify_log
from skyaccord.line.messages import KINDS, Message, make_message, parse_message
from skyaccord.line.node import Deliverer, Node
from skyaccord.line.store import LineStore

__all__ = [
    "ACK_TIMEOUT_S",
    "ESCALATION",
    "KINDS",
    "Debt",
    "Deliverer",
    "LineStore",
    "LogEntry",
    "Message",
    "Node",
    "VerifyReport",
    "cross_check",
    "debts",
    "generate_key",
    "load_key",
    "make_message",
    "parse_message",
    "public_key_b64",
    "save_key",
    "store_debts",
    "strategic_conflict_bodies",
    "tactical_conflict_bodies",
    "verify_log",
]
