"""Conflict messages from tactical detection; the `keys new`, `line send|inbox|show`
commands on real files."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.line import load_key, public_key_b64, tactical_conflict_bodies
from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tracks import Tracks
from tests.line.helpers import Pair

runner = CliRunner()


def test_conflict_messages_go_to_the_other_party(pair: Pair) -> None:
    # us1 and ru1 head-on at the same level 10 NM apart, 480 kt each: conflict;
    # us2 and us3 converge too, but that is no business of ru's.
    tracks = Tracks(id=np.array(["us1", "ru1", "us2", "us3"]),
                    party=np.array(["us", "ru", "us", "us"]),
                    aircraft_class=np.array(["manned"] * 4),
                    lat=np.array([35.0, 35.0, 34.0, 34.0]),
                    lon=np.array([36.0, 36.0 + 10 / 60 / np.cos(np.radians(35.0)), 36.0,
                                  36.0 + 8 / 60 / np.cos(np.radians(34.0))]),
                    alt_ft=np.array([20_000.0, 20_000.0, 15_000.0, 15_000.0]),
                    gs_kt=np.array([480.0, 480.0, 300.0, 300.0]),
                    trk_deg=np.array([90.0, 270.0, 90.0, 270.0]),
                    vs_fpm=np.zeros(4))
    accord = default_accord()
    conflicts = detect(tracks, accord)
    assert len(conflicts) == 2
    bodies = tactical_conflict_bodies(tracks, conflicts, accord, "us")
    assert [(to, b["id1"], b["id2"]) for to, b in bodies] == [("ru", "ru1", "us1")]
    body = bodies[0][1]
    # closing at 960 kt from 10 NM: loss of 5 NM at 5/960 h = 18.75 s, CPA at 37.5 s
    assert abs(body["t_in_s"] - 18.75) < 0.5 and abs(body["tcpa_s"] - 37.5) < 0.5
    assert tactical_conflict_bodies(tracks, conflicts, accord, "tr") == []
    msg = pair.us.send("ru", "conflict", body)
    pair.us.deliver_once()
    assert pair.ru.store.find(msg.id) is not None


def test_keys_send_inbox_show(pair: Pair, files: Path) -> None:
    r = runner.invoke(app, ["keys", "new", "--out", str(files / "new.key")])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == public_key_b64(load_key(files / "new.key"))
    assert len(base64.b64decode(r.output.strip())) == 32
    r = runner.invoke(app, ["keys", "new", "--out", str(files / "new.key")])
    assert r.exit_code == 2 and "exists" in r.output
    pair.us.store.close()
    config = files / "us.toml"
    config.write_text(f'[node]\nparty = "us"\nkey = "us.key"\ndb = "{pair.us.store.path}"\n'
                      'accord = "accord.toml"\nport = 8701\n[peers]\nru = "http://127.0.0.1:1"\n')
    r = runner.invoke(app, ["line", "send", "--config", str(config), "--to", "ru",
                            "--kind", "request", "--text", "leave box 7"])
    assert r.exit_code == 0, r.output
    msg_id = r.output.split()[1]
    assert "seq 1 due" in r.output
    r = runner.invoke(app, ["line", "send", "--config", str(config), "--to", "ru",
                            "--kind", "distress", "--body",
                            '{"lat": 99, "lon": 36, "frequency_mhz": 121.5}'])
    assert r.exit_code == 2 and "body.lat" in r.output
    r = runner.invoke(app, ["line", "send", "--config", str(config), "--to", "ru",
                            "--body", "{nope"])
    assert r.exit_code == 2 and "not JSON" in r.output
    # the running node (here: pair.us over the same file) delivers what the CLI queued
    from skyaccord.line import LineStore, Node
    pair.clock.t = time.time()  # the CLI stamped the request with the real clock
    us = Node("us", pair.us.key, pair.us.accord,
              LineStore(pair.us.store.path, "us", pair.us.key), pair.us.peers,
              clock=pair.clock)
    assert us.deliver_once() == 1
    r = runner.invoke(app, ["line", "inbox", str(pair.ru.store.path), "--json"])
    assert r.exit_code == 0 and [m["id"] for m in json.loads(r.output)] == [msg_id]
    r = runner.invoke(app, ["line", "show", str(pair.us.store.path), msg_id])
    shown = json.loads(r.output)
    assert shown["direction"] == "sent" and shown["replies"][0]["kind"] == "ack"
    r = runner.invoke(app, ["line", "show", str(pair.us.store.path), "f" * 32])
    assert r.exit_code == 2 and "no message" in r.output
    us.store.close()


def test_strategic_conflict_messages(pair: Pair) -> None:
    from skyaccord.line import strategic_conflict_bodies
    from skyaccord.strategic import Circle, Intent, Volume
    from skyaccord.strategic.registry import Conflict

    t0 = 1_500_000_000.0
    vols = tuple(Volume(Circle(35.0, 36.0, 5000.0), 10_000.0, 20_000.0, t0 + 600.0 * k,
                        t0 + 600.0 * (k + 1)) for k in range(3))
    intent = Intent("us-sortie-1", "us", vols, version=2)
    conflicts = [Conflict("ru-cap-7", "ru", 4, 1, ((1, 0), (2, 0)), True),
                 Conflict("tr-isr-2", "tr", 1, 0, ((0, 3),), False)]
    bodies = strategic_conflict_bodies(intent, conflicts, now_s=t0 + 300.0)
    assert [(to, b["id2"], b["level"], b["t_in_s"]) for to, b in bodies] == [
        ("ru", "ru-cap-7", "blocking", 300.0),   # volume 1 starts at t0 + 600
        ("tr", "tr-isr-2", "advisory", 0.0)]     # volume 0 already active
    msg = pair.us.send("ru", "conflict", bodies[0][1])
    assert pair.us.deliver_once() == 1
    assert pair.ru.store.find(msg.id) is not None
