"""Fixtures of the node tests: a node made by ``node init`` in a temporary directory,
under a fake clock, served in process (FastAPI's TestClient), with a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from skyaccord.node.auth import Role
from skyaccord.node.config import load_settings, merge_overrides
from skyaccord.node.service import OpenNode, init_node, open_node

#: 2026-12-02T12:00:00Z
T0 = 1_796_212_800.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Harness:
    root: Path
    config: Path
    clock: Clock
    node: OpenNode
    client: TestClient
    tokens: dict[str, str]

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post_tracks(self, rows: list[dict[str, Any]], role: str = "operator") -> Any:
        r = self.client.post("/tracks", json={"tracks": rows}, headers=self.auth(role))
        assert r.status_code == 200, r.text
        return r.json()

    def sent(self, kind: str = "conflict") -> list[Any]:
        return [m for _, _, _, m in self.node.runtime.line.store.messages(
            direction="sent", kinds=(kind,))]


def start(root: Path, clock: Clock, **overrides: Any) -> tuple[OpenNode, TestClient]:
    s = merge_overrides(load_settings(root / "node.toml"), **overrides)
    node = open_node(s, clock=clock)
    client = TestClient(node.app(tick=False, deliver=False))
    client.__enter__()
    return node, client


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    root = tmp_path / "us"
    # ru is a peer (never reached: no delivery runs here), as line/send needs
    config, _, admin = init_node(root, "us", port=8701, peers=[("ru", "http://127.0.0.1:9")])
    clock = Clock()
    node, client = start(root, clock, max_body_bytes=64 * 1024)
    tokens = {"admin": admin}
    for role in ("viewer", "operator"):
        tokens[role], _ = node.tokens.create(role, Role.parse(role))
    h = Harness(root, config, clock, node, client, tokens)
    yield h
    h.client.__exit__(None, None, None)
