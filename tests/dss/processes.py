"""DSS server processes for the tests and the benchmark: ``python -m skyaccord dss serve``
on a free port, waited for until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DssProcess:
    """One ``skyaccord dss serve`` process; :meth:`stop` ends it."""

    def __init__(self, db: str, public_key: Path, audience: str, log: Path,
                 timeout_s: float = 30.0, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "skyaccord", "dss", "serve", "--db", db,
                 "--public-key", str(public_key), "--audience", audience,
                 "--port", str(self.port), *extra], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthy", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the DSS exited: {log.read_text()}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the DSS did not start within {timeout_s:g} s: {log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
