"""``detect --format geojson`` (issue 18): each conflict as the line between the two
aircraft at their closest approach, checked on a head-on pair against WGS84 geodesics
(pyproj.Geod): 20 NM apart at 480 kt each, they meet after 75 s, 10 NM east of a."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyproj
import pytest
from typer.testing import CliRunner

from skyaccord.cli import app

runner = CliRunner()
GEOD = pyproj.Geod(ellps="WGS84")
NM = 1852.0


def test_head_on_pair_meets_where_the_geodesics_say(tmp_path: Path) -> None:
    lon_b, lat_b, _ = GEOD.fwd(36.0, 35.0, 90.0, 20 * NM)
    back_az = GEOD.inv(lon_b, lat_b, 36.0, 35.0)[0] % 360.0
    tracks = tmp_path / "t.csv"
    tracks.write_text(
        "id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
        f"a,us,manned,35.0,36.0,30000,480,90,0\n"
        f"b,ru,manned,{lat_b!r},{lon_b!r},30000,480,{back_az!r},0\n", encoding="utf-8")
    geo = runner.invoke(app, ["detect", str(tracks), "--format", "geojson"])
    as_csv = runner.invoke(app, ["detect", str(tracks)])
    assert geo.exit_code == 0 and as_csv.exit_code == 0, geo.output
    (row,) = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    (f,) = json.loads(geo.stdout)["features"]
    props = f["properties"]
    assert (props["id1"], props["id2"], props["level"]) == ("a", "b", row["level"])
    assert props["tcpa_s"] == pytest.approx(75.0, abs=0.5)
    assert props["tcpa_s"] == pytest.approx(float(row["tcpa_s"]), abs=1e-3)
    (x1, y1), (x2, y2) = f["geometry"]["coordinates"]
    mid_lon, mid_lat, _ = GEOD.fwd(36.0, 35.0, 90.0, 10 * NM)
    for x, y in ((x1, y1), (x2, y2)):
        assert GEOD.inv(x, y, mid_lon, mid_lat)[2] < 100.0  # metres
    # the line's length is the miss distance
    assert GEOD.inv(x1, y1, x2, y2)[2] / NM == pytest.approx(props["dcpa_nm"], abs=0.01)


def test_geojson_is_refused_for_parquet_and_unknown_formats(tmp_path: Path) -> None:
    tracks = tmp_path / "t.csv"
    tracks.write_text("id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n", encoding="utf-8")
    bad = runner.invoke(app, ["detect", str(tracks), "--format", "kml"])
    assert bad.exit_code == 2 and "csv or geojson" in bad.output
    pq = runner.invoke(app, ["detect", str(tracks), "--format", "geojson", "--out",
                             str(tmp_path / "x.parquet")])
    assert pq.exit_code == 2 and not (tmp_path / "x.parquet").exists()
    empty = runner.invoke(app, ["detect", str(tracks), "--format", "geojson"])
    assert empty.exit_code == 0 and json.loads(empty.stdout)["features"] == []
