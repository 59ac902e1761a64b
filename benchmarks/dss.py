"""DSS benchmark: checked operational intent writes per second and query latency through
the F3548-21 HTTP interface, with many intents in one dense area, SQLite and PostgreSQL.

    python -m benchmarks.dss                                   # SQLite only
    python -m benchmarks.dss --pg postgresql://postgres@127.0.0.1:55439/postgres
    python -m benchmarks.dss --n 2000 --writes 100             # a short run

The area: ``--n`` operational intents (default 10,000: a tenth of the 100,000 of the
registry benchmark, all inside one 20 × 20 km square, the InterUSS "busy cell"), circles
of 200-1,000 m radius, 0-150 m W84, windows of 15 min-2 h starting over the next 24 h,
from 4 managers. They are loaded as checked writes through the DSS's service in this
process (query, then PUT with the OVNs the query named: the same code as an HTTP write
without the HTTP; its rate is the "in-process" row). Then ``--writes`` more are made
through a ``skyaccord dss serve`` process over HTTP as a USS makes them: POST .../query
for the new intent's extents, then PUT with the key, each with a fresh RS256 token
checked by the DSS; and ``--writes`` queries of a 1 km circle over a 1 h window.

Reference: the InterUSS DSS (the open-source reference DSS) reports 6-8 writes/s in one
dense area (its busy-cell load test, interuss/monitoring
``loadtest/locust_files/FlightsInSub.py``; results in interuss/dss issue 1541).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from benchmarks.common import report
from skyaccord.dss import Caller, Dss, open_db
from skyaccord.dss.auth import STRATEGIC_COORDINATION
from tests.dss.processes import DssProcess

LAT, LNG = 47.37, 8.54  # Zürich
HALF_DEG_LAT = 10_000 / 111_195.0
HALF_DEG_LNG = HALF_DEG_LAT / 0.677  # cos(47.37°)
MANAGERS = ("uss-1", "uss-2", "uss-3", "uss-4")
AUDIENCE = "dss.bench.example"


def rfc3339(t: float) -> dict[str, str]:
    return {"value": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            + f".{int((t % 1) * 1e6):06d}Z", "format": "RFC3339"}


def volume(rng: random.Random, now: float, radius: tuple[float, float] = (200, 1000),
           duration: tuple[float, float] = (900, 7200)) -> dict[str, Any]:
    t0 = now + 600 + rng.uniform(0, 86400)
    return {"volume": {
        "outline_circle": {"center": {"lat": LAT + rng.uniform(-1, 1) * HALF_DEG_LAT,
                                      "lng": LNG + rng.uniform(-1, 1) * HALF_DEG_LNG},
                           "radius": {"value": rng.uniform(*radius), "units": "M"}},
        "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": 150, "reference": "W84", "units": "M"}},
        "time_start": rfc3339(t0), "time_end": rfc3339(t0 + rng.uniform(*duration))}


def body(vol: dict[str, Any], key: list[str]) -> dict[str, Any]:
    return {"extents": [vol], "state": "Accepted", "key": key,
            "uss_base_url": "https://uss.bench.example/utm"}


def load(dss: Dss, n: int, rng: random.Random, ovns: dict[str, str]) -> float:
    """Checked writes in this process; answers writes/s."""
    t = time.perf_counter()
    now = time.time()
    for i in range(n):
        caller = Caller(MANAGERS[i % len(MANAGERS)], frozenset({STRATEGIC_COORDINATION}))
        vol = volume(rng, now)
        found = dss.query_operational_intents(caller, {"area_of_interest": vol})
        key = [ovns[r["id"]] for r in found["operational_intent_references"]]
        out = dss.put_operational_intent(caller, str(uuid.uuid4()), None, body(vol, key))
        ref = out["operational_intent_reference"]
        ovns[ref["id"]] = ref["ovn"]
    return n / (time.perf_counter() - t)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run(label: str, url: str, args: argparse.Namespace, key: rsa.RSAPrivateKey, pem: Path,
        work: Path) -> list[list[Any]]:
    rng = random.Random(19)
    db = open_db(url)
    ovns: dict[str, str] = {}
    try:
        dss = Dss(db)
        print(f"{label}: loading {args.n} intents (checked, in process)...", flush=True)
        load_rate = load(dss, args.n, rng, ovns)
    finally:
        db.close()
    # the per-client rate limit (429) is lifted: this measures the DSS, not the limiter
    server = DssProcess(url, pem, AUDIENCE, work / f"{label}.log",
                        extra=("--rate-per-s", "1e9", "--rate-burst", "1e9"))
    rows: list[list[Any]] = []
    try:
        now = time.time()

        # one token per manager for the run, as a USS keeps its access token until it
        # nears expiry (F3548: at most an hour); the DSS checks its signature every time
        tokens = {sub: jwt.encode({"sub": sub, "aud": AUDIENCE,
                                   "scope": STRATEGIC_COORDINATION,
                                   "exp": int(time.time()) + 3600, "iss": "bench",
                                   "jti": uuid.uuid4().hex}, key, algorithm="RS256")
                  for sub in MANAGERS}

        def headers(sub: str) -> dict[str, str]:
            return {"Authorization": "Bearer " + tokens[sub]}

        with httpx.Client(base_url=server.url, timeout=60) as http:
            q_ms, put_ms, write_ms, keys = [], [], [], []
            refused = 0
            for i in range(args.writes):
                sub = MANAGERS[i % len(MANAGERS)]
                vol = volume(rng, now)
                t0 = time.perf_counter()
                r = http.post("/dss/v1/operational_intent_references/query",
                              json={"area_of_interest": vol}, headers=headers(sub))
                t1 = time.perf_counter()
                k = [ovns[x["id"]] for x in r.json()["operational_intent_references"]]
                r = http.put(f"/dss/v1/operational_intent_references/{uuid.uuid4()}",
                             json=body(vol, k), headers=headers(sub))
                t2 = time.perf_counter()
                if r.status_code != 201:
                    refused += 1
                    continue
                ref = r.json()["operational_intent_reference"]
                ovns[ref["id"]] = ref["ovn"]
                q_ms.append((t1 - t0) * 1e3)
                put_ms.append((t2 - t1) * 1e3)
                write_ms.append((t2 - t0) * 1e3)
                keys.append(len(k))
            query_ms = []
            for _ in range(args.writes):
                vol = volume(rng, now, radius=(1000, 1000), duration=(3600, 3600))
                t0 = time.perf_counter()
                r = http.post("/dss/v1/operational_intent_references/query",
                              json={"area_of_interest": vol}, headers=headers("uss-1"))
                query_ms.append((time.perf_counter() - t0) * 1e3)
                assert r.status_code == 200
        rate = len(write_ms) / (sum(write_ms) / 1e3)
        rows.append([label, "in-process checked write (query + put)", args.n,
                     round(load_rate, 1), "", ""])
        rows.append([label, "HTTP checked write (query + PUT, tokens)", len(write_ms),
                     round(rate, 1), round(statistics.median(write_ms), 2),
                     round(pct(write_ms, 0.99), 2)])
        rows.append([label, "  of which PUT", len(put_ms), "",
                     round(statistics.median(put_ms), 2), round(pct(put_ms, 0.99), 2)])
        rows.append([label, "HTTP query (1 km, 1 h)", len(query_ms), "",
                     round(statistics.median(query_ms), 2), round(pct(query_ms, 0.99), 2)])
        rows.append([label, f"key length (mean), refused {refused}", len(keys),
                     "", round(statistics.mean(keys), 1), max(keys)])
    finally:
        server.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="intents in the dense area")
    ap.add_argument("--writes", type=int, default=300, help="HTTP writes and queries")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (a schema of its own is "
                    "made and dropped)")
    args = ap.parse_args()
    import os

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory(prefix="dss-bench-") as tmp:
        work = Path(tmp)
        pem = work / "authority.pem"
        pem.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        rows = run("sqlite", str(work / "dss.db"), args, key, pem, work)
        if args.pg:
            schema = "dss_bench_" + uuid.uuid4().hex[:8]
            sep = "&" if "?" in args.pg else "?"
            try:
                rows += run("postgresql", f"{args.pg}{sep}skyaccord_schema={schema}", args,
                            key, pem, work)
            finally:
                from skyaccord.dss.db import PostgresDb

                PostgresDb(args.pg, schema).drop()
    report("dss", ["backend", "what", "n", "per s", "p50 ms", "p99 ms"], rows,
           {"intents": args.n, "area_km": "20 x 20", "load_average": os.getloadavg(),
            "reference": "InterUSS DSS: 6-8 writes/s in one dense area"})


if __name__ == "__main__":
    main()
