"""Issue 14's HTTP findings tried against a real node process on loopback: an anonymous
client cannot make the node sign (1) or read anything (2), and a huge body is refused
before it is read, without the node's memory growing (3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from skyaccord.line import generate_key
from skyaccord.line.keys import save_key
from skyaccord.line.log import read_entries
from tests.support.local_nodes import LocalNodes, accord_text_with_keys


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNodes]:
    keys = {p: generate_key() for p in ("us", "ru")}
    (tmp_path / "accord.toml").write_text(accord_text_with_keys(keys), encoding="utf-8")
    for p, k in keys.items():
        save_key(k, tmp_path / f"{p}.key")
    n = LocalNodes(tmp_path, ("us", "ru"))
    n.start("us")
    yield n
    n.stop_all()


def rss_mib(n: LocalNodes) -> float:
    status = Path(f"/proc/{n.procs['us'].pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1]) / 1024


def test_anonymous_client_cannot_sign_or_read(node: LocalNodes) -> None:
    url = node.url("us")
    before = len(list(read_entries(node.db("us"))))
    for headers in ({}, {"Authorization": "Bearer forged"}):
        r = httpx.post(url + "/line/send", headers=headers, json={
            "to": "ru", "kind": "suspension", "body": {"reason": "we quit"}})
        assert r.status_code == 401, r.text
        for path in ("/line/inbox", "/line/sent", "/line/messages/" + "0" * 32,
                     "/line/overdue", "/line/refusals", "/alerts", "/tracks", "/health",
                     "/openapi.json", "/docs"):
            assert httpx.get(url + path, headers=headers).status_code in (401, 404), path
    assert len(list(read_entries(node.db("us")))) == before  # nothing was signed or logged


def test_a_200_mb_body_is_refused_before_it_is_read(node: LocalNodes) -> None:
    url = node.url("us")
    base = rss_mib(node)
    t0 = time.monotonic()
    # declared length: refused from the headers alone
    r = httpx.post(url + "/line/messages", content=b"x" * (200 * 1024 * 1024))
    declared_s = time.monotonic() - t0
    assert r.status_code == 413 and r.json()["type"].endswith("payload-too-large")

    def endless() -> Iterator[bytes]:  # chunked, no length: cut off at the limit
        block = b"y" * (1 << 20)
        for _ in range(200):
            yield block

    try:
        r = httpx.post(url + "/line/messages", content=endless(), timeout=30)
        assert r.status_code == 413
    except httpx.HTTPError:
        pass  # the node may close the connection once it has answered
    assert declared_s < 5.0
    assert rss_mib(node) - base < 50.0  # was +820 MiB before the limit
    assert node.get("us", "/health")["writable"] is True
