"""Fuzzing the line's receiving end (issue 14): the envelope parser and Node.receive meet
arbitrary bytes and values and answer each with a refusal, never an unexpected
exception or a 5xx."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyaccord.errors import MessageRefused
from skyaccord.line import make_message
from skyaccord.line.keys import sign
from skyaccord.line.messages import canonical, parse_envelope_bytes
from skyaccord.line.node import transmit_bytes
from skyaccord.line.peer import envelope_bytes
from tests.line.helpers import T0, Pair

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.text(max_size=20)
           | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([10**400, -(10**400), float("nan"), "", "0" * 64, "a" * 32]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                      max_leaves=30)


def parse_or_refuse(raw: bytes) -> dict[str, Any] | None:
    try:
        return parse_envelope_bytes(raw)
    except MessageRefused:
        return None


@FUZZ
@given(st.binary(max_size=2000))
def test_parser_refuses_any_bytes_cleanly(raw: bytes) -> None:
    value = parse_or_refuse(raw)
    if value is not None:  # accepted: exactly the canonical bytes of what it read
        assert canonical(value).encode() == raw


@FUZZ
@given(values)
def test_parser_accepts_exactly_canonical_json(value: Any) -> None:
    try:
        raw = canonical({"v": value}).encode()
    except ValueError:  # NaN, infinity, huge integers: not JSON at all
        return
    if raw.count(b"[") + raw.count(b"{") < 20:
        assert parse_or_refuse(raw) == json.loads(raw)
    spaced = json.dumps({"v": value}, ensure_ascii=True).encode()
    if spaced != raw:
        assert parse_or_refuse(spaced) is None


@FUZZ
@given(data=st.data())
def test_mutated_genuine_bytes_are_refused_or_accepted_never_crash(pair: Pair,
                                                                   data: Any) -> None:
    m = make_message(pair.us.key, kind="text", sender="us", recipient="ru", seq=1,
                     created_at=T0, accord=pair.us.accord.sha256, body={"text": "fuzz"},
                     msg_id="ab" * 16)  # the same bytes in every example
    raw = bytearray(envelope_bytes(
        {"message": m.to_dict(), "transmitted_at": T0,
         "transmit_sig": sign(pair.us.key, transmit_bytes(m.id, "ru", T0))}))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "duplicate"]))
        if op == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del raw[at]
        elif op == "insert":
            raw[at:at] = data.draw(st.sampled_from(
                [b" ", b",", b'"', b"{", b"[", b"NaN", b"1e999", b"\\u0000", b"\xff"]))
        else:
            raw[at:at] = raw[at:at + data.draw(st.integers(1, 40))]
    code, reply = pair.ru.receive_bytes(bytes(raw), source="fuzzer")
    assert code in (200, 400, 403, 409), (code, reply)
    assert pair.ru.internal_errors == 0


@FUZZ
@given(field=st.sampled_from(["id", "kind", "from", "to", "seq", "created_at", "accord",
                              "in_reply_to", "due_at", "body", "sig", "v"]),
       value=values, where=st.sampled_from(["message", "envelope", "body"]))
def test_receive_any_value_in_any_field(pair: Pair, field: str, value: Any,
                                        where: str) -> None:
    env = json.loads(json.dumps(pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))))
    if where == "message":
        env["message"][field] = value
    elif where == "body":
        env["message"]["body"][field] = value
    else:
        env[field if field in ("sig",) else "transmitted_at"] = value
    code, reply = pair.ru.receive(env, source="fuzzer")
    assert 200 <= code < 500 and (code == 200 or reply["error"]), (code, reply)
    assert pair.ru.internal_errors == 0
