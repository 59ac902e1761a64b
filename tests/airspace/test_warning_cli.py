"""Warning sequences, turn-away assessment and ``skyaccord airspace check``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import shapely
from typer.testing import CliRunner

from skyaccord.airspace import (
    WarningPolicy,
    Zone,
    assess_warnings,
    predict_incursions,
    schedule_warnings,
)
from skyaccord.cli import app
from skyaccord.errors import InputError
from skyaccord.geo import KT, NM
from skyaccord.protocol import default_accord, default_accord_text, parse_accord
from skyaccord.tracks import Tracks, write_tracks_csv

ACCORD = default_accord()
ZONE = Zone("tr-box", "tr", "sovereign", shapely.box(36.0, 36.0, 37.0, 37.0), name="Turkey")
# One degree of latitude near 36 N is 110.95 km (WGS84 meridian arc).
DEG_LAT_M = 110_950.0


def northbound(dist_m: float, trk: float = 0.0, gs_kt: float = 480.0) -> Tracks:
    lat = 36.0 - dist_m / DEG_LAT_M
    return Tracks.from_rows([("RF1", "ru", "manned", lat, 36.5, 19000.0, gs_kt, trk, 0.0)])


def test_ten_warnings_over_five_minutes_before_a_distant_entry() -> None:
    # 480 kt = 246.9 m/s; 100 km south: entry after ~405 s (look-ahead 600 s).
    tracks = northbound(100_000.0)
    inc = predict_incursions(tracks, [ZONE], ACCORD, lookahead_s=600.0)
    t_entry = float(inc.t_entry_s[0])
    assert t_entry == pytest.approx(100_000.0 / (480 * KT), rel=2e-3)
    msgs = schedule_warnings(tracks, [ZONE], inc, WarningPolicy.from_accord(ACCORD), 1000.0)
    assert [m.seq for m in msgs] == list(range(1, 11))
    assert [m.t_s for m in msgs] == pytest.approx([1000.0 + 30.0 * k for k in range(10)])
    assert msgs[-1].t_s - 1000.0 < t_entry  # the whole sequence runs before entry
    assert not any(m.short_notice for m in msgs)
    assert all(m.frequencies_mhz == (121.5, 243.0) for m in msgs)
    text = msgs[0].text
    for part in ("RF1", "Turkey", "heading 000", "19000 ft", "35.", "36.500E"):
        assert part in text


def accord_text_with_sequence(count: int, window_s: float) -> str:
    """The shipped accord with its commented warning keys set."""
    text = default_accord_text()
    old = "# warning_count = 10\n# warning_window_s = 300.0\n"
    assert old in text
    return text.replace(old, f"warning_count = {count}\nwarning_window_s = {window_s}\n")


def test_the_sequence_comes_from_the_accord() -> None:
    assert WarningPolicy.from_accord(ACCORD) == WarningPolicy(10, 300.0, (121.5, 243.0))
    accord = parse_accord(accord_text_with_sequence(4, 120.0))
    policy = WarningPolicy.from_accord(accord)
    assert (policy.count, policy.window_s) == (4, 120.0)
    assert WarningPolicy.from_accord(accord, count=6).count == 6  # an explicit override
    tracks = northbound(100_000.0)  # entry after ~405 s: the whole 120 s window fits
    inc = predict_incursions(tracks, [ZONE], accord, lookahead_s=600.0)
    msgs = schedule_warnings(tracks, [ZONE], inc, policy, 50.0)
    assert [m.t_s for m in msgs] == pytest.approx([50.0, 80.0, 110.0, 140.0])
    assert [m.seq for m in msgs] == [1, 2, 3, 4] and not any(m.short_notice for m in msgs)
    with pytest.raises(InputError, match="count must be >= 1"):
        WarningPolicy(0)


def test_short_notice_squeezes_the_sequence_before_entry() -> None:
    tracks = northbound(20_000.0)  # ~81 s from the border
    inc = predict_incursions(tracks, [ZONE], ACCORD)
    msgs = schedule_warnings(tracks, [ZONE], inc, WarningPolicy(), 0.0)
    assert all(m.short_notice for m in msgs)
    assert max(m.t_s for m in msgs) < float(inc.t_entry_s[0])


def test_turned_away_closing_entered_lost() -> None:
    tracks = northbound(20_000.0)
    inc = predict_incursions(tracks, [ZONE], ACCORD)
    msgs = schedule_warnings(tracks, [ZONE], inc, WarningPolicy(), 0.0)
    # 30 s later: turned south / still north / already across / gone from the picture.
    cases = {
        "turned_away": northbound(12_600.0, trk=180.0),
        "closing": northbound(12_600.0),
        "entered": northbound(-2_000.0),
        "lost": Tracks.empty(),
    }
    for status, later in cases.items():
        (outcome,) = assess_warnings(msgs, later, [ZONE], ACCORD, 30.0)
        assert (outcome.id, outcome.zone, outcome.status) == ("RF1", "tr-box", status)


def _csv(tracks: Tracks, tmp_path: Path) -> Path:
    p = tmp_path / "tracks.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        write_tracks_csv(tracks, fh)
    return p


def test_cli_check_on_shipped_borders(tmp_path: Path) -> None:
    # A Russian jet 10 km south of the Syria-Turkey border near Kilis flying north, a
    # Turkish jet inside Turkey (own zone: nothing), a US jet over Iraq (inside now).
    tracks = Tracks.from_rows([
        ("RF1", "ru", "manned", 36.62, 37.10, 19000, 480, 0, 0),
        ("TK1", "tr", "manned", 39.00, 35.00, 25000, 420, 90, 0),
        ("US1", "us", "manned", 33.30, 44.40, 25000, 400, 270, 0),
    ])
    result = CliRunner().invoke(app, ["airspace", "check", str(_csv(tracks, tmp_path))])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["id", "zone", "owner", "t_entry_s", "t_exit_s", "depth_nm"]
    by = {(r["id"], r["owner"]): r for r in rows}
    assert ("TK1", "tr") not in by
    assert by[("US1", "iq")]["t_entry_s"] == "0.000" and by[("US1", "iq")]["t_exit_s"] == ""
    rf_tr = by[("RF1", "tr")]
    assert 0 < float(rf_tr["t_entry_s"]) < 120 and rf_tr["t_exit_s"] == ""
    assert float(rf_tr["depth_nm"]) > 0
    # RF1 is over Syria now and leaves it when it enters Turkey.
    assert by[("RF1", "sy")]["t_exit_s"] == pytest.approx(rf_tr["t_entry_s"], abs=1e-3)


def test_cli_zones_file_accord_zones_and_warnings(tmp_path: Path) -> None:
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"id": "roz", "owner": "us", "kind": "restricted"},
        "geometry": {"type": "Polygon", "coordinates": [
            [[38.0, 35.0], [39.0, 35.0], [39.0, 36.0], [38.0, 36.0], [38.0, 35.0]]]}}]}))
    accord = tmp_path / "accord.toml"
    accord.write_text(accord_text_with_sequence(3, 60.0)
                      + "\n[[zones]]\nid = \"tanf\"\nkind = \"buffer\""
                      "\nowner = \"us\"\ncentre = [33.5, 38.62]\nradius_nm = 29.7\n")
    tracks = Tracks.from_rows([
        ("RF1", "ru", "manned", 35.5, 37.9, 19000, 480, 90, 0),
        ("RF2", "ru", "manned", 33.5 - 40 * NM / DEG_LAT_M, 38.62, 19000, 480, 0, 0),
    ])
    out = tmp_path / "out.csv"
    warn = tmp_path / "warn.jsonl"
    result = CliRunner().invoke(app, [
        "airspace", "check", str(_csv(tracks, tmp_path)), "--zones", str(zones), "--accord",
        str(accord), "--out", str(out), "--warnings", str(warn)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {(r["id"], r["zone"]) for r in rows} == {("RF1", "roz"), ("RF2", "tanf")}
    tanf = next(r for r in rows if r["zone"] == "tanf")
    # 40 NM south of the centre, radius 29.7 NM, 480 kt: entry after 10.3 NM = 77 s.
    assert float(tanf["t_entry_s"]) == pytest.approx(10.3 / 480 * 3600, abs=0.5)
    msgs = [json.loads(line) for line in warn.read_text().splitlines()]
    # The accord's sequence: 3 warnings each (over 60 s, or less before an early entry).
    assert len(msgs) == 6 and {m["zone"] for m in msgs} == {"roz", "tanf"}
    assert sorted(m["seq"] for m in msgs if m["zone"] == "tanf") == [1, 2, 3]


def test_cli_bad_inputs_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "zones.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                   '"properties": {"id": "z"}, "geometry": {"type": "Polygon", '
                   '"coordinates": [[[38, 35], [39, 35], [39, 36], [38, 35]]]}}]}')
    tracks = _csv(Tracks.from_rows([("A", "ru", "manned", 35.5, 38.5, 1, 1, 1, 0)]), tmp_path)
    result = CliRunner().invoke(app, ["airspace", "check", str(tracks), "--zones", str(bad)])
    assert result.exit_code == 2
    assert "property 'owner'" in result.output
    missing = CliRunner().invoke(app, ["airspace", "check", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2
