"""Ingest throughput: ``skyaccord decode`` as a user runs it, beside its kernel and rs1090.

Two recordings of real frames, written as JSON lines of raw frames (what rs1090/jet1090
write):

* ``busy``: tests/data's take-off and landing of one flight (393322, 4,500 frames) and
  the Atlanta sample (7 aircraft, 335 frames), each re-timed to start together, repeated
  ``--copies`` times one after the other in time (580,200 frames by default): one busy
  aircraft with others, as issue 17 describes;
* ``many``: the Atlanta sample re-addressed and moved to ``--many`` places (7 aircraft
  each, CRC recomputed), merged in time: thousands of aircraft at once.

For each, alternated ``--repeat`` times in one run (so all see the same load):

* ``skyaccord decode FILE --out CSV`` as a subprocess: wall time, CPU time and peak RSS
  of the whole process (start-up, imports, reading, decoding, CSV writing);
* the kernel call in this process: ``ModeSDecoder.decode_columns`` on the frames already
  in memory (screening, numpy fields, rs1090 for the rare frames, CPR);
* the peer: ``rs1090.decode(frames, batch=4096)``, rs1090's own batch decode call.

Once per recording, ``--workers 2`` (its CSV asserted identical to the default's), the
evidence for the default worker count. ``--profile`` adds where the command's time goes
(CPU seconds by stage of the same work in this process, and the start-up).

Run: ``python -m benchmarks.ingest [--copies 120] [--many 600] [--repeat 3] [--profile]``.
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import report
from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.modes import RawFrame, cpr_nl, crc24
from skyaccord.ingest.parallel import frame_addresses

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SAMPLE = DATA / "short_flights.csv"
TARGET = 200_000.0  # frames/s end to end (issue 17)
PEER_RATIO = 3.0  # times rs1090's batch decode call (issue 17)

_M17 = (1 << 17) - 1


def _frames(name: str) -> list[tuple[float, str]]:
    path = DATA / name
    if name.endswith(".csv"):
        return [(float(t), f) for t, f in (ln.split(",") for ln in
                                            path.read_text(encoding="utf-8").splitlines())]
    out = []
    for line in gzip.decompress(path.read_bytes()).splitlines():
        rec = json.loads(line)
        out.append((float(rec["timestamp"]), str(rec["frame"])))
    return out


def build_busy(copies: int) -> list[tuple[float, str]]:
    """The take-off, the landing (after it) and the Atlanta sample (beside the take-off),
    re-timed from 0 and repeated ``copies`` times in time."""
    def rel(x: list[tuple[float, str]], start: float) -> list[tuple[float, str]]:
        return [(t - x[0][0] + start, f) for t, f in x]

    take = rel(_frames("full_flight_takeoff.jsonl.gz"), 0.0)
    land = rel(_frames("full_flight_landing.jsonl.gz"), take[-1][0] + 1.0)
    one = sorted(take + land + rel(_frames("short_flights.csv"), 0.0), key=lambda p: p[0])
    span = one[-1][0] + 1.0
    t0 = 1720248993.0
    return [(round(t0 + t + k * span, 6), f) for k in range(copies) for t, f in one]


def _cpr_encode(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """Airborne CPR words of a position (ICAO Doc 9871, C.2.6.7)."""
    i = 1 if odd else 0
    dlat = 360.0 / (60 - i)
    yz = math.floor(2**17 * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / 2**17 + math.floor(lat / dlat))
    dlon = 360.0 / max(cpr_nl(rlat) - i, 1)
    xz = math.floor(2**17 * (lon % dlon) / dlon + 0.5)
    return yz & _M17, xz & _M17


def _rewrite(frame: str, icao: int, fix: tuple[float, float] | None) -> str:
    """``frame`` re-addressed to ``icao``, its position moved to ``fix`` (CPR words of a
    DF17 airborne position re-encoded), CRC-24 parity recomputed."""
    v = int(frame, 16) >> 24
    v = (v & ~(0xFFFFFF << 56)) | (icao << 56)
    if fix is not None:
        odd = bool((v >> 34) & 1)  # the F bit: frame bit 53
        yz, xz = _cpr_encode(fix[0], fix[1], odd)
        v = (v & ~((_M17 << 17) | _M17)) | (yz << 17) | xz
    body = v.to_bytes(11, "big")
    return (body + crc24(body).to_bytes(3, "big")).hex()


def build_feed(copies: int, seed: int = 3) -> list[tuple[float, str]]:
    """``copies`` copies of the Atlanta sample, each re-addressed, shifted in time by up
    to 30 s and moved on a 1-degree grid (20 columns) around the sample's receiver (7
    aircraft per copy, copies ~100 km apart)."""
    base = _frames("short_flights.csv")
    t0 = base[0][0]
    fixes = {(u.t, u.icao24): (u.lat, u.lon) for u in
             ModeSDecoder(reference=(33.64, -84.43)).decode(
                 [RawFrame(t, f) for t, f in base])
             if u.kind == "position" and u.lat is not None and u.lon is not None}
    addresses = sorted({f[2:8].lower() for _, f in base})
    rng = random.Random(seed)
    out: list[tuple[float, str]] = []
    for k in range(copies):
        shift = rng.uniform(0.0, 30.0)
        dlat, dlon = (k // 20) * 1.0 - 8.0, (k % 20) * 1.2 - 12.0
        new = {a: 0x100000 + (k * len(addresses) + i) % 0xEFFFFF
               for i, a in enumerate(addresses)}
        for t, f in base:
            icao = f[2:8].lower()
            fix = fixes.get((t, icao))
            moved = None if fix is None else (fix[0] + dlat, fix[1] + dlon)
            out.append((t - t0 + 1753827785.0 + shift, _rewrite(f, new[icao], moved)))
    out.sort(key=lambda x: x[0])
    return out


def write_jsonl(feed: list[tuple[float, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(f'{{"timestamp": {t!r}, "frame": "{f}"}}\n' for t, f in feed)


def run_command(args: list[str]) -> tuple[float, float, float]:
    """Wall s, CPU s (user + system) and peak RSS (MiB) of one ``skyaccord`` process, as
    GNU time reports them (the RSS of the process from its start, not of the fork of
    this one it began as)."""
    w0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", sys.executable, "-m",
                           "skyaccord", *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - w0
    err = proc.stderr.decode()
    if proc.returncode:
        raise SystemExit(f"skyaccord {' '.join(args)} failed:\n{err}")
    user, system, rss_kib = err.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), float(rss_kib) / 1024.0


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def profile_stages(path: Path, out: Path) -> dict[str, float]:
    """CPU seconds (process clock: other jobs on the machine do not count) by stage of
    the command's work, run here as the command runs it; each stage's functions
    wrapped in a timer for the run (no profiler's per-call cost), start-up measured as
    ``skyaccord decode --help`` in a process of its own."""
    from skyaccord.ingest import decoder as dec
    from skyaccord.ingest import feed, kernel
    from skyaccord.ingest import modes as mod
    from skyaccord.ingest.columns import StatesCsvWriter

    spent: dict[str, float] = {}
    undo: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        orig = getattr(owner, name)
        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        spent[label] = 0.0

        def timed_call(*a: Any, **k: Any) -> Any:
            c0 = time.process_time()
            try:
                return orig(*a, **k)
            finally:
                spent[label] += time.process_time() - c0

        undo.append((owner, name, inspect.getattr_static(owner, name)))
        setattr(owner, name, staticmethod(timed_call) if static else timed_call)

    wrap(mod, "_json_lines", "read: JSON lines to bytes and times (numpy)")
    wrap(kernel, "decode_fields", "numpy field kernel")
    wrap(dec.ModeSDecoder, "_rs1090", "rs1090 for the rare frames")
    wrap(dec.ModeSDecoder, "_positions", "CPR state machine (Python loop)")
    wrap(dec.ModeSDecoder, "_apply", "per-aircraft state and checks (with CPR)")
    wrap(dec.ModeSDecoder, "_decode", "all decoding")
    wrap(dec.Decoded, "columns", "to columns")
    wrap(StatesCsvWriter, "write", "CSV formatting and writing (numpy)")
    try:
        c0 = time.process_time()
        with out.open("wb") as fh:
            w = StatesCsvWriter(fh)
            for c in feed.open_columns(path):
                w.write(c)
        total = time.process_time() - c0
    finally:
        for owner, name, orig in reversed(undo):
            setattr(owner, name, orig)
    spent["per-aircraft state and checks (with CPR)"] -= spent[
        "CPR state machine (Python loop)"]
    spent["read: rest of the block reader, file I/O"] = total - spent["all decoding"] - \
        spent["to columns"] - spent["CSV formatting and writing (numpy)"] - \
        spent["read: JSON lines to bytes and times (numpy)"]
    spent["total in process (after start-up)"] = total
    spent["start-up (skyaccord decode --help, own process)"] = run_command(
        ["decode", "--help"])[1]
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--copies", type=int, default=120, help="repeats of the busy flight")
    ap.add_argument("--many", type=int, default=600, help="places of the Atlanta sample")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    import rs1090

    rows: list[tuple[Any, ...]] = []
    extra: dict[str, Any] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        recordings = {"busy": build_busy(args.copies), "many": build_feed(args.many)}
        for name, feed in recordings.items():
            path = Path(tmp) / f"{name}.jsonl"
            write_jsonl(feed, path)
            n = len(feed)
            hexes = [f for _, f in feed]
            t = np.array([x for x, _ in feed])
            out = Path(tmp) / f"{name}.csv"
            runs: dict[str, list[tuple[float, float, float]]] = {
                "command": [], "kernel": [], "peer": []}
            for k in range(args.repeat):
                # alternate the order, so that no side always runs first
                order = ("command", "kernel", "peer") if k % 2 == 0 else \
                    ("peer", "kernel", "command")
                for what in order:
                    if what == "command":
                        runs[what].append(run_command(["decode", str(path), "--out",
                                                       str(out)]))
                    elif what == "kernel":
                        w, c, _ = timed(partial(ModeSDecoder().decode_columns, t, hexes,
                                                str))
                        runs[what].append((w, c, math.nan))
                    else:
                        w, c, _ = timed(partial(rs1090.decode, hexes, batch=4096))
                        runs[what].append((w, c, math.nan))
            serial_csv = out.read_bytes()
            w2 = run_command(["decode", str(path), "--out", str(out), "--workers", "2"])
            assert out.read_bytes() == serial_csv, "--workers 2 differs from the default"
            peer_best = min(r[0] for r in runs["peer"])
            label = {"command": "skyaccord decode FILE --out CSV (whole process)",
                     "kernel": "ModeSDecoder.decode_columns (in memory)",
                     "peer": "rs1090.decode(frames, batch=4096) (peer)"}
            for what, rs in runs.items():
                wall = sorted(r[0] for r in rs)
                cpu = min(r[1] for r in rs)
                rss = max(r[2] for r in rs)
                rows.append((name, label[what], n, wall[0], wall[-1], n / wall[0],
                             n / cpu, rss, peer_best / wall[0]))
            rows.append((name, "skyaccord decode --workers 2 (whole process)", n, w2[0],
                         w2[0], n / w2[0], n / w2[1], w2[2], peer_best / w2[0]))
            cmd_best = min(r[0] for r in runs["command"])
            extra[name] = {
                "frames": n, "aircraft": len(np.unique(frame_addresses(hexes))),
                "command_frames_per_s": round(n / cmd_best),
                "command_vs_rs1090_call": round(peer_best / cmd_best, 2),
                "target_frames_per_s": TARGET, "target_ratio": PEER_RATIO,
                "default_vs_2_workers_wall": round(w2[0] / cmd_best, 2),
            }
            if args.profile:
                extra[name]["profile_s"] = {k: round(v, 3) for k, v in
                                            profile_stages(path, out).items()}
    extra["load_after"] = os.getloadavg()
    report("ingest", ["recording", "what", "frames", "best wall s", "worst wall s",
                      "frames/s (best wall)", "frames per CPU-s", "peak RSS MiB",
                      "x rs1090 call"], rows, extra)
    if args.profile:
        for name in recordings:
            print(f"{name}: where the command's CPU time goes (s):")
            for k, v in extra[name]["profile_s"].items():
                print(f"  {k:50s} {v:8.3f}")


if __name__ == "__main__":
    main()
