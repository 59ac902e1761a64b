"""``airspace check --format geojson`` and ``airspace zones``: GeoJSON (RFC 7946) that
QGIS or geojson.io opens (issue 18). The entry points are checked against the zone's
boundary, the properties against the CSV of the same run, and a zone file round-trips."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from typer.testing import CliRunner

from skyaccord.airspace import load_zones_geojson
from skyaccord.cli import app
from skyaccord.tracks import Tracks, write_tracks_csv

runner = CliRunner()
BOX = shapely.box(36.0, 36.0, 37.0, 37.0)
# One degree of latitude near 36 N is 110.95 km (WGS84 meridian arc).
DEG_LAT_M = 110_950.0


GEOD = pyproj.Geod(ellps="WGS84")


def nearest_on_geodesic(lon: float, lat: float) -> tuple[float, float]:
    """The point of the geodesic from (36 E, 36 N) to (37 E, 36 N), sampled every ~9 m,
    nearest to (lon, lat)."""
    pts = np.array(GEOD.npts(36.0, 36.0, 37.0, 36.0, 10_000))
    _, _, d = GEOD.inv(np.full(len(pts), lon), np.full(len(pts), lat), pts[:, 0], pts[:, 1])
    k = int(np.argmin(d))
    return float(pts[k, 0]), float(pts[k, 1])


def zones_file(tmp: Path) -> Path:
    p = tmp / "z.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": shapely.geometry.mapping(BOX),
        "properties": {"id": "tr-box", "owner": "tr", "kind": "sovereign",
                       "upper_ft": 60000}}]}), encoding="utf-8")
    return p


def tracks_file(tmp: Path) -> Path:
    # two aircraft flying north into the box from 20 and 40 km south of it, one inside
    rows = [(f"RF{k}", "ru", "manned", 36.0 - d / DEG_LAT_M, 36.2 + 0.2 * k, 19000.0,
             480.0, 0.0, 0.0) for k, d in enumerate((20_000.0, 40_000.0))]
    rows.append(("IN1", "ru", "manned", 36.5, 36.5, 19000.0, 300.0, 90.0, 0.0))
    p = tmp / "t.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        write_tracks_csv(Tracks.from_rows(rows), fh)
    return p


def test_incursions_as_geojson_match_the_csv_and_sit_on_the_boundary(tmp_path: Path) -> None:
    args = ["airspace", "check", str(tracks_file(tmp_path)), "--zones",
            str(zones_file(tmp_path))]
    as_csv = runner.invoke(app, args)
    as_geo = runner.invoke(app, [*args, "--format", "geojson"])
    assert as_csv.exit_code == 0 and as_geo.exit_code == 0, as_geo.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    doc = json.loads(as_geo.stdout)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(rows) == 3
    for row, f in zip(rows, doc["features"], strict=True):
        props = f["properties"]
        assert (props["id"], props["zone"], props["owner"]) == (row["id"], "tr-box", "tr")
        assert props["t_entry_s"] == pytest.approx(float(row["t_entry_s"]), abs=1e-3)
        lon, lat = f["geometry"]["coordinates"]
        point = shapely.Point(lon, lat)
        if props["t_entry_s"] > 0:  # crossing in: on the southern edge
            # The engine takes a zone's edges as straight in its conformal plane, close
            # to the great circle between the vertices, which sags up to L²/8R = 115 m
            # north of the 36 N parallel over this 1° edge (R = 6371 km / tan 36°).
            # So: within metres of the geodesic from (36 E, 36 N) to (37 E, 36 N),
            # and within the sag of the parallel.
            _, _, gap = GEOD.inv(lon, lat, *nearest_on_geodesic(lon, lat))
            assert gap < 15.0
            assert 0.0 <= (lat - 36.0) * DEG_LAT_M < 120.0
            assert BOX.boundary.distance(point) < 2e-3
        else:  # inside now: where it is
            assert props["id"] == "IN1"
            assert (lon, lat) == pytest.approx((36.5, 36.5), abs=1e-9)
    # 480 kt from 20 km: 20,000 / 246.93 m/s = 81.0 s
    first = next(f for f in doc["features"] if f["properties"]["id"] == "RF0")
    assert first["properties"]["t_entry_s"] == pytest.approx(20_000 / (480 * 1852 / 3600),
                                                             rel=0.01)


def test_zones_as_geojson_round_trip(tmp_path: Path) -> None:
    src = zones_file(tmp_path)
    out = tmp_path / "out.geojson"
    r = runner.invoke(app, ["airspace", "zones", "--zones", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    back = load_zones_geojson(out)
    assert [(z.id, z.owner, z.kind, z.upper_ft) for z in back] == [
        ("tr-box", "tr", "sovereign", 60000.0)]
    assert back[0].geometry.equals(BOX)
    shipped = json.loads(runner.invoke(app, ["airspace", "zones"]).stdout)
    owners = sorted(f["properties"]["owner"] for f in shipped["features"])
    assert owners == ["il", "iq", "jo", "lb", "sy", "tr"]


def test_format_other_than_csv_or_geojson_is_refused(tmp_path: Path) -> None:
    r = runner.invoke(app, ["airspace", "check", str(tracks_file(tmp_path)), "--format",
                            "kml"])
    assert r.exit_code == 2 and "--format must be csv or geojson" in r.output
