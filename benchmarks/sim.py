"""The theatre simulator: simulated seconds per wall second, and sweep runs per minute.

``python -m benchmarks.sim [--day] [--sweep-runs N] [--processes]`` measures, on the
shipped Syria 2015 theatre, side by side:

- the kinematics alone (the whole day's aircraft flown, no nodes): the compiled loop
  and the numpy step it is tested against;
- one sweep run (a one-hour run through three nodes, summarized) in this process, warm:
  what each of a sweep's tasks costs, wall and CPU;
- ``skyaccord sim run`` as a user runs it (a process: start-up, three parties' nodes,
  every step posted, ticked and delivered, the run directory written) over the busiest
  hours, and with ``--day`` over the whole day (target: 200× real time);
- ``skyaccord report`` on that run;
- a sweep of one-hour runs on a local Dask cluster of two workers (target: 10 runs/min;
  its start-up, each worker's imports and first run included);
- with ``--processes``: a 20-minute window run with the nodes in process and as node
  processes on loopback (``sim run --processes``).

The machine's load is printed beside the figures (the 2-core development machine is
shared): compare ratios within one run of this script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import report


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu_children() -> float:
    r = os.times()
    return r.children_user + r.children_system


def _command(args: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one ``skyaccord`` command in its own process."""
    cpu0 = _cpu_children()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "skyaccord", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, _cpu_children() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--day", action="store_true", help="also run the whole day")
    ap.add_argument("--sweep-runs", type=int, default=12,
                    help="one-hour runs in the sweep (0: no sweep)")
    ap.add_argument("--processes", action="store_true",
                    help="also a short window with the nodes as processes")
    args = ap.parse_args()
    from skyaccord.geo import LocalPlane
    from skyaccord.sim.kinematics import Fleet, plans
    from skyaccord.sim.scenario import load_scenario, scenario_path

    path = scenario_path("syria2015")
    s = load_scenario(path)
    rows: list[list[object]] = []
    loads = {"start": _load()}
    # the kernel: the whole day flown, the states taken at every step as the run does
    plane = LocalPlane(*s.centre)
    day = s.t_end - s.t_start
    for compiled in (True, False):
        fleet = Fleet(plans(s, plane, s.seed),
                      wind_from_deg=s.wind.from_deg if s.wind else 0,
                      wind_kt=s.wind.speed_kt if s.wind else 0)
        fleet.advance(s.t_start)
        fleet.advance(s.t_start + s.step_s, compiled=compiled)  # loads the compiled loop
        t0 = time.perf_counter()
        t = s.t_start + s.step_s
        while t < s.t_end:
            t += s.step_s
            fleet.advance(t, compiled=compiled)
            fleet.states()
        wall = time.perf_counter() - t0
        rows.append([f"kinematics only, whole day ({'compiled' if compiled else 'numpy'})",
                     day, round(wall, 3), round(wall, 3), round(day / wall), "-"])
    # one sweep task in this process, after one to warm it (imports, compiled kernels)
    from skyaccord.sim.sweep import one_run

    one_run(str(path), {"separation_nm": 5.0}, s.seed, 0.1)
    w0, c0 = time.perf_counter(), time.process_time()
    one_run(str(path), {"separation_nm": 5.0}, s.seed + 1, 1.0)
    w, cpu = time.perf_counter() - w0, time.process_time() - c0
    rows.append(["one sweep run (1 h, 3 nodes), in process, warm", 3600, round(w, 2),
                 round(cpu, 2), round(3600 / w),
                 f"2 workers at this CPU: {2 * 60 / cpu:.1f} runs/min"])
    loads["one run"] = _load()
    assert s.busiest is not None
    windows = [("sim run, busiest hours, 3 nodes", s.busiest[0], s.busiest[1], 60.0)]
    if args.day:
        windows.append(("sim run, whole day, 3 nodes", s.start, s.end, day / 200))
    with tempfile.TemporaryDirectory() as tmp:
        busiest_run = Path(tmp) / "run0"
        for k, (name, a, b, target) in enumerate(windows):
            out = Path(tmp) / f"run{k}"
            w, cpu = _command(["sim", "run", str(path), "--out", str(out), "--start", a,
                               "--end", b])
            sim_s = s.time(b) - s.time(a)
            rows.append([name, sim_s, round(w, 1), round(cpu, 1), round(sim_s / w),
                         f"wall <= {target:.0f} s"])
            loads[name] = _load()
        w, cpu = _command(["report", str(busiest_run), "--out", str(Path(tmp) / "rep")])
        rows.append(["report of the busiest hours", "-", round(w, 1), round(cpu, 1), "-",
                     "-"])
        extra: dict[str, object] = {}
        if args.sweep_runs > 0:
            from skyaccord.sim.sweep import run_sweep

            t0 = time.perf_counter()
            res = run_sweep(path, {"separation_nm": [5.0]}, runs=args.sweep_runs,
                            hours=1.0, workers=2)
            w = time.perf_counter() - t0
            rows.append([f"sweep, {args.sweep_runs} one-hour runs, 2 workers",
                         3600 * args.sweep_runs, round(w, 1), "-",
                         round(3600 * args.sweep_runs / w),
                         f"{res.runs_per_min:.2f} runs/min (target 10)"])
            extra["runs_per_min"] = res.runs_per_min
            loads["sweep"] = _load()
        if args.processes:
            a = s.busiest[0]
            b = time.strftime("%H:%M", time.gmtime(s.time(a) + 1200))
            for flag in ([], ["--processes"]):
                out = Path(tmp) / f"window{len(flag)}"
                w, cpu = _command(["sim", "run", str(path), "--out", str(out), "--start", a,
                                   "--end", b, *flag])
                rows.append([f"sim run, 20 min, nodes {'as processes' if flag else 'in process'}",
                             1200, round(w, 1), round(cpu, 1), round(1200 / w), "-"])
            loads["processes"] = _load()
    print(f"load average (1, 5, 15 min): {loads}")
    report("sim", ["what", "simulated s", "wall s", "CPU s", "sim s / wall s", "note"],
           rows, {"load": loads, **extra})


if __name__ == "__main__":
    main()
