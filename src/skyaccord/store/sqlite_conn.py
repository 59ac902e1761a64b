"""The SQLite plumbing shared by the stores that keep a file: the registry's
(:mod:`skyaccord.store.sqlite`) and the line's log (:mod:`skyaccord.line.store`).

One connection per store object in WAL mode (readers beside one writer), autocommit off
at the driver (``isolation_level=None``) so that transactions are ours, and one
transaction helper that translates sqlite3 errors into :class:`StoreError` naming the
file, and rolls back on any failure.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from skyaccord.errors import StoreError

__all__ = ["connect_wal", "transaction"]


def connect_wal(path: Path, *, synchronous: str, busy_timeout_s: float) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with the given ``synchronous`` level (NORMAL or FULL)."""
    if synchronous not in ("NORMAL", "FULL"):
        raise StoreError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, lock: threading.Lock | threading.RLock,
                path: Path, begin: str = "BEGIN IMMEDIATE",
                before_commit: Callable[[], None] | None = None,
                ) -> Iterator[sqlite3.Connection]:
    """One transaction on ``conn`` under ``lock``: committed when the block ends, rolled
    back when it raises; sqlite3 errors become :class:`StoreError` naming ``path``."""
    with lock:
        try:
            conn.execute(begin)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot begin a transaction: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"{path}: write failed: {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            if before_commit is not None:
                before_commit()
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"{path}: commit failed: {exc}") from exc
