"""Mount the operating picture's public files on a node's app.

Everything served here is public and static: the page, its script and style, MapLibre GL
JS, and the basemap (the shipped Natural Earth borders of the theatre with a few place
names and airfields). The picture itself comes only from the node's token-protected API.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from skyaccord.errors import NotFound, SkyaccordError

__all__ = ["PLACES", "STATIC_DIR", "basemap_geojson", "maplibre_dir", "mount"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: A few place names and airfields of the theatre: (name, kind, lat, lon).
PLACES: tuple[tuple[str, str, float, float], ...] = (
    ("Damascus", "city", 33.513, 36.292),
    ("Aleppo", "city", 36.202, 37.134),
    ("Latakia", "city", 35.532, 35.791),
    ("Beirut", "city", 33.894, 35.502),
    ("Amman", "city", 31.954, 35.911),
    ("Baghdad", "city", 33.315, 44.366),
    ("Mosul", "city", 36.340, 43.130),
    ("Ankara", "city", 39.933, 32.860),
    ("Jerusalem", "city", 31.778, 35.235),
    ("Deir ez-Zor", "city", 35.336, 40.141),
    ("Hmeimim", "airfield", 35.401, 35.949),
    ("Incirlik", "airfield", 37.002, 35.426),
    ("Al Tanf", "airfield", 33.502, 38.653),
    ("Muwaffaq Salti", "airfield", 31.827, 36.782),
    ("Ramat David", "airfield", 32.665, 35.179),
    ("Al Asad", "airfield", 33.786, 42.441),
)

_MAPLIBRE_FILES = ("maplibre-gl.js", "maplibre-gl.css")


def maplibre_dir() -> Path:
    """Where the installed ``maplibre`` package keeps MapLibre GL JS (``srcjs/``).

    Found without importing the package (its import has side effects: log warnings)."""
    spec = importlib.util.find_spec("maplibre")
    if spec is None or not spec.submodule_search_locations:
        raise SkyaccordError("the maplibre package is not installed: pip install maplibre")
    for base in spec.submodule_search_locations:
        d = Path(base) / "srcjs"
        if all((d / f).is_file() for f in _MAPLIBRE_FILES):
            return d
    raise SkyaccordError("the maplibre package ships no srcjs/maplibre-gl.js; "
                         "install maplibre>=0.3")


@functools.cache
def basemap_geojson() -> bytes:
    """The basemap as one GeoJSON FeatureCollection: the theatre's countries
    (``layer`` ``country``) and :data:`PLACES` (``layer`` ``city`` or ``airfield``)."""
    text = (resources.files("skyaccord.airspace") / "data" / "theatre_borders.geojson"
            ).read_text("utf-8")
    doc = json.loads(text)
    feats: list[dict[str, Any]] = [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"layer": "country", "name": f["properties"].get("name"),
                        "owner": f["properties"].get("owner")}}
        for f in doc["features"]]
    feats += [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
               "properties": {"layer": kind, "name": name}}
              for name, kind, lat, lon in PLACES]
    return json.dumps({"type": "FeatureCollection", "features": feats},
                      separators=(",", ":")).encode()


def mount(app: FastAPI, *, tiles: str | None = None) -> None:
    """Serve the page at ``/`` and its files under ``/static`` (all public, no data).

    ``tiles``: an XYZ raster tile URL template (``{z}/{x}/{y}``) drawn under the borders;
    its origin is added to the page's Content-Security-Policy for images."""
    ml = maplibre_dir()
    index = STATIC_DIR / "index.html"
    tile_origin = ""
    if tiles and tiles.startswith(("http://", "https://")):
        tile_origin = " " + "/".join(tiles.split("/")[:3])
    config = json.dumps({"tiles": tiles}).encode()
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer",
               "Content-Security-Policy": (
                   "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                   f"img-src 'self' data: blob:{tile_origin}; worker-src 'self' blob:; "
                   f"child-src blob:; connect-src 'self' ws: wss:{tile_origin}; "
                   "frame-ancestors 'none'")}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=headers)

    @app.get("/static/config.json", include_in_schema=False)
    def page_config() -> Response:
        return Response(config, media_type="application/json",
                        headers={"Cache-Control": "no-cache"})

    @app.get("/static/basemap.geojson", include_in_schema=False)
    def basemap() -> Response:
        return Response(basemap_geojson(), media_type="application/geo+json",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/static/maplibre/{name}", include_in_schema=False)
    def maplibre_file(name: str) -> FileResponse:
        if name not in _MAPLIBRE_FILES:
            raise NotFound(f"no file {name!r}")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return FileResponse(ml / name, media_type=kind,
                            headers={"Cache-Control": "max-age=3600"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
