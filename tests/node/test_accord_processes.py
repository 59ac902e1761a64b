"""The accord's life with real node processes (``skyaccord serve`` on loopback): a
version proposed, answered and taking effect at its time on every node; a rejection; a
node killed mid-negotiation; a message under a superseded version refused; a suspension
that stops the automatic conflict messages until a new version; a distress call that
overtakes 2,000 queued notices."""

from __future__ import annotations

import dataclasses
import json
import math
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from skyaccord.line import LineStore, Message, Node, generate_key
from skyaccord.line.keys import SigningKey, load_key, save_key, sign
from skyaccord.line.messages import signing_bytes
from skyaccord.line.node import transmit_bytes
from skyaccord.line.peer import envelope_bytes
from skyaccord.protocol import load_accord
from tests.line.helpers import accord_version
from tests.support.local_nodes import LocalNodes

PARTIES = ("us", "ru", "tr")


@dataclasses.dataclass
class World:
    nodes: LocalNodes
    keys: dict[str, SigningKey]
    root: Path

    def v2(self, effective_at: float, parties: tuple[str, ...], **changes: Any) -> str:
        return accord_version(self.keys, parties=parties, version=2,
                              effective_at=effective_at, **changes)


def world(tmp_path: Path, parties: tuple[str, ...]) -> World:
    keys = {p: generate_key() for p in PARTIES}
    (tmp_path / "accord.toml").write_text(accord_version(keys, parties=parties),
                                          encoding="utf-8")
    for p in parties:
        save_key(keys[p], tmp_path / f"{p}.key")
    return World(LocalNodes(tmp_path, parties), keys, tmp_path)


@pytest.fixture
def duo(tmp_path: Path) -> Iterator[World]:
    w = world(tmp_path, ("us", "ru"))
    yield w
    w.nodes.stop_all()


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[World]:
    w = world(tmp_path, PARTIES)
    yield w
    w.nodes.stop_all()


def wait_for(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def proposal(n: LocalNodes, party: str, sha: str) -> dict[str, Any] | None:
    return next((p for p in n.get(party, "/accord/proposals") if p["sha256"] == sha), None)


def propose(w: World, text: str, to: list[str] | None = None) -> dict[str, Any]:
    return w.nodes.post("us", "/accord/proposals",  # type: ignore[no-any-return]
                        {"accord_toml": text, "to": to, "text": "new version"})


def answer(n: LocalNodes, party: str, sha: str, decision: str, why: str) -> None:
    n.post(party, f"/accord/proposals/{sha}/answer", {"decision": decision, "text": why})


def test_two_party_version_takes_effect_at_its_time_on_both(duo: World) -> None:
    n = duo.nodes
    for p in ("us", "ru"):
        n.start(p)
    v1 = n.get("us", "/accord")
    effective = math.ceil(time.time()) + 12.0
    made = propose(duo, duo.v2(effective, ("us", "ru"), unmanned=(2.0, 1000.0)), ["ru"])
    sha = made["sha256"]
    assert made["status"] == "pending" and made["awaited"] == ["ru"]
    assert "separation[unmanned/unmanned].horizontal_nm: 1 NM -> 2 NM" in made["diff_text"]
    seen = wait_for(lambda: proposal(n, "ru", sha), what="the proposal at ru")
    assert {c["path"] for c in seen["diff"]} == {
        "accord.version", "accord.effective", "separation[unmanned/unmanned].horizontal_nm",
        "separation[unmanned/unmanned].vertical_ft"}
    # owed like a request: due after the accord's response deadline
    owed = [d for d in n.get("ru", "/line/overdue") if d["what"] == "answer"]
    assert owed and owed[0]["debtor"] == "ru" and owed[0]["level"] == "pending"
    answer(n, "ru", sha, "accept", "agreed at the working group")
    for p in ("us", "ru"):
        wait_for(lambda p=p: proposal(n, p, sha)["status"] == "accepted", what="accepted")  # type: ignore[misc]
        assert n.get(p, "/accord")["version"] == 1  # not before its time
    assert not [d for d in n.get("ru", "/line/overdue") if d["what"] == "answer"]
    wait_for(lambda: time.time() >= effective + 0.05, what="the effective time")
    for p in ("us", "ru"):
        now = n.get(p, "/accord")
        assert now["version"] == 2 and now["sha256"] == sha
        (uu,) = [r for r in now["accord"]["separation"]
                 if r["classes"] == ["unmanned", "unmanned"]]
        assert (uu["horizontal_nm"], uu["vertical_ft"]) == (2.0, 1000.0)
        switch = wait_for(lambda p=p: n.get(p, "/accord")["switches"],  # type: ignore[misc]
                          what="the switch in the log")[-1]
        assert switch["to"] == sha and switch["from"] == v1["sha256"]
        assert switch["switched_at"] - effective < 2.5  # at the next tick, on both
    n.send("us", "ru", "under the new version")
    got = wait_for(lambda: [m for m in n.get("ru", "/line/inbox") if m["kind"] == "text"])
    assert got[0]["accord"] == sha
    # a message made now under the superseded version: refused, both versions named
    env = forged_envelope(duo, "us", "ru", v1["sha256"], time.time())
    r = httpx.post(n.url("ru") + "/line/messages", content=envelope_bytes(env))
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert "superseded" in detail and "v1" in detail and "v2" in detail, detail
    refusals = n.get("ru", "/line/refusals")
    assert refusals[-1]["kind"] == "accord-mismatch"
    shown = [a for a in n.get("ru", "/alerts")["accord"] if a["type"] == "refused"]
    assert shown and shown[-1]["reason"] == detail


def forged_envelope(w: World, sender: str, to: str, accord: str, at: float) -> dict[str, Any]:
    """A text message really signed by ``sender`` under ``accord`` (a sender that kept an
    old version, or a replay of one), with its transmission signature."""
    key = load_key(w.root / f"{sender}.key")
    m = Message(uuid.uuid4().hex, "text", sender, to, 99, at, accord, None, None,
                {"text": "under the old accord"}, "")
    m = dataclasses.replace(m, sig=sign(key, signing_bytes(m)))
    return {"message": m.to_dict(), "transmitted_at": at,
            "transmit_sig": sign(key, transmit_bytes(m.id, to, at))}


def cli(n: LocalNodes, party: str, *args: str) -> Any:
    """``skyaccord ARGS`` against ``party``'s node, through its HTTP API."""
    from typer.testing import CliRunner

    from skyaccord.cli import app

    r = CliRunner().invoke(app, [*args, "--node", n.url(party), "--token", n.token(party)])
    return r


def test_three_party_proposal_one_rejects_never_takes_effect(trio: World) -> None:
    n = trio.nodes
    for p in PARTIES:
        n.start(p)
    effective = math.ceil(time.time()) + 12.0
    new = trio.root / "v2.toml"
    new.write_text(trio.v2(effective, PARTIES, deadline_s=60.0), encoding="utf-8")
    r = cli(n, "us", "accord", "propose", str(new), "--to", "ru")  # tr is missing
    assert r.exit_code == 2 and "goes to ru, tr" in r.output, r.output
    r = cli(n, "us", "accord", "propose", str(new), "--to", "ru", "--to", "tr",
            "--text", "shorter response deadline")
    assert r.exit_code == 0, r.output
    assert "communications.response_deadline_s: 180 s -> 60 s" in r.output
    sha = r.output.split()[1]
    for p in ("ru", "tr"):
        wait_for(lambda p=p: proposal(n, p, sha), what=f"the proposal at {p}")  # type: ignore[misc]
    r = cli(n, "tr", "accord", "proposals")
    assert r.exit_code == 0 and "pending" in r.output and "awaited: ru, tr" in r.output
    answer(n, "ru", sha, "accept", "fine")
    wait_for(lambda: "ru" in proposal(n, "tr", sha)["answers"], what="ru's answer at tr")
    r = cli(n, "tr", "accord", "answer", sha, "--decision", "reject",
            "--reason", "the Hatay buffer is missing")
    assert r.exit_code == 0 and "rejected" in r.output, r.output
    for p in PARTIES:
        got = wait_for(lambda p=p: proposal(n, p, sha)["status"] == "rejected"  # type: ignore[misc]
                       and proposal(n, p, sha), what=f"rejected at {p}")
        assert got["answers"]["tr"]["text"] == "the Hatay buffer is missing"
    wait_for(lambda: time.time() >= effective + 1.5, what="the effective time")
    for p in PARTIES:
        assert n.get(p, "/accord")["version"] == 1
        assert proposal(n, p, sha)["status"] == "rejected"
        assert n.get(p, "/accord")["switches"] == []
    r = cli(n, "ru", "accord", "status")
    assert r.exit_code == 0 and "in force: syria-2015 v1" in r.output


def test_node_killed_mid_negotiation_resumes(trio: World) -> None:
    n = trio.nodes
    for p in PARTIES:
        n.start(p)
    effective = math.ceil(time.time()) + 25.0
    sha = propose(trio, trio.v2(effective, PARTIES, unmanned=(2.0, 1000.0)))["sha256"]
    wait_for(lambda: proposal(n, "ru", sha), what="the proposal at ru")
    answer(n, "ru", sha, "accept", "ok")
    wait_for(lambda: "ru" in (proposal(n, "us", sha) or {}).get("answers", {}))
    n.kill("ru")  # SIGKILL: no clean shutdown
    n.start("ru")
    got = proposal(n, "ru", sha)
    assert got is not None and got["status"] == "pending"
    assert got["awaited"] == ["tr"] and got["answers"]["ru"]["decision"] == "accept"
    n.kill("us")  # the proposer too, before the last answer
    wait_for(lambda: proposal(n, "tr", sha), what="the proposal at tr")
    answer(n, "tr", sha, "accept", "ok")
    n.start("us")
    for p in PARTIES:
        wait_for(lambda p=p: (proposal(n, p, sha) or {}).get("status") == "accepted",  # type: ignore[misc]
                 what=f"accepted at {p}")
    wait_for(lambda: time.time() >= effective + 0.05)
    for p in PARTIES:
        assert n.get(p, "/accord")["version"] == 2


def encounter() -> list[dict[str, Any]]:
    """An American and a Russian fighter head-on 0.5 deg apart (corrective: loss of 5 NM
    in about 112 s)."""
    return [
        {"id": "us-f16", "party": "us", "class": "manned", "lat": 34.5, "lon": 38.0,
         "alt_ft": 20000, "gs_kt": 400, "trk_deg": 0, "vs_fpm": 0},
        {"id": "ru-su30", "party": "ru", "class": "manned", "lat": 35.0, "lon": 38.0,
         "alt_ft": 20000, "gs_kt": 400, "trk_deg": 180, "vs_fpm": 0}]


def conflicts(n: LocalNodes, party: str) -> list[dict[str, Any]]:
    return [m for m in n.get(party, "/line/inbox") if m["kind"] == "conflict"]


def test_suspension_stops_conflict_messages_until_a_new_version(duo: World) -> None:
    n = duo.nodes
    for p in ("us", "ru"):
        n.start(p)
    r = cli(n, "ru", "accord", "suspend", "--reason", "strike on Shayrat")
    assert r.exit_code == 0 and "told 1 parties" in r.output, r.output
    wait_for(lambda: n.get("us", "/accord")["suspended"], what="the suspension at us")
    assert n.get("us", "/accord")["suspended"][0]["party"] == "ru"
    (shown,) = n.get("us", "/alerts")["accord"]
    assert shown["type"] == "suspension" and shown["reason"] == "strike on Shayrat"
    for p in ("us", "ru"):
        n.post(p, "/tracks", {"tracks": encounter()})
    # the conflict is seen (alerts) but not told, on either side, for several ticks
    wait_for(lambda: [a for a in n.get("us", "/alerts")["conflicts"]], what="the alert")
    wait_for(lambda: n.get("us", "/accord")["withheld"] > 0, what="withheld messages")
    time.sleep(3.0)
    assert conflicts(n, "ru") == [] and conflicts(n, "us") == []
    # resumption: a new version accepted by both
    effective = math.ceil(time.time()) + 10.0
    sha = propose(duo, duo.v2(effective, ("us", "ru")))["sha256"]
    wait_for(lambda: proposal(n, "ru", sha), what="the proposal at ru")
    answer(n, "ru", sha, "accept", "resume")
    wait_for(lambda: time.time() >= effective + 0.05)
    wait_for(lambda: n.get("us", "/accord")["version"] == 2)
    assert n.get("us", "/accord")["suspended"] == []
    for p in ("us", "ru"):
        n.post(p, "/tracks", {"tracks": encounter()})
    got = wait_for(lambda: conflicts(n, "ru"), what="the conflict message after resuming")
    assert got[0]["accord"] == sha


def test_distress_overtakes_two_thousand_queued_notices(trio: World) -> None:
    n = trio.nodes
    # us queued 2,000 notices for ru while ru was down (one transaction, as a tick does)
    accord = load_accord(trio.root / "accord.toml")
    with LineStore(n.db("us"), "us", trio.keys["us"]) as store:
        node = Node("us", trio.keys["us"], accord, store)
        t = time.time()
        node.send_many([("ru", "notice", {"start_s": t, "end_s": t + 3600,
                                          "intent_ids": [f"i{k}"]}) for k in range(2000)])
    n.start("us")
    n.start("tr")
    events: list[dict[str, Any]] = []
    url = n.url("tr").replace("http", "ws") + f"/live?token={n.token('tr')}"
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        posted = time.time()
        r = cli(n, "us", "distress", "--lat", "35.4", "--lon", "35.9", "--frequency", "243",
                "--callsign", "SHARK 21", "--nature", "ejection")
        assert r.exit_code == 0, r.output
        assert [ln.split()[3].rstrip(",") for ln in r.output.splitlines()] == ["ru", "tr"]
        while not any(e["type"] == "distress" for e in events):
            events.append(json.loads(ws.recv(timeout=10)))
        shown = next(e for e in events if e["type"] == "distress")
        assert shown["message"]["body"]["callsign"] == "SHARK 21"
        assert time.time() - posted < 3.0  # at once, not at some later tick
    n.start("ru")
    inbox = wait_for(lambda: [m for m in n.get("ru", "/line/inbox")
                              if m["kind"] in ("distress", "notice")], what="ru's inbox")
    assert inbox[0]["kind"] == "distress", [m["kind"] for m in inbox[:5]]
    assert inbox[0]["seq"] == 1  # the priority lane's own numbering
    call = inbox[0]["id"]
    n.post("ru", f"/distress/{call}/ack", {"text": "rescue helicopter launched"})
    got = wait_for(lambda: [d for d in n.get("us", "/distress")
                            if d["message"]["to"] == "ru" and d["answers"]])
    assert got[0]["answers"][0]["text"] == "rescue helicopter launched"
    # the notices still arrive, in order, behind it
    later = wait_for(lambda: len([m for m in n.get("ru", "/line/inbox")
                                  if m["kind"] == "notice"]) >= 50, timeout_s=60)
    assert later
