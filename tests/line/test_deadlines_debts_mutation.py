"""What is owed, at the edges the mutation run of the line (``line-units``,
tests/mutation/README.md) found untested: the receiver's signed time of receipt moving a
due time, proposals answered (or not) and lapsing, and ``store_debts`` reading every kind
it needs from a real node's store. Each test names the mutants (mutmut numbers in
``skyaccord.line.deadlines``) it kills; the due times and lateness are worked by hand."""

from __future__ import annotations

import hashlib
from typing import Any

from skyaccord.line import generate_key, make_message, store_debts
from skyaccord.line.deadlines import debts
from skyaccord.line.messages import Message
from skyaccord.protocol import Accord, parse_accord
from tests.line.helpers import T0, Pair, accord_version

KEYS = {p: generate_key() for p in ("us", "ru")}
SHA = "0" * 64
DEADLINE = 180.0


def msg(kind: str, sender: str, seq: int, at: float, body: dict[str, Any], *,
        reply_to: str | None = None, due: float | None = None) -> Message:
    return make_message(KEYS[sender], kind=kind, sender=sender,
                        recipient="ru" if sender == "us" else "us", seq=seq, created_at=at,
                        accord=SHA, body=body, in_reply_to=reply_to, due_at=due)


def proposal(seq: int, at: float, effective_at: float) -> Message:
    text = '{"an":"accord"}'
    return msg("proposal", "us", seq, at, {
        "text": "v2", "accord_text": text,
        "accord_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "effective_at": effective_at}, due=at + DEADLINE)


def test_receipt_time_in_the_receivers_ack_moves_the_due_time() -> None:
    """A request made at T0 (due T0 + 180) that ru received at T0 + 100, as its signed
    ack says: due at T0 + 100 + 180 = T0 + 280 (the later of the two). At T0 + 200 it
    is pending, 80 s early; at T0 + 300, 20 s overdue. Kills debts 26, 27, 40-45 (the
    ack not read, or its ``received_at`` not found), 51 (``received - deadline``)."""
    req = msg("request", "us", 1, T0, {"text": "leave box 7"}, due=T0 + DEADLINE)
    ack = make_message(KEYS["ru"], kind="ack", sender="ru", recipient="us", seq=0,
                       created_at=T0 + 100, accord=SHA, in_reply_to=req.id,
                       body={"digest": req.digest, "received_at": T0 + 100})
    (d,) = debts([req, ack], T0 + 200, DEADLINE)
    assert (d.msg_id, d.due_at, d.late_s, d.level) == (req.id, T0 + 280, -80.0, "pending")
    (d,) = debts([ack, req], T0 + 300, DEADLINE)
    assert (d.due_at, d.late_s, d.level) == (T0 + 280, 20.0, "overdue")


def test_a_proposal_is_answered_by_an_acceptance_only() -> None:
    """ru's response naming us's proposal is no answer to it (and does not stop the
    scan); its acceptance, after, settles it. Kills debts 28, 29 (acceptances not
    read), 54 (``break`` at the response)."""
    p = proposal(1, T0, T0 + 10_000)
    resp = msg("response", "ru", 1, T0 + 10, {"text": "reading it"}, reply_to=p.id)
    (d,) = debts([p, resp], T0 + 190, DEADLINE)
    assert (d.msg_id, d.what, d.debtor, d.due_at, d.late_s, d.level) == (
        p.id, "answer", "ru", T0 + 180, 10.0, "overdue")
    acc = msg("acceptance", "ru", 2, T0 + 20, {"text": "agreed", "decision": "accept",
                                                 "accord_sha256": p.body["accord_sha256"]},
              reply_to=p.id)
    assert debts([p, resp, acc], T0 + 190, DEADLINE) == []


def test_a_proposal_lapses_at_its_effective_time_and_others_stay_owed() -> None:
    """A proposal effective at T0 + 500 is owed until then, not at T0 + 500 exactly (it
    can no longer take effect); a request made after it is still owed. Kills debts 77,
    78 (proposals never lapse), 79 (``>``: owed at the effective time), 88 (``break``:
    the debts after a lapsed proposal dropped)."""
    p = proposal(1, T0, T0 + 500)
    req = msg("request", "us", 2, T0 + 1, {"text": "and box 8"}, due=T0 + 1 + DEADLINE)
    got = debts([p, req], T0 + 499, DEADLINE)
    assert [(d.msg_id, d.late_s) for d in got] == [(p.id, 319.0), (req.id, 318.0)]
    (d,) = debts([p, req], T0 + 500, DEADLINE)
    assert (d.msg_id, d.late_s, d.level) == (req.id, 319.0, "supervisor")


def test_store_debts_reads_every_kind_from_a_real_store(pair: Pair,
                                                        keys: dict[str, Any]) -> None:
    """us, through its node: a request queued for 100 s (made at T0, received at
    T0 + 100: due T0 + 280, from ru's ack), a distress call and a proposal at
    T0 + 100; then ru accepts the proposal. ``store_debts`` over us's store must load
    the acks, proposals, acceptances and distress calls it needs. Kills store_debts
    8-15 (a kind not loaded), 28 (``include_pending`` not passed)."""
    accord: Accord = pair.us.accord
    req = pair.us.send("ru", "request", {"text": "leave box 7"})  # queued, not yet sent
    pair.clock.t = T0 + 100
    (dis,) = pair.us.distress({"lat": 36.0, "lon": 37.0, "frequency_mhz": 121.5})
    new = parse_accord(accord_version(keys, parties=("us", "ru"), version=2), "v2")
    (prop,) = pair.us.propose(new, "v2", T0 + 10_000)
    pair.us.deliver_once()
    deadline = accord.response_deadline_s
    distress_s = min([deadline, *(lv.time_s for lv in accord.levels)])
    now = T0 + 200
    got = store_debts(pair.us.store, deadline, now)
    expected = sorted([
        (req.id, "response", T0 + 100 + deadline),
        (dis.id, "acknowledgement", T0 + 100 + distress_s),
        (prop.id, "answer", T0 + 100 + deadline)], key=lambda x: -(now - x[2]))
    assert [(d.msg_id, d.what, d.due_at) for d in got] == expected
    assert all((d.debtor, d.creditor, d.late_s) == ("ru", "us", now - d.due_at) for d in got)
    late = [d.msg_id for d in store_debts(pair.us.store, deadline, now,
                                          include_pending=False)]
    assert late == [i for i, _, due in expected if due <= now]
    assert len(late) < 3  # one at least is pending: include_pending matters here
    pair.ru.answer(new.sha256, "accept", "agreed")
    pair.ru.deliver_once()
    assert prop.id not in {d.msg_id for d in store_debts(pair.us.store, deadline, now)}
