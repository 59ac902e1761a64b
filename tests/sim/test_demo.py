"""``skyaccord sim demo``: the busiest hours of the shipped theatre through three nodes,
a summary and the report (typer's runner, in process); with ``--serve``, the us node's
picture served on loopback (a process of its own)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app


def test_demo_summarizes_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sim", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "north-west Syria" in out
    for level in ("preventive", "corrective", "warning", "predicted", "incursion"):
        assert level in out
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # the summary printed is the report's: incursions, the near miss, the line
    for inc in summary["incursions"]:
        assert f"incursion: {inc['id']} ({inc['party']}) into {inc['zone']}" in out
    assert {i["id"] for i in summary["incursions"]} == {"RU-FENCER-1", "RU-FENCER-2"}
    assert "near miss: RU-FLANKER-2 / US-VIPER-2" in out
    assert f"overdue responses at the end: {summary['overdue']}" in out
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "run" / "tracks.npz").is_file()


def test_demo_serve_keeps_the_picture_up(tmp_path: Path) -> None:
    """``skyaccord demo --serve`` in its own process: it prints the picture's address
    and a viewer token, the us node's API answers on loopback (its tracks while the run
    goes; nothing without the token) and stays up after the summary, until stopped."""
    import os
    import re
    import signal
    import socket
    import subprocess
    import sys
    import threading

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "skyaccord", "demo", "--serve", "--port", str(port),
         "--speed", "1000000", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"})
    err: list[str] = []
    out: list[str] = []
    readers = [threading.Thread(target=sink.extend, args=(stream,), daemon=True)
               for stream, sink in ((proc.stderr, err), (proc.stdout, out))]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 240
        token = None
        while time.monotonic() < deadline and token is None and proc.poll() is None:
            m = re.search(r"picture: http://127\.0\.0\.1:(\d+)/ \(viewer token (sky_\S+)\)",
                          "".join(err))
            if m:
                assert int(m.group(1)) == port
                token = m.group(2)
            time.sleep(0.2)
        assert token, "".join(err)[-2000:]
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10.0) as c:
            deadline = time.monotonic() + 30
            while True:
                try:
                    r = c.get("/tracks", headers={"authorization": f"Bearer {token}"})
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert r.status_code == 200
            assert c.get("/tracks").status_code == 401
            # the run ends, the summary is printed, and the node is still there
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and "Ctrl-C stops" not in "".join(out):
                assert proc.poll() is None, "".join(err)[-2000:]
                time.sleep(0.5)
            assert "Ctrl-C stops" in "".join(out)
            assert f"picture: {url}/" in "".join(out)
            alerts = c.get("/alerts", headers={"authorization": f"Bearer {token}"})
            assert alerts.status_code == 200 and alerts.json()["t"] is not None
            assert (tmp_path / "report" / "index.html").is_file()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
