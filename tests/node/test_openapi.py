"""The committed OpenAPI document is what the code generates; and schemathesis, sending
what the document allows (and what it does not), never gets a server error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from skyaccord.node.config import load_settings
from skyaccord.node.openapi import COMMITTED, dumps, generate
from skyaccord.node.service import init_node, open_node


def test_committed_openapi_is_current() -> None:
    """Regenerate with ``python -m skyaccord.node.openapi --write`` after an API change."""
    assert COMMITTED.read_text(encoding="utf-8") == dumps(generate()), (
        "the node's API changed: review it, then run python -m skyaccord.node.openapi --write")


def test_the_document_is_served_to_viewers_only() -> None:
    from fastapi.testclient import TestClient

    client = TestClient(_APP)  # no lifespan: the node stays open for the tests below
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path).status_code in (401, 404), path
    r = client.get("/openapi.json", headers={"Authorization": f"Bearer {_ADMIN}"})
    assert r.status_code == 200 and "/tracks" in r.json()["paths"]


def test_openapi_has_every_resource_and_the_bearer_scheme() -> None:
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for path in ("/tracks", "/alerts", "/advisories/{track_id}", "/zones", "/intents",
                 "/line/send", "/line/messages", "/accord", "/health", "/tokens"):
        assert path in doc["paths"], path
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # peer delivery is the one operation without the bearer scheme
    open_ops = [(p, m) for p, ops in doc["paths"].items() for m, op in ops.items()
                if not op.get("security")]
    assert open_ops == [("/line/messages", "post")]


_TMP = tempfile.TemporaryDirectory()
_CONFIG, _, _ADMIN = init_node(Path(_TMP.name) / "us", "us")
_NODE = open_node(load_settings(_CONFIG))
_APP = _NODE.app(tick=False, deliver=False)
schema = schemathesis.openapi.from_dict(_APP.openapi())
schema.app = _APP


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("token", ["admin", "none"])
def test_no_server_error(case: Any, token: str) -> None:
    headers = {"Authorization": f"Bearer {_ADMIN}"} if token == "admin" else {}
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    # what the node answers matches the document's schemas (2xx bodies and problems)
    case.validate_response(response, checks=[not_a_server_error,
                                             response_schema_conformance])
    if response.status_code >= 400:
        kind = response.headers["content-type"]
        kind = kind[0] if isinstance(kind, list) else kind
        assert kind.startswith("application/problem+json"), (case.path, kind)
