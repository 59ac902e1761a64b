"""``python -m benchmarks [NAME ...]``: run every engine's benchmark (or the named ones).

Each runs in its own process (``python -m benchmarks.NAME``), prints its table and writes
``benchmarks/results/NAME.json``; a summary of exit codes and JSON files follows.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_NOT_BENCHMARKS = {"common", "__main__"}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                  if m.name not in _NOT_BENCHMARKS and not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    chosen = argv or names()
    unknown = sorted(set(chosen) - set(names()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names())}")
        return 2
    summary = []
    for name in chosen:
        print(f"== benchmarks.{name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
        summary.append((name, rc, time.perf_counter() - t0))
    print("\nbenchmark  exit  seconds  results")
    for name, rc, seconds in summary:
        result = HERE / "results" / f"{name}.json"
        print(f"{name:<10} {rc:>4}  {seconds:7.1f}  {result if result.exists() else '-'}")
    return max((rc for _, rc, _ in summary), default=0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
