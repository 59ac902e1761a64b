"""The operating picture's files as the node serves them (in process, no browser): public,
static, holding no data; MapLibre from the installed package; the basemap."""

from __future__ import annotations

import json

from skyaccord.web import basemap_geojson, maplibre_dir
from tests.node.conftest import Harness


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
