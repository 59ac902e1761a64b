"""Authorization as F3548-21 requires it, on every endpoint of the document's ``dss`` tag:
401 (with an ``ErrorResponse``) for a missing, malformed, badly signed, foreign,
expired or algorithm-swapped token; 403 for a good token without an accepted scope; and
each scope alternative the document lists is let through."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from skyaccord.dss.auth import SCOPES
from tests.dss.conftest import (
    AVAIL,
    CR,
    CR_OVN,
    CR_QUERY,
    OIR,
    OIR_OVN,
    OIR_QUERY,
    REPORTS,
    SUB,
    SUB_QUERY,
    SUB_VER,
    Authority,
    Client,
    Document,
    new_id,
)

ENDPOINTS = [
    ("POST", OIR_QUERY), ("GET", OIR), ("PUT", OIR), ("PUT", OIR_OVN), ("DELETE", OIR_OVN),
    ("POST", CR_QUERY), ("GET", CR), ("PUT", CR), ("PUT", CR_OVN), ("DELETE", CR_OVN),
    ("POST", SUB_QUERY), ("GET", SUB), ("PUT", SUB), ("PUT", SUB_VER), ("DELETE", SUB_VER),
    ("POST", REPORTS), ("GET", AVAIL), ("PUT", AVAIL),
]
PARAMS = {"entityid": "2f8343be-6482-4d1b-a474-16847e01af1e", "ovn": "o" * 20,
          "subscriptionid": "78ea3fe8-71c2-4f5c-9b44-9c02f5563c6f", "version": "v1",
          "uss_id": "uss-a"}


SC, CM, CP, CMSA, AA = SCOPES
#: Each endpoint's ``security`` alternatives as the document lists them (compared with it
#: below where it is laid; used where it is not, so the scope tests run in CI too)
SECURITY: dict[tuple[str, str], list[tuple[str, ...]]] = {
    ("POST", OIR_QUERY): [(SC,), (CMSA,)], ("GET", OIR): [(SC,), (CMSA,)],
    ("PUT", OIR): [(SC,), (SC, CP), (CMSA,)], ("PUT", OIR_OVN): [(SC,), (SC, CP), (CMSA,)],
    ("DELETE", OIR_OVN): [(SC,), (CMSA,)],
    ("POST", CR_QUERY): [(CM,), (CP,)], ("GET", CR): [(CM,), (CP,)], ("PUT", CR): [(CM,)],
    ("PUT", CR_OVN): [(CM,)], ("DELETE", CR_OVN): [(CM,)],
    ("POST", SUB_QUERY): [(CP,), (SC,)], ("GET", SUB): [(CP,), (SC,)],
    ("PUT", SUB): [(CP,), (SC,)], ("PUT", SUB_VER): [(CP,), (SC,)],
    ("DELETE", SUB_VER): [(CP,), (SC,)],
    ("POST", REPORTS): [(CM,), (CP,), (SC,), (CMSA,), (AA,)],
    ("PUT", AVAIL): [(AA,)], ("GET", AVAIL): [(AA,), (SC,), (CMSA,)],
}


def test_the_scope_table_is_the_documents(document: Document) -> None:
    assert set(SECURITY) == set(ENDPOINTS)
    for (method, template), alts in SECURITY.items():
        assert document.security(template, method) == [frozenset(a) for a in alts], template


def test_the_table_is_every_dss_endpoint_of_the_document(document: Document) -> None:
    listed = {(m.upper(), p) for p, ops in document.doc["paths"].items()
              for m, op in ops.items() if isinstance(op, dict) and "dss" in op.get("tags", ())}
    assert listed == set(ENDPOINTS)


def send(c: Client, method: str, template: str, headers: dict[str, str]) -> tuple[int, object]:
    body = {} if method in ("PUT", "POST") else None
    return c.call(method, template, headers, body, **{
        k: v for k, v in PARAMS.items() if "{" + k + "}" in template})


def _b64(d: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(("method", "template"), ENDPOINTS)
def test_bad_tokens_are_401(client: Client, stranger_key: rsa.RSAPrivateKey, method: str,
                            template: str) -> None:
    a: Authority = client.authority
    now = int(time.time())
    claims = {"sub": "uss-a", "aud": "dss.test.example", "scope": " ".join(SCOPES),
              "exp": now + 600}
    public_pem = a.public_pem
    bad = {
        "missing": {},
        "not bearer": {"Authorization": "Basic dXNzOnB3"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "stranger's key": a.headers("uss-a", *SCOPES, key=stranger_key),
        "other audience": a.headers("uss-a", *SCOPES, aud="other-dss.example"),
        "expired": a.headers("uss-a", *SCOPES, exp_s=-120),
        # the public key used as an HMAC secret (the RS/HS confusion attack)
        "HS256 with the public key": {"Authorization": "Bearer " + _hs256(claims, public_pem)},
        "alg none": {"Authorization": "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "."
                     + _b64(claims) + "."},
        "oversized": {"Authorization": "Bearer " + "a" * 9000},
    }
    for why, headers in bad.items():
        status, body = send(client, method, template, headers)
        assert status == 401, (why, status, body)
        assert isinstance(body, dict) and body["message"]


def _hs256(claims: dict[str, object], secret: bytes) -> str:
    import hashlib
    import hmac

    head = _b64({"alg": "HS256", "typ": "JWT"}) + "." + _b64(claims)
    sig = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(("method", "template"), ENDPOINTS)
def test_scopes_as_the_document_lists_them(client: Client, method: str, template: str
                                           ) -> None:
    alternatives = [frozenset(a) for a in SECURITY[(method, template)]]
    accepted = set().union(*alternatives)
    # a good token with every other scope (or none the DSS knows): 403
    others = [s for s in SCOPES if s not in accepted] or ["openid"]
    status, body = send(client, method, template, client.authority.headers("uss-a", *others))
    assert status == 403, (others, status, body)
    # each alternative the document lists gets past the scope check
    for alt in alternatives:
        status, body = send(client, method, template,
                            client.authority.headers("uss-a", *sorted(alt)))
        assert status not in (401, 403), (sorted(alt), status, body)


def test_a_token_without_sub_or_exp_is_401(client: Client) -> None:
    a = client.authority
    for claims in ({"aud": "dss.test.example", "scope": SCOPES[0],
                    "exp": int(time.time()) + 60},
                   {"sub": "uss-a", "aud": "dss.test.example", "scope": SCOPES[0]}):
        token = jwt.encode(claims, a.key, algorithm="RS256")
        status, _ = client.call("GET", OIR, {"Authorization": f"Bearer {token}"},
                                entityid=new_id())
        assert status == 401


def test_the_issuer_when_one_is_configured(authority: Authority) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from skyaccord.dss.auth import Authenticator
    from skyaccord.errors import Unauthenticated

    key = load_pem_public_key(authority.public_pem)
    assert isinstance(key, rsa.RSAPublicKey)
    issuer = "https://auth.test.example/token"  # what Authority.token puts in iss
    checked = Authenticator([key], "dss.test.example", issuer=issuer)
    assert checked.caller("Bearer " + authority.token("uss-a", SCOPES[0])).sub == "uss-a"
    now = int(time.time())
    for claims in ({"iss": "https://evil.example/token"}, {}):
        token = jwt.encode({"sub": "uss-a", "aud": "dss.test.example", "exp": now + 60,
                            **claims}, authority.key, algorithm="RS256")
        with pytest.raises(Unauthenticated):
            checked.caller("Bearer " + token)
        # without an issuer configured, iss is not looked at
        assert Authenticator([key], "dss.test.example").caller("Bearer " + token).sub == \
            "uss-a"
