"""Strategic registry benchmark: submit-with-check latency and throughput with many
active intents in one theatre, on SQLite and PostgreSQL.

    python -m benchmarks.strategic                 # 1,000,000 intents, SQLite
    python -m benchmarks.strategic --n 200000 --pg postgresql://postgres@127.0.0.1/db

The theatre: ``--n`` active intents of three parties, circles of 0.3-3 km radius spread
over 600 × 600 km around Syria's centre, 1,000-4,000 ft blocks between the surface and
FL400, windows of 15 min-2 h over 7 days, loaded by bulk insert (no checks). A tenth of
them sit in one dense 20 × 20 km area (the "one dense cell" of the InterUSS DSS figure).
Then ``--writes`` new intents are submitted one at a time, each with its conflict key
read just before (check, then checked write: the planner's flow), first spread over the
theatre, then all inside the dense area (``--dense-passes`` runs: the first one also
fills the registry's per-volume record cache). Reference: InterUSS DSS, 6-8 writes/s in one
dense cell (its "busy S2 cell" load test, interuss/monitoring
``loadtest/locust_files/FlightsInSub.py``; results in
https://github.com/interuss/dss/issues/1541). Target: p99 under 10 ms embedded, >= 1,000
checked writes/s.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import peak_rss_mib, report
from skyaccord.protocol import default_accord
from skyaccord.store import IntentRow, Store, open_store
from skyaccord.store.base import BoxTuple
from skyaccord.strategic.intersect import Box, PlacedVolume
from skyaccord.strategic.registry import DEFAULT_CENTRE, Registry
from skyaccord.strategic.volumes import Circle, Intent, Volume

T0 = 1_750_000_000.0
PARTIES = ("us", "ru", "tr")
HALF_M = 300_000.0
DENSE_M = 10_000.0


def theatre_rows(reg: Registry, n: int, seed: int
                 ) -> Iterator[tuple[IntentRow, Sequence[BoxTuple], Sequence[bytes]]]:
    """Rows of ``n`` random intents, generated and projected in vectorised chunks."""
    rng = np.random.default_rng(seed)
    plane = reg.plane
    chunk = 50_000
    done = 0
    while done < n:
        m = min(chunk, n - done)
        dense = rng.random(m) < 0.1
        half = np.where(dense, DENSE_M, HALF_M)
        x = rng.uniform(-1, 1, m) * half
        y = rng.uniform(-1, 1, m) * half
        lat, lon = plane.inverse(x, y)
        k = plane.factors(lat, lon).scale
        r = rng.uniform(300, 3000, m)
        z0 = rng.uniform(0, 36000, m).round(-2)
        z1 = z0 + rng.uniform(1000, 4000, m).round(-2)
        t0 = T0 + rng.uniform(0, 7 * 86400, m).round()
        t1 = t0 + rng.uniform(900, 7200, m).round()
        party = rng.integers(0, 3, m)
        for i in range(m):
            it = Intent(f"bulk-{done + i}", PARTIES[party[i]],
                        (Volume(Circle(float(lat[i]), float(lon[i]), float(r[i])),
                                float(z0[i]), float(z1[i]), float(t0[i]), float(t1[i])),),
                        "manned", 0, version=1)
            rp = float(r[i] * k[i])
            box = Box(float(x[i]) - rp, float(x[i]) + rp, float(y[i]) - rp,
                      float(y[i]) + rp, float(z0[i]), float(z1[i]), float(t0[i]),
                      float(t1[i]))
            pv = PlacedVolume(it.volumes[0], None, float(x[i]), float(y[i]), rp,
                              float(k[i]), box)
            yield (reg.encode(it, [pv]), [(box.xmin, box.xmax, box.ymin, box.ymax,
                                           box.zmin, box.zmax, box.tmin, box.tmax)],
                   reg.records(it, [pv]))
        done += m


def new_intent(reg: Registry, rng: random.Random, name: str, dense: bool) -> Intent:
    half = DENSE_M if dense else HALF_M
    lat, lon = reg.plane.inverse(np.array([rng.uniform(-half, half)]),
                                 np.array([rng.uniform(-half, half)]))
    z = round(rng.uniform(0, 36000), -2)
    t = T0 + round(rng.uniform(0, 7 * 86400))
    vol = Volume(Circle(float(lat[0]), float(lon[0]), rng.uniform(300, 3000)), z,
                 z + round(rng.uniform(1000, 4000), -2), t, t + round(rng.uniform(900, 7200)))
    return Intent(name, rng.choice(PARTIES), (vol,))


def timed_writes(reg: Registry, writes: int, dense: bool, seed: int
                 ) -> tuple[list[float], int, float]:
    """Latencies (s), accepted count and wall time of ``writes`` check-then-write
    submissions."""
    rng = random.Random(seed)
    intents = [new_intent(reg, rng, f"new-{seed}-{dense}-{i}", dense) for i in range(writes)]
    lat = []
    accepted = 0
    start = time.perf_counter()
    for it in intents:
        t = time.perf_counter()
        res = reg.submit(it, reg.check(it).key)
        lat.append(time.perf_counter() - t)
        accepted += res.accepted
    return lat, accepted, time.perf_counter() - start


def _summary(lat: Sequence[float], accepted: int, writes: int, wall: float
             ) -> dict[str, float]:
    ms = np.array(lat) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "writes_per_s": writes / wall, "accepted": accepted / writes}


def run_writes(reg: Registry, writes: int, dense: bool, seed: int) -> dict[str, float]:
    lat, accepted, wall = timed_writes(reg, writes, dense, seed)
    return _summary(lat, accepted, writes, wall)


def _writer(url: str, writes: int, dense: bool, seed: int, ready: Any, go: Any,
            out: Any) -> None:
    store = open_store(url)
    reg = Registry(store, default_accord(), centre=DEFAULT_CENTRE)
    ready.put(1)
    go.wait()
    out.put(timed_writes(reg, writes, dense, seed)[:2])
    store.close()


def run_writers(url: str, writers: int, writes: int, dense: bool, seed: int
                ) -> dict[str, float]:
    """``writers`` processes (each its own store handle and registry, so each starts
    with a cold record cache) submitting ``writes`` in all, at once."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    each = writes // writers
    procs = [ctx.Process(target=_writer, args=(url, each, dense, seed * 100 + k, ready,
                                                go, out)) for k in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    start = time.perf_counter()
    go.set()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - start
    for p in procs:
        p.join()
    lat = [x for r in results for x in r[0]]
    return _summary(lat, sum(r[1] for r in results), each * writers, wall)


def bench_backend(name: str, store: Store, url: str, n: int, writes: int, dense_passes: int = 2,
                  writers: int = 1) -> tuple[list[list[object]], float]:
    reg = Registry(store, default_accord(), centre=DEFAULT_CENTRE)
    t = time.perf_counter()
    loaded = store.bulk_load(theatre_rows(reg, n, seed=1))
    load_s = time.perf_counter() - t
    print(f"{name}: loaded {loaded} intents in {load_s:.1f} s", flush=True)
    rows: list[list[object]] = []
    # the first dense pass also fills the registry's record cache (a fresh process on a
    # freshly loaded store); later passes show a node that has been serving the area
    runs = [(False, 2, "theatre")] + [
        (True, 3 + k, "dense 20x20 km" + ("" if k == 0 else f" (pass {k + 1})"))
        for k in range(dense_passes)]
    for dense, seed, area in runs:
        if writers > 1:
            r = run_writers(url, writers, writes, dense, seed=seed)
            area += f", {writers} writers"
        else:
            r = run_writes(reg, writes, dense, seed=seed)
        rows.append([name, f"{n:,}", area,
                     r["p50_ms"], r["p99_ms"], r["writes_per_s"],
                     r["writes_per_s"] / 7.0, r["accepted"]])
        print(rows[-1], flush=True)
    return rows, load_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="active intents to load")
    ap.add_argument("--writes", type=int, default=2000, help="checked writes per run")
    ap.add_argument("--pg", default=os.environ.get("SKYACCORD_PG_URL"),
                    help="PostgreSQL URL (default: $SKYACCORD_PG_URL; none: SQLite only)")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--dense-passes", type=int, default=2,
                    help="runs of --writes in the dense area (each with new intents)")
    ap.add_argument("--writers", type=int, default=1,
                    help="writer processes submitting at once (each its own store handle)")
    args = ap.parse_args()
    rows: list[list[object]] = []
    loads: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        if not args.no_sqlite:
            path = str(Path(d) / "bench.db")
            s = open_store(path)
            r, loads["sqlite"] = bench_backend("sqlite", s, path, args.n, args.writes,
                                                    args.dense_passes, args.writers)
            rows += r
            s.close()
    if args.pg:
        schema = f"bench_{os.getpid()}"
        sep = "&" if "?" in args.pg else "?"
        url = f"{args.pg}{sep}skyaccord_schema={schema}"
        s = open_store(url)
        try:
            r, loads["postgres"] = bench_backend("postgres", s, url, args.n, args.writes,
                                                      args.dense_passes, args.writers)
            rows += r
        finally:
            s.drop()  # type: ignore[attr-defined]
            s.close()
    report("strategic", ["backend", "intents", "area", "p50_ms", "p99_ms", "writes_per_s",
                         "x_dss_7_per_s", "accepted"], rows,
           {"n": args.n, "writes": args.writes, "load_s": loads,
            "peak_rss_mib": peak_rss_mib(),
            "reference": "InterUSS DSS 6-8 writes/s in one dense cell (busy S2 cell "
                         "load test, github.com/interuss/dss/issues/1541)",
            "target": "p99 < 10 ms embedded, >= 1000 checked writes/s"})



if __name__ == "__main__":
    main()
