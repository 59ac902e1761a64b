"""Sweeps on Dask: the same figures from one worker and from a local cluster of two,
confidence intervals from the runs, bad --vary refused."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from skyaccord.errors import InputError
from skyaccord.sim.sweep import METRICS, parse_vary, run_sweep
from tests.sim.test_run import _scenario


def test_parse_vary() -> None:
    assert parse_vary(["separation_nm=3,5", "response_deadline_s=60"]) == {
        "separation_nm": [3.0, 5.0], "response_deadline_s": [60.0]}
    for bad in (["separation=3"], ["separation_nm=a"], ["separation_nm=-1"], [],
                ["separation_nm=3", "separation_nm=5"]):
        with pytest.raises(InputError):
            parse_vary(bad)


def test_one_worker_and_two_give_the_same_results(tmp_path: Path) -> None:
    text = _scenario().replace("            start: \"10:00\"\n            route: [[35",
                               "            start: \"10:00\"\n            route: [[35", 1)
    # the ru aircraft starts up to 40 s late, drawn from the seed: runs differ
    text = text.replace("          - id: RU1\n            party: ru\n",
                        "          - id: RU1\n            party: ru\n"
                        "            start_jitter_s: 40\n")
    path = tmp_path / "pass.yaml"
    path.write_text(text)
    grid = {"separation_nm": [3.0, 5.0]}
    one = run_sweep(path, grid, runs=2, hours=0.1, workers=1, out=tmp_path / "one")
    two = run_sweep(path, grid, runs=2, hours=0.1, workers=2, out=tmp_path / "two")
    strip = [{k: v for k, v in r.items() if k != "wall_s"} for r in one.rows]
    assert strip == [{k: v for k, v in r.items() if k != "wall_s"} for r in two.rows]
    assert [(r["separation_nm"], r["seed"]) for r in one.rows] == [
        (3.0, 11), (3.0, 12), (5.0, 11), (5.0, 12)]
    # the 1 NM pass loses 3 NM and 5 NM alike; more alerts under the wider minimum
    assert all(r["los_between_parties"] == 1 for r in one.rows)
    for st in one.stats:
        mine = [r for r in one.rows if r["separation_nm"] == st["separation_nm"]]
        for m in METRICS:
            vals = np.array([r[m] for r in mine], dtype=float)
            assert st[m]["mean"] == pytest.approx(vals.mean())
            # Student's t with 1 degree of freedom: 12.706 × sd / sqrt(2)
            half = 12.7062047 * vals.std(ddof=1) / math.sqrt(2)
            assert st[m]["ci95"] == pytest.approx(half, rel=1e-6, abs=1e-12)
    for name in ("results.csv", "summary.json", "sweep.png"):
        assert (tmp_path / "two" / name).stat().st_size > 0


def test_an_existing_scheduler_runs_the_same_tasks(tmp_path: Path) -> None:
    """``--scheduler tcp://HOST:PORT``: a Dask cluster started apart (here, one worker
    process on loopback) runs the sweep's tasks; each row is the run done here."""
    from distributed import LocalCluster

    from skyaccord.sim.sweep import one_run

    path = tmp_path / "pass.yaml"
    path.write_text(_scenario())
    with LocalCluster(n_workers=1, threads_per_worker=1,  # type: ignore[no-untyped-call]
                      processes=True, host="127.0.0.1", dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        res = run_sweep(path, {"separation_nm": [5.0]}, runs=2, hours=0.1,
                        scheduler=address)
    here = [one_run(str(path), {"separation_nm": 5.0}, seed, 0.1) for seed in (11, 12)]
    strip = [{k: v for k, v in r.items() if k != "wall_s"} for r in res.rows]
    assert strip == [{k: v for k, v in r.items() if k != "wall_s"} for r in here]
