"""The DSS's tables, on SQLite (one file, one instance) or PostgreSQL (a pool of
instances over one database).

Rows are plain SQL written once with ``?`` placeholders (PostgreSQL's ``%s`` is
substituted). Spatial search is a 4D box index per kind of thing (``op`` operational
intents, ``cons`` constraints, ``sub`` subscriptions): SQLite's R*Tree (its 32-bit
boxes are rounded outward, so it only ever over-reports; the exact test follows in
:mod:`skyaccord.dss.geometry`), PostgreSQL's ``cube`` with a GiST index.

Writers serialise: SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL one transaction-scoped
advisory lock taken first, so every instance of a pool sees, after taking it, every write
committed before (READ COMMITTED takes a new snapshot per statement). Readers use one
REPEATABLE READ snapshot (PostgreSQL) or one deferred transaction (SQLite).
sqlite3 and psycopg errors become :class:`~skyaccord.errors.StoreError` here.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from skyaccord.errors import StoreError

from .geometry import Box

__all__ = ["KINDS", "Db", "Tx", "open_db"]

KINDS = ("op", "cons", "sub")

_TABLES = (
    """CREATE TABLE IF NOT EXISTS dss_entities (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, manager TEXT NOT NULL,
        version INTEGER NOT NULL, ovn TEXT NOT NULL, state TEXT,
        uss_base_url TEXT NOT NULL, subscription_id TEXT,
        t0 {real} NOT NULL, t1 {real} NOT NULL, extents TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS dss_entities_t1 ON dss_entities (t1)",
    "CREATE INDEX IF NOT EXISTS dss_entities_sub ON dss_entities (subscription_id)",
    """CREATE TABLE IF NOT EXISTS dss_subscriptions (
        id TEXT PRIMARY KEY, manager TEXT NOT NULL, version TEXT NOT NULL,
        notification_index INTEGER NOT NULL, uss_base_url TEXT NOT NULL,
        notify_ops INTEGER NOT NULL, notify_cons INTEGER NOT NULL,
        implicit INTEGER NOT NULL, t0 {real} NOT NULL, t1 {real} NOT NULL,
        extents TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS dss_subscriptions_t1 ON dss_subscriptions (t1)",
    "CREATE INDEX IF NOT EXISTS dss_subscriptions_manager ON dss_subscriptions (manager)",
    """CREATE TABLE IF NOT EXISTS dss_availability (
        uss TEXT PRIMARY KEY, availability TEXT NOT NULL, version TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dss_reports (
        id TEXT PRIMARY KEY, reporter TEXT NOT NULL, received {real} NOT NULL,
        body TEXT NOT NULL)""",
)


class Tx(Protocol):
    """One transaction: rows by SQL, and the box index of each kind."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def put_boxes(self, kind: str, owner: str, boxes: Sequence[Box]) -> None: ...

    def drop_boxes(self, kind: str, owner: str) -> None: ...

    def search(self, kind: str, box: Box) -> set[str]: ...

    def owners_sql(self, kind: str, boxes: Sequence[Box]) -> tuple[str, list[Any]]: ...


class Db(Protocol):
    def read(self) -> Any: ...  # a context manager of Tx

    def write(self) -> Any: ...

    def close(self) -> None: ...


_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def open_db(path_or_url: str) -> SQLiteDb | PostgresDb:
    """A SQLite file path (or ``sqlite:///path``) or a ``postgresql://`` URL, whose
    ``skyaccord_schema`` query parameter names the schema of the tables (default
    ``skyaccord``, beside the registry's tables)."""
    if path_or_url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(path_or_url)
        schema, rest = "skyaccord", []
        for k, v in parse_qsl(parts.query):
            if k == "skyaccord_schema":
                schema = v
            else:
                rest.append((k, v))
        return PostgresDb(urlunsplit(parts._replace(query=urlencode(rest))), schema)
    if path_or_url.startswith("sqlite:///"):
        path_or_url = path_or_url[len("sqlite:///"):]
    return SQLiteDb(path_or_url)


# ------------------------------------------------------------------------------ SQLite

class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.c.execute(sql, tuple(params)).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.c.execute(sql, tuple(params))

    def put_boxes(self, kind: str, owner: str, boxes: Sequence[Box]) -> None:
        for b in boxes:
            cur = self.c.execute(f"INSERT INTO dss_own_{kind} (owner) VALUES (?)", (owner,))
            self.c.execute(f"INSERT INTO dss_rt_{kind} VALUES (?,?,?,?,?,?,?,?,?)",
                           (cur.lastrowid, *b.coords()))

    def drop_boxes(self, kind: str, owner: str) -> None:
        self.c.execute(f"DELETE FROM dss_rt_{kind} WHERE rid IN "
                       f"(SELECT rid FROM dss_own_{kind} WHERE owner = ?)", (owner,))
        self.c.execute(f"DELETE FROM dss_own_{kind} WHERE owner = ?", (owner,))

    def search(self, kind: str, box: Box) -> set[str]:
        q, params = self.owners_sql(kind, [box])
        return {r[0] for r in self.c.execute(q, params)}

    def owners_sql(self, kind: str, boxes: Sequence[Box]) -> tuple[str, list[Any]]:
        """A query of the owners whose boxes meet any of ``boxes`` (to nest in another)."""
        one = (f"SELECT o.owner FROM dss_rt_{kind} r JOIN dss_own_{kind} o "
               "ON o.rid = r.rid WHERE r.lat0 <= ? AND r.lat1 >= ? AND r.lng0 <= ? "
               "AND r.lng1 >= ? AND r.alt0 <= ? AND r.alt1 >= ? AND r.t0 <= ? AND r.t1 >= ?")
        params: list[Any] = []
        for b in boxes:
            params += [b.lat1, b.lat0, b.lng1, b.lng0, b.alt1, b.alt0, b.t1, b.t0]
        return " UNION ".join([one] * len(boxes)), params


class SQLiteDb:
    """One SQLite file (WAL); one connection used by one thread at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._c = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                      timeout=30.0)
            self._c.execute("PRAGMA journal_mode=WAL")
            self._c.execute("PRAGMA synchronous=NORMAL")
            self._c.execute("BEGIN IMMEDIATE")
            for t in _TABLES:
                self._c.execute(t.format(real="REAL"))
            for k in KINDS:
                self._c.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS dss_rt_{k} USING "
                                "rtree(rid, lat0, lat1, lng0, lng1, alt0, alt1, t0, t1)")
                self._c.execute(f"CREATE TABLE IF NOT EXISTS dss_own_{k} ("
                                "rid INTEGER PRIMARY KEY, owner TEXT NOT NULL)")
                self._c.execute(f"CREATE INDEX IF NOT EXISTS dss_own_{k}_owner "
                                f"ON dss_own_{k} (owner)")
            self._c.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the DSS tables: {exc}") from exc

    @contextmanager
    def _tx(self, begin: str) -> Iterator[Tx]:
        with self._lock:
            try:
                self._c.execute(begin)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            try:
                yield _SqliteTx(self._c)
                self._c.execute("COMMIT")
            except sqlite3.Error as exc:
                self._c.execute("ROLLBACK")
                raise StoreError(f"{self.path}: {exc}") from exc
            except BaseException:
                self._c.execute("ROLLBACK")
                raise

    def read(self) -> Any:
        return self._tx("BEGIN")

    def write(self) -> Any:
        return self._tx("BEGIN IMMEDIATE")

    def close(self) -> None:
        with self._lock:
            self._c.close()


# -------------------------------------------------------------------------- PostgreSQL

class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.c = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.c.execute(sql.replace("?", "%s"), tuple(params)).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.c.execute(sql.replace("?", "%s"), tuple(params))

    def put_boxes(self, kind: str, owner: str, boxes: Sequence[Box]) -> None:
        if not boxes:
            return
        with self.c.cursor() as cur:
            cur.executemany(
                f"INSERT INTO dss_box_{kind} (owner, box) VALUES "
                "(%s, cube(ARRAY[%s,%s,%s,%s]::float8[], ARRAY[%s,%s,%s,%s]::float8[]))",
                [(owner, b.lat0, b.lng0, b.alt0, b.t0, b.lat1, b.lng1, b.alt1, b.t1)
                 for b in boxes])

    def drop_boxes(self, kind: str, owner: str) -> None:
        self.c.execute(f"DELETE FROM dss_box_{kind} WHERE owner = %s", (owner,))

    def search(self, kind: str, box: Box) -> set[str]:
        q, params = self.owners_sql(kind, [box])
        return {r[0] for r in self.c.execute(q.replace("?", "%s"), params)}

    def owners_sql(self, kind: str, boxes: Sequence[Box]) -> tuple[str, list[Any]]:
        one = (f"SELECT owner FROM dss_box_{kind} WHERE box && "
               "cube(ARRAY[?,?,?,?]::float8[], ARRAY[?,?,?,?]::float8[])")
        params: list[Any] = []
        for b in boxes:
            params += [b.lat0, b.lng0, b.alt0, b.t0, b.lat1, b.lng1, b.alt1, b.t1]
        return " UNION ".join([one] * len(boxes)), params


class PostgresDb:
    """The DSS tables in one schema of a PostgreSQL database; several processes may open
    the same (a pool). Needs psycopg (extra ``pg``)."""

    def __init__(self, url: str, schema: str = "skyaccord") -> None:
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(f"PostgreSQL schema name {schema!r} must match "
                             f"{_SCHEMA_NAME.pattern}")
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError("the PostgreSQL DSS needs psycopg: pip install 'skyaccord[pg]'"
                             ) from exc
        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        self._lock = threading.Lock()
        try:
            self._c = psycopg.connect(url, autocommit=True, connect_timeout=10)
            with self._c.transaction():
                # one migrator at a time across the pool (namespace 0, key 19)
                self._c.execute("SELECT pg_advisory_xact_lock(0, 19)")
                self._c.execute("CREATE EXTENSION IF NOT EXISTS cube")
                self._c.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                self._c.execute(f'SET search_path TO "{schema}", public')
                for t in _TABLES:
                    self._c.execute(t.format(real="DOUBLE PRECISION"))
                for k in KINDS:
                    self._c.execute(f"CREATE TABLE IF NOT EXISTS dss_box_{k} ("
                                    "rid BIGSERIAL PRIMARY KEY, owner TEXT NOT NULL, "
                                    "box cube NOT NULL)")
                    self._c.execute(f"CREATE INDEX IF NOT EXISTS dss_box_{k}_gist "
                                    f"ON dss_box_{k} USING gist (box)")
                    self._c.execute(f"CREATE INDEX IF NOT EXISTS dss_box_{k}_owner "
                                    f"ON dss_box_{k} (owner)")
            self._c.execute(f'SET search_path TO "{schema}", public')
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: cannot open the DSS tables: {exc}") from exc

    def _connection(self) -> Any:
        """The connection, opened again when the last one was lost (a server restart, a
        terminated backend): the request that met the loss failed with a StoreError, the
        next ones are served."""
        if self._c.closed or self._c.broken:
            psycopg = self._psycopg
            try:
                self._c = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                self._c.execute(f'SET search_path TO "{self.schema}", public')
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: cannot connect again: {exc}") from exc
        return self._c

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Tx]:
        psycopg = self._psycopg
        with self._lock:
            c = self._connection()
            if not write:
                # reads run as single statements in autocommit: each endpoint's read is one
                # statement (entities with their managers' availability), so it sees one
                # snapshot without a transaction's two extra round trips
                try:
                    yield _PgTx(c)
                except psycopg.Error as exc:
                    raise StoreError(f"PostgreSQL: {exc}") from exc
                return
            try:
                # BEGIN and the pool's write lock in one round trip (namespace 19, key 1);
                # READ COMMITTED: each later statement sees what was committed before the
                # lock was granted
                c.execute("BEGIN; SELECT pg_advisory_xact_lock(19, 1)")
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {exc}") from exc
            try:
                yield _PgTx(c)
                c.execute("COMMIT")
            except psycopg.Error as exc:
                self._rollback()
                raise StoreError(f"PostgreSQL: {exc}") from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        # a broken connection has been rolled back by the server already
        with suppress(self._psycopg.Error):
            self._c.execute("ROLLBACK")

    def read(self) -> Any:
        return self._tx(False)

    def write(self) -> Any:
        return self._tx(True)

    def backend_pid(self) -> int:
        """The server process of this instance's connection (operators, tests)."""
        with self._lock:
            return int(self._connection().info.backend_pid)

    def drop(self) -> None:
        """Drop this schema (tests)."""
        with self._lock:
            self._c.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        with self._lock:
            self._c.close()
