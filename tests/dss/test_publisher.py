"""A party's intents published as operational intent references (``Publisher``), beside
another USS that speaks F3548 directly: each learns of the other's plan through the DSS."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from skyaccord.dss.client import Publisher, reference_id
from skyaccord.errors import IntentConflict
from skyaccord.strategic.volumes import Circle, Intent, IntentState, Polygon, Volume
from tests.dss.conftest import OIR, OIR_QUERY, SC, Client, circle, intent, new_id

LAT, LNG = 36.2, 37.1  # Aleppo


def test_reference_ids_are_uuid4_and_stable() -> None:
    a = reference_id("us", "strike-1")
    assert a == reference_id("us", "strike-1") != reference_id("ru", "strike-1")
    assert a[14] == "4" and a[19] in "89ab"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_publish_update_conflict_and_withdraw(client: Client) -> None:
    pub = Publisher(client.http, lambda: client.authority.token("us", SC), "us",
                    "https://us-node.test.example/utm")
    now = time.time()
    t0, t1 = now + 600, now + 4200
    ours = Intent("sortie-7", "us", (
        Volume(Circle(LAT, LNG, 2000.0), 1000.0, 5000.0, t0, t1),
        Volume(Polygon(((LNG, LAT + 0.05), (LNG + 0.05, LAT + 0.05), (LNG + 0.05, LAT + 0.1),
                        (LNG, LAT + 0.1), (LNG, LAT + 0.05))), 1000.0, 5000.0, t0, t1)))
    first = pub.publish(ours)
    assert first is not None and first.version == 1
    # any F3548 USS sees it, in metres W84 (5,000 ft = 1,524 m)
    other = client.authority.headers("other-uss", SC)
    status, got = client.call("POST", OIR_QUERY, other, {
        "area_of_interest": circle(LAT, LNG, 100, t0, t1, 1500, 1600)})
    assert [r["id"] for r in got["operational_intent_references"]] == [first.id]
    assert got["operational_intent_references"][0]["manager"] == "us"
    # ... and must key its own plan with ours
    theirs = new_id()
    status, out = client.call("PUT", OIR, other, intent(circle(LAT, LNG + 0.01, 500, t0, t1,
                                                               0, 2000)), entityid=theirs)
    assert status == 409 and out["missing_operational_intents"][0]["id"] == first.id
    status, out = client.call("PUT", OIR, other, intent(
        circle(LAT, LNG + 0.01, 500, t0, t1, 0, 2000), key=[first.ovn]), entityid=theirs)
    assert status == 201
    their_ovn = out["operational_intent_reference"]["ovn"]
    # our update now meets theirs: refused, naming it; with their OVN (learnt from them)
    # it goes through, activated with an implicit subscription
    wider = replace(ours, state=IntentState.ACTIVATED)
    with pytest.raises(IntentConflict) as refused:
        pub.publish(wider)
    assert [m["id"] for m in refused.value.details["dss_missing"]] == [theirs]
    second = pub.publish(wider, known_ovns={theirs: their_ovn})
    assert second is not None and second.version == 2 and second.ovn != first.ovn
    status, got = client.call("GET", OIR, other, entityid=first.id)
    assert got["operational_intent_reference"]["state"] == "Activated"
    # ended: the reference is withdrawn
    gone = pub.publish(replace(ours, state=IntentState.ENDED))
    assert gone is not None and client.call("GET", OIR, other, entityid=first.id)[0] == 404
    assert pub.publish(replace(ours, state=IntentState.ENDED)) is None


def test_answers_are_read_up_to_a_bound() -> None:
    """A hostile server's endless answer is cut at the bound, not read whole."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from skyaccord.dss.client import bounded_json

    sent: list[int] = []

    class Endless(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            try:
                for _ in range(4096):  # up to 256 MiB, unless the reader hangs up
                    self.wfile.write(b" " * 65536)
                    sent.append(1)
            except OSError:
                pass

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client() as http:
            status, out = bounded_json(http, "GET",
                                       f"http://127.0.0.1:{server.server_address[1]}/x",
                                       1024 * 1024)
        assert status == 200 and "over 1048576 bytes" in out["message"]
        assert len(sent) < 1024  # far less than the 256 MiB offered was sent
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_publishing_puts_a_reference_back_when_the_registry_refuses(client: Client) -> None:
    """``Publishing.undo``: a new reference is deleted, an updated one written back as it
    was (its old extents found again, the new ones not); its details follow."""
    from skyaccord.dss.uss import Publishing, UssSide

    pub = Publisher(client.http, lambda: client.authority.token("us", SC), "us",
                    "https://us-node.test.example/utm")
    side = UssSide("https://us-node.test.example/utm")
    publishing = Publishing(pub, side)
    other = client.authority.headers("other-uss", SC)
    now = time.time()
    t0, t1 = now + 600, now + 4200

    def at(lat: float, version: int = 0) -> Intent:
        return Intent("sortie-8", "us", (Volume(Circle(lat, LNG, 1000.0), 0.0, 3000.0,
                                                t0, t1),), version=version)

    def found(lat: float) -> list[str]:
        _, got = client.call("POST", OIR_QUERY, other, {
            "area_of_interest": circle(lat, LNG, 10, t0, t1, 100, 200)})
        return [r["id"] for r in got["operational_intent_references"]]

    rid = reference_id("us", "sortie-8")
    first = publishing.write(at(LAT))
    publishing.undo(None, at(LAT))
    assert found(LAT) == [] and first.id == rid
    publishing.done(publishing.write(at(LAT)))
    moved = publishing.write(at(LAT + 0.1, 1))
    assert found(LAT + 0.1) == [rid] and found(LAT) == []
    publishing.undo(at(LAT, 1), at(LAT + 0.1, 1))
    assert found(LAT) == [rid] and found(LAT + 0.1) == []
    ref = client.call("GET", OIR, other, entityid=rid)[1]["operational_intent_reference"]
    assert ref["version"] == moved.version + 1
    details = side.details[rid]["details"]["volumes"][0]["volume"]["outline_circle"]
    assert details["center"]["lat"] == LAT
    side.close()
