"""SQLite backend: one file, WAL journal, an R*Tree over the volumes of active intents.

Writers serialise on ``BEGIN IMMEDIATE`` (one writer at a time on the whole file, so
lock keys are not needed); readers run beside them in WAL mode. ``synchronous=NORMAL``
with WAL keeps every committed transaction across a killed process and the file
consistent across a power loss (which may drop the last commits); pass
``synchronous="FULL"`` to keep those too.

The R*Tree stores 32-bit floats, rounding each box outward (sqlite.org/rtree.html §3.2),
so candidate queries return a superset; the registry's exact test decides. The R*Tree row
id of volume ``i`` of the intent with primary key ``pk`` is ``pk * 4096 + i``
(:data:`VOLUME_SLOTS`; at most 1,000 volumes per intent by the registry's limits).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from skyaccord.errors import StoreError
from skyaccord.store.base import SCHEMA_VERSION, BoxTuple, IntentRow, LockKey, RequestRow

__all__ = ["VOLUME_SLOTS", "SQLiteStore"]

VOLUME_SLOTS = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    party TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    body TEXT NOT NULL,
    nvol INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_party ON intents (party, id);
CREATE VIRTUAL TABLE IF NOT EXISTS intent_volumes USING rtree(
    id, xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax
);
CREATE TABLE IF NOT EXISTS intent_requests (
    key TEXT PRIMARY KEY, digest TEXT NOT NULL, intent_id TEXT NOT NULL,
    version INTEGER NOT NULL
);
"""

_COLS = "i.id, i.party, i.state, i.version, i.priority, i.body"


def _row(r: tuple[str, str, str, int, int, str]) -> IntentRow:
    return IntentRow(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5])


class _SQLiteTxn:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn

    def get(self, intent_id: str) -> IntentRow | None:
        r = self.c.execute(f"SELECT {_COLS} FROM intents i WHERE i.id = ?",
                           (intent_id,)).fetchone()
        return None if r is None else _row(r)

    def candidates(self, box: BoxTuple) -> list[IntentRow]:
        xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax = box
        rows = self.c.execute(
            f"SELECT {_COLS} FROM intents i WHERE i.pk IN ("
            f" SELECT v.id / {VOLUME_SLOTS} FROM intent_volumes v"
            " WHERE v.xmin <= ? AND v.xmax >= ? AND v.ymin <= ? AND v.ymax >= ?"
            " AND v.zmin <= ? AND v.zmax >= ? AND v.tmin <= ? AND v.tmax >= ?)",
            (xmax, xmin, ymax, ymin, zmax, zmin, tmax, tmin),
        ).fetchall()
        return [_row(r) for r in rows]

    def put(self, row: IntentRow, boxes: Sequence[BoxTuple]) -> None:
        if len(boxes) > VOLUME_SLOTS:
            raise StoreError(f"intent {row.id!r}: {len(boxes)} volumes, over the store's "
                             f"{VOLUME_SLOTS}")
        old = self.c.execute("SELECT pk, nvol FROM intents WHERE id = ?",
                             (row.id,)).fetchone()
        if old is None:
            cur = self.c.execute(
                "INSERT INTO intents (id, party, state, version, priority, body, nvol)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.party, row.state, row.version, row.priority, row.body,
                 len(boxes)))
            pk = cur.lastrowid
            assert pk is not None
        else:
            pk, nvol = int(old[0]), int(old[1])
            self.c.execute(
                "DELETE FROM intent_volumes WHERE id >= ? AND id < ?",
                (pk * VOLUME_SLOTS, pk * VOLUME_SLOTS + max(nvol, 1)))
            self.c.execute(
                "UPDATE intents SET party = ?, state = ?, version = ?, priority = ?,"
                " body = ?, nvol = ? WHERE pk = ?",
                (row.party, row.state, row.version, row.priority, row.body, len(boxes),
                 pk))
        self.c.executemany(
            "INSERT INTO intent_volumes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(pk * VOLUME_SLOTS + i, *b) for i, b in enumerate(boxes)])

    def rows(self, party: str | None = None, active_only: bool = False) -> list[IntentRow]:
        sql = f"SELECT {_COLS} FROM intents i WHERE 1"
        args: list[str] = []
        if party is not None:
            sql += " AND i.party = ?"
            args.append(party)
        if active_only:
            sql += " AND i.nvol > 0"
        return [_row(r) for r in self.c.execute(sql + " ORDER BY i.id", args)]

    def request(self, key: str) -> RequestRow | None:
        r = self.c.execute("SELECT key, digest, intent_id, version FROM intent_requests"
                           " WHERE key = ?", (key,)).fetchone()
        return None if r is None else RequestRow(r[0], r[1], r[2], int(r[3]))

    def put_request(self, row: RequestRow) -> None:
        self.c.execute("INSERT INTO intent_requests VALUES (?, ?, ?, ?)",
                       (row.key, row.digest, row.intent_id, row.version))

    def meta(self, key: str) -> str | None:
        r = self.c.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return None if r is None else str(r[0])

    def set_meta(self, key: str, value: str) -> None:
        self.c.execute("INSERT INTO store_meta VALUES (?, ?) ON CONFLICT (key)"
                       " DO UPDATE SET value = excluded.value", (key, value))


class SQLiteStore:
    """The embedded store in the SQLite file ``path`` (created when missing).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> s = SQLiteStore(os.path.join(d, "r.db"))
    >>> with s.write() as t:
    ...     t.put(IntentRow("a", "us", "accepted", 1, 0, "{}"), [(0, 1, 0, 1, 0, 1, 0, 1)])
    >>> with s.read() as t:
    ...     [r.id for r in t.candidates((0.5, 2, 0.5, 2, 0.5, 2, 0.5, 2))]
    ['a']
    >>> s.close()
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL",
                 busy_timeout_s: float = 60.0) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise StoreError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_s,
                                         isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open SQLite store: {exc}") from exc

    def _migrate(self) -> None:
        with self.write() as t:
            version = None
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'store_meta'"
                                  ).fetchone():
                version = t.meta("schema_version")
            if version is not None and int(version) > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema version {version} is newer than "
                                 f"this skyaccord ({SCHEMA_VERSION}); upgrade skyaccord")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            t.set_meta("schema_version", str(SCHEMA_VERSION))

    @contextmanager
    def _txn(self, begin: str) -> Iterator[_SQLiteTxn]:
        with self._lock:
            try:
                self._conn.execute(begin)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot begin a transaction: {exc}") from exc
            try:
                yield _SQLiteTxn(self._conn)
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: {exc}") from exc
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: commit failed: {exc}") from exc

    def read(self) -> AbstractContextManager[_SQLiteTxn]:
        return self._txn("BEGIN DEFERRED")

    def write(self, locks: Sequence[LockKey] = (), *,
              exclusive: bool = False) -> AbstractContextManager[_SQLiteTxn]:
        # BEGIN IMMEDIATE takes the database's single write lock: every writer excludes
        # every other, whatever the keys (https://sqlite.org/lang_transaction.html).
        return self._txn("BEGIN IMMEDIATE")

    def bulk_load(self, rows: Iterable[tuple[IntentRow, Sequence[BoxTuple]]]) -> int:
        n = 0
        with self.write() as t:
            c = t.c
            pk = int(c.execute("SELECT coalesce(max(pk), 0) FROM intents").fetchone()[0])
            batch_i: list[tuple[object, ...]] = []
            batch_v: list[tuple[float, ...]] = []

            def flush() -> None:
                c.executemany(
                    "INSERT INTO intents (pk, id, party, state, version, priority, body,"
                    " nvol) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch_i)
                c.executemany("INSERT INTO intent_volumes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              batch_v)
                batch_i.clear()
                batch_v.clear()

            for row, boxes in rows:
                pk += 1
                n += 1
                batch_i.append((pk, row.id, row.party, row.state, row.version, row.priority,
                                row.body, len(boxes)))
                batch_v.extend((pk * VOLUME_SLOTS + i, *b) for i, b in enumerate(boxes))
                if len(batch_i) >= 10_000:
                    flush()
            flush()
        return n

    def check_integrity(self) -> list[str]:
        problems: list[str] = []
        with self.read() as t:
            for (msg,) in t.c.execute("PRAGMA integrity_check"):
                if msg != "ok":
                    problems.append(str(msg))
            for (msg,) in t.c.execute("SELECT rtreecheck('intent_volumes')"):
                if msg != "ok":
                    problems.append(str(msg))
            bad = t.c.execute(
                f"SELECT count(*) FROM intent_volumes v LEFT JOIN intents i"
                f" ON i.pk = v.id / {VOLUME_SLOTS} WHERE i.pk IS NULL"
                f" OR v.id % {VOLUME_SLOTS} >= i.nvol").fetchone()[0]
            if bad:
                problems.append(f"{bad} volume boxes without an intent")
            counted = t.c.execute(
                f"SELECT count(*) FROM intents i LEFT JOIN (SELECT id / {VOLUME_SLOTS} AS pk,"
                f" count(*) AS n FROM intent_volumes GROUP BY 1) v ON v.pk = i.pk"
                f" WHERE coalesce(v.n, 0) != i.nvol").fetchone()[0]
            if counted:
                problems.append(f"{counted} intents whose box count differs from nvol")
        return problems

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
