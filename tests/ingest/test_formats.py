"""Readers of SBS-1, OpenSky, traffic, tracks and states files; sniffing; bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyaccord.errors import FeedError
from skyaccord.ingest import open_feed, read_updates, sniff_format
from skyaccord.ingest.formats import read_sbs, write_states_csv
from skyaccord.ingest.states import FeedStats

from .conftest import SAMPLE

# dump1090's SBS output for one aircraft (field layout of net_io.c modesSendSBSOutput)
SBS = """\
MSG,1,1,1,4CA2D6,1,2015/10/20,12:00:00.000,2015/10/20,12:00:00.000,RYR7HX  ,,,,,,,,0,0,0,0
MSG,3,1,1,4CA2D6,1,2015/10/20,12:00:01.500,2015/10/20,12:00:01.500,,35000,,,34.50000,36.25000,,,0,0,0,0
MSG,4,1,1,4CA2D6,1,2015/10/20,12:00:02.000,2015/10/20,12:00:02.000,,,450,90.0,,,-64,,0,0,0,0
MSG,6,1,1,4CA2D6,1,2015/10/20,12:00:02.500,2015/10/20,12:00:02.500,,,,,,,,7000,0,0,0,0
STA,,1,1,4CA2D6,1,2015/10/20,12:00:03.000,2015/10/20,12:00:03.000,RM
MSG,3,1,1,4CA2D6,1,2015/10/20,12:00:04.000,2015/10/20,12:00:04.000,,35000,,,95.0,36.2,,,0,0,0,0
MSG,3,1,1,4CA2D6,1,2015/10/20,11:59:00.000,2015/10/20,11:59:00.000,,35000,,,34.5,36.25,,,0,0,0,0
MSG,4,1,1,4CA2D6,1,2015/10/20,12:00:05.000,2015/10/20,12:00:05.000,,,9000,90.0,,,0,,0,0,0,0
MSG,3,1,1,4CA2D6,1,2015/10/20,12:00:06.000,2015/10/20,12:00:06.000,,35000,,,abc,36.2,,,0,0,0,0
MSG,9,1
"""
T0 = 1445342400.0  # 2015-10-20T12:00:00Z


def test_sbs_fields_units_and_bad_rows(tmp_path: Path) -> None:
    stats = FeedStats()
    out = list(read_sbs(SBS.splitlines(), stats, "f.sbs"))
    assert [(u.kind, u.t - T0) for u in out] == [
        ("identity", 0.0), ("position", 1.5), ("velocity", 2.0), ("identity", 2.5)]
    assert out[0].callsign == "RYR7HX"
    assert (out[1].lat, out[1].lon, out[1].alt_ft) == (34.5, 36.25, 35000.0)
    assert (out[2].gs_kt, out[2].trk_deg, out[2].vs_fpm) == (450.0, 90.0, -64.0)
    assert out[3].squawk == "7000"
    assert dict(stats.rejected) == {"impossible position": 1, "time backwards": 1,
                                    "impossible speed": 1, "bad line": 2}
    assert "f.sbs line 6" in stats.examples["impossible position"]
    p = tmp_path / "feed.txt"
    p.write_text(SBS, encoding="utf-8")
    assert sniff_format(p, p.read_bytes()[:100]) == "sbs"
    ups, st = read_updates(p)
    assert ups == [u._replace(source="feed.txt") for u in out]
    assert st.total_rejected == 5


def test_opensky_csv_units(tmp_path: Path) -> None:
    p = tmp_path / "states.csv"
    p.write_text(
        "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,"
        "baroaltitude,geoaltitude,lastposupdate,lastcontact\n"
        "1480760110,4b1806,35.1,36.2,100.0,270.0,5.08,SWR123  ,False,False,False,1000,"
        "3048.0,3100.0,1480760109.9,1480760110.0\n"
        "1480760100,4b1806,35.0,36.3,100.0,270.0,0.0,SWR123,False,False,False,1000,,"
        "3000.0,1480760099.9,1480760100.0\n"
        "1480760120,4b1806,,,,,,,False,False,False,,,,,\n"
        "1480760130,,35.0,36.3,100.0,270.0,0.0,X,False,False,False,,,,,\n", encoding="utf-8")
    ups, stats = read_updates(p)
    assert [u.t for u in ups] == [1480760100.0, 1480760110.0, 1480760120.0]  # time order
    u = ups[1]
    assert u.alt_ft == pytest.approx(10_000.0)  # 3048 m
    assert u.gs_kt == pytest.approx(194.384, abs=1e-3)  # 100 m/s
    assert u.vs_fpm == pytest.approx(1000.0)  # 5.08 m/s
    assert u.callsign == "SWR123" and u.trk_deg == 270.0
    assert ups[0].alt_ft == pytest.approx(3000.0 / 0.3048)  # geo altitude when no baro
    assert stats.rejected["bad line"] == 1


def test_opensky_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"time": [1.0, 2.0], "icao24": ["abc123", "abc123"],
                      "lat": [35.0, 35.01], "lon": [36.0, 36.0],
                      "velocity": [200.0, 200.0], "heading": [0.0, 0.0],
                      "vertrate": [0.0, 0.0], "callsign": ["X1", "X1"],
                      "baroaltitude": [9144.0, 9144.0], "geoaltitude": [None, None]})
    p = tmp_path / "s.parquet"
    pq.write_table(table, p)
    ups, stats = read_updates(p)
    assert len(ups) == 2 and ups[0].alt_ft == pytest.approx(30_000.0)
    assert stats.total_rejected == 0


def test_traffic_json_lines_and_array(tmp_path: Path) -> None:
    recs = [
        {"timestamp": "2017-07-19 13:05:00+00:00", "icao24": "39c902", "callsign": "SAMU13",
         "latitude": 43.3, "longitude": 5.4, "altitude": 2000.0, "groundspeed": 120.0,
         "track": 45.0, "vertical_rate": 500.0},
        {"timestamp": 1500469490000, "icao24": "39c902", "latitude": 43.29,
         "longitude": 5.39, "altitude": 1900.0, "groundspeed": 118.0, "track": 44.0,
         "vertical_rate": 0.0},
        {"icao24": "39c902"},
    ]
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n{oops\n", encoding="utf-8")
    ups, stats = read_updates(p)
    assert sniff_format(p, p.read_bytes()) == "traffic"
    assert [u.t for u in ups] == [1500469490.0, 1500469500.0]  # sorted; ms -> s
    assert ups[1].callsign == "SAMU13" and ups[1].gs_kt == 120.0
    assert stats.rejected["bad line"] == 2
    q = tmp_path / "t.json"
    q.write_text(json.dumps(recs[:2]), encoding="utf-8")
    assert read_updates(q)[0] == [u._replace(source="t.json") for u in ups]


def test_tracks_csv_keeps_party_and_class(tmp_path: Path) -> None:
    p = tmp_path / "tracks.csv"
    p.write_text("id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
                 "us1,us,manned,35,36,20000,400,90,0\n"
                 "ru1,ru,unmanned,35.1,36,20000,100,270,0\n"
                 "bad,ru,manned,35.1,36,x,100,270,0\n", encoding="utf-8")
    ups, stats = read_updates(p)
    assert [(u.icao24, u.party, u.aircraft_class, u.t) for u in ups] == [
        ("us1", "us", "manned", 0.0), ("ru1", "ru", "unmanned", 0.0)]
    assert "line 4" in stats.examples["bad line"]


def test_states_csv_round_trip(tmp_path: Path) -> None:
    ups, _ = read_updates(SAMPLE)
    out = tmp_path / "states.csv"
    with out.open("w", encoding="utf-8") as fh:
        rows = write_states_csv(ups, fh)
    assert sniff_format(out, out.read_bytes()[:200]) == "states"
    back, stats = read_updates(out)
    assert len(back) == rows and stats.total_rejected == 0
    # positions as decoded: each position row's lat/lon equals that update's fix
    fixes = {(round(u.t, 6), u.icao24): (u.lat, u.lon) for u in ups if u.kind == "position"}
    for b in back:
        key = (round(b.t, 6), b.icao24)
        if key in fixes:
            assert b.lat == pytest.approx(fixes[key][0], abs=1e-6)
            assert b.lon == pytest.approx(fixes[key][1], abs=1e-6)


def test_sniff_and_errors(tmp_path: Path) -> None:
    assert sniff_format(Path("x"), b"\x1a3\x00") == "modes"
    assert sniff_format(Path("x"), b'{"timestamp": 1, "frame": "8d"}') == "modes"
    assert sniff_format(Path("x.parquet"), b"") == "opensky"
    with pytest.raises(FeedError, match="line 1: cannot tell the format"):
        sniff_format(Path("x"), b"hello world\n")
    with pytest.raises(FeedError, match="cannot read"):
        list(open_feed(tmp_path / "missing.csv"))
    p = tmp_path / "a.csv"
    p.write_text("x\n", encoding="utf-8")
    with pytest.raises(FeedError, match="unknown format 'nope'"):
        list(open_feed(p, "nope"))
