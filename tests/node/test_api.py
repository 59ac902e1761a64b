"""The node's API, route by route: roles, bad requests, and what the loop computes,
checked against hand-worked encounters and geodesic distances (pyproj)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyproj import Geod
from starlette.websockets import WebSocketDisconnect

from skyaccord.geo import NM
from tests.node.conftest import T0, Harness, start

GEOD = Geod(ellps="WGS84")
PROBLEM = "application/problem+json"


def head_on(sep_deg: float = 0.5, gs_kt: float = 400.0, other: str = "ru"
            ) -> list[dict[str, Any]]:
    """Ours flying north, theirs south, on the 38° E meridian, ``sep_deg`` apart."""
    return [
        {"id": "us1", "party": "us", "class": "manned", "lat": 34.5, "lon": 38.0,
         "alt_ft": 20000, "gs_kt": gs_kt, "trk_deg": 0.0, "vs_fpm": 0},
        {"id": "x1", "party": other, "class": "manned", "lat": 34.5 + sep_deg, "lon": 38.0,
         "alt_ft": 20000, "gs_kt": gs_kt, "trk_deg": 180.0, "vs_fpm": 0},
    ]


def expected_t_in(sep_deg: float, minimum_nm: float, closing_kt: float) -> float:
    """Time until the gap on the meridian shrinks to ``minimum_nm`` (geodesic, WGS84)."""
    _, _, dist_m = GEOD.inv(38.0, 34.5, 38.0, 34.5 + sep_deg)
    return (dist_m / NM - minimum_nm) / closing_kt * 3600.0


# -- authentication and roles -------------------------------------------------------

@pytest.mark.parametrize("path", ["/health", "/accord", "/tracks", "/alerts", "/zones",
                                  "/intents", "/line/inbox", "/line/sent", "/line/overdue",
                                  "/line/refusals", "/tokens", "/advisories/us1"])
def test_every_read_needs_a_token(harness: Harness, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"},
                    {"Authorization": harness.tokens["admin"]}):
        r = harness.client.get(path, headers=headers)
        assert r.status_code == 401, (path, headers, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"] == "urn:skyaccord:problem:unauthenticated"
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body", "needed"), [
    ("post", "/tracks", {"tracks": []}, "operator"),
    ("post", "/line/send", {"to": "ru", "kind": "text", "body": {"text": "hi"}}, "operator"),
    ("post", "/intents/check", {"id": "i", "volumes": [
        {"circle": [35, 38, 1000], "alt": [0, 1000], "time": [T0, T0 + 600]}]}, "operator"),
    ("get", "/tokens", None, "admin"),
    ("post", "/tokens", {"name": "x", "role": "viewer"}, "admin"),
])
def test_roles_403_below_401_without(harness: Harness, method: str, path: str,
                                     body: Any, needed: str) -> None:
    order = ["viewer", "operator", "admin"]
    call = getattr(harness.client, method)
    kw = {"json": body} if body is not None else {}
    assert call(path, **kw).status_code == 401
    for role in order:
        r = call(path, headers=harness.auth(role), **kw)
        if order.index(role) < order.index(needed):
            assert r.status_code == 403, (role, r.text)
            assert r.json()["type"] == "urn:skyaccord:problem:forbidden"
        else:
            assert r.status_code in (200, 201), (role, r.text)


def test_tokens_made_listed_revoked_and_stored_hashed(harness: Harness) -> None:
    r = harness.client.post("/tokens", json={"name": "ops-2", "role": "operator"},
                            headers=harness.auth())
    assert r.status_code == 201
    new = r.json()["token"]
    ok = harness.client.get("/alerts", headers={"Authorization": f"Bearer {new}"})
    assert ok.status_code == 200
    stored = (harness.root / "tokens.json").read_text()
    assert new not in stored and all(t not in stored for t in harness.tokens.values())
    assert (harness.root / "tokens.json").stat().st_mode & 0o077 == 0
    listed = harness.client.get("/tokens", headers=harness.auth()).json()
    assert {t["name"] for t in listed} >= {"admin", "viewer", "operator", "ops-2"}
    assert all("token" not in t and "sha256" not in t for t in listed)
    token_id = r.json()["id"]
    assert harness.client.delete(f"/tokens/{token_id}", headers=harness.auth()).status_code \
        == 200
    gone = harness.client.get("/alerts", headers={"Authorization": f"Bearer {new}"})
    assert gone.status_code == 401
    assert harness.client.post("/tokens", json={"name": "x", "role": "god"},
                               headers=harness.auth()).status_code == 422


# -- tracks, bad input -------------------------------------------------------------

def test_tracks_posted_then_extrapolated_at_the_tick(harness: Harness) -> None:
    harness.post_tracks(head_on())
    harness.clock.t = T0 + 10.0
    harness.node.runtime.tick()
    got = harness.client.get("/tracks", headers=harness.auth("viewer")).json()
    assert got["count"] == 2
    row = got["tracks"]["id"].index("us1")
    # 400 kt for 10 s due north: 2,057.8 m along the meridian
    _, lat, _ = GEOD.fwd(38.0, 34.5, 0.0, 400 * NM / 3600 * 10)
    assert got["tracks"]["lat"][row] == pytest.approx(lat, abs=2e-6)
    assert got["tracks"]["lon"][row] == pytest.approx(38.0, abs=1e-9)


@pytest.mark.parametrize(("body", "status"), [
    ({"tracks": [{"id": "a", "lat": 91, "lon": 0, "alt_ft": 0, "gs_kt": 0, "trk_deg": 0}]},
     422),
    ({"tracks": [{"id": "a", "lat": 1, "lon": 0, "alt_ft": 0, "gs_kt": 0, "trk_deg": 0,
                  "extra": 1}]}, 422),
    ({"tracks": [{"id": "a", "lat": "NaN", "lon": 0, "alt_ft": 0, "gs_kt": 0,
                  "trk_deg": 0}]}, 422),
    ({"tracks": [{"id": "a", "class": "balloon", "lat": 1, "lon": 0, "alt_ft": 0,
                  "gs_kt": 0, "trk_deg": 0}]}, 400),
    ({"tracks": [{"id": "a", "lat": 1, "lon": 0, "alt_ft": 0, "gs_kt": 0, "trk_deg": 0,
                  "t": T0 + 3600}]}, 400),
    ({"nope": []}, 422),
])
def test_bad_track_batches_refused_and_picture_kept(harness: Harness, body: Any,
                                                    status: int) -> None:
    harness.post_tracks(head_on())
    r = harness.client.post("/tracks", json=body, headers=harness.auth("operator"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert len(harness.node.runtime.picture) == 2


def test_tracks_csv_and_wrong_media_and_garbage(harness: Harness) -> None:
    csv_text = ("id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
                "c1,us,manned,35,38,10000,300,90,0\n[/b]x,ru,civil,35.1,38,10000,300,90,0\n")
    h = {**harness.auth("operator"), "content-type": "text/csv"}
    r = harness.client.post("/tracks", content=csv_text, headers=h)
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert "[/b]x" in harness.node.runtime.picture.track_ids()
    bad = harness.client.post("/tracks", content=b"\xff\xfe", headers=h)
    assert bad.status_code == 400
    huge = csv_text.splitlines()[0] + "\n" + "y" * 40_000 + ",us,manned,1,1,1,1,1,1\n"
    bad = harness.client.post("/tracks", content=huge.replace("y" * 40_000, "y" * 140_000),
                              headers=h)
    assert bad.status_code == 413  # over this node's 64 KiB body limit
    from skyaccord.node.routers.tracks import _post_tracks

    with pytest.raises(Exception) as caught:
        _post_tracks(huge.replace("y" * 40_000, "y" * 140_000).encode(), "text/csv",
                     harness.client.app.state.ctx, "t")
    assert "field larger than field limit" in str(caught.value)
    assert type(caught.value).__name__ == "InputError"
    r = harness.client.post("/tracks", content="x", headers={
        **harness.auth("operator"), "content-type": "application/xml"})
    assert r.status_code == 400 and "content type" in r.json()["detail"]
    r = harness.client.post("/tracks", content=b"{" * 100_000, headers={
        **harness.auth("operator"), "content-type": "application/json"})
    assert r.status_code == 413  # over this node's 64 KiB limit


def test_body_over_the_limit_is_refused_before_reading(harness: Harness) -> None:
    big = b"[" + b"0," * 40_000 + b"0]"
    r = harness.client.post("/line/messages", content=big)
    assert r.status_code == 413
    assert r.json()["type"] == "urn:skyaccord:problem:payload-too-large"

    def chunks() -> Any:  # no Content-Length: refused once the limit is passed
        for _ in range(100):
            yield b"x" * 4096

    r = harness.client.post("/tracks", content=chunks(), headers=harness.auth("operator"))
    assert r.status_code == 413


def test_unknown_route_and_method_are_problems(harness: Harness) -> None:
    r = harness.client.get("/nope", headers=harness.auth())
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = harness.client.put("/alerts", headers=harness.auth())
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM


# -- alerts and automatic messages ----------------------------------------------------

def test_head_on_alert_matches_hand_computation_and_tells_ru_once(harness: Harness) -> None:
    harness.post_tracks(head_on())
    harness.node.runtime.tick()
    alerts = harness.client.get("/alerts", headers=harness.auth("viewer")).json()
    (c,) = alerts["conflicts"]
    assert (c["id1"], c["id2"], c["party1"], c["party2"]) == ("us1", "x1", "us", "ru")
    t_in = expected_t_in(0.5, 5.0, 800.0)  # 112.3 s: corrective (< 120 s)
    assert c["t_in_s"] == pytest.approx(t_in, abs=0.5)
    assert c["level"] == "corrective"
    assert c["tcpa_s"] == pytest.approx(expected_t_in(0.5, 0.0, 800.0), abs=0.5)
    assert c["dcpa_nm"] == pytest.approx(0.0, abs=0.01)
    (msg,) = harness.sent()
    assert msg.recipient == "ru" and msg.body["level"] == "corrective"
    assert msg.body["t_in_s"] == pytest.approx(t_in, abs=0.5)
    for k in range(1, 20):  # the same episode: no second message while it lasts
        harness.clock.t = T0 + k
        harness.node.runtime.tick()
    assert len(harness.sent()) == 1
    # 62 s later the 3 NM warning is under 60 s away: one more message (escalation)
    harness.clock.t = T0 + 62.0
    moved = []
    for row in head_on():
        lon, lat, _ = GEOD.fwd(row["lon"], row["lat"], row["trk_deg"], 400 * NM / 3600 * 62)
        moved.append(dict(row, lat=lat, lon=lon))
    harness.post_tracks(moved)
    harness.node.runtime.tick()
    sent = harness.sent()
    assert [m.body["level"] for m in sent] == ["corrective", "warning"]
    assert expected_t_in(0.5, 3.0, 800.0) - 62.0 < 60.0


def test_preventive_and_own_pairs_tell_nobody(harness: Harness) -> None:
    rows = head_on(sep_deg=1.0)  # t_in ~ 247 s: preventive only
    rows += [dict(r, id=r["id"] + "b", party="us", lon=40.0) for r in head_on()]
    harness.post_tracks(rows)
    harness.node.runtime.tick()
    levels = {(c["id1"], c["id2"]): c["level"] for c in harness.client.get(
        "/alerts", headers=harness.auth()).json()["conflicts"]}
    assert levels[("us1", "x1")] == "preventive"
    assert levels[("us1b", "x1b")] == "corrective"
    assert harness.sent() == []


def test_episode_ends_after_the_gap_and_a_new_one_is_told(harness: Harness) -> None:
    harness.post_tracks(head_on())
    harness.node.runtime.tick()
    assert len(harness.sent()) == 1
    # the pair leaves (their aircraft turns away), then a new encounter 61+ s later
    harness.clock.t = T0 + 1
    harness.post_tracks([dict(head_on()[1], trk_deg=0.0)])
    harness.node.runtime.tick()
    assert harness.client.get("/alerts", headers=harness.auth()).json()["conflicts"] == []
    harness.clock.t = T0 + 70
    harness.post_tracks(head_on())
    harness.node.runtime.tick()
    assert len(harness.sent()) == 2


def test_restart_does_not_repeat_what_was_told(harness: Harness) -> None:
    harness.post_tracks(head_on())
    harness.node.runtime.tick()
    assert len(harness.sent()) == 1
    harness.client.__exit__(None, None, None)
    harness.clock.t = T0 + 5
    node, client = start(harness.root, harness.clock)
    try:
        client.post("/tracks", json={"tracks": head_on()},
                    headers={"Authorization": f"Bearer {harness.tokens['admin']}"})
        node.runtime.tick()
        assert len([m for _, _, _, m in node.runtime.line.store.messages(
            direction="sent", kinds=("conflict",))]) == 1
    finally:
        client.__exit__(None, None, None)
        harness.client.__enter__ = lambda: None  # type: ignore[method-assign]
        harness.client = client


def test_incursion_into_our_zone_is_predicted_and_told(harness: Harness,
                                                       tmp_path: Any) -> None:
    zone = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "us-box",
        "properties": {"id": "us-box", "owner": "us", "kind": "restricted"},
        "geometry": {"type": "Polygon", "coordinates": [
            [[39.0, 34.0], [39.5, 34.0], [39.5, 34.5], [39.0, 34.5], [39.0, 34.0]]]}}]}
    path = harness.root / "zones.geojson"
    path.write_text(json.dumps(zone))
    harness.client.__exit__(None, None, None)
    node, client = start(harness.root, harness.clock, zones=path)
    harness.node, harness.client = node, client
    # ru aircraft at 34.25 N, 38.9 E flying east at 360 kt: 0.1 deg of longitude at
    # 34.25 N is 9,206 m (WGS84), so it enters the box in 49.7 s
    harness.post_tracks([{"id": "r9", "party": "ru", "class": "manned", "lat": 34.25,
                          "lon": 38.9, "alt_ft": 15000, "gs_kt": 360, "trk_deg": 90}],
                        role="admin")
    node.runtime.tick()
    inc = client.get("/alerts", headers=harness.auth()).json()["incursions"]
    mine = [i for i in inc if i["zone"] == "us-box"]
    assert len(mine) == 1
    _, _, d = GEOD.inv(38.9, 34.25, 39.0, 34.25)
    assert mine[0]["t_entry_s"] == pytest.approx(d / (360 * NM / 3600), abs=0.5)
    assert mine[0]["entry"][1] == pytest.approx(39.0, abs=1e-6)
    told = [m for m in harness.sent() if m.body["source"] == "airspace"]
    assert len(told) == 1 and told[0].recipient == "ru" and told[0].body["id2"] == "us-box"
    zones = client.get("/zones", headers=harness.auth("viewer")).json()
    assert "us-box" in {f["id"] for f in zones["features"]}


# -- advisories, accord ----------------------------------------------------------------

def test_advisories_for_our_aircraft_only(harness: Harness) -> None:
    harness.post_tracks(head_on())
    harness.node.runtime.tick()
    r = harness.client.get("/advisories/us1", headers=harness.auth("viewer"))
    assert r.status_code == 200, r.text
    adv = r.json()
    assert adv["level"] == "corrective"
    assert set(adv["bands"]) == {"track", "gs", "vs", "alt"}
    # head-on at 0 deg: the current track is in conflict, a turn resolves it
    assert adv["bands"]["track"]["current_level"] != "none"
    assert adv["resolutions"]["track"]["direction"] in ("left", "right")
    assert harness.client.get("/advisories/x1", headers=harness.auth()).status_code == 400
    assert harness.client.get("/advisories/zz", headers=harness.auth()).status_code == 404
    assert harness.client.get("/advisories/us1?turn_rate=-1",
                              headers=harness.auth()).status_code == 422


def test_accord_in_force(harness: Harness) -> None:
    a = harness.client.get("/accord", headers=harness.auth("viewer")).json()
    assert a["sha256"] == harness.node.runtime.accord.sha256
    assert a["accord"]["notify"]["level"] == "corrective"


# -- the line --------------------------------------------------------------------------

def test_send_needs_an_operator_and_peer_delivery_needs_none(harness: Harness) -> None:
    body = {"to": "ru", "kind": "request", "body": {"text": "[/b] deconflict box 7"}}
    assert harness.client.post("/line/send", json=body).status_code == 401
    r = harness.client.post("/line/send", json=body, headers=harness.auth("operator"))
    assert r.status_code == 200
    sent = harness.client.get("/line/sent", headers=harness.auth("viewer")).json()
    assert sent[0]["body"]["text"] == "[/b] deconflict box 7" and sent[0]["acked_at"] is None
    overdue = harness.client.get("/line/overdue", headers=harness.auth("viewer")).json()
    assert any(d["debtor"] == "ru" for d in overdue)
    bad = harness.client.post("/line/send", json={**body, "kind": "ack"},
                              headers=harness.auth("operator"))
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    # a party no peer of ours reaches: refused, not queued for ever (issue 18)
    before = len(harness.client.get("/line/sent", headers=harness.auth("viewer")).json())
    nowhere = harness.client.post("/line/send", json={**body, "to": "tr"},
                                  headers=harness.auth("operator"))
    assert nowhere.status_code == 400 and "no peer 'tr'" in nowhere.json()["detail"]
    assert len(harness.client.get("/line/sent", headers=harness.auth("viewer")).json()
               ) == before
    # peers need no token; junk is refused with a problem and recorded
    r = harness.client.post("/line/messages", content=b'{"accord": "x"}')
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    refusals = harness.client.get("/line/refusals", headers=harness.auth("viewer")).json()
    assert len(refusals) == 1


# -- intents ---------------------------------------------------------------------------

def _intent(iid: str, lat: float, priority: int = 0) -> dict[str, Any]:
    return {"id": iid, "class": "manned", "priority": priority, "volumes": [
        {"circle": [lat, 38.0, 5000.0], "alt": [10000, 20000], "time": [T0, T0 + 3600]}]}


def test_intents_own_whole_others_volumes_only(harness: Harness) -> None:
    from skyaccord.strategic import Circle, Intent, Volume

    reg = harness.node.registry
    secret = Intent("ru-secret-strike-7", "ru",
                    (Volume(Circle(35.0, 38.0, 5000.0), 10000, 20000, T0, T0 + 3600),),
                    "manned", 5)
    reg.submit(secret, {})
    h = harness.auth("operator")
    r = harness.client.post("/intents", json=_intent("mine", 35.0, priority=1), headers=h)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:skyaccord:problem:intent-conflict"
    assert r.json()["outcome"] == "conflict" and r.json()["conflicts"][0]["party"] == "ru"
    assert "ru-secret-strike-7" not in r.text  # their intent's id is theirs
    ok = harness.client.post("/intents", json=_intent("mine", 36.0), headers=h).json()
    assert ok["outcome"] == "accepted" and ok["intent"]["version"] == 1
    listed = harness.client.get("/intents", headers=harness.auth("viewer"))
    assert "ru-secret-strike-7" not in listed.text and '"priority": 5' not in listed.text
    doc = listed.json()
    assert [i["id"] for i in doc["own"]] == ["mine"]
    assert doc["others"][0]["party"] == "ru" and set(doc["others"][0]) == {
        "ref", "party", "volumes"}
    assert harness.client.get("/intents/ru-secret-strike-7",
                              headers=h).status_code == 404
    ended = harness.client.post("/intents/mine/end", json={"version": 1}, headers=h)
    assert ended.status_code == 200 and ended.json()["state"] == "ended"


def test_higher_priority_write_tells_the_displaced_owner(harness: Harness) -> None:
    from skyaccord.strategic import Circle, Intent, Volume

    low = Intent("ru-low", "ru",
                 (Volume(Circle(35.0, 38.0, 5000.0), 10000, 20000, T0, T0 + 3600),),
                 "manned", 0)
    harness.node.registry.submit(low, {})
    r = harness.client.post("/intents", json=_intent("urgent", 35.0, priority=9),
                            headers=harness.auth("operator")).json()
    assert r["outcome"] == "accepted" and len(r["told"]) == 1
    (msg,) = harness.sent()
    assert msg.recipient == "ru" and msg.body["source"] == "strategic"
    assert msg.body["id2"] == "ru-low"  # their own intent, named back to them


@pytest.mark.parametrize("body", [
    {"id": "x", "volumes": []},
    {"id": "x", "volumes": [{"alt": [0, 1], "time": [T0, T0 + 1]}]},
    {"id": "x", "volumes": [{"circle": [35, 38, 1000], "alt": [0, "Infinity"],
                             "time": [T0, T0 + 1]}]},
    {"id": "x", "volumes": [{"circle": [95, 38, 1000], "alt": [0, 1000],
                             "time": [T0, T0 + 1]}]},
    {"id": "x", "priority": 10**9, "volumes": [{"circle": [35, 38, 1000],
                                                "alt": [0, 1000], "time": [T0, T0 + 1]}]},
])
def test_bad_intents_refused(harness: Harness, body: Any) -> None:
    r = harness.client.post("/intents", json=body, headers=harness.auth("operator"))
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"] == PROBLEM
    assert harness.node.registry.intents() == []


# -- the live stream ---------------------------------------------------------------------

def test_websocket_needs_a_token_then_streams_ticks(harness: Harness) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, \
            harness.client.websocket_connect("/live") as ws:
        ws.receive_text()
    assert refused.value.code == 1008
    harness.post_tracks(head_on())
    with harness.client.websocket_connect(
            f"/live?token={harness.tokens['viewer']}") as ws:
        hello = json.loads(ws.receive_text())
        assert hello["type"] == "hello" and hello["party"] == "us"
        harness.node.runtime.tick()
        events = [json.loads(ws.receive_text()) for _ in range(2)]
        tick = next(e for e in events if e["type"] == "tick")
        assert sorted(tick["updated"]["id"]) == ["us1", "x1"]
        assert [a["key"] for a in tick["alerts"]["new"]] == ["conflict:us1|x1"]
        line = next(e for e in events if e["type"] == "line")
        assert [e["message"]["kind"] for e in line["entries"]] == ["conflict"]
        harness.clock.t = T0 + 1
        harness.node.runtime.tick()
        tick2 = json.loads(ws.receive_text())
        assert tick2["alerts"]["new"] == [] and tick2["updated"]["id"] == []
