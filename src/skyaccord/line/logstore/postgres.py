"""The line's log in a PostgreSQL schema, for a node whose data live on a server.

Requires the optional extra ``pg`` (psycopg 3, LGPL-3.0, imported when a log is opened).
The location is a ``postgresql://`` URL; its ``skyaccord_schema`` query parameter names
the schema that holds the ``line_*`` tables (default :data:`DEFAULT_SCHEMA`), so that
several nodes' logs, or a node's log and its registry, share one database apart.

Writers exclude each other with ``LOCK TABLE line_head IN EXCLUSIVE MODE`` as their
first statement (PostgreSQL documentation, "Explicit Locking", 13.3.1: EXCLUSIVE
conflicts with itself and with the ROW EXCLUSIVE lock of every INSERT/UPDATE, and allows
only reads beside it). At READ COMMITTED each later statement of the transaction then sees
every commit made before the lock was granted, so what ``LineStore`` reads in a write
transaction stays true until it commits, as under SQLite's ``BEGIN IMMEDIATE``. The lock
lives in the schema: two logs never wait on each other. Creating a schema takes a
transaction-scoped advisory lock of its own (one 64-bit key, a key space apart from the
registry's pairs of 32-bit keys).

Commits are durable as the server is configured (``synchronous_commit``, on by default).
A handle opened read-only connects with ``default_transaction_read_only`` and creates
nothing. A connection lost (a server restart) is opened again on the next use.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from skyaccord.errors import InputError, StoreError
from skyaccord.store.postgres import redact_url, split_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_SCHEMA", "PostgresLogDB"]

#: the schema of a log whose URL names none
DEFAULT_SCHEMA = "skyaccord_line"
#: advisory lock (one bigint) held while a log's schema is created
_PREPARE_LOCK = int.from_bytes(b"sky-line", "big")

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS line_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS line_log (
        pos bigint PRIMARY KEY, msg_id text NOT NULL, direction text NOT NULL,
        peer text NOT NULL, recorded_at double precision NOT NULL, message text NOT NULL,
        prev_hash text NOT NULL, hash text NOT NULL, kind text NOT NULL,
        sender text NOT NULL, seq bigint NOT NULL, in_reply_to text)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS line_log_id ON line_log (msg_id)",
    "CREATE INDEX IF NOT EXISTS line_log_reply ON line_log (in_reply_to)",
    "CREATE INDEX IF NOT EXISTS line_log_kind ON line_log (kind, direction, pos)",
    """CREATE TABLE IF NOT EXISTS line_head (
        id integer PRIMARY KEY CHECK (id = 1), count bigint NOT NULL, hash text NOT NULL,
        sig text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS line_streams (
        sender text NOT NULL, recipient text NOT NULL, last_seq bigint NOT NULL,
        PRIMARY KEY (sender, recipient))""",
    """CREATE TABLE IF NOT EXISTS line_outbox (
        msg_id text PRIMARY KEY, peer text NOT NULL, seq bigint NOT NULL,
        attempts integer NOT NULL DEFAULT 0, last_error text,
        delivered_at double precision, ack_id text, failed_since double precision)""",
    "CREATE INDEX IF NOT EXISTS line_outbox_pending ON line_outbox (peer, delivered_at, seq)",
    """CREATE INDEX IF NOT EXISTS line_outbox_undelivered ON line_outbox (peer, seq)
        WHERE delivered_at IS NULL""",
    """CREATE TABLE IF NOT EXISTS line_incidents (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL,
        peer text NOT NULL, stream text NOT NULL, expected bigint, got bigint,
        first_at double precision NOT NULL, last_at double precision NOT NULL,
        count integer NOT NULL DEFAULT 1, resolved_at double precision,
        detail text NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS line_incidents_open ON line_incidents (kind, peer, stream)
        WHERE resolved_at IS NULL""",
    """CREATE TABLE IF NOT EXISTS line_refusals (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at double precision NOT NULL,
        peer text, msg_id text, reason text NOT NULL, source text, kind text,
        raw_sha256 text, raw_size bigint, suppressed integer NOT NULL DEFAULT 0)""",
]


@functools.lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """``LineStore``'s SQL for psycopg: ``?`` placeholders as ``%s`` (no ``?`` or ``%``
    appears in that SQL but as a placeholder)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Txn:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._c = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._c.execute(_pg(sql), tuple(args))

    def insert(self, sql: str, args: Sequence[Any]) -> int:
        row = self._c.execute(_pg(sql + " RETURNING id"), tuple(args)).fetchone()
        assert row is not None
        return int(row[0])


class PostgresLogDB:
    """The log in a schema of the PostgreSQL database at ``url`` (:class:`~.base.LogDB`)."""

    is_op = "IS NOT DISTINCT FROM"
    pending_hint = ""

    def __init__(self, url: str, *, writable: bool, connect_timeout_s: int = 10) -> None:
        try:
            self._url, self.schema = split_url(url, DEFAULT_SCHEMA)
        except StoreError as exc:  # the location as given is wrong: bad input (exit 2)
            raise InputError(str(exc)) from None
        sep = "&" if "?" in self._url else "?"
        self.where = f"{redact_url(self._url)}{sep}skyaccord_schema={self.schema}"
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError("the line's log on PostgreSQL needs psycopg: "
                             "pip install 'skyaccord[pg]'") from exc
        self._psycopg = psycopg
        self._writable = writable
        self._timeout_s = connect_timeout_s
        self._lock = threading.RLock()
        self._conn = self._connect()
        if not writable:
            try:
                found = self._conn.execute("SELECT to_regclass(%s)",
                                           (f'"{self.schema}".line_meta',)).fetchone()
            except psycopg.Error as exc:
                self._conn.close()
                raise StoreError(f"{self.where}: cannot read the line log: {exc}") from None
            if found is None or found[0] is None:
                self._conn.close()
                raise InputError(f"{self.where}: no line log in this schema")

    def _connect(self) -> psycopg.Connection[Any]:
        pg = self._psycopg
        try:
            conn: psycopg.Connection[Any] = pg.connect(
                self._url, autocommit=True, connect_timeout=self._timeout_s)
        except pg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}: "
                             f"{exc}".strip()) from None
        try:
            # the schema alone: an unqualified name never resolves elsewhere (public)
            conn.execute(f'SET search_path TO "{self.schema}"')
            if not self._writable:
                conn.execute("SET default_transaction_read_only TO on")
        except pg.Error as exc:
            conn.close()
            raise StoreError(f"{self.where}: {exc}") from None
        return conn

    def _live(self) -> psycopg.Connection[Any]:
        """The connection, opened again when the last one was lost."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    @property
    def conn(self) -> psycopg.Connection[Any]:
        return self._conn

    def prepare(self, party: str) -> None:
        psycopg = self._psycopg
        with self._lock:
            c = self._live()
            try:
                with c.transaction():
                    c.execute("SELECT pg_advisory_xact_lock(%s)", (_PREPARE_LOCK,))
                    c.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    for stmt in _SCHEMA:
                        c.execute(stmt)
                    row = c.execute("SELECT value FROM line_meta WHERE key = 'party'"
                                    ).fetchone()
                    if row is None:
                        c.execute("INSERT INTO line_meta VALUES ('party', %s)", (party,))
                    elif row[0] != party:  # rolled back: nothing created or changed
                        raise StoreError(f"{self.where}: this log belongs to party "
                                         f"{row[0]!r}, not {party!r}")
            except psycopg.Error as exc:
                raise StoreError(f"{self.where}: cannot prepare the line log: "
                                 f"{exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[_Txn]:
        psycopg = self._psycopg
        with self._lock:
            try:
                c = self._live()
                with c.transaction():
                    c.execute("LOCK TABLE line_head IN EXCLUSIVE MODE")
                    yield _Txn(c)
            except psycopg.Error as exc:
                raise StoreError(f"{self.where}: write failed: {exc}") from None

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._live().execute(_pg(sql), tuple(args)).fetchall()
                except self._psycopg.Error as exc:
                    if attempt == 1 and self._conn.broken:
                        continue  # the server dropped us: a read is safe to try again
                    raise StoreError(f"{self.where}: cannot read the line log: "
                                     f"{exc}") from None
            raise AssertionError("unreachable")

    def space_problem(self, min_free_bytes: int) -> str | None:
        return None  # the server's disk: a full one fails the probe write

    def close(self) -> None:
        with self._lock:
            self._conn.close()
