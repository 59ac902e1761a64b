"""The operating picture's files as the node serves them (in process, no browser): public,
static, holding no data; MapLibre from the installed package; the basemap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skyaccord.errors import InputError
from skyaccord.node.config import load_settings
from skyaccord.node.service import init_node
from skyaccord.web import basemap_geojson, maplibre_dir
from tests.node.conftest import Clock, Harness, start


def test_the_page_and_its_files_are_public_and_hold_no_data(harness: Harness) -> None:
    c = harness.client
    r = c.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert 'id="token"' in page and "/static/maplibre/maplibre-gl.js" in page
    assert "<script>" not in page  # no inline script: the policy forbids it
    for path, kind in [("/static/app.js", "javascript"), ("/static/bands.js", "javascript"),
                       ("/static/app.css", "text/css"),
                       ("/static/maplibre/maplibre-gl.js", "javascript"),
                       ("/static/maplibre/maplibre-gl.css", "text/css"),
                       ("/static/basemap.geojson", "application/geo+json")]:
        r = c.get(path)
        assert r.status_code == 200, path
        assert kind in r.headers["content-type"], (path, r.headers["content-type"])
    # the data itself still needs a token
    assert c.get("/tracks").status_code == 401
    assert c.get("/alerts").status_code == 401


def test_only_the_maplibre_files_are_served_from_its_package(harness: Harness) -> None:
    c = harness.client
    for path in ("/static/maplibre/pywidget.js", "/static/maplibre/..%2F__init__.py",
                 "/static/../node/tokens.json", "/static/%2e%2e/page.py"):
        assert c.get(path).status_code == 404, path
    assert (maplibre_dir() / "maplibre-gl.js").read_text()[:200].count("BSD") == 1


def test_the_basemap_is_the_shipped_borders_with_places() -> None:
    doc = json.loads(basemap_geojson())
    layers = [f["properties"]["layer"] for f in doc["features"]]
    assert layers.count("country") == 6
    assert {"city", "airfield"} <= set(layers)
    names = {f["properties"]["name"] for f in doc["features"]}
    assert {"Syria", "Turkey", "Damascus", "Hmeimim", "Incirlik"} <= names


def test_tiles_by_config_reach_the_page_and_its_policy(tmp_path: Path) -> None:
    root = tmp_path / "us"
    config, _, _ = init_node(root, "us", port=8701)
    url = "https://tiles.example:8443/osm/{z}/{x}/{y}.png"
    text = config.read_text(encoding="utf-8").replace(
        "[node]\n", f'[node]\ntiles = "{url}"\n', 1)
    config.write_text(text, encoding="utf-8")
    s = load_settings(config)
    assert s.tiles == url
    _, client = start(root, Clock(), tiles=url)
    try:
        assert client.get("/static/config.json").json() == {"tiles": url}
        csp = client.get("/").headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://tiles.example:8443;" in csp
        assert "connect-src 'self' ws: wss: https://tiles.example:8443;" in csp
    finally:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("bad", ["ftp://x/{z}/{x}/{y}", "https://x/{z}/{x}.png",
                                 "https://x/{z}/{x}/{y}.png'; script-src *", 7])
def test_tiles_that_are_not_a_url_template_are_refused(tmp_path: Path, bad: Any) -> None:
    config, _, _ = init_node(tmp_path / "us", "us", port=8701)
    value = json.dumps(bad)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[node]\n", f"[node]\ntiles = {value}\n", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"node\.tiles"):
        load_settings(config)


def test_without_tiles_the_page_has_none(harness: Harness) -> None:
    assert harness.client.get("/static/config.json").json() == {"tiles": None}
