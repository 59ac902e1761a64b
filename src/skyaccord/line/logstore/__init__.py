"""Where a node's line log lives: a SQLite file (the default) or a PostgreSQL schema.

:func:`open_log_db` picks the backend from the location: ``postgresql://...`` (or
``postgres://``; ``?skyaccord_schema=NAME`` picks the schema, default
``skyaccord_line``) opens :class:`~.postgres.PostgresLogDB`; ``sqlite:///PATH`` or a
plain path opens :class:`~.sqlite.SQLiteLogDB`. Both implement :class:`~.base.LogDB`,
the little that :class:`~skyaccord.line.store.LineStore` asks of a database.
"""

from __future__ import annotations

from pathlib import Path

from skyaccord.line.logstore.base import LogCursor, LogDB, LogTxn
from skyaccord.line.logstore.sqlite import SQLiteLogDB

__all__ = ["LogCursor", "LogDB", "LogTxn", "SQLiteLogDB", "describe", "is_url",
           "open_log_db"]


def is_url(where: str | Path) -> bool:
    """Whether ``where`` names a PostgreSQL log (else a SQLite file)."""
    return isinstance(where, str) and where.startswith(("postgresql://", "postgres://"))


def _sqlite_path(where: str | Path) -> Path:
    text = str(where)
    return Path(text[len("sqlite:///"):] if text.startswith("sqlite:///") else where)


def describe(where: str | Path) -> str:
    """``where`` as messages name it: a URL without its password."""
    if is_url(where):
        from skyaccord.store.postgres import redact_url

        return redact_url(str(where))
    return str(_sqlite_path(where))


def open_log_db(where: str | Path, *, writable: bool) -> LogDB:
    """The log database at ``where``: writable (created when new), or read-only (it must
    exist, and nothing is written); StoreError when it cannot be opened."""
    if is_url(where):
        from skyaccord.line.logstore.postgres import PostgresLogDB

        return PostgresLogDB(str(where), writable=writable)
    return SQLiteLogDB(_sqlite_path(where), writable=writable)
