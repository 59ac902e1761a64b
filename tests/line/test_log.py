"""The hash-chained log: `line verify` detects altered, removed, reordered and truncated
entries written straight into the SQLite file; cross-check of two parties' logs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.line import cross_check, verify_log
from skyaccord.line.log import entry_hash
from tests.line.helpers import Pair, rechain_signed

runner = CliRunner()


def filled(pair: Pair, n: int = 4) -> tuple[Path, Path]:
    for i in range(n):
        pair.us.send("ru", "text", {"text": f"us {i}"})
        pair.ru.send("us", "request", {"text": f"ru asks {i}"})
    pair.us.deliver_once()
    pair.ru.deliver_once()
    return pair.us.store.path, pair.ru.store.path


def sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        for s in statements:
            conn.execute(s)
    conn.close()


def verify_cli(db: Path, accord_file: Path | None = None) -> tuple[int, str]:
    args = ["line", "verify", str(db)]
    if accord_file is not None:
        args += ["--accord", str(accord_file)]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_intact_logs_verify_and_cross_check(pair: Pair, files: Path) -> None:
    us_db, ru_db = filled(pair)
    code, out = verify_cli(us_db, files / "accord.toml")
    assert code == 0, out
    assert "16 entries" in out and "17 signatures verified" in out
    assert cross_check(us_db, ru_db) == []
    r = runner.invoke(app, ["line", "verify", str(us_db), "--against", str(ru_db)])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(("tamper", "words"), [
    ("UPDATE line_log SET message = replace(message, 'us 1', 'us 7') WHERE pos = 2",
     "entry 2: altered"),
    ("UPDATE line_log SET recorded_at = recorded_at + 1 WHERE pos = 3", "entry 3: altered"),
    ("DELETE FROM line_log WHERE pos = 6", "entries 6..6 missing (removed)"),
    ("DELETE FROM line_log WHERE pos = (SELECT max(pos) FROM line_log)",
     "entries removed at the end"),
])
def test_tampering_detected(pair: Pair, files: Path, tamper: str, words: str) -> None:
    us_db, _ = filled(pair)
    pair.us.store.close()
    sql(us_db, tamper)
    code, out = verify_cli(us_db)
    assert code == 1 and words in out, out
    assert verify_log(us_db).problems  # the API agrees


def test_reordered_entries_detected(pair: Pair) -> None:
    us_db, _ = filled(pair)
    pair.us.store.close()
    # swap the content of entries 3 and 5 (hashes travel with them)
    sql(us_db, "UPDATE line_log SET pos = -3 WHERE pos = 3",
        "UPDATE line_log SET pos = 3 WHERE pos = 5",
        "UPDATE line_log SET pos = 5 WHERE pos = -3")
    code, out = verify_cli(us_db)
    assert code == 1
    assert "entry 3: does not follow" in out and "entry 3: altered" in out


def rechain(db: Path) -> None:
    """An attacker without the key recomputes every hash after altering a message."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT pos, direction, peer, recorded_at, message FROM line_log "
                        "ORDER BY pos").fetchall()
    prev = "0" * 64
    with conn:
        for pos, d, peer, t, msg in rows:
            h = entry_hash(prev, pos, d, peer, t, msg)
            conn.execute("UPDATE line_log SET prev_hash=?, hash=? WHERE pos=?", (prev, h, pos))
            prev = h
        conn.execute("UPDATE line_head SET count=?, hash=?", (len(rows), prev))
    conn.close()


def test_rechained_forgery_caught_by_signatures(pair: Pair, files: Path) -> None:
    us_db, ru_db = filled(pair)
    pair.us.store.close()
    sql(us_db, "UPDATE line_log SET message = replace(message, 'ru asks 1', 'ru agrees') "
               "WHERE message LIKE '%ru asks 1%'")
    rechain(us_db)
    # the chain alone is consistent again, but signatures are always checked (with the
    # accord recorded in the log when none is given)
    assert any("bad signature from party 'ru'" in p for p in verify_log(us_db).problems)
    code, out = verify_cli(us_db, files / "accord.toml")
    assert code == 1
    assert "bad signature from party 'ru'" in out  # ...but ru never signed that
    assert "log head of 'us'" in out  # and the head is not us's signature
    assert any("differs" in p for p in cross_check(us_db, ru_db))


def test_cross_check_finds_withheld_message(pair: Pair, tmp_path: Path) -> None:
    us_db, ru_db = filled(pair)
    pair.ru.store.close()
    copy = tmp_path / "ru-copy.db"
    shutil.copy(ru_db, copy)
    sql(copy, "DELETE FROM line_log WHERE pos = 1")
    problems = cross_check(us_db, copy)
    assert any("ru's log lacks" in p for p in problems), problems


def test_verify_bad_path(tmp_path: Path) -> None:
    code, out = verify_cli(tmp_path / "none.db")
    assert code == 2 and "no such log database" in out


def test_sqlite_errors_become_store_errors(tmp_path: Path) -> None:
    from skyaccord.errors import StoreError
    from skyaccord.line import LineStore, generate_key

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        LineStore(junk, "us", generate_key())
    with pytest.raises(StoreError, match=r"junk\.db"):
        verify_log(junk)
    # a database of another party is refused, not mixed
    LineStore(tmp_path / "us.db", "us", generate_key()).close()
    with pytest.raises(StoreError, match="belongs to party 'us'"):
        LineStore(tmp_path / "us.db", "ru", generate_key())
    # a write that breaks a constraint inside a transaction is translated and rolled back
    store = LineStore(tmp_path / "us.db", "us", generate_key())
    with pytest.raises(StoreError, match="write failed"), store.transaction() as c:
        c.execute("INSERT INTO line_meta VALUES ('party', 'again')")
    assert store.entries() == []
    store.close()


def test_rewrite_with_own_key_is_proven_by_signed_acks(pair: Pair, files: Path) -> None:
    """ru drops the last request us sent it (and its ack) and rebuilds its whole chain
    with its own key: its log verifies alone, but us holds ru's signed ack, which names
    the entry ru's log should have — the cross-check proves the rewrite."""
    from skyaccord.line.log import read_entries
    from skyaccord.protocol import load_accord

    us_db, ru_db = filled(pair)
    pair.ru.store.close()
    last = [e for e in read_entries(ru_db) if e.direction == "received" and e.peer == "us"
            and '"kind":"text"' in e.message][-1]
    ack_pos = last.pos + 1
    kept = [e for e in read_entries(ru_db) if e.pos not in (last.pos, ack_pos)]
    rechain_signed(ru_db, kept, pair.ru.key, "ru")
    accord = load_accord(files / "accord.toml")
    assert verify_log(ru_db, accord).ok  # alone, the rewritten log looks sound
    problems = cross_check(us_db, ru_db)
    assert any("contradicts its own signed acknowledgement" in p and last.msg_id in p
               for p in problems), problems
    assert any(f"{last.msg_id} that ru's log lacks" in p for p in problems)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_verify_counts_worked_from_the_exchange(pair: Pair, files: Path, n: int) -> None:
    """Where ``test_intact_logs_verify_and_cross_check``'s "16 entries" and "17
    signatures verified" come from, worked for any ``n``: ``filled`` has each party send
    ``n`` messages, each delivered and acknowledged, so each log holds the 2n messages
    and their 2n acks (4n entries), every entry signed, plus the signed head: 4n + 1
    signatures. (The entries are also counted by kind straight from the SQLite file.)"""
    us_db, ru_db = filled(pair, n)
    for db in (us_db, ru_db):
        conn = sqlite3.connect(db)
        kinds = [k for (k,) in conn.execute(
            "SELECT json_extract(message, '$.kind') FROM line_log ORDER BY pos")]
        conn.close()
        assert sorted(kinds) == sorted(["text"] * n + ["request"] * n + ["ack"] * 2 * n)
        code, out = verify_cli(db, files / "accord.toml")
        assert code == 0, out
        assert f"{4 * n} entries" in out and f"{4 * n + 1} signatures verified" in out
