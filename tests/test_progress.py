"""Long commands show progress on a terminal and stay quiet when piped (issue 18):
``decode`` and ``detect`` run in real processes, once with stderr on a pseudo-terminal,
once with stderr on a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run_with_stderr_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen([sys.executable, "-m", "skyaccord", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=120), seen.decode("utf-8", errors="replace")


@pytest.mark.parametrize("args, words", [
    (["decode", str(DATA / "full_flight_takeoff.jsonl.gz"), "--out", "s.csv"],
     "decoding full_flight_takeoff"),
    (["detect", str(DATA / "short_flights.csv"), "--out", "c.csv"], "detecting among"),
])
def test_progress_on_a_terminal_only(tmp_path: Path, args: list[str], words: str) -> None:
    code, terminal = run_with_stderr_on_a_terminal(args, tmp_path)
    assert code == 0, terminal
    assert words in terminal
    piped = subprocess.run([sys.executable, "-m", "skyaccord", *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert words not in piped.stderr
