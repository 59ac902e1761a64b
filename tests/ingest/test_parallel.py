"""The parallel decoder (``open_feed(..., workers=N)``) gives the serial decoder's exact
results: the same updates in the same order and the same counts per reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import rs1090

from skyaccord.ingest import open_feed
from skyaccord.ingest.parallel import auto_workers, frame_addresses
from skyaccord.ingest.states import FeedStats, StateUpdate
from tests.ingest.conftest import ATLANTA, DATA, readdress, sample_lines

RAW = ["short_flights.csv", "sample_dump1090.bin", "full_flight_landing.jsonl.gz",
       "full_flight_takeoff.jsonl.gz"]


def _run(path: Path, workers: int, chunk: int,
         reference: tuple[float, float] | None = None
         ) -> tuple[list[StateUpdate], FeedStats]:
    stats = FeedStats(path.name)
    ups = [u for c in open_feed(path, "modes", stats, reference=reference, chunk=chunk,
                                workers=workers) for u in c]
    return ups, stats


def _same(path: Path, chunk: int, reference: tuple[float, float] | None = None) -> int:
    serial, s1 = _run(path, 1, chunk, reference)
    par, s2 = _run(path, 2, chunk, reference)
    assert par == serial
    assert (s2.read, s2.updates, s2.rejected) == (s1.read, s1.updates, s1.rejected)
    assert s1.rejected.keys() <= s2.examples.keys()
    return len(serial)


@pytest.mark.parametrize("name", RAW)
def test_parallel_equals_serial_on_real_recordings(name: str) -> None:
    # small chunks: several chunks in flight, aircraft state carried across them
    assert _same(DATA / name, chunk=300) > 100


def test_addresses_are_rs1090s() -> None:
    """DF0/4/5/16/20/21 carry the address in the parity; a short format sent as 112
    bits is read from its first 56 bits, as rs1090 does."""
    frames: list[str] = []
    for name in RAW[2:]:
        with gzip.open(DATA / name, "rt") as fh:
            frames += [json.loads(line)["frame"] for line in fh]
    frames = [f for f in frames if len(f) in (14, 28)]
    dfs = {int(f[:2], 16) >> 3 for f in frames}
    assert {0, 4, 5, 16, 17, 20, 21} <= dfs
    got = frame_addresses(frames)
    n = 0
    for f, a, msg in zip(frames, got, rs1090.decode(frames), strict=True):
        if msg is not None:
            assert f"{a:06x}" == msg["icao24"], f
            n += 1
    assert n > 4000


def test_parallel_equals_serial_with_bad_frames(tmp_path: Path) -> None:
    """Refusals of the parent (not hex, bad length, time backwards) and of the workers
    (crc, unknown address, cpr) are counted once, the same as serially."""
    base = sample_lines()
    lines = []
    for k in range(6):  # six copies, each with its own addresses: many aircraft
        for t, f in base:
            lines.append((t + k * 0.01, readdress(f, f"{0xA00000 + k * 16 + int(f[7], 16):06x}")
                          if int(f[:2], 16) >> 3 == 17 else f))
    lines.sort(key=lambda x: x[0])
    text = [f"{t:.6f} {f}" for t, f in lines]
    text[10] = "1.0 zz"                                     # not hex
    text[20] = f"{lines[20][0]} 8d4840"                      # bad length
    text[30] = f"{lines[30][0] - 50} {lines[30][1]}"         # time backwards
    text[40] = f"{lines[40][0]} {lines[40][1][:-2]}00"       # crc
    text[50] = f"{lines[50][0]} 5d4840d6a7c3e1"              # unknown address (DF11 ok)
    text[60] = f"{lines[60][0]} 2000171806a983"              # DF4 from nobody
    path = tmp_path / "feed.txt"
    path.write_text("\n".join(text) + "\nnot a frame line\n", encoding="utf-8")
    _same(path, chunk=250)
    _same(path, chunk=250, reference=ATLANTA)
    _, stats = _run(path, 2, 250)
    assert {"not hex", "bad length", "time backwards", "crc", "bad line"} <= \
        stats.rejected.keys()


def test_parallel_equals_serial_on_benchmark_copies(tmp_path: Path) -> None:
    from benchmarks.ingest import build_feed

    feed = build_feed(40)
    path = tmp_path / "copies.txt"
    path.write_text("".join(f"{t:.6f} {f}\n" for t, f in feed), encoding="utf-8")
    assert _same(path, chunk=2000) > 8000


def test_auto_workers() -> None:
    assert auto_workers() == 1
