"""What :class:`~skyaccord.line.store.LineStore` needs of a database: the interface
that the SQLite and PostgreSQL backends of the line's log implement.

The line's rules (the hash chain, sequence numbers, exactly-once acceptance, the outbox)
live once, in ``LineStore``, as SQL that both databases run: ``?`` placeholders (the
PostgreSQL backend passes them on as ``%s``), ``ON CONFLICT`` upserts, ``RETURNING``
left to :meth:`LogTxn.insert`. What differs stays here: the tables' DDL, how a write
transaction excludes other writers, how a read-only handle is opened, and two spellings
(:attr:`LogDB.is_op`, :attr:`LogDB.pending_hint`).

A write transaction of either backend excludes every other writer of the same log, in
any process, from its first statement to its commit (SQLite ``BEGIN IMMEDIATE``;
PostgreSQL an ``EXCLUSIVE`` lock on ``line_head``): what a writer reads (the chain's last
entry, a stream's last sequence number, whether a message id is logged) cannot change
before it commits, so two writers never take the same position or number, and the same
message delivered to two writers at once is accepted by one of them only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["LogCursor", "LogDB", "LogTxn"]


class LogCursor(Protocol):
    """The result of one statement (sqlite3's and psycopg's cursors both fit)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class LogTxn(Protocol):
    """One write transaction of a log; driver errors surface as StoreError when the
    transaction ends."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> LogCursor: ...

    def insert(self, sql: str, args: Sequence[Any]) -> int:
        """Run an ``INSERT`` into a table with an ``id`` key; the new row's id."""
        ...


class LogDB(Protocol):
    """A line log's database, opened for one party (writable) or read-only."""

    where: str
    """the file, or the URL less its password and the schema: what errors name"""
    is_op: str
    """null-safe equality (``IS`` in SQLite, ``IS NOT DISTINCT FROM`` in PostgreSQL)"""
    pending_hint: str
    """the index clause that keeps the outbox backlog's count off the delivered rows"""

    @property
    def conn(self) -> Any:
        """The driver's connection (tests of one backend reach below the interface)."""
        ...

    def prepare(self, party: str) -> None:
        """Create (or migrate) the tables and bind the log to ``party``: StoreError,
        and nothing created or changed, when it belongs to another party."""
        ...

    def transaction(self) -> AbstractContextManager[LogTxn]:
        """One write transaction, excluding every other writer of this log until it
        commits (module docstring); rolled back when the block raises."""
        ...

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query, outside any write transaction."""
        ...

    def space_problem(self, min_free_bytes: int) -> str | None:
        """Why the database cannot grow now, as far as this process can tell (under
        ``min_free_bytes`` free on a SQLite file's disk), or None."""
        ...

    def close(self) -> None: ...
