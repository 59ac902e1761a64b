"""Two parties' nodes over one registry (a SQLite file, or PostgreSQL when
``SKYACCORD_PG_URL`` is set, as for several nodes on several machines): what one posts,
the other sees as volumes only, and a conflicting write is refused with 409."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skyaccord.node.config import load_settings, merge_overrides
from skyaccord.node.service import init_node, open_node
from tests.node.conftest import T0, Clock
from tests.store import conftest as store_fixtures
from tests.store.conftest import fresh_store_url

backend = store_fixtures.backend  # the same backends as the store's contract suite


@pytest.fixture
def registry_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(backend, tmp_path) as url:
        yield url


def intent(iid: str, priority: int) -> dict[str, object]:
    return {"id": iid, "priority": priority, "volumes": [
        {"polygon": [[38.0, 35.0], [38.2, 35.0], [38.2, 35.2], [38.0, 35.2], [38.0, 35.0]],
         "alt": [15000, 25000], "time": [T0 + 600, T0 + 4200]}]}


def test_two_nodes_share_one_registry(tmp_path: Path, registry_url: str) -> None:
    clients = {}
    try:
        for party in ("us", "ru"):
            config, _, admin = init_node(tmp_path / party, party)
            s = merge_overrides(load_settings(config), registry=registry_url)
            node = open_node(s, clock=Clock())
            c = TestClient(node.app(tick=False, deliver=False))
            c.__enter__()
            c.headers["Authorization"] = f"Bearer {admin}"
            clients[party] = c
        us, ru = clients["us"], clients["ru"]
        assert us.post("/intents", json=intent("us-isr-orbit", 3)).status_code == 200
        seen = ru.get("/intents").json()
        assert seen["own"] == [] and [o["party"] for o in seen["others"]] == ["us"]
        assert "us-isr-orbit" not in str(seen)
        refused = ru.post("/intents", json=intent("ru-strike", 1))
        assert refused.status_code == 409
        assert refused.json()["conflicts"][0]["party"] == "us"
        assert "us-isr-orbit" not in refused.text  # the other party's id stays theirs
        over = ru.post("/intents", json=intent("ru-medevac", 9))
        assert over.status_code == 200 and len(over.json()["told"]) == 1
    finally:
        for c in clients.values():
            c.__exit__(None, None, None)
