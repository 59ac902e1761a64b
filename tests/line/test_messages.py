"""Messages: canonical signed form checked against an independent computation, every
kind's body rules, keys on disk."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import VerifyKey

from skyaccord.errors import LineError, MessageRefused, SignatureError
from skyaccord.line import KINDS, generate_key, load_key, make_message, parse_message
from skyaccord.line.keys import public_key_b64, save_key
from skyaccord.line.messages import signing_bytes
from skyaccord.protocol import default_accord
from tests.line.helpers import T0

ACCORD = "a" * 64
RID = "b" * 32
NEW_TEXT = default_accord().canonical_json()
NEW_SHA = hashlib.sha256(NEW_TEXT.encode()).hexdigest()
VALID: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "notice": ({"start_s": T0, "end_s": T0 + 3600, "intent_ids": ["i1"]}, {}),
    "request": ({"text": "q"}, {"due_at": T0 + 180}),
    "response": ({"text": "a", "decision": "reject"}, {"in_reply_to": RID}),
    "ack": ({"digest": "c" * 64, "received_at": T0}, {"in_reply_to": RID}),
    "conflict": ({"source": "tactical", "id1": "a", "id2": "b", "t_in_s": 12.0,
                  "level": "warning", "t_out_s": None}, {}),
    "distress": ({"lat": 35.4, "lon": 35.9, "frequency_mhz": 243.0}, {"due_at": T0 + 60}),
    "proposal": ({"text": "v2", "accord_text": NEW_TEXT, "accord_sha256": NEW_SHA,
                  "effective_at": T0 + 3600}, {"due_at": T0 + 180}),
    "acceptance": ({"text": "agreed", "accord_sha256": NEW_SHA, "decision": "accept"},
                   {"in_reply_to": RID}),
    "suspension": ({"reason": "Shayrat", "accord_sha256": ACCORD}, {}),
    "text": ({"text": "hello"}, {}),
    "checkpoint": ({"log_count": 12, "log_head": "e" * 64}, {}),
}


def build(kind: str, body: dict[str, Any] | None = None, **extra: Any) -> Any:
    b, links = VALID[kind]
    return make_message(generate_key(), kind=kind, sender="us", recipient="ru",
                        seq=0 if kind == "ack" else 1, created_at=T0, accord=ACCORD,
                        body=b if body is None else body, **{**links, **extra})


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID) == set(KINDS)
    for kind in KINDS:
        m = build(kind)
        assert parse_message(json.loads(m.to_json())) == m


def test_signature_independently_checked() -> None:
    key = generate_key()
    m = make_message(key, kind="text", sender="us", recipient="ru", seq=3, created_at=T0,
                     accord=ACCORD, body={"text": "é ü"})
    d = m.to_dict()
    sig = base64.b64decode(d.pop("sig"))
    # the signed bytes: a domain tag, then the JSON with sorted keys and no spaces
    expected = b"skyaccord-line/1\n" + json.dumps(
        d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert signing_bytes(m) == expected
    VerifyKey(base64.b64decode(public_key_b64(key))).verify(expected, sig)
    assert m.digest == hashlib.sha256(m.to_json().encode()).hexdigest()
    m.verify(public_key_b64(key))
    with pytest.raises(SignatureError):
        m.verify(public_key_b64(generate_key()))


@pytest.mark.parametrize(("kind", "body", "extra", "field"), [
    ("notice", {"start_s": T0, "end_s": T0, "intent_ids": []}, {}, "body.end_s"),
    ("notice", {"start_s": T0, "end_s": T0 + 1, "intent_ids": [3]}, {}, "body.intent_ids"),
    ("request", {"text": "q"}, {"due_at": None}, "due_at"),
    ("request", {"text": "q"}, {"due_at": T0 - 1}, "due_at"),
    ("text", {"text": "x"}, {"due_at": T0 + 5}, "due_at"),
    ("response", {"text": "a"}, {"in_reply_to": None}, "in_reply_to"),
    ("response", {"text": "a", "decision": "maybe"}, {}, "body.decision"),
    ("ack", {"digest": "xyz", "received_at": T0}, {}, "body.digest"),
    ("conflict", {"source": "rumour", "id1": "a", "id2": "b", "t_in_s": 1.0, "level": "w"},
     {}, "body.source"),
    ("distress", {"lat": 35.0, "lon": 200.0, "frequency_mhz": 121.5}, {}, "body.lon"),
    ("distress", {"lat": 35.0, "lon": 36.0}, {}, "body.frequency_mhz"),
    ("suspension", {"reason": "  ", "accord_sha256": ACCORD}, {}, "body.reason"),
    ("suspension", {"reason": "x"}, {}, "body.accord_sha256"),
    ("suspension", {"reason": "x", "accord_sha256": "A" * 64}, {}, "body.accord_sha256"),
    ("suspension", {"reason": "x" * 201, "accord_sha256": ACCORD}, {}, "body.reason"),
    ("distress", {"lat": 35.0, "lon": 36.0, "frequency_mhz": 121.5}, {"due_at": None},
     "due_at"),
    ("distress", {"lat": 35.0, "lon": 36.0, "frequency_mhz": 0.0}, {}, "body.frequency_mhz"),
    ("distress", {"lat": 35.0, "lon": 36.0, "frequency_mhz": 121.5, "nature": ""}, {},
     "body.nature"),
    ("distress", {"lat": 35.0, "lon": 36.0, "frequency_mhz": 121.5, "callsign": "x" * 201},
     {}, "body.callsign"),
    ("distress", {"lat": 35.0, "lon": 36.0, "frequency_mhz": 121.5, "alt_ft": 1e9}, {},
     "body.alt_ft"),
    ("distress", {"lat": 35.0, "lon": 36.0, "frequency_mhz": 121.5, "mayday": True}, {},
     "body.mayday"),
    ("proposal", {"text": "v2", "accord_text": NEW_TEXT, "accord_sha256": NEW_SHA,
                  "effective_at": T0}, {"due_at": None}, "due_at"),
    ("proposal", {"text": "v2", "accord_text": NEW_TEXT, "accord_sha256": "d" * 64,
                  "effective_at": T0}, {}, "body.accord_sha256"),
    ("proposal", {"text": "v2", "accord_text": NEW_TEXT, "accord_sha256": NEW_SHA},
     {}, "body.effective_at"),
    ("proposal", {"text": "v2", "accord_text": NEW_TEXT, "accord_sha256": NEW_SHA,
                  "effective_at": -5.0}, {}, "body.effective_at"),
    ("proposal", {"text": "v2", "accord_text": 7, "accord_sha256": NEW_SHA,
                  "effective_at": T0}, {}, "body.accord_text"),
    ("proposal", {"text": "v2", "accord_text": "x" * 50_000,
                  "accord_sha256": hashlib.sha256(b"x" * 50_000).hexdigest(),
                  "effective_at": T0}, {}, "body.accord_text"),
    ("acceptance", {"text": "ok", "accord_sha256": NEW_SHA}, {}, "body.decision"),
    ("acceptance", {"text": "ok", "accord_sha256": NEW_SHA, "decision": "standby"}, {},
     "body.decision"),
    ("acceptance", {"text": "", "accord_sha256": NEW_SHA, "decision": "accept"}, {},
     "body.text"),
    ("acceptance", {"text": "ok", "accord_sha256": NEW_SHA, "decision": "accept"},
     {"in_reply_to": None}, "in_reply_to"),
    ("response", {"text": "a", "priority": False}, {}, "body.priority"),
    ("text", {"text": "x", "nan": float("nan")}, {}, "body"),
    ("text", {"text": "x" * 70_000}, {}, "body"),
])
def test_invalid_bodies_name_the_field(kind: str, body: dict[str, Any], extra: dict[str, Any],
                                       field: str) -> None:
    with pytest.raises(MessageRefused, match=f"'{field}'"):
        build(kind, body, **extra)


def test_parse_rejects_unknown_and_missing_fields() -> None:
    d = build("text").to_dict()
    with pytest.raises(MessageRefused, match="unknown field"):
        parse_message({**d, "extra": 1})
    d.pop("seq")
    with pytest.raises(MessageRefused, match="missing field"):
        parse_message(d)
    with pytest.raises(MessageRefused, match="JSON object"):
        parse_message("text")


def test_key_file_round_trip_and_errors(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "us.key"
    save_key(key, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert public_key_b64(load_key(path)) == public_key_b64(key)
    with pytest.raises(LineError, match="exists"):
        save_key(generate_key(), path)
    (tmp_path / "bad.key").write_text("not base64!")
    (tmp_path / "bad.key").chmod(0o600)
    with pytest.raises(LineError, match="not base64"):
        load_key(tmp_path / "bad.key")
    (tmp_path / "short.key").write_text(base64.b64encode(b"x" * 16).decode())
    (tmp_path / "short.key").chmod(0o600)
    with pytest.raises(LineError, match="32 bytes"):
        load_key(tmp_path / "short.key")
    with pytest.raises(LineError, match="cannot read"):
        load_key(tmp_path / "missing.key")
