"""Foreign exceptions are translated to StoreError at the boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyaccord.errors import StoreError
from skyaccord.store import SQLiteStore, open_store


def test_sqlite_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        SQLiteStore(bad)


def test_sqlite_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        open_store(str(tmp_path / "no" / "such" / "dir" / "r.db"))


def test_sqlite_bad_option(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="synchronous"):
        SQLiteStore(tmp_path / "r.db", synchronous="OFF")


def test_postgres_unreachable_is_a_store_error() -> None:
    pytest.importorskip("psycopg")
    # port 1 on localhost: nothing listens there; the password must not be echoed
    with pytest.raises(StoreError, match="cannot connect") as info:
        open_store("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2")
    assert "secret" not in str(info.value)


def test_postgres_bad_schema_name() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="schema name"):
        open_store("postgresql://u@127.0.0.1:1/db?skyaccord_schema=Bad-Name")
