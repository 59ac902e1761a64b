"""Deadlines and signature checks at the edges the mutation run of the line group found
untested (mutmut names in tests/mutation/README.md). Messages are made and signed with
the real keys; the expected debts are worked by hand from the times."""

from __future__ import annotations

from typing import Any

import pytest

from skyaccord.errors import SignatureError
from skyaccord.line import generate_key, make_message, public_key_b64
from skyaccord.line.deadlines import ACK_TIMEOUT_S, debts
from skyaccord.line.keys import sign, verify
from skyaccord.line.messages import Message
from tests.line.helpers import T0

KEYS = {p: generate_key() for p in ("us", "ru")}
ACCORD_SHA = "0" * 64
DEADLINE = 180.0


def msg(kind: str, sender: str, seq: int, at: float, body: dict[str, Any], *,
        reply_to: str | None = None) -> Message:
    return make_message(KEYS[sender], kind=kind, sender=sender,
                        recipient="ru" if sender == "us" else "us", seq=seq, created_at=at,
                        accord=ACCORD_SHA, body=body, in_reply_to=reply_to,
                        due_at=at + DEADLINE if kind == "request" else None)


def test_signature_and_key_must_be_strict_base64() -> None:
    """A signature or key with characters outside base64 is refused as such, naming who
    signed (not decoded leniently into a "bad signature"). Kills ``validate=True``
    dropped or made False for either, the message ``None``, and the default ``who``
    changed (keys.verify mutmut_1, 2, 7, 8, 13, 14, 15)."""
    key = KEYS["us"]
    good = sign(key, b"data")
    pub = public_key_b64(key)
    verify(pub, b"data", good)
    # a character outside the alphabet: a lenient decoder skips it and gets the genuine
    # bytes back
    for sig, pk in ((good[:10] + "!" + good[10:], pub), (good, pub[:10] + "*" + pub[10:])):
        with pytest.raises(SignatureError) as err:
            verify(pk, b"data", sig)
        assert str(err.value) == "signature or key of sender is not base64"


def test_only_answers_settle_and_other_messages_do_not_stop_the_scan() -> None:
    """A text from ru naming the request does not settle it (only a response does); a
    message that answers nothing, logged between, does not stop the later response from
    settling, and a settled request does not hide the open one after it. Kills the
    answer-kind test made always true and ``break`` for ``continue`` (debts mutmut_21,
    63)."""
    req = msg("request", "us", 1, T0, {"text": "leave box 7"})
    req2 = msg("request", "us", 3, T0 + 30, {"text": "and box 8"})
    chat = msg("text", "ru", 1, T0 + 5, {"text": "reading you"}, reply_to=req.id)
    other = msg("text", "us", 2, T0 + 6, {"text": "weather"})
    (d,) = debts([req, chat, other], T0 + 10, DEADLINE)
    assert (d.msg_id, d.debtor, d.level) == (req.id, "ru", "pending")
    done = msg("response", "ru", 2, T0 + 20, {"text": "done", "decision": "accept"},
               reply_to=req.id)
    assert debts([req, chat, other, done], T0 + 1000, DEADLINE) == []
    (d,) = debts([req, chat, other, done, req2], T0 + 1000, DEADLINE)
    assert (d.msg_id, d.level) == (req2.id, "supervisor")


def test_subject_falls_back_to_the_text_cut_at_80() -> None:
    """Kills the text's key or default changed and the cut at 81 (debts mutmut_90-97)."""
    long = "x" * 100
    a = msg("request", "us", 1, T0, {"text": long})
    b = msg("request", "us", 2, T0, {"text": "short", "subject": "box 7"})
    got = {d.msg_id: d.subject for d in debts([a, b], T0, DEADLINE)}
    assert got == {a.id: "x" * 80, b.id: "box 7"}


def test_pending_by_default_custom_levels_and_order() -> None:
    """Pending debts are listed unless asked not to; the levels given are used for
    responses and for acknowledgements; the latest first. Kills include_pending False
    by default, the levels not passed on (debts mutmut_1, 101, 128) and the order
    reversed (mutmut_135)."""
    early = msg("request", "us", 1, T0, {"text": "a"})
    late = msg("request", "us", 2, T0 + 100, {"text": "b"})
    assert [d.level for d in debts([early], T0, DEADLINE)] == ["pending"]
    levels = (("late", 0.0), ("very late", 50.0))
    out = debts([late, early], T0 + DEADLINE + 60, DEADLINE, levels=levels,
                unacked=[(early, T0)])
    assert [(d.msg_id, d.what, d.late_s, d.level) for d in out] == [
        (early.id, "ack", DEADLINE + 60 - ACK_TIMEOUT_S, "very late"),
        (early.id, "response", 60.0, "very late"),
        (late.id, "response", -40.0, "pending")]


def test_unacknowledged_message_by_hand() -> None:
    """Stored at T0, not acknowledged: due T0 + 10 s, 5 s late at T0 + 15, owed by the
    recipient to the sender, "text seq 3". Kills the ack timeout subtracted (debts
    mutmut_104, 124), the creditor, subject or due time ``None`` (mutmut_109-111); and
    a debt exactly due (0 s late) or 0.5 s late is listed without pending ones (kills
    ``> 0`` and ``>= 1`` for ``>= 0``, mutmut_131, 132)."""
    m = msg("text", "us", 3, T0, {"text": "anyone?"})
    (d,) = debts([], T0 + 15.0, DEADLINE, unacked=[(m, T0)])
    assert (d.what, d.debtor, d.creditor, d.subject, d.due_at, d.late_s, d.level) == (
        "ack", "ru", "us", "text seq 3", T0 + ACK_TIMEOUT_S, 5.0, "overdue")
    for late in (0.0, 0.5):
        (d,) = debts([], T0 + ACK_TIMEOUT_S + late, DEADLINE, unacked=[(m, T0)],
                     include_pending=False)
        assert d.late_s == late
    assert debts([], T0 + ACK_TIMEOUT_S - 0.5, DEADLINE, unacked=[(m, T0)],
                 include_pending=False) == []


def test_signature_and_key_lengths() -> None:
    """Base64 of the wrong length: a 63-byte signature under a good key, a good signature
    under a 31-byte key, both refused by length, naming who. Kills ``and`` for ``or``
    in the length check and its message made ``None`` (keys.verify mutmut_16, 21)."""
    import base64

    key = KEYS["ru"]
    good = sign(key, b"data")
    pub = public_key_b64(key)
    short_sig = base64.b64encode(base64.b64decode(good)[:63]).decode()
    short_key = base64.b64encode(base64.b64decode(pub)[:31]).decode()
    for pk, sig in ((pub, short_sig), (short_key, good)):
        with pytest.raises(SignatureError) as err:
            verify(pk, b"data", sig, who="ru")
        assert str(err.value) == "signature of ru must be 64 bytes and key 32 bytes"
