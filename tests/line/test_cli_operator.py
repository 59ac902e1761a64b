"""The line's commands as an operator uses them (issue 18): peers' text printed as
written, times in ISO 8601 UTC, the outbox with its delivery state, ``keys show``, and
``line send`` refusing a party that no peer of ours reaches."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app
from tests.line.helpers import T0, Pair

# a wide terminal, so that table cells are on one line each (at 80 columns they fold)
runner = CliRunner(env={"COLUMNS": "240"})


def test_inbox_prints_a_peers_bracketed_text_and_iso_times(pair: Pair) -> None:
    """A peer's ``[/b] roger`` made every later ``line inbox`` die with a MarkupError:
    the other party could break our operator's inbox."""
    pair.ru.send("us", "text", {"text": "[/b] roger [red]x"})
    assert pair.ru.deliver_once() == 1
    r = runner.invoke(app, ["line", "inbox", str(pair.us.store.path)])
    assert r.exit_code == 0, r.output
    assert "[/b] roger [red]x" in r.output
    assert "2015-10-20T00:00:00Z" in r.output  # T0, the fake clock, for people


def test_outbox_shows_pending_then_delivered(pair: Pair) -> None:
    pair.to_ru.down = True
    m = pair.us.send("ru", "request", {"text": "leave box 7", "subject": "box 7"})
    assert pair.us.deliver_once() == 0
    pair.us.store.delivery_failed(m.id, "connection refused", now=T0 + 5)
    r = runner.invoke(app, ["line", "outbox", str(pair.us.store.path), "--json"])
    (row,) = json.loads(r.output)
    assert (row["msg_id"], row["to"], row["delivered_at"], row["last_error"]) == (
        m.id, "ru", None, "connection refused")
    text = runner.invoke(app, ["line", "outbox", str(pair.us.store.path)]).output
    assert "pending" in text and "connection refused" in text
    pair.to_ru.down = False
    pair.us._backoff.clear()
    assert pair.us.deliver_once() == 1
    (row,) = json.loads(runner.invoke(app, ["line", "outbox", str(pair.us.store.path),
                                            "--json"]).output)
    assert row["delivered_at"] == T0 and row["attempts"] == 3  # 2 failures, 1 delivery
    assert json.loads(runner.invoke(app, ["line", "outbox", str(pair.us.store.path),
                                          "--json", "--pending"]).output) == []


def test_overdue_now_as_rfc3339_equals_seconds(pair: Pair, files: Path) -> None:
    pair.us.send("ru", "request", {"text": "q", "subject": "box 7"})
    pair.us.deliver_once()
    base = ["line", "overdue", str(pair.ru.store.path), "--accord",
            str(files / "accord.toml"), "--json", "--now"]
    by_seconds = runner.invoke(app, [*base, str(T0 + 500.0)])
    by_text = runner.invoke(app, [*base, "2015-10-20T00:08:20Z"])
    assert by_seconds.exit_code == 0 and by_text.output == by_seconds.output
    assert json.loads(by_text.output)[0]["late_s"] == 500.0 - 180.0
    bad = runner.invoke(app, [*base, "yesterday"])
    assert bad.exit_code == 2 and "RFC 3339" in bad.output


def test_keys_show_prints_the_public_key_of_keys_new(files: Path) -> None:
    made = runner.invoke(app, ["keys", "new", "--out", str(files / "k.key")])
    shown = runner.invoke(app, ["keys", "show", str(files / "k.key")])
    assert made.exit_code == shown.exit_code == 0
    assert shown.output == made.output
    (files / "k.key").chmod(0o644)
    exposed = runner.invoke(app, ["keys", "show", str(files / "k.key")])
    assert exposed.exit_code == 2 and "open to group or others" in exposed.output


def test_send_to_a_party_without_a_peer_is_refused(pair: Pair, files: Path) -> None:
    """It was queued and printed "queued", though no node of ours could ever deliver
    it: with a config, the recipient must be one of its peers."""
    pair.us.store.close()
    config = files / "us.toml"
    config.write_text(f'[node]\nparty = "us"\nkey = "us.key"\ndb = "{pair.us.store.path}"\n'
                      'accord = "accord.toml"\nport = 8701\n[peers]\nru = "http://127.0.0.1:1"\n')
    r = runner.invoke(app, ["line", "send", "--config", str(config), "--to", "tr",
                            "--text", "hello"])
    assert r.exit_code == 2 and "no peer 'tr'" in r.output and "ru" in r.output
    listed = runner.invoke(app, ["line", "outbox", str(pair.us.store.path), "--json"])
    assert json.loads(listed.output) == []
