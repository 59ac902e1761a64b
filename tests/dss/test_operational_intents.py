"""Operational intent references: each endpoint, each error the document lists, the key
check, the state machine, ownership, availability, expiry and notifications. Every
answer is checked against the interface document (``Client.call``)."""

from __future__ import annotations

import math
import random
import time

from skyaccord.geo import great_circle_m
from tests.dss.conftest import (
    AA,
    AVAIL,
    CMSA,
    CP,
    OIR,
    OIR_OVN,
    OIR_QUERY,
    SC,
    SUB,
    SUB_VER,
    Client,
    circle,
    intent,
    new_id,
    polygon,
)

LAT, LNG = 46.20, 6.14  # Geneva


def window(start_h: float = 1.0, end_h: float = 2.0) -> tuple[float, float]:
    now = time.time()
    return now + start_h * 3600, now + end_h * 3600


def create(c: Client, who: dict[str, str], body: dict[str, object], eid: str | None = None
           ) -> tuple[int, dict[str, object]]:
    status, out = c.call("PUT", OIR, who, body, entityid=eid or new_id())
    return status, out


def test_create_get_and_the_ovn_only_to_its_manager(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    eid = new_id()
    status, out = create(client, a, intent(circle(LAT, LNG, 300, *window())), eid)
    assert status == 201, out
    ref = out["operational_intent_reference"]
    assert (ref["id"], ref["manager"], ref["version"], ref["state"]) == (eid, "uss-a", 1,
                                                                         "Accepted")
    assert ref["uss_availability"] == "Unknown"
    assert len(ref["ovn"]) >= 16
    status, got = client.call("GET", OIR, a, entityid=eid)
    assert status == 200 and got["operational_intent_reference"]["ovn"] == ref["ovn"]
    status, got = client.call("GET", OIR, b, entityid=eid)
    assert status == 200 and "ovn" not in got["operational_intent_reference"]


def test_get_unknown_is_404_and_a_bad_id_400(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    assert client.call("GET", OIR, a, entityid=new_id())[0] == 404
    assert client.call("GET", OIR, a, entityid="not-a-uuid")[0] == 400


def test_create_refuses_bad_input_naming_the_field(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    t0, t1 = window()
    good = intent(circle(LAT, LNG, 300, t0, t1))
    cases = {
        "extents": {k: v for k, v in good.items() if k != "extents"},
        "state": {**good, "state": "Flying"},
        "uss_base_url": {**good, "uss_base_url": "https://uss.test.example/utm/"},
        "time_end": intent(circle(LAT, LNG, 300, time.time() - 7200, time.time() - 3600)),
        "altitude_lower": intent({**circle(LAT, LNG, 300, t0, t1), "volume": {
            "outline_circle": good["extents"][0]["volume"]["outline_circle"]}}),
        "outline_polygon": intent(polygon([(46.2, 6.1), (46.3, 6.2), (46.2, 6.2),
                                           (46.3, 6.1)], t0, t1)),  # a bow tie
        "key": {**good, "key": "abc"},
        "antimeridian": intent(circle(10.0, 179.99, 5000, t0, t1)),
    }
    for field, body in cases.items():
        status, out = create(client, a, body)
        assert status == 400, (field, out)
        assert field in out["message"], (field, out["message"])
    r = client.http.put(OIR.format(entityid=new_id()), headers=a, content=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["message"]


def test_too_large_an_area_is_413_for_writes_and_queries(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    t0, t1 = window()
    # a 30 km circle: 2,827 km², over the 2,500 km² cap
    status, out = create(client, a, intent(circle(LAT, LNG, 30_000, t0, t1)))
    assert status == 413 and "km²" in out["message"]
    status, out = client.call("POST", OIR_QUERY, a,
                              {"area_of_interest": circle(LAT, LNG, 30_000, t0, t1)})
    assert status == 413
    # 28 km (2,463 km²) is within
    assert create(client, a, intent(circle(LAT, LNG, 28_000, t0, t1)))[0] == 201
    r = client.http.put(OIR.format(entityid=new_id()), headers=a,
                        content=b"[" + b"0," * (1024 * 1024) + b"0]")
    assert r.status_code == 413


def test_the_key_names_every_intersecting_intent(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    t0, t1 = window()
    s, first = create(client, a, intent(circle(LAT, LNG, 500, t0, t1)))
    assert s == 201
    ovn_a = first["operational_intent_reference"]["ovn"]
    # b's intent overlaps a's: refused without the key, naming a's reference (no OVN)
    mine = intent(circle(LAT + 0.005, LNG, 500, t0, t1))
    eid = new_id()
    status, out = create(client, b, mine, eid)
    assert status == 409
    missing = out["missing_operational_intents"]
    assert [m["id"] for m in missing] == [first["operational_intent_reference"]["id"]]
    assert "ovn" not in missing[0] and out["missing_constraints"] == []
    # a wrong OVN is no better
    assert create(client, b, {**mine, "key": ["x" * 20]}, eid)[0] == 409
    status, out = create(client, b, {**mine, "key": [ovn_a]}, eid)
    assert status == 201, out
    # a disjoint one needs no key: 1 km apart in space, or the next hour
    assert create(client, b, intent(circle(LAT + 0.02, LNG, 500, t0, t1)))[0] == 201
    assert create(client, b, intent(circle(LAT, LNG, 500, t1 + 1, t1 + 3600)))[0] == 201
    # nor one above the band (120 m): 121-200 m
    assert create(client, b, intent(circle(LAT, LNG, 500, t0, t1, 121, 200)))[0] == 201


def test_query_answers_what_a_brute_force_finds(client: Client) -> None:
    """Circles placed at random: the query answers exactly those whose centres are
    within the sum of the radii (haversine) in overlapping windows."""
    rng = random.Random(19)
    a = client.authority.headers("uss-a", SC)
    t_base = time.time() + 3600
    placed = []
    for _ in range(40):
        lat = LAT + rng.uniform(-0.05, 0.05)
        lng = LNG + rng.uniform(-0.07, 0.07)
        r = rng.uniform(100, 1500)
        t0 = t_base + rng.uniform(0, 4 * 3600)
        t1 = t0 + rng.uniform(600, 3600)
        eid = new_id()
        body = intent(circle(lat, lng, r, t0, t1))
        # the owner knows all its OVNs: key everything it placed
        status, out = create(client, a, {**body, "key": [p[5] for p in placed]}, eid)
        assert status == 201, out
        placed.append((eid, lat, lng, r, (t0, t1), out["operational_intent_reference"]["ovn"]))
    for _ in range(15):
        qlat = LAT + rng.uniform(-0.05, 0.05)
        qlng = LNG + rng.uniform(-0.07, 0.07)
        qr = rng.uniform(200, 3000)
        q0 = t_base + rng.uniform(0, 4 * 3600)
        q1 = q0 + rng.uniform(600, 7200)
        status, out = client.call("POST", OIR_QUERY, a,
                                  {"area_of_interest": circle(qlat, qlng, qr, q0, q1)})
        assert status == 200
        got = {r["id"] for r in out["operational_intent_references"]}
        # the DSS's plane is exact to 0.1 %: leave pairs within 1 m of touching aside
        want, near = set(), set()
        for eid, lat, lng, r, (t0, t1), _ in placed:
            d = great_circle_m(lat, lng, qlat, qlng)
            if t0 <= q1 and q0 <= t1:
                if abs(d - (r + qr)) < 1.0:
                    near.add(eid)
                elif d < r + qr:
                    want.add(eid)
        assert got - near == want


def test_polygon_and_circle_meet_as_geometry_says(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    t0, t1 = window()
    # a 0.01° square; a circle 200 m east of its east edge meets it with r = 250, not 150
    sq = [(LAT, LNG), (LAT, LNG + 0.01), (LAT + 0.01, LNG + 0.01), (LAT + 0.01, LNG)]
    assert create(client, a, intent(polygon(sq, t0, t1)))[0] == 201
    east_m = 200.0
    dlng = east_m / (6_371_008.8 * math.cos(math.radians(LAT + 0.005)) * math.pi / 180)
    cx = LNG + 0.01 + dlng
    for r, meets in ((250.0, True), (150.0, False)):
        status, out = client.call("POST", OIR_QUERY, a, {
            "area_of_interest": circle(LAT + 0.005, cx, r, t0, t1)})
        assert status == 200 and bool(out["operational_intent_references"]) is meets


def test_update_rules(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    t0, t1 = window()
    eid = new_id()
    status, out = create(client, a, intent(circle(LAT, LNG, 300, t0, t1)), eid)
    ovn = out["operational_intent_reference"]["ovn"]
    body = intent(circle(LAT, LNG, 400, t0, t1))
    # another manager: 403; a stale OVN: 409; an unknown id: 404
    assert client.call("PUT", OIR_OVN, b, body, entityid=eid, ovn=ovn)[0] == 403
    assert client.call("PUT", OIR_OVN, a, body, entityid=eid, ovn="y" * 20)[0] == 409
    assert client.call("PUT", OIR_OVN, a, body, entityid=new_id(), ovn=ovn)[0] == 404
    # creating again over an existing id: 409
    assert create(client, a, body, eid)[0] == 409
    status, out = client.call("PUT", OIR_OVN, a, body, entityid=eid, ovn=ovn)
    assert status == 200, out
    ref = out["operational_intent_reference"]
    assert ref["version"] == 2 and ref["ovn"] != ovn
    # the old OVN is spent
    assert client.call("PUT", OIR_OVN, a, body, entityid=eid, ovn=ovn)[0] == 409


def test_delete_rules(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    eid = new_id()
    _, out = create(client, a, intent(circle(LAT, LNG, 300, *window())), eid)
    ovn = out["operational_intent_reference"]["ovn"]
    assert client.call("DELETE", OIR_OVN, b, entityid=eid, ovn=ovn)[0] == 403
    assert client.call("DELETE", OIR_OVN, a, entityid=eid, ovn="z" * 20)[0] == 409
    assert client.call("DELETE", OIR_OVN, a, entityid=new_id(), ovn=ovn)[0] == 404
    status, out = client.call("DELETE", OIR_OVN, a, entityid=eid, ovn=ovn)
    assert status == 200 and out["operational_intent_reference"]["id"] == eid
    assert client.call("GET", OIR, a, entityid=eid)[0] == 404


def test_state_machine_and_its_scopes(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    a_conf = client.authority.headers("uss-a", SC, CMSA)
    b = client.authority.headers("uss-b", SC)
    t0, t1 = window(0.5, 2)
    vol = circle(LAT, LNG, 300, t0, t1)
    # the first state is Accepted
    status, out = create(client, a, intent(vol, state="Activated", implicit=True))
    assert status == 400 and "Accepted" in out["message"]
    eid = new_id()
    _, out = create(client, a, intent(vol), eid)
    ovn = out["operational_intent_reference"]["ovn"]
    assert out["operational_intent_reference"]["subscription_id"] == \
        "00000000-0000-4000-8000-000000000000"
    # Activated needs a subscription
    status, out = client.call("PUT", OIR_OVN, a, intent(vol, state="Activated"),
                              entityid=eid, ovn=ovn)
    assert status == 400 and "subscription" in out["message"]
    status, out = client.call("PUT", OIR_OVN, a, intent(vol, state="Activated", implicit=True),
                              entityid=eid, ovn=ovn)
    assert status == 200, out
    ovn = out["operational_intent_reference"]["ovn"]
    # b now plans through the same airspace and holds its key
    status, refused = create(client, b, intent(vol, key=[]))
    assert status == 409 and refused["missing_operational_intents"][0]["id"] == eid
    # Nonconforming needs utm.conformance_monitoring_sa, and then no key
    assert client.call("PUT", OIR_OVN, a, intent(vol, state="Nonconforming"),
                       entityid=eid, ovn=ovn)[0] == 403
    status, out = client.call("PUT", OIR_OVN, a_conf, intent(vol, state="Nonconforming"),
                              entityid=eid, ovn=ovn)
    assert status == 200, out
    ovn = out["operational_intent_reference"]["ovn"]
    # Activated → Accepted is not a transition; Contingent → Activated neither
    status, out = client.call("PUT", OIR_OVN, a_conf, intent(vol, state="Contingent"),
                              entityid=eid, ovn=ovn)
    assert status == 200
    ovn = out["operational_intent_reference"]["ovn"]
    status, out = client.call("PUT", OIR_OVN, a, intent(vol, state="Activated"),
                              entityid=eid, ovn=ovn)
    assert status == 400 and "Contingent may not become Activated" in out["message"]


def test_a_down_uss_may_not_accept_nor_delete(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    arbiter = client.authority.headers("arbiter", AA)
    eid = new_id()
    _, out = create(client, a, intent(circle(LAT, LNG, 300, *window())), eid)
    ovn = out["operational_intent_reference"]["ovn"]
    status, av = client.call("PUT", AVAIL, arbiter, {"old_version": "",
                                                     "availability": "Down"}, uss_id="uss-a")
    assert status == 200
    assert create(client, a, intent(circle(LAT + 1, LNG, 300, *window())))[0] == 412
    assert client.call("PUT", OIR_OVN, a, intent(circle(LAT, LNG, 400, *window())),
                       entityid=eid, ovn=ovn)[0] == 412
    assert client.call("DELETE", OIR_OVN, a, entityid=eid, ovn=ovn)[0] == 412
    status, got = client.call("GET", OIR, a, entityid=eid)
    assert got["operational_intent_reference"]["uss_availability"] == "Down"
    client.call("PUT", AVAIL, arbiter, {"old_version": av["version"],
                                        "availability": "Normal"}, uss_id="uss-a")
    assert client.call("DELETE", OIR_OVN, a, entityid=eid, ovn=ovn)[0] == 200


def test_expired_intents_are_gone(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    t0, t1 = window(0.1, 0.5)
    eid = new_id()
    assert create(client, a, intent(circle(LAT, LNG, 300, t0, t1)), eid)[0] == 201
    client.clock.offset_s = 3600.0  # an hour later: it ended half an hour ago
    assert client.call("GET", OIR, a, entityid=eid)[0] == 404
    status, out = client.call("POST", OIR_QUERY, a, {"area_of_interest": circle(
        LAT, LNG, 1000, time.time(), time.time() + 3 * 3600)})
    assert status == 200 and out["operational_intent_references"] == []
    # and it asks no key of anyone
    now = client.clock()
    assert create(client, b, intent(circle(LAT, LNG, 300, now + 60, now + 3600)))[0] == 201


def test_implicit_subscription_lives_and_dies_with_its_intent(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    eid = new_id()
    status, out = create(client, a, intent(circle(LAT, LNG, 300, *window()), implicit=True),
                         eid)
    ref = out["operational_intent_reference"]
    sid = ref["subscription_id"]
    status, sub = client.call("GET", SUB, a, subscriptionid=sid)
    assert status == 200
    s = sub["subscription"]
    assert s["implicit_subscription"] and s["notify_for_operational_intents"]
    assert s["dependent_operational_intents"] == [eid]
    # its own creation is notified to it (the caller's own subscriptions are listed)
    assert out["subscribers"][0]["subscriptions"][0]["subscription_id"] == sid
    # a subscription an intent depends on cannot be deleted
    assert client.call("DELETE", SUB_VER, a, subscriptionid=sid,
                       version=s["version"])[0] == 400
    status, _ = client.call("DELETE", OIR_OVN, a, entityid=eid, ovn=ref["ovn"])
    assert status == 200
    assert client.call("GET", SUB, a, subscriptionid=sid)[0] == 404


def test_explicit_subscription_must_cover_the_intent(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    t0, t1 = window()
    sid = new_id()
    status, out = client.call("PUT", SUB, a, {
        "extents": circle(LAT, LNG, 1000, t0 - 60, t1 + 60), "uss_base_url":
        "https://uss.test.example/utm", "notify_for_operational_intents": True},
        subscriptionid=sid)
    assert status == 200, out
    version = out["subscription"]["version"]
    # outside it (the circle pokes 200 m past the edge): 400; inside: 201
    status, out = create(client, a, intent(circle(LAT, LNG + 0.01, 500, t0, t1),
                                           subscription_id=sid))
    assert status == 400 and "cover" in out["message"]
    eid = new_id()
    status, out = create(client, a, intent(circle(LAT, LNG, 900, t0, t1),
                                           subscription_id=sid), eid)
    assert status == 201 and out["operational_intent_reference"]["subscription_id"] == sid
    # shrinking the subscription from under it: 400
    status, out = client.call("PUT", SUB_VER, a, {
        "extents": circle(LAT, LNG, 500, t0 - 60, t1 + 60), "uss_base_url":
        "https://uss.test.example/utm", "notify_for_operational_intents": True},
        subscriptionid=sid, version=version)
    assert status == 400 and eid in out["message"]
    # another manager's subscription may not be named
    b = client.authority.headers("uss-b", SC)
    assert create(client, b, intent(circle(LAT + 1, LNG, 300, t0, t1),
                                    subscription_id=sid))[0] == 403


def test_subscribers_are_told_with_counting_indices(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC, CP)
    t0, t1 = window()
    watch, cons_only = new_id(), new_id()
    client.call("PUT", SUB, b, {"extents": circle(LAT, LNG, 2000, t0 - 60, t1 + 60),
                                "uss_base_url": "https://b.test.example/utm",
                                "notify_for_operational_intents": True},
                subscriptionid=watch)
    client.call("PUT", SUB, b, {"extents": circle(LAT, LNG, 2000, t0 - 60, t1 + 60),
                                "uss_base_url": "https://b.test.example/cons",
                                "notify_for_constraints": True},
                subscriptionid=cons_only)
    eid = new_id()
    _, out = create(client, a, intent(circle(LAT, LNG, 300, t0, t1)), eid)
    assert out["subscribers"] == [{"uss_base_url": "https://b.test.example/utm",
                                   "subscriptions": [{"subscription_id": watch,
                                                      "notification_index": 1}]}]
    ovn = out["operational_intent_reference"]["ovn"]
    _, out = client.call("PUT", OIR_OVN, a, intent(circle(LAT, LNG, 350, t0, t1)),
                         entityid=eid, ovn=ovn)
    assert out["subscribers"][0]["subscriptions"][0]["notification_index"] == 2
    # far away: nobody to tell
    _, far = create(client, a, intent(circle(LAT + 0.5, LNG, 300, t0, t1)))
    assert far["subscribers"] == []
    _, out = client.call("DELETE", OIR_OVN, a, entityid=eid,
                         ovn=out["operational_intent_reference"]["ovn"])
    assert out["subscribers"][0]["subscriptions"][0]["notification_index"] == 3
    status, got = client.call("GET", SUB, b, subscriptionid=watch)
    assert status == 200 and got["subscription"]["notification_index"] == 3
    _, got = client.call("GET", SUB, b, subscriptionid=cons_only)
    assert got["subscription"]["notification_index"] == 0


def test_the_key_check_asks_for_what_a_brute_force_finds(client: Client) -> None:
    """Intents of three managers at random (circles, bands, windows); a new one written
    without a key is refused naming exactly the live intents it meets, as haversine
    distances, band and window overlaps say; with those OVNs it is accepted."""
    rng = random.Random(1919)
    who = {m: client.authority.headers(m, SC) for m in ("m1", "m2", "m3")}
    t_base = time.time() + 3600
    placed: list[tuple[str, float, float, float, tuple[float, float], tuple[float, float],
                       str]] = []

    def meets(p: tuple[str, float, float, float, tuple[float, float],
                       tuple[float, float], str],
              lat: float, lng: float, r: float, band: tuple[float, float],
              win: tuple[float, float]) -> bool | None:
        _, plat, plng, pr, pband, pwin, _ = p
        if pwin[1] < win[0] or win[1] < pwin[0] or pband[1] < band[0] or band[1] < pband[0]:
            return False
        d = great_circle_m(plat, plng, lat, lng)
        return None if abs(d - (pr + r)) < 1.0 else d < pr + r

    def draw() -> tuple[float, float, float, tuple[float, float], tuple[float, float]]:
        lat = LAT + rng.uniform(-0.03, 0.03)
        lng = LNG + rng.uniform(-0.04, 0.04)
        r = rng.uniform(100, 1200)
        lo = rng.choice([0.0, 60.0, 120.0])
        t0 = t_base + rng.uniform(0, 3 * 3600)
        return lat, lng, r, (lo, lo + rng.choice([50.0, 100.0])), (t0, t0 + rng.uniform(600,
                                                                                         3600))

    refused = 0
    for i in range(60):
        lat, lng, r, band, win = draw()
        manager = f"m{i % 3 + 1}"
        body = intent(circle(lat, lng, r, *win, *band))
        eid = new_id()
        status, out = create(client, who[manager], body, eid)
        if status == 409:
            refused += 1
            ids = {m["id"] for m in out["missing_operational_intents"]}
            brute = {p[0] for p in placed if meets(p, lat, lng, r, band, win)}
            unsure = {p[0] for p in placed if meets(p, lat, lng, r, band, win) is None}
            assert ids - unsure == brute - unsure, i
            ovn_of = {p[0]: p[6] for p in placed}
            status, out = create(client, who[manager],
                                 {**body, "key": [ovn_of[x] for x in ids]}, eid)
        else:
            assert not any(meets(p, lat, lng, r, band, win) for p in placed), i
        assert status == 201, out
        placed.append((eid, lat, lng, r, band, win,
                       out["operational_intent_reference"]["ovn"]))
    # the draws did make conflicts: many writes needed a key
    assert refused >= 15, refused
