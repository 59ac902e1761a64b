"""The node's USS routes (``/uss/v1/operational_intents``, :mod:`skyaccord.dss.uss`), each
documented answer checked against the document: the details of a published intent (200,
400, 401, 403, 404, 429) and the notices of other USSs (204, 400, 401, 403, 409, 429)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from skyaccord.dss import Authenticator, load_public_keys
from skyaccord.dss.api import RateLimiter
from skyaccord.dss.client import Published
from skyaccord.dss.uss import UssSide, uss_router
from tests.dss.conftest import (
    ANSWERED,
    CMSA,
    OIR,
    SC,
    AbsentDocument,
    Authority,
    Client,
    Document,
    circle,
    intent,
    new_id,
)

DETAILS = "/uss/v1/operational_intents/{entityid}"
NOTIFY = "/uss/v1/operational_intents"
USS_AUD = "us-node.test.example"


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def uss(tmp_path: Path, authority: Authority) -> Iterator[tuple[TestClient, UssSide, Tick]]:
    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(authority.public_pem)
    side = UssSide("https://us-node.test.example/utm")
    tick = Tick()
    app = FastAPI()
    app.include_router(uss_router(side, Authenticator(load_public_keys([key_file]), USS_AUD),
                                  limiter=RateLimiter(1.0, 20.0, clock=tick)))
    with TestClient(app) as http:
        yield http, side, tick
    side.close()


def call(http: TestClient, document: Document, method: str, template: str,
         headers: dict[str, str], body: object = None, **params: str) -> tuple[int, Any]:
    r = http.request(method, template.format(**params), headers=headers, json=body)
    if r.status_code == 204:  # the document's 204 has no body
        assert r.content == b""
        ANSWERED.add((template, method, 204))
        if not isinstance(document, AbsentDocument):
            assert "content" not in document.doc["paths"][template][method.lower()][
                "responses"]["204"]
        return 204, None
    document.check(template, method, r.status_code, r.json())
    return r.status_code, r.json()


def published(client: Client, sub: str = "us") -> Published:
    """A reference as the DSS really answers it, with its extents."""
    now = time.time()
    body = intent(circle(36.0, 37.0, 500, now + 60, now + 3600))
    r = client.http.put(OIR.format(entityid=new_id()), json=body,
                        headers=client.authority.headers(sub, SC))
    ref = r.json()["operational_intent_reference"]
    return Published(ref["id"], ref["version"], ref["ovn"], [], ref, body["extents"])


def test_details_of_a_published_intent(client: Client, uss: tuple[TestClient, UssSide, Tick],
                                       document: Document) -> None:
    http, side, _ = uss
    mine = published(client)
    side.record(mine)
    b = client.authority.headers("uss-b", SC, aud=USS_AUD)
    status, out = call(http, document, "GET", DETAILS, b, entityid=mine.id)
    assert status == 200
    assert out["operational_intent"]["reference"]["ovn"] == mine.ovn
    assert out["operational_intent"]["details"]["volumes"] == mine.extents
    assert call(http, document, "GET", DETAILS, b, entityid="not-a-uuid")[0] == 400
    assert call(http, document, "GET", DETAILS, {}, entityid=mine.id)[0] == 401
    assert call(http, document, "GET", DETAILS, client.authority.headers("uss-b", SC),
                entityid=mine.id)[0] == 401  # the DSS's audience, not this USS's
    assert call(http, document, "GET", DETAILS,
                client.authority.headers("uss-b", CMSA, aud=USS_AUD),
                entityid=mine.id)[0] == 403
    assert call(http, document, "GET", DETAILS, b, entityid=new_id())[0] == 404
    # withdrawn: gone
    side.record(mine, deleted=True)
    assert call(http, document, "GET", DETAILS, b, entityid=mine.id)[0] == 404
    codes = [call(http, document, "GET", DETAILS, b, entityid=mine.id)[0] for _ in range(20)]
    assert 429 in codes


def test_notices_of_other_usss(client: Client, uss: tuple[TestClient, UssSide, Tick],
                               document: Document) -> None:
    http, side, tick = uss
    theirs = published(client, "uss-b")
    b = client.authority.headers("uss-b", SC, aud=USS_AUD)
    notice = {"operational_intent_id": theirs.id,
              "operational_intent": {"reference": theirs.reference,
                                     "details": {"volumes": theirs.extents,
                                                 "off_nominal_volumes": [], "priority": 0}},
              "subscriptions": [{"subscription_id": new_id(), "notification_index": 3}]}
    assert call(http, document, "POST", NOTIFY, b, notice)[0] == 204
    assert side.received[-1]["from"] == "uss-b" and side.received[-1]["id"] == theirs.id
    # the same again: accepted (a retry); the same version changed: 409; older: 409
    assert call(http, document, "POST", NOTIFY, b, notice)[0] == 204
    changed = {**notice, "operational_intent": {**notice["operational_intent"],
                                                "details": {"volumes": theirs.extents,
                                                            "priority": 9}}}
    assert call(http, document, "POST", NOTIFY, b, changed)[0] == 409
    older = {**notice, "operational_intent": {**notice["operational_intent"], "reference": {
        **theirs.reference, "version": 0}}}
    assert call(http, document, "POST", NOTIFY, b, older)[0] == 409
    # a deletion notice (no operational_intent)
    gone = {"operational_intent_id": theirs.id, "subscriptions": notice["subscriptions"]}
    assert call(http, document, "POST", NOTIFY, b, gone)[0] == 204
    assert side.received[-1]["deleted"] is True
    for bad in ({"operational_intent_id": theirs.id},
                {**notice, "subscriptions": []},
                {**notice, "operational_intent_id": "x"},
                {**notice, "operational_intent": {"reference": {
                    **theirs.reference, "version": 2**40}}}):
        tick.t += 1
        assert call(http, document, "POST", NOTIFY, b, bad)[0] == 400, bad
    tick.t += 1
    assert call(http, document, "POST", NOTIFY, {}, notice)[0] == 401
    # a USS may only tell of what it manages; and only with strategic coordination
    assert call(http, document, "POST", NOTIFY,
                client.authority.headers("uss-c", SC, aud=USS_AUD), notice)[0] == 403
    assert call(http, document, "POST", NOTIFY,
                client.authority.headers("uss-b", CMSA, aud=USS_AUD), notice)[0] == 403
    codes = [call(http, document, "POST", NOTIFY, b, gone)[0] for _ in range(25)]
    assert 429 in codes
