"""Sweeps: one scenario under variants of the accord, many seeds each, on Dask.

Each run is one Dask task (:func:`one_run`: a whole run through the nodes, summarized,
its directory removed), a pure function of (scenario, parameters, seed): results are
sorted by combination and seed, so they are the same whatever the number of workers or
the order tasks finish in. A local cluster over the cores by default (Dask
``distributed``, BSD-3-Clause), or an existing scheduler (``tcp://HOST:PORT``) whose
workers have skyaccord installed. Per combination: the mean of each figure with a 95 %
confidence interval (Student's t over the runs).
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyaccord.errors import InputError

__all__ = ["METRICS", "PARAMETERS", "SweepResult", "one_run", "parse_vary", "run_sweep"]

#: what a sweep may vary (accord_variant's keywords)
PARAMETERS = ("separation_nm", "response_deadline_s")
#: the figures of each run
METRICS = ("los", "los_between_parties", "alerts_per_hour", "warning_alerts",
           "overdue_responses", "incursions")


def parse_vary(items: Sequence[str]) -> dict[str, list[float]]:
    """``["separation_nm=3,5", ...]`` → ``{"separation_nm": [3.0, 5.0], ...}``."""
    out: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or name not in PARAMETERS:
            raise InputError(f"--vary {item!r}: expected NAME=V1,V2 with NAME one of "
                             f"{', '.join(PARAMETERS)}")
        try:
            vals = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"--vary {item!r}: values must be numbers") from None
        if not vals or any(not math.isfinite(v) or v <= 0 for v in vals):
            raise InputError(f"--vary {item!r}: give positive numbers")
        if name in out:
            raise InputError(f"--vary {name} given twice")
        out[name] = vals
    if not out:
        raise InputError("give at least one --vary NAME=V1,V2")
    return out


def one_run(scenario: str, params: dict[str, float], seed: int, hours: float
            ) -> dict[str, Any]:
    """One seeded run of ``scenario`` under the accord variant ``params``: its figures."""
    from skyaccord.analysis.conduct import summarize
    from skyaccord.analysis.rundata import load_run
    from skyaccord.protocol import default_accord, load_accord
    from skyaccord.sim.run import accord_variant, read_scenario, run_scenario

    s = read_scenario(Path(scenario))
    base = load_accord(Path(scenario).parent / s.accord) if s.accord else default_accord()
    accord = accord_variant(base, **params)
    t0 = s.time(s.busiest[0]) if s.busiest else s.t_start
    t1 = min(t0 + hours * 3600.0, s.t_end)
    tmp = Path(tempfile.mkdtemp(prefix="skyaccord-sweep-"))
    try:
        wall0 = time.perf_counter()
        run_scenario(scenario, tmp / "run", seed=seed, window=(t0, t1), accord=accord)
        summary = summarize(load_run(tmp / "run"))
        wall = time.perf_counter() - wall0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    los = [e for e in summary.encounters if e["los_s"] > 0]
    hours_run = (t1 - t0) / 3600.0
    return {**params, "seed": seed,
            "los": len(los),
            "los_between_parties": sum(1 for e in los if e["party1"] != e["party2"]),
            "alerts_per_hour": sum(summary.alerts_by_level.values()) / hours_run,
            "warning_alerts": summary.alerts_by_level.get("warning", 0),
            "overdue_responses": sum(c.responses_overdue for c in summary.conduct.values()),
            "incursions": len(summary.incursions), "wall_s": wall}


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    """one per run, sorted by combination then seed"""
    stats: list[dict[str, Any]]
    """per combination: mean, CI half-width of each metric"""
    wall_s: float

    @property
    def runs_per_min(self) -> float:
        return len(self.rows) / max(self.wall_s, 1e-9) * 60.0

    def table(self) -> str:
        names = [k for k in self.stats[0] if k in PARAMETERS] if self.stats else []
        head = names + ["runs"] + [f"{m} (95% CI)" for m in METRICS]
        lines = ["  ".join(head)]
        for st in self.stats:
            cells = [f"{st[n]:g}" for n in names] + [str(st["runs"])]
            cells += [f"{st[m]['mean']:.2f}" + ("" if math.isnan(st[m]["ci95"])
                                                else f"±{st[m]['ci95']:.2f}")
                      for m in METRICS]
            lines.append("  ".join(cells))
        return "\n".join(lines)


def _stats(values: Sequence[float]) -> dict[str, float]:
    from scipy import stats as sst

    a = np.asarray(values, dtype=float)
    n = len(a)
    mean = float(a.mean()) if n else math.nan
    if n < 2:
        return {"mean": mean, "ci95": math.nan, "sd": math.nan}
    sd = float(a.std(ddof=1))
    half = float(sst.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": half, "sd": sd}


def run_sweep(scenario: str | Path, grid: dict[str, list[float]], *, runs: int,
              out: str | Path | None = None, seed: int | None = None, hours: float = 1.0,
              scheduler: str | None = None, workers: int = 2,
              progress: Callable[[float, float], None] | None = None) -> SweepResult:
    """Every combination of ``grid`` × ``runs`` seeds, as Dask tasks; figures and CIs.

    Seeds are ``seed .. seed + runs - 1`` (default: the scenario's seed) for every
    combination, so combinations are compared on the same days."""
    from distributed import (  # untyped: the calls below are checked by the tests
        Client,
        LocalCluster,
        as_completed,
    )

    from skyaccord.sim.scenario import load_scenario, scenario_path

    path = str(scenario_path(scenario))
    s = load_scenario(path)
    first = s.seed if seed is None else seed
    names = list(grid)
    combos = [dict(zip(names, vals, strict=True))
              for vals in itertools.product(*(grid[n] for n in names))]
    jobs = [(k, c, first + i) for k, c in enumerate(combos) for i in range(runs)]
    wall0 = time.perf_counter()
    cluster = None
    if scheduler is None:
        # no dashboard, and the scheduler's HTTP server on a free port (8787 may be
        # another cluster's); the cluster's start and stop are not news
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
            scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR)
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        client = Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        futures = {client.submit(one_run, path, c, sd, hours, pure=False): (k, sd)
                   for k, c, sd in jobs}
        results: dict[tuple[int, int], dict[str, Any]] = {}
        done_iter = as_completed(futures)  # type: ignore[no-untyped-call]
        for done, fut in enumerate(done_iter, start=1):
            results[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, len(jobs))
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
    wall = time.perf_counter() - wall0
    rows = [results[(k, sd)] for k, _, sd in jobs]
    stats = []
    for k, c in enumerate(combos):
        mine = [r for (kk, _), r in sorted(results.items()) if kk == k]
        stats.append({**c, "runs": len(mine),
                      **{m: _stats([r[m] for r in mine]) for m in METRICS}})
    result = SweepResult(rows, stats, wall)
    if out is not None:
        _write(result, Path(out), names)
    return result


def _write(result: SweepResult, out: Path, names: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cols = [*names, "seed", *METRICS, "wall_s"]
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(result.rows)
    (out / "summary.json").write_text(json.dumps(
        {"stats": result.stats, "wall_s": result.wall_s, "runs": len(result.rows),
         "runs_per_min": result.runs_per_min}, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("los_between_parties", "alerts_per_hour", "overdue_responses")
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.6))
    labels = [", ".join(f"{n}={st[n]:g}" for n in names) for st in result.stats]
    for ax, m in zip(axes, shown, strict=True):
        means = [st[m]["mean"] for st in result.stats]
        ci = [0.0 if math.isnan(st[m]["ci95"]) else st[m]["ci95"] for st in result.stats]
        ax.errorbar(range(len(means)), means, yerr=ci, fmt="o", capsize=4)
        ax.set_xticks(range(len(means)), labels, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"{m} (mean, 95% CI)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=110)
    plt.close(fig)
