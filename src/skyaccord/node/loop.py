"""The node's threads: the ticker (detection every tick) and the feed readers."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from skyaccord.errors import FeedError, SkyaccordError
from skyaccord.ingest.states import FeedStats, StateUpdate
from skyaccord.node.runtime import NodeRuntime

__all__ = ["FeedReader", "Ticker", "open_source"]

log = logging.getLogger("skyaccord.node")


class Ticker:
    """Runs ``runtime.tick()`` at every multiple of ``tick_s`` of the runtime's clock;
    a tick that overruns is followed at once by the next due one (no backlog)."""

    def __init__(self, runtime: NodeRuntime, tick_s: float,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.runtime, self.tick_s = runtime, tick_s
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread = threading.Thread(target=self._run, name="node-ticker", daemon=True)
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        clock = self.runtime.clock
        while not self._stop.is_set():
            now = clock()
            due = math.floor(now / self.tick_s) * self.tick_s + self.tick_s
            self._sleep(max(0.0, due - now))
            if self._stop.is_set():
                return
            try:
                self.runtime.tick()
            except SkyaccordError as exc:  # e.g. the store is full: keep ticking, count it
                self.errors += 1
                log.error("tick failed: %s", exc)


def open_source(source: str, stats: FeedStats,
                stop: threading.Event | None = None) -> Iterable[list[StateUpdate]]:
    """Chunks of updates from ``tcp://HOST:PORT`` (a live SBS or raw feed; the format
    after a ``#``: ``tcp://h:30003#sbs``, default sbs) or a recorded file."""
    if source.startswith("tcp://"):
        from skyaccord.ingest.tcp import TcpFeed

        addr, _, kind = source.removeprefix("tcp://").partition("#")
        host, _, port = addr.rstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise FeedError(f"{source}: expected tcp://HOST:PORT[#KIND]")
        return TcpFeed(host, int(port), kind or "sbs", stats=stats, stop=stop)
    from skyaccord.ingest.feed import open_feed

    return open_feed(Path(source), stats=stats)


class FeedReader:
    """Reads one source into the runtime. A recorded file is played at its own pace,
    its first report mapped to the time the node started reading it (a replay in real
    time); a live feed's reports keep their own times."""

    def __init__(self, runtime: NodeRuntime, source: str) -> None:
        self.runtime, self.source = runtime, source
        self.stats = FeedStats(source)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feed {source}", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        live = self.source.startswith("tcp://")
        offset: float | None = None
        try:
            for chunk in open_source(self.source, self.stats, self._stop):
                if self._stop.is_set():
                    return
                if live or not chunk:
                    self.runtime.ingest(chunk)
                    continue
                if offset is None:
                    offset = self.runtime.clock() - chunk[0].t
                shifted = [u._replace(t=u.t + offset) for u in chunk]
                k = 0
                while k < len(shifted):  # each report when its time comes
                    now = self.runtime.clock()
                    due = k
                    while due < len(shifted) and shifted[due].t <= now:
                        due += 1
                    if due > k:
                        self.runtime.ingest(shifted[k:due])
                        k = due
                    elif self._stop.wait(min(0.2, shifted[k].t - now)):
                        return
        except (SkyaccordError, OSError, ValueError) as exc:
            self.error = str(exc)
            log.error("feed %s stopped: %s", self.source, exc)

