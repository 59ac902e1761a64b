"""Fixtures of the DSS tests: a token authority (a fresh RSA key), the interface
document's schemas, a DSS over SQLite (or PostgreSQL) behind a real ASGI client, and
builders of the document's request bodies.

The interface document is not in the repository: it is read from ``SKYACCORD_F3548_YAML``
or from ``../shared/f3548/utm.yaml`` beside the checkout. Without it the schema checks
skip (CI included: the document is ASTM's, never copied into the repository).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from skyaccord.dss import Authenticator, Dss, create_app, open_db
from skyaccord.dss.auth import SCOPES

REPO = Path(__file__).resolve().parents[2]
AUDIENCE = "dss.test.example"
SC, CM, CP, CMSA, AA = SCOPES


def document_path() -> Path | None:
    named = os.environ.get("SKYACCORD_F3548_YAML")
    for p in ([Path(named)] if named else []) + [REPO.parent / "shared" / "f3548" / "utm.yaml"]:
        if p.is_file():
            return p
    return None


class Document:
    """The interface document: the response schema of each (path, method, status)."""

    def __init__(self, path: Path) -> None:
        self.doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        self._validators: dict[str, Any] = {}

    def schema_ref(self, path: str, method: str, status: int) -> str | None:
        op = self.doc["paths"][path][method.lower()]
        resp = op["responses"].get(str(status))
        if resp is None:
            return None
        return str(resp["content"]["application/json"]["schema"]["$ref"])

    def validator(self, ref: str) -> Any:
        if ref not in self._validators:
            root = {"$ref": ref, "components": self.doc["components"]}
            self._validators[ref] = jsonschema_rs.Draft4Validator(root, validate_formats=True)
        return self._validators[ref]

    def check(self, path: str, method: str, status: int, body: object) -> None:
        """``body`` is valid for ``status`` of ``method path``; a status the document does
        not list for it is an error, but for the few this DSS answers by its own choice
        (the DSS README), which must still be an ``ErrorResponse``."""
        ANSWERED.add((path, method.upper(), status))
        ref = self.schema_ref(path, method, status)
        if ref is None:
            assert (method, status) in _OWN_CHOICES.get(path, ()), (
                f"{method} {path} answered {status}, which the document does not list")
            ref = "#/components/schemas/ErrorResponse"
            assert isinstance(body, dict) and isinstance(body.get("message"), str)
        errors = [str(e) for e in self.validator(ref).iter_errors(body)]
        assert not errors, f"{method} {path} {status} against {ref}: {errors}"

    def security(self, path: str, method: str) -> list[frozenset[str]]:
        op = self.doc["paths"][path][method.lower()]
        return [frozenset(alt["Authority"]) for alt in op["security"]]


#: (path template, method, status) of every answer checked in this session
ANSWERED: set[tuple[str, str, int]] = set()

#: Statuses this DSS answers that the document does not list (README: its choices)
_OWN_CHOICES: dict[str, tuple[tuple[str, int], ...]] = {
    "/dss/v1/operational_intent_references/{entityid}/{ovn}": (("PUT", 404),),
    "/dss/v1/constraint_references/{entityid}/{ovn}": (("PUT", 404),),
    "/dss/v1/subscriptions/{subscriptionid}/{version}": (("PUT", 404),),
    "/dss/v1/uss_availability/{uss_id}": (("PUT", 409),),
}


_ABSENT = ("the F3548-21 interface document is absent: set SKYACCORD_F3548_YAML or lay "
           "../shared/f3548/utm.yaml beside the checkout")


class AbsentDocument(Document):
    """Where the document is not laid (it is ASTM's, never copied into the repository):
    the DSS's behaviour is still tested, only the answers' checks against the document's
    schemas are left out, and a test that reads the document itself skips."""

    def __init__(self) -> None:
        self._validators = {}

    @property
    def doc(self) -> Any:  # a test reading the document itself skips
        pytest.skip(_ABSENT)

    def check(self, path: str, method: str, status: int, body: object) -> None:
        ANSWERED.add((path, method.upper(), status))

    def schema_ref(self, path: str, method: str, status: int) -> str | None:
        pytest.skip(_ABSENT)

    def security(self, path: str, method: str) -> list[frozenset[str]]:
        pytest.skip(_ABSENT)


@pytest.fixture(scope="session")
def document() -> Document:
    p = document_path()
    return AbsentDocument() if p is None else Document(p)


@dataclass
class Authority:
    """A token authority: its RSA key, and tokens for any ``sub`` and scopes."""

    key: rsa.RSAPrivateKey
    public_pem: bytes

    def token(self, sub: str, *scopes: str, aud: str = AUDIENCE, exp_s: float = 600.0,
              key: rsa.RSAPrivateKey | None = None) -> str:
        now = int(time.time())
        claims = {"iss": "https://auth.test.example/token", "sub": sub, "aud": aud,
                  "scope": " ".join(scopes), "iat": now, "exp": now + int(exp_s),
                  "jti": str(uuid.uuid4())}
        return jwt.encode(claims, key or self.key, algorithm="RS256")

    def headers(self, sub: str, *scopes: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, *scopes, **kw)}"}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def authority() -> Authority:
    key = new_key()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return Authority(key, pem)


@pytest.fixture(scope="session")
def stranger_key() -> rsa.RSAPrivateKey:
    """A key the DSS does not trust."""
    return new_key()


class Clock:
    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@dataclass
class Client:
    """An ASGI client of one DSS, with the document checking every answer."""

    http: TestClient
    authority: Authority
    document: Document
    clock: Clock
    dss: Dss

    def call(self, method: str, template: str, who: dict[str, str] | None,
             body: object = None, **params: str) -> Any:
        url = template.format(**params)
        r = self.http.request(method, url, headers=who or {},
                              json=body if body is not None else None)
        payload = r.json()
        self.document.check(template, method, r.status_code, payload)
        return r.status_code, payload


def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(tmp_path / "dss.db")
        return
    yield from pg_schema_url()


def pg_schema_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL schema for a DSS, dropped after (skips without
    ``SKYACCORD_PG_URL``)."""
    base = os.environ.get("SKYACCORD_PG_URL")
    if not base:
        pytest.skip("SKYACCORD_PG_URL is not set")
    schema = "dss_" + uuid.uuid4().hex[:12]
    yield f"{base}{'&' if '?' in base else '?'}skyaccord_schema={schema}"
    from skyaccord.dss.db import PostgresDb

    db = PostgresDb(base, schema)
    db.drop()
    db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    yield from db_url(backend, tmp_path)


@pytest.fixture
def client(url: str, authority: Authority, document: Document, tmp_path: Path
           ) -> Iterator[Client]:
    from skyaccord.dss.auth import load_public_keys

    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(authority.public_pem)
    clock = Clock()
    db = open_db(url)
    dss = Dss(db, clock=clock)
    app = create_app(dss, Authenticator(load_public_keys([key_file]), AUDIENCE))
    with TestClient(app) as http:
        yield Client(http, authority, document, clock, dss)
    db.close()


# ------------------------------------------------------------------ request builders

def rfc3339(t: float) -> dict[str, str]:
    return {"value": datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "format": "RFC3339"}


def circle(lat: float, lng: float, radius_m: float, t0: float, t1: float,
           alt0: float = 0.0, alt1: float = 120.0) -> dict[str, Any]:
    return {"volume": {"outline_circle": {"center": {"lat": lat, "lng": lng},
                                          "radius": {"value": radius_m, "units": "M"}},
                       "altitude_lower": {"value": alt0, "reference": "W84", "units": "M"},
                       "altitude_upper": {"value": alt1, "reference": "W84", "units": "M"}},
            "time_start": rfc3339(t0), "time_end": rfc3339(t1)}


def polygon(points: list[tuple[float, float]], t0: float, t1: float,
            alt0: float = 0.0, alt1: float = 120.0) -> dict[str, Any]:
    return {"volume": {"outline_polygon": {"vertices": [{"lat": a, "lng": b}
                                                        for a, b in points]},
                       "altitude_lower": {"value": alt0, "reference": "W84", "units": "M"},
                       "altitude_upper": {"value": alt1, "reference": "W84", "units": "M"}},
            "time_start": rfc3339(t0), "time_end": rfc3339(t1)}


def intent(volume: dict[str, Any], *, state: str = "Accepted", key: list[str] | None = None,
           subscription_id: str | None = None, implicit: bool = False,
           base_url: str = "https://uss.test.example/utm") -> dict[str, Any]:
    body: dict[str, Any] = {"extents": [volume], "state": state, "uss_base_url": base_url,
                            "key": key or []}
    if subscription_id is not None:
        body["subscription_id"] = subscription_id
    if implicit:
        body["new_subscription"] = {"uss_base_url": base_url}
    return body


def new_id() -> str:
    return str(uuid.uuid4())


OIR = "/dss/v1/operational_intent_references/{entityid}"
OIR_OVN = "/dss/v1/operational_intent_references/{entityid}/{ovn}"
OIR_QUERY = "/dss/v1/operational_intent_references/query"
CR = "/dss/v1/constraint_references/{entityid}"
CR_OVN = "/dss/v1/constraint_references/{entityid}/{ovn}"
CR_QUERY = "/dss/v1/constraint_references/query"
SUB = "/dss/v1/subscriptions/{subscriptionid}"
SUB_VER = "/dss/v1/subscriptions/{subscriptionid}/{version}"
SUB_QUERY = "/dss/v1/subscriptions/query"
REPORTS = "/dss/v1/reports"
AVAIL = "/dss/v1/uss_availability/{uss_id}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With ``SKYACCORD_DSS_COVERAGE=FILE``: write which of the document's (operation,
    status) pairs the session's checked answers met, and which it did not."""
    out = os.environ.get("SKYACCORD_DSS_COVERAGE")
    p = document_path()
    if not out or p is None:
        return
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    lines = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and "responses" in op:
                for status in sorted(op["responses"]):
                    met = (path, method.upper(), int(status)) in ANSWERED
                    lines.append(f"{'met ' if met else 'MISS'} {method.upper()} {path} {status}")
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
