"""The node's ``[dss]`` table (ASTM F3548-21): what it builds, and ``serve``'s refusals of
a bad one: one InputError naming the key, exit 2, and not a file created or changed."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.errors import InputError
from skyaccord.node.cli import _with_dss_flags, check_dss, dss_parts
from skyaccord.node.config import load_settings
from skyaccord.node.service import init_node, open_node

runner = CliRunner()
AUD = "dss.us.test.example"
SC = "utm.strategic_coordination"


def files_of(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def authority() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def node_dir(tmp_path: Path, authority: rsa.RSAPrivateKey, dss: str) -> Path:
    config, _, _ = init_node(tmp_path / "us", "us")
    (config.parent / "authority.pem").write_bytes(pem_public(authority))
    signing = config.parent / "us-uss.pem"
    signing.write_bytes(pem_private(authority))
    signing.chmod(0o600)
    with open(config, "a", encoding="utf-8") as f:
        f.write("\n[dss]\n" + dss)
    return config


def bearer(key: rsa.RSAPrivateKey, sub: str, aud: str, *scopes: str) -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": "Bearer " + jwt.encode(
        {"sub": sub, "aud": aud, "scope": " ".join(scopes), "iat": now, "exp": now + 300,
         "iss": "https://auth.test", "jti": str(uuid.uuid4())}, key, algorithm="RS256")}


def test_a_dss_table_serves_dss_v1_beside_the_node(tmp_path: Path,
                                                   authority: rsa.RSAPrivateKey) -> None:
    config = node_dir(tmp_path, authority, f'audience = "{AUD}"\n'
                      'public_keys = ["authority.pem"]\nrate_per_s = 5.0\nrate_burst = 7\n'
                      "max_subscriptions_per_manager = 3\n")
    s = load_settings(config)
    assert s.dss is not None and s.dss.public_keys == (config.parent / "authority.pem",)
    assert (s.dss.rate_per_s, s.dss.rate_burst, s.dss.max_subscriptions_per_manager) == (
        5.0, 7.0, 3)
    # the DSS's tables default to the registry's database
    assert s.dss_db == s.registry_url == str(config.parent / "us-registry.db")
    check_dss(s)
    node = open_node(s)
    routers, publishing, closers = dss_parts(s)
    assert publishing is None and [r.prefix for r in routers] == ["/dss/v1"]
    try:
        with TestClient(node.app(tick=False, deliver=False, routers=routers)) as c:
            now = time.time()
            sub = {"extents": {"volume": {"outline_circle": {
                "center": {"lat": 36.0, "lng": 37.0}, "radius": {"value": 500, "units": "M"}},
                "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                "altitude_upper": {"value": 100, "reference": "W84", "units": "M"}},
                "time_start": {"value": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                      time.gmtime(now + 60)),
                               "format": "RFC3339"},
                "time_end": {"value": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(now + 3600)),
                             "format": "RFC3339"}},
                "uss_base_url": "https://b.test", "notify_for_operational_intents": True}
            who = bearer(authority, "uss-b", AUD, SC)
            codes = [c.put(f"/dss/v1/subscriptions/{uuid.uuid4()}", json=sub,
                           headers=who).status_code for _ in range(4)]
            # the table's limit: three subscriptions per manager, then 429
            assert codes == [200, 200, 200, 429]
            assert c.get(f"/dss/v1/subscriptions/{uuid.uuid4()}",
                         headers=bearer(authority, "uss-b", "elsewhere", SC)).status_code == 401
    finally:
        for part in closers:
            part.close()
    with sqlite3.connect(s.dss_db) as db:
        assert db.execute("SELECT COUNT(*) FROM dss_subscriptions").fetchone()[0] == 3


def test_publishing_mounts_the_uss_routes(tmp_path: Path, authority: rsa.RSAPrivateKey
                                          ) -> None:
    config = node_dir(tmp_path, authority, 'public_keys = ["authority.pem"]\n'
                      'publish_to = "https://dss.elsewhere.test"\n'
                      'uss_base_url = "https://us-node.test/utm"\nsigning_key = "us-uss.pem"\n'
                      'publish_audience = "dss.elsewhere.test"\n')
    s = load_settings(config)
    check_dss(s)
    routers, publishing, closers = dss_parts(s)
    try:
        paths = {getattr(route, "path", "") for r in routers for route in r.routes}
        assert paths == {"/uss/v1/operational_intents/{entityid}",
                         "/uss/v1/operational_intents", "/f3548/notices"}
        assert publishing is not None
        assert publishing.publisher.uss_base_url == "https://us-node.test/utm"
        claims = jwt.decode(publishing.publisher.token(), pem_public(authority),
                            algorithms=["RS256"], audience="dss.elsewhere.test")
        assert (claims["sub"], claims["scope"]) == ("us", SC)
    finally:
        for part in closers:
            part.close()


def _bad_tables(tmp_path: Path) -> list[tuple[str, str]]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(pem_public(ec_key))
    (tmp_path / "junk.pem").write_text("not a key\n")
    ok = f'audience = "{AUD}"\npublic_keys = ["authority.pem"]\n'
    return [
        ('colour = "red"\n' + ok, "'dss.colour'"),
        (f'audience = "{AUD}"\n', "'dss.public_keys'"),
        ('public_keys = ["authority.pem"]\n', "needs audience"),
        (f'audience = "{AUD}"\npublic_keys = ["missing.pem"]\n', "missing.pem"),
        (f'audience = "{AUD}"\npublic_keys = ["{tmp_path}/junk.pem"]\n', "not a PEM"),
        (f'audience = "{AUD}"\npublic_keys = ["{tmp_path}/ec.pem"]\n', "must be RSA"),
        ('audience = ""\npublic_keys = ["authority.pem"]\n', "'dss.audience'"),
        (ok + "rate_burst = 0\n", "'dss.rate_burst'"),
        (ok + "rate_per_s = -1\n", "'dss.rate_per_s'"),
        (ok + "max_subscriptions_per_manager = 0\n", "'dss.max_subscriptions_per_manager'"),
        (ok + 'db = "postgresql://h:notaport/x"\n', "'dss.db'"),
        (ok + 'db = "postgresql://h/x?skyaccord_schema=Bad-Name"\n', "'dss.db'"),
        (ok + 'db = "no/such/dir/dss.db"\n', "'dss.db'"),
        (ok + 'publish_to = "ftp://x"\n', "'dss.publish_to'"),
        (ok + 'publish_to = "http://127.0.0.1:1"\n', "'dss.uss_base_url'"),
        (ok + 'publish_to = "http://127.0.0.1:1"\nuss_base_url = "http://h"\n',
         "'dss.signing_key'"),
        (ok + 'publish_to = "http://127.0.0.1:1"\nuss_base_url = "http://h"\n'
         'signing_key = "authority.pem"\n', "'dss.signing_key'"),
        (ok + 'uss_base_url = "http://h"\n', "go with publish_to"),
        ('public_keys = ["authority.pem"]\npublish_to = "http://127.0.0.1:1"\n'
         'uss_base_url = "http://h"\nsigning_key = "us-uss.pem"\n', "'dss.publish_audience'"),
    ]


def test_serve_refuses_a_bad_dss_table_and_creates_nothing(
        tmp_path: Path, authority: rsa.RSAPrivateKey) -> None:
    for k, (table, words) in enumerate(_bad_tables(tmp_path)):
        config = node_dir(tmp_path / str(k), authority, table)
        before = files_of(config.parent)
        r = runner.invoke(app, ["serve", "--config", str(config)])
        assert r.exit_code == 2, (table, r.output)
        assert words in r.output, (table, r.output)
        assert files_of(config.parent) == before, table
        with pytest.raises(InputError):
            check_dss(load_settings(config))


def test_a_signing_key_others_can_read_is_refused(tmp_path: Path,
                                                  authority: rsa.RSAPrivateKey) -> None:
    config = node_dir(tmp_path, authority, 'public_keys = ["authority.pem"]\n'
                      'publish_to = "http://127.0.0.1:1"\nuss_base_url = "http://h"\n'
                      f'signing_key = "us-uss.pem"\npublish_audience = "{AUD}"\n')
    (config.parent / "us-uss.pem").chmod(0o644)
    with pytest.raises(InputError, match="readable by others"):
        check_dss(load_settings(config))


def test_serve_flags_make_or_override_the_table(tmp_path: Path,
                                                authority: rsa.RSAPrivateKey) -> None:
    config, _, _ = init_node(tmp_path / "us", "us")
    key = tmp_path / "authority.pem"
    key.write_bytes(pem_public(authority))
    s = load_settings(config)
    assert s.dss is None
    flagged = _with_dss_flags(s, AUD, [key], str(tmp_path / "dss.db"))
    assert flagged.dss is not None and flagged.dss.audience == AUD
    assert flagged.dss_db == str(tmp_path / "dss.db")
    check_dss(flagged)
    # a bad key named by flag: exit 2, nothing created
    before = files_of(config.parent)
    r = runner.invoke(app, ["serve", "--config", str(config), "--dss-audience", AUD,
                            "--dss-public-key", str(tmp_path / "nope.pem")])
    assert r.exit_code == 2 and "nope.pem" in r.output
    assert files_of(config.parent) == before


def test_a_dss_that_does_not_answer_stores_nothing(tmp_path: Path,
                                                   authority: rsa.RSAPrivateKey) -> None:
    """Publishing configured and the DSS down: the operator's intent is refused (503,
    ``dss-unavailable``) and the registry keeps nothing: a plan the other F3548 parties
    cannot see is not accepted."""
    from tests.dss.processes import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    config = node_dir(tmp_path, authority, 'public_keys = ["authority.pem"]\n'
                      f'publish_to = "{dead}"\nuss_base_url = "http://127.0.0.1:9"\n'
                      f'signing_key = "us-uss.pem"\npublish_audience = "{AUD}"\n')
    s = load_settings(config)
    check_dss(s)
    node = open_node(s)
    admin = (config.parent / "admin.token").read_text().strip()
    routers, publishing, closers = dss_parts(s)
    try:
        application = node.app(tick=False, deliver=False, routers=routers)
        application.state.dss_publishing = publishing
        with TestClient(application) as c:
            now = time.time()
            r = c.post("/intents", headers={"Authorization": f"Bearer {admin}"}, json={
                "id": "sortie-9", "volumes": [{"circle": [36.0, 37.0, 1000.0],
                                               "alt": [0.0, 5000.0],
                                               "time": [now + 60, now + 3600]}]})
            assert r.status_code == 503, r.text
            assert r.json()["type"].endswith("dss-unavailable") and dead in r.json()["detail"]
            assert c.get("/intents/sortie-9",
                         headers={"Authorization": f"Bearer {admin}"}).status_code == 404
    finally:
        for part in closers:
            part.close()


def test_on_postgresql_the_dss_sits_in_the_registrys_schema(
        tmp_path: Path, authority: rsa.RSAPrivateKey) -> None:
    import os

    base = os.environ.get("SKYACCORD_PG_URL")
    if not base:
        pytest.skip("SKYACCORD_PG_URL is not set")
    import psycopg

    schema = "dsscfg_" + uuid.uuid4().hex[:8]
    config = node_dir(tmp_path, authority, f'audience = "{AUD}"\n'
                      'public_keys = ["authority.pem"]\n')
    text = config.read_text(encoding="utf-8").replace(
        'db = "us.db"', f'db = "{base}?skyaccord_schema={schema}"')
    config.write_text(text, encoding="utf-8")
    try:
        s = load_settings(config)
        assert s.dss_db.endswith(f"skyaccord_schema={schema}_registry")
        check_dss(s)
        node = open_node(s)
        routers, _, closers = dss_parts(s)
        try:
            with TestClient(node.app(tick=False, deliver=False, routers=routers)) as c:
                now = time.time()
                body = {"extents": [{"volume": {"outline_circle": {
                    "center": {"lat": 36.0, "lng": 37.0},
                    "radius": {"value": 300, "units": "M"}},
                    "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                    "altitude_upper": {"value": 100, "reference": "W84", "units": "M"}},
                    "time_start": {"value": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(now + 60)),
                                   "format": "RFC3339"},
                    "time_end": {"value": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                        time.gmtime(now + 3600)),
                                 "format": "RFC3339"}}],
                    "state": "Accepted", "uss_base_url": "https://b.test", "key": []}
                r = c.put(f"/dss/v1/operational_intent_references/{uuid.uuid4()}",
                          json=body, headers=bearer(authority, "uss-b", AUD, SC))
                assert r.status_code == 201, r.text
        finally:
            for part in closers:
                part.close()
        with psycopg.connect(base) as db:
            n = db.execute(f'SELECT COUNT(*) FROM "{schema}_registry".dss_entities').fetchone()
            assert n is not None and n[0] == 1
    finally:
        with psycopg.connect(base, autocommit=True) as db:
            for name in (schema, f"{schema}_registry"):
                db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
