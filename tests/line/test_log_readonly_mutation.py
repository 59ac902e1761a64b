"""``open_readonly``: a log read without ever writing to it, beside a running node or on
read-only media; the tests the mutation run of the line (``line-units``,
tests/mutation/README.md) found missing. Each test names the mutants (mutmut numbers in
``skyaccord.line.log``) it kills.

Read-only media are a real read-only bind mount in a private mount namespace
(``unshare -m``, as ``test_adversarial.py``'s test 13), the reads done by a child
Python that imports this same ``skyaccord`` package (``PYTHONPATH``); skipped where
mounts are not permitted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import skyaccord
from skyaccord.errors import InputError
from skyaccord.line.log import open_readonly
from tests.line.helpers import Pair


def wal_db(path: Path, rows: int) -> sqlite3.Connection:
    """A WAL-mode database at ``path`` whose table is in the file and whose ``rows``
    rows sit in its -wal file (no checkpoint since): the state of a running node's log.
    The connection stays open."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(rows):
        conn.execute("INSERT INTO t VALUES (?)", (i,))
    conn.commit()
    return conn


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def count_in_thread(conn: sqlite3.Connection) -> int:
    """The row count, read through ``conn`` from another thread (the node's HTTP server
    reads through its connection from its own threads)."""
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(
        conn.execute("SELECT count(*) FROM t").fetchone()[0]))
    t.start()
    t.join()
    return out[0]


def test_missing_log_is_bad_input(tmp_path: Path) -> None:
    """Kills open_readonly 4 (the message)."""
    with pytest.raises(InputError) as err:
        open_readonly(tmp_path / "none.db")
    assert str(err.value) == f"{tmp_path / 'none.db'}: no such log database"


def test_snapshot_of_a_live_log_writes_nothing(tmp_path: Path) -> None:
    """A copy of a running node's log, its -wal and -shm files with it: the reader sees
    the rows still in the -wal (``mode=ro`` goes through the WAL index), from another
    thread too, and leaves the database and its -wal byte for byte as they were (a
    read-write connection, the last to close, would fold the -wal into the file and
    delete it; the -shm file is the WAL index, shared memory that readers mark). Kills
    open_readonly 17, 22 (``check_same_thread``), 20 (``?MODE=RO``: an unknown
    parameter, so read-write)."""
    live = tmp_path / "live"
    live.mkdir()
    conn = wal_db(live / "log.db", 5)
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in live.iterdir():
        shutil.copy(p, copy / p.name)
    conn.close()
    before = digests(copy)
    assert set(before) == {"log.db", "log.db-wal", "log.db-shm"}
    ro = open_readonly(copy / "log.db")
    assert ro.execute("SELECT count(*) FROM t").fetchone()[0] == 5
    assert count_in_thread(ro) == 5
    ro.close()
    after = digests(copy)
    assert [after.get(n) for n in ("log.db", "log.db-wal")] == [
        before["log.db"], before["log.db-wal"]]


CHILD = r"""
import json, sys, threading
from skyaccord.errors import StoreError
from skyaccord.line.log import open_readonly
out = {}
conn = open_readonly(sys.argv[1])
out["rows"] = conn.execute("SELECT count(*) FROM t").fetchone()[0]
got = []
t = threading.Thread(target=lambda: got.append(conn.execute("SELECT count(*) FROM t")
                                               .fetchone()[0]))
t.start(); t.join()
out["thread_rows"] = got[0] if got else None
conn.close()
for path in sys.argv[2:]:
    try:
        c = open_readonly(path)
        out[path] = ["opened", c.execute("SELECT count(*) FROM t").fetchone()[0]]
        c.close()
    except StoreError as exc:
        out[path] = ["StoreError", str(exc)]
print(json.dumps(out))
"""


def on_read_only_media(media: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(Path(skyaccord.__file__).resolve().parents[1])}
    script = (f"mount --bind {media} {media} && mount -o remount,bind,ro {media} && "
              f"(touch {media}/probe 2>/dev/null && echo WRITABLE >&2; "
              f"{sys.executable} -c \"$0\" \"$@\")")
    try:
        r = subprocess.run(["unshare", "-m", "sh", "-c", script, CHILD, *args],
                           capture_output=True, text=True, timeout=120, env=env)
    except FileNotFoundError:
        pytest.skip("unshare(1) is not installed")
    if "mount" in r.stderr and ("denied" in r.stderr or "not permitted" in r.stderr
                                or "unshare failed" in r.stderr):
        pytest.skip(f"cannot mount a read-only view here: {r.stderr.strip()[:200]}")
    assert r.returncode == 0 and "WRITABLE" not in r.stderr, r.stdout + r.stderr
    out: dict[str, object] = json.loads(r.stdout)
    return out


def test_read_only_media_fall_back_to_the_file_alone(tmp_path: Path) -> None:
    """On read-only media ``mode=ro`` cannot create the -shm file; the log is read with
    ``immutable=1`` (the file alone), from another thread too. A log with a non-empty
    -wal beside it is refused, naming both files: its entries would be missed. An empty
    -wal holds nothing and is no reason to refuse; one byte is not empty. Kills
    open_readonly 27-41, 43, 44, 46-49, 51-53."""
    media = tmp_path / "media"
    media.mkdir()
    conn = wal_db(media / "done.db", 3)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()  # the node stopped: its -wal folded into the file, removed
    assert sorted(p.name for p in media.iterdir()) == ["done.db"]
    # the in-process reader agrees where it may write the -shm file
    with_shm = open_readonly(media / "done.db")
    assert with_shm.execute("SELECT count(*) FROM t").fetchone()[0] == 3
    with_shm.close()
    for name in ("running.db", "empty-wal.db", "one-byte-wal.db"):
        live = wal_db(tmp_path / name, 4)
        shutil.copy(tmp_path / name, media / name)
        wal = (tmp_path / f"{name}-wal").read_bytes()
        live.close()
        keep = {"running.db": wal, "empty-wal.db": b"", "one-byte-wal.db": wal[:1]}[name]
        (media / f"{name}-wal").write_bytes(keep)
    for p in media.glob("*-shm"):
        p.unlink()
    paths = [str(media / n) for n in ("running.db", "empty-wal.db", "one-byte-wal.db")]
    out = on_read_only_media(media, str(media / "done.db"), *paths)
    assert (out["rows"], out["thread_rows"]) == (3, 3)
    refusal = ("cannot read it where it is without writing, and {wal} holds entries not "
               "yet in the database file: copy the log with its -wal and -shm files, or "
               "after its node stopped")
    running, empty, one = paths
    assert out[running] == ["StoreError", f"{running}: "
                            + refusal.format(wal=running + "-wal")]
    assert out[one] == ["StoreError", f"{one}: " + refusal.format(wal=one + "-wal")]
    assert out[empty] == ["opened", 0]  # the file alone: the table, none of the rows


def test_verify_of_a_live_logs_copy_writes_nothing(pair: Pair, tmp_path: Path) -> None:
    """``verify_log`` (through ``read_meta`` and ``read_entries``) of a copy of a
    running node's log, its -wal and -shm with it, leaves the database and the -wal byte
    for byte as they were, and sees every entry. Kills _open_reader 5 (the log opened
    writable)."""
    from skyaccord.line import verify_log
    from tests.line.test_log import filled

    us_db, _ = filled(pair, 2)  # the node still runs: its entries sit in the -wal
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in us_db.parent.glob("us.db*"):
        shutil.copy(p, copy / p.name)
    pair.us.store.close()
    before = digests(copy)
    assert before.keys() >= {"us.db", "us.db-wal"}
    r = verify_log(copy / "us.db")
    assert r.ok and r.count == 8
    after = digests(copy)
    assert [after.get(n) for n in ("us.db", "us.db-wal")] == [before["us.db"],
                                                             before["us.db-wal"]]
