"""``decode``'s output given to ``detect``, ``advise`` and ``airspace check`` directly
(issue 18: ``detect`` refused it for lacking ``id,party``). The picture they read is the
feed's at its last time; checked against the states file read here with the csv module:
the aircraft heard airborne within the picture's 60 s before that time."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app

DATA = Path(__file__).parents[1] / "data"
runner = CliRunner()


def test_decoded_states_feed_detect_advise_and_airspace(tmp_path: Path) -> None:
    states = tmp_path / "paris.csv"
    r = runner.invoke(app, ["decode", str(DATA / "quickstart_paris_10min.json.gz"),
                            "--out", str(states)])
    assert r.exit_code == 0, r.output
    with states.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    t_end = max(float(x["t"]) for x in rows)
    # a track lives while its last position report is under 60 s old; on the ground,
    # an aircraft leaves the picture
    last_pos: dict[str, tuple[float, str]] = {}
    for x in rows:
        if x["lat"]:
            last_pos[x["icao24"]] = (float(x["t"]), x["on_ground"])
    live = {a for a, (t, g) in last_pos.items() if t_end - t < 60.0 and g == "0"}
    assert len(live) > 5

    out = tmp_path / "conflicts.csv"
    d = runner.invoke(app, ["detect", str(states), "--out", str(out)])
    assert d.exit_code == 0, d.output
    assert f"{len(live)} live tracks" in d.output
    with out.open(newline="", encoding="utf-8") as fh:
        pairs = list(csv.DictReader(fh))
    assert {p["id1"] for p in pairs} | {p["id2"] for p in pairs} <= live

    some = sorted(live)[0]
    a = runner.invoke(app, ["advise", str(states), "--id", some])
    assert a.exit_code == 0, a.output
    assert f"{some}: now" in a.output
    z = runner.invoke(app, ["airspace", "check", str(states)])
    assert z.exit_code == 0 and z.stdout.startswith("id,zone,owner"), z.output


def test_a_one_instant_tracks_csv_is_read_as_it_is(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"
                 "a,us,manned,35,36,30000,480,90,0\nb,ru,manned,35,36.4,30000,480,270,0\n",
                 encoding="utf-8")
    r = runner.invoke(app, ["detect", str(p)])
    assert r.exit_code == 0 and "live tracks" not in r.output
    assert r.stdout.splitlines()[1].startswith("a,b,")
