"""Constraint references, subscriptions, reports and USS availability: each endpoint and
each error the document lists, checked against the document's schemas."""

from __future__ import annotations

import base64
import time

from tests.dss.conftest import (
    AA,
    AVAIL,
    CM,
    CMSA,
    CP,
    CR,
    CR_OVN,
    CR_QUERY,
    OIR,
    REPORTS,
    SC,
    SUB,
    SUB_QUERY,
    SUB_VER,
    Client,
    circle,
    intent,
    new_id,
    rfc3339,
)

LAT, LNG = 46.20, 6.14


def window(start_h: float = 1.0, end_h: float = 2.0) -> tuple[float, float]:
    now = time.time()
    return now + start_h * 3600, now + end_h * 3600


def constraint(vol: dict[str, object]) -> dict[str, object]:
    return {"extents": [vol], "uss_base_url": "https://authority.test.example/cons"}


def test_constraint_lifecycle(client: Client) -> None:
    m = client.authority.headers("authority", CM)
    other = client.authority.headers("authority-2", CM)
    reader = client.authority.headers("uss-a", CP)
    t0, t1 = window()
    cid = new_id()
    status, out = client.call("PUT", CR, m, constraint(circle(LAT, LNG, 800, t0, t1)),
                              entityid=cid)
    assert status == 201, out
    ref = out["constraint_reference"]
    assert ref["manager"] == "authority" and ref["version"] == 1 and "ovn" in ref
    assert client.call("PUT", CR, m, constraint(circle(LAT, LNG, 800, t0, t1)),
                       entityid=cid)[0] == 409
    status, got = client.call("GET", CR, reader, entityid=cid)
    assert status == 200 and "ovn" not in got["constraint_reference"]
    assert client.call("GET", CR, reader, entityid=new_id())[0] == 404
    status, q = client.call("POST", CR_QUERY, reader,
                            {"area_of_interest": circle(LAT + 0.01, LNG, 500, t0, t1)})
    assert status == 200 and [r["id"] for r in q["constraint_references"]] == [cid]
    status, q = client.call("POST", CR_QUERY, reader,
                            {"area_of_interest": circle(LAT + 0.05, LNG, 500, t0, t1)})
    assert q["constraint_references"] == []
    assert client.call("POST", CR_QUERY, reader, {})[0] == 400
    assert client.call("POST", CR_QUERY, reader, {
        "area_of_interest": circle(LAT, LNG, 40_000, t0, t1)})[0] == 413
    body = constraint(circle(LAT, LNG, 900, t0, t1))
    assert client.call("PUT", CR_OVN, other, body, entityid=cid, ovn=ref["ovn"])[0] == 403
    assert client.call("PUT", CR_OVN, m, body, entityid=cid, ovn="q" * 20)[0] == 409
    assert client.call("PUT", CR_OVN, m, {"extents": []}, entityid=cid,
                       ovn=ref["ovn"])[0] == 400
    assert client.call("PUT", CR, m, constraint(circle(LAT, LNG, 40_000, t0, t1)),
                       entityid=new_id())[0] == 413
    status, out = client.call("PUT", CR_OVN, m, body, entityid=cid, ovn=ref["ovn"])
    assert status == 200 and out["constraint_reference"]["version"] == 2
    ovn = out["constraint_reference"]["ovn"]
    assert client.call("DELETE", CR_OVN, other, entityid=cid, ovn=ovn)[0] == 403
    assert client.call("DELETE", CR_OVN, m, entityid=cid, ovn=ref["ovn"])[0] == 409
    assert client.call("DELETE", CR_OVN, m, entityid=new_id(), ovn=ovn)[0] == 404
    assert client.call("DELETE", CR_OVN, m, entityid=cid, ovn="bad")[0] == 409
    status, out = client.call("DELETE", CR_OVN, m, entityid=cid, ovn=ovn)
    assert status == 200 and client.call("GET", CR, reader, entityid=cid)[0] == 404


def test_constraints_join_the_key_of_a_constraint_processing_intent(client: Client) -> None:
    m = client.authority.headers("authority", CM)
    a = client.authority.headers("uss-a", SC, CP)
    t0, t1 = window()
    vol = circle(LAT, LNG, 500, t0, t1)
    _, c = client.call("PUT", CR, m, constraint(circle(LAT, LNG, 2000, t0, t1)),
                       entityid=new_id())
    cons_ovn = c["constraint_reference"]["ovn"]
    # without constraint processing, the constraint is not the intent's business
    assert client.call("PUT", OIR, a, intent(vol), entityid=new_id())[0] == 201
    body = intent(vol)
    body["new_subscription"] = {"uss_base_url": "https://uss.test.example/utm",
                                "notify_for_constraints": True}
    eid = new_id()
    status, out = client.call("PUT", OIR, a, body, entityid=eid)
    assert status == 409
    assert [x["id"] for x in out["missing_constraints"]] == [c["constraint_reference"]["id"]]
    # the first intent is in the way too (same airspace, same manager)
    assert len(out["missing_operational_intents"]) == 1
    first_ovn = client.call("POST", "/dss/v1/operational_intent_references/query", a, {
        "area_of_interest": vol})[1]["operational_intent_references"][0]["ovn"]
    status, out = client.call("PUT", OIR, a, {**body, "key": [cons_ovn, first_ovn]},
                              entityid=eid)
    assert status == 201, out
    # notify_for_constraints needs utm.constraint_processing
    sc_only = client.authority.headers("uss-b", SC)
    assert client.call("PUT", OIR, sc_only, body, entityid=new_id())[0] == 403


def test_constraint_changes_notify_constraint_subscribers(client: Client) -> None:
    m = client.authority.headers("authority", CM)
    b = client.authority.headers("uss-b", SC, CP)
    t0, t1 = window()
    sid = new_id()
    client.call("PUT", SUB, b, {"extents": circle(LAT, LNG, 3000, t0 - 60, t1 + 60),
                                "uss_base_url": "https://b.test.example/utm",
                                "notify_for_constraints": True}, subscriptionid=sid)
    _, out = client.call("PUT", CR, m, constraint(circle(LAT, LNG, 800, t0, t1)),
                         entityid=new_id())
    assert out["subscribers"] == [{"uss_base_url": "https://b.test.example/utm",
                                   "subscriptions": [{"subscription_id": sid,
                                                      "notification_index": 1}]}]


def sub_body(vol: dict[str, object], ops: bool = True, cons: bool = False
             ) -> dict[str, object]:
    return {"extents": vol, "uss_base_url": "https://uss.test.example/utm",
            "notify_for_operational_intents": ops, "notify_for_constraints": cons}


def test_subscription_lifecycle(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    t0, t1 = window()
    # an intent already there is answered with the new subscription
    _, op = client.call("PUT", OIR, b, intent(circle(LAT, LNG, 300, t0, t1)),
                        entityid=new_id())
    sid = new_id()
    status, out = client.call("PUT", SUB, a, sub_body(circle(LAT, LNG, 1000, t0, t1)),
                              subscriptionid=sid)
    assert status == 200, out
    s = out["subscription"]
    assert (s["id"], s["notification_index"], s["implicit_subscription"]) == (sid, 0, False)
    assert [r["id"] for r in out["operational_intent_references"]] == \
        [op["operational_intent_reference"]["id"]]
    assert client.call("PUT", SUB, a, sub_body(circle(LAT, LNG, 1000, t0, t1)),
                       subscriptionid=sid)[0] == 409
    assert client.call("GET", SUB, a, subscriptionid=sid)[0] == 200
    assert client.call("GET", SUB, b, subscriptionid=sid)[0] == 403
    assert client.call("GET", SUB, a, subscriptionid=new_id())[0] == 404
    assert client.call("GET", SUB, a, subscriptionid="nope")[0] == 400
    # a query answers only the caller's own
    _, q = client.call("POST", SUB_QUERY, a, {"area_of_interest": circle(LAT, LNG, 500,
                                                                         t0, t1)})
    assert [x["id"] for x in q["subscriptions"]] == [sid]
    _, q = client.call("POST", SUB_QUERY, b, {"area_of_interest": circle(LAT, LNG, 500,
                                                                         t0, t1)})
    assert q["subscriptions"] == []
    assert client.call("POST", SUB_QUERY, a, {"area_of_interest": circle(
        LAT, LNG, 40_000, t0, t1)})[0] == 413
    # update: another manager 409, a stale version 409, unknown 404, then through
    new = sub_body(circle(LAT, LNG, 1500, t0, t1))
    assert client.call("PUT", SUB_VER, b, new, subscriptionid=sid,
                       version=s["version"])[0] == 409
    assert client.call("PUT", SUB_VER, a, new, subscriptionid=sid, version="old")[0] == 409
    assert client.call("PUT", SUB_VER, a, new, subscriptionid=new_id(),
                       version="old")[0] == 404
    status, out = client.call("PUT", SUB_VER, a, new, subscriptionid=sid,
                              version=s["version"])
    assert status == 200 and out["subscription"]["version"] != s["version"]
    v2 = out["subscription"]["version"]
    # delete: another manager 409, stale version 409, unknown 404, then gone
    assert client.call("DELETE", SUB_VER, b, subscriptionid=sid, version=v2)[0] == 409
    assert client.call("DELETE", SUB_VER, a, subscriptionid=sid,
                       version=s["version"])[0] == 409
    assert client.call("DELETE", SUB_VER, a, subscriptionid=new_id(), version=v2)[0] == 404
    status, out = client.call("DELETE", SUB_VER, a, subscriptionid=sid, version=v2)
    assert status == 200 and out["subscription"]["id"] == sid
    assert client.call("GET", SUB, a, subscriptionid=sid)[0] == 404


def test_subscription_limits_and_scopes(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    cp = client.authority.headers("uss-c", CP)
    t0, _ = window()
    cases = {
        "24 hours": sub_body(circle(LAT, LNG, 1000, t0, t0 + 25 * 3600)),
        "past": sub_body(circle(LAT, LNG, 1000, time.time() - 7200, time.time() - 3600)),
        "at least one": sub_body(circle(LAT, LNG, 1000, t0, t0 + 3600), ops=False),
        "extents": {"uss_base_url": "https://uss.test.example/utm",
                    "notify_for_operational_intents": True},
    }
    for why, body in cases.items():
        status, out = client.call("PUT", SUB, a, body, subscriptionid=new_id())
        assert status == 400 and why in out["message"], (why, out)
    # notifications for intents need strategic coordination, for constraints processing
    assert client.call("PUT", SUB, cp, sub_body(circle(LAT, LNG, 1000, t0, t0 + 3600)),
                       subscriptionid=new_id())[0] == 403
    assert client.call("PUT", SUB, a, sub_body(circle(LAT, LNG, 1000, t0, t0 + 3600),
                                               ops=False, cons=True),
                       subscriptionid=new_id())[0] == 403
    status, out = client.call("PUT", SUB, cp, sub_body(circle(LAT, LNG, 1000, t0,
                                                              t0 + 3600), False, True),
                              subscriptionid=new_id())
    assert status == 200 and out["constraint_references"] == []
    # no times: from now, for the longest duration allowed
    vol = circle(LAT, LNG, 1000, t0, t0 + 3600)
    del vol["time_start"], vol["time_end"]
    status, out = client.call("PUT", SUB, a, sub_body(vol), subscriptionid=new_id())
    assert status == 200


def test_subscriptions_expire(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    t0, t1 = window(0.1, 0.5)
    sid = new_id()
    client.call("PUT", SUB, a, sub_body(circle(LAT, LNG, 1000, t0, t1)), subscriptionid=sid)
    client.clock.offset_s = 3600.0
    assert client.call("GET", SUB, a, subscriptionid=sid)[0] == 404
    now = client.clock()
    _, out = client.call("PUT", OIR, a, intent(circle(LAT, LNG, 300, now + 60, now + 600)),
                         entityid=new_id())
    assert out["subscribers"] == []


def test_reports_are_archived(client: Client) -> None:
    a = client.authority.headers("uss-a", CMSA)
    report = {"exchange": {
        "url": "https://uss-b.test.example/uss/v1/operational_intents/x", "method": "GET",
        "headers": ["Authorization: Bearer x"], "recorder_role": "Client",
        "request_time": rfc3339(time.time()), "request_source": "uss-a",
        "response_body": base64.b64encode(b"{}").decode(), "response_code": 500,
        "problem": "the peer answered 500"}}
    status, out = client.call("POST", REPORTS, a, report)
    assert status == 201 and out["report_id"] and out["exchange"] == report["exchange"]
    assert client.dss.reports() == [out]
    # fields the document does not declare are ignored, not archived nor echoed
    status, out = client.call("POST", REPORTS, a, {"exchange": {**report["exchange"],
                                                                "secret": "x"}, "extra": 1})
    assert status == 201 and "secret" not in out["exchange"] and "extra" not in out
    for bad in ({}, {"exchange": {**report["exchange"], "recorder_role": "Watcher"}},
                {"exchange": {**report["exchange"], "problem": {}}},
                {"exchange": {k: v for k, v in report["exchange"].items()
                              if k != "request_source"}},
                {"exchange": {k: v for k, v in report["exchange"].items() if k != "url"}}):
        assert client.call("POST", REPORTS, a, bad)[0] == 400


def test_availability(client: Client) -> None:
    arbiter = client.authority.headers("arbiter", AA)
    reader = client.authority.headers("uss-b", SC)
    status, out = client.call("GET", AVAIL, reader, uss_id="uss-a")
    assert status == 200 and out == {"status": {"uss": "uss-a", "availability": "Unknown"},
                                     "version": ""}
    status, out = client.call("PUT", AVAIL, arbiter, {"old_version": "",
                                                      "availability": "Down"}, uss_id="uss-a")
    assert status == 200 and out["status"]["availability"] == "Down"
    version = out["version"]
    # a stale version is refused, an unknown state too; the reader may not set
    assert client.call("PUT", AVAIL, arbiter, {"old_version": "",
                                               "availability": "Normal"},
                       uss_id="uss-a")[0] == 409
    assert client.call("PUT", AVAIL, arbiter, {"old_version": version,
                                               "availability": "Sleepy"},
                       uss_id="uss-a")[0] == 400
    assert client.call("PUT", AVAIL, reader, {"old_version": version,
                                              "availability": "Normal"},
                       uss_id="uss-a")[0] == 403
    _, out = client.call("GET", AVAIL, reader, uss_id="uss-a")
    assert out == {"status": {"uss": "uss-a", "availability": "Down"}, "version": version}
