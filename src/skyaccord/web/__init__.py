"""The common operating picture: a static page (HTML, JavaScript, CSS) served by the node.

The page holds no data: it asks for an operator token, keeps it in the tab's
``sessionStorage`` and reads everything through the node's token-protected API and its
``/live`` WebSocket. :func:`mount` adds the public files to a node's app: ``/`` (the
page), ``/static/...`` (its scripts, the shipped basemap) and ``/static/maplibre/...``
(MapLibre GL JS and its CSS, served from the installed ``maplibre`` package: no CDN, no
internet).
"""

from __future__ import annotations

from skyaccord.web.page import STATIC_DIR, basemap_geojson, maplibre_dir, mount

__all__ = ["STATIC_DIR", "basemap_geojson", "maplibre_dir", "mount"]
