"""Three real node processes (us, ru, tr) on loopback, fed one scripted encounter over
their API: the automatic messages arrive within two ticks, are acknowledged, show as
alerts on the other side, and survive a SIGKILL of the sender with nothing lost,
repeated or told twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.line import generate_key, verify_log
from skyaccord.line.keys import save_key
from skyaccord.protocol import load_accord
from tests.support.local_nodes import LocalNodes, accord_text_with_keys

PARTIES = ("us", "ru", "tr")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[LocalNodes]:
    keys = {p: generate_key() for p in PARTIES}
    (tmp_path / "accord.toml").write_text(accord_text_with_keys(keys), encoding="utf-8")
    for p, k in keys.items():
        save_key(k, tmp_path / f"{p}.key")
    n = LocalNodes(tmp_path, PARTIES)
    yield n
    n.stop_all()


def encounter() -> list[dict[str, Any]]:
    """An American and a Russian fighter head-on 0.5 deg apart over Syria (corrective:
    loss of 5 NM in about 112 s), and a Russian bomber near Yayladagi flying north-west
    into Turkey's Hatay (the 24 Nov 2015 geometry)."""
    return [
        {"id": "us-f16", "party": "us", "class": "manned", "lat": 34.5, "lon": 38.0,
         "alt_ft": 20000, "gs_kt": 400, "trk_deg": 0, "vs_fpm": 0},
        {"id": "ru-su30", "party": "ru", "class": "manned", "lat": 35.0, "lon": 38.0,
         "alt_ft": 20000, "gs_kt": 400, "trk_deg": 180, "vs_fpm": 0},
        {"id": "ru-su24", "party": "ru", "class": "manned", "lat": 35.80, "lon": 36.12,
         "alt_ft": 19000, "gs_kt": 450, "trk_deg": 320, "vs_fpm": 0},
    ]


def wait_for(check: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


def conflicts_from(nodes: LocalNodes, party: str, sender: str) -> list[dict[str, Any]]:
    return [m for m in nodes.get(party, "/line/inbox")
            if m["kind"] == "conflict" and m["from"] == sender]


def test_three_nodes_tell_each_other_and_survive_a_sigkill(nodes: LocalNodes) -> None:
    for p in PARTIES:
        nodes.start(p)
    posted = time.time()
    for p in PARTIES:
        nodes.post(p, "/tracks", {"tracks": encounter()})
    # us tells ru about the pair (and ru tells us), within two ticks of 1 s
    got = wait_for(lambda: conflicts_from(nodes, "ru", "us"))
    (msg,) = got
    assert (msg["body"]["id1"], msg["body"]["id2"]) == ("ru-su30", "us-f16")
    assert msg["body"]["level"] == "corrective"
    assert msg["received_at"] - posted < 2.0 + 0.5
    wait_for(lambda: conflicts_from(nodes, "us", "ru"))
    # tr tells ru its bomber is about to cross the border
    warned = wait_for(lambda: [m for m in conflicts_from(nodes, "ru", "tr")
                               if m["body"]["source"] == "airspace"])
    assert warned[0]["body"]["id1"] == "ru-su24"
    # shown to ru's operators as alerts, and acknowledged on us's side
    alerts = nodes.get("ru", "/alerts")
    assert {a["message"]["from"] for a in alerts["line"]} >= {"us", "tr"}
    wait_for(lambda: all(m["acked_at"] for m in nodes.get("us", "/line/sent")))
    # SIGKILL us mid-encounter; it restarts, sees the same encounter: no second message
    nodes.send("us", "ru", "still there?", kind="text")
    nodes.kill("us")
    nodes.start("us")
    nodes.post("us", "/tracks", {"tracks": encounter()})
    time.sleep(2.5)  # two ticks and more
    nodes.drain()
    assert len(conflicts_from(nodes, "ru", "us")) == 1
    texts = [m for m in nodes.get("ru", "/line/inbox") if m["from"] == "us"]
    assert [m["seq"] for m in texts] == list(range(1, len(texts) + 1))  # none lost
    assert [m["kind"] for m in texts] == ["conflict", "text"]
    assert len(conflicts_from(nodes, "ru", "tr")) == 1  # tr told once, not every tick
    nodes.stop_all()
    accord = load_accord(nodes.root / "accord.toml")
    for p in PARTIES:
        assert verify_log(nodes.db(p), accord).ok
