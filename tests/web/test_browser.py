"""The operating picture end to end in a real browser: Playwright driving Debian's headless
chromium against real node processes (us and ru) fed one scripted encounter.

A wrong token is refused; the operator logs in, sees the tracks move and the corrective
conflict appear with its level, opens our aircraft and sees its bands, sends a message
that ru's node acknowledges, and the page follows a restart of its node without a reload.
Screenshots of each step go to the test's directory (``tmp_path``)."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyaccord.line import generate_key
from skyaccord.line.keys import save_key
from tests.node.test_processes import encounter
from tests.support.local_nodes import LocalNodes, accord_text_with_keys

PARTIES = ("us", "ru")
WAIT_MS = 20_000


class Feeder(threading.Thread):
    """Posts the encounter to us's node every second, each aircraft moved along its
    track by the time elapsed (a radar fusion system's feed)."""

    def __init__(self, nodes: LocalNodes) -> None:
        super().__init__(daemon=True)
        self.nodes, self.t0 = nodes, time.time()
        self.stopped = threading.Event()

    def rows(self) -> list[dict[str, Any]]:
        dt = time.time() - self.t0
        out = []
        for r in encounter():
            d_deg = r["gs_kt"] * dt / 3600.0 / 60.0
            trk = math.radians(r["trk_deg"])
            out.append({**r, "lat": r["lat"] + d_deg * math.cos(trk),
                        "lon": r["lon"] + d_deg * math.sin(trk)
                        / math.cos(math.radians(r["lat"]))})
        return out

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as c:
            while not self.stopped.is_set():
                with contextlib.suppress(httpx.HTTPError):  # the node is restarting
                    c.post(self.nodes.url("us") + "/tracks", json={"tracks": self.rows()},
                           headers=self.nodes.auth("us"))
                self.stopped.wait(1.0)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNodes]:
    root = tmp_path_factory.mktemp("nodes")
    keys = {p: generate_key() for p in PARTIES}
    (root / "accord.toml").write_text(accord_text_with_keys(keys), encoding="utf-8")
    for p, k in keys.items():
        save_key(k, root / f"{p}.key")
    n = LocalNodes(root, PARTIES)
    for p in PARTIES:
        n.start(p)
    feeder = Feeder(n)
    feeder.start()
    yield n
    feeder.stopped.set()
    feeder.join()
    n.stop_all()


@pytest.fixture
def page(browser: Any, nodes: LocalNodes) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(WAIT_MS)
    pg.goto(nodes.url("us") + "/")
    yield pg
    ctx.close()
    assert not errors, errors


def shot(pg: Any, out: Path, name: str) -> None:
    pg.screenshot(path=str(out / f"{name}.png"))


def log_in(pg: Any, token: str) -> None:
    pg.fill("#token", token)
    pg.click("#login-button")


def test_log_in_watch_the_encounter_see_bands_send_and_follow_a_restart(
        page: Any, nodes: LocalNodes, tmp_path: Path) -> None:
    pg = page
    # a wrong token is refused, and nothing of the picture is shown
    log_in(pg, "sky_not-a-token")
    pg.wait_for_selector("#login-error:has-text('Token refused')")
    assert pg.is_visible("#login")
    assert pg.evaluate("window.sky.tracks.size") == 0
    shot(pg, tmp_path, "01-wrong-token-refused")

    log_in(pg, nodes.token("us"))
    pg.wait_for_selector("#login", state="hidden")
    assert pg.evaluate("sessionStorage.getItem('skyaccord.token')") == nodes.token("us")
    pg.wait_for_function("() => window.sky.tracks.size === 3 && window.sky.mapReady")
    pg.wait_for_selector("#conn:has-text('live')")
    assert pg.inner_text("#party") == "party us"

    # the tracks move, fed from the WebSocket, and are drawn as a map layer
    lat0 = pg.evaluate("window.sky.tracks.get('us-f16').lat")
    pg.wait_for_function(f"() => window.sky.tracks.get('us-f16').lat > {lat0} + 0.002")
    assert pg.evaluate("window.sky.perf.drawnPoints") == 3  # one WebGL buffer
    shot(pg, tmp_path, "02-live-tracks")

    # the corrective conflict appears with its level, and the bomber's predicted incursion
    pg.wait_for_selector("#alert-list button[data-level='corrective']")
    text = pg.inner_text("#alert-list button[data-level='corrective']")
    assert "ru-su30" in text and "us-f16" in text and "loses separation in" in text
    pg.wait_for_selector("#alert-list button[data-level='predicted']:has-text('ru-su24')")
    order = pg.eval_on_selector_all("#alert-list button", "bs => bs.map(b => b.dataset.level)")
    assert order[0] == "corrective"
    shot(pg, tmp_path, "03-alert")

    # a click centres the map on the pair and opens our aircraft with its bands
    pg.click("#alert-list button[data-level='corrective']")
    pg.wait_for_selector("#panel-aircraft:not([hidden])")
    pg.wait_for_selector("#ac-bands svg.rose")
    assert pg.locator("#ac-bands svg").count() == 4  # track rose; gs, vs, alt bars
    assert pg.locator("#ac-bands svg.rose .resolution").count() == 1
    assert pg.inner_text("#ac-title") == "Aircraft us-f16"
    centre = pg.evaluate("window.sky.map.getCenter().toArray()")
    assert abs(centre[0] - 38.0) < 0.2 and 34.4 < centre[1] < 35.2
    shot(pg, tmp_path, "04-bands")

    # send a message on the line; ru's node acknowledges it
    pg.click("#tab-line")
    pg.select_option("#send-to", "ru")
    pg.select_option("#send-kind", "text")
    pg.fill("#send-text", "hello from the picture")
    pg.click("#send-button")
    pg.wait_for_selector("#send-result:has-text('Sent text')")
    pg.wait_for_selector("#sent-list li:has-text('hello from the picture') .acked")
    assert any(m["body"].get("text") == "hello from the picture"
               for m in nodes.get("ru", "/line/inbox"))
    shot(pg, tmp_path, "05-line-acknowledged")

    # our intent, with its state, and drawn as a volume at its time and altitude
    now = time.time()
    nodes.post("us", "/intents", {"id": "cap-east", "class": "manned", "volumes": [
        {"circle": [34.8, 38.5, 20000.0], "alt": [15000, 25000], "time": [now, now + 3600]}]})
    pg.click("#tab-layers")
    pg.wait_for_selector("#intent-list li:has-text('cap-east'):has-text('accepted')")
    pg.wait_for_function("() => window.sky.map.querySourceFeatures('intents').length >= 1")
    pg.fill("#fl-max", "100")  # below the volume: filtered out
    pg.dispatch_event("#fl-max", "change")
    pg.wait_for_function("() => window.sky.map.querySourceFeatures('intents').length === 0")
    pg.fill("#fl-max", "700")
    pg.dispatch_event("#fl-max", "change")

    # replay: back to the first tick seen, then live again
    assert pg.evaluate("window.sky.frames.length") >= 3
    pg.eval_on_selector("#replay-slider",
                        "s => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    assert pg.inner_text("#replay-label").startswith("replay")
    replayed = pg.evaluate("(f => f.num[f.ids.indexOf('us-f16') * 6])(window.sky.frames[0])")
    assert replayed < pg.evaluate("window.sky.tracks.get('us-f16').lat")
    pg.click("#replay-live")
    assert pg.inner_text("#replay-label") == "live"

    # the node restarts: the page reconnects by itself, no reload
    pg.evaluate("window.__same_page = true")
    nodes.kill("us")
    pg.wait_for_selector("#conn:has-text('retrying')")
    nodes.start("us")
    pg.wait_for_selector("#conn:has-text('live')")
    pg.wait_for_function("() => window.sky.tracks.size === 3")
    lat1 = pg.evaluate("window.sky.tracks.get('us-f16').lat")
    pg.wait_for_function(f"() => window.sky.tracks.get('us-f16').lat > {lat1}")
    assert pg.evaluate("window.__same_page") is True
    shot(pg, tmp_path, "06-reconnected")


def _contrast_script() -> str:
    return """() => {
      const lum = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
        const [r, g, b] = m.slice(0, 3).map((v) => { v /= 255;
          return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const bg = (el) => { for (; el; el = el.parentElement) {
          const c = getComputedStyle(el).backgroundColor;
          if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c; }
        return 'rgb(16, 21, 28)'; };
      const out = [];
      const sel = '#bar, #bar *, #side *, #replay *, #login *';
      for (const el of document.querySelectorAll(sel)) {
        if (!el.offsetParent && el.id !== 'login') continue;
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own) continue;
        const a = lum(getComputedStyle(el).color), b = lum(bg(el));
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        out.push([el.tagName + '#' + el.id + '.' + el.className, ratio]);
      }
      return out;
    }"""


def test_keyboard_only_and_readable_contrast(page: Any, nodes: LocalNodes) -> None:
    pg = page
    low = [(e, r) for e, r in pg.evaluate(_contrast_script()) if r < 4.5]
    assert not low, low  # the login
    # log in without the mouse: the token field has focus, Enter submits
    assert pg.evaluate("document.activeElement.id") == "token"
    pg.keyboard.type(nodes.token("us"))
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#login", state="hidden")
    pg.wait_for_selector("#alert-list button[data-level='corrective']")
    # tabs: arrow keys move between panels
    pg.focus("#tab-alerts")
    pg.keyboard.press("ArrowRight")
    assert pg.get_attribute("#tab-aircraft", "aria-selected") == "true"
    assert pg.evaluate("document.activeElement.id") == "tab-aircraft"
    pg.keyboard.press("ArrowLeft")
    assert pg.is_visible("#panel-alerts")
    # Tab reaches the first alert; Enter centres the map on it and opens the aircraft
    for _ in range(12):
        pg.keyboard.press("Tab")
        if pg.evaluate("document.activeElement.dataset.key || ''").startswith("conflict:"):
            break
    else:
        raise AssertionError("the alerts cannot be reached with Tab")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#panel-aircraft:not([hidden])")
    for tab in ("alerts", "aircraft", "line", "accord", "layers"):
        pg.click(f"#tab-{tab}")
        low = [(e, r) for e, r in pg.evaluate(_contrast_script()) if r < 4.5]
        assert not low, (tab, low)


def test_a_recording_opened_from_a_file_is_replayed(page: Any, nodes: LocalNodes,
                                                    tmp_path: Path) -> None:
    pg = page
    log_in(pg, nodes.token("us"))
    pg.wait_for_selector("#conn:has-text('live')")
    # `skyaccord decode`'s states CSV: two aircraft over 3 s, the second from t = 1
    rec = tmp_path / "recording.csv"
    rec.write_text("t,icao24,callsign,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
                   "100.0,abc123,THY1,35.0,38.0,30000,450,90,0\n"
                   "101.2,abc123,THY1,35.0,38.03,30000,450,90,0\n"
                   "101.5,def456,,35.5,37.0,12000,300,180,-500\n"
                   "102.1,abc123,THY1,35.0,38.06,30000,450,90,0\n", encoding="utf-8")
    pg.set_input_files("#replay-file", str(rec))
    pg.wait_for_selector("#replay-label:has-text('recording.csv')")
    assert pg.evaluate("window.sky.fileFrames.map(f => f.n)") == [1, 2, 2]
    pg.wait_for_selector("#counts:has-text('1 tracks')")
    pg.eval_on_selector("#replay-slider",
                        "s => { s.value = 2; s.dispatchEvent(new Event('input')); }")
    pg.wait_for_selector("#counts:has-text('2 tracks')")
    assert "(3/3)" in pg.inner_text("#replay-label")
    pg.click("#replay-live")
    assert pg.inner_text("#replay-label") == "live"
    pg.wait_for_function("() => window.sky.fileFrames === null && window.sky.tracks.size === 3")
