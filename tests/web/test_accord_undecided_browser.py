"""The picture shows a version left undecided (issue 21), in a real browser against real
node processes: us proposes v2 to ru, ru's node dies before answering and stays down past
the effective time, so us cannot know whether ru accepted in time (its answer could be in
flight). us's header and accord panel say so, naming ru, without any event pushed; once
ru's node is back, its checkpoint made after the effective time decides it (lapsed) and
the warning goes."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from skyaccord.line import generate_key
from skyaccord.line.keys import save_key
from tests.line.helpers import accord_version
from tests.support.local_nodes import LocalNodes
from tests.web.conftest import logged_in

PARTIES = ("us", "ru")
WAIT_MS = 30_000
LEAD_S = 6  # the proposal's effective time, this far ahead of its making


@pytest.fixture
def nodes(tmp_path: Any) -> Iterator[LocalNodes]:
    keys = {p: generate_key() for p in ("us", "ru", "tr")}
    (tmp_path / "accord.toml").write_text(accord_version(keys, parties=PARTIES),
                                          encoding="utf-8")
    for p in PARTIES:
        save_key(keys[p], tmp_path / f"{p}.key")
    n = LocalNodes(tmp_path, PARTIES)
    n.keys = keys  # type: ignore[attr-defined]
    for p in PARTIES:
        n.start(p)
    yield n
    n.stop_all()


def test_an_undecided_version_is_shown_until_the_silent_party_speaks(
        browser: Any, nodes: LocalNodes, tmp_path: Any) -> None:
    with logged_in(browser, nodes.url("us"), nodes.token("us"), WAIT_MS) as pg:
        _undecided_then_lapsed(pg, nodes, tmp_path)


def _undecided_then_lapsed(pg: Any, nodes: LocalNodes, tmp_path: Any) -> None:
    assert pg.is_hidden("#accord-state")

    effective = math.ceil(time.time()) + LEAD_S
    v2 = accord_version(nodes.keys, parties=PARTIES, version=2,  # type: ignore[attr-defined]
                        effective_at=effective, unmanned=(2.0, 1000.0))
    made = nodes.post("us", "/accord/proposals", {"accord_toml": v2, "text": "wider"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # ru holds the proposal (its ack came back)
        if [p["sha256"] for p in nodes.get("ru", "/accord/proposals")] == [made["sha256"]]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("ru never received the proposal")
    nodes.kill("ru")  # down before answering, and past the effective time
    assert time.time() < effective, "the set-up took longer than the proposal's lead"

    pg.wait_for_selector("#accord-state:has-text('ACCORD UNDECIDED: no word from ru')")
    assert time.time() >= effective
    pg.click("#tab-accord")
    text = pg.inner_text("#accord-undecided")
    assert "UNDECIDED: v2 by us" in text and "no word from ru since then" in text
    assert "ordinary messages wait" in text
    (p,) = nodes.get("us", "/accord/proposals")
    assert p["status"] == "undecided" and p["awaited"] == ["ru"]
    pg.screenshot(path=str(tmp_path / "undecided.png"))

    nodes.start("ru")  # its checkpoint after the effective time is its word: lapsed
    pg.wait_for_selector("#accord-undecided", state="hidden")
    assert pg.is_hidden("#accord-state")
    (p,) = nodes.get("us", "/accord/proposals")
    assert p["status"] == "lapsed"
