"""Bounds against a hostile client, one test per bound: the per-client rate (429 with
``Retry-After`` and an ``ErrorResponse``, flooded in process and over real HTTP), the
search and footprint area, vertices, volumes, time spans, body size (declared and
chunked), the key's length, the token's length, URL and id lengths, and the number of
subscriptions one manager may hold."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from skyaccord.dss import Authenticator, Dss, create_app, load_public_keys, open_db
from skyaccord.dss.api import MAX_BODY_BYTES, RateLimiter
from skyaccord.dss.geometry import MAX_AREA_KM2, MAX_VERTICES, MAX_VOLUMES
from skyaccord.dss.service import Limits
from tests.dss.conftest import (
    AUDIENCE,
    AVAIL,
    CM,
    CMSA,
    CR,
    CR_OVN,
    OIR,
    OIR_OVN,
    OIR_QUERY,
    SC,
    SUB,
    SUB_QUERY,
    SUB_VER,
    Authority,
    Client,
    Document,
    circle,
    intent,
    new_id,
    polygon,
)
from tests.dss.processes import DssProcess

LAT, LNG = 48.85, 2.35  # Paris


@pytest.fixture
def backend() -> str:
    """The bounds are checked before the store: SQLite alone."""
    return "sqlite"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def limited(tmp_path: Path, authority: Authority, document: Document
            ) -> Iterator[tuple[Client, FakeClock]]:
    """A DSS allowing each client 2 requests/s, bursts of 5, 3 subscriptions."""
    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(authority.public_pem)
    clock = FakeClock()
    db = open_db(str(tmp_path / "dss.db"))
    dss = Dss(db, limits=Limits(max_subscriptions_per_manager=3))
    app = create_app(dss, Authenticator(load_public_keys([key_file]), AUDIENCE),
                     limiter=RateLimiter(2.0, 5.0, clock=clock))
    from tests.dss.conftest import Clock

    with TestClient(app) as http:
        yield Client(http, authority, document, Clock(), dss), clock
    db.close()


def test_a_flood_is_answered_429_with_retry_after(limited: tuple[Client, FakeClock]) -> None:
    client, clock = limited
    a = client.authority.headers("uss-a", SC)
    b = client.authority.headers("uss-b", SC)
    body = {"area_of_interest": circle(LAT, LNG, 500, time.time(), time.time() + 600)}
    codes = [client.call("POST", OIR_QUERY, a, body)[0] for _ in range(12)]
    # the burst of 5, then refusals while the clock stands still
    assert codes == [200] * 5 + [429] * 7
    r = client.http.post(OIR_QUERY, json=body, headers=a)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "too many requests" in r.json()["message"]
    # another manager is not held back by uss-a's flood
    assert client.call("POST", OIR_QUERY, b, body)[0] == 200
    # refused requests cost nothing: half a second later one more (2/s) is allowed
    clock.t += 0.5
    assert [client.call("POST", OIR_QUERY, a, body)[0] for _ in range(2)] == [200, 429]
    # a flood of bad tokens from one address is cut off too (before the signatures)
    bad = {"Authorization": "Bearer not.a.token"}
    codes = [client.http.post(OIR_QUERY, json=body, headers=bad).status_code
             for _ in range(8)]
    assert codes == [401] * 5 + [429] * 3


def test_a_flood_over_http_admits_no_more_than_the_rate(
        tmp_path: Path, authority: Authority, document: Document) -> None:
    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(authority.public_pem)
    dss = DssProcess(str(tmp_path / "dss.db"), key_file, AUDIENCE, tmp_path / "dss.log",
                     extra=("--rate-per-s", "5", "--rate-burst", "10"))
    try:
        headers = authority.headers("flooder", SC)
        body = {"area_of_interest": circle(LAT, LNG, 500, time.time(), time.time() + 600)}
        with httpx.Client(base_url=dss.url, timeout=30) as http:
            def one(_: int) -> tuple[float, int, Any, str | None]:
                r = http.post(OIR_QUERY, json=body, headers=headers)
                return time.monotonic(), r.status_code, r.json(), r.headers.get("Retry-After")

            start = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                got = list(pool.map(one, range(80)))
            elapsed = max(t for t, *_ in got) - start
            ok = sum(1 for _, s, _, _ in got if s == 200)
            refused = [(b, ra) for _, s, b, ra in got if s == 429]
            # a token bucket admits at most its burst plus the rate times the time
            assert ok <= 10 + math.ceil(5 * elapsed) + 1, (ok, elapsed)
            assert refused and ok >= 10
            for b, retry in refused:
                document.check(OIR_QUERY, "POST", 429, b)
                assert retry is not None and int(retry) >= 1
    finally:
        dss.stop()


def test_subscriptions_per_manager_are_bounded(limited: tuple[Client, FakeClock]) -> None:
    client, clock = limited
    now = time.time()
    a = client.authority.headers("uss-a", SC)
    sub = {"extents": circle(LAT, LNG, 500, now + 60, now + 3600),
           "uss_base_url": "https://a.test/utm", "notify_for_operational_intents": True}
    made = []
    for _ in range(3):
        sid = new_id()
        status, out = client.call("PUT", SUB, a, sub, subscriptionid=sid)
        assert status == 200
        made.append((sid, out["subscription"]["version"]))
        clock.t += 1.0  # within the rate
    clock.t += 10
    status, out = client.call("PUT", SUB, a, sub, subscriptionid=new_id())
    assert status == 429 and "3" in out["message"]
    # another manager holds its own three
    assert client.call("PUT", SUB, client.authority.headers("uss-b", SC), sub,
                       subscriptionid=new_id())[0] == 200
    # updating one is not making one; deleting one frees a place
    sid, version = made[0]
    clock.t += 10
    status, out = client.call("PUT", SUB_VER, a, sub, subscriptionid=sid, version=version)
    assert status == 200
    version = out["subscription"]["version"]
    assert client.call("DELETE", SUB_VER, a, subscriptionid=sid, version=version)[0] == 200
    clock.t += 10
    assert client.call("PUT", SUB, a, sub, subscriptionid=new_id())[0] == 200


def test_a_search_or_footprint_area_over_the_limit_is_413(client: Client) -> None:
    now = time.time()
    a = client.authority.headers("uss-a", SC)
    cm = client.authority.headers("uss-a", CM)
    radius_m = math.sqrt(MAX_AREA_KM2 / math.pi) * 1000.0
    inside, outside = radius_m * 0.99, radius_m * 1.01
    assert client.call("POST", OIR_QUERY, a, {
        "area_of_interest": circle(LAT, LNG, inside, now, now + 600)})[0] == 200
    # the updates of an intent and of a constraint too
    oid, cid = new_id(), new_id()
    _, out = client.call("PUT", OIR, a, intent(circle(LAT, LNG, 100, now + 60, now + 600)),
                         entityid=oid)
    oir_ovn = out["operational_intent_reference"]["ovn"]
    cons = {"extents": [circle(LAT, LNG, 100, now + 60, now + 600)],
            "uss_base_url": "https://a.test/utm"}
    _, out = client.call("PUT", CR, cm, cons, entityid=cid)
    cr_ovn = out["constraint_reference"]["ovn"]
    big = circle(LAT, LNG, outside, now + 60, now + 600)
    status, out = client.call("PUT", OIR_OVN, a, intent(big), entityid=oid, ovn=oir_ovn)
    assert status == 413 and "km²" in out["message"]
    status, out = client.call("PUT", CR_OVN, cm, {**cons, "extents": [big]}, entityid=cid,
                              ovn=cr_ovn)
    assert status == 413 and "km²" in out["message"]
    for template, body, params in (
            (OIR_QUERY, {"area_of_interest": circle(LAT, LNG, outside, now, now + 600)}, {}),
            (SUB_QUERY, {"area_of_interest": circle(LAT, LNG, outside, now, now + 600)}, {}),
            (OIR, intent(circle(LAT, LNG, outside, now + 60, now + 600)),
             {"entityid": new_id()}),
            (SUB, {"extents": circle(LAT, LNG, outside, now, now + 600),
                   "uss_base_url": "https://a.test/utm",
                   "notify_for_operational_intents": True}, {"subscriptionid": new_id()})):
        method = "POST" if template.endswith("query") else "PUT"
        status, out = client.call(method, template, a, body, **params)
        # 413 where the document lists it (queries, entities), else its 400
        want = 400 if template == SUB else 413
        assert status == want, (template, status, out)
        assert "km²" in out["message"]


def test_vertices_over_the_limit_are_refused(client: Client) -> None:
    now = time.time()
    a = client.authority.headers("uss-a", SC)

    def ring(n: int) -> list[tuple[float, float]]:  # a 1 km circle of n vertices
        return [(LAT + 0.009 * math.sin(2 * math.pi * k / n),
                 LNG + 0.013 * math.cos(2 * math.pi * k / n)) for k in range(n)]

    assert client.call("PUT", OIR, a, intent(polygon(ring(MAX_VERTICES), now + 60, now + 600)),
                       entityid=new_id())[0] == 201
    status, out = client.call("PUT", OIR, a, intent(
        polygon(ring(MAX_VERTICES + 1), now + 60, now + 600)), entityid=new_id())
    assert status == 413 and "vertices" in out["message"]


def test_volumes_over_the_limit_are_refused(client: Client) -> None:
    now = time.time()
    a = client.authority.headers("uss-a", SC)
    body = intent(circle(LAT, LNG, 100, now + 60, now + 600))
    body["extents"] = body["extents"] * (MAX_VOLUMES + 1)
    status, out = client.call("PUT", OIR, a, body, entityid=new_id())
    assert status == 413 and "volumes" in out["message"]


def test_time_spans_are_bounded(client: Client) -> None:
    now = time.time()
    a = client.authority.headers("uss-a", SC)
    day = 86400.0
    # an intent ends within 30 days (OiMaxPlanHorizonDays)
    assert client.call("PUT", OIR, a, intent(circle(LAT, LNG, 100, now + 60,
                                                    now + 29.9 * day)),
                       entityid=new_id())[0] == 201
    status, out = client.call("PUT", OIR, a, intent(circle(LAT, LNG, 100, now + 60,
                                                           now + 30.1 * day)),
                              entityid=new_id())
    assert status == 400 and "30 days" in out["message"]
    # an explicit subscription lasts at most 24 h (DSSMaxSubscriptionDurationHours)
    sub = {"uss_base_url": "https://a.test/utm", "notify_for_operational_intents": True}
    assert client.call("PUT", SUB, a, {**sub, "extents": circle(LAT, LNG, 100, now,
                                                                now + 23.9 * 3600)},
                       subscriptionid=new_id())[0] == 200
    status, out = client.call("PUT", SUB, a, {**sub, "extents": circle(
        LAT, LNG, 100, now, now + 24.1 * 3600)}, subscriptionid=new_id())
    assert status == 400 and "24 hours" in out["message"]
    # and a window that ends before it starts is refused
    status, out = client.call("PUT", OIR, a, intent(circle(LAT, LNG, 100, now + 600,
                                                           now + 60)), entityid=new_id())
    assert status == 400


def test_bodies_over_the_limit_are_413_declared_or_chunked(client: Client) -> None:
    a = client.authority.headers("uss-a", SC)
    big = b'{"area_of_interest": "' + b"x" * MAX_BODY_BYTES + b'"}'
    r = client.http.post(OIR_QUERY, content=big, headers={**a, "content-type":
                                                          "application/json"})
    assert r.status_code == 413
    client.document.check(OIR_QUERY, "POST", 413, r.json())

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        yield b'{"area_of_interest": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = client.http.post(OIR_QUERY, content=chunks(), headers={**a, "content-type":
                                                               "application/json"})
    assert r.status_code == 413 and "bytes" in r.json()["message"]


def test_the_key_is_bounded(client: Client) -> None:
    now = time.time()
    a = client.authority.headers("uss-a", SC)
    status, out = client.call("PUT", OIR, a, intent(circle(LAT, LNG, 100, now + 60, now + 600),
                                                    key=["k" * 8] * 10_001),
                              entityid=new_id())
    assert status == 400 and "key" in out["message"]


def test_tokens_urls_and_ids_are_bounded(client: Client) -> None:
    now = time.time()
    a = client.authority.headers("uss-a", SC)
    r = client.http.post(OIR_QUERY, headers={"Authorization": "Bearer " + "a" * 9000},
                         json={"area_of_interest": circle(LAT, LNG, 100, now, now + 60)})
    assert r.status_code == 401 and "8192" in r.json()["message"]
    long_url = "https://a.test/" + "u" * 2100
    status, out = client.call("PUT", OIR, a, intent(circle(LAT, LNG, 100, now + 60, now + 600),
                                                    base_url=long_url), entityid=new_id())
    assert status == 400 and "uss_base_url" in out["message"]
    status, out = client.call("GET", OIR, a, entityid="x" * 300)
    assert status == 400 and "UUIDv4" in out["message"]
    status, out = client.call("GET", AVAIL, client.authority.headers("uss-a", CMSA),
                              uss_id="u" * 257)
    assert status == 400 and "256" in out["message"]


def test_every_dss_endpoint_answers_429_past_the_rate(limited: tuple[Client, FakeClock]
                                                      ) -> None:
    """The document lists 429 for each operation: each one is rate limited."""
    from tests.dss.test_auth import ENDPOINTS, send

    client, clock = limited
    for method, template in ENDPOINTS:
        clock.t += 100.0  # a fresh bucket of 5 for each endpoint
        headers = client.authority.headers("uss-a", SC, CMSA)
        codes = [send(client, method, template, headers)[0] for _ in range(6)]
        assert all(c != 429 for c in codes[:5]) and codes[5] == 429, (method, template, codes)


def test_dss_serve_refuses_bad_limits_and_creates_nothing(tmp_path: Path,
                                                          authority: Authority) -> None:
    from typer.testing import CliRunner

    from skyaccord.cli import app

    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(authority.public_pem)
    for flags, words in ((["--rate-per-s", "0"], "rate"), (["--rate-burst", "0.5"], "burst"),
                         (["--max-subscriptions-per-manager", "0"],
                          "max_subscriptions_per_manager")):
        r = CliRunner().invoke(app, ["dss", "serve", "--db", str(tmp_path / "dss.db"),
                                     "--public-key", str(key_file), "--audience", AUDIENCE,
                                     *flags])
        assert r.exit_code == 2 and words in r.output, (flags, r.output)
        assert not (tmp_path / "dss.db").exists()
