"""SQLite backend: one file, WAL journal, an R*Tree over the volumes of active intents.

Writers serialise on ``BEGIN IMMEDIATE`` (one writer at a time on the whole file, so
lock keys are not needed); readers run beside them in WAL mode. ``synchronous=NORMAL``
with WAL keeps every committed transaction across a killed process and the file
consistent across a power loss (which may drop the last commits); pass
``synchronous="FULL"`` to keep those too. ``cache_mib`` sizes the connection's page cache.

The R*Tree stores 32-bit floats, rounding each box outward (sqlite.org/rtree.html §3.2),
so searches return a superset; the registry's exact test decides. The R*Tree row
id of a volume is its volume id; an intent's volumes have the consecutive ids
``vid0 .. vid0 + nvol - 1`` (``intents.vid0``), taken from the ``next_vid`` counter in
``store_meta`` so that no id is ever reused (base module doc). ``intent_vrecs`` holds
each volume's row (intent id, party, version, priority, record) under the same id.

Schema version 1 (R*Tree ids ``pk * 4096 + i``, no records) is migrated in place on
open: ``vid0 = pk * 4096``, one ``intent_vrecs`` row per volume with an empty record.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import quote

from skyaccord.errors import InputError, StoreError
from skyaccord.store.base import (
    SCHEMA_VERSION,
    BoxTuple,
    DisplacementRow,
    IntentRow,
    LockKey,
    RequestRow,
    VolumeHits,
    VolumeRow,
    displacements_query,
    search_volumes,
)
from skyaccord.store.sqlite_conn import connect_wal, transaction

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
    nvol INTEGER NOT NULL,
    vid0 INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_party ON intents (party, id);
CREATE VIRTUAL TABLE IF NOT EXISTS intent_volumes USING rtree(
    id, xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax
);
CREATE TABLE IF NOT EXISTS intent_vrecs (
    vid INTEGER PRIMARY KEY, pk INTEGER NOT NULL, idx INTEGER NOT NULL,
    iid TEXT NOT NULL, party TEXT NOT NULL,
    version INTEGER NOT NULL, priority INTEGER NOT NULL, rec BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS intent_notices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, intent_id TEXT NOT NULL, party TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intent_notices_party ON intent_notices (party, seq);
CREATE INDEX IF NOT EXISTS intent_notices_intent ON intent_notices (intent_id, seq);
CREATE TABLE IF NOT EXISTS intent_requests (
    key TEXT PRIMARY KEY, digest TEXT NOT NULL, intent_id TEXT NOT NULL,
    version INTEGER NOT NULL
);
"""

_COLS = "i.id, i.party, i.state, i.version, i.priority, i.body"
_BOX_WHERE = ("v.xmin <= ? AND v.xmax >= ? AND v.ymin <= ? AND v.ymax >= ?"
              " AND v.zmin <= ? AND v.zmax >= ? AND v.tmin <= ? AND v.tmax >= ?")
#: statements per chunk of a batched query (SQLite allows 32,766 parameters since 3.32)
_CHUNK = 200

_MIGRATE_1 = [
    "ALTER TABLE intents ADD COLUMN vid0 INTEGER NOT NULL DEFAULT 0",
    f"UPDATE intents SET vid0 = pk * {VOLUME_SLOTS}",
    f"""INSERT INTO intent_vrecs SELECT v.id, i.pk, v.id % {VOLUME_SLOTS}, i.id, i.party,
        i.version, i.priority, X'' FROM intent_volumes v
        JOIN intents i ON i.pk = v.id / {VOLUME_SLOTS}""",
    """INSERT INTO store_meta SELECT 'next_vid', coalesce(max(id), 0) + 1
        FROM intent_volumes WHERE 1 ON CONFLICT (key) DO NOTHING""",
]


def _query_args(box: BoxTuple) -> tuple[float, ...]:
    xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax = box
    return (xmax, xmin, ymax, ymin, zmax, zmin, tmax, tmin)


def _row(r: tuple[str, str, str, int, int, str]) -> IntentRow:
    return IntentRow(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5])


class _SQLiteTxn:
    def __init__(self, conn: sqlite3.Connection, store: SQLiteStore | None = None) -> None:
        self.c = conn
        self._store = store

    def generation(self) -> tuple[int, int] | None:
        # PRAGMA data_version changes when another connection (any process) has
        # committed since this connection's previous read snapshot; the store counts its
        # own commits. Read inside a transaction after its first read, the pair names the
        # snapshot (https://sqlite.org/pragma.html#pragma_data_version).
        if self._store is None:
            return None
        self.c.execute("SELECT 1 FROM store_meta LIMIT 1").fetchall()  # take the snapshot
        r = self.c.execute("PRAGMA data_version").fetchone()
        return (int(r[0]), self._store._commits)

    def get(self, intent_id: str) -> IntentRow | None:
        r = self.c.execute(f"SELECT {_COLS} FROM intents i WHERE i.id = ?",
                           (intent_id,)).fetchone()
        return None if r is None else _row(r)

    def search(self, boxes: Sequence[BoxTuple],
               known: Container[int] = frozenset()) -> VolumeHits:
        return search_volumes(self._volume_ids, self._volume_rows, boxes, known)

    def _volume_ids(self, boxes: Sequence[BoxTuple]) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in boxes]
        for lo in range(0, len(boxes), _CHUNK):
            part = boxes[lo:lo + _CHUNK]
            args = [a for b in part for a in _query_args(b)]
            if len(part) == 1:  # one row: the ids as text, no row object per id
                r = self.c.execute(f"SELECT group_concat(v.id) FROM intent_volumes v"
                                   f" WHERE {_BOX_WHERE}", args).fetchone()
                out[lo] = [] if r[0] is None else list(map(int, r[0].split(",")))
                continue
            # one statement per chunk: the box number tags each id
            sql = " UNION ALL ".join(
                f"SELECT {k}, v.id FROM intent_volumes v WHERE {_BOX_WHERE}"
                for k in range(len(part)))
            for k, vid in self.c.execute(sql, args):
                out[lo + k].append(vid)
        return out

    def _volume_rows(self, vids: Sequence[int]) -> list[VolumeRow]:
        out: list[VolumeRow] = []
        for lo in range(0, len(vids), 500):
            part = vids[lo:lo + 500]
            out.extend(VolumeRow._make(r) for r in self.c.execute(
                "SELECT vid, idx, iid, party, version, priority, rec FROM intent_vrecs"
                f" WHERE vid IN ({','.join('?' * len(part))})", part))
        return out

    def _next_vids(self, n: int) -> int:
        """The first of ``n`` fresh volume ids."""
        r = self.c.execute("UPDATE store_meta SET value = CAST(value AS INTEGER) + ?"
                           " WHERE key = 'next_vid' RETURNING value", (n,)).fetchone()
        assert r is not None
        return int(r[0]) - n

    def put(self, row: IntentRow, boxes: Sequence[BoxTuple],
            records: Sequence[bytes] | None = None) -> None:
        if len(boxes) > VOLUME_SLOTS:
            raise StoreError(f"intent {row.id!r}: {len(boxes)} volumes, over the store's "
                             f"{VOLUME_SLOTS}")
        if records is not None and len(records) != len(boxes):
            raise StoreError(f"intent {row.id!r}: {len(records)} records for "
                             f"{len(boxes)} boxes")
        vid0 = self._next_vids(len(boxes)) if boxes else 0
        old = self.c.execute("SELECT pk, nvol, vid0 FROM intents WHERE id = ?",
                             (row.id,)).fetchone()
        if old is None:
            cur = self.c.execute(
                "INSERT INTO intents (id, party, state, version, priority, body, nvol, vid0)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.party, row.state, row.version, row.priority, row.body,
                 len(boxes), vid0))
            pk = cur.lastrowid
            assert pk is not None
        else:
            pk, nvol, old0 = int(old[0]), int(old[1]), int(old[2])
            if nvol:
                self.c.execute("DELETE FROM intent_volumes WHERE id >= ? AND id < ?",
                               (old0, old0 + nvol))
                self.c.execute("DELETE FROM intent_vrecs WHERE vid >= ? AND vid < ?",
                               (old0, old0 + nvol))
            self.c.execute(
                "UPDATE intents SET party = ?, state = ?, version = ?, priority = ?,"
                " body = ?, nvol = ?, vid0 = ? WHERE pk = ?",
                (row.party, row.state, row.version, row.priority, row.body, len(boxes),
                 vid0, pk))
        if not boxes:
            return
        recs = records if records is not None else [b""] * len(boxes)
        self.c.executemany(
            "INSERT INTO intent_volumes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(vid0 + i, *b) for i, b in enumerate(boxes)])
        self.c.executemany(
            "INSERT INTO intent_vrecs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(vid0 + i, pk, i, row.id, row.party, row.version, row.priority, bytes(rec))
             for i, rec in enumerate(recs)])

    def rows(self, party: str | None = None, active_only: bool = False,
             ids: Collection[str] | None = None) -> list[IntentRow]:
        sql = f"SELECT {_COLS} FROM intents i WHERE 1"
        args: list[str] = []
        if party is not None:
            sql += " AND i.party = ?"
            args.append(party)
        if active_only:
            sql += " AND i.nvol > 0"
        if ids is None:
            return [_row(r) for r in self.c.execute(sql + " ORDER BY i.id", args)]
        # sorted chunks, each sorted by id (BINARY collation: UTF-8 byte order, which is
        # code point order, as Python sorts): their concatenation is sorted
        want = sorted(set(ids))
        out: list[IntentRow] = []
        for lo in range(0, len(want), 500):
            part = want[lo:lo + 500]
            out.extend(_row(r) for r in self.c.execute(
                sql + f" AND i.id IN ({','.join('?' * len(part))}) ORDER BY i.id",
                [*args, *part]))
        return out

    def request(self, key: str) -> RequestRow | None:
        r = self.c.execute("SELECT key, digest, intent_id, version FROM intent_requests"
                           " WHERE key = ?", (key,)).fetchone()
        return None if r is None else RequestRow(r[0], r[1], r[2], int(r[3]))

    def put_request(self, row: RequestRow) -> None:
        self.c.execute("INSERT INTO intent_requests VALUES (?, ?, ?, ?)",
                       (row.key, row.digest, row.intent_id, row.version))

    def put_displacements(self, rows: Sequence[DisplacementRow]) -> None:
        self.c.executemany(
            "INSERT INTO intent_notices (intent_id, party, body) VALUES (?, ?, ?)",
            [(r.intent_id, r.party, r.body) for r in rows])

    def displacements(self, party: str | None = None, intent_id: str | None = None,
                      after: int = 0) -> list[DisplacementRow]:
        sql, args = displacements_query(party, intent_id, after, "?")
        return [DisplacementRow(int(r[0]), r[1], r[2], r[3])
                for r in self.c.execute(sql, args)]

    def meta(self, key: str) -> str | None:
        r = self.c.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return None if r is None else str(r[0])

    def set_meta(self, key: str, value: str) -> None:
        self.c.execute("INSERT INTO store_meta VALUES (?, ?) ON CONFLICT (key)"
                       " DO UPDATE SET value = excluded.value", (key, value))


def _refuse_foreign(path: Path) -> None:
    """Refuse a SQLite file that holds another program's tables (a line's log, say),
    looked at read-only: the registry never adds its tables to, or changes the journal
    mode of, a file it does not own."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open SQLite store: {exc}") from exc
    if names and "store_meta" not in names:
        raise InputError(f"{path}: holds other tables ({', '.join(sorted(names)[:3])}), "
                         "not a registry store; give the registry a file of its own")


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
    ...     [r.intent_id for r in t.search([(0.5, 2, 0.5, 2, 0.5, 2, 0.5, 2)]).rows]
    ['a']
    >>> s.close()
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL",
                 busy_timeout_s: float = 60.0, cache_mib: int = 256,
                 create: bool = True) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.Lock()
        self._commits = 0
        if not create and not self.path.is_file():
            # a reading command given a mistyped path must not leave an empty store there
            raise InputError(f"{self.path}: no registry store there")
        if self.path.is_file():
            _refuse_foreign(self.path)
        try:
            self._conn = connect_wal(self.path, synchronous=synchronous,
                                     busy_timeout_s=busy_timeout_s)
            # a page cache that holds the R*Tree of a large theatre (allocated as used;
            # the default 2,000 pages made dense-area queries re-read pages, 2x slower)
            self._conn.execute(f"PRAGMA cache_size={-int(cache_mib) * 1024}")
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
            if version is not None and int(version) == 1:
                # the statements above created the new table; fill it and the new
                # column from the old layout
                for statement in _MIGRATE_1:
                    self._conn.execute(statement)
            self._conn.execute("INSERT INTO store_meta VALUES ('next_vid', '1')"
                               " ON CONFLICT (key) DO NOTHING")
            t.set_meta("schema_version", str(SCHEMA_VERSION))

    @contextmanager
    def _txn(self, begin: str) -> Iterator[_SQLiteTxn]:
        def count_commit() -> None:
            self._commits += 1  # before COMMIT: a failed commit may still have written

        with transaction(self._conn, self._lock, self.path, begin,
                         count_commit if begin == "BEGIN IMMEDIATE" else None) as conn:
            yield _SQLiteTxn(conn, self)

    def read(self) -> AbstractContextManager[_SQLiteTxn]:
        return self._txn("BEGIN DEFERRED")

    def write(self, locks: Sequence[LockKey] = (), *,
              exclusive: bool = False) -> AbstractContextManager[_SQLiteTxn]:
        # BEGIN IMMEDIATE takes the database's single write lock: every writer excludes
        # every other, whatever the keys (https://sqlite.org/lang_transaction.html).
        return self._txn("BEGIN IMMEDIATE")

    def bulk_load(self, rows: Iterable[tuple[IntentRow, Sequence[BoxTuple]]
                                       | tuple[IntentRow, Sequence[BoxTuple], Sequence[bytes]]]
                  ) -> int:
        n = 0
        with self.write() as t:
            c = t.c
            pk = int(c.execute("SELECT coalesce(max(pk), 0) FROM intents").fetchone()[0])
            batch_i: list[tuple[object, ...]] = []
            batch_v: list[tuple[float, ...]] = []
            batch_r: list[tuple[object, ...]] = []
            vid = int(t.meta("next_vid") or 1)

            def flush() -> None:
                c.executemany(
                    "INSERT INTO intents (pk, id, party, state, version, priority, body,"
                    " nvol, vid0) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_i)
                c.executemany("INSERT INTO intent_volumes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              batch_v)
                c.executemany("INSERT INTO intent_vrecs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              batch_r)
                batch_i.clear()
                batch_v.clear()
                batch_r.clear()

            for item in rows:
                row, boxes = item[0], item[1]
                recs = item[2] if len(item) == 3 else [b""] * len(boxes)
                pk += 1
                n += 1
                batch_i.append((pk, row.id, row.party, row.state, row.version, row.priority,
                                row.body, len(boxes), vid if boxes else 0))
                for i, b in enumerate(boxes):
                    batch_v.append((vid + i, *b))
                    batch_r.append((vid + i, pk, i, row.id, row.party, row.version,
                                    row.priority, bytes(recs[i])))
                vid += len(boxes)
                if len(batch_i) >= 10_000:
                    flush()
            flush()
            t.set_meta("next_vid", str(vid))
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
                "SELECT count(*) FROM intent_volumes v LEFT JOIN intent_vrecs g"
                " ON g.vid = v.id LEFT JOIN intents i ON i.pk = g.pk WHERE i.pk IS NULL"
                " OR v.id < i.vid0 OR v.id >= i.vid0 + i.nvol OR g.idx != v.id - i.vid0"
                ).fetchone()[0]
            if bad:
                problems.append(f"{bad} volume boxes without an intent")
            stray = t.c.execute(
                "SELECT count(*) FROM intent_vrecs g WHERE NOT EXISTS"
                " (SELECT 1 FROM intent_volumes v WHERE v.id = g.vid)").fetchone()[0]
            if stray:
                problems.append(f"{stray} volume rows without a box")
            stale = t.c.execute(
                "SELECT count(*) FROM intent_vrecs g JOIN intents i ON i.pk = g.pk"
                " WHERE g.iid != i.id OR g.party != i.party OR g.version != i.version"
                " OR g.priority != i.priority").fetchone()[0]
            if stale:
                problems.append(f"{stale} volume rows that disagree with their intent")
            counted = t.c.execute(
                "SELECT count(*) FROM intents i LEFT JOIN (SELECT pk, count(*) AS n"
                " FROM intent_vrecs GROUP BY 1) v ON v.pk = i.pk"
                " WHERE coalesce(v.n, 0) != i.nvol").fetchone()[0]
            if counted:
                problems.append(f"{counted} intents whose box count differs from nvol")
            top = t.c.execute("SELECT coalesce(max(vid), 0) FROM intent_vrecs").fetchone()[0]
            if int(t.meta("next_vid") or 0) <= top:
                problems.append("next_vid is not above every volume id")
        return problems

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
