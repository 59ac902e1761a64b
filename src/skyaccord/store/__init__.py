"""Storage for skyaccord: one Protocol (:class:`Store`), SQLite and PostgreSQL backends.

:func:`open_store` picks the backend from a path or URL: ``postgresql://...`` (or
``postgres://``) opens :class:`~skyaccord.store.postgres.PostgresStore` (an optional
``?skyaccord_schema=NAME`` query parameter picks the PostgreSQL schema); ``sqlite:///PATH``
or a plain path opens :class:`~skyaccord.store.sqlite.SQLiteStore`.
"""

from __future__ import annotations

from skyaccord.store.base import (
    SCHEMA_VERSION,
    BoxTuple,
    DisplacementRow,
    IntentRow,
    LockKey,
    RequestRow,
    Store,
    Txn,
    VolumeHits,
    VolumeRow,
)
from skyaccord.store.sqlite import SQLiteStore

__all__ = [
    "SCHEMA_VERSION",
    "BoxTuple",
    "DisplacementRow",
    "IntentRow",
    "LockKey",
    "RequestRow",
    "SQLiteStore",
    "Store",
    "Txn",
    "VolumeHits",
    "VolumeRow",
    "open_store",
]


def open_store(path_or_url: str, *, create: bool = True) -> Store:
    """Open the store at ``path_or_url`` (module docstring); with ``create`` false, a
    SQLite file or PostgreSQL schema that does not exist yet is an
    :class:`~skyaccord.errors.InputError` (reading commands create nothing)."""
    if path_or_url.startswith(("postgresql://", "postgres://")):
        from skyaccord.store.postgres import PostgresStore, split_url

        url, schema = split_url(path_or_url, "skyaccord")
        return PostgresStore(url, schema=schema, create=create)
    if path_or_url.startswith("sqlite:///"):
        return SQLiteStore(path_or_url[len("sqlite:///"):], create=create)
    return SQLiteStore(path_or_url, create=create)
