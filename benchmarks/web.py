"""Benchmark of the operating picture in headless Chromium: 10,000 tracks updated at 1 Hz.

The whole thing as an operator runs it: a real ``skyaccord serve`` process (tick 1 s) on
loopback, fed every second with N moving tracks through ``POST /tracks`` (the traffic of
``benchmarks/node.py``: a 500 x 500 km box, so thousands of conflicts), and the page
served by that node, logged in, in Debian's headless chromium (Playwright; software
WebGL, no GPU). Measured in the page, per tick event of the ``/live`` stream:

* parse + apply: ``JSON.parse`` of the frame and the update of the page's track table,
  alerts and panels;
* build: the GeoJSON features (points, speed leaders, trails, alert geometry) handed to
  MapLibre's sources (``setData``);
* applied and drawn: from the frame's arrival to MapLibre's next ``idle`` event (its
  worker has tiled the new data and the frame showing it is rendered);
* memory, every 10 s after a forced garbage collection: the page's JS heap, and the
  resident memory of all the browser's processes (renderer, GPU, network).

Run: ``python -m benchmarks.web [--tracks 10000] [--seconds 600]``. Target on this
2-core machine (shared with the node it watches): a 1 Hz update of 10,000 tracks
applied and drawn in under 200 ms, and the page's memory steady over 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import node_process, report
from benchmarks.node import Traffic, pct

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _rss_mib(marker: str) -> float:
    """Resident memory of every process whose command line holds ``marker``, MiB."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "cmdline").read_text(errors="replace"):
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024.0


def _feed(url: str, headers: dict[str, str], traffic: Traffic, stop: threading.Event,
          posts: list[float]) -> None:
    with httpx.Client(timeout=30.0) as client:
        while not stop.is_set():
            t0 = time.time()
            try:
                client.post(url + "/tracks", content=traffic.body(),
                            headers=headers).raise_for_status()
                posts.append(time.time() - t0)
            except httpx.HTTPError:
                pass
            traffic.advance(1.0)
            stop.wait(max(0.0, 1.0 - (time.time() - t0)))


def _tick_event(traffic: Traffic) -> str:
    """A ``tick`` event of the ``/live`` stream (the node's shape) updating every track."""
    cols = {"id": traffic.ids, "party": traffic.party, "class": traffic.cls,
            "lat": traffic.lat.round(6).tolist(), "lon": traffic.lon.round(6).tolist(),
            "alt_ft": traffic.alt.tolist(), "gs_kt": traffic.gs.round(1).tolist(),
            "trk_deg": traffic.trk.round(1).tolist(), "vs_fpm": traffic.vs.tolist()}
    return json.dumps({"type": "tick", "t": time.time(), "duration_s": 0.0,
                       "tracks": len(traffic.ids), "conflicts": 0, "incursions": 0,
                       "alerts": {"new": [], "changed": [], "cleared": []}, "told": 0,
                       "updated": cols, "removed": []}, separators=(",", ":"))


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--inject", action="store_true",
                        help="no feed through the node: tick events made here, handed to "
                        "the page's stream handler each second (the page alone)")
    args = parser.parse_args()
    n = args.tracks
    traffic = Traffic(n)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with node_process(root) as node:
            url, token, headers = node.url, node.token, node.headers
            stop = threading.Event()
            posts: list[float] = []
            samples: list[dict[str, Any]] = []
            try:
                if not args.inject:
                    threading.Thread(target=_feed, args=(url, headers, traffic, stop, posts),
                                     daemon=True).start()
                profile = root / "chromium-profile"
                with sync_playwright() as pw:
                    ctx = pw.chromium.launch_persistent_context(
                        str(profile), executable_path=CHROMIUM, args=ARGS,
                        viewport={"width": 1400, "height": 850})
                    page = ctx.new_page()
                    cdp = ctx.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    page.goto(url + "/")
                    page.fill("#token", token)
                    page.click("#login-button")
                    page.wait_for_selector("#conn:has-text('live')")

                    def step() -> None:
                        t0 = time.time()
                        if args.inject:
                            page.evaluate("t => window.sky.receive(t)", _tick_event(traffic))
                            traffic.advance(1.0)
                        time.sleep(max(0.0, 1.0 - (time.time() - t0)))

                    t_warm = time.time()
                    while (time.time() - t_warm < args.warmup
                           or page.evaluate("window.sky.tracks.size") < n):
                        step()
                    page.evaluate("() => { window.sky.perf.applied.length = 0; }")
                    t_start = t_sample = time.time()
                    while time.time() - t_start < args.seconds:
                        step()
                        if time.time() - t_sample < 10.0:
                            continue
                        t_sample = time.time()
                        cdp.send("HeapProfiler.collectGarbage")
                        metrics = {m["name"]: m["value"]
                                   for m in cdp.send("Performance.getMetrics")["metrics"]}
                        samples.append({"t_s": round(time.time() - t_start),
                                        "js_heap_mib": metrics["JSHeapUsedSize"] / 2**20,
                                        "browser_rss_mib": _rss_mib(str(profile)),
                                        "ticks": page.evaluate("window.sky.perf.applied.length"),
                                        "alerts": page.evaluate("window.sky.alerts.size")})
                        print(samples[-1], flush=True)
                    applied = page.evaluate("window.sky.perf.applied")
                    ctx.close()
            finally:
                stop.set()

    full = [a for a in applied if a["n"] >= n * 0.9]
    parse = [a["parse_apply_ms"] for a in full]
    build = [a["build_ms"] for a in full]
    drawn = [a["drawn_ms"] for a in full]
    first = samples[min(len(samples) - 1, 5)] if samples else {}
    last = samples[-3:]
    heap_growth = (statistics.mean(s["js_heap_mib"] for s in last) - first["js_heap_mib"]
                   if samples else float("nan"))
    rss_growth = (statistics.mean(s["browser_rss_mib"] for s in last) - first["browser_rss_mib"]
                  if samples else float("nan"))
    rows = [
        ("parse + apply (page)", f"{n} tracks", pct(parse, 50), pct(parse, 99)),
        ("build: vertex buffer, leaders/trails, alerts", f"{n} tracks", pct(build, 50),
         pct(build, 99)),
        ("applied and drawn (arrival -> frame)", f"{n} tracks", pct(drawn, 50),
         pct(drawn, 99)),
        ("POST /tracks (feed, whole request)", f"{n} rows", pct(posts, 50) * 1000,
         pct(posts, 99) * 1000),
    ]
    met = bool(pct(drawn, 50) < 200)
    report("web-page-alone" if args.inject else "web", ("what", "size", "p50 ms", "p99 ms"), rows, {
        "tracks": n, "seconds": args.seconds, "ticks_drawn": len(full),
        "ticks_expected": args.seconds, "alerts_at_end": samples[-1]["alerts"] if samples else 0,
        "memory_samples": samples,
        "js_heap_growth_mib": heap_growth, "browser_rss_growth_mib": rss_growth,
        "target": "1 Hz update of 10,000 tracks applied and drawn < 200 ms; memory steady",
        "met_p50": met})
    print(f"ticks drawn {len(full)} in {args.seconds} s; applied and drawn p50 "
          f"{pct(drawn, 50):.0f} ms, p99 {pct(drawn, 99):.0f} ms (target < 200 ms: "
          f"{'met' if met else 'NOT met'} at p50); JS heap {first.get('js_heap_mib', 0):.0f}"
          f" -> {samples[-1]['js_heap_mib'] if samples else 0:.0f} MiB, browser RSS growth "
          f"{rss_growth:.0f} MiB")


if __name__ == "__main__":
    main()
