"""The DSS as F3548 software meets it: real HTTP to ``skyaccord dss serve`` processes.

* Two managers deconflict through one DSS (SQLite): a plan, a conflicting plan refused
  without the key, accepted with it, and each one's subscription told of the other's
  changes with its index counting up.
* A pool: two DSS processes over one PostgreSQL database answer the same, whichever
  wrote; overlapping writes without keys raced through both let exactly one through.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dss.conftest import (
    AUDIENCE,
    SC,
    Authority,
    Document,
    circle,
    intent,
    new_id,
    pg_schema_url,
)
from tests.dss.processes import DssProcess

LAT, LNG = 52.37, 4.90  # Amsterdam
OIR = "/dss/v1/operational_intent_references/{entityid}"
OIR_OVN = "/dss/v1/operational_intent_references/{entityid}/{ovn}"
OIR_QUERY = "/dss/v1/operational_intent_references/query"
SUB = "/dss/v1/subscriptions/{subscriptionid}"


_OPEN: list[httpx.Client] = []


class Uss:
    """A USS talking to a DSS over HTTP, every answer checked against the document."""

    def __init__(self, base: str, headers: dict[str, str], document: Document) -> None:
        self.http = httpx.Client(base_url=base, headers=headers, timeout=30)
        _OPEN.append(self.http)
        self.document = document

    def __call__(self, method: str, template: str, body: object = None, **params: str
                 ) -> tuple[int, Any]:
        r = self.http.request(method, template.format(**params),
                              json=body if body is not None else None)
        self.document.check(template, method, r.status_code, r.json())
        return r.status_code, r.json()


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def key_file(tmp_path: Path, authority: Authority) -> Path:
    p = tmp_path / "authority.pem"
    p.write_bytes(authority.public_pem)
    return p


def test_two_managers_deconflict_over_http(tmp_path: Path, key_file: Path,
                                           authority: Authority, document: Document) -> None:
    dss = DssProcess(str(tmp_path / "dss.db"), key_file, AUDIENCE, tmp_path / "dss.log")
    try:
        a = Uss(dss.url, authority.headers("uss-a", SC), document)
        b = Uss(dss.url, authority.headers("uss-b", SC), document)
        now = time.time()
        t0, t1 = now + 600, now + 4200
        # A subscribes over its area and plans
        a_sub = new_id()
        status, out = a("PUT", SUB, {"extents": circle(LAT, LNG, 3000, t0 - 60, t1 + 60),
                                     "uss_base_url": "https://a.test.example/utm",
                                     "notify_for_operational_intents": True},
                        subscriptionid=a_sub)
        assert status == 200
        a_id = new_id()
        status, out = a("PUT", OIR, intent(circle(LAT, LNG, 1000, t0, t1),
                                           subscription_id=a_sub), entityid=a_id)
        assert status == 201
        a_ovn = out["operational_intent_reference"]["ovn"]
        assert out["subscribers"][0]["subscriptions"] == [
            {"subscription_id": a_sub, "notification_index": 1}]
        # B plans across it: the DSS names A's intent (not its OVN) as missing
        b_id = new_id()
        b_plan = intent(circle(LAT + 0.01, LNG, 1000, t0, t1), implicit=True,
                        base_url="https://b.test.example/utm")
        status, out = b("PUT", OIR, b_plan, entityid=b_id)
        assert status == 409
        [missing] = out["missing_operational_intents"]
        assert missing["id"] == a_id and "ovn" not in missing
        assert missing["uss_base_url"] == "https://uss.test.example/utm"
        # B learns A's OVN from A's USS (F3548's details exchange) and retries with it
        status, out = b("PUT", OIR, {**b_plan, "key": [a_ovn]}, entityid=b_id)
        assert status == 201
        b_ref = out["operational_intent_reference"]
        # A's subscription must be told: its index has counted up to 2
        told = {s["subscription_id"]: s["notification_index"]
                for sub in out["subscribers"] for s in sub["subscriptions"]}
        assert told[a_sub] == 2 and told[b_ref["subscription_id"]] == 1
        # A's update now needs B's OVN too
        status, out = a("PUT", OIR_OVN, intent(circle(LAT, LNG, 1200, t0, t1),
                                               subscription_id=a_sub, key=[]),
                        entityid=a_id, ovn=a_ovn)
        assert status == 409
        assert [m["id"] for m in out["missing_operational_intents"]] == [b_id]
        status, out = a("PUT", OIR_OVN, intent(circle(LAT, LNG, 1200, t0, t1),
                                               subscription_id=a_sub, key=[b_ref["ovn"]]),
                        entityid=a_id, ovn=a_ovn)
        assert status == 200
        told = {s["subscription_id"]: s["notification_index"]
                for sub in out["subscribers"] for s in sub["subscriptions"]}
        assert told == {a_sub: 3, b_ref["subscription_id"]: 2}
        by_url = {s["uss_base_url"] for s in out["subscribers"]}
        assert by_url == {"https://a.test.example/utm", "https://b.test.example/utm"}
    finally:
        dss.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def test_a_pool_of_two_instances_over_postgresql(tmp_path: Path, key_file: Path, pg_url: str,
                                                 authority: Authority,
                                                 document: Document) -> None:
    one = DssProcess(pg_url, key_file, AUDIENCE, tmp_path / "one.log")
    try:
        two = DssProcess(pg_url, key_file, AUDIENCE, tmp_path / "two.log")
    except BaseException:
        one.stop()
        raise
    try:
        a1 = Uss(one.url, authority.headers("uss-a", SC), document)
        a2 = Uss(two.url, authority.headers("uss-a", SC), document)
        b2 = Uss(two.url, authority.headers("uss-b", SC), document)
        now = time.time()
        t0, t1 = now + 600, now + 4200
        ids = []
        for i in range(5):
            eid = new_id()
            status, out = a1("PUT", OIR, intent(circle(LAT + 0.02 * i, LNG, 500, t0, t1),
                                                implicit=True), entityid=eid)
            assert status == 201
            ids.append(eid)
        # read through the other instance: identical answers
        for eid in ids:
            assert a1("GET", OIR, entityid=eid) == a2("GET", OIR, entityid=eid)
        area = {"area_of_interest": circle(LAT + 0.04, LNG, 6_000, t0, t1)}
        q1, q2 = a1("POST", OIR_QUERY, area), a2("POST", OIR_QUERY, area)
        assert q1 == q2 and {r["id"] for r in q1[1]["operational_intent_references"]} == \
            set(ids)
        # a write through two must know what one wrote
        status, out = b2("PUT", OIR, intent(circle(LAT, LNG, 500, t0, t1)),
                         entityid=new_id())
        assert status == 409 and [m["id"] for m in out["missing_operational_intents"]] == \
            [ids[0]]
        # overlapping creates raced through both instances, none with a key: the pool
        # serialises them, so exactly one goes through
        spot = (LAT - 0.3, LNG)

        def race(k: int) -> int:
            uss = Uss((one, two)[k % 2].url, authority.headers(f"uss-{k}", SC), document)
            status, _ = uss("PUT", OIR, intent(circle(*spot, 500, t0, t1)),
                            entityid=new_id())
            return status

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(race, range(8)))
        assert sorted(statuses) == [201] + [409] * 7
    finally:
        one.stop()
        two.stop()


def test_serve_refuses_a_bad_key_file_or_database(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n", encoding="utf-8")
    base = [sys.executable, "-m", "skyaccord", "dss", "serve", "--audience", "a"]
    cases = [
        # bad input: 2; a database that cannot be opened: 1 (StoreError, the run failed)
        (["--db", str(tmp_path / "d.db"), "--public-key", str(bad)], 2,
         "not a PEM public key"),
        (["--db", str(tmp_path / "d.db"), "--public-key", str(tmp_path / "none.pem")], 2,
         "cannot read the public key"),
        (["--db", str(tmp_path / "no-such-dir" / "d.db"), "--public-key", str(key_pem(
            tmp_path))], 1, "cannot open the DSS tables"),
    ]
    for args, code, message in cases:
        r = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == code, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)


def key_pem(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    from tests.dss.conftest import new_key

    p = tmp_path / "good.pem"
    p.write_bytes(new_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return p
