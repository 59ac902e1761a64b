"""The line between nodes whose clocks disagree: each node has a clock of its own (not one
shared fake clock). The ±30 s window's edge, the window set by ``skew_s`` (node.toml) or
``--skew-s``, a peer whose clock is off for good (refused with the reason recorded, no
crash, delivered once when the clock is fixed), and deadlines and the overdue list when
the receiver's clock runs ahead or behind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from skyaccord.line import LineStore, Node, store_debts, verify_log
from skyaccord.line.keys import SigningKey
from skyaccord.line.node import DEFAULT_SKEW_S, STUCK_AFTER_ATTEMPTS
from skyaccord.protocol import Accord
from tests.line.helpers import T0, Clock, Direct

WINDOW = "outside the clock-skew window"


@dataclass
class Skewed:
    us: Node
    ru: Node
    us_clock: Clock
    ru_clock: Clock
    to_ru: Direct
    to_us: Direct

    def retry(self, node: Node) -> int:
        node._backoff.clear()  # the back-off is in real (monotonic) time: skip it
        return node.deliver_once()


def make_skewed(tmp_path: Path, keys: dict[str, SigningKey], accord: Accord,
                ru_offset_s: float = 0.0, skew_s: float = DEFAULT_SKEW_S) -> Skewed:
    us_clock, ru_clock = Clock(T0), Clock(T0 + ru_offset_s)
    to_ru, to_us = Direct(), Direct()
    us = Node("us", keys["us"], accord, LineStore(tmp_path / "us.db", "us", keys["us"]),
              {"ru": to_ru}, clock=us_clock, skew_s=skew_s)
    ru = Node("ru", keys["ru"], accord, LineStore(tmp_path / "ru.db", "ru", keys["ru"]),
              {"us": to_us}, clock=ru_clock, skew_s=skew_s)
    to_ru.target, to_us.target = ru, us
    return Skewed(us, ru, us_clock, ru_clock, to_ru, to_us)


@pytest.fixture
def skewed(tmp_path: Path, keys: dict[str, SigningKey], accord: Accord
           ) -> Iterator[Skewed]:
    s = make_skewed(tmp_path, keys, accord)
    yield s
    s.us.store.close()
    s.ru.store.close()


def inbox(node: Node) -> list[Any]:
    return [m for _, _, _, m in node.store.messages(direction="received") if m.kind != "ack"]


@pytest.mark.parametrize("offset_s", [0.0, 29.9, -29.9, 30.0, -30.0])
def test_within_the_window_delivered_and_acknowledged(skewed: Skewed, offset_s: float
                                                      ) -> None:
    """The receiver's clock ``offset_s`` from the sender's, up to the window itself
    (the edge is inclusive: refused only *beyond* ±30 s): delivered, acknowledged, its
    ack's receipt time in the receiver's clock."""
    skewed.ru_clock.t = T0 + offset_s
    m = skewed.us.send("ru", "text", {"text": f"at {offset_s:+}"})
    assert skewed.us.deliver_once() == 1
    assert [x.id for x in inbox(skewed.ru)] == [m.id]
    (ack,) = skewed.us.store.replies(m.id)
    assert ack.body["received_at"] == T0 + offset_s
    assert skewed.ru.store.refusals() == []
    assert verify_log(skewed.ru.store.path, skewed.ru.accord).ok


@pytest.mark.parametrize("offset_s", [30.1, -30.1, 45.0, -600.0])
def test_beyond_the_window_refused_with_the_reason(skewed: Skewed, offset_s: float) -> None:
    """Beyond ±30 s the receiver refuses the transmission (403), records why, with the
    measured offset, and stores nothing; the sender keeps the message queued with the
    reason, and does not crash."""
    skewed.ru_clock.t = T0 + offset_s
    m = skewed.us.send("ru", "text", {"text": "late"})
    assert skewed.us.deliver_once() == 0
    assert inbox(skewed.ru) == []
    (refusal,) = skewed.ru.store.refusals()
    assert WINDOW in refusal.reason and f"{offset_s:+.1f} s" in refusal.reason
    assert refusal.peer == "us" and refusal.msg_id == m.id
    (item,) = skewed.us.store.outbox()
    assert item.delivered_at is None and item.attempts == 1
    assert WINDOW in (item.last_error or "") and "403" in (item.last_error or "")


def test_a_receiver_ahead_cannot_claim_receipt_in_the_senders_future(
        tmp_path: Path, keys: dict[str, SigningKey], accord: Accord) -> None:
    """With a window of 30 s a receiver 29.9 s ahead gets the message, and its ack (its
    receipt time 29.9 s in the sender's future) is accepted; the sender checks the ack
    against its own window, so a receiver configured wider (60 s) and 45 s ahead
    has the message but the sender refuses the ack's time and keeps retrying."""
    s = make_skewed(tmp_path, keys, accord, ru_offset_s=45.0)
    s.ru.skew_s = 60.0
    try:
        m = s.us.send("ru", "text", {"text": "x"})
        assert s.us.deliver_once() == 0
        assert [x.id for x in inbox(s.ru)] == [m.id]  # the receiver took it
        (item,) = s.us.store.outbox()
        assert "received in this node's future" in (item.last_error or "")
        assert s.us.store.replies(m.id) == []
    finally:
        s.us.store.close()
        s.ru.store.close()


@pytest.mark.parametrize("skew_s", [5.0, 120.0])
def test_the_window_is_the_nodes_setting(tmp_path: Path, keys: dict[str, SigningKey],
                                         accord: Accord, skew_s: float) -> None:
    """``skew_s`` moves the edge: accepted at 0.99 of it, refused at 1.01 of it (the
    reason names the window)."""
    for k, (factor, ok) in enumerate(((0.99, True), (1.01, False), (-0.99, True),
                                      (-1.01, False))):
        (tmp_path / str(k)).mkdir()
        s = make_skewed(tmp_path / str(k), keys, accord, skew_s=skew_s)
        try:
            s.ru_clock.t = T0 + factor * skew_s
            s.us_clock.t = T0
            s.us.send("ru", "text", {"text": "x"})
            assert s.us.deliver_once() == (1 if ok else 0), factor
            if not ok:
                (refusal,) = s.ru.store.refusals()
                assert f"window ±{skew_s:g} s" in refusal.reason
        finally:
            s.us.store.close()
            s.ru.store.close()


def _node_dir(root: Path, party: str, keys: dict[str, SigningKey], accord_toml: Path,
              toml_extra: str = "") -> Path:
    from skyaccord.line.keys import save_key

    root.mkdir()
    save_key(keys[party], root / f"{party}.key")
    (root / "node.toml").write_text(
        f'[node]\nparty = "{party}"\nkey = "{party}.key"\ndb = "{party}.db"\n'
        f'accord = "{accord_toml}"\nport = 8799\n{toml_extra}', encoding="utf-8")
    return root / "node.toml"


@pytest.mark.parametrize(("toml_skew", "flag_skew", "window"),
                         [(None, None, 30.0), (10.0, None, 10.0), (10.0, 90.0, 90.0)])
def test_the_window_from_node_toml_and_the_skew_s_flag(
        tmp_path: Path, keys: dict[str, SigningKey], accord: Accord, files: Path,
        toml_skew: float | None, flag_skew: float | None, window: float) -> None:
    """A node opened the way ``skyaccord node serve`` opens it (``--config`` merged with
    its ``--skew-s`` flag, then ``open_node``) refuses beyond the window its config sets:
    30 s by default, ``skew_s`` of node.toml, the flag over the file. (The receiver's
    clock runs behind: one ahead by more than the *sender's* window has its acks refused,
    see the test above.)"""
    from skyaccord.node.cli import _settings
    from skyaccord.node.service import open_node

    extra = "" if toml_skew is None else f"skew_s = {toml_skew}\n"
    config = _node_dir(tmp_path / "ru", "ru", keys, files / "accord.toml", extra)
    ru_clock = Clock(T0)
    s = _settings(config, None, None, None, None, None, skew_s=flag_skew)
    opened = open_node(s, clock=ru_clock)
    receiver = opened.runtime.line
    us = Node("us", keys["us"], accord, LineStore(tmp_path / "us.db", "us", keys["us"]),
              {"ru": Direct()}, clock=Clock(T0))
    us.peers["ru"].target = receiver  # type: ignore[attr-defined]
    try:
        assert receiver.skew_s == window
        ru_clock.t = T0 - (window - 0.5)
        assert us.deliver_once() == 0  # nothing queued yet
        us.send("ru", "text", {"text": "inside"})
        assert us.deliver_once() == 1
        ru_clock.t = T0 - (window + 0.5)
        us.send("ru", "text", {"text": "outside"})
        assert us.deliver_once() == 0
        assert f"window ±{window:g} s" in receiver.store.refusals()[-1].reason
    finally:
        us.store.close()
        receiver.store.close()


def test_a_peer_whose_clock_is_off_for_good_then_fixed(skewed: Skewed) -> None:
    """ru's clock is 10 minutes slow. Everything us sends is refused, every try, with
    the offset in the recorded reason; what ru sends is refused by us too; neither node
    raises; after STUCK_AFTER_ATTEMPTS tries the stream is listed as stuck with the
    reason. When ru's clock is set right, the queued messages are delivered once each,
    in order, and both logs verify."""
    skewed.ru_clock.t = T0 - 600.0
    sent = [skewed.us.send("ru", "text", {"text": f"m{i}"}) for i in range(3)]
    back = skewed.ru.send("us", "text", {"text": "from the slow clock"})
    for _ in range(STUCK_AFTER_ATTEMPTS):
        assert skewed.retry(skewed.us) == 0
        assert skewed.retry(skewed.ru) == 0
        skewed.us_clock.t += 1.0
        skewed.ru_clock.t += 1.0
    # ru's clock reads 600 s less than us's: what us transmits arrives -600 s from ru's
    # clock, and the other way round +600 s
    for node, offset in ((skewed.ru, "-600.0 s"), (skewed.us, "+600.0 s")):
        refusals = node.store.refusals()
        assert refusals and all(WINDOW in r.reason and offset in r.reason
                                for r in refusals), refusals
    assert inbox(skewed.ru) == [] and inbox(skewed.us) == []
    (stuck,) = [s for s in skewed.us.stuck_streams() if s.get("peer") == "ru"]
    assert WINDOW in str(stuck)
    assert skewed.us.store.outbox()[0].attempts == STUCK_AFTER_ATTEMPTS
    # the clock is fixed
    skewed.ru_clock.t = skewed.us_clock.t + 2.0
    assert skewed.retry(skewed.us) == 3
    assert skewed.retry(skewed.ru) == 1
    assert [m.id for m in inbox(skewed.ru)] == [m.id for m in sent]
    assert [m.id for m in inbox(skewed.us)] == [back.id]
    assert skewed.retry(skewed.us) == 0 and skewed.retry(skewed.ru) == 0
    assert not [s for s in skewed.us.stuck_streams() if s.get("peer") == "ru"]
    for node in (skewed.us, skewed.ru):
        report = verify_log(node.store.path, node.accord)
        assert report.ok, report.problems


@pytest.mark.parametrize("offset_s", [20.0, -20.0, 29.0])
def test_deadlines_and_the_overdue_list_under_skew(skewed: Skewed, offset_s: float) -> None:
    """A request from us (created at T0 by us's clock, due T0 + 180 s) received by ru
    whose clock is ``offset_s`` off. The debt runs from the later of the due time and
    ru's signed receipt time + 180 s: with ru ahead by 20 s, T0 + 200 s; behind,
    T0 + 180 s. Both logs give that due time, and each node's overdue list shows the
    debt once its own clock passes it (worked by hand from the offsets)."""
    deadline = skewed.us.accord.response_deadline_s
    skewed.ru_clock.t = T0 + offset_s
    req = skewed.us.send("ru", "request", {"text": "leave box 7", "subject": "box 7"})
    assert req.due_at == T0 + deadline
    assert skewed.us.deliver_once() == 1
    due = T0 + deadline + max(offset_s, 0.0)
    for store in (skewed.us.store, skewed.ru.store):
        (d,) = store_debts(store, deadline, T0)
        assert (d.msg_id, d.debtor, d.due_at, d.level) == (req.id, "ru", due, "pending")
    # each node's overdue list (pending hidden), read at its own clock
    for node, clock in ((skewed.us, skewed.us_clock), (skewed.ru, skewed.ru_clock)):
        clock.t = due - 0.5
        assert store_debts(node.store, deadline, clock(), include_pending=False) == []
        clock.t = due + 0.5
        (d,) = store_debts(node.store, deadline, clock(), include_pending=False)
        assert d.level == "overdue" and d.late_s == 0.5
        clock.t = due + 180.0
        (d,) = store_debts(node.store, deadline, clock(), include_pending=False)
        assert d.level == "supervisor"


def test_a_request_from_a_sender_ahead_is_due_by_its_own_creation(skewed: Skewed) -> None:
    """The sender's clock 29 s ahead of the receiver's: the request is accepted (inside
    the window) and is due 180 s after its (sender's) creation, T0 + 29 + 180, which is
    later than the receiver's receipt + 180: the receiver is given 209 s of its own
    clock. 31 s ahead, the transmission is refused (the sender's clock stamps both its
    creation and its transmission; the transmission is checked first), naming the
    window."""
    deadline = skewed.us.accord.response_deadline_s
    skewed.us_clock.t = T0 + 29.0
    req = skewed.us.send("ru", "request", {"text": "q"})
    assert skewed.us.deliver_once() == 1
    (d,) = store_debts(skewed.ru.store, deadline, T0)
    assert d.due_at == T0 + 29.0 + deadline == req.due_at
    skewed.us_clock.t = T0 + 31.0
    skewed.us.send("ru", "request", {"text": "q2"})
    assert skewed.us.deliver_once() == 0
    assert WINDOW in skewed.ru.store.refusals()[-1].reason
