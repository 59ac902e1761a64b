"""Messages on the line: kinds, the signed canonical form, parsing and validation.

A message is a JSON object::

    {"v": 1, "id": "<32 hex>", "kind": "request", "from": "us", "to": "ru", "seq": 7,
     "created_at": 1445299200.0, "accord": "<sha256 of the accord>",
     "in_reply_to": null, "due_at": 1445299380.0, "body": {...}, "sig": "<base64>"}

``sig`` is the sender's Ed25519 signature of :func:`signing_bytes`: a domain tag then the
canonical JSON (sorted keys, no spaces, UTF-8) of every field but ``sig``. ``seq`` counts
the messages of one sender to one recipient from 1, so that the receiver can keep the
sender's order and spot gaps and replays; acknowledgements travel outside the stream
(``seq`` 0). Kinds (modeled on the message sets of EUROCONTROL OLDI, Spec. Ed. 5.0, and
ICAO Asia/Pacific PAN AIDC ICD):

========== ======================================================= ===================
kind       body fields (required; *optional*)                      links
========== ======================================================= ===================
notice     start_s, end_s, intent_ids (list); *text*, *volumes*    where/when we fly
request    text; *subject*                                         ``due_at`` required
response   text; *decision* (accept, reject, standby);             ``in_reply_to``
           *priority* (true: answers a distress, or a conflict
           while undecided: in the priority lane)
ack        digest (sha256 of the acked message), received_at;    ``in_reply_to``
           *log_pos*, *log_hash* (the receiver's log entry of the
           message: a signed checkpoint of the receiver's log)
conflict   source (tactical, strategic, airspace), id1, id2,   (airspace: id1 the
           t_in_s, level;                                          track, id2 the zone)
           *t_out_s*, *tcpa_s*, *dcpa_nm*, *dz_ft*, *text*,        *priority*: the
           *priority* (true: made while the accord in force was    priority lane
           undecided at its sender)
distress   lat, lon, frequency_mhz; *alt_ft*, *callsign*, *nature*,    ``due_at`` required;
           *text*                                                  the priority lane
proposal   text, accord_text (the new accord's canonical JSON),    ``due_at`` required
           accord_sha256 (its sha256), effective_at (UTC s)
acceptance text (the reason), accord_sha256, decision (accept,     ``in_reply_to``: the
           reject): the answer to a proposal, sent to every party  proposal received
suspension reason, accord_sha256 (the accord in force, suspended)
text       text
checkpoint log_count, log_head: the sender's log length and head   each party keeps
           hash when it made the message (its signed log state)    the other's
========== ======================================================= ===================

Requests, proposals and distress calls carry ``due_at``: the receiver checks it against
the accord in force when the message was made (:mod:`skyaccord.line.accords`). A
distress call, a response with ``priority`` and a conflict with ``priority`` travel in
their own *priority lane*: a second sequence of numbers per sender and recipient
(:func:`lane`), delivered before the ordinary stream, so that a long queue never holds a
distress call back, and a conflict message never waits on an undecided accord (its
sender's node sets the flag only then, :meth:`skyaccord.line.node.Node.send_group`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from skyaccord.canonical import PARTY_ID
from skyaccord.canonical import canonical_json as canonical
from skyaccord.errors import MessageRefused
from skyaccord.line.keys import SigningKey, sign, verify

__all__ = [
    "DUE_KINDS",
    "KINDS",
    "PRIORITY_SUFFIX",
    "REPLY_KINDS",
    "Message",
    "canonical",
    "is_priority",
    "lane",
    "make_message",
    "parse_envelope_bytes",
    "parse_message",
    "signing_bytes",
]

VERSION: Final = 1
_TAG = b"skyaccord-line/1\n"
KINDS: Final = ("notice", "request", "response", "ack", "conflict", "distress", "proposal",
                "acceptance", "suspension", "text", "checkpoint")
REPLY_KINDS: Final = frozenset({"response", "ack", "acceptance"})
#: kinds that carry ``due_at`` (an answer is owed by then)
DUE_KINDS: Final = frozenset({"request", "proposal", "distress"})
#: what a stream's recipient is suffixed with for its priority lane (not a party id)
PRIORITY_SUFFIX: Final = "#priority"
#: the largest accord text a proposal carries (the canonical JSON, UTF-8 bytes)
MAX_ACCORD_BYTES: Final = 48 * 1024
_FIELDS: Final = ("v", "id", "kind", "from", "to", "seq", "created_at", "accord",
                  "in_reply_to", "due_at", "body", "sig")
_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_BODY_BYTES: Final = 64 * 1024
#: an envelope's raw bytes: the largest body, its message and transmission fields
MAX_ENVELOPE_BYTES: Final = MAX_BODY_BYTES + 16 * 1024
#: nesting of JSON arrays and objects in an envelope (a notice's volumes need about 8)
MAX_DEPTH: Final = 24
#: sequence numbers and log positions stay exact in every JSON parser (2**53 - 1)
MAX_SEQ: Final = 2**53 - 1


@dataclass(frozen=True)
class Message:
    """A signed message. Build with :func:`make_message`; read with :func:`parse_message`."""

    id: str
    kind: str
    sender: str
    recipient: str
    seq: int
    created_at: float
    """UTC seconds when the sender stored the message"""
    accord: str
    """sha256 of the accord the sender works under"""
    in_reply_to: str | None
    due_at: float | None
    """UTC seconds by which a response is owed (requests)"""
    body: Mapping[str, Any]
    sig: str

    def unsigned_dict(self) -> dict[str, Any]:
        return {"v": VERSION, "id": self.id, "kind": self.kind, "from": self.sender,
                "to": self.recipient, "seq": self.seq, "created_at": self.created_at,
                "accord": self.accord, "in_reply_to": self.in_reply_to,
                "due_at": self.due_at, "body": dict(self.body)}

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned_dict(), "sig": self.sig}

    def to_json(self) -> str:
        """The canonical JSON of the whole message, signature included."""
        return canonical(self.to_dict())

    @property
    def digest(self) -> str:
        """Hex sha256 of :meth:`to_json`: what an acknowledgement names."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def verify(self, public_key: str) -> None:
        """Raise :class:`~skyaccord.errors.SignatureError` unless the sender signed it."""
        verify(public_key, signing_bytes(self), self.sig, who=f"party {self.sender!r}")


def is_priority(message: Message) -> bool:
    """Whether ``message`` travels in the priority lane: a distress call, a response
    flagged ``priority`` (the acknowledgement of a distress call), or a conflict flagged
    ``priority`` (made while its sender did not know which accord version was in force:
    a safety message never waits on that)."""
    return message.kind == "distress" or (message.kind in ("response", "conflict")
                                          and message.body.get("priority") is True)


def lane(message: Message) -> str:
    """The stream's recipient key of ``message``: the recipient, or the recipient with
    :data:`PRIORITY_SUFFIX` for the priority lane (its own sequence numbers)."""
    return message.recipient + PRIORITY_SUFFIX if is_priority(message) else message.recipient


def signing_bytes(message: Message) -> bytes:
    """What the sender signs: a domain tag, then the canonical JSON without ``sig``."""
    return _TAG + canonical(message.unsigned_dict()).encode("utf-8")


def make_message(key: SigningKey, *, kind: str, sender: str, recipient: str, seq: int,
                 created_at: float, accord: str, body: Mapping[str, Any],
                 in_reply_to: str | None = None, due_at: float | None = None,
                 msg_id: str | None = None) -> Message:
    """Validate and sign a new message (raises :class:`MessageRefused` naming the field)."""
    unsigned = Message(msg_id or uuid.uuid4().hex, kind, sender, recipient, seq,
                       float(created_at), accord, in_reply_to,
                       None if due_at is None else float(due_at), dict(body), "")
    _validate(unsigned.unsigned_dict())
    return replace(unsigned, sig=sign(key, signing_bytes(unsigned)))


def parse_message(data: Any) -> Message:
    """A :class:`Message` from decoded JSON; malformed input raises :class:`MessageRefused`.

    The signature is not checked here (see :meth:`Message.verify`).
    """
    if not isinstance(data, Mapping):
        raise MessageRefused("message must be a JSON object")
    if not all(isinstance(k, str) for k in data):
        raise MessageRefused("message: field names must be strings")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise MessageRefused(f"message: unknown field(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in data]
    if missing:
        raise MessageRefused(f"message: missing field(s) {', '.join(missing)}")
    _validate(data)
    sig = data["sig"]
    if not isinstance(sig, str) or not sig:
        raise MessageRefused("message field 'sig': must be a base64 string")
    return Message(data["id"], data["kind"], data["from"], data["to"], int(data["seq"]),
                   float(data["created_at"]), data["accord"], data["in_reply_to"],
                   None if data["due_at"] is None else float(data["due_at"]),
                   dict(data["body"]), sig)


# -- validation ---------------------------------------------------------------------------

def _bad(field: str, what: str) -> MessageRefused:
    return MessageRefused(f"message field {field!r}: {what}")


def _number(value: Any, field: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, f"must be a number, got {_short(value)}")
    try:
        number = float(value)  # an int too large for a float raises OverflowError
    except OverflowError:
        number = math.inf
    if not (math.isfinite(number) and low <= number <= high):
        raise _bad(field, f"must be a finite number in [{low:g}, {high:g}], got "
                   f"{_short(value)}")
    return number


def _short(value: Any) -> str:
    """A bounded description of a value from the wire (never a huge or deep repr)."""
    if isinstance(value, str | float | bool) or value is None:
        text = repr(value)
    elif isinstance(value, int):
        text = f"an integer of {value.bit_length()} bits" if value.bit_length() > 64 else str(
            value)
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(field, f"must be a non-empty string, got {_short(value)}")
    return value


_BODY_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "notice": ("start_s", "end_s", "intent_ids"),
    "request": ("text",),
    "response": ("text",),
    "ack": ("digest", "received_at"),
    "conflict": ("source", "id1", "id2", "t_in_s", "level"),
    "distress": ("lat", "lon", "frequency_mhz"),
    "proposal": ("text", "accord_text", "accord_sha256", "effective_at"),
    "acceptance": ("text", "accord_sha256", "decision"),
    "suspension": ("reason", "accord_sha256"),
    "text": ("text",),
    "checkpoint": ("log_count", "log_head"),
}
_BODY_OPTIONAL: Final[dict[str, tuple[str, ...]]] = {
    "notice": ("text", "volumes"),
    "request": ("subject",),
    "response": ("decision", "priority"),
    "ack": ("log_pos", "log_hash"),
    "conflict": ("t_out_s", "tcpa_s", "dcpa_nm", "dz_ft", "text", "same_party",
                 "priority"),
    "distress": ("alt_ft", "callsign", "nature", "text"),
    "proposal": (),
    "acceptance": (),
    "suspension": (),
    "text": (),
    "checkpoint": (),
}


def _validate(d: Mapping[str, Any]) -> None:
    if d.get("v") != VERSION:
        raise _bad("v", f"unsupported version {_short(d.get('v'))}; this node speaks {VERSION}")
    if not isinstance(d["id"], str) or not _ID.match(d["id"]):
        raise _bad("id", "must be 32 lowercase hex digits")
    kind = d["kind"]
    if kind not in KINDS:
        raise _bad("kind", f"unknown kind {_short(kind)}; kinds are {', '.join(KINDS)}")
    for f in ("from", "to"):
        if not isinstance(d[f], str) or not PARTY_ID.match(d[f]):
            raise _bad(f, f"not a party id: {_short(d[f])}")
    if d["from"] == d["to"]:
        raise _bad("to", "a party does not send to itself")
    seq = d["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise _bad("seq", f"must be an integer in [0, 2**53 - 1], got {_short(seq)}")
    if (kind == "ack") != (seq == 0):
        raise _bad("seq", "acknowledgements carry seq 0, every other kind seq >= 1")
    created = _number(d["created_at"], "created_at", 0.0, 1e11)
    if not isinstance(d["accord"], str) or not _HEX64.match(d["accord"]):
        raise _bad("accord", "must be the accord's sha256 (64 lowercase hex digits)")
    reply = d["in_reply_to"]
    if reply is not None and (not isinstance(reply, str) or not _ID.match(reply)):
        raise _bad("in_reply_to", "must be a message id (32 hex digits) or null")
    if kind in REPLY_KINDS and reply is None:
        raise _bad("in_reply_to", f"a {kind} must name the message it answers")
    due = d["due_at"]
    if kind in DUE_KINDS:
        if due is None:
            raise _bad("due_at", f"a {kind} must carry its due time")
        if _number(due, "due_at", 0.0, 1e11) < created:
            raise _bad("due_at", "due before it was created")
    elif due is not None:
        raise _bad("due_at", f"only {', '.join(sorted(DUE_KINDS))} carry a due time, "
                   f"not a {kind}")
    body = d["body"]
    if not isinstance(body, Mapping):
        raise _bad("body", "must be a JSON object")
    try:
        size = len(canonical(body).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise _bad("body", f"not plain JSON: {type(exc).__name__}") from None
    if size > MAX_BODY_BYTES:
        raise _bad("body", f"{size} bytes, at most {MAX_BODY_BYTES}")
    required, optional = _BODY_REQUIRED[kind], _BODY_OPTIONAL[kind]
    for f in required:
        if f not in body:
            raise _bad(f"body.{f}", f"required for a {kind}")
    extra = sorted(set(body) - set(required) - set(optional))
    if extra:
        raise _bad(f"body.{extra[0]}", f"unknown for a {kind}; allowed: "
                   f"{', '.join(required + optional)}")
    _validate_body(kind, body)


def _validate_body(kind: str, body: Mapping[str, Any]) -> None:
    for f in ("text", "subject", "reason", "callsign", "id1", "id2", "level", "nature"):
        if f in body:
            _text(body[f], f"body.{f}")
    for f in ("callsign", "nature", "reason"):
        if f in body and len(body[f]) > 200:
            raise _bad(f"body.{f}", f"{len(body[f])} characters, at most 200")
    if "accord_sha256" in body and (not isinstance(body["accord_sha256"], str)
                                    or not _HEX64.match(body["accord_sha256"])):
        raise _bad("body.accord_sha256", "must be a sha256 (64 lowercase hex digits)")
    if kind == "notice":
        start = _number(body["start_s"], "body.start_s", 0.0, 1e11)
        if _number(body["end_s"], "body.end_s", 0.0, 1e11) <= start:
            raise _bad("body.end_s", "must be after start_s")
        ids = body["intent_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise _bad("body.intent_ids", "must be a list of intent ids (strings)")
    elif kind == "response":
        if "decision" in body and body["decision"] not in ("accept", "reject", "standby"):
            raise _bad("body.decision", "must be accept, reject or standby")
        if "priority" in body and body["priority"] is not True:
            raise _bad("body.priority", "must be true when given (the acknowledgement of "
                       "a distress call)")
    elif kind == "acceptance":
        if body["decision"] not in ("accept", "reject"):
            raise _bad("body.decision", f"must be accept or reject, got "
                       f"{_short(body['decision'])}")
    elif kind == "proposal":
        text = body["accord_text"]
        if not isinstance(text, str) or not text:
            raise _bad("body.accord_text", "must be the new accord's canonical JSON (a "
                       "string)")
        size = len(text.encode("utf-8"))
        if size > MAX_ACCORD_BYTES:
            raise _bad("body.accord_text", f"{size} bytes, at most {MAX_ACCORD_BYTES}")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest != body["accord_sha256"]:
            raise _bad("body.accord_sha256", f"{body['accord_sha256'][:12]}... does not "
                       f"match the accord text (its sha256 is {digest[:12]}...)")
        _number(body["effective_at"], "body.effective_at", 0.0, 1e11)
    elif kind == "ack":
        if not isinstance(body["digest"], str) or not _HEX64.match(body["digest"]):
            raise _bad("body.digest", "must be a sha256 (64 lowercase hex digits)")
        _number(body["received_at"], "body.received_at", 0.0, 1e11)
        pos = body.get("log_pos", 1)
        if isinstance(pos, bool) or not isinstance(pos, int) or not 1 <= pos <= MAX_SEQ:
            raise _bad("body.log_pos", f"must be an integer in [1, 2**53 - 1], got "
                       f"{_short(pos)}")
        if "log_hash" in body and (not isinstance(body["log_hash"], str)
                                   or not _HEX64.match(body["log_hash"])):
            raise _bad("body.log_hash", "must be a sha256 (64 lowercase hex digits)")
    elif kind == "conflict":
        if body["source"] not in ("tactical", "strategic", "airspace"):
            raise _bad("body.source", "must be tactical, strategic or airspace")
        if "priority" in body and body["priority"] is not True:
            raise _bad("body.priority", "must be true when given (a conflict message in "
                       "the priority lane)")
        _number(body["t_in_s"], "body.t_in_s", 0.0)
        for f in ("tcpa_s", "dcpa_nm", "dz_ft"):
            if f in body:
                _number(body[f], f"body.{f}")
        if "t_out_s" in body and body["t_out_s"] is not None:
            _number(body["t_out_s"], "body.t_out_s", 0.0)
    elif kind == "distress":
        _number(body["lat"], "body.lat", -90.0, 90.0)
        _number(body["lon"], "body.lon", -180.0, 180.0)
        _number(body["frequency_mhz"], "body.frequency_mhz", 1e-3, 1e5)
        if "alt_ft" in body:
            _number(body["alt_ft"], "body.alt_ft", -2000.0, 200_000.0)
    elif kind == "checkpoint":
        count = body["log_count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SEQ:
            raise _bad("body.log_count", f"must be an integer in [0, 2**53 - 1], got "
                       f"{_short(count)}")
        if not isinstance(body["log_head"], str) or not _HEX64.match(body["log_head"]):
            raise _bad("body.log_head", "must be a sha256 (64 lowercase hex digits)")


# -- the wire ------------------------------------------------------------------------------

def _no_constant(name: str) -> Any:
    raise MessageRefused(f"envelope: {name} is not JSON (RFC 8259 numbers are finite)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise MessageRefused(f"envelope: key {_short(k)} appears twice in one object: "
                                 "what was signed must be what every parser reads")
        out[k] = v
    return out


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:
                stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse_envelope_bytes(raw: bytes) -> dict[str, Any]:
    """The envelope a peer posted, from its raw bytes, or :class:`MessageRefused`.

    The bytes must be exactly the canonical JSON of what they decode to (UTF-8, sorted
    keys, no whitespace, the shortest number form): no key twice in an object, no
    ``NaN``/``Infinity``, no other spelling of the same value, nesting at most
    :data:`MAX_DEPTH`, at most :data:`MAX_ENVELOPE_BYTES`. So the message that was
    signed, the one this node logs and the one any other JSON parser reads are the same
    bytes. The envelope's fields and the message are checked later, by
    :meth:`skyaccord.line.node.Node.receive`.

    >>> parse_envelope_bytes(b'{"a":1}')
    {'a': 1}
    >>> parse_envelope_bytes(b'{"a":1,"a":2}')
    Traceback (most recent call last):
    ...
    skyaccord.errors.MessageRefused: envelope: key 'a' appears twice in one object: what \
was signed must be what every parser reads
    """
    if not isinstance(raw, bytes | bytearray):
        raise MessageRefused(f"envelope: expected bytes, got {type(raw).__name__}")
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise MessageRefused(f"envelope: {len(raw)} bytes, at most {MAX_ENVELOPE_BYTES}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageRefused(f"envelope: not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise MessageRefused(f"envelope: nested deeper than {MAX_DEPTH}") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise MessageRefused(f"envelope: not JSON: {str(exc)[:120]}") from None
    if _depth(value) > MAX_DEPTH:
        raise MessageRefused(f"envelope: nested deeper than {MAX_DEPTH}")
    if not isinstance(value, dict):
        raise MessageRefused("envelope must be a JSON object")
    try:
        again = canonical(value).encode("utf-8")
    except (ValueError, RecursionError):  # pragma: no cover - refused above
        raise MessageRefused("envelope: not canonical JSON") from None
    if again != bytes(raw):
        at = next((i for i, (a, b) in enumerate(zip(again, raw, strict=False)) if a != b),
                  min(len(again), len(raw)))
        raise MessageRefused(f"envelope: not in canonical form (sorted keys, no spaces, "
                             f"shortest numbers, UTF-8 unescaped) from byte {at}")
    return value
