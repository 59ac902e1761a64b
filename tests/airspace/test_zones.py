"""Zones: shipped borders, GeoJSON files, the accord's [[zones]] (and its hash)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import shapely
from pyproj import Geod

from skyaccord.airspace import (
    THEATRE_PARTIES,
    circle_polygon,
    load_zones_geojson,
    theatre_borders,
    zones_from_accord,
)
from skyaccord.errors import AirspaceError, ProtocolError
from skyaccord.protocol import default_accord, default_accord_text, parse_accord

GEOD = Geod(ellps="WGS84")

AL_TANF = """
[[zones]]
id = "al-tanf"
kind = "deconfliction"
owner = "us"
centre = [33.50, 38.62]
radius_nm = 29.7
"""


def test_shipped_borders_are_the_six_countries_valid_and_real() -> None:
    zones = theatre_borders()
    assert sorted(z.owner for z in zones) == sorted(THEATRE_PARTIES.values())
    by_owner = {z.owner: z for z in zones}
    for z in zones:
        assert z.kind == "sovereign" and z.geometry.is_valid
    # Capitals and landmarks fall in the right country (coordinates: lon, lat).
    places = {"tr": (32.85, 39.93), "sy": (36.29, 33.51), "iq": (44.36, 33.31),
              "jo": (35.93, 31.95), "lb": (35.50, 33.89), "il": (34.78, 32.08)}
    for owner, (lon, lat) in places.items():
        for other, zone in by_owner.items():
            assert zone.geometry.contains(shapely.Point(lon, lat)) == (other == owner)
    # Geodesic area of Syria ~185,000 km² (CIA World Factbook: 185,180 km²).
    area, _ = GEOD.geometry_area_perimeter(by_owner["sy"].geometry)
    assert abs(area) / 1e6 == pytest.approx(185_180, rel=0.02)
    # 1:10m detail: the Turkey-Syria border alone has well over 100 vertices.
    shared = shapely.intersection(by_owner["tr"].geometry.boundary,
                                  by_owner["sy"].geometry.boundary)
    assert shapely.get_num_coordinates(shared) > 150
    # CIA World Factbook: Syria-Turkey border 899 km; a 1:10m line, generalized, is
    # somewhat shorter (775 km here), never longer.
    assert 0.8 * 899 < GEOD.geometry_length(shared) / 1e3 < 899


def test_shipped_file_is_small_and_documented() -> None:
    data = Path(__file__).resolve().parents[2] / "src/skyaccord/airspace/data"
    assert (data / "theatre_borders.geojson").stat().st_size < 500_000
    readme = (data / "README.md").read_text("utf-8")
    assert "public domain" in readme and "1:10m" in readme


def test_accord_zones_parse_and_keep_old_hashes() -> None:
    base = default_accord()
    assert base.zones == ()
    assert "zones" not in base.to_dict()
    text = default_accord_text() + AL_TANF
    accord = parse_accord(text, "x.toml")
    assert accord.sha256 != base.sha256
    # Reordering the same zone's keys keeps the hash.
    reordered = default_accord_text() + """
[[zones]]
radius_nm = 29.7
centre = [33.5, 38.62]
owner = "us"
kind = "deconfliction"
id = "al-tanf"
"""
    assert parse_accord(reordered).sha256 == accord.sha256
    (zone,) = zones_from_accord(accord)
    # The ~55 km al-Tanf zone (US DoD, 2017): 29.7 NM = 55.0 km; a point 54 km away is in.
    lon, lat, _ = GEOD.fwd(38.62, 33.50, 90.0, 54_000.0)
    assert zone.geometry.contains(shapely.Point(lon, lat))
    lon, lat, _ = GEOD.fwd(38.62, 33.50, 200.0, 55_100.0)
    assert not zone.geometry.contains(shapely.Point(lon, lat))
    assert zone.upper_ft == math.inf and zone.kind == "deconfliction"


@pytest.mark.parametrize(("snippet", "key"), [
    ('id = "z"\nkind = "moat"\nowner = "us"\ncentre = [33.0, 38.0]\nradius_nm = 5.0',
     "zones[0].kind"),
    ('id = "z"\nkind = "buffer"\nowner = "xx"\ncentre = [33.0, 38.0]\nradius_nm = 5.0',
     "zones[0].owner"),
    ('id = "z"\nkind = "buffer"\nowner = "us"\ncentre = [33.0]\nradius_nm = 5.0',
     "zones[0].centre"),
    ('id = "z"\nkind = "buffer"\nowner = "us"', "zones[0]"),
    ('id = "z"\nkind = "buffer"\nowner = "us"\npolygon = [[33.0, 38.0], [33.1, 38.0]]',
     "zones[0].polygon"),
    ('id = "z"\nkind = "buffer"\nowner = "us"\npolygon = [[33.0, 38.0], [33.1, 38.0], '
     '[33.0, 38.1]]\nlower_ft = 5000.0\nupper_ft = 4000.0', "zones[0].upper_ft"),
    ('id = "z"\nkind = "buffer"\nowner = "us"\ncentre = [33.0, 38.0]\nradius_nm = 5.0\n'
     'active_from = "yesterday"', "zones[0].active_from"),
    ('id = "z"\nkind = "buffer"\nowner = "us"\ncentre = [33.0, 38.0]\nradius_nm = 5.0\n'
     'colour = "red"', "zones[0].colour"),
])
def test_accord_zone_errors_name_the_key(snippet: str, key: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(f"x.toml: key '{key}'")):
        parse_accord(default_accord_text() + "\n[[zones]]\n" + snippet + "\n", "x.toml")


def test_circle_polygon_radius() -> None:
    poly = circle_polygon(33.5, 38.6, 55_000.0)
    for lon, lat in list(poly.exterior.coords)[::16]:
        _, _, d = GEOD.inv(38.6, 33.5, lon, lat)
        assert d == pytest.approx(55_000.0, abs=1e-3)


def _write(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "zones.geojson"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def test_geojson_zones(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "roz-1", "owner": "us", "kind": "restricted", "lower_ft": 5000,
                       "upper_ft": 25000, "active_from": "2015-11-24T07:00:00Z",
                       "active_until": "2015-11-24T09:00:00Z"},
        "geometry": {"type": "Polygon",
                     "coordinates": [[[38, 35], [39, 35], [39, 36], [38, 36], [38, 35]]]}}]}
    (zone,) = load_zones_geojson(_write(tmp_path, doc))
    assert (zone.id, zone.owner, zone.lower_ft, zone.upper_ft) == ("roz-1", "us", 5000, 25000)
    assert zone.active_until_s - zone.active_from_s == 7200.0


@pytest.mark.parametrize(("change", "message"), [
    ({"owner": None}, r"features\[0\] \(zone 'z'\): property 'owner'"),
    ({"kind": "moat"}, r"features\[0\] \(zone 'z'\): property 'kind'"),
    ({"lower_ft": "high"}, r"property 'lower_ft' must be a number"),
    ({"lower_ft": 9000, "upper_ft": 100}, r"features\[0\]: zone 'z': upper_ft"),
    ({"active_from": "soon"}, r"active_from: not an RFC 3339"),
])
def test_geojson_errors_name_file_and_feature(tmp_path: Path, change: dict[str, object],
                                               message: str) -> None:
    props: dict[str, object] = {"id": "z", "owner": "us", "kind": "restricted"}
    props.update(change)
    props = {k: v for k, v in props.items() if v is not None}
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": props,
        "geometry": {"type": "Polygon",
                     "coordinates": [[[38, 35], [39, 35], [39, 36], [38, 35]]]}}]}
    path = _write(tmp_path, doc)
    with pytest.raises(AirspaceError, match=message) as info:
        load_zones_geojson(path)
    assert str(path) in str(info.value)


def test_geojson_not_json_or_wrong_geometry(tmp_path: Path) -> None:
    p = tmp_path / "bad.geojson"
    p.write_text("{\n  oops", encoding="utf-8")
    with pytest.raises(AirspaceError, match=r"bad\.geojson: line 2, column 3: invalid JSON"):
        load_zones_geojson(p)
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"id": "p", "owner": "us"},
        "geometry": {"type": "Point", "coordinates": [38, 35]}}]}
    with pytest.raises(AirspaceError, match="must be a Polygon or MultiPolygon, got Point"):
        load_zones_geojson(_write(tmp_path, doc))
    with pytest.raises(AirspaceError, match="cannot read"):
        load_zones_geojson(tmp_path / "missing.geojson")
