"""A node whose line log (and registry) live on PostgreSQL: ``db = "postgresql://..."`` in
``node.toml``. Real ``skyaccord serve`` processes on loopback: a PostgreSQL node talks
with a SQLite node, is SIGKILLed and restarted, and resumes without re-sending or
duplicating; in process, the registry lands beside the log in its own schema; bad
locations are refused before anything is created.

Needs ``SKYACCORD_PG_URL`` (skipped without it, failed in CI); the bad-input tests need
only psycopg."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.errors import InputError, StoreError
from skyaccord.line import LineStore, cross_check, generate_key, verify_log
from skyaccord.line.keys import save_key
from skyaccord.node.config import load_settings
from skyaccord.node.service import init_node, open_node
from skyaccord.protocol import load_accord
from skyaccord.store import open_store
from skyaccord.store.postgres import split_url
from tests.line.test_store_contract import drop_schema
from tests.node.conftest import T0, Clock
from tests.store.conftest import fresh_store_url, pg_url
from tests.support.local_nodes import LocalNodes, accord_text_with_keys

runner = CliRunner()


@pytest.fixture
def pg_log(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL schema's URL for a node's line log; its registry's schema
    (``<schema>_registry``) is dropped with it."""
    if pg_url() is None:
        pytest.skip("SKYACCORD_PG_URL is not set (see src/skyaccord/store/README.md)")
    with fresh_store_url("postgres", tmp_path) as url:
        yield url
        drop_schema(url)
        base, schema = split_url(url, "")
        drop_schema(f"{base}?skyaccord_schema={schema}_registry")


def set_db(config: Path, db: str) -> None:
    text = config.read_text(encoding="utf-8")
    lines = [f'db = "{db}"' if line.startswith("db = ") else line
             for line in text.splitlines()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_node_on_postgres_keeps_log_and_registry_apart(tmp_path: Path, pg_log: str) -> None:
    config, _, admin = init_node(tmp_path / "us", "us", peers=[("ru", "http://127.0.0.1:9")])
    set_db(config, pg_log)
    s = load_settings(config)
    base, schema = split_url(pg_log, "")
    assert s.line_db == pg_log
    assert s.registry_url == f"{base}?skyaccord_schema={schema}_registry"
    assert s.tokens_path == tmp_path / "us" / "tokens.json"  # as node init wrote it
    for _ in range(2):  # the second opening finds what the first left
        node = open_node(s, clock=Clock())
        with TestClient(node.app(tick=False, deliver=False)) as c:
            c.headers["Authorization"] = f"Bearer {admin}"
            r = c.post("/line/send", json={"to": "ru", "kind": "text",
                                           "body": {"text": "on postgres"}})
            assert r.status_code == 200, r.text
            r = c.post("/intents", json={"id": f"us-cap-{r.json()['seq']}", "priority": 3,
                                         "volumes": [{"polygon": [[38.0, 35.0], [38.1, 35.0],
                                                                  [38.1, 35.1], [38.0, 35.0]],
                                                      "alt": [15000, 20000],
                                                      "time": [T0 + 600, T0 + 1200]}]})
            assert r.status_code == 200, r.text
            assert c.get("/health").json()["line"]["outbox_pending"] >= 1
        node.runtime.line.store.close()
    r = runner.invoke(app, ["line", "send", "--config", str(config), "--to", "ru",
                            "--text", "from the command line"])
    assert r.exit_code == 0 and "seq 3" in r.output, r.output
    assert not (tmp_path / "us" / "us.db").exists()  # no SQLite log beside the config
    with LineStore(pg_log, "us") as log:  # the log is in its schema: three messages
        assert [m.seq for _, _, _, m in log.messages(direction="sent")] == [1, 2, 3]
    reg = open_store(s.registry_url)
    try:
        with reg.read() as t:
            assert sorted(r.id for r in t.rows()) == ["us-cap-1", "us-cap-2"]
    finally:
        reg.close()


class MixedNodes(LocalNodes):
    """LocalNodes whose ``pg`` parties keep their line log at a PostgreSQL URL (on the
    command line, or in the config file in config mode)."""

    def __init__(self, root: Path, parties: tuple[str, ...], pg: dict[str, str]) -> None:
        super().__init__(root, parties)
        self.pg = pg

    def db_location(self, party: str, *, config: bool) -> str:
        return self.pg.get(party) or super().db_location(party, config=config)


def inbox(nodes: LocalNodes, party: str) -> list[tuple[str, int]]:
    return [(m["id"], m["seq"]) for m in nodes.get(party, "/line/inbox")]


def test_postgres_node_talks_to_sqlite_node_and_resumes(tmp_path: Path, pg_log: str
                                                        ) -> None:
    keys = {p: generate_key() for p in ("us", "ru")}
    (tmp_path / "accord.toml").write_text(accord_text_with_keys(keys), encoding="utf-8")
    for p, k in keys.items():
        save_key(k, tmp_path / f"{p}.key")
    nodes = MixedNodes(tmp_path, ("us", "ru"), {"us": pg_log})
    try:
        nodes.start("us")
        nodes.start("ru")
        out = [nodes.send("us", "ru", f"us {i}") for i in range(5)]
        back = [nodes.send("ru", "us", f"ru {i}") for i in range(3)]
        nodes.drain()
        assert [i for i, _ in inbox(nodes, "ru")] == out
        assert [i for i, _ in inbox(nodes, "us")] == back
        # SIGKILL the PostgreSQL node at rest, then mid-burst: it resumes from its log
        nodes.kill("us")
        nodes.start("us")
        nodes.drain()
        assert nodes.get("ru", "/line/refusals") == []  # nothing was sent again
        out += [nodes.send("us", "ru", f"burst {i}") for i in range(20)]
        nodes.kill("us")
        nodes.start("us")
        out += [nodes.send("us", "ru", f"after {i}") for i in range(3)]
        back += [nodes.send("ru", "us", f"ru after {i}") for i in range(2)]
        nodes.drain()
        got = inbox(nodes, "ru")
        assert [i for i, _ in got] == out  # none lost, none twice, in order
        assert [s for _, s in got] == list(range(1, len(out) + 1))
        assert [i for i, _ in inbox(nodes, "us")] == back
        assert nodes.get("us", "/health")["line"]["log_entries"] == 2 * (len(out)
                                                                        + len(back))
    finally:
        nodes.stop_all()
    accord = load_accord(tmp_path / "accord.toml")
    assert verify_log(pg_log, accord).ok
    assert cross_check(pg_log, str(tmp_path / "ru.db"), accord) == []
    r = runner.invoke(app, ["line", "verify", pg_log, "--against", str(tmp_path / "ru.db")])
    assert r.exit_code == 0 and "hash chain intact" in r.output, r.output
    # the PostgreSQL log is bound to us: ru's node cannot be started on it
    with pytest.raises(StoreError, match="belongs to party 'us', not 'ru'"):
        LineStore(pg_log, "ru", keys["ru"])


# -- bad locations: one clear error, nothing created -------------------------------------

@pytest.mark.parametrize(("db", "words"), [
    ("postgresql://[::1/x", "not a PostgreSQL URL"),
    ("postgresql://u@127.0.0.1:port/x", "not a PostgreSQL URL"),
    ("postgresql://u@127.0.0.1/x?skyaccord_schema=Bad-Name", "schema name 'Bad-Name'"),
])
def test_malformed_log_url_refused_by_config(tmp_path: Path, db: str, words: str) -> None:
    config, _, _ = init_node(tmp_path / "us", "us")
    set_db(config, db)
    with pytest.raises(InputError, match=f"key 'node.db': .*{words}"):
        load_settings(config)
    with pytest.raises(InputError, match=words):
        LineStore(db, "us", generate_key())
    r = runner.invoke(app, ["line", "verify", db])
    assert r.exit_code == 2 and words in r.output, r.output  # bad input


def test_unreachable_server_is_one_store_error(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg (the pg extra) is not installed")
    config, _, _ = init_node(tmp_path / "us", "us")
    url = "postgresql://nobody:secret@127.0.0.1:1/postgres"  # nothing listens on port 1
    set_db(config, url)
    before = sorted(os.listdir(tmp_path / "us"))
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as e:
        open_node(load_settings(config))
    assert "secret" not in str(e.value)  # the password is not repeated
    assert sorted(os.listdir(tmp_path / "us")) == before  # no file made instead
    r = runner.invoke(app, ["line", "inbox", url])
    # a server down is a failed run (exit 1), not bad input
    assert r.exit_code == 1 and "cannot connect to PostgreSQL" in r.output, r.output
    assert "secret" not in r.output


def test_cli_on_a_schema_without_a_log_creates_nothing(pg_log: str) -> None:
    for args in (["line", "inbox", pg_log], ["line", "verify", pg_log]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "no line log" in r.output, r.output
    import psycopg

    base, schema = split_url(pg_log, "")
    with psycopg.connect(base) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                            (schema,)).fetchone() is None
