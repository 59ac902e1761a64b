"""Live TCP feeds against a real local server serving recorded data, with a disconnect."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from skyaccord.errors import FeedError
from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.modes import RawFrame
from skyaccord.ingest.states import StateUpdate
from skyaccord.ingest.tcp import TcpFeed

from .conftest import beast_frame, sample_lines
from .test_formats import SBS


@contextmanager
def serve(parts: list[bytes], hold_last: bool = True) -> Iterator[int]:
    """A server that sends ``parts[k]`` on its k-th connection then hangs up (the last
    connection stays open until the test ends if ``hold_last``)."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(10.0)
    port = srv.getsockname()[1]
    done = threading.Event()

    def run() -> None:
        for k, data in enumerate(parts):
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(data)
                if k == len(parts) - 1 and hold_last:
                    done.wait(10.0)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        yield port
    finally:
        done.set()
        srv.close()
        th.join(5.0)


def collect(feed: TcpFeed, n: int) -> list[StateUpdate]:
    out: list[StateUpdate] = []
    for chunk in feed:
        out.extend(chunk)
        if len(out) >= n:
            feed.stop.set()
    return out


def test_sbs_feed_survives_a_disconnect() -> None:
    lines = [ln for ln in SBS.splitlines() if ln.startswith("MSG,") and ",9," not in ln]
    good = lines[:4]  # four good updates, as in test_formats
    half1 = ("\n".join(good[:2]) + "\n" + good[2][:30]).encode()  # cut mid-line
    half2 = ("\n".join(good[2:]) + "\n").encode()
    sleeps: list[float] = []
    with serve([half1, half2]) as port:
        feed = TcpFeed("127.0.0.1", port, "sbs", backoff_s=0.01, read_timeout_s=0.2,
                       sleep=sleeps.append)
        got = collect(feed, 4)
    assert [u.kind for u in got] == ["identity", "position", "velocity", "identity"]
    assert feed.connections == 2
    assert feed.stats.rejected["disconnect"] == 1
    assert feed.stats.rejected["bad line"] == 1  # the half line cut by the disconnect
    assert sleeps == [0.01]


def test_raw_and_beast_feeds_decode_like_the_file() -> None:
    sample = sample_lines()[:150]
    expected = ModeSDecoder().decode([RawFrame(t, f) for t, f in sample])
    text = "".join(f"{t} {f}\n" for t, f in sample).encode()
    cut = len(text) // 2
    with serve([text[:cut], text[cut:]]) as port:
        feed = TcpFeed("127.0.0.1", port, "raw", backoff_s=0.01, read_timeout_s=0.2,
                       sleep=lambda s: None)
        got = collect(feed, len(expected))
    assert [u._replace(source="") for u in got] == expected
    assert feed.stats.rejected["disconnect"] == 1

    clock = iter(range(10**6))
    blob = b"".join(beast_frame(f, 0) for _, f in sample)
    with serve([blob[:1001], blob[1001:]]) as port:
        feed = TcpFeed("127.0.0.1", port, "beast", backoff_s=0.01, read_timeout_s=0.2,
                       sleep=lambda s: None, clock=lambda: float(next(clock)))
        got = collect(feed, len(expected))

    def strip(u: StateUpdate) -> tuple[object, ...]:
        return (u.icao24, u.kind, u.lat, u.lon, u.alt_ft, u.gs_kt, u.callsign)

    assert [strip(u) for u in got] == [strip(u) for u in expected]
    assert feed.stats.rejected["disconnect"] == 1


def test_backoff_doubles_then_gives_up() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    sleeps: list[float] = []
    feed = TcpFeed("127.0.0.1", port, "sbs", backoff_s=0.5, backoff_max_s=1.5,
                   max_retries=3, sleep=sleeps.append)
    with pytest.raises(FeedError, match="cannot connect after 4 attempt"):
        list(feed)
    assert sleeps == [0.5, 1.0, 1.5]


def test_unknown_kind() -> None:
    with pytest.raises(FeedError, match="kinds are sbs, raw, beast"):
        TcpFeed("127.0.0.1", 1, "json")


def test_replay_command_on_a_live_socket(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``skyaccord replay tcp://...`` over the real sample served as raw lines: the same
    alerts as replaying the file, up to the tick the connection ended in."""
    import csv
    import io

    from typer.testing import CliRunner

    from skyaccord.cli import app
    from skyaccord.ingest import read_updates
    from skyaccord.ingest.replay import replay
    from skyaccord.picture import Picture
    from skyaccord.protocol import default_accord_text

    from .conftest import SAMPLE
    from .test_replay import MAX_AGE, STEP, wide_accord

    accord_file = tmp_path / "wide.toml"
    text = default_accord_text().replace("horizontal_nm = 5.0", "horizontal_nm = 30.0")
    text = text.replace("horizontal_nm = 3.0", "horizontal_nm = 30.0")
    accord_file.write_text(text.replace("vertical_ft = 1000.0", "vertical_ft = 10000.0"),
                           encoding="utf-8")
    data = "".join(f"{t} {f}\n" for t, f in sample_lines()).encode()
    out = tmp_path / "alerts.csv"
    with serve([data], hold_last=False) as port:
        res = CliRunner().invoke(app, [
            "replay", f"tcp://127.0.0.1:{port}", "--format", "modes", "--accord",
            str(accord_file), "--step", str(STEP), "--max-age", str(MAX_AGE),
            "--max-retries", "0", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "connection lost 1 time(s) in a row" in res.output
    assert "disconnect: 1" in res.output
    live = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))[1:]
    updates, _ = read_updates(SAMPLE)
    full = [[f"{a.t:.3f}", a.id1, a.id2, f"{a.t_in_s:.3f}", a.level] for a in
            replay([updates], wide_accord(), picture=Picture(MAX_AGE), step_s=STEP)]
    last_tick = full[-1][0]
    assert live == [row for row in full if row[0] != last_tick] or live == full
    assert len(live) >= 5
