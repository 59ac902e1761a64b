"""On-ground reports (traffic / OpenSky ``onground``, SBS-1 ``IsOnGround``): the aircraft
leaves detection until it reports an airborne position again. Found on the real Paris
sample, where taxiing and landed aircraft at CDG and Orly raised 47 of 246 alerts."""

from __future__ import annotations

import json

from skyaccord.ingest import read_updates
from skyaccord.ingest.formats import read_opensky_rows, read_sbs, read_traffic
from skyaccord.ingest.states import FeedStats, StateUpdate
from skyaccord.picture import Picture

from .conftest import DATA

AIR = dict(lat=49.0, lon=2.5, alt_ft=3000.0, gs_kt=150.0, trk_deg=270.0, vs_fpm=-700.0)


def test_picture_leaves_grounded_tracks_out_until_airborne_again() -> None:
    p = Picture(60.0)
    p.update(StateUpdate(0.0, "a", "state", **AIR))  # type: ignore[arg-type]
    p.update(StateUpdate(0.0, "b", "state", lat=49.0, lon=2.6, alt_ft=3000.0,
                         gs_kt=150.0, trk_deg=270.0, vs_fpm=0.0))
    assert sorted(p.snapshot(1.0).id.tolist()) == ["a", "b"]
    p.update(StateUpdate(2.0, "a", "ground", lat=49.0, lon=2.49, gs_kt=40.0,
                         trk_deg=270.0))
    assert p.snapshot(3.0).id.tolist() == ["b"]
    assert len(p) == 2 and p.ages(3.0).tolist() == [1.0, 3.0]  # heard, kept, not live
    # the ground report moved nothing: the airborne state is as it was
    assert p.column("lat")[0] == 49.0 and p.column("gs_kt")[0] == 150.0
    # an older airborne report (reordered feed) does not bring it back ...
    p.update(StateUpdate(1.5, "a", "state", **AIR))  # type: ignore[arg-type]
    assert p.snapshot(3.0).id.tolist() == ["b"]
    # ... a newer one does (take-off, or a false ground flag corrected)
    p.update(StateUpdate(4.0, "a", "state", **AIR))  # type: ignore[arg-type]
    assert sorted(p.snapshot(4.0).id.tolist()) == ["a", "b"]
    # a ground report never joins another track by the association gates
    p.update(StateUpdate(4.0, "zz", "ground", lat=49.0, lon=2.5, alt_ft=3000.0,
                         gs_kt=150.0, trk_deg=270.0))
    assert p.merged == 0 and len(p) == 3


def test_readers_mark_ground_rows() -> None:
    rec = {"timestamp": 1633609453000, "icao24": "398564", "callsign": "AFR9455",
           "latitude": 48.99, "longitude": 2.61, "altitude": None, "groundspeed": 130.0,
           "track": 266.4, "vertical_rate": 0.0, "onground": True}
    got = read_traffic(json.dumps([rec, {**rec, "onground": False, "altitude": 300.0}]),
                       FeedStats())
    assert [u.kind for u in got] == ["ground", "state"]
    rows = [{"time": "10", "icao24": "abc", "lat": "49", "lon": "2", "velocity": "10",
             "heading": "90", "vertrate": "0", "baroaltitude": "", "onground": v}
            for v in ("True", "False", "true", "")]
    assert [u.kind for u in read_opensky_rows(rows, FeedStats())] == [
        "ground", "state", "ground", "state"]
    head = "MSG,{},1,1,4CA2D6,1,2015/10/20,12:00:00.000,2015/10/20,12:00:00.000,"
    lines = [head.format(2) + ",,12,90,53.42,-6.27,,,,,,-1",
             head.format(3) + ",3000,,,53.42,-6.27,,,0,0,0,0",
             head.format(4) + ",,150,270,,,-700,,0,0,0,0"]
    assert [u.kind for u in read_sbs(lines, FeedStats())] == [
        "ground", "position", "velocity"]


def test_real_landing_leaves_the_picture() -> None:
    """AFR9455 (398564) lands at CDG in the Paris sample: live in the snapshot a second
    before its first on-ground record, gone at it, although still heard."""
    ups, _ = read_updates(DATA / "quickstart_paris_10min.json.gz")
    mine = [u for u in ups if u.icao24 == "398564"]
    t_gnd = next(u.t for u in mine if u.kind == "ground")
    assert all(u.kind == "ground" for u in mine if u.t >= t_gnd)  # stays on the ground
    p = Picture(60.0)
    p.update_many(u for u in ups if u.t < t_gnd)
    assert "398564" in p.snapshot(t_gnd - 0.5).id.tolist()
    p.update_many(u for u in ups if u.t == t_gnd)
    assert "398564" not in p.snapshot(t_gnd).id.tolist()
    assert p.ages(t_gnd)[p.index["398564"]] == 0.0
