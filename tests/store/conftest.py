"""One contract suite, run against every backend.

PostgreSQL: set ``SKYACCORD_PG_URL`` (e.g. ``postgresql://postgres@127.0.0.1:55432/postgres``)
to run the suite against a real server; each test gets a fresh schema, dropped after.
When the variable is set and the server is unreachable, the tests FAIL; they are skipped
only when it is unset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from skyaccord.store import Store, open_store

StoreFactory = Callable[[], Store]


def pg_url() -> str | None:
    return os.environ.get("SKYACCORD_PG_URL") or None


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and pg_url() is None:
        pytest.skip("SKYACCORD_PG_URL is not set (see src/skyaccord/store/README.md)")
    return str(request.param)


@contextmanager
def fresh_store_url(backend: str, tmp_path: object) -> Iterator[str]:
    """A URL of a fresh, empty store on ``backend`` (a PostgreSQL schema of its own,
    dropped after); several handles, or several nodes, may open it."""
    if backend == "sqlite":
        yield str(tmp_path) + "/registry.db"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    base = pg_url()
    assert base is not None
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}skyaccord_schema={schema}"
    yield url
    from skyaccord.store.postgres import PostgresStore

    s = open_store(url)
    assert isinstance(s, PostgresStore)
    s.drop()
    s.close()


@pytest.fixture
def store_url(backend: str, tmp_path: object) -> Iterator[str]:
    """A URL of a fresh, empty store on ``backend``; several handles may open it."""
    with fresh_store_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def open_new(store_url: str) -> Iterator[StoreFactory]:
    """Open handles on the test's store; all closed at the end."""
    opened: list[Store] = []

    def factory() -> Store:
        s = open_store(store_url)
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()
