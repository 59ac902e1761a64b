"""The command line's exit codes, one table (README "Commands"): 0 done, 1 the run
failed, 2 bad input, 3 refused — checked per command in real processes through
``skyaccord.cli.main`` (``python -m skyaccord``), the way users and scripts see them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from skyaccord.protocol import default_accord_text

TRACKS = ("id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
          "a,us,manned,35,36,30000,480,90,0\nb,ru,manned,35,36.4,30000,480,270,0\n")


def intent(id_: str, party: str, lon: float = 38.5) -> str:
    return json.dumps({"type": "Feature",
                       "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
                       "properties": {"id": id_, "party": party, "radius_m": 2000,
                                      "alt_lower_ft": 10000, "alt_upper_ft": 12000,
                                      "time_start": "2025-06-01T10:00:00Z",
                                      "time_end": "2025-06-01T11:00:00Z"}})


def setup(d: Path) -> None:
    (d / "t.csv").write_text(TRACKS, encoding="utf-8")
    (d / "bad.csv").write_text("id,party\n", encoding="utf-8")
    (d / "a.toml").write_text(default_accord_text(), encoding="utf-8")
    (d / "bad.toml").write_text("[accord]\nid = 1\n", encoding="utf-8")
    (d / "us.json").write_text(intent("op-us", "us"), encoding="utf-8")
    (d / "ru.json").write_text(intent("op-ru", "ru", 38.52), encoding="utf-8")


def skyaccord(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skyaccord", *args], cwd=d,
                          capture_output=True, text=True, timeout=120)




CASES: list[tuple[str, int, list[str]]] = [
    ("detect: done", 0, ["detect", "t.csv"]),
    ("detect: bad header", 2, ["detect", "bad.csv"]),
    ("detect: no file", 2, ["detect", "none.csv"]),
    ("advise: unknown id", 2, ["advise", "t.csv", "--id", "zz"]),
    ("accord check: done", 0, ["accord", "check", "a.toml"]),
    ("accord check: bad", 2, ["accord", "check", "bad.toml"]),
    ("airspace check: done", 0, ["airspace", "check", "t.csv"]),
    ("airspace check: bad zones", 2, ["airspace", "check", "t.csv", "--zones", "a.toml"]),
    ("intents list: no store", 2, ["intents", "list", "--db", "none.db"]),
    ("intents submit: store unreachable", 1,
     ["intents", "submit", "us.json", "--db", "postgresql://nobody@127.0.0.1:9/x"]),
]


@pytest.mark.parametrize("name, code, args", CASES, ids=[c[0] for c in CASES])
def test_exit_code(tmp_path: Path, name: str, code: int, args: list[str]) -> None:
    setup(tmp_path)
    r = skyaccord(tmp_path, *args)
    assert r.returncode == code, (name, r.returncode, r.stdout[-500:], r.stderr[-500:])
    assert "Traceback" not in r.stderr
    if code:
        assert r.stderr.startswith("error: ") or "error:" in r.stderr, r.stderr


def test_refused_is_3_and_only_for_refusals(tmp_path: Path) -> None:
    setup(tmp_path)
    assert skyaccord(tmp_path, "intents", "submit", "us.json", "--db", "r.db"
                     ).returncode == 0
    refused = skyaccord(tmp_path, "intents", "submit", "ru.json", "--db", "r.db")
    assert refused.returncode == 3 and "op-us" in refused.stdout
    assert skyaccord(tmp_path, "intents", "check", "ru.json", "--db", "r.db"
                     ).returncode == 3


def test_serve_on_a_busy_port_is_a_failed_run_not_a_refusal(tmp_path: Path) -> None:
    """uvicorn exits 3 when it cannot bind; the node turns that into 1 (3 means refused)."""
    assert skyaccord(tmp_path, "node", "init", "n", "--party", "us").returncode == 0
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = skyaccord(tmp_path, "serve", "--config", "n/node.toml", "--port", str(port))
    assert r.returncode == 1, (r.returncode, r.stderr[-800:])
    assert f"could not start on 127.0.0.1:{port}" in r.stderr




def test_serve_takes_a_postgres_log_on_the_command_line(tmp_path: Path) -> None:
    """``--db`` was typed as a path, so ``postgresql://...`` became a file name: now it
    is the log's URL (an unreachable server is a failed run, 1, and creates nothing)."""
    assert skyaccord(tmp_path, "node", "init", "n", "--party", "us").returncode == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = skyaccord(tmp_path, "serve", "--config", "n/node.toml", "--db",
                  "postgresql://nobody:secret@127.0.0.1:9/x")
    assert r.returncode == 1, r.stderr[-800:]
    assert "cannot connect to PostgreSQL" in r.stderr and "secret" not in r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
