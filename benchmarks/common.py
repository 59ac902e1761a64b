"""Shared helpers of the benchmarks: timing, peak memory, a table, a JSON file."""

from __future__ import annotations

import json
import platform
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    """Smallest wall time of ``repeat`` calls (seconds) and the last result."""
    best = float("inf")
    result: T | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    return best, result


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "processor": platform.processor()}


def report(name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
           extra: dict[str, Any] | None = None) -> Path:
    """Print ``rows`` as a table and write them (with ``extra``) to results/NAME.json."""
    table = Table(*columns, title=f"benchmark: {name}")
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    Console().print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(),
               "rows": [dict(zip(columns, row, strict=True)) for row in rows], **(extra or {})}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return path


class NodeProcess(NamedTuple):
    """A ``skyaccord serve`` process made by ``node init`` (see :func:`node_process`)."""

    proc: Any
    url: str
    token: str
    headers: dict[str, str]


@contextmanager
def node_process(root: Path, party: str = "us") -> Iterator[NodeProcess]:
    """``skyaccord node init`` + ``serve`` on a free loopback port, as a user starts a
    node; waits until ``/health`` answers, terminates it at the end."""
    import subprocess
    import sys

    import httpx

    from tests.support.local_nodes import free_port

    subprocess.run([sys.executable, "-m", "skyaccord", "node", "init", str(root / party),
                    "--party", party], check=True, capture_output=True)
    port = free_port()
    token = (root / party / "admin.token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    proc = subprocess.Popen([sys.executable, "-m", "skyaccord", "serve", "--config",
                             str(root / party / "node.toml"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = NodeProcess(proc, f"http://127.0.0.1:{port}", token, headers)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(node.url + "/health", headers=headers).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield node
    finally:
        proc.terminate()
        proc.wait(10)
