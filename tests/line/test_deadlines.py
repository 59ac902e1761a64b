"""Deadlines: due times from the accord, settling responses, standby, escalation levels,
unacknowledged messages; `line overdue` on a real log."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.line import ESCALATION, store_debts
from tests.line.helpers import T0, Pair

runner = CliRunner()


def test_request_due_from_accord_and_escalates(pair: Pair) -> None:
    deadline = pair.us.accord.response_deadline_s
    req = pair.us.send("ru", "request", {"text": "confirm your MiG-29s leave box 7"})
    assert req.due_at == T0 + deadline
    pair.us.deliver_once()
    for store in (pair.us.store, pair.ru.store):
        (d,) = store_debts(store, deadline, T0 + 1.0)
        assert (d.debtor, d.creditor, d.what, d.level) == ("ru", "us", "response", "pending")
    expected = [(0.0, "overdue"), (179.0, "overdue"), (180.0, "supervisor"),
                (899.0, "supervisor"), (900.0, "command")]
    assert [name for name, _ in ESCALATION] == ["overdue", "supervisor", "command"]
    for late, level in expected:
        (d,) = store_debts(pair.ru.store, deadline, T0 + deadline + late)
        assert d.level == level and d.late_s == late


def test_response_settles_and_standby_extends(pair: Pair) -> None:
    deadline = pair.us.accord.response_deadline_s
    req = pair.us.send("ru", "request", {"text": "q"})
    pair.us.deliver_once()
    pair.clock.t = T0 + 100.0
    pair.ru.send("us", "response", {"text": "considering", "decision": "standby"},
                 in_reply_to=req.id)
    pair.ru.deliver_once()
    (d,) = store_debts(pair.us.store, deadline, T0 + deadline + 1.0)
    assert d.level == "pending" and d.due_at == T0 + 100.0 + deadline
    pair.ru.send("us", "response", {"text": "done", "decision": "accept"}, in_reply_to=req.id)
    pair.ru.deliver_once()
    assert store_debts(pair.us.store, deadline, T0 + 10_000.0) == []


def test_unacknowledged_listed(pair: Pair) -> None:
    pair.to_ru.down = True
    m = pair.us.send("ru", "text", {"text": "anyone there?"})
    pair.us.deliver_once()
    debts = store_debts(pair.us.store, 180.0, T0 + 11.0, include_pending=False)
    assert [(d.msg_id, d.what, d.debtor, d.level) for d in debts] == [
        (m.id, "ack", "ru", "overdue")]


def test_overdue_cli(pair: Pair, files: Path) -> None:
    req = pair.us.send("ru", "request", {"text": "q", "subject": "box 7"})
    pair.us.deliver_once()
    r = runner.invoke(app, ["line", "overdue", str(pair.ru.store.path), "--accord",
                            str(files / "accord.toml"), "--now", str(T0 + 500.0), "--json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.output)
    assert row["msg_id"] == req.id and row["level"] == "supervisor"
    assert row["subject"] == "box 7" and row["late_s"] == 500.0 - 180.0
    r = runner.invoke(app, ["line", "overdue", str(pair.ru.store.path), "--accord",
                            str(files / "accord.toml"), "--now", str(T0 + 10.0)])
    assert r.exit_code == 0 and req.id not in r.output  # not yet due: hidden without --all
