"""Every refusal of a message's fields and body, in full, and the limits at their exact
bounds: the tests the mutation run of the line (``line-units``,
tests/mutation/README.md) found missing (``test_messages.py`` checks the field named
only). Each case changes one field of a valid message of its kind (``VALID`` in
``test_messages.py``) and gives the refusal expected, written by hand from the rules in
``skyaccord.line.messages``' docstring (ranges printed with ``:g``: ``1e+11``). Kills
mutants of ``_validate``, ``_validate_body``, ``_number``, ``_short`` and ``_text``
(their field names, bounds, ``and``/``or``, messages)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from skyaccord.errors import MessageRefused
from skyaccord.line import parse_message
from tests.line.helpers import T0
from tests.line.test_messages import build

KINDS_TEXT = ("notice, request, response, ack, conflict, distress, proposal, acceptance, "
              "suspension, text, checkpoint")
NUM = "must be a finite number in [{}], got {}"
INT = "must be an integer in [{}, 2**53 - 1], got {}"
SHA = "must be a sha256 (64 lowercase hex digits)"
BIG = 2**53
LONG = "x" * 100
ACCORD_TEXT = '{"an":"accord"}'


def changed(kind: str, top: dict[str, Any] | None = None,
            body: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(build(kind).to_json())
    d.update(top or {})
    if isinstance(d["body"], dict):
        d["body"] = {**d["body"], **(body or {})}
    for f in drop:
        d["body"].pop(f)
    return d


REFUSED = [
    # the envelope's fields
    ("text", {"v": 2}, {}, "'v': unsupported version 2; this node speaks 1"),
    ("text", {"id": "A" * 32}, {}, "'id': must be 32 lowercase hex digits"),
    ("text", {"id": 7}, {}, "'id': must be 32 lowercase hex digits"),
    ("text", {"kind": "memo"}, {}, f"'kind': unknown kind 'memo'; kinds are {KINDS_TEXT}"),
    ("text", {"kind": LONG}, {}, f"'kind': unknown kind '{'x' * 76}...; kinds are {KINDS_TEXT}"),
    ("text", {"from": 7}, {}, "'from': not a party id: 7"),
    ("text", {"to": "R U"}, {}, "'to': not a party id: 'R U'"),
    ("text", {"to": "us"}, {}, "'to': a party does not send to itself"),
    ("text", {"seq": True}, {}, "'seq': " + INT.format(0, "True")),
    ("text", {"seq": "1"}, {}, "'seq': " + INT.format(0, "'1'")),
    ("text", {"seq": -1}, {}, "'seq': " + INT.format(0, "-1")),
    ("text", {"seq": BIG}, {}, "'seq': " + INT.format(0, str(BIG))),
    ("text", {"seq": 2**70}, {}, "'seq': " + INT.format(0, "an integer of 71 bits")),
    # a value is written out up to 64 bits and 80 characters (_short 8, 9, 15, 16)
    ("text", {"seq": 2**63}, {}, "'seq': " + INT.format(0, str(2**63))),
    ("text", {"seq": 2**64}, {}, "'seq': " + INT.format(0, "an integer of 65 bits")),
    ("text", {"kind": "x" * 78}, {}, f"'kind': unknown kind '{'x' * 78}'; kinds are "
                                     f"{KINDS_TEXT}"),
    ("text", {"kind": "x" * 79}, {}, f"'kind': unknown kind '{'x' * 76}...; kinds are "
                                     f"{KINDS_TEXT}"),
    ("text", {"seq": 0}, {}, "'seq': acknowledgements carry seq 0, every other kind seq >= 1"),
    ("ack", {"seq": 1}, {}, "'seq': acknowledgements carry seq 0, every other kind seq >= 1"),
    ("text", {"created_at": -1}, {}, "'created_at': " + NUM.format("0, 1e+11", "-1")),
    ("text", {"created_at": 1e11 + 1}, {},
     "'created_at': " + NUM.format("0, 1e+11", "100000000001.0")),
    ("text", {"created_at": "x"}, {}, "'created_at': must be a number, got 'x'"),
    ("text", {"created_at": True}, {}, "'created_at': must be a number, got True"),
    ("text", {"created_at": 10**400}, {},
     "'created_at': " + NUM.format("0, 1e+11", "an integer of 1329 bits")),
    ("text", {"accord": "a" * 63}, {},
     "'accord': must be the accord's sha256 (64 lowercase hex digits)"),
    ("text", {"accord": 7}, {}, "'accord': must be the accord's sha256 (64 lowercase hex "
                                "digits)"),
    ("text", {"in_reply_to": "x"}, {},
     "'in_reply_to': must be a message id (32 hex digits) or null"),
    ("response", {"in_reply_to": None}, {},
     "'in_reply_to': a response must name the message it answers"),
    ("request", {"due_at": None}, {}, "'due_at': a request must carry its due time"),
    ("request", {"due_at": T0 - 1}, {}, "'due_at': due before it was created"),
    ("request", {"due_at": 1e11 + 1}, {},
     "'due_at': " + NUM.format("0, 1e+11", "100000000001.0")),
    ("text", {"due_at": T0}, {},
     "'due_at': only distress, proposal, request carry a due time, not a text"),
    ("text", {"body": []}, {}, "'body': must be a JSON object"),
    ("text", {}, {"text": "x" * (64 * 1024 - 10)}, "'body': 65537 bytes, at most 65536"),
    ("text", {}, {"x": 1}, "'body.x': unknown for a text; allowed: text"),
    ("notice", {}, {"y": 1, "x": 1}, "'body.x': unknown for a notice; allowed: start_s, "
                                    "end_s, intent_ids, text, volumes"),
    # bodies
    ("text", {}, {"text": " "}, "'body.text': must be a non-empty string, got ' '"),
    ("request", {}, {"subject": 7}, "'body.subject': must be a non-empty string, got 7"),
    ("suspension", {}, {"reason": ""}, "'body.reason': must be a non-empty string, got ''"),
    ("suspension", {}, {"reason": "r" * 201}, "'body.reason': 201 characters, at most 200"),
    ("distress", {}, {"callsign": ""}, "'body.callsign': must be a non-empty string, got ''"),
    ("distress", {}, {"callsign": "c" * 201}, "'body.callsign': 201 characters, at most 200"),
    ("distress", {}, {"nature": None}, "'body.nature': must be a non-empty string, got None"),
    ("distress", {}, {"nature": "n" * 201}, "'body.nature': 201 characters, at most 200"),
    ("conflict", {}, {"id1": ""}, "'body.id1': must be a non-empty string, got ''"),
    ("conflict", {}, {"id2": 3}, "'body.id2': must be a non-empty string, got 3"),
    ("conflict", {}, {"level": []}, "'body.level': must be a non-empty string, got a list"),
    ("suspension", {}, {"accord_sha256": "A" * 64}, "'body.accord_sha256': " + SHA),
    ("acceptance", {}, {"accord_sha256": 5}, "'body.accord_sha256': " + SHA),
    ("notice", {}, {"start_s": -1}, "'body.start_s': " + NUM.format("0, 1e+11", "-1")),
    ("notice", {}, {"start_s": 1e11 + 1},
     "'body.start_s': " + NUM.format("0, 1e+11", "100000000001.0")),
    ("notice", {}, {"end_s": -1}, "'body.end_s': " + NUM.format("0, 1e+11", "-1")),
    ("notice", {}, {"end_s": 1e11 + 1},
     "'body.end_s': " + NUM.format("0, 1e+11", "100000000001.0")),
    ("notice", {}, {"end_s": T0}, "'body.end_s': must be after start_s"),
    ("notice", {}, {"intent_ids": "i1"}, "'body.intent_ids': must be a list of intent ids "
                                         "(strings)"),
    ("notice", {}, {"intent_ids": ["i1", ""]}, "'body.intent_ids': must be a list of "
                                               "intent ids (strings)"),
    ("response", {}, {"decision": "maybe"}, "'body.decision': must be accept, reject or "
                                            "standby"),
    ("response", {}, {"priority": False}, "'body.priority': must be true when given (the "
                                          "acknowledgement of a distress call)"),
    ("acceptance", {}, {"decision": "standby"}, "'body.decision': must be accept or "
                                                "reject, got 'standby'"),
    ("proposal", {}, {"accord_text": ""}, "'body.accord_text': must be the new accord's "
                                          "canonical JSON (a string)"),
    ("proposal", {}, {"accord_text": 7}, "'body.accord_text': must be the new accord's "
                                         "canonical JSON (a string)"),
    ("proposal", {}, {"accord_text": "a" * (48 * 1024 + 1)},
     "'body.accord_text': 49153 bytes, at most 49152"),
    ("proposal", {}, {"accord_text": ACCORD_TEXT, "accord_sha256": "d" * 64},
     "'body.accord_sha256': dddddddddddd... does not match the accord text (its sha256 is "
     f"{hashlib.sha256(ACCORD_TEXT.encode()).hexdigest()[:12]}...)"),
    ("proposal", {}, {"effective_at": -1}, "'body.effective_at': " + NUM.format(
        "0, 1e+11", "-1")),
    ("proposal", {}, {"effective_at": 1e11 + 1}, "'body.effective_at': " + NUM.format(
        "0, 1e+11", "100000000001.0")),
    ("ack", {}, {"digest": "c" * 63}, "'body.digest': " + SHA),
    ("ack", {}, {"digest": 1}, "'body.digest': " + SHA),
    ("ack", {}, {"received_at": -1}, "'body.received_at': " + NUM.format("0, 1e+11", "-1")),
    ("ack", {}, {"received_at": 1e11 + 1},
     "'body.received_at': " + NUM.format("0, 1e+11", "100000000001.0")),
    ("ack", {}, {"log_pos": 0}, "'body.log_pos': " + INT.format(1, "0")),
    ("ack", {}, {"log_pos": True}, "'body.log_pos': " + INT.format(1, "True")),
    ("ack", {}, {"log_pos": "2"}, "'body.log_pos': " + INT.format(1, "'2'")),
    ("ack", {}, {"log_pos": BIG}, "'body.log_pos': " + INT.format(1, str(BIG))),
    ("ack", {}, {"log_hash": "f" * 63}, "'body.log_hash': " + SHA),
    ("ack", {}, {"log_hash": 3}, "'body.log_hash': " + SHA),
    ("conflict", {}, {"source": "radar"}, "'body.source': must be tactical, strategic or "
                                          "airspace"),
    ("conflict", {}, {"t_in_s": -1}, "'body.t_in_s': " + NUM.format("0, inf", "-1")),
    ("conflict", {}, {"tcpa_s": "x"}, "'body.tcpa_s': must be a number, got 'x'"),
    ("conflict", {}, {"dcpa_nm": "x"}, "'body.dcpa_nm': must be a number, got 'x'"),
    ("conflict", {}, {"dz_ft": True}, "'body.dz_ft': must be a number, got True"),
    ("conflict", {}, {"dz_ft": float("nan")}, "'body': not plain JSON: ValueError"),
    ("conflict", {}, {"t_out_s": -1}, "'body.t_out_s': " + NUM.format("0, inf", "-1")),
    ("distress", {}, {"lat": 90.5}, "'body.lat': " + NUM.format("-90, 90", "90.5")),
    ("distress", {}, {"lat": -90.5}, "'body.lat': " + NUM.format("-90, 90", "-90.5")),
    ("distress", {}, {"lon": 180.5}, "'body.lon': " + NUM.format("-180, 180", "180.5")),
    ("distress", {}, {"lon": -180.5}, "'body.lon': " + NUM.format("-180, 180", "-180.5")),
    ("distress", {}, {"frequency_mhz": 0.0009},
     "'body.frequency_mhz': " + NUM.format("0.001, 100000", "0.0009")),
    ("distress", {}, {"frequency_mhz": 100000.5},
     "'body.frequency_mhz': " + NUM.format("0.001, 100000", "100000.5")),
    ("distress", {}, {"alt_ft": -2000.5}, "'body.alt_ft': " + NUM.format("-2000, 200000",
                                                                         "-2000.5")),
    ("distress", {}, {"alt_ft": 200000.5}, "'body.alt_ft': " + NUM.format("-2000, 200000",
                                                                          "200000.5")),
    ("checkpoint", {}, {"log_count": -1}, "'body.log_count': " + INT.format(0, "-1")),
    ("checkpoint", {}, {"log_count": True}, "'body.log_count': " + INT.format(0, "True")),
    ("checkpoint", {}, {"log_count": 1.0}, "'body.log_count': " + INT.format(0, "1.0")),
    ("checkpoint", {}, {"log_count": BIG}, "'body.log_count': " + INT.format(0, str(BIG))),
    ("checkpoint", {}, {"log_head": "e" * 65}, "'body.log_head': " + SHA),
    ("checkpoint", {}, {"log_head": None}, "'body.log_head': " + SHA),
]


@pytest.mark.parametrize(("kind", "top", "body", "why"), REFUSED)
def test_refusal_in_full(kind: str, top: dict[str, Any], body: dict[str, Any],
                         why: str) -> None:
    with pytest.raises(MessageRefused) as err:
        parse_message(changed(kind, top, body))
    assert str(err.value) == "message field " + why


@pytest.mark.parametrize(("kind", "drop", "field"), [
    ("text", ("text",), "body.text"), ("notice", ("intent_ids",), "body.intent_ids"),
    ("conflict", ("level",), "body.level"), ("checkpoint", ("log_head",), "body.log_head")])
def test_required_body_field(kind: str, drop: tuple[str, ...], field: str) -> None:
    with pytest.raises(MessageRefused) as err:
        parse_message(changed(kind, drop=drop))
    assert str(err.value) == f"message field {field!r}: required for a {kind}"


ACCEPTED = [
    # each limit's own bound is inside it
    ("text", {"seq": BIG - 1}, {}),
    ("text", {"created_at": 0.0}, {}),
    ("text", {"created_at": 0.5}, {}),
    ("text", {"created_at": 1e11}, {}),
    ("request", {"due_at": T0}, {}),  # due when made
    ("request", {"due_at": 1e11}, {}),
    ("request", {}, {"subject": "s"}),
    ("text", {}, {"text": "x" * (64 * 1024 - 11)}),  # 65536 bytes of body
    ("suspension", {}, {"reason": "r" * 200}),
    ("distress", {}, {"callsign": "c" * 200, "nature": "n" * 200, "alt_ft": -2000,
                      "lat": -90, "lon": 180, "frequency_mhz": 1e-3}),
    ("distress", {}, {"alt_ft": 200000, "lat": 90, "lon": -180, "frequency_mhz": 1e5}),
    ("notice", {}, {"start_s": 0.5, "end_s": 1e11}),
    ("notice", {}, {"start_s": 0, "end_s": 0.5}),
    ("acceptance", {}, {"decision": "reject"}),
    ("response", {}, {"decision": "standby", "priority": True}),
    ("response", {}, {"decision": "accept"}),
    ("proposal", {}, {"accord_text": "a" * (48 * 1024),
                      "accord_sha256": hashlib.sha256(b"a" * (48 * 1024)).hexdigest(),
                      "effective_at": 0.5}),
    ("proposal", {}, {"effective_at": 1e11}),
    ("ack", {}, {"log_pos": 1, "log_hash": "f" * 64, "received_at": 0.5}),
    ("ack", {}, {"log_pos": BIG - 1, "received_at": 1e11}),
    ("conflict", {}, {"source": "strategic", "t_in_s": 0.5, "t_out_s": 0.5, "tcpa_s": -5,
                      "dcpa_nm": 0.0, "dz_ft": -300}),
    ("conflict", {}, {"source": "airspace", "t_in_s": 0}),
    ("checkpoint", {}, {"log_count": 0}),
    ("checkpoint", {}, {"log_count": BIG - 1}),
]


@pytest.mark.parametrize(("kind", "top", "body"), ACCEPTED)
def test_accepted_at_the_bounds(kind: str, top: dict[str, Any], body: dict[str, Any]
                                ) -> None:
    d = changed(kind, top, body)
    m = parse_message(d)
    assert (m.seq, m.created_at, dict(m.body)) == (d["seq"], d["created_at"], d["body"])
