"""A hand-built two-aircraft scenario run through three parties' real nodes.

A us F-16C eastbound and a ru F-16C westbound on parallel lines 1 NM apart (in the
scenario's plane), at 480 kt and the same altitude, each starting 60 km from the
meeting point: the closest approach is 1 NM at 60 km / 480 kt = 243.0 s, and separation
(5 NM) is lost for 2·sqrt(5² − 1²) NM at 960 kt = 36.7 s. Each node detects the pair,
the us node tells ru over the line (signed, acknowledged), us asks ru to act and ru never
answers (respond_probability 0), so ru's debt is overdue at the end; ru asks us, who
answers after 10 s.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from skyaccord.analysis.conduct import summarize
from skyaccord.analysis.report import write_report
from skyaccord.analysis.rundata import load_run
from skyaccord.geo import KT, NM, LocalPlane
from skyaccord.sim.run import RUN_FILES, run_scenario
from skyaccord.sim.scenario import parse_scenario

CENTRE = (35.2, 37.5)  # over the desert, far from any border of the accord's parties


def _scenario() -> str:
    plane = LocalPlane(*CENTRE)

    def ll(x: float, y: float) -> str:
        lat, lon = plane.inverse(np.array([x]), np.array([y]))
        return f"[{float(lat[0]):.9f}, {float(lon[0]):.9f}, 20000]"

    return textwrap.dedent(f"""\
        name: pass
        date: 2015-11-24
        start: "10:00"
        end: "10:10"
        step_s: 5
        seed: 11
        centre: [{CENTRE[0]}, {CENTRE[1]}]
        parties:
          ru: {{respond_probability: 0.0, request_level: warning, notice_s: 600}}
          us: {{respond_delay_s: [10, 10], request_level: warning, notice_s: 600}}
        missions:
          - id: US1
            party: us
            type: F-16C
            start: "10:00"
            route: [{ll(-60_000, 0)}, {ll(60_000, 0)}]
          - id: RU1
            party: ru
            type: F-16C
            start: "10:00"
            route: [{ll(60_000, NM)}, {ll(-60_000, NM)}]
        """)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    result = run_scenario(parse_scenario(_scenario()), out)
    assert result.aircraft == 2 and result.steps == 121
    return out


def test_the_run_directory_holds_everything(run_dir: Path) -> None:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    meta = json.loads((run_dir / "run.json").read_text())
    assert [a["id"] for a in meta["aircraft"]] == ["US1", "RU1"]


def test_closest_approach_is_the_hand_worked_one(run_dir: Path) -> None:
    summary = summarize(load_run(run_dir))
    assert len(summary.encounters) == 1
    e = summary.encounters[0]
    v = 480 * KT
    t0 = parse_scenario(_scenario()).t_start
    assert e["h_miss_nm"] == pytest.approx(1.0, abs=1e-6)
    assert e["v_miss_ft"] == pytest.approx(0.0, abs=1e-6)
    assert e["t_cpa"] - t0 == pytest.approx(60_000 / v, abs=1e-3)
    r = 5 * NM - 1e-6 * NM
    assert e["los_s"] == pytest.approx(2 * math.sqrt(r * r - NM * NM) / (2 * v), abs=1e-3)
    assert e["severity"] == "B" and e["icao"] == "safety not assured"


def test_every_node_alerted_and_the_line_carried_it(run_dir: Path) -> None:
    run = load_run(run_dir)
    levels = {(a["node"], a["level"]) for a in run.alerts if a["change"] != "cleared"}
    for node in ("us", "ru", "tr"):
        assert (node, "warning") in levels
    sent = [m for m in run.messages if m["node"] == "us" and m["direction"] == "sent"
            and m["message"]["kind"] == "conflict" and m["message"]["to"] == "ru"]
    assert sent, "us told ru of the conflict"
    acks = {m["message"]["in_reply_to"] for m in run.messages
            if m["node"] == "us" and m["direction"] == "received"
            and m["message"]["kind"] == "ack"}
    assert {m["message"]["id"] for m in sent} <= acks, "ru acknowledged every message"
    got = [m for m in run.messages if m["node"] == "ru" and m["direction"] == "received"
           and m["message"]["kind"] == "conflict"]
    assert {m["message"]["id"] for m in got} == {m["message"]["id"] for m in sent}


def test_unanswered_request_is_overdue_and_the_answered_one_on_time(run_dir: Path) -> None:
    run = load_run(run_dir)
    summary = summarize(run)
    assert summary.conduct["ru"].requests_received == 1
    assert summary.conduct["ru"].responses_never == 1
    assert summary.conduct["us"].requests_received == 1
    assert summary.conduct["us"].responses_on_time == 1
    # the node's own overdue list says the same (read from GET /line/overdue at the end)
    owed = [d for d in run.overdue["us"] if d["what"] == "response"]
    assert len(owed) == 1 and owed[0]["debtor"] == "ru" and owed[0]["late_s"] > 0
    # the response came 10 s after the request arrived
    req = next(m["message"] for m in run.messages if m["node"] == "ru"
               and m["direction"] == "sent" and m["message"]["kind"] == "request")
    resp = next(m["message"] for m in run.messages if m["node"] == "us"
                and m["direction"] == "sent" and m["message"]["kind"] == "response")
    assert resp["in_reply_to"] == req["id"]
    assert resp["created_at"] - req["created_at"] == pytest.approx(10.0, abs=5.0)


def test_intents_filed_before_the_window_and_noticed(run_dir: Path) -> None:
    run = load_run(run_dir)
    filed = {i["mission"]: i for i in run.intents}
    assert set(filed) == {"US1", "RU1"}
    # the first was accepted; the second overlaps it (same airspace, same time)
    outcomes = sorted(i["outcome"] for i in filed.values())
    assert outcomes[0] == "accepted"
    notices = [m for m in run.messages if m["direction"] == "sent"
               and m["message"]["kind"] == "notice"]
    assert len(notices) == 2 * outcomes.count("accepted")


def test_same_seed_same_run(run_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    run_scenario(parse_scenario(_scenario()), again)
    with np.load(run_dir / "tracks.npz") as a, np.load(again / "tracks.npz") as b:
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k
    s1, s2 = summarize(load_run(run_dir)).to_dict(), summarize(load_run(again)).to_dict()
    for key in ("encounters", "severity", "conduct", "alerts_by_level", "messages"):
        assert s1[key] == s2[key], key


def test_report_is_written(run_dir: Path, tmp_path: Path) -> None:
    summary = write_report(run_dir, tmp_path / "rep")
    page = (tmp_path / "rep" / "index.html").read_text()
    for name in ("map.png", "separation.png", "line.png", "summary.json"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
    assert "US1" in page and "RU1" in page and "safety not assured" in page
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["severity"] == \
        summary.severity


def test_replay_plays_the_recorded_tracks(run_dir: Path, tmp_path: Path) -> None:
    """``skyaccord replay`` reads the run's tracks CSV: the pair is detected again."""
    from typer.testing import CliRunner

    from skyaccord.cli import app

    out = tmp_path / "alerts.csv"
    result = CliRunner().invoke(app, ["replay", str(run_dir / "tracks.csv"), "--format",
                                      "tracks", "--step", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "RU1" in text and "US1" in text and "warning" in text
