"""Tactical detection benchmark, side by side with BlueSky's conflict detection.

Traffic (the issue's definition): a 500 x 500 km box over the Levant, headings uniform,
ground speed 100–250 m/s, FL100–FL400; "level" (vs = 0) and "mixed" (a third climbing or
descending at 500–2,500 fpm); 5 NM / 1,000 ft, 300 s look-ahead; N = 1k, 10k, 100k.

For each case a fresh child process generates the traffic, runs ``skyaccord.tactical
.detect`` (best of three below 100k), then, in the same process and on the identical
traffic, BlueSky's compiled ``cstatebased.detect`` and its numpy ``StateBased.detect``
where they fit (the numpy one holds some twenty N x N float64 matrices: about 16 GB at
N = 10k, so it runs at 1k only; the compiled one is O(N^2) time and runs up to 10k).
Reported: seconds per call, pairs found, peak resident memory of the child, the speed
ratio BlueSky / skyaccord, and whether the conflict sets agree outside boundary pairs.

A disagreeing pair is a *boundary pair* when our own exact test flips for minima 0.5 %
wider or narrower (BlueSky measures on a 6,371 km sphere, we on WGS84 at the pair's
latitude: about 0.3 % apart here) or a look-ahead 1 s longer or shorter (BlueSky counts
t_in = T as a conflict, we do not).

The whole command (``--command``, the default part of a run): what a user runs, ``skyaccord
detect TRACKS.csv --out FILE`` (CSV, then Parquet), each a fresh process timed from
outside (wall time, peak RSS from ``os.wait4``), alternated in the same run with
skyaccord's own ``detect`` call alone (the kernel: its own process, kernels loaded and
warmed first, only the call timed; ``whole_over_kernel`` is the command's wall over it,
a ratio that a loaded machine shifts less than either time) and with BlueSky's compiled
``cstatebased.detect`` called alone on the same traffic (read from the same file, in
its own process; only the call is timed). ``skyaccord --help`` is timed the same way.
``--profile`` adds where the command's time goes: the command's own steps run in one
child with a timer (wall and CPU) around each, and cProfile's top functions.

Run ``python -m benchmarks.tactical [--quick] [--kernel] [--command] [--profile]``;
BlueSky comes with ``pip install -e '.[bench]'`` and is skipped (and said so) when absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import best_of, peak_rss_mib, report

CENTRE = (35.5, 37.5)
BOX_M = 500_000.0
LOOKAHEAD_S = 300.0
R_M = 5 * 1852.0
H_M = 1000 * 0.3048


def traffic(n: int, mixed: bool, seed: int = 42) -> dict[str, np.ndarray]:
    """Random traffic in SI units (BlueSky's) with lat/lon in degrees."""
    from skyaccord.geo import LocalPlane

    rng = np.random.default_rng(seed)
    plane = LocalPlane(*CENTRE)
    lat, lon = plane.inverse(rng.uniform(-BOX_M / 2, BOX_M / 2, n),
                             rng.uniform(-BOX_M / 2, BOX_M / 2, n))
    vs = np.zeros(n)
    if mixed:
        moving = rng.random(n) < 1 / 3
        vs[moving] = (rng.uniform(500, 2500, moving.sum()) * rng.choice([-1, 1], moving.sum())
                      * 0.3048 / 60)
    return {"lat": lat, "lon": lon, "trk": rng.uniform(0, 360, n),
            "gs": rng.uniform(100, 250, n), "alt": rng.uniform(10_000, 40_000, n) * 0.3048,
            "vs": vs}


def as_tracks(t: dict[str, np.ndarray]) -> Any:
    from skyaccord.tracks import Tracks

    n = len(t["lat"])
    return Tracks(np.array([f"AC{i}" for i in range(n)]), np.full(n, "us"),
                  np.full(n, "manned"), t["lat"], t["lon"], t["alt"] / 0.3048,
                  t["gs"] / (1852 / 3600), t["trk"], t["vs"] / (0.3048 / 60))


class _State:
    """The attributes BlueSky's detectors read from its traffic object."""

    def __init__(self, t: dict[str, np.ndarray]) -> None:
        self.ntraf = len(t["lat"])
        self.id = [f"AC{i}" for i in range(self.ntraf)]
        for key in ("lat", "lon", "trk", "gs", "alt", "vs"):
            setattr(self, key, np.ascontiguousarray(t[key], dtype=np.float64))


def _bluesky_pairs(confpairs: list[tuple[str, str]]) -> set[tuple[int, int]]:
    out = set()
    for a, b in confpairs:
        i, j = int(a[2:]), int(b[2:])
        out.add((min(i, j), max(i, j)))
    return out


def _boundary(tracks: Any, pairs: set[tuple[int, int]]) -> int:
    """How many of ``pairs`` flip under our test with minima +-0.5 % or T +-1 s."""
    if not pairs:
        return 0
    from skyaccord.protocol import default_accord
    from skyaccord.tactical.kinematics import interval_for_minima, pair_geometry, plane_state

    accord = default_accord()
    state = plane_state(tracks, accord)
    idx = np.array(sorted(pairs))
    radius, half = accord.minima_table_m()
    g = pair_geometry(state, idx[:, 0], idx[:, 1], radius, half)
    verdicts = []
    for r_factor in (0.995, 1.0, 1.005):
        iv = interval_for_minima(g, g.radius_m * r_factor, g.half_height_m)
        for t in (LOOKAHEAD_S - 1.0, LOOKAHEAD_S + 1.0):
            verdicts.append((iv.t_in < t) & (iv.t_out > 0))
    v = np.array(verdicts)
    return int((v.any(axis=0) & ~v.all(axis=0)).sum())


def geodesic_truth(t: dict[str, np.ndarray], pairs: set[tuple[int, int]],
                   step_s: float = 0.25) -> dict[str, int]:
    """Classify disagreeing pairs against a third, independent model: each aircraft flies
    its geodesic on WGS84 (pyproj.Geod) at constant speed, sampled every ``step_s``.

    A pair is *boundary* when its normalised margin ``min_t max(d/R, |dz|/H) - 1`` is
    within 0.5 %, or when the verdict changes with a look-ahead 1 s shorter or longer.
    """
    import pyproj

    counts = {"truth_boundary": 0, "skyaccord_right": 0, "bluesky_right": 0}
    if not pairs:
        return counts
    geod = pyproj.Geod(ellps="WGS84")
    idx = np.array(sorted(pairs))
    times = np.arange(0.0, LOOKAHEAD_S + 1.0 + step_s / 2, step_s)
    margins = np.empty((len(idx), len(times)))
    for k, (i, j) in enumerate(idx):
        lon_i, lat_i, _ = geod.fwd(np.full(times.shape, t["lon"][i]),
                                   np.full(times.shape, t["lat"][i]),
                                   np.full(times.shape, t["trk"][i]), t["gs"][i] * times)
        lon_j, lat_j, _ = geod.fwd(np.full(times.shape, t["lon"][j]),
                                   np.full(times.shape, t["lat"][j]),
                                   np.full(times.shape, t["trk"][j]), t["gs"][j] * times)
        _, _, d = geod.inv(lon_i, lat_i, lon_j, lat_j)
        dz = np.abs(t["alt"][j] - t["alt"][i] + (t["vs"][j] - t["vs"][i]) * times)
        margins[k] = np.maximum(np.asarray(d) / R_M, dz / H_M) - 1.0
    within = [margins[:, times <= limit].min(axis=1)
              for limit in (LOOKAHEAD_S - 1.0, LOOKAHEAD_S, LOOKAHEAD_S + 1.0)]
    truth = within[1] < 0
    boundary = (np.abs(within[1]) < 0.005) | ((within[0] < 0) != (within[2] < 0))
    counts["truth_boundary"] = int(boundary.sum())
    counts["truth_conflicts"] = int(truth.sum())
    counts["_truth"] = {(int(a), int(b)): (bool(c), bool(e))  # type: ignore[assignment,dict-item,unused-ignore]
                        for (a, b), c, e in zip(idx, truth, boundary, strict=True)}
    return counts


def run_case(n: int, mixed: bool, with_peer: bool, queue: Any) -> None:
    from skyaccord.protocol import default_accord
    from skyaccord.tactical import detect

    accord = default_accord()
    # Warm up: load the compiled kernel (numba's on-disk cache) outside the timing.
    # (the compiled grid at every size: the kernel beside BlueSky's; the command picks
    # the numpy cell engine below 30k tracks, where loading numba would cost more)
    detect(as_tracks(traffic(500, mixed, seed=1)), accord, engine="grid")
    t = traffic(n, mixed)
    tracks = as_tracks(t)
    rss_before = peak_rss_mib()
    repeat = 1 if n >= 100_000 else 3
    seconds, conflicts = best_of(lambda: detect(tracks, accord, engine="grid"), repeat)
    ours = {(int(a), int(b)) for a, b in conflicts.pairs.T}
    row: dict[str, Any] = {
        "n": n, "traffic": "mixed" if mixed else "level", "skyaccord_s": seconds,
        "pairs": len(ours), "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
    }
    if with_peer and n <= 10_000:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            from bluesky.traffic.asas import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                cstatebased,
            )
            from bluesky.traffic.asas.statebased import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                StateBased,
            )
        state = _State(t)
        rpz = np.full(n, R_M)
        hpz = np.full(n, H_M)
        tla = np.full(n, LOOKAHEAD_S)
        t0 = time.perf_counter()
        result = cstatebased.detect(state, state, rpz, hpz, tla)
        row["bluesky_c_s"] = time.perf_counter() - t0
        theirs = _bluesky_pairs(result[0])
        row["bluesky_pairs"] = len(theirs)
        row["ratio_c"] = row["bluesky_c_s"] / seconds
        diff = ours ^ theirs
        row["disagree"] = len(diff)
        row["disagree_not_boundary"] = len(diff) - _boundary(tracks, diff)
        # Who is right, by a third model (geodesic flight on WGS84)?
        truth = geodesic_truth(t, diff)
        verdicts: Any = truth.pop("_truth", {})
        assert isinstance(verdicts, dict)
        row["geodesic_boundary"] = truth["truth_boundary"]
        row["skyaccord_right"] = sum(1 for p, (c, _) in verdicts.items() if (p in ours) == c)
        row["bluesky_right"] = sum(1 for p, (c, _) in verdicts.items() if (p in theirs) == c)
        row["skyaccord_wrong_not_boundary"] = sum(
            1 for p, (c, b) in verdicts.items() if (p in ours) != c and not b)
        row["bluesky_wrong_not_boundary"] = sum(
            1 for p, (c, b) in verdicts.items() if (p in theirs) != c and not b)
        if n <= 2_000:
            t0 = time.perf_counter()
            result = StateBased.detect(None, state, state, rpz, hpz, tla)  # type: ignore[arg-type,unused-ignore]
            row["bluesky_numpy_s"] = time.perf_counter() - t0
            row["ratio_numpy"] = row["bluesky_numpy_s"] / seconds
            row["numpy_agrees_with_c"] = _bluesky_pairs(result[0]) == theirs
    queue.put(row)


# BlueSky's compiled detect call alone, on the traffic of a tracks CSV (SI units as it
# takes them); prints the call's seconds and pair count as JSON.
_PEER = """
import contextlib, io, json, sys, time
import numpy as np
cols = np.genfromtxt(sys.argv[1], delimiter=",", names=True, dtype=None, encoding="utf-8")
with contextlib.redirect_stdout(io.StringIO()):
    from bluesky.traffic.asas import cstatebased
class S:
    pass
s = S()
s.ntraf = len(cols)
s.id = [str(i) for i in cols["id"]]
s.lat, s.lon, s.trk = (np.ascontiguousarray(cols[k], dtype=float)
                       for k in ("lat", "lon", "trk_deg"))
s.gs = np.ascontiguousarray(cols["gs_kt"] * 1852 / 3600)
s.alt = np.ascontiguousarray(cols["alt_ft"] * 0.3048)
s.vs = np.ascontiguousarray(cols["vs_fpm"] * 0.3048 / 60)
n = s.ntraf
t0 = time.perf_counter()
result = cstatebased.detect(s, s, np.full(n, R_M), np.full(n, H_M), np.full(n, LOOKAHEAD_S))
print(json.dumps({"call_s": time.perf_counter() - t0, "pairs": len(result[0]) // 2}))
""".replace("R_M", repr(R_M)).replace("H_M", repr(H_M)).replace("LOOKAHEAD_S", repr(LOOKAHEAD_S))


# skyaccord's detect call alone on the same file's picture (kernels loaded and warmed
# first, outside the timing): the kernel beside the whole command.
_KERNEL = """
import json, sys, time
from skyaccord.protocol import default_accord
from skyaccord.tracks import read_tracks_csv
from skyaccord.tactical.detect import COMPILED_FROM, detect
accord = default_accord()
tracks = read_tracks_csv(sys.argv[1], classes=accord.classes).tracks
if len(tracks) >= COMPILED_FROM:
    from skyaccord.tactical._warm import warm_kernels
    warm_kernels()
detect(tracks.take(list(range(min(len(tracks), 500)))), accord)
t0 = time.perf_counter()
found = detect(tracks, accord)
print(json.dumps({"call_s": time.perf_counter() - t0, "pairs": len(found)}))
"""


def run_process(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` to the end: wall seconds, peak RSS (MiB, this child alone: wait4),
    CPU seconds, exit code and stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # reaps it: subprocess never waits
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        return {"wall_s": wall, "rss_mib": usage.ru_maxrss / 1024.0,
                "cpu_s": usage.ru_utime + usage.ru_stime, "stdout": out.read().decode()}


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def command_rows(sizes: list[int], with_peer: bool, repeat: int) -> list[dict[str, Any]]:
    """The whole ``skyaccord detect`` command beside BlueSky's call, alternated."""
    from skyaccord.tracks import write_tracks_csv

    exe = [sys.executable, "-m", "skyaccord"]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        help_runs = [run_process([*exe, "--help"])["wall_s"] for _ in range(5)]
        rows.append({"case": "skyaccord --help", "n": "", "wall_s": min(help_runs),
                     "median_s": sorted(help_runs)[2], "load": load()})
        for n in sizes:
            src = Path(tmp) / f"tracks_{n}.csv"
            with src.open("w") as fh:
                write_tracks_csv(as_tracks(traffic(n, True)), fh)
            # One untimed run: the kernels' on-disk cache is filled (as after install).
            run_process([*exe, "detect", str(src), "--out", str(Path(tmp) / "warm.csv")])
            runs: dict[str, list[dict[str, Any]]] = {"csv": [], "parquet": [], "peer": [],
                                                     "kernel": []}
            for _ in range(repeat):
                for kind in ("csv", "parquet", "kernel", "peer"):
                    if kind == "kernel":
                        r = run_process([sys.executable, "-c", _KERNEL, str(src)])
                        r.update(json.loads(r["stdout"]))
                    elif kind == "peer":
                        if not with_peer or n > 10_000:
                            continue
                        r = run_process([sys.executable, "-c", _PEER, str(src)])
                        r.update(json.loads(r["stdout"]))
                    else:
                        out = Path(tmp) / f"out.{kind}"
                        r = run_process([*exe, "detect", str(src), "--out", str(out)])
                        if kind == "csv":
                            r["pairs"] = sum(1 for _ in out.open()) - 1
                    r["load"] = load()
                    runs[kind].append(r)
            peer = min((r["call_s"] for r in runs["peer"]), default=None)
            kernel = min(r["call_s"] for r in runs["kernel"])
            for kind in ("csv", "parquet"):
                best = min(runs[kind], key=lambda r: r["wall_s"])
                row = {"case": f"skyaccord detect --out .{kind}", "n": n,
                       "wall_s": best["wall_s"],
                       "median_s": sorted(r["wall_s"] for r in runs[kind])[len(runs[kind]) // 2],
                       "cpu_s": best["cpu_s"], "rss_mib": max(r["rss_mib"] for r in runs[kind]),
                       "pairs": best.get("pairs", ""), "load": best["load"],
                       "kernel_s": kernel, "whole_over_kernel": best["wall_s"] / kernel}
                if peer is not None:
                    row["bluesky_call_s"] = peer
                    row["ratio_of_bluesky"] = best["wall_s"] / peer
                rows.append(row)
            if runs["peer"]:
                best = min(runs["peer"], key=lambda r: r["call_s"])
                rows.append({"case": "BlueSky cstatebased.detect (call alone)", "n": n,
                             "wall_s": best["call_s"], "rss_mib": best["rss_mib"],
                             "pairs": best["pairs"], "load": best["load"],
                             "process_wall_s": best["wall_s"]})
            print(rows[-3:], file=sys.stderr)
    return rows


# The command's own steps, each timed (wall, CPU), in one child: where the time goes.
# As the command does it: numba and the cached kernels load on a thread while the
# tracks are read (the "wait for" step is what is left of that load after reading).
_STAGES = """
import sys, time, json
marks = []
t = [time.perf_counter(), time.process_time()]
def mark(name):
    w, c = time.perf_counter(), time.process_time()
    marks.append((name, w - t[0], c - t[1])); t[0], t[1] = w, c
import typer, skyaccord.cli_options; mark("import typer, rich (cli)")
import numpy; mark("import numpy")
from pathlib import Path
from skyaccord.protocol import default_accord
from skyaccord.tracks import read_tracks_csv
from skyaccord.tactical.detect import conflict_table, detect, write_conflicts_csv
from skyaccord.tactical.cli import _warm_while_reading
mark("import skyaccord (protocol, tracks, detect)")
accord = default_accord()
warming = _warm_while_reading(Path(sys.argv[1]))
tracks = read_tracks_csv(sys.argv[1], classes=accord.classes).tracks
mark("read tracks CSV (numba loading beside it)" if warming else "read tracks CSV")
if warming:
    warming.join(); mark("wait for numba and the cached kernels")
conflicts = detect(tracks, accord); mark("detect")
table = conflict_table(tracks, conflicts, accord); mark("conflict table (sort, units)")
with open(sys.argv[2], "wb") as fh:
    write_conflicts_csv(table, fh)
mark("write CSV")
print(json.dumps(marks))
"""


def profile_rows(sizes: list[int]) -> list[dict[str, Any]]:
    from skyaccord.tracks import write_tracks_csv

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            src = Path(tmp) / f"tracks_{n}.csv"
            with src.open("w") as fh:
                write_tracks_csv(as_tracks(traffic(n, True)), fh)
            r = run_process([sys.executable, "-c", _STAGES, str(src), str(Path(tmp) / "o.csv")])
            for name, wall, cpu in json.loads(r["stdout"].strip().splitlines()[-1]):
                rows.append({"n": n, "step": name, "wall_s": wall, "cpu_s": cpu})
            rows.append({"n": n, "step": "(whole child process)", "wall_s": r["wall_s"],
                         "cpu_s": r["cpu_s"], "load": load()})
            prof = Path(tmp) / "p.prof"
            run_process([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "skyaccord",
                         "detect", str(src), "--out", str(Path(tmp) / "o.csv")])
            import pstats
            stats = pstats.Stats(str(prof))
            top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]  # type: ignore[attr-defined]
            for (file, line, func), (_, _, tottime, cumtime, _) in top:
                rows.append({"n": n, "step": f"cProfile: {Path(file).name}:{line} {func}",
                             "self_s": tottime, "cumulative_s": cumtime})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1k and 10k only")
    parser.add_argument("--sizes", type=int, nargs="*", help="override the sizes")
    parser.add_argument("--kernel", action="store_true",
                        help="the in-process kernel comparison (the table of calls)")
    parser.add_argument("--command", action="store_true",
                        help="the whole command as a subprocess beside BlueSky's call")
    parser.add_argument("--profile", action="store_true", help="where the command's time goes")
    parser.add_argument("--repeat", type=int, default=3, help="command runs per case")
    args = parser.parse_args(argv)
    if not (args.kernel or args.command or args.profile):
        args.kernel = args.command = True
    with_peer = importlib.util.find_spec("bluesky") is not None
    if not with_peer:
        print("BlueSky not installed (pip install -e '.[bench]'): peer columns left empty")
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    extra: dict[str, Any] = {"load_at_start": load()}
    if args.command:
        command_sizes = [n for n in sizes if n >= 10_000] or sizes
        rows = command_rows(command_sizes, with_peer, args.repeat)
        columns = ["case", "n", "wall_s", "median_s", "cpu_s", "rss_mib", "pairs",
                   "kernel_s", "whole_over_kernel", "bluesky_call_s", "ratio_of_bluesky",
                   "load"]
        report("tactical_command", columns, [[r.get(c, "") for c in columns] for r in rows],
               extra={"targets": {"10k_mixed_wall_over_bluesky_call": "<= 1/3",
                                  "100k_mixed_csv_wall_s": "<= 5",
                                  "100k_mixed_peak_rss_mib": "< 2048",
                                  "help_s": "< 0.3"}, "raw": rows, **extra})
    if args.profile:
        rows = profile_rows([n for n in sizes if n >= 10_000] or sizes)
        columns = ["n", "step", "wall_s", "cpu_s", "self_s", "cumulative_s", "load"]
        report("tactical_profile", columns, [[r.get(c, "") for c in columns] for r in rows],
               extra=extra)
    if not args.kernel:
        return 0
    ctx = mp.get_context("spawn")  # a fresh process per case: clean peak memory
    rows = []
    for n in sizes:
        for mixed in (False, True):
            queue = ctx.Queue()
            proc = ctx.Process(target=run_case, args=(n, mixed, with_peer, queue))
            proc.start()
            row = queue.get()
            proc.join()
            rows.append(row)
            print(row, file=sys.stderr)
    columns = ["n", "traffic", "skyaccord_s", "pairs", "peak_rss_mib", "bluesky_c_s",
               "ratio_c", "bluesky_numpy_s", "ratio_numpy", "bluesky_pairs", "disagree",
               "skyaccord_wrong_not_boundary", "bluesky_wrong_not_boundary"]
    table = [[row.get(c, "") for c in columns] for row in rows]
    report("tactical", columns, table, extra={
        "targets": {"10k_vs_bluesky_c_ratio": ">= 3", "100k_mixed_s": "< 10",
                    "100k_mixed_peak_rss_mib": "< 4096"},
        "raw": rows, **extra,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
