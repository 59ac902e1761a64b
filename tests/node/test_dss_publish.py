"""A skyaccord node and "other F3548 software" deconflict through one DSS, both ways, over
real HTTP: ``skyaccord serve --config node.toml`` serving ``/dss/v1`` (its ``[dss]``
table) and publishing its operators' intents there, and a second manager (uss-b) that is
plain HTTP requests built from the interface document's schemas (each request body is
validated against the document's request schema where the document is laid), with its
own notification receiver.

* The node's intent becomes an operational intent reference; uss-b's subscription is
  told by the node itself (a signed POST to uss-b's ``/uss/v1/operational_intents``).
* uss-b's conflicting reference: 409 without the key, naming the node's intent; uss-b
  reads the OVN from the node's ``/uss/v1`` details (as F3548 has it) and succeeds with
  it; the node is told (uss-b posts the notice; a stale one is refused 409).
* The node, in turn: the operator's intent across uss-b's reference is refused (409
  naming it) and nothing is stored; an update that moves clear goes through and uss-b is
  told; after a restart the node still withdraws its reference when the intent ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from skyaccord.node.service import init_node
from tests.dss.conftest import AbsentDocument, Document, document_path
from tests.dss.processes import free_port

AUDIENCE = "dss.node.test.example"
SC = "utm.strategic_coordination"
LAT, LNG = 35.9, 36.6  # Idlib
FT = 0.3048


@pytest.fixture(scope="module")
def document() -> Document:
    p = document_path()
    return AbsentDocument() if p is None else Document(p)


def check_request(document: Document, schema: str, body: object) -> None:
    """``body`` is a valid ``schema`` of the document (skipped where it is absent)."""
    if isinstance(document, AbsentDocument):
        return
    errors = [str(e) for e in document.validator(f"#/components/schemas/{schema}")
              .iter_errors(body)]
    assert not errors, f"{schema}: {errors}"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def token(key: rsa.RSAPrivateKey, sub: str, aud: str, *scopes: str) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "https://auth.b.test.example/token", "sub": sub, "aud": aud,
                       "scope": " ".join(scopes), "iat": now, "exp": now + 600,
                       "jti": str(uuid.uuid4())}, key, algorithm="RS256")


def t3339(t: float) -> dict[str, str]:
    return {"value": datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z"),
            "format": "RFC3339"}


def volume4d(lat: float, lng: float, radius_m: float, alt0_m: float, alt1_m: float,
             t0: float, t1: float) -> dict[str, Any]:
    """A ``Volume4D`` as the document defines it (circle, W84 metres, RFC 3339)."""
    return {"volume": {"outline_circle": {"center": {"lat": lat, "lng": lng},
                                          "radius": {"value": radius_m, "units": "M"}},
                       "altitude_lower": {"value": alt0_m, "reference": "W84", "units": "M"},
                       "altitude_upper": {"value": alt1_m, "reference": "W84", "units": "M"}},
            "time_start": t3339(t0), "time_end": t3339(t1)}


class Receiver:
    """uss-b's USS: ``POST /uss/v1/operational_intents`` records what it is told, ``GET
    /uss/v1/operational_intents/{id}`` answers the details it was given (and records
    who asked)."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], str]] = []
        self.details: dict[str, dict[str, Any]] = {}
        self.asked: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                eid = self.path.rsplit("/", 1)[-1]
                outer.asked.append((eid, self.headers.get("authorization", "")))
                op = outer.details.get(eid)
                data = json.dumps({"operational_intent": op} if op else
                                  {"message": "not found"}).encode()
                self.send_response(200 if op else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(n))
                outer.got.append((body, self.headers.get("authorization", "")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class NodeProcess:
    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "skyaccord", "serve",
                                          "--config", str(config)],
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/health", timeout=2)
                return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the node exited: {log.read_text()}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the node did not start: {log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    config, _, admin = init_node(tmp_path / "us", "us", port=port)
    authority, node_key = rsa_key(), rsa_key()
    (tmp_path / "us" / "authority.pem").write_bytes(public_pem(authority))
    (tmp_path / "us" / "us-uss.pub.pem").write_bytes(public_pem(node_key))
    signing = tmp_path / "us" / "us-uss.pem"
    signing.write_bytes(node_key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    signing.chmod(0o600)
    url = f"http://127.0.0.1:{port}"
    with open(config, "a", encoding="utf-8") as f:
        f.write(f'\n[dss]\naudience = "{AUDIENCE}"\n'
                'public_keys = ["authority.pem", "us-uss.pub.pem"]\n'
                f'publish_to = "{url}"\nuss_base_url = "{url}"\n'
                'signing_key = "us-uss.pem"\nrate_per_s = 1000.0\nrate_burst = 1000\n')
    receiver = Receiver()
    node = NodeProcess(config, port, tmp_path / "node.log")
    closers: list[httpx.Client] = []
    try:
        yield {"node": node, "config": config, "port": port, "admin": admin,
               "authority": authority, "node_key": node_key, "receiver": receiver,
               "log": tmp_path / "node.log", "closers": closers}
    finally:
        for c in closers:
            c.close()
        node.stop()
        receiver.close()


def wait_for(check: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


def sortie(intent_id: str, lat: float, lng: float, t0: float, t1: float,
           version: int = 0) -> dict[str, Any]:
    return {"id": intent_id, "version": version, "volumes": [
        {"circle": [lat, lng, 2000.0], "alt": [1000.0, 5000.0], "time": [t0, t1]}]}


def test_a_node_and_other_f3548_software_deconflict_both_ways(
        setup: dict[str, Any], document: Document) -> None:
    node: NodeProcess = setup["node"]
    receiver: Receiver = setup["receiver"]
    operator = {"Authorization": f"Bearer {setup['admin']}"}
    b_dss = {"Authorization": f"Bearer {token(setup['authority'], 'uss-b', AUDIENCE, SC)}"}
    # the node's USS routes take tokens for its own name (the host of its uss_base_url)
    b_uss = {"Authorization": f"Bearer {token(setup['authority'], 'uss-b', '127.0.0.1', SC)}"}
    http = httpx.Client(base_url=node.url, timeout=30)
    setup["closers"].append(http)
    now = time.time()
    t0, t1 = now + 600, now + 4200

    def b(method: str, template: str, body: Any = None, **params: str) -> tuple[int, Any]:
        r = http.request(method, template.format(**params), json=body, headers=b_dss)
        document.check(template, method, r.status_code, r.json())
        return r.status_code, r.json()

    # uss-b subscribes over the area
    b_sub = str(uuid.uuid4())
    sub_body = {"extents": volume4d(LAT, LNG, 8000, 0, 3000, t0 - 60, t1 + 60),
                "uss_base_url": receiver.url, "notify_for_operational_intents": True}
    check_request(document, "PutSubscriptionParameters", sub_body)
    assert b("PUT", "/dss/v1/subscriptions/{subscriptionid}", sub_body,
             subscriptionid=b_sub)[0] == 200

    # 1. the operator's intent is published; uss-b's subscription is told by the node
    r = http.post("/intents", json=sortie("sortie-1", LAT, LNG, t0, t1), headers=operator)
    assert r.status_code == 200, r.text
    published = r.json()["dss"]
    rid = published["reference"]
    assert published["version"] == 1 and receiver.url in published["subscribers"]
    notice, auth = wait_for(lambda: receiver.got and receiver.got[-1])
    check_request(document, "PutOperationalIntentDetailsParameters", notice)
    assert notice["operational_intent_id"] == rid
    assert notice["subscriptions"] == [{"subscription_id": b_sub, "notification_index": 1}]
    claims = jwt.decode(auth.removeprefix("Bearer "), public_pem(setup["node_key"]),
                        algorithms=["RS256"], audience="127.0.0.1")
    assert claims["sub"] == "us" and claims["scope"] == SC
    node_ovn = notice["operational_intent"]["reference"]["ovn"]

    # 2. uss-b plans across it: refused without the key, naming the node's intent
    b_id = str(uuid.uuid4())
    b_plan = {"extents": [volume4d(LAT + 0.005, LNG, 1500, 0, 2000, t0, t1)],
              "key": [], "state": "Accepted", "uss_base_url": receiver.url,
              "new_subscription": {"uss_base_url": receiver.url}}
    check_request(document, "PutOperationalIntentReferenceParameters", b_plan)
    status, out = b("PUT", "/dss/v1/operational_intent_references/{entityid}", b_plan,
                    entityid=b_id)
    assert status == 409
    [missing] = out["missing_operational_intents"]
    assert (missing["id"], missing["manager"], missing["uss_base_url"]) == (
        rid, "us", node.url)
    # uss-b asks the node's USS for the details (F3548's way to the OVN)
    r = http.get(f"/uss/v1/operational_intents/{rid}", headers=b_uss)
    assert r.status_code == 200, r.text
    document.check("/uss/v1/operational_intents/{entityid}", "GET", 200, r.json())
    details = r.json()["operational_intent"]
    assert details["reference"]["ovn"] == node_ovn
    # 5,000 ft = 1,524 m W84: the intent's own volume
    assert details["details"]["volumes"][0]["volume"]["altitude_upper"]["value"] == \
        pytest.approx(5000 * FT)
    for who, want in ((token(setup["authority"], "uss-b", "127.0.0.1"), 403),
                      (token(setup["authority"], "uss-b", AUDIENCE, SC), 401)):
        r = http.get(f"/uss/v1/operational_intents/{rid}",
                     headers={"Authorization": f"Bearer {who}"})
        assert r.status_code == want
        document.check("/uss/v1/operational_intents/{entityid}", "GET", want, r.json())
    r = http.get(f"/uss/v1/operational_intents/{uuid.uuid4()}", headers=b_uss)
    assert r.status_code == 404
    # ... and succeeds with it; its answer names the node's subscription to tell
    status, out = b("PUT", "/dss/v1/operational_intent_references/{entityid}",
                    {**b_plan, "key": [node_ovn]}, entityid=b_id)
    assert status == 201
    b_ref = out["operational_intent_reference"]
    [to_node] = [g for g in out["subscribers"] if g["uss_base_url"] == node.url]
    # uss-b tells the node
    told = {"operational_intent_id": b_id,
            "operational_intent": {"reference": b_ref, "details": {
                "volumes": b_plan["extents"], "off_nominal_volumes": [], "priority": 0}},
            "subscriptions": to_node["subscriptions"]}
    check_request(document, "PutOperationalIntentDetailsParameters", told)
    r = http.post("/uss/v1/operational_intents", json=told, headers=b_uss)
    assert r.status_code == 204, r.text
    receiver.details[b_id] = told["operational_intent"]
    # the operators see what they were told, and what the node told (viewer and up)
    seen = http.get("/f3548/notices", headers=operator).json()
    assert [(n["from"], n["id"], n["version"]) for n in seen["received"]] == [
        ("uss-b", b_id, 1)]
    assert {(n["to"], n["id"], n["outcome"]) for n in seen["sent"]} == {
        (receiver.url, rid, "204")}
    assert http.get("/f3548/notices").status_code == 401
    assert f"F3548 notice from uss-b: operational intent {b_id} version 1" in \
        setup["log"].read_text()
    stale = {**told, "operational_intent": {**told["operational_intent"], "details": {
        **told["operational_intent"]["details"], "priority": 5}}}
    r = http.post("/uss/v1/operational_intents", json=stale, headers=b_uss)
    assert r.status_code == 409
    document.check("/uss/v1/operational_intents", "POST", 409, r.json())
    impostor = token(setup["authority"], "uss-c", "127.0.0.1", SC)
    r = http.post("/uss/v1/operational_intents", json=told,
                  headers={"Authorization": f"Bearer {impostor}"})
    assert r.status_code == 403

    # 3. the node in turn: an intent across uss-b's reference is refused, naming it
    r = http.post("/intents", json=sortie("sortie-2", LAT + 0.01, LNG, t0, t1),
                  headers=operator)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert [m["id"] for m in problem["dss_missing"]] == [b_id]
    assert problem["dss_missing"][0]["manager"] == "uss-b" and b_id in problem["detail"]
    # (the node asked uss-b's USS for the details, with its own token for uss-b's host:
    # they meet its intent, so it did not write over them)
    asked, auth = receiver.asked[-1]
    assert asked == b_id
    assert jwt.decode(auth.removeprefix("Bearer "), public_pem(setup["node_key"]),
                      algorithms=["RS256"], audience="127.0.0.1")["sub"] == "us"
    assert http.get("/intents/sortie-2", headers=operator).status_code == 404
    # an update of sortie-1 that would cross it: refused, the registry keeps version 1
    r = http.post("/intents", json=sortie("sortie-1", LAT + 0.004, LNG, t0, t1, 1),
                  headers=operator)
    assert r.status_code == 409
    assert http.get("/intents/sortie-1", headers=operator).json()["version"] == 1
    # an update naming a version that is not the current one: refused by the registry
    # before the DSS is asked (the reference stays at version 1)
    r = http.post("/intents", json=sortie("sortie-1", LAT, LNG + 0.05, t0, t1, 7),
                  headers=operator)
    assert r.status_code == 409 and r.json()["outcome"] == "stale", r.text
    assert b("GET", "/dss/v1/operational_intent_references/{entityid}", entityid=rid
             )[1]["operational_intent_reference"]["version"] == 1
    # an update that moves clear (4.5 km east, still under uss-b's subscription) goes
    # through: version 2; uss-b told again
    before = len(receiver.got)
    r = http.post("/intents", json=sortie("sortie-1", LAT, LNG + 0.05, t0, t1, 1),
                  headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["dss"]["version"] == 2
    notice, _ = wait_for(lambda: len(receiver.got) > before and receiver.got[-1])
    assert notice["operational_intent"]["reference"]["version"] == 2
    # b_sub heard of the node's create (1) and of uss-b's own write (2): now 3
    indices = {s["subscription_id"]: s["notification_index"] for s in notice["subscriptions"]}
    assert indices[b_sub] == 3 and indices[b_ref["subscription_id"]] == 2

    # 3b. a reference whose extents (in the DSS) meet the node's next intent while the
    # volumes its USS details do not (as a DSS answering by coarse cells would name it):
    # the node reads the details, sees them clear, and writes with that OVN
    b2 = str(uuid.uuid4())
    b2_plan = {"extents": [volume4d(LAT - 0.05, LNG, 3000, 0, 2000, t0, t1)], "key": [],
               "state": "Accepted", "uss_base_url": receiver.url}
    status, out = b("PUT", "/dss/v1/operational_intent_references/{entityid}", b2_plan,
                    entityid=b2)
    assert status == 201, out
    receiver.details[b2] = {"reference": out["operational_intent_reference"], "details": {
        "volumes": [volume4d(LAT - 0.07, LNG, 500, 0, 2000, t0, t1)],
        "off_nominal_volumes": [], "priority": 0}}
    r = http.post("/intents", json=sortie("sortie-3", LAT - 0.035, LNG, t0, t1),
                  headers=operator)
    assert r.status_code == 200, r.text
    assert receiver.asked[-1][0] == b2
    # and with the details meeting it, the same is refused
    receiver.details[b2]["details"]["volumes"] = b2_plan["extents"]
    r = http.post("/intents", json=sortie("sortie-4", LAT - 0.036, LNG, t0, t1),
                  headers=operator)
    assert r.status_code == 409 and [m["id"] for m in r.json()["dss_missing"]] == [b2]

    # 4. restarted, the node still withdraws its reference when the intent ends
    node.stop()
    node.__init__(setup["config"], setup["port"], setup["log"])  # type: ignore[misc]
    before = len(receiver.got)
    r = http.post("/intents/sortie-1/end", json={"version": 2}, headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["dss"] == {"withdrawn": True, "reference": rid}
    assert b("GET", "/dss/v1/operational_intent_references/{entityid}", entityid=rid
             )[0] == 404
    notice, _ = wait_for(lambda: len(receiver.got) > before and receiver.got[-1])
    assert notice["operational_intent_id"] == rid and "operational_intent" not in notice
    # b_sub: the node's create, b_id, the update, b2, sortie-3, and now this deletion
    assert notice["subscriptions"] == [{"subscription_id": b_sub, "notification_index": 6}]
