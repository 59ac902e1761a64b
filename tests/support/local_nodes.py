"""Several parties' nodes on one machine: real ``skyaccord serve`` processes on loopback.

The harness of the process tests (``tests/line/test_processes.py``) and of
``benchmarks/line.py``, kept out of the installed package: :class:`LocalNodes` starts,
kills (SIGKILL) and restarts node processes sharing one directory (``accord.toml``,
``PARTY.key``, ``PARTY.db``); :func:`accord_text_with_keys` writes the parties' public
keys into an accord's text.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from skyaccord.errors import LineError
from skyaccord.line.keys import SigningKey, public_key_b64
from skyaccord.protocol import default_accord_text

__all__ = ["LocalNodes", "accord_text_with_keys", "free_port"]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accord_text_with_keys(keys: Mapping[str, SigningKey], text: str | None = None) -> str:
    """``text`` (default: the shipped accord) with each party's ``public_key`` set."""
    text = default_accord_text() if text is None else text
    for party, key in keys.items():
        text, n = re.subn(rf'(\nid = "{party}"\n)',
                          rf'\1public_key = "{public_key_b64(key)}"\n', text)
        if n != 1:
            raise LineError(f"accord text has no single [[parties]] entry with id {party!r}")
    return text


class LocalNodes:
    """Node processes of ``parties`` with their files in ``root``."""

    def __init__(self, root: Path, parties: tuple[str, ...]) -> None:
        self.root = root
        self.ports = {p: free_port() for p in parties}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.client = httpx.Client(timeout=10.0)

    def url(self, party: str) -> str:
        return f"http://127.0.0.1:{self.ports[party]}"

    def db(self, party: str) -> Path:
        return self.root / f"{party}.db"

    def start(self, party: str, *, config: bool = False, timeout_s: float = 30.0) -> None:
        """Start ``party``'s node (from a node config file with ``config``) and wait
        until it answers."""
        if config:  # the same node from a config file (paths relative to it)
            peers_toml = "".join(f'{p} = "{self.url(p)}"\n' for p in self.ports if p != party)
            path = self.root / f"{party}-node.toml"
            path.write_text(f'[node]\nparty = "{party}"\nkey = "{party}.key"\n'
                            f'db = "{self.db_location(party, config=True)}"\n'
                            f'accord = "accord.toml"\n'
                            f"port = {self.ports[party]}\n[peers]\n{peers_toml}")
            args = ["--config", str(path)]
        else:
            args = ["--party", party, "--accord", str(self.root / "accord.toml"),
                    "--db", self.db_location(party, config=False),
                    "--key", str(self.root / f"{party}.key"),
                    "--port", str(self.ports[party]),
                    *(f"--peer={p}={self.url(p)}" for p in self.ports if p != party)]
        with open(self.root / f"{party}.out", "ab") as log:
            self.procs[party] = subprocess.Popen(
                [sys.executable, "-m", "skyaccord", "serve", *args],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.client.get(self.url(party) + "/health",
                                   headers=self.auth(party)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.procs[party].poll() is not None:
                raise LineError(f"node {party} exited: "
                                + (self.root / f"{party}.out").read_text())
            time.sleep(0.05)
        raise LineError(f"node {party} did not start within {timeout_s:g} s")

    def db_location(self, party: str, *, config: bool) -> str:
        """Where ``party``'s line log is, as ``serve`` is told: its SQLite file (named
        relative to the config file in config mode)."""
        return f"{party}.db" if config else str(self.db(party))

    def token(self, party: str) -> str:
        """The admin token that ``serve`` made for the node's first start."""
        return (self.root / f"{party}-admin.token").read_text(encoding="utf-8").strip()

    def auth(self, party: str) -> dict[str, str]:
        path = self.root / f"{party}-admin.token"
        return {"Authorization": f"Bearer {self.token(party)}"} if path.exists() else {}

    def kill(self, party: str) -> None:
        """SIGKILL ``party``'s node: no clean shutdown."""
        proc = self.procs.pop(party)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for party in list(self.procs):
            proc = self.procs.pop(party)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.client.close()

    def send(self, party: str, to: str, text: str, kind: str = "text") -> str:
        """Send free text (or ``kind``) from ``party`` to ``to``; the message id."""
        r = self.client.post(self.url(party) + "/line/send", headers=self.auth(party),
                             json={"to": to, "kind": kind, "body": {"text": text}})
        if r.status_code != 200:
            raise LineError(f"send from {party} refused: {r.status_code} {r.text}")
        return str(r.json()["id"])

    def post(self, party: str, path: str, body: Any) -> Any:
        r = self.client.post(self.url(party) + path, headers=self.auth(party), json=body)
        if r.status_code not in (200, 201):
            raise LineError(f"POST {path} on {party}: {r.status_code} {r.text}")
        return r.json()

    def get(self, party: str, path: str) -> Any:
        r = self.client.get(self.url(party) + path, headers=self.auth(party))
        if r.status_code != 200:
            raise LineError(f"GET {path} on {party}: {r.status_code} {r.text}")
        return r.json()

    def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until every running node's outbox is empty."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self.get(p, "/health")["line"]["outbox_pending"] == 0 for p in self.procs):
                return
            time.sleep(0.05)
        raise LineError("outboxes did not drain")
