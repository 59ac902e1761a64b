"""Raw Mode S decoding on several processes, with the serial decoder's exact results.

Positions (CPR) and the other per-aircraft state need each aircraft's frames in order,
not the global order. The parent reads and checks the frames (``not hex``,
``bad length``, ``time backwards``: the global-order checks), routes each frame to a
worker by its ICAO address (in the frame for DF11/17/18/19, the CRC-24 remainder of the
parity for DF0/4/5/16/20/21, computed here with numpy), and each worker runs a
:class:`~skyaccord.ingest.modes.ModeSDecoder` on its aircraft. Workers return each
update with the position of its frame in the chunk, and the parent puts them back in
frame order: the same sequence of updates as the serial decoder, and the same counts
per reason (the example kept for a reason may be another frame of that reason).

Chunks are pipelined: the parent reads chunk k+1 while the workers decode chunk k.
Workers are ``python -m skyaccord.ingest.parallel`` subprocesses fed pickles through pipes
(rs1090's Rust thread pool must not be forked, and unlike multiprocessing's ``spawn``
this neither re-imports the caller's main module nor needs its ``__main__`` guard).
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

from skyaccord.errors import FeedError
from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.modes import CRC24_TABLE, RawFrame, screen_frame
from skyaccord.ingest.states import FeedStats, StateUpdate

__all__ = ["auto_workers", "decode_parallel", "frame_addresses"]

_TABLE: Final = np.array(CRC24_TABLE, dtype=np.uint32)
_ADDRESS_IN_FRAME: Final = np.array([df in (11, 17, 18, 19) for df in range(32)])
_new_update = partial(tuple.__new__, StateUpdate)


def auto_workers() -> int:
    """Worker processes for ``workers=None``: 1. The vectorised decoder (numpy kernel,
    one pass per batch) decodes faster than the parent alone can check, route and
    pickle frames to workers, whatever the number of aircraft or cores: on the
    benchmark's recordings (one busy aircraft, and many) serial decoding was faster
    than 2 workers (benchmarks/ingest.py, its "file -> updates" rows). ``--workers N``
    still runs N."""
    return 1


def _addresses(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    """ICAO address of each frame (rows of 7 or 14 bytes): bytes 1-3 for DF11/17/18/19,
    else the CRC-24 of the frame without its parity, XOR the parity (the AP field)."""
    n = rows.shape[1] - 3
    crc = np.zeros(len(rows), dtype=np.uint32)
    for k in range(n):
        crc = ((crc << 8) & 0xFFFFFF) ^ _TABLE[((crc >> 16) ^ rows[:, k]) & 0xFF]
    r = rows.astype(np.uint32)
    parity = (r[:, n] << 16) | (r[:, n + 1] << 8) | r[:, n + 2]
    direct = (r[:, 1] << 16) | (r[:, 2] << 8) | r[:, 3]
    return np.where(_ADDRESS_IN_FRAME[rows[:, 0] >> 3], direct, crc ^ parity)


def frame_addresses(hexes: list[str]) -> npt.NDArray[np.uint32]:
    """The ICAO address each valid hex frame (14 or 28 digits) is about, as rs1090
    reports it in ``icao24`` (a short format, DF < 16, sent as 112 bits is read from
    its first 56, as rs1090 does).

    >>> [f"{a:06x}" for a in frame_addresses(["8D4840D6202CC371C32CE0576098",
    ...                                        "5d4840d6a7c3e1"])]
    ['4840d6', '4840d6']
    """
    out = np.zeros(len(hexes), dtype=np.uint32)
    lens = np.fromiter(map(len, hexes), dtype=np.int64, count=len(hexes))
    for size in (14, 28):
        sel = np.flatnonzero(lens == size)
        if len(sel):
            joined = "".join([hexes[i] for i in sel.tolist()])
            rows = np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(-1, size // 2)
            addr = _addresses(rows)
            if size == 28:  # a short format (DF < 16) in a long frame: rs1090 reads
                # its first 56 bits
                short = rows[:, 0] < (16 << 3)
                addr[short] = _addresses(np.ascontiguousarray(rows[short, :7]))
            out[sel] = addr
    return out


def _serve(inbox: BinaryIO, outbox: BinaryIO) -> None:
    """Worker loop (``python -m skyaccord.ingest.parallel``): the decoder's settings,
    then chunks until None, each answered with ``(indices, update tuples, rejected,
    examples)`` or an error message."""
    # one thread per worker for rs1090's Rust (rayon) pool: the workers already use
    # the cores
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    gc.disable()
    reference, source = pickle.load(inbox)
    decoder = ModeSDecoder(reference=reference, source=source)
    while (job := pickle.load(inbox)) is not None:
        idx, ts, hexes, where, lines = job
        try:
            decoder.stats = FeedStats()
            frames = list(map(RawFrame, ts, hexes, itertools.repeat(where), lines))
            ups, pos = decoder.decode_indexed(frames, math.inf, 4096)
            answer: object = ([idx[p] for p in pos], [tuple(u) for u in ups],
                              dict(decoder.stats.rejected), decoder.stats.examples)
        except Exception as exc:  # reported to the parent, which raises
            answer = repr(exc)
        pickle.dump(answer, outbox, pickle.HIGHEST_PROTOCOL)
        outbox.flush()


class _Worker:
    """One worker process, fed by a thread (a large chunk never blocks the parent)."""

    def __init__(self, k: int, reference: tuple[float, float] | None, source: str) -> None:
        self.name = f"decoder worker {k}"
        self.proc = subprocess.Popen([sys.executable, "-m", "skyaccord.ingest.parallel"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.feeder = threading.Thread(target=self._feed, name=self.name, daemon=True)
        self.feeder.start()
        self.jobs.put((reference, source))

    def _feed(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while True:
                job = self.jobs.get()
                pickle.dump(job, stdin, pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                if job is None:
                    break
        except (BrokenPipeError, OSError):
            pass  # the worker died: the reader reports it
        finally:
            stdin.close()

    def get(self) -> Any:
        assert self.proc.stdout is not None
        try:
            got = pickle.load(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError, OSError):
            raise FeedError(f"{self.name} died (exit code {self.proc.poll()})") from None
        if isinstance(got, str):
            raise FeedError(f"{self.name} failed: {got}")
        return got

    def close(self) -> None:
        self.jobs.put(None)
        self.feeder.join(5.0)
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class _Pool:
    def __init__(self, n: int, reference: tuple[float, float] | None, source: str) -> None:
        self.workers: list[_Worker] = []
        try:
            for k in range(n):
                self.workers.append(_Worker(k, reference, source))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for w in self.workers:
            w.close()


def decode_parallel(frames: Iterator[RawFrame], stats: FeedStats, *,
                    reference: tuple[float, float] | None = None, source: str = "",
                    workers: int = 2, chunk: int = 50_000,
                    reorder_s: float = 1.0) -> Iterator[list[StateUpdate]]:
    """Chunks of updates from ``frames``, decoded on ``workers`` processes: the same
    updates in the same order, and the same counts in ``stats``, as
    ``ModeSDecoder(stats, reference, source).decode`` over the same chunks."""
    pool = _Pool(workers, reference, source)
    t_last = -math.inf
    pending = 0  # chunks sent, not yet collected
    try:
        while True:
            enabled = gc.isenabled()
            gc.disable()
            try:
                buf = list(itertools.islice(frames, chunk))
                if buf:
                    t_last = _send(pool, buf, stats, t_last, reorder_s)
                    pending += 1
                if pending and (pending > 1 or not buf):
                    out = _collect(pool, stats)
                    pending -= 1
                else:
                    out = None
            finally:
                if enabled:
                    gc.enable()
            if out is not None:
                yield out
            if not buf and not pending:
                return
    finally:
        pool.close()


def _send(pool: _Pool, buf: list[RawFrame], stats: FeedStats, t_last: float,
          reorder_s: float) -> float:
    """Check ``buf`` in global order, route its frames to the workers; the new latest t."""
    stats.read += len(buf)
    keep: list[int] = []
    for i, f in enumerate(buf):
        latest = screen_frame(f, t_last, reorder_s, stats)
        if latest is None:
            continue
        t_last = latest
        keep.append(i)
    n = len(pool.workers)
    hexes = [buf[i].frame for i in keep]
    part = (frame_addresses(hexes) % n).astype(np.intp)
    keep_a = np.asarray(keep, dtype=np.intp)
    # one source name per chunk (frames of one file share it)
    where = buf[0].where
    for k, w in enumerate(pool.workers):
        sel = keep_a[part == k].tolist()
        w.jobs.put((sel, [buf[i].t for i in sel], [buf[i].frame for i in sel], where,
               [buf[i].line for i in sel]))
    return t_last


def _collect(pool: _Pool, stats: FeedStats) -> list[StateUpdate]:
    idx: list[int] = []
    ups: list[tuple[Any, ...]] = []
    for w in pool.workers:
        got = w.get()
        i, u, rejected, examples = got
        idx += i
        ups += u
        for reason, k in rejected.items():
            stats.rejected[reason] += k
        for reason, ex in examples.items():
            stats.examples.setdefault(reason, ex)
    stats.updates += len(ups)
    order = np.argsort(np.asarray(idx, dtype=np.int64), kind="stable").tolist()
    return list(map(_new_update, [ups[j] for j in order]))


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
