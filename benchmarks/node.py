"""Benchmark of the party's node as it runs: tracks in through the API, a tick each second,
the live stream out to WebSocket clients.

A real ``skyaccord serve`` process (SQLite, tick 1 s, TLS off) on loopback. This process
plays the feed — every second it posts N moving tracks (JSON, as a radar fusion system
would, through ``POST /tracks``) — and holds C WebSocket clients on ``/live``. Measured:

* ``POST /tracks``: the whole request for N rows (client side);
* tick compute: what the node's loop spends per tick (picture snapshot, detection,
  incursions into the zones, alerts, automatic messages), read from each tick event;
* tick latency: from the tick's time to the event's arrival at the LAST of the C clients
  (compute + encoding + fan-out + loopback): "update in to alerts out" for reports that
  arrived before the tick;
* fan-out: first to last client;
* the node's CPU (cores used over the run) and peak resident memory;
* beside it, the kernel alone: ``detect`` (the node's engine) on the same N tracks in
  this process.

Run: ``python -m benchmarks.node [--tracks 10000] [--clients 20] [--ticks 30]``.
Target on a 2-core machine: p99 tick latency under 500 ms at 10,000 tracks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import websockets

from benchmarks.common import node_process, report
from skyaccord.node.runtime import DETECT_ENGINE
from skyaccord.protocol import default_accord
from skyaccord.tactical.detect import detect
from skyaccord.tracks import Tracks

_T = re.compile(rb'"t":([0-9.eE+-]+),"duration_s":([0-9.eE+-]+)')
CLASSES = ("manned", "unmanned", "civil")
PARTIES = ("us", "ru", "tr", "unknown")


class Traffic:
    """N aircraft flying straight over a 500 x 500 km box centred on 35 N, 38 E."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.ids = [f"ac{k:05d}" for k in range(n)]
        self.party = [PARTIES[k % 4] for k in range(n)]
        self.cls = [CLASSES[k % 3] for k in range(n)]
        self.lat = 35.0 + rng.uniform(-2.25, 2.25, n)
        self.lon = 38.0 + rng.uniform(-2.75, 2.75, n)
        self.alt = rng.uniform(1000, 40000, n).round(-2)
        self.gs = rng.uniform(150, 500, n)
        self.trk = rng.uniform(0, 360, n)
        self.vs = np.zeros(n)

    def advance(self, dt_s: float) -> None:
        d_nm = self.gs * dt_s / 3600.0
        self.lat += d_nm / 60.0 * np.cos(np.radians(self.trk))
        self.lon += d_nm / 60.0 * np.sin(np.radians(self.trk)) / np.cos(np.radians(self.lat))

    def body(self) -> bytes:
        rows = [{"id": i, "party": p, "class": c, "lat": round(a, 6), "lon": round(o, 6),
                 "alt_ft": h, "gs_kt": round(g, 1), "trk_deg": round(k, 1), "vs_fpm": 0.0}
                for i, p, c, a, o, h, g, k in zip(
                    self.ids, self.party, self.cls, self.lat.tolist(), self.lon.tolist(),
                    self.alt.tolist(), self.gs.tolist(), self.trk.tolist(), strict=True)]
        return json.dumps({"tracks": rows}, separators=(",", ":")).encode()

    def tracks(self) -> Tracks:
        return Tracks(np.array(self.ids), np.array(self.party), np.array(self.cls),
                      self.lat.copy(), self.lon.copy(), self.alt.copy(), self.gs.copy(),
                      self.trk.copy(), self.vs.copy())


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    return float(np.percentile(np.asarray(xs), q))


async def _clients(url: str, token: str, n: int, stop: threading.Event,
                   arrivals: dict[float, list[float]], durations: dict[float, float],
                   ready: threading.Event) -> None:
    async def one() -> None:
        async with websockets.connect(f"{url}/live?token={token}", max_size=None) as ws:
            await ws.recv()  # hello
            connected.append(1)
            if len(connected) == n:
                ready.set()
            while not stop.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                head = (frame if isinstance(frame, bytes) else frame.encode())[:120]
                m = _T.search(head)
                if m:
                    t = float(m.group(1))
                    arrivals.setdefault(t, []).append(now)
                    durations[t] = float(m.group(2))

    connected: list[int] = []
    await asyncio.gather(*(one() for _ in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    n, c = args.tracks, args.clients
    traffic = Traffic(n)
    accord = default_accord()
    snap = traffic.tracks()
    detect(snap, accord, engine=DETECT_ENGINE)  # load the compiled kernel
    kernel = []
    for _ in range(5):
        t0 = time.perf_counter()
        conflicts = detect(snap, accord, engine=DETECT_ENGINE)  # the node's engine
        kernel.append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with node_process(root) as node:
            url, token, headers, proc = node.url, node.token, node.headers, node.proc
            client = httpx.Client(timeout=30.0)
            arrivals: dict[float, list[float]] = {}
            durations: dict[float, float] = {}
            stop, ready = threading.Event(), threading.Event()
            ws_thread = threading.Thread(target=lambda: asyncio.run(_clients(
                url.replace("http", "ws"), token, c, stop, arrivals, durations, ready)),
                daemon=True)
            ws_thread.start()
            ready.wait(30)
            posts: list[float] = []
            posted_at: list[float] = []
            cpu0, wall0 = _proc_cpu_s(proc.pid), time.time()
            warm = 3
            for k in range(args.ticks + warm):
                t_start = time.time()
                body = traffic.body()
                r = client.post(url + "/tracks", content=body, headers=headers)
                r.raise_for_status()
                if k >= warm:
                    posts.append(time.time() - t_start)
                    posted_at.append(time.time())
                traffic.advance(1.0)
                time.sleep(max(0.0, 1.0 - (time.time() - t_start)))
            cpu1, wall1 = _proc_cpu_s(proc.pid), time.time()
            time.sleep(1.5)
            stop.set()
            ws_thread.join(10)
            peak = _proc_peak_mib(proc.pid)
            client.close()

    ticks = sorted(t for t, got in arrivals.items() if len(got) == c and t >= posted_at[0])
    latency = [max(arrivals[t]) - t for t in ticks]
    fan = [max(arrivals[t]) - min(arrivals[t]) for t in ticks]
    compute = [durations[t] for t in ticks]
    # update in to alerts out: each post to the last client's copy of the next tick
    e2e = []
    for p in posted_at:
        nxt = [t for t in ticks if t >= p]
        if nxt:
            e2e.append(max(arrivals[nxt[0]]) - p)
    ms = 1000.0
    rows = [
        ("POST /tracks (whole request)", f"{n} rows", pct(posts, 50) * ms, pct(posts, 99) * ms),
        ("tick compute (node loop)", f"{n} tracks", pct(compute, 50) * ms,
         pct(compute, 99) * ms),
        ("tick latency: tick -> last client", f"{c} clients", pct(latency, 50) * ms,
         pct(latency, 99) * ms),
        ("fan-out: first -> last client", f"{c} clients", pct(fan, 50) * ms, pct(fan, 99) * ms),
        ("update in -> alerts at last client", "incl. wait for tick", pct(e2e, 50) * ms,
         pct(e2e, 99) * ms),
        ("detect kernel alone", f"{len(conflicts)} conflicts", statistics.median(kernel) * ms,
         max(kernel) * ms),
    ]
    cores = (cpu1 - cpu0) / (wall1 - wall0)
    report("node", ("what", "size", "p50 ms", "p99 ms"), rows, {
        "tracks": n, "clients": c, "ticks_measured": len(ticks), "node_cpu_cores": cores,
        "node_peak_rss_mib": peak,
        "target": "p99 tick latency < 500 ms at 10,000 tracks on 2 cores",
        "met": bool(pct(latency, 99) * ms < 500)})
    print(f"ticks measured {len(ticks)} of {args.ticks}; node CPU {cores:.2f} cores; "
          f"peak RSS {peak:.0f} MiB; p99 tick latency {pct(latency, 99) * ms:.0f} ms "
          f"(target < 500 ms: {'met' if pct(latency, 99) * ms < 500 else 'NOT met'})")


if __name__ == "__main__":
    main()
