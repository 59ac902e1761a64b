"""The DSS router mounted in a party's node (``OpenNode.app(routers=...)``): the node's
own routes keep their operator tokens, the DSS's its F3548 access tokens, and neither
token opens the other's routes. The DSS's tables sit in the node's registry database."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from skyaccord.dss import Authenticator, Dss, dss_router, open_db
from skyaccord.node.config import load_settings
from skyaccord.node.service import init_node, open_node
from tests.dss.conftest import AUDIENCE, OIR, SC, Authority, circle, intent, new_id


def test_the_dss_in_a_node(tmp_path: Path, authority: Authority) -> None:
    config, _, admin = init_node(tmp_path / "us", "us")
    node = open_node(load_settings(config))
    key = load_pem_public_key(authority.public_pem)
    assert isinstance(key, RSAPublicKey)
    db = open_db(node.settings.registry_url)
    try:
        router = dss_router(Dss(db), Authenticator([key], AUDIENCE))
        app = node.app(tick=False, deliver=False, routers=[router])
        operator = {"Authorization": f"Bearer {admin}"}
        uss = authority.headers("uss-a", SC)
        with TestClient(app) as c:
            assert c.get("/health", headers=operator).status_code == 200
            now = time.time()
            r = c.put(OIR.format(entityid=new_id()), headers=uss,
                      json=intent(circle(36.0, 37.0, 500, now + 600, now + 3600)))
            assert r.status_code == 201, r.text
            # neither token opens the other's routes
            assert c.get("/health", headers=uss).status_code == 401
            assert c.get(OIR.format(entityid=new_id()), headers=operator).status_code == 401
    finally:
        db.close()
