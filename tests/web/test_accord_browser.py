"""The accord panel and the distress display in a real browser (Playwright, Debian's
headless chromium) against real node processes (us and ru): ru's operator reads us's
proposal with its difference and accepts it with a reason; a distress call from us is
shown on ru's picture at once and acknowledged from it; a suspension by us is shown on
ru's picture (header and accord panel) as soon as it arrives."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.line import generate_key
from skyaccord.line.keys import save_key
from tests.line.helpers import accord_version
from tests.support.local_nodes import LocalNodes
from tests.web.conftest import logged_in

PARTIES = ("us", "ru")
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNodes]:
    root = tmp_path_factory.mktemp("accord-nodes")
    keys = {p: generate_key() for p in ("us", "ru", "tr")}
    (root / "accord.toml").write_text(accord_version(keys, parties=PARTIES), encoding="utf-8")
    (root / "v2.toml").write_text(accord_version(
        keys, parties=PARTIES, version=2, effective_at=math.ceil(time.time()) + 3600,
        unmanned=(2.0, 1000.0)), encoding="utf-8")
    for p in PARTIES:
        save_key(keys[p], root / f"{p}.key")
    n = LocalNodes(root, PARTIES)
    for p in PARTIES:
        n.start(p)
    yield n
    n.stop_all()


@pytest.fixture
def ru_page(browser: Any, nodes: LocalNodes) -> Iterator[Any]:
    with logged_in(browser, nodes.url("ru"), nodes.token("ru"), WAIT_MS) as pg:
        yield pg


def test_accord_panel_shows_the_difference_and_accepts(ru_page: Any, nodes: LocalNodes,
                                                       tmp_path: Path) -> None:
    pg = ru_page
    made = nodes.post("us", "/accord/proposals", {
        "accord_toml": (nodes.root / "v2.toml").read_text(encoding="utf-8"),
        "text": "unmanned minima doubled"})
    sha = made["sha256"]
    pg.click("#tab-accord")
    item = f"#proposal-list li[data-sha='{sha}']"
    pg.wait_for_selector(item)  # the proposal event refreshed the panel
    text = pg.inner_text(item)
    assert "v2 by us" in text and "pending" in text
    assert "separation[unmanned/unmanned].horizontal_nm: 1 NM -> 2 NM" in text
    assert "separation[unmanned/unmanned].vertical_ft: 500 ft -> 1000 ft" in text
    pg.screenshot(path=str(tmp_path / "accord-panel.png"))
    pg.click(f"{item} button.accept")  # without a reason: nothing is sent
    assert nodes.get("us", "/accord/proposals")[0]["answers"] == {}
    pg.fill(f"{item} input.reason", "agreed at the working group")
    pg.click(f"{item} button.accept")
    pg.wait_for_selector(f"{item} .status:has-text('accepted')")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = nodes.get("us", "/accord/proposals")[0]
        if got["status"] == "accepted":
            break
        time.sleep(0.1)
    assert got["answers"]["ru"] == {**got["answers"]["ru"], "decision": "accept",
                                    "text": "agreed at the working group"}


def test_distress_is_shown_at_once_and_acknowledged(ru_page: Any, nodes: LocalNodes,
                                                     tmp_path: Path) -> None:
    pg = ru_page
    assert pg.is_hidden("#distress")
    t0 = time.monotonic()
    sent = nodes.post("us", "/distress", {"lat": 35.4, "lon": 35.9, "frequency_mhz": 243.0,
                                          "callsign": "SHARK 21", "nature": "ejection"})
    pg.wait_for_selector("#distress:has-text('SHARK 21')")
    assert time.monotonic() - t0 < 5.0
    banner = pg.inner_text("#distress")
    assert "DISTRESS from us" in banner and "243 MHz" in banner and "35.4000" in banner
    pg.screenshot(path=str(tmp_path / "distress.png"))
    pg.click("#distress button")
    pg.wait_for_selector("#distress", state="hidden")
    call = sent["sent"][0]["id"]
    deadline = time.monotonic() + 20
    answers: list[Any] = []
    while time.monotonic() < deadline and not answers:
        answers = next(d for d in nodes.get("us", "/distress")
                       if d["message"]["id"] == call)["answers"]
        time.sleep(0.1)
    assert answers and answers[0]["from"] == "ru"


def test_a_suspension_is_shown_at_once(ru_page: Any, nodes: LocalNodes) -> None:
    pg = ru_page
    assert pg.is_hidden("#accord-state")
    nodes.post("us", "/accord/suspend", {"reason": "strike on Shayrat"})
    pg.wait_for_selector("#accord-state:has-text('ACCORD v1 SUSPENDED by us')")
    pg.click("#tab-accord")
    assert "strike on Shayrat" in pg.inner_text("#accord-suspended")
