"""Live feeds over TCP as dump1090/readsb serve them, with reconnect and back-off.

``sbs`` (port 30003, SBS-1 lines), ``raw`` (port 30002, ``*HEX;`` AVR lines, or
``UNIX_SECONDS HEX`` / JSON lines) and ``beast`` (port 30005, binary). Frames without a
time of their own are stamped with ``clock()`` on arrival. A dropped connection is
counted (``disconnect``) and retried after a back-off that doubles from ``backoff_s`` up
to ``backoff_max_s`` and resets once data flows again; decoder state (CPR pairs,
callsigns) survives reconnects.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final

from skyaccord.errors import FeedError
from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.formats import read_sbs
from skyaccord.ingest.modes import BeastParser, frames_from_lines
from skyaccord.ingest.states import FeedStats, StateUpdate

__all__ = ["TCP_KINDS", "TcpFeed"]

TCP_KINDS: Final = ("sbs", "raw", "beast")


class TcpFeed:
    """Iterate chunks of state updates from a live TCP feed.

    Parameters
    ----------
    host, port
        Where dump1090/readsb listens.
    kind
        ``"sbs"``, ``"raw"`` or ``"beast"``.
    max_retries
        Consecutive failed connection attempts before giving up (:class:`FeedError`);
        None retries for ever.
    stop
        Set it to end the iteration (checked between reads; reads time out after
        ``read_timeout_s``).
    """

    def __init__(self, host: str, port: int, kind: str = "sbs", *,
                 stats: FeedStats | None = None, backoff_s: float = 0.5,
                 backoff_max_s: float = 30.0, max_retries: int | None = None,
                 read_timeout_s: float = 1.0, connect_timeout_s: float = 5.0,
                 reference: tuple[float, float] | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 stop: threading.Event | None = None) -> None:
        if kind not in TCP_KINDS:
            raise FeedError(f"unknown feed kind {kind!r}; kinds are {', '.join(TCP_KINDS)}")
        self.host, self.port, self.kind = host, port, kind
        self.name = f"{kind}://{host}:{port}"
        self.stats = stats if stats is not None else FeedStats(self.name)
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.max_retries = max_retries
        self.read_timeout_s, self.connect_timeout_s = read_timeout_s, connect_timeout_s
        self.clock, self.sleep = clock, sleep
        self.stop = stop if stop is not None else threading.Event()
        self.decoder = ModeSDecoder(self.stats, reference, source=self.name)
        self.connections = 0
        self.line_no = 0

    def _lines(self, text: str) -> list[str]:
        self.line_no += text.count("\n")
        return text.splitlines()

    def _decode(self, data: bytes, carry: bytearray,
                parser: BeastParser | None) -> list[StateUpdate]:
        if parser is not None:
            return self.decoder.decode(parser.feed(data, clock=self.clock()))
        carry += data
        cut = carry.rfind(b"\n")
        if cut < 0:
            return []
        text = carry[: cut + 1].decode("utf-8", errors="replace")
        del carry[: cut + 1]
        lines = self._lines(text)
        if self.kind == "sbs":
            return list(read_sbs(lines, self.stats, self.name, clock=self.clock))
        frames = list(frames_from_lines(lines, self.stats, self.name, clock=self.clock))
        return self.decoder.decode(frames)

    def __iter__(self) -> Iterator[list[StateUpdate]]:
        delay = self.backoff_s
        failures = 0
        while not self.stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port),
                                                timeout=self.connect_timeout_s)
            except OSError as exc:
                failures += 1
                if self.max_retries is not None and failures > self.max_retries:
                    raise FeedError(f"{self.name}: cannot connect after {failures} "
                                    f"attempt(s): {exc}") from None
                self.sleep(delay)
                delay = min(2 * delay, self.backoff_max_s)
                continue
            self.connections += 1
            sock.settimeout(self.read_timeout_s)
            carry = bytearray()
            parser = BeastParser(stats=self.stats) if self.kind == "beast" else None
            try:
                while not self.stop.is_set():
                    try:
                        data = sock.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    failures, delay = 0, self.backoff_s
                    out = self._decode(data, carry, parser)
                    if out:
                        yield out
            except OSError:
                pass
            finally:
                sock.close()
            if self.stop.is_set():
                break
            if carry:  # a line cut by the disconnect is lost: count it
                self.stats.read += 1
                self.stats.reject("bad line", f"{self.name}: partial line at disconnect: "
                                              f"{bytes(carry[:60])!r}")
            self.stats.reject("disconnect", f"{self.name} after {self.line_no} line(s)")
            failures += 1
            if self.max_retries is not None and failures > self.max_retries:
                raise FeedError(f"{self.name}: connection lost {failures} time(s) in a row")
            self.sleep(delay)
            delay = min(2 * delay, self.backoff_max_s)
