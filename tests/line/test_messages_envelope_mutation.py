"""The wire's parser and the message parser at the edges the mutation run of the line
(``line-units``, tests/mutation/README.md) found untested without the slow process tests
of ``test_adversarial.py``: the envelope's size and depth limits at their exact bounds,
duplicate keys, non-finite numbers, non-canonical spellings (and the byte the refusal
names), a message's signature field, and the priority lane. Each test names the mutants
(mutmut numbers in ``skyaccord.line.messages``) it kills; every refusal is written out
in full."""

from __future__ import annotations

from typing import Any

import pytest

from skyaccord.errors import MessageRefused
from skyaccord.line import generate_key, make_message
from skyaccord.line.messages import (
    MAX_DEPTH,
    MAX_ENVELOPE_BYTES,
    Message,
    is_priority,
    lane,
    parse_envelope_bytes,
    parse_message,
)
from tests.line.helpers import T0


def refused(raw: Any) -> str:
    with pytest.raises(MessageRefused) as err:
        parse_envelope_bytes(raw)
    return str(err.value)


def test_size_limit_at_its_bound() -> None:
    """Exactly MAX_ENVELOPE_BYTES (80 KiB) of canonical JSON is accepted, one byte more
    refused with both sizes. Kills parse_envelope_bytes 4 (``>=``), 5."""
    assert MAX_ENVELOPE_BYTES == 80 * 1024
    raw = b'{"a":"' + b"x" * (MAX_ENVELOPE_BYTES - 8) + b'"}'
    assert len(raw) == MAX_ENVELOPE_BYTES
    assert parse_envelope_bytes(raw) == {"a": "x" * (MAX_ENVELOPE_BYTES - 8)}
    assert refused(raw[:-2] + b'x"}') == "envelope: 81921 bytes, at most 81920"


def nested(depth: int, kind: str) -> bytes:
    """A JSON object of nesting ``depth`` (the outer object counts 1), inner levels
    objects or arrays."""
    inner = b"1"
    for _ in range(depth - 1):
        inner = b'{"a":' + inner + b"}" if kind == "object" else b"[" + inner + b"]"
    return b'{"a":' + inner + b"}"


@pytest.mark.parametrize("kind", ["object", "array"])
def test_depth_limit_at_its_bound(kind: str) -> None:
    """Nesting of exactly MAX_DEPTH (24) accepted, 25 refused, through objects and
    through arrays. Kills parse_envelope_bytes 23, 24, 25; _depth 3, 10, 12-15."""
    assert MAX_DEPTH == 24
    assert isinstance(parse_envelope_bytes(nested(24, kind)), dict)
    assert refused(nested(25, kind)) == "envelope: nested deeper than 24"


def test_nesting_deeper_than_the_parser_can_go() -> None:
    """40,000 nested arrays (inside the size limit) make the JSON parser itself give
    up: the same refusal, not a RecursionError. Kills parse_envelope_bytes 19."""
    raw = b"[" * 40_000 + b"]" * 40_000
    assert refused(raw) == "envelope: nested deeper than 24"


def test_each_refusal_in_full() -> None:
    """Not bytes, not UTF-8 (the byte named), a key twice, NaN, not JSON (the parser's
    reason, cut at 120 characters), not an object. Kills parse_envelope_bytes 2, 3,
    11, 14, 15, 17, 18, 20-22, 27-30; _unique_keys 3-6; _no_constant 1."""
    assert refused('{"a":1}') == "envelope: expected bytes, got str"
    assert refused(b'{"a":"\xff"}') == "envelope: not UTF-8 (byte 6)"
    assert refused(b'{"a":1,"a":1}') == ("envelope: key 'a' appears twice in one object: "
                                         "what was signed must be what every parser reads")
    assert refused(b'{"b":{"c":1,"c":2}}').startswith("envelope: key 'c' appears twice")
    assert refused(b'{"a":NaN}') == ("envelope: NaN is not JSON (RFC 8259 numbers are "
                                     "finite)")
    assert refused(b'{"a":-Infinity}') == ("envelope: -Infinity is not JSON (RFC 8259 "
                                           "numbers are finite)")
    assert refused(b'{"a":') == "envelope: not JSON: Expecting value: line 1 column 6 (char 5)"
    why = ("Exceeds the limit (4300 digits) for integer string conversion: value has 5000 "
           "digits; use sys.set_int_max_str_digits() to increase the limit")
    assert refused(b'{"a":' + b"1" * 5000 + b"}") == f"envelope: not JSON: {why[:120]}"
    assert refused(b"[1]") == "envelope must be a JSON object"


@pytest.mark.parametrize(("raw", "at"), [
    (b'{"b":1,"a":2}', 2),      # keys not sorted: the first byte that differs
    (b'{"a": 1}', 5),           # a space
    (b'{"a":1} ', 7),           # trailing blank: every byte of the canonical form agrees
    (b'{"a":1.0e1}', 6),        # another spelling of 10.0: "1" agrees, then "."
])
def test_non_canonical_bytes_name_the_first_difference(raw: bytes, at: int) -> None:
    """The refusal names the first byte where the envelope departs from its canonical
    form (where one is a prefix of the other, the shorter length). Kills
    parse_envelope_bytes 42-60."""
    assert refused(raw) == ("envelope: not in canonical form (sorted keys, no spaces, "
                            f"shortest numbers, UTF-8 unescaped) from byte {at}")


KEY = generate_key()


def message(kind: str = "text", body: dict[str, Any] | None = None, **extra: Any) -> Message:
    return make_message(KEY, kind=kind, sender="us", recipient="ru", seq=1, created_at=T0,
                        accord="a" * 64, body=body or {"text": "x"}, **extra)


def test_parse_message_refusals_in_full() -> None:
    """Not an object, a field name not a string, unknown and missing fields listed, and
    a signature that is empty or not a string. Kills parse_message 3, 8-10, 18, 20, 25,
    30 (``and``: an empty or numeric signature accepted), 33-35."""
    d = message().to_dict()

    def why(data: Any) -> str:
        with pytest.raises(MessageRefused) as err:
            parse_message(data)
        return str(err.value)

    assert why([d]) == "message must be a JSON object"
    assert why({**d, 1: 2}) == "message: field names must be strings"
    assert why({**d, "x": 1, "y": 2}) == (
        "message: unknown field(s) x, y; allowed: v, id, kind, from, to, seq, created_at, "
        "accord, in_reply_to, due_at, body, sig")
    assert why({k: v for k, v in d.items() if k not in ("sig", "body")}) == (
        "message: missing field(s) body, sig")
    for sig in ("", 5):
        assert why({**d, "sig": sig}) == "message field 'sig': must be a base64 string"
    assert parse_message(d) == message_from(d)


def message_from(d: dict[str, Any]) -> Message:
    return Message(d["id"], d["kind"], d["from"], d["to"], d["seq"], d["created_at"],
                   d["accord"], d["in_reply_to"], d["due_at"], d["body"], d["sig"])


def test_priority_lane() -> None:
    """A distress call and a response flagged ``priority`` travel in the priority lane
    (``ru#priority``); a plain response, a text, do not. Kills is_priority 1, 3, 4, 6-11,
    13; lane 1, 3."""
    distress = message("distress", {"lat": 1.0, "lon": 2.0, "frequency_mhz": 121.5},
                       due_at=T0 + 60)
    flagged = message("response", {"text": "ack", "priority": True}, in_reply_to="b" * 32)
    plain = message("response", {"text": "ack"}, in_reply_to="b" * 32)
    text = message()
    assert [is_priority(m) for m in (distress, flagged, plain, text)] == [
        True, True, False, False]
    assert [lane(m) for m in (distress, flagged, plain, text)] == [
        "ru#priority", "ru#priority", "ru", "ru"]
