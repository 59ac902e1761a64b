"""The line's log in one SQLite file (stdlib sqlite3): the embedded default.

WAL, so that the CLI reads while the node writes; every write is one ``BEGIN IMMEDIATE``
transaction (the one writer at a time, in any process, with a 10 s busy time-out) with
``synchronous=FULL``; a new file is created owner-only. A handle opened without the
node's key reads through :func:`~skyaccord.line.log.open_readonly` (``mode=ro``, or
``immutable`` on read-only media) and never writes, not even the schema.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skyaccord.errors import StoreError
from skyaccord.line.log import open_readonly
from skyaccord.store.sqlite_conn import connect_wal, transaction

__all__ = ["SQLiteLogDB"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS line_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS line_log (
    pos INTEGER PRIMARY KEY, msg_id TEXT NOT NULL, direction TEXT NOT NULL,
    peer TEXT NOT NULL, recorded_at REAL NOT NULL, message TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    kind TEXT NOT NULL, sender TEXT NOT NULL, seq INTEGER NOT NULL, in_reply_to TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS line_log_id ON line_log (msg_id);
CREATE INDEX IF NOT EXISTS line_log_reply ON line_log (in_reply_to);
CREATE TABLE IF NOT EXISTS line_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL, hash TEXT NOT NULL,
    sig TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS line_streams (
    sender TEXT NOT NULL, recipient TEXT NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (sender, recipient));
CREATE TABLE IF NOT EXISTS line_outbox (
    msg_id TEXT PRIMARY KEY, peer TEXT NOT NULL, seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, delivered_at REAL,
    ack_id TEXT);
CREATE INDEX IF NOT EXISTS line_outbox_pending ON line_outbox (peer, delivered_at, seq);
CREATE INDEX IF NOT EXISTS line_outbox_undelivered ON line_outbox (peer, seq)
    WHERE delivered_at IS NULL;
CREATE TABLE IF NOT EXISTS line_incidents (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, peer TEXT NOT NULL, stream TEXT NOT NULL,
    expected INTEGER, got INTEGER, first_at REAL NOT NULL, last_at REAL NOT NULL,
    count INTEGER NOT NULL DEFAULT 1, resolved_at REAL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS line_incidents_open ON line_incidents (kind, peer, stream)
    WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS line_refusals (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, peer TEXT, msg_id TEXT, reason TEXT NOT NULL,
    raw TEXT);
"""
# columns added since the first schema (ALTER TABLE on open; ``raw`` is no longer written)
_ADDED_COLUMNS = (
    ("line_refusals", "source", "TEXT"),
    ("line_refusals", "kind", "TEXT"),
    ("line_refusals", "raw_sha256", "TEXT"),
    ("line_refusals", "raw_size", "INTEGER"),
    ("line_refusals", "suppressed", "INTEGER NOT NULL DEFAULT 0"),
    ("line_outbox", "failed_since", "REAL"),
)


def _create_owner_only(path: Path) -> None:
    """Create a new database file with mode 0600 (SQLite gives its -wal and -shm files
    the database file's mode): the log holds every message between the parties."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot create line database: {exc}") from None
    os.close(fd)


class _Txn:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._c.execute(sql, tuple(args))

    def insert(self, sql: str, args: Sequence[Any]) -> int:
        return int(self._c.execute(sql, tuple(args)).lastrowid or 0)


class SQLiteLogDB:
    """The log in the SQLite file ``path`` (:class:`~.base.LogDB`)."""

    is_op = "IS"
    pending_hint = "INDEXED BY line_outbox_undelivered"

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self.where = str(path)
        self._lock = threading.RLock()
        if not writable:
            self._conn = open_readonly(path)
            return
        _create_owner_only(path)
        try:
            self._conn = connect_wal(path, synchronous="FULL", busy_timeout_s=10.0)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open line database: {exc}") from None

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    def prepare(self, party: str) -> None:
        with self.transaction() as t:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    t.execute(stmt)
            for table, column, decl in _ADDED_COLUMNS:
                have = {r[1] for r in t.execute(f"PRAGMA table_info({table})").fetchall()}
                if column not in have:
                    t.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                    if column == "raw_size":  # bodies that older nodes kept: drop them
                        t.execute("UPDATE line_refusals SET raw_size = length(CAST(raw "
                                  "AS BLOB)), raw = NULL WHERE raw IS NOT NULL")
            row = t.execute("SELECT value FROM line_meta WHERE key='party'").fetchone()
            if row is None:
                t.execute("INSERT INTO line_meta VALUES ('party', ?)", (party,))
            elif row[0] != party:
                raise StoreError(f"{self.path}: this log belongs to party {row[0]!r}, "
                                 f"not {party!r}")

    @contextmanager
    def transaction(self) -> Iterator[_Txn]:
        try:
            with transaction(self._conn, self._lock, self.path) as conn:
                yield _Txn(conn)
        except sqlite3.Error as exc:
            # a failed ROLLBACK (SQLite already rolled back after a full disk) hides the
            # error that mattered: report that one
            cause = exc.__context__ if isinstance(exc.__context__, sqlite3.Error) else exc
            raise StoreError(f"{self.path}: write failed: {cause}") from None

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(args)).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot read the line log: {exc}") from None

    def space_problem(self, min_free_bytes: int) -> str | None:
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError as exc:
            return f"{self.path.parent}: {exc}"
        if free < min_free_bytes:
            return f"{self.path.parent}: {free} bytes free, under {min_free_bytes}"
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
