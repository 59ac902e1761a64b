"""Feeds into a node's picture: a live SBS socket (dump1090's port 30003 format) and a
recorded file played at its own pace from now; stale tracks age out."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from skyaccord.node.loop import FeedReader
from tests.ingest.test_tcp import serve
from tests.node.conftest import T0, Harness

DATA = Path(__file__).resolve().parents[1] / "data"


def sbs(kind: int, icao: str, t: float, *fields: str) -> bytes:
    """One SBS-1 MSG line at UTC time ``t`` (fields from the 11th on)."""
    d = datetime.fromtimestamp(t, UTC)
    day, clock = d.strftime("%Y/%m/%d"), d.strftime("%H:%M:%S.%f")[:-3]
    rest = list(fields) + [""] * (11 - len(fields))
    return (",".join(["MSG", str(kind), "1", "1", icao, "1", day, clock, day, clock, *rest])
            + "\n").encode()


def wait_for_tracks(h: Harness, n: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(h.node.runtime.picture) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(h.node.runtime.picture) >= n


def test_live_sbs_socket_feeds_the_picture(harness: Harness) -> None:
    now = time.time()
    harness.clock.t = now
    # altitude and position (MSG,3), then ground speed, track and vertical rate (MSG,4)
    data = (sbs(3, "4CA123", now - 1, "", "21000", "", "", "35.1", "38.2")
            + sbs(4, "4CA123", now - 1, "", "", "420", "90", "", "", "0"))
    with serve([data]) as port:  # a dump1090-like socket that stays open
        reader = FeedReader(harness.node.runtime, f"tcp://127.0.0.1:{port}#sbs")
        reader.start()
        try:
            wait_for_tracks(harness, 1)
        finally:
            reader.stop()
    report = harness.node.runtime.tick()
    snap = harness.node.runtime.snapshot
    assert report.tracks == 1 and list(snap.id) == ["4ca123"]
    # 420 kt due east for 1 s at 35.1 N: +0.0025 deg of longitude
    assert snap.lat[0] == 35.1 and abs(snap.lon[0] - 38.2 - 0.0025) < 2e-4
    assert snap.alt_ft[0] == 21000.0


def test_recorded_file_is_played_from_now(harness: Harness) -> None:
    harness.clock.t = time.time()
    reader = FeedReader(harness.node.runtime, str(DATA / "sample_dump1090.sbs"))
    start = time.time()
    reader.start()
    try:
        wait_for_tracks(harness, 1)
    finally:
        reader.stop()
    seen = harness.node.runtime.picture.column("t_seen")
    # the recording (23 Nov 2026) is mapped onto now: reports are seconds old, not days
    assert abs(float(seen.max()) - start) < 5.0
    assert reader.error is None


def test_stale_tracks_age_out_and_are_listed_removed(harness: Harness) -> None:
    harness.post_tracks([{"id": "old", "party": "us", "class": "manned", "lat": 35,
                          "lon": 38, "alt_ft": 9000, "gs_kt": 300, "trk_deg": 0}])
    assert harness.node.runtime.tick().tracks == 1
    harness.clock.t = T0 + 61.0  # max_track_age_s is 60 s
    report = harness.node.runtime.tick()
    assert report.tracks == 0 and report.removed_tracks == ["old"]
