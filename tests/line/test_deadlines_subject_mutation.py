"""The subject line of each kind of debt, by hand: what an operator reads in the list
of answers owed. Written for the survivors of the line mutation run over the deadlines
module (``deadlines._subject``, mutmut names in tests/mutation/README.md): the kind's
prefix, the accord hash's first 12 digits, the distress call's callsign and nature and
their defaults, a request's subject before its text, and the 80-character cut."""

from __future__ import annotations

import hashlib
from typing import Any

from skyaccord.line import generate_key, make_message
from skyaccord.line.deadlines import debts
from skyaccord.line.messages import Message
from tests.line.helpers import T0

KEY = generate_key()
DEADLINE = 180.0
LONG = "0123456789" * 10  # 100 characters


def owed(kind: str, body: dict[str, Any]) -> str:
    m: Message = make_message(KEY, kind=kind, sender="us", recipient="ru", seq=1,
                              created_at=T0, accord="0" * 64, body=body,
                              due_at=T0 + DEADLINE)
    (d,) = debts([m], T0 + 10.0, DEADLINE)
    assert d.debtor == "ru" and d.msg_id == m.id
    return d.subject


def test_the_subject_of_each_kind_of_debt() -> None:
    """Mutations killed: ``_subject``'s kinds, prefixes, slices, defaults and the
    80-character cut (deadlines._subject mutmut_1-37, the line-units run)."""
    text = '{"accord": "v2"}'
    sha = hashlib.sha256(text.encode()).hexdigest()
    proposal = {"text": "v2 " + LONG, "accord_text": text, "accord_sha256": sha,
                "effective_at": T0 + 1e6}
    # "proposal " + 12 digits + ": " is 23 characters; the text fills the rest of 80
    assert owed("proposal", proposal) == f"proposal {sha[:12]}: v2 {LONG[:54]}"
    assert owed("proposal", {**proposal, "text": "v2"}) == f"proposal {sha[:12]}: v2"
    where = {"lat": 35.0, "lon": 38.0, "frequency_mhz": 121.5}
    assert owed("distress", {**where, "callsign": "EAGLE1", "nature": "engine fire"}) \
        == "DISTRESS EAGLE1 engine fire"
    assert owed("distress", where) == "DISTRESS aircraft"
    assert owed("distress", {**where, "nature": LONG}) == ("DISTRESS aircraft " + LONG)[:80]
    assert owed("request", {"subject": "box 7", "text": "leave box 7"}) == "box 7"
    assert owed("request", {"text": LONG}) == LONG[:80]
