"""Runs over real node processes on loopback (``skyaccord sim run --processes``).

The hand-built two-aircraft pass of ``test_run.py`` runs once with the nodes in process
and once with one node process per party, driven over real HTTP (the nodes' own API,
the admin-only ``/sim`` routes for the clock, the tick and delivery, messages between
the processes over their peer HTTP): the recorded alerts, intents, operators' actions,
warnings, the line's logs and the overdue lists are the same, message ids aside (the
line draws them at random: they are mapped to their order of appearance). The clock
routes refuse a caller without the admin token; the processes are gone after the run,
after a run that fails, and after the simulator itself is killed outright.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyaccord.analysis.conduct import summarize
from skyaccord.analysis.rundata import load_run
from skyaccord.sim.nodes import ProcessNode
from skyaccord.sim.run import RUN_FILES, run_scenario
from skyaccord.sim.scenario import parse_scenario
from tests.sim.test_run import _scenario

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """The process has ended (a zombie not yet reaped by its new parent counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if not _gone(p)]
        if not alive:
            return []
        time.sleep(0.2)
    return [p for p in pids if not _gone(p)]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("modes")
    seen: dict[str, Any] = {}

    def ready(nodes: dict[str, Any]) -> None:
        """While the node processes run: their clock routes, with and without tokens."""
        seen["pids"] = [n.pid for n in nodes.values()]
        seen["kinds"] = {type(n) for n in nodes.values()}
        n = nodes["us"]
        assert isinstance(n, ProcessNode)
        with httpx.Client(base_url=n.url, timeout=10.0) as c:
            seen["none"] = c.post("/sim/clock", json={"t": 1.0}).status_code
            seen["bad"] = c.post("/sim/clock", json={"t": 1.0},
                                 headers={"authorization": "Bearer sky_nonsense"}).status_code
            seen["operator"] = c.post("/sim/tick", json={"t": 1.0},
                                      headers=n.headers).status_code
            seen["operator_log"] = c.get("/sim/log", headers=n.headers).status_code
            seen["admin"] = c.get("/sim/clock", headers=n.admin).json()
            seen["bad_body"] = c.post("/sim/clock", json={"t": -5},
                                      headers=n.admin).status_code

    text = parse_scenario(_scenario())
    run_scenario(text, base / "inproc")
    run_scenario(text, base / "procs", processes=True, on_ready=ready)
    return {"inproc": base / "inproc", "procs": base / "procs", **seen}


def _canonical(run: Path) -> dict[str, Any]:
    """The run's records with message ids replaced by their order of appearance, and
    what derives from them (signatures, digests, the log's hash chain) left out."""
    ids: dict[str, str] = {}
    lines = [json.loads(x) for x in (run / "messages.jsonl").read_text().splitlines()]
    for e in lines:
        ids.setdefault(e["message"]["id"], f"m{len(ids)}")

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()
                    if k not in ("sig", "digest", "log_hash", "hash", "head")}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, str) and v in ids:
            return ids[v]
        return v

    out: dict[str, Any] = {"messages": norm(lines)}
    for name in ("alerts.jsonl", "intents.jsonl", "warnings.jsonl", "operators.jsonl"):
        out[name] = norm([json.loads(x) for x in (run / name).read_text().splitlines()])
    out["overdue"] = norm(json.loads((run / "overdue.json").read_text()))
    return out


def test_a_process_run_records_what_an_in_process_run_does(both: dict[str, Any]) -> None:
    a, b = both["inproc"], both["procs"]
    for name in RUN_FILES:
        assert (b / name).is_file(), name
    assert json.loads((b / "run.json").read_text())["nodes"] == "processes"
    assert both["kinds"] == {ProcessNode}
    ca, cb = _canonical(a), _canonical(b)
    assert len(cb["messages"]) > 20 and cb["alerts.jsonl"] and cb["operators.jsonl"]
    for key in ca:
        assert ca[key] == cb[key], key
    # and so the analysis: encounters, alerts, conduct, the line
    sa, sb = summarize(load_run(a)).to_dict(), summarize(load_run(b)).to_dict()
    for key in ("encounters", "severity", "conduct", "alerts_by_level", "alerts_by_party",
                "incursions", "messages", "overdue"):
        assert sa[key] == sb[key], key


def test_the_clock_routes_need_the_admin_token(both: dict[str, Any]) -> None:
    assert both["none"] == 401 and both["bad"] == 401
    assert both["operator"] == 403 and both["operator_log"] == 403
    assert both["admin"]["t"] > 1e9  # the run's clock, not moved by the refused calls
    assert both["bad_body"] == 422


def test_processes_are_gone_after_the_run(both: dict[str, Any]) -> None:
    assert len(both["pids"]) == 3
    assert _wait_gone(both["pids"], 5.0) == []


def test_a_failing_run_kills_its_node_processes(tmp_path: Path) -> None:
    pids: list[int] = []

    def ready(nodes: dict[str, Any]) -> None:
        pids.extend(n.pid for n in nodes.values())

    def fail(done: float, total: float) -> None:
        if done >= 20:
            raise RuntimeError("the run broke")

    with pytest.raises(RuntimeError, match="the run broke"):
        run_scenario(parse_scenario(_scenario()), tmp_path / "r", processes=True,
                     on_ready=ready, progress=fail)
    assert len(pids) == 3
    assert _wait_gone(pids, 5.0) == []


def test_killing_the_simulator_ends_its_node_processes(tmp_path: Path) -> None:
    """The simulator killed outright (SIGKILL: no clean-up runs): its nodes see their
    parent gone and end themselves."""
    scenario = tmp_path / "pass.yaml"
    scenario.write_text(_scenario())
    out = tmp_path / "r"
    script = textwrap.dedent(f"""\
        from skyaccord.sim.run import run_scenario
        run_scenario({str(scenario)!r}, {str(out)!r}, processes=True, speed=2.0)
        """)
    sim = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        pid_files: list[Path] = []
        while time.monotonic() < deadline and len(pid_files) < 3:
            pid_files = sorted((out / "nodes").glob("*.pid")) if out.exists() else []
            time.sleep(0.2)
        assert len(pid_files) == 3, "the run did not start its nodes"
        time.sleep(5.0)  # they come up (or are still importing: either way, running)
        pids = [int(f.read_text()) for f in pid_files]
        assert all(not _gone(p) for p in pids)
        os.kill(sim.pid, signal.SIGKILL)
        sim.wait(10)
        assert _wait_gone(pids, 30.0) == []
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
