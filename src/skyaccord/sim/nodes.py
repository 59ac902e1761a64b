"""How a run reaches its nodes: in this process (the default) or as real processes.

Both give the run the same operations, each through the node's own code:

- :class:`LocalNode` — :func:`skyaccord.node.service.open_node` here, its FastAPI app
  called in-process as ASGI (no socket: :class:`AsgiClient`, a minimal client that
  builds each request's scope itself), its tick and outbox delivery called as the
  node's ticker and deliverer threads call them; peers reached through their apps.
- :class:`ProcessNode` — ``python -m skyaccord.sim.node_process`` per party on
  loopback, everything over real HTTP: the API with an operator token, the clock, tick
  and delivery through the admin-only ``/sim`` routes, and messages between the nodes
  over their own peer HTTP (``POST /line/messages``). :class:`ProcessNodes` starts them
  and always stops them (terminate, then kill), on success and on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from skyaccord.errors import SkyaccordError
from skyaccord.sim.node_process import SimClock, tick_summary

__all__ = ["AsgiClient", "LocalNode", "ProcessNode", "ProcessNodes", "Response"]

#: how long a node process may take to answer after it starts (imports, the kernel)
START_TIMEOUT_S = 60.0
#: how long a node process is given to stop after SIGTERM before it is killed
STOP_TIMEOUT_S = 10.0


class Response:
    """What the run needs of an HTTP answer."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class AsgiClient:
    """Requests to an ASGI app in this process: the app's whole stack (middleware,
    routing, authentication, validation, the handlers), with no socket and none of an
    HTTP client's own work (a third of the cost of an in-process request with httpx)."""

    def __init__(self, app: Any, host: str) -> None:
        self.app, self.host = app, host.encode()

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"") -> Response:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw += [(b"host", self.host), (b"content-length", str(len(body)).encode())]
        p, _, q = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": method, "scheme": "http", "path": p,
                 "raw_path": p.encode(), "query_string": q.encode(), "root_path": "",
                 "headers": raw, "client": ("127.0.0.1", 0), "server": ("sim", 80),
                 "state": {}}
        done = False

        async def receive() -> dict[str, Any]:
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        status = 0
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return Response(status, b"".join(chunks))


class _AppPeer:
    """A peer reached through its app in-process, on the run's event loop: the same
    route, no socket. The line delivers from a worker thread, as its deliverer thread
    does in a node."""

    def __init__(self, client: AsgiClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]:
        from skyaccord.line.peer import DELIVER_PATH, envelope_bytes

        post = self.client.request("POST", DELIVER_PATH,
                                   {"content-type": "application/json"},
                                   envelope_bytes(envelope))
        r = asyncio.run_coroutine_threadsafe(post, self.loop).result()
        return r.status_code, r.json()

    def close(self) -> None:
        pass


class LocalNode:
    """A node opened in this process (see the module's docstring)."""

    def __init__(self, party: str, node: Any, clock: SimClock, token: str) -> None:
        self.party, self.node, self.clock = party, node, clock
        self.headers = {"authorization": f"Bearer {token}"}
        # no lifespan: the run ticks and delivers itself (no ticker, no deliverer)
        self.client = AsgiClient(node.app(tick=False, deliver=False), f"{party}.sim")
        self._req_pos = 0

    def connect(self, peers: dict[str, LocalNode], loop: asyncio.AbstractEventLoop) -> None:
        self.node.runtime.line.peers = {q: _AppPeer(n.client, loop)
                                        for q, n in peers.items() if q != self.party}

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"") -> Response:
        return await self.client.request(method, path, {**self.headers, **headers}, body)

    async def set_clock(self, t: float) -> None:
        self.clock.t = t

    async def tick(self, t: float) -> dict[str, Any]:
        return tick_summary(self.node.runtime.tick(t))

    async def alerts(self) -> list[dict[str, Any]]:
        return list(self.node.runtime.alerts.values())

    async def new_requests(self) -> list[dict[str, Any]]:
        """Requests received since we last looked (the line's log, read once each)."""
        out = []
        for p, _d, _r, m in self.node.runtime.line.store.messages(
                after=self._req_pos, direction="received", kinds=("request",)):
            out.append({"id": m.id, "from": m.sender})
            self._req_pos = max(self._req_pos, p)
        return out

    async def deliver(self) -> None:
        line = self.node.runtime.line
        if any(line.store.pending(q) for q in line.peers):
            await asyncio.to_thread(line.deliver_once)

    async def log(self) -> list[dict[str, Any]]:
        return [{"pos": pos, "direction": d, "recorded_at": r, "message": m.to_dict()}
                for pos, d, r, m in self.node.runtime.line.store.messages()]

    async def close(self, *, failed: bool = False) -> None:
        del failed
        self.node.runtime.line.close()


class ProcessNode:
    """A node in its own process on loopback (see the module's docstring)."""

    def __init__(self, party: str, url: str, process: subprocess.Popen[bytes],
                 token: str, admin: str, log: Path) -> None:
        self.party, self.url, self.process, self.log_path = party, url, process, log
        self.headers = {"authorization": f"Bearer {token}"}
        self.admin = {"authorization": f"Bearer {admin}"}
        self.client = httpx.AsyncClient(base_url=url, timeout=120.0)
        self._seen: set[str] = set()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"", *, auth: dict[str, str] | None = None) -> Response:
        try:
            r = await self.client.request(method, path, content=body,
                                          headers={**(auth or self.headers), **headers})
        except httpx.HTTPError as exc:
            raise SkyaccordError(f"node {self.party} at {self.url}: {method} {path}: "
                                 f"{type(exc).__name__}: {exc}{self._exited()}") from None
        return Response(r.status_code, r.content)

    def _exited(self) -> str:
        code = self.process.poll()
        return "" if code is None else f" (its process exited with {code}: {self.log_tail()})"

    def log_tail(self, n: int = 800) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:].strip()
        except OSError:
            return ""

    async def _admin(self, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        r = await self.request(method, path, {"content-type": "application/json"}, data,
                               auth=self.admin)
        if r.status_code != 200:
            raise SkyaccordError(f"node {self.party}: {method} {path}: {r.status_code} "
                                 f"{r.text[:300]}")
        return r.json()

    async def set_clock(self, t: float) -> None:
        await self._admin("POST", "/sim/clock", {"t": t})

    async def tick(self, t: float) -> dict[str, Any]:
        out: dict[str, Any] = await self._admin("POST", "/sim/tick", {"t": t})
        return out

    async def alerts(self) -> list[dict[str, Any]]:
        r = await self.request("GET", "/alerts", {})
        doc = r.json()
        return [*doc["conflicts"], *doc["incursions"]]

    async def new_requests(self) -> list[dict[str, Any]]:
        r = await self.request("GET", "/line/inbox", {})
        out = []
        for m in r.json():
            if m["kind"] == "request" and m["id"] not in self._seen:
                self._seen.add(m["id"])
                out.append({"id": m["id"], "from": m["from"]})
        return out

    async def deliver(self) -> None:
        await self._admin("POST", "/sim/deliver")

    async def log(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = await self._admin("GET", "/sim/log")
        return out

    async def wait_ready(self, deadline: float) -> None:
        while True:
            code = self.process.poll()
            if code is not None:
                raise SkyaccordError(f"node {self.party} did not start (exit {code}): "
                                     f"{self.log_tail()}")
            try:
                r = await self.client.get("/sim/clock", headers=self.admin, timeout=2.0)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SkyaccordError(f"node {self.party} did not answer within "
                                     f"{START_TIMEOUT_S:.0f} s: {self.log_tail()}")
            await asyncio.sleep(0.1)

    async def close(self, *, failed: bool = False) -> None:
        await self.client.aclose()
        stop(self.process, failed=failed)


def stop(process: subprocess.Popen[bytes], *, failed: bool = False) -> None:
    """End a node process: SIGTERM (its lifespan closes the line), SIGKILL if it has not
    ended within :data:`STOP_TIMEOUT_S` (at once after a failure), then reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL if failed else signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on loopback (held together while chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class ProcessNodes:
    """Start one node process per party; :meth:`close` always stops them all."""

    def __init__(self) -> None:
        self.nodes: dict[str, ProcessNode] = {}

    def start(self, party: str, settings: dict[str, Any], port: int, t0: float,
              token: str, admin: str, directory: Path) -> ProcessNode:
        config = directory / f"{party}-process.json"
        config.write_text(json.dumps({"settings": settings, "t0": t0, "port": port,
                                      "parent_pid": os.getpid()}), encoding="utf-8")
        log = directory / f"{party}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "skyaccord.sim.node_process", str(config)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                start_new_session=True)  # a terminal's Ctrl-C reaches the run, not them
        (directory / f"{party}.pid").write_text(f"{proc.pid}\n", encoding="utf-8")
        node = ProcessNode(party, f"http://127.0.0.1:{port}", proc, token, admin, log)
        self.nodes[party] = node
        return node

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        await asyncio.gather(*(n.wait_ready(deadline) for n in self.nodes.values()))

    async def close(self, *, failed: bool = False) -> None:
        for n in self.nodes.values():
            await n.close(failed=failed)

